"""The IR layers the lowering and the folding take one at a time: each linear layer with the
Threshold or MultiThreshold after it (BatchShift's output), every other device layer on its
own."""

from __future__ import annotations

from dataclasses import dataclass

from .. import ir


@dataclass(frozen=True)
class Step:
    layer: ir.Layer
    # after a linear layer: its output bits (Threshold) or codes (MultiThreshold)
    threshold: ir.ThresholdLayer | None = None


def device_steps(model: ir.Model) -> list[Step]:
    """The layers after the input quantiser, each linear layer paired with its threshold."""
    layers = model.layers[1:]
    steps: list[Step] = []
    for i, layer in enumerate(layers):
        thresholds = (ir.Threshold, ir.MultiThreshold)
        if isinstance(layer, thresholds) and i > 0 and isinstance(layers[i - 1], ir.Linear):
            continue  # taken with the linear layer before it
        nxt = layers[i + 1] if i + 1 < len(layers) else None
        if isinstance(layer, ir.Linear) and isinstance(nxt, thresholds):
            steps.append(Step(layer, nxt))
        else:
            steps.append(Step(layer))
    return steps


def linear_steps(
    model: ir.Model,
) -> list[tuple[ir.Linear, ir.ThresholdLayer | None]]:
    return [
        (step.layer, step.threshold)
        for step in device_steps(model)
        if isinstance(step.layer, ir.Linear)
    ]

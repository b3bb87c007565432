"""Hypothesis strategies for random binarized models (shapes, padding, strides, pools, BN)."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import strategies as st

from bnn_hls.modelgen import (
    ActQuant,
    BnStats,
    ConvSpec,
    DenseSpec,
    MultiThresholdSpec,
    PaSpec,
    WeightQuant,
)


@dataclass
class ModelSpec:
    input_shape: tuple[int, ...]
    layers: list[ConvSpec | DenseSpec]
    classes: int
    style: str
    input_mode: str
    weight_form: str
    flatten: str
    seed: int
    bn: BnStats
    final_bias: bool
    channels_last: bool = False
    act: ActQuant | None = None  # multi-level hidden activations
    weights: WeightQuant | None = None  # multi-bit weights
    pa: PaSpec | None = None  # piecewise-approximation weights and activations
    mt: MultiThresholdSpec | None = None  # QONNX MultiThreshold hidden activations

    def kwargs(self) -> dict[str, object]:
        return dict(
            act=self.act,
            weights=self.weights,
            pa=self.pa,
            mt=self.mt,
            style=self.style,
            input_mode=self.input_mode,
            weight_form=self.weight_form,
            flatten=self.flatten,
            seed=self.seed,
            bn=self.bn,
            final_bias=self.final_bias,
            channels_last=self.channels_last,
        )


@st.composite
def model_specs(draw: st.DrawFn, conv: bool | None = None) -> ModelSpec:
    style = draw(st.sampled_from(["qonnx", "plain", "plain_where"]))
    use_conv = draw(st.booleans()) if conv is None else conv
    modes = ["bipolar", "quant8"] if style == "qonnx" else ["bipolar"]
    mode = draw(st.sampled_from(modes))
    layers: list[ConvSpec | DenseSpec] = []
    if use_conv:
        c, h, w = draw(st.integers(1, 3)), draw(st.integers(3, 9)), draw(st.integers(3, 9))
        shape: tuple[int, ...] = (c, h, w)
        for _ in range(draw(st.integers(1, 3))):
            k = draw(st.integers(1, 3))
            pad = draw(st.integers(0, k - 1))
            stride = draw(st.integers(1, 2))
            oh, ow = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
            if oh < 1 or ow < 1:
                continue
            pool = 2 if oh >= 2 and ow >= 2 and draw(st.booleans()) else 0
            spec = ConvSpec(draw(st.integers(1, 12)), k, stride, pad, pool, draw(st.booleans()))
            layers.append(spec)
            h, w = (oh // pool, ow // pool) if pool else (oh, ow)
        in_shape = shape
    else:
        in_shape = (draw(st.integers(2, 40)),)
        if draw(st.booleans()):  # an image flattened on the host, as bnn_pynq's FC does
            in_shape = (1, draw(st.integers(2, 6)), draw(st.integers(2, 6)))
            mode = "flat_" + mode
    for _ in range(draw(st.integers(0 if use_conv else 1, 2))):
        layers.append(DenseSpec(draw(st.integers(1, 24))))
    bn = BnStats(
        draw(st.sampled_from([0.0, 0.3, 0.6])),
        draw(st.sampled_from([0.0, 0.1])),
        draw(st.sampled_from([0.0, 0.1, 0.3])),
    )
    return ModelSpec(
        in_shape,
        layers,
        draw(st.integers(2, 10)),
        style,
        mode,
        draw(st.sampled_from(["matmul", "gemm"])),
        draw(st.sampled_from(["shape_chain", "flatten", "reshape_const"])),
        draw(st.integers(0, 2**20)),
        bn,
        draw(st.booleans()),
        draw(st.booleans()),  # channels-last (tf2onnx/Keras) layout
    )


def has_binary_conv(spec: ModelSpec) -> bool:
    """A conv with binary inputs (which the result-sharing kernel can compute): a conv after
    the first, or a first conv on a bipolar input."""
    convs = [la for la in spec.layers if isinstance(la, ConvSpec)]
    return len(convs) >= 2 or (len(convs) == 1 and spec.input_mode == "bipolar")


@st.composite
def act_quants(draw: st.DrawFn) -> ActQuant:
    """A uniform hidden activation quantiser as Brevitas exports them (2..4 bits, signed or
    not, narrow or not, a power-of-two or arbitrary scale, ROUND or FLOOR)."""
    bits = draw(st.integers(2, 4))
    signed = draw(st.booleans())
    scale = draw(st.sampled_from([0.5, 0.25, 1.0, 0.3, 0.7]))
    zero = 0.0 if signed or draw(st.booleans()) else float(draw(st.integers(1, 2)))
    return ActQuant(
        bits,
        signed,
        draw(st.booleans()),
        scale,
        zero,
        draw(st.sampled_from(["ROUND", "ROUND", "FLOOR"])),
    )


@st.composite
def multilevel_specs(draw: st.DrawFn, conv: bool | None = None) -> ModelSpec:
    """A random model (QONNX style) whose hidden activations, weights or both are
    multi-level."""
    spec = draw(model_specs(conv=conv).filter(lambda s: s.style == "qonnx"))
    which = draw(st.sampled_from(["act", "weights", "both"]))
    if which != "weights":
        spec.act = draw(act_quants())
    if which != "act":
        spec.weights = WeightQuant(
            draw(st.integers(2, 4)), draw(st.booleans()), draw(st.booleans())
        )
    return spec


@st.composite
def pa_specs(draw: st.DrawFn, conv: bool | None = None) -> ModelSpec:
    """A random piecewise-approximation model: M = 1..4 weight bases, N = 2..5 activation
    bases, in the Sign or the Where form (docs/pa.md)."""
    spec = draw(model_specs(conv=conv))
    form = "where" if spec.style == "plain_where" else draw(st.sampled_from(["sign", "where"]))
    spec.pa = PaSpec(draw(st.integers(1, 4)), draw(st.integers(2, 5)), form)
    return spec


@st.composite
def multithreshold_specs(draw: st.DrawFn, conv: bool | None = None) -> ModelSpec:
    """A random model (QONNX style) whose hidden activations are QONNX MultiThreshold nodes:
    2..5 levels, a row per channel or one for all, out_scale a power of two, out_bias a whole
    multiple of it (the lowest code 0 or negative), thresholds sorted or not (with a repeat),
    or bipolar; multi-bit weights or not."""
    spec = draw(model_specs(conv=conv).filter(lambda s: s.style == "qonnx"))
    if draw(st.booleans()):
        spec.mt = MultiThresholdSpec(2, draw(st.booleans()), 2.0, -1.0)  # bipolar
    else:
        levels = draw(st.integers(2, 5))
        scale = draw(st.sampled_from([1.0, 0.5, 0.25, 2.0]))
        lo = draw(st.integers(-(levels - 1), 0))
        spec.mt = MultiThresholdSpec(
            levels, draw(st.booleans()), scale, lo * scale, unsorted=draw(st.booleans())
        )
    if draw(st.booleans()):
        spec.weights = WeightQuant(
            draw(st.integers(2, 3)), draw(st.booleans()), draw(st.booleans())
        )
    return spec

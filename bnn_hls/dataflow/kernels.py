"""The kernels that can compute a linear layer, by the name a folding gives them
(Fold.kernel). Adding one means adding its LinearStage subclass here; what the folding code
needs to know of it (its rank in the default folding, whether it claims the layers it can
compute) is a class attribute of the stage, read through the functions below."""

from __future__ import annotations

from .. import ir
from .mvtu import BasesStage, MvtuStage
from .shared import SharedStage
from .stage import LinearStage

KERNELS: dict[str, type[LinearStage]] = {
    "mvtu": MvtuStage,
    "shared": SharedStage,
    "bases": BasesStage,
}


def legal_kernels(layer: ir.Linear, threshold: ir.ThresholdLayer | None) -> list[str]:
    """The kernels that can compute `layer` followed by `threshold`, in default-rank order."""
    ranked = sorted(KERNELS, key=lambda k: KERNELS[k].default_rank)
    return [k for k in ranked if KERNELS[k].refusal(layer, threshold) is None]


def claimed_by(kernels: list[str]) -> list[str]:
    """Those of `kernels` that claim a layer they can compute (see LinearStage.claims_layer)."""
    return [k for k in kernels if KERNELS[k].claims_layer]

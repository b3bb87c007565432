"""The kernels that can compute a linear layer, by the name a folding gives them
(Fold.kernel). Adding one means adding its LinearStage subclass here."""

from __future__ import annotations

from .mvtu import BasesStage, MvtuStage
from .shared import SharedStage
from .stage import LinearStage

KERNELS: dict[str, type[LinearStage]] = {
    "mvtu": MvtuStage,
    "shared": SharedStage,
    "bases": BasesStage,
}

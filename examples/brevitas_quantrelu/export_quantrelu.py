"""Export small Brevitas networks whose hidden activations are QuantReLU (exported as Relu then
an unsigned QONNX Quant), with both of brevitas' QONNX exporters (TorchScript and dynamo).
Untrained, BatchNorm statistics randomised (about half the scales negative) so that every
activation level is used. Each file gets `<file>.npz`: x (random inputs) and y (PyTorch's
outputs on them).

Needs the training stack (`pip install -e '.[train]'` in its own venv, see README.md):

    .venv-train/bin/python examples/brevitas_quantrelu/export_quantrelu.py
"""

from __future__ import annotations

import argparse
import logging
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn

log = logging.getLogger("export_quantrelu")
HERE = Path(__file__).resolve().parent
EXPORTERS = {"torchscript": {"dynamo": False}, "dynamo": {"dynamo": True, "optimize": True}}


def mlp() -> tuple[tuple[int, ...], nn.Module]:
    """64 inputs (an 8x8 digit), two QuantReLU layers of 2 and 3 bits, ternary weights."""
    from brevitas.nn import QuantIdentity, QuantLinear, QuantReLU
    from brevitas.quant import Int8ActPerTensorFloat, Uint8ActPerTensorFloat

    w = {"weight_bit_width": 2, "weight_narrow_range": True, "bias": False}
    return (1, 64), nn.Sequential(
        QuantIdentity(act_quant=Int8ActPerTensorFloat, bit_width=8),
        QuantLinear(64, 32, **w),
        nn.BatchNorm1d(32),
        QuantReLU(act_quant=Uint8ActPerTensorFloat, bit_width=2),
        QuantLinear(32, 24, **w),
        nn.BatchNorm1d(24),
        QuantReLU(act_quant=Uint8ActPerTensorFloat, bit_width=3),
        QuantLinear(24, 10, **w),
    )


def cnn() -> tuple[tuple[int, ...], nn.Module]:
    """A 1x10x10 image, two 3x3 convs (padded, then stride 2), a max-pool, QuantReLU of 2 bits,
    3-bit weights with a bias."""
    from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear, QuantReLU
    from brevitas.quant import Int8ActPerTensorFloat, Uint8ActPerTensorFloat

    w = {"weight_bit_width": 3, "weight_narrow_range": True}
    return (1, 1, 10, 10), nn.Sequential(
        QuantIdentity(act_quant=Int8ActPerTensorFloat, bit_width=8),
        QuantConv2d(1, 8, 3, padding=1, bias=True, **w),
        nn.BatchNorm2d(8),
        QuantReLU(act_quant=Uint8ActPerTensorFloat, bit_width=2),
        nn.MaxPool2d(2),
        QuantConv2d(8, 12, 3, stride=2, padding=0, bias=False, **w),
        nn.BatchNorm2d(12),
        QuantReLU(act_quant=Uint8ActPerTensorFloat, bit_width=2),
        nn.Flatten(),
        QuantLinear(12 * 2 * 2, 5, bias=False, **w),
    )


MODELS = {"quantrelu_mlp": mlp, "quantrelu_cnn": cnn}


def randomise(model: nn.Module, shape: tuple[int, ...], seed: int) -> None:
    """BatchNorm statistics from random inputs, then scale ~ N(0, 1), bias ~ N(0, 0.5)."""
    gen = torch.Generator().manual_seed(seed)
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for m in norms:
        m.momentum = None
        m.reset_running_stats()
    model.train()
    with torch.no_grad():
        model(torch.rand((256, *shape[1:]), generator=gen) * 2 - 1)
        for m in norms:
            m.weight.copy_(torch.randn(m.weight.shape, generator=gen))
            m.bias.copy_(0.5 * torch.randn(m.bias.shape, generator=gen))
    model.eval()


def main() -> None:
    from brevitas.export import export_qonnx

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out-dir", type=Path, default=HERE)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    warnings.simplefilter("ignore")
    for name, build in MODELS.items():
        torch.manual_seed(args.seed)
        shape, model = build()
        randomise(model, shape, args.seed)
        x = torch.rand((64, *shape[1:]), generator=torch.Generator().manual_seed(args.seed + 1))
        x = x * 2 - 1
        with torch.no_grad():
            y = model(x).numpy()
        for tag, kwargs in EXPORTERS.items():
            path = args.out_dir / f"{name}_{tag}.onnx"
            export_qonnx(model, torch.zeros(shape), export_path=str(path), **kwargs)
            leftover = Path(str(path) + ".data")  # the dynamo path re-saves everything inline
            if leftover.exists() and not any(
                t.data_location == onnx.TensorProto.EXTERNAL
                for t in onnx.load(str(path), load_external_data=False).graph.initializer
            ):
                leftover.unlink()
            np.savez(path.with_suffix(".npz"), x=x.numpy().astype(np.float32), y=y)
            log.info("wrote %s", path)


if __name__ == "__main__":
    main()

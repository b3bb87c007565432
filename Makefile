# Two commands from a fresh clone: `make demo` and `make test`. Both create .venv/ on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_MODEL := examples/digits/digits_cnn.onnx
DEMO_OUT   := demo-out/digits_cnn
LINT_PATHS := bnn_hls tests examples benchmarks tools

.PHONY: demo test bench calibrate lint typecheck pytest clean setup

setup: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "bnn-hls needs Python >= 3.10")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	# Xilinx's open-source ap_int/ap_fixed headers for C simulation ship in this wheel; its
	# Python dependencies are not needed for the headers.
	$(BIN)/python -m pip install --quiet --no-deps hls4ml==1.3.0
	@command -v g++ >/dev/null || (apt-get update -qq && apt-get install -y -qq g++)
	@command -v tclsh >/dev/null || (apt-get update -qq && apt-get install -y -qq tcl)
	@touch $@

# the board's Python packages (pynq 3.0.1 pins numpy < 2): a second venv for the driver tests
PYNQ_VENV := .venv-pynq
$(PYNQ_VENV)/.installed:
	@test -x $(PYNQ_VENV)/bin/python || $(PYTHON) -m venv $(PYNQ_VENV)
	$(PYNQ_VENV)/bin/python -m pip install --quiet pynq==3.0.1
	@touch $@

demo: $(STAMP)
	$(BIN)/bnn-hls inspect $(DEMO_MODEL)
	$(BIN)/bnn-hls compile $(DEMO_MODEL) -o $(DEMO_OUT) --force
	$(BIN)/bnn-hls verify $(DEMO_MODEL) --random 500
	$(BIN)/bnn-hls verify $(DEMO_MODEL) --level csim --random 200
	$(BIN)/bnn-hls verify $(DEMO_MODEL) --level rtlsim --inputs examples/digits/digits_test_x.npy \
		--labels examples/digits/digits_test_y.npy
	$(BIN)/bnn-hls verify $(DEMO_MODEL) --inputs examples/digits/digits_test_x.npy \
		--labels examples/digits/digits_test_y.npy

lint: $(STAMP)
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)

typecheck: $(STAMP)
	$(BIN)/mypy bnn_hls

pytest: $(STAMP) $(PYNQ_VENV)/.installed
	$(BIN)/python -m pytest -n 2 -q

test: lint typecheck pytest

# every example and reference topology at the optimiser's folding: RTL-sim cycles, Yosys
# resources, compile time, simulator speeds -> benchmarks/results/bench.{md,json,png}
bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py

# refit the resource model on Yosys runs of the kernels -> bnn_hls/dataflow/resource_model.json
calibrate: $(STAMP)
	$(BIN)/python benchmarks/calibrate_resources.py

clean:
	rm -rf $(VENV) demo-out build .pytest_cache .mypy_cache .ruff_cache

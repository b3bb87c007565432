"""The PYNQ-Z2 board flow without the board or Xilinx tools: the build folder, its Vivado Tcl
run in tclsh against recording stand-ins, and the board driver and notebook run for real
against the C simulation and the RTL simulation of the generated hardware."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from .conftest import DIGITS, run_cli

STANDINS = r"""
set calls {}
proc record {args} { lappend ::calls $args }
foreach cmd {create_project set_property update_ip_catalog create_bd_design apply_bd_automation
             make_bd_intf_pins_external connect_bd_intf_net connect_bd_net assign_bd_address
             validate_bd_design save_bd_design add_files launch_runs wait_on_run} {
    proc $cmd {args} "record $cmd {*}\$args"
}
proc get_board_parts {args} { return $::board }
proc current_project {args} { return prj }
proc current_fileset {args} { return sources_1 }
proc create_bd_cell {args} { record create_bd_cell {*}$args; return [lindex $args end] }
proc get_bd_intf_pins {args} { return [lindex $args end] }
proc get_bd_pins {args} { return [lindex $args end] }
proc get_files {args} { return [lindex $args end] }
proc get_runs {args} { return [lindex $args end] }
proc make_wrapper {args} { record make_wrapper {*}$args; return bnn_wrapper.v }
proc get_property {name args} { if {$name eq "PROGRESS"} { return "100%" }; return "" }
proc glob {args} { return [list [lindex $args 1]] }
rename file _file
proc file {sub args} {
    if {$sub in {copy mkdir}} { record file $sub {*}$args; return }
    return [_file $sub {*}$args]
}
source [lindex $argv 0]
foreach c $calls { puts [join $c "\t"] }
"""


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("board") / "build"
    from bnn_hls.cli import main

    code = main(
        [
            "build",
            str(DIGITS / "digits_cnn.onnx"),
            "--board",
            "pynq-z2",
            "-o",
            str(out),
            "--test-inputs",
            str(DIGITS / "digits_test_x.npy"),
            "--test-labels",
            str(DIGITS / "digits_test_y.npy"),
        ]
    )
    assert code == 0
    return out


def tcl_calls(script: Path, board: str) -> list[list[str]]:
    stub = STANDINS.replace(
        "source [lindex $argv 0]", f"set board {{{board}}}\nsource [lindex $argv 0]"
    )
    res = subprocess.run(
        ["tclsh", "/dev/stdin", str(script)],
        input=stub,
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    return [line.split("\t") for line in res.stdout.splitlines()]


def test_build_folder_layout(build_dir: Path) -> None:
    for rel in (
        "hls/top.cpp",
        "hls/hls.tcl",
        "vivado/build_bd.tcl",
        "build.sh",
        "Makefile",
        "README.md",
        "deploy/bnn_driver.py",
        "deploy/packing.py",
        "deploy/model.json",
        "deploy/bnn_pynq.ipynb",
        "deploy/test_set.npz",
        "deploy/README.md",
        # the default IP: the RTL, packaged by Vivado
        "rtl/bnn_top_axi.sv",
        "vivado/package_rtl.tcl",
    ):
        assert (build_dir / rel).is_file(), rel
    assert "package_rtl.tcl" in (build_dir / "build.sh").read_text()
    assert os.access(build_dir / "build.sh", os.X_OK)
    spec = json.loads((build_dir / "deploy" / "model.json").read_text())
    assert spec["classes"] == 10 and spec["stream"]["axi_bits"] in (8, 16, 32, 64)
    # the deploy folder carries the compiler's own packing module, not a copy of it
    from bnn_hls import packing

    assert (build_dir / "deploy" / "packing.py").read_text() == Path(packing.__file__).read_text()


@pytest.mark.parametrize("board", ["", "tul.com.tw:pynq-z2:part0:1.0"])
def test_vivado_tcl_dry_run(build_dir: Path, board: str) -> None:
    calls = tcl_calls(build_dir / "vivado" / "build_bd.tcl", board)
    create = next(c for c in calls if c[0] == "create_project")
    assert "-part" in create and create[create.index("-part") + 1] == "xc7z020clg400-1"
    cells = {c[-1]: c[c.index("-vlnv") + 1] for c in calls if c[0] == "create_bd_cell"}
    assert cells["ps7"].startswith("xilinx.com:ip:processing_system7:")
    assert cells["dma"].startswith("xilinx.com:ip:axi_dma:")
    assert cells["bnn_0"] == "bnn-hls.org:bnn:bnn_top:1.0"
    assert cells["ctrl_interconnect"].startswith("xilinx.com:ip:smartconnect:")
    assert cells["mem_interconnect"].startswith("xilinx.com:ip:smartconnect:")
    assert cells["rst_fclk0"].startswith("xilinx.com:ip:proc_sys_reset:")
    intf = {(c[1], c[2]) for c in calls if c[0] == "connect_bd_intf_net"}
    for pair in [
        ("ps7/M_AXI_GP0", "ctrl_interconnect/S00_AXI"),
        ("ctrl_interconnect/M00_AXI", "dma/S_AXI_LITE"),
        ("ctrl_interconnect/M01_AXI", "bnn_0/s_axi_control"),
        ("dma/M_AXI_MM2S", "mem_interconnect/S00_AXI"),
        ("dma/M_AXI_S2MM", "mem_interconnect/S01_AXI"),
        ("mem_interconnect/M00_AXI", "ps7/S_AXI_HP0"),
        ("dma/M_AXIS_MM2S", "bnn_0/input_words"),
        ("bnn_0/output_scores", "dma/S_AXIS_S2MM"),
    ]:
        assert pair in intf, pair
    nets = {(c[1], c[2]) for c in calls if c[0] == "connect_bd_net"}
    clocked = {b for a, b in nets if a == "ps7/FCLK_CLK0"}
    assert {
        "bnn_0/ap_clk",
        "dma/s_axi_lite_aclk",
        "dma/m_axi_mm2s_aclk",
        "dma/m_axi_s2mm_aclk",
        "ps7/M_AXI_GP0_ACLK",
        "ps7/S_AXI_HP0_ACLK",
    } <= clocked
    reset = {b for a, b in nets if a == "rst_fclk0/peripheral_aresetn"}
    assert {"bnn_0/ap_rst_n", "dma/axi_resetn"} <= reset
    assert ("irq_concat/dout", "ps7/IRQ_F2P") in nets
    props = " ".join(" ".join(c) for c in calls if c[0] == "set_property")
    assert "CONFIG.PCW_FPGA0_PERIPHERAL_FREQMHZ 100" in props
    assert "CONFIG.PCW_USE_S_AXI_HP0 1" in props and "CONFIG.c_include_sg 0" in props
    spec = json.loads((build_dir / "deploy" / "model.json").read_text())
    assert f"CONFIG.c_m_axis_mm2s_tdata_width {spec['stream']['axi_bits']}" in props
    if board:
        assert any(c[0] == "apply_bd_automation" for c in calls)
    else:
        assert "MT41K256M16 RE-125" in props
    names = [c[0] for c in calls]
    for step in ("assign_bd_address", "validate_bd_design", "make_wrapper", "launch_runs"):
        assert step in names
    assert names.index("assign_bd_address") < names.index("validate_bd_design")
    copies = [c for c in calls if c[:2] == ["file", "copy"]]
    assert [Path(c[-1]).name for c in copies] == ["bnn.bit", "bnn.hwh"]


@pytest.mark.parametrize("name", ["digits_mlp", "cnv"])
def test_build_other_models(
    name: str, reference_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = DIGITS / f"{name}.onnx" if name.startswith("digits") else reference_dir / f"{name}.onnx"
    code, _, err = run_cli(["build", model, "-o", tmp_path / "b"], capsys)
    assert code == 0, err
    calls = tcl_calls(tmp_path / "b" / "vivado" / "build_bd.tcl", "")
    assert any(c[0] == "create_bd_cell" and c[-1] == "bnn_0" for c in calls)
    spec = json.loads((tmp_path / "b" / "deploy" / "model.json").read_text())
    props = " ".join(" ".join(c) for c in calls if c[0] == "set_property")
    assert f"CONFIG.c_m_axis_mm2s_tdata_width {spec['stream']['axi_bits']}" in props


def test_build_run_without_tools(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent))
    code, out, _ = run_cli(
        ["build", DIGITS / "digits_mlp.onnx", "-o", tmp_path / "b", "--run"], capsys
    )
    assert code == 0 and "not found on PATH" in out and "./build.sh" in out


PACKAGE_STANDINS = r"""
set calls {}
proc record {args} { lappend ::calls $args }
namespace eval ipx {}
foreach cmd {create_project add_files set_property update_compile_order ipx::package_project
             ipx::associate_bus_interfaces ipx::create_xgui_files ipx::update_checksums
             ipx::check_integrity ipx::save_core close_project} {
    proc $cmd {args} "record $cmd {*}\$args"
}
proc current_fileset {args} { return sources_1 }
proc get_files {args} { return [lindex $args end] }
proc ipx::current_core {args} { return core }
proc glob {args} { return [list [lindex $args end]] }
source [lindex $argv 0]
foreach c $calls { puts [join $c "\t"] }
"""


def test_build_with_rtl_ip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--ip rtl: the RTL behind the HLS IP's ports and registers, packaged by Vivado; the
    same block design and driver."""
    out = tmp_path / "b"
    code, _, err = run_cli(["build", DIGITS / "digits_cnn.onnx", "-o", out, "--ip", "rtl"], capsys)
    assert code == 0, err
    res = subprocess.run(
        ["tclsh", "/dev/stdin", str(out / "vivado" / "package_rtl.tcl")],
        input=PACKAGE_STANDINS,
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    calls = [line.split("\t") for line in res.stdout.splitlines()]
    create = next(c for c in calls if c[0] == "create_project")
    assert "xc7z020clg400-1" in create and "-force" in create and "-in_memory" not in create
    package = next(c for c in calls if c[0] == "ipx::package_project")
    assert "bnn-hls.org" in package and "bnn" in package and "-force" in package
    # the ROM contents reach the IP's synthesis file set
    mems = [c for c in calls if c[:2] == ["set_property", "used_in"]]
    assert mems and "synthesis" in mems[0][2] and mems[0][-1].endswith(".mem")
    assert calls[-1][0] == "close_project"
    assert "output_scores_tkeep = 4'hf" in (out / "rtl" / "bnn_top_axi.sv").read_text()
    assert ["set_property", "top", "bnn_top_axi", "sources_1"] in calls
    buses = {c[2] for c in calls if c[0] == "ipx::associate_bus_interfaces"}
    assert buses == {"input_words", "output_scores", "s_axi_control"}
    assert "ipx::save_core" in [c[0] for c in calls]
    bd = tcl_calls(out / "vivado" / "build_bd.tcl", "")
    assert any(c[0] == "create_bd_cell" and c[-1] == "bnn_0" for c in bd)
    assert "ip_rtl" in (out / "vivado" / "build_bd.tcl").read_text()
    assert "package_rtl.tcl" in (out / "build.sh").read_text()
    # the packaged top: lint-clean, and in simulation bit-exact through its AXI-Lite registers
    from bnn_hls import golden
    from bnn_hls.compiler import compile_file
    from bnn_hls.dataflow.folding import default_folding
    from bnn_hls.dataflow.lowering import build_plan
    from bnn_hls.rtlsim.runner import RtlSim
    from bnn_hls.verify import random_inputs

    from .test_rtl_lint import lint

    rtl = out / "rtl"
    files = [rtl / n for n in (rtl / "files.f").read_text().split()] + [rtl / "bnn_top_axi.sv"]
    assert lint(files, "bnn_top_axi", rtl) == ""
    c = compile_file(DIGITS / "digits_cnn.onnx")
    plan = build_plan(c.model, default_folding(c.model))
    x = random_inputs(c.model.input, 5, seed=2)
    words = plan.pack_inputs(golden.input_quant(c.model.input, x))
    result = RtlSim(rtl, tmp_path / "sim", top="bnn_top_axi").run(words, golden.run(c.model, x).acc)
    assert result.scores_ok and len(result.runs) == 2, result.runs


def load_driver(deploy: Path):  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(deploy))
    try:
        import importlib

        import bnn_driver

        return importlib.reload(bnn_driver)
    finally:
        sys.path.remove(str(deploy))


def test_driver_on_csim(build_dir: Path) -> None:
    from bnn_hls.hostsim import CsimDevice

    driver = load_driver(build_dir / "deploy")
    accel = driver.BnnAccelerator(str(build_dir / "deploy"), device=CsimDevice(build_dir / "hls"))
    data = np.load(build_dir / "deploy" / "test_set.npz")
    scores = accel.integer_scores(data["images"])
    assert np.array_equal(scores, data["expected_scores"])
    accuracy = (accel.predict_labels(data["images"]) == data["labels"]).mean()
    assert accuracy > 0.95
    result = accel.throughput_test(batch=50, images=data["images"])
    assert result["images"] == 50 and result["images_per_s"] > 0


def test_driver_on_rtlsim(build_dir: Path, tmp_path: Path) -> None:
    from bnn_hls.backends.rtl import write_rtl_project
    from bnn_hls.compiler import compile_file
    from bnn_hls.dataflow.folding import default_folding
    from bnn_hls.hostsim import RtlsimDevice

    c = compile_file(DIGITS / "digits_cnn.onnx")
    write_rtl_project(c.model, default_folding(c.model), tmp_path / "rtl")
    driver = load_driver(build_dir / "deploy")
    accel = driver.BnnAccelerator(str(build_dir / "deploy"), device=RtlsimDevice(tmp_path / "rtl"))
    data = np.load(build_dir / "deploy" / "test_set.npz")
    scores = accel.integer_scores(data["images"][:12])
    assert np.array_equal(scores, data["expected_scores"][:12])


@pytest.mark.parametrize("level", ["csim", "rtlsim"])
def test_notebook_runs_against_simulators(build_dir: Path, tmp_path: Path, level: str) -> None:
    import nbformat
    from nbclient import NotebookClient

    deploy = build_dir / "deploy"
    nb = nbformat.read(deploy / "bnn_pynq.ipynb", as_version=4)
    env_before = os.environ.get("BNN_SIM_DEVICE")
    if level == "csim":
        os.environ["BNN_SIM_DEVICE"] = f"csim:{build_dir / 'hls'}"
    else:
        from bnn_hls.backends.rtl import write_rtl_project
        from bnn_hls.compiler import compile_file
        from bnn_hls.dataflow.folding import default_folding

        c = compile_file(DIGITS / "digits_cnn.onnx")
        write_rtl_project(c.model, default_folding(c.model), tmp_path / "rtl")
        os.environ["BNN_SIM_DEVICE"] = f"rtlsim:{tmp_path / 'rtl'}"
    try:
        NotebookClient(
            nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(deploy)}}
        ).execute()
    finally:
        if env_before is None:
            del os.environ["BNN_SIM_DEVICE"]
        else:
            os.environ["BNN_SIM_DEVICE"] = env_before
    text = "\n".join(
        o.get("text", "")
        for cell in nb.cells
        if cell.cell_type == "code"
        for o in cell.get("outputs", [])
    )
    assert "scores equal to the compiler's golden model: True" in text
    assert "accuracy on 450 images" in text and "images/s" in text


def test_driver_under_the_boards_pynq_and_numpy(build_dir: Path, tmp_path: Path) -> None:
    """A second run of the driver in a venv with pynq==3.0.1 and numpy 1.x (`make setup`
    creates .venv-pynq)."""
    from .conftest import ROOT

    py = ROOT / ".venv-pynq" / "bin" / "python"
    if not py.exists():
        pytest.skip("no .venv-pynq (make setup creates it)")
    from bnn_hls import golden
    from bnn_hls.compiler import compile_file

    deploy = build_dir / "deploy"
    driver = load_driver(deploy)
    data = np.load(deploy / "test_set.npz")
    images = data["images"][:40]

    class Capture:
        fclk_mhz = 100.0
        words: np.ndarray

        def run(self, words: np.ndarray, images: int, out_bytes: int) -> bytes:
            self.words = words
            return data["expected_scores"][:images].astype("<i4").tobytes()

    device = Capture()
    accel = driver.BnnAccelerator(str(deploy), device=device)
    outputs = accel.predict(images)
    model = compile_file(DIGITS / "digits_cnn.onnx").model
    assert np.array_equal(outputs, golden.run(model, images).scores)
    np.savez(
        tmp_path / "ref.npz",
        images=images,
        words=device.words,
        scores=data["expected_scores"][:40],
        labels=np.argmax(outputs, axis=1),
        outputs=outputs,
    )
    res = subprocess.run(
        [
            str(py),
            str(Path(__file__).parent / "pynq_driver_check.py"),
            str(deploy),
            str(tmp_path / "ref.npz"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert "OK numpy 1." in res.stdout and "pynq 3.0.1" in res.stdout


# --- the board driver's DMA handling, against the C simulation behind stand-ins of pynq ---
class FakeBuffer:
    """pynq.allocate's contiguous buffer: a numpy array with flush/invalidate/freebuffer."""

    def __init__(self, shape: tuple[int, ...], dtype: type) -> None:
        self.array = np.zeros(shape, dtype)
        self.nbytes = self.array.nbytes

    def __setitem__(self, key: object, value: object) -> None:
        self.array[key] = value  # type: ignore[index]

    def __getitem__(self, key: object) -> np.ndarray:
        return self.array[key]  # type: ignore[no-any-return,index]

    def flush(self) -> None: ...

    def invalidate(self) -> None: ...

    def freebuffer(self) -> None: ...


class FakeDma:
    """An AXI DMA whose transfers run the C simulation; `hang` makes the next run stall."""

    def __init__(self, device: object, max_size: int) -> None:
        self.device = device
        self.hang = False
        self.idle = True
        self.registers: dict[int, int] = {}
        self.resets = 0
        self.runs: list[tuple[int, int]] = []
        self.recv: tuple[FakeBuffer, int] | None = None
        self.sendchannel = FakeChannel(self, max_size, send=True)
        self.recvchannel = FakeChannel(self, max_size, send=False)

    def write(self, offset: int, value: int) -> None:
        if value & 0x4:  # soft reset: both channels halt, nothing pending
            self.resets += 1
            self.idle, self.recv, self.hang = True, None, False
            return
        self.registers[offset] = value

    def read(self, offset: int) -> int:
        return self.registers.get(offset, 0)


class FakeChannel:
    def __init__(self, dma: FakeDma, max_size: int, send: bool) -> None:
        self.dma, self._max_size, self.send, self.starts = dma, max_size, send, 0

    @property
    def idle(self) -> bool:
        return self.dma.idle

    def start(self) -> None:
        self.starts += 1

    def transfer(self, buf: FakeBuffer, nbytes: int = 0) -> None:
        assert nbytes <= self._max_size, "a transfer longer than the length register"
        dma = self.dma
        if not self.send:
            assert dma.idle, "DMA channel not idle"
            dma.recv = (buf, nbytes)
            return
        dma.runs.append((nbytes, dma.recv[1]))  # type: ignore[index]
        if dma.hang:
            dma.idle = False  # never finishes
            return
        images = dma.accel.registers[0x10]  # type: ignore[attr-defined]
        out, out_bytes = dma.recv  # type: ignore[misc]
        raw = dma.device.run(buf.array[:nbytes], images, out_bytes)  # type: ignore[attr-defined]
        out.array[:out_bytes] = np.frombuffer(raw, np.uint8)


class FakeAccel:
    def __init__(self) -> None:
        self.registers: dict[int, int] = {}

    def write(self, offset: int, value: int) -> None:
        self.registers[offset] = value


def fake_pynq(build_dir: Path, max_size: int):  # type: ignore[no-untyped-def]
    from bnn_hls.hostsim import CsimDevice

    driver = load_driver(build_dir / "deploy")
    dma = FakeDma(CsimDevice(build_dir / "hls"), max_size)
    dma.accel = FakeAccel()  # type: ignore[attr-defined]

    class Overlay:
        bnn_0 = dma.accel  # type: ignore[attr-defined]

    Overlay.dma = dma  # type: ignore[attr-defined]
    device = driver.PynqDevice(
        overlay=Overlay(), allocate=lambda shape, dtype: FakeBuffer(shape, dtype), timeout_s=0.2
    )
    return driver, device, dma


def test_driver_resets_the_dma_after_a_timeout(build_dir: Path) -> None:
    driver, device, dma = fake_pynq(build_dir, (1 << 26) - 1)
    accel = driver.BnnAccelerator(str(build_dir / "deploy"), device=device)
    data = np.load(build_dir / "deploy" / "test_set.npz")
    dma.hang = True
    with pytest.raises(TimeoutError, match="the DMA was reset"):
        accel.integer_scores(data["images"][:4])
    assert dma.resets == 1 and dma.sendchannel.starts == 1 and dma.recvchannel.starts == 1
    # the next call starts clean and is bit-exact
    scores = accel.integer_scores(data["images"][:9])
    assert np.array_equal(scores, data["expected_scores"][:9])


def test_driver_splits_batches_longer_than_a_transfer(build_dir: Path) -> None:
    spec = json.loads((build_dir / "deploy" / "model.json").read_text())
    per_image = spec["stream"]["word_bytes"] * spec["stream"]["words_per_image"]
    driver, device, dma = fake_pynq(build_dir, 7 * per_image + 3)  # 7 images per transfer
    accel = driver.BnnAccelerator(str(build_dir / "deploy"), device=device)
    data = np.load(build_dir / "deploy" / "test_set.npz")
    scores = accel.integer_scores(data["images"][:20])
    assert np.array_equal(scores, data["expected_scores"][:20])
    assert [n // per_image for n, _ in dma.runs] == [7, 7, 6]
    assert all(max(n, m) <= 7 * per_image + 3 for n, m in dma.runs)

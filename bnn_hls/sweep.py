"""`bnn-hls sweep MODEL`: a design-space exploration. Each point (a target rate, a sharing mode,
a ROM style, a budget) gets the optimiser's folding, the resource model's LUT/FF/BRAM and the
analytic rate, optionally Yosys resources and RTL-sim cycles; the Pareto fronts (images/s vs
LUT, images/s vs BRAM) come out as a table, JSON and a plot.

Points run in a local process pool, or on a Dask cluster given its scheduler address. Dask
rather than Ray: it is pure Python and small to install next to the compiler, a LocalCluster
starts in seconds (the tests start one), and its futures API (`Client.submit`,
`distributed.as_completed`) is the same shape as the local pool's, so one loop drives both.
Each task carries the model's bytes, so workers need no shared file system."""

from __future__ import annotations

import logging
import math
import tempfile
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from .errors import ModelError, ToolFailure, printable
from .machine import available_cores
from .progress import progress

log = logging.getLogger(__name__)

ROM_CHOICES = ("auto", "lut", "block")
SHARING_CHOICES = ("off", "exact", "auto")
DEFAULT_LADDER = 8  # default targets: the fastest design, then its rate halved 7 times
CONNECT_TIMEOUT_S = 20  # how long to wait for a Dask scheduler


@dataclass(frozen=True)
class Point:
    target_fps: float | None  # None: the fastest design within the budget
    sharing: str  # --sharing mode: off, exact, auto
    rom: str  # auto (the optimiser's choice per layer), or lut / block for every MVTU
    budget: float  # fraction of the xc7z020

    def label(self) -> str:
        rate = "fastest" if self.target_fps is None else f"{self.target_fps:,.0f}/s"
        return f"{rate} sharing={self.sharing} rom={self.rom} budget={self.budget:.0%}"


@dataclass(frozen=True)
class Extras:
    """What each point measures beyond the models."""

    yosys: bool = False
    rtlsim_images: int = 0


def points(
    targets: Iterable[float | None],
    sharing: Iterable[str],
    roms: Iterable[str],
    budgets: Iterable[float],
) -> list[Point]:
    return [Point(t, s, r, b) for t in targets for s in sharing for r in roms for b in budgets]


def default_targets(model_bytes: bytes, name: str, budget: float) -> list[float | None]:
    """The fastest design within the budget (None), then its rate halved, rounded down to 3
    significant digits, DEFAULT_LADDER - 1 times."""
    from .compiler import compile_file
    from .dataflow.cycles import images_per_second
    from .dataflow.optimiser import optimise

    with _model_file(model_bytes, name) as path:
        c = compile_file(path)
    fastest = images_per_second(optimise(c.model, budget=budget).ii)
    ladder: list[float | None] = [None]
    for k in range(1, DEFAULT_LADDER):
        rate = fastest / 2**k
        step = 10 ** (math.floor(math.log10(rate)) - 2)
        ladder.append(math.floor(rate / step) * step)
    return ladder


class _model_file:
    """The model's bytes as a file in a temporary folder (a worker has no copy of its own)."""

    def __init__(self, data: bytes, name: str) -> None:
        self.data, self.name = data, name

    def __enter__(self) -> Path:
        self.tmp = tempfile.TemporaryDirectory(prefix="bnn-sweep-")
        path = Path(self.tmp.name) / self.name
        path.write_bytes(self.data)
        return path

    def __exit__(self, *exc: object) -> None:
        self.tmp.cleanup()


def evaluate(model_bytes: bytes, name: str, point: Point, extras: Extras) -> dict[str, Any]:
    """One design point; runs in a worker process. A point the optimiser or a backend cannot
    build is a row with its reason, not a failure of the sweep."""
    from .compiler import FoldingRequest, choose_folding, compile_file
    from .dataflow.cycles import images_per_second, initiation_interval
    from .dataflow.kernels import KERNELS
    from .dataflow.lowering import build_plan
    from .dataflow.optimiser import limits_for
    from .passes import PassOptions, parse_sharing

    row: dict[str, Any] = {"point": asdict(point), "label": point.label()}
    try:
        with _model_file(model_bytes, name) as path:
            c = compile_file(path, PassOptions(sharing=parse_sharing(point.sharing)))
        request = FoldingRequest(target_fps=point.target_fps, budget=point.budget)
        folding = choose_folding(c, request).folding
        if point.rom != "auto":
            folding = {
                k: (replace(f, rom=point.rom) if KERNELS[f.kernel].uses_rom else f)
                for k, f in folding.items()
            }
        plan = build_plan(c.model, folding)
        _, model_total = plan.resource_estimate()
        ii = initiation_interval(plan)
        # a forced ROM style can push a design past the budget: it stays in the table, off
        # the fronts
        limits = limits_for(point.budget)
        fits = model_total.lut <= limits.lut and model_total.bram36 <= limits.bram36
        row.update(
            status="ok" if fits else "over budget",
            cycles_per_image=ii,
            images_per_s=images_per_second(ii),
            model={
                "lut": round(model_total.lut),
                "ff": round(model_total.ff),
                "bram36": model_total.bram36,
            },
            folding={k: [f.pe, f.simd, f.rom, f.kernel] for k, f in folding.items()},
        )
        if extras.yosys:
            from .yosys import estimate_design

            doc = estimate_design(c.model, folding, jobs=1)
            row["yosys"] = {k: doc["total"][k] for k in ("lut", "ff", "bram36", "dsp")}
        if extras.rtlsim_images:
            from .simulate import rtlsim_scores
            from .verify import random_inputs

            x = random_inputs(c.model.input, extras.rtlsim_images, seed=0)
            _, rtl = rtlsim_scores(c.model, folding, x)
            row["rtlsim_cycles_per_image"] = rtl.cycles_per_image_measured
    except (ModelError, ToolFailure) as exc:
        row.update(status="refused", reason=printable(str(exc), 300))
    return row


def pareto(rows: list[dict[str, Any]], cost: str) -> list[dict[str, Any]]:
    """The rows no other row beats on both images/s (higher) and `cost` (lower; "lut" or
    "bram36" of the resource model, or of Yosys when the row has it), by rate."""
    ok = [r for r in rows if r["status"] == "ok"]

    def price(r: dict[str, Any]) -> float:
        return float((r.get("yosys") or r["model"])[cost])

    front = [
        r
        for r in ok
        if not any(
            price(o) <= price(r)
            and o["images_per_s"] >= r["images_per_s"]
            and (price(o) < price(r) or o["images_per_s"] > r["images_per_s"])
            for o in ok
        )
    ]
    unique: dict[tuple[float, float], dict[str, Any]] = {}
    for r in front:  # equal designs reached from several points: keep one
        unique.setdefault((r["images_per_s"], price(r)), r)
    return sorted(unique.values(), key=lambda r: r["images_per_s"])


def _local(jobs: int, tasks: list[tuple[Any, ...]]) -> Iterator[dict[str, Any]]:
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures: list[Future[dict[str, Any]]] = [pool.submit(evaluate, *t) for t in tasks]
        for fut in as_completed(futures):
            yield fut.result()


def _cluster(address: str, tasks: list[tuple[Any, ...]]) -> Iterator[dict[str, Any]]:
    try:
        from distributed import Client
        from distributed import as_completed as dask_completed
    except ImportError:
        raise ModelError(
            "--cluster needs Dask's distributed package",
            hint="pip install 'bnn-hls[cluster]' (on this machine and the cluster's workers)",
        ) from None
    try:
        client = Client(address, timeout=f"{CONNECT_TIMEOUT_S}s")
    except (OSError, TimeoutError) as exc:
        raise ModelError(
            f"cannot reach the Dask scheduler at {printable(address, 200)}: {exc}",
            hint="start one (dask scheduler; dask worker ADDRESS) or drop --cluster",
        ) from None
    with client:
        futures = [client.submit(evaluate, *t, pure=False) for t in tasks]
        for fut in dask_completed(futures):
            try:
                row = fut.result()
            except Exception as exc:  # raised on a worker: most often bnn-hls missing there
                raise ModelError(
                    f"a worker of the Dask cluster failed: {type(exc).__name__}: "
                    f"{printable(str(exc), 300)}",
                    hint="install the same bnn-hls (and its tools for --yosys/--rtlsim) on "
                    "every worker",
                ) from None
            yield row


def run_sweep(
    model_path: Path,
    pts: list[Point],
    extras: Extras = Extras(),
    jobs: int | None = None,
    cluster: str | None = None,
) -> dict[str, Any]:
    data = model_path.read_bytes()
    name = "model" + model_path.suffix  # the user's file name stays on this machine
    tasks = [(data, name, p, extras) for p in pts]
    where = f"Dask cluster {cluster}" if cluster else f"{jobs or available_cores()} processes"
    log.info("sweep: %d points on %s", len(tasks), where)
    rows: list[dict[str, Any]] = []
    stream = _cluster(cluster, tasks) if cluster else _local(jobs or available_cores(), tasks)
    with progress("sweep", len(tasks), "points") as bar:
        for row in stream:
            rows.append(row)
            bar.advance(note=row["label"])
    order = {p.label(): i for i, p in enumerate(pts)}
    rows.sort(key=lambda r: order[r["label"]])
    return {
        "points": rows,
        "pareto_lut": [r["label"] for r in pareto(rows, "lut")],
        "pareto_bram36": [r["label"] for r in pareto(rows, "bram36")],
        "ran_on": "dask" if cluster else "local",
        "extras": asdict(extras),
    }


def table(doc: dict[str, Any]) -> str:
    front = set(doc["pareto_lut"]) | set(doc["pareto_bram36"])
    lines = [
        "| point | cycles/image | images/s @100 MHz | LUT (model) | BRAM36 (model) | "
        "LUT (Yosys) | RTL-sim cycles | Pareto |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in doc["points"]:
        if r["status"] == "refused":
            lines.append(f"| {r['label']} | refused: {r['reason']} | | | | | | |")
            continue
        marks = [
            k
            for k, key in (("LUT", "pareto_lut"), ("BRAM", "pareto_bram36"))
            if r["label"] in doc[key]
        ]
        lines.append(
            f"| {r['label']} | {r['cycles_per_image']:,} | {r['images_per_s']:,.0f} | "
            f"{r['model']['lut']:,} | {r['model']['bram36']:.1f} | "
            f"{(r.get('yosys') or {}).get('lut', '-')} | "
            f"{r.get('rtlsim_cycles_per_image') or '-'} | "
            f"{'/'.join(marks) if r['label'] in front else ''}"
            f"{'over budget' if r['status'] == 'over budget' else ''} |"
        )
    return "\n".join(lines) + "\n"


def write_results(folder: Path, doc: dict[str, Any], command: str) -> None:
    """sweep.json, sweep.md (the table under the command that made it) and pareto.png."""
    import json

    model = doc["model"]
    (folder / "sweep.json").write_text(json.dumps(doc, indent=1) + "\n")
    (folder / "sweep.md").write_text(f"# Sweep of {model}\n\nCommand: `{command}`\n\n{table(doc)}")
    plot(doc, folder / "pareto.png", f"{model}: design points and fronts")


def plot(doc: dict[str, Any], out: Path, title: str) -> bool:
    """images/s vs LUT and vs BRAM36, the fronts as lines; False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    ok = [r for r in doc["points"] if r["status"] != "refused"]
    by_label = {r["label"]: r for r in ok}
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, cost, key, name in (
        (axes[0], "lut", "pareto_lut", "LUT"),
        (axes[1], "bram36", "pareto_bram36", "BRAM36"),
    ):

        def price(r: dict[str, Any], cost: str = cost) -> float:
            return float((r.get("yosys") or r["model"])[cost])

        for status, style in (
            ("ok", {"marker": "o", "color": "tab:gray", "label": "design points"}),
            ("over budget", {"marker": "x", "color": "tab:orange", "label": "over the budget"}),
        ):
            these = [r for r in ok if r["status"] == status]
            if these:
                ax.scatter(
                    [price(r) for r in these], [r["images_per_s"] for r in these], s=14, **style
                )
        front = [by_label[label] for label in doc[key]]
        ax.plot(
            [price(r) for r in front],
            [r["images_per_s"] for r in front],
            "o-",
            color="tab:red",
            label="Pareto front",
        )
        ax.set_xlabel(f"{name} ({'Yosys' if doc['extras']['yosys'] else 'resource model'})")
        ax.set_ylabel("images/s at 100 MHz (cycle model)")
        ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return True


def _numbers(text: str, option: str) -> list[float]:
    values = []
    for part in text.split(","):
        try:
            v = float(part)
        except ValueError:
            raise ModelError(f"{option}: {printable(part, 40)!r} is not a number") from None
        if not math.isfinite(v) or v <= 0:
            raise ModelError(f"{option}: {v} is not a number > 0")
        values.append(v)
    return values


def parse_targets(text: str) -> list[float]:
    return _numbers(text, "--targets")


def parse_budgets(text: str) -> list[float]:
    values = _numbers(text, "--budgets")
    for v in values:
        if v > 1:
            raise ModelError(f"--budgets: {v} is not a fraction in (0, 1]")
    return values


def parse_choices(text: str, option: str, allowed: tuple[str, ...]) -> list[str]:
    values = [v.strip().lower() for v in text.split(",") if v.strip()]
    bad = [v for v in values if v not in allowed]
    if bad or not values:
        raise ModelError(
            f"{option}: {printable(','.join(bad) or text, 60)!r} is not among {', '.join(allowed)}"
        )
    return values

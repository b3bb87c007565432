"""The package's shape (docs/architecture.md): the import graph has no cycles, the dataflow
layer imports no CLI, backend or pass, and only the stage classes know the stage kinds."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from bnn_hls.dataflow.stage import Stage

from .conftest import ROOT

PACKAGE = ROOT / "bnn_hls"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """The bnn_hls modules a file imports, at any depth (lazy imports in functions count;
    imports only for type checking do not)."""
    tree = ast.parse(path.read_text())
    here = module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip |= {id(n) for n in ast.walk(node)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("bnn_hls")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("bnn_hls"):
                continue
            found.add(target)
            for alias in node.names:  # `from . import golden` imports a module
                candidate = f"{target}.{alias.name}"
                if (ROOT / Path(*candidate.split("."))).with_suffix(".py").exists():
                    found.add(candidate)
    return found


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    edges: dict[str, set[str]] = {}
    for name, path in modules.items():
        # importing a.b.c runs a/__init__ and a/b/__init__ too, but those are light; count the
        # module itself
        edges[name] = {m for m in imports_of(path) if m in modules and m != name}
    return edges


def test_import_graph_has_no_cycles() -> None:
    edges = graph()
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> None:
        state[n] = 1
        stack.append(n)
        for m in sorted(edges[n]):
            if state.get(m) == 1:
                cycle = [*stack[stack.index(m) :], m]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if m not in state:
                visit(m)
        stack.pop()
        state[n] = 2

    for n in sorted(edges):
        if n not in state:
            visit(n)


def test_dataflow_imports_no_cli_backend_or_pass() -> None:
    edges = graph()
    banned = ("bnn_hls.cli", "bnn_hls.backends", "bnn_hls.passes", "bnn_hls.compiler")
    for name, deps in edges.items():
        if name.startswith("bnn_hls.dataflow"):
            bad = sorted(d for d in deps if d.startswith(banned))
            assert not bad, f"{name} imports {bad}"


def stage_kinds() -> set[str]:
    kinds = set()
    todo = [Stage]
    while todo:
        cls = todo.pop()
        todo += cls.__subclasses__()
        if "kind" in cls.__dict__:
            kinds.add(cls.__dict__["kind"])
    return kinds


def documented_layers() -> list[tuple[str, list[str]]]:
    """docs/architecture.md's layer table: (layer, module prefixes), top to bottom."""
    rows = []
    text = (ROOT / "docs" / "architecture.md").read_text()
    for line in text.split("## The frontend")[0].splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or cells[0] in ("layer", "---") or not cells[1].startswith("`"):
            continue
        prefixes = []
        for entry in re.findall(r"`([^`]+)`", cells[1]):
            name = entry.removesuffix("/").removesuffix(".py").replace("/", ".")
            prefixes.append("bnn_hls" if name == "__init__" else f"bnn_hls.{name}")
        rows.append((cells[0], prefixes))
    return rows


def test_imports_follow_the_documented_layers() -> None:
    """Every module is in the table, and imports only its own layer and the ones above."""
    layers = documented_layers()
    assert len(layers) >= 8, layers

    def layer_of(module: str) -> int:
        best, depth = -1, -1
        for i, (_, prefixes) in enumerate(layers):
            for p in prefixes:
                within = module.startswith(p + ".") and p != "bnn_hls"  # __init__: itself
                if (module == p or within) and p.count(".") > depth:
                    best, depth = i, p.count(".")
        assert best >= 0, f"{module} is in no layer of docs/architecture.md"
        return best

    bad = []
    for module, deps in sorted(graph().items()):
        mine = layer_of(module)
        bad += [
            f"{module} ({layers[mine][0]}) imports {d} ({layers[layer_of(d)][0]})"
            for d in sorted(deps)
            if layer_of(d) > mine
        ]
    assert not bad, "\n".join(bad)


def stage_classes() -> list[type[Stage]]:
    found, todo = [], list(Stage.__subclasses__())
    while todo:
        cls = todo.pop()
        todo += cls.__subclasses__()
        found.append(cls)
    return found


def _kind_uses(tree: ast.AST, kinds: set[str], classes: set[str]) -> list[tuple[int, str]]:
    """Where a module decides by a stage's kind: a kind's name compared (==, !=, in, is, also
    inside a tuple, list or set), used to pick from the kernel registry (KERNELS["shared"]) or
    as a match case,
    and a concrete stage class tested with isinstance, issubclass, `is` or type()."""

    def names_kind(node: ast.AST) -> bool:
        if isinstance(node, ast.Constant):
            return node.value in kinds
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            return any(names_kind(e) for e in node.elts)
        return False

    def names_class(node: ast.AST) -> bool:
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            return any(names_class(e) for e in node.elts)
        name = node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", None)
        return name in classes

    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            parts = [node.left, *node.comparators]
            if any(names_kind(n) for n in parts) or (
                any(isinstance(op, (ast.Is, ast.IsNot)) for op in node.ops)
                and any(names_class(n) for n in parts)
            ):
                found.append((node.lineno, ast.unparse(node)))
        elif (
            isinstance(node, ast.Subscript)
            and names_kind(node.slice)
            and ast.unparse(node.value).split(".")[-1] == "KERNELS"
        ):
            found.append((node.lineno, ast.unparse(node)))
        elif isinstance(node, ast.MatchValue) and names_kind(node.value):
            found.append((node.lineno, ast.unparse(node.value)))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("isinstance", "issubclass")
            and len(node.args) == 2
            and names_class(node.args[1])
        ):
            found.append((node.lineno, ast.unparse(node)))
    return found


def test_no_module_branches_on_a_stage_kind() -> None:
    """Outside the modules that define the stage classes (and the kernel registry that maps a
    folding's kernel names to them), no code decides by a stage's kind: the backends, models
    and optimiser ask the stage instead. Templates neither compare a kind's name nor read
    `.kind`."""
    classes = stage_classes()
    kinds = {c.__dict__["kind"] for c in classes if "kind" in c.__dict__}
    assert {"input", "window", "mvtu", "shared", "pool", "gather", "split", "output"} <= kinds
    concrete = {c.__name__ for c in classes if "kind" in c.__dict__}
    owners = {Path(__import__(c.__module__, fromlist=["_"]).__file__) for c in classes}
    owners.add(PACKAGE / "dataflow" / "kernels.py")
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path in owners:
            continue
        for no, text in _kind_uses(ast.parse(path.read_text()), kinds, concrete):
            offenders.append(f"{path.relative_to(ROOT)}:{no}: {text}")
    alternatives = "|".join(sorted(kinds))
    literal = rf"""["']({alternatives})["']"""
    compare = re.compile(
        rf"(==|!=)\s*{literal}|{literal}\s*(==|!=)|\bin\s*[(\[{{][^)\]}}]*{literal}|\.kind\b"
    )
    for path in sorted((ROOT / "templates").rglob("*.j2")):
        for no, line in enumerate(path.read_text().splitlines(), 1):
            if compare.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{no}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


def test_the_kind_check_finds_what_it_forbids() -> None:
    """The check above on code that decides by kind in each of the ways it looks for."""
    samples = [
        'if st.kind == "mvtu": pass',
        'x = st.kind in ("window",\n "pool")',
        'rule = KERNELS["shared"]',
        'match k:\n    case "bases": pass',
        "ok = isinstance(st, MvtuStage)",
        "ok = type(st) is WindowStage",
        "ok = cls is not KERNELS[name] or cls is SharedStage",
    ]
    kinds = {"mvtu", "window", "pool", "shared", "bases"}
    classes = {"MvtuStage", "WindowStage", "SharedStage"}
    for code in samples:
        assert _kind_uses(ast.parse(code), kinds, classes), code
    allowed = "ok = isinstance(st, LinearStage) and x == 'lut' and rep['input']"
    assert not _kind_uses(ast.parse(allowed), kinds, classes)


def test_every_stage_kind_has_its_templates() -> None:
    templates = ROOT / "templates"
    todo = list(Stage.__subclasses__())
    while todo:
        cls = todo.pop()
        todo += cls.__subclasses__()
        if "hls_template" in cls.__dict__:
            assert (templates / "hls" / "stages" / cls.__dict__["hls_template"]).is_file(), cls


def test_every_hls_template_parameter_has_a_doc_line() -> None:
    """hw/hls: each template parameter of the kernel library is named at the start of a
    comment line (`// NAME  what it is`) in its header, and every kernel header with template
    parameters checks some of them with static_assert."""
    doc_line = re.compile(r"\s*//\s+([A-Z][A-Za-z_0-9]*(?:\s*,\s*[A-Z][A-Za-z_0-9]*)*)\s{2,}")
    missing = []
    for header in sorted((ROOT / "hw" / "hls").glob("bnn_*.h")):
        text = header.read_text()
        documented = {
            name
            for line in text.splitlines()
            if (m := doc_line.match(line))
            for name in re.split(r"\s*,\s*", m.group(1))
        }
        params = {
            m.group(1)
            for decl in re.findall(r"template\s*<([^>]*)>", text)
            for part in decl.split(",")
            if (m := re.match(r"\s*(?:int|bool|unsigned|typename|class)\s+(\w+)", part))
        }
        missing += [f"{header.name}: {p}" for p in sorted(params - documented)]
        if params and header.name != "bnn_common.h":
            assert "static_assert" in text, f"{header.name} checks none of its parameters"
    assert not missing, "template parameters without a doc line:\n" + "\n".join(missing)


def test_every_parameterised_rtl_kernel_checks_its_parameters() -> None:
    """hw/rtl: a module with parameters stops elaboration on bad ones ($fatal in a named
    generate block; tests/test_rtl_lint.py runs some of them)."""
    unchecked = [
        sv.name
        for sv in sorted((ROOT / "hw" / "rtl").glob("bnn_*.sv"))
        if "parameter" in (text := sv.read_text()) and "$fatal" not in text
    ]
    assert not unchecked, unchecked

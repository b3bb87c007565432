"""A static check of a generated HLS project, without an HLS tool: for every array the kernel
library's pipelined loops touch, the accesses per iteration fit the ports that the project's
pragmas give the array (so the loop can reach II = 1), and no word is wider than 4096 bits.

The access rules of the kernel library are written once, by the stage class whose kind calls
the kernel (Stage.hls_kernels, dataflow/hls_rules.py): which arguments a kernel reads (or
writes) per loop iteration, and how many parallel readers (a template parameter, e.g. PE) each
read their own index of the array's first dimension. The check reads
what was generated — declarations, pragmas, kernel calls, config.h constants — and applies
the rules; `write_hls_project` runs it on everything it writes, and the tests run it on
designs with pragmas removed to see it fail.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from ..dataflow import lowering as _lowering  # noqa: F401  (imports every stage class)
from ..dataflow.hls_rules import Access, KernelRule
from ..dataflow.stage import Stage
from ..dataflow.streams import MAX_WORD_BITS

UNLIMITED = 1 << 30


def kernel_rules() -> dict[str, KernelRule]:
    """Every HLS library kernel's rule, gathered from the stage classes (Stage.hls_kernels)."""
    rules: dict[str, KernelRule] = {}
    pending: list[type[Stage]] = list(Stage.__subclasses__())
    while pending:
        cls = pending.pop()
        rules.update(cls.hls_kernels)
        pending += cls.__subclasses__()
    return rules


# ports of a memory by its storage type: (reads, writes, read-or-write)
PORTS = {
    "rom_1p": (1, 0, 0),
    "rom_2p": (2, 0, 0),
    "ram_1p": (0, 0, 1),
    "ram_s2p": (1, 1, 0),
    "ram_2p": (1, 0, 1),
    "ram_t2p": (0, 0, 2),
}

_DECL = re.compile(
    r"(?:static\s+const\s+)?(ap_u?int<\d+>|u?int\d+_t|bnn::rom_[us]<\d+>::type)\s+(\w+)((?:\[\d+\])+)\s*(?:=|;)"
)
_FUNC = re.compile(r"^(?:BNN_CSIM_NOINLINE )?static void (\w+)\([^)]*\)\s*\{(.*?)\n\}", re.S | re.M)
_CALL = re.compile(r"bnn::(\w+)<([^;]*?)>\(\s*(.*?)\);", re.S)
_PARTITION = re.compile(
    r"#pragma HLS ARRAY_(PARTITION|RESHAPE) variable = (\w+) (?:type = )?(complete|cyclic|block)"
    r"(?: factor = (\d+))? dim = (\d+)"
)
_BIND = re.compile(r"#pragma HLS BIND_STORAGE variable = (\w+) type = (\w+)")
_RESOURCE = re.compile(r"#pragma HLS RESOURCE variable = (\w+) core = (\w+)")
_CONST = re.compile(r"constexpr int (\w+) = (-?\d+);")
_WIDTH = re.compile(r"ap_u?int<(\d+)>")


def _split_args(text: str) -> list[str]:
    out, depth, cur = [], 0, ""
    for ch in text:
        if ch in "<(":
            depth += 1
        elif ch in ">)":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


def _value(text: str, consts: dict[str, int]) -> int | None:
    text = text.strip()
    if text in consts:
        return consts[text]
    if text in ("true", "false"):
        return int(text == "true")
    try:
        return int(text)
    except ValueError:
        return None


def _holds(
    when: Callable[[dict[str, int]], bool], tvals: dict[str, str], consts: dict[str, int]
) -> bool:
    values = {k: v for k, v in ((k, _value(t, consts)) for k, t in tvals.items()) if v is not None}
    try:
        return when(values)
    except KeyError:  # a parameter the check cannot resolve: check the array anyway
        return True


def _ports(body: str, name: str) -> tuple[int, int, int]:
    """Reads, writes, read-or-write ports of one bank of `name` by the pragmas in `body`."""
    bind = [m.group(2) for m in _BIND.finditer(body) if m.group(1) == name]
    if bind:
        return PORTS.get(bind[0].lower(), (1, 0, 0))
    core = [m.group(2) for m in _RESOURCE.finditer(body) if m.group(1) == name]
    if core:
        key = "_".join(core[0].lower().split("_")[:2])
        return PORTS.get(key, (1, 0, 0))
    return (0, 0, 1)  # no storage pragma: assume a single port


def check_project(hls_dir: Path) -> list[str]:
    """Problems of a generated HLS project folder (empty: every rule holds)."""
    problems: list[str] = []
    rules = kernel_rules()
    config = (hls_dir / "config.h").read_text()
    consts = {m.group(1): int(m.group(2)) for m in _CONST.finditer(config)}
    max_w = re.search(r"#define AP_INT_MAX_W (\d+)", config)
    if max_w and int(max_w.group(1)) > MAX_WORD_BITS:
        problems.append(f"config.h sets AP_INT_MAX_W {max_w.group(1)} > {MAX_WORD_BITS}")
    for path in [*sorted(hls_dir.glob("*.h")), hls_dir / "top.cpp"]:
        if path.name.startswith("bnn_") or not path.exists():
            continue  # the kernel library itself
        text = path.read_text()
        for m in _WIDTH.finditer(text):
            if int(m.group(1)) > MAX_WORD_BITS:
                problems.append(f"{path.name}: a {m.group(1)}-bit word (at most {MAX_WORD_BITS})")
                break
        if not path.name.startswith("params_"):
            continue
        decls = {m.group(2): [int(d) for d in re.findall(r"\d+", m.group(3))]
                 for m in _DECL.finditer(text)}  # fmt: skip
        for func, body in _FUNC.findall(text):
            for kernel, targs, args in _CALL.findall(body):
                rule = rules.get(kernel)
                if rule is None:
                    problems.append(f"{path.name}: {func} calls bnn::{kernel}, which has no rule")
                    continue
                tvals = dict(zip(rule.template_params, _split_args(targs)))
                bound = dict(zip(rule.args, _split_args(args)))
                for arg, access in rule.arrays.items():
                    if access.when is not None and not _holds(access.when, tvals, consts):
                        continue
                    problems += _check_array(path.name, func, bound.get(arg, ""), access,
                                             tvals, consts, decls, body)  # fmt: skip
    return problems


def _check_array(
    file: str,
    func: str,
    name: str,
    access: Access,
    tvals: dict[str, str],
    consts: dict[str, int],
    decls: dict[str, list[int]],
    body: str,
) -> list[str]:
    where = f"{file}: {func}: array {name}"
    if name not in decls:
        return [f"{where} is not declared"]
    dims = decls[name]
    parts = [m for m in _PARTITION.finditer(body) if m.group(2) == name]
    if any(m.group(1) == "PARTITION" and m.group(3) == "complete" and m.group(5) == "0"
           for m in parts):  # fmt: skip
        return []  # registers: every element has its own ports
    # the parallel readers of dimension 1 read the same index of the others: a bank per
    # reader, or (reshaped) all of dimension 1 in one word, which one read serves
    banks, reshaped = 1, False
    for m in parts:
        if m.group(5) == "1":
            count = dims[0] if m.group(3) == "complete" else int(m.group(4) or 1)
            if m.group(1) == "RESHAPE":
                reshaped = count == dims[0]
            else:
                banks = count
    readers = 1
    if access.parallel is not None:  # a template parameter, or a product of them ("PE*LEVELS")
        for factor in access.parallel.split("*"):
            readers *= _value(tvals.get(factor, ""), consts) or 0
        if readers < 1:
            return [f"{where}: cannot resolve {access.parallel}"]
        if dims[0] != readers:
            return [f"{where}: its first dimension is {dims[0]}, the kernel's {access.parallel} "
                    f"is {readers}"]  # fmt: skip
    # readers on distinct indices of dimension 1 spread over the banks
    per_bank = access.reads if reshaped else -(-readers // banks) * access.reads
    reads, writes, both = _ports(body, name)
    if access.writes and writes + both < access.writes:
        return [f"{where}: written {access.writes} time(s) per iteration but has no write port"]
    spare = both - max(0, access.writes - writes)
    if per_bank > reads + spare:
        return [
            f"{where}: {per_bank} read(s) per iteration per bank ({readers} reader(s), "
            f"{banks} bank(s)) but {reads + spare} read port(s)"
        ]
    return []

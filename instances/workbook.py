"""Importer of the public layer-profile workbook (``dnn-layer-profiles.xlsx``).

The workbook (github LinBin403/dataset-for-our-research, cited by DDPQN and EosDNN) has one
sheet per model.  Row 1 describes the reference CPU ("... G3250 3.20 GHz ..."); the header
is on row 6 (Layer, Layer number, Layer execution time(s), Size of output data(Mb), Number
of direct successor layers); each following row is a layer.  The last column holds the
*numbers* of the successor layers, either one per cell or comma-separated, "-" for none.

Every defect is reported as a :class:`WorkbookIssue` naming the sheet, the Excel row, the
layer, the kind and the repair applied (None when the importer refuses to guess; a sheet
with a refused issue yields no model).

What is imported
----------------
* ``gcycles`` = execution seconds x the reference GHz parsed from the sheet's row 1.
Every ``_mb`` is MiB (2**20 bytes), as everywhere in offloadlab; the sheets' "Mb" is not
one unit (:data:`SHEET_MB_BYTES`, found against the architectures' output shapes).

* ``out_mb`` = the workbook's output size converted to MiB: AlexNet, GoogLeNet and
  ResNet-101 give MiB already (AlexNet's conv1 row, 1.1, is 55x55x96 float32 in MiB;
  GoogLeNet's and ResNet-101's conv1 rows, 6.125, are 112x112x64 x 8 bytes / 2**20); VGG19
  gives decimal MB (its conv1_1 row, 12.8, is 224x224x64 x 4 bytes / 1e6 = 12.25 MiB).
* ``param_mb`` = from the architecture (:mod:`.architectures`), matched by layer name.
* ``input_mb`` = the input image in MiB with the sheet's bytes per value (see
  :data:`INPUT_MB`), so that sending the input and sending an intermediate output are
  measured alike: float32 for AlexNet (227x227x3) and VGG19 (224x224x3), 8 bytes for
  GoogLeNet and ResNet-101 (224x224x3).

Checks (every sheet)
--------------------
cells: a name, an integer layer number equal to the row's position, a non-negative numeric
time and size, successor cells holding layer numbers ("-" or empty for none) -- otherwise
refused; unique names -- otherwise refused; names following the naming grammar below;
successors that are not the layer itself (self), not an earlier layer (back) and exist
(unknown); every layer but the first has a predecessor, every layer but the last a
successor; the successor lists agree with the structure the names imply; the output sizes
agree with the architecture (a mismatch is reported, the workbook value is kept).

Repair rules
------------
The layer names determine the structure.  A name is a *residual* row
``res<stage><block>_branch<1|2a|2b|2c>``, an *inception* row
(``inception_conv_<id><branch>/<k>x<k>_s1``, ``inception_pool_<id>4/3x3_s1``,
``inception_<id>/DepthConcat``) or a *plain* layer.  Consecutive rows with one block or
module prefix form a unit; units follow each other in row order.

R1 separator-typo
    A name that breaks the grammar but matches it once one missing separator ("_" or "/")
    is inserted is renamed (``res4rbranch2b`` -> ``res4r_branch2b``).
R2 chain
    A plain layer's successor is the entry of the next unit; the last layer has none.
R3 residual-fork
    The successors of a residual block's branch1 *and* branch2a both come from the block's
    input, i.e. from the predecessors of branch1: the previous unit's outputs (the
    previous block's branch1 and branch2c, whose add is folded into their consumers, or
    the preceding plain layer).  A branch2a without predecessor gets these.
R4 residual-chain
    branch2a -> branch2b -> branch2c; branch1 and branch2c lead to the next unit (the
    block's join).  A self, back or unknown successor of branch2X is replaced by
    branch2(X+1), or by the join for branch2c.
R5 inception
    The module input feeds <id>1/1x1, <id>2/1x1, <id>3/1x1 and the pool <id>4; <id>2/1x1
    -> <id>2/3x3, <id>3/1x1 -> <id>3/5x5, pool -> <id>4/1x1; the four branch outputs ->
    <id>/DepthConcat, the module's output.

The repaired DAG is exactly the name-derived structure.  A row's successors are replaced
only where they contradict it, and every replaced row is reported.  As a safeguard, a
sheet whose valid workbook edges agree with the name-derived structure less than
:data:`MIN_EDGE_AGREEMENT` of the time is refused (the grammar would not describe it).

Defects of the published workbook (found by these checks)
---------------------------------------------------------
ResNet101: every ``_branch2a`` row lacks its input edge (R3); row 90 (layer 84) names itself
as successor, row 103 (layer 97) names layer 8, row 110 (layer 104) names layer 150, which
does not exist (R4; the next rows consequently lack a predecessor); row 107 is named
``res4rbranch2b`` (R1).  GoogleNet: rows 38-43 (inception 4a's output and module 4b) carry
successor numbers shifted by one row (R5).  VGG19: the output sizes of the pooling rows,
conv5_x and fc6-fc8 disagree with the architecture (kept).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from . import architectures

#: Workbook sheet -> model name.
SHEETS = {"AlexNet": "alexnet", "VGG19": "vgg19", "GoogleNet": "googlenet",
          "ResNet101": "resnet101"}

#: Bytes in one "Mb" of each sheet's output sizes: VGG19's are decimal MB, the others MiB.
SHEET_MB_BYTES = {"alexnet": 2**20, "vgg19": 10**6, "googlenet": 2**20, "resnet101": 2**20}

#: Input size per workbook model in MiB, with the sheet's bytes per value (see above).
INPUT_MB = {
    "alexnet": 227 * 227 * 3 * 4 / 2**20,
    "vgg19": 224 * 224 * 3 * 4 / 2**20,
    "googlenet": 224 * 224 * 3 * 8 / 2**20,
    "resnet101": 224 * 224 * 3 * 8 / 2**20,
}

HEADER = ("Layer", "Layer number", "Layer execution time(s)", "Size of output data(Mb)")
MIN_EDGE_AGREEMENT = 0.75
#: Output sizes differing from the architecture by more than this factor are reported.
OUT_MB_FACTOR = 1.5
#: ... unless the difference is below this (the sheets round small sizes), MiB.
OUT_MB_ABS_TOL = 0.05

RESIDUAL = re.compile(r"^res(?P<stage>\d+)(?P<block>[a-z]+)_branch(?P<role>1|2[abc])$")
INCEPTION = re.compile(r"^inception_(?:(?:conv|pool)_(?P<id>\d[a-z])(?P<branch>[1-4])/"
                       r"(?P<k>\d)x\d_s1|(?P<cid>\d[a-z])/DepthConcat)$")
GRAMMAR_PREFIX = re.compile(r"^(res\d|inception)")

RULES = {
    "R1": "R1 separator-typo", "R2": "R2 chain", "R3": "R3 residual-fork",
    "R4": "R4 residual-chain", "R5": "R5 inception",
}


@dataclass(frozen=True)
class WorkbookIssue:
    """One defect of the workbook.

    Attributes
    ----------
    sheet : str
        Sheet name.
    row : int
        Excel row number (1-based).
    layer : str or None
        Layer name of the row (None when the row has none).
    kind : str
        Defect kind, e.g. ``self_successor`` or ``non_numeric``.
    message : str
        What is wrong, in words.
    repair : str or None
        The rule applied and its effect; None when refused.
    """

    sheet: str
    row: int
    layer: str | None
    kind: str
    message: str
    repair: str | None

    def __str__(self) -> str:
        fix = self.repair if self.repair is not None else "REFUSED"
        return f"{self.sheet}!row {self.row} ({self.layer}): {self.kind}: {self.message} -> {fix}"


class WorkbookError(ValueError):
    """The workbook cannot be imported (a refused defect)."""


@dataclass
class _Row:
    row: int
    name: str
    number: int
    seconds: float
    out_mb: float
    successors: list[int]
    bad: list[tuple[str, int]] = field(default_factory=list)  # defective successors


# ---------------------------------------------------------------------------------------
# Reading cells
# ---------------------------------------------------------------------------------------

def parse_ghz(description: object) -> float | None:
    """Reference CPU frequency in a sheet's description ("... 3.20 GHz ..."), or None."""
    match = re.search(r"(\d+(?:\.\d+)?)\s*GHz", str(description or ""), re.IGNORECASE)
    return float(match.group(1)) if match else None


def _number(value: object) -> float | None:
    """A numeric cell's value (bools and text are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _successor_numbers(cells: list[object]) -> list[int] | None:
    """Layer numbers in the successor cells; None when a cell is not numbers."""
    numbers: list[int] = []
    for value in cells:
        if value is None:
            continue
        if isinstance(value, str):
            for token in re.split(r"[,;\s]+", value.strip()):
                if token in ("", "-"):
                    continue
                if not token.isdigit():
                    return None
                numbers.append(int(token))
            continue
        number = _number(value)
        if number is None or number != int(number):
            return None
        numbers.append(int(number))
    return numbers


def _find_header(ws) -> int | None:
    for row in range(1, min(ws.max_row, 30) + 1):
        if str(ws.cell(row, 1).value or "").strip() == HEADER[0]:
            return row
    return None


def _read_rows(ws, sheet: str, issues: list[WorkbookIssue]) -> list[_Row] | None:
    """Data rows of a sheet; None (with issues) when a cell is unusable."""
    header = _find_header(ws)
    if header is None:
        issues.append(WorkbookIssue(sheet, 1, None, "missing_header",
                                    f"no header row starting with {HEADER[0]!r}", None))
        return None
    rows: list[_Row] = []
    ok = True
    for row in range(header + 1, ws.max_row + 1):
        cells = [ws.cell(row, col).value for col in range(1, ws.max_column + 1)]
        if all(value is None or str(value).strip() == "" for value in cells):
            break
        parsed = _parse_row(sheet, row, cells, len(rows) + 1, issues)
        ok = ok and parsed is not None
        if parsed is not None:
            rows.append(parsed)
    return rows if ok else None


def _parse_row(sheet: str, row: int, cells: list[object], position: int,
               issues: list[WorkbookIssue]) -> _Row | None:
    cells = cells + [None] * (5 - len(cells))
    name = str(cells[0]).strip() if cells[0] is not None else ""
    layer = name or None
    problems = []
    if not name:
        problems.append(("missing_name", "column A (Layer) is empty"))
    number = _number(cells[1])
    if number is None:
        problems.append(("non_numeric", f"layer number {cells[1]!r} (column B) is not a number"))
    elif number != position:
        problems.append(("layer_number", f"layer number {cells[1]!r} (column B) is not the "
                                         f"row's position {position}"))
    seconds = _number(cells[2])
    if seconds is None or seconds < 0:
        problems.append(("non_numeric", f"execution time {cells[2]!r} (column C) is not a "
                                        "non-negative number"))
    out_mb = _number(cells[3])
    if out_mb is None or out_mb < 0:
        problems.append(("non_numeric", f"output size {cells[3]!r} (column D) is not a "
                                        "non-negative number"))
    successors = _successor_numbers(cells[4:])
    if successors is None:
        shown = [value for value in cells[4:] if value is not None]
        problems.append(("non_numeric", f"successor cells {shown!r} (column E on) are not "
                                        "layer numbers"))
    for kind, message in problems:
        issues.append(WorkbookIssue(sheet, row, layer, kind, message, None))
    if problems:
        return None
    return _Row(row, name, int(number), seconds, out_mb, successors)


# ---------------------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------------------

def follows_grammar(name: str) -> bool:
    """Whether ``name`` is a residual row, an inception row or a plain layer name."""
    if GRAMMAR_PREFIX.match(name):
        return bool(RESIDUAL.match(name) or INCEPTION.match(name))
    return True


def separator_fix(name: str) -> str | None:
    """The unique grammatical name obtained by inserting one "_" or "/" (rule R1)."""
    candidates = {name[:i] + sep + name[i:] for i in range(1, len(name))
                  for sep in "_/"}
    matches = sorted(c for c in candidates
                     if GRAMMAR_PREFIX.match(c) and (RESIDUAL.match(c) or INCEPTION.match(c)))
    return matches[0] if len(matches) == 1 else None


def _check_names(sheet: str, rows: list[_Row], issues: list[WorkbookIssue]) -> bool:
    """Apply R1 and refuse duplicates or other ungrammatical names; True when usable."""
    ok = True
    for row in rows:
        if follows_grammar(row.name):
            continue
        fixed = separator_fix(row.name)
        if fixed is None:
            issues.append(WorkbookIssue(sheet, row.row, row.name, "bad_name",
                                        f"{row.name!r} follows no naming rule", None))
            ok = False
            continue
        issues.append(WorkbookIssue(sheet, row.row, row.name, "name_typo",
                                    f"{row.name!r} lacks a separator",
                                    f"{RULES['R1']}: renamed to {fixed!r}"))
        row.name = fixed
    seen: dict[str, int] = {}
    for row in rows:
        if row.name in seen:
            issues.append(WorkbookIssue(sheet, row.row, row.name, "duplicate_name",
                                        f"name also used on row {seen[row.name]}", None))
            ok = False
        seen.setdefault(row.name, row.row)
    return ok


# ---------------------------------------------------------------------------------------
# The structure the names imply
# ---------------------------------------------------------------------------------------

class _Refuse(Exception):
    """A defect no rule repairs, raised while deriving the structure."""

    def __init__(self, row: _Row, kind: str, message: str):
        super().__init__(message)
        self.row, self.kind, self.message = row, kind, message


def _unit_key(name: str) -> tuple[str, str]:
    match = RESIDUAL.match(name)
    if match:
        return ("residual", f"res{match['stage']}{match['block']}")
    match = INCEPTION.match(name)
    if match:
        return ("inception", match["id"] or match["cid"])
    return ("plain", name)


def _units(sheet: str, rows: list[_Row], issues: list[WorkbookIssue]) -> list[tuple] | None:
    """Consecutive rows grouped into (kind, key, rows) units; None when scattered."""
    units: list[tuple[str, str, list[_Row]]] = []
    for row in rows:
        kind, key = _unit_key(row.name)
        if units and units[-1][:2] == (kind, key) and kind != "plain":
            units[-1][2].append(row)
            continue
        if kind != "plain" and any(u[:2] == (kind, key) for u in units):
            issues.append(WorkbookIssue(sheet, row.row, row.name, "scattered_unit",
                                        f"{kind} unit {key} is split by other rows", None))
            return None
        units.append((kind, key, [row]))
    return units


def _residual_edges(key: str, rows: list[_Row], block_in: list[str],
                    edges: dict[str, list[str]], preds_rule: dict[str, str]) -> list[str]:
    roles = {RESIDUAL.match(r.name)["role"]: r.name for r in rows}
    if set(roles) - {"1"} != {"2a", "2b", "2c"}:
        raise _Refuse(rows[0], "incomplete_unit",
                      f"residual block {key} has branches {sorted(roles)}; needs 2a, 2b, 2c")
    for src in block_in:
        if "1" in roles:
            edges[src].append(roles["1"])
        edges[src].append(roles["2a"])
    edges[roles["2a"]].append(roles["2b"])
    edges[roles["2b"]].append(roles["2c"])
    for role, rule in (("1", "R3"), ("2a", "R3"), ("2b", "R4"), ("2c", "R4")):
        if role in roles:
            preds_rule[roles[role]] = rule
    shortcut = [roles["1"]] if "1" in roles else block_in
    return shortcut + [roles["2c"]]


def _inception_edges(key: str, rows: list[_Row], block_in: list[str],
                     edges: dict[str, list[str]], preds_rule: dict[str, str]) -> list[str]:
    names = architectures.inception_names(key)
    present = {r.name for r in rows}
    if present != set(names.values()):
        raise _Refuse(rows[0], "incomplete_unit",
                      f"inception module {key} lacks {sorted(set(names.values()) - present)}")
    for src in block_in:
        edges[src] += [names["b1"], names["b2_reduce"], names["b3_reduce"], names["b4_pool"]]
    edges[names["b2_reduce"]].append(names["b2"])
    edges[names["b3_reduce"]].append(names["b3"])
    edges[names["b4_pool"]].append(names["b4"])
    for branch in ("b1", "b2", "b3", "b4"):
        edges[names[branch]].append(names["concat"])
    for name in present:
        preds_rule[name] = "R5"
    return [names["concat"]]


def expected_successors(rows: list[_Row], units: list[tuple]) -> tuple[dict, dict]:
    """Name-derived successors of every layer and the rule that sets each layer's inputs.

    Successor lists follow row order, so they are deterministic.
    """
    edges: dict[str, list[str]] = {row.name: [] for row in rows}
    preds_rule: dict[str, str] = {}
    outputs: list[str] = []
    for kind, key, unit_rows in units:
        if kind == "plain":
            name = unit_rows[0].name
            for src in outputs:
                edges[src].append(name)
            preds_rule[name] = "R2"
            outputs = [name]
        elif kind == "residual":
            outputs = _residual_edges(key, unit_rows, outputs, edges, preds_rule)
        else:
            outputs = _inception_edges(key, unit_rows, outputs, edges, preds_rule)
    position = {row.name: i for i, row in enumerate(rows)}
    for name in edges:
        edges[name] = sorted(set(edges[name]), key=position.__getitem__)
    return edges, preds_rule


# ---------------------------------------------------------------------------------------
# Comparing the workbook with the name-derived structure
# ---------------------------------------------------------------------------------------

def _classify(row: _Row, known: set[int]) -> tuple[list[int], list[tuple[str, int]]]:
    """Valid successor numbers and (kind, number) of the defective ones."""
    valid, bad = [], []
    for number in row.successors:
        if number == row.number:
            bad.append(("self_successor", number))
        elif number not in known:
            bad.append(("unknown_successor", number))
        elif number < row.number:
            bad.append(("back_successor", number))
        else:
            valid.append(number)
    return valid, bad


def _successor_rule(name: str, preds_rule: dict[str, str], expected: dict) -> str:
    """Rule that fixes the successors of ``name``: the one governing its successors."""
    targets = expected[name]
    return preds_rule.get(targets[0], "R2") if targets else "R2"


def _compare(sheet: str, rows: list[_Row], expected: dict, preds_rule: dict,
             issues: list[WorkbookIssue]) -> None:
    """Report every difference between the workbook's edges and ``expected``."""
    by_number = {row.number: row for row in rows}
    valid = {}
    for row in rows:
        numbers, bad = _classify(row, set(by_number))
        valid[row.name] = [by_number[n].name for n in numbers]
        row.bad = bad
    has_pred = {target for targets in valid.values() for target in targets}
    orphans = [row for row in rows[1:] if row.name not in has_pred]
    orphan_names = {row.name for row in orphans}
    for row in rows:
        _report_row(sheet, row, valid[row.name], expected, preds_rule, orphan_names,
                    row is rows[-1], issues)
    by_name = {row.name: row for row in rows}
    for row in orphans:
        preds = [name for name, targets in expected.items() if row.name in targets]
        rule = RULES[preds_rule.get(row.name, "R2")]
        causes = [by_name[p].row for p in preds
                  if by_name[p].bad or not by_name[p].successors]
        cause = f" (the successor cell of row {causes[0]} is defective)" if causes else ""
        issues.append(WorkbookIssue(
            sheet, row.row, row.name, "missing_input_edge",
            f"no row names this layer as a valid successor, so nothing feeds it{cause}",
            f"{rule}: predecessors set to {preds}"))


def _report_row(sheet, row, valid, expected, preds_rule, orphan_names, is_last, issues):
    wanted = expected[row.name]
    missing = [n for n in wanted if n not in valid and n not in orphan_names]
    extra = [n for n in valid if n not in wanted]
    sink = not valid and not is_last and not row.bad
    if not (row.bad or missing or extra or sink):
        return
    rule = RULES[_successor_rule(row.name, preds_rule, expected)]
    repair = f"{rule}: successors set to {wanted}"
    if row.bad:
        kind = row.bad[0][0]
        words = {"self_successor": "itself", "back_successor": "an earlier layer",
                 "unknown_successor": "a layer that does not exist"}
        listed = ", ".join(f"{n} ({words[k]})" for k, n in row.bad)
        message = f"successor cell names {listed}"
    elif sink:
        kind, message = "extra_sink", "a layer other than the last has no successor"
    else:
        kind = "successor_mismatch"
        message = (f"successors {valid} contradict the layer names "
                   f"(expected {wanted})")
    issues.append(WorkbookIssue(sheet, row.row, row.name, kind, message, repair))


def _edge_agreement(rows: list[_Row], expected: dict) -> float:
    by_number = {row.number: row.name for row in rows}
    pairs = [(row.name, by_number[n]) for row in rows
             for n in _classify(row, set(by_number))[0]]
    if not pairs:
        return 0.0
    return sum(dst in expected[src] for src, dst in pairs) / len(pairs)


def _topological(rows: list[_Row], expected: dict) -> list[_Row] | None:
    """Rows in a topological order of ``expected`` (row order among ready layers)."""
    indegree = {row.name: 0 for row in rows}
    for targets in expected.values():
        for target in targets:
            indegree[target] += 1
    by_name = {row.name: row for row in rows}
    ordered, ready = [], [row.name for row in rows if indegree[row.name] == 0]
    position = {row.name: i for i, row in enumerate(rows)}
    while ready:
        ready.sort(key=position.__getitem__)
        name = ready.pop(0)
        ordered.append(by_name[name])
        for target in expected[name]:
            indegree[target] -= 1
            if indegree[target] == 0:
                ready.append(target)
    return ordered if len(ordered) == len(rows) else None


# ---------------------------------------------------------------------------------------
# Output sizes against the architecture
# ---------------------------------------------------------------------------------------

def _check_out_sizes(sheet: str, model: str, rows: list[_Row],
                     issues: list[WorkbookIssue]) -> None:
    """Report rows whose output size disagrees with the architecture (value kept)."""
    arch = {layer.name: layer for layer in architectures.build(model).layers}
    scale = INPUT_MB[model] / _input_elements(model)  # MiB per value in this sheet
    for row in rows:
        layer = arch.get(row.name)
        if layer is None:
            continue
        predicted = layer.out_elements * scale
        out_mb = sheet_mib(model, row.out_mb)
        ratio = out_mb / predicted if predicted else float("inf")
        off = ratio > OUT_MB_FACTOR or ratio < 1 / OUT_MB_FACTOR
        if off and abs(out_mb - predicted) > OUT_MB_ABS_TOL:
            issues.append(WorkbookIssue(
                sheet, row.row, row.name, "out_mb_mismatch",
                f"output size {row.out_mb} Mb ({out_mb:.4g} MiB) but the architecture's "
                f"output {layer.out_shape} is {predicted:.4g} MiB with this sheet's bytes "
                "per value",
                "kept: out_mb is the workbook's value"))


def sheet_mib(model: str, sheet_mb: float) -> float:
    """A size in the sheet's "Mb" (:data:`SHEET_MB_BYTES`) in MiB."""
    return sheet_mb * SHEET_MB_BYTES[model] / 2**20


def _input_elements(model: str) -> int:
    channels, height, width = architectures.build(model).in_shape
    return channels * height * width


# ---------------------------------------------------------------------------------------
# Sheets and the workbook
# ---------------------------------------------------------------------------------------

def import_sheet(ws, model: str, issues: list[WorkbookIssue]) -> dict | None:
    """The model entry of one sheet, or None when a defect is refused.

    Parameters
    ----------
    ws : openpyxl worksheet
        The sheet.
    model : str
        Model name (for the architecture's ``param_mb`` and ``input_mb``).
    issues : list of WorkbookIssue
        Receives the sheet's issues.
    """
    sheet = ws.title
    first = len(issues)
    ghz = parse_ghz(ws.cell(1, 1).value)
    if ghz is None:
        issues.append(WorkbookIssue(sheet, 1, None, "missing_ghz",
                                    "row 1 names no reference CPU frequency (GHz)", None))
    rows = _read_rows(ws, sheet, issues)
    if rows is None or not rows or not _check_names(sheet, rows, issues):
        return None
    units = _units(sheet, rows, issues)
    if units is None:
        return None
    try:
        expected, preds_rule = expected_successors(rows, units)
    except _Refuse as refusal:
        issues.append(WorkbookIssue(sheet, refusal.row.row, refusal.row.name, refusal.kind,
                                    refusal.message, None))
        return None
    agreement = _edge_agreement(rows, expected)
    if agreement < MIN_EDGE_AGREEMENT:
        issues.append(WorkbookIssue(
            sheet, rows[0].row, rows[0].name, "structure_unrecognised",
            f"only {agreement:.0%} of the workbook's edges match the structure the names "
            f"imply (at least {MIN_EDGE_AGREEMENT:.0%} needed)", None))
        return None
    _compare(sheet, rows, expected, preds_rule, issues)
    ordered = _topological(rows, expected)
    if ordered is None:
        issues.append(WorkbookIssue(sheet, rows[0].row, rows[0].name, "cycle",
                                    "the name-derived structure has a cycle", None))
        return None
    _check_out_sizes(sheet, model, rows, issues)
    if ghz is None or any(i.repair is None for i in issues[first:]):
        return None
    return _model_entry(model, ordered, expected, ghz)


def _model_entry(model: str, rows: list[_Row], expected: dict, ghz: float) -> dict:
    param_mb = architectures.param_mb_by_layer(model)
    missing = [row.name for row in rows if row.name not in param_mb]
    if missing:
        raise WorkbookError(f"{model}: no architecture layer for {missing}")
    layers = [{"name": row.name, "gcycles": row.seconds * ghz, "out_mb": sheet_mib(model, row.out_mb),
               "param_mb": param_mb[row.name], "next": list(expected[row.name])}
              for row in rows]
    return {"input_mb": INPUT_MB[model], "layers": layers}


def import_workbook(path: str | Path) -> tuple[dict[str, dict], list[WorkbookIssue]]:
    """Read the layer-profile workbook, report its defects and repair them by rule.

    Parameters
    ----------
    path : str or Path
        The ``.xlsx`` file.

    Returns
    -------
    models : dict
        Model name (``alexnet``, ``vgg19``, ``googlenet``, ``resnet101``) -> instance-format
        model entry ``{"input_mb", "layers": [{"name", "gcycles", "out_mb", "param_mb",
        "next"}]}``, layers in a topological order.  A sheet with a refused defect, or
        missing from the file, has no entry.
    issues : list of WorkbookIssue
        Every defect found, in sheet and row order.
    """
    try:
        import openpyxl
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("reading the workbook needs openpyxl: "
                          "pip install 'offloadlab[workbook]'") from exc
    workbook = openpyxl.load_workbook(Path(path), read_only=False, data_only=True)
    models: dict[str, dict] = {}
    issues: list[WorkbookIssue] = []
    for sheet, model in SHEETS.items():
        if sheet not in workbook.sheetnames:
            issues.append(WorkbookIssue(sheet, 1, None, "missing_sheet",
                                        f"the workbook has no sheet {sheet!r}", None))
            continue
        sheet_issues: list[WorkbookIssue] = []
        entry = import_sheet(workbook[sheet], model, sheet_issues)
        issues += sorted(sheet_issues, key=lambda i: i.row)
        if entry is not None:
            models[model] = entry
    return models, issues

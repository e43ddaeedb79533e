"""The layer-profile workbook importer: defects reported by sheet and row, DAGs repaired."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

openpyxl = pytest.importorskip("openpyxl")

from offloadlab.instances import architectures  # noqa: E402
from offloadlab.instances.models import (  # noqa: E402
    DEFAULT_WORKBOOK, MODEL_NAMES, MODELS_DIR, WORKBOOK_ENV, dag_defects, load_model, model_json, write_models)
from offloadlab.instances.workbook import (  # noqa: E402
    INPUT_MB, import_workbook, parse_ghz, separator_fix)


TABLE_V = [0.133300781, 0, 0, 2.344726563, 0, 0, 3.376464844, 5.063964844, 3.375976563, 0,
           144.015625, 64.015625, 15.6288147]


def _workbook_path() -> Path | None:
    path = Path(os.environ.get(WORKBOOK_ENV, DEFAULT_WORKBOOK))
    return path if path.is_file() else None


needs_workbook = pytest.mark.skipif(_workbook_path() is None,
                                    reason=f"layer-profile workbook not found (set {WORKBOOK_ENV})")


@pytest.fixture(scope="module")
def imported():
    path = _workbook_path()
    if path is None:
        pytest.skip(f"layer-profile workbook not found (set {WORKBOOK_ENV})")
    return import_workbook(path)


def _find(issues, sheet, row, kind):
    found = [i for i in issues if (i.sheet, i.row, i.kind) == (sheet, row, kind)]
    assert found, f"no {kind} issue reported for {sheet} row {row}"
    return found[0]


# -- the published workbook -----------------------------------------------------------

def test_all_models_imported_without_refusal(imported):
    models, issues = imported
    assert sorted(models) == ["alexnet", "googlenet", "resnet101", "vgg19"]
    assert [i for i in issues if i.repair is None] == []
    counts = {name: len(entry["layers"]) for name, entry in models.items()}
    assert counts == {"alexnet": 11, "vgg19": 24, "googlenet": 83, "resnet101": 136}


def test_resnet_successor_defects_reported_by_row(imported):
    _, issues = imported
    self_loop = _find(issues, "ResNet101", 90, "self_successor")
    assert self_loop.layer == "res4n_branch2a" and "84" in self_loop.message
    assert "res4n_branch2b" in self_loop.repair
    back = _find(issues, "ResNet101", 103, "back_successor")
    assert back.layer == "res4q_branch2b" and "8" in back.message
    assert "res4q_branch2c" in back.repair
    unknown = _find(issues, "ResNet101", 110, "unknown_successor")
    assert unknown.layer == "res4s_branch2a" and "150" in unknown.message
    assert "res4s_branch2b" in unknown.repair


def test_resnet_name_typo_renamed(imported):
    models, issues = imported
    typo = _find(issues, "ResNet101", 107, "name_typo")
    assert typo.layer == "res4rbranch2b" and "res4r_branch2b" in typo.repair
    names = [layer["name"] for layer in models["resnet101"]["layers"]]
    assert "res4r_branch2b" in names and "res4rbranch2b" not in names


def test_every_branch2a_input_edge_restored(imported):
    _, issues = imported
    lost = {i.layer for i in issues
            if i.sheet == "ResNet101" and i.kind == "missing_input_edge"}
    branch2a = {f"res{stage}{letter}_branch2a"
                for stage, blocks in ((2, 3), (3, 4), (4, 23), (5, 3))
                for letter in architectures.block_letters(blocks)}
    assert branch2a <= lost
    # the other orphans are the layers cut off by the three defective successor cells
    assert lost - branch2a == {"res4n_branch2b", "res4q_branch2c", "res4s_branch2b"}
    first = _find(issues, "ResNet101", 10, "missing_input_edge")
    assert first.layer == "res2a_branch2a" and "['pool1']" in first.repair


def test_googlenet_shifted_successors_of_module_4b(imported):
    _, issues = imported
    rows = sorted(i.row for i in issues if i.sheet == "GoogleNet")
    assert rows == [38, 39, 40, 41, 42, 43]
    assert all(i.kind == "successor_mismatch" and "R5" in i.repair
               for i in issues if i.sheet == "GoogleNet")


def test_alexnet_is_clean_and_vgg19_sizes_reported(imported):
    _, issues = imported
    assert [i for i in issues if i.sheet == "AlexNet"] == []
    vgg = [i for i in issues if i.sheet == "VGG19"]
    assert {i.kind for i in vgg} == {"out_mb_mismatch"}
    assert {i.layer for i in vgg} >= {"pool1", "pool5", "fc6", "fc8"}
    assert all(i.repair.startswith("kept") for i in vgg)


def test_repaired_dags_are_well_formed(imported):
    models, _ = imported
    for name, entry in models.items():
        assert dag_defects(entry) == [], name


def test_resnet101_bottleneck_structure(imported):
    models, _ = imported
    layers = models["resnet101"]["layers"]
    preds: dict[str, list[str]] = {layer["name"]: [] for layer in layers}
    succ = {layer["name"]: layer["next"] for layer in layers}
    for layer in layers:
        for target in layer["next"]:
            preds[target].append(layer["name"])
    blocks = sorted({n[: n.index("_")] for n in succ if n.startswith("res")})
    assert len(blocks) == 33
    for block in blocks:
        assert preds[f"{block}_branch2a"] == preds[f"{block}_branch1"]
        assert succ[f"{block}_branch2a"] == [f"{block}_branch2b"]
        assert succ[f"{block}_branch2b"] == [f"{block}_branch2c"]
        assert succ[f"{block}_branch2c"] == succ[f"{block}_branch1"]
    assert preds["pool2"] == ["res5c_branch1", "res5c_branch2c"]


def test_googlenet_modules_join_four_branches(imported):
    models, _ = imported
    layers = models["googlenet"]["layers"]
    indegree = {layer["name"]: 0 for layer in layers}
    for layer in layers:
        for target in layer["next"]:
            indegree[target] += 1
    concats = [n for n in indegree if n.endswith("DepthConcat")]
    assert len(concats) == 9 and all(indegree[n] == 4 for n in concats)


def test_gcycles_param_and_input_sizes(imported):
    models, _ = imported
    alex = {layer["name"]: layer for layer in models["alexnet"]["layers"]}
    assert alex["conv1"]["gcycles"] == pytest.approx(0.155 * 3.2)
    res = models["resnet101"]["layers"][0]
    assert res["gcycles"] == pytest.approx(0.00355547561498 * 2.9)
    # Table V with the LRN layers (2 and 5) folded into conv1 and conv2
    folded = [TABLE_V[0] + TABLE_V[1], TABLE_V[2], TABLE_V[3] + TABLE_V[4]] + TABLE_V[5:]
    assert [layer["param_mb"] for layer in alex.values()] == pytest.approx(folded, abs=1e-6)
    for name, entry in models.items():
        assert entry["input_mb"] == INPUT_MB[name]
        # the input is measured like the first layer's output
        first = architectures.build(name).layers[0]
        channels, height, width = architectures.build(name).in_shape
        expected = entry["layers"][0]["out_mb"] * channels * height * width / first.out_elements
        assert entry["input_mb"] == pytest.approx(expected, rel=0.05), name


def test_reference_frequency_parsed():
    assert parse_ghz("with a G3250 3.20 GHz Intel (R) Pentium (R)") == 3.2
    assert parse_ghz("an i7-7500U 2.90 GHz Intel") == 2.9
    assert parse_ghz("no clock here") is None


def test_separator_fix_is_unique():
    assert separator_fix("res4rbranch2b") == "res4r_branch2b"
    assert separator_fix("inception_3a1/1x1_s1") is None


# -- the model files ------------------------------------------------------------------

@needs_workbook
def test_regeneration_is_byte_identical(tmp_path):
    write_models(tmp_path, _workbook_path())
    for name in MODEL_NAMES:
        written = (tmp_path / f"{name}.json").read_bytes()
        committed = (MODELS_DIR / f"{name}.json").read_bytes()
        assert written == committed, name


def test_model_files_load_and_are_dags():
    for name in MODEL_NAMES:
        entry = load_model(name)
        assert set(entry) == {"input_mb", "layers"}
        assert all(set(layer) == {"name", "gcycles", "out_mb", "param_mb", "next"}
                   for layer in entry["layers"])
        assert dag_defects(entry) == [], name
        assert model_json(entry) == (MODELS_DIR / f"{name}.json").read_text(), name
    with pytest.raises(FileNotFoundError):
        load_model("lenet")


def test_model_files_match_the_importer(imported):
    models, _ = imported
    for name, entry in models.items():
        assert load_model(name) == json.loads(model_json(entry))


# -- synthetic workbooks --------------------------------------------------------------

DESCRIPTION = "Description: Test is deployed on a 2.00 GHz processor"
CHAIN = [("conv1", 1, 0.1, 1.0, 2), ("pool1", 2, 0.01, 0.5, 3), ("fc", 3, 0.02, 0.1, "-")]


def _write(tmp_path, sheets: dict[str, list[tuple]], description=DESCRIPTION) -> Path:
    """A workbook with the published layout: description in row 1, header in row 6."""
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets.items():
        ws = workbook.create_sheet(title)
        ws["A1"] = description
        ws.merge_cells("A1:E5")
        header = ["Layer", "Layer number", "Layer execution time(s)",
                  "Size of output data(Mb)", "Number of direct successor layers"]
        for offset, values in enumerate([header] + [list(row) for row in rows]):
            for col, value in enumerate(values, start=1):
                ws.cell(6 + offset, col, value)
    path = tmp_path / "profiles.xlsx"
    workbook.save(path)
    return path


def _alexnet_rows():
    """The 11 AlexNet rows as a chain (times and sizes arbitrary)."""
    names = ["conv1", "pool1", "conv2", "pool2", "conv3", "conv4", "conv5", "pool5",
             "fc6", "fc7", "fc8"]
    return [(n, i + 1, 0.1, 0.5, i + 2 if i + 1 < len(names) else "-")
            for i, n in enumerate(names)]


def test_non_numeric_time_names_sheet_and_row(tmp_path):
    rows = _alexnet_rows()
    rows[3] = ("pool2", 4, "n/a", 0.2, 5)
    models, issues = import_workbook(_write(tmp_path, {"AlexNet": rows}))
    issue = _find(issues, "AlexNet", 10, "non_numeric")
    assert issue.layer == "pool2" and "'n/a'" in issue.message and issue.repair is None
    assert "alexnet" not in models
    assert {i.sheet for i in issues if i.kind == "missing_sheet"} == {
        "VGG19", "GoogleNet", "ResNet101"}


def test_chain_defects_repaired_in_row_order(tmp_path):
    rows = _alexnet_rows()
    rows[2] = ("conv2", 3, 0.1, 0.5, 3)       # itself
    rows[5] = ("conv4", 6, 0.1, 0.5, "-")     # no successor
    rows[8] = ("fc6", 9, 0.1, 0.5, "10, 11")  # skips fc7
    models, issues = import_workbook(_write(tmp_path, {"AlexNet": rows}))
    structural = [i for i in issues if i.sheet == "AlexNet" and i.kind != "out_mb_mismatch"]
    assert {(i.row, i.kind) for i in structural} == {
        (9, "self_successor"), (10, "missing_input_edge"), (12, "extra_sink"),
        (13, "missing_input_edge"), (15, "successor_mismatch")}
    assert all(i.sheet == "AlexNet" and i.repair.startswith("R2") for i in structural)
    entry = models["alexnet"]
    assert dag_defects(entry) == []
    assert [layer["next"] for layer in entry["layers"]][:3] == [["pool1"], ["conv2"], ["pool2"]]
    assert entry["layers"][0]["gcycles"] == pytest.approx(0.1 * 2.0)


def test_refusals(tmp_path):
    rows = _alexnet_rows()
    rows[4] = ("conv2", 5, 0.1, 0.5, 6)       # duplicate name
    rows[7] = ("pool5", 8, 0.1, 0.5, "x9")    # successor cell not numbers
    models, issues = import_workbook(_write(tmp_path, {"AlexNet": rows}))
    _find(issues, "AlexNet", 14, "non_numeric")
    assert "alexnet" not in models
    rows[7] = ("pool5", 8, 0.1, 0.5, 9)
    models, issues = import_workbook(_write(tmp_path, {"AlexNet": rows}))
    assert _find(issues, "AlexNet", 11, "duplicate_name").repair is None
    assert "alexnet" not in models


def test_missing_frequency_refused(tmp_path):
    models, issues = import_workbook(_write(tmp_path, {"AlexNet": _alexnet_rows()},
                                            description="Description: unknown CPU"))
    assert _find(issues, "AlexNet", 1, "missing_ghz").repair is None
    assert "alexnet" not in models


def test_unrecognised_structure_refused(tmp_path):
    rows = _alexnet_rows()
    scrambled = [(n, k, t, s, "-" if k == 11 else ",".join(str(j) for j in range(k + 1, 12)))
                 for n, k, t, s, _ in rows]   # every layer feeds all later ones
    models, issues = import_workbook(_write(tmp_path, {"AlexNet": scrambled}))
    assert _find(issues, "AlexNet", 7, "structure_unrecognised").repair is None
    assert "alexnet" not in models


def test_successors_in_extra_columns_and_residual_rules(tmp_path):
    """A small bottleneck sheet: successors spread over columns E and F, one typo."""
    rows = [("conv1", 1, 0.1, 1.0, 2), ("pool1", 2, 0.1, 1.0, 3),
            ("res2a_branch1", 3, 0.1, 1.0, 7), ("res2abranch2a", 4, 0.1, 1.0, 4),
            ("res2a_branch2b", 5, 0.1, 1.0, 6), ("res2a_branch2c", 6, 0.1, 1.0, 7),
            ("pool2", 7, 0.1, 1.0, 8), ("fc", 8, 0.1, 1.0, "-")]
    path = _write(tmp_path, {"ResNet101": rows})
    workbook = openpyxl.load_workbook(path)
    ws = workbook["ResNet101"]
    ws["E8"], ws["F8"] = 3, 4   # pool1 -> 3 and 4 (the second in an extra column)
    workbook.save(path)
    _, issues = import_workbook(path)
    sheet_issues = [i for i in issues
                    if i.sheet == "ResNet101" and i.kind != "out_mb_mismatch"]
    assert {(i.row, i.kind) for i in sheet_issues} == {(10, "name_typo"),
                                                        (10, "self_successor"),
                                                        (11, "missing_input_edge")}
    assert all(i.repair for i in sheet_issues)

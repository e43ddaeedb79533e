"""The MTL-A3C Figs. 8–13 script: its --quick JSON document (every row's objective is the
simulator's value of its plan, exact's bound is below every row) and the chain blocks of
a DAG model."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("gymnasium")
pytest.importorskip("ortools")

from click.testing import CliRunner  # noqa: E402

from offloadlab.benchmarks import mtl_a3c_figs as figs  # noqa: E402
from offloadlab.instances.models import load_model  # noqa: E402
from offloadlab.simulator import simulate  # noqa: E402


def test_quick_figure_rows_are_the_simulator_and_above_the_bound(tmp_path):
    result = CliRunner().invoke(figs.main, ["--figure", "8", "--quick", "--out",
                                            str(tmp_path)])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert set(doc["figures"]) == {"8"}
    fig = doc["figures"]["8"]
    assert fig["axis"] == "n_es"
    assert [p["x"] for p in fig["points"]] == list(figs.AXES[8][2])
    assert len({p["instance"] for p in fig["points"]}) == len(fig["points"])
    assert doc["png"] == [str(tmp_path / f"mtl_a3c_fig{n}.png") for n in (8, 11)]
    assert all((tmp_path / name).stat().st_size > 1000
               for name in ("mtl_a3c_fig8.png", "mtl_a3c_fig11.png"))
    for n_es, point in zip(figs.AXES[8][2], fig["points"]):
        assert [r["solver"] for r in point["rows"]] == list(figs.SOLVERS)
        spec = {**figs.DEFAULT, "n_es": n_es}
        problem = figs.point_problem(spec, doc["settings"]["window_s"], 0)
        assert point["instance"] == problem.instance.name
        assert int((problem.tier == 1).sum()) == n_es
        bound = point["bound"]
        assert bound is not None and bound > 0
        for row in point["rows"]:
            plan = row["plan"]
            ev = simulate(problem, plan["assign"], plan["priority"])
            value = float(ev.objective[0])
            if row["objective"] is None:
                assert not np.isfinite(value)
            else:
                assert row["objective"] == pytest.approx(value, rel=1e-12)
                assert bound <= row["objective"] * (1 + 1e-9)
                assert row["violations"] == 0
                assert row["delay_s"] == pytest.approx(value, rel=1e-9)
            # chains: a task's latency is its blocks' transfer + wait + execution, each
            # spent on an edge server or on the device
            assert row["edge_s"] + row["local_s"] == pytest.approx(row["delay_s"])
            assert row["energy_j"] >= 0
    tables = figs.tables(doc)
    assert "Fig. 8: delay (s) vs edge servers" in tables and "Fig. 11: energy" in tables
    # a later document's exact row replaces the first one's: no bound, no gap to it
    first = fig["points"][0]
    rerun = {**next(r for r in first["rows"] if r["solver"] == "exact"), "bound": None}
    later = {"figures": {"8": {"axis": "n_es", "points": [{**first, "rows": [rerun]}]}}}
    merged = figs.merge([doc, later])["figures"]["8"]["points"]
    assert [r["solver"] for r in merged[0]["rows"]] == list(figs.SOLVERS)
    assert merged[0]["bound"] is None
    assert all(r["gap_to_bound_pct"] is None for r in merged[0]["rows"])
    assert merged[1]["bound"] == fig["points"][1]["bound"]


def test_energy_is_device_compute_and_device_uploads():
    problem = figs.point_problem(figs.DEFAULT, 0.02, 0)   # 1 task of 6 blocks
    device = int(problem.task_device[0])
    edge = int(np.flatnonzero(problem.tier == 1)[0])
    local = figs.plan_measures(problem, np.full(problem.n_layers, device), None)
    assert local["energy_j"] == pytest.approx(
        (figs.KAPPA * (problem.ghz[device] * 1e9) ** 2 * problem.gcycles * 1e9).sum())
    assert local["edge_s"] == 0 and local["local_s"] > 0
    remote = figs.plan_measures(problem, np.full(problem.n_layers, edge), None)
    upload_s = problem.input_mb[0] / problem.bw[device, edge]
    assert remote["energy_j"] == pytest.approx(figs.TX_W * upload_s)
    assert remote["local_s"] == 0


def test_chain_blocks_of_a_dag_keep_cycles_and_cut_where_one_tensor_crosses():
    model = load_model("resnet32")
    blocks = figs.chain_blocks(model, 6)["layers"]
    assert len(blocks) == 6
    assert sum(b["gcycles"] for b in blocks) == pytest.approx(
        sum(layer["gcycles"] for layer in model["layers"]))
    assert [b["next"] for b in blocks[:-1]] == [[f"block{i + 2}"] for i in range(5)]
    outs = {layer["out_mb"] for layer in model["layers"]}
    assert all(b["out_mb"] in outs for b in blocks)
    with pytest.raises(ValueError, match="chain blocks at most"):
        figs.chain_blocks(model, 40)

"""Reports from a small hand-made results store, and the `bench`/`report` commands."""

from __future__ import annotations

import csv
import json

import pytest
from click.testing import CliRunner

from offloadlab.benchmarks.report import load_rows, write_report
from offloadlab.benchmarks.store import Store
from offloadlab.cli import main
from offloadlab.instances import library


def put(store, instance, solver, seed, version="v2", **result):
    job = {"key": f"{instance}/{solver}/{seed}/{version}", "instance": instance,
           "instance_sha": "sha-" + instance, "solver": solver, "label": solver,
           "params": {}, "seed": seed, "time_limit_s": 5.0, "budget_evals": None,
           "code_version": version, "suite": "hand"}
    base = {"kind": "latency", "n_tasks": 2, "n_layers": 6 if instance != "big" else 40,
            "n_servers": 4, "wall_s": 0.5, "job_wall_s": 0.6, "evaluations": 100,
            "history": [[0.01, (result.get("objective") or 1) * 1.5],
                        [0.2, result.get("objective") or 1]]}
    store.put(job, dict(base, **result))


@pytest.fixture
def small_store(tmp_path):
    db = tmp_path / "s.sqlite"
    with Store(db) as s:
        put(s, "a", "milp", 0, status="optimal", objective=10.0, bound=10.0,
            bound_source="milp")
        put(s, "a", "ga", 0, status="feasible", objective=11.0)
        put(s, "a", "ga", 1, version="v1", status="feasible", objective=99.0)  # older run
        put(s, "a", "ga", 1, status="feasible", objective=12.0)
        put(s, "big", "ga", 0, status="feasible", objective=5.0)
        put(s, "big", "greedy", 0, status="feasible", objective=6.0)
        put(s, "big", "ga", 1, status="error", error="ValueError: boom", history=None)
        put(s, "c", "milp", 0, status="time_limit", objective=12.0, bound=10.0)
        put(s, "c", "ga", 0, status="feasible", objective=9.0)
    return db


def test_gaps_use_proven_bounds_and_label_best_known(small_store):
    rows = {(r["instance"], r["solver"], r["seed"]): r for r in load_rows(small_store)}
    assert len(rows) == 8  # the older run of ("a", "ga", 1) is left out
    ga = rows[("a", "ga", 1)]
    assert ga["objective"] == 12.0 and ga["gap"] == pytest.approx(0.2)
    assert ga["gap_kind"] == "proven" and ga["ref_bound_by"] == "milp"
    greedy = rows[("big", "greedy", 0)]
    assert greedy["gap"] is None and greedy["gap_kind"] == "best known"
    assert greedy["gap_best"] == pytest.approx(0.2)
    assert rows[("c", "ga", 0)]["bound_conflict"]
    assert not rows[("a", "ga", 0)]["bound_conflict"]


def test_report_files(small_store, tmp_path):
    out = tmp_path / "rep"
    written = write_report(small_store, out)
    md = (out / "report.md").read_text()
    assert "### a (2 tasks, 6 layers, 4 servers): proven bound 10 (milp)" in md
    assert "### big (2 tasks, 40 layers, 4 servers): no proven bound" in md
    # ga on "a": mean gap over seeds 10 % and 20 %, in the proven column
    assert "| ga | 2 | feasible 2 | 11 | 11.5 | 15.00 | 15.00 |" in md
    # greedy on "big": no proven gap, 20 % above the best known
    assert "| greedy | 1 | feasible | 6 | 6 | - | 20.00 |" in md
    assert "ValueError: boom" in md and "better than the proven bound" in md
    with open(out / "runs.csv") as fh:
        runs = list(csv.DictReader(fh))
    assert len(runs) == written["rows"] == 8
    assert {r["gap_kind"] for r in runs} == {"proven", "best known"}
    assert len(written["plots"]) == 3
    for p in written["plots"]:
        assert open(p, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
        assert f"]({p.split('/')[-1]})" in md


def test_report_command(small_store, tmp_path):
    res = CliRunner().invoke(main, ["report", "--db", str(small_store), "--out",
                                    str(tmp_path / "r"), "--no-plots", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["rows"] == 8 and out["plots"] == []
    missing = CliRunner().invoke(main, ["report", "--db", str(tmp_path / "none.sqlite")])
    assert missing.exit_code == 2 and "no results store" in missing.output


def test_bench_resolves_suite_files_and_names(tmp_path, monkeypatch):
    monkeypatch.setenv("OFFLOADLAB_CODE_VERSION", "test-version")
    (tmp_path / "latency-alexnet-tiny-s0.json").write_text(
        library.build("latency-alexnet-tiny-s0").to_json())
    suite = tmp_path / "mine.json"
    suite.write_text(json.dumps({"name": "mine", "instances": ["./*-tiny-s0.json"],
                                 "solvers": ["greedy", "local-only"]}))
    db = str(tmp_path / "b.sqlite")
    runner = CliRunner()
    res = runner.invoke(main, ["bench", str(suite), "--db", db, "--workers", "1", "--json",
                               "--report", str(tmp_path / "rep")])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert (out["jobs"], out["ran"], out["errors"]) == (2, 2, 0)
    assert {r["solver"] for r in out["rows"]} == {"greedy", "local-only"}
    assert (tmp_path / "rep" / "report.md").exists()
    again = runner.invoke(main, ["bench", "run", str(suite), "--db", db, "--json"])
    assert json.loads(again.output)["reused"] == 2
    bad = runner.invoke(main, ["bench", "no-such-suite"])
    assert bad.exit_code == 2 and "built-in suite" in bad.output
    suite.write_text(json.dumps({"name": "mine", "instances": ["./*.json"],
                                 "solvers": ["greedy"], "seed": [1]}))
    typo = runner.invoke(main, ["bench", str(suite), "--db", db])
    assert typo.exit_code == 2 and "seed: unknown key" in typo.output

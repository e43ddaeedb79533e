"""Multi-objective jobs in suites: fronts in the store, HV ratio and IGD+ in the report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from offloadlab.benchmarks.report import load_fronts, write_report
from offloadlab.benchmarks.runner import run_suite
from offloadlab.benchmarks.store import Store
from offloadlab.benchmarks.suite import (ParetoJob, SuiteError, expand, load_suite,
                                         with_time_limit)
from offloadlab.cli import main

pytest.importorskip("pymoo")

VERSION = "test-version"
SUITE = {"format": "offloadlab.suite/1", "name": "moo",
         "instances": ["ddpqn-alexnet-tiny-s0"], "seeds": [0, 1],
         "pareto": [
             {"algorithms": ["nsga2", "smsemoa"], "objectives": ["delay", "energy"],
              "budget_evals": 300},
             # no exact front: the report's reference is the union of the two seeds
             {"algorithms": ["nsga2"], "instances": ["dmro-workflows-tiny-s0"],
              "budget_evals": 200, "exact_time_limit_s": 0}]}


@pytest.fixture(autouse=True)
def _pinned_version(monkeypatch):
    monkeypatch.setenv("OFFLOADLAB_CODE_VERSION", VERSION)


def write_suite(folder: Path, raw: dict) -> Path:
    path = folder / "suite.json"
    path.write_text(json.dumps(raw))
    return path


@pytest.fixture(scope="module")
def local_store(tmp_path_factory):
    """The suite run once on the local pool: (suite file, store, summary)."""
    folder = tmp_path_factory.mktemp("moo")
    mp = pytest.MonkeyPatch()
    mp.setenv("OFFLOADLAB_CODE_VERSION", VERSION)
    try:
        path = write_suite(folder, SUITE)
        summary = run_suite(path, folder / "r.sqlite", workers=2, progress=False)
    finally:
        mp.undo()
    return path, folder / "r.sqlite", summary


def test_pareto_entries_expand_with_one_exact_front_per_pair(tmp_path):
    jobs, skipped = expand(load_suite(write_suite(tmp_path, SUITE)), VERSION)
    assert not skipped and all(isinstance(j, ParetoJob) for j in jobs)
    exact = [j for j in jobs if j.algorithm == "exact"]
    # one exact front for (alexnet-tiny, delay+energy), not one per seed or algorithm;
    # none where exact_time_limit_s is 0
    assert [(j.instance, j.objectives, j.seed) for j in exact] == [
        ("ddpqn-alexnet-tiny-s0", ("delay", "energy"), None)]
    assert jobs[0] is exact[0]  # the reference runs first
    runs = {(j.instance, j.algorithm, j.seed, j.objectives) for j in jobs} - {
        (j.instance, j.algorithm, j.seed, j.objectives) for j in exact}
    assert runs == {("ddpqn-alexnet-tiny-s0", a, s, ("delay", "energy"))
                    for a in ("nsga2", "smsemoa") for s in (0, 1)} | {
        ("dmro-workflows-tiny-s0", "nsga2", s, ("delay", "energy")) for s in (0, 1)}
    assert len({j.key for j in jobs}) == len(jobs)
    capped, _ = expand(with_time_limit(load_suite(write_suite(tmp_path, SUITE)), 5.0),
                       VERSION)  # `bench --time-limit`: the exact fronts' limit
    assert [(j.time_limit_s, j.kill_after_s) for j in capped if j.algorithm == "exact"] \
        == [(5.0, 1.5 * 5.0 + 10.0)]
    assert len(capped) == len(jobs)


def test_suite_run_stores_fronts_with_indicators_vs_the_exact_front(local_store):
    from offloadlab.heuristics.moo_commands import run_pareto
    from offloadlab.problem import Problem
    from tests.conftest import library_problem

    path, db, summary = local_store
    assert summary.ran == summary.jobs == 7 and summary.errors == 0
    with Store(db) as store:
        rows = store.fronts()
    exact = [r for r in rows if r["algorithm"] == "exact"]
    assert len(exact) == 1 and exact[0]["proven"] == 1 and exact[0]["status"] == "ok"
    ddpqn = [r for r in rows if r["instance"] == "ddpqn-alexnet-tiny-s0"]
    for r in ddpqn:
        assert r["reference"] == "exact front" and r["front_size"] == len(r["front"]) > 0
        assert 0 < r["hv_ratio"] <= 1 + 1e-12 and r["igd_plus"] >= 0
        assert r["hv"] > 0 and len(r["reference_point"]) == 2
        assert r["wall_s"] > 0 and r["cpu_s"] > 0
    assert exact[0]["hv_ratio"] == pytest.approx(1.0) and exact[0]["igd_plus"] == 0
    # the same numbers as `offloadlab pareto` computing the exact front itself
    problem = library_problem("ddpqn-alexnet-tiny-s0")
    assert isinstance(problem, Problem)
    direct = run_pareto(problem, "smsemoa", ["delay", "energy"], seed=1, budget_evals=300)
    row = next(r for r in ddpqn if r["algorithm"] == "smsemoa" and r["seed"] == 1)
    assert row["front"] == direct["front"]
    assert row["hv"] == pytest.approx(direct["hv"])
    assert row["hv_ratio"] == pytest.approx(direct["hv_ratio"])
    assert row["igd_plus"] == pytest.approx(direct["igd_plus"], abs=1e-12)
    dmro = [r for r in rows if r["instance"] == "dmro-workflows-tiny-s0"]
    assert len(dmro) == 2 and all(r["hv_ratio"] is None and r["reference"] is None
                                  for r in dmro)  # no exact front: left to the report
    again = CliRunner().invoke(main, ["bench", str(path), "--db", str(db), "--json"])
    assert again.exit_code == 0, again.output
    out = json.loads(again.stdout)
    assert out["ran"] == 0 and out["reused"] == 7 and out["rows"] == []
    assert {(f["instance"], f["vs"]) for f in out["fronts"]} == {
        ("ddpqn-alexnet-tiny-s0", "exact front"), ("dmro-workflows-tiny-s0", "union of fronts")}
    text = CliRunner().invoke(main, ["bench", str(path), "--db", str(db)]).output
    assert "dmro-workflows-tiny-s0 (delay, energy): fronts vs union of fronts" in text


def test_report_shows_hv_ratio_and_igd_plus_with_their_reference(local_store, tmp_path):
    _, db, _ = local_store
    fronts = load_fronts(db)
    union = [f for f in fronts if f["instance"] == "dmro-workflows-tiny-s0"]
    assert {f["vs"] for f in union} == {"union of fronts"}
    # the union holds every front: no ratio above 1, and a seed that found the whole
    # union scores 1 and IGD+ 0
    assert all(f["hv_ratio"] <= 1 + 1e-12 and f["igd_plus"] >= 0 for f in union)
    written = write_report(db, tmp_path / "rep", plots=False)
    md = Path(written["markdown"]).read_text()
    assert "## Multi-objective fronts" in md and "HV ratio median" in md
    by = {(p["instance"], p["label"]): p for p in written["pareto"]}
    nsga2 = by[("ddpqn-alexnet-tiny-s0", "nsga2")]
    assert nsga2["vs"] == "exact front" and nsga2["runs"] == 2
    assert nsga2["hv_ratio_worst"] <= nsga2["hv_ratio_median"] <= 1 + 1e-12
    assert by[("dmro-workflows-tiny-s0", "nsga2")]["vs"] == "union of fronts"
    line = next(x for x in md.splitlines() if x.startswith("| dmro-workflows-tiny-s0"))
    assert "union of fronts" in line
    assert len(Path(written["fronts_csv"]).read_text().splitlines()) == 1 + len(fronts)
    plotted = write_report(db, tmp_path / "plots", plots=True)["plots"]
    assert [Path(p).name for p in plotted] == ["fronts.png"]  # no solver runs: no others
    result = CliRunner().invoke(main, ["report", "--db", str(db), "--out",
                                       str(tmp_path / "rep2"), "--no-plots", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert {p["vs"] for p in out["pareto"]} == {"exact front", "union of fronts"}
    assert all(p["igd_plus_median"] is not None for p in out["pareto"])


def test_dask_local_cluster_gives_the_local_fronts(local_store, tmp_path):
    pytest.importorskip("dask.distributed")
    raw = dict(SUITE, pareto=[dict(SUITE["pareto"][0], algorithms=["smsemoa"], seeds=[1])])
    path = write_suite(tmp_path, raw)
    summary = run_suite(path, tmp_path / "d.sqlite", workers=1, dask="local",
                        progress=False)
    assert summary.ran == 2 and summary.errors == 0
    with Store(tmp_path / "d.sqlite") as on_dask, Store(local_store[1]) as local:
        got = {r["key"]: r for r in on_dask.fronts()}
        want = {r["key"]: r for r in local.fronts() if r["key"] in got}
    assert len(want) == 2
    for key, row in got.items():
        assert row["front"] == want[key]["front"]
        assert row["hv_ratio"] == pytest.approx(want[key]["hv_ratio"])
        assert row["reference"] == "exact front"


@pytest.mark.parametrize("entry, where, words", [
    ({"algorithms": ["nsga2", "nsga9"]}, "pareto[0].algorithms[1]", "unknown algorithm"),
    ({"algorithms": ["nsga2"], "objectives": ["delay", "latency"]},
     "pareto[0].objectives[1]", "unknown objective 'latency'"),
    ({"algorithms": ["nsga2"], "objectives": ["delay", "cost"],
      "instances": ["dmro-workflows-tiny-s0"]},
     "pareto[0].objectives", "dmro-workflows-tiny-s0: objective 'cost' is not defined"),
    ({"algorithms": ["nsga2"], "instances": ["latency-alexnet-tiny-s0"]},
     "pareto[0].objectives", "defines only the delay"),
    ({"algorithms": ["exact"], "exact_time_limit_s": 0}, "pareto[0].exact_time_limit_s",
     "must be > 0"),
    ({"algorithms": ["nsga2"], "seed": [0]}, "pareto[0].seed", "unknown key"),
    ({"algorithms": []}, "pareto[0].algorithms", "at least 1"),
])
def test_bad_pareto_entries_are_one_line_errors(tmp_path, entry, where, words):
    path = write_suite(tmp_path, dict(SUITE, pareto=[entry]))
    with pytest.raises(SuiteError) as err:
        load_suite(path)
    assert err.value.source == str(path) and err.value.path == where
    assert words in str(err.value)
    result = CliRunner().invoke(main, ["bench", str(path), "--db",
                                       str(tmp_path / "x.sqlite"), "--json"])
    assert result.exit_code == 2 and result.stdout == ""
    assert f"{path}: {where}: " in result.stderr and len(result.stderr.splitlines()) == 1


def test_a_failing_front_is_stored_as_an_error_and_reported(tmp_path):
    from offloadlab.benchmarks.runner import run_job

    jobs, _ = expand(load_suite(write_suite(tmp_path, SUITE)), VERSION)
    job = next(j for j in jobs if j.algorithm == "nsga2").as_dict()
    result = run_job(job, b"{}")  # content that is not the job's instance
    assert result["status"] == "error" and "hash" in result["error"]
    with Store(tmp_path / "e.sqlite") as store:
        store.put(job, result)
        assert store.fronts()[0]["status"] == "error" and store.count() == 0
    written = write_report(tmp_path / "e.sqlite", tmp_path / "rep", plots=False)
    assert written["pareto"][0]["errors"] == 1
    assert "Fronts that raised" in Path(written["markdown"]).read_text()

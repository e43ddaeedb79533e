"""The benchmark runner: suites, the results store, resume, errors, Dask, reports."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from offloadlab.benchmarks.runner import run_job, run_suite
from offloadlab.benchmarks.store import Store
from offloadlab.benchmarks.suite import (SuiteError, builtin_suites, expand, load_suite,
                                         parse_suite, with_time_limit)
from offloadlab.instances import library

VERSION = "test-version"


@pytest.fixture(autouse=True)
def _pinned_version(monkeypatch):
    monkeypatch.setenv("OFFLOADLAB_CODE_VERSION", VERSION)


@pytest.fixture
def inst_dir(tmp_path):
    """Two tiny instances written from the library builders."""
    out = tmp_path / "inst"
    out.mkdir()
    for name in ("latency-alexnet-tiny-s0", "makespan-jobs-tiny-s0"):
        (out / f"{name}.json").write_text(library.build(name).to_json())
    return out


def write_suite(tmp_path: Path, **fields) -> Path:
    raw = {"format": "offloadlab.suite/1", "name": "t", "instances": ["inst/*.json"],
           "solvers": ["greedy"], "seeds": [0]}
    raw.update(fields)
    path = tmp_path / "suite.json"
    path.write_text(json.dumps(raw))
    return path


def sleepy(problem, *, seed=None, time_limit_s=None, budget_evals=None):
    """A solver that ignores its time limit (imported by workers as a suite target)."""
    time.sleep(30)


def broken(problem, *, seed=None, time_limit_s=None, budget_evals=None):
    """A solver with a bug (unknown parameters are refused before a run starts)."""
    raise ValueError("bogus_knob is broken")


def die(problem, **kwargs):
    """A solver that kills its worker process."""
    os._exit(3)


# --- suites -----------------------------------------------------------------------------
@pytest.mark.parametrize("fields, where, words", [
    ({"solverz": ["greedy"]}, "solverz", "unknown key"),
    ({"solvers": ["greedy", "no-such-solver"]}, "solvers[1]", "unknown solver"),
    ({"solvers": [{"name": "greedy", "parms": {}}]}, "solvers[0].parms", "unknown key"),
    ({"instances": ["inst/*.json", "nothing-*.json"]}, "instances[1]", "matches no"),
    ({"instances": ["no-such-library-name-*"]}, "instances[0]", "matches no library"),
    ({"time_limit_s": 5, "budgets": [{"time_limit_s": 1}]}, "", "either"),
    ({"solvers": [{"name": "greedy", "params": {"seed": 1}}]}, "solvers[0].params",
     'seed is not a parameter; use "seeds"'),
])
def test_suite_errors_name_the_field(tmp_path, inst_dir, fields, where, words):
    path = write_suite(tmp_path, **fields)
    with pytest.raises(SuiteError) as err:
        load_suite(path)
    assert str(path) in str(err.value)
    assert where in err.value.path and words in str(err.value)


def test_suite_expands_product_and_skips_kinds(tmp_path, inst_dir):
    from offloadlab.registry import SOLVERS

    suite = parse_suite({
        "name": "x", "instances": ["inst/*.json"], "seeds": [0, 1],
        "budgets": [{"budget_evals": 50}, {"budget_evals": 100}],
        "solvers": ["greedy", {"name": "rand*", "seeds": [7], "params": {"batch": 10}}]},
        base_dir=tmp_path)
    jobs, skipped = expand(suite, "v")
    # greedy: 2 instances x 2 seeds x 2 budgets; random: 2 instances x 1 seed x 2 budgets
    assert len(jobs) == 8 + 4 and not skipped
    assert len({j.key for j in jobs}) == len(jobs)
    assert {j.label for j in jobs} == {"greedy", "random[batch=10]"}
    capped, _ = expand(with_time_limit(suite, 3.0), "v")
    assert {(j.time_limit_s, j.budget_evals) for j in capped} == {(3.0, 50), (3.0, 100)}
    assert {j.kill_after_s for j in capped} == {1.5 * 3.0 + 10.0}
    SOLVERS["_latency_only"] = SOLVERS["greedy"].__class__(
        "_latency_only", SOLVERS["greedy"].target, None, "test", ("latency",))
    try:
        suite = parse_suite({"name": "x", "instances": ["inst/*.json"],
                             "solvers": ["_latency_only"]}, base_dir=tmp_path)
        jobs, skipped = expand(suite, "v")
    finally:
        del SOLVERS["_latency_only"]
    assert [j.instance for j in jobs] == ["latency-alexnet-tiny-s0"]
    assert skipped[0].solver == "_latency_only" and skipped[0].instances == 1
    suite = parse_suite({"name": "x", "instances": ["inst/*.json"], "solvers": [
        "greedy", {"name": "no-such-learner*", "optional": True}]}, base_dir=tmp_path)
    jobs, skipped = expand(suite, "v")
    assert len(jobs) == 2 and [s.solver for s in skipped] == ["no-such-learner*"]


def test_builtin_suites_load():
    assert "quick" in builtin_suites()
    for name in builtin_suites():
        suite = load_suite(name)
        assert suite.instance_paths and suite.solvers


# --- running ------------------------------------------------------------------------------
def test_erroring_job_is_stored_while_the_others_finish(tmp_path, inst_dir):
    path = write_suite(tmp_path, solvers=[
        "greedy", {"name": "broken", "target": "test_runner:broken"},
        {"name": "random", "label": "random-ok", "params": {"batch": 20}}],
        budget_evals=200)
    db = tmp_path / "r.sqlite"
    summary = run_suite(path, db, workers=2, progress=False)
    assert (summary.jobs, summary.ran, summary.errors) == (6, 6, 2)
    with Store(db) as store:
        rows = store.rows()
    assert len(rows) == 6
    bad = [r for r in rows if r["status"] == "error"]
    assert {r["label"] for r in bad} == {"broken"}
    assert all("bogus_knob" in r["error"] for r in bad)
    good = [r for r in rows if r["status"] != "error"]
    assert all(r["objective"] is not None and r["error"] is None for r in good)
    assert all(r["evaluations"] == 200 for r in good if r["label"] == "random-ok")  # spent
    # a rerun reuses everything; --retry-errors runs only the errors again
    again = run_suite(path, db, workers=1, progress=False)
    assert (again.reused, again.ran) == (6, 0)
    retried = run_suite(path, db, workers=1, progress=False, retry_errors=True)
    assert (retried.reused, retried.ran, retried.errors) == (4, 2, 2)
    with Store(db) as store:
        assert store.count() == 6


def test_a_job_that_kills_its_worker_is_stored_and_the_others_finish(tmp_path, inst_dir):
    path = write_suite(tmp_path, instances=["inst/latency-*.json"], budget_evals=100,
                       solvers=["greedy", {"name": "die", "target": f"{__name__}:die"},
                                "random"])
    summary = run_suite(path, tmp_path / "r.sqlite", workers=2, progress=False)
    assert (summary.ran, summary.errors) == (3, 1)
    with Store(tmp_path / "r.sqlite") as store:
        status = {r["solver"]: (r["status"], r["error"]) for r in store.rows()}
    assert status["die"][0] == "error" and "WorkerDied" in status["die"][1]
    assert status["greedy"][0] == status["random"][0] == "feasible"


def test_hard_limit_stops_a_solver_that_overruns(tmp_path, inst_dir):
    job = {"instance_path": str(inst_dir / "latency-alexnet-tiny-s0.json"),
           "solver": "sleepy", "target": f"{__name__}:sleepy", "params": {}, "seed": 0,
           "time_limit_s": 0.1, "budget_evals": None, "kill_after_s": 0.5}
    started = time.perf_counter()
    out = run_job(job)
    assert time.perf_counter() - started < 10
    assert out["status"] == "error" and out["error"].startswith("JobTimeout")


def test_resume_after_the_runner_is_killed(tmp_path, inst_dir):
    """Kill the runner mid-run; the rerun adds exactly the missing rows."""
    n_seeds = 8
    path = write_suite(tmp_path, instances=["inst/latency-*.json"], seeds=list(range(n_seeds)),
                       solvers=["random"], time_limit_s=0.4, budget_evals=10**9)
    db = tmp_path / "r.sqlite"
    cmd = [sys.executable, "-m", "offloadlab.cli", "bench", "run", str(path), "--db",
           str(db), "--workers", "1", "--json"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        first = _wait_for_rows(db, 2, proc, timeout_s=60)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    with Store(db) as store:
        before = {r["key"]: r["finished_at"] for r in store.rows()}
    assert first <= len(before) < n_seeds
    summary = run_suite(path, db, workers=2, progress=False)
    assert summary.reused == len(before) and summary.ran == n_seeds - len(before)
    with Store(db) as store:
        rows = store.rows()
    assert len(rows) == n_seeds == len({r["key"] for r in rows})
    assert sorted(r["seed"] for r in rows) == list(range(n_seeds))
    assert all(before[r["key"]] == r["finished_at"] for r in rows if r["key"] in before)
    assert all(r["status"] == "time_limit" for r in rows)


def _wait_for_rows(db: Path, n: int, proc, timeout_s: float) -> int:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the runner ended before it could be killed"
        if db.exists():
            with Store(db) as store:
                count = store.count()
            if count >= n:
                return count
        time.sleep(0.05)
    raise AssertionError(f"no {n} rows within {timeout_s} s")


def test_dask_local_cluster_gives_the_in_process_results(tmp_path, inst_dir):
    pytest.importorskip("dask.distributed")
    path = write_suite(tmp_path, solvers=["greedy", "random"], seeds=[0, 1],
                       budget_evals=300)
    jobs, _ = expand(load_suite(path), VERSION)
    expected = {j.key: run_job(j.as_dict()) for j in jobs}
    on_dask = run_suite(path, tmp_path / "b.sqlite", workers=2, dask="local",
                        progress=False)
    assert on_dask.ran == len(jobs) == 8 and on_dask.errors == 0
    with Store(tmp_path / "b.sqlite") as b:
        rows = {r["key"]: r for r in b.rows()}
    assert rows.keys() == expected.keys()
    for key, row in rows.items():
        assert row["objective"] == expected[key]["objective"]
        assert row["plan"] == expected[key]["plan"]


def test_dask_jobs_carry_their_instance_to_workers_in_another_directory(tmp_path, inst_dir):
    """Workers run in another directory and cannot load an instance by path (as on
    another machine): the content travels with the job, and the results are the
    in-process ones; content that does not match the job's hash is refused."""
    distributed = pytest.importorskip("dask.distributed")
    path = write_suite(tmp_path, solvers=["greedy", "random"], seeds=[0],
                       budget_evals=300)
    jobs, _ = expand(load_suite(path), VERSION)
    expected = {j.key: run_job(j.as_dict()) for j in jobs}
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    preload = tmp_path / "chdir_preload.py"
    preload.write_text(
        "import os\nimport offloadlab.instance as inst\n\n"
        "def no_files(path):\n"
        "    raise inst.InstanceError(str(path), '', 'no such file on this worker')\n\n"
        "def dask_setup(worker):\n"
        f"    os.chdir({str(elsewhere)!r})\n"
        "    inst.load_instance = no_files\n")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  dashboard_address=None, preload=[str(preload)],
                                  local_directory=str(elsewhere)) as cluster, \
            distributed.Client(cluster) as client:
        assert client.run(os.getcwd) == {w: str(elsewhere) for w in
                                         client.scheduler_info()["workers"]}
        job = dict(jobs[0].as_dict(), instance_path="gone/" + Path(jobs[0].instance_path).name)
        content = Path(jobs[0].instance_path).read_bytes()
        got = client.submit(run_job, job, client.scatter(content, hash=True)).result()
        assert got["status"] != "error", got
        assert got["objective"] == expected[jobs[0].key]["objective"]
        lost = client.submit(run_job, jobs[0].as_dict(), pure=False).result()  # by path
        assert lost["status"] == "error" and "no such file on this worker" in lost["error"]
        tampered = client.submit(run_job, job, content + b" ", pure=False).result()
        assert tampered["status"] == "error" and "hash" in tampered["error"]
        summary = run_suite(path, tmp_path / "c.sqlite", dask=cluster.scheduler_address,
                            progress=False)
    assert summary.ran == len(jobs) and summary.errors == 0
    with Store(tmp_path / "c.sqlite") as store:
        rows = {r["key"]: r for r in store.rows()}
    assert {k: r["objective"] for k, r in rows.items()} == {
        k: r["objective"] for k, r in expected.items()}

"""The command line: solve, evaluate, validate and bench, as a user runs them."""

from __future__ import annotations

import json
import sys

import pytest
from click.testing import CliRunner

from offloadlab.cli import main
from offloadlab.instances.library import library_files, library_path
from offloadlab.registry import SOLVERS, register

from conftest import tiny_dict


def run(*args, code=0):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == code, result.output
    return result.output


@pytest.mark.parametrize("path", library_files(), ids=lambda p: p.stem)
def test_greedy_solves_every_library_file(path):
    out = json.loads(run("solve", path, "--solver", "greedy", "--json"))
    for key in ("instance", "solver", "status", "objective", "bound", "wall_s", "plan"):
        assert key in out
    assert out["instance"] == path.stem and out["solver"] == "greedy"
    assert out["status"] == "feasible" and out["objective"] > float("-inf")
    assert out["bound"] is None and out["gap"] is None
    assert out["plan"]["format"] == "offloadlab.plan/1"


def test_solve_writes_a_plan_that_evaluate_scores_the_same(tmp_path):
    inst = library_path("latency-alexnet-small-s0")
    plan = tmp_path / "plan.json"
    solved = json.loads(run("solve", inst, "--solver", "random", "--seed", 3,
                            "--budget-evals", 200, "--out", plan, "--json"))
    scored = json.loads(run("evaluate", inst, plan, "--json"))
    assert scored["feasible"] and scored["objective"] == pytest.approx(solved["objective"])
    assert len(scored["layers"]) == 44
    again = json.loads(run("solve", inst, "--solver", "random", "--seed", 3,
                           "--budget-evals", 200, "--json"))
    assert again["plan"] == solved["plan"] and again["objective"] == solved["objective"]


def test_evaluate_names_plan_defects(tmp_path):
    inst = tmp_path / "tiny.json"
    inst.write_text(json.dumps(tiny_dict()))
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"format": "offloadlab.plan/1",
                                "assignment": {"t1": {"a": "d1", "b": "e9"}}}))
    out = run("evaluate", inst, plan, code=2)
    assert "plan.json" in out and "assignment.t1.b" in out and "'e9'" in out
    plan.write_text(json.dumps({"assignment": {"t1": {"a": "d1", "b": "e1"},
                                               "t2": {"a": "d1", "b": "e1"}},
                                "priority": [["t1", "b"], ["t1", "a"], ["t2", "a"],
                                             ["t2", "b"]]}))
    out = run("evaluate", inst, plan, code=2)
    assert "priority[0]" in out and "predecessor" in out
    plan.write_text(json.dumps({"assignment": {"t1": {"a": "d1", "b": "e1"},
                                               "t2": {"a": "d1", "b": "c1"}}}))
    data = tiny_dict()
    data["links"] = data["links"][:1]  # no device-cloud nor edge-cloud link
    inst.write_text(json.dumps(data))
    out = run("evaluate", inst, plan, code=1)
    assert "infeasible" in out and "link" in out


def test_unknown_solver_is_a_clear_error():
    out = run("solve", library_path("latency-alexnet-tiny-s0"), "--solver", "gredy", code=2)
    assert "unknown solver 'gredy'" in out and "greedy" in out


def test_missing_optional_dependency_names_the_extra(monkeypatch):
    register("greedy-exact-probe", SOLVERS["greedy"].target, "probe", extra="exact")
    monkeypatch.setitem(sys.modules, "highspy", None)  # as if not installed
    try:
        out = run("solve", library_path("latency-alexnet-tiny-s0"), "--solver",
                  "greedy-exact-probe", code=2)
    finally:
        SOLVERS.pop("greedy-exact-probe")
    assert "highspy" in out and "pip install 'offloadlab[exact]'" in out


def test_validate_refuses_bad_files_by_name(tmp_path):
    good = library_path("latency-alexnet-tiny-s0")
    bad = tmp_path / "typo.json"
    data = tiny_dict()
    data["tasks"][0]["relase_s"] = 1.0
    bad.write_text(json.dumps(data))
    out = run("instances", "validate", good, bad, code=1)
    assert "typo.json: tasks[0].relase_s: unknown field 'relase_s'" in out
    assert "1 valid, 1 invalid" in out
    assert "0 invalid" in run("instances", "validate")


def test_build_regenerates_identically(tmp_path):
    run("instances", "build", "--out", tmp_path)
    for path in library_files():
        assert (tmp_path / path.name).read_bytes() == path.read_bytes()


def test_bench_simulator_reports_a_rate():
    out = json.loads(run("bench", "simulator", "--seconds", "0.2", "--json"))
    assert out["plans_per_s"] > 0 and out["layers_per_plan"] == 288


def test_help_lists_the_commands():
    out = run("--help")
    for cmd in ("solve", "evaluate", "instances", "bench", "solvers"):
        assert cmd in out

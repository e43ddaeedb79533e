"""The solver contract, checked for every registered solver on a tiny instance of each
kind it supports: its signature, same seed -> same plan, evaluations within the budget,
the objective equal to the simulator's value of the plan, and an honest status.

Solvers are read from the registry (plugins included), so a newly registered solver or
learner is covered without editing this file.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import subprocess
import sys
import typing

import numpy as np
import pytest

from offloadlab.instance import Objective, load_instance
from offloadlab.instances.library import BUILDERS, library_path
from offloadlab.problem import Problem
from offloadlab.registry import (SOLVERS, SolverInfo, available, get_solver, load_plugins,
                                 solve)
from offloadlab.simulator import simulate

BUDGET_EVALS = 50
TIME_LIMIT_S = 30.0      # far above what a tiny instance needs: the clock must not stop it
STATUSES = {"optimal", "feasible", "infeasible", "time_limit", "error"}

load_plugins()
KINDS = tuple(typing.get_args(cls.model_fields["kind"].annotation)[0]
              for cls in typing.get_args(typing.get_args(Objective)[0]))


def _tiny_instances() -> dict[str, Problem]:
    """The smallest ``*-tiny-s0`` library instance of every objective kind."""
    out: dict[str, Problem] = {}
    for name in sorted(BUILDERS):
        if name.endswith("-tiny-s0"):
            problem = Problem.from_instance(load_instance(library_path(name)))
            kind = problem.instance.objective.kind
            if kind not in out or problem.n_layers < out[kind].n_layers:
                out[kind] = problem
    return out


TINY = _tiny_instances()
CASES = [(name, kind) for name in sorted(SOLVERS) for kind in SOLVERS[name].kinds]


def test_every_kind_has_a_tiny_instance():
    assert set(TINY) == set(KINDS), f"kinds without a *-tiny-s0 instance: {set(KINDS) - set(TINY)}"


@pytest.mark.parametrize("name", sorted(SOLVERS))
def test_signature(name):
    if not available(name):
        pytest.skip(f"{name}: optional dependency missing")
    params = inspect.signature(get_solver(name)).parameters
    first = next(iter(params.values()))
    assert first.name == "problem" and first.kind in (first.POSITIONAL_ONLY,
                                                      first.POSITIONAL_OR_KEYWORD)
    for arg in ("seed", "time_limit_s", "budget_evals"):
        assert arg in params and params[arg].kind == params[arg].KEYWORD_ONLY, (name, arg)
    assert set(SOLVERS[name].kinds) <= set(KINDS), SOLVERS[name].kinds


def _run(name: str, kind: str):
    return solve(TINY[kind], name, seed=3, time_limit_s=TIME_LIMIT_S,
                 budget_evals=BUDGET_EVALS)


@functools.cache
def _first_run(name: str, kind: str):
    """The contract run, shared with the clock test (CP-SAT runs cost a process each)."""
    return _run(name, kind)


@pytest.mark.parametrize("name,kind", CASES)
def test_contract(name, kind):
    if not available(name):
        pytest.skip(f"{name}: optional dependency missing")
    problem = TINY[kind]
    sol = _first_run(name, kind)
    again = _run(name, kind)
    assert sol.solver == name and sol.instance == problem.instance.name
    assert sol.status in STATUSES
    # one budget: the final re-scoring counts
    assert 0 <= sol.evaluations <= BUDGET_EVALS, sol.evaluations
    # same seed, same plan
    assert sol.objective == again.objective or (np.isnan(sol.objective)
                                               and np.isnan(again.objective))
    assert (sol.assign is None) == (again.assign is None)
    if sol.assign is not None:
        assert np.array_equal(sol.assign, again.assign)
        assert (sol.priority is None) == (again.priority is None)
        if sol.priority is not None:
            assert np.array_equal(sol.priority, again.priority)
    # one source of truth: the objective is the simulator's value of the plan
    if sol.assign is None:
        assert sol.objective == np.inf and sol.status in ("infeasible", "time_limit", "error")
        return
    ev = simulate(problem, sol.assign[None, :], sol.priority)
    assert sol.objective == pytest.approx(float(ev.objective[0]), rel=1e-12, abs=1e-12)
    # an honest status
    if sol.status in ("optimal", "feasible"):
        assert bool(ev.feasible[0]), ev.reason(0)
    if sol.status == "infeasible":
        assert not ev.feasible[0]
    if sol.status == "optimal":
        assert sol.bound is not None
        assert sol.objective <= sol.bound + 1e-6 * max(1.0, abs(sol.bound))
    if sol.status == "time_limit":
        assert sol.wall_s >= TIME_LIMIT_S, "time_limit although the clock did not stop it"
    if sol.bound is not None and np.isfinite(sol.bound) and np.isfinite(sol.objective):
        assert sol.bound <= sol.objective + 1e-6 * max(1.0, abs(sol.objective))


@pytest.mark.parametrize("name,kind", CASES)
def test_clock_stops_a_search(name, kind):
    """A solver that spends a whole evaluation budget is a search: stopped by the clock
    first, it says ``time_limit`` and stops soon after."""
    if not available(name):
        pytest.skip(f"{name}: optional dependency missing")
    if _first_run(name, kind).evaluations < BUDGET_EVALS:
        pytest.skip(f"{name} does not spend an evaluation budget")
    sol = solve(TINY[kind], name, seed=3, time_limit_s=0.05, budget_evals=10**8)
    assert sol.status == "time_limit" and sol.evaluations < 10**8
    assert sol.wall_s < 10.0


@pytest.mark.parametrize("name,kind", CASES)
def test_a_tight_budget_is_kept(name, kind):
    """With room for only two evaluations a solver that scores more plans stays within
    them, and says so when it found no plan."""
    if not available(name):
        pytest.skip(f"{name}: optional dependency missing")
    if _first_run(name, kind).evaluations <= 2:
        pytest.skip(f"{name} scores at most two plans here")
    sol = solve(TINY[kind], name, seed=3, time_limit_s=TIME_LIMIT_S, budget_evals=2)
    assert sol.evaluations <= 2
    assert sol.status != "time_limit"
    if sol.assign is None:
        assert sol.status in ("infeasible", "error") and sol.message


def _must_not_run(problem, *, seed=None, time_limit_s=None, budget_evals=None):
    raise AssertionError("the registry handed out a solver for a kind it does not support")


# strict: once registry.solve refuses unsupported kinds this passes and the mark must go
def test_unsupported_kind_is_refused(monkeypatch):
    """The registry refuses, before running it, a solver on a kind it does not support,
    with a clear error naming both."""
    monkeypatch.setitem(SOLVERS, "latency-probe", SolverInfo(
        "latency-probe", f"{__name__}:_must_not_run", None, "probe", ("latency",)))
    with pytest.raises(Exception) as refused:
        solve(TINY["makespan"], "latency-probe", seed=0, budget_evals=BUDGET_EVALS)
    assert "latency-probe" in str(refused.value) and "makespan" in str(refused.value)


PLUGIN = '''
import time

from offloadlab.registry import make_solution


def solve(problem, *, seed=None, time_limit_s=None, budget_evals=None):
    """Every layer on its first allowed server."""
    started = time.perf_counter()
    return make_solution(problem, "first-allowed", problem.allowed.argmax(axis=1),
                         started=started, seed=seed)


solve.kinds = ("latency",)
'''


def test_a_plugin_solver_is_listed_and_solves(tmp_path):
    """An installed distribution that declares an ``offloadlab.solvers`` entry point."""
    (tmp_path / "first_allowed.py").write_text(PLUGIN)
    dist = tmp_path / "first_allowed-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: first-allowed\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[offloadlab.solvers]\nfirst-allowed = first_allowed:solve\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}

    def cli(*args):
        out = subprocess.run([sys.executable, "-m", "offloadlab.cli", *args, "--json"],
                             env=env, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    listed = {r["name"]: r for r in cli("solvers")}
    assert listed["first-allowed"]["kinds"] == ["latency"]
    assert listed["first-allowed"]["summary"] == "Every layer on its first allowed server."
    assert listed["first-allowed"]["available"] and "greedy" in listed
    sol = cli("solve", str(library_path("latency-alexnet-tiny-s0")), "--solver",
              "first-allowed")
    problem = TINY["latency"]
    expected = simulate(problem, problem.allowed.argmax(axis=1)[None, :]).objective[0]
    assert sol["solver"] == "first-allowed"
    assert sol["objective"] == pytest.approx(expected)


def test_a_plugin_cannot_take_a_builtin_name(tmp_path):
    dist = tmp_path / "shadow-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: shadow\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[offloadlab.solvers]\ngreedy = shadow:solve\n")
    code = ("from offloadlab.registry import SOLVERS; "
            "print(SOLVERS['greedy'].target)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(tmp_path)}, timeout=120)
    assert out.stdout.strip() == "offloadlab.heuristics.baselines:greedy"
    assert "plugin solver 'greedy' (shadow:solve) not loaded: the name is taken" in out.stderr

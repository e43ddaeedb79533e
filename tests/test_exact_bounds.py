"""CP-SAT backend and the contention-aware (Lagrangian) bound: brute force on tiny
instances, validity on small ones, agreement with the simulator."""

from __future__ import annotations

import json

import numpy as np
import pytest

from offloadlab import Problem, load_instance
from offloadlab.instance import parse_instance
from offloadlab.instances.library import library_path
from offloadlab.simulator import simulate

from conftest import brute_force

pytest.importorskip("ortools")

from offloadlab.formulations import cpsat, dp, lagrangian, portfolio  # noqa: E402


TIME_TINY = ["latency-alexnet-tiny-s0", "latency-vgg19-tiny-s0", "deadline-vgg16-tiny-s0",
             "makespan-jobs-tiny-s0"]


def load(name: str) -> Problem:
    return Problem.from_instance(load_instance(library_path(name)))


@pytest.fixture(scope="module")
def brute():
    return {name: brute_force(load(name)) for name in TIME_TINY}


@pytest.mark.parametrize("name", TIME_TINY)
def test_cpsat_matches_brute_force(name, brute):
    problem = load(name)
    sol = cpsat.solve(problem, time_limit_s=20, workers=1, seed=0)
    assert sol.status == "optimal"
    assert sol.objective == pytest.approx(brute[name], rel=1e-6)
    assert sol.bound <= brute[name] + 1e-9 * max(1.0, brute[name])
    again = simulate(problem, sol.assign, sol.priority).objective[0]
    assert again == pytest.approx(sol.objective, rel=1e-12)


def test_cpsat_bound_survives_coarse_time_units(brute):
    """Durations rounded down: with a 1 ms unit the bound stays below the optimum."""
    name = "latency-alexnet-tiny-s0"
    sol = cpsat.solve(load(name), time_limit_s=20, workers=1, unit_s=1e-3)
    assert sol.bound <= brute[name]
    assert sol.objective >= brute[name] * (1 - 1e-9)


def _contended(name: str, deadline_s: float | None = None) -> Problem:
    """A tiny instance with three tasks on one device-edge pair: pools bind."""
    data = json.loads(library_path(name).read_text())
    task = data["tasks"][0]
    data["tasks"] = [dict(task, name=f"t{i}", release_s=0.01 * i) for i in range(3)]
    if deadline_s is not None:
        data["objective"] = {"kind": "deadline"}
        for t in data["tasks"]:
            t["deadline_s"] = deadline_s
    return Problem.from_instance(parse_instance(data))


@pytest.mark.parametrize("name", ["latency-alexnet-tiny-s0", "latency-vgg19-tiny-s0",
                                  "deadline-vgg16-tiny-s0"])
def test_lagrangian_bound_below_the_optimum(name, brute):
    problem = load(name)
    best = brute[name]
    res = lagrangian.lagrangian_bound(problem, best * 1.2, time_limit_s=5, max_iter=60)
    assert res.bound <= best + 1e-9 * max(1.0, best)
    assert res.bound >= dp.path_bound(problem).bound - 1e-12
    if res.best_assign is not None:
        value = simulate(problem, res.best_assign, res.best_priority).objective[0]
        assert value == pytest.approx(res.best_objective, rel=1e-12)
        assert value >= best * (1 - 1e-9)


def test_lagrangian_beats_contention_free_bound_when_pools_bind():
    """Three tasks released together on a 1-slot device and a few edge slots: the bound
    rises above the DP, yet stays below the CP-SAT optimum."""
    problem = _contended("latency-alexnet-tiny-s0")
    opt = cpsat.solve(problem, time_limit_s=30, workers=1)
    assert opt.status == "optimal"
    res = lagrangian.lagrangian_bound(problem, opt.objective, time_limit_s=10,
                                      max_iter=150, n_buckets=800)
    free = dp.path_bound(problem).bound
    assert res.bound <= opt.objective * (1 + 1e-9)
    assert res.bound > free + 1e-6


def test_bounds_below_best_known_on_small():
    problem = load("latency-alexnet-small-s0")
    a, p, value, _ = portfolio.best_incumbent(problem, time_limit_s=3)
    assert simulate(problem, a, p).objective[0] == pytest.approx(value, rel=1e-12)
    res = lagrangian.lagrangian_bound(problem, value, time_limit_s=5, max_iter=40)
    sol = cpsat.solve(problem, time_limit_s=20, workers=1, hint=(a, p))
    for bound in (res.bound, sol.bound):
        assert bound <= min(value, sol.objective) * (1 + 1e-9)


def test_cpsat_reports_infeasible_deadline():
    problem = _contended("deadline-vgg16-tiny-s0", deadline_s=1e-4)
    sol = cpsat.solve(problem, time_limit_s=10, workers=1)
    assert sol.status == "infeasible" and not np.isfinite(sol.objective)


def test_cpsat_respects_contended_deadlines():
    """A deadline the contention-free plan meets but contention may break."""
    loose = cpsat.solve(_contended("deadline-vgg16-tiny-s0"), time_limit_s=20, workers=1)
    worst = float(simulate(_contended("deadline-vgg16-tiny-s0"), loose.assign,
                           loose.priority).latency_s.max())
    problem = _contended("deadline-vgg16-tiny-s0", deadline_s=worst)
    sol = cpsat.solve(problem, time_limit_s=20, workers=1)
    assert sol.status == "optimal"
    assert (simulate(problem, sol.assign, sol.priority).latency_s <= worst + 1e-9).all()


def test_exact_on_contended_tiny_uses_a_model_and_is_optimal():
    from offloadlab.formulations import exact

    problem = _contended("latency-vgg19-tiny-s0")
    sol = exact.solve(problem, time_limit_s=30)
    ref = cpsat.solve(problem, time_limit_s=30, workers=1)
    assert sol.status == "optimal"
    assert sol.objective == pytest.approx(ref.objective, rel=1e-6)


def test_cpsat_log_goes_to_stderr_and_the_answer_survives(capfd, brute):
    # CP-SAT writes its log to stdout, the child's answer channel: it must go to stderr
    name = "latency-alexnet-tiny-s0"
    sol = cpsat.solve(load(name), time_limit_s=20, workers=1, seed=0, log=True)
    assert sol.status == "optimal" and sol.objective == pytest.approx(brute[name])
    out, err = capfd.readouterr()
    assert "CP-SAT solver" in err and "CP-SAT solver" not in out

"""Capacity bounds: never above a brute-forced optimum (library tiny instances and random
small ones), tight where they must be, and used by ``exact`` to prove optima."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from offloadlab import Problem
from offloadlab.instance import parse_instance
from offloadlab.instances.generators import random_dag_instance
from offloadlab.instances.library import library_path
from offloadlab.simulator import simulate

from conftest import brute_force, library_problem

from offloadlab.formulations import bounds  # noqa: E402

TINY = ["latency-alexnet-tiny-s0", "latency-vgg19-tiny-s0", "deadline-vgg16-tiny-s0",
        "makespan-jobs-tiny-s0", "ddpqn-alexnet-tiny-s0", "dmro-workflows-tiny-s0"]


def all_bounds(problem: Problem) -> dict:
    return {"critical path": bounds.critical_path_bound(problem),
            "load": bounds.load_bound(problem),
            "energetic": bounds.energetic_bound(problem),
            "ddpqn": bounds.ddpqn_bound(problem, iterations=60),
            "best": bounds.best_bound(problem)[0]}


def assert_below(problem: Problem, optimum: float) -> None:
    for name, value in all_bounds(problem).items():
        assert value <= optimum + 1e-9 * max(1.0, abs(optimum)), (name, value, optimum)


@pytest.mark.parametrize("name", TINY)
def test_bounds_below_brute_force_on_tiny_library(name):
    problem = library_problem(name)
    assert_below(problem, brute_force(problem))


def _contended(name: str, copies: int = 3, **objective) -> Problem:
    """A tiny library instance with its first task repeated: pools bind."""
    data = json.loads(library_path(name).read_text())
    task = data["tasks"][0]
    data["tasks"] = [dict(task, name=f"t{i}", release_s=0.01 * i) for i in range(copies)]
    if objective:
        data["objective"] = dict(data["objective"], **objective)
    return Problem.from_instance(parse_instance(data))


@pytest.mark.parametrize("omega", [0.2, 1.0, 3.0])
def test_ddpqn_bound_below_brute_force_and_above_the_plain_dp(omega):
    problem = _contended("ddpqn-alexnet-tiny-s0", copies=2, omega=omega)
    best = brute_force(problem)
    value = bounds.ddpqn_bound(problem, iterations=200)
    assert value <= best + 1e-9 * max(1.0, abs(best))
    assert value >= bounds.critical_path_bound(problem) - 1e-12


def test_ddpqn_bound_prices_the_balance_on_the_paper_instance():
    """The contention-free plan puts 110 layers on two servers; pricing the balance
    raises the bound by more than one unit."""
    problem = library_problem("ddpqn-alexnet-paper-s0")
    value = bounds.ddpqn_bound(problem, iterations=100)
    assert value > bounds.critical_path_bound(problem) + 1.0


def test_latency_load_bound_below_brute_force_when_pools_bind():
    problem = _contended("latency-alexnet-tiny-s0")
    assert_below(problem, brute_force(problem))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(nodes=st.integers(2, 5), servers=st.integers(1, 3), shape=st.sampled_from(
    ["layered", "random"]), speeds=st.sampled_from(["identical", "related"]),
    data=st.booleans(), tasks=st.integers(1, 2), kind=st.sampled_from(
    ["makespan", "latency"]), seed=st.integers(0, 10_000))
def test_bounds_below_brute_force_on_random_dags(nodes, servers, shape, speeds, data, tasks,
                                                 kind, seed):
    if nodes * tasks > 6 or servers ** (nodes * tasks) > 800:
        nodes = 6 // tasks if servers <= 3 else 3
        servers = min(servers, 2) if nodes * tasks > 5 else servers
    inst = random_dag_instance(nodes=nodes, shape=shape, servers=servers, speeds=speeds,
                               data=data, tasks=tasks, kind=kind, seed=seed,
                               p_min_s=0.5, p_max_s=3.0)
    problem = Problem.from_instance(inst)
    assert_below(problem, brute_force(problem))


def test_load_bound_is_exact_on_independent_equal_jobs():
    """Six 2 s jobs after a 1 s source on 3 identical servers: 1 + 2 + 2 = 5 s."""
    layers = [{"name": "src", "gcycles": 1.0, "out_mb": 0.0,
               "next": [f"j{i}" for i in range(6)]}]
    layers += [{"name": f"j{i}", "gcycles": 2.0, "out_mb": 0.0} for i in range(6)]
    data = {"format": "offloadlab.instance/1", "name": "equal",
            "servers": [{"name": f"m{i}", "tier": "edge", "ghz": 1.0} for i in range(3)],
            "links": [{"a": "edge", "b": "edge", "mb_per_s": 1.0}],
            "models": {"m": {"input_mb": 0.0, "layers": layers}},
            "tasks": [{"name": "t", "model": "m", "device": None}],
            "objective": {"kind": "makespan"}}
    problem = Problem.from_instance(parse_instance(data))
    # work over capacity is 13/3; the source's descendants add 12/3 after its 1 s
    assert bounds.load_windows(problem, np.zeros(7), np.zeros(7))[1][0] == pytest.approx(4)
    assert bounds.load_bound(problem) == pytest.approx(5.0)
    assert bounds.energetic_bound(problem) in (-np.inf, pytest.approx(5.0, abs=1e-6))
    assert bounds.best_bound(problem)[0] == pytest.approx(5.0)
    assert brute_force(problem) == pytest.approx(5.0)


def test_time_grid_rounds_bounds_up():
    problem = Problem.from_instance(random_dag_instance(nodes=12, servers=2, seed=3))
    assert bounds.time_grid(problem) == pytest.approx(1e-3)
    value, source = bounds.best_bound(problem)
    assert abs(value * 1e3 - round(value * 1e3)) < 1e-6
    related = Problem.from_instance(random_dag_instance(nodes=12, servers=2, seed=3,
                                                        speeds="related"))
    if not np.allclose(related.ghz, np.round(related.ghz)):
        assert bounds.time_grid(related) is None or bounds.time_grid(related) < 1e-3


def test_windowed_bounds_beat_work_over_capacity_and_exact_proves_the_optimum():
    pytest.importorskip("ortools")
    from offloadlab.formulations import exact

    problem = Problem.from_instance(random_dag_instance(nodes=50, servers=2, seed=2))
    assert bounds.best_bound(problem)[0] > problem.gcycles.sum() / 2 + 1.0
    sol = exact.solve(problem, time_limit_s=30)
    assert sol.status == "optimal"
    assert sol.bound == pytest.approx(sol.objective, rel=1e-9)
    assert simulate(problem, sol.assign, sol.priority).objective[0] == sol.objective


def test_exact_proves_critical_path_optimum_on_many_servers():
    pytest.importorskip("ortools")
    from offloadlab.formulations import exact

    problem = Problem.from_instance(random_dag_instance(nodes=50, servers=8, seed=8))
    sol = exact.solve(problem, time_limit_s=30)
    assert sol.status == "optimal"
    assert sol.objective == pytest.approx(bounds.critical_path_bound(problem), rel=1e-9)

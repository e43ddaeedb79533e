"""Ground truth for the deadline family: the windowed Lagrangian bound never exceeds the
optimum (brute force, CP-SAT), plans agree with the simulator, infeasibility is proven."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from offloadlab import Problem
from offloadlab.instance import parse_instance
from offloadlab.instances.library import library_path
from offloadlab.instances.slot_generator import hard_slot
from offloadlab.simulator import simulate

from conftest import brute_force, library_problem

pytest.importorskip("ortools")

from offloadlab.formulations import cpsat, dp  # noqa: E402
from offloadlab.formulations.slot_truth import slot_truth  # noqa: E402
from offloadlab.formulations.windowed import (bound_and_plan, latency_caps,  # noqa: E402
                                              windowed_bound)

TINY = ["deadline-vgg16-tiny-s0", "latency-alexnet-tiny-s0", "latency-vgg19-tiny-s0"]


def _tight(tasks: int = 3, factor: float | None = None) -> Problem:
    """``tasks`` copies of the tiny VGG16 task released together on one device: pools
    bind; with ``factor`` every deadline is that multiple of the contention-free
    latency."""
    data = json.loads(library_path("deadline-vgg16-tiny-s0").read_text())
    task = {k: v for k, v in data["tasks"][0].items() if k != "deadline_s"}
    data["tasks"] = [dict(task, name=f"t{i}", release_s=0.001 * i) for i in range(tasks)]
    problem = Problem.from_instance(parse_instance(data))
    if factor is not None:
        lb = dp.path_bound(problem).task_value
        for t, value in zip(data["tasks"], lb):
            t["deadline_s"] = round(float(value) * factor, 6)
        problem = Problem.from_instance(parse_instance(data))
    return problem


@pytest.mark.parametrize("name", TINY)
def test_windowed_bound_below_brute_force(name):
    problem = library_problem(name)
    best = brute_force(problem)
    res = windowed_bound(problem, best * 1.2, time_limit_s=5, max_iter=80)
    assert dp.path_bound(problem).bound - 1e-12 <= res.bound <= best * (1 + 1e-9)
    if res.best_assign is not None:
        value = simulate(problem, res.best_assign, res.best_priority).objective[0]
        assert value == pytest.approx(res.best_objective, rel=1e-12)
        assert value >= best * (1 - 1e-9)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_windowed_bound_below_brute_force_on_small_hard_slots(seed):
    """Small contended slots (3 chains of 2 blocks on one single-slot edge server): the
    bound stays below the optimum by brute force and, where contention costs, rises
    above the contention-free bound."""
    problem = Problem.from_instance(hard_slot(seed, n_tasks=3, n_es=1, n_blocks=2,
                                              n_devices=2))
    best = brute_force(problem)
    res = windowed_bound(problem, best * 1.1, time_limit_s=5, max_iter=200)
    assert res.bound <= best * (1 + 1e-9)
    free = dp.path_bound(problem).bound
    if best > free * (1 + 1e-3):
        assert res.bound > free + 1e-6


def test_windowed_bound_rises_on_tight_contention():
    problem = _tight()
    # 10 us units: CP-SAT proves this in a fraction of a second (1 ns units: 17 s)
    opt = cpsat.solve(problem, time_limit_s=30, workers=1, seed=0, unit_s=1e-5)
    assert opt.status == "optimal"
    res = windowed_bound(problem, opt.objective, time_limit_s=5, max_iter=200)
    free = dp.path_bound(problem).bound
    assert free + 1e-6 < res.bound <= opt.objective * (1 + 1e-9)


def test_caps_are_deadlines_without_an_incumbent():
    problem = _tight(factor=3.0)
    assert np.array_equal(latency_caps(problem, None), problem.deadline_s)
    capped = latency_caps(problem, 1.0)
    assert (capped <= problem.deadline_s).all()


def test_bound_and_plan_agree_with_the_simulator():
    problem = Problem.from_instance(hard_slot(0, n_tasks=5, n_es=2, n_blocks=3,
                                              n_devices=3))
    greedy = float(simulate(problem, dp.path_bound(problem).assign).objective[0])
    upper = greedy if math.isfinite(greedy) else None
    res, plan = bound_and_plan(problem, upper, time_limit_s=4)
    assert plan is not None
    assign, prio, value = plan
    assert simulate(problem, assign, prio).objective[0] == pytest.approx(value, rel=1e-12)
    assert res.bound <= value * (1 + 1e-9)


def test_slot_truth_optimal_on_tiny_matches_brute_force():
    problem = library_problem("deadline-vgg16-tiny-s0")
    truth = slot_truth(problem, time_limit_s=20, solvers=("greedy",))
    assert truth.status == "optimal"
    assert truth.objective == pytest.approx(brute_force(problem), rel=1e-6)
    assert truth.gap_pct(truth.objective) == pytest.approx(0.0, abs=1e-6)
    again = simulate(problem, truth.assign, truth.priority).objective[0]
    assert again == pytest.approx(truth.objective, rel=1e-12)


def test_slot_truth_proves_contention_infeasibility():
    """Each task alone meets its deadline (the contention-free DP proves nothing), but
    three tasks released together on one device cannot all do so."""
    problem = _tight(factor=1.01)
    lb = dp.path_bound(problem)
    assert np.isfinite(lb.bound)   # alone, every task meets its deadline
    truth = slot_truth(problem, time_limit_s=10, solvers=("greedy",))
    assert truth.status == "infeasible"
    assert truth.bound == math.inf and truth.assign is None


def test_slot_truth_feasible_slot_labels():
    problem = _tight(factor=3.0)
    truth = slot_truth(problem, time_limit_s=10, solvers=("greedy",))
    assert truth.status in ("optimal", "feasible")
    assert truth.bound <= truth.objective * (1 + 1e-9)
    assert (simulate(problem, truth.assign, truth.priority).latency_s
            <= problem.deadline_s + 1e-9).all()
    assert truth.vs_best_pct(truth.objective * 1.1) == pytest.approx(10.0)

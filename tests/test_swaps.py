"""The ddpqn local search of ``exact``: moves of runs of layers and swaps of servers."""

import dataclasses

import numpy as np
import pytest

from offloadlab.formulations import swaps
from offloadlab.registry import solve
from offloadlab.simulator import objective
from tests.conftest import library_problem


@pytest.fixture(scope="module")
def small():
    return library_problem("ddpqn-alexnet-small-s0")


def neighbours(problem, a):
    """Every plan one run move or one swap away from ``a``."""
    plans = []
    for g, k, s in swaps.run_moves(problem):
        b = a.copy()
        b[g:g + k] = s
        plans.append(b)
    for i, j in zip(*swaps._swaps(problem, a)):
        b = a.copy()
        b[i], b[j] = a[j], a[i]
        plans.append(b)
    return np.array(plans)


@pytest.mark.parametrize("prefix", [1, 4])
def test_descent_ends_at_a_local_optimum_the_simulator_agrees_with(small, prefix):
    prio = small.default_priority
    start = np.array([np.flatnonzero(row)[0] for row in small.allowed])  # all on the device
    start_value = float(objective(small, start, prio)[0])
    a, value = swaps.swap_search(small, start, prio, time_limit_s=120, prefix=prefix)
    assert value == pytest.approx(float(objective(small, a, prio)[0]), rel=1e-12)
    assert value < start_value
    assert objective(small, neighbours(small, a), prio).min() >= value - 1e-9


def test_improved_keeps_the_bound_and_is_never_worse(small):
    sol = solve(small, "greedy", seed=0)
    sol = dataclasses.replace(sol, bound=-99.0, bound_source="test")
    better = swaps.improved(small, sol, time_limit_s=20)
    assert better.objective < sol.objective
    assert (better.bound, better.bound_source) == (-99.0, "test")
    assert better.objective == pytest.approx(
        float(objective(small, better.assign, better.priority)[0]), rel=1e-12)

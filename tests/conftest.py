"""Shared fixtures: small hand-made instances and library access."""

from __future__ import annotations

import copy
import itertools

import numpy as np
import pytest

from offloadlab import Problem, parse_instance
from offloadlab.instances.library import library_path
from offloadlab.instance import load_instance
from offloadlab.simulator import simulate

TINY = {
    "format": "offloadlab.instance/1", "name": "tiny",
    "servers": [{"name": "d1", "tier": "device", "ghz": 1.0},
                {"name": "e1", "tier": "edge", "ghz": 2.0},
                {"name": "c1", "tier": "cloud", "ghz": 10.0, "pools": 2}],
    "links": [{"a": "device", "b": "edge", "mb_per_s": 10.0},
              {"a": "device", "b": "cloud", "mb_per_s": 1.0},
              {"a": "edge", "b": "cloud", "mb_per_s": 5.0}],
    "models": {"m": {"input_mb": 1.0, "layers": [
        {"name": "a", "gcycles": 2.0, "out_mb": 5.0, "next": ["b"]},
        {"name": "b", "gcycles": 4.0, "out_mb": 0.5}]}},
    "tasks": [{"name": "t1", "model": "m", "device": "d1"},
              {"name": "t2", "model": "m", "device": "d1", "release_s": 1.0}],
    "objective": {"kind": "latency"},
}


def tiny_dict(**objective) -> dict:
    """A fresh copy of the hand-checked tiny instance, optionally another objective."""
    data = copy.deepcopy(TINY)
    if objective:
        data["objective"] = objective
    return data


def tiny_problem(**objective) -> Problem:
    return Problem.from_instance(parse_instance(tiny_dict(**objective)))


@pytest.fixture
def tiny():
    return tiny_problem()


def library_problem(name: str) -> Problem:
    return Problem.from_instance(load_instance(library_path(name)))


def linear_extensions(problem: Problem) -> np.ndarray:
    """Every precedence-respecting order of the layers (tiny instances only)."""
    out = []
    for perm in itertools.permutations(range(problem.n_layers)):
        pos = np.empty(problem.n_layers, dtype=int)
        pos[list(perm)] = np.arange(problem.n_layers)
        if all(pos[p] < pos[g] for g in range(problem.n_layers) for p in problem.preds(g)):
            out.append(perm)
    return np.array(out, dtype=np.int64)


def brute_force(problem: Problem) -> float:
    """min over every assignment and every priority order of the simulator."""
    choices = [problem.allowed_servers(g) for g in range(problem.n_layers)]
    assigns = np.array(list(itertools.product(*choices)), dtype=np.int64)
    best = np.inf
    for prio in linear_extensions(problem):
        best = min(best, float(simulate(problem, assigns, prio).objective.min()))
    return best

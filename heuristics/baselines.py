"""The papers' trivial baselines and the greedy list scheduler.

All of them build plans and let the one simulator score them: greedy probes every allowed
server for the next layer with the schedule's step and keeps the earliest finish.
"""

from __future__ import annotations

import time

import numpy as np

from offloadlab.budget import Evaluator, constructive
from offloadlab.problem import Problem
from offloadlab.registry import make_solution
from offloadlab.schedule import earliest_finish_plan


def _first_allowed(problem: Problem) -> np.ndarray:
    return problem.allowed.argmax(axis=1)


def greedy_assign(problem: Problem, tiers: tuple[int, ...] = (0, 1, 2)):
    """Layer by layer in default priority, the allowed server with the earliest finish.

    Candidates are restricted to ``tiers`` (0 device, 1 edge, 2 cloud); the finish of a
    final layer includes the return of its output when the objective asks for it; servers
    whose memory would overflow or that a missing link cuts off are skipped. Ties go to
    the lower server index. Each candidate is probed with the schedule's step and the best
    committed: O(L·S). Returns ``(assign, evaluations)`` (evaluations = probes);
    ``assign`` is None when some layer has no candidate.
    """
    tier_ok = np.isin(problem.tier, tiers)
    return earliest_finish_plan(problem, problem.default_priority,
                                problem.allowed & tier_ok[None, :],
                                memory_aware=bool(np.isfinite(problem.memory_mb).any()))


def _greedy_solution(problem, name, tiers, time_limit_s=None, budget_evals=None):
    """Greedy over ``tiers`` when the budget can pay for every candidate it scores."""
    def build():
        assign, used = greedy_assign(problem, tiers)
        return assign, None, used

    need = int((problem.allowed & np.isin(problem.tier, tiers)[None, :]).sum())
    return constructive(problem, name, need, build, time_limit_s=time_limit_s,
                        budget_evals=budget_evals, failure="some layer has no feasible server")


def greedy(problem: Problem, *, seed=None, time_limit_s=None, budget_evals=None):
    """Greedy earliest finish over every allowed server (deterministic)."""
    return _greedy_solution(problem, "greedy", (0, 1, 2), time_limit_s, budget_evals)


def edge_only(problem: Problem, *, seed=None, time_limit_s=None, budget_evals=None):
    """Every layer on an edge server, chosen greedily by earliest finish."""
    return _greedy_solution(problem, "edge-only", (1,), time_limit_s, budget_evals)


def cloud_only(problem: Problem, *, seed=None, time_limit_s=None, budget_evals=None):
    """Every layer on a cloud server, chosen greedily by earliest finish."""
    return _greedy_solution(problem, "cloud-only", (2,), time_limit_s, budget_evals)


def local_only(problem: Problem, *, seed=None, time_limit_s=None, budget_evals=None):
    """Every layer on its task's own device."""
    started = time.perf_counter()
    dev = problem.task_device[problem.layer_task]
    if (dev < 0).any():
        return make_solution(problem, "local-only", None, started=started,
                             message="a task has no device to run on")
    return make_solution(problem, "local-only", dev, started=started)


def random_plans(problem: Problem, n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, L) assignments drawn uniformly from each layer's allowed servers."""
    counts = problem.allowed.sum(axis=1)
    picks = (rng.random((n, problem.n_layers)) * counts[None, :]).astype(np.int64)
    # the k-th allowed server of each layer: cumulative count of allowed flags
    rank = np.cumsum(problem.allowed, axis=1) - 1
    table = np.full((problem.n_layers, int(counts.max())), -1, dtype=np.int64)
    rows, cols = np.nonzero(problem.allowed)
    table[rows, rank[rows, cols]] = cols
    return table[np.arange(problem.n_layers)[None, :], picks]


def random_search(problem: Problem, *, seed=0, time_limit_s=None, budget_evals=1000,
                  batch=100):
    """The best of ``budget_evals`` uniformly random plans (default priority; the final
    re-scoring is one of the ``budget_evals``)."""
    budget = 1000 if budget_evals is None else int(budget_evals)
    evaluator = Evaluator(problem, budget, time_limit_s, time.perf_counter())
    rng = np.random.default_rng(seed)
    while not evaluator.done():
        evaluator(random_plans(problem, min(batch, evaluator.left()), rng))
    return evaluator.solution("random", seed=seed,
                              params={"budget_evals": budget, "batch": batch})

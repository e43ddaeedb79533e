"""The papers' trivial baselines and the greedy list scheduler.

All of them build plans and let the one simulator score them: greedy tries every allowed
server for the next layer as a small population and keeps the earliest finish.
"""

from __future__ import annotations

import time

import numpy as np

from offloadlab.budget import Evaluator, constructive
from offloadlab.problem import Problem
from offloadlab.registry import make_solution
from offloadlab.simulator import memory_use, simulate


def _first_allowed(problem: Problem) -> np.ndarray:
    return problem.allowed.argmax(axis=1)


def greedy_assign(problem: Problem, tiers: tuple[int, ...] = (0, 1, 2)):
    """Layer by layer in default priority, the allowed server with the earliest finish.

    Candidates are restricted to ``tiers`` (0 device, 1 edge, 2 cloud); the finish of a
    final layer includes the return of its output when the objective asks for it; servers
    whose memory would overflow or that a missing link cuts off are skipped. Ties go to
    the lower server index. Returns ``(assign, evaluations)``; ``assign`` is None when
    some layer has no candidate.
    """
    order = problem.default_priority
    assign = _first_allowed(problem)
    placed = np.zeros(problem.n_layers, dtype=bool)
    tier_ok = np.isin(problem.tier, tiers)
    ret = problem.instance.objective.return_output
    mem_need = problem.param_mb + problem.out_mb
    evaluations = 0
    for g in order:
        cands = np.flatnonzero(problem.allowed[g] & tier_ok)
        if len(cands) == 0:
            return None, evaluations
        pop = np.repeat(assign[None, :], len(cands), axis=0)
        pop[:, g] = cands
        ev = simulate(problem, pop, order)
        evaluations += len(cands)
        finish = ev.finish_s[:, g].copy()
        finish[finish < 0] = np.inf  # a missing link stopped the scheduler at g
        dev = problem.task_device[problem.layer_task[g]]
        if ret and problem.is_sink[g] and dev >= 0:
            with np.errstate(divide="ignore"):
                finish += problem.out_mb[g] / problem.bw[cands, dev]
        if np.isfinite(problem.memory_mb).any():
            counted = placed.copy()
            counted[g] = True  # layers not yet placed hold no memory
            held = memory_use(problem, pop, weights=mem_need * counted)
            finish[(held > problem.memory_mb[None, :] * (1 + 1e-9)).any(axis=1)] = np.inf
        best = int(np.argmin(finish))
        if not np.isfinite(finish[best]):
            return None, evaluations
        assign[g] = cands[best]
        placed[g] = True
    return assign, evaluations


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

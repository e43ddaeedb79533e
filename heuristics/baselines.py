"""The papers' trivial baselines and the greedy list scheduler.

All of them build plans and let the one simulator score them: greedy probes every allowed
server for the next layer with the schedule's step and keeps the earliest finish.
"""

from __future__ import annotations

import time

import numpy as np

from offloadlab.problem import Problem
from offloadlab.registry import make_solution
from offloadlab.schedule import earliest_finish_plan
from offloadlab.simulator import simulate


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


def _greedy_solution(problem, name, tiers):
    started = time.perf_counter()
    assign, evals = greedy_assign(problem, tiers)
    msg = "" if assign is not None else "some layer has no feasible server"
    return make_solution(problem, name, assign, started=started, evaluations=evals,
                         message=msg)


def greedy(problem: Problem, *, seed=None, time_limit_s=None, budget_evals=None):
    """Greedy earliest finish over every allowed server (deterministic)."""
    return _greedy_solution(problem, "greedy", (0, 1, 2))


def edge_only(problem: Problem, *, seed=None, time_limit_s=None, budget_evals=None):
    """Every layer on an edge server, chosen greedily by earliest finish."""
    return _greedy_solution(problem, "edge-only", (1,))


def cloud_only(problem: Problem, *, seed=None, time_limit_s=None, budget_evals=None):
    """Every layer on a cloud server, chosen greedily by earliest finish."""
    return _greedy_solution(problem, "cloud-only", (2,))


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
    """The best of ``budget_evals`` uniformly random plans (default priority)."""
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    budget = int(budget_evals or 1000)
    best, best_val, used, history = None, np.inf, 0, []
    status = None
    while used < budget:
        if time_limit_s is not None and time.perf_counter() - started > time_limit_s:
            status = "time_limit"
            break
        pop = random_plans(problem, min(batch, budget - used), rng)
        values = simulate(problem, pop).objective
        used += len(pop)
        i = int(np.argmin(values))
        if values[i] < best_val:
            best, best_val = pop[i], float(values[i])
            history.append((time.perf_counter() - started, best_val))
    sol = make_solution(problem, "random", best, started=started, seed=seed,
                        evaluations=used, history=history, status=status,
                        params={"budget_evals": budget, "batch": batch})
    return sol

"""Local search by moves and pairwise swaps of servers, for per-layer objectives.

``ddpqn`` standardises each layer's terms and prices the balance of placements across
servers: a plan that is a local optimum for moving one layer (or a run of layers) to
another server can still improve by exchanging the servers of two layers, which keeps
every server's count and so the balance. Every neighbour is scored by the simulator,
a chunk of neighbours per call; the priority stays fixed.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from offloadlab.problem import Problem


def swap_search(problem: Problem, assign, priority, *, time_limit_s: float = 10.0,
                chunk: int = 2000):
    """Best-improvement descent over run moves (1 to 4 consecutive layers of a task to
    one allowed server) and, when those are exhausted, swaps of two layers' servers.

    Returns ``(assign, objective)``; stops at a local optimum or the time limit."""
    from offloadlab.simulator import objective

    started = time.perf_counter()
    a = np.asarray(assign).copy()
    value = float(objective(problem, a, priority)[0])
    n = problem.n_layers
    moves = np.array([(g, k, s) for g in range(n) for k in range(1, 5)
                      if g + k <= n and problem.layer_task[g + k - 1] == problem.layer_task[g]
                      for s in np.flatnonzero(problem.allowed[g:g + k].all(axis=0))],
                     dtype=np.int64).reshape(-1, 3)
    rows = np.repeat(np.arange(len(moves)), moves[:, 1])
    cols = np.concatenate([np.arange(g, g + k) for g, k, _ in moves]) if len(moves) \
        else np.zeros(0, dtype=np.int64)
    while time.perf_counter() - started < time_limit_s:
        best_value, best = value, None
        for lo in range(0, len(moves), chunk):
            sel = (rows >= lo) & (rows < lo + chunk)
            pop = np.repeat(a[None, :], min(chunk, len(moves) - lo), axis=0)
            pop[rows[sel] - lo, cols[sel]] = moves[rows[sel], 2]
            values = objective(problem, pop, priority)
            k = int(np.argmin(values))
            if values[k] < best_value - 1e-12 * max(1.0, abs(best_value)):
                best_value, best = float(values[k]), pop[k]
        if best is None:
            i, j = np.triu_indices(n, 1)
            keep = (a[i] != a[j]) & problem.allowed[i, a[j]] & problem.allowed[j, a[i]]
            i, j = i[keep], j[keep]
            for lo in range(0, len(i), chunk):
                if time.perf_counter() - started > time_limit_s:
                    break
                ii, jj = i[lo:lo + chunk], j[lo:lo + chunk]
                pop = np.repeat(a[None, :], len(ii), axis=0)
                r = np.arange(len(ii))
                pop[r, ii], pop[r, jj] = a[jj], a[ii]
                values = objective(problem, pop, priority)
                k = int(np.argmin(values))
                if values[k] < best_value - 1e-12 * max(1.0, abs(best_value)):
                    best_value, best = float(values[k]), pop[k]
        if best is None:
            break
        a, value = best, best_value
    return a, value


def improved(problem: Problem, sol, time_limit_s: float):
    """``sol`` with its plan improved by :func:`swap_search` (bound kept), when better."""
    from offloadlab.registry import make_solution

    if sol.assign is None or not np.isfinite(sol.objective) or time_limit_s <= 0:
        return sol
    started = time.perf_counter()
    prio = problem.default_priority if sol.priority is None else sol.priority
    assign, value = swap_search(problem, sol.assign, prio, time_limit_s=time_limit_s)
    if not value < sol.objective:
        return sol
    new = make_solution(problem, sol.solver, assign, prio, started=started,
                        bound=sol.bound, bound_source=sol.bound_source)
    return dataclasses.replace(new, message=f"{sol.message}; moves and swaps")

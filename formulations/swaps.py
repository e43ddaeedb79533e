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

from offloadlab.budget import time_left
from offloadlab.problem import Problem


def run_moves(problem: Problem) -> np.ndarray:
    """Every run move ``(first layer, length 1-4, server)``: consecutive layers of one
    task onto one server allowed for all of them."""
    n = problem.n_layers
    return np.array([(g, k, s) for g in range(n) for k in range(1, 5)
                     if g + k <= n and problem.layer_task[g + k - 1] == problem.layer_task[g]
                     for s in np.flatnonzero(problem.allowed[g:g + k].all(axis=0))],
                    dtype=np.int64).reshape(-1, 3)


def _swaps(problem: Problem, a: np.ndarray):
    """Pairs ``(i, j)`` of layers on different servers that may exchange them."""
    i, j = np.triu_indices(problem.n_layers, 1)
    keep = (a[i] != a[j]) & problem.allowed[i, a[j]] & problem.allowed[j, a[i]]
    return i[keep], j[keep]


def _prefix_step(problem: Problem, a, value, priority, found, prefix: int):
    """The best of the plans that apply the 1, 2, ... ``prefix`` best improving
    neighbours cumulatively (skipping any that touches a layer already changed), all
    scored in one simulator call. The first is the single best neighbour, so a step is
    never worse than best improvement; on plans where many moves improve independently
    (tasks on different servers) one step takes many of them."""
    from offloadlab.simulator import objective

    found.sort(key=lambda f: f[0])
    plans, touched, cur = [], np.zeros(problem.n_layers, dtype=bool), a.copy()
    for _, layers, servers in found:
        if touched[layers].any():
            continue
        cur[layers] = servers
        touched[layers] = True
        plans.append(cur.copy())
        if len(plans) == prefix:
            break
    values = objective(problem, np.array(plans), priority)
    k = int(np.argmin(values))
    return plans[k], float(values[k])


def swap_search(problem: Problem, assign, priority, *, time_limit_s: float = 10.0,
                chunk: int = 2000, swaps: bool = True, prefix: int = 4):
    """Descent over run moves (1 to 4 consecutive layers of a task to one allowed
    server) and, when those are exhausted (``swaps``), swaps of two layers' servers;
    each step scores the whole neighbourhood and takes the best prefix of its improving
    neighbours (:func:`_prefix_step`; ``prefix=1`` is plain best improvement).

    Returns ``(assign, objective)``; stops at a local optimum or the time limit."""
    from offloadlab.simulator import objective

    started = time.perf_counter()
    a = np.asarray(assign).copy()
    value = float(objective(problem, a, priority)[0])
    moves = run_moves(problem)
    rows = np.repeat(np.arange(len(moves)), moves[:, 1])
    cols = np.concatenate([np.arange(g, g + k) for g, k, _ in moves]) if len(moves) \
        else np.zeros(0, dtype=np.int64)
    tol = 1e-12 * max(1.0, abs(value))
    while time.perf_counter() - started < time_limit_s:
        found = []   # (value, layers, servers) of improving neighbours
        for lo in range(0, len(moves), chunk):
            sel = (rows >= lo) & (rows < lo + chunk)
            pop = np.repeat(a[None, :], min(chunk, len(moves) - lo), axis=0)
            pop[rows[sel] - lo, cols[sel]] = moves[rows[sel], 2]
            values = objective(problem, pop, priority)
            for r in np.flatnonzero(values < value - tol):
                g, k, s = moves[lo + r]
                found.append((values[r], np.arange(g, g + k), s))
        if not found and swaps:
            i, j = _swaps(problem, a)
            for lo in range(0, len(i), chunk):
                if time.perf_counter() - started > time_limit_s:
                    break
                ii, jj = i[lo:lo + chunk], j[lo:lo + chunk]
                pop = np.repeat(a[None, :], len(ii), axis=0)
                r = np.arange(len(ii))
                pop[r, ii], pop[r, jj] = a[jj], a[ii]
                values = objective(problem, pop, priority)
                for r in np.flatnonzero(values < value - tol):
                    found.append((values[r], np.array([ii[r], jj[r]]),
                                  np.array([a[jj[r]], a[ii[r]]])))
        if not found:
            break
        a, value = _prefix_step(problem, a, value, priority, found, prefix)
    return a, value


def improved(problem: Problem, sol, time_limit_s: float):
    """``sol`` with the best plan of :func:`swap_search` run from each plan of the DDPQN
    balance programme (best first) and then from ``sol``'s own, while time remains; the
    bound is kept. One full descent (moves, then swaps) per start beats descending
    every start by moves and only the best by swaps: the swaps reorder the starts
    (measured on ddpqn-alexnet-paper-s0, the second start ends best)."""
    from offloadlab.registry import make_solution

    from .bounds import ddpqn_plans

    started = time.perf_counter()
    _, starts = ddpqn_plans(problem, time_limit_s=min(5.0, 0.1 * time_limit_s))
    prio = problem.default_priority
    starts = [(prio, a) for _, a in starts]
    if sol.assign is not None and np.isfinite(sol.objective):
        starts.append((problem.default_priority if sol.priority is None else sol.priority,
                       sol.assign))
    best = (sol.objective, None, None)
    for prio, start in starts:
        left = time_left(time_limit_s, started)
        if left <= 0:
            break
        assign, value = swap_search(problem, start, prio, time_limit_s=left)
        if value < best[0]:
            best = (value, assign, prio)
    if best[1] is None:
        return sol
    new = make_solution(problem, sol.solver, best[1], best[2], started=started,
                        bound=sol.bound, bound_source=sol.bound_source)
    return dataclasses.replace(
        new, message=f"{sol.message}; plan from the balance programme, moves and swaps")

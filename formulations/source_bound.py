"""A Σ-latency bound that counts where each task's source layer runs: on its device
(the device queue of :mod:`.device_bound`) or on a shared server, whose slots the tasks
that enter there share.

Every plan runs the source layer of each task (tasks with one source layer) either on
another server ``s`` than its device, case (b), or on the device; then a fixed *pivot*
layer ``y_j`` of the task (any layer; None: no split) runs on the device too, case (a),
or on another server ``s``, case (c). The cases partition the plans, task by task.

(a) The tasks in case (a) on device ``d`` satisfy the device-queue conditions of
:func:`.device_bound.group_bound` with their source and pivot pinned to the device
(:func:`.device_bound.task_steps` with ``pinned``); their summed latency is at least
``G_d(m_d)``, the least such group bound over the choices of which ``m_d`` of the
device's tasks are not in case (a) (the device serves its own tasks only).

(b), (c) Call the source (b) or the pivot (c) the task's *entry* layer on ``s``. For a
latency below ``U``, :func:`.device_bound.pinned_windows` with ``target=s`` and the entry
pinned gives layers that must run on ``s`` too (a layer whose least ``head + tail`` off
``s`` reaches ``U``, closed under the windows this implies): their work ``W_js(U)``
Gcycles, all processed on ``s`` after ``a_s`` (the least ``r_j + head[source_j, s]`` in
case (b), ``r_j + head[l, s]`` over all the task's layers in (c), whose closure may pin
the pivot's ancestors) and
finished at least ``q_js(U)`` (the least time from a pinned layer's finish to the task's
end) before the task ends. Order the tasks entering ``s`` by their ends
``E_(1) <= E_(2) <= ...``. The first ``k`` have latencies at most ``E_(k) - r_j``, so
each has pinned at least ``W_s(E_(k))``, the least ``W_js(U)`` over the tasks and their
entries at the least grid cap ``U > E_(k) - r_j``, processed by ``s``'s ``pools_s``
slots at ``ghz_s`` in ``[a_s, E_(k) - q]``:
``E_(k) >= a_s + k W_s(E_(k)) / (pools_s ghz_s) + q``. The least ``E`` meeting this (and
``E >= min_j (r_j + least latency entering s)``) is ``theta_s(k)``, increasing in
``k``. The ends of the tasks in (b) or (c) are therefore at least the same number of
smallest ``theta_s(k)`` (the first ``n_s`` of each server), and their summed latency at
least that sum minus as many largest releases.

Σ latency >= min over ``(m_d)`` of ``Σ_d G_d(m_d) + bound_bc(Σ m_d + tasks without a
device)``; the minimum is exact (a small programme over the devices). Two pivot choices
are tried, none and the first layer a latency of twice the contention-free one does not
keep on the device with the source there; the higher bound is kept. The windows are the
contention-free ones tightened by the loads around each layer, valid in every plan.
Measured (``offloadlab bench exact``, 60 s, one run each): latency-resnet101-paper-s0
2.428 (Lagrangian 2.17), latency-googlenet-paper-s0 1.224 (device queue 1.206).
"""

from __future__ import annotations

import itertools
import time

import numpy as np

from offloadlab.problem import Problem

from .device_bound import (OutOfTime, _TaskGraph, closures, group_bound, pinned_windows,
                           task_steps)

MAX_SUBSETS_TASKS = 6   # more tasks on one device: G_d from each task's least choice
DEVICE_PARTS = 8        # parts per device choice (GoogLeNet: 1.2165 with 6, 1.2240 with 8)


def source_bound(problem: Problem, head: np.ndarray, tail: np.ndarray,
                 upper: float | None = None, *, time_limit_s: float = 5.0,
                 n_grid: int = 64) -> float:
    """The bound of the module docstring (latency and deadline kinds of tasks with one
    source layer each; ``-inf`` otherwise or when the time runs out).

    Parameters
    ----------
    head, tail : numpy.ndarray
        (L, S) windows valid in every plan (``bounds._windows``).
    upper : float, optional
        A plan's summed latency: a task's latency above ``upper`` minus the others'
        contention-free latencies needs no grid (it is counted at that cap).
    """
    from .dp import path_bound

    if problem.instance.objective.kind not in ("latency", "deadline"):
        return -np.inf
    deadline = time.perf_counter() + time_limit_s
    sources = [[i for i, g in enumerate(layers) if not len(problem.preds(g))]
               for layers in problem.task_layers]
    if any(len(s) != 1 for s in sources):
        return -np.inf
    lb = path_bound(problem).task_value
    if not np.isfinite(lb).all():
        return -np.inf
    top = np.full(problem.n_tasks, np.inf)
    if upper is not None and np.isfinite(upper):
        top = upper - (lb.sum() - lb)
    # two case splits, each valid: without pivots, and with them (the better is kept)
    best = -np.inf
    for pivoted in (False, True):
        pivots = [_pivot(problem, t, sources[t][0], head, tail, min(top[t], 2 * lb[t]))
                  if pivoted and problem.task_device[t] >= 0 else None
                  for t in range(problem.n_tasks)]
        try:
            value = _split_bound(problem, head, tail, sources, pivots, lb, top, n_grid,
                                 deadline)
        except OutOfTime:
            value = None
        if value is None:
            break
        best = max(best, value)
    return float(best)


def _split_bound(problem, head, tail, sources, pivots, lb, top, n_grid, deadline):
    """The bound for one choice of pivots (None past the deadline)."""
    cache: dict = {}
    shared = _shared_pieces(problem, head, tail, sources, pivots, lb, top, n_grid, cache,
                            deadline)
    if shared is None:
        return None
    theta = _thetas(problem, shared)
    rel_desc = np.sort(problem.release_s)[::-1]

    def bound_b(m: int) -> float:
        if m == 0:
            return 0.0
        return float(theta[:m].sum() - rel_desc[:m].sum())

    # (a): per device, the least group bound when m of its tasks start elsewhere
    dev = problem.task_device
    g_of = []
    for d in np.unique(dev[dev >= 0]):
        tasks = np.flatnonzero(dev == d)
        g = _device_groups(problem, int(d), tasks, head, tail, lb, top, sources, pivots,
                           deadline)
        if g is None:
            return None
        g_of.append(g)
    # exact minimum over (m_d): a programme over the devices
    best = np.array([0.0])
    for g in g_of:
        nxt = np.full(len(best) + len(g) - 1, np.inf)
        for i, b in enumerate(best):
            nxt[i:i + len(g)] = np.minimum(nxt[i:i + len(g)], b + g)
        best = nxt
    free = int((dev < 0).sum())
    return float(min(b + bound_b(m + free) for m, b in enumerate(best)))


def _shared_pieces(problem, head, tail, sources, pivots, lb, top, n_grid, cache,
                   deadline):
    """Per server ``s``: the rows of the tasks that may enter it, case (b) (the source
    on ``s``) and case (c) (source on the device, the pivot on ``s``): (task, grid caps
    of relative latencies (increasing, the last inf), pinned work (Gcycles) and least
    rest below each cap, least latency, ``r`` + the least head of its layers on ``s``)."""
    out = {}
    for s in range(problem.n_servers):
        rows = []
        for t, layers in enumerate(problem.task_layers):
            dev = problem.task_device[t]
            entries = [] if s == dev else [sources[t][0]]
            if pivots[t] is not None and s != dev:
                entries.append(pivots[t])
            for entry in entries:
                g = layers[entry]
                if not problem.allowed[g, s] or not np.isfinite(head[g, s]):
                    continue
                key = (s, entry, dev, head[layers].tobytes(), tail[layers].tobytes(),
                       top[t])
                if key not in cache:
                    if time.perf_counter() > deadline:
                        return None
                    cache[key] = _pieces_on(problem, t, s, entry, head, tail, lb[t],
                                            top[t], n_grid, deadline)
                # every layer descends from the source (b); in (c) the closure may
                # pin the pivot's ancestors: the least head of any layer on s
                first = head[g, s] if entry == sources[t][0] else head[layers, s].min()
                rows.append((t,) + cache[key] + (problem.release_s[t] + float(first),))
        if rows:
            out[s] = rows
    return out


def _pieces_on(problem: Problem, t: int, s: int, entry: int, head, tail, lb: float,
               top: float, n_grid: int, deadline: float = np.inf):
    """Caps, pinned work, least rest and least latency of task ``t`` with layer
    ``entry`` (local index) on ``s`` (see :func:`_shared_pieces`)."""
    layers = problem.task_layers[t]
    graph = _TaskGraph(problem, t)
    first = np.zeros(len(layers), dtype=bool)
    first[entry] = True
    h_t, t_t = head[layers], tail[layers]
    least0 = pinned_windows(graph, h_t, t_t, np.inf, target=s, first=first)[3]
    lo = max(lb, least0)
    hi = top if np.isfinite(top) else 4 * lo
    # dense near the least latency, where the pinned work changes most
    caps = np.append(np.unique(lo + (max(hi, lo) - lo)
                               * np.linspace(0, 1, n_grid + 1)[1:] ** 3), np.inf)
    work, rest = np.zeros(len(caps)), np.zeros(len(caps))
    closed = closures(graph, h_t, t_t, caps[:-1], target=s, first=first,
                      deadline=deadline)
    for i, cap in enumerate(caps[:-1]):
        must, h, tl, least = closed[i]
        if not least < cap:   # no latency below this cap with the source on s
            work[i], rest[i] = np.inf, 0.0
            continue
        work[i] = float(graph.gcycles[must].sum())
        rest[i] = max(0.0, float((tl[must, s] - graph.ex[must, s]).min()))
    return caps, work, rest, least0


def _pivot(problem: Problem, t: int, src: int, head, tail, top: float) -> int | None:
    """The first layer (topological order) that a latency below ``top`` does not keep on
    the device with the source there (None when every layer stays): a case split
    point, any layer would do for validity (``source_bound`` asks at twice the
    contention-free latency, where the device's first layers hand over)."""
    layers = problem.task_layers[t]
    graph = _TaskGraph(problem, t)
    first = np.zeros(len(layers), dtype=bool)
    first[src] = True
    cap = top if np.isfinite(top) else np.inf
    must = pinned_windows(graph, head[layers], tail[layers], float(cap), first=first)[0]
    free = np.flatnonzero(~must)
    return int(free[0]) if len(free) else None


def _thetas(problem: Problem, shared) -> np.ndarray:
    """The smallest ``theta_s(k)`` over servers, sorted (absolute ends; inf where fewer
    than the tasks' number exist)."""
    n = problem.n_tasks
    vals = []
    for s, rows in shared.items():
        rate = float(problem.pools[s] * problem.ghz[s])
        a_s = min(r[5] for r in rows)
        floor = min(problem.release_s[r[0]] + r[4] for r in rows)
        # the pinned work and rest, least over the rows, are step functions of the end
        # E (a task ending by E has latency <= E - r_j, below the next cap); no cap
        # boundary r_j + U lies inside an interval of consecutive candidates
        cand = np.unique(np.concatenate([problem.release_s[r[0]] + r[1][:-1]
                                         for r in rows] + [[floor]]))
        cand = cand[cand >= floor]
        nxt = np.append(cand[1:], np.inf)
        mid = np.where(np.isfinite(nxt), 0.5 * (cand + nxt), cand + 1.0)
        work, rest = np.full(len(cand), np.inf), np.full(len(cand), np.inf)
        for t, caps, w, q, _, _ in rows:
            j = np.searchsorted(caps, mid - problem.release_s[t], side="right")
            work, rest = np.minimum(work, w[j]), np.minimum(rest, q[j])
        with np.errstate(invalid="ignore"):
            for k in range(1, n + 1):
                need = a_s + k * work / rate + rest
                ok = np.flatnonzero(np.isfinite(work) & (need < nxt))
                if not len(ok):
                    break
                vals.append(float(max(cand[ok[0]], need[ok[0]])))
    # fewer ends than tasks: that many tasks cannot enter the shared servers
    return np.append(np.sort(np.array(vals)), np.full(n, np.inf))[:n]


def _device_groups(problem, d, tasks, head, tail, lb, top, sources, pivots, deadline):
    """``G_d(m)`` for ``m = 0 .. len(tasks)``: the least device-queue group bound of the
    tasks in case (a) (source and pivot pinned to ``d``), over which ``m`` are not."""
    steps, seen = {}, {}
    for t in tasks:
        layers = problem.task_layers[t]
        key = (head[layers].tobytes(), tail[layers].tobytes(), float(lb[t]), top[t],
               pivots[t])
        if key not in seen:
            if time.perf_counter() > deadline:
                return None
            pinned = np.zeros(len(layers), dtype=bool)
            pinned[sources[t][0]] = True
            if pivots[t] is not None:
                pinned[pivots[t]] = True
            seen[key] = task_steps(problem, int(t), head, tail, float(lb[t]),
                                   n_pieces=DEVICE_PARTS, pinned=pinned,
                                   top=float(top[t]), deadline=deadline)
        steps[int(t)] = seen[key]
    g = np.full(len(tasks) + 1, np.inf)
    g[len(tasks)] = 0.0
    if len(tasks) > MAX_SUBSETS_TASKS:   # each kept task's least choice alone
        floors = np.sort([steps[int(t)][0][0] for t in tasks])
        for m in range(len(tasks)):
            g[m] = float(floors[:len(tasks) - m].sum())
        return g
    for m in range(len(tasks)):
        for keep in itertools.combinations([int(t) for t in tasks], len(tasks) - m):
            if time.perf_counter() > deadline:
                return None
            value, _ = group_bound([steps[t] for t in keep],
                                   problem.release_s[list(keep)], int(problem.pools[d]),
                                   deadline=deadline)
            g[m] = min(g[m], value)
    return g

"""A Σ-latency bound that counts where each task's source layer runs: on its device
(the device queue of :mod:`.device_bound`) or on a shared server, whose slots the tasks
that start there share.

Every plan runs the source layer of each task (tasks with one source layer) either on the
task's device, case (a), or on some other server ``s``, case (b). Let ``A`` and ``B`` be
these two sets of tasks in an optimal plan.

(a) The tasks of ``A`` on device ``d`` satisfy the device-queue conditions of
:func:`.device_bound.group_bound` with their source layers pinned to the device
(:func:`.device_bound.task_steps` with ``pin_source``); their summed latency is at least
``G_d(m_d)``, the least such group bound over the choices of which ``m_d`` of the
device's tasks are in ``B`` (the device is used by its own tasks only).

(b) For a task ``j`` whose source runs on ``s`` and a latency below ``U``,
:func:`.device_bound.pinned_windows` with ``target=s`` gives the layers that must run on
``s`` too (a layer whose least ``head + tail`` off ``s`` reaches ``U``, closed under the
windows this implies): their work ``W_js(U)`` Gcycles, all processed on ``s`` after
``a_s = min_j (r_j + head[source_j, s])`` and finished at least ``q_js(U)`` (the least time
from a pinned layer's finish to the task's end) before the task ends. Order the tasks of
``B`` whose source runs on ``s`` by their ends ``E_(1) <= E_(2) <= ...``. The first ``k``
have latencies at most ``E_(k) - r_j``, so each has pinned at least
``W_s(E_(k)) = min_j W_js(U)`` for the least grid cap ``U > E_(k) - r_j``, processed by
``s``'s ``pools_s`` slots at ``ghz_s`` in ``[a_s, E_(k) - q]``:
``E_(k) >= a_s + k W_s(E_(k)) / (pools_s ghz_s) + q``. The least ``E`` meeting this (and
``E >= min_j (r_j + least latency on s)``) is ``theta_s(k)``, increasing in ``k``. The
ends of ``B`` are therefore at least the ``|B|`` smallest of all ``theta_s(k)`` (the
first ``n_s`` of each server), and ``Σ_B latency`` is at least their sum minus the
``|B|`` largest releases.

Σ latency >= min over ``(m_d)`` of ``Σ_d G_d(m_d) + bound_B(Σ m_d + tasks without a
device)``; the minimum is exact (a small programme over devices). The windows are the
contention-free ones tightened by the loads around each layer, valid in every plan.
"""

from __future__ import annotations

import itertools
import time

import numpy as np

from offloadlab.problem import Problem

from .device_bound import _TaskGraph, closures, group_bound, pinned_windows, task_steps

TOL = 1e-9
MAX_SUBSETS_TASKS = 6   # more tasks on one device: G_d from each task's least choice


def source_bound(problem: Problem, head: np.ndarray, tail: np.ndarray,
                 upper: float | None = None, *, time_limit_s: float = 5.0,
                 n_grid: int = 24) -> float:
    """The bound of the module docstring (latency and deadline kinds of tasks with one
    source layer each; ``-inf`` otherwise or when the time runs out).

    Parameters
    ----------
    head, tail : numpy.ndarray
        (L, S) windows valid in every plan (:func:`offloadlab.formulations.bounds._windows`).
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
    cache: dict = {}
    shared = _shared_pieces(problem, head, tail, sources, lb, top, n_grid, cache, deadline)
    if shared is None:
        return -np.inf
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
        g = _device_groups(problem, int(d), tasks, head, tail, lb, top, deadline)
        if g is None:
            return -np.inf
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


def _shared_pieces(problem, head, tail, sources, lb, top, n_grid, cache, deadline):
    """Per server ``s`` that may run a source: per task, the grid caps ``U`` (relative
    latencies, increasing, the last inf), the pinned work (Gcycles) and least rest
    below each cap, the task's least latency with its source on ``s``, and
    ``a_s``. Returns {s: (caps (T, K), work (T, K), rest (T, K), least (T,), a_s)}."""
    out = {}
    for s in range(problem.n_servers):
        rows = []
        for t, layers in enumerate(problem.task_layers):
            src = sources[t][0]
            g = layers[src]
            if s == problem.task_device[t] or not problem.allowed[g, s] \
                    or not np.isfinite(head[g, s]):
                rows.append(None)
                continue
            key = (s, problem.task_device[t], head[layers].tobytes(),
                   tail[layers].tobytes(), top[t])
            if key not in cache:
                if time.perf_counter() > deadline:
                    return None
                cache[key] = _pieces_on(problem, t, s, src, head, tail, lb[t], top[t],
                                        n_grid)
            rows.append(cache[key] + (problem.release_s[t] + head[g, s],))
        if any(r is not None for r in rows):
            out[s] = rows
    return out


def _pieces_on(problem: Problem, t: int, s: int, src: int, head, tail, lb: float,
               top: float, n_grid: int):
    """Caps, pinned work, least rest and least latency of task ``t`` with its source on
    ``s`` (see :func:`_shared_pieces`)."""
    layers = problem.task_layers[t]
    graph = _TaskGraph(problem, t)
    first = np.zeros(len(layers), dtype=bool)
    first[src] = True
    h_t, t_t = head[layers], tail[layers]
    least0 = pinned_windows(graph, h_t, t_t, np.inf, target=s, first=first)[3]
    lo = max(lb, least0)
    hi = top if np.isfinite(top) else 4 * lo
    # dense near the least latency, where the pinned work changes most
    caps = np.append(np.unique(lo + (max(hi, lo) - lo)
                               * np.linspace(0, 1, n_grid + 1)[1:] ** 3), np.inf)
    work, rest = np.zeros(len(caps)), np.zeros(len(caps))
    closed = closures(graph, h_t, t_t, caps[:-1], target=s, first=first)
    for i, cap in enumerate(caps[:-1]):
        must, h, tl, least = closed[i]
        if not least < cap:   # no latency below this cap with the source on s
            work[i], rest[i] = np.inf, 0.0
            continue
        work[i] = float(graph.gcycles[must].sum())
        rest[i] = max(0.0, float((tl[must, s] - graph.ex[must, s]).min()))
    return caps, work, rest, least0


def _thetas(problem: Problem, shared) -> np.ndarray | None:
    """The |B| smallest ``theta_s(k)`` over servers, sorted (absolute ends)."""
    n = problem.n_tasks
    vals = []
    for s, rows in shared.items():
        rate = float(problem.pools[s] * problem.ghz[s])
        tasks = [(t, r) for t, r in enumerate(rows) if r is not None]
        a_s = min(r[4] for _, r in tasks)
        floor = min(problem.release_s[t] + r[3] for t, r in tasks)
        # the pinned work, least over the tasks, as a step function of the end E: a
        # task ending by E has latency <= E - r_j, below the next cap
        cand = np.unique(np.concatenate([problem.release_s[t] + r[0][:-1]
                                         for t, r in tasks] + [[floor]]))
        cand = cand[cand >= floor]
        for k in range(1, n + 1):
            e = _least_end(problem, tasks, cand, k, rate, a_s, floor)
            if not np.isfinite(e):
                break
            vals.append(e)
    # fewer ends than tasks: that many tasks cannot start off their devices
    return np.append(np.sort(np.array(vals)), np.full(n, np.inf))[:n]


def _least_end(problem, tasks, cand, k, rate, a_s, floor) -> float:
    """The least E >= floor with E >= a_s + k W(E) / rate + q(E)."""
    for i, e in enumerate(cand):
        nxt = cand[i + 1] if i + 1 < len(cand) else np.inf
        mid = 0.5 * (e + nxt) if np.isfinite(nxt) else e + 1.0
        w, q = np.inf, np.inf
        for t, (caps, work, rest, _, _) in tasks:
            # no cap boundary r_t + U lies inside [e, nxt): the interval's ends all
            # have latencies below the least cap above mid - r_t
            j = int(np.searchsorted(caps, mid - problem.release_s[t], side="right"))
            w, q = min(w, work[j]), min(q, rest[j])
        if not np.isfinite(w):
            continue   # no task of B ends there
        need = a_s + k * w / rate + q
        if need < nxt:
            return float(max(e, need))
    return np.inf


def _device_groups(problem, d, tasks, head, tail, lb, top, deadline):
    """``G_d(m)`` for ``m = 0 .. len(tasks)``: the least device-queue group bound of the
    tasks that keep their source on ``d`` (sources pinned), over which ``m`` leave."""
    steps, seen = {}, {}
    for t in tasks:
        layers = problem.task_layers[t]
        key = (head[layers].tobytes(), tail[layers].tobytes(), float(lb[t]))
        if key not in seen:
            if time.perf_counter() > deadline:
                return None
            seen[key] = task_steps(problem, int(t), head, tail, float(lb[t]),
                                   pin_source=True, top=float(top[t]))
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
            value, _ = group_bound([steps[t] for t in keep], problem.release_s[list(keep)],
                                   int(problem.pools[d]), deadline=deadline)
            g[m] = min(g[m], value)
    return g

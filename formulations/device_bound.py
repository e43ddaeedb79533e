"""A bound that counts the work a task must keep on its own device, and the queue there.

For a task ``t`` with device ``d`` and a layer ``l``, let ``v_l`` be the least
``head[l, s] + tail[l, s]`` over the servers ``s != d`` that ``l`` may use (the
contention-free windows, tightened by the loads around the layer:
:func:`offloadlab.formulations.bounds._windows`). Placed on ``s``, ``l`` makes the
task's latency at least ``head[l, s] + tail[l, s]``, since waiting only delays. So in a
plan where the task's latency is ``L`` every layer of the *mandatory set*
``M(L) = {l : v_l > L}`` runs on ``d``; then it also needs ``head[l, d] + tail[l, d]
<= L`` (else no server suits it and the latency ``L`` is impossible), and it runs
inside its own window ``[r_t + head[l, d], r_t + L - rest[l, d]]`` (``rest`` the least
time from its finish on ``d`` to the task's end) for ``exec_s[l, d]`` seconds of one of
the device's slots: the layers of one task take turns on a one-slot device (the
branches of an inception module too, which the contention-free bound runs side by
side). The mandatory layers are grouped, by latest finish, into a few *parts*, each
with its work and the window that holds all of its layers.

``M(L)`` changes only at the values ``v_l``; between the points ``p_j`` of a grid that
contains all of them, a latency ``L`` in ``[p_j, p_{j+1})`` has ``M(L) = M(p_j)``,
costs at least ``p_j`` and has windows ending before ``r_t + p_{j+1} - rest``: these
*choices* (``p_j``, parts, windows) relax every latency in the piece. The device is
shared by the tasks it belongs to and by no other (a layer may not use another task's
device), so the parts of the choices of the device's tasks satisfy the necessary
condition of a schedule on ``pools_d`` slots: for every interval ``[lo, hi]`` with
``lo`` a window start and ``hi`` a window end, the works of the windows inside sum to
at most ``pools_d (hi - lo)`` (a choice failing it for its own task alone is dropped).
The least summed cost over choices that satisfy the condition, found by a depth-first
search per device, is a lower bound on the summed latency of the device's tasks (past
the time limit, each task's least admissible choice). Tasks without a device contribute
their contention-free latency ``lb_t``. The devices do not interact here, so the bound
is the sum over devices.
"""

from __future__ import annotations

import time

import numpy as np

from offloadlab.problem import Problem

TOL = 1e-9


def task_steps(problem: Problem, t: int, head: np.ndarray, tail: np.ndarray,
               lb: float, n_grid: int = 20, n_pieces: int = 6):
    """The admissible latencies of task ``t`` and, for each, the mandatory device work
    (seconds) and its window relative to the release.

    Returns ``(latency, work_s, start_s, finish_s)``: latencies (K,) sorted, and per
    choice ``n_pieces`` parts of the mandatory work (K, n_pieces), the layers grouped by
    latest finish, each with the window that holds all its layers; only the choices
    whose parts fit their windows on the device's slots.
    """
    d = int(problem.task_device[t])
    layers = problem.task_layers[t]
    other = problem.allowed[layers].copy()
    other[:, d] = False
    with np.errstate(invalid="ignore"):
        v = np.where(other, head[layers] + tail[layers], np.inf).min(axis=1)
    on_dev = problem.allowed[layers, d]
    ex = problem.exec_s[layers, d]
    h_dev = head[layers, d]
    rest = tail[layers, d] - ex
    vals = v[np.isfinite(v) & (v > lb)]
    top = float(vals.max()) if len(vals) else lb
    # pieces [p_j, p_{j+1}): every v_l is a boundary, so a latency L in a piece has
    # M(L) = M(p_j); it costs at least p_j and its window ends before p_{j+1} - rest
    grid = np.linspace(lb, top, n_grid + 1) if top > lb else np.array([lb])
    points = np.unique(np.concatenate([[lb], vals, grid]))
    nxt = np.append(points[1:], np.inf)   # layers only the device runs stay mandatory
    out = []
    for j, c in enumerate(points):
        must = v > c
        if not must.any():
            z = np.zeros(n_pieces)
            out.append((c, z, z, z))
            break   # larger latencies need nothing on the device
        if not on_dev[must].all():
            continue
        pieces = _pieces(h_dev[must], nxt[j] - rest[must], ex[must], n_pieces)
        work, lo, hi = (x[None, :] for x in pieces)
        none = np.zeros((1, 0))
        if _fits_all(none, none, none, lo, hi, work, problem.pools[d])[0] and \
                (ex[must] <= (nxt[j] - rest[must] - h_dev[must]) * (1 + TOL) + TOL).all():
            out.append((c,) + pieces)
    if not out:
        z = np.zeros((1, n_pieces))
        return np.array([np.inf]), z, z, z
    return (np.array([o[0] for o in out]),) + tuple(
        np.array([o[i] for o in out]) for i in (1, 2, 3))


def _pieces(start: np.ndarray, finish: np.ndarray, ex: np.ndarray, n: int):
    """Works and windows of ``n`` groups of layers taken by latest finish (an empty
    group has no work and a point window)."""
    order = np.argsort(finish, kind="stable")
    work, lo, hi = np.zeros(n), np.zeros(n), np.zeros(n)
    for i, part in enumerate(np.array_split(order, n)):
        if len(part):
            work[i] = ex[part].sum()
            lo[i], hi[i] = start[part].min(), finish[part].max()
        else:
            lo[i] = hi[i] = start.min()
    return work, lo, hi


def _fits_all(a, b, w, a_new, b_new, w_new, slots: int) -> np.ndarray:
    """For each choice (rows of ``a_new``, ``b_new``, ``w_new``, (K, P)) added to the
    windows ``a``, ``b`` with works ``w`` ((1, N) or (K, N)): the necessary condition
    of a schedule on ``slots`` slots, for every interval ``[lo, hi]`` with ``lo`` among
    the windows' starts and ``hi`` among their ends: the works whose windows lie inside
    fit, ``Σ w <= slots (hi - lo)``."""
    k = a_new.shape[0]
    aa = np.concatenate([np.broadcast_to(a, (k, a.shape[1])), a_new], axis=1)
    bb = np.concatenate([np.broadcast_to(b, (k, b.shape[1])), b_new], axis=1)
    ww = np.concatenate([np.broadcast_to(w, (k, w.shape[1])), w_new], axis=1)
    lo, hi = aa[:, :, None], bb[:, None, :]                       # (K, N, 1), (K, 1, N)
    inside = ((aa[:, None, None, :] >= lo[..., None] - TOL)
              & (bb[:, None, None, :] <= hi[..., None] + TOL))     # (K, lo, hi, window)
    need = (inside * ww[:, None, None, :]).sum(axis=3)
    cap = slots * (hi - lo)
    bad = (hi >= lo) & (need > cap * (1 + TOL) + TOL)
    return ~bad.any(axis=(1, 2))


def group_bound(steps, rel: np.ndarray, slots: int, *, deadline: float = np.inf):
    """Least summed latency of tasks sharing a device under the window conditions.

    ``steps``: per task ``(latency, work, start, finish)`` from :func:`task_steps`;
    ``rel``: the tasks' releases. Exact by depth-first search (choices by latency, the
    remaining tasks' least choices as the bound that prunes); past ``deadline`` (a
    ``time.perf_counter()`` value), the sum of each task's least choice, still a bound.
    Returns ``(value, exact)``.
    """
    m = len(steps)
    floor = np.array([s[0][0] for s in steps])
    if m == 1 or not np.isfinite(floor).all():
        return float(floor.sum()), True
    order = np.argsort([-s[1][0].sum() for s in steps], kind="stable")   # most work first
    tail_min = np.concatenate([np.cumsum(floor[order][::-1])[::-1], [0.0]])
    # identical tasks (same choices and release) take choices in order: symmetry
    twin = [i > 0 and rel[order[i]] == rel[order[i - 1]]
            and all(np.array_equal(x, y) for x, y in zip(steps[order[i]],
                                                        steps[order[i - 1]]))
            for i in range(m)]
    chosen = [0] * m
    best = [np.inf]
    placed = [np.zeros((1, 0))] * 3   # starts, ends, works of the windows placed

    def dfs(i: int, total: float) -> bool:
        if i == m:
            best[0] = min(best[0], total)
            return True
        if time.perf_counter() > deadline:
            return False
        t = order[i]
        lat, work, start, finish = steps[t]
        first = chosen[i - 1] if twin[i] else 0
        if i == m - 1:   # the last task: its least admissible choice, all at once
            ok = np.flatnonzero(_fits_all(*placed, rel[t] + start[first:],
                                          rel[t] + finish[first:], work[first:], slots))
            if len(ok):
                best[0] = min(best[0], total + lat[first + ok[0]])
            return True
        saved = placed[:]
        for k in range(first, len(lat)):
            if total + lat[k] + tail_min[i + 1] >= best[0] - TOL:
                break   # latencies only grow along the choices
            one = slice(k, k + 1)
            new = (rel[t] + start[one], rel[t] + finish[one], work[one])
            if not _fits_all(*saved, *new, slots)[0]:
                continue
            chosen[i] = k
            placed[:] = [np.concatenate([x, y], axis=1) for x, y in zip(saved, new)]
            if not dfs(i + 1, total + lat[k]):
                return False
        placed[:] = saved
        return True

    if dfs(0, 0.0):
        return float(best[0]), True
    return float(floor.sum()), False


def device_bound(problem: Problem, head: np.ndarray, tail: np.ndarray, *,
                 time_limit_s: float = 5.0) -> float:
    """Σ latency bound counting the mandatory device work and its queue (latency and
    deadline kinds; ``-inf`` otherwise), from the (L, S) windows ``head``, ``tail``
    (:func:`offloadlab.formulations.bounds.device_queue_bound` passes the tightened
    ones). See the module docstring for the proof."""
    from .dp import path_bound

    if problem.instance.objective.kind not in ("latency", "deadline"):
        return -np.inf
    started = time.perf_counter()
    lb = path_bound(problem).task_value
    if not np.isfinite(lb).all():
        return -np.inf
    best = float(lb.sum())
    for n_grid in (20, 50):   # a coarse grid first; a finer one when time allows
        value = _grouped(problem, head, tail, lb, n_grid, started + time_limit_s)
        best = max(best, value)
        spent = time.perf_counter() - started
        if spent * 4 > time_limit_s:
            break
    return best


def _grouped(problem: Problem, head, tail, lb, n_grid: int, deadline: float) -> float:
    total = 0.0
    dev = problem.task_device
    for d in np.unique(dev):
        tasks = np.flatnonzero(dev == d)
        if d < 0:
            total += float(lb[tasks].sum())
            continue
        steps = [task_steps(problem, int(t), head, tail, float(lb[t]), n_grid)
                 for t in tasks]
        value, _ = group_bound(steps, problem.release_s[tasks], int(problem.pools[d]),
                               deadline=deadline)
        total += value
    return float(total)


"""A bound that counts the work a task must keep on its own device, and the queue there.

For a task ``t`` with device ``d`` and a layer ``l``, let ``v_l`` be the least
``head[l, s] + tail[l, s]`` over the servers ``s != d`` that ``l`` may use (the
contention-free windows, tightened by the loads around the layer:
:func:`offloadlab.formulations.bounds._windows`). Placed on ``s``, ``l`` makes the
task's latency at least ``head[l, s] + tail[l, s]``, since waiting only delays. So a
plan in which the task's latency is ``L`` keeps every layer of the *mandatory set*
``M(L) = {l : v_l > L}`` on ``d`` (a plan needing a layer of ``M(L)`` that may not run on
``d`` has latency above ``L``). Those layers run on ``d`` inside the window
``[r_t + min_{l in M} head[l, d], r_t + L - min_{l in M} rest[l, d]]`` (``rest`` the
least time from a finish on ``d`` to the task's end), in
``W(L) = Σ_{l in M(L)} exec_s[l, d]`` seconds of one of the device's slots: the layers
of one task take turns on a one-slot device (the branches of an inception module too).

The device is shared by the tasks it belongs to and by no other (a layer may not use
another task's device). For the latencies ``L_t`` of these tasks in any schedule, the
windows ``[a_t, b_t]`` and works ``W_t(L_t)`` then satisfy the necessary condition of a
schedule on ``pools_d`` slots: for every ``a <= b`` taken among the window ends,
``Σ_{t: a_t >= a, b_t <= b} W_t <= pools_d (b - a)``, and each task alone
``W_t <= pools_d (b_t - a_t)`` (a window of one task, and one slot per layer:
``W_t <= (b_t - a_t)`` when the work has to go through one slot, which a task's own
layers do only up to ``pools_d`` at once). ``M(L)``, ``W(L)`` and the window are step
functions of ``L`` that change only at the values ``v_l``, so the least summed latency
over choices of ``L_t`` among ``{lb_t} ∪ {v_l >= lb_t}`` (``lb_t`` the contention-free
latency) that satisfy the conditions is a lower bound on the summed latency of the
device's tasks; a depth-first search over the choices finds it exactly (and when it runs
out of nodes, each task's least admissible choice on its own is the bound). Tasks
without a device contribute ``lb_t``. The devices do not interact here, so the bound is
the sum over devices.
"""

from __future__ import annotations

import time

import numpy as np

from offloadlab.problem import Problem

TOL = 1e-9


def task_steps(problem: Problem, t: int, head: np.ndarray, tail: np.ndarray,
               lb: float, n_grid: int = 20):
    """The admissible latencies of task ``t`` and, for each, the mandatory device work
    (seconds) and its window relative to the release.

    Returns ``(latency, work_s, start_s, finish_s)`` arrays, sorted by latency, only the
    choices whose mandatory work fits its own window on the device's slots.
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
            out.append((c, 0.0, 0.0, c))
            break   # larger latencies need nothing on the device
        if not on_dev[must].all():
            continue
        work = float(ex[must].sum())
        a, b = float(h_dev[must].min()), float(nxt[j] - rest[must].min())
        if work <= problem.pools[d] * (b - a) * (1 + TOL) + TOL and \
                float(ex[must].max()) <= (b - a) * (1 + TOL) + TOL:
            out.append((c, work, a, b))
    if not out:
        return (np.array([np.inf]), np.zeros(1), np.zeros(1), np.zeros(1))
    arr = np.array(out)
    return arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3]


def _fits(a: list, b: list, w: list, a_new, b_new, w_new, slots: int) -> np.ndarray:
    """For each choice ``(a_new, b_new, w_new)`` (arrays) of a task added to the windows
    ``[a, b]`` with works ``w`` (already checked): the necessary condition of a schedule
    on every interval that contains the new window (the others are unchanged)."""
    ok = w_new <= slots * (b_new - a_new) * (1 + TOL) + TOL
    prev = list(zip(a, b, w))
    for lo in a + [a_new]:
        for hi in b + [b_new]:
            applies = (lo <= a_new) & (hi >= b_new)
            need = w_new + sum(np.where((ak >= lo) & (bk <= hi), wk, 0.0)
                               for ak, bk, wk in prev)
            ok &= ~applies | (need <= slots * (hi - lo) * (1 + TOL) + TOL)
    return ok


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
    order = np.argsort([-s[1][0] for s in steps], kind="stable")   # most work first
    tail_min = np.concatenate([np.cumsum(floor[order][::-1])[::-1], [0.0]])
    # identical tasks (same choices and release) take choices in order: symmetry
    twin = [i > 0 and rel[order[i]] == rel[order[i - 1]]
            and all(np.array_equal(x, y) for x, y in zip(steps[order[i]],
                                                        steps[order[i - 1]]))
            for i in range(m)]
    chosen = [0] * m
    best = [np.inf]
    a: list = []
    b: list = []
    w: list = []

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
            ok = np.flatnonzero(_fits(a, b, w, rel[t] + start[first:],
                                      rel[t] + finish[first:], work[first:], slots))
            if len(ok):
                best[0] = min(best[0], total + lat[first + ok[0]])
            return True
        for k in range(first, len(lat)):
            if total + lat[k] + tail_min[i + 1] >= best[0] - TOL:
                break   # latencies only grow along the choices
            one = slice(k, k + 1)
            if not _fits(a, b, w, rel[t] + start[one], rel[t] + finish[one], work[one],
                         slots)[0]:
                continue
            chosen[i] = k
            a.append(float(rel[t] + start[k]))
            b.append(float(rel[t] + finish[k]))
            w.append(float(work[k]))
            if not dfs(i + 1, total + lat[k]):
                return False
            a.pop()
            b.pop()
            w.pop()
        return True

    if dfs(0, 0.0):
        return float(best[0]), True
    return float(floor.sum()), False


def device_bound(problem: Problem, *, time_limit_s: float = 5.0) -> float:
    """Σ latency bound counting the mandatory device work and its queue (latency and
    deadline kinds; ``-inf`` otherwise). See the module docstring for the proof."""
    from .bounds import _windows
    from .dp import path_bound

    if problem.instance.objective.kind not in ("latency", "deadline"):
        return -np.inf
    started = time.perf_counter()
    lb = path_bound(problem).task_value
    if not np.isfinite(lb).all():
        return -np.inf
    _, _, head, tail = _windows(problem)
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

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
from numba import njit

from offloadlab.problem import Problem

TOL = 1e-9


def task_steps(problem: Problem, t: int, head: np.ndarray, tail: np.ndarray,
               lb: float, n_grid: int = 20, n_pieces: int = 6,
               pinned: np.ndarray | None = None, top: float = np.inf,
               deadline: float = np.inf):
    """The admissible latencies of task ``t`` and, for each, the mandatory device work
    (seconds) and its window relative to the release (with ``pinned``, a mask over the
    task's layers: over the plans that run those layers on its device, the grid
    reaching ``top`` when finite, beyond which no work is counted; :class:`OutOfTime`
    past ``deadline``).

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
    vals = v[np.isfinite(v) & (v > lb)]
    v_top = float(vals.max()) if len(vals) else lb
    # pieces [p_j, p_{j+1}): a latency L in a piece is below p_{j+1}, so it keeps the
    # closure M(p_{j+1}) on the device (every v_l is a boundary: the first round is
    # {v_l > p_j}); it costs at least p_j and the closure's least latency, and each
    # pinned layer finishes before p_{j+1} - rest
    grid = np.linspace(lb, v_top, n_grid + 1) if v_top > lb else np.array([lb])
    pin_source = pinned is not None
    if pin_source and np.isfinite(top) and top > lb:   # dense near lb
        dense = lb + (top - lb) * np.linspace(0, 1, n_grid + 1) ** 3
        grid = np.concatenate([grid, dense])
    points = np.unique(np.concatenate([[lb], vals, grid]))
    nxt = np.append(points[1:], np.inf)
    graph = _TaskGraph(problem, t)
    h_t, t_t = head[layers], tail[layers]
    first = pinned
    out = []
    closed = closures(graph, h_t, t_t, nxt, first=first, deadline=deadline)
    for j, c in enumerate(points):
        if not np.isfinite(nxt[j]):   # the rest, relaxed to no device work
            least = closed[j][3] if pin_source else c
            z = np.zeros(n_pieces)
            out.append((max(float(c), least), z, z, z))
            break
        must, h, tl, least = closed[j]
        if not least < nxt[j]:
            continue   # no latency below p_{j+1} with M(p_{j+1}) on the device
        cost = max(float(c), least)
        if not must.any():
            z = np.zeros(n_pieces)
            out.append((cost, z, z, z))
            break   # larger latencies need nothing on the device
        ex = graph.ex[must, d]
        start, finish = h[must, d], nxt[j] - (tl[must, d] - ex)
        pieces = _pieces(start, finish, ex, n_pieces)
        work, lo, hi = (x[None, :] for x in pieces)
        none = np.zeros((1, 0))
        if _fits_all(none, none, none, lo, hi, work, problem.pools[d])[0] and \
                (ex <= (finish - start) * (1 + TOL) + TOL).all():
            out.append((cost,) + pieces)
    if not out:
        z = np.zeros((1, n_pieces))
        return np.array([np.inf]), z, z, z
    out.sort(key=lambda o: o[0])
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



class _TaskGraph:
    """Local view of one task for :func:`pinned_windows`: predecessors and successors
    in local indices, ancestor matrix, lags and execution times (inf where not
    allowed)."""

    def __init__(self, problem: Problem, t: int):
        from .dp import edge_lag, input_lag, return_lag

        layers = problem.task_layers[t]
        loc = {int(g): i for i, g in enumerate(layers)}
        self.device = int(problem.task_device[t])
        self.pools = problem.pools
        self.gcycles = problem.gcycles[layers]
        self.preds = [[loc[int(q)] for q in problem.preds(g)] for g in layers]
        self.succs = [[loc[int(u)] for u in problem.succs[g]] for g in layers]
        self.pred_ptr, self.pred_idx = _csr(self.preds)
        self.succ_ptr, self.succ_idx = _csr(self.succs)
        n = len(layers)
        self.anc = np.zeros((n, n), dtype=bool)
        for i in range(n):
            for q in self.preds[i]:
                self.anc[i] |= self.anc[q]
                self.anc[i, q] = True
        self.allowed = problem.allowed[layers]
        self.ex = np.where(self.allowed, problem.exec_s[layers], np.inf)
        self.lag = np.stack([edge_lag(problem, int(g)) for g in layers])      # (n, S, S)
        self.source = np.stack([input_lag(problem, int(g)) for g in layers])  # (n, S)
        self.ret = np.stack([return_lag(problem, int(g)) if problem.is_sink[g]
                             else np.full(problem.n_servers, -np.inf) for g in layers])


def _csr(lists):
    ptr = np.zeros(len(lists) + 1, dtype=np.int64)
    ptr[1:] = np.cumsum([len(x) for x in lists])
    return ptr, np.array([v for x in lists for v in x], dtype=np.int64)


def pinned_windows(graph: _TaskGraph, head: np.ndarray, tail: np.ndarray, cap: float,
                   target: int | None = None, first: np.ndarray | None = None):
    """The layers of one task that a latency below ``cap`` keeps on its device (or on
    server ``target``, given that the layers ``first`` run there), closed under the
    contention-free windows they imply.

    ``head``, ``tail``: the task's (n, S) windows (valid in every plan). Round ``k``
    pins ``M_k`` to the device (``M_0`` empty) and recomputes the windows over the plans
    that keep ``M_k`` there: the contention-free recursions of
    :func:`offloadlab.formulations.dp.time_bounds` with ``M_k`` allowed only on the
    device, never below the given windows, and a pinned layer's head (tail) at least
    ``e + W_e / pools``, where ``W_e`` is the device work of its pinned ancestors
    (descendants) whose heads (least times to the end after them) are at least ``e``
    (they take their turns on the device's slots before it starts, after it ends).
    ``M_{k+1}`` adds every layer whose least off-device ``head + tail`` is at least
    ``cap``. By induction every plan with latency below ``cap`` keeps ``M_k`` on the
    device and meets the round-``k`` windows; the fixed point is returned. With
    ``target``, the same over the plans that run ``first`` on ``target`` (``M_0 =
    first``): only this task's layers are queued, other tasks only add to the wait.

    Returns ``(must, head, tail, latency)``: the pinned layers (bool (n,)), the windows
    (inf where a layer may not run) and the least latency they allow (inf: no plan has
    a latency below ``cap``).
    """
    d = graph.device if target is None else int(target)
    n = len(graph.preds)
    must = np.zeros(n, dtype=bool)
    allowed = graph.allowed
    other = allowed.copy()
    other[:, d] = False
    new = np.zeros(n, dtype=bool) if first is None else first.copy()
    while True:
        with np.errstate(invalid="ignore"):
            off = np.where(other, head + tail, np.inf).min(axis=1)
        new |= ~must & (off >= cap)
        if not new.any():
            break
        must |= new
        new = np.zeros(n, dtype=bool)
        if not allowed[must, d].all():
            return must, head, tail, np.inf
        allowed = graph.allowed.copy()
        allowed[must] = False
        allowed[must, d] = True
        head, tail = _recursions(graph, allowed, must, head, tail, d)
    with np.errstate(invalid="ignore"):
        latency = float(np.where(allowed, head + tail, np.inf).min(axis=1).max())
    return must, head, tail, latency


class OutOfTime(Exception):
    """A ``deadline`` (a ``time.perf_counter()`` value) passed during :func:`closures`."""


def closures(graph: _TaskGraph, head: np.ndarray, tail: np.ndarray, caps: np.ndarray,
             target: int | None = None, first: np.ndarray | None = None,
             deadline: float = np.inf) -> list:
    """:func:`pinned_windows` at each of ``caps`` (any order), computed from the
    largest cap down: the closure below a cap holds below every smaller cap, so each
    starts from the one above (same fixed point, fewer rounds). Raises
    :class:`OutOfTime` past ``deadline``."""
    out: list = [None] * len(caps)
    h, t, must = head, tail, first
    for j in np.argsort(-np.asarray(caps), kind="stable"):
        if time.perf_counter() > deadline:
            raise OutOfTime
        res = pinned_windows(graph, h, t, float(caps[j]), target=target, first=must)
        out[j] = res
        if np.isfinite(res[3]):
            must, h, t = res[0], res[1], res[2]
    return out


def _recursions(graph: _TaskGraph, allowed, must, head0, tail0, d: int):
    """Heads and tails over the plans with ``allowed`` placements (see
    :func:`pinned_windows`), never below ``head0``/``tail0``; ``must`` queue on ``d``."""
    return _recursions_nb(graph.pred_ptr, graph.pred_idx, graph.succ_ptr, graph.succ_idx,
                          graph.anc, must, allowed, graph.ex, graph.lag, graph.source,
                          graph.ret, head0, tail0, d, float(graph.pools[d]))


@njit(cache=True)
def _recursions_nb(pred_ptr, pred_idx, succ_ptr, succ_idx, anc, must, allowed, ex_all,
                   lag, source, ret, head0, tail0, d, slots):  # pragma: no cover - numba
    n, n_s = ex_all.shape
    inf = np.inf
    ex = np.where(allowed, ex_all, inf)
    head = np.full((n, n_s), inf)
    tail = np.full((n, n_s), inf)
    h = np.empty(n_s)
    for i in range(n):
        if pred_ptr[i + 1] > pred_ptr[i]:
            h[:] = -inf
            for k in range(pred_ptr[i], pred_ptr[i + 1]):
                q = pred_idx[k]
                for s in range(n_s):
                    best = inf
                    for s2 in range(n_s):
                        v = head[q, s2] + ex[q, s2] + lag[q, s2, s]
                        if v < best:
                            best = v
                    if best > h[s]:
                        h[s] = best
        else:
            h[:] = source[i]
        for s in range(n_s):
            head[i, s] = max(h[s], head0[i, s]) if allowed[i, s] else inf
        if must[i] and allowed[i, d]:
            head[i, d] = max(head[i, d], _queued_nb(head[:, d], ex[:, d], anc[i], must,
                                                    slots))
    rest_d = np.full(n, inf)
    r = np.empty(n_s)
    for i in range(n - 1, -1, -1):
        for s in range(n_s):
            r[s] = ret[i, s]
        for k in range(succ_ptr[i], succ_ptr[i + 1]):
            u = succ_idx[k]
            for s in range(n_s):
                best = inf
                for s2 in range(n_s):
                    v = lag[i, s, s2] + tail[u, s2]
                    if v < best:
                        best = v
                if best > r[s]:
                    r[s] = best
        for s in range(n_s):
            if r[s] < 0.0:
                r[s] = 0.0
        if must[i] and allowed[i, d]:
            r[d] = max(r[d], _queued_nb(rest_d, ex[:, d], anc[:, i], must, slots))
        for s in range(n_s):
            tail[i, s] = max(ex[i, s] + r[s], tail0[i, s]) if allowed[i, s] else inf
        rest_d[i] = tail[i, d] - ex[i, d] if allowed[i, d] else inf
    return head, tail


@njit(cache=True)
def _queued_nb(start, work, related, must, slots):  # pragma: no cover - numba
    """:func:`_queued` over the pinned layers ``related`` (bool mask)."""
    idx = np.flatnonzero(related & must)
    if len(idx) == 0:
        return -np.inf
    st = start[idx]
    order = np.argsort(-st)
    best, cum = -np.inf, 0.0
    for k in order:
        cum += work[idx[k]]
        v = st[k] + cum / slots
        if v > best:
            best = v
    return best


def _queued(start: np.ndarray, work: np.ndarray, slots: int) -> float:
    """``max_e (e + Σ_{start >= e} work / slots)``: the least time by which jobs that
    start no earlier than their ``start`` have all run on ``slots`` slots."""
    order = np.argsort(-start, kind="stable")
    return float(np.max(start[order] + np.cumsum(work[order]) / slots))

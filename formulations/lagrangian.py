"""A contention-aware lower bound for the latency-type objectives (``latency``, ``deadline``).

The time-indexed Lagrangian relaxation of the pool capacities. Time ``[0, H)`` is cut
into buckets of ``delta_s``; every feasible schedule satisfies, for every server ``s``
and bucket ``k``, the aggregated capacity constraint

    busy time of s inside bucket k  <=  pools_s * delta_s .

Relaxing these with multipliers ``lam[s, k] >= 0`` leaves one independent problem per
task: choose a server and a start time per layer, respecting precedence and transfer
lags, minimising latency plus the price ``integral of lam over the layer's run``. The
dual function ``L(lam) = sum_t min_t(lam) - sum_{s,k} lam[s, k] pools_s delta_s`` is a
lower bound on the optimum for any ``lam >= 0``; it is raised by a subgradient method.

Each task's problem is solved by a dynamic programme over (layer, server, start bucket)
that is itself a relaxation, so the bound stays valid with discretised time:

* the state ``j`` of a layer means "starts in ``[j delta, (j+1) delta)``"; its price is
  the minimum of the exact price over that interval (at the interval ends or where the
  finish crosses a bucket boundary; the price is piecewise linear in the start);
* precedence ``S_l >= S_p + d_p + lag`` is relaxed to ``j_l >= j_p + floor((d_p +
  lag) / delta)``, and the latency to ``j delta + d + return - release``, both implied
  by the true constraints (rounding only loses, at most ``delta`` per arc);
* every layer starts within a window of buckets: from its contention-free head to the
  latency cap minus its contention-free tail (both hold in every schedule within the
  cap); without the windows the floors of short layers add up along a path;
* for a DAG, each layer keeps one successor arc (:func:`in_tree`, the one with the
  longest tail); the kept arcs form an in-tree per sink, so the partial values of a
  layer's predecessors add up and every layer is priced exactly once; the dropped arcs
  are relaxed (the windows stand in for them);
* a task's term is at least its contention-free latency (prices are nonnegative), which
  floors the per-task value against the rounding losses;
* the horizon: a plan better than the incumbent ``UB`` has every task latency at most
  ``UB - sum of the other tasks' contention-free latencies``, so starts beyond that
  horizon are never needed and the reported bound is ``min(UB, max_lam L(lam))``.

Tasks with the same model, device, release and deadline have identical subproblems and
are solved once. Every iterate's relaxed schedule (servers and start order) is also
scored by the simulator as a candidate plan (a Lagrangian heuristic).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from numba import njit

from offloadlab.graph import is_chain
from offloadlab.problem import Problem
from offloadlab.simulator import simulate

from .dp import edge_lag, path_bound, return_lag, time_bounds

KINDS = ("latency", "deadline")
BIG = np.int64(1) << 40


@dataclass
class LagrangianResult:
    """Outcome of :func:`lagrangian_bound`.

    Attributes
    ----------
    bound : float
        Proven lower bound (seconds of summed latency): ``min(upper, best L(lam))``.
    dual_values : list of float
        ``L(lam)`` per iteration.
    delta_s : float
        Bucket length.
    iterations : int
    best_assign, best_priority : numpy.ndarray or None
        Best plan found among the relaxed schedules (scored by the simulator).
    best_objective : float
        Its simulated objective (inf without one).
    """

    bound: float
    dual_values: list = field(default_factory=list)
    delta_s: float = 0.0
    iterations: int = 0
    best_assign: np.ndarray | None = None
    best_priority: np.ndarray | None = None
    best_objective: float = np.inf
    evaluations: int = 0


# --- the per-task dynamic programme (compiled) -----------------------------------------


@njit(cache=True, inline="always")
def _cum_idx(cum, lam, s, k, r, n_t):
    """Integral of lam[s] over [0, k delta + r) for 0 <= r < delta."""
    if k >= n_t:
        return cum[s, n_t]
    return cum[s, k] + lam[s, k] * r


@njit(cache=True)
def _task_dp(pred_ptr, pred_loc, shift, arc_of, src_bucket, last_start, dur, priced, cum,
             lam, delta, n_t, sink_time, last_bucket, tree, f, pmin, parg, cost, best_start):
    """Fill f[l, b, j] (minimum partial value) for one task's layers in topological
    order; pmin/parg hold prefix minima over j; cost/best_start the bucket prices.
    ``src_bucket[l, b]..last_start[l, b]`` is the window of start buckets of l on b.

    With ``tree`` the arcs given are those of an in-tree (each layer keeps one
    successor arc), so the partial values of a layer's predecessors add up and every
    layer is priced once; the value is ``max_k (A_k - B_k) + sum_k B_k`` over the sinks
    k, with ``A_k`` the least price-plus-latency and ``B_k`` the least price of sink k's
    tree. Without it (every arc, for the insertion heuristic) a layer takes its most
    expensive predecessor and the value is ``max_k A_k``.
    """
    n, n_s = dur.shape
    inf = np.inf
    value = -inf
    priced_sum = 0.0
    is_sink = _sinks(sink_time)
    for l in range(n):
        for b in range(n_s):
            d = dur[l, b]
            if not np.isfinite(d):
                for j in range(n_t):
                    f[l, b, j] = inf
                    pmin[l, b, j] = inf
                    parg[l, b, j] = -1
                continue
            # prices per start bucket: at the bucket's two ends and where the finish
            # crosses a bucket boundary (the price is piecewise linear in the start)
            if not priced[b]:
                for j in range(n_t):
                    cost[l, b, j] = 0.0
                    best_start[l, b, j] = j * delta
            else:
                q = int(np.floor(d / delta))
                r = d - q * delta
                for j in range(n_t):
                    e0 = j + q
                    c0 = _cum_idx(cum, lam, b, e0, r, n_t) - cum[b, j]
                    bs = j * delta
                    if j + 1 <= n_t:
                        c1 = _cum_idx(cum, lam, b, e0 + 1, r, n_t) - cum[b, j + 1]
                        if c1 < c0:
                            c0, bs = c1, (j + 1) * delta
                    if r > 0.0:
                        c2 = _cum_idx(cum, lam, b, e0 + 1, 0.0, n_t) - (
                            cum[b, j] + lam[b, j] * (delta - r))
                        if c2 < c0:
                            c0, bs = c2, j * delta + (delta - r)
                    cost[l, b, j] = max(c0, 0.0)
                    best_start[l, b, j] = bs
            # predecessors
            p0, p1 = pred_ptr[l], pred_ptr[l + 1]
            first = src_bucket[l, b]
            last = last_start[l, b]
            if p0 == p1:
                for j in range(n_t):
                    f[l, b, j] = cost[l, b, j] if first <= j <= last else inf
            else:
                worst = np.zeros(n_t) if tree else np.full(n_t, -inf)
                best = np.empty(n_t)
                for k in range(p0, p1):
                    p = pred_loc[k]
                    arc = arc_of[k]
                    best[:] = inf
                    for a in range(n_s):
                        c = shift[arc, a, b]
                        if c >= BIG or c >= n_t:
                            continue
                        for j in range(c, n_t):
                            v = pmin[p, a, j - c]
                            if v < best[j]:
                                best[j] = v
                    for j in range(n_t):
                        if tree:   # disjoint subtrees: their prices add up
                            worst[j] += best[j]
                        elif best[j] > worst[j]:
                            worst[j] = best[j]
                for j in range(n_t):
                    f[l, b, j] = cost[l, b, j] + worst[j] if first <= j <= last else inf
            # prefix minima
            run = inf
            arg = -1
            for j in range(n_t):
                if f[l, b, j] < run:
                    run = f[l, b, j]
                    arg = j
                pmin[l, b, j] = run
                parg[l, b, j] = arg
        if is_sink[l]:
            best = inf
            free = inf
            for b in range(n_s):
                if not np.isfinite(sink_time[l, b]):
                    continue
                top = min(n_t, last_bucket[l, b] + 1)
                for j in range(top):
                    v = f[l, b, j] + j * delta + sink_time[l, b]
                    if v < best:
                        best = v
                    if f[l, b, j] < free:
                        free = f[l, b, j]
            # trees of different sinks: their prices add up, the latency is the
            # latest sink's: max_k (A_k - B_k) + sum_k B_k
            if not np.isfinite(best):
                return inf
            if not tree:
                free = 0.0
            priced_sum += free
            if best - free > value:
                value = best - free
    return value + priced_sum


@njit(cache=True)
def _sinks(sink_time):
    out = np.zeros(sink_time.shape[0], dtype=np.bool_)
    for l in range(sink_time.shape[0]):
        for b in range(sink_time.shape[1]):
            if np.isfinite(sink_time[l, b]):
                out[l] = True
    return out


@njit(cache=True)
def _backtrack(pred_ptr, pred_loc, shift, arc_of, dur, delta, n_t, sink_time, last_bucket,
               f, pmin, parg, best_start, server, start):
    """A relaxed schedule attaining the value (first choice wins on shared ancestors)."""
    n, n_s = dur.shape
    server[:] = -1
    bucket = np.full(n, -1, dtype=np.int64)
    stack = np.empty(n, dtype=np.int64)
    top = 0
    for l in range(n):
        if not np.isfinite(sink_time[l, :]).any():
            continue
        best, bb, bj = np.inf, -1, -1
        for b in range(n_s):
            if not np.isfinite(sink_time[l, b]):
                continue
            for j in range(min(n_t, last_bucket[l, b] + 1)):
                v = f[l, b, j] + j * delta + sink_time[l, b]
                if v < best:
                    best, bb, bj = v, b, j
        if bb < 0 or server[l] >= 0:
            continue
        server[l], bucket[l] = bb, bj
        stack[top] = l
        top += 1
    while top > 0:
        top -= 1
        l = stack[top]
        b, j = server[l], bucket[l]
        start[l] = best_start[l, b, j]
        for k in range(pred_ptr[l], pred_ptr[l + 1]):
            p = pred_loc[k]
            if server[p] >= 0:
                continue
            arc = arc_of[k]
            best, ba, bj = np.inf, -1, -1
            for a in range(n_s):
                c = shift[arc, a, b]
                if c >= BIG or j - c < 0:
                    continue
                v = pmin[p, a, j - c]
                if v < best:
                    best, ba, bj = v, a, parg[p, a, j - c]
            if ba < 0:
                continue
            server[p], bucket[p] = ba, bj
            stack[top] = p
            top += 1


@njit(cache=True)
def _occupy(occ, b, start, dur, delta, n_t, weight):
    """Add weight * overlap of [start, start + dur) with every bucket of server b."""
    end = start + dur
    k = int(np.floor(start / delta))
    while k < n_t and k * delta < end:
        if k >= 0:
            lo = max(start, k * delta)
            hi = min(end, (k + 1) * delta)
            if hi > lo:
                occ[b, k] += weight * (hi - lo)
        k += 1


# --- preparing the task classes ---------------------------------------------------------


@dataclass
class _TaskClass:
    tasks: list            # task indices sharing this subproblem
    layers: np.ndarray     # global layer indices (topological)
    pred_ptr: np.ndarray
    pred_loc: np.ndarray
    arc_of: np.ndarray
    shift: np.ndarray      # (arcs, S, S)
    src_bucket: np.ndarray  # (n, S) first start bucket (contention-free head)
    last_start: np.ndarray  # (n, S) last start bucket (latency cap minus the tail)
    dur: np.ndarray        # (n, S) inf where not allowed
    sink_time: np.ndarray  # (n, S) d + return - release, inf where not a sink/allowed
    last_bucket: np.ndarray  # (n, S) last start bucket meeting the horizon/deadline


def _classes(problem: Problem, delta: float, n_t: int, horizon_lat: np.ndarray,
             tree: bool = True):
    """Group identical tasks and build their DP data."""
    inst = problem.instance
    head, tail = time_bounds(problem)
    keep = in_tree(problem, tail) if tree else None
    groups: dict = {}
    for t, task in enumerate(inst.tasks):
        key = (task.model, int(problem.task_device[t]), float(problem.release_s[t]),
               float(problem.deadline_s[t]), float(horizon_lat[t]))
        groups.setdefault(key, []).append(t)
    out = []
    for tasks in groups.values():
        t = tasks[0]
        layers = problem.task_layers[t]
        loc = {int(g): i for i, g in enumerate(layers)}
        n = len(layers)
        rel = problem.release_s[t]
        dur = np.where(problem.allowed[layers], problem.exec_s[layers], np.inf)
        ptr = np.zeros(n + 1, dtype=np.int64)
        pl, shifts = [], []
        sink = np.full((n, problem.n_servers), np.inf)
        last = np.full((n, problem.n_servers), -1, dtype=np.int64)
        limit = min(horizon_lat[t], problem.deadline_s[t])  # latency cap
        # start windows: no layer starts before its contention-free head, nor later
        # than the latency cap minus its contention-free tail (both valid for every
        # schedule within the cap); without them the floors of short layers add up
        with np.errstate(invalid="ignore"):
            lo = np.floor((rel + head[layers]) / delta)
            hi = np.floor((rel + limit - tail[layers]) / delta + 1e-9)
        ok = np.isfinite(lo) & np.isfinite(hi) & np.isfinite(dur)
        src = np.where(ok, np.where(ok, lo, 0), BIG).astype(np.int64)
        last_start = np.where(ok, np.minimum(np.where(ok, hi, 0), n_t - 1), -1).astype(np.int64)
        if not tree:   # the insertion heuristic: only the input's arrival, as before
            last_start[:] = n_t - 1
            src[:] = np.where(np.isfinite(dur), 0, BIG)
            sources = np.array([not len(problem.preds(g)) for g in layers])
            src[sources] = np.where(ok[sources], lo[sources], BIG).astype(np.int64)
        for i, g in enumerate(layers):
            preds = [p for p in problem.preds(g) if keep is None or keep[int(p)] == g]
            ptr[i + 1] = ptr[i] + len(preds)
            for p in preds:
                pi = loc[int(p)]
                pl.append(pi)
                with np.errstate(invalid="ignore"):
                    tot = dur[pi][:, None] + edge_lag(problem, p)
                sh = np.where(np.isfinite(tot), np.floor(np.where(np.isfinite(tot), tot, 0)
                                                         / delta), BIG)
                shifts.append(sh.astype(np.int64))
            if problem.is_sink[g]:
                st = dur[i] + return_lag(problem, g) - rel
                sink[i] = np.where(np.isfinite(st), st, np.inf)
                with np.errstate(invalid="ignore"):
                    lastf = np.floor((rel + limit - st) / delta + 1e-9)
                last[i] = np.where(np.isfinite(lastf), np.minimum(lastf, n_t - 1), -1)
        out.append(_TaskClass(tasks, np.asarray(layers), ptr,
                              np.array(pl, dtype=np.int64),
                              np.arange(len(pl), dtype=np.int64),
                              np.array(shifts, dtype=np.int64).reshape(
                                  len(shifts), problem.n_servers, problem.n_servers),
                              src, last_start, dur, sink, last))
    return out


def in_tree(problem: Problem, tail: np.ndarray) -> np.ndarray:
    """(L,) the one successor arc each layer keeps in the relaxation (-1: a sink).

    The kept arcs form an in-tree per sink, so a layer's predecessors have disjoint
    subtrees and their prices add up exactly. Each layer keeps the successor with the
    longest contention-free tail (the critical path); the arcs it drops are replaced by
    the start windows of :func:`_classes`.
    """
    keep = np.full(problem.n_layers, -1, dtype=np.int64)
    with np.errstate(invalid="ignore"):
        rest = np.where(problem.allowed, tail, np.inf).min(axis=1)
    for g, succ in enumerate(problem.succs):
        if succ:
            keep[g] = max(succ, key=lambda u: (rest[u], -u))
    return keep


def contended_servers(problem: Problem) -> np.ndarray:
    """(S,) True where more layers may run at once than the server has slots."""
    from .milp import _reachability, _width

    chain = is_chain(problem)
    desc = None if chain else _reachability(problem)
    out = np.zeros(problem.n_servers, dtype=bool)
    for s in range(problem.n_servers):
        busy = 0
        for t, layers in enumerate(problem.task_layers):
            mine = [int(g) for g in layers if problem.allowed[g, s]]
            if mine:
                busy += 1 if chain else _width(mine, desc)
            if busy > problem.pools[s]:
                out[s] = True
                break
    return out


# --- the subgradient method ------------------------------------------------------------


def lagrangian_bound(problem: Problem, upper: float, *, time_limit_s: float = 20.0,
                     max_iter: int = 3000, n_buckets: int | None = None,
                     work_per_iter: float = 6e7, log=None) -> LagrangianResult:
    """Maximise the time-indexed Lagrangian dual (see the module docstring).

    Parameters
    ----------
    problem : Problem
        A ``latency`` or ``deadline`` instance.
    upper : float
        Objective of a feasible plan (sets the horizon and the Polyak step).
    time_limit_s : float
        Wall-clock budget for the iterations.
    max_iter : int
    n_buckets : int, optional
        Buckets over the horizon; default: as many as ``work_per_iter`` DP steps allow
        (between 200 and 6000).
    """
    kind = problem.instance.objective.kind
    if kind not in KINDS:
        raise ValueError(f"the Lagrangian bound covers {KINDS}, not {kind!r}")
    started = time.perf_counter()
    pb = path_bound(problem)
    if not np.isfinite(pb.bound):
        return LagrangianResult(np.inf)
    if not np.isfinite(upper):
        raise ValueError("the Lagrangian bound needs a finite incumbent value")
    lb_t = pb.task_value
    horizon_lat = upper - (lb_t.sum() - lb_t)           # per-task latency cap
    horizon = float((problem.release_s + horizon_lat).max()) * (1 + 1e-9) + 1e-12
    priced = contended_servers(problem)
    if not priced.any():
        return LagrangianResult(min(upper, pb.bound))
    if n_buckets is None:
        steps = sum(len(ls) for ls in _distinct_layers(problem)) * problem.n_servers ** 2
        n_buckets = int(np.clip(work_per_iter / max(steps, 1), 200, 6000))
    delta = horizon / n_buckets
    classes = _classes(problem, delta, n_buckets, horizon_lat)
    n_s = problem.n_servers
    lam = np.zeros((n_s, n_buckets))
    cap = (problem.pools * delta).astype(float)[:, None] * priced[:, None]
    res = LagrangianResult(-np.inf, delta_s=delta)
    theta = 1.0
    stall = 0
    best_dual = best_floored = -np.inf
    ws = _workspace(classes, n_s, n_buckets)
    # plans come from the programme over every arc (consistent branch servers); the
    # in-tree relaxation's own schedules place the branches of a fork independently
    every_arc = _classes(problem, delta, n_buckets, horizon_lat, tree=False)
    ws_arc = _workspace(every_arc, n_s, n_buckets)
    for it in range(max_iter):
        if it and time.perf_counter() - started > time_limit_s:
            break
        cum = np.zeros((n_s, n_buckets + 1))
        np.cumsum(lam * delta, axis=1, out=cum[:, 1:])
        occ = np.zeros((n_s, n_buckets))
        total = floored = 0.0
        servers = np.full(problem.n_layers, -1, dtype=np.int64)
        starts = np.zeros(problem.n_layers)
        for c, w in zip(classes, ws):
            v = _task_dp(c.pred_ptr, c.pred_loc, c.shift, c.arc_of, c.src_bucket,
                         c.last_start, c.dur,
                         priced, cum, lam, delta, n_buckets, c.sink_time, c.last_bucket,
                         True, *w)
            if not np.isfinite(v):
                # no relaxed schedule within the horizon: no plan beats the incumbent
                res.bound = upper
                res.iterations = it + 1
                return res
            # min over the task's schedules of latency + price is at least its
            # contention-free latency (prices are >= 0): a floor against rounding losses
            floored += max(v, lb_t[c.tasks[0]]) * len(c.tasks)
            total += v * len(c.tasks)
            srv = np.empty(len(c.layers), dtype=np.int64)
            st = np.zeros(len(c.layers))
            _backtrack(c.pred_ptr, c.pred_loc, c.shift, c.arc_of, c.dur, delta, n_buckets,
                       c.sink_time, c.last_bucket, w[0], w[1], w[2], w[4], srv, st)
            srv = np.where(srv >= 0, srv, np.argmin(np.where(np.isfinite(c.dur), c.dur,
                                                             np.inf), axis=1))
            for i in range(len(c.layers)):
                if priced[srv[i]]:
                    _occupy(occ, srv[i], st[i], c.dur[i, srv[i]], delta, n_buckets,
                            float(len(c.tasks)))
            for t in c.tasks:
                g = problem.task_layers[t]
                servers[g] = srv
                starts[g] = st + problem.release_s[t] - problem.release_s[c.tasks[0]]
        dual = total - float((lam * cap).sum())   # the steps follow the relaxed dual
        res.dual_values.append(dual)
        best_floored = max(best_floored, floored - float((lam * cap).sum()))
        restart = False
        if dual > best_dual + 1e-9 * abs(best_dual if np.isfinite(best_dual) else 1):
            best_dual, stall, best_lam = dual, 0, lam
        else:
            stall += 1
            if stall >= 8:
                theta, stall, restart = theta / 2, 0, True
        _candidate(problem, res, servers, starts)
        if it % 4 == 0:
            _candidate(problem, res, *_relaxed_plan(problem, every_arc, ws_arc, priced, cum,
                                                    lam, delta, n_buckets))
        if log:
            log(it, dual, best_dual, res.best_objective)
        grad = (occ - cap) * priced[:, None]
        grad[(lam <= 0) & (grad < 0)] = 0.0
        norm = float((grad ** 2).sum())
        target = min(upper, res.best_objective)
        if norm <= 0 or best_dual >= target - 1e-12 or theta < 1e-4:
            res.iterations = it + 1
            break
        if restart:   # smaller steps, from the best multipliers so far
            lam = best_lam
            res.iterations = it + 1
            continue
        lam = np.maximum(0.0, lam + theta * (target - dual) / norm * grad)
        res.iterations = it + 1
    res.bound = float(min(upper, max(best_dual, best_floored, pb.bound)))
    return res


def _relaxed_plan(problem: Problem, classes, ws, priced, cum, lam, delta, n_t):
    """Servers and relaxed starts of every task's cheapest path over all its arcs."""
    servers = np.full(problem.n_layers, -1, dtype=np.int64)
    starts = np.zeros(problem.n_layers)
    for c, w in zip(classes, ws):
        v = _task_dp(c.pred_ptr, c.pred_loc, c.shift, c.arc_of, c.src_bucket, c.last_start,
                     c.dur, priced, cum, lam, delta, n_t, c.sink_time, c.last_bucket,
                     False, *w)
        if not np.isfinite(v):
            continue
        srv = np.empty(len(c.layers), dtype=np.int64)
        st = np.zeros(len(c.layers))
        _backtrack(c.pred_ptr, c.pred_loc, c.shift, c.arc_of, c.dur, delta, n_t,
                   c.sink_time, c.last_bucket, w[0], w[1], w[2], w[4], srv, st)
        srv = np.where(srv >= 0, srv, np.argmin(c.dur, axis=1))
        for t in c.tasks:
            g = problem.task_layers[t]
            servers[g] = srv
            starts[g] = st + problem.release_s[t] - problem.release_s[c.tasks[0]]
    return servers, starts


def _distinct_layers(problem: Problem):
    seen, out = set(), []
    for t, task in enumerate(problem.instance.tasks):
        key = (task.model, int(problem.task_device[t]), float(problem.release_s[t]))
        if key not in seen:
            seen.add(key)
            out.append(problem.task_layers[t])
    return out


def _workspace(classes, n_s, n_t):
    out = []
    for c in classes:
        n = len(c.layers)
        out.append((np.empty((n, n_s, n_t)), np.empty((n, n_s, n_t)),
                    np.empty((n, n_s, n_t), dtype=np.int64), np.empty((n, n_s, n_t)),
                    np.empty((n, n_s, n_t))))
    return out


def _candidate(problem: Problem, res: LagrangianResult, servers, starts) -> None:
    """Score the relaxed schedule's servers, listed by relaxed start, with the simulator."""
    from .milp import start_order

    if (servers < 0).any():
        return
    prio = start_order(problem, starts)
    value = float(simulate(problem, servers, prio).objective[0])
    res.evaluations += 1
    if value < res.best_objective:
        res.best_objective = value
        res.best_assign, res.best_priority = servers.copy(), prio


# --- sequential insertion: a primal heuristic on the same programme -------------------


def _full_price(problem: Problem, occ: np.ndarray, delta: float, penalty: float):
    """Prices that make a task avoid buckets whose last slot others already use."""
    free = problem.pools[:, None] * delta - occ
    return penalty * np.clip((delta - free) / delta, 0.0, 1.0)


def _occupancy(problem, assign, start, finish, skip_task, delta, n_t):
    occ = np.zeros((problem.n_servers, n_t))
    for g in np.flatnonzero(problem.layer_task != skip_task):
        _occupy(occ, int(assign[g]), float(start[g]), float(finish[g] - start[g]), delta,
                n_t, 1.0)
    return occ


def insertion_search(problem: Problem, upper: float, *, seed: int = 0,
                     time_limit_s: float = 10.0, n_buckets: int = 2000,
                     start_assign=None, start_priority=None):
    """Re-plan one task at a time by the programme, others fixed (ruin and recreate).

    Each task's new path is the cheapest under prices that penalise buckets where the
    other tasks (as the simulator scheduled them) fill every slot; the candidate plan is
    listed by start time and scored by the simulator, and kept when it is better.
    Deterministic for a given ``seed`` (the visiting order of the tasks).

    Returns
    -------
    (assign, priority, objective, evaluations)
    """
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    pb = path_bound(problem)
    lb_t = pb.task_value
    horizon_lat = np.maximum(upper - (lb_t.sum() - lb_t), lb_t) * 1.5
    horizon = float((problem.release_s + horizon_lat).max())
    delta = horizon / n_buckets
    classes = _classes(problem, delta, n_buckets, horizon_lat, tree=False)
    by_task = {}
    for c in classes:
        for t in c.tasks:
            by_task[t] = c
    n_s = problem.n_servers
    priced = np.ones(n_s, dtype=bool)
    ws = {id(c): _workspace([c], n_s, n_buckets)[0] for c in classes}
    if start_assign is None:
        assign, prio = pb.assign.copy(), problem.default_priority
    else:
        assign, prio = np.asarray(start_assign).copy(), np.asarray(start_priority)
    ev = simulate(problem, assign, prio)
    best = float(ev.objective[0])
    evals = 1
    penalty = 10.0 * max(upper, 1e-9)
    improved = True
    while improved and time.perf_counter() - started < time_limit_s:
        improved = False
        for t in rng.permutation(problem.n_tasks):
            if time.perf_counter() - started > time_limit_s:
                break
            c = by_task[int(t)]
            occ = _occupancy(problem, assign, ev.start_s[0], ev.finish_s[0], t, delta,
                             n_buckets)
            lam = _full_price(problem, occ, delta, penalty)
            cum = np.zeros((n_s, n_buckets + 1))
            np.cumsum(lam * delta, axis=1, out=cum[:, 1:])
            w = ws[id(c)]
            shift_rel = problem.release_s[t] - problem.release_s[c.tasks[0]]
            if shift_rel:
                continue  # the class's buckets are anchored at its first task's release
            v = _task_dp(c.pred_ptr, c.pred_loc, c.shift, c.arc_of, c.src_bucket,
                         c.last_start, c.dur,
                         priced, cum, lam, delta, n_buckets, c.sink_time, c.last_bucket,
                         False, *w)
            if not np.isfinite(v):
                continue
            srv = np.empty(len(c.layers), dtype=np.int64)
            st = np.zeros(len(c.layers))
            _backtrack(c.pred_ptr, c.pred_loc, c.shift, c.arc_of, c.dur, delta, n_buckets,
                       c.sink_time, c.last_bucket, w[0], w[1], w[2], w[4], srv, st)
            if (srv < 0).any():
                continue
            g = problem.task_layers[t]
            cand = assign.copy()
            cand[g] = srv
            starts = ev.start_s[0].copy()
            starts[g] = st
            from .milp import start_order

            cprio = start_order(problem, starts)
            cev = simulate(problem, cand, cprio)
            evals += 1
            value = float(cev.objective[0])
            if value < best - 1e-12 * max(1.0, abs(best)):
                best, assign, prio, ev = value, cand, cprio, cev
                improved = True
    return assign, prio, best, evals

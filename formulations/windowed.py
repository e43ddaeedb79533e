"""A finer time-indexed Lagrangian bound for ``deadline`` (and ``latency``) instances:
each task is priced only inside its own window of time, on its own servers.

The relaxation is the one of :mod:`.lagrangian` (proofs there): the busy time of every
contended server inside every bucket of length ``delta_s`` is at most ``pools * delta``;
pricing it with ``lam >= 0`` leaves one programme per task over (layer, server, start
bucket), each a relaxation of the task's real schedules, and for every ``lam``

    L(lam) = sum_t max(v_t(lam), lb_t) - sum_{s,k} lam[s, k] pools_s delta

is a lower bound (``lb_t`` the contention-free latency, ``v_t`` the programme's value).

What changes is where the work goes. A task's layers can only run between its release
and its latency cap (its deadline, and ``UB - sum of the other tasks' contention-free
latencies`` for a plan better than the incumbent ``UB``), so its programme runs over that
window only, with the prices of the window, and over the servers the task may use (its
own device and the shared servers) instead of all of them. On
``deadline-vgg16-paper-s0`` a task's window is a third of the horizon and it may use 5
of the 14 servers, so for the same work per iteration the buckets are several times
shorter. That matters because every arc of the programme rounds its lag down to whole
buckets: with 1.8 ms buckets the contention the bound sees (a few ms per task) is mostly
rounded away. Validity of the window: shifting the bucket index by the window's first
bucket changes no constraint, and a layer that would finish past the window's end is
charged the prices inside the window only (less: still a relaxation).

Infeasibility: with no incumbent the cap is the deadline alone; a task whose programme
has no schedule within it cannot meet its deadline in any plan (the programme is a
relaxation), which proves the instance infeasible.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from offloadlab.budget import time_left
from offloadlab.problem import Problem

from .dp import edge_lag, path_bound, return_lag, time_bounds
from .lagrangian import (BIG, _backtrack, _candidate, _occupy, _task_dp, contended_servers,
                         in_tree)

KINDS = ("latency", "deadline")


@dataclass
class WindowedResult:
    """Outcome of :func:`windowed_bound`.

    Attributes
    ----------
    bound : float
        Proven lower bound on the objective (inf: proven infeasible).
    infeasible_task : int
        A task no plan can finish by its deadline (-1 when none was found).
    delta_s : float
        Bucket length.
    iterations : int
    dual_values : list of float
        The dual ``L(lam)`` per iteration.
    best_assign, best_priority, best_objective
        The best plan among the relaxed schedules, scored by the simulator.
    """

    bound: float
    infeasible_task: int = -1
    delta_s: float = 0.0
    iterations: int = 0
    dual_values: list = field(default_factory=list)
    best_assign: np.ndarray | None = None
    best_priority: np.ndarray | None = None
    best_objective: float = np.inf
    evaluations: int = 0


@dataclass
class _Window:
    task: int
    layers: np.ndarray      # global layer indices (topological)
    servers: np.ndarray     # the servers the task may use (global indices)
    first: int              # global index of the window's first bucket
    n_t: int                # buckets in the window
    pred_ptr: np.ndarray
    pred_loc: np.ndarray
    arc_of: np.ndarray
    shift: np.ndarray       # (arcs, S_t, S_t) buckets from a start to the successor's
    src_bucket: np.ndarray  # (n, S_t) first start bucket (window-local)
    last_start: np.ndarray  # (n, S_t) last start bucket (window-local)
    dur: np.ndarray         # (n, S_t)
    sink_time: np.ndarray   # (n, S_t) d + return - release + first * delta
    last_bucket: np.ndarray  # (n, S_t)


def latency_caps(problem: Problem, upper: float | None) -> np.ndarray:
    """(T,) the largest latency of each task in a plan better than ``upper`` (and within
    its deadline): ``upper - sum of the others' contention-free latencies``."""
    lb_t = path_bound(problem).task_value
    cap = problem.deadline_s.astype(float).copy()
    if upper is not None and np.isfinite(upper):
        cap = np.minimum(cap, upper - (lb_t.sum() - lb_t))
    return cap


def _windows(problem: Problem, delta: float, cap: np.ndarray) -> list[_Window]:
    head, tail = time_bounds(problem)
    keep = in_tree(problem, tail)
    out = []
    for t, layers in enumerate(problem.task_layers):
        layers = np.asarray(layers)
        rel = float(problem.release_s[t])
        srv = np.flatnonzero(problem.allowed[layers].any(axis=0))
        first = int(np.floor(rel / delta))
        n_t = int(np.ceil((rel + cap[t]) / delta)) - first + 2
        loc = {int(g): i for i, g in enumerate(layers)}
        n = len(layers)
        dur = np.where(problem.allowed[np.ix_(layers, srv)], problem.exec_s[np.ix_(layers, srv)],
                       np.inf)
        with np.errstate(invalid="ignore"):
            lo = np.floor((rel + head[np.ix_(layers, srv)]) / delta) - first
            hi = np.floor((rel + cap[t] - tail[np.ix_(layers, srv)]) / delta + 1e-9) - first
        ok = np.isfinite(lo) & np.isfinite(hi) & np.isfinite(dur)
        src = np.where(ok, np.where(ok, lo, 0), BIG).astype(np.int64)
        last_start = np.where(ok, np.minimum(np.where(ok, hi, 0), n_t - 1), -1).astype(np.int64)
        ptr = np.zeros(n + 1, dtype=np.int64)
        pl, shifts = [], []
        sink = np.full((n, len(srv)), np.inf)
        last = np.full((n, len(srv)), -1, dtype=np.int64)
        for i, g in enumerate(layers):
            preds = [int(p) for p in problem.preds(g) if keep[int(p)] == g]
            ptr[i + 1] = ptr[i] + len(preds)
            for p in preds:
                pi = loc[p]
                with np.errstate(invalid="ignore"):
                    tot = dur[pi][:, None] + edge_lag(problem, p)[np.ix_(srv, srv)]
                fin = np.isfinite(tot)
                shifts.append(np.where(fin, np.floor(np.where(fin, tot, 0) / delta), BIG)
                              .astype(np.int64))
                pl.append(pi)
            if problem.is_sink[g]:
                st = dur[i] + return_lag(problem, g)[srv] - rel
                with np.errstate(invalid="ignore"):
                    lastf = np.floor((rel + cap[t] - st) / delta + 1e-9) - first
                fin = np.isfinite(st) & np.isfinite(lastf)
                sink[i] = np.where(fin, st + first * delta, np.inf)
                last[i] = np.where(fin, np.minimum(np.where(fin, lastf, -1), n_t - 1), -1)
        out.append(_Window(t, layers, srv, first, n_t, ptr, np.array(pl, dtype=np.int64),
                           np.arange(len(pl), dtype=np.int64),
                           np.array(shifts, dtype=np.int64).reshape(len(shifts), len(srv),
                                                                    len(srv)),
                           src, last_start, dur, sink, last))
    return out


def _bucket_length(problem: Problem, cap: np.ndarray, work_per_iter: float,
                   min_delta_s: float) -> float:
    """The bucket length that makes one pass over every window about ``work_per_iter``
    programme steps (layers x servers x (servers + 3) x buckets), at least
    ``min_delta_s``."""
    steps = 0.0
    for t, layers in enumerate(problem.task_layers):
        k = int(problem.allowed[np.asarray(layers)].any(axis=0).sum())
        steps += len(layers) * k * (k + 3) * cap[t]
    return max(min_delta_s, steps / work_per_iter)


def windowed_bound(problem: Problem, upper: float | None, *, time_limit_s: float = 20.0,
                   max_iter: int = 5000, delta_s: float | None = None,
                   work_per_iter: float = 3e7, min_delta_s: float = 2e-5,
                   stall_limit: int = 20, min_theta: float = 1e-6,
                   log=None) -> WindowedResult:
    """Maximise the windowed time-indexed Lagrangian dual by subgradient steps.

    Parameters
    ----------
    upper : float or None
        The objective of a feasible plan (caps every task's latency and sets the Polyak
        step), or None (caps are the deadlines; then needed finite).
    time_limit_s : float
        Wall-clock budget.
    delta_s : float, optional
        Bucket length; default from ``work_per_iter`` (see :func:`_bucket_length`).

    Returns
    -------
    WindowedResult
    """
    kind = problem.instance.objective.kind
    if kind not in KINDS:
        raise ValueError(f"the windowed bound covers {KINDS}, not {kind!r}")
    started = time.perf_counter()
    pb = path_bound(problem)
    if not np.isfinite(pb.bound):
        return WindowedResult(np.inf, infeasible_task=int(np.argmax(~np.isfinite(
            pb.task_value))) if not np.isfinite(pb.task_value).all() else -1)
    lb_t = pb.task_value
    cap = latency_caps(problem, upper)
    if not np.isfinite(cap).all():
        raise ValueError("the windowed bound needs an incumbent or a deadline on every task")
    has_upper = upper is not None and np.isfinite(upper)
    priced = contended_servers(problem)
    if not priced.any():
        return WindowedResult(min(upper, pb.bound) if has_upper else pb.bound)
    delta = delta_s or _bucket_length(problem, cap, work_per_iter, min_delta_s)
    wins = _windows(problem, delta, cap)
    n_glob = max(w.first + w.n_t for w in wins) + 1
    n_s = problem.n_servers
    lam = np.zeros((n_s, n_glob))
    capacity = (problem.pools * delta).astype(float)[:, None] * priced[:, None]
    res = WindowedResult(-np.inf, delta_s=delta)
    big_n = max(len(w.layers) for w in wins)
    big_s = max(len(w.servers) for w in wins)
    big_t = max(w.n_t for w in wins)
    ws = (np.empty((big_n, big_s, big_t)), np.empty((big_n, big_s, big_t)),
          np.empty((big_n, big_s, big_t), dtype=np.int64), np.empty((big_n, big_s, big_t)),
          np.empty((big_n, big_s, big_t)))
    theta, stall = 1.0, 0
    best_dual = best_floored = -np.inf
    best_lam = lam
    for it in range(max_iter):
        if it and time.perf_counter() - started > time_limit_s:
            break
        cum = np.zeros((n_s, n_glob + 1))
        np.cumsum(lam * delta, axis=1, out=cum[:, 1:])
        occ = np.zeros((n_s, n_glob))
        total = floored = 0.0
        servers = np.full(problem.n_layers, -1, dtype=np.int64)
        starts = np.zeros(problem.n_layers)
        for w in wins:
            lam_w = np.ascontiguousarray(lam[np.ix_(w.servers,
                                                    np.arange(w.first, w.first + w.n_t))])
            cum_w = cum[np.ix_(w.servers, np.arange(w.first, w.first + w.n_t + 1))]
            cum_w = np.ascontiguousarray(cum_w - cum_w[:, :1])
            v = _task_dp(w.pred_ptr, w.pred_loc, w.shift, w.arc_of, w.src_bucket,
                         w.last_start, w.dur, priced[w.servers], cum_w, lam_w, delta, w.n_t,
                         w.sink_time, w.last_bucket, True, *ws)
            if not np.isfinite(v):
                res.iterations = it + 1
                if has_upper:   # no relaxed schedule within the cap: none beats UB
                    res.bound = float(upper)
                else:           # none within the deadline: no plan meets it
                    res.bound, res.infeasible_task = np.inf, w.task
                return res
            total += v
            floored += max(v, lb_t[w.task])
            srv = np.empty(len(w.layers), dtype=np.int64)
            st = np.zeros(len(w.layers))
            _backtrack(w.pred_ptr, w.pred_loc, w.shift, w.arc_of, w.dur, delta, w.n_t,
                       w.sink_time, w.last_bucket, ws[0], ws[1], ws[2], ws[4], srv, st)
            srv = np.where(srv >= 0, srv, np.argmin(w.dur, axis=1))
            st = st + w.first * delta
            for i in range(len(w.layers)):
                s = int(w.servers[srv[i]])
                if priced[s]:
                    _occupy(occ, s, st[i], w.dur[i, srv[i]], delta, n_glob, 1.0)
            servers[w.layers] = w.servers[srv]
            starts[w.layers] = st
        price = float((lam * capacity).sum())
        dual = total - price
        res.dual_values.append(dual)
        best_floored = max(best_floored, floored - price)
        restart = False
        if dual > best_dual + 1e-9 * abs(best_dual if np.isfinite(best_dual) else 1):
            best_dual, stall, best_lam = dual, 0, lam
        else:
            stall += 1
            if stall >= stall_limit:
                theta, stall, restart = theta / 2, 0, True
        _candidate(problem, res, servers, starts)
        if log:
            log(it, dual, max(best_dual, best_floored), res.best_objective)
        grad = (occ - capacity) * priced[:, None]
        grad[(lam <= 0) & (grad < 0)] = 0.0
        norm = float((grad ** 2).sum())
        target = min(upper if has_upper else np.inf, res.best_objective)
        if not np.isfinite(target):   # no plan yet: aim a little above the dual
            target = max(dual, pb.bound) * 1.05 + 1e-9
        res.iterations = it + 1
        if norm <= 0 or max(best_dual, best_floored) >= target - 1e-12 or theta < min_theta:
            break
        if restart:   # smaller steps, from the best multipliers so far
            lam = best_lam
            continue
        lam = np.maximum(0.0, lam + theta * (target - dual) / norm * grad)
    bound = max(best_dual, best_floored, pb.bound)
    res.bound = float(min(upper, bound) if has_upper else bound)
    return res


def bound_and_plan(problem: Problem, upper: float | None, *, time_limit_s: float,
                   seed: int = 0, insertion_share: float = 0.25):
    """The windowed bound, and the best of its relaxed schedules improved by re-inserting
    one task at a time (:func:`.lagrangian.insertion_search`).

    Measured on ``deadline-vgg16-paper-s0``: the relaxed schedules alone reach 3.448,
    re-insertion from there 3.325 in 3 s (from the portfolio's plan, 3.483).

    Returns
    -------
    (WindowedResult, plan) with ``plan`` ``(assign, priority, objective)`` or None.
    """
    from .lagrangian import insertion_search

    started = time.perf_counter()
    res = windowed_bound(problem, upper, time_limit_s=(1 - insertion_share) * time_limit_s)
    if res.best_assign is None:
        return res, None
    left = time_left(time_limit_s, started)
    a, p, v = res.best_assign, res.best_priority, res.best_objective
    if left > 0 and problem.n_tasks > 1:
        a2, p2, v2, evals = insertion_search(problem, v, seed=seed, time_limit_s=left,
                                             start_assign=a, start_priority=p)
        res.evaluations += evals
        if v2 < v:
            a, p, v = a2, p2, v2
    return res, (a, p, v)

"""Forward–backward improvement (double justification) of list schedules on identical
servers: P|prec|Cmax, an RCPSP with one resource of capacity m (Tormos & Lova 2001;
Valls, Ballestín & Quintanilla 2005).

A priority list is scheduled forward (each layer in turn on a server, as early as its
predecessors and the servers allow). *Right-justifying* that schedule processes the
layers by decreasing finish time, each as late as its successors and the servers allow
before the makespan: the same list scheduler on the reversed DAG. *Left-justifying* the
result processes the layers by increasing start time, each as early as possible. By
MODELS.md §0's argument (a list scheduler fed the layers by the start times of a
feasible schedule starts each no later), neither pass lengthens the schedule, and a pass
often shortens it: it closes the gaps a list left. A round is one backward and one
forward pass; rounds go on while the makespan falls.

It is exact only where the list scheduler's times depend on nothing but the order and
the number of free servers: one-slot servers of equal speed, no data on the arcs, one
release, no memory or deadline that binds, makespan objective (:func:`justifiable`).
A layer goes to the server that frees latest before it is ready (best fit; the one that
frees first when none is free), which keeps early-free servers for the layers after it
(measured against the server that frees first, on the 13 DAGs of ``dag_optima`` not
proven at the bound, seeds 0-2: the summed gap to the best plan of all runs falls from
0.22-0.62 % to 0.12-0.30 % per solver and seed);
the simulator, given that server per layer and the justified order, reproduces the
schedule exactly (it scores every plan; this module's makespans only steer the rounds).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from offloadlab.problem import Problem


def justifiable(problem: Problem) -> bool:
    """Whether the list schedules of ``problem`` are those of P|prec|Cmax: makespan
    objective, every layer allowed on every server, one slot per server, equal speeds,
    every link present and no data crossing it, one release, no binding memory or
    deadline."""
    if problem.instance.objective.kind != "makespan" or (problem.task_device >= 0).any():
        return False
    if not problem.allowed.all() or (problem.pools != 1).any():
        return False
    if (problem.exec_s != problem.exec_s[:, :1]).any() or np.ptp(problem.release_s) > 0:
        return False
    if (problem.bw <= 0).any():   # a missing link fails a plan even without data
        return False
    if (problem.out_mb > 0).any() and np.isfinite(problem.bw).any():
        return False
    need_mb = float((problem.param_mb + problem.out_mb).sum())
    return bool(need_mb <= problem.memory_mb.min() and np.isinf(problem.deadline_s).all())


def successors_csr(problem: Problem) -> tuple[np.ndarray, np.ndarray]:
    """(succ_ptr (L+1,), succ_idx): the successors of each layer, CSR like the
    predecessors'."""
    got = problem.extra.get("justify_succ")
    if got is None:
        n = problem.n_layers
        counts = np.array([len(problem.succs[g]) for g in range(n)], dtype=np.int64)
        ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        idx = np.array([j for g in range(n) for j in problem.succs[g]], dtype=np.int64)
        got = problem.extra["justify_succ"] = (ptr, idx)
    return got


@njit(cache=True, nogil=True)
def _pass(order, dur_s, ptr, idx, m, release_s, free_s, start_s, finish_s, assign):
    """One list-scheduling pass in ``order`` with the arcs ``ptr``/``idx`` (predecessors,
    or successors for the reversed DAG); writes start, finish and server per layer and
    returns the makespan (latest finish)."""
    for s in range(m):
        free_s[s] = release_s
    span = release_s
    for k in range(order.shape[0]):
        g = order[k]
        ready = release_s
        for j in range(ptr[g], ptr[g + 1]):
            ready = max(ready, finish_s[idx[j]])
        best, best_free = -1, -np.inf   # best fit: the latest server free by ``ready``
        first, first_free = 0, np.inf   # else the server that frees first
        for s in range(m):
            f = free_s[s]
            if f <= ready and f > best_free:
                best, best_free = s, f
            if f < first_free:
                first, first_free = s, f
        s = best if best >= 0 else first
        st = max(ready, free_s[s])
        start_s[g] = st
        finish_s[g] = st + dur_s[g]
        free_s[s] = finish_s[g]
        assign[g] = s
        span = max(span, finish_s[g])
    return span


@njit(cache=True, nogil=True)
def _order_by(value_s, descending_index):
    """Layers by increasing ``value_s``, ties by index (decreasing with
    ``descending_index``): a stable sort over the layers listed in index order."""
    n = value_s.shape[0]
    base = np.arange(n - 1, -1, -1) if descending_index else np.arange(n)
    perm = np.argsort(value_s[base], kind="mergesort")
    return base[perm]


@njit(cache=True, nogil=True)
def _forward_all(orders, dur_s, pred_ptr, pred_idx, m, release_s, assign, span_s):
    """Forward pass of every row (the plain decode): servers into ``assign``, makespans
    into ``span_s``."""
    n = orders.shape[1]
    free_s = np.empty(m)
    start_s = np.empty(n)
    finish_s = np.empty(n)
    for p in range(orders.shape[0]):
        span_s[p] = _pass(orders[p], dur_s, pred_ptr, pred_idx, m, release_s, free_s,
                          start_s, finish_s, assign[p])


@njit(cache=True, nogil=True)
def _justify_rows(rows, orders, dur_s, pred_ptr, pred_idx, succ_ptr, succ_idx, m,
                  release_s, max_rounds, passes_left, assign, span_s):
    """Rounds of backward and forward passes on ``rows`` (in that sequence) while the
    makespan falls, at most ``max_rounds`` each and ``passes_left`` passes in all;
    ``orders``, ``assign`` and ``span_s`` keep each row's best. Returns the passes made."""
    n = orders.shape[1]
    free_s = np.empty(m)
    start_s = np.empty(n)
    finish_s = np.empty(n)
    r_start = np.empty(n)
    r_finish = np.empty(n)
    r_assign = np.empty(n, dtype=np.int64)
    f_assign = np.empty(n, dtype=np.int64)
    used = 0
    for p in rows:
        _pass(orders[p], dur_s, pred_ptr, pred_idx, m, release_s, free_s, start_s,
              finish_s, f_assign)   # the row's schedule (its decode: not counted)
        for _ in range(max_rounds):
            if passes_left - used < 2:
                return used
            # right-justify: by decreasing finish (ties: successors first)
            back = _order_by(-finish_s, True)
            _pass(back, dur_s, succ_ptr, succ_idx, m, 0.0, free_s, r_start, r_finish,
                  r_assign)
            # left-justify: by increasing start of the right-justified schedule
            order = _order_by(-r_finish, False)
            new = _pass(order, dur_s, pred_ptr, pred_idx, m, release_s, free_s, start_s,
                        finish_s, f_assign)
            used += 2
            if new >= span_s[p]:
                break
            span_s[p] = new
            orders[p, :] = order
            assign[p, :] = f_assign
    return used


def pack(problem: Problem) -> tuple:
    """(durations (L,), pred_ptr, pred_idx, succ_ptr, succ_idx, m, release) of a
    :func:`justifiable` problem."""
    succ_ptr, succ_idx = successors_csr(problem)
    return (np.ascontiguousarray(problem.exec_s[:, 0]), problem.pred_ptr.astype(np.int64),
            problem.pred_idx.astype(np.int64), succ_ptr, succ_idx, int(problem.n_servers),
            float(problem.release_s.min()))


def one_round(problem: Problem, order: np.ndarray) -> tuple[tuple[float, float, float],
                                                            np.ndarray]:
    """One backward and one forward pass from ``order`` whatever they give: the
    makespans (forward, backward, forward) and the left-justified order."""
    dur, pptr, pidx, sptr, sidx, m, release = pack(problem)
    n = problem.n_layers
    free_s, start_s, finish_s = np.empty(m), np.empty(n), np.empty(n)
    assign = np.empty(n, dtype=np.int64)
    order = np.ascontiguousarray(order, dtype=np.int64)
    first = _pass(order, dur, pptr, pidx, m, release, free_s, start_s, finish_s, assign)
    back = _order_by(-finish_s, True)
    span_b = _pass(back, dur, sptr, sidx, m, 0.0, free_s, start_s, finish_s, assign)
    order = _order_by(-finish_s, False)
    last = _pass(order, dur, pptr, pidx, m, release, free_s, start_s, finish_s, assign)
    return (first, release + span_b, last), order


def justify(problem: Problem, orders: np.ndarray, *, share: float = 1.0,
            max_rounds: int = 4, max_passes: int | None = None):
    """Forward-decode every row of ``orders`` and justify the best ``share`` of them.

    Parameters
    ----------
    problem : Problem
        A :func:`justifiable` one.
    orders : array_like of int, shape (P, L)
        Precedence-respecting priority lists.
    share : float
        Fraction of the rows (the shortest schedules first, at least one) that get
        rounds of backward and forward passes.
    max_rounds : int
        Rounds per row at most (a row stops at the first round that does not shorten
        its schedule).
    max_passes : int, optional
        Passes (schedules built beyond each row's decode) in all.

    Returns
    -------
    orders : ndarray (P, L)
        The justified priority lists (each the start order of its schedule).
    assign : ndarray (P, L)
        The server per layer; simulating (assign, order) gives ``span_s``.
    span_s : ndarray (P,)
        Makespans.
    passes : int
        Backward and forward passes made beyond the decodes.
    """
    dur, pptr, pidx, sptr, sidx, m, release = pack(problem)
    orders = np.array(orders, dtype=np.int64, order="C", ndmin=2)
    assign = np.empty_like(orders)
    span_s = np.empty(len(orders))
    _forward_all(orders, dur, pptr, pidx, m, release, assign, span_s)
    k = min(len(orders), max(1, int(np.ceil(share * len(orders))))) if share > 0 else 0
    rows = np.argsort(span_s, kind="stable")[:k].astype(np.int64)
    budget = np.iinfo(np.int64).max if max_passes is None else int(max_passes)
    used = _justify_rows(rows, orders, dur, pptr, pidx, sptr, sidx, m, release,
                         int(max_rounds), budget, assign, span_s)
    return orders, assign, span_s, int(used)

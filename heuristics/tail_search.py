"""A tabu search over schedules (a server per layer and a priority list) on P|prec|Cmax.

The searches of GA and PSO-GA move through priority lists and let the decoder choose
the servers. This one moves through the schedule: the plan is (server per layer,
priority list), whose schedule the simulator builds (each layer, in list order, starts
when its predecessors and its server are done). A neighbour changes the schedule around
a *critical* layer (one on a chain of precedence and server arcs without slack that ends
at the makespan: changing no such layer leaves the makespan as it is):

* *move*: the layer to another server;
* *swap*: the servers of the layer and of one on another server whose run overlaps it;
* *places*: the servers and the list positions of those two exchanged (where
  precedence allows);
* *order*: the layer put just before the one it follows on its server (a critical
  server arc reversed, as in the N5 neighbourhood of job-shop tabu search);
* *balance* (compound): subsets of the busy tails of the server that ends last and of
  one that ends early trade servers, their summed durations (integer ms) differing by
  about half the gap between the two finish times (:func:`balance_moves`). Where the
  servers are busy up to nearly the makespan, a plan ends a few ms above the optimum
  from that imbalance alone, and no single move or swap has the duration difference
  that evens it out: it is a subset-sum question.

A neighbour is then scheduled with insertion (each layer, in list order, in the first
gap of its server that fits it after its predecessors), its layers listed by start
time, and that list justified forward and backward once (:func:`.justify.justify`,
best-fit servers): a change of one layer repacks the tail around it, where the same
change at fixed list and servers delays everything after it by seconds (measured on
dag-random-50n-4p-s0: no single move, swap or order change at a fixed list shortens or
keeps the makespan of GA's plan but a handful). The search walks the makespan plateaus:
each step takes the best of a random sample of neighbours, by makespan and then by the
sum of the server finish times (less idle time before each server's last layer), even
when it is worse than the current plan; a layer changed stays fixed for
:data:`TENURE` steps unless changing it beats the best makespan.

Every schedule built is charged to the evaluator (:data:`COST` per neighbour), every
plan that shortens the best is scored by the simulator through it, and the returned
value is the simulator's.
"""

from __future__ import annotations

from functools import lru_cache
from itertools import combinations

import numpy as np
from numba import njit

from offloadlab.budget import Evaluator
from offloadlab.problem import Problem

from .justify import justify, pack

MOVE, SWAP, ORDER, PLACES = 0, 1, 2, 3
TENURE = 15      # steps a moved layer stays tabu
SAMPLE = 64      # neighbours scored per step (a random sample of the critical ones)
COST = 4         # evaluations per neighbour (one round): its schedule, decode, 2 passes
BALANCE = 16     # compound exchanges scored per step (:func:`balance_moves`)
TAIL_LAYERS = 10  # layers of a server's busy tail they draw from
SUBSET = 4       # layers per side at most
PARTNERS = 2     # servers that end first paired with the one that ends last
EPS_S = 1e-9


@njit(cache=True, nogil=True)
def _schedule(assign, order, dur, pptr, pidx, m, release, start, finish, free, skip,
              before, insert=False):
    """The schedule of (``assign``, ``order``) into ``start``/``finish`` (``free``:
    each server's last finish); the layer ``skip`` is taken just before ``before``
    instead of at its own place (-1: none). Each layer, in list order, starts when its
    predecessors are done and its server is free: after the server's last layer
    (semi-active, the simulator's rule), or with ``insert`` in the first idle gap of
    the server that holds it (the list sorted by these start times then simulates to
    a schedule no longer). Returns the makespan."""
    n = order.shape[0]
    busy_s = np.empty((m, n + 1)) if insert else np.empty((1, 1))
    busy_f = np.empty((m, n + 1)) if insert else np.empty((1, 1))
    count = np.zeros(m, dtype=np.int64)
    for s in range(m):
        free[s] = release
    span = release
    for k in range(n + 1):
        for part in range(2):
            if part == 0:
                if k == n or order[k] != before or skip < 0:
                    continue
                g = skip
            else:
                if k == n:
                    break
                g = order[k]
                if g == skip:
                    continue
            ready = release
            for j in range(pptr[g], pptr[g + 1]):
                ready = max(ready, finish[pidx[j]])
            s = assign[g]
            if insert:
                c = count[s]
                st, i = max(ready, release), 0
                while i < c:
                    if st + dur[g] <= busy_s[s, i] + 1e-9:
                        break
                    st = max(st, busy_f[s, i])
                    i += 1
                for r in range(c, i, -1):
                    busy_s[s, r] = busy_s[s, r - 1]
                    busy_f[s, r] = busy_f[s, r - 1]
                busy_s[s, i] = st
                busy_f[s, i] = st + dur[g]
                count[s] = c + 1
                free[s] = busy_f[s, c]
            else:
                st = max(ready, free[s])
                free[s] = st + dur[g]
            start[g] = st
            finish[g] = st + dur[g]
            span = max(span, finish[g])
    return span


@njit(cache=True, nogil=True)
def _candidate_orders(assign, order, cand, dur, pptr, pidx, m, release, out):
    """``out[k]``: the list, by start time, of the schedule with insertion of candidate
    ``cand[k]`` = (kind, a, b) applied to (``assign``, ``order``)."""
    n = order.shape[0]
    start, finish, free = np.empty(n), np.empty(n), np.empty(m)
    a = assign.copy()
    o = order.copy()
    pos = np.empty(n, dtype=np.int64)
    for k in range(n):
        pos[order[k]] = k
    for k in range(cand.shape[0]):
        kind, x, y = cand[k, 0], cand[k, 1], cand[k, 2]
        skip, before = -1, -1
        if kind == 0:
            a[x] = y
        elif kind == 2:
            skip, before = y, x
        else:
            a[x], a[y] = assign[y], assign[x]
            if kind == 3:
                o[pos[x]], o[pos[y]] = y, x
        _schedule(a, o, dur, pptr, pidx, m, release, start, finish, free, skip, before,
                  True)
        out[k, :] = order[np.argsort(start[order], kind="mergesort")]
        if kind == 3:
            o[pos[x]], o[pos[y]] = x, y
        a[x] = assign[x]
        if kind == 1 or kind == 3:
            a[y] = assign[y]


@njit(cache=True, nogil=True)
def _ends(assign, orders, dur, pptr, pidx, m, release, out):
    """``out[k]``: the sum of the server finish times of plan (``assign[k]``,
    ``orders[k]``) (its semi-active schedule: the simulator's)."""
    n = orders.shape[1]
    start, finish, free = np.empty(n), np.empty(n), np.empty(m)
    for k in range(orders.shape[0]):
        _schedule(assign[k], orders[k], dur, pptr, pidx, m, release, start, finish, free,
                  -1, -1, False)
        out[k] = free.sum()


@njit(cache=True, nogil=True)
def _critical(assign, order, start, finish, pptr, pidx, span, release):
    """Whether each layer lies on a chain of tight precedence or server arcs that ends
    at the makespan, and each layer's previous layer on its server (-1: first)."""
    n = order.shape[0]
    prev = np.full(n, -1)
    last = np.full(assign.max() + 1, -1)
    for k in range(n):
        g = order[k]
        prev[g] = last[assign[g]]
        last[assign[g]] = g
    crit = np.zeros(n, dtype=np.bool_)
    for k in range(n - 1, -1, -1):   # successors before their predecessors
        g = order[k]
        if finish[g] >= span - 1e-9:
            crit[g] = True
        if not crit[g] or start[g] <= release + 1e-9:
            continue
        for j in range(pptr[g], pptr[g + 1]):
            if finish[pidx[j]] >= start[g] - 1e-9:
                crit[pidx[j]] = True
        p = prev[g]
        if p >= 0 and finish[p] >= start[g] - 1e-9:
            crit[p] = True
    return crit, prev


def neighbours(problem: Problem, assign: np.ndarray, order: np.ndarray, start_s, finish_s,
               span_s: float, pairs: str = "overlap") -> np.ndarray:
    """(K, 3) candidates (kind, a, b) around the critical layers of the schedule
    (``start_s``, ``finish_s``) of (``assign``, ``order``, a list by start time): moves
    of each to every other server; swaps with each layer on another server whose run
    overlaps it (``pairs="overlap"``; ``"all"``: any layer; ``"tail"``: one that ends
    in the last tenth of the makespan), and the exchange of their places where
    precedence allows; each critical server arc reversed where precedence allows."""
    _, pptr, pidx, *_ = pack(problem)
    m = problem.n_servers
    release = float(problem.release_s.min())
    crit, prev = _critical(assign, order, start_s, finish_s, pptr, pidx, span_s, release)
    c = np.flatnonzero(crit)
    servers = np.arange(m)
    mv = np.array([(MOVE, g, s) for g in c for s in servers if s != assign[g]],
                  dtype=np.int64).reshape(-1, 3)
    # swaps: overlapping runs on different servers
    overlap = assign[c][:, None] != assign[None, :]
    if pairs == "overlap":
        overlap &= ((start_s[c][:, None] < finish_s[None, :])
                    & (start_s[None, :] < finish_s[c][:, None]))
    elif pairs == "tail":   # the other layer ends in the last tenth of the makespan
        overlap &= (finish_s >= 0.9 * span_s)[None, :]
    i, j = np.nonzero(overlap)
    a, b = c[i], j
    keep = ~crit[b] | (a < b)   # a pair of critical layers once
    a, b = a[keep], b[keep]
    sw = np.column_stack([np.full(len(a), SWAP), a, b])
    pos = np.empty(len(order), dtype=np.int64)
    pos[order] = np.arange(len(order))
    # the pairs whose places (server and list position) may be exchanged
    first, second = np.where(pos[a] < pos[b], a, b), np.where(pos[a] < pos[b], b, a)
    late_pred, early_succ = _pred_succ_pos(problem, pos)
    ok = (late_pred[second] < pos[first]) & (early_succ[first] > pos[second])
    sw = np.concatenate([sw, np.column_stack([np.full(ok.sum(), PLACES), first[ok],
                                              second[ok]])])
    # order: the critical layer g put before its server predecessor p (tight arc)
    orde = []
    for g in c:
        p = prev[g]
        if p < 0 or not crit[p] or finish_s[p] < start_s[g] - EPS_S:
            continue
        preds = problem.preds(g)
        if len(preds) and pos[preds].max() >= pos[p]:
            continue   # a predecessor of g runs at or after p in the list
        orde.append((ORDER, p, g))
    od = np.array(orde, dtype=np.int64).reshape(-1, 3)
    return np.concatenate([mv, sw.astype(np.int64), od])


def _pred_succ_pos(problem: Problem, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per layer, the latest list position of a predecessor (-1: none) and the
    earliest of a successor (L: none)."""
    n = problem.n_layers
    late, early = np.full(n, -1), np.full(n, n)
    for g in range(n):
        p = problem.preds(g)
        if len(p):
            late[g] = pos[p].max()
            np.minimum.at(early, p, pos[g])
    return late, early


@njit(cache=True, nogil=True)
def _by_key(key, pptr, sptr, sidx):
    """The layers by increasing ``key``, each after its predecessors (the ready layer
    of least key next; ``sptr``/``sidx``: the successors)."""
    n = key.shape[0]
    left = np.empty(n, dtype=np.int64)
    for g in range(n):
        left[g] = pptr[g + 1] - pptr[g]
    done = np.zeros(n, dtype=np.bool_)
    rank = np.argsort(key, kind="mergesort")
    out = np.empty(n, dtype=np.int64)
    first = 0   # every layer ranked before it is done
    for k in range(n):
        while done[rank[first]]:
            first += 1
        r = first
        while done[rank[r]] or left[rank[r]] > 0:
            r += 1
        g = rank[r]
        done[g] = True
        out[k] = g
        for j in range(sptr[g], sptr[g + 1]):
            left[sidx[j]] -= 1
    return out


@njit(cache=True, nogil=True)
def _assign_orders(assigns, keys, dur, pptr, pidx, sptr, sidx, m, release, out):
    """``out[k]``: the list, by start time, of the schedule with insertion of
    ``assigns[k]`` from the list by ``keys[k]``."""
    n = keys.shape[1]
    start, finish, free = np.empty(n), np.empty(n), np.empty(m)
    for k in range(assigns.shape[0]):
        order = _by_key(keys[k], pptr, sptr, sidx)
        _schedule(assigns[k], order, dur, pptr, pidx, m, release, start, finish, free,
                  -1, -1, True)
        out[k, :] = order[np.argsort(start[order], kind="mergesort")]


@lru_cache(maxsize=None)
def _combinations(count: int, size: int) -> np.ndarray:
    """Every subset of at most ``size`` of ``range(count)``, the empty one first, as
    rows padded with ``count``."""
    rows = [()] + [c for k in range(1, size + 1) for c in combinations(range(count), k)]
    out = np.full((len(rows), size), count, dtype=np.int64)
    for i, c in enumerate(rows):
        out[i, :len(c)] = c
    return out


def _subsets(layers: np.ndarray, dur_ms: np.ndarray, size: int):
    """Every subset of at most ``size`` of ``layers`` (the empty one first): (members
    padded with -1, (K, size); summed durations in ms, (K,))."""
    idx = _combinations(len(layers), size)
    members = np.append(layers, -1)[idx]
    sums = np.append(dur_ms[layers], 0)[idx].sum(axis=1)
    return members, sums


def busy_tail(assign: np.ndarray, start_s: np.ndarray, finish_s: np.ndarray, server: int,
              most: int) -> np.ndarray:
    """The last (at most ``most``) layers of ``server`` that run without idle time up to
    its last finish, latest first."""
    mine = np.flatnonzero(assign == server)
    mine = mine[np.argsort(-finish_s[mine], kind="stable")]
    k = 1
    while k < min(len(mine), most) and finish_s[mine[k]] >= start_s[mine[k - 1]] - EPS_S:
        k += 1
    return mine[:k]


def balance_moves(assign: np.ndarray, start_s: np.ndarray, finish_s: np.ndarray,
                  ends_s: np.ndarray, dur_ms: np.ndarray, rng: np.random.Generator,
                  count: int, *, tail: int = TAIL_LAYERS, size: int = SUBSET,
                  partners: int = PARTNERS
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Compound exchanges between the server that ends last and each of the
    ``partners`` servers that end first: a subset A of the first's busy tail and a
    subset B of the other's (at most ``size`` layers each, of the last ``tail``) trade
    servers, A's summed duration minus B's as close as possible to half the gap between
    the two finish times (in integer ms, the grid of the durations), strictly between 0
    and the gap (both servers then end before the makespan when the repacking keeps the
    rest in place; ties at random).

    Returns
    -------
    assigns : ndarray (K, L)
        The plans' servers, K <= ``count``.
    reps : ndarray (K, 2)
        A layer of A and a layer of B (A's again when B is empty): the tabu marks.
    keys : ndarray (K, L)
        Per plan, the start times its list follows (:func:`_compacted`).
    """
    hi = int(np.argmax(ends_s))
    others = [s for s in np.argsort(ends_s, kind="stable") if s != hi][:partners]
    hi_tail = busy_tail(assign, start_s, finish_s, hi, tail)
    a_members, a_sums = _subsets(hi_tail, dur_ms, size)
    a_members, a_sums = a_members[1:], a_sums[1:]   # A is never empty
    assigns, reps, keys = [], [], []
    for j, lo in enumerate(others):
        gap_ms = int(round((ends_s[hi] - ends_s[lo]) * 1000))
        lo_tail = busy_tail(assign, start_s, finish_s, lo, tail)
        b_members, b_sums = _subsets(lo_tail, dur_ms, size)
        # per A, the B whose sums are nearest below and above sum(A) - gap/2
        by_sum = rng.permutation(len(b_sums))   # ties at random
        by_sum = by_sum[np.argsort(b_sums[by_sum], kind="stable")]
        at = np.searchsorted(b_sums[by_sum], a_sums - gap_ms / 2)
        ia = np.repeat(np.arange(len(a_sums)), 2)
        ib = by_sum[np.clip(np.stack([at - 1, at], axis=1).ravel(), 0, len(by_sum) - 1)]
        pair = np.unique(ia * len(b_sums) + ib)
        ia, ib = pair // len(b_sums), pair % len(b_sums)
        delta = a_sums[ia] - b_sums[ib]
        ok = (delta > 0) & (delta < gap_ms)
        ia, ib, delta = ia[ok], ib[ok], delta[ok]
        if not len(ia):
            continue
        share = count // len(others) + (j < count % len(others))
        pick = np.lexsort((rng.random(len(ia)), np.abs(2 * delta - gap_ms)))[:share]
        for i, k in zip(ia[pick], ib[pick]):
            a = assign.copy()
            out, back = a_members[i][a_members[i] >= 0], b_members[k][b_members[k] >= 0]
            a[out], a[back] = lo, hi
            assigns.append(a)
            reps.append((out[0], back[0] if len(back) else out[0]))
            keys.append(_compacted(start_s, finish_s, hi_tail, lo_tail, out, back))
    n = len(assign)
    return (np.array(assigns, dtype=np.int64).reshape(-1, n),
            np.array(reps, dtype=np.int64).reshape(-1, 2),
            np.array(keys, dtype=float).reshape(-1, n))


def _compacted(start_s, finish_s, hi_tail, lo_tail, out, back) -> np.ndarray:
    """Start times with the two busy tails after the exchange (``out`` from the first
    to the second, ``back`` the other way) laid end to end from where each tail
    begins, in the order of their current starts: the list the exchange is scheduled
    from (the other layers keep their starts)."""
    key = start_s.copy()
    for mine, gone, come in ((hi_tail, out, back), (lo_tail, back, out)):
        run = np.concatenate([np.setdiff1d(mine, gone), come])
        run = run[np.argsort(start_s[run], kind="stable")]
        begin_s = start_s[mine].min() if len(mine) else start_s[run].min()  # idle server
        key[run] = begin_s + np.concatenate(
            [[0.0], np.cumsum(finish_s[run] - start_s[run])[:-1]])
    return key


def _by_start(order, start_s):
    """The list sorted by start time (ties: the list's order): the same schedule, and
    the list the order moves read."""
    return order[np.argsort(start_s[order], kind="stable")]


def tail_search(problem: Problem, evaluator: Evaluator, assign: np.ndarray,
                order: np.ndarray, value: float, rng: np.random.Generator, *,
                sample: int = SAMPLE, tenure: int = TENURE, pairs: str = "overlap",
                rounds: int = 1, balance: int = BALANCE
                ) -> tuple[np.ndarray, np.ndarray, float]:
    """Tabu search from the plan (``assign``, ``order``) of makespan ``value`` until
    ``evaluator``'s budget ends.

    Parameters
    ----------
    problem : Problem
        A :func:`.justify.justifiable` one.
    evaluator : Evaluator
        Charged every schedule built (a neighbour costs its schedule with insertion,
        its decode and the justification's passes); scores (simulator) every plan that
        shortens the best.
    assign, order : ndarray (L,)
        The start plan; ``value`` its makespan (the simulator's).
    rng : numpy.random.Generator
        Draws the sample of neighbours.
    sample, tenure : int
        Neighbours scored per step; steps a moved layer stays tabu.
    pairs : {"overlap", "all", "tail"}
        The swap partners of a critical layer (:func:`neighbours`).
    balance : int
        Compound exchanges (:func:`balance_moves`) scored per step besides the
        ``sample`` (0: none).

    Returns
    -------
    assign, order, value
        The best plan and its makespan by the simulator (never worse than the start).
    """
    dur, pptr, pidx, sptr, sidx, m, release = pack(problem)
    n = problem.n_layers
    best_a = np.asarray(assign, dtype=np.int64).copy()
    best_o = np.asarray(order, dtype=np.int64).copy()
    best_v = float(value)
    cur_a, cur_o = best_a.copy(), best_o.copy()
    start, finish, free = np.empty(n), np.empty(n), np.empty(m)
    tabu = np.full(n, -1)   # the step until which a layer stays tabu
    dur_ms = np.round(dur * 1000).astype(np.int64)
    step = 0
    while True:
        left = evaluator.left()
        cap = sample + balance
        if left is not None:
            cap = min(cap, (left - 1) // (2 + 2 * rounds))
        if cap <= 0 or evaluator.done():
            break
        span = _schedule(cur_a, cur_o, dur, pptr, pidx, m, release, start, finish, free,
                         -1, -1)
        cur_o = _by_start(cur_o, start)
        cand = neighbours(problem, cur_a, cur_o, start, finish, span, pairs)
        comp_a, reps, comp_k = balance_moves(cur_a, start, finish, free, dur_ms, rng,
                                             min(balance, cap)) if balance else (None,) * 3
        kb = 0 if comp_a is None else len(comp_a)
        if not len(cand) and not kb:
            break
        cand = cand[rng.permutation(len(cand))[:min(sample, cap - kb)]]   # ties at random
        orders = np.empty((len(cand) + kb, n), dtype=np.int64)
        _candidate_orders(cur_a, cur_o, cand, dur, pptr, pidx, m, release, orders)
        moved, other = cand[:, 1], np.where(cand[:, 0] == MOVE, cand[:, 1], cand[:, 2])
        if kb:
            _assign_orders(comp_a, comp_k, dur, pptr, pidx, sptr, sidx, m, release,
                           orders[len(cand):])
            moved = np.concatenate([moved, reps[:, 0]])
            other = np.concatenate([other, reps[:, 1]])
        orders, assigns, span_s, used = justify(problem, orders, share=float(rounds > 0),
                                                max_rounds=max(rounds, 1))
        evaluator.charge(2 * len(orders) + used)
        ends_s = np.empty(len(orders))
        _ends(assigns, orders, dur, pptr, pidx, m, release, ends_s)
        step += 1
        ok = ((tabu[moved] < step) & (tabu[other] < step)) | (span_s < best_v - EPS_S)
        if not ok.any():
            continue
        idx = np.flatnonzero(ok)
        pick = idx[np.lexsort((ends_s[idx], span_s[idx]))[0]]
        cur_a, cur_o = assigns[pick], orders[pick]
        tabu[moved[pick]] = tabu[other[pick]] = step + tenure
        if span_s[pick] < best_v - EPS_S:
            got = evaluator(cur_a[None, :], cur_o)
            if len(got) and got[0] < best_v - EPS_S:
                best_a, best_o, best_v = cur_a.copy(), cur_o.copy(), float(got[0])
    return best_a, best_o, best_v

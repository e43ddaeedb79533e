"""P|prec|Cmax pieces (``formulations/makespan_cp.py``): the integer heads, tails and
piece bound never exceed the brute-forced optimum of random small DAGs, are attained
where they must be, and CP-SAT's piece optimum is the brute-forced one."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from offloadlab.formulations import makespan_cp as mc


def brute_force(dur, preds, m: int) -> int:
    """Least makespan over every topological order, each layer in turn on the server
    free first (an optimal schedule's order by start reproduces it no later)."""
    n = len(dur)
    best = [int(sum(dur))]

    def dfs(done, finish, free):
        if len(done) == n:
            best[0] = min(best[0], max(finish.values()))
            return
        for g in range(n):
            if g in done or any(p not in done for p in preds[g]):
                continue
            s = int(np.argmin(free))
            t = max([free[s]] + [finish[p] for p in preds[g]]) + int(dur[g])
            if t >= best[0]:
                continue
            nxt = list(free)
            nxt[s] = t
            dfs(done | {g}, {**finish, g: t}, nxt)

    dfs(frozenset(), {}, [0] * m)
    return best[0]


@st.composite
def dags(draw):
    n = draw(st.integers(1, 7))
    dur = np.array(draw(st.lists(st.integers(1, 9), min_size=n, max_size=n)))
    preds = [sorted(draw(st.sets(st.integers(0, g - 1), max_size=3))) if g else []
             for g in range(n)]
    return dur, preds, draw(st.integers(1, 3))


@settings(max_examples=60, deadline=None)
@given(dags())
def test_heads_tails_and_piece_bound_below_brute_force(case):
    dur, preds, m = case
    best = brute_force(dur, preds, m)
    est, rest = mc.heads_tails(dur, preds, m)
    assert mc.piece_bound(dur, est, rest, m) <= best
    assert int((est + dur + rest).max()) <= best
    # every layer's window holds in the optimal schedule: start >= est, end - finish >= rest
    assert (est >= 0).all() and (rest >= 0).all()


@settings(max_examples=15, deadline=None)
@given(dags())
def test_cpsat_piece_optimum_is_the_brute_forced_one(case):
    pytest.importorskip("ortools")
    dur, preds, m = case
    best = brute_force(dur, preds, m)
    res = mc.solve_piece(dur, preds, m, upper=int(dur.sum()), time_limit_s=20, workers=1)
    assert res["status"] == "optimal" and res["makespan"] == best and res["bound"] == best
    start = res["start"]
    for g in range(len(dur)):
        assert all(start[p] + dur[p] <= start[g] for p in preds[g])
    events = sorted(set(start.tolist()))
    assert max(int(((start <= t) & (start + dur > t)).sum()) for t in events) <= m
    # asked for one unit less, the model proves there is none
    below = mc.solve_piece(dur, preds, m, upper=best - 1, time_limit_s=20, workers=1)
    assert below["status"] == "infeasible" and below["bound"] == best


def test_the_work_of_the_ancestors_raises_a_head_to_the_optimum():
    # four sources of 2 before one layer of 1 on 2 servers: the longest path says 3,
    # the ancestors' work 8 over 2 servers says 4 + 1, which is the optimum
    dur = np.array([2, 2, 2, 2, 1])
    preds = [[], [], [], [], [0, 1, 2, 3]]
    est, rest = mc.heads_tails(dur, preds, 2)
    assert est.tolist() == [0, 0, 0, 0, 4]
    assert rest.tolist() == [1, 1, 1, 1, 0]
    assert mc.piece_bound(dur, est, rest, 2) == 5 == brute_force(dur, preds, 2)


def test_a_chain_beside_loose_layers_is_bounded_exactly():
    # a chain of two and two loose layers before a sink, on 2 servers: the ancestors'
    # work 13 puts the sink at 7 or later (the longest path says 6); optimum 8
    dur = np.array([3, 3, 3, 4, 1])
    preds = [[], [0], [], [], [1, 2, 3]]
    est, rest = mc.heads_tails(dur, preds, 2)
    assert est.tolist() == [0, 3, 0, 0, 7]
    assert mc.piece_bound(dur, est, rest, 2) == 8 == brute_force(dur, preds, 2)


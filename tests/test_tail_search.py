"""The tabu search over schedules (:mod:`offloadlab.heuristics.tail_search`): never worse
than its start, its value is the simulator's, it stays within the budget, is seeded,
and GA and PSO-GA run it only on P|prec|Cmax."""

from __future__ import annotations

import numpy as np
import pytest

from offloadlab.budget import Evaluator
from offloadlab.heuristics import evolution
from offloadlab.heuristics import tail_search as ts
from offloadlab.heuristics.ga import ga
from offloadlab.heuristics.justify import justifiable, pack
from offloadlab.heuristics.list_scheduling import heft
from offloadlab.heuristics.pso_ga import pso_ga
from offloadlab.instance import load_instance
from offloadlab.instances.generators import random_dag_instance
from offloadlab.instances.library import library_path
from offloadlab.problem import Problem
from offloadlab.simulator import objective, simulate


def dag(**kw) -> Problem:
    return Problem.from_instance(random_dag_instance(**kw))


def start_plan(problem: Problem):
    sol = heft(problem)
    return np.asarray(sol.assign), np.asarray(sol.priority), float(sol.objective)


@pytest.mark.parametrize("servers,shape,seed", [(4, "random", 3), (3, "layered", 4),
                                                (8, "random", 5)])
def test_never_worse_simulated_and_within_the_budget(servers, shape, seed):
    problem = dag(nodes=40, servers=servers, shape=shape, seed=seed)
    assign, order, value = start_plan(problem)
    ev = Evaluator(problem, 3001, None, 0.0)
    a, o, v = ts.tail_search(problem, ev, assign, order, value, np.random.default_rng(0))
    assert v <= value
    assert objective(problem, a[None, :], o)[0] == v
    assert ev.used <= 3000 and ev.left() >= 0
    assert ev.used > 3000 - ts.COST * ts.SAMPLE - 1   # it spends what it is given
    if v < value:   # an improvement was scored by the simulator through the evaluator
        assert ev.best_value == v


def test_it_shortens_heft_and_is_seeded():
    problem = dag(nodes=50, servers=4, shape="random", seed=0)
    assign, order, value = start_plan(problem)
    runs = []
    for _ in range(2):
        ev = Evaluator(problem, 4000, None, 0.0)
        runs.append(ts.tail_search(problem, ev, assign, order, value,
                                   np.random.default_rng(7)))
    (a, o, v), (b, p, w) = runs
    assert v == w and (a == b).all() and (o == p).all()
    assert v < 0.97 * value   # HEFT is 8 % above the optimum here


def test_insertion_schedule_is_no_shorter_than_the_simulated_start_list():
    """The list by the start times of the schedule with insertion simulates to a
    schedule no longer (what every neighbour's justification starts from)."""
    problem = dag(nodes=40, servers=3, shape="random", seed=1)
    dur, pptr, pidx, _, _, m, release = pack(problem)
    rng = np.random.default_rng(0)
    n = problem.n_layers
    order = np.asarray(heft(problem).priority)
    start, finish, free = np.empty(n), np.empty(n), np.empty(m)
    for _ in range(20):
        assign = rng.integers(0, m, n)
        span = ts._schedule(assign, order, dur, pptr, pidx, m, release, start, finish,
                            free, -1, -1, True)
        listed = order[np.argsort(start[order], kind="stable")]
        assert objective(problem, assign[None, :], listed)[0] <= span + 1e-9
        plain = ts._schedule(assign, order, dur, pptr, pidx, m, release, start, finish,
                             free, -1, -1, False)
        assert plain == objective(problem, assign[None, :], order)[0]


def test_critical_layers_end_at_the_makespan_through_tight_arcs():
    problem = dag(nodes=40, servers=4, shape="layered", seed=2)
    assign, order, value = start_plan(problem)
    ev = simulate(problem, assign, order)
    start, finish = ev.start_s[0], ev.finish_s[0]
    _, pptr, pidx, _, _, _, release = pack(problem)
    order = order[np.argsort(start[order], kind="stable")]
    crit, prev = ts._critical(assign, order, start, finish, pptr, pidx, value, release)
    assert crit[np.argmax(finish)]
    for g in np.flatnonzero(crit):   # each critical layer starts at once or is pushed
        tight = [p for p in problem.preds(g) if abs(finish[p] - start[g]) < 1e-9]
        assert start[g] <= release + 1e-9 or tight or (
            prev[g] >= 0 and abs(finish[prev[g]] - start[g]) < 1e-9)
    cand = ts.neighbours(problem, assign, order, start, finish, value)
    assert len(cand) and crit[cand[:, 1]].mean() > 0   # built around critical layers


@pytest.mark.parametrize("solver", [ga, pso_ga])
def test_the_solvers_run_it_only_on_p_prec_cmax(solver, monkeypatch):
    calls = []
    real = ts.tail_search

    def counted(*args, **kw):
        calls.append(args[0].instance.name)
        return real(*args, **kw)

    monkeypatch.setattr(ts, "tail_search", counted)
    problem = dag(nodes=30, servers=3, shape="random", seed=9)
    a = solver(problem, seed=1, budget_evals=3000)
    b = solver(problem, seed=1, budget_evals=3000)
    assert len(calls) == 2 and a.evaluations <= 3000
    assert a.objective == b.objective and (a.assign == b.assign).all()
    assert objective(problem, a.assign[None], a.priority)[0] == a.objective
    for other in (dag(nodes=30, servers=3, seed=9, data=True),
                  Problem.from_instance(load_instance(library_path(
                      "makespan-jobs-tiny-s0")))):
        assert not justifiable(other)
        solver(other, seed=1, budget_evals=2000, decoder="order")
    assert len(calls) == 2


def test_without_its_share_the_search_is_unchanged(monkeypatch):
    """TAIL_SHARE = 0 gives the solvers' plans without the phase: the phase only adds."""
    problem = dag(nodes=30, servers=3, shape="layered", seed=4)
    monkeypatch.setattr(evolution, "TAIL_SHARE", 0.0)
    plain = ga(problem, seed=0, budget_evals=2000)
    monkeypatch.setattr(ts, "tail_search", lambda *a, **k: pytest.fail("ran"))
    again = ga(problem, seed=0, budget_evals=2000)
    assert plain.objective == again.objective and plain.evaluations == again.evaluations


def independent(p_s, servers: int = 2) -> Problem:
    """Independent layers (one single-layer task each) of ``p_s`` seconds on
    ``servers`` identical servers: P||Cmax."""
    from offloadlab.instance import parse_instance
    from offloadlab.instances.generators import FORMAT

    data = {"format": FORMAT, "name": "independent", "description": "independent layers",
            "servers": [{"name": f"m{s}", "tier": "edge", "ghz": 1.0, "pools": 1}
                        for s in range(servers)],
            "links": [{"a": "edge", "b": "edge", "mb_per_s": 10.0}],
            "models": {f"d{i}": {"input_mb": 0.0, "layers": [
                {"name": "n", "gcycles": float(p), "out_mb": 0.0, "next": []}]}
                for i, p in enumerate(p_s)},
            "tasks": [{"name": f"job{i}", "model": f"d{i}", "device": None,
                       "release_s": 0.0} for i in range(len(p_s))],
            "objective": {"kind": "makespan"}}
    return Problem.from_instance(parse_instance(data, source="independent"))


def test_a_two_for_two_exchange_balances_what_no_smaller_move_does():
    """67 s against 65 s: only two layers for two ({12, 21} for {4, 28}, {7, 27} for
    {8, 25}) shift exactly 1 s (no move, swap, 2-for-1 or 1-for-2 does), so only the
    compound move reaches 66 s in a few steps."""
    problem = independent([7, 12, 21, 27, 4, 8, 25, 28])
    assert justifiable(problem)
    assign, order = np.repeat([0, 1], 4), np.arange(8)
    value = objective(problem, assign[None, :], order)[0]
    assert value == 67
    _, pptr, pidx, _, _, m, release = pack(problem)
    start, finish, free = np.empty(8), np.empty(8), np.empty(m)
    ts._schedule(assign, order, problem.exec_s[:, 0], pptr, pidx, m, release, start,
                 finish, free, -1, -1)
    moves, reps, _ = ts.balance_moves(assign, start, finish, free,
                                   np.round(problem.exec_s[:, 0] * 1000).astype(int),
                                   np.random.default_rng(0), 4)
    loads = [np.bincount(a, problem.exec_s[:, 0], minlength=2) for a in moves]
    changed = np.flatnonzero(moves[0] != assign)
    assert (loads[0] == 66).all() and (np.bincount(assign[changed]) == 2).all()
    assert all(0 < 67 - lo[0] < 2 for lo in loads)   # each shifts strictly inside the gap
    assert (moves[np.arange(len(moves)), reps[:, 0]] == 1).all()   # A left server 0
    got = {}
    for balance in (ts.BALANCE, 0):
        ev = Evaluator(problem, 200, None, 0.0)
        a, o, v = ts.tail_search(problem, ev, assign, order, value,
                                 np.random.default_rng(0), balance=balance)
        assert ev.used < 200 and objective(problem, a[None, :], o)[0] == v
        got[balance] = v
    assert got == {ts.BALANCE: 66, 0: 67}


@pytest.mark.parametrize("balance,servers", [(ts.BALANCE, 4), (2 * ts.BALANCE, 4),
                                             (ts.BALANCE, 16)])
def test_with_compound_moves_never_worse_simulated_within_budget_and_seeded(balance,
                                                                            servers):
    """(16 servers: some run nothing, the exchanges move layers onto them.)"""
    problem = dag(nodes=50, servers=servers, shape="random", seed=1)
    assign, order, value = start_plan(problem)
    runs = []
    for _ in range(2):
        ev = Evaluator(problem, 2501, None, 0.0)
        runs.append(ts.tail_search(problem, ev, assign, order, value,
                                   np.random.default_rng(3), balance=balance))
        assert ev.used <= 2500
    (a, o, v), (b, p, w) = runs
    assert v <= value and objective(problem, a[None, :], o)[0] == v
    assert v == w and (a == b).all() and (o == p).all()


def test_balance_moves_trade_busy_tails_of_the_last_and_an_early_server():
    problem = dag(nodes=50, servers=4, shape="random", seed=0)
    assign, order, _ = start_plan(problem)
    dur, pptr, pidx, _, _, m, release = pack(problem)
    n = problem.n_layers
    start, finish, free = np.empty(n), np.empty(n), np.empty(m)
    ts._schedule(assign, order, dur, pptr, pidx, m, release, start, finish, free, -1, -1)
    dur_ms = np.round(dur * 1000).astype(np.int64)
    moves, _, _ = ts.balance_moves(assign, start, finish, free, dur_ms,
                                np.random.default_rng(0), 16)
    assert 0 < len(moves) <= 16
    hi = int(np.argmax(free))
    tail = set(ts.busy_tail(assign, start, finish, hi, ts.TAIL_LAYERS))
    for a in moves:
        changed = np.flatnonzero(a != assign)
        out = changed[assign[changed] == hi]   # A: from the last server to lo
        assert len(out) and set(out) <= tail and len(out) <= ts.SUBSET
        lo = a[out[0]]
        assert lo != hi and (a[out] == lo).all()
        back = changed[assign[changed] != hi]   # B: from lo to the last server
        assert (assign[back] == lo).all() and (a[back] == hi).all()
        assert len(back) <= ts.SUBSET
        shift_ms = dur_ms[out].sum() - dur_ms[back].sum()
        assert 0 < shift_ms < round((free[hi] - free[lo]) * 1000)


def test_lists_by_key_keep_precedence():
    problem = dag(nodes=50, servers=4, shape="layered", seed=3)
    _, pptr, pidx, sptr, sidx, _, _ = pack(problem)
    rng = np.random.default_rng(0)
    for _ in range(5):
        key = rng.random(problem.n_layers)
        order = ts._by_key(key, pptr, sptr, sidx)
        pos = np.empty_like(order)
        pos[order] = np.arange(len(order))
        assert sorted(order) == list(range(problem.n_layers))
        assert all(pos[p] < pos[g] for g in range(problem.n_layers) for p in problem.preds(g))
    by_index = np.arange(problem.n_layers)   # the generator's arcs go up: kept as is
    assert (ts._by_key(by_index.astype(float), pptr, sptr, sidx) == by_index).all()

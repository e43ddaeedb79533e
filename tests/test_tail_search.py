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

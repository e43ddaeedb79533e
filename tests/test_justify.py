"""Forward-backward justification (:mod:`offloadlab.heuristics.justify`): no pass
lengthens a schedule, the simulator reproduces the justified plan, the justified order
respects precedence, and GA/PSO-GA with it stay seeded and within their budget."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from offloadlab.budget import Evaluator
from offloadlab.heuristics.evolution import evaluate, make_decoder
from offloadlab.heuristics.ga import ga
from offloadlab.heuristics.justify import justifiable, justify, one_round
from offloadlab.heuristics.list_scheduling import heft
from offloadlab.heuristics.operators import Encoding, keys_to_priority, random_genes
from offloadlab.heuristics.pso_ga import pso_ga
from offloadlab.instance import load_instance
from offloadlab.instances.generators import random_dag_instance
from offloadlab.instances.library import library_path
from offloadlab.problem import Problem
from offloadlab.simulator import objective


def dag(**kw) -> Problem:
    return Problem.from_instance(random_dag_instance(**kw))


def random_orders(problem: Problem, n: int, seed: int) -> np.ndarray:
    return keys_to_priority(problem, np.random.default_rng(seed).random((n, problem.n_layers)))


def respects_precedence(problem: Problem, order: np.ndarray) -> bool:
    pos = np.empty(problem.n_layers, dtype=np.int64)
    pos[order] = np.arange(problem.n_layers)
    return sorted(order) == list(range(problem.n_layers)) and all(
        pos[p] < pos[g] for g in range(problem.n_layers) for p in problem.preds(g))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(nodes=st.integers(2, 14), servers=st.integers(1, 4),
       shape=st.sampled_from(["layered", "random"]), seed=st.integers(0, 10_000))
def test_no_pass_lengthens_and_the_simulator_agrees(nodes, servers, shape, seed):
    problem = dag(nodes=nodes, servers=servers, shape=shape, seed=seed)
    assert justifiable(problem)
    orders = random_orders(problem, 8, seed)
    for order in orders:
        (first, back, last), left = one_round(problem, order)
        assert back <= first + 1e-9 and last <= back + 1e-9
        assert respects_precedence(problem, left)
    plain = justify(problem, orders, share=0.0)
    got, assign, span_s, passes = justify(problem, orders, share=1.0, max_rounds=5)
    assert (span_s <= plain[2] + 1e-12).all()
    assert passes % 2 == 0 and passes >= 2 * len(orders)   # a round per row at least
    # the simulator, given the servers and the justified order, reproduces the makespan
    assert (objective(problem, assign, got) == span_s).all()
    assert (objective(problem, plain[1], plain[0]) == plain[2]).all()
    for order in got:
        assert respects_precedence(problem, order)


def test_justification_closes_gaps_a_list_leaves():
    """On a 100-node DAG on 8 servers one round shortens random lists a lot (measured:
    each of 50, by 23 % on average)."""
    problem = dag(nodes=100, servers=8, shape="random", seed=0)
    orders = random_orders(problem, 50, 1)
    _, _, before, _ = justify(problem, orders, share=0.0)
    _, _, after, passes = justify(problem, orders, share=1.0, max_rounds=1)
    assert passes == 100
    assert (after < before - 1e-9).mean() > 0.9
    assert (before / after).mean() > 1.15


def test_max_passes_and_share_bound_the_work():
    problem = dag(nodes=50, servers=4, seed=2)
    orders = random_orders(problem, 20, 3)
    assert justify(problem, orders, share=1.0, max_passes=7)[3] <= 7
    assert justify(problem, orders, share=0.1, max_rounds=1)[3] == 4   # the 2 best rows
    got, _, span_s, _ = justify(problem, orders, share=0.1, max_rounds=1)
    _, _, plain, _ = justify(problem, orders, share=0.0)
    best = np.argsort(plain, kind="stable")[:2]
    rest = np.setdiff1d(np.arange(20), best)
    assert (got[rest] == orders[rest]).all() and (span_s[rest] == plain[rest]).all()


def test_where_it_applies():
    assert justifiable(dag(nodes=20, servers=3, seed=0))
    assert not justifiable(dag(nodes=20, servers=3, seed=0, speeds="related"))
    assert not justifiable(dag(nodes=20, servers=3, seed=0, data=True))
    assert not justifiable(dag(nodes=20, servers=3, seed=0, tasks=2, kind="latency"))
    cut = dag(nodes=20, servers=3, seed=0)
    cut.bw[0, 1] = 0.0   # a missing link fails plans that use it, data or not
    assert not justifiable(cut)
    for name in ("makespan-jobs-tiny-s0", "latency-alexnet-tiny-s0"):
        lib = Problem.from_instance(load_instance(library_path(name)))
        assert not justifiable(lib)
        assert make_decoder(lib, "auto", 0.5, True, 0).justify == 0.0
    problem = dag(nodes=20, servers=3, seed=0)
    assert make_decoder(problem, "order", 0.5, True, 0).justify > 0
    assert make_decoder(problem, "hybrid", 0.5, True, 0).justify == 0.0


def test_every_pass_is_charged_within_the_budget():
    problem = dag(nodes=50, servers=4, shape="random", seed=5)
    enc = Encoding.identity(problem)
    dec = make_decoder(problem, "order", 0.5, True, 0)
    genes = random_genes(enc, 30, np.random.default_rng(0))
    keys = np.random.default_rng(1).random(genes.shape)
    ev = Evaluator(problem, 10_000, None, 0.0)
    values = evaluate(problem, enc, ev, genes, keys, dec)
    assert len(values) == 30 and dec.passes >= 60
    assert ev.used == 30 + dec.passes
    # the keys and genes now hold the justified plans the simulator scored
    assert (objective(problem, genes, keys_to_priority(problem, keys)) == values).all()
    short = Evaluator(problem, 40, None, 0.0)   # 39 evaluations: 30 rows, 9 passes
    evaluate(problem, enc, short, genes.copy(), keys.copy(), dec)
    assert short.used <= 39 and short.left() >= 0


def test_rounds_cap_the_passes_per_row():
    problem = dag(nodes=50, servers=4, shape="random", seed=5)
    enc = Encoding.identity(problem)
    genes = random_genes(enc, 30, np.random.default_rng(0))
    keys = np.random.default_rng(1).random(genes.shape)
    used = {}
    for rounds in (1, 4):
        dec = make_decoder(problem, "order", 0.5, True, 0, rounds)
        evaluate(problem, enc, Evaluator(problem, 10_000, None, 0.0), genes.copy(),
                 keys.copy(), dec)
        used[rounds] = dec.passes
    assert used[1] == 2 * 30 < used[4]   # one round: a backward and a forward pass
    assert ga(problem, seed=0, budget_evals=500).params["justify_rounds"] == 1
    assert pso_ga(problem, seed=0, budget_evals=500).params["justify_rounds"] == 4


@pytest.mark.parametrize("solver", [ga, pso_ga])
def test_justified_search_is_seeded_budgeted_and_beats_heft(solver):
    problem = dag(nodes=60, servers=4, shape="random", seed=7)
    a = solver(problem, seed=2, budget_evals=4000)
    b = solver(problem, seed=2, budget_evals=4000)
    assert a.objective == b.objective and (a.assign == b.assign).all()
    assert (a.priority == b.priority).all()
    assert a.evaluations <= 4000
    assert a.objective <= heft(problem).objective
    assert objective(problem, a.assign[None], a.priority)[0] == a.objective

"""Iterated greedy over priority lists (:mod:`offloadlab.heuristics.iterated_greedy`):
the insertions keep precedence, the search never returns a worse list than its start,
the simulator agrees with its value, and it is seeded and within its budget."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from offloadlab.budget import Evaluator
from offloadlab.heuristics.evolution import Population, greedy_best, make_decoder
from offloadlab.heuristics.iterated_greedy import allowed_positions, insertions
from offloadlab.heuristics.list_scheduling import heft
from offloadlab.heuristics.operators import Encoding, keys_to_priority, priority_to_keys
from offloadlab.instances.generators import random_dag_instance
from offloadlab.problem import Problem
from offloadlab.simulator import objective


def dag(**kw) -> Problem:
    return Problem.from_instance(random_dag_instance(**kw))


def respects_precedence(problem: Problem, order: np.ndarray) -> bool:
    pos = np.empty(problem.n_layers, dtype=np.int64)
    pos[order] = np.arange(problem.n_layers)
    return sorted(order) == list(range(problem.n_layers)) and all(
        pos[p] < pos[g] for g in range(problem.n_layers) for p in problem.preds(g))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(nodes=st.integers(2, 16), shape=st.sampled_from(["layered", "random"]),
       seed=st.integers(0, 10_000))
def test_every_allowed_insertion_keeps_precedence(nodes, shape, seed):
    problem = dag(nodes=nodes, servers=2, shape=shape, seed=seed)
    rng = np.random.default_rng(seed)
    order = keys_to_priority(problem, rng.random((1, nodes)))[0]
    layer = int(rng.integers(nodes))
    pos = allowed_positions(problem, order, layer)
    lists = insertions(order, layer, pos)
    assert len(pos) >= 1   # its own place at least
    assert any((row == order).all() for row in lists)
    for row in lists:
        assert respects_precedence(problem, row)
    # one position more on either side would break precedence, unless at an end
    rest = order[order != layer]
    for p in (pos[0] - 1, pos[-1] + 1):
        if 0 <= p <= len(rest):
            assert not respects_precedence(problem, insertions(order, layer, [p])[0])


def run_greedy(problem: Problem, budget: int, seed: int):
    enc = Encoding.identity(problem)
    dec = make_decoder(problem, "order", 0.5, True, 0)
    start = heft(problem)
    keys = priority_to_keys(problem, start.priority)
    pop = Population(enc.encode(start.assign[None]), keys, np.array([start.objective]))
    ev = Evaluator(problem, budget, None, 0.0)
    greedy_best(problem, enc, ev, pop, 0, np.random.default_rng(seed), dec)
    return pop, ev, start


def test_greedy_improves_heft_within_budget_and_is_seeded():
    problem = dag(nodes=60, servers=4, shape="random", seed=3)
    pop, ev, start = run_greedy(problem, 3000, 1)
    again, _, _ = run_greedy(problem, 3000, 1)
    assert ev.used <= 3000 and ev.done()
    assert pop.values[0] < start.objective   # HEFT's list leaves gaps on 4 servers
    assert (pop.keys == again.keys).all() and pop.values[0] == again.values[0]
    order = keys_to_priority(problem, pop.keys)
    assert respects_precedence(problem, order[0])
    assert objective(problem, pop.genes, order)[0] == pop.values[0]

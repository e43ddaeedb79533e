"""Metaheuristics and list schedulers: feasibility, determinism, budgets, optimality."""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pytest

from offloadlab import Problem
from offloadlab.instances import presets
from offloadlab.registry import solve
from offloadlab.simulator import simulate
from offloadlab.heuristics import operators as ops
from offloadlab.budget import Evaluator
from offloadlab.heuristics.local_search import apply_moves, moves, polish
from offloadlab.heuristics.pre_pso import merge_groups, merged_encoding
from offloadlab.graph import chain_and_blocks
from offloadlab.heuristics.two_step import step_encodings


@pytest.fixture(scope="module")
def tiny():
    """2 AlexNet tasks of 3 layers on 1 client, 1 edge, 1 cloud (the library's tiny)."""
    return Problem.from_instance(presets.eosdnn("alexnet", 2, n_clients=1, n_edge=1,
                                                n_cloud=1, n_layers=3, edge_pools=1,
                                                cloud_pools=1, name="tiny"))


@pytest.fixture(scope="module")
def dag():
    """One GoogLeNet task (inception DAG) on a small environment."""
    inst = presets.eosdnn("googlenet", 1, n_clients=1, n_edge=2, n_cloud=1, name="dag")
    return Problem.from_instance(inst)


def topological_orders(problem):
    graph = nx.DiGraph()
    graph.add_nodes_from(range(problem.n_layers))
    for g in range(problem.n_layers):
        graph.add_edges_from((int(q), g) for q in problem.preds(g))
    return [np.array(o) for o in nx.all_topological_sorts(graph)]


def brute_force(problem):
    """min over every assignment and every precedence-respecting order."""
    choices = [problem.allowed_servers(g) for g in range(problem.n_layers)]
    assigns = np.array(list(itertools.product(*choices)), dtype=np.int64)
    return min(simulate(problem, assigns, order[None, :]).objective.min()
               for order in topological_orders(problem))


def respects_precedence(problem, priority):
    pos = np.empty(problem.n_layers, dtype=np.int64)
    pos[priority] = np.arange(problem.n_layers)
    return all(pos[q] < pos[g] for g in range(problem.n_layers) for q in problem.preds(g))


# --- operators ---------------------------------------------------------------------------

def test_operators_keep_genes_on_allowed_servers(dag):
    rng = np.random.default_rng(1)
    enc = ops.Encoding.identity(dag)
    pop = ops.random_genes(enc, 40, rng)
    seg = ops.segment_genes(dag, enc, 40, rng)
    for _ in range(20):
        pop = ops.server_mutation(pop, enc, rng.random(40) < 0.7, rng)
        pop = ops.segment_crossover(pop, seg, rng.random(40) < 0.7, rng)
    rows = np.arange(dag.n_layers)[None, :]
    assert dag.allowed[rows, pop].all()
    assert dag.allowed[rows, seg].all()


def test_mutation_changes_exactly_one_server_when_applied(dag):
    rng = np.random.default_rng(2)
    enc = ops.Encoding.identity(dag)
    pop = ops.random_genes(enc, 30, rng)
    apply = np.arange(30) % 2 == 0
    out = ops.server_mutation(pop, enc, apply, rng)
    changed = (out != pop).sum(axis=1)
    assert (changed[~apply] == 0).all()
    assert (changed[apply] == 1).all()  # every layer here has at least 2 allowed servers


def test_segment_mutation_moves_one_contiguous_task_segment(dag, tiny):
    for problem in (dag, tiny):
        rng = np.random.default_rng(5)
        enc = ops.Encoding.identity(problem)
        spans = ops.gene_spans(problem, enc)
        pop = ops.random_genes(enc, 60, rng)
        apply = np.arange(60) % 3 != 0
        out = ops.segment_mutation(pop, enc, spans, apply, rng)
        rows = np.arange(problem.n_layers)[None, :]
        assert problem.allowed[rows, out].all()
        assert (out[~apply] == pop[~apply]).all()
        for before, after in zip(pop[apply], out[apply]):
            changed = np.flatnonzero(before != after)
            if len(changed):  # one task, one new server, inside one contiguous range
                assert len(set(problem.layer_task[changed])) == 1
                assert len(set(after[changed])) == 1
        again = ops.segment_mutation(pop, enc, spans, apply, np.random.default_rng(5))
        assert (again == ops.segment_mutation(pop, enc, spans, apply,
                                              np.random.default_rng(5))).all()


def test_task_plans_put_whole_tasks_on_one_server(tiny):
    enc = ops.Encoding.identity(tiny)
    plans = ops.task_plans(tiny, enc)
    assert plans.shape == (tiny.n_servers, tiny.n_layers)
    assert tiny.allowed[np.arange(tiny.n_layers)[None, :], plans].all()
    for s in np.flatnonzero(tiny.tier > 0):  # edge and cloud take every layer
        assert (plans[s] == s).all()


def test_local_search_moves_are_feasible_and_polish_never_worsens(dag):
    rng = np.random.default_rng(6)
    enc = ops.Encoding.identity(dag)
    spans = ops.gene_spans(dag, enc)
    genes = ops.segment_genes(dag, enc, 1, rng)[0]
    mv = moves(genes, enc, spans)
    plans = apply_moves(genes, enc, mv)
    assert dag.allowed[np.arange(dag.n_layers)[None, :], plans].all()
    assert ((plans != genes).sum(axis=1) >= 1).mean() > 0.9
    evaluator = Evaluator(dag, 600, None, 0.0)
    start = float(simulate(dag, genes).objective[0])
    out, value = polish(dag, enc, evaluator, genes, start, dag.default_priority, spans,
                        np.random.default_rng(0))
    assert value <= start and value == pytest.approx(simulate(dag, out).objective[0])
    assert evaluator.used <= 599


@pytest.mark.parametrize("params", [{}, {"segment_p": 0.0, "polish": 0.0, "init": "random"},
                                    {"order_noise": 0.1}])
def test_options_keep_determinism_and_feasibility(dag, params):
    a = solve(dag, "pso-ga", seed=3, budget_evals=1200, **params)
    b = solve(dag, "pso-ga", seed=3, budget_evals=1200, **params)
    assert a.objective == b.objective and (a.assign == b.assign).all()
    assert np.isfinite(a.objective) and respects_precedence(dag, a.priority)


def test_keys_decode_to_precedence_respecting_orders(dag):
    rng = np.random.default_rng(3)
    keys = rng.random((25, dag.n_layers))
    for priority in ops.keys_to_priority(dag, keys):
        assert sorted(priority) == list(range(dag.n_layers))
        assert respects_precedence(dag, priority)


def test_priority_to_keys_round_trips(dag):
    rng = np.random.default_rng(4)
    priority = dag.random_priority(rng, 5)
    back = ops.keys_to_priority(dag, ops.priority_to_keys(dag, priority))
    assert (back == priority).all()


def test_adaptive_inertia_follows_eq16():
    w = ops.adaptive_inertia(np.array([0.0, 0.5, 1.0]))
    assert w[0] == pytest.approx(0.2)
    assert w[1] == pytest.approx(0.8 - 0.6 * np.exp(0.5 / (0.5 - 1.01)))
    assert w[2] == pytest.approx(0.8, abs=1e-12)
    assert ops.linear(0.9, 0.2, 0, 600) == 0.9
    assert ops.linear(0.9, 0.2, 599, 600) == pytest.approx(0.2)


# --- determinism, budgets, feasibility -------------------------------------------------------

@pytest.mark.parametrize("name", ["pso-ga", "ga", "pre-pso"])
def test_same_seed_same_plan(dag, name):
    a = solve(dag, name, seed=7, budget_evals=1500)
    b = solve(dag, name, seed=7, budget_evals=1500)
    assert a.objective == b.objective
    assert (a.assign == b.assign).all() and (a.priority == b.priority).all()


@pytest.mark.parametrize("name,params", [("pso-ga", {}), ("ga", {}), ("pre-pso", {}),
                                         ("pso-ga", {"two_step": True}),
                                         ("ga", {"two_step": True}),
                                         ("pso-ga", {"init": "random"})])
@pytest.mark.parametrize("budget", [2, 137, 1000])
def test_evaluation_budget_is_respected(dag, name, params, budget):
    sol = solve(dag, name, seed=0, budget_evals=budget, **params)
    assert sol.evaluations <= budget
    if budget >= 1000:
        assert sol.evaluations == budget  # the budget is spent, not abandoned
        assert np.isfinite(sol.objective)
        assert respects_precedence(dag, sol.priority)


def test_time_limit_stops_the_run(dag):
    sol = solve(dag, "pso-ga", seed=0, time_limit_s=0.05, budget_evals=10**9)
    assert sol.status == "time_limit"
    assert np.isfinite(sol.objective) and sol.evaluations < 10**9


def test_history_is_decreasing(dag):
    sol = solve(dag, "pso-ga", seed=0, budget_evals=3000)
    values = [v for _, v in sol.history]
    assert values == sorted(values, reverse=True)
    assert values[-1] == pytest.approx(sol.objective)


@pytest.mark.parametrize("name", ["heft", "peft"])
def test_list_schedulers_give_feasible_precedence_orders(dag, tiny, name):
    for problem in (dag, tiny):
        sol = solve(problem, name)
        assert sol.status == "feasible" and np.isfinite(sol.objective)
        assert respects_precedence(problem, sol.priority)


# --- against the brute-force optimum -------------------------------------------------------

def test_pso_ga_reaches_but_never_beats_the_optimum(tiny):
    opt = brute_force(tiny)
    for seed in range(3):
        sol = solve(tiny, "pso-ga", seed=seed, budget_evals=6000)
        assert sol.objective >= opt - 1e-12
        assert sol.objective == pytest.approx(opt, rel=1e-9)


def test_fixed_order_search_stays_above_optimum(tiny):
    opt = brute_force(tiny)
    sol = solve(tiny, "pso-ga", seed=0, budget_evals=3000, search_order=False)
    assert sol.objective >= opt - 1e-12
    assert (sol.priority == tiny.default_priority).all()


# --- prePSO merging and two-step structure -------------------------------------------------

def test_pre_pso_series_rule_merges_chains_and_literal_rule_residual_blocks():
    # 0 -> 1 -> 2 -> 3 with a skip 0 -> 3
    graph = nx.DiGraph([(0, 1), (1, 2), (2, 3), (0, 3)])
    series = merge_groups(graph)               # only 1 -> 2 (out 1, in 1) merges
    assert series[1] == series[2] and len(set(series)) == 3
    literal = merge_groups(graph, "literal")   # 0 -> 1 (out 2, in 1), 2 -> 3 (out 1, in 2)
    assert literal[0] == literal[1] and literal[2] == literal[3] and literal[0] != literal[2]
    chain = nx.DiGraph([(0, 1), (1, 2)])
    assert len(set(merge_groups(chain))) == 1
    assert len(set(merge_groups(chain, "literal"))) == 3


def test_chain_and_blocks_find_the_inception_module():
    # 0 -> {1, 2 -> 3} -> 4 -> 5
    graph = nx.DiGraph([(0, 1), (0, 2), (2, 3), (1, 4), (3, 4), (4, 5)])
    is_chain, block = chain_and_blocks(graph)
    assert is_chain.tolist() == [True, False, False, False, True, True]
    assert block.tolist() == [-1, 0, 0, 0, -1, -1]


def test_two_step_encodings_cover_every_layer(dag):
    step1, step2 = step_encodings(dag)
    assert (step1 >= 0).all() and step1.max() + 1 < dag.n_layers
    assert (step2 >= 0).any() and (step2 < 0).any()
    assert merged_encoding(dag).n_genes <= dag.n_layers

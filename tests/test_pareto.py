"""Multi-objective fronts: components, exact fronts (three methods agree), pymoo search,
indicators and the ``pareto`` command."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from offloadlab.formulations.pareto import (ParetoError, exact_front, nondominated,
                                            objective_columns)
from offloadlab.heuristics.moo import ALGORITHMS, Codec, repair_links, search
from offloadlab.heuristics.moo_commands import indicators, reference_point
from offloadlab.instance import load_instance
from offloadlab.instances.library import library_path
from offloadlab.problem import Problem
from offloadlab.simulator import components, simulate

DDPQN_TINY = "ddpqn-alexnet-tiny-s0"
DMRO_TINY = "dmro-workflows-tiny-s0"
DMRO_SMALL = "dmro-workflows-small-s0"


def problem_of(name: str) -> Problem:
    return Problem.from_instance(load_instance(library_path(name)))


def test_nondominated_keeps_one_of_each_distinct_nondominated_point():
    pts = np.array([[1, 5], [2, 2], [2, 2], [3, 3], [5, 1], [1, 6], [0.5, 9]])
    assert pts[nondominated(pts)].tolist() == [[0.5, 9], [1, 5], [2, 2], [5, 1]]


def test_ddpqn_components_follow_models_section_3():
    pb = problem_of(DDPQN_TINY)
    dev = pb.task_device[pb.layer_task]
    local = dev[None, :]                          # every layer on its client
    ev = simulate(pb, local)
    comp = components(pb, local)[0]
    assert comp[0] == pytest.approx(ev.latency_s[0].sum())
    active_w = pb.instance.servers[int(dev[0])].active_w
    assert comp[1] == pytest.approx(active_w * ev.exec_s[0].sum())   # 70 W, no transfer
    assert comp[2] == 0.0                                            # the client is free
    cloud = int(np.flatnonzero(pb.tier == 2)[0])
    remote = np.full((1, pb.n_layers), cloud)
    ev = simulate(pb, remote)
    comp = components(pb, remote)[0]
    idle_w = pb.instance.servers[int(dev[0])].idle_w
    tx_w = pb.link_matrix("tx_w")[dev[0], cloud]
    # idle client while the cloud computes, transmit power only on the input's transfer
    assert comp[1] == pytest.approx(idle_w * ev.exec_s[0].sum() + tx_w * ev.transfer_s[0].sum())
    assert comp[2] > 0


def test_objective_columns_reject_undefined_components():
    pb = problem_of(DMRO_TINY)
    assert objective_columns(pb, ["delay", "energy"]) == [0, 1]
    with pytest.raises(ValueError, match="'cost' is not defined for kind 'dmro'"):
        objective_columns(pb, ["delay", "cost"])
    with pytest.raises(ValueError, match="unknown objective 'time'"):
        objective_columns(pb, ["time", "energy"])


def _same_front(a, b):
    assert a.shape == b.shape
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


SUBSETS = [("delay", "energy", "cost"), ("delay", "energy"), ("delay", "cost"),
           ("energy", "cost")]


@pytest.mark.parametrize("objectives", SUBSETS)
def test_epsilon_constraint_front_is_the_brute_force_front(objectives):
    pb = problem_of(DDPQN_TINY)
    brute = exact_front(pb, objectives, method="brute-force")
    eps = exact_front(pb, objectives, method="epsilon-constraint")
    assert brute["proven"] and eps["proven"]
    assert len(brute["front"]) >= 4
    if len(objectives) == 3:   # contention: the relaxation alone does not settle it
        assert eps["solves"] > 0
    _same_front(brute["front"], eps["front"])
    # every point is what the simulator says of its plan
    cols = objective_columns(pb, objectives)
    for f, a, p in zip(eps["front"], eps["assign"], eps["priority"]):
        np.testing.assert_allclose(components(pb, a, p)[0, cols], f)


def test_label_dp_front_of_energy_and_cost_is_the_brute_force_front():
    pb = problem_of(DDPQN_TINY)
    brute = exact_front(pb, ("energy", "cost"), method="brute-force")
    dp = exact_front(pb, ("energy", "cost"), method="label-dp")
    assert dp["method"] == "label-dp" and dp["solves"] == 0
    _same_front(brute["front"], dp["front"])
    with pytest.raises(ParetoError, match="energy and cost"):
        exact_front(pb, ("delay", "energy"), method="label-dp")


def test_chain_front_holds_every_contention_free_optimum():
    from offloadlab.formulations.pareto import _FreeBound, free_order

    pb = problem_of(DDPQN_TINY)
    free = _FreeBound(pb)
    plans = np.array([free.plan(k) for k in range(len(free.f))])
    sim = components(pb, plans)
    # energy and cost are the simulator's; the delay a lower bound of it
    np.testing.assert_allclose(sim[:, 1:], free.f[:, 1:], rtol=1e-12)
    assert (sim[:, 0] >= free.f[:, 0] - 1e-12).all()
    # under the contention-free order some plans meet no contention at all
    prio = np.array([free_order(pb, a) for a in plans])
    exact = np.isclose(components(pb, plans, prio)[:, 0], free.f[:, 0], rtol=1e-12)
    assert exact.any()
    # no plan is better in every component than the relaxation's front
    rng = np.random.default_rng(0)
    servers = [np.flatnonzero(row) for row in pb.allowed]
    sample = np.array([[rng.choice(s) for s in servers] for _ in range(500)])
    f = components(pb, sample)
    f = f[np.isfinite(f).all(axis=1)]
    for row in f:
        assert (free.f <= row * (1 + 1e-12)).all(axis=1).any()


def test_local_upper_bounds_cover_exactly_what_no_point_dominates():
    from offloadlab.formulations.pareto import split_upper_bounds

    step = np.full(2, 1e-6)
    upper = [np.full(2, np.inf)]
    for z in ([1.0, 3.0], [2.0, 2.0], [3.0, 1.0]):
        upper = split_upper_bounds(upper, np.array(z), step)
    got = sorted(tuple(u) for u in upper)
    assert got == [(1.0, np.inf), (2.0, 3.0), (3.0, 2.0), (np.inf, 1.0)]


def test_decomposition_front_is_the_brute_force_front():
    pb = problem_of(DMRO_TINY)
    brute = exact_front(pb, ("delay", "energy"), method="brute-force")
    dec = exact_front(pb, ("delay", "energy"), method="decomposition")
    assert len(brute["front"]) >= 2
    _same_front(brute["front"], dec["front"])


def test_exact_front_of_a_large_non_chain_instance_is_refused():
    from offloadlab.formulations.pareto import choose_method

    with pytest.raises(ParetoError, match="too many to enumerate"):
        choose_method(problem_of("latency-googlenet-small-s0"))


def test_codec_round_trips_and_repair_keeps_links():
    pb = problem_of(DDPQN_TINY)
    codec = Codec(pb)
    rng = np.random.default_rng(3)
    servers = [np.flatnonzero(row) for row in pb.allowed]
    assign = np.array([[rng.choice(s) for s in servers] for _ in range(20)])
    prio = pb.random_priority(rng, 20)
    a2, p2 = codec.decode(codec.encode(assign, prio))
    assert (a2 == assign).all() and (p2 == prio).all()
    fixed = repair_links(pb, assign)
    assert simulate(pb, fixed, prio).feasible.all()


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_every_algorithm_returns_a_feasible_nondominated_front(algorithm):
    pb = problem_of(DDPQN_TINY)
    out = search(pb, algorithm, ("delay", "energy", "cost"), budget_evals=400, seed=1)
    f = out["front"]
    # the seeding solvers' evaluations count within the budget
    assert len(f) >= 2 and out["search_evaluations"] < out["evaluations"] <= 400
    assert len(nondominated(f)) == len(f)
    np.testing.assert_allclose(components(pb, out["assign"], out["priority"]), f)


def test_nsga2_is_deterministic_per_seed_and_finds_the_tiny_front():
    pb = problem_of(DMRO_SMALL)
    exact = exact_front(pb, ("delay", "energy"))
    assert exact["method"] == "decomposition" and exact["proven"]
    runs = [search(pb, "nsga2", ("delay", "energy"), budget_evals=3000, seed=s)
            for s in (4, 4, 5)]
    assert runs[0]["front"].tolist() == runs[1]["front"].tolist()
    assert (runs[0]["assign"] == runs[1]["assign"]).all()
    ref = reference_point(pb, [0, 1])
    ind = indicators(runs[0]["front"], ref, exact["front"])
    assert ind["hv_ratio"] > 0.99 and ind["igd_plus"] < 0.05


def test_indicators_measure_the_distance_to_the_exact_front():
    exact = np.array([[0.0, 1.0], [0.5, 0.5], [1.0, 0.0]])
    ref = np.array([2.0, 2.0])
    same = indicators(exact, ref, exact)
    assert same["hv_ratio"] == pytest.approx(1.0) and same["igd_plus"] == pytest.approx(0.0)
    worse = indicators(exact + 0.1, ref, exact)
    assert worse["hv_ratio"] < 1.0 and worse["igd_plus"] == pytest.approx(0.1 * np.sqrt(2))


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "offloadlab.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=300)


def test_pareto_command_prints_the_front_with_its_indicators(tmp_path):
    png = tmp_path / "front.png"
    proc = _cli("pareto", DDPQN_TINY, "--budget-evals", "2000", "--seed", "2", "--json",
                "--plot", png)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["objectives"] == ["delay_s", "energy_j", "cost_usd"]
    assert len(out["front"]) == len(out["plans"]) >= 2
    assert out["exact"]["method"] == "brute-force" and out["exact"]["proven"]
    assert 0.9 < out["hv_ratio"] <= 1.0 + 1e-12 and out["igd_plus"] >= 0
    assert len(out["reference_point"]) == 3 and png.stat().st_size > 1000


def test_pareto_command_rejects_bad_input_in_one_line():
    proc = _cli("pareto", DMRO_TINY, "--objectives", "delay,cost")
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "'cost' is not defined" in proc.stderr
    proc = _cli("pareto", DMRO_TINY, "--algorithm", "nsga9")
    assert proc.returncode == 2 and "unknown 'nsga9'" in proc.stderr


@pytest.mark.parametrize("dims,seed", [(2, 0), (3, 1), (3, 2), (3, 3), (3, 4), (3, 6)])
def test_box_search_finds_every_nondominated_point_of_a_finite_set(dims, seed):
    from offloadlab.formulations.pareto import box_search

    rng = np.random.default_rng(seed)
    if seed % 2:   # integer values: many ties, a front that is not convex
        pts = rng.integers(0, 30, size=(400, dims)).astype(float)
    else:          # a trade-off surface: empty boxes below found points' first values
        pts = rng.random((200, dims))
        pts[:, -1] = 1 - pts[:, :-1].mean(axis=1) + 0.2 * rng.random(200)
    calls = []

    def oracle(v):
        calls.append(v)
        inside = pts[(pts <= v + 1e-12).all(axis=1)]
        if not len(inside):
            return "infeasible", None, None
        best = inside[inside[:, 0] == inside[:, 0].min()]
        z = best[np.argmin(best[:, 1:].sum(axis=1))]
        return "optimal", z, None

    found, complete = box_search(oracle, np.full(dims, 1e-6))
    got = np.array(sorted(tuple(z) for z, _ in found))
    want = pts[nondominated(pts)]
    assert complete and got.tolist() == want.tolist()
    assert len(calls) <= 3 * len(want) + 1

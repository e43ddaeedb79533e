"""The simulator: hand-checked values for every objective kind, infeasibility reasons,
and agreement with an independent reading of MODELS.md."""

from __future__ import annotations

import numpy as np
import pytest

from offloadlab import Problem, parse_instance, simulate
from offloadlab.heuristics.baselines import random_plans
from offloadlab.simulator import DEADLINE, FOREIGN_DEVICE, MEMORY, NO_LINK, PRECEDENCE

import reference
from conftest import library_problem, tiny_dict, tiny_problem

PLANS = [[0, 0, 0, 0], [1, 1, 1, 1], [0, 2, 1, 2]]  # (t1.a, t1.b, t2.a, t2.b)


def test_latency_by_hand(tiny):
    ev = simulate(tiny, PLANS)
    # all local: t1 0-2, 2-6; t2 waits for the device: 6-8, 8-12 -> 6 + 11
    # all edge: inputs 0.1 s; t1 0.1-1.1, 1.1-3.1; t2 3.1-4.1, 4.1-6.1 -> 3.1 + 5.1
    # mixed: t1.b waits 5 MB at 1 MB/s (7.0-7.4); t2 on e1 1.1-2.1, c1 3.1-3.5 -> 7.4 + 2.5
    assert ev.objective == pytest.approx([17.0, 8.2, 9.9])
    assert ev.feasible.all()
    assert ev.wait_s[0].tolist() == pytest.approx([0, 0, 5, 0])  # t2 released at 1
    assert ev.transfer_s[2].tolist() == pytest.approx([0, 5.0, 0.1, 1.0])
    assert ev.exec_s[2].tolist() == pytest.approx([2.0, 0.4, 1.0, 0.4])
    assert ev.latency_s[2].tolist() == pytest.approx([7.4, 2.5])


def test_pools_share_a_server():
    data = tiny_dict()
    data["servers"][1]["pools"] = 2
    pb = Problem.from_instance(parse_instance(data))
    ev = simulate(pb, [[1, 1, 1, 1]])
    # two slots: t2 no longer waits for t1 on e1: 1.1-2.1, 2.1-4.1
    assert ev.latency_s[0].tolist() == pytest.approx([3.1, 3.1])


def test_priority_changes_the_queue(tiny):
    # t2 before t1 on the shared edge server
    ev = simulate(tiny, [[1, 1, 1, 1]], [[2, 3, 0, 1]])
    # t2 on e1 1.1-2.1-4.1; t1 waits until 4.1: 4.1-5.1-7.1
    assert ev.latency_s[0].tolist() == pytest.approx([7.1, 3.1])


def test_makespan_by_hand():
    pb = tiny_problem(kind="makespan")
    assert simulate(pb, PLANS).objective == pytest.approx([12.0, 6.1, 7.4])


def test_return_output_adds_the_way_back():
    pb = tiny_problem(kind="latency", return_output=True)
    # mixed plan: both finals on c1, 0.5 MB back at 1 MB/s each
    assert simulate(pb, [PLANS[2]]).objective[0] == pytest.approx(9.9 + 1.0)


def test_dmro_by_hand():
    data = tiny_dict(kind="dmro", delta=0.5)
    for srv, j in zip(data["servers"], (0.3, 0.15, 0.1)):
        srv["j_per_gcycle"] = j
    pb = Problem.from_instance(parse_instance(data))
    ev = simulate(pb, [PLANS[2], PLANS[0]])
    # no contention, output returned: t1 7.4 + 0.5, t2 (3.5 + 0.5) - 1 -> T = 10.9
    # E = 0.3*2 + 0.1*4 + 0.15*2 + 0.1*4 = 1.7 -> Q = 10.9 + 0.5 * 1.7
    assert ev.objective[0] == pytest.approx(11.75)
    # all local without contention: 6 + 6 and E = 0.3 * 12
    assert ev.objective[1] == pytest.approx(12.0 + 0.5 * 3.6)
    assert ev.terms["energy_j"][0] == pytest.approx(1.7)


def test_deadline_is_hard():
    data = tiny_dict(kind="deadline")
    data["tasks"][0]["deadline_s"] = 8.0
    data["tasks"][1]["deadline_s"] = 2.0
    pb = Problem.from_instance(parse_instance(data))
    ev = simulate(pb, [PLANS[2]])
    assert not ev.feasible[0] and ev.status[0] == DEADLINE and np.isinf(ev.objective[0])
    data["tasks"][1]["deadline_s"] = 3.0
    pb = Problem.from_instance(parse_instance(data))
    assert simulate(pb, [PLANS[2]]).objective[0] == pytest.approx(9.9)


def test_infeasible_plans_carry_their_reason():
    data = tiny_dict()
    data["servers"].append({"name": "d2", "tier": "device", "ghz": 1.0})
    data["links"] = data["links"][:2]  # no edge-cloud link
    data["servers"][2]["memory_mb"] = 5.2
    pb = Problem.from_instance(parse_instance(data))
    ev = simulate(pb, [[3, 0, 0, 0], [0, 2, 1, 2], [2, 2, 2, 2], [1, 1, 1, 1]],
                  [[0, 1, 2, 3]])
    assert ev.status.tolist() == [FOREIGN_DEVICE, NO_LINK, MEMORY, 0]
    assert "device" in ev.reason(0) and "link" in ev.reason(1) and "memory" in ev.reason(2)
    assert np.isinf(ev.objective[:3]).all() and np.isfinite(ev.objective[3])
    ev = simulate(pb, [[1, 1, 1, 1]], [[1, 0, 2, 3]])
    assert ev.status[0] == PRECEDENCE


def test_population_equals_one_by_one():
    pb = library_problem("latency-vgg19-small-s0")
    rng = np.random.default_rng(1)
    assign = random_plans(pb, 20, rng)
    prio = pb.random_priority(rng, 20)
    together = simulate(pb, assign, prio).objective
    alone = [simulate(pb, assign[i], prio[i]).objective[0] for i in range(20)]
    assert together.tolist() == alone


@pytest.mark.parametrize("name", ["latency-alexnet-small-s0", "latency-googlenet-small-s0",
                                  "deadline-vgg16-small-s0", "makespan-jobs-small-s0"])
def test_schedule_matches_independent_reference(name):
    pb = library_problem(name)
    rng = np.random.default_rng(7)
    assign = random_plans(pb, 5, rng)
    prio = pb.random_priority(rng, 5)
    ev = simulate(pb, assign, prio)
    for i in range(5):
        rec, ends = reference.schedule(pb, assign[i], prio[i])
        assert ev.start_s[i].tolist() == pytest.approx([rec[g]["start"]
                                                        for g in range(pb.n_layers)])
        assert ev.transfer_s[i].tolist() == pytest.approx([rec[g]["transfer"]
                                                           for g in range(pb.n_layers)])
        if ev.feasible[i] and pb.instance.objective.kind in ("latency", "deadline"):
            assert ev.objective[i] == pytest.approx(reference.latency_sum(pb, assign[i],
                                                                          prio[i]))


@pytest.mark.parametrize("name", ["ddpqn-alexnet-tiny-s0", "ddpqn-alexnet-small-s0"])
def test_ddpqn_matches_independent_reference(name):
    pb = library_problem(name)
    rng = np.random.default_rng(3)
    assign = random_plans(pb, 6, rng)
    prio = pb.random_priority(rng, 6)
    ev = simulate(pb, assign, prio)
    for i in range(6):
        assert ev.objective[i] == pytest.approx(reference.ddpqn(pb, assign[i], prio[i]),
                                                rel=1e-9, abs=1e-12)


def test_ddpqn_ablations_switch_terms_off():
    pb = library_problem("ddpqn-alexnet-small-s0")
    data = pb.instance.model_dump(by_alias=True)
    data["objective"].update(varphi=0.0, omega=0.0)
    plain = Problem.from_instance(parse_instance(data))
    rng = np.random.default_rng(0)
    assign = random_plans(pb, 4, rng)
    full, ablated = simulate(pb, assign), simulate(plain, assign)
    terms = full.terms
    # A-B-X keeps only phi * (standardised delay/energy/cost)
    expected = full.objective + 0.2 * terms["coordination"] * pb.n_layers \
        - 0.2 * terms["balance"] * pb.n_layers
    assert ablated.objective == pytest.approx(expected)


@pytest.mark.parametrize("name", ["latency-alexnet-small-s0", "ddpqn-alexnet-small-s0",
                                  "dmro-workflows-small-s0", "deadline-vgg16-small-s0",
                                  "makespan-jobs-small-s0"])
def test_objective_fast_path_equals_simulate(name):
    from offloadlab.simulator import objective

    pb = library_problem(name)
    rng = np.random.default_rng(5)
    for n in (30, 7, 30):  # buffers are reused across calls of different sizes
        assign, prio = random_plans(pb, n, rng), pb.random_priority(rng, n)
        assert objective(pb, assign, prio).tolist() == simulate(pb, assign, prio).objective.tolist()

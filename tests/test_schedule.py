"""The incremental schedule: the step agrees with the population simulator bit for bit,
objective increments sum to the objective, exact infeasibility reasons, and today's
frozen numbers (``data/frozen_simulator.json``, written by ``data/freeze_simulator.py``
with the simulator before the step existed) are kept."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from offloadlab import Problem, parse_instance, simulate
from offloadlab.heuristics.baselines import random_plans
from offloadlab.instances.library import BUILDERS
from offloadlab.schedule import (BAD_ORDER, BAD_SERVER, DEADLINE, FEASIBLE, FOREIGN_DEVICE,
                                 MEMORY, NO_DEVICE, NO_LINK, PRECEDENCE, REASONS, new_state,
                                 place, place_batch)

from conftest import library_problem, tiny_dict

FROZEN = json.loads((Path(__file__).parent / "data" / "frozen_simulator.json").read_text())
KINDS = ["latency-vgg19-small-s0", "latency-googlenet-small-s0", "deadline-vgg16-small-s0",
         "makespan-jobs-small-s0", "dmro-workflows-small-s0", "ddpqn-alexnet-small-s0",
         "dmro-multiserver-paper-s0"]


def run_steps(pb, assign, prio):
    """Place every plan of a population with the batched step, one layer per call."""
    state = new_state(pb, len(assign))
    rows = np.arange(len(assign))
    steps, total, soft = [], np.zeros(len(assign)), np.zeros(len(assign))
    for k in range(pb.n_layers):
        g = prio[:, k]
        step = place_batch(pb, state, g, assign[rows, g])
        total += pb.objective.increment(state, step)
        soft += pb.objective.soft_increment(state, step)
        steps.append(step)
    return state, steps, total, soft


def assert_kept(objective, frozen_hex):
    """Same infeasible plans, same values to 1e-12 relative: numpy's sums follow the
    CPU's vector width, so the last bits differ between machines (2 ulp seen)."""
    old = np.array([float.fromhex(h) for h in frozen_hex])
    got = np.asarray(objective, dtype=float)
    assert (np.isfinite(got) == np.isfinite(old)).all()
    np.testing.assert_allclose(got[np.isfinite(old)], old[np.isfinite(old)], rtol=1e-12,
                               atol=0)


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_simulator_keeps_todays_numbers(name):
    pb = library_problem(name)
    rng = np.random.default_rng(7)
    assign = random_plans(pb, 24, rng)
    prio = pb.random_priority(rng, 24)
    frozen = FROZEN[name]
    ev = simulate(pb, assign, prio)
    assert_kept(ev.objective, frozen["objective"])
    ev0 = simulate(pb, assign[:8])
    assert_kept(ev0.objective, frozen["objective_default"])
    for got, old in ((ev.status, frozen["status"]), (ev0.status, frozen["status_default"])):
        assert ((got == FEASIBLE) == (np.array(old) == FEASIBLE)).all()


@pytest.mark.parametrize("name", KINDS)
def test_step_equals_population_simulator(name):
    pb = library_problem(name)
    rng = np.random.default_rng(11)
    assign = random_plans(pb, 16, rng)
    prio = pb.random_priority(rng, 16)
    ev = simulate(pb, assign, prio)
    state, steps, total, _ = run_steps(pb, assign, prio)
    assert (state.status == ev.status).all()
    ok = ev.feasible
    assert ok.any()
    rows = np.arange(len(assign))
    for k, step in enumerate(steps):
        g = prio[ok, k]
        for field, arr in (("start_s", ev.start_s), ("finish_s", ev.finish_s),
                           ("exec_s", ev.exec_s), ("transfer_s", ev.transfer_s),
                           ("wait_s", ev.wait_s), ("crit", ev.crit_pred)):
            assert getattr(step, field)[ok].tolist() == arr[rows[ok], g].tolist(), field
    latency = state.task_end_s - pb.release_s[None, :]
    assert latency[ok].tolist() == ev.latency_s[ok].tolist()
    if not pb.objective.per_layer:
        assert total[ok] == pytest.approx(ev.objective[ok], rel=1e-9)


@pytest.mark.parametrize("name", ["ddpqn-alexnet-small-s0", "ddpqn-alexnet-tiny-s0"])
def test_ddpqn_increments_sum_in_the_global_order(name):
    pb = library_problem(name)
    rng = np.random.default_rng(2)
    assign = random_plans(pb, 12, rng)
    prio = np.tile(np.arange(pb.n_layers), (12, 1))
    ev = simulate(pb, assign, prio)
    _, _, total, _ = run_steps(pb, assign, prio)
    assert ev.feasible.any()
    assert total[ev.feasible] == pytest.approx(ev.objective[ev.feasible], rel=1e-9)


def test_soft_deadline_term_sums_to_the_overrun():
    data = library_problem("deadline-vgg16-small-s0").instance.model_dump(by_alias=True)
    for task in data["tasks"]:
        task["deadline_s"] *= 0.3  # some random plans miss
    data["objective"]["beta"] = 2.5
    pb = Problem.from_instance(parse_instance(data))
    rng = np.random.default_rng(4)
    assign = random_plans(pb, 30, rng)
    prio = pb.random_priority(rng, 30)
    state, _, _, soft = run_steps(pb, assign, prio)
    done = state.n_placed == pb.n_layers  # placed whole, late or not
    latency = state.task_end_s - pb.release_s
    over = pb.objective.spec.beta * np.maximum(latency - pb.deadline_s, 0).sum(1)
    assert done.all() and (over > 0).any() and (over == 0).any()
    assert soft[done] == pytest.approx(over[done], rel=1e-9)
    assert (state.status[over > 0] == DEADLINE).all()


def test_deadline_is_known_as_soon_as_a_layer_is_late():
    data = tiny_dict(kind="deadline")
    data["tasks"][0]["deadline_s"] = 1.5  # t1.a alone on the device ends at 2
    pb = Problem.from_instance(parse_instance(data))
    state = new_state(pb)
    first = place(pb, state, 0, 0)
    assert first["status"] == DEADLINE and first["finish_s"] == 2.0
    assert state.status[0] == DEADLINE
    assert place(pb, state, 1, 1)["status"] == DEADLINE  # committed, the state keeps it
    assert state.n_placed[0] == 2


def test_exact_reasons():
    data = tiny_dict()
    data["servers"].append({"name": "d2", "tier": "device", "ghz": 1.0})
    data["links"] = data["links"][:2]  # no edge-cloud link
    data["servers"][2]["memory_mb"] = 5.2
    data["tasks"].append({"name": "t3", "model": "m", "device": None})
    pb = Problem.from_instance(parse_instance(data))

    def code(*moves):
        state = new_state(pb)
        for g, s in moves:
            out = place(pb, state, g, s)
        return out["status"]

    assert code((0, 9)) == BAD_SERVER
    assert code((0, -1)) == BAD_SERVER
    assert code((0, 3)) == FOREIGN_DEVICE
    assert code((4, 0)) == NO_DEVICE
    assert code((1, 1)) == PRECEDENCE
    assert code((0, 1), (0, 1)) == BAD_ORDER
    assert code((7, 1)) == BAD_ORDER
    assert code((0, 1), (1, 2)) == NO_LINK
    assert code((0, 2), (1, 2)) == MEMORY  # c1 holds 5 MB, then 5.5 > 5.2
    assert code((0, 1)) == FEASIBLE
    assert len({REASONS[c] for c in REASONS}) == len(REASONS)
    # the population simulator reports the same codes
    plans = [[9, 1, 1, 1, 1, 1], [3, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 1]]
    assert simulate(pb, plans).status.tolist() == [BAD_SERVER, FOREIGN_DEVICE, NO_DEVICE]


def test_structural_failure_commits_nothing():
    pb = library_problem("latency-vgg19-small-s0")
    state = new_state(pb, 2)
    before = state.copy()
    edge = int(np.flatnonzero(pb.tier == 1)[0])
    step = place_batch(pb, state, [1, 0], [edge, 99])  # layer 1 before layer 0; bad server
    assert step.status.tolist() == [PRECEDENCE, BAD_SERVER]
    assert not step.committed.any()
    assert (pb.objective.increment(state, step) == 0).all()
    for a, b in zip(state._arrays()[:-1], before._arrays()[:-1]):
        assert (a == b).all()


def test_batched_episodes_are_independent():
    pb = library_problem("latency-alexnet-small-s0")
    rng = np.random.default_rng(8)
    assign = random_plans(pb, 5, rng)
    prio = pb.random_priority(rng, 5)
    state, _, total, _ = run_steps(pb, assign, prio)
    for b in range(5):
        alone, _, t_alone, _ = run_steps(pb, assign[b:b + 1], prio[b:b + 1])
        assert alone.task_end_s[0].tolist() == state.task_end_s[b].tolist()
        assert t_alone[0] == total[b]


def test_reset_empties_chosen_episodes():
    pb = library_problem("latency-alexnet-small-s0")
    state = new_state(pb, 3)
    edge = int(np.flatnonzero(pb.tier == 1)[0])
    place_batch(pb, state, [0, 0, 0], [edge] * 3)
    state.reset(pb, np.array([False, True, False]))
    assert state.n_placed.tolist() == [1, 0, 1]
    assert (state.finish_s[1] == -1).all() and state.finish_s[0, 0] > 0


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_constructive_heuristics_keep_todays_plans(name):
    from offloadlab.heuristics.baselines import greedy_assign
    from offloadlab.heuristics.list_scheduling import heuristic_plans

    pb = library_problem(name)
    frozen = FROZEN[name]
    for label, (assign, _, used) in zip(("greedy", "peft", "heft"), heuristic_plans(pb)):
        assert (None if assign is None else assign.tolist()) == frozen[label], label
        assert used > 0
    for label, tiers in (("edge-only", (1,)), ("cloud-only", (2,))):
        assign, _ = greedy_assign(pb, tiers)
        assert (None if assign is None else assign.tolist()) == frozen[label], label


@pytest.mark.parametrize("name", KINDS)
def test_components_rebuild_the_objective(name):
    from offloadlab.simulator import components

    pb = library_problem(name)
    rng = np.random.default_rng(6)
    assign, prio = random_plans(pb, 10, rng), pb.random_priority(rng, 10)
    ev = simulate(pb, assign, prio)
    comp = components(pb, assign, prio)
    ok = ev.feasible
    assert comp.shape == (10, 3) and np.isinf(comp[~ok]).all()
    kind, spec = pb.objective.kind, pb.objective.spec
    if kind in ("latency", "deadline", "makespan"):
        assert comp[ok, 0].tolist() == ev.objective[ok].tolist()
        assert np.isnan(comp[ok, 1:]).all()
    elif kind == "dmro":
        assert comp[ok, 0] + spec.delta * comp[ok, 1] == pytest.approx(ev.objective[ok])
        assert np.isnan(comp[ok, 2]).all()
    else:
        assert comp[ok, 0].tolist() == ev.latency_s[ok].sum(axis=1).tolist()
        assert comp[ok, 1:].tolist() == np.column_stack(
            [ev.terms[k][ok] for k in ("energy_j", "cost_usd")]).tolist()

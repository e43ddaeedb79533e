"""The slotted deadline environment, MTL-A3C's baselines, A3C, MTL-A3C and distributed
DQN (processes end, budgets and time limits hold, same seed -> same plan with one
worker)."""

from __future__ import annotations

import time

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("gymnasium")

from offloadlab.instance import load_instance, parse_instance  # noqa: E402
from offloadlab.instances.library import library_path  # noqa: E402
from offloadlab.problem import Problem  # noqa: E402
from offloadlab.registry import solve  # noqa: E402
from offloadlab.simulator import simulate  # noqa: E402
from offloadlab.learners.slots import SlotEnv, slot_of, slot_report  # noqa: E402

SMALL = "deadline-vgg16-small-s0"


def _problem(name=SMALL, deadline_s=None, beta=None):
    inst = load_instance(library_path(name))
    if deadline_s is None and beta is None:
        return Problem.from_instance(inst)
    data = inst.model_dump(by_alias=True, exclude_none=True)
    for t in data["tasks"]:
        t["deadline_s"] = deadline_s
    data["objective"]["beta"] = beta
    return Problem.from_instance(parse_instance(data))


def _random_episode(env, seed):
    rng = np.random.default_rng(seed)
    env.reset()
    total, blocks = 0.0, []
    while env.k < env.problem.n_layers:
        blocks.append(env.block)
        _, reward, _, _ = env.step(env.random_actions(rng))
        total += float(reward[0])
    return env.state.assign[0].copy(), total, blocks


def test_episode_return_is_minus_the_simulated_delay():
    p = _problem()
    env = SlotEnv(p)
    for seed in range(3):
        assign, total, blocks = _random_episode(env, seed)
        ev = simulate(p, assign[None], env.order[None])
        assert ev.feasible[0]
        assert -total == pytest.approx(float(ev.objective[0]), rel=1e-9)
        report = slot_report(p, assign, env.order)
        assert report.total_delay_s == pytest.approx(float(ev.objective[0]), rel=1e-9)
        assert report.total_violations == 0
    assert sorted(set(blocks)) == list(range(max(len(t) for t in p.task_layers)))


def test_missed_deadlines_cost_beta_times_the_overrun():
    p = _problem(deadline_s=1e-3, beta=2.5)  # no server can meet 1 ms
    env = SlotEnv(p)
    assign, total, _ = _random_episode(env, 0)
    report = slot_report(p, assign, env.order)
    assert report.total_violations == p.n_tasks
    assert not simulate(p, assign[None], env.order[None]).feasible[0]
    overrun = float(report.overrun_s.sum())
    assert overrun == pytest.approx(report.total_delay_s - 1e-3 * p.n_tasks, rel=1e-9)
    assert -total == pytest.approx(report.total_delay_s + 2.5 * overrun, rel=1e-9)


def test_slots_group_tasks_by_release():
    p = _problem()
    assert list(slot_of(p)) == list(range(p.n_tasks))  # distinct releases
    assert (slot_of(p, 1e6) == 0).all()
    with pytest.raises(ValueError, match="slot_s"):
        slot_of(p, 0.0)


def test_slot_env_refuses_other_kinds():
    with pytest.raises(ValueError, match="deadline instance"):
        SlotEnv("latency-alexnet-tiny-s0")


def test_baselines_follow_their_rules():
    p = _problem()
    ll = solve(p, "least-loaded")
    assert ll.status == "feasible"
    assert (p.tier[ll.assign] == 1).all()  # every block on an edge server here
    apdi = solve(p, "apdi")
    counts = np.bincount(apdi.assign, minlength=p.n_servers)
    assert counts.max() - counts[p.tier == 1].min() <= 2  # spread, not piled up
    runs = [solve(p, "rpdi", seed=s).assign for s in (0, 0, 1)]
    assert (runs[0] == runs[1]).all() and (runs[0] != runs[2]).any()


def test_a3c_learns_with_one_worker_deterministically():
    p = _problem()
    first = solve(p, "a3c", seed=5, budget_evals=2001)
    again = solve(p, "a3c", seed=5, budget_evals=2001)
    assert (first.assign == again.assign).all() and first.objective == again.objective
    assert first.evaluations == 2001
    assert first.objective < solve(p, "rpdi", seed=5).objective


def test_two_workers_share_the_budget_and_end():
    import multiprocessing

    p = _problem()
    for name in ("a3c", "dist-dqn"):
        sol = solve(p, name, seed=1, budget_evals=401, workers=2, eval_every=100)
        assert sol.evaluations == 401 and sol.status in ("feasible", "optimal")
        assert multiprocessing.active_children() == []


def test_time_limit_stops_every_worker():
    import multiprocessing

    p = _problem()
    started = time.perf_counter()
    sol = solve(p, "mtl-a3c", seed=1, budget_evals=10**8, time_limit_s=1.0, workers=2)
    assert time.perf_counter() - started < 30.0
    assert sol.status == "time_limit" and sol.evaluations < 10**8
    assert multiprocessing.active_children() == []


def test_mtl_branches_and_soft_sharing():
    import torch

    from offloadlab.learners.a3c import A3CConfig, _build_net

    net = _build_net(10, 3, A3CConfig(), branches=4)
    assert len(net.actors) == 4
    assert net.sharing_penalty().item() > 0
    with torch.no_grad():
        for a in net.actors[1:]:
            a.load_state_dict(net.actors[0].state_dict())
    assert net.sharing_penalty().item() == 0.0
    obs = torch.randn(2, 10)
    logits, value = net(obs, torch.tensor([0, 3]))
    assert logits.shape == (2, 3) and value.shape == (2,)
    assert torch.allclose(logits[1], net.actors[3](net.trunk(obs))[1])

"""The placement environment: telescoping identity, masks, Gymnasium API, batching."""

from __future__ import annotations

import numpy as np
import pytest

gymnasium = pytest.importorskip("gymnasium")

import offloadlab.learners  # noqa: E402,F401  (registers the environment)
from offloadlab.learners.env import BatchPlacementEnv, PlacementEnv  # noqa: E402
from offloadlab.plan import plan_from_dict  # noqa: E402
from offloadlab.simulator import simulate  # noqa: E402

from conftest import library_problem, tiny_problem  # noqa: E402

KIND_INSTANCES = ["latency-alexnet-tiny-s0", "latency-alexnet-small-s0",
                  "ddpqn-alexnet-tiny-s0", "ddpqn-alexnet-small-s0", "dmro-workflows-small-s0",
                  "deadline-vgg16-small-s0", "makespan-jobs-small-s0",
                  "latency-googlenet-small-s0"]


def random_episode(env, rng):
    obs, info = env.reset(seed=int(rng.integers(1000)))
    total, done = 0.0, False
    while not done:
        assert env.observation_space.contains(obs)
        action = int(rng.choice(np.flatnonzero(info["action_mask"])))
        obs, reward, done, truncated, info = env.step(action)
        total += reward
    return total, info


@pytest.mark.parametrize("name", KIND_INSTANCES)
def test_episode_return_is_minus_the_simulators_objective(name):
    problem = library_problem(name)
    env = PlacementEnv(problem)
    rng = np.random.default_rng(3)
    checked = 0
    for _ in range(6):
        total, info = random_episode(env, rng)
        assign, priority = plan_from_dict(problem, env.plan())
        ev = simulate(problem, assign, priority)
        assert info["feasible"] == bool(ev.feasible[0])
        if ev.feasible[0]:
            assert -total == pytest.approx(ev.objective[0], rel=1e-9, abs=1e-12)
            checked += 1
    assert checked >= 3


def test_ddpqn_reward_on_another_kind_is_the_papers_score():
    problem = library_problem("latency-alexnet-tiny-s0")
    env = PlacementEnv(problem, reward="ddpqn")
    total, _ = random_episode(env, np.random.default_rng(0))
    from offloadlab import Problem, parse_instance

    data = problem.instance.model_dump(by_alias=True, exclude_none=True)
    data["objective"] = {"kind": "ddpqn"}
    twin = Problem.from_instance(parse_instance(data))
    assign, priority = plan_from_dict(problem, env.plan())
    assert -total == pytest.approx(simulate(twin, assign, priority).objective[0], rel=1e-9)
    assert -total != pytest.approx(simulate(problem, assign, priority).objective[0])


def test_mask_is_the_instances_allowed_servers_and_illegal_actions_fail():
    problem = tiny_problem()  # device d1, edge e1, cloud c1; every task on d1
    env = PlacementEnv(problem)
    _, info = env.reset(seed=0)
    assert info["action_mask"].tolist() == problem.allowed[0].tolist()
    assert (env.action_masks() == info["action_mask"]).all()
    foreign = tiny_problem()
    data = foreign.instance.model_dump(by_alias=True, exclude_none=True)
    data["servers"].append({"name": "d2", "tier": "device", "ghz": 1.0})
    from offloadlab import Problem, parse_instance

    env2 = PlacementEnv(Problem.from_instance(parse_instance(data)))
    _, info = env2.reset(seed=0)
    assert not info["action_mask"][3]
    with pytest.raises(ValueError, match="server 'd2' is not allowed"):
        env2.step(3)
    with pytest.raises(ValueError, match="not allowed"):
        env2.step(99)


def test_memory_limit_is_masked():
    from offloadlab import Problem, parse_instance

    data = tiny_problem().instance.model_dump(by_alias=True, exclude_none=True)
    data["servers"][1]["memory_mb"] = 5.5  # e1 holds one layer 'a' (5 MB out), not two
    env = PlacementEnv(Problem.from_instance(parse_instance(data)))
    _, info = env.reset(seed=0)
    assert info["action_mask"][1]
    _, _, _, _, info = env.step(1)          # t1.a on e1: 5 MB held
    assert info["action_mask"][1]           # t1.b (0.5 MB) still fits
    _, _, _, _, info = env.step(1)          # 5.5 MB held
    assert not info["action_mask"][1]       # t2.a would overflow e1


def test_gymnasium_checker_and_registration():
    from gymnasium.utils.env_checker import check_env

    env = gymnasium.make("offloadlab/Placement-v0", instance="ddpqn-alexnet-tiny-s0")
    check_env(env.unwrapped)
    assert env.unwrapped.problem.instance.name == "ddpqn-alexnet-tiny-s0"


def test_same_actions_same_episode_and_batch_matches_single():
    problem = library_problem("ddpqn-alexnet-small-s0")
    batch = BatchPlacementEnv(problem, 5)
    single = PlacementEnv(problem)
    rng = np.random.default_rng(1)
    obs_b, info_b = batch.reset()
    actions, batch_rewards = [], []
    for _ in range(problem.n_layers):
        a = batch.random_actions(rng)
        assert info_b["action_mask"][np.arange(5), a].all()
        actions.append(a)
        obs_b, rew_b, done_b, info_b = batch.step(a)
        batch_rewards.append(rew_b)
    assert done_b.all() and np.isfinite(obs_b).all()
    for b in (0, 4):
        for rep in range(2):  # a second episode on the same env gives the same rewards
            single.reset(seed=rep)
            rewards = [single.step(int(a[b]))[1] for a in actions]
            assert rewards == [r[b] for r in batch_rewards]
        assert (single.assign == batch.state.assign[b]).all()


@pytest.mark.parametrize("name", ["latency-alexnet-small-s0", "dmro-workflows-small-s0",
                                  "latency-googlenet-small-s0"])
def test_priority_order_telescopes_too(name):
    problem = library_problem(name)
    env = PlacementEnv(problem, order="priority")
    total, info = random_episode(env, np.random.default_rng(5))
    assert (env.order == problem.default_priority).all()
    assign, priority = plan_from_dict(problem, env.plan())
    ev = simulate(problem, assign, priority)
    assert ev.feasible[0] and -total == pytest.approx(ev.objective[0], rel=1e-9)
    with pytest.raises(ValueError, match="MDP order"):
        PlacementEnv(library_problem("ddpqn-alexnet-tiny-s0"), order="priority")


def test_bench_env_command_reports_a_rate():
    import json

    from click.testing import CliRunner

    from offloadlab.cli import main

    res = CliRunner().invoke(main, ["bench", "env", "--json", "--seconds", "0.3", "--batch",
                                    "16", "--instance", "ddpqn-alexnet-tiny-s0"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["steps_per_s"] > 0 and out["batch"] == 16 and out["layers_per_episode"] == 6


def test_generated_family_is_seeded_and_varies():
    from offloadlab.cli import UserError
    from offloadlab.learners.commands import resolve_instances

    a = resolve_instances(["family:ddpqn-tiny:0-2"], UserError)
    b = resolve_instances(["family:ddpqn-tiny:0,1,2"], UserError)
    assert [p.instance.to_json() for p in a] == [p.instance.to_json() for p in b]
    assert len({tuple(p.ghz) for p in a}) == 3 and all(p.n_servers == 4 for p in a)
    with pytest.raises(UserError, match="unknown family 'nope'"):
        resolve_instances(["family:nope:0-2"], UserError)
    with pytest.raises(UserError, match="no such file or library instance"):
        resolve_instances(["missing-instance"], UserError)

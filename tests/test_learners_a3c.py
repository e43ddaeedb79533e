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

    from offloadlab.learners.a3c import A3CConfig, build_net

    env = SlotEnv(_problem())
    net = build_net(env.obs_dim, env.n_servers, env.base_dim, A3CConfig(), branches=4)
    assert len(net.actors) == 4
    assert net.sharing_penalty().item() > 0
    with torch.no_grad():
        for a in net.actors[1:]:
            a.load_state_dict(net.actors[0].state_dict())
    assert net.sharing_penalty().item() == 0.0
    with torch.no_grad():
        net.actors[3][-1].bias += 1.0  # branch 3 now scores every server 1 higher
    obs = torch.randn(2, env.obs_dim)
    logits, value = net(obs, torch.tensor([0, 3]))
    assert logits.shape == (2, env.n_servers) and value.shape == (2,)
    assert torch.allclose(logits[1], net(obs, 0)[0][1] + 1.0)
    assert torch.allclose(logits[1], net(obs, 3)[0][1]) and net.sharing_penalty().item() > 0


HARD = None


def _hard():
    global HARD
    if HARD is None:
        from offloadlab.instances.slot_generator import hard_slot

        HARD = Problem.from_instance(hard_slot(0))
    return HARD


def test_slot_observation_has_queues_and_slack():
    p = _hard()
    env = SlotEnv(p, 2)
    rng = np.random.default_rng(3)
    obs, _ = env.reset()
    for _ in range(13):
        obs, *_ = env.step(env.random_actions(rng))
    g = env.order[env.k]
    t = p.layer_task[g]
    t0 = env.state.task_end_s[:, t]
    width = env.state.slot_free_s.shape[1] // p.n_servers
    free = env.state.slot_free_s[:, ::width] - t0[:, None]
    assert obs.shape == (2, env.obs_dim) == (2, env.base_dim + p.n_servers + 1)
    assert np.allclose(obs[:, env.base_dim:-1], free / env.time_scale_s, rtol=1e-5)
    slack = p.release_s[t] + p.deadline_s[t] - t0
    assert np.allclose(obs[:, -1], slack / env.time_scale_s, rtol=1e-5)
    assert 0 < obs[0, -1] < 1e3  # a finite deadline, time left


def test_mask_keeps_to_servers_that_meet_the_deadline():
    from offloadlab.schedule import FEASIBLE, place_batch

    p = _hard()
    env = SlotEnv(p)
    rng = np.random.default_rng(0)
    _, info = env.reset()
    excluded = 0
    while env.k < p.n_layers:
        g = env.order[env.k]
        mask = info["action_mask"][0]
        for s in np.flatnonzero(~mask & p.allowed[g]):
            trial = env.state.copy()
            step = place_batch(p, trial, np.array([g]), np.array([s]))
            assert step.status[0] != FEASIBLE  # a masked server would break a limit
            excluded += 1
        _, _, _, info = env.step(env.random_actions(rng))
    assert excluded > 0


def test_best_training_episode_is_a_simulated_feasible_plan():
    from offloadlab.learners.a3c import A3CConfig, greedy_rollout, train

    p = _problem()
    branches = max(len(t) for t in p.task_layers)
    net, info = train(p, A3CConfig(eval_every=400), steps=1600, seed=2, branches=branches)
    (flag, objective), assign = info["episode"]
    assert flag == 0 and assign is not None
    ev = simulate(p, assign[None], SlotEnv(p).order[None])
    assert ev.feasible[0] and float(ev.objective[0]) == pytest.approx(objective, rel=1e-9)
    sol = solve(p, "mtl-a3c", seed=2, budget_evals=1601, eval_every=400)
    _, _, ret = greedy_rollout(SlotEnv(p), net)
    assert sol.objective == pytest.approx(min(objective, -ret), rel=1e-9)  # the better
    assert sol.params["plan"] in ("policy", "episode")
    assert info["curve"][-1][0] == 1600 and all(len(row) == 4 for row in info["curve"])


def test_random_exploration_steps_train_the_critic_not_the_actor():
    import torch

    from offloadlab.learners.a3c import PAPER, A3CConfig, build_net, train

    p = _problem()
    env = SlotEnv(p)
    cfg = A3CConfig(**{**PAPER, "eps_end": 1.0})  # the paper's ε, never decaying
    torch.manual_seed(4)
    init = build_net(env.obs_dim, env.n_servers, env.base_dim, cfg, 0)
    net, _ = train(p, cfg, steps=480, seed=4)
    assert all(torch.equal(a, b) for a, b in zip(init.actor.parameters(),
                                                  net.actor.parameters()))
    assert not all(torch.equal(a, b) for a, b in zip(init.trunk.parameters(),
                                                      net.trunk.parameters()))


@pytest.mark.parametrize("learner", ["mtl-a3c", "dist-dqn"])
def test_train_checkpoint_round_trip_gives_the_same_plan(tmp_path, learner):
    import json

    from click.testing import CliRunner

    from offloadlab.cli import main
    from offloadlab.learners.a3c import greedy_rollout

    out = tmp_path / f"{learner}.pt"
    extra = ["--param", "learning_starts=50"] if learner == "dist-dqn" else []
    res = CliRunner().invoke(main, ["train", learner, SMALL, "--steps", "960", "--seed", "3",
                                    "--out", str(out), "--json", "--param", "eval_every=320",
                                    *extra])
    assert res.exit_code == 0, res.output
    rec = json.loads(res.output)
    assert rec["learner"] == learner and rec["steps"] == 960 and out.exists()
    assert (tmp_path / f"{learner}.csv").read_text().startswith("steps,wall_s,")
    p = _problem()
    sol = solve(p, learner, checkpoint=str(out))
    assert sol.evaluations == 1 and sol.objective == pytest.approx(rec["best_objective"])
    # the same seed trains the same network (one worker): its rollout is the checkpoint's
    if learner == "mtl-a3c":
        from offloadlab.learners.a3c import A3CConfig, train

        branches = max(len(t) for t in p.task_layers)
        net, _ = train(p, A3CConfig(eval_every=320), steps=960, seed=3, branches=branches)
        policy = lambda o, b: net(o, b)  # noqa: E731
    else:
        from offloadlab.learners.dist_dqn import train
        from offloadlab.learners.dqn import DQNConfig

        cfg = DQNConfig.for_variant("dqn", epsilon_greedy=0.99, learning_starts=50,
                                    eval_every=320)
        q_net, _ = train(p, cfg, steps=960, seed=3)
        policy = lambda o, b: (q_net(o), None)  # noqa: E731
    assign, _, _ = greedy_rollout(SlotEnv(p), policy)
    assert (assign == sol.assign).all()


def test_checkpoint_errors_are_one_line(tmp_path):
    import torch
    from click.testing import CliRunner

    from offloadlab.cli import main

    out = tmp_path / "m.pt"
    res = CliRunner().invoke(main, ["train", "mtl-a3c", SMALL, "--steps", "160", "--out",
                                    str(out), "--json"])
    assert res.exit_code == 0, res.output
    for solver, message in (("a3c", "written by 'mtl-a3c', not by 'a3c'"),
                            ("dist-dqn", "not by 'dist-dqn'"),
                            ("dqn", "slotted deadline environment; use --solver mtl-a3c")):
        res = CliRunner().invoke(main, ["solve", library_path(SMALL).as_posix(), "--solver",
                                        solver, "--param", f"checkpoint={out}"])
        assert res.exit_code == 2 and message in res.output, res.output
    hard = tmp_path / "hard.json"
    from offloadlab.instances.slot_generator import hard_slot

    hard.write_text(hard_slot(0).model_dump_json(by_alias=True, exclude_none=True))
    res = CliRunner().invoke(main, ["solve", str(hard), "--solver", "mtl-a3c", "--param",
                                    f"checkpoint={out}"])
    assert res.exit_code == 2 and "its obs_dim is 84, the instance's is 82" in res.output
    data = torch.load(out, weights_only=True)
    data["config"]["branch_hidden"] = 7  # the weights no longer fit the network
    torch.save(data, out)
    res = CliRunner().invoke(main, ["solve", library_path(SMALL).as_posix(), "--solver",
                                    "mtl-a3c", "--param", f"checkpoint={out}"])
    assert res.exit_code == 2 and "weights do not fit" in res.output, res.output
    res = CliRunner().invoke(main, ["train", "a3c", "latency-alexnet-tiny-s0", "--out",
                                    str(out)])
    assert res.exit_code == 2 and "needs a deadline instance" in res.output
    res = CliRunner().invoke(main, ["train", "a3c", SMALL, "--out", str(out), "--param",
                                    f"checkpoint={out}"])
    assert res.exit_code == 2 and "not a hyper-parameter" in res.output


def test_a_diverged_network_still_places_every_layer_on_an_allowed_server():
    # NaN and huge scores (a learning rate of 10) must not reach a forbidden action
    import torch

    from offloadlab.learners.a3c import _sample
    from offloadlab.learners.networks import masked

    mask = np.array([[True, False, True, False], [False, True, False, True]])
    scores = np.array([[np.nan, 1e12, -1e12, 3.0], [np.nan, np.nan, np.inf, -np.inf]])
    picked = masked(torch.as_tensor(scores), torch.as_tensor(mask)).argmax(dim=1).numpy()
    assert mask[[0, 1], picked].all()
    drawn = _sample(scores, mask, np.random.default_rng(0))
    assert mask[[0, 1], drawn].all()
    problem = _problem("deadline-vgg16-tiny-s0")
    for solver in ("a3c", "dist-dqn"):
        sol = solve(problem, solver, seed=0, budget_evals=200, lr=10.0)
        assert problem.allowed[np.arange(problem.n_layers), sol.assign].all(), solver
        assert np.isfinite(sol.objective)

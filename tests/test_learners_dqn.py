"""The DQN family: replay buffers, masking, the eight variants as solvers, determinism,
checkpoints and the train command. Budgets are tiny; long training lives in benchmarks."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("gymnasium")

from offloadlab.learners.dqn import VARIANTS, DQNConfig, solve, td_loss  # noqa: E402
from offloadlab.learners.networks import QNetwork, masked  # noqa: E402
from offloadlab.learners.replay import PrioritizedReplayBuffer, ReplayBuffer, SumTree  # noqa: E402
from offloadlab.registry import SOLVERS, get_solver  # noqa: E402
from offloadlab.simulator import simulate  # noqa: E402

from conftest import library_problem  # noqa: E402

FAST = dict(learning_starts=64, batch_size=32, eval_every=100)


def test_sum_tree_sums_and_finds():
    tree = SumTree(5)
    tree.set(np.arange(5), [1.0, 2.0, 3.0, 4.0, 0.0])
    assert tree.total == 10.0
    assert tree.find(np.array([0.0, 0.99, 1.0, 2.9, 3.0, 5.99, 6.0, 9.99])).tolist() == \
        [0, 0, 1, 1, 2, 2, 3, 3]
    tree.set([3], 0.0)
    assert tree.total == 6.0 and tree.find(np.array([5.999]))[0] == 2


def test_prioritized_sampling_follows_priorities():
    buf = PrioritizedReplayBuffer(8, obs_dim=1, n_actions=2, alpha=1.0, eps=0.0)
    for i in range(4):
        buf.add([i], 0, 0.0, [i], [True, True], False)
    buf.update_priorities(np.arange(4), np.array([1.0, 0.0, 0.0, 3.0]))
    rng = np.random.default_rng(0)
    counts = np.bincount(np.concatenate([buf.sample(64, rng).index for _ in range(50)]),
                         minlength=4)
    assert counts[1] == counts[2] == 0
    assert 2.5 < counts[3] / counts[0] < 3.5
    batch = buf.sample(64, rng, beta=1.0)
    assert batch.weights.max() == 1.0 and batch.weights.min() == pytest.approx(1 / 3)


def test_uniform_buffer_ring():
    buf = ReplayBuffer(3, obs_dim=1, n_actions=2)
    for i in range(5):
        buf.add([i], i % 2, float(i), [i + 1], [True, False], i == 4)
    assert len(buf) == 3 and sorted(buf.reward.tolist()) == [2.0, 3.0, 4.0]


def test_masked_actions_never_win_the_target_max():
    torch.manual_seed(0)
    net = QNetwork(3, 4, (8,), dueling=True)
    q = net(torch.zeros(2, 3))
    mask = torch.tensor([[False, True, False, False], [True, False, False, True]])
    best = masked(q, mask).argmax(dim=1)
    assert mask[torch.arange(2), best].all()

    class Batch:  # next state where only action 2 is allowed
        obs = np.zeros((1, 3), np.float32)
        next_obs = np.zeros((1, 3), np.float32)
        next_mask = np.array([[False, False, True, False]])
        action = np.array([0])
        reward = np.array([1.0], np.float32)
        done = np.array([0.0], np.float32)
        weights = np.ones(1, np.float32)

    for double in (False, True):
        cfg = DQNConfig(double=double, gamma=0.5)
        _, td = td_loss(net, net, Batch, cfg, torch)
        with torch.no_grad():
            qs = net(torch.zeros(1, 3))[0]
        assert td[0] == pytest.approx(float(qs[0] - (1.0 + 0.5 * qs[2])), rel=1e-5)


def test_eight_variants_are_registered_solvers():
    assert len(VARIANTS) == 8
    assert VARIANTS["ddpqn"] == dict(double=True, dueling=True, prioritized=True)
    assert VARIANTS["dqn"] == dict(double=False, dueling=False, prioritized=False)
    for name in VARIANTS:
        assert SOLVERS[name].extra == "learn"
        assert callable(get_solver(name))
    with pytest.raises(TypeError, match="unknown hyper-parameter 'gama'"):
        DQNConfig.for_variant("ddpqn", gama=0.9)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_every_variant_trains_and_returns_a_scored_plan(variant):
    problem = library_problem("ddpqn-alexnet-tiny-s0")
    sol = get_solver(variant)(problem, seed=1, budget_evals=240, **FAST)
    # 239 training steps + the final scoring
    assert sol.status == "feasible" and sol.evaluations == 240
    ev = simulate(problem, sol.assign, sol.priority)
    assert sol.objective == ev.objective[0]
    assert len(sol.history) >= 2


def test_same_seed_same_result_and_beats_random():
    problem = library_problem("ddpqn-alexnet-tiny-s0")
    a = solve(problem, variant="ddpqn", seed=3, budget_evals=1200, **FAST)
    b = solve(problem, variant="ddpqn", seed=3, budget_evals=1200, **FAST)
    assert a.objective == b.objective and (a.assign == b.assign).all()
    assert a.history == [] or [h[1] for h in a.history] == [h[1] for h in b.history]
    rng = np.random.default_rng(0)
    plans = np.array([[rng.choice(np.flatnonzero(problem.allowed[g]))
                       for g in range(problem.n_layers)] for _ in range(200)])
    random_mean = simulate(problem, plans, np.arange(problem.n_layers)).objective.mean()
    assert a.objective < random_mean


def test_train_command_checkpoint_and_rollout(tmp_path):
    from click.testing import CliRunner

    from offloadlab.cli import main

    out = tmp_path / "agent.pt"
    res = CliRunner().invoke(main, ["train", "ddpqn", "ddpqn-alexnet-tiny-s0", "--steps", "300",
                                    "--seed", "2", "--out", str(out), "--json",
                                    "--param", "learning_starts=64", "--param", "eval_every=100"])
    assert res.exit_code == 0, res.output
    rec = json.loads(res.output)
    assert set(rec) >= {"learner", "steps", "wall_s", "checkpoint", "curve"}
    assert rec["learner"] == "ddpqn" and rec["steps"] == 300 and out.exists()
    lines = (tmp_path / "agent.csv").read_text().splitlines()
    assert lines[0].startswith("steps,") and len(lines) == 4
    problem = library_problem("ddpqn-alexnet-tiny-s0")
    sol = get_solver("ddpqn")(problem, checkpoint=str(out), reorder=False)
    assert sol.evaluations == 1 and (sol.priority == np.arange(problem.n_layers)).all()
    assert sol.objective == pytest.approx(rec["best_objective"], rel=1e-12)
    reordered = get_solver("ddpqn")(problem, checkpoint=str(out))
    assert (reordered.assign == sol.assign).all() and reordered.objective <= sol.objective
    # the same checkpoint on an instance with another number of servers is refused
    res = CliRunner().invoke(main, ["solve", "instances/library/latency-alexnet-small-s0.json",
                                    "--solver", "ddpqn", "--param", f"checkpoint={out}"])
    assert res.exit_code == 2 and "trained for 4 servers" in res.output


def test_cli_errors_are_one_line():
    from click.testing import CliRunner

    from offloadlab.cli import main

    res = CliRunner().invoke(main, ["train", "dqnn", "ddpqn-alexnet-tiny-s0", "--out", "x.pt"])
    assert res.exit_code == 2 and "unknown learner 'dqnn'" in res.output
    res = CliRunner().invoke(main, ["solve", "instances/library/ddpqn-alexnet-tiny-s0.json",
                                    "--solver", "ddpqn", "--param", "checkpoint=nope.pt"])
    assert res.exit_code == 2 and "nope.pt: no such file" in res.output


def test_stable_baselines3_dqn_trains_on_the_environment():
    sb3 = pytest.importorskip("stable_baselines3")
    from offloadlab.learners.env import PlacementEnv

    env = PlacementEnv(library_problem("ddpqn-alexnet-tiny-s0"))  # every server allowed
    model = sb3.DQN("MlpPolicy", env, learning_starts=50, buffer_size=500, seed=0,
                    device="cpu")
    model.learn(total_timesteps=200)
    assert model.num_timesteps == 200


@pytest.mark.parametrize("name,instance", [("ddpqn", "ddpqn-alexnet-tiny-s0"),
                                           ("dmro", "dmro-workflows-tiny-s0"),
                                           ("a3c", "deadline-vgg16-tiny-s0"),
                                           ("dist-dqn", "deadline-vgg16-tiny-s0")])
def test_setting_up_torch_counts_against_the_time_limit(monkeypatch, name, instance):
    """Importing torch takes seconds in a fresh process; a learner whose set-up outlasts
    its time limit stops at its first check instead of training for the whole limit."""
    import offloadlab.learners.dqn as dqn_module

    setup = dqn_module.setup_torch

    def slow_setup(seed):
        time.sleep(1.0)
        return setup(seed)

    monkeypatch.setattr(dqn_module, "setup_torch", slow_setup)
    sol = get_solver(name)(library_problem(instance), seed=0, time_limit_s=0.5,
                           budget_evals=10**6)
    # at most one step of the 8 parallel episodes (the DQNs), and the final scoring
    assert sol.status == "time_limit" and sol.evaluations <= 9

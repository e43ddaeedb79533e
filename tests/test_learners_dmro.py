"""DMRO: parallel DQNs with the best candidate by F, its solvers, meta-learned initial
parameters and ``offloadlab train dmro``. Budgets are tiny; paper-scale runs live in
``benchmarks/dmro_goals.py`` and ``benchmarks/dmro_meta.py``."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("gymnasium")

from click.testing import CliRunner  # noqa: E402

from offloadlab.cli import main  # noqa: E402
from offloadlab.learners.dmro import (DMROConfig, _propose, cost_field, decide,  # noqa: E402
                                      new_nets, solve, train)
from offloadlab.learners.env import BatchPlacementEnv, PlacementEnv  # noqa: E402
from offloadlab.learners.family import generate  # noqa: E402
from offloadlab.registry import SOLVERS  # noqa: E402
from offloadlab.simulator import simulate  # noqa: E402

from conftest import library_problem  # noqa: E402

SMALL = "dmro-workflows-small-s0"
FAST = dict(learning_starts=64, batch_size=32, eval_every=100, n_envs=4)


def test_solvers_are_registered_with_the_paper_values():
    for name in ("dmro", "dmro-dqn", "dmro-double-dqn", "dmro-dueling-dqn"):
        assert name in SOLVERS
    cfg = DMROConfig.for_variant("dmro")
    assert cfg.lr == 0.01 and cfg.target_sync == 200 and cfg.n_dnns > 1
    assert DMROConfig.for_variant("dmro-dqn").n_dnns == 1
    assert DMROConfig.for_variant("dmro-dueling-dqn").dueling
    with pytest.raises(TypeError, match="unknown hyper-parameter"):
        DMROConfig.for_variant("dmro", n_dnn=3)


def test_the_candidate_with_the_lowest_f_is_taken():
    problem = library_problem(SMALL)
    env = BatchPlacementEnv(problem, 3)
    obs, info = env.reset()
    torch.manual_seed(0)
    nets = new_nets(env.obs_dim, env.n_servers, DMROConfig(n_dnns=4))
    rng = np.random.default_rng(0)
    action = _propose(nets, obs, info["action_mask"], 0.0, rng, env, torch)
    with torch.no_grad():
        cand = np.stack([net(torch.as_tensor(obs)).masked_fill(
            ~torch.as_tensor(info["action_mask"]), -1e9).argmax(1).numpy() for net in nets], 1)
    f = cost_field(obs, env.n_servers)
    for b in range(3):
        assert action[b] in cand[b]
        assert f[b, action[b]] == min(f[b, c] for c in cand[b])
    # F is the objective's increment: stepping there gives minus that reward
    _, reward, _, _ = env.step(action)
    np.testing.assert_allclose(-reward, f[np.arange(3), action] * env.cost_scale, rtol=1e-5)


def test_decision_objective_is_the_simulators():
    problem = library_problem(SMALL)
    env = BatchPlacementEnv(problem, 3)
    torch.manual_seed(1)
    nets = new_nets(env.obs_dim, env.n_servers, DMROConfig(n_dnns=3))
    assign, objective = decide(env, nets, torch)
    ev = simulate(problem, assign, np.arange(problem.n_layers)[None, :])
    np.testing.assert_allclose(objective, ev.objective, rtol=1e-9)
    assert len(set(map(tuple, assign))) > 1  # three different networks, three plans


def test_same_seed_same_plan_and_budget_kept():
    problem = library_problem(SMALL)
    a = solve(problem, seed=3, budget_evals=301, **FAST)
    b = solve(problem, seed=3, budget_evals=301, **FAST)
    assert (a.assign == b.assign).all() and a.objective == b.objective
    assert a.evaluations == 301  # 300 placements and the final scoring
    ev = simulate(problem, a.assign[None, :], a.priority[None, :])
    assert ev.objective[0] == pytest.approx(a.objective)


def test_dmro_learns_close_to_the_dp_optimum():
    import offloadlab as ol

    problem = library_problem(SMALL)
    optimum = ol.solve(problem, "dp").objective
    rng = np.random.default_rng(0)
    servers = [np.flatnonzero(r) for r in problem.allowed]
    rand = np.array([[rng.choice(s) for s in servers] for _ in range(64)])
    ev = simulate(problem, rand, problem.default_priority[None, :])
    sol = solve(problem, seed=0, budget_evals=1001, **FAST)
    assert sol.objective < np.median(ev.objective)
    assert sol.objective <= 1.03 * optimum, (sol.objective, optimum)


def test_initial_parameters_are_used(tmp_path):
    problem = library_problem(SMALL)
    env = PlacementEnv(problem)
    res = train(env, DMROConfig(n_dnns=2, **FAST), steps=400, seed=0)
    start = train(env, DMROConfig(n_dnns=2, **FAST), steps=0, seed=5,
                  init=[n.state_dict() for n in res.nets])
    # the first decision of the given parameters is the trained networks' decision
    torch.manual_seed(0)
    again = decide(BatchPlacementEnv(problem, 2), res.nets, torch)[1].min()
    assert start.curve[0][0] == 0 and start.curve[0][2] == pytest.approx(again)


def test_family_environments_differ_and_keep_their_shape():
    a, b = generate("dmro-workflows", 0), generate("dmro-workflows", 1)
    assert generate("dmro-workflows", 0) == a
    assert [s.ghz for s in a.servers] != [s.ghz for s in b.servers]
    assert len(a.servers) == len(b.servers) == 6 and len(a.tasks) == len(b.tasks) == 20
    assert len(generate("dmro-multiserver", 0).servers) == 8


def test_train_meta_then_solve_from_it(tmp_path):
    meta = tmp_path / "meta.pt"
    run = CliRunner().invoke(main, ["train", "dmro", "--meta", "--envs", "2", "--steps",
                                    "200", "--out", str(meta), "--param", "eval_every=100",
                                    "--json"])
    assert run.exit_code == 0, run.output
    out = json.loads(run.stdout)
    assert out["meta"] and out["instances"] == ["dmro-workflows-g1000", "dmro-workflows-g1001"]
    run = CliRunner().invoke(main, ["solve", "dmro-workflows-paper-s0", "--solver", "dmro",
                                    "--param", f"init={meta}", "--budget-evals", "20",
                                    "--json"])
    assert run.exit_code == 0, run.output
    assert json.loads(run.stdout)["params"]["init"] == str(meta)
    # the wrong number of servers, a missing file, --meta for a DQN: one-line errors
    for args in (["solve", "dmro-workflows-tiny-s0", "--solver", "dmro", "--param",
                  f"init={meta}", "--budget-evals", "20"],
                 ["solve", SMALL, "--solver", "dmro", "--param",
                  f"init={tmp_path / 'none.pt'}"],
                 ["train", "dqn", "--meta", "--steps", "5", "--out", str(tmp_path / "x.pt")],
                 ["train", "dmro", "--meta", SMALL, "--out", str(tmp_path / "x.pt")]):
        run = CliRunner().invoke(main, args)
        assert run.exit_code == 2, (args, run.output)
        assert run.output.startswith("Error: ") and run.output.count("\n") == 1, run.output

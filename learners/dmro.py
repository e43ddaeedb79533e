"""DMRO's inner model (DMRO §IV-A, eqs. 12–18, Algorithm 1): ``s`` parallel DQNs, one
shared replay memory, the best candidate by the local objective F.

Training phase. At each placement the state is replicated to the ``s`` networks; each
proposes a server (epsilon-greedy on its own Q-values); the candidate with the lowest
local objective F(S_i, a) (eq. 14: the delay and weighted energy this placement adds,
i.e. the objective's increment) is taken, and only that transition goes into the shared
memory. Every ``train_freq`` placements each network takes one gradient step on its own
minibatch drawn from that memory, against its own frozen target network (eq. 18).

Decision phase. Network ``j`` builds a whole plan greedily (the candidate decision
A_j); the plan with the lowest objective (the simulator's, via the episode's return) is
the decision A. Here the ``s`` episodes run in lockstep in one batched environment, one
network per episode.

The environment is the shared :class:`~offloadlab.learners.env.BatchPlacementEnv`
(reward = minus the objective's increment, so an episode's return is minus the plan's
objective); its observation stands for DMRO's state S_i (eq. 13): it holds the previous
placement (``source``), the transfer, execution and cost of the subtask on every server
and the cycles of the remaining subtasks. F(S_i, a) is its ``cost`` field (the
increment, divided by the environment's ``cost_scale``).

The paper's values: learning rate 0.01, target copied every 200 learning steps, two
hidden layers. Chosen (the text omits them or gives them only in figures), each a
parameter: ``n_dnns`` (s) = 5, hidden widths (64, 32), memory 20,000 transitions,
minibatch 128, discount 0.9 (the paper's mu is not given), exploration falling linearly
from 1 to 0.05 over the first 30 % of the budget, one update per 4 placements for each
network, rewards scaled to unit mean magnitude for learning. The paper's R (minus the
minimum or maximum F over the candidates) is replaced by minus the taken candidate's F,
so that returns telescope to the objective. The DQN baselines of §V-C (DQN, double DQN,
dueling DQN) are this agent with ``s = 1`` and the switch (``dmro-dqn``,
``dmro-double-dqn``, ``dmro-dueling-dqn``): same state, action, network and values.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass, fields

import numpy as np

from offloadlab.budget import time_left

DEFAULT_STEPS = 40_000
FORMAT = "offloadlab.dmro/1"

VARIANTS: dict[str, dict] = {
    "dmro": dict(n_dnns=5, double=False, dueling=False),
    "dmro-dqn": dict(n_dnns=1, double=False, dueling=False),
    "dmro-double-dqn": dict(n_dnns=1, double=True, dueling=False),
    "dmro-dueling-dqn": dict(n_dnns=1, double=False, dueling=True),
}


@dataclass
class DMROConfig:
    """Hyper-parameters (the paper's unless marked chosen; see the module docstring).

    Attributes
    ----------
    n_dnns : int
        Chosen: parallel networks ``s``.
    double, dueling : bool
        Switches of the DQN baselines (off for DMRO).
    hidden : tuple of int
        Chosen widths of the two hidden layers.
    lr : float
        Adam learning rate, 0.01.
    gamma : float
        Chosen discount (mu).
    batch_size, buffer_size : int
        Chosen minibatch and memory size.
    target_sync : int
        Learning steps of a network between copies into its target, 200.
    eps_final, explore_fraction : float
        Chosen exploration: from 1 to ``eps_final`` over that share of the budget.
    learning_starts, train_freq, n_envs : int
        Chosen: placements before learning, placements per update of each network,
        training episodes run in lockstep.
    reward_scale : float or None
        Chosen factor on rewards for learning; None = one over the mean magnitude of a
        few random episodes' rewards.
    grad_clip : float
        Chosen max gradient norm.
    eval_every : int
        Chosen: placements between decision phases (learning curve, best plan kept);
        250, not 1000: more snapshots are tried (dmro-multiserver-paper-s0, seed 0:
        1.6 % from the optimum after 15,000 placements with 1000, 0.4 % after 30,000
        with 250; ``benchmarks/dmro_goals.py``).
    """

    n_dnns: int = 5
    double: bool = False
    dueling: bool = False
    hidden: tuple = (64, 32)
    lr: float = 0.01
    gamma: float = 0.9
    batch_size: int = 128
    buffer_size: int = 20_000
    target_sync: int = 200
    eps_final: float = 0.05
    explore_fraction: float = 0.3
    learning_starts: int = 500
    train_freq: int = 4
    n_envs: int = 8
    reward_scale: float | None = None
    grad_clip: float = 10.0
    eval_every: int = 250

    @classmethod
    def for_variant(cls, variant: str, **hyper) -> "DMROConfig":
        """The config of a named variant with ``hyper`` overrides (TypeError if unknown)."""
        if variant not in VARIANTS:
            raise TypeError(f"unknown DMRO variant {variant!r}; known: {', '.join(VARIANTS)}")
        known = {f.name for f in fields(cls)}
        bad = sorted(set(hyper) - known)
        if bad:
            raise TypeError(f"unknown hyper-parameter {bad[0]!r} for {variant}")
        if "hidden" in hyper:
            hyper["hidden"] = tuple(int(h) for h in hyper["hidden"])
        return cls(**{**VARIANTS[variant], **hyper})

    def to_dict(self) -> dict:
        out = asdict(self)
        out["hidden"] = list(self.hidden)
        return out

    def td(self):
        """The DQN config :func:`~offloadlab.learners.dqn.td_loss` reads."""
        from .dqn import DQNConfig

        return DQNConfig(double=self.double, dueling=self.dueling, gamma=self.gamma)


@dataclass
class DMROResult:
    """What :func:`train` returns.

    ``nets`` the ``s`` online networks (their last weights: the initial parameters they
    hand on); ``best_assign`` the best decision seen (one per environment, the plan of
    the best decision phase on environment 0 first); ``curve`` rows ``(steps, wall_s,
    decision_objective, mean_episode_objective)`` with objectives averaged over the
    environments.
    """

    nets: list
    config: DMROConfig
    curve: list
    steps: int
    wall_s: float
    best: float
    best_assign: np.ndarray | None
    stopped_by_time: bool


def new_nets(obs_dim: int, n_actions: int, cfg: DMROConfig, init=None) -> list:
    """``cfg.n_dnns`` Q-networks, random or from ``init`` (a list of state dicts, used
    cyclically when it holds fewer than ``s``)."""
    from .networks import QNetwork

    nets = [QNetwork(obs_dim, n_actions, cfg.hidden, cfg.dueling) for _ in range(cfg.n_dnns)]
    if init:
        for j, net in enumerate(nets):
            net.load_state_dict(init[j % len(init)])
    return nets


def cost_field(obs: np.ndarray, n_servers: int) -> np.ndarray:
    """F(S, a) for every server a: the observation's ``cost`` field (8th of 8)."""
    return obs[:, 7 * n_servers:8 * n_servers]


def decide(env, nets, torch):
    """The decision phase on one instance: network ``j`` builds plan ``j`` greedily.

    ``env`` is a :class:`BatchPlacementEnv` of ``len(nets)`` episodes. Returns ``(assign
    (s, L), objective (s,))`` (objective = minus the episode's return).
    """
    from .networks import masked

    obs, info = env.reset()
    mask = info["action_mask"]
    total = np.zeros(env.batch)
    with torch.no_grad():
        while env.k < env.problem.n_layers:
            x, m = torch.as_tensor(obs), torch.as_tensor(mask)
            action = np.array([int(masked(net(x[j:j + 1]), m[j:j + 1]).argmax())
                               for j, net in enumerate(nets)])
            obs, reward, _, info = env.step(action)
            mask = info["action_mask"]
            total += reward
    return env.state.assign.copy(), -total


def _propose(nets, obs, mask, eps, rng, env, torch):
    """Algorithm 1 lines 4–8: each network's epsilon-greedy candidate per episode, and the
    candidate with the lowest F (ties: the lowest network index)."""
    from .networks import masked

    x, m = torch.as_tensor(obs), torch.as_tensor(mask)
    with torch.no_grad():
        cand = np.stack([masked(net(x), m).argmax(dim=1).numpy() for net in nets], axis=1)
    explore = rng.random(cand.shape) < eps
    if explore.any():
        rand = np.stack([env.random_actions(rng) for _ in nets], axis=1)
        cand = np.where(explore, rand, cand)
    f = np.take_along_axis(cost_field(obs, env.n_servers), cand, axis=1)
    return cand[np.arange(len(cand)), np.argmin(f, axis=1)]


def train(envs, cfg: DMROConfig, *, steps: int = DEFAULT_STEPS, seed: int = 0,
          init=None, time_limit_s: float | None = None, progress=None) -> DMROResult:
    """Algorithm 1 on one or several placement environments (several: each round of
    episodes takes the next one in a seeded random order, as Algorithm 2 does).

    Parameters
    ----------
    envs : PlacementEnv or list of PlacementEnv
        All with the same observation size and number of servers.
    cfg : DMROConfig
    steps : int
        Placements taken (summed over parallel episodes).
    seed : int
    init : list of state dict, optional
        Initial parameters (meta-learned or trained elsewhere); default random.
    time_limit_s : float, optional
    progress : callable, optional
        ``progress(steps_done)`` at each decision phase.
    """
    started = time.perf_counter()  # importing torch counts against the limit
    from .dqn import setup_torch, td_loss
    from .env import BatchPlacementEnv
    from .replay import ReplayBuffer
    from .rollout import common_spaces, reward_scale

    torch = setup_torch(seed)
    envs, obs_dim, n_actions = common_spaces(envs)
    rng = np.random.default_rng(seed)
    scale = reward_scale(cfg.reward_scale, envs, rng)

    def batch_env(e, n):
        return BatchPlacementEnv(e.problem, n, reward=e.core.reward_kind,
                                 pad_layers=e.core.pad_layers, order=e.core.order_kind)

    train_envs = [batch_env(e, cfg.n_envs) for e in envs]
    decide_envs = [batch_env(e, cfg.n_dnns) for e in envs]
    nets = new_nets(obs_dim, n_actions, cfg, init)
    targets = [copy.deepcopy(n) for n in nets]
    optims = [torch.optim.Adam(n.parameters(), lr=cfg.lr) for n in nets]
    memory = ReplayBuffer(min(cfg.buffer_size, max(steps, 1)), obs_dim, n_actions)
    td_cfg = cfg.td()

    best, best_assign = math.inf, None

    def decision_phase():
        nonlocal best, best_assign
        plans = [decide(e, nets, torch) for e in decide_envs]
        value = float(np.mean([obj.min() for _, obj in plans]))
        if value < best:
            best = value
            best_assign = np.stack([a[int(np.argmin(o))] for a, o in plans])
        return value

    curve, episode_objs, order, env = [], [], [], None
    if init is not None:  # where the given parameters start (steps 0 of the curve)
        curve.append((0, time.perf_counter() - started, decision_phase(), math.nan))
    explore_steps = max(1, int(cfg.explore_fraction * steps))
    step, next_eval, next_update, updates = 0, cfg.eval_every, cfg.learning_starts, 0
    stopped_by_time = False
    while step < steps:
        if env is None or env.k == env.problem.n_layers:
            if not order:
                order = list(rng.permutation(len(train_envs)))
            env = train_envs[order.pop()]
            obs, info = env.reset()
            mask = info["action_mask"]
            ep_return = np.zeros(env.batch)
        eps = max(cfg.eps_final, 1.0 - (1.0 - cfg.eps_final) * step / explore_steps)
        action = _propose(nets, obs, mask, eps, rng, env, torch)
        next_obs, reward, done, info = env.step(action)
        take = min(env.batch, steps - step)  # the budget is exact
        memory.add(obs[:take], action[:take], reward[:take] * scale, next_obs[:take],
                   info["action_mask"][:take], done[:take])
        ep_return += reward
        obs, mask = next_obs, info["action_mask"]
        step += take
        if done[0]:
            episode_objs.extend((-ep_return).tolist())
        while step >= next_update:  # Algorithm 1 lines 20–24: every network learns
            next_update += cfg.train_freq
            updates += 1
            for net, target, opt in zip(nets, targets, optims):
                batch = memory.sample(cfg.batch_size, rng, 1.0)
                loss, _ = td_loss(net, target, batch, td_cfg, torch)
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.grad_clip)
                opt.step()
                if updates % cfg.target_sync == 0:
                    target.load_state_dict(net.state_dict())
        timed_out = time_limit_s is not None and time.perf_counter() - started > time_limit_s
        if step >= next_eval or step >= steps or timed_out:
            next_eval += cfg.eval_every
            value = decision_phase()
            recent = float(np.mean(episode_objs[-20:])) if episode_objs else math.nan
            curve.append((step, time.perf_counter() - started, value, recent))
            if progress is not None:
                progress(step)
        if timed_out:
            stopped_by_time = step < steps
            break
    if best_assign is None:  # no step taken: decide with the initial networks
        curve.append((step, time.perf_counter() - started, decision_phase(), math.nan))
    return DMROResult(nets, cfg, curve, step, time.perf_counter() - started, best,
                      best_assign, stopped_by_time)


# --- initial parameters on disk --------------------------------------------------------
def save_init(path, result: DMROResult, env_spec: dict, extra: dict | None = None):
    """Write the ``s`` networks' weights (initial parameters for :func:`solve`)."""
    from pathlib import Path

    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"format": FORMAT, "config": result.config.to_dict(), "env": env_spec,
                "state_dicts": [n.state_dict() for n in result.nets], "extra": extra or {}},
               path)
    return path


def load_init(path, problem, cfg: DMROConfig, env_spec: dict) -> list:
    """The state dicts of a file written by :func:`save_init`, checked against the
    environment and the network shape (:class:`CheckpointError` in one line)."""
    from .checkpoint import CheckpointError

    try:
        import torch

        data = torch.load(path, weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"init {path}: no such file") from None
    except Exception as exc:
        raise CheckpointError(f"init {path}: not a DMRO parameter file "
                              f"({type(exc).__name__})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        if isinstance(data, dict) and data.get("format"):
            raise CheckpointError(f"init {path}: a {data.get('format')} file, not {FORMAT} "
                                  "(write one with `offloadlab train dmro`)")
        raise CheckpointError(f"init {path}: not an {FORMAT} file")
    env = data["env"]
    for key in ("n_servers", "obs_dim"):
        if env.get(key) != env_spec[key]:
            raise CheckpointError(f"init {path}: made for {key}={env.get(key)}, instance "
                                  f"{problem.instance.name!r} has {env_spec[key]}")
    saved = data["config"]
    if tuple(saved["hidden"]) != tuple(cfg.hidden) or bool(saved["dueling"]) != cfg.dueling:
        raise CheckpointError(f"init {path}: networks of hidden={saved['hidden']}, "
                              f"dueling={saved['dueling']}; this solver builds "
                              f"hidden={list(cfg.hidden)}, dueling={cfg.dueling}")
    return data["state_dicts"]


# --- the learner as a solver -----------------------------------------------------------
def solve(problem, *, variant: str = "dmro", seed=None, time_limit_s=None,
          budget_evals=None, init=None, pad_layers=None, **hyper):
    """Train DMRO (or a baseline) on ``problem`` and return its decision, scored by the
    simulator.

    Parameters
    ----------
    problem : Problem
    variant : str
        One of :data:`VARIANTS`.
    seed : int, optional
        Seeds torch, exploration and replay (default 0).
    time_limit_s : float, optional
        Training stops when reached (status ``time_limit``).
    budget_evals : int, optional
        Placements of training plus one for the final scoring, so ``evaluations <=
        budget_evals``; default 40,000 training placements.
    init : str, optional
        A ``.pt`` file of initial parameters from ``offloadlab train dmro`` (``--meta``:
        meta-learned; else trained on other instances); default random.
    pad_layers : int, optional
        Observation padding (default: the longest task; must match ``init``'s).
    **hyper
        :class:`DMROConfig` fields.

    Returns
    -------
    Solution
        The best decision of any decision phase (``history``: ``(wall_s, objective)`` of
        each); ``evaluations`` counts placements.
    """
    from offloadlab.registry import make_solution, parameter_errors

    from .env import PlacementEnv

    started = time.perf_counter()
    seed = 0 if seed is None else int(seed)
    cfg = DMROConfig.for_variant(variant, **hyper)
    with parameter_errors(variant):
        env = PlacementEnv(problem, pad_layers=pad_layers)
    init_dicts = None if init is None else load_init(init, problem, cfg, env.spec_dict())
    steps = DEFAULT_STEPS if budget_evals is None else max(0, int(budget_evals) - 1)
    result = train(env, cfg, steps=steps, seed=seed, init=init_dicts,
                   time_limit_s=time_left(time_limit_s, started))
    assign = result.best_assign[0]
    history = [(wall_s, obj) for _, wall_s, obj, _ in result.curve]
    params = {"variant": variant, "steps": result.steps, "init": init, **cfg.to_dict()}
    return make_solution(problem, variant, assign, np.arange(problem.n_layers),
                         started=started, params=params, seed=seed,
                         evaluations=result.steps, history=history,
                         status="time_limit" if result.stopped_by_time else None)


SWITCHES = ("n_dnns", "double", "dueling")  # fixed by the variant's name


def _variant_solver(variant: str):
    from .variants import variant_solver

    return variant_solver(solve, variant, {"variant": variant}, [
        (f.name, f.default) for f in fields(DMROConfig)
        if f.name not in SWITCHES or (f.name == "n_dnns" and variant == "dmro")])


solve_dmro = _variant_solver("dmro")
solve_dmro_dqn = _variant_solver("dmro-dqn")
solve_dmro_double_dqn = _variant_solver("dmro-double-dqn")
solve_dmro_dueling_dqn = _variant_solver("dmro-dueling-dqn")

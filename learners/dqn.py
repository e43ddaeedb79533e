"""The DQN family of DDPQN (MODELS.md §3): one algorithm, three switches, eight variants.

The whole algorithm is in this file, top to bottom: the hyper-parameters
(:class:`DQNConfig`), the update (:func:`td_loss`), the training loop (:func:`train`)
and the solver wrapper (:func:`solve`). Replay buffers, networks and rollouts live in
small modules next to it.

Switches (all off = Mnih et al.'s DQN):

* ``double`` — the target's action is the online network's masked arg-max, valued by the
  target network (van Hasselt et al., 2016);
* ``dueling`` — Q = V + A − mean A (Wang et al., 2016);
* ``prioritized`` — proportional prioritised replay on a sum-tree, with alpha and an
  importance-sampling beta annealed to 1 (Schaul et al., 2016).

DDPQN is all three. Invalid actions are masked both when acting (never chosen, even when
exploring) and in the target's max (the next state's mask is stored with each
transition).

Choices where the paper is silent or its values fail (each a parameter):

* ``epsilon_greedy`` 0.9 is the paper's probability of acting greedily. Exploration
  starts at 1 (all random) and falls linearly to ``1 - epsilon_greedy`` over the first
  ``explore_fraction`` of the budget (0 gives the paper's constant 0.9).
* Rewards are multiplied by ``reward_scale`` for learning only (default: one over the
  mean absolute reward of a few random episodes), so the same learning rate suits
  objectives in seconds and in standardised scores; the greedy policy is unchanged by it.
* ``target_sync`` counts gradient updates (the paper's "replace the target every 100
  learning steps").
* The policy returned is the snapshot whose greedy rollout scored best on the training
  instances during training (``keep_best``; evaluated every ``eval_every`` steps).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, fields

import numpy as np

from offloadlab.budget import time_left

VARIANTS: dict[str, dict[str, bool]] = {
    "dqn": dict(double=False, dueling=False, prioritized=False),
    "double-dqn": dict(double=True, dueling=False, prioritized=False),
    "dueling-dqn": dict(double=False, dueling=True, prioritized=False),
    "per-dqn": dict(double=False, dueling=False, prioritized=True),
    "double-per-dqn": dict(double=True, dueling=False, prioritized=True),
    "dueling-per-dqn": dict(double=False, dueling=True, prioritized=True),
    "double-dueling-dqn": dict(double=True, dueling=True, prioritized=False),
    "ddpqn": dict(double=True, dueling=True, prioritized=True),
}

DEFAULT_STEPS = 60_000


@dataclass
class DQNConfig:
    """Hyper-parameters (the paper's values unless marked chosen).

    Attributes
    ----------
    double, dueling, prioritized : bool
        The three switches (see the module docstring).
    hidden : tuple of int
        Hidden layer widths: 50 then 20.
    lr : float
        Adam learning rate, 0.001.
    gamma : float
        Discount. Chosen: 0.95; the paper's 0.8 is too short-sighted for the node
        balance term (a placement changes every later layer's balance): on
        ddpqn-alexnet-small-s0 it stops 12-14 % above the optimum where 0.95 reaches
        1 % (README, learners).
    batch_size : int
        Minibatch, 256.
    target_sync : int
        Gradient updates between copies of the online network into the target, 100.
    epsilon_greedy : float
        Probability of the greedy action once exploration has decayed, 0.9.
    explore_fraction : float
        Chosen: share of the budget over which exploration falls from 1 to
        ``1 - epsilon_greedy``.
    buffer_size : int
        Chosen: transitions kept in replay.
    learning_starts : int
        Chosen: environment steps before the first update.
    train_freq : int
        Chosen: environment steps per gradient update.
    n_envs : int
        Chosen: episodes run in lockstep (one forward pass acts for all of them).
    alpha, beta0 : float
        Prioritised replay: priority exponent 0.6 and initial importance exponent 0.4
        (annealed linearly to 1 over the budget), Schaul et al.'s values.
    reward_scale : float or None
        Chosen: factor on rewards for learning; None = automatic.
    loss : {"mse", "huber"}
    grad_clip : float
        Chosen: max gradient norm.
    eval_every : int
        Chosen: environment steps between greedy evaluations (learning curve).
    keep_best : bool
        Chosen: return the best evaluated snapshot rather than the last.
    """

    double: bool = False
    dueling: bool = False
    prioritized: bool = False
    hidden: tuple = (50, 20)
    lr: float = 1e-3
    gamma: float = 0.95
    batch_size: int = 256
    target_sync: int = 100
    epsilon_greedy: float = 0.9
    explore_fraction: float = 0.3
    buffer_size: int = 50_000
    learning_starts: int = 500
    train_freq: int = 4
    n_envs: int = 8
    alpha: float = 0.6
    beta0: float = 0.4
    reward_scale: float | None = None
    loss: str = "mse"
    grad_clip: float = 10.0
    eval_every: int = 500
    keep_best: bool = True

    @classmethod
    def for_variant(cls, variant: str, **hyper) -> "DQNConfig":
        """The config of a named variant with ``hyper`` overrides.

        Raises
        ------
        TypeError
            An unknown variant or hyper-parameter (like an unexpected keyword argument).
        """
        if variant not in VARIANTS:
            raise TypeError(f"unknown DQN variant {variant!r}; known: {', '.join(VARIANTS)}")
        known = {f.name for f in fields(cls)}
        bad = sorted(set(hyper) - known)
        if bad:
            raise TypeError(f"unknown hyper-parameter {bad[0]!r} for {variant}; known: "
                             f"{', '.join(sorted(known))}")
        if "hidden" in hyper:
            hyper["hidden"] = tuple(int(h) for h in hyper["hidden"])
        return cls(**{**VARIANTS[variant], **hyper})

    def to_dict(self) -> dict:
        out = asdict(self)
        out["hidden"] = list(self.hidden)
        return out


# --- the update ------------------------------------------------------------------------
def td_loss(q_net, target_net, batch, cfg: DQNConfig, torch):
    """The TD loss of one minibatch and its per-sample TD errors.

    ``target = r + gamma * (1 - done) * Q_target(s', a*)`` with ``a*`` the masked arg-max
    of the target network (DQN) or of the online network (double DQN).
    """
    from .networks import masked

    obs = torch.as_tensor(batch.obs)
    next_obs = torch.as_tensor(batch.next_obs)
    next_mask = torch.as_tensor(batch.next_mask)
    action = torch.as_tensor(batch.action)
    reward = torch.as_tensor(batch.reward)
    done = torch.as_tensor(batch.done)
    with torch.no_grad():
        q_next_target = masked(target_net(next_obs), next_mask)
        if cfg.double:
            best = masked(q_net(next_obs), next_mask).argmax(dim=1, keepdim=True)
        else:
            best = q_next_target.argmax(dim=1, keepdim=True)
        q_next = q_next_target.gather(1, best).squeeze(1)
        target = reward + cfg.gamma * (1.0 - done) * q_next
    q = q_net(obs).gather(1, action[:, None]).squeeze(1)
    td = q - target
    per_sample = td.pow(2) if cfg.loss == "mse" else torch.nn.functional.smooth_l1_loss(
        q, target, reduction="none")
    loss = (torch.as_tensor(batch.weights) * per_sample).mean()
    return loss, td.detach().numpy()


def act(q_net, obs: np.ndarray, mask: np.ndarray, torch) -> int:
    """The greedy allowed action (ties: the lowest server index)."""
    from .networks import masked

    with torch.no_grad():
        q = masked(q_net(torch.as_tensor(obs[None, :])), torch.as_tensor(mask[None, :]))
    return int(q.argmax(dim=1).item())


# --- training --------------------------------------------------------------------------
@dataclass
class TrainResult:
    """What :func:`train` returns: the chosen network, its config and the learning curve.

    ``curve`` rows are ``(steps, wall_s, greedy_objective, mean_episode_objective)`` at
    each evaluation (objectives averaged over the training environments); ``best`` the
    best greedy objective seen.
    """

    q_net: object
    config: DQNConfig
    curve: list
    steps: int
    wall_s: float
    best: float
    stopped_by_time: bool


def update(q_net, target_net, optimizer, buffer, cfg: DQNConfig, rng, progress: float,
           torch) -> None:
    """One gradient step on a replay minibatch; ``progress`` in [0, 1] anneals the
    importance-sampling exponent from ``beta0`` to 1 (prioritised replay)."""
    beta = cfg.beta0 + (1.0 - cfg.beta0) * min(1.0, progress)
    batch = buffer.sample(cfg.batch_size, rng, beta)
    loss, td = td_loss(q_net, target_net, batch, cfg, torch)
    optimizer.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(q_net.parameters(), cfg.grad_clip)
    optimizer.step()
    buffer.update_priorities(batch.index, td)


def setup_torch(seed: int):
    """Seed torch, force deterministic kernels and one thread; returns the module."""
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    return torch


def train(envs, cfg: DQNConfig, *, steps: int = DEFAULT_STEPS, seed: int = 0,
          time_limit_s: float | None = None, progress=None) -> TrainResult:
    """Train a Q-network on one or several placement environments.

    ``cfg.n_envs`` episodes of one instance run in lockstep (one
    :class:`~offloadlab.learners.env.BatchPlacementEnv`, one forward pass per step for
    all of them); with several instances, each round of episodes takes the next one in a
    seeded random order. All must share the observation size and the number of servers.

    Parameters
    ----------
    envs : PlacementEnv or list of PlacementEnv
    cfg : DQNConfig
    steps : int
        Environment steps (layer placements, summed over parallel episodes).
    seed : int
    time_limit_s : float, optional
        Stop earlier when this many seconds have passed.
    progress : callable, optional
        Called as ``progress(steps_done)`` at each evaluation.
    """
    started = time.perf_counter()  # importing torch counts against the limit
    import copy

    from .env import BatchPlacementEnv
    from .networks import QNetwork, masked
    from .replay import PrioritizedReplayBuffer, ReplayBuffer
    from .rollout import common_spaces, greedy_rollout, reward_scale

    torch = setup_torch(seed)
    envs, obs_dim, n_actions = common_spaces(envs)
    rng = np.random.default_rng(seed)
    scale = reward_scale(cfg.reward_scale, envs, rng)
    batch_envs = [BatchPlacementEnv(e.problem, cfg.n_envs, reward=e.core.reward_kind,
                                    pad_layers=e.core.pad_layers, order=e.core.order_kind)
                  for e in envs]

    q_net = QNetwork(obs_dim, n_actions, cfg.hidden, cfg.dueling)
    target_net = copy.deepcopy(q_net)
    optimizer = torch.optim.Adam(q_net.parameters(), lr=cfg.lr)
    buffer_cls = PrioritizedReplayBuffer if cfg.prioritized else ReplayBuffer
    extra = dict(alpha=cfg.alpha) if cfg.prioritized else {}
    buffer = buffer_cls(min(cfg.buffer_size, max(steps, 1)), obs_dim, n_actions, **extra)

    def evaluate():
        return float(np.mean([greedy_rollout(e, q_net)[2] for e in envs]))

    curve, episode_objs, updates = [], [], 0
    best, best_state = math.inf, copy.deepcopy(q_net.state_dict())
    order = []
    env = None
    explore_steps = max(1, int(cfg.explore_fraction * steps))
    eps_final = 1.0 - cfg.epsilon_greedy
    stopped_by_time = False
    step, next_eval, next_update = 0, cfg.eval_every, cfg.learning_starts
    while step < steps:
        if env is None or env.k == env.problem.n_layers:  # a new round of episodes
            if not order:
                order = list(rng.permutation(len(batch_envs)))
            env = batch_envs[order.pop()]
            obs, info = env.reset()
            mask = info["action_mask"]
            ep_return = np.zeros(env.batch)
        eps = max(eps_final, 1.0 - (1.0 - eps_final) * step / explore_steps) \
            if cfg.explore_fraction > 0 else eps_final
        with torch.no_grad():
            q = masked(q_net(torch.as_tensor(obs)), torch.as_tensor(mask))
        action = q.argmax(dim=1).numpy()
        explore = rng.random(env.batch) < eps
        if explore.any():
            action = np.where(explore, env.random_actions(rng), action)
        next_obs, reward, done, info = env.step(action)
        next_mask = info["action_mask"]
        take = min(env.batch, steps - step)  # the budget is exact: the rest is not used
        buffer.add(obs[:take], action[:take], reward[:take] * scale, next_obs[:take],
                   next_mask[:take], done[:take])
        ep_return += reward
        obs, mask = next_obs, next_mask
        step += take
        if done[0]:
            episode_objs.extend((-ep_return).tolist())

        while step >= next_update:
            next_update += cfg.train_freq
            update(q_net, target_net, optimizer, buffer, cfg, rng, step / steps, torch)
            updates += 1
            if updates % cfg.target_sync == 0:
                target_net.load_state_dict(q_net.state_dict())

        timed_out = time_limit_s is not None and time.perf_counter() - started > time_limit_s
        if step >= next_eval or step >= steps or timed_out:
            next_eval += cfg.eval_every
            value = evaluate()
            recent = float(np.mean(episode_objs[-20:])) if episode_objs else math.nan
            curve.append((step, time.perf_counter() - started, value, recent))
            if value < best or not cfg.keep_best:
                best, best_state = min(best, value), copy.deepcopy(q_net.state_dict())
            if progress is not None:
                progress(step)
        if timed_out:
            stopped_by_time = step < steps
            break
    q_net.load_state_dict(best_state)
    return TrainResult(q_net, cfg, curve, step, time.perf_counter() - started, best,
                       stopped_by_time)


# --- the learner as a solver -----------------------------------------------------------
def solve(problem, *, variant: str = "ddpqn", seed=None, time_limit_s=None,
          budget_evals=None, checkpoint=None, reward="objective", pad_layers=None,
          order: str = "auto", reorder: bool = True, **hyper):
    """Train ``variant`` from scratch on ``problem`` (or load ``checkpoint``) and return
    the greedy rollout's plan as a Solution scored by the simulator.

    Parameters
    ----------
    problem : Problem
    variant : str
        One of :data:`VARIANTS`.
    seed : int, optional
        Seeds torch, exploration, replay sampling (default 0).
    time_limit_s : float, optional
        Training stops when it is reached (status ``time_limit``).
    budget_evals : int, optional
        Environment steps (layer placements) of training, plus one for the final
        scoring of the plan, so ``evaluations <= budget_evals``; default 60,000 training
        steps (about a minute of one core on the small library instances).
    checkpoint : str, optional
        A ``.pt`` file written by ``offloadlab train``: no training, only the rollout.
    reward : {"objective", "ddpqn"}
        The training reward (see :class:`~offloadlab.learners.env.PlacementEnv`).
    pad_layers : int, optional
        Observation padding (default: the instance's longest task).
    order : {"auto", "mdp", "priority"}
        The environment's placement order; ``auto`` (chosen) is the MDP order for the
        ``ddpqn`` score (its node balance is defined in that order) and the instance's
        default priority, which interleaves tasks, for the other kinds.
    reorder : bool
        Chosen: also score the greedy plan's assignment under the other of the two
        orders (MDP order, default priority) and return the better. The MDP order runs
        tasks one after another; the default priority interleaves them, as the exact
        models may.
    **hyper
        :class:`DQNConfig` fields.

    Returns
    -------
    Solution
        ``history`` is the learning curve as ``(wall_s, greedy objective)`` pairs;
        ``evaluations`` counts environment steps.
    """
    from offloadlab.registry import make_solution, parameter_errors

    from .checkpoint import load_checkpoint
    from .env import PlacementEnv
    from .rollout import greedy_rollout

    started = time.perf_counter()
    seed = 0 if seed is None else int(seed)
    if checkpoint is not None:
        q_net, meta = load_checkpoint(checkpoint, problem)
        env = PlacementEnv(problem, **meta["env"])
        assign, placed, _ = greedy_rollout(env, q_net)
        priority, message = _best_order(problem, assign, placed, reorder)
        params = {"checkpoint": str(checkpoint), "reorder": reorder, **meta["config"]}
        return make_solution(problem, meta["learner"], assign, priority, started=started,
                             params=params, seed=seed, evaluations=0, message=message)
    cfg = DQNConfig.for_variant(variant, **hyper)
    if order == "auto":
        order = "mdp" if reward == "ddpqn" or problem.instance.objective.kind == "ddpqn" \
            else "priority"
    with parameter_errors(variant):
        env = PlacementEnv(problem, reward=reward, pad_layers=pad_layers, order=order)
    # one evaluation of the budget is the final scoring of the plan (make_solution)
    steps = DEFAULT_STEPS if budget_evals is None else max(0, int(budget_evals) - 1)
    result = train(env, cfg, steps=steps, seed=seed,
                   time_limit_s=time_left(time_limit_s, started))
    assign, placed, _ = greedy_rollout(env, result.q_net)
    priority, message = _best_order(problem, assign, placed, reorder)
    history = [(wall_s, obj) for _, wall_s, obj, _ in result.curve]
    params = {"variant": variant, "steps": result.steps, "reward": reward, "order": order,
              "reorder": reorder, **cfg.to_dict()}
    return make_solution(problem, variant, assign, priority, started=started, params=params,
                         seed=seed, evaluations=result.steps, history=history,
                         status="time_limit" if result.stopped_by_time else None,
                         message=message)


def _best_order(problem, assign, placed, reorder: bool):
    """The order the layers were placed in, or (when ``reorder``) the better of the MDP
    order and the default priority; returns ``(priority, message)``."""
    from offloadlab.simulator import simulate

    orders = {"MDP order": np.arange(problem.n_layers, dtype=np.int64),
              "default priority": np.asarray(problem.default_priority, dtype=np.int64)}
    name = next((k for k, v in orders.items() if (v == placed).all()), "placement order")
    if not reorder:
        return placed, name
    ev = simulate(problem, np.stack([assign, assign, assign]),
                  np.stack([placed, *orders.values()]))
    best = int(np.argmin(ev.objective))
    if best == 0 or ev.objective[best] >= ev.objective[0]:
        return placed, name
    other = list(orders)[best - 1]
    return orders[other], (f"{other} ({ev.objective[best]:.6g}; as placed, {name}, "
                           f"{ev.objective[0]:.6g})")


SWITCHES = ("double", "dueling", "prioritized")  # fixed by the variant's name


def _variant_solver(variant: str):
    from .variants import variant_solver

    return variant_solver(solve, variant, {"variant": variant},
                          [(f.name, f.default) for f in fields(DQNConfig)
                           if f.name not in SWITCHES])


solve_dqn = _variant_solver("dqn")
solve_double_dqn = _variant_solver("double-dqn")
solve_dueling_dqn = _variant_solver("dueling-dqn")
solve_per_dqn = _variant_solver("per-dqn")
solve_double_per_dqn = _variant_solver("double-per-dqn")
solve_dueling_per_dqn = _variant_solver("dueling-per-dqn")
solve_double_dueling_dqn = _variant_solver("double-dueling-dqn")
solve_ddpqn = _variant_solver("ddpqn")

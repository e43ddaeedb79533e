"""Distributed DQN (MTL-A3C's DQN baseline, Ape-X style): several actor processes feed
one learner's replay.

Each actor (``workers`` of them, ``torch.multiprocessing``, fork) runs its own
:class:`~offloadlab.learners.slots.SlotEnv` episodes ε-greedily with the learner's
Q-network, read from shared memory, and sends its transitions in chunks of
``chunk`` steps through a queue. The learner (the calling process) appends them to one
replay buffer (:mod:`.replay`) and runs the DQN update of :mod:`.dqn` (:func:`update`,
with the :class:`~offloadlab.learners.dqn.DQNConfig` switches off by default: plain DQN),
one gradient step per ``train_freq`` transitions received. A shared step counter stops
the actors at the budget or the time limit.

Exploration falls linearly from 1 to ``1 - epsilon_greedy`` (0.01 by default, as in
MTL-A3C) over ``explore_fraction`` of the budget. Rewards are divided by the
environment's time scale. The plan returned is the better (fewer missed deadlines, then
less Σ delay + β·ψ) of the greedy rollout of the best snapshot of the learner's
evaluations (every ``eval_every`` transitions, and at the end) and the best complete,
deadline-keeping episode an actor played (as :mod:`.a3c`; ``keep_episodes=False``: the
policy's plan only).

Determinism: ``workers=1`` (default) runs the actor and the learner alternately in the
calling process (chunk, then its updates) and is reproducible; with more actors the
order in which their chunks arrive depends on scheduling.
"""

from __future__ import annotations

import inspect
import math
import time
from dataclasses import fields

import numpy as np

from offloadlab.budget import time_left

from .processes import join_or_terminate

DEFAULT_STEPS = 30_000


class _Actor:
    """One actor's episodes: ``run(n)`` plays up to ``n`` steps and returns them."""

    def __init__(self, problem, q_net, rank: int, seed: int, steps: int, explore_steps: int,
                 eps_final: float):
        from .slots import BestEpisode, SlotEnv

        self.env = SlotEnv(problem)
        self.q_net = q_net
        self.rng = np.random.default_rng([seed, rank])
        self.obs, info = self.env.reset()
        self.mask = info["action_mask"]
        self.best_episode, self.ep_return = BestEpisode(), 0.0
        self.scale = 1.0 / self.env.time_scale_s
        # exploration decays over steps only, never the clock: same seed, same episodes
        self.explore, self.eps_final = max(1, explore_steps), eps_final

    def run(self, start: int, n: int) -> tuple:
        """``(columns of the transitions, objectives of the episodes finished)``."""
        import torch

        from .networks import masked

        rows, finished = [], []
        for i in range(n):
            eps = max(self.eps_final,
                      1.0 - (1.0 - self.eps_final) * (start + i) / self.explore)
            if self.rng.random() < eps:
                action = self.env.random_actions(self.rng)
            else:
                with torch.no_grad():
                    q = masked(self.q_net(torch.as_tensor(self.obs)),
                               torch.as_tensor(self.mask))
                action = q.argmax(dim=1).numpy()
            next_obs, reward, done, info = self.env.step(action)
            rows.append((self.obs[0], int(action[0]), float(reward[0]) * self.scale,
                         next_obs[0], info["action_mask"][0], float(done[0])))
            self.obs, self.mask = next_obs, info["action_mask"]
            self.ep_return += float(reward[0])
            if done[0]:
                self.best_episode.update(self.env, [self.ep_return])
                finished.append(-self.ep_return)
                self.ep_return = 0.0
                self.obs, info = self.env.reset()
                self.mask = info["action_mask"]
        return tuple(np.array(col) for col in zip(*rows)), finished


def _actor_process(rank, problem, q_net, counter, steps, seed, explore_steps, eps_final,
                   chunk, deadline, out):
    import torch

    torch.set_num_threads(1)
    actor = _Actor(problem, q_net, rank, seed, steps, explore_steps, eps_final)
    while time.perf_counter() < deadline:
        with counter.get_lock():
            start = counter.value
            take = min(chunk, steps - start)
            counter.value += max(take, 0)
        if take <= 0:
            break
        out.put(actor.run(start, take))
    best = actor.best_episode
    out.put(("end", best.key, best.assign))


def train(problem, cfg, *, steps: int = DEFAULT_STEPS, seed: int = 0, workers: int = 1,
          chunk: int = 50, time_limit_s: float | None = None):
    """Train a Q-network with ``workers`` actors feeding one learner; returns ``(q_net,
    info)`` with ``curve`` ((steps, wall_s, greedy objective, mean objective of the
    episodes finished since the last evaluation) rows), ``episode`` (the best training
    episode's ``(key, assign)``), ``steps``, ``wall_s``, ``stopped_by_time``."""
    started = time.perf_counter()  # importing torch counts against the limit
    import copy

    import torch.multiprocessing as mp

    from .a3c import _snapshot_key, greedy_rollout
    from .dqn import setup_torch, update
    from .networks import QNetwork
    from .replay import PrioritizedReplayBuffer, ReplayBuffer
    from .slots import BestEpisode, SlotEnv

    torch = setup_torch(seed)
    rng = np.random.default_rng(seed)
    eval_env = SlotEnv(problem)
    q_net = QNetwork(eval_env.obs_dim, eval_env.n_servers, cfg.hidden, cfg.dueling)
    q_net.share_memory()
    target_net = copy.deepcopy(q_net)
    optimizer = torch.optim.Adam(q_net.parameters(), lr=cfg.lr)
    buffer_cls = PrioritizedReplayBuffer if cfg.prioritized else ReplayBuffer
    extra = dict(alpha=cfg.alpha) if cfg.prioritized else {}
    buffer = buffer_cls(min(cfg.buffer_size, max(steps, 1)), eval_env.obs_dim,
                        eval_env.n_servers, **extra)
    explore_steps = int(cfg.explore_fraction * steps)
    eps_final = 1.0 - cfg.epsilon_greedy
    deadline = math.inf if time_limit_s is None else started + time_limit_s
    curve, best, best_state = [], (math.inf, math.inf), copy.deepcopy(q_net.state_dict())
    best_episode, episode_objs = BestEpisode(), []
    state = {"received": 0, "updates": 0, "next_update": cfg.learning_starts,
             "next_eval": cfg.eval_every}

    class _Greedy:  # the rollout of a3c reads (logits, value) from (obs, block)
        def __call__(self, obs, block):
            return q_net(obs), None

    def evaluate():
        nonlocal best, best_state
        _, _, ret = greedy_rollout(eval_env, _Greedy())
        recent = float(np.mean(episode_objs)) if episode_objs else math.nan
        episode_objs.clear()
        curve.append((state["received"], time.perf_counter() - started, -ret, recent))
        key = _snapshot_key(eval_env, ret)
        if key < best or not cfg.keep_best:
            best, best_state = min(best, key), copy.deepcopy(q_net.state_dict())

    def learn(chunk_out):
        rows, finished = chunk_out
        episode_objs.extend(finished)
        obs, action, reward, next_obs, next_mask, done = rows
        buffer.add(obs, action, reward, next_obs, next_mask, done)
        state["received"] += len(action)
        while state["received"] >= state["next_update"] and len(buffer):
            state["next_update"] += cfg.train_freq
            update(q_net, target_net, optimizer, buffer, cfg, rng, state["received"] / steps,
                   torch)
            state["updates"] += 1
            if state["updates"] % cfg.target_sync == 0:
                target_net.load_state_dict(q_net.state_dict())
        if state["received"] >= state["next_eval"]:
            state["next_eval"] += cfg.eval_every
            evaluate()

    if workers == 1:
        actor = _Actor(problem, q_net, 0, seed, steps, explore_steps, eps_final)
        while state["received"] < steps and time.perf_counter() < deadline:
            learn(actor.run(state["received"], min(chunk, steps - state["received"])))
        best_episode.merge(actor.best_episode)
    else:
        ctx = mp.get_context("fork")
        counter, out = ctx.Value("q", 0), ctx.Queue()
        procs = [ctx.Process(target=_actor_process, daemon=True,
                             args=(rank, problem, q_net, counter, steps, seed, explore_steps,
                                   eps_final, chunk, deadline, out))
                 for rank in range(workers)]
        for p in procs:
            p.start()
        try:
            finished = 0
            wait_s = None if time_limit_s is None else time_limit_s + 60.0
            while finished < workers:
                message = out.get(timeout=wait_s)
                if message[0] == "end":
                    finished += 1
                    other = BestEpisode()
                    other.key, other.assign = message[1], message[2]
                    best_episode.merge(other)
                elif time.perf_counter() < deadline:
                    learn(message)
        finally:
            join_or_terminate(procs)
    evaluate()
    q_net.load_state_dict(best_state)
    return q_net, {"curve": curve, "steps": state["received"],
                   "episode": (best_episode.key, best_episode.assign),
                   "wall_s": time.perf_counter() - started,
                   "stopped_by_time": state["received"] < steps}


def solve(problem, *, seed=None, time_limit_s=None, budget_evals=None, workers: int = 1,
          chunk: int = 50, checkpoint=None, keep_episodes: bool = True, **hyper):
    """Train distributed DQN on a deadline ``problem``; its plan as a Solution.

    Parameters
    ----------
    budget_evals : int, optional
        Environment steps of all actors, plus one for the final scoring; default 30,000.
    workers : int
        Actor processes; 1 (default) is deterministic (module docstring).
    chunk : int
        Transitions per message from an actor.
    checkpoint : str, optional
        A ``.pt`` file written by ``offloadlab train dist-dqn``: no training, the greedy
        rollout of its Q-network.
    keep_episodes : bool
        The plan may be the best training episode (module docstring).
    **hyper
        :class:`~offloadlab.learners.dqn.DQNConfig` fields (``epsilon_greedy`` default
        0.99: ε ends at 0.01).
    """
    from offloadlab.registry import make_solution

    from .a3c import _message, greedy_rollout
    from .dqn import DQNConfig
    from .slots import SlotEnv, best_plan, slot_report

    started = time.perf_counter()
    seed = 0 if seed is None else int(seed)
    env = SlotEnv(problem)
    if checkpoint is not None:
        from .checkpoint import load_checkpoint

        q_net, meta = load_checkpoint(checkpoint, problem, learner="dist-dqn",
                                      env_spec=env.spec_dict())
        assign, order, _ = greedy_rollout(env, lambda o, b: (q_net(o), None))
        return make_solution(problem, "dist-dqn", assign, order, started=started,
                             params={"checkpoint": str(checkpoint), **meta["config"]},
                             seed=seed, evaluations=0,
                             message=_message(slot_report(problem, assign, order), "policy"))
    cfg = DQNConfig.for_variant("dqn", **hyper)
    steps = DEFAULT_STEPS if budget_evals is None else max(0, int(budget_evals) - 1)
    q_net, info = train(problem, cfg, steps=steps, seed=seed, workers=int(workers),
                        chunk=int(chunk), time_limit_s=time_left(time_limit_s, started))
    policy, order, _ = greedy_rollout(env, lambda o, b: (q_net(o), None))
    episode = info["episode"][1] if keep_episodes else None
    source, assign, keys = best_plan(problem, {"policy": policy, "episode": episode}, order)
    params = {"workers": int(workers), "chunk": int(chunk), "steps": info["steps"],
              "keep_episodes": bool(keep_episodes), "plan": source,
              **{f"{k}_key": list(v) for k, v in keys.items()}, **cfg.to_dict()}
    return make_solution(problem, "dist-dqn", assign, order, started=started, params=params,
                         seed=seed, evaluations=info["steps"],
                         history=[(w, obj) for _, w, obj, _ in info["curve"]],
                         status="time_limit" if info["stopped_by_time"] else None,
                         message=_message(slot_report(problem, assign, order), source))


def _signature():
    from .dqn import DQNConfig

    base = list(inspect.signature(solve).parameters.values())[:-1]  # all but **hyper
    defaults = {"epsilon_greedy": 0.99}
    hyper = [inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY,
                               default=defaults.get(f.name, list(f.default)
                                                    if isinstance(f.default, tuple)
                                                    else f.default))
             for f in fields(DQNConfig)]
    return inspect.Signature(base + hyper)


def solve_dist_dqn(problem, **kwargs):
    """Distributed DQN as a solver; see :func:`solve`."""
    kwargs.setdefault("epsilon_greedy", 0.99)
    return solve(problem, **kwargs)


solve_dist_dqn.__signature__ = _signature()

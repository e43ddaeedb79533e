"""Episodes of a placement environment under a policy: greedy, random."""

from __future__ import annotations

import numpy as np


def greedy_rollout(env, q_net):
    """One episode acting greedily (masked arg-max of ``q_net``).

    Returns
    -------
    assign : numpy.ndarray
        Server per global layer.
    priority : numpy.ndarray
        The order the layers were placed in (the MDP order).
    objective : float
        Minus the episode's return (the simulator's objective when ``reward`` is
        ``"objective"``).
    """
    import torch

    from .networks import masked

    obs, info = env.reset(seed=0)
    mask = info["action_mask"]
    total, done = 0.0, False
    with torch.no_grad():
        while not done:
            q = masked(q_net(torch.as_tensor(obs[None, :])), torch.as_tensor(mask[None, :]))
            obs, reward, done, truncated, info = env.step(int(q.argmax(dim=1).item()))
            mask = info["action_mask"]
            total += reward
            done = done or truncated
    plan = env.unwrapped
    return plan.assign.copy(), plan.order.copy(), -total


def random_returns(env, rng: np.random.Generator, episodes: int = 4) -> np.ndarray:
    """Per-step rewards of ``episodes`` uniformly random allowed-action episodes."""
    rewards = []
    for _ in range(episodes):
        _, info = env.reset(seed=int(rng.integers(2**31)))
        done = False
        while not done:
            action = int(rng.choice(np.flatnonzero(info["action_mask"])))
            _, reward, done, truncated, info = env.step(action)
            rewards.append(reward)
            done = done or truncated
    return np.asarray(rewards)


def common_spaces(envs) -> tuple[list, int, int]:
    """``(envs as a list, observation size, servers)``; ValueError when the environments
    differ in either (one network serves them all)."""
    envs = list(envs) if isinstance(envs, (list, tuple)) else [envs]
    obs_dim = envs[0].observation_space.shape[0]
    n_actions = int(envs[0].action_space.n)
    if any(e.observation_space.shape[0] != obs_dim or e.action_space.n != n_actions
           for e in envs):
        raise ValueError("training environments differ in observation size or servers")
    return envs, obs_dim, n_actions


def reward_scale(scale, envs, rng: np.random.Generator) -> float:
    """``scale``, or (None) one over the mean absolute reward of random episodes, so one
    learning rate suits objectives in seconds and in standardised scores."""
    if scale is not None:
        return scale
    per_step = np.concatenate([random_returns(e, rng, episodes=4) for e in envs])
    return 1.0 / max(float(np.mean(np.abs(per_step))), 1e-9)

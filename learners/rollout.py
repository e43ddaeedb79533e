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

"""Replay buffers for the DQN family: uniform, and prioritised over a sum-tree.

Both store transitions ``(obs, action, reward, next_obs, next_mask, done)`` in
preallocated numpy arrays (a ring of ``capacity``) and return a :class:`Batch`. The
prioritised buffer (Schaul et al., 2016, proportional variant) samples transition ``i``
with probability ``p_i^alpha / sum_j p_j^alpha`` and weights it by
``(N * P(i))^-beta / max_j w_j``; ``beta`` is annealed by the caller.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Batch(NamedTuple):
    """A sampled minibatch; ``weights`` are 1 for uniform replay."""

    obs: np.ndarray        # (B, D) float32
    action: np.ndarray     # (B,) int64
    reward: np.ndarray     # (B,) float32
    next_obs: np.ndarray   # (B, D) float32
    next_mask: np.ndarray  # (B, S) bool, the actions allowed in next_obs
    done: np.ndarray       # (B,) float32
    weights: np.ndarray    # (B,) float32, importance-sampling weights
    index: np.ndarray      # (B,) int64, positions in the buffer (for priority updates)


class ReplayBuffer:
    """Uniform replay over the last ``capacity`` transitions.

    Parameters
    ----------
    capacity : int
        Transitions kept (oldest overwritten first).
    obs_dim, n_actions : int
        Observation length and number of actions (for the mask).
    """

    def __init__(self, capacity: int, obs_dim: int, n_actions: int):
        self.capacity = int(capacity)
        self.obs = np.zeros((capacity, obs_dim), dtype=np.float32)
        self.next_obs = np.zeros((capacity, obs_dim), dtype=np.float32)
        self.action = np.zeros(capacity, dtype=np.int64)
        self.reward = np.zeros(capacity, dtype=np.float32)
        self.next_mask = np.ones((capacity, n_actions), dtype=bool)
        self.done = np.zeros(capacity, dtype=np.float32)
        self.pos = 0
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def add(self, obs, action, reward, next_obs, next_mask, done) -> np.ndarray:
        """Store one transition or a batch (leading axis); returns their positions."""
        action = np.atleast_1d(action)
        n = len(action)
        idx = (self.pos + np.arange(n)) % self.capacity
        self.obs[idx] = np.reshape(obs, (n, -1))
        self.action[idx] = action
        self.reward[idx] = np.atleast_1d(reward)
        self.next_obs[idx] = np.reshape(next_obs, (n, -1))
        self.next_mask[idx] = np.reshape(next_mask, (n, -1))
        self.done[idx] = np.atleast_1d(done)
        self.pos = int((self.pos + n) % self.capacity)
        self.size = min(self.size + n, self.capacity)
        return idx

    def _batch(self, idx: np.ndarray, weights: np.ndarray) -> Batch:
        return Batch(self.obs[idx], self.action[idx], self.reward[idx], self.next_obs[idx],
                     self.next_mask[idx], self.done[idx], weights.astype(np.float32), idx)

    def sample(self, batch_size: int, rng: np.random.Generator, beta: float = 1.0) -> Batch:
        """``batch_size`` transitions drawn uniformly with replacement."""
        idx = rng.integers(0, self.size, size=batch_size)
        return self._batch(idx, np.ones(batch_size))

    def update_priorities(self, index: np.ndarray, td_error: np.ndarray) -> None:
        """No-op for uniform replay (same interface as the prioritised buffer)."""


class SumTree:
    """A binary tree over ``capacity`` leaves whose inner nodes hold the sum of their
    children: set a leaf and find the leaf at a cumulative mass in O(log n).

    Stored as one array of ``2 * size`` nodes (root at 1, leaves at ``size + i``) with
    ``size`` the next power of two, so a batch of updates or look-ups is a loop over
    the tree's depth of vectorised numpy steps.
    """

    def __init__(self, capacity: int):
        self.size = 1 << max(0, int(capacity - 1).bit_length())
        self.nodes = np.zeros(2 * self.size)

    @property
    def total(self) -> float:
        return float(self.nodes[1])

    def leaves(self, index) -> np.ndarray:
        return self.nodes[self.size + np.asarray(index)]

    def set(self, index, value) -> None:
        """Set leaves ``index`` to ``value`` (arrays; later duplicates win) and refresh
        their ancestors."""
        node = self.size + np.asarray(index, dtype=np.int64)
        self.nodes[node] = value
        node = np.unique(node // 2)
        while node[0] >= 1:
            self.nodes[node] = self.nodes[2 * node] + self.nodes[2 * node + 1]
            node = np.unique(node // 2)

    def find(self, mass: np.ndarray) -> np.ndarray:
        """Leaf index where the cumulative sum of leaves first exceeds each ``mass``."""
        mass = np.asarray(mass, dtype=np.float64).copy()
        node = np.ones(len(mass), dtype=np.int64)
        while node[0] < self.size:
            left = 2 * node
            go_right = mass >= self.nodes[left]
            mass -= np.where(go_right, self.nodes[left], 0.0)
            node = left + go_right
        return node - self.size


class PrioritizedReplayBuffer(ReplayBuffer):
    """Proportional prioritised replay on a :class:`SumTree`.

    New transitions get the largest priority seen so far (each is replayed at least
    once soon); after an update a transition's priority is ``(|td| + eps) ** alpha``.

    Parameters
    ----------
    alpha : float
        How strongly priorities skew sampling (0 = uniform).
    eps : float
        Added to ``|td|`` so no transition has zero probability.
    """

    def __init__(self, capacity: int, obs_dim: int, n_actions: int, alpha: float = 0.6,
                 eps: float = 1e-6):
        super().__init__(capacity, obs_dim, n_actions)
        self.alpha = float(alpha)
        self.eps = float(eps)
        self.tree = SumTree(capacity)
        self.max_priority = 1.0

    def add(self, obs, action, reward, next_obs, next_mask, done) -> np.ndarray:
        idx = super().add(obs, action, reward, next_obs, next_mask, done)
        self.tree.set(idx, self.max_priority)
        return idx

    def sample(self, batch_size: int, rng: np.random.Generator, beta: float = 0.4) -> Batch:
        """Stratified sampling: one draw in each of ``batch_size`` equal slices of the
        total priority mass; weights normalised by the batch's largest."""
        total = self.tree.total
        bounds = np.arange(batch_size) * (total / batch_size)
        mass = bounds + rng.random(batch_size) * (total / batch_size)
        idx = np.minimum(self.tree.find(np.minimum(mass, total * (1 - 1e-12))), self.size - 1)
        prob = self.tree.leaves(idx) / total
        weights = (self.size * np.maximum(prob, 1e-12)) ** (-beta)
        return self._batch(idx, weights / weights.max())

    def update_priorities(self, index: np.ndarray, td_error: np.ndarray) -> None:
        priority = (np.abs(td_error) + self.eps) ** self.alpha
        self.tree.set(index, priority)
        self.max_priority = max(self.max_priority, float(priority.max()))

"""Q-networks for the DQN family, and the action mask applied in one place."""

from __future__ import annotations

import torch
from torch import nn

MASKED = -1e9  # the Q-value of a forbidden action: below any real value, still finite
BOUND = 5e8    # allowed actions' values are kept within +-BOUND (NaN: -BOUND), above MASKED


class QNetwork(nn.Module):
    """An MLP from observation to one Q-value per server.

    DDPQN's network: ``obs -> hidden[0] -> hidden[1]`` (ReLU), then either one linear
    head of ``n_actions`` Q-values or, when ``dueling``, a value head V(s) and an
    advantage head A(s, a) combined as ``Q = V + A - mean_a A`` (Wang et al., 2016).

    Parameters
    ----------
    obs_dim, n_actions : int
    hidden : tuple of int
        Widths of the hidden layers (the paper: 50, 20).
    dueling : bool
    """

    def __init__(self, obs_dim: int, n_actions: int, hidden=(50, 20), dueling: bool = False):
        super().__init__()
        layers, width = [], obs_dim
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        self.trunk = nn.Sequential(*layers)
        self.dueling = dueling
        self.head = nn.Linear(width, n_actions)
        self.value = nn.Linear(width, 1) if dueling else None

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        z = self.trunk(obs)
        adv = self.head(z)
        if not self.dueling:
            return adv
        return self.value(z) + adv - adv.mean(dim=-1, keepdim=True)


def masked(q: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``q`` (Q-values or logits) with forbidden actions (``mask`` false) set to
    :data:`MASKED`. The allowed ones are kept within :data:`BOUND` (NaN at its bottom),
    so that an arg-max picks an allowed action even when the network has diverged (a
    learning rate of 10, say); real values are far inside it."""
    allowed = torch.nan_to_num(q, nan=-BOUND).clamp(-BOUND, BOUND)
    return torch.where(mask, allowed, torch.full_like(q, MASKED))

"""Cloud dormancy (TMOA/ATSA paper §2.4) and the uploaded-data comparison of Fig. 8.

Rule: with T_rd the real-time edge-to-cloud delay and T0 its average, the edge and the
cloud compute together when ``T_rd <= T0``; otherwise the cloud goes dormant and the task
is finished on the edge by the master node's simplified cloud model (nothing uploaded).

The Fig. 8 simulation compares the average data uploaded to the cloud per task:

* cloud only: every task uploads its input image;
* cloud-edge: every task uploads the feature map Map_j at the TMOA split j;
* cloud-edge with dormancy: Map_j only while the link is fast enough.

Resolved (the paper gives no link model): T_rd follows a log-normal random walk (AR(1) in
log space, coefficient 0.9, stationary mean ``mean_delay_s`` and log-std ``sigma``), seeded;
T0 is the running mean of the delays observed so far (the first slot uses the stationary
mean). Tasks arrive Poisson per slot.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def use_cloud(t_rd_s: float | np.ndarray, t0_s: float | np.ndarray):
    """True where the cloud takes part (``T_rd <= T0``), False where it sleeps."""
    return np.asarray(t_rd_s) <= np.asarray(t0_s)


@dataclass(frozen=True)
class UploadResult:
    """Average MB uploaded per task by each scheme, plus the per-slot series."""

    mb_per_task: dict
    dormant_fraction: float
    t_rd_s: np.ndarray
    t0_s: np.ndarray
    tasks: np.ndarray


def link_delays(n_slots: int, rng: np.random.Generator, mean_delay_s: float = 0.05,
                sigma: float = 0.5, phi: float = 0.9) -> np.ndarray:
    """T_rd per slot: a log-normal AR(1) process with the given stationary mean."""
    mu = np.log(mean_delay_s) - sigma**2 / 2
    z = np.empty(n_slots)
    z[0] = rng.normal(0.0, sigma)
    noise = rng.normal(0.0, sigma * np.sqrt(1 - phi**2), n_slots)
    for t in range(1, n_slots):
        z[t] = phi * z[t - 1] + noise[t]
    return np.exp(mu + z)


def simulate_uploads(input_mb: float, map_mb: float, n_slots: int = 1000,
                     tasks_per_slot: float = 30.0, seed: int = 0, mean_delay_s: float = 0.05,
                     sigma: float = 0.5) -> UploadResult:
    """Average data uploaded per task under the three schemes of Fig. 8."""
    rng = np.random.default_rng(seed)
    t_rd = link_delays(n_slots, rng, mean_delay_s, sigma)
    t0 = np.concatenate([[mean_delay_s], np.cumsum(t_rd)[:-1] / np.arange(1, n_slots)])
    tasks = rng.poisson(tasks_per_slot, n_slots)
    awake = use_cloud(t_rd, t0)
    total = max(int(tasks.sum()), 1)
    mb = {"cloud only": input_mb,
          "cloud-edge": map_mb,
          "cloud-edge + dormancy": float((tasks * awake).sum()) * map_mb / total}
    dormant = float((tasks * ~awake).sum()) / total
    return UploadResult(mb, dormant, t_rd, t0, tasks)

"""Particle swarm optimisation for the makespan family (the ATSA paper's PSO baseline).

A particle is a real vector, one coordinate per task in [0, S); ``floor`` gives the task's
node. Decoding repairs memory: tasks are placed in arrival order, and a task whose node
has no room moves to the node with room that would finish it earliest (current load plus
its execution time); the repaired node is written back into the position (Lamarckian), so
the swarm learns feasible plans. Standard velocity update with inertia falling linearly
from 0.9 to 0.4, c1 = c2 = 1.5, speed clipped to S/2; 30 particles, 4000 evaluations.
Every plan is scored by the simulator; the same seed gives the same plan.
"""

from __future__ import annotations

import time

import numpy as np

from offloadlab.budget import Evaluator
from offloadlab.jobs import Jobs, makespan_jobs, to_layers
from offloadlab.problem import Problem


def decode(jobs: Jobs, position: np.ndarray) -> np.ndarray:
    """(P, T) positions -> (P, T) node assignments with the memory repair."""
    n_particles = position.shape[0]
    nodes = np.clip(np.floor(position).astype(np.int64), 0, jobs.n_servers - 1)
    left = np.broadcast_to(jobs.cap_mb, (n_particles, jobs.n_servers)).copy()
    load = np.zeros((n_particles, jobs.n_servers))
    rows = np.arange(n_particles)
    et = np.where(jobs.allowed, jobs.et_s, np.inf)
    for i in jobs.order:
        need = jobs.need_mb[i]
        fits = jobs.allowed[i][None, :] & (left >= need * (1 - 1e-12))
        chosen = nodes[:, i]
        bad = ~fits[rows, chosen]
        if bad.any():
            finish = np.where(fits[bad], load[bad] + et[i][None, :], np.inf)
            alt = np.argmin(finish, axis=1)
            ok = np.isfinite(finish[np.arange(len(alt)), alt])
            chosen = chosen.copy()
            chosen[np.flatnonzero(bad)[ok]] = alt[ok]
            nodes[:, i] = chosen
        left[rows, chosen] -= need
        load[rows, chosen] += et[i, chosen]
    return nodes


def pso(problem: Problem, *, seed=None, time_limit_s=None, budget_evals=None,
        n_particles: int = 30, w_max: float = 0.9, w_min: float = 0.4, c1: float = 1.5,
        c2: float = 1.5):
    """PSO over task-to-node vectors with memory repair."""
    jobs = makespan_jobs(problem)
    rng = np.random.default_rng(seed)
    budget = 4000 if budget_evals is None else int(budget_evals)
    evaluator = Evaluator(problem, budget, time_limit_s, time.perf_counter())
    n_iter = max(1, (budget - 1) // n_particles)  # the span of the inertia schedule
    n_nodes = jobs.n_servers
    x = rng.random((n_particles, jobs.n_tasks)) * n_nodes
    v = (rng.random(x.shape) - 0.5) * n_nodes / 2
    pbest_x, pbest_f = x.copy(), np.full(n_particles, np.inf)
    it = 0
    while not evaluator.done():
        assign = decode(jobs, x)
        x = assign + np.clip(x - np.floor(x), 0.0, 0.999)  # write the repair back
        f = evaluator(np.stack([to_layers(problem, a) for a in assign]))
        better = np.flatnonzero(f < pbest_f[:len(f)])  # particles beyond the budget: unscored
        pbest_x[better], pbest_f[better] = x[better], f[better]
        k = int(np.argmin(pbest_f))
        w = w_max - (w_max - w_min) * min(it, n_iter - 1) / max(1, n_iter - 1)
        r1, r2 = rng.random(x.shape), rng.random(x.shape)
        v = w * v + c1 * r1 * (pbest_x - x) + c2 * r2 * (pbest_x[k] - x)
        v = np.clip(v, -n_nodes / 2, n_nodes / 2)
        x = np.clip(x + v, 0.0, n_nodes - 1e-9)
        it += 1
    params = {"n_particles": n_particles, "w_max": w_max, "w_min": w_min, "c1": c1,
              "c2": c2, "budget_evals": budget, "time_limit_s": time_limit_s}
    return evaluator.solution("pso", params=params, seed=seed)

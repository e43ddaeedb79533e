"""ATSA (the improved ant colony of the TMOA/ATSA paper §2.3) and basic ACO, for the
makespan family.

An ant assigns the tasks of the window one by one; task i goes to node j with
probability (eq. 2)

    P_ij = tau_ij^alpha eta_ij^beta / sum over nodes with room of tau^alpha eta^beta.

* ATSA's heuristic is the memory heuristic of eq. 4: ``eta_ij = delta (1 - mu_j)`` with
  ``mu_j`` the node's memory usage after the task is placed (``mu_j += P_cur / P_vj``).
  Resolved: nodes without room for the task get probability 0 (memory limits are hard);
  a node without a memory limit has mu = 0.
* Resolved: the whole window is known, so ants take its tasks in decreasing memory need
  (the first-fit-decreasing order of bin packing), which keeps tight memory feasible; the
  nodes then run their tasks in arrival order (the simulator's default priority).
* Basic ACO uses the classic speed heuristic ``eta_ij = 1 / et_ij``.
* Pheromone (eq. 3): initialised to the reciprocal of the node's average execution time,
  ``tau = (1 - rho) tau + sum over ants of Q / Z_y`` on each ant's (task, node) pairs.
  Resolved: Z_y is the ant's makespan (the objective; the paper's total busy time
  ignores balance); infeasible ants deposit nothing.
* Defaults alpha 1, beta 5, rho 0.5, Q 5 (§4), delta 1, 20 ants, 4000 evaluations.

Every ant is scored by the simulator; the same seed gives the same plan.
"""

from __future__ import annotations

import time

import numpy as np

from offloadlab.budget import Evaluator
from offloadlab.jobs import Jobs, makespan_jobs, to_layers
from offloadlab.problem import Problem


def construct(jobs: Jobs, tau: np.ndarray, rng: np.random.Generator, n_ants: int,
              alpha: float, beta: float, heuristic: str, delta: float = 1.0) -> np.ndarray:
    """(n_ants, T) task -> node assignments built by the colony (vectorised over ants).

    A task that fits on no node goes to the node with the most memory left (the plan is
    then infeasible and the simulator says so).
    """
    n_tasks, n_nodes = jobs.et_s.shape
    left = np.broadcast_to(jobs.cap_mb, (n_ants, n_nodes)).copy()
    cap = np.where(np.isfinite(jobs.cap_mb), jobs.cap_mb, 1.0)
    finite_cap = np.isfinite(jobs.cap_mb)
    out = np.empty((n_ants, n_tasks), dtype=np.int64)
    speed_eta = np.where(jobs.allowed, 1.0 / np.where(jobs.allowed, jobs.et_s, 1.0), 0.0)
    rows = np.arange(n_ants)
    for i in np.argsort(-jobs.need_mb, kind="stable"):
        need = jobs.need_mb[i]
        fits = jobs.allowed[i][None, :] & (left >= need * (1 - 1e-12))
        if heuristic == "memory":
            used = np.where(finite_cap, (cap - left + need) / cap, 0.0)
            eta = delta * np.clip(1.0 - used, 1e-9, None)
        else:
            eta = np.broadcast_to(speed_eta[i], left.shape)
        weight = np.where(fits, tau[i] ** alpha * eta ** beta, 0.0)
        total = weight.sum(axis=1)
        cum = np.cumsum(weight, axis=1)
        pick = (cum < (rng.random(n_ants) * total)[:, None]).sum(axis=1)
        pick = np.minimum(pick, n_nodes - 1)
        stuck = total <= 0.0
        pick[stuck] = np.argmax(np.where(jobs.allowed[i], left[stuck], -np.inf), axis=1)
        out[:, i] = pick
        left[rows, pick] -= need
    return out


def colony(problem: Problem, *, name: str, heuristic: str, seed=None, time_limit_s=None,
           budget_evals=None, n_ants: int = 20, alpha: float = 1.0, beta: float = 5.0,
           rho: float = 0.5, q: float = 5.0, delta: float = 1.0):
    """The ant colony loop shared by ATSA and basic ACO."""
    jobs = makespan_jobs(problem)
    rng = np.random.default_rng(seed)
    budget = 4000 if budget_evals is None else int(budget_evals)
    evaluator = Evaluator(problem, budget, time_limit_s, time.perf_counter())
    node_avg = np.array([jobs.et_s[jobs.allowed[:, s], s].mean() if jobs.allowed[:, s].any()
                         else np.inf for s in range(jobs.n_servers)])
    tau = np.where(jobs.allowed, 1.0 / node_avg[None, :], 0.0)
    task_rows = np.arange(jobs.n_tasks)
    while not evaluator.done():
        ants = construct(jobs, tau, rng, n_ants, alpha, beta, heuristic, delta)
        values = evaluator(np.stack([to_layers(problem, a) for a in ants]))
        tau *= 1.0 - rho
        for a in np.flatnonzero(np.isfinite(values)):  # ants beyond the budget: unscored
            tau[task_rows, ants[a]] += q / values[a]
    params = {"n_ants": n_ants, "alpha": alpha, "beta": beta, "rho": rho, "q": q,
              "delta": delta, "budget_evals": budget, "time_limit_s": time_limit_s}
    return evaluator.solution(name, params=params, seed=seed)


def atsa(problem: Problem, *, seed=None, time_limit_s=None, budget_evals=None, **params):
    """ATSA: ant colony with the memory heuristic of eq. 4 (alpha 1, beta 5, rho 0.5, Q 5)."""
    return colony(problem, name="atsa", heuristic="memory", seed=seed,
                  time_limit_s=time_limit_s, budget_evals=budget_evals, **params)


def aco(problem: Problem, *, seed=None, time_limit_s=None, budget_evals=None, **params):
    """Basic ACO: the same colony with the speed heuristic eta = 1 / et."""
    return colony(problem, name="aco", heuristic="speed", seed=seed,
                  time_limit_s=time_limit_s, budget_evals=budget_evals, **params)

"""FCFS for the makespan family (the ATSA paper's baseline [24]).

Tasks are taken in arrival order (release time, then index); each goes to the node that
becomes free first (ties: the lowest index) among the nodes that still have the memory it
needs. FCFS ignores node speed, which is why it loses on heterogeneous nodes.
"""

from __future__ import annotations

import time

import numpy as np

from offloadlab.jobs import Jobs, makespan_jobs, to_layers
from offloadlab.problem import Problem
from offloadlab.registry import make_solution


def fcfs_assign(jobs: Jobs) -> np.ndarray | None:
    """Task -> node under FCFS; None when some task fits on no node."""
    free_s = np.zeros(jobs.n_servers)
    left_mb = jobs.cap_mb.copy()
    assign = np.empty(jobs.n_tasks, dtype=np.int64)
    for i in jobs.order:
        fits = jobs.allowed[i] & (left_mb >= jobs.need_mb[i] * (1 - 1e-12))
        if not fits.any():
            return None
        s = int(np.argmin(np.where(fits, free_s, np.inf)))
        free_s[s] = max(free_s[s], jobs.release_s[i]) + jobs.et_s[i, s]
        left_mb[s] -= jobs.need_mb[i]
        assign[i] = s
    return assign


def fcfs(problem: Problem, *, seed=None, time_limit_s=None, budget_evals=None):
    """First come, first served onto the first free node with memory (deterministic)."""
    started = time.perf_counter()
    assign = fcfs_assign(makespan_jobs(problem))
    msg = "" if assign is not None else "some task fits on no node's remaining memory"
    return make_solution(problem, "fcfs", None if assign is None else to_layers(problem, assign),
                         started=started, message=msg)

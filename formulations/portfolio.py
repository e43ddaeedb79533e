"""Quick incumbents for the exact solvers: the best of a small deterministic portfolio.

Greedy, the contention-free plan, HEFT and PEFT (when registered, see
:mod:`offloadlab.warm_start`), then, for the time objectives, the sequential re-insertion search of
:func:`offloadlab.formulations.lagrangian.insertion_search` started from the best of
those. Every value comes from the simulator; the portfolio is deterministic for a seed.
"""

from __future__ import annotations

import time

import numpy as np

from offloadlab.budget import time_left
from offloadlab.problem import Problem
from offloadlab.simulator import simulate
from offloadlab.warm_start import registered_plans

INSERTION_KINDS = ("latency", "deadline", "makespan")


def best_incumbent(problem: Problem, *, seed: int = 0, time_limit_s: float = 10.0):
    """The best plan of the portfolio within about ``time_limit_s`` seconds.

    Returns
    -------
    (assign, priority, objective, source) ; assign is None when nothing is feasible.
    """
    from .milp import incumbent

    started = time.perf_counter()
    cands = []
    a0, p0, v0 = incumbent(problem)
    if a0 is not None:
        cands.append(("greedy/contention-free", a0, p0))
    cands += registered_plans(problem, ("heft", "peft"),
                              deadline=started + time_limit_s)[0]
    best = (None, None, np.inf, None)
    for name, a, p in cands:
        v = float(simulate(problem, a, p).objective[0])
        if v < best[2]:
            best = (a, p, v, name)
    left = time_left(time_limit_s, started)
    if (best[0] is not None and problem.instance.objective.kind in INSERTION_KINDS
            and problem.n_tasks > 1 and left > 0):
        from .lagrangian import insertion_search

        a, p, v, _ = insertion_search(problem, best[2], seed=seed, time_limit_s=left,
                                      start_assign=best[0], start_priority=best[1])
        if v < best[2]:
            best = (a, p, v, f"re-insertion from {best[3]}")
    return best

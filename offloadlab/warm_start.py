"""Warm starts for the exact models: plans passed in, or those of registered solvers.

A formulation takes the plans it starts from as an argument; without them it asks the
registry for the plans of cheap solvers by name (greedy, HEFT, PEFT), so the exact models
never import the heuristics package and any registered solver can serve.
"""

from __future__ import annotations

import time

import numpy as np

from offloadlab.problem import Problem
from offloadlab.registry import SOLVERS, available, solve


def registered_plans(problem: Problem, names: tuple[str, ...], *, seed: int = 0,
                     budget_evals: int | None = None, deadline: float = np.inf):
    """The feasible plans of the registered solvers ``names`` (those installed and
    supporting the problem's kind), in that order, and the evaluations they used.

    Returns
    -------
    (list of (name, assign, priority), int)
        ``priority`` None means the default priority. A solver that fails is skipped: a
        warm start is never worth a failed proof. ``budget_evals`` goes to each solver; none starts after ``deadline`` (a
        ``time.perf_counter()`` value).
    """
    kind = problem.instance.objective.kind
    plans, used = [], 0
    for name in names:
        if (name not in SOLVERS or kind not in SOLVERS[name].kinds or not available(name)
                or time.perf_counter() >= deadline):
            continue
        try:
            sol = solve(problem, name, seed=seed, budget_evals=budget_evals)
        except Exception:  # noqa: BLE001 - another solver's failure must not break a bound
            continue
        used += sol.evaluations
        if sol.assign is not None and np.isfinite(sol.objective):
            plans.append((name, sol.assign, sol.priority))
    return plans, used

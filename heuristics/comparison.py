"""Run methods on one instance and measure each against the best bound.

The reference of a gap is a proven bound when an exact solver (registry names
``exact``, ``milp``, ``dp``) proves one for the instance's objective kind, or brute force
over every assignment and order on instances small enough; otherwise the best objective
any method found, labelled "best known".
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np

from offloadlab.graph import task_graph
from offloadlab.instance import load_instance
from offloadlab.problem import Problem
from offloadlab.registry import SOLVERS, available, solve
from offloadlab.simulator import simulate
from offloadlab.solution import relative_gap

EXACT = ("exact", "milp", "dp")
BRUTE_FORCE_PLANS = 2_000_000


def load(name: str) -> Problem:
    """A library instance (file, else built from code) or an instance file."""
    from offloadlab.instances import library

    if Path(name).suffix == ".json" and Path(name).exists():
        return Problem.from_instance(load_instance(name))
    try:
        return Problem.from_instance(load_instance(library.library_path(name)))
    except FileNotFoundError:
        return Problem.from_instance(library.build(name))


def brute_force(problem: Problem) -> float | None:
    """The optimum over every assignment and order, or None when there are too many."""
    import networkx as nx

    n_assign = math.prod(int(c) for c in problem.allowed.sum(axis=1))
    graph = task_graph(problem, np.arange(problem.n_layers))  # every task's layers
    orders = []
    for order in nx.all_topological_sorts(graph):
        orders.append(order)
        if n_assign * len(orders) > BRUTE_FORCE_PLANS:
            return None
    choices = [problem.allowed_servers(g) for g in range(problem.n_layers)]
    assigns = np.array(list(itertools.product(*choices)), dtype=np.int64)
    return float(min(simulate(problem, assigns, np.array(o)[None, :]).objective.min()
                     for o in orders))


def best_bound(problem: Problem, time_limit_s: float = 60.0) -> tuple[float | None, str]:
    """(proven lower bound, its source), or (None, "") when nothing proves one."""
    kind = problem.instance.objective.kind
    for name in EXACT:
        if name in SOLVERS and kind in SOLVERS[name].kinds and available(name):
            sol = solve(problem, name, time_limit_s=time_limit_s)
            if sol.bound is not None and np.isfinite(sol.bound):
                return float(sol.bound), f"{name} ({sol.status})"
    value = brute_force(problem)
    return (value, "brute force") if value is not None else (None, "")


def compare(name: str, methods, *, budget_evals: int, seed: int = 0,
            exact_time_limit_s: float = 60.0, problem: Problem | None = None) -> list[dict]:
    """One run of every ``(solver, params)`` on an instance; rows with gaps."""
    problem = problem or load(name)
    rows = []
    for solver, params in methods:
        sol = solve(problem, solver, seed=seed, budget_evals=budget_evals, **params)
        label = solver + "".join(f" {k}={v}" for k, v in params.items())
        rows.append({"instance": name, "method": label, "objective": sol.objective,
                     "status": sol.status, "wall_s": sol.wall_s,
                     "evaluations": sol.evaluations,
                     "evals_per_s": sol.evaluations / sol.wall_s if sol.wall_s else None})
    bound, source = best_bound(problem, exact_time_limit_s)
    best_known = min(r["objective"] for r in rows)
    if bound is not None:
        rows.append({"instance": name, "method": f"bound: {source}", "objective": bound,
                     "status": "bound", "wall_s": None, "evaluations": None,
                     "evals_per_s": None})
    ref, label = (bound, "bound") if bound is not None else (best_known, "best known")
    for r in rows:
        r["gap"] = relative_gap(r["objective"], ref)
        r["reference"] = label
    return rows

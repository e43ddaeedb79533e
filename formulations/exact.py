"""The ``exact`` dispatcher: the cheapest method that proves the optimum.

Order, by what was measured on the library (see the README's ``bench exact`` table):

1. ``makespan`` instances go to :mod:`offloadlab.formulations.makespan` (the
   R|r_j,mem|C_max MILP), which models that family directly.
2. The contention-free dynamic programme (:mod:`.dp`) runs first: milliseconds at any
   size. When the simulator's value of its plan meets its bound (no pool binds: every
   ``dmro`` instance, a single chain task, pools at least the tasks that reach them) that
   is the proven optimum and nothing else runs; a deadline below a task's
   contention-free latency proves infeasibility.
3. Otherwise the placement-and-scheduling MILP (:mod:`.milp`) with HiGHS, warm-started
   from the best of greedy and the DP plan, its bound the better of HiGHS's dual bound
   and the DP bound. No CP-SAT backend is included (not measured here).
"""

from __future__ import annotations

import dataclasses
import importlib
import time

import numpy as np

from offloadlab.problem import Problem

from . import dp


def solve(problem: Problem, *, seed=None, time_limit_s=None, budget_evals=None,
          mip_rel_gap: float = 1e-6, threads: int = 1, write_model_path: str | None = None):
    """Prove the optimum (or the best bound within ``time_limit_s``) by the cheapest
    exact method; the Solution's message says which ran."""
    started = time.perf_counter()
    kind = problem.instance.objective.kind
    if kind == "makespan":
        try:
            module = importlib.import_module("offloadlab.formulations.makespan")
        except ModuleNotFoundError as exc:
            if exc.name != "offloadlab.formulations.makespan":
                raise
            raise RuntimeError("exact: the makespan family needs "
                               "offloadlab.formulations.makespan, which is not installed "
                               "in this tree") from None
        sol = module.solve(problem, seed=seed, time_limit_s=time_limit_s)
        return _renamed(sol, "makespan MILP", started)
    chain = dp.is_chain(problem)
    if kind != "ddpqn" or chain:
        first = dp.solve(problem)
        if first.status in ("optimal", "infeasible"):
            return _renamed(first, "contention-free DP", started)
    from . import milp

    remaining = None if time_limit_s is None else max(
        1.0, time_limit_s - (time.perf_counter() - started))
    sol = milp.solve(problem, seed=seed, time_limit_s=remaining, mip_rel_gap=mip_rel_gap,
                     threads=threads, write_model_path=write_model_path)
    return _renamed(sol, "MILP", started)


def _renamed(sol, method: str, started: float):
    msg = f"{method}" + (f": {sol.message}" if sol.message else "")
    return dataclasses.replace(sol, solver="exact", message=msg,
                               wall_s=time.perf_counter() - started)


def best_bound(solutions) -> tuple[float | None, str | None]:
    """The highest proven bound among ``solutions`` and its source (None without one)."""
    best, source = None, None
    for s in solutions:
        if s.bound is not None and np.isfinite(s.bound) and (best is None or s.bound > best):
            best, source = float(s.bound), f"{s.solver} ({s.bound_source})"
    return best, source

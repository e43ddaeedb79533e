"""The ``exact`` dispatcher: the cheapest method that proves the optimum, else the
best certified bound.

Order, by what was measured on the library (see the README's ``bench exact`` table):

1. ``makespan`` instances go to :mod:`offloadlab.formulations.makespan` (the
   R|r_j,mem|C_max MILP), which models that family directly.
2. The contention-free dynamic programme (:mod:`.dp`) runs first: milliseconds at any
   size. When the simulator's value of its plan meets its bound (no pool binds: every
   ``dmro`` instance, a single chain task, pools at least the tasks that reach them) that
   is the proven optimum and nothing else runs; a deadline below a task's
   contention-free latency proves infeasibility.
3. An incumbent from the quick portfolio (:mod:`.portfolio`: greedy, contention-free
   plan, HEFT, PEFT, then re-insertion) for ``latency``/``deadline``.
4. A scheduling model warm-started from it, when the instance has at most
   ``max_layers`` layers: CP-SAT (:mod:`.cpsat`) for ``latency``/``deadline`` (measured:
   latency-alexnet-small proven in 0.6 s against 5.3 s for HiGHS, equal elsewhere), the
   HiGHS MILP (:mod:`.milp`) for ``ddpqn`` and ``dmro``. It gets 60 % of the time left
   for the time objectives, all of it otherwise.
5. Without a proof, for ``latency``/``deadline``: the time-indexed Lagrangian bound
   (:mod:`.lagrangian`) with the rest of the time. The reported bound is the best of the
   model's bound, the contention-free DP and the Lagrangian; ``bound_source`` names it.
"""

from __future__ import annotations

import dataclasses
import importlib
import time

import numpy as np

from offloadlab.problem import Problem
from offloadlab.registry import make_solution

from . import dp

TIME_KINDS = ("latency", "deadline")
DEFAULT_LIMIT_S = 60.0


def solve(problem: Problem, *, seed=None, time_limit_s=None, budget_evals=None,
          mip_rel_gap: float = 1e-6, threads: int = 1, write_model_path: str | None = None,
          backend: str = "auto", max_layers: int = 300):
    """Prove the optimum (or the best bound within ``time_limit_s``, default 60 s) by
    the cheapest exact method; the Solution's message says which ran.

    Parameters
    ----------
    backend : {"auto", "cpsat", "milp"}
        The scheduling model of step 4 (``auto``: CP-SAT for latency/deadline, else the
        MILP; ``write_model_path`` forces the MILP).
    max_layers : int
        Above this many layers no scheduling model is built (paper-size instances).
    """
    started = time.perf_counter()
    limit = DEFAULT_LIMIT_S if time_limit_s is None else float(time_limit_s)
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
    if not problem.objective.per_layer or chain:
        first = dp.solve(problem)
        if first.status in ("optimal", "infeasible"):
            return _renamed(first, "contention-free DP", started)

    def left():
        return max(1.0, limit - (time.perf_counter() - started))

    inc = None
    if problem.objective.time_valued:  # latency or deadline here
        from .portfolio import best_incumbent

        a, p, v, src = best_incumbent(problem, seed=seed or 0,
                                      time_limit_s=min(10.0, 0.15 * limit))
        if a is not None:
            inc = (a, p, v, src)
    use = backend
    if use == "auto":
        use = "cpsat" if problem.objective.time_valued and not write_model_path else "milp"
    sol = None
    if problem.n_layers <= max_layers or use == "milp":
        budget = 0.6 * left() if problem.objective.time_valued else left()
        hint = (inc[0], inc[1]) if inc else None
        if use == "cpsat":
            from . import cpsat

            sol = cpsat.solve(problem, seed=seed, time_limit_s=budget, hint=hint,
                              workers=max(1, threads) if threads > 1 else 2)
        else:
            from . import milp

            sol = milp.solve(problem, seed=seed, time_limit_s=budget,
                             mip_rel_gap=mip_rel_gap, threads=threads,
                             write_model_path=write_model_path, hint=hint)
        if sol.status in ("optimal", "infeasible") or not problem.objective.time_valued:
            return _renamed(sol, "CP-SAT" if use == "cpsat" else "MILP", started)
    return _with_lagrangian(problem, sol, inc, started, left(), use)


def _with_lagrangian(problem: Problem, sol, inc, started: float, budget_s: float,
                     backend: str):
    """Best plan and best bound of the model, the portfolio and the Lagrangian."""
    from .lagrangian import lagrangian_bound

    plans = []
    if sol is not None and sol.assign is not None and np.isfinite(sol.objective):
        plans.append((sol.objective, sol.assign, sol.priority, backend))
    if inc is not None:
        plans.append((inc[2], inc[0], inc[1], inc[3]))
    pb = dp.path_bound(problem)
    bounds = [(pb.bound, "contention-free DP")]
    if sol is not None and sol.bound is not None and np.isfinite(sol.bound):
        bounds.append((sol.bound, f"{backend} ({sol.bound_source})"))
    if not plans:
        bound, source = max(bounds)
        return make_solution(problem, "exact", None, started=started, status="time_limit",
                             bound=bound, bound_source=source,
                             message="no feasible plan found")
    upper = min(p[0] for p in plans)
    lr = lagrangian_bound(problem, upper, time_limit_s=budget_s)
    bounds.append((lr.bound, f"Lagrangian (time-indexed, {lr.iterations} iterations, "
                             f"delta {lr.delta_s:.3g} s)"))
    if lr.best_assign is not None:
        plans.append((lr.best_objective, lr.best_assign, lr.best_priority, "Lagrangian"))
    value, assign, prio, origin = min(plans, key=lambda p: p[0])
    bound, source = max(bounds, key=lambda b: b[0])
    proven = value <= bound + 1e-9 * max(1.0, abs(bound))
    method = "Lagrangian" if sol is None else f"{'CP-SAT' if backend == 'cpsat' else 'MILP'}"\
        " + Lagrangian"
    return make_solution(problem, "exact", assign, prio, started=started,
                         status="optimal" if proven else "time_limit", bound=bound,
                         bound_source=source,
                         message=f"{method}: plan from {origin}; bound from {source}")


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

"""Ground truth for one slot of the ``deadline`` family: is it feasible at all, the best
plan found, and a proven lower bound on the summed delay.

:func:`slot_truth` runs the ``exact`` dispatcher (contention-free DP, portfolio, CP-SAT
warm-started, then the windowed Lagrangian bound of :mod:`.windowed` with re-insertion
from its plan), adds the plans of named registered solvers (default greedy and GA), runs
CP-SAT from the best of those plans with its subsolvers interleaved (LNS finds much better
plans on the hard slots: 0.807 against 0.837 on ``hard_slot(0)``), and spends the rest of
its time on the windowed bound under the best plan's latency caps (CP-SAT proves
nothing beyond the contention-free bound there, so the bound comes from the windowed
Lagrangian).
The verdict is one of

* ``optimal`` — the best plan's simulated delay meets the proven bound;
* ``infeasible`` — a proof that no plan meets every deadline (the contention-free DP: a
  deadline below the task's best latency alone; or CP-SAT's model, a relaxation, has no
  solution);
* ``feasible`` — a plan meeting every deadline, not proven optimal: learners are then
  measured against the bound (a *gap*, an over-estimate of the true one) and against the
  best plan (*vs best known*);
* ``unknown`` — neither a plan meeting every deadline nor a proof.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from offloadlab.budget import time_left
from offloadlab.problem import Problem
from offloadlab.simulator import simulate


@dataclass
class SlotTruth:
    """The verdict of :func:`slot_truth` (see the module docstring).

    Attributes
    ----------
    status : str
        ``optimal``, ``feasible``, ``infeasible`` or ``unknown``.
    objective : float
        Summed delay of the best plan (inf without one).
    bound : float
        Proven lower bound on the optimum (inf when infeasible).
    bound_source : str
    assign, priority : numpy.ndarray or None
        The best plan.
    plan_source : str
    wall_s : float
    """

    status: str
    objective: float
    bound: float
    bound_source: str
    assign: np.ndarray | None
    priority: np.ndarray | None
    plan_source: str
    wall_s: float

    def gap_pct(self, objective: float) -> float | None:
        """100 (objective / bound - 1): the gap to the proven bound (None without a
        positive finite bound)."""
        if not (math.isfinite(self.bound) and self.bound > 0 and math.isfinite(objective)):
            return None
        return 100.0 * (objective / self.bound - 1.0)

    def vs_best_pct(self, objective: float) -> float | None:
        """100 (objective / best plan - 1): the distance to the best plan found."""
        if not (math.isfinite(self.objective) and self.objective > 0
                and math.isfinite(objective)):
            return None
        return 100.0 * (objective / self.objective - 1.0)


def slot_truth(problem: Problem, *, time_limit_s: float = 30.0, seed: int = 0,
               solvers: tuple = ("greedy", "ga"), ga_evals: int = 20_000,
               exact_share: float = 0.35, cpsat_share: float = 0.45,
               deterministic_s: float = 5.0) -> SlotTruth:
    """Feasibility verdict, best plan and proven bound of a ``deadline`` slot.

    Parameters
    ----------
    time_limit_s : float
        Budget of CP-SAT from the best named plan (``cpsat_share``, 0 to skip), of the
        ``exact`` dispatcher (``exact_share``) and of the windowed bound under the best
        plan's caps (the rest); the named solvers run first, outside it.
    deterministic_s : float
        CP-SAT's deterministic time (its subsolvers interleaved in one thread: the same
        seed gives the same plan unless the wall-clock share stops it first).
    seed : int
        Seed of every stochastic stage (same seed, same verdict with one worker).
    solvers : tuple of str
        Registered solvers whose plans compete with the dispatcher's.
    ga_evals : int
        Evaluation budget of ``ga`` when named.
    """
    from offloadlab.registry import solve

    from .cpsat import solve as cpsat_solve
    from .exact import solve as exact_solve
    from .windowed import windowed_bound

    if problem.instance.objective.kind not in ("deadline", "latency"):
        raise ValueError("slot_truth covers the deadline and latency kinds, not "
                         f"{problem.instance.objective.kind!r}")
    started = time.perf_counter()
    plans = []
    for name in solvers:
        kw = {"budget_evals": ga_evals} if name == "ga" else {}
        sol = solve(problem, name, seed=seed, **kw)
        if sol.assign is not None and math.isfinite(sol.objective):
            plans.append((sol.objective, sol.assign, sol.priority, name))
    bound, source = -math.inf, "none"
    exact_s = (exact_share + cpsat_share) * time_limit_s   # without the CP-SAT stage
    if plans and cpsat_share > 0:
        exact_s = exact_share * time_limit_s
        # CP-SAT's subsolvers interleaved in one thread from the best named plan
        _, a0, p0, _ = min(plans, key=lambda p: p[0])
        cp = cpsat_solve(problem, seed=seed, hint=(a0, p0), workers=8, unit_s=1e-6,
                         time_limit_s=cpsat_share * time_limit_s,
                         deterministic_s=deterministic_s)
        if cp.status == "infeasible":   # cannot happen with a plan meeting every deadline
            raise RuntimeError("CP-SAT proved infeasible a slot with a feasible plan")
        if cp.bound is not None and np.isfinite(cp.bound):
            bound, source = float(cp.bound), f"CP-SAT ({cp.bound_source})"
        if cp.assign is not None and np.isfinite(cp.objective):
            plans.append((cp.objective, cp.assign, cp.priority,
                          "CP-SAT (interleaved subsolvers)"))
        if cp.status == "optimal" and cp.objective <= bound + 1e-9 * max(1.0, bound):
            return SlotTruth("optimal", cp.objective, bound, source, cp.assign,
                             cp.priority, "CP-SAT", time.perf_counter() - started)
    ex = exact_solve(problem, seed=seed, time_limit_s=exact_s)
    if ex.status == "infeasible":
        return SlotTruth("infeasible", math.inf, math.inf, ex.message or "exact",
                         None, None, "", time.perf_counter() - started)
    if ex.assign is not None and math.isfinite(ex.objective):
        plans.append((ex.objective, ex.assign, ex.priority, f"exact ({ex.message})"))
    if ex.bound is not None and ex.bound > bound:
        bound, source = float(ex.bound), ex.bound_source or "exact"
    if not plans:
        return SlotTruth("unknown", math.inf, bound, source, None, None, "",
                         time.perf_counter() - started)
    value, assign, prio, origin = min(plans, key=lambda p: p[0])
    left = time_left(time_limit_s, started)
    if value > bound + 1e-9 * max(1.0, abs(bound)) and left > 1.0:
        # the rest of the time: the windowed bound under the best plan's latency caps
        res = windowed_bound(problem, value, time_limit_s=left)
        if res.bound > bound:
            bound, source = res.bound, (f"Lagrangian (windowed, {res.iterations} "
                                        f"iterations, delta {res.delta_s:.3g} s)")
        if res.best_objective < value:
            value, assign, prio, origin = (res.best_objective, res.best_assign,
                                           res.best_priority, "windowed Lagrangian")
    # the simulator is the one source of truth for the value of the plan kept
    value = float(simulate(problem, assign, prio).objective[0])
    proven = value <= bound + 1e-9 * max(1.0, abs(bound))
    return SlotTruth("optimal" if proven else "feasible", value, bound, source, assign,
                     prio, origin, time.perf_counter() - started)

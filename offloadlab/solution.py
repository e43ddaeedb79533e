"""The Solution record every solver returns, exact or not."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np

Status = Literal["optimal", "feasible", "infeasible", "time_limit", "error"]


@dataclass(frozen=True)
class Solution:
    """One solver run on one instance.

    Attributes
    ----------
    instance, solver : str
        Names of the instance and the solver.
    params : dict
        The solver's parameters as run (budgets included).
    seed : int or None
        The seed of a stochastic solver.
    assign, priority : numpy.ndarray or None
        The plan as arrays (global layer order of :class:`~offloadlab.problem.Problem`).
    objective : float
        The simulator's value of the plan (``inf`` when no feasible plan was found).
    bound : float or None
        A proven lower bound on the optimum, or None when the solver proves none.
    bound_source : str or None
        What proved the bound (e.g. ``"milp"``, ``"contention-free DP"``).
    status : {"optimal", "feasible", "infeasible", "time_limit", "error"}
    wall_s : float
        The solver's own run time.
    evaluations : int
        Plans scored by the simulator.
    history : list of (float, float)
        Best objective over time, as ``(seconds, objective)`` pairs.
    message : str
        Why the status is what it is (infeasibility reason, error text).
    """

    instance: str
    solver: str
    objective: float
    status: Status
    assign: np.ndarray | None = None
    priority: np.ndarray | None = None
    bound: float | None = None
    bound_source: str | None = None
    params: dict = field(default_factory=dict)
    seed: int | None = None
    wall_s: float = 0.0
    evaluations: int = 0
    history: list = field(default_factory=list)
    message: str = ""

    @property
    def gap(self) -> float | None:
        """(objective - bound) / |bound| against the proven bound, None without one."""
        return relative_gap(self.objective, self.bound)

    def to_dict(self, problem=None) -> dict:
        """JSON-ready dict; with ``problem`` the plan is a plan-file object."""
        from .plan import plan_to_dict

        out = {k: v for k, v in asdict(self).items() if k not in ("assign", "priority")}
        out["objective"] = _finite_or_none(self.objective)
        out["bound"] = _finite_or_none(self.bound)
        out["gap"] = self.gap
        out["plan"] = (plan_to_dict(problem, self.assign, self.priority)
                       if problem is not None and self.assign is not None else None)
        return out


def relative_gap(objective: float, bound: float | None) -> float | None:
    """(objective - bound) / |bound|; 0 when both are 0; None without a bound."""
    if bound is None or not np.isfinite(objective) or not np.isfinite(bound):
        return None
    if objective == bound:
        return 0.0
    return (objective - bound) / abs(bound) if bound != 0 else None


def _finite_or_none(x):
    return float(x) if x is not None and np.isfinite(x) else None

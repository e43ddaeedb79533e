"""The exact makespan model of the ATSA family (R|r_j, mem|C_max; MODELS.md §5).

Family ``makespan`` (``instances/presets.py::atsa``): every task is a one-layer model
without a device, each node runs one task at a time (``pools`` = 1), the tasks placed on
a node hold ``param_mb + out_mb`` of its ``memory_mb``, and the objective is the latest
finish minus the earliest release.

Why the model is exact for the simulator: with the default priority the simulator runs the
tasks of each node in release order, which is optimal for one machine (1|r_j|C_max), and
that node's last finish is ``max over release values r of (r + sum of p_is over its tasks
released at or after r)``. So the model needs no sequencing variables:

* ``x[i, s]`` binary, task i on node s (allowed pairs only); ``C`` the latest finish;
* ``one_node[i]``: sum_s x[i, s] = 1;
* ``memory[s]``: sum_i need_i x[i, s] <= memory_mb_s;
* ``finish[r, s]``: C >= r + sum_{i: r_i >= r} p_is x[i, s] for every release value r;
* minimise C; makespan = C - min release.

:func:`offloadlab.jobs.makespan_jobs` is the array view the model shares with the
family's heuristics (ATSA, ACO, PSO, FCFS).
"""

from __future__ import annotations

import math
import time

import numpy as np

from offloadlab.budget import time_left
from offloadlab.jobs import Jobs, makespan_jobs
from offloadlab.problem import Problem
from offloadlab.registry import make_solution


def build_makespan(jobs: Jobs, deadline: float | None = None):
    """The R|r_j, mem|C_max MILP as a Pyomo ``ConcreteModel`` (no solve, no I/O).

    After ``deadline`` (a ``time.perf_counter()`` value) the finish rows are skipped and
    the caller must discard the incomplete model."""
    import pyomo.environ as pe

    m = pe.ConcreteModel(name="makespan")
    pairs = [(i, s) for i in range(jobs.n_tasks) for s in range(jobs.n_servers)
             if jobs.allowed[i, s]]
    m.P = pe.Set(initialize=pairs, dimen=2)
    m.T = pe.RangeSet(0, jobs.n_tasks - 1)
    m.S = pe.RangeSet(0, jobs.n_servers - 1)
    releases = sorted(set(jobs.release_s.tolist()))
    m.R = pe.Set(initialize=range(len(releases)))
    m.x = pe.Var(m.P, domain=pe.Binary)
    m.C = pe.Var(domain=pe.NonNegativeReals)
    m.makespan = pe.Objective(expr=m.C, sense=pe.minimize)
    on = {s: [i for (i, t) in pairs if t == s] for s in range(jobs.n_servers)}

    def one_node_rule(m, i):
        return sum(m.x[i, s] for s in range(jobs.n_servers) if jobs.allowed[i, s]) == 1

    m.one_node = pe.Constraint(m.T, rule=one_node_rule)

    def memory_rule(m, s):
        if not math.isfinite(jobs.cap_mb[s]) or not on[s]:
            return pe.Constraint.Skip
        return sum(float(jobs.need_mb[i]) * m.x[i, s] for i in on[s]) <= float(jobs.cap_mb[s])

    m.memory = pe.Constraint(m.S, rule=memory_rule)

    def finish_rule(m, k, s):
        if deadline is not None and time.perf_counter() > deadline:
            return pe.Constraint.Skip
        r = releases[k]
        late = [i for i in on[s] if jobs.release_s[i] >= r]
        if not late:
            return pe.Constraint.Skip
        return m.C >= r + sum(float(jobs.et_s[i, s]) * m.x[i, s] for i in late)

    m.finish = pe.Constraint(m.R, m.S, rule=finish_rule)
    return m


def solve(problem: Problem, *, seed=None, time_limit_s=None, budget_evals=None,
          mip_rel_gap: float = 1e-9) -> "Solution":  # noqa: F821
    """Solve the makespan MILP with HiGHS (default time limit 60 s).

    Returns a Solution with the simulator's makespan of the incumbent, the MILP's best
    bound (``bound_source="milp"``) and status ``optimal`` or ``time_limit``.
    ``budget_evals`` is ignored (the MILP evaluates one plan); ``seed`` seeds HiGHS.
    """
    started = time.perf_counter()  # importing Pyomo counts against the limit
    import pyomo.environ as pe

    jobs = makespan_jobs(problem)
    limit = 60.0 if time_limit_s is None else float(time_limit_s)
    params = {"time_limit_s": limit, "mip_rel_gap": mip_rel_gap}
    m = build_makespan(jobs, deadline=started + limit)
    if time.perf_counter() > started + limit:  # the model is incomplete
        return make_solution(problem, "makespan-milp", None, started=started,
                             status="time_limit", params=params, seed=seed,
                             message="the time limit was spent building the model")
    # the limit counts the model building (at least a moment is left to HiGHS)
    left_s = max(0.01, time_left(limit, started))
    res = highs_solve(m, left_s, {"mip_rel_gap": mip_rel_gap, "random_seed": int(seed or 0),
                                  "threads": 1})
    term = res.termination_condition.name
    r_min = float(jobs.release_s.min())
    lower = res.objective_bound
    bound = float(lower) - r_min if lower is not None and math.isfinite(lower) else None
    if res.incumbent_objective is None:
        status = "infeasible" if "infeasible" in term.lower() else "time_limit"
        return make_solution(problem, "makespan-milp", None, started=started, status=status,
                             bound=bound, bound_source="milp", params=params, seed=seed,
                             message=f"HiGHS: {term}")
    res.solution_loader.load_vars()
    assign = np.full(problem.n_layers, -1, dtype=np.int64)
    for (i, s) in m.P:
        if m.x[i, s].value > 0.5:
            assign[problem.task_layers[i][0]] = s
    model_value = float(pe.value(m.C)) - r_min
    status = "optimal" if term == "convergenceCriteriaSatisfied" else "time_limit"
    sol = make_solution(problem, "makespan-milp", assign, started=started, status=status,
                        bound=bound, bound_source="milp", params=params, seed=seed,
                        message=f"HiGHS: {term}")
    _check_agreement(sol.objective, model_value, status)
    return sol


def highs_solve(m, time_limit_s: float | None, options: dict | None = None):
    """Solve a Pyomo model with HiGHS through Pyomo's current solver interface (it
    honours the time limit); never raises on a non-optimal end, loads nothing."""
    from pyomo.contrib.solver.common.factory import SolverFactory

    kwargs = {"load_solutions": False, "raise_exception_on_nonoptimal_result": False,
              "solver_options": options or {}}
    if time_limit_s is not None:
        kwargs["time_limit"] = float(time_limit_s)
    return SolverFactory("highs").solve(m, **kwargs)


def _check_agreement(simulated: float, model_value: float, status: str) -> None:
    """The MILP's C must equal the simulator's makespan at an optimum (never below it)."""
    tol = 1e-6 * max(1.0, abs(model_value))
    if simulated > model_value + tol or (status == "optimal"
                                         and abs(simulated - model_value) > tol):
        raise AssertionError(f"makespan MILP value {model_value} disagrees with the "
                             f"simulator's {simulated}")

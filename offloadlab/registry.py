"""Solvers by name, imported only when asked for.

Every solver has one signature::

    solve(problem, *, seed=None, time_limit_s=None, budget_evals=None, **params) -> Solution

and builds its result with :func:`make_solution`, so the objective always comes from the
simulator. A solver whose optional dependency is missing is reported with the extra that
installs it.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .problem import Problem
from .simulator import simulate
from .solution import Solution


@dataclass(frozen=True)
class SolverInfo:
    name: str
    target: str          # "package.module:function"
    extra: str | None    # the pip extra that brings its dependencies
    summary: str
    kinds: tuple[str, ...] = ("latency", "deadline", "makespan", "dmro", "ddpqn")


SOLVERS: dict[str, SolverInfo] = {}

# what each extra brings: checked before a solver is handed out, so a missing optional
# dependency is named with its extra even when the solver imports it lazily
EXTRA_MODULES: dict[str, tuple[str, ...]] = {
    "exact": ("pyomo", "highspy", "ortools"), "moo": ("pymoo",), "learn": ("torch", "gymnasium"),
    "plot": ("matplotlib",), "dask": ("dask", "distributed"), "workbook": ("openpyxl",),
    "peers": ("pymoo",),
}


def register(name: str, target: str, summary: str, extra: str | None = None,
             kinds: tuple[str, ...] | None = None) -> None:
    """Add a solver to the registry (later registrations replace earlier ones)."""
    info = SolverInfo(name, target, extra, summary)
    SOLVERS[name] = info if kinds is None else SolverInfo(name, target, extra, summary, kinds)


class SolverError(LookupError):
    """An unknown solver name, or a solver whose optional dependency is missing."""


def get_solver(name: str) -> Callable[..., Solution]:
    """The solve function registered as ``name``.

    Raises
    ------
    SolverError
        Unknown name (listing the known ones) or missing optional dependency (naming the
        extra, e.g. ``pip install 'offloadlab[exact]'``).
    """
    if name not in SOLVERS:
        raise SolverError(f"unknown solver {name!r}; known: {', '.join(sorted(SOLVERS))}")
    info = SOLVERS[name]
    for dep in EXTRA_MODULES.get(info.extra, ()):
        if not _installed(dep):
            raise SolverError(f"solver {name!r} needs the missing module {dep!r}: "
                              f"pip install 'offloadlab[{info.extra}]'")
    module, func = info.target.split(":")
    return getattr(importlib.import_module(module), func)


def _installed(module: str) -> bool:
    """Whether ``module`` can be imported, without importing it (OR-Tools and highspy
    cannot be loaded into one process, so the check must not load them)."""
    if module in sys.modules:
        return sys.modules[module] is not None
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def available(name: str) -> bool:
    """True when ``name`` is registered and its dependencies import."""
    try:
        get_solver(name)
        return True
    except SolverError:
        return False


def make_solution(problem: Problem, solver: str, assign, priority=None, *, started: float,
                  status: str | None = None, bound: float | None = None,
                  bound_source: str | None = None, params: dict | None = None,
                  seed: int | None = None, evaluations: int = 0,
                  history: list | None = None, message: str = "") -> Solution:
    """Score ``assign``/``priority`` with the simulator and wrap it as a Solution.

    ``started`` is the ``time.perf_counter()`` at the solver's start. A status of None
    becomes ``optimal`` when the objective meets the bound, ``feasible`` otherwise, and
    ``infeasible`` (with the simulator's reason) when the plan is infeasible.
    """
    wall_s = time.perf_counter() - started
    if assign is None:
        return Solution(problem.instance.name, solver, float("inf"), status or "infeasible",
                        bound=bound, bound_source=bound_source, params=params or {},
                        seed=seed, wall_s=wall_s, evaluations=evaluations,
                        history=history or [], message=message)
    assign = np.asarray(assign, dtype=np.int64)
    ev = simulate(problem, assign, priority)
    value = float(ev.objective[0])
    if not ev.feasible[0]:
        status, message = status or "infeasible", message or ev.reason(0)
    elif status is None:
        proven = bound is not None and value <= bound + 1e-9 * max(1.0, abs(bound))
        status = "optimal" if proven else "feasible"
    return Solution(problem.instance.name, solver, value, status, assign=assign,
                    priority=None if priority is None else np.asarray(priority),
                    bound=bound, bound_source=bound_source, params=params or {}, seed=seed,
                    wall_s=wall_s, evaluations=evaluations + 1, history=history or [],
                    message=message)


def solve(problem: Problem, solver: str, **kwargs) -> Solution:
    """Run the solver registered as ``solver`` on ``problem``."""
    return get_solver(solver)(problem, **kwargs)


# --- the built-in registrations --------------------------------------------------------
_B = "offloadlab.heuristics.baselines"
register("local-only", f"{_B}:local_only", "every layer on its task's device")
register("edge-only", f"{_B}:edge_only", "earliest-finish layer by layer over edge servers")
register("cloud-only", f"{_B}:cloud_only", "earliest-finish layer by layer over cloud servers")
register("random", f"{_B}:random_search", "best of random feasible plans (budget_evals)")
register("greedy", f"{_B}:greedy", "layer by layer, the server with the earliest finish")
# makespan family (ATSA paper §2.3)
register("atsa", "offloadlab.heuristics.aco:atsa",
         "ATSA: ant colony with the memory heuristic (alpha 1, beta 5, rho 0.5, Q 5)",
         kinds=("makespan",))
register("aco", "offloadlab.heuristics.aco:aco", "basic ant colony (eta = 1/et)",
         kinds=("makespan",))
register("pso", "offloadlab.heuristics.pso_makespan:pso",
         "particle swarm over task-to-node vectors with memory repair", kinds=("makespan",))
register("fcfs", "offloadlab.heuristics.fcfs:fcfs",
         "first come, first served onto the first free node with memory", kinds=("makespan",))
register("makespan-milp", "offloadlab.formulations.makespan:solve",
         "exact R|r_j,mem|Cmax MILP (HiGHS), optimal or best bound", extra="exact",
         kinds=("makespan",))
_H = "offloadlab.heuristics"
register("pso-ga", f"{_H}.pso_ga:pso_ga", "EosDNN PSO-GA (100 particles x 600 iterations, seeded)")
register("ga", f"{_H}.ga:ga", "genetic algorithm, same encoding and budget as PSO-GA")
register("pre-pso", f"{_H}.pre_pso:pre_pso", "PSO-GA on the merged graph (EosDNN prePSO)")
register("pymoo-ga", f"{_H}.peers:pymoo_ga", "pymoo GA around the simulator (peer)", extra="moo")
register("pymoo-pso", f"{_H}.peers:pymoo_pso", "pymoo PSO around the simulator (peer)",
         extra="moo")
_F = "offloadlab.formulations"
register("milp", f"{_F}.milp:solve", "placement-and-scheduling MILP (HiGHS): optimum or "
         "best bound", extra="exact", kinds=("latency", "deadline", "makespan", "dmro", "ddpqn"))
register("dp", f"{_F}.dp:solve", "contention-free shortest paths: exact when no pool binds, "
         "else a bound", kinds=("latency", "deadline", "makespan", "dmro", "ddpqn"))
register("exact", f"{_F}.exact:solve", "cheapest proof: DP when it is exact, else the MILP "
         "(makespan: its own MILP)", extra="exact",
         kinds=("latency", "deadline", "makespan", "dmro", "ddpqn"))
register("cpsat", f"{_F}.cpsat:solve", "placement-and-scheduling model in CP-SAT (interval "
         "variables, cumulative per server): optimum or best bound", extra="exact",
         kinds=("latency", "deadline", "makespan"))
# HEFT/PEFT place layers by finish time and ignore memory limits (makespan family)
register("heft", f"{_H}.list_scheduling:heft", "HEFT list scheduling (upward rank, EFT)",
         kinds=("latency", "deadline", "dmro", "ddpqn"))
register("peft", f"{_H}.list_scheduling:peft", "PEFT list scheduling (optimistic cost table)",
         kinds=("latency", "deadline", "dmro", "ddpqn"))
# learners (DDPQN §5): train for budget_evals environment steps, or roll out a checkpoint
for _v, _what in (("dqn", "DQN"), ("double-dqn", "double DQN"), ("dueling-dqn", "dueling DQN"),
                  ("per-dqn", "DQN with prioritised replay"),
                  ("double-per-dqn", "double DQN, prioritised replay"),
                  ("dueling-per-dqn", "dueling DQN, prioritised replay"),
                  ("double-dueling-dqn", "double dueling DQN"),
                  ("ddpqn", "DDPQN: double dueling DQN with prioritised replay")):
    register(_v, f"offloadlab.learners.dqn:solve_{_v.replace('-', '_')}",
             f"{_what} (budget = environment steps; checkpoint= to only roll out)",
             extra="learn")

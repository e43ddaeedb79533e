"""Peer metaheuristics of an established library (pymoo) around our simulator.

Same fitness (the simulator's objective with the default priority order), same
evaluation budget (counted here; rows beyond the budget are not simulated). Genes are
indices into each layer's allowed servers: pymoo's GA works on integers (SBX and
polynomial mutation with rounding), its PSO on reals decoded by flooring.
"""

from __future__ import annotations

import time

import numpy as np

from offloadlab.budget import Evaluator
from offloadlab.problem import Problem

from .operators import Encoding

PENALTY = 1e18  # pymoo needs finite objectives: infeasible plans score this


def _pymoo_problem(problem: Problem, evaluator: Evaluator, integer: bool):
    from pymoo.core.problem import Problem as PymooProblem

    servers, counts = Encoding.identity(problem).table
    upper = (counts - 1).astype(float) if integer else counts - 1e-9

    class Wrapped(PymooProblem):
        def __init__(self):
            super().__init__(n_var=problem.n_layers, n_obj=1, xl=np.zeros(problem.n_layers),
                             xu=upper, vtype=int if integer else float)

        def _evaluate(self, x, out, *args, **kwargs):
            idx = np.clip(np.floor(np.asarray(x, dtype=float) + (0.5 if integer else 0.0)),
                          0, counts - 1).astype(np.int64)
            assign = servers[np.arange(problem.n_layers)[None, :], idx]
            f = np.full(len(assign), PENALTY)  # rows beyond the budget are not simulated
            values = evaluator(assign)
            f[:len(values)] = np.where(np.isfinite(values), values, PENALTY)
            out["F"] = f

    return Wrapped()


def _run(problem: Problem, name: str, algorithm, integer: bool, seed, budget_evals,
         time_limit_s, pop_size: int):
    from pymoo.optimize import minimize

    budget = int(budget_evals or 61101)
    evaluator = Evaluator(problem, budget, time_limit_s, time.perf_counter())
    termination = ("n_eval", evaluator.left())
    if time_limit_s is not None:  # whichever comes first: the evaluations or the clock
        from pymoo.core.termination import TerminateIfAny
        from pymoo.termination.max_eval import MaximumFunctionCallTermination
        from pymoo.termination.max_time import TimeBasedTermination
        termination = TerminateIfAny(MaximumFunctionCallTermination(evaluator.left()),
                                     TimeBasedTermination(float(time_limit_s)))
    seed = 0 if seed is None else int(seed)
    minimize(_pymoo_problem(problem, evaluator, integer), algorithm, termination,
             seed=seed, verbose=False)
    evaluator.done()  # notes whether the clock stopped the run
    return evaluator.solution(name, seed=seed,
                              params={"budget_evals": budget, "pop_size": pop_size,
                                      "time_limit_s": time_limit_s})


def pymoo_ga(problem: Problem, *, seed=0, time_limit_s=None, budget_evals=None,
             pop_size=100):
    """pymoo's GA on integer genes (SBX + polynomial mutation, rounded)."""
    from pymoo.algorithms.soo.nonconvex.ga import GA
    from pymoo.operators.crossover.sbx import SBX
    from pymoo.operators.mutation.pm import PM
    from pymoo.operators.repair.rounding import RoundingRepair
    from pymoo.operators.sampling.rnd import IntegerRandomSampling

    algo = GA(pop_size=pop_size, sampling=IntegerRandomSampling(),
              crossover=SBX(prob=0.9, eta=3.0, vtype=float, repair=RoundingRepair()),
              mutation=PM(eta=3.0, vtype=float, repair=RoundingRepair()),
              eliminate_duplicates=False)
    return _run(problem, "pymoo-ga", algo, True, seed, budget_evals, time_limit_s, pop_size)


def pymoo_pso(problem: Problem, *, seed=0, time_limit_s=None, budget_evals=None,
              pop_size=100):
    """pymoo's PSO on reals in [0, allowed count), floored to a server index."""
    from pymoo.algorithms.soo.nonconvex.pso import PSO

    return _run(problem, "pymoo-pso", PSO(pop_size=pop_size), False, seed, budget_evals,
                time_limit_s, pop_size)

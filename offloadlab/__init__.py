"""offloadlab: where should the layers of DNN inference tasks run, and how far is each
answer from the optimum?

The light core (instance format, plans, the simulator, the Solution record and the
solver registry) imports no heavy dependency; exact models, metaheuristics, learners and
benchmarks are imported where they are used.
"""

from .instance import Instance, InstanceError, load_instance, parse_instance
from .plan import load_plan, plan_from_dict, plan_to_dict
from .problem import Problem
from .registry import SOLVERS, SolverError, get_solver, solve
from .simulator import Evaluation, simulate
from .solution import Solution

__version__ = "0.1.0"

__all__ = [
    "Evaluation", "Instance", "InstanceError", "Problem", "SOLVERS", "Solution",
    "SolverError", "get_solver", "load_instance", "load_plan", "parse_instance",
    "plan_from_dict", "plan_to_dict", "simulate", "solve",
]

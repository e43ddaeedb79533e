"""Solvers by name, imported only when asked for.

Every solver has one signature::

    solve(problem, *, seed=None, time_limit_s=None, budget_evals=None, **params) -> Solution

and builds its result with :func:`make_solution`, so the objective always comes from the
simulator. A solver whose optional dependency is missing is reported with the extra that
installs it.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import inspect
import math
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, Callable

import numpy as np

from .problem import Problem
from .simulator import simulate
from .solution import Solution


KINDS = ("latency", "deadline", "makespan", "dmro", "ddpqn")
RUN_ARGS = ("seed", "time_limit_s", "budget_evals")  # every solver's common keywords
_NO_DEFAULT = object()


@dataclass(frozen=True)
class Param:
    """A solver parameter: type, valid values and a one-line doc.

    ``type`` is ``int``, ``float`` (an integer is accepted), ``bool``, ``str``, ``pair``
    (two floats) or ``any``; ``low``/``high`` bound numbers (inclusive; ``low_open``
    makes ``low`` exclusive), ``choices`` lists the valid strings, ``nullable`` admits
    null. The default is read from the solver function's signature.
    """

    type: str
    doc: str = ""
    low: float | None = None
    high: float | None = None
    choices: tuple = ()
    nullable: bool = False
    low_open: bool = False
    default: Any = _NO_DEFAULT

    def describe(self, default: bool = True) -> str:
        """``float in [0, 1], default 1e-06``."""
        what = self.type
        if self.choices:
            what = " | ".join(self.choices)
        elif self.low is not None or self.high is not None:
            lo = "-inf" if self.low is None else f"{self.low:g}"
            hi = "inf" if self.high is None else f"{self.high:g}"
            what += f" in {'(' if self.low_open or self.low is None else '['}{lo}, {hi}" \
                    f"{')' if self.high is None else ']'}"
        if self.nullable:
            what += " or null"
        if default and self.default is not _NO_DEFAULT:
            what += f", default {_json(self.default)}"
        return what

    def check(self, value) -> Any:
        """``value`` converted to the parameter's type; ValueError naming the rule."""
        if value is None and (self.nullable or self.default is None):
            return None
        t = self.type
        ok = {"int": isinstance(value, int) and not isinstance(value, bool),
              "float": isinstance(value, (int, float)) and not isinstance(value, bool),
              "bool": isinstance(value, bool), "str": isinstance(value, str),
              "pair": isinstance(value, (list, tuple)) and len(value) == 2 and all(
                  isinstance(v, (int, float)) and not isinstance(v, bool) for v in value),
              "any": True}[t]
        if not ok:
            raise ValueError(f"expected {self.describe(False)}, got {_json(value)}")
        numbers = [value] if t in ("int", "float") else list(value) if t == "pair" else []
        for v in numbers:
            bad = not math.isfinite(v) or (self.low is not None and (
                v < self.low or (self.low_open and v == self.low))) or (
                self.high is not None and v > self.high)
            if bad:
                raise ValueError(f"expected {self.describe(False)}, got {_json(value)}")
        if self.choices and value not in self.choices:
            raise ValueError(f"expected one of {', '.join(self.choices)}, got {_json(value)}")
        if t == "float":
            return float(value)
        return tuple(float(v) for v in value) if t == "pair" else value


def _json(v) -> str:
    import json

    try:
        return json.dumps(v)
    except TypeError:
        return repr(v)


@dataclass(frozen=True)
class SolverInfo:
    name: str
    target: str          # "package.module:function"
    extra: str | None    # the pip extra that brings its dependencies
    summary: str
    kinds: tuple[str, ...] = KINDS
    params: dict[str, Param] | None = None  # None: every keyword of the signature
    defaults_from: str | None = None        # where **params defaults are read


PLUGIN_GROUP = "offloadlab.solvers"


class _Solvers(dict):
    """The solver table; its first read also registers the installed plugins
    (:func:`load_plugins`), so every reader sees them without loading them itself."""

    loaded = False

    def _plugins(self):
        if not _Solvers.loaded:
            _Solvers.loaded = True
            load_plugins()
        return self

    def __getitem__(self, key):
        return dict.__getitem__(self._plugins(), key)

    def __contains__(self, key):
        return dict.__contains__(self._plugins(), key)

    def __iter__(self):
        return dict.__iter__(self._plugins())

    def __len__(self):
        return dict.__len__(self._plugins())

    def get(self, key, default=None):
        return dict.get(self._plugins(), key, default)

    def keys(self):
        return dict.keys(self._plugins())

    def values(self):
        return dict.values(self._plugins())

    def items(self):
        return dict.items(self._plugins())


SOLVERS: dict[str, SolverInfo] = _Solvers()

# what each extra brings: checked before a solver is handed out, so a missing optional
# dependency is named with its extra even when the solver imports it lazily
EXTRA_MODULES: dict[str, tuple[str, ...]] = {
    "exact": ("pyomo", "highspy", "ortools"), "moo": ("pymoo",), "learn": ("torch", "gymnasium"),
    "plot": ("matplotlib",), "dask": ("dask", "distributed"), "workbook": ("openpyxl",),
    "peers": ("pymoo",),
}


def register(name: str, target: str, summary: str, extra: str | None = None,
             kinds: tuple[str, ...] | None = None, params: dict[str, Param] | None = None,
             defaults_from: str | None = None) -> None:
    """Add a solver to the registry (later registrations replace earlier ones).

    ``params`` declares the parameters a user may set (type, range, doc); their defaults
    come from the signature of ``target`` (or of ``defaults_from`` when ``target`` passes
    ``**params`` on). Without it every keyword of the signature is a parameter, typed by
    its default.
    """
    SOLVERS[name] = SolverInfo(name, target, extra, summary, tuple(kinds or KINDS),
                               params, defaults_from)


def load_plugins() -> list[str]:
    """Register the solvers that installed distributions declare in the entry-point
    group ``offloadlab.solvers``; returns their names.

    An entry point ``name = "package.module:solve"`` registers ``solve`` as ``name``; the
    first line of its docstring is the summary and an optional ``solve.kinds`` tuple the
    objective kinds it supports (default: all). A plugin that fails to import, or whose
    name is already taken, is reported on stderr and left out.
    """
    from importlib.metadata import entry_points

    names = []
    for ep in entry_points(group=PLUGIN_GROUP):
        if dict.__contains__(SOLVERS, ep.name):
            print(f"offloadlab: plugin solver {ep.name!r} ({ep.value}) not loaded: the "
                  "name is taken", file=sys.stderr)
            continue
        try:
            solve_fn = ep.load()
        except Exception as exc:  # a broken plugin must not break the other solvers
            print(f"offloadlab: plugin solver {ep.name!r} ({ep.value}) not loaded: "
                  f"{type(exc).__name__}: {exc}", file=sys.stderr)
            continue
        summary = (solve_fn.__doc__ or "").strip().split("\n")[0] or f"plugin {ep.value}"
        kinds = getattr(solve_fn, "kinds", None)
        register(ep.name, ep.value, summary, kinds=None if kinds is None else tuple(kinds))
        names.append(ep.name)
    return names


class SolverError(LookupError):
    """An unknown solver name, a solver whose optional dependency is missing, a kind it
    does not support or an invalid parameter."""


@contextmanager
def parameter_errors(solver: str):
    """Inside it, a ValueError (parameters that cannot run together, which only the
    solver knows, such as an order decoder without an order search) becomes a
    SolverError naming ``solver``: a user's mistake, reported before the search runs."""
    try:
        yield
    except ValueError as exc:
        raise SolverError(f"solver {solver!r}: {exc}") from None


def get_solver(name: str) -> Callable[..., Solution]:
    """The solve function registered as ``name``, which refuses an invalid seed, time
    limit or evaluation budget (:func:`check_budgets`) before it starts.

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
    return _checked(_function(info.target))


def _checked(fn: Callable[..., Solution]) -> Callable[..., Solution]:
    @functools.wraps(fn)
    def run(problem, **kwargs):
        check_budgets(*(kwargs.get(k) for k in RUN_ARGS))
        return fn(problem, **kwargs)
    return run


def _function(target: str):
    module, func = target.split(":")
    return getattr(importlib.import_module(module), func)


def solver_params(name: str) -> dict[str, Param]:
    """The parameters of solver ``name`` with their defaults (imports the solver's
    module, not its optional dependencies)."""
    info = SOLVERS[name]
    sig = dict(inspect.signature(_function(info.target)).parameters)
    if info.defaults_from:
        sig.update(inspect.signature(_function(info.defaults_from)).parameters)
    defaults = {k: p.default for k, p in sig.items()
                if p.kind is p.KEYWORD_ONLY and k not in RUN_ARGS
                and p.default is not inspect.Parameter.empty}
    if info.params is None:
        return {k: Param(_type_of(v), default=v) for k, v in defaults.items()}
    return {k: replace(p, default=defaults.get(k, p.default)) for k, p in info.params.items()}


def _type_of(default) -> str:
    for t in (bool, int, float, str):
        if isinstance(default, t):
            return t.__name__
    return "pair" if isinstance(default, tuple) and len(default) == 2 else "any"


def params_help(name: str) -> str:
    """One ``name: type, default`` line per parameter of solver ``name``."""
    params = solver_params(name)
    if not params:
        return f"solver {name!r} takes no parameters"
    return f"parameters of {name!r}: " + "; ".join(
        f"{k} ({p.describe()})" for k, p in params.items())


def check_params(name: str, params: dict, settings: dict | None = None) -> dict:
    """``params`` validated against solver ``name``'s declarations, values converted.

    ``settings`` maps the run settings (:data:`RUN_ARGS`) to where the caller takes them
    (``{"seed": "--seed"}``), for the error when one is passed as a parameter.

    Raises
    ------
    SolverError
        An unknown or ill-typed parameter, listing the solver's parameters.
    """
    spec = solver_params(name)
    out = {}
    for key, value in params.items():
        if key in RUN_ARGS:
            where = (settings or {}).get(key)
            raise SolverError(f"solver {name!r}: {key} is not a parameter; "
                              + (f"use {where}" if where else "it is a run setting, "
                                 "which this command does not take"))
        if key not in spec:
            raise SolverError(f"solver {name!r}: unknown parameter {key!r}; "
                              + params_help(name))
        try:
            out[key] = spec[key].check(value)
        except ValueError as exc:
            raise SolverError(f"solver {name!r}: parameter {key}: {exc}") from None
    return out


def check_kind(name: str, kind: str) -> None:
    """Raise SolverError when solver ``name`` does not support objective ``kind``,
    naming the kinds it supports and the solvers that support ``kind``."""
    info = SOLVERS[name]
    if kind not in info.kinds:
        others = [n for n, i in SOLVERS.items() if kind in i.kinds]
        raise SolverError(f"solver {name!r} supports the objective kinds "
                          f"{', '.join(info.kinds)}, not {kind!r}; solvers for {kind!r}: "
                          f"{', '.join(others)}")


def check_budgets(seed=None, time_limit_s=None, budget_evals=None) -> None:
    """Raise SolverError on a negative seed, a time limit that is not a positive finite
    number of seconds, or fewer than one evaluation."""
    def number(v):
        return isinstance(v, (int, float)) and not isinstance(v, bool)

    if seed is not None and not (isinstance(seed, int) and not isinstance(seed, bool)
                                 and 0 <= seed < 2 ** 32):
        raise SolverError(f"seed must be an integer in [0, 2**32), got {seed!r}")
    if time_limit_s is not None and not (number(time_limit_s) and
                                         0 < time_limit_s < math.inf):
        raise SolverError(f"time limit must be a positive number of seconds, "
                          f"got {time_limit_s!r}")
    if budget_evals is not None and not (isinstance(budget_evals, int) and not
                                         isinstance(budget_evals, bool) and budget_evals >= 1):
        raise SolverError(f"budget_evals must be an integer >= 1, got {budget_evals!r}")


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


def solve(problem: Problem, solver: str, *, seed=None, time_limit_s=None,
          budget_evals=None, **params) -> Solution:
    """Run the solver registered as ``solver`` on ``problem``.

    Raises
    ------
    SolverError
        Before running anything: an unknown solver, a missing dependency, an objective
        kind the solver does not support, an invalid budget or parameter.
    """
    fn = get_solver(solver)   # which checks the budgets before it runs
    check_kind(solver, problem.instance.objective.kind)
    params = check_params(solver, params)
    run = {k: v for k, v in zip(RUN_ARGS, (seed, time_limit_s, budget_evals))
           if v is not None}  # None keeps the solver's own default
    return fn(problem, **run, **params)


# --- the built-in registrations --------------------------------------------------------
# the parameters a user may set (defaults: the solver's signature)
UNIT = dict(low=0.0, high=1.0)
_COLONY = {
    "n_ants": Param("int", "ants per iteration", low=1),
    "alpha": Param("float", "weight of the pheromone", low=0),
    "beta": Param("float", "weight of the heuristic", low=0),
    "rho": Param("float", "pheromone evaporation", **UNIT),
    "q": Param("float", "pheromone deposit Q (divided by the ant's makespan)", low=0),
    "delta": Param("float", "scale of the memory heuristic (ATSA eq. 4)", low=0,
                   low_open=True),
}
_SEARCH = {
    "search_order": Param("bool", "search the priority order too"),
    "init": Param("str", "first population", choices=("heuristics", "greedy", "segments",
                                                      "random")),
    "segment_p": Param("float", "share of mutations that move a task segment", **UNIT),
    "polish": Param("float", "share of the budget for the final local search", low=0,
                    high=0.99),
    "order_noise": Param("float", "initial order keys near the default priority "
                         "(null: uniform)", low=0, nullable=True),
    "two_step": Param("bool", "two-step migration for inception/residual models"),
    "decoder": Param("str", "chromosome to plan: servers from the genes (assign), "
                     "earliest finish in the keys' order (order), genes with earliest-"
                     "finish repair (hybrid), or the measured default (auto)",
                     choices=("auto", "assign", "order", "hybrid")),
    "repair_p": Param("float", "hybrid decoder: probability of repairing a gene", **UNIT),
    "justify_rounds": Param("int", "order decoder on P|prec|Cmax: forward-backward "
                            "rounds per chromosome at most", low=1),
}
_PSO_GA = {
    "particles": Param("int", "swarm size", low=2),
    "iterations": Param("int", "PSO iterations", low=0),
    "ga_generations": Param("int", "GA generations that seed the swarm", low=0),
    "w_max": Param("float", "upper bound of the adaptive inertia (eq. 16)", **UNIT),
    "w_min": Param("float", "lower bound of the adaptive inertia", **UNIT),
    "eps1": Param("pair", "start and end of the crossover probability with the particle "
                  "best", **UNIT),
    "eps2": Param("pair", "start and end of the crossover probability with the global "
                  "best", **UNIT),
    **_SEARCH,
}
_HIGHS = {
    "mip_rel_gap": Param("float", "HiGHS relative gap at which it stops as optimal", **UNIT),
    "threads": Param("int", "HiGHS threads", low=1, high=256),
    "write_model_path": Param("str", "also write the model there (.lp or .mps)",
                              nullable=True),
}
_B = "offloadlab.heuristics.baselines"
register("local-only", f"{_B}:local_only", "every layer on its task's device")
register("edge-only", f"{_B}:edge_only", "earliest-finish layer by layer over edge servers")
register("cloud-only", f"{_B}:cloud_only", "earliest-finish layer by layer over cloud servers")
register("random", f"{_B}:random_search", "best of budget_evals uniform random plans (1000), "
         "seeded",
         params={"batch": Param("int", "plans scored per simulator call", low=1)})
register("greedy", f"{_B}:greedy", "layer by layer, the server with the earliest finish")
# makespan family (ATSA paper §2.3)
register("atsa", "offloadlab.heuristics.aco:atsa",
         "ATSA: ant colony with the memory heuristic (alpha 1, beta 5, rho 0.5, Q 5)",
         kinds=("makespan",), params=_COLONY,
         defaults_from="offloadlab.heuristics.aco:colony")
register("aco", "offloadlab.heuristics.aco:aco", "basic ant colony (eta = 1/et)",
         kinds=("makespan",), params=_COLONY, defaults_from="offloadlab.heuristics.aco:colony")
register("pso", "offloadlab.heuristics.pso_makespan:pso",
         "particle swarm over task-to-node vectors with memory repair", kinds=("makespan",),
         params={"n_particles": Param("int", "swarm size", low=1),
                 "w_max": Param("float", "inertia at the start", low=0),
                 "w_min": Param("float", "inertia at the end", low=0),
                 "c1": Param("float", "cognitive weight", low=0),
                 "c2": Param("float", "social weight", low=0)})
register("fcfs", "offloadlab.heuristics.fcfs:fcfs",
         "first come, first served onto the first free node with memory", kinds=("makespan",))
register("makespan-milp", "offloadlab.formulations.makespan:solve",
         "exact R|r_j,mem|Cmax MILP (HiGHS), optimal or best bound", extra="exact",
         kinds=("makespan",), params={"mip_rel_gap": _HIGHS["mip_rel_gap"]})
_H = "offloadlab.heuristics"
register("pso-ga", f"{_H}.pso_ga:pso_ga", "EosDNN PSO-GA (100 particles x 600 iterations, "
         "seeded)", params=_PSO_GA)
register("ga", f"{_H}.ga:ga", "genetic algorithm, same encoding and budget as PSO-GA",
         params={"pop_size": Param("int", "population size", low=2),
                 "generations": Param("int", "generations", low=0),
                 "crossover_p": Param("float", "crossover probability", **UNIT),
                 "mutation_p": Param("float", "mutation probability", **UNIT), **_SEARCH})
register("pre-pso", f"{_H}.pre_pso:pre_pso", "PSO-GA on the merged graph (EosDNN prePSO)",
         params={"merge": Param("str", "merging rule", choices=("series", "literal")),
                 **_PSO_GA}, defaults_from=f"{_H}.pso_ga:pso_ga")
register("pymoo-ga", f"{_H}.peers:pymoo_ga", "pymoo GA around the simulator (peer)", extra="moo",
         params={"pop_size": Param("int", "population size", low=1)})
# pymoo's PSO divides by the swarm size minus one (its adaptive inertia)
register("pymoo-pso", f"{_H}.peers:pymoo_pso", "pymoo PSO around the simulator (peer)",
         extra="moo", params={"pop_size": Param("int", "swarm size", low=2)})
_F = "offloadlab.formulations"
_MAX = {"max_layers": Param("int", "above this many layers no model is built", low=1)}
register("milp", f"{_F}.milp:solve", "placement-and-scheduling MILP (HiGHS): optimum or "
         "best bound", extra="exact", kinds=("latency", "deadline", "makespan", "dmro", "ddpqn"),
         params={**_HIGHS, "warm_start": Param("bool", "start from the greedy/DP plan"),
                 "log": Param("bool", "HiGHS log on stderr"), **_MAX,
                 "max_rows": Param("int", "above this many pool-order rows no model is "
                                   "built", low=1)})
register("dp", f"{_F}.dp:solve", "contention-free shortest paths: exact when no pool binds, "
         "else a bound", kinds=("latency", "deadline", "makespan", "dmro", "ddpqn"), params={})
register("exact", f"{_F}.exact:solve", "cheapest proof: makespan MILP, else the DP when "
         "exact, else CP-SAT (latency, deadline) or the HiGHS MILP (ddpqn, dmro), then "
         "the Lagrangian bound", extra="exact",
         kinds=("latency", "deadline", "makespan", "dmro", "ddpqn"),
         params={**_HIGHS, "backend": Param("str", "scheduling model", choices=(
             "auto", "cpsat", "milp")), **_MAX})
register("cpsat", f"{_F}.cpsat:solve", "placement-and-scheduling model in CP-SAT (interval "
         "variables, cumulative per server): optimum or best bound", extra="exact",
         kinds=("latency", "deadline", "makespan"),
         params={"workers": Param("int", "CP-SAT search workers (1 is deterministic)",
                                  low=1, high=256),
                 "unit_s": Param("float", "time unit in seconds (null: chosen from the "
                                 "horizon)", low=0, low_open=True, nullable=True),
                 "warm_start": Param("bool", "hint the greedy/DP plan"),
                 "lower_s": Param("float", "a known lower bound (seconds)", nullable=True),
                 "log": Param("bool", "CP-SAT log on stderr")})
# HEFT/PEFT place layers by finish time and ignore memory limits (makespan family)
register("heft", f"{_H}.list_scheduling:heft", "HEFT list scheduling (upward rank, EFT)",
         kinds=("latency", "deadline", "dmro", "ddpqn"))
register("peft", f"{_H}.list_scheduling:peft", "PEFT list scheduling (optimistic cost table)",
         kinds=("latency", "deadline", "dmro", "ddpqn"))
# learners (DDPQN §5): train for budget_evals environment steps, or roll out a checkpoint
_STEPS = dict(low=1, high=10**9)
_LEARNER = {
    "checkpoint": Param("str", "a .pt file from `offloadlab train`: roll out, no training",
                        nullable=True),
    "reward": Param("str", "training reward", choices=("objective", "ddpqn")),
    "pad_layers": Param("int", "observation padding (null: the longest task)", low=1,
                        high=10**6, nullable=True),
    "order": Param("str", "placement order", choices=("auto", "mdp", "priority")),
    "reorder": Param("bool", "also score the plan under the other order, keep the better"),
    "hidden": Param("any", "hidden layer widths, e.g. [50, 20]"),
    "lr": Param("float", "Adam learning rate", low=0, high=10, low_open=True),
    "gamma": Param("float", "discount", low=0, high=1),
    "batch_size": Param("int", "minibatch", **_STEPS),
    "target_sync": Param("int", "gradient updates between target copies", **_STEPS),
    "epsilon_greedy": Param("float", "probability of the greedy action", low=0, high=1),
    "explore_fraction": Param("float", "share of the budget spent decaying exploration",
                              low=0, high=1),
    "buffer_size": Param("int", "transitions kept in replay", **_STEPS),
    "learning_starts": Param("int", "steps before the first update", low=0, high=10**9),
    "train_freq": Param("int", "steps per gradient update", **_STEPS),
    "n_envs": Param("int", "episodes run in lockstep", low=1, high=4096),
    "alpha": Param("float", "prioritised replay exponent", low=0, high=10),
    "beta0": Param("float", "initial importance-sampling exponent", low=0, high=1),
    "reward_scale": Param("float", "reward factor for learning (null: automatic)", low=0,
                          low_open=True, high=1e12, nullable=True),
    "loss": Param("str", "TD loss", choices=("mse", "huber")),
    "grad_clip": Param("float", "max gradient norm", low=0, low_open=True, high=1e12),
    "eval_every": Param("int", "steps between greedy evaluations", **_STEPS),
    "keep_best": Param("bool", "return the best evaluated snapshot, not the last"),
}
for _v, _what in (("dqn", "DQN"), ("double-dqn", "double DQN"), ("dueling-dqn", "dueling DQN"),
                  ("per-dqn", "DQN with prioritised replay"),
                  ("double-per-dqn", "double DQN, prioritised replay"),
                  ("dueling-per-dqn", "dueling DQN, prioritised replay"),
                  ("double-dueling-dqn", "double dueling DQN"),
                  ("ddpqn", "DDPQN: double dueling DQN with prioritised replay")):
    register(_v, f"offloadlab.learners.dqn:solve_{_v.replace('-', '_')}",
             f"{_what} (budget = environment steps; checkpoint= to only roll out)",
             extra="learn", params=_LEARNER)
# MTL-A3C's baselines (deadline family)
for _r, _what in (("least-loaded", "each block on the edge server with the lowest load"),
                  ("apdi", "APDI: blocks spread evenly over the servers"),
                  ("rpdi", "RPDI: each block on a random server")):
    register(_r, f"{_H}.deadline_baselines:solve_{_r.replace('-', '_')}",
             f"{_what} (MTL-A3C baseline, deadline-keeping candidates)", kinds=("deadline",))
# A3C family (MTL-A3C §5): asynchronous actor-critics on the slotted deadline environment
_A3C = {
    "workers": Param("int", "asynchronous worker processes (1 is deterministic)", low=1,
                     high=256),
    "lr": Param("float", "shared RMSProp learning rate", low=0, high=10, low_open=True),
    "gamma": Param("float", "discount", low=0, high=1),
    "eps_start": Param("float", "initial exploration probability", low=0, high=1),
    "eps_end": Param("float", "final exploration probability", low=0, high=1),
    "explore_fraction": Param("float", "share of the budget spent decaying exploration",
                              low=0, high=1),
    "t_max": Param("int", "steps per asynchronous update", **_STEPS),
    "hidden": Param("any", "trunk widths, e.g. [64, 64]"),
    "entropy": Param("float", "entropy bonus", low=0, high=1e6),
    "value_coef": Param("float", "critic loss weight", low=0, high=1e6),
    "share_l2": Param("float", "MTL-A3C soft parameter sharing weight", low=0, high=1e6),
    "rms_alpha": Param("float", "RMSProp decay", low=0, high=1),
    "rms_eps": Param("float", "RMSProp epsilon", low=0, low_open=True, high=1e6),
    "grad_clip": Param("float", "max gradient norm", low=0, low_open=True, high=1e12),
    "eval_every": Param("int", "worker 0's steps between greedy evaluations", **_STEPS),
    "checkpoint": _LEARNER["checkpoint"],
    "n_envs": Param("int", "episodes each worker plays in lockstep", low=1, high=4096),
    "branch_hidden": Param("int", "hidden width of an actor (branch)", low=1, high=10**5),
    "normalize_adv": Param("bool", "normalise advantages over each update"),
    "keep_episodes": Param("bool", "the plan may be the best training episode"),
    "cost_prior": Param("float", "weight of -cost in the logits (a greedy start)", low=0,
                        high=1e6),
}
register("a3c", "offloadlab.learners.a3c:solve_a3c",
         "A3C on the slotted deadline environment (budget = environment steps)",
         extra="learn", kinds=("deadline",), params=_A3C)
register("mtl-a3c", "offloadlab.learners.a3c:solve_mtl_a3c",
         "MTL-A3C: shared trunk, one actor branch per block, one critic",
         extra="learn", kinds=("deadline",), params=_A3C)
_DIST = {k: v for k, v in _LEARNER.items()
         if k not in ("checkpoint", "reward", "pad_layers", "order", "reorder", "n_envs")}
register("dist-dqn", "offloadlab.learners.dist_dqn:solve_dist_dqn",
         "distributed DQN: actor processes feed one learner's replay (deadline slots)",
         extra="learn", kinds=("deadline",), params={
             **_DIST, "workers": Param("int", "actor processes (1 is deterministic)", low=1,
                                       high=256),
             "chunk": Param("int", "transitions per actor message", **_STEPS),
             "checkpoint": _LEARNER["checkpoint"],
             "keep_episodes": Param("bool", "the plan may be the best training episode"),
             **{s: Param("bool", f"DQN switch: {s}") for s in
                ("double", "dueling", "prioritized")}})
# DMRO (DMRO §IV): s parallel DQNs, the best candidate by F in a shared memory; the DQN
# baselines of its §V-C are the same agent with one network
_DMRO = {k: v for k, v in _LEARNER.items() if k in (
    "pad_layers", "hidden", "lr", "gamma", "batch_size", "target_sync", "buffer_size",
    "learning_starts", "train_freq", "n_envs", "reward_scale", "grad_clip", "eval_every")}
_DMRO.update({
    "init": Param("str", "initial parameters (.pt from `offloadlab train dmro`, --meta: "
                  "meta-learned); null: random", nullable=True),
    "eps_final": Param("float", "exploration after its decay", low=0, high=1),
    "explore_fraction": Param("float", "share of the budget spent decaying exploration",
                              low=0, high=1)})
for _v, _what in (("dmro", "DMRO: s parallel DQNs, best candidate by F, shared memory"),
                  ("dmro-dqn", "DMRO's DQN baseline (one network)"),
                  ("dmro-double-dqn", "DMRO's double DQN baseline (one network)"),
                  ("dmro-dueling-dqn", "DMRO's dueling DQN baseline (one network)")):
    register(_v, f"offloadlab.learners.dmro:solve_{_v.replace('-', '_')}",
             f"{_what} (budget = environment steps; init= to start from trained parameters)",
             extra="learn", params={**_DMRO, **({"n_dnns": Param(
                 "int", "parallel networks s", low=1, high=64)} if _v == "dmro" else {})})

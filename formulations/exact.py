"""The ``exact`` dispatcher: the cheapest method that proves the optimum, else the
best certified bound.

Order, by what was measured on the library (see the README's ``bench exact`` table):

1. ``makespan`` instances of one-layer tasks go to
   :mod:`offloadlab.formulations.makespan` (the R|r_j,mem|C_max MILP), which models that
   family directly; DAG tasks (e.g. ``instances generate-dag``) follow steps 2-5.
2. The contention-free dynamic programme (:mod:`.dp`) runs first: milliseconds at any
   size. When the simulator's value of its plan meets its bound (no pool binds: every
   ``dmro`` instance, a single chain task, pools at least the tasks that reach them) that
   is the proven optimum and nothing else runs; a deadline below a task's
   contention-free latency proves infeasibility.
3. An incumbent from the quick portfolio (:mod:`.portfolio`: greedy, contention-free
   plan, HEFT, PEFT, then re-insertion) for ``latency``/``deadline``/``makespan``, and
   above ``max_layers`` for ``latency``/``deadline`` the spread plans of :mod:`.spread`
   (measured: GoogLeNet and ResNet101 paper instances 1.83 → 1.38 and 3.97 → 2.77; for
   ``latency`` 55 % of the limit, since there the Lagrangian stays below the capacity
   bounds); the capacity bounds of :mod:`.bounds` (load, energetic, critical path with
   release, device queue, source server, DDPQN balance; 20 % of the limit for
   ``latency`` above ``max_layers``): an incumbent meeting them is optimal at once.
4. P|prec|Cmax (one DAG on identical one-slot servers without data) whose processing
   times lie on a decimal grid (:func:`.bounds.time_grid`) has its own model: the
   CP-SAT model of :mod:`.makespan_cp` in integer units, by pieces between
   bottlenecks, in a child process, asked for a makespan below the incumbent's with the
   bound as its lower end (a schedule at the bound, or none below the incumbent, is a
   proof; a better schedule becomes the incumbent, coloured into a plan and re-scored
   by the simulator). On DAGs of at most 60 layers, after one GA and one PSO-GA run,
   it runs first on 20 % of the time left (at least 2.5 s: small DAGs whose optimum is
   above the bounds are proven in a second, which no search can do); then GA and
   PSO-GA seeds in turn on half of the rest (they meet the bound where the model does
   not), then the model again from their plan with the rest (a perfect packing of
   dag-layered-100n-4p-s0's 52-layer piece takes it 3-4 s). Every other instance goes
   on to 5.
5. A scheduling model warm-started from it, when the instance has at most
   ``max_layers`` layers: CP-SAT (:mod:`.cpsat`) for ``latency``/``deadline`` (measured:
   latency-alexnet-small proven in 0.6 s against 5.3 s for HiGHS, equal elsewhere), the
   HiGHS MILP (:mod:`.milp`) for ``ddpqn`` and ``dmro``. It gets 60 % of the time left
   for the time objectives, all of it otherwise; CP-SAT gets the capacity bound as a
   cut. For ``ddpqn`` without a proof, the balance programme's plans and the model's
   each descend by moves of runs of layers and swaps of two layers' servers
   (:mod:`.swaps`) while time remains; the best is kept.
6. Without a proof, for ``latency``/``deadline``: the time-indexed Lagrangian bound
   (:mod:`.lagrangian`) with the rest of the time; for ``deadline`` its windowed form
   (:mod:`.windowed`: each task priced over its own window and servers, finer buckets)
   followed by re-insertion from its best relaxed schedule (measured on
   ``deadline-vgg16-paper-s0``: certified gap 13.2 % before, 1.8 % after, 60 s). The
   reported bound is the best of the model's bound, the contention-free DP, the
   capacity bounds and the Lagrangian; ``bound_source`` names it.
"""

from __future__ import annotations

import dataclasses
import importlib
import itertools
import math
import time

import numpy as np

from offloadlab.budget import time_left
from offloadlab.graph import is_chain
from offloadlab.problem import Problem
from offloadlab.registry import SolverError, make_solution

from . import dp
from .cpsat import KINDS as CPSAT_KINDS
from .bounds import best_bound as lower_bound

TIME_KINDS = ("latency", "deadline")
DEFAULT_LIMIT_S = 60.0
GRID_FIRST = 0.2   # share of the time left for the P|prec|Cmax model before the search
GRID_FIRST_LAYERS = 60   # ... on DAGs of at most this many layers
# share of the time left for GA and PSO-GA on P|prec|Cmax before the model (measured
# on the 32 generated DAGs: with 0.7 the model's probe of dag-layered-100n-4p-s0 got
# 2-3 s and missed its packing, with 0.5 it finds it; every other attained bound is met
# within 3.3 s either way; docs/decoders.md)
SEARCH = 0.5


def solve(problem: Problem, *, seed=None, time_limit_s=None, budget_evals=None,
          mip_rel_gap: float = 1e-6, threads: int = 1, write_model_path: str | None = None,
          backend: str = "auto", max_layers: int = 300):
    """Prove the optimum (or the best bound within ``time_limit_s``, default 60 s) by
    the cheapest exact method; the Solution's message says which ran.

    Parameters
    ----------
    backend : {"auto", "cpsat", "milp"}
        The scheduling model of step 5 (``auto``: CP-SAT for latency/deadline, else the
        MILP; ``write_model_path`` forces the MILP).
    max_layers : int
        Above this many layers no scheduling model is built (paper-size instances).
    """
    started = time.perf_counter()
    limit = DEFAULT_LIMIT_S if time_limit_s is None else float(time_limit_s)
    kind = problem.instance.objective.kind
    if backend == "cpsat" and kind not in CPSAT_KINDS:
        raise SolverError(f"solver 'exact': backend 'cpsat' covers the objective kinds "
                          f"{', '.join(CPSAT_KINDS)}, not {kind!r}; use backend 'milp'")
    if kind == "makespan" and _jobs_family(problem):
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
    chain = is_chain(problem)
    if not problem.objective.per_layer or chain:
        first = dp.solve(problem, budget_evals=budget_evals)
        if first.status in ("optimal", "infeasible"):
            return _renamed(first, "contention-free DP", started)

    def left():  # every stage counts against the one limit
        return time_left(limit, started)

    inc = None
    if problem.objective.time_valued:  # latency, deadline, makespan of DAG tasks
        from .portfolio import best_incumbent

        a, p, v, src = best_incumbent(problem, seed=seed or 0,
                                      time_limit_s=min(10.0, 0.15 * limit))
        if a is not None:
            inc = (a, p, v, src)
        if inc is not None and kind in TIME_KINDS and problem.n_layers > max_layers:
            from .spread import spread_incumbent

            share = (0.55, 35.0) if kind == "latency" else (0.2, 15.0)   # see the README
            inc = spread_incumbent(problem, inc, seed=seed or 0,
                                   time_limit_s=min(share[1], share[0] * limit))
    # load, energetic and critical-path bounds: an incumbent meeting them is optimal;
    # above max_layers the source-server bound is what certifies latency (README)
    big = kind == "latency" and problem.n_layers > max_layers
    bound_s = min(12.0, 0.2 * limit) if big else min(5.0, 0.1 * limit)
    lower = lower_bound(problem, inc[2] if inc else None, time_limit_s=bound_s)
    grid = _grid_of(problem) if kind == "makespan" and inc is not None else None
    search = kind == "makespan" and inc is not None and (problem.task_device < 0).all()
    runs = itertools.count()   # GA and PSO-GA runs: seeds in turn
    tried = []
    small = problem.n_layers <= GRID_FIRST_LAYERS
    if grid is not None and small and not _meets(inc, lower):
        # one run of each, then a short first try of the model: it proves small DAGs
        # whose optimum is above the bounds in a second, where the search can never
        # meet them; on larger ones the search needs all its time (docs/decoders.md)
        inc = _ga_incumbent(problem, inc, lower[0], seed, 0.7 * left(),
                            itertools.islice(runs, 2))
        if not _meets(inc, lower):
            inc, lower, how = _grid_model(problem, grid, inc, lower, seed,
                                          min(left(), max(2.5, GRID_FIRST * left())),
                                          threads)
            tried.append(how)
    if search:
        inc = _ga_incumbent(problem, inc, lower[0], seed, SEARCH * left(), runs)
    if inc is not None and _meets(inc, lower):
        return make_solution(problem, "exact", inc[0], inc[1], started=started,
                             status="optimal", bound=lower[0], bound_source=lower[1],
                             message="; ".join(tried + [f"{lower[1]} bound: plan from "
                                                        f"{inc[3]}"]))
    if grid is not None:   # P|prec|Cmax on a time grid: the model again, from the new plan
        if left() > 1.5:   # another seed than the first try's
            inc, lower, how = _grid_model(problem, grid, inc, lower, (seed or 0) + len(tried),
                                          left(), threads)
            tried.append(how)
        return make_solution(problem, "exact", inc[0], inc[1], started=started,
                             status="optimal" if _meets(inc, lower) else "time_limit",
                             bound=lower[0], bound_source=lower[1],
                             message="; ".join(tried or ["P|prec|Cmax model: no time left"])
                                     + f": plan from {inc[3]}")
    use = backend
    if use == "auto":
        use = "cpsat" if problem.objective.time_valued and not write_model_path else "milp"
    sol = None
    if (problem.n_layers <= max_layers or use == "milp") and left() > 0:
        # CP-SAT's child needs seconds to start: those are not part of the 60 % share
        budget = (min(left(), 2.0 + 0.6 * left()) if problem.objective.time_valued
                  else left())
        hint = (inc[0], inc[1]) if inc else None
        if use == "cpsat":
            from . import cpsat

            sol = cpsat.solve(problem, seed=seed, time_limit_s=budget, hint=hint,
                              workers=max(1, threads),
                              lower_s=lower[0] if np.isfinite(lower[0]) else None)
        else:
            from . import milp

            sol = milp.solve(problem, seed=seed, time_limit_s=budget,
                             mip_rel_gap=mip_rel_gap, threads=threads,
                             write_model_path=write_model_path, hint=hint)
        sol = _raised(problem, sol, lower)
        if kind == "ddpqn" and sol.status not in ("optimal", "infeasible"):
            from .swaps import improved

            sol = improved(problem, sol, left() - 1.0)
        if sol.status in ("optimal", "infeasible") or kind not in TIME_KINDS:
            return _renamed(sol, "CP-SAT" if use == "cpsat" else "MILP", started)
    if kind not in TIME_KINDS:   # no model ran (too large): incumbent and bounds
        plan = (inc[0], inc[1]) if inc else (None, None)
        return make_solution(problem, "exact", *plan, started=started,
                             status=None if inc else "time_limit", bound=lower[0],
                             bound_source=lower[1],
                             message=f"bounds only: plan from {inc[3] if inc else 'none'}")
    return _with_lagrangian(problem, sol, inc, started, left(), use, lower)


def _ga_incumbent(problem: Problem, inc, lower: float, seed, time_limit_s: float,
                  runs=None):
    """On scheduling DAGs (no device) GA's and PSO-GA's order search (README,
    "Decoders") meet the capacity bounds where the list rules miss (generated DAGs on 2
    servers: HEFT 0.1-3 % above the bound, each of them at it on most). They run in
    turn, seeds ``seed``, ``seed + 1``, ..., each at its default budget, until a plan
    meets ``lower`` or the time is spent: one run takes about a second on 100 layers,
    and runs with other seeds end at other plans (measured on the 32 generated DAGs,
    before the P|prec|Cmax model: of the 23 whose bound is attained, ``exact`` with 30 s
    proves 19 with one run of each, 21 with seeds in turn on 40 % of the time left, 22
    on 70 %, each within 17 s). A
    better plan replaces ``inc``. ``runs``: the run numbers k to use (run k is
    ``("ga", "pso-ga")[k % 2]`` with seed ``seed + k // 2``; default 0, 1, 2, …)."""
    from offloadlab.registry import SOLVERS, solve as run
    from offloadlab.simulator import simulate

    stop = time.perf_counter() + time_limit_s
    names = [name for name in ("ga", "pso-ga") if name in SOLVERS]
    for k in (itertools.count() if runs is None else runs) if names else ():
        left = stop - time.perf_counter()
        if inc[2] <= lower + 1e-9 * max(1.0, abs(lower)) or left < 1:
            break
        name = names[k % len(names)]
        sol = run(problem, name, seed=(seed or 0) + k // len(names), time_limit_s=left)
        if sol.assign is not None:
            value = float(simulate(problem, sol.assign, sol.priority).objective[0])
            if value < inc[2]:
                inc = (sol.assign, sol.priority, value, name.upper())
    return inc


def _meets(inc, lower) -> bool:
    """Whether the incumbent's value meets the bound (within rounding)."""
    return inc[2] <= lower[0] + 1e-9 * max(1.0, abs(lower[0]))


def _grid_of(problem: Problem):
    """(unit_s, durations in units, m) when ``problem`` is P|prec|Cmax (one DAG on
    identical one-slot servers without data) with every processing time a multiple of
    a power of ten (:func:`.bounds.time_grid`, 1 s to 1e-6 s); else None."""
    from . import makespan_cp
    from .bounds import time_grid

    try:
        m = makespan_cp.identical_servers(problem)
        unit = time_grid(problem)
        if unit is None:
            return None
        return unit, makespan_cp.integer_durations(problem, unit), m
    except ValueError:
        return None


def _grid_model(problem: Problem, grid, inc, lower, seed, time_limit_s: float,
                threads: int = 1):
    """The P|prec|Cmax model of :mod:`.makespan_cp` in integer units, by pieces between
    bottlenecks, in a child process within ``time_limit_s``: asked for a makespan below
    the incumbent's, the bound ``lower`` its lower end, hinted with the incumbent's
    starts. Returns the incumbent (replaced by the model's schedule, as a plan by
    interval colouring and re-scored by the simulator, when that is better), the best
    bound (value, source) and what ran."""
    from offloadlab.simulator import simulate

    from . import makespan_cp

    unit, dur, m = grid
    rel = float(problem.release_s[0])
    start_s = simulate(problem, inc[0], inc[1]).start_s[0] - rel
    parts = makespan_cp.segments(problem)
    res = makespan_cp.prove_isolated(
        time_limit_s, dur=dur, preds=makespan_cp.predecessors(problem), m=m, parts=parts,
        start=np.round(start_s / unit).astype(np.int64),
        lower=int(math.ceil(lower[0] / unit - 1e-6)), workers=max(1, threads),
        seed=seed or 0)
    how = f"P|prec|Cmax CP-SAT by pieces ({len(parts)}, unit {unit:g} s)"
    if res is None:
        return inc, lower, how + ": no answer in time"
    if res["makespan"] * unit < inc[2] - 0.5 * unit:
        assign, prio = makespan_cp.plan_from_starts(problem, rel + res["start"] * unit)
        value = float(simulate(problem, assign, prio).objective[0])
        if value < inc[2]:
            inc = (assign, prio, value, "P|prec|Cmax CP-SAT")
    bound = res["bound"] * unit
    if bound > lower[0] + 0.5 * unit:
        lower = (bound, f"P|prec|Cmax CP-SAT by pieces, unit {unit:g} s")
    return inc, lower, how + f": {res['status']}"


def _jobs_family(problem: Problem) -> bool:
    """One layer per task and one slot per usable server: the makespan MILP's family."""
    usable = problem.allowed.any(axis=0)
    return bool((np.bincount(problem.layer_task, minlength=problem.n_tasks) == 1).all()
                and (problem.pools[usable] == 1).all())


def _raised(problem: Problem, sol, lower):
    """``sol`` with the bound of :mod:`.bounds` when it is higher (optimal when met)."""
    value, source = lower
    if sol.status == "infeasible" or not np.isfinite(value):
        return sol
    if sol.bound is not None and np.isfinite(sol.bound) and sol.bound >= value:
        return sol
    met = np.isfinite(sol.objective) and sol.objective <= value + 1e-9 * max(1.0, abs(value))
    return dataclasses.replace(sol, bound=value, bound_source=source,
                               status="optimal" if met else sol.status)


def _with_lagrangian(problem: Problem, sol, inc, started: float, budget_s: float,
                     backend: str, lower=None):
    """Best plan and best bound of the model, the portfolio and the Lagrangian."""
    from .lagrangian import lagrangian_bound

    plans = []
    if sol is not None and sol.assign is not None and np.isfinite(sol.objective):
        plans.append((sol.objective, sol.assign, sol.priority, backend))
    if inc is not None:
        plans.append((inc[2], inc[0], inc[1], inc[3]))
    pb = dp.path_bound(problem)
    bounds = [(pb.bound, "contention-free DP")]
    if lower is not None and lower[0] > pb.bound:
        bounds.append(lower)
    if sol is not None and sol.bound is not None and np.isfinite(sol.bound):
        bounds.append((sol.bound, f"{backend} ({sol.bound_source})"))
    if not plans:
        bound, source = max(bounds)
        return make_solution(problem, "exact", None, started=started, status="time_limit",
                             bound=bound, bound_source=source,
                             message="no feasible plan found")
    upper = min(p[0] for p in plans)
    if budget_s <= 0:  # the time limit is spent: the bounds at hand
        value, assign, prio, origin = min(plans, key=lambda p: p[0])
        bound, source = max(bounds, key=lambda b: b[0])
        return make_solution(problem, "exact", assign, prio, started=started,
                             status="time_limit", bound=bound, bound_source=source,
                             message=f"plan from {origin}; bound from {source}; no time "
                                     "left for the Lagrangian bound")
    if problem.instance.objective.kind == "deadline":   # finer buckets per task window
        from .windowed import bound_and_plan

        lr, plan = bound_and_plan(problem, upper, time_limit_s=budget_s)
        bounds.append((lr.bound, f"Lagrangian (windowed, {lr.iterations} iterations, "
                                 f"delta {lr.delta_s:.3g} s)"))
        if plan is not None:
            plans.append((plan[2], plan[0], plan[1], "windowed Lagrangian + re-insertion"))
    else:
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

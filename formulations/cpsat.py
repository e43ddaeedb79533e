"""The placement-and-scheduling model in CP-SAT (OR-Tools): interval variables and a
cumulative constraint per server, for ``latency``, ``deadline`` and ``makespan``.

Model: one start ``S[l]`` per layer; per allowed (layer, server) an optional fixed-size
interval sharing that start, present iff ``x[l, s]``; exactly one server per layer; for
every precedence arc ``p -> l`` and every server ``b`` of ``l``:
``S[l] >= S[p] + sum_a (d[p, a] + lag[a, b]) x[p, a]`` enforced by ``x[l, b]`` (pairs
without a link are forbidden); a source starts after the input reached its server; a
task ends after each sink's finish plus the return of its output when asked; per server
whose pools can bind, ``cumulative`` of unit demands with capacity ``pools`` (exactly
``pools`` identical machines for non-preemptive fixed-duration jobs; ``no_overlap`` for
one slot); per server with a memory limit, the sum of ``param_mb + out_mb`` of its
layers (the simulator's rule). Cuts: contention-free heads and tails per (layer, server), each task's
contention-free latency, and the best known lower bound on the objective.

Time is integer in units of ``unit_s`` (default: the power of ten that puts the horizon
near 1e8 units). Every duration, lag, release and deadline is rounded **down**, so the
integer model is a relaxation of the real one (a real schedule floored to the grid
satisfies every rounded constraint, and flooring keeps the intervals of each pool slot
disjoint): CP-SAT's bound, converted back as ``unit_s * bound - sum of releases``, is a
valid lower bound in seconds. The plan (servers, and layers listed by CP-SAT start) is
re-scored by the simulator; the status is ``optimal`` when CP-SAT proved its model
optimal and the simulated objective is within ``1e-6`` relative plus the scaling error
``n_layers * unit_s`` of that bound.
"""

from __future__ import annotations

import math
import time

import numpy as np

from offloadlab.budget import time_left
from offloadlab.problem import Problem
from offloadlab.registry import make_solution
from offloadlab.simulator import simulate

from .dp import edge_lag, input_lag, path_bound, return_lag, time_bounds

KINDS = ("latency", "deadline", "makespan")


def choose_unit(horizon_s: float) -> float:
    """The power of ten that puts ``horizon_s`` near 1e8 units (at most 1e-6 s)."""
    if horizon_s <= 0 or not math.isfinite(horizon_s):
        return 1e-6
    return min(1e-6, 10.0 ** math.floor(math.log10(horizon_s / 1e8)))


def _floor(x: float, unit: float) -> int:
    # a hair of slack so that values on the grid are not pushed one unit down by
    # floating error; still a floor in every case that matters for validity
    return int(math.floor(x / unit + 1e-9))


def build_cpsat(problem: Problem, upper_s: float | None = None, lower_s: float | None = None,
                unit_s: float | None = None):
    """Build the CP-SAT model (no solve).

    Parameters
    ----------
    problem : Problem
    upper_s : float, optional
        Objective of a known plan: bounds the horizon (in seconds).
    lower_s : float, optional
        A proven lower bound on the objective (seconds), added as a cut.
    unit_s : float, optional
        Time unit; default :func:`choose_unit` of the horizon.

    Returns
    -------
    (model, handles) where ``handles`` holds the variables and the scaling.
    """
    from ortools.sat.python import cp_model

    from .lagrangian import contended_servers

    kind = problem.instance.objective.kind
    if kind not in KINDS:
        raise ValueError(f"cpsat covers {KINDS}, not {kind!r}")
    pb = path_bound(problem)
    head, tail = time_bounds(problem)
    rel = problem.release_s
    lb_t = pb.task_value
    from .milp import list_horizon

    horizon = list_horizon(problem)
    if upper_s is not None and math.isfinite(upper_s):
        if kind == "makespan":
            horizon = min(horizon, upper_s + rel.min())
        else:
            horizon = min(horizon, float((rel + upper_s - (lb_t.sum() - lb_t)).max()))
    dl = np.where(np.isfinite(problem.deadline_s), rel + problem.deadline_s, np.inf)
    unit = unit_s or choose_unit(horizon)
    top = _floor(horizon * (1 + 1e-9), unit) + 1
    m = cp_model.CpModel()
    n_l, n_s = problem.n_layers, problem.n_servers
    allowed = problem.allowed & np.isfinite(head + tail)
    dur = {(g, s): _floor(problem.exec_s[g, s], unit)
           for g in range(n_l) for s in np.flatnonzero(allowed[g])}
    t_of = problem.layer_task
    start, x, ivs = {}, {}, {s: [] for s in range(n_s)}
    for g in range(n_l):
        lo = _floor(rel[t_of[g]] + np.min(head[g][allowed[g]]), unit)
        start[g] = m.NewIntVar(lo, top, f"S{g}")
        for s in np.flatnonzero(allowed[g]):
            s = int(s)
            x[g, s] = m.NewBoolVar(f"x{g}_{s}")
            ivs[s].append(m.NewOptionalFixedSizeIntervalVar(start[g], dur[g, s], x[g, s],
                                                            f"I{g}_{s}"))
        m.AddExactlyOne(x[g, s] for s in np.flatnonzero(allowed[g]))
    on = {g: [int(s) for s in np.flatnonzero(allowed[g])] for g in range(n_l)}

    def finish(g):
        return start[g] + sum(dur[g, s] * x[g, s] for s in on[g])

    for g in range(n_l):
        preds = problem.preds(g)
        rg = rel[t_of[g]]
        m.Add(start[g] >= sum(_floor(rg + head[g, s], unit) * x[g, s] for s in on[g]))
        if not len(preds):
            lag = input_lag(problem, g)
            m.Add(start[g] >= sum(_floor(rg + lag[s], unit) * x[g, s] for s in on[g]))
            continue
        for p in preds:
            p = int(p)
            lag = edge_lag(problem, p)
            for b in on[g]:
                terms = []
                for a in on[p]:
                    if not math.isfinite(lag[a, b]):
                        m.AddBoolOr([x[p, a].Not(), x[g, b].Not()])
                        continue
                    terms.append((dur[p, a] + _floor(lag[a, b], unit)) * x[p, a])
                m.Add(start[g] >= start[p] + sum(terms)).OnlyEnforceIf(x[g, b])
    ends, end_hi = [], []
    for t, layers in enumerate(problem.task_layers):
        lo = _floor(rel[t] + lb_t[t], unit) if problem.objective.time_valued else 0
        hi = top + _floor(np.max(problem.exec_s[layers]), unit) + 1
        if math.isfinite(dl[t]):
            hi = min(hi, _floor(dl[t], unit))
        if hi < lo:
            hi = lo  # the model is then infeasible through the cuts below
        e = m.NewIntVar(lo, max(lo, hi), f"E{t}")
        ends.append(e)
        end_hi.append(max(lo, hi))
        for g in layers:
            g = int(g)
            m.Add(e >= start[g] + sum(_floor(tail[g, s], unit) * x[g, s] for s in on[g]))
            if problem.is_sink[g]:
                ret = return_lag(problem, g)
                m.Add(e >= finish(g) + sum(_floor(ret[s], unit) * x[g, s] for s in on[g]))
        if math.isfinite(dl[t]) and lo > _floor(dl[t], unit):
            m.Add(e <= lo - 1)   # contention-free latency already misses the deadline
    mem = problem.param_mb + problem.out_mb   # the simulator's memory rule
    for s in np.flatnonzero(np.isfinite(problem.memory_mb)):
        s = int(s)
        scale = 1e6   # MB to integer bytes-ish, rounded down: a relaxation
        m.Add(sum(int(math.floor(mem[g] * scale)) * x[g, s]
                  for g in range(n_l) if (g, s) in x)
              <= int(math.floor(problem.memory_mb[s] * (1 + 1e-9) * scale)))
    for s in np.flatnonzero(contended_servers(problem)):
        s = int(s)
        if not ivs[s]:
            continue
        if problem.pools[s] == 1:
            m.AddNoOverlap(ivs[s])
        else:
            m.AddCumulative(ivs[s], [1] * len(ivs[s]), int(problem.pools[s]))
    rel_units = sum(rel) / unit
    if kind == "makespan":
        cmax = m.NewIntVar(0, max(end_hi), "Cmax")
        for e in ends:
            m.Add(cmax >= e)
        obj = cmax
        if lower_s is not None and math.isfinite(lower_s):
            # a bound on a time grid must land on its unit, not one below by float error
            m.Add(cmax >= int(math.floor((lower_s + rel.min()) / unit + 1e-6)))
    else:
        obj = sum(ends)
        if lower_s is not None and math.isfinite(lower_s):
            # sum of floored ends >= (true sum of ends) / unit - T
            m.Add(obj >= math.floor((lower_s + sum(rel)) / unit) - problem.n_tasks)
    m.Minimize(obj)
    handles = {"x": x, "start": start, "ends": ends, "unit": unit, "on": on,
               "rel_units": rel_units, "kind": kind, "min_release": float(rel.min())}
    return m, handles


def _bound_seconds(handles, value_units: float) -> float:
    """Convert the model's objective bound back to the instance's objective (seconds)."""
    unit = handles["unit"]
    if handles["kind"] == "makespan":
        return value_units * unit - handles["min_release"]
    # sum of ends (floored) <= true sum of ends / unit
    return value_units * unit - handles["rel_units"] * unit


def _run(instance, upper, lower, unit_s, hint_assign, hint_start, seed, workers,
         time_limit_s, log, deadline_epoch=None, deterministic_s=None):
    """Build and solve in this process; plain results only (runs in a child process).

    ``deadline_epoch`` (``time.time()`` seconds) caps the search so that the child's
    start-up and the model building count against the caller's time limit.
    ``deterministic_s``: interleave the ``workers`` subsolvers in one thread and stop
    after that much deterministic time (same seed, same plan, unless the wall-clock
    limit stops it first).
    """
    from ortools.sat.python import cp_model

    problem = Problem.from_instance(instance)
    model, h = build_cpsat(problem, upper, lower, unit_s)
    if hint_assign is not None:
        for (g, s), var in h["x"].items():
            model.AddHint(var, int(hint_assign[g] == s))
        for g, var in h["start"].items():
            model.AddHint(var, _floor(float(hint_start[g]), h["unit"]))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = int(workers)
    solver.parameters.random_seed = int(seed or 0)
    solver.parameters.log_search_progress = bool(log)
    if deterministic_s is not None:
        solver.parameters.interleave_search = True
        solver.parameters.max_deterministic_time = float(deterministic_s)
    if deadline_epoch is not None:
        left = deadline_epoch - time.time()
        time_limit_s = left if time_limit_s is None else min(time_limit_s, left)
    if time_limit_s is not None:
        solver.parameters.max_time_in_seconds = max(0.01, float(time_limit_s))
    code = solver.Solve(model)
    out = {"status": solver.StatusName(code), "unit": h["unit"], "wall_s": solver.WallTime(),
           "bound": None, "assign": None, "start": None}
    if code in (cp_model.OPTIMAL, cp_model.FEASIBLE, cp_model.UNKNOWN):
        out["bound"] = _bound_seconds(h, solver.BestObjectiveBound())
    if code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        assign = np.full(problem.n_layers, -1, dtype=np.int64)
        for (g, s), var in h["x"].items():
            if solver.Value(var):
                assign[g] = s
        out["assign"] = assign
        out["start"] = np.array([solver.Value(h["start"][g])
                                 for g in range(problem.n_layers)], dtype=float)
    return out


def run_isolated(*args, timeout_s: float | None = None, log: bool = False):
    """:func:`_run` in a fresh process (:func:`run_child`); None when it outlives
    ``timeout_s`` (it is killed)."""
    return run_child("offloadlab.formulations.cpsat", args, timeout_s, log)


def run_child(module: str, payload, timeout_s: float | None, log: bool = False):
    """The pickled answer of ``python -m module`` given ``payload`` pickled on stdin;
    None when the child outlives ``timeout_s`` (it is killed). With ``log`` the child's
    stderr, where :func:`answer_channel` sends its solver's log, is the caller's;
    without it, it is kept for the error of a child that fails.

    OR-Tools and highspy ship incompatible builds of the HiGHS library and cannot be
    loaded into one process (whichever comes second fails to import), so CP-SAT always
    runs in a spawned child: the MILP, the makespan MILP and CP-SAT can then be used in
    one session (``exact``, ``gap``).
    """
    import pickle
    import subprocess
    import sys

    try:
        proc = subprocess.run([sys.executable, "-m", module], input=pickle.dumps(payload),
                              stdout=subprocess.PIPE,
                              stderr=None if log else subprocess.PIPE,
                              check=False, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return None
    if proc.returncode != 0:
        raise RuntimeError("the CP-SAT child process failed: " + (
            "see its output above" if log else proc.stderr.decode(errors="replace")[-2000:]))
    return pickle.loads(proc.stdout)


def answer_channel():
    """In a child of :func:`run_child`: the binary file its answer goes to (the
    original stdout), with whatever else writes to stdout (CP-SAT's log, from C++)
    sent to stderr instead, so that nothing but the answer reaches the parent's pipe."""
    import os

    channel = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    return channel


def read_request(module: str):
    """In a child of :func:`run_child`: the pickled arguments on stdin. Run by hand
    (arguments, a terminal, or nothing on stdin) it exits with one line saying what
    to run instead, not a traceback."""
    import pickle
    import sys

    data = b"" if len(sys.argv) > 1 or sys.stdin.isatty() else sys.stdin.buffer.read()
    try:
        return pickle.loads(data)
    except Exception:
        sys.exit(f"Error: {module} is the CP-SAT child process of the solvers; run "
                 "`offloadlab solve INSTANCE --solver cpsat` (or exact) instead")


def solve(problem: Problem, *, seed=None, time_limit_s=None, budget_evals=None,
          workers: int = 1, unit_s: float | None = None, warm_start: bool = True,
          lower_s: float | None = None, hint=None, log: bool = False,
          deterministic_s: float | None = None):
    """Solve with CP-SAT (see the module docstring for the time scaling).

    Parameters
    ----------
    seed : int, optional
        CP-SAT ``random_seed``.
    time_limit_s : float, optional
        Seconds in all: the child process's start-up and the model building count, and
        a child that outlives the limit by 1 s is killed (the hint is then returned with
        status ``time_limit``).
    workers : int
        CP-SAT search workers. 1 (the default) is deterministic: same seed, same plan;
        more search in parallel, and two runs may then return different optimal plans.
    unit_s : float, optional
        Time unit (default :func:`choose_unit`).
    warm_start : bool
        Hint the best of greedy and the contention-free plan (or ``hint``).
    lower_s : float, optional
        A known lower bound (seconds) to add as a cut and to report if higher.
    hint : (assign, priority), optional
        A plan to hint instead of the greedy/contention-free one.
    deterministic_s : float, optional
        Interleave ``workers`` subsolvers (LNS, core, ...) in one thread, deterministic,
        up to this much deterministic time (still capped by ``time_limit_s``). On
        ``hard_slot(0)`` with 8 subsolvers: 0.8074 in 70 s of wall time, where 8
        parallel workers reached 0.8082 in 240 s and 1 worker 0.8374 in 18 s.
    """
    from .milp import incumbent, start_order

    started = time.perf_counter()
    kind = problem.instance.objective.kind
    params = {"workers": workers, "time_limit_s": time_limit_s, "unit_s": unit_s,
              "deterministic_s": deterministic_s}
    if kind not in KINDS:
        raise ValueError(f"cpsat covers {KINDS}, not {kind!r}")
    pb = path_bound(problem)
    if not math.isfinite(pb.bound):
        return make_solution(problem, "cpsat", None, started=started, status="infeasible",
                             params=params, message=pb.reason)
    assign0, prio0, upper = (None, None, None)
    if hint is not None:
        assign0, prio0 = hint
        upper = float(simulate(problem, assign0, prio0).objective[0])
    elif warm_start:
        assign0, prio0, upper = incumbent(problem)
    lower = max(pb.bound, lower_s) if lower_s is not None else pb.bound
    start0 = simulate(problem, assign0, prio0).start_s[0] if assign0 is not None else None
    left = time_left(time_limit_s, started)
    out = run_isolated(problem.instance, upper, lower, unit_s, assign0, start0, seed,
                       workers, None, log, None if left is None else time.time() + left,
                       deterministic_s, timeout_s=None if left is None else left + 1.0,
                       log=log)
    if out is None:  # killed at the time limit (start-up or model building took it)
        out = {"status": "UNKNOWN", "unit": 0.0, "wall_s": 0.0, "bound": None,
               "assign": None, "start": None}
    if out["status"] == "INFEASIBLE":
        return make_solution(problem, "cpsat", None, started=started, status="infeasible",
                             params=params, seed=seed,
                             message="CP-SAT proved the model infeasible (deadlines)")
    bound = None if out["bound"] is None else max(out["bound"], lower)
    candidates = []
    if out["assign"] is not None:
        candidates.append((out["assign"], start_order(problem, out["start"])))
    if assign0 is not None:
        candidates.append((assign0, prio0))
    if not candidates:
        return make_solution(problem, "cpsat", None, started=started, status="time_limit",
                             bound=bound, bound_source="cpsat", params=params, seed=seed,
                             message="no plan within the time limit")
    values = [float(simulate(problem, a, p).objective[0]) for a, p in candidates]
    k = int(np.argmin(values))
    assign, prio = candidates[k]
    tol = (1e-6 * max(1.0, abs(bound)) + problem.n_layers * out["unit"]) if bound else 0.0
    if out["status"] == "OPTIMAL" and bound is not None and values[k] <= bound + tol:
        status = "optimal"
    elif out["status"] == "OPTIMAL":
        status = "feasible"
    else:
        status = "time_limit"
    source = "cpsat"
    if bound is not None and bound <= lower:
        source = "given lower bound" if lower_s is not None and lower_s > pb.bound \
            else "contention-free DP"
    return make_solution(problem, "cpsat", assign, prio, started=started, status=status,
                         bound=bound, bound_source=source, params=params, seed=seed,
                         message=f"CP-SAT {out['status']} in {out['wall_s']:.2f} s; "
                                 f"unit {out['unit']:g} s")


if __name__ == "__main__":   # the child of run_isolated: pickled arguments on stdin
    import os
    import pickle

    args = read_request("offloadlab.formulations.cpsat")
    channel = answer_channel()
    result = _run(*args)
    channel.write(pickle.dumps(result))
    channel.flush()
    os._exit(0)  # the interpreter's teardown (OR-Tools, numba) would count against the limit

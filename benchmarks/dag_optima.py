"""Proven optima of the generated identical-server DAGs of ``decoders --at-bound``.

The 32 instances: 50- and 100-node ``layered`` and ``random`` DAGs (generator seeds 0
and 1) on 2, 4, 8 and 16 identical one-slot servers without data (P|prec|Cmax). For
each, the best plan of HEFT, GA and PSO-GA (default budget, seed 0) is the upper bound;
it is optimal at once when it meets :func:`offloadlab.formulations.bounds.best_bound`,
else CP-SAT proves or improves it on the *cumulative* model of P|prec|Cmax: one interval
per layer, precedences, one cumulative of capacity m over all layers. That model is
exact here: every processing time is a multiple of 1 ms (the generator rounds them), so
integer milliseconds lose nothing, and a schedule whose load never exceeds m at any time
is an interval graph coloured by m servers (:func:`plan_from_starts`). The proven
schedules are stored in ``dag_optima.json`` with how and how fast they were proven;
:func:`check` re-scores every stored plan with the simulator.

Run: ``python -m offloadlab.benchmarks.dag_optima [--prove-s 90] [--write]`` (CP-SAT
runs in this process: nothing here imports highspy, whose HiGHS clashes with OR-Tools').
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

DATA = Path(__file__).with_name("dag_optima.json")
UNIT_S = 1e-3   # the generator rounds processing times to 1e-3 s at 1 GHz
SOLVERS = ("heft", "ga", "pso-ga")


def cases():
    """(nodes, servers, shape, seed) of the 32 instances, in the benchmark's order."""
    for nodes in (50, 100):
        for servers in (2, 4, 8, 16):
            for shape in ("layered", "random"):
                for seed in (0, 1):
                    yield nodes, servers, shape, seed


def problem_of(nodes: int, servers: int, shape: str, seed: int):
    """The generated instance as a Problem."""
    from offloadlab.instances.generators import random_dag_instance
    from offloadlab.problem import Problem

    return Problem.from_instance(random_dag_instance(nodes=nodes, shape=shape,
                                                     servers=servers, seed=seed))


def _identical_without_data(problem) -> int:
    """Number of servers m; raises ValueError outside P|prec|Cmax on one DAG."""
    if (problem.n_tasks != 1 or (problem.task_device >= 0).any()
            or not problem.allowed.all() or (problem.pools != 1).any()
            or np.ptp(problem.ghz) > 0 or (problem.out_mb > 0).any()):
        raise ValueError(f"{problem.instance.name}: not one DAG on identical one-slot "
                         "servers without data")
    return problem.n_servers


def plan_from_starts(problem, start_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(assign, priority) of a schedule given by start times: layers by start, each on
    the server that has been free longest (interval-graph colouring: never more than m
    layers overlap, so a server is always free). Simulating it in that order starts no
    layer later than ``start_s``.

    Raises
    ------
    ValueError
        When more than m layers overlap at some time.
    """
    m = _identical_without_data(problem)
    dur = problem.exec_s[:, 0]
    order = np.lexsort((np.arange(problem.n_layers), start_s))
    free = np.zeros(m)
    assign = np.zeros(problem.n_layers, dtype=np.int64)
    for g in order:
        s = int(np.argmin(free))
        if free[s] > start_s[g] + 1e-9:
            raise ValueError(f"{problem.instance.name}: more than {m} layers overlap at "
                             f"{start_s[g]:.3f} s")
        assign[g], free[s] = s, start_s[g] + dur[g]
    return assign, order.astype(np.int64)


def cumulative_cpsat(problem, *, upper_starts: np.ndarray | None, lower_s: float,
                     time_limit_s: float, seed: int = 0, workers: int = 1) -> dict:
    """CP-SAT on the cumulative model of P|prec|Cmax in integer milliseconds.

    ``upper_starts``: a schedule's start times (the hint; its makespan caps the
    objective). Returns status (``optimal`` / ``feasible`` / ``unknown``), the makespan
    and bound in seconds, the start times and the wall time.
    """
    from ortools.sat.python import cp_model

    m = _identical_without_data(problem)
    dur = np.round(problem.exec_s[:, 0] / UNIT_S).astype(int)
    if np.abs(dur * UNIT_S - problem.exec_s[:, 0]).max() > 1e-9:
        raise ValueError(f"{problem.instance.name}: processing times off the 1 ms grid")
    horizon = int(dur.sum())
    model = cp_model.CpModel()
    start = [model.NewIntVar(0, horizon, f"s{g}") for g in range(problem.n_layers)]
    ivs = [model.NewFixedSizeIntervalVar(start[g], int(dur[g]), f"i{g}")
           for g in range(problem.n_layers)]
    cmax = model.NewIntVar(int(np.ceil(lower_s / UNIT_S - 1e-6)), horizon, "cmax")
    for g in range(problem.n_layers):
        for p in problem.preds(g):
            model.Add(start[int(p)] + int(dur[int(p)]) <= start[g])
        if problem.is_sink[g]:
            model.Add(start[g] + int(dur[g]) <= cmax)
    model.AddCumulative(ivs, [1] * problem.n_layers, m)
    if upper_starts is not None:
        hint = np.round(upper_starts / UNIT_S).astype(int)
        model.Add(cmax <= int((hint + dur).max()))
        for g in range(problem.n_layers):
            model.AddHint(start[g], int(hint[g]))
    model.Minimize(cmax)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = float(time_limit_s)
    solver.parameters.num_workers = int(workers)
    solver.parameters.random_seed = int(seed)
    started = time.perf_counter()
    code = solver.Solve(model)
    wall = time.perf_counter() - started
    status = {cp_model.OPTIMAL: "optimal", cp_model.FEASIBLE: "feasible"}.get(code,
                                                                            "unknown")
    out = {"status": status, "wall_s": wall,
           "bound_s": float(solver.BestObjectiveBound()) * UNIT_S}
    if status != "unknown":
        out["makespan_s"] = float(solver.ObjectiveValue()) * UNIT_S
        out["start_s"] = np.array([solver.Value(s) for s in start]) * UNIT_S
    return out


def best_plans(problem) -> dict:
    """Objective, assign and priority of HEFT, GA and PSO-GA (default budget, seed 0)."""
    from offloadlab.registry import get_solver

    out = {}
    for name in SOLVERS:
        kw = {} if name == "heft" else {"seed": 0}
        sol = get_solver(name)(problem, **kw)
        out[name] = (float(sol.objective), np.asarray(sol.assign), np.asarray(sol.priority))
    return out


def prove(case, prove_s: float) -> dict:
    """The proven optimum of one case (or the best plan and bound within ``prove_s``)."""
    from offloadlab.formulations.bounds import best_bound
    from offloadlab.simulator import simulate

    problem = problem_of(*case)
    plans = best_plans(problem)
    name = min(plans, key=lambda k: plans[k][0])
    upper, assign, priority = plans[name]
    started = time.perf_counter()
    lower, source = best_bound(problem, upper=upper, time_limit_s=5.0)
    row = {"instance": problem.instance.name, "case": list(case),
           "heuristics": {k: v[0] for k, v in plans.items()}, "best_bound": lower,
           "bound_source": source}
    if upper <= lower * (1 + 1e-9):
        method, status = f"plan of {name} meets the {source} bound", "optimal"
    else:
        ev = simulate(problem, assign, priority)
        res = cumulative_cpsat(problem, upper_starts=ev.start_s[0], lower_s=lower,
                               time_limit_s=prove_s)
        status = res["status"]
        lower = max(lower, res["bound_s"])
        method = f"CP-SAT cumulative model, hint from {name}"
        if res["status"] in ("optimal", "feasible") and res["makespan_s"] < upper - 1e-9:
            assign, priority = plan_from_starts(problem, res["start_s"])
            upper = float(simulate(problem, assign, priority).objective[0])
            method += " (improved on it)"
        if status == "feasible":
            status = "time_limit"
    row.update(optimum=upper if status == "optimal" else None, upper=upper,
               lower=float(lower), status=status, method=method,
               proof_s=round(time.perf_counter() - started, 2),
               assign=[int(a) for a in assign], priority=[int(p) for p in priority])
    return row


def check(rows: list[dict]) -> list[str]:
    """Errors in stored rows: a plan whose simulated value is not its stored upper
    value, a bound of :func:`best_bound` above a stored optimum, a lower above upper."""
    from offloadlab.formulations.bounds import best_bound
    from offloadlab.simulator import simulate

    errors = []
    for row in rows:
        problem = problem_of(*row["case"])
        value = float(simulate(problem, np.array(row["assign"]),
                               np.array(row["priority"])).objective[0])
        if abs(value - row["upper"]) > 1e-6:
            errors.append(f"{row['instance']}: plan simulates to {value}, stored "
                          f"{row['upper']}")
        lb = best_bound(problem, upper=None)[0]
        if lb > row["upper"] + 1e-6 or row["lower"] > row["upper"] + 1e-6:
            errors.append(f"{row['instance']}: bound {lb} / {row['lower']} above the "
                          f"plan's {row['upper']}")
    return errors


def load() -> list[dict]:
    """The stored rows (``dag_optima.json``)."""
    return json.loads(DATA.read_text())


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prove-s", type=float, default=90.0,
                    help="CP-SAT seconds per instance whose plan misses the bound")
    ap.add_argument("--only", type=int, nargs="*", help="case indices (0-31)")
    ap.add_argument("--write", action="store_true", help=f"store the rows in {DATA.name}")
    ap.add_argument("--check", action="store_true", help="check the stored rows")
    args = ap.parse_args(argv)
    if args.check:
        errors = check(load())
        print("\n".join(errors) or "all stored plans and bounds check", file=sys.stderr)
        raise SystemExit(1 if errors else 0)
    store = {tuple(r["case"]): r for r in load()} if DATA.exists() else {}
    for k, case in enumerate(cases()):
        if args.only and k not in args.only:
            continue
        row = prove(case, args.prove_s)
        store[case] = row
        print(f"{k:2d} {row['instance']:28s} {row['status']:10s} upper {row['upper']:.3f} "
              f"lower {row['lower']:.3f} ({row['method']}; {row['proof_s']} s) "
              + " ".join(f"{n} {v:.3f}" for n, v in row["heuristics"].items()),
              file=sys.stderr, flush=True)
        if args.write:
            rows = [store[c] for c in cases() if c in store]
            DATA.write_text(json.dumps(rows, indent=None, separators=(",", ":"))
                            .replace("},{", "},\n{") + "\n")


if __name__ == "__main__":
    main()

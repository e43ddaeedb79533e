"""Proven optima of the generated identical-server DAGs of ``decoders --at-bound``.

The 32 instances: 50- and 100-node ``layered`` and ``random`` DAGs (generator seeds 0
and 1) on 2, 4, 8 and 16 identical one-slot servers without data (P|prec|Cmax). For
each, the best plan of HEFT, GA and PSO-GA (default budget, seed 0; or a stored better
one) is the upper bound; it is optimal at once when it meets
:func:`offloadlab.formulations.bounds.best_bound`, else CP-SAT proves or improves it
piece by piece: the DAG is cut at its bottlenecks (:func:`segments`) and each piece is
solved exactly (:func:`segment_cpsat`), in integer milliseconds, which loses nothing
since the generator rounds every processing time to 1 ms. A schedule of start times
becomes a plan by interval-graph colouring (:func:`plan_from_starts`). The rows are
stored in ``dag_optima.json`` with how and how fast they were proven; :func:`check`
re-scores every stored plan with the simulator.

Run: ``python -m offloadlab.benchmarks.dag_optima [--prove-s 90] [--unproven] [--write]``
(CP-SAT runs in this process: nothing here imports highspy, whose HiGHS clashes with
OR-Tools'); ``--measure``: HEFT, GA and PSO-GA against the stored rows; ``--exact 30``:
``exact`` on every instance; ``--check``: the stored plans and bounds.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from offloadlab.cli import positive

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


def segments(problem) -> list[np.ndarray]:
    """The layers cut at *bottlenecks* (layers comparable with every other: each other
    layer is an ancestor or a descendant), in order: [segment, bottleneck, segment, …]
    with empty segments left out. Every layer of a segment runs after the bottleneck
    before it and before the one after it, so an optimal schedule is the optimal
    schedules of the segments and the bottlenecks one after the other."""
    n = problem.n_layers
    anc = np.zeros((n, n), dtype=bool)
    for g in range(n):   # layers are in topological order
        for p in problem.preds(g):
            anc[g] |= anc[int(p)]
            anc[g, int(p)] = True
    related = anc | anc.T | np.eye(n, dtype=bool)
    cuts = np.flatnonzero(related.all(axis=1))
    out, rank = [], anc.sum(axis=1)
    prev = np.zeros(n, dtype=bool)   # layers placed so far
    for b in cuts[np.argsort(rank[cuts], kind="stable")]:
        seg = np.flatnonzero(anc[b] & ~prev)
        if len(seg):
            out.append(seg)
        out.append(np.array([b]))
        prev |= anc[b]
        prev[b] = True
    if (~prev).any():
        out.append(np.flatnonzero(~prev))
    return out


def _colour(start: np.ndarray, dur: np.ndarray, m: int) -> np.ndarray:
    """Server per layer of a schedule of at most m overlapping layers: by start, each on
    the server free longest; servers then renamed by first use in index order."""
    free = np.zeros(m)
    colour = np.zeros(len(start), dtype=np.int64)
    for i in np.lexsort((np.arange(len(start)), start)):
        colour[i] = int(np.argmin(free))
        free[colour[i]] = start[i] + dur[i]
    first = {}
    for c in colour:
        first.setdefault(int(c), len(first))
    return np.array([first[int(c)] for c in colour], dtype=np.int64)


def segment_cpsat(problem, layers: np.ndarray, *, hint_s: np.ndarray | None,
                  time_limit_s: float, seed: int = 0, workers: int = 1) -> dict:
    """CP-SAT on P|prec|Cmax in integer milliseconds over the sub-DAG of ``layers``
    (arcs to other layers dropped; time 0 at its start).

    Each layer has an interval and a server (optional intervals, one no-overlap per
    server; a layer may use server ``s`` only if an earlier layer uses ``s - 1``, which
    breaks the symmetry of identical servers), and the cumulative of capacity m over all
    intervals is kept as a redundant constraint. ``hint_s``: start times of a schedule
    of these layers (the hint; its span caps the objective). Returns status
    (``optimal`` / ``feasible`` / ``unknown``), the makespan and bound in seconds, the
    start times and the wall time.
    """
    from ortools.sat.python import cp_model

    m = _identical_without_data(problem)
    n = len(layers)
    dur = np.round(problem.exec_s[layers, 0] / UNIT_S).astype(int)
    if np.abs(dur * UNIT_S - problem.exec_s[layers, 0]).max() > 1e-9:
        raise ValueError(f"{problem.instance.name}: processing times off the 1 ms grid")
    local = {int(g): i for i, g in enumerate(layers)}
    horizon = int(dur.sum())
    model = cp_model.CpModel()
    start = [model.NewIntVar(0, horizon, f"s{i}") for i in range(n)]
    cmax = model.NewIntVar(0, horizon, "cmax")
    on = [[model.NewBoolVar(f"x{i}_{s}") for s in range(min(m, i + 1))] for i in range(n)]
    per_server = [[] for _ in range(m)]
    for i in range(n):
        model.AddExactlyOne(on[i])
        for s, x in enumerate(on[i]):
            per_server[s].append(model.NewOptionalFixedSizeIntervalVar(
                start[i], int(dur[i]), x, f"i{i}_{s}"))
            if s:
                model.AddBoolOr([on[j][s - 1] for j in range(s - 1, i)]).OnlyEnforceIf(x)
        for p in problem.preds(int(layers[i])):
            if int(p) in local:
                model.Add(start[local[int(p)]] + int(dur[local[int(p)]]) <= start[i])
        model.Add(start[i] + int(dur[i]) <= cmax)
    for ivs in per_server:
        model.AddNoOverlap(ivs)
    model.AddCumulative([model.NewFixedSizeIntervalVar(start[i], int(dur[i]), f"c{i}")
                         for i in range(n)], [1] * n, m)
    if hint_s is not None:
        hint = np.round(hint_s / UNIT_S).astype(int)
        model.Add(cmax <= int((hint + dur).max()))
        for i, c in enumerate(_colour(hint, dur, m)):
            model.AddHint(start[i], int(hint[i]))
            for s, x in enumerate(on[i]):
                model.AddHint(x, int(s == c))
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


def prove_by_segments(problem, start_s: np.ndarray, lower_s: float,
                      time_limit_s: float) -> dict:
    """The CP-SAT model of :func:`segment_cpsat` on each segment between bottlenecks (:func:`segments`), the
    schedule ``start_s`` giving each segment its hint, the time shared by the segments
    in proportion to their sizes. Segments of at most m layers are scheduled at their
    critical path (nothing waits); the others go to CP-SAT. Returns the joined schedule,
    its makespan, the summed bounds and the status (optimal when every segment is).
    """
    m = _identical_without_data(problem)
    dur = problem.exec_s[:, 0]
    parts = segments(problem)
    big = [s for s in parts if len(s) > m]
    total = sum(len(s) for s in big) or 1
    out_start = np.zeros(problem.n_layers)
    t = bound = 0.0
    status = "optimal"
    for seg in parts:
        if len(seg) <= m:      # longest path, no waiting
            loc = np.zeros(problem.n_layers)
            for g in seg:
                loc[g] = max([loc[p] + dur[p] for p in problem.preds(int(g))
                              if p in set(seg)], default=0.0)
            span = float((loc[seg] + dur[seg]).max())
            out_start[seg] = t + loc[seg]
            t, bound = t + span, bound + span
            continue
        hint = start_s[seg] - start_s[seg].min()
        res = segment_cpsat(problem, seg, hint_s=hint, time_limit_s=max(1.0, time_limit_s * len(seg) / total))
        if res["status"] == "unknown":
            res.update(start_s=hint, makespan_s=float((hint + dur[seg]).max()))
        if res["status"] != "optimal":
            status = "time_limit"
        out_start[seg] = t + res["start_s"]
        t, bound = t + res["makespan_s"], bound + res["bound_s"]
    return {"status": status, "makespan_s": t, "bound_s": max(bound, lower_s),
            "start_s": out_start, "segments": [len(s) for s in parts]}


def best_plans(problem) -> dict:
    """Objective, assign and priority of HEFT, GA and PSO-GA (default budget, seed 0)."""
    from offloadlab.registry import get_solver

    out = {}
    for name in SOLVERS:
        kw = {} if name == "heft" else {"seed": 0}
        sol = get_solver(name)(problem, **kw)
        out[name] = (float(sol.objective), np.asarray(sol.assign), np.asarray(sol.priority))
    return out


def prove(case, prove_s: float, known: dict | None = None) -> dict:
    """The proven optimum of one case (or the best plan and bound within ``prove_s``);
    ``known``: a stored row whose plan starts the proof when it is the best."""
    from offloadlab.formulations.bounds import best_bound
    from offloadlab.simulator import simulate

    problem = problem_of(*case)
    plans = best_plans(problem)
    name = min(plans, key=lambda k: plans[k][0])
    upper, assign, priority = plans[name]
    if known is not None and known["upper"] < upper - 1e-9:
        name = "an earlier run"
        upper, assign, priority = (known["upper"], np.array(known["assign"]),
                                   np.array(known["priority"]))
    started = time.perf_counter()
    lower, source = best_bound(problem, upper=upper, time_limit_s=5.0)
    row = {"instance": problem.instance.name, "case": list(case),
           "heuristics": {k: v[0] for k, v in plans.items()}, "best_bound": lower,
           "bound_source": source}
    if upper <= lower * (1 + 1e-9):
        method, status = f"plan of {name} meets the {source} bound", "optimal"
    else:
        ev = simulate(problem, assign, priority)
        res = prove_by_segments(problem, ev.start_s[0], lower, prove_s)
        status = res["status"]
        lower = max(lower, res["bound_s"])
        method = (f"CP-SAT per segment between bottlenecks "
                  f"({len(res['segments'])}: largest {max(res['segments'])} layers), "
                  f"hint from {name}")
        if res["makespan_s"] < upper - 1e-9:
            assign, priority = plan_from_starts(problem, res["start_s"])
            upper = float(simulate(problem, assign, priority).objective[0])
            method += " (improved on it)"
        if upper <= lower * (1 + 1e-9):   # an improved plan met the bound
            status = "optimal"
        elif status != "optimal":
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


def measure(rows: list[dict], seed: int = 0) -> dict:
    """HEFT, GA and PSO-GA (default budget, ``auto`` decoder, ``seed``) against the
    stored rows: per solver, how many reach the proven optimum, how many the best known
    plan, how many are worse than HEFT, the largest gap to the best known plan (%), and
    the simulator evaluations per CPU second over all the runs. ``plans``: where a run
    beats the stored plan, that run's (instance, makespan, assign, priority, solver)."""
    from offloadlab.registry import get_solver

    out: dict = {s: {"at optimum": 0, "at best known": 0, "worse than heft": 0,
                     "max gap %": 0.0, "evals": 0, "cpu s": 0.0} for s in SOLVERS}
    plans = []
    for row in rows:
        problem = problem_of(*row["case"])
        got = {}
        for s in SOLVERS:
            cpu = time.process_time()
            sol = get_solver(s)(problem, **({} if s == "heft" else {"seed": seed}))
            out[s]["cpu s"] += time.process_time() - cpu
            out[s]["evals"] += int(sol.evaluations)
            got[s] = float(sol.objective)
            if got[s] < row["upper"] - 1e-9:
                plans.append({"instance": row["instance"], "makespan_s": got[s],
                              "assign": [int(a) for a in sol.assign],
                              "priority": [int(p) for p in sol.priority], "solver": s})
        best = row["upper"]
        tol = 1e-6 * best
        for s, v in got.items():
            c = out[s]
            c["at optimum"] += int(row["status"] == "optimal" and v <= best + tol)
            c["at best known"] += int(v <= best + tol)
            c["worse than heft"] += int(v > got["heft"] + tol)
            c["max gap %"] = max(c["max gap %"], 100 * (v / best - 1))
        print(f"{row['instance']:26s} {row['status']:10s} best {best:9.3f} "
              + " ".join(f"{s} {100 * (v / best - 1):+.3f} %" for s, v in got.items()),
              file=sys.stderr, flush=True)
    for c in out.values():
        c["evals per cpu s"] = round(c["evals"] / max(c["cpu s"], 1e-9))
        c["cpu s"] = round(c["cpu s"], 1)
    out["plans"] = plans
    return out


def exact_check(rows: list[dict], time_limit_s: float = 30.0) -> dict:
    """``exact`` with ``time_limit_s`` on every stored instance: where the capacity
    bound is attained (the stored optimum equals :func:`best_bound`) it must prove the
    optimum; nowhere may its bound exceed the best known plan, nor may it claim an
    optimum above a stored one."""
    from offloadlab.formulations import exact
    from offloadlab.formulations.bounds import best_bound

    count = {"attained": 0, "proven where attained": 0, "proven": 0, "wrong": 0,
             "max s": 0.0}
    for row in rows:
        problem = problem_of(*row["case"])
        sol = exact.solve(problem, time_limit_s=time_limit_s)
        attained = row["status"] == "optimal" and row["upper"] <= best_bound(
            problem, upper=row["upper"])[0] * (1 + 1e-9)
        wrong = (sol.bound > row["upper"] * (1 + 1e-9)
                 or (sol.status == "optimal" and row["status"] == "optimal"
                     and abs(sol.objective - row["upper"]) > 1e-6 * row["upper"]))
        count["attained"] += int(attained)
        count["proven where attained"] += int(attained and sol.status == "optimal")
        count["proven"] += int(sol.status == "optimal")
        count["wrong"] += int(wrong)
        count["max s"] = max(count["max s"], round(sol.wall_s, 1))
        print(f"{row['instance']:26s} attained {attained!s:5s} exact {sol.status:10s} "
              f"{sol.objective:9.3f} bound {sol.bound:9.3f} {sol.wall_s:5.1f} s"
              + (" WRONG" if wrong else ""), file=sys.stderr, flush=True)
    return count


def load() -> list[dict]:
    """The stored rows (``dag_optima.json``)."""
    return json.loads(DATA.read_text())


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prove-s", type=positive(float), default=90.0,
                    help="CP-SAT seconds per instance whose plan misses the bound")
    ap.add_argument("--only", type=int, nargs="*", help="case indices (0-31)")
    ap.add_argument("--write", action="store_true", help=f"store the rows in {DATA.name}")
    ap.add_argument("--check", action="store_true", help="check the stored rows")
    ap.add_argument("--unproven", action="store_true", help="only the stored unproven")
    ap.add_argument("--measure", action="store_true",
                    help="HEFT, GA and PSO-GA against the stored optima")
    ap.add_argument("--exact", type=positive(float), metavar="SECONDS",
                    help="check exact with this time limit on the stored instances")
    args = ap.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(load())))
        return
    if args.exact:
        print(json.dumps(exact_check(load(), args.exact)))
        return
    if args.check:
        errors = check(load())
        print("\n".join(errors) or "all stored plans and bounds check", file=sys.stderr)
        raise SystemExit(1 if errors else 0)
    store = {tuple(r["case"]): r for r in load()} if DATA.exists() else {}
    for k, case in enumerate(cases()):
        if (args.only and k not in args.only) or (
                args.unproven and store.get(case, {}).get("status") == "optimal"):
            continue
        row = prove(case, args.prove_s, store.get(case))
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

"""Proven optima of the generated identical-server DAGs of ``decoders --at-bound``.

The 32 instances: 50- and 100-node ``layered`` and ``random`` DAGs (generator seeds 0
and 1) on 2, 4, 8 and 16 identical one-slot servers without data (P|prec|Cmax). For
each, the best plan of HEFT, GA and PSO-GA (default budget, seed 0; or a stored better
one, or one from ``--plans DIR``) is the upper bound; it is optimal at once when it
meets :func:`offloadlab.formulations.bounds.best_bound`, else CP-SAT proves or improves
it piece by piece: the DAG is cut at its bottlenecks (:func:`segments`) and each piece
is solved exactly (:func:`prove_by_pieces`, the model of
:mod:`offloadlab.formulations.makespan_cp`), in integer milliseconds, which loses
nothing since the generator rounds every processing time to 1 ms. A schedule of start times
becomes a plan by interval-graph colouring (:func:`plan_from_starts`). The rows are
stored in ``dag_optima.json`` with how and how fast they were proven; :func:`check`
re-scores every stored plan with the simulator.

Run: ``python -m offloadlab.benchmarks.dag_optima [--prove-s 90] [--unproven] [--write]
[--plans DIR] [--workers 2]``
(CP-SAT runs in this process: nothing here imports highspy, whose HiGHS clashes with
OR-Tools'); ``--measure [--seeds 0 1 …]``: HEFT, GA and PSO-GA against the stored rows
(one JSON object per seed, keyed by seed, when there are several); ``--exact 30``:
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
from offloadlab.formulations.makespan_cp import plan_from_starts, segments  # noqa: F401

DATA = Path(__file__).with_name("dag_optima.json")
UNIT_S = 1e-3   # the generator rounds processing times to 1e-3 s at 1 GHz
SOLVERS = ("heft", "ga", "pso-ga")
# share of each piece's range searched without CP-SAT's LP first (docs/decoders.md:
# 5 s from 1 ms above to dag-layered-100n-4p-s1's optimum, 30 s from GA's
# dag-layered-100n-8p-s0 plan to one 24 ms shorter, neither with the LP); `exact` keeps
# the LP there
NO_LP = 0.5


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


def prove_by_pieces(problem, start_s: np.ndarray, lower_s: float, time_limit_s: float,
                    workers: int = 2) -> dict:
    """Each piece between bottlenecks (:func:`segments`) to CP-SAT
    (:func:`offloadlab.formulations.makespan_cp.prove_by_pieces`: cumulative and
    servers, integer heads and tails), asked for a makespan below that of the schedule
    ``start_s`` on the piece, in integer milliseconds. Returns the joined schedule
    (``start_s``), its makespan, the bound (seconds) and the status (optimal when
    every piece is).
    """
    from offloadlab.formulations import makespan_cp

    res = makespan_cp.prove_by_pieces(
        makespan_cp.integer_durations(problem, UNIT_S), makespan_cp.predecessors(problem),
        makespan_cp.identical_servers(problem), segments(problem),
        np.round(start_s / UNIT_S).astype(np.int64),
        int(np.ceil(lower_s / UNIT_S - 1e-6)), time_limit_s, workers=workers, no_lp=NO_LP)
    return {"status": res["status"], "makespan_s": res["makespan"] * UNIT_S,
            "bound_s": max(res["bound"] * UNIT_S, lower_s),
            "start_s": res["start"] * UNIT_S, "segments": res["segments"]}


def best_plans(problem) -> dict:
    """Objective, assign and priority of HEFT, GA and PSO-GA (default budget, seed 0)."""
    from offloadlab.registry import get_solver

    out = {}
    for name in SOLVERS:
        kw = {} if name == "heft" else {"seed": 0}
        sol = get_solver(name)(problem, **kw)
        out[name] = (float(sol.objective), np.asarray(sol.assign), np.asarray(sol.priority))
    return out


def dropped_plans(problem, plans_dir: Path | None) -> list:
    """(value, assign, priority) of the plans in ``plans_dir/<instance>.json`` (an
    object or a list of objects with ``assign`` and ``priority``), each re-scored by the
    simulator (a stored value is not trusted); a file that does not hold a plan of the
    instance is skipped with a note on stderr."""
    from offloadlab.simulator import simulate

    path = Path(plans_dir or ".") / f"{problem.instance.name}.json"
    if plans_dir is None or not path.exists():
        return []
    try:
        data = json.loads(path.read_text())
        items = data if isinstance(data, list) else [data]
        out = []
        for item in items:
            assign, priority = np.array(item["assign"]), np.array(item["priority"])
            value = float(simulate(problem, assign, priority).objective[0])
            if np.isfinite(value):
                out.append((value, assign, priority))
        return out
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        print(f"{path}: skipped ({exc})", file=sys.stderr)
        return []


def prove(case, prove_s: float, known: dict | None = None, workers: int = 2,
          plans_dir: Path | None = None) -> dict:
    """The proven optimum of one case (or the best plan and bound within ``prove_s``).

    The upper bound is the best of HEFT, GA and PSO-GA, ``known`` (a stored row, whose
    proven lower bound is kept too) and the plans in ``plans_dir``
    (:func:`dropped_plans`), each scored by the simulator. It is optimal at once when
    it meets :func:`best_bound`; otherwise :func:`prove_by_pieces` proves it or finds a
    better plan (then scored by the simulator too).
    """
    from offloadlab.formulations.bounds import best_bound
    from offloadlab.simulator import simulate

    problem = problem_of(*case)
    plans = best_plans(problem)
    cands = [(v, a, p, k) for k, (v, a, p) in plans.items()]
    if known is not None:
        cands.append((known["upper"], np.array(known["assign"]),
                      np.array(known["priority"]), "an earlier run"))
    cands += [(v, a, p, "the --plans file")
              for v, a, p in dropped_plans(problem, plans_dir)]
    upper, assign, priority, name = min(cands, key=lambda c: c[0])
    started = time.perf_counter()
    lower, source = best_bound(problem, upper=upper, time_limit_s=5.0)
    row = {"instance": problem.instance.name, "case": list(case),
           "heuristics": {k: v[0] for k, v in plans.items()}, "best_bound": lower,
           "bound_source": source}
    earlier = known["lower"] if known is not None else -np.inf   # CP-SAT's, proven
    if upper <= lower * (1 + 1e-9):
        method, status = f"plan of {name} meets the {source} bound", "optimal"
    elif upper <= earlier * (1 + 1e-9):
        lower = earlier
        method = (f"CP-SAT per piece (an earlier run) bounds it; the plan of {name} "
                  "meets that bound")
        status = "optimal"
    else:
        ev = simulate(problem, assign, priority)
        res = prove_by_pieces(problem, ev.start_s[0], max(lower, earlier), prove_s,
                              workers)
        status = res["status"]
        lower = max(lower, res["bound_s"])
        method = ("CP-SAT per piece between bottlenecks, cumulative, servers and "
                  f"windows ({len(res['segments'])} pieces: largest {max(res['segments'])} "
                  f"layers), asked to beat the plan of {name}")
        if res["makespan_s"] < upper - 1e-9:
            assign, priority = plan_from_starts(problem, res["start_s"])
            upper = float(simulate(problem, assign, priority).objective[0])
            method += " (found a better one)"
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
    ap.add_argument("--workers", type=positive(int), default=2, help="CP-SAT workers")
    ap.add_argument("--plans", type=Path, metavar="DIR",
                    help="more plans to start from: DIR/<instance>.json")
    ap.add_argument("--only", type=int, nargs="*", choices=range(32), metavar="K",
                    help="case indices (0-31)")
    ap.add_argument("--write", action="store_true", help=f"store the rows in {DATA.name}")
    ap.add_argument("--check", action="store_true", help="check the stored rows")
    ap.add_argument("--unproven", action="store_true", help="only the stored unproven")
    ap.add_argument("--measure", action="store_true",
                    help="HEFT, GA and PSO-GA against the stored optima")
    ap.add_argument("--seeds", type=positive(int, zero_ok=True), nargs="+", default=[0],
                    metavar="K", help="--measure: the seeds of GA and PSO-GA (default 0)")
    ap.add_argument("--exact", type=positive(float), metavar="SECONDS",
                    help="check exact with this time limit on the stored instances")
    args = ap.parse_args(argv)
    if args.plans is not None and not args.plans.is_dir():
        ap.error(f"--plans {args.plans}: not a directory")
    if args.measure:
        out = {k: measure(load(), seed=k) for k in args.seeds}
        print(json.dumps(out[args.seeds[0]] if len(out) == 1 else out))
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
        row = prove(case, args.prove_s, store.get(case), args.workers, args.plans)
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

"""Multi-objective report: every algorithm over seeds against the exact front.

``python -m offloadlab.benchmarks.pareto_report [--instance NAME ...] [--seeds N]
[--algorithms nsga2,...] [--objectives all|delay,energy,...] [--budget-evals N] [--out DIR]``
prints a table of the exact front (points, CPU s), the HV ratio and IGD+ (median and
worst over seeds) and the CPU seconds per run for each (instance, objectives, algorithm)
(``--objectives all``: every pair and the triple the kind defines), writes it
as ``pareto.json`` and one front plot per instance into ``--out``; ``--fronts DIR`` keeps
the proven exact fronts there and reuses them. Where the exact front
is complete it is the reference (``reference: exact``); elsewhere (paper-size instances)
HV is compared with the nondominated union of every front found, labelled
``reference: union``, and IGD+ is then against that union. The plots mark the weighted
single-objective optimum: the front point minimising DDPQN's weights (0.5, 0.3, 0.2) on
objectives scaled to the front's range, or DMRO's ``delay + delta * energy``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import time
from pathlib import Path

import numpy as np

from offloadlab.cli import positive
from offloadlab.options import out_folder
from offloadlab.formulations.pareto import ParetoError, exact_front, nondominated
from offloadlab.heuristics.moo import ALGORITHMS, UNITS, objective_columns, search
from offloadlab.heuristics.moo_commands import indicators, reference_point
from offloadlab.heuristics.moo_plots import plot_fronts
from offloadlab.instance import InstanceError, load_instance
from offloadlab.instances.library import library_path
from offloadlab.problem import Problem

DEFAULT_INSTANCES = ("ddpqn-alexnet-tiny-s0", "ddpqn-alexnet-small-s0",
                     "dmro-workflows-tiny-s0", "dmro-workflows-small-s0")


def objectives_of(problem: Problem) -> tuple[str, ...]:
    kind = problem.instance.objective.kind
    return ("delay", "energy", "cost") if kind == "ddpqn" else ("delay", "energy")


def weighted_point(problem: Problem, front: np.ndarray) -> np.ndarray:
    """The front point of the paper's weighting (see the module docstring)."""
    spec = problem.instance.objective
    if spec.kind == "dmro":
        return front[np.argmin(front[:, 0] + spec.delta * front[:, 1])]
    lo, hi = front.min(axis=0), front.max(axis=0)
    scaled = (front - lo) / np.where(hi > lo, hi - lo, 1.0)
    w = np.array([spec.theta, spec.vartheta, spec.eta])[: front.shape[1]]
    return front[np.argmin(scaled @ w)]


def report(name: str, algorithms, seeds: int, budget_evals: int | None, objectives=None,
           exact_time_limit_s: float = 600.0, out_dir: Path | None = None,
           fronts_dir: Path | None = None) -> list[dict]:
    """Rows (instance, algorithm, seed, hv, hv_ratio, igd_plus, wall_s, reference)."""
    problem = Problem.from_instance(load_instance(library_path(name)))
    objectives = tuple(objectives or objectives_of(problem))
    columns = objective_columns(problem, objectives)
    ref = reference_point(problem, columns)
    exact, exact_cpu_s = cached_exact_front(problem, objectives, exact_time_limit_s,
                                            fronts_dir)
    runs = {(a, s): search(problem, a, objectives, seed=s, budget_evals=budget_evals)
            for a in algorithms for s in range(seeds)}
    if exact is not None and exact["proven"]:
        target, label = exact["front"], "exact"
    else:
        union = np.vstack([r["front"] for r in runs.values()]
                          + ([exact["front"]] if exact is not None else []))
        target, label = union[nondominated(union)], "union"
    rows = []
    for (a, s), r in runs.items():
        ind = indicators(r["front"], ref, target)
        rows.append({"instance": name, "objectives": list(objectives), "algorithm": a,
                     "seed": s, "points": len(r["front"]), "hv": ind["hv"],
                     "hv_ratio": ind["hv_ratio"], "igd_plus": ind["igd_plus"],
                     "evaluations": r["evaluations"], "wall_s": r["wall_s"],
                     "cpu_s": r["cpu_s"],
                     "reference": label, "reference_points": len(target),
                     "exact_proven": None if exact is None else bool(exact["proven"]),
                     "exact_method": None if exact is None else exact["method"],
                     "exact_points": None if exact is None else len(exact["front"]),
                     "exact_solves": None if exact is None else exact["solves"],
                     "exact_wall_s": None if exact is None else exact["wall_s"],
                     "exact_cpu_s": exact_cpu_s})
    if out_dir is not None:
        fronts = {a: runs[(a, 0)]["front"] for a in algorithms}
        fronts[label] = target
        plot_fronts(fronts, [UNITS[o] for o in objectives],
                    str(out_dir / f"{name}-{'-'.join(objectives)}.png"),
                    title=f"{name}: fronts (seed 0) and the {label} front",
                    points={"weighted optimum": weighted_point(problem, target)})
    return rows


def cached_exact_front(problem: Problem, objectives, time_limit_s: float,
                       fronts_dir: Path | None) -> tuple[dict | None, float]:
    """The exact front and the CPU seconds it took, read from ``fronts_dir`` when a proven
    one is stored there (``INSTANCE--OBJ-OBJ.npz``), else computed (and stored)."""
    path = None if fronts_dir is None else \
        Path(fronts_dir) / f"{problem.instance.name}--{'-'.join(objectives)}.npz"
    if path is not None and path.exists():
        z = np.load(path)
        return {"front": z["front"], "assign": z["assign"], "priority": z["priority"],
                "method": str(z["method"]), "proven": bool(z["proven"]),
                "solves": int(z["solves"]), "wall_s": float(z["wall_s"])}, float(z["cpu_s"])
    cpu = time.process_time()
    try:
        exact = exact_front(problem, objectives, time_limit_s=time_limit_s)
    except ParetoError:
        return None, 0.0
    cpu_s = time.process_time() - cpu
    if path is not None and exact["proven"]:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, cpu_s=cpu_s, **exact)
    return exact, cpu_s


def summary(rows: list[dict]) -> list[dict]:
    """Median and worst HV ratio and IGD+ per (instance, algorithm)."""
    out = []
    keys = sorted({(r["instance"], tuple(r["objectives"]), r["algorithm"]) for r in rows})
    for inst, objs, alg in keys:
        rs = [r for r in rows if (r["instance"], tuple(r["objectives"]), r["algorithm"])
              == (inst, objs, alg)]
        hv = [r["hv_ratio"] for r in rs]
        igd = [r["igd_plus"] for r in rs]
        out.append({"instance": inst, "objectives": list(objs), "algorithm": alg,
                    "reference": rs[0]["reference"],
                    **{k: rs[0][k] for k in ("exact_method", "exact_proven", "exact_points",
                                             "exact_solves", "exact_wall_s", "exact_cpu_s")},
                    "seeds": len(rs), "hv_ratio_median": statistics.median(hv),
                    "hv_ratio_min": min(hv), "igd_plus_median": statistics.median(igd),
                    "igd_plus_max": max(igd),
                    "wall_s_median": statistics.median(r["wall_s"] for r in rs),
                    "cpu_s_median": statistics.median(r["cpu_s"] for r in rs),
                    "cpu_s_max": max(r["cpu_s"] for r in rs)})
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instance", action="append", default=None)
    parser.add_argument("--algorithms", default=",".join(ALGORITHMS))
    parser.add_argument("--seeds", type=positive(int), default=5)
    parser.add_argument("--budget-evals", type=positive(int), default=None)
    parser.add_argument("--objectives", default=None)
    parser.add_argument("--exact-time-limit", type=positive(float), default=600.0)
    parser.add_argument("--out", type=out_folder, default="pareto-report")
    parser.add_argument("--fronts", type=out_folder, default=None,
                        help="Directory of stored proven exact fronts (read and written).")
    args = parser.parse_args(argv)
    algorithms = args.algorithms.split(",")
    if set(algorithms) - set(ALGORITHMS):
        parser.error(f"--algorithms {args.algorithms}: known are {', '.join(ALGORITHMS)}")
    sets = {}
    for name in args.instance or DEFAULT_INSTANCES:   # every mistake before any run
        try:
            sets[name] = objective_sets(name, args.objectives)
        except (FileNotFoundError, InstanceError, ValueError) as exc:
            parser.error(f"--instance {name} / --objectives: {exc}")
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, objective_list in sets.items():
        for objectives in objective_list:
            rows += report(name, algorithms, args.seeds, args.budget_evals,
                           objectives, args.exact_time_limit, out_dir,
                           Path(args.fronts) if args.fronts else None)
    table = summary(rows)
    (out_dir / "pareto.json").write_text(json.dumps({"runs": rows, "summary": table},
                                                    indent=1))
    print(f"{'instance':24} {'objectives':18} {'algorithm':9} {'ref':5} {'exact':>5} "
          f"{'ex_cpu':>7} {'HVr med':>8} {'HVr min':>8} {'IGD+ med':>9} {'IGD+ max':>9} "
          f"{'cpu med':>7} {'cpu max':>7}")
    for t in table:
        print(f"{t['instance']:24} {','.join(t['objectives']):18} {t['algorithm']:9} "
              f"{t['reference']:5} {t['exact_points'] or 0:5d} {t['exact_cpu_s']:7.1f} "
              f"{t['hv_ratio_median']:8.5f} {t['hv_ratio_min']:8.5f} "
              f"{t['igd_plus_median']:9.5f} {t['igd_plus_max']:9.5f} "
              f"{t['cpu_s_median']:7.2f} {t['cpu_s_max']:7.2f}")


def objective_sets(name: str, spec: str | None) -> list[tuple[str, ...]]:
    """``spec`` ``all``: every pair and the triple the kind defines; a comma list: that
    set; None: every objective the kind defines."""
    problem = Problem.from_instance(load_instance(library_path(name)))
    defined = objectives_of(problem)
    if spec is None:
        return [defined]
    if spec == "all":
        return [*itertools.combinations(defined, 2)] + ([defined] if len(defined) > 2 else [])
    wanted = tuple(spec.split(","))
    if set(wanted) - set(defined):
        raise ValueError(f"objectives {spec!r}: {name} defines {', '.join(defined)}")
    return [wanted]

if __name__ == "__main__":
    main()

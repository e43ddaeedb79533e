"""Multi-objective report: every algorithm over seeds against the exact front.

``python -m offloadlab.benchmarks.pareto_report [--instance NAME ...] [--seeds N]
[--algorithms nsga2,...] [--budget-evals N] [--out DIR]`` prints a table of the HV ratio
and IGD+ (median and worst over seeds) and wall time per (instance, algorithm), writes it
as ``pareto.json`` and one front plot per instance into ``--out``. Where the exact front
is complete it is the reference (``reference: exact``); elsewhere (paper-size instances)
HV is compared with the nondominated union of every front found, labelled
``reference: union``, and IGD+ is then against that union. The plots mark the weighted
single-objective optimum: the front point minimising DDPQN's weights (0.5, 0.3, 0.2) on
objectives scaled to the front's range, or DMRO's ``delay + delta * energy``.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import numpy as np

from offloadlab.formulations.pareto import ParetoError, exact_front, nondominated
from offloadlab.heuristics.moo import ALGORITHMS, UNITS, objective_columns, search
from offloadlab.heuristics.moo_commands import indicators, reference_point
from offloadlab.heuristics.moo_plots import plot_fronts
from offloadlab.instance import load_instance
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
           exact_time_limit_s: float = 600.0, out_dir: Path | None = None) -> list[dict]:
    """Rows (instance, algorithm, seed, hv, hv_ratio, igd_plus, wall_s, reference)."""
    problem = Problem.from_instance(load_instance(library_path(name)))
    objectives = tuple(objectives or objectives_of(problem))
    columns = objective_columns(problem, objectives)
    ref = reference_point(problem, columns)
    try:
        exact = exact_front(problem, objectives, time_limit_s=exact_time_limit_s)
    except ParetoError:
        exact = None
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
                     "reference": label, "reference_points": len(target),
                     "exact_proven": None if exact is None else bool(exact["proven"])})
    if out_dir is not None:
        fronts = {a: runs[(a, 0)]["front"] for a in algorithms}
        fronts[label] = target
        plot_fronts(fronts, [UNITS[o] for o in objectives], str(out_dir / f"{name}.png"),
                    title=f"{name}: fronts (seed 0) and the {label} front",
                    points={"weighted optimum": weighted_point(problem, target)})
    return rows


def summary(rows: list[dict]) -> list[dict]:
    """Median and worst HV ratio and IGD+ per (instance, algorithm)."""
    out = []
    keys = sorted({(r["instance"], r["algorithm"]) for r in rows})
    for inst, alg in keys:
        rs = [r for r in rows if r["instance"] == inst and r["algorithm"] == alg]
        hv = [r["hv_ratio"] for r in rs]
        igd = [r["igd_plus"] for r in rs]
        out.append({"instance": inst, "algorithm": alg, "reference": rs[0]["reference"],
                    "seeds": len(rs), "hv_ratio_median": statistics.median(hv),
                    "hv_ratio_min": min(hv), "igd_plus_median": statistics.median(igd),
                    "igd_plus_max": max(igd),
                    "wall_s_median": statistics.median(r["wall_s"] for r in rs)})
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instance", action="append", default=None)
    parser.add_argument("--algorithms", default=",".join(ALGORITHMS))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--budget-evals", type=int, default=None)
    parser.add_argument("--objectives", default=None)
    parser.add_argument("--exact-time-limit", type=float, default=600.0)
    parser.add_argument("--out", default="pareto-report")
    args = parser.parse_args(argv)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in args.instance or DEFAULT_INSTANCES:
        rows += report(name, args.algorithms.split(","), args.seeds, args.budget_evals,
                       args.objectives.split(",") if args.objectives else None,
                       args.exact_time_limit, out_dir)
    table = summary(rows)
    (out_dir / "pareto.json").write_text(json.dumps({"runs": rows, "summary": table},
                                                    indent=1))
    print(f"{'instance':28} {'algorithm':9} {'ref':5} {'HVr med':>8} {'HVr min':>8} "
          f"{'IGD+ med':>9} {'IGD+ max':>9} {'wall_s':>7}")
    for t in table:
        print(f"{t['instance']:28} {t['algorithm']:9} {t['reference']:5} "
              f"{t['hv_ratio_median']:8.5f} {t['hv_ratio_min']:8.5f} "
              f"{t['igd_plus_median']:9.5f} {t['igd_plus_max']:9.5f} "
              f"{t['wall_s_median']:7.2f}")


if __name__ == "__main__":
    main()

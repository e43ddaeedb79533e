"""Does a pymoo front cover every single-objective plan? (paper-size instances)

``python -m offloadlab.benchmarks.pareto_paper [--instance NAME] [--algorithm nsga2]
[--budget-evals N] [--seed S] [--solver-evals N] [--learner-evals N]`` runs the algorithm on the instance
(default ``ddpqn-vgg19-paper-s0``), then every installed registered solver that supports
the instance's kind (the heuristics and, once registered, the learners) with its own
default budget (or ``--solver-evals``; learners ``--learner-evals``), and prints, for each solver's plan, its
components and whether the front dominates it, holds it, or not; a plan the front does not cover is
reported as such (the exit code stays 0: it is a measurement).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from offloadlab.cli import UserError, load_problem, positive
from offloadlab.options import out_file
from offloadlab.heuristics.moo import ALGORITHMS, objective_columns, search
from offloadlab.registry import SOLVERS, available, solve
from offloadlab.simulator import components

SKIP = {"exact", "milp", "cpsat", "portfolio"}  # exact models: minutes on paper sizes


def covered(front: np.ndarray, point: np.ndarray, rtol: float = 1e-9) -> str:
    """``dominated`` / ``on front`` / ``not covered`` of a point against a front."""
    tol = rtol * np.maximum(1.0, np.abs(point))
    weak = (front <= point + tol).all(axis=1)
    if not weak.any():
        return "not covered"
    same = (np.abs(front - point) <= tol).all(axis=1)
    return "on front" if (weak & same).any() and not (weak & ~same).any() else "dominated"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instance", default="ddpqn-vgg19-paper-s0")
    parser.add_argument("--algorithm", default="nsga2", choices=ALGORITHMS)
    parser.add_argument("--budget-evals", type=positive(int), default=None)
    parser.add_argument("--seed", type=positive(int, zero_ok=True), default=0)
    parser.add_argument("--solver-evals", type=positive(int), default=None,
                        help="Evaluations per solver (default: each solver's own).")
    parser.add_argument("--out", type=out_file, default=None, help="Write the rows as JSON.")
    parser.add_argument("--learner-evals", type=positive(int), default=None,
                        help="Environment steps per learner (default: --solver-evals).")
    parser.add_argument("--no-learners", action="store_true",
                        help="Skip the learners (solvers of the 'learn' extra).")
    args = parser.parse_args(argv)
    try:
        problem = load_problem(args.instance)
    except UserError as exc:
        parser.error(f"--instance: {exc.message}")
    objectives = ("delay", "energy", "cost") if problem.instance.objective.kind == "ddpqn" \
        else ("delay", "energy")
    columns = objective_columns(problem, objectives)
    run = search(problem, args.algorithm, objectives, seed=args.seed,
                 budget_evals=args.budget_evals)
    print(f"{args.instance}: {args.algorithm} front of {len(run['front'])} points, "
          f"{run['evaluations']} evaluations, {run['cpu_s']:.1f} CPU s", flush=True)
    kind = problem.instance.objective.kind
    rows = []
    for name, info in SOLVERS.items():
        if name in SKIP or kind not in info.kinds or not available(name) or (
                args.no_learners and info.extra == "learn"):
            continue
        started = time.perf_counter()
        try:
            evals = args.learner_evals if info.extra == "learn" and args.learner_evals \
                else args.solver_evals
            sol = solve(problem, name, seed=args.seed, budget_evals=evals)
        except Exception as exc:  # noqa: BLE001 - a measurement: report and go on
            rows.append({"solver": name, "status": f"error: {exc}"})
            continue
        if sol.assign is None or not np.isfinite(sol.objective):
            rows.append({"solver": name, "status": "no feasible plan"})
            continue
        f = components(problem, sol.assign, sol.priority)[0, columns]
        rows.append({"solver": name, "components": f.tolist(),
                     "status": covered(run["front"], f),
                     "wall_s": time.perf_counter() - started})
    for r in rows:
        print(f"  {r['solver']:16} {r['status']:12} {r.get('components', '')}")
    missed = [r["solver"] for r in rows if r["status"] == "not covered"]
    print("plans not covered by the front:", ", ".join(missed) or "none")
    if args.out:
        with open(args.out, "w") as fh:
            json.dump({"instance": args.instance, "algorithm": args.algorithm,
                       "front_points": len(run["front"]), "rows": rows}, fh, indent=1)


if __name__ == "__main__":
    main()

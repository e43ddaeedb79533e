"""DMRO against the exact optimum at paper scale: ``dmro`` (and its one-network DQN
baselines) on ``dmro-workflows-paper-s0`` and ``dmro-multiserver-paper-s0``, several
seeds, the gap to the contention-free DP optimum and the training time (one core).

Usage: ``python -m offloadlab.benchmarks.dmro_goals RESULTS [--seeds 0-4] [--budget N]
[--solvers dmro,dmro-dqn] [--param eval_every=250]`` writes ``goals.csv`` and prints a markdown table (median gap
over the seeds per solver and instance).
"""

from __future__ import annotations

import csv
import time
from pathlib import Path

import click
import numpy as np

from offloadlab.options import IntList

INSTANCES = ("dmro-workflows-paper-s0", "dmro-multiserver-paper-s0")


@click.command()
@click.argument("results", type=click.Path(file_okay=False))
@click.option("--seeds", type=IntList(), default="0-4", show_default=True)
@click.option("--budget", default=15_000, type=click.IntRange(1), show_default=True,
              help="Training placements (budget_evals - 1).")
@click.option("--solvers", default="dmro", show_default=True)
@click.option("--instances", default=",".join(INSTANCES), show_default=True)
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE",
              help="A solver parameter (repeatable), e.g. eval_every=250.")
def main(results, seeds, budget, solvers, instances, params):
    """Gap of each solver to the DP optimum, per seed, into RESULTS/goals.csv (training
    time: wall and CPU seconds, the solver runs on one thread)."""
    import offloadlab as ol
    from offloadlab.cli import check_run, load_problem, parse_params

    problems = {name: load_problem(name) for name in instances.split(",")}
    hyper = parse_params(params)
    for problem in problems.values():   # every run checked before the first starts
        for solver in solvers.split(","):
            check_run(solver, problem, budget_evals=budget + 1, params=hyper,
                      options={"seed": "--seeds", "budget_evals": "--budget"})
    out = Path(results)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, problem in problems.items():
        optimum = ol.solve(problem, "dp").objective
        for solver in solvers.split(","):
            for seed in seeds:
                cpu0 = time.process_time()
                sol = ol.solve(problem, solver, seed=seed, budget_evals=budget + 1, **hyper)
                cpu_s = time.process_time() - cpu0
                gap = (sol.objective - optimum) / abs(optimum)
                rows.append({"instance": name, "solver": solver, "seed": seed,
                             "objective": sol.objective, "dp_optimum": optimum,
                             "gap_pct": 100 * gap, "train_s": sol.wall_s, "cpu_s": cpu_s,
                             "steps": sol.evaluations, "params": str(hyper)})
                click.echo(f"{name} {solver} seed {seed}: {sol.objective:.6g} vs DP "
                           f"{optimum:.6g}, gap {100 * gap:.3f} %, {sol.wall_s:.0f} s "
                           f"({cpu_s:.0f} CPU s)",
                           err=True)
                with open(out / "goals.csv", "w", newline="") as fh:
                    w = csv.DictWriter(fh, fieldnames=list(rows[0]))
                    w.writeheader()
                    w.writerows(rows)
    click.echo("| instance | solver | seeds | median gap % | max gap % | median train s | median CPU s |")
    click.echo("|---|---|---|---|---|---|---|")
    for key in dict.fromkeys((r["instance"], r["solver"]) for r in rows):
        sel = [r for r in rows if (r["instance"], r["solver"]) == key]
        g = [r["gap_pct"] for r in sel]
        click.echo(f"| {key[0]} | {key[1]} | {len(sel)} | {np.median(g):.3f} | "
                   f"{max(g):.3f} | {np.median([r['train_s'] for r in sel]):.0f} | "
                   f"{np.median([r['cpu_s'] for r in sel]):.0f} |")


if __name__ == "__main__":
    main()

"""ATSA Fig. 7: makespan of FCFS, basic ACO, PSO and ATSA on 200 tasks and 10 nodes, with
the exact MILP's incumbent and proven bound and every method's gap to that bound.

Usage: ``python -m offloadlab.benchmarks.atsa_fig7 OUT_DIR [--milp-seconds 120]`` writes
``fig7.csv`` (one row per solver and seed), ``fig7_convergence.csv`` (best makespan over
evaluations, seed 0) and ``fig7.png``. Instance: ``makespan-jobs-paper-s0``.
"""

from __future__ import annotations

import csv
from pathlib import Path

import click

from offloadlab.options import POSITIVE

INSTANCE = "makespan-jobs-paper-s0"
HEURISTICS = ("fcfs", "aco", "pso", "atsa")
SEEDS = (0, 1, 2)


def run(milp_seconds: float = 120.0, budget_evals: int = 4000) -> tuple[list, dict]:
    """Rows (solver, seed, makespan, bound, gap, wall_s, evaluations) and seed-0 histories."""
    from offloadlab import Problem, load_instance, solve
    from offloadlab.instances.library import library_path

    problem = Problem.from_instance(load_instance(library_path(INSTANCE)))
    exact = solve(problem, "makespan-milp", time_limit_s=milp_seconds)
    rows, histories = [], {}
    for name in HEURISTICS:
        for seed in (SEEDS if name != "fcfs" else (0,)):
            sol = solve(problem, name, seed=seed, budget_evals=budget_evals)
            rows.append(_row(sol, exact.bound))
            if seed == 0:
                histories[name] = sol.history
    rows.append(_row(exact, exact.bound))
    return rows, histories


def _row(sol, bound) -> dict:
    from offloadlab.solution import relative_gap

    return {"solver": sol.solver, "seed": sol.seed, "status": sol.status,
            "makespan_s": sol.objective, "bound_s": bound,
            "gap_vs_bound": relative_gap(sol.objective, bound), "wall_s": sol.wall_s,
            "evaluations": sol.evaluations}


def main(out_dir: str, milp_seconds: float = 120.0) -> list[dict]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows, histories = run(milp_seconds)
    with open(out / "fig7.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    with open(out / "fig7_convergence.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["solver", "seconds", "best_makespan_s"])
        for name, hist in histories.items():
            w.writerows([name, t, v] for t, v in hist)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for name in ("aco", "pso", "atsa"):
        t, v = zip(*histories[name])
        ax1.step(t, v, where="post", label=name)
    exact = rows[-1]
    fcfs = next(r for r in rows if r["solver"] == "fcfs")
    ax1.axhline(fcfs["makespan_s"], color="grey", ls=":", label="FCFS")
    ax1.axhline(exact["bound_s"], color="k", ls="--", label="MILP bound")
    ax1.set_xlabel("seconds")
    ax1.set_ylabel("makespan (s)")
    ax1.legend()
    names = list(HEURISTICS) + ["makespan-milp"]
    means = [sum(r["makespan_s"] for r in rows if r["solver"] == n)
             / sum(1 for r in rows if r["solver"] == n) for n in names]
    ax2.bar(names, means)
    ax2.axhline(exact["bound_s"], color="k", ls="--")
    ax2.set_ylabel("makespan (s), mean over seeds")
    ax2.set_title("200 tasks, 10 nodes")
    fig.tight_layout()
    fig.savefig(out / "fig7.png", dpi=120)
    return rows


@click.command()
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.option("--milp-seconds", type=POSITIVE, default=120.0, show_default=True,
              help="Time limit of the exact MILP.")
def cli(out_dir, milp_seconds):
    """ATSA Fig. 7 into OUT_DIR: fig7.csv, fig7_convergence.csv, fig7.png."""
    for r in main(out_dir, milp_seconds):
        click.echo(r)


if __name__ == "__main__":  # pragma: no cover
    cli()

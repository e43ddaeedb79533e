"""PSO-GA (and GA) quality against proven optima, median over seeds.

Usage: ``python -m offloadlab.benchmarks.pso_ga_quality [--solver pso-ga] [--seeds 5]
[--param k=v ...] [--instance NAME ...]``. Prints, per instance, the median objective,
its gap to the proven optimum (``OPTIMA``, proven by ``offloadlab solve ... --solver
exact``), how many seeds reached it, and the median wall time.
"""

from __future__ import annotations

import click
import numpy as np

# proven optima (offloadlab solve NAME --solver exact): the reference of the quality goal
OPTIMA = {"latency-alexnet-tiny-s0": None, "latency-vgg19-tiny-s0": None,
          "latency-alexnet-small-s0": 0.7914187507270505,
          "latency-vgg19-small-s0": 0.41560877732240437}
TOL = 1e-6  # relative: reached the optimum


def optimum(name: str, problem) -> float:
    """The proven optimum: the table, else the exact solver (tiny instances)."""
    if OPTIMA.get(name) is not None:
        return OPTIMA[name]
    from offloadlab.registry import solve

    sol = solve(problem, "exact", time_limit_s=120)
    assert sol.status == "optimal", f"{name}: exact solver did not prove the optimum"
    return sol.objective


@click.command()
@click.option("--solver", default="pso-ga", show_default=True)
@click.option("--seeds", default=5, type=click.IntRange(1), show_default=True)
@click.option("--budget-evals", type=click.IntRange(1), default=None)
@click.option("--instance", "instances", multiple=True)
@click.option("--param", "params", multiple=True, help="k=v passed to the solver")
def main(solver, seeds, budget_evals, instances, params):
    """Median gap to the proven optimum over SEEDS runs."""
    from offloadlab.cli import check_run, load_problem, parse_params
    from offloadlab.registry import solve

    problems = {name: load_problem(name) for name in instances or OPTIMA}
    kw = {}
    for problem in problems.values():   # every run checked before the first starts
        kw = check_run(solver, problem, budget_evals=budget_evals, params=parse_params(params),
                       options={"seed": "--seeds", "budget_evals": "--budget-evals"})
    for name, problem in problems.items():
        best = optimum(name, problem)
        values, walls = [], []
        for seed in range(seeds):
            sol = solve(problem, solver, seed=seed, budget_evals=budget_evals, **kw)
            assert sol.objective >= best * (1 - 1e-9), f"{name}: below the optimum"
            values.append(sol.objective)
            walls.append(sol.wall_s)
        gaps = 100 * (np.array(values) / best - 1)
        hits = int((gaps <= 100 * TOL).sum())
        click.echo(f"{name:28s} opt {best:.6f} median {np.median(values):.6f} "
                   f"gap {np.median(gaps):6.2f}% max {gaps.max():6.2f}% hits {hits}/{seeds} "
                   f"wall {np.median(walls):.2f}s")


if __name__ == "__main__":
    main()

"""DDPQN Figs. 4–5: convergence of the eight DQN variants, with the proven optimum.

Each variant trains from scratch on each instance for ``--steps`` environment steps per
seed (default hyper-parameters); the table gives the median over seeds of the greedy
plan's objective, its gap |Q − Q*| / |Q*| to the exact optimum, the greedy heuristic and
the wall time; the figure the median learning curve (greedy rollout objective) of each
variant against the optimum.

Usage: ``python -m offloadlab.benchmarks.ddpqn_fig4_5 RESULTS [--steps N] [--seeds K]
[--instance NAME ...] [--variant NAME ...]`` writes ``fig4_5.csv``, ``fig4_5-*.png`` and
prints a markdown table.
"""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from .ddpqn_common import exact_reference, gap, markdown_table, plot, run_solver, write_csv

INSTANCES = ("ddpqn-alexnet-tiny-s0", "ddpqn-alexnet-small-s0")


@click.command()
@click.argument("results", type=click.Path(file_okay=False))
@click.option("--steps", default=20_000, type=click.IntRange(1), show_default=True)
@click.option("--seeds", default=5, type=click.IntRange(1), show_default=True)
@click.option("--instance", "instances", multiple=True, help="Default: tiny and small.")
@click.option("--variant", "variants", multiple=True, help="Default: all eight.")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE")
def main(results, steps, seeds, instances, variants, params):
    """Reproduce DDPQN Figs. 4-5 into RESULTS."""
    from offloadlab.cli import check_run, load_problem, parse_params
    from offloadlab.learners.dqn import VARIANTS, DQNConfig

    out = Path(results)
    hyper = parse_params(params)
    problems = {name: load_problem(name) for name in instances or INSTANCES}
    for problem in problems.values():   # every run checked before the first starts
        for variant in variants or VARIANTS:
            check_run(variant, problem, budget_evals=steps, params=hyper,
                      options={"seed": "--seeds", "budget_evals": "--steps"})
    rows = []
    for name, problem in problems.items():
        ref = exact_reference(problem, out)
        greedy = run_solver(problem, "greedy").objective
        rows.append({"instance": name, "method": "exact (proven optimum)",
                     "objective": ref["objective"], "gap_pct": 0.0, "status": ref["status"]})
        rows.append({"instance": name, "method": "greedy", "objective": greedy,
                     "gap_pct": gap(greedy, ref["objective"])})
        curves = {}
        for variant in variants or VARIANTS:
            sols = [run_solver(problem, variant, seed=s, budget_evals=steps, **hyper)
                    for s in range(seeds)]
            objs = np.array([s.objective for s in sols])
            gaps = [gap(o, ref["objective"]) for o in objs]
            rows.append({"instance": name, "method": variant,
                         "objective": float(np.median(objs)), "gap_pct": float(np.median(gaps)),
                         "worst_gap_pct": float(max(gaps)),
                         "beats_greedy": int((objs <= greedy + 1e-12).sum()),
                         "seeds": seeds, "steps": steps,
                         "wall_s": float(np.median([s.wall_s for s in sols]))})
            n = min(len(s.history) for s in sols)
            every = hyper.get("eval_every", DQNConfig.eval_every)  # history: one per eval
            steps_axis = np.minimum(np.arange(1, n + 1) * every, steps)
            curves[variant] = (steps_axis, np.median([[h[1] for h in s.history[:n]]
                                                      for s in sols], axis=0))
            click.echo(f"{name} {variant}: median {rows[-1]['objective']:.5g}, gap "
                       f"{rows[-1]['gap_pct']:.2f} %, {rows[-1]['wall_s']:.0f} s", err=True)
        plot(out / f"fig4_5-{name}.png", curves, f"DDPQN Figs. 4-5 on {name}",
             "environment steps", "objective of the greedy plan (median over seeds)",
             {"exact optimum": ref["objective"], "greedy heuristic": greedy})
    write_csv(rows, out / "fig4_5.csv")
    click.echo(markdown_table(rows, ["instance", "method", "objective", "gap_pct",
                                     "worst_gap_pct", "beats_greedy", "wall_s"]))


if __name__ == "__main__":
    main()

"""EosDNN Fig. 17: migration delay versus the number of tasks (paper environment).

Chosen (the paper's axis values are in a lost image): 4, 8, 12, 16, 20 tasks of VGG19
and AlexNet, round-robin over the 4 clients. Usage: ``python -m
offloadlab.benchmarks.eosdnn_fig17 RESULTS_DIR [--model vgg19] [--budget-evals N]`` writes
``fig17.csv`` and ``fig17-<model>.png``.
"""

from __future__ import annotations

from pathlib import Path

import click

from offloadlab.instances.models import MODEL_NAMES
from offloadlab.options import POSITIVE

from .eosdnn_figures import plot_bars, run_point, write_csv

TASKS = (4, 8, 12, 16, 20)


@click.command()
@click.argument("results", type=click.Path(file_okay=False))
@click.option("--model", "models", multiple=True, type=click.Choice(MODEL_NAMES),
              default=("vgg19", "alexnet"), show_default=True)
@click.option("--tasks", "tasks", multiple=True, type=click.IntRange(1), default=TASKS,
              show_default=True)
@click.option("--budget-evals", type=click.IntRange(1), default=None, help="Default: the paper's run.")
@click.option("--seeds", default=3, type=click.IntRange(1), show_default=True)
@click.option("--exact-time-limit", default=120.0, type=POSITIVE, show_default=True)
@click.option("--exact-max-layers", default=300, type=click.IntRange(1), show_default=True)
def main(results, models, tasks, budget_evals, seeds, exact_time_limit, exact_max_layers):
    """Reproduce EosDNN Fig. 17 into RESULTS."""
    from offloadlab import Problem
    from offloadlab.instances import presets

    rows = []
    out = Path(results)
    for model in models:
        mrows = []
        for n in tasks:
            name = f"eosdnn-{model}-{n}t"
            problem = Problem.from_instance(presets.eosdnn(model, n, name=name))
            point = run_point(problem, name, budget_evals, seeds, exact_time_limit,
                              exact_max_layers)
            for r in point:
                r["model"] = model
                click.echo(f"{name:20s} {r['method']:28s} {r['objective']:10.4f} "
                           f"gap {r['gap_pct'] if r['gap_pct'] is None else round(r['gap_pct'], 2)}"
                           f"% vs {r['gap_to']}")
            mrows += point
        plot_bars(mrows, list(tasks), "tasks", out / f"fig17-{model}.png",
                  f"EosDNN Fig. 17: {model}", "number of tasks")
        rows += mrows
    write_csv(rows, out / "fig17.csv")


if __name__ == "__main__":
    main()

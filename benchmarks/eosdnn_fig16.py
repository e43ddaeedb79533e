"""EosDNN Fig. 16: migration delay of Greedy, GA, prePSO and PSO-GA on AlexNet, VGG19,
GoogLeNet and ResNet101 with 12 tasks (paper environment, library ``*-paper-s0``), plus
HEFT, PEFT, the paper-literal PSO-GA (random GA seed, fixed order) and the bound row.

Usage: ``python -m offloadlab.benchmarks.eosdnn_fig16 RESULTS_DIR [--budget-evals N]
[--seeds K] [--model resnet101 ...]`` writes ``fig16.csv`` and ``fig16.png`` (the models
given, default all four).
"""

from __future__ import annotations

from pathlib import Path

import click

from offloadlab.options import POSITIVE

from .eosdnn_figures import plot_bars, run_point, write_csv

MODELS = ("alexnet", "vgg19", "googlenet", "resnet101")


@click.command()
@click.argument("results", type=click.Path(file_okay=False))
@click.option("--budget-evals", type=click.IntRange(1), default=None, help="Default: the paper's run.")
@click.option("--seeds", default=3, type=click.IntRange(1), show_default=True, help="Median over this many seeds.")
@click.option("--exact-time-limit", default=120.0, type=POSITIVE, show_default=True)
@click.option("--exact-max-layers", default=300, type=click.IntRange(1), show_default=True)
@click.option("--model", "models", multiple=True, type=click.Choice(MODELS),
              default=MODELS, show_default=True)
def main(results, budget_evals, seeds, exact_time_limit, exact_max_layers, models):
    """Reproduce EosDNN Fig. 16 into RESULTS."""
    from offloadlab.heuristics.comparison import load

    rows = []
    for model in models:
        name = f"latency-{model}-paper-s0"
        rows += run_point(load(name), name, budget_evals, seeds, exact_time_limit,
                          exact_max_layers)
        for r in rows[-9:]:
            if r["instance"] == name:
                click.echo(f"{name:28s} {r['method']:28s} {r['objective']:10.4f} "
                           f"gap {r['gap_pct'] if r['gap_pct'] is None else round(r['gap_pct'], 2)}"
                           f"% vs {r['gap_to']}")
    out = Path(results)
    write_csv(rows, out / "fig16.csv")
    plot_bars(rows, [f"latency-{m}-paper-s0" for m in models], "instance",
              out / "fig16.png", "EosDNN Fig. 16: 12 tasks", "model")


if __name__ == "__main__":
    main()

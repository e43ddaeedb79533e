"""EosDNN Fig. 12: the largest partition relative to the whole model, per uploading plan.

Usage: ``python -m offloadlab.benchmarks.eosdnn_fig12 OUT_DIR`` writes ``fig12.csv`` and
``fig12.png``. Every row also carries the plan's SSD and its gap to the exact optimum
(the subset DP; "vs bound" when the DP is out of reach).

Scenarios (chosen; the paper runs PSO-GA on its 12-task setting and shows one client):
``single`` = the EosDNN environment (§VII-A) with one client and one task, ``paper`` = the
12-task library setting, task ``t1``; both with the migration plan of the best available
registered solver (:func:`~offloadlab.heuristics.upload_commands.migration_plan`).
``edge`` = one client and one task with every layer on the fastest edge server (most
weights remote, as in the paper's Figs. 13–14 where most layers are uploaded).
"""

from __future__ import annotations

import csv
from pathlib import Path

import click

MODELS = ("alexnet", "vgg19", "googlenet", "resnet101")
SCENARIOS = ("single", "edge", "paper")
PLANNERS = ("non-uploading", "ionn", "efficiency", "lmu", "exact")


def upload_setting(model: str, scenario: str):
    """``(UploadModel, migration solver name)`` of task t1 in ``scenario``."""
    from offloadlab.upload_model import UploadModel
    from offloadlab.heuristics.upload_commands import migration_plan
    from offloadlab.instances import presets
    from offloadlab.problem import Problem

    if scenario in ("single", "edge"):
        inst = presets.eosdnn(model, 1, n_clients=1, name=f"eosdnn-{model}-1t")
    else:
        inst = presets.eosdnn(model, 12, name=f"latency-{model}-paper-s0")
    problem = Problem.from_instance(inst)
    if scenario == "edge":
        edge = [s for s in range(problem.n_servers) if problem.tier[s] == 1]
        fastest = max(edge, key=lambda s: problem.ghz[s])
        return UploadModel.build(problem, [fastest] * problem.n_layers, 0), "all-on-edge"
    assign, solver = migration_plan(problem)
    return UploadModel.build(problem, assign, 0), solver


def plan_rows(model_name: str, scenario: str) -> list[dict]:
    """One row per planner: SSD, largest partition, gap to the exact optimum."""
    from offloadlab.heuristics.upload_planners import best_upload, plan

    model, solver = upload_setting(model_name, scenario)
    ex = best_upload(model)
    rows = []
    for name in PLANNERS:
        res = ex.result if name == "exact" else plan(model, name)
        rows.append({
            "model": model_name, "scenario": scenario, "migration": solver,
            "remote_units": model.n_units, "weighted_units": len(model.items),
            "planner": name, "n_partitions": len(res.partitions),
            "largest_fraction": round(res.largest_fraction, 6),
            "ssd": round(res.ssd, 6), "upload_s": round(res.upload_s, 6),
            "exact_status": ex.status, "bound": round(ex.bound, 6),
            "gap_pct": round(100 * (res.ssd - ex.bound) / ex.bound, 4) if ex.bound > 0 else 0.0,
        })
    return rows


def write_csv(path: Path, rows: list[dict]) -> None:
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def main(out_dir: str) -> list[dict]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = [r for s in SCENARIOS for m in MODELS for r in plan_rows(m, s)]
    write_csv(out / "fig12.csv", rows)
    fig, axes = plt.subplots(1, len(SCENARIOS), figsize=(12, 4), sharey=True)
    width = 0.8 / len(PLANNERS)
    for ax, scen in zip(axes, SCENARIOS):
        for k, name in enumerate(PLANNERS):
            vals = [next(r["largest_fraction"] for r in rows if r["model"] == m
                         and r["scenario"] == scen and r["planner"] == name) for m in MODELS]
            ax.bar(np.arange(len(MODELS)) + k * width, vals, width, label=name)
        ax.set_xticks(np.arange(len(MODELS)) + 0.4 - width / 2, MODELS)
        ax.set_title(f"scenario: {scen}")
        ax.set_ylabel("largest partition / model weights")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "fig12.png", dpi=120)
    return rows


@click.command()
@click.argument("out_dir", type=click.Path(file_okay=False))
def cli(out_dir):
    """EosDNN Fig. 12 into OUT_DIR: fig12.csv, fig12.png."""
    for r in main(out_dir):
        click.echo(r)


if __name__ == "__main__":  # pragma: no cover
    cli()

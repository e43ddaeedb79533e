"""TMOA/ATSA Fig. 8: average data uploaded to the cloud per task, cloud only vs cloud-edge
vs cloud-edge with the cloud dormancy mechanism, for 10, 20 and 30 edge nodes.

Usage: ``python -m offloadlab.benchmarks.tmoa_fig8 OUT_DIR`` writes ``fig8.csv`` and
``fig8.png``. The cloud-edge schemes upload the feature map at the TMOA split of each node
count; the link delay process and the rule are in :mod:`offloadlab.heuristics.dormancy`.
"""

from __future__ import annotations

import csv
from pathlib import Path

import click

NODES = (10, 20, 30)


def run(seed: int = 0, n_slots: int = 2000) -> list[dict]:
    from offloadlab.formulations.tmoa import build_tmoa, solve_enumeration
    from offloadlab.heuristics.dormancy import simulate_uploads
    from offloadlab.instances.tmoa_presets import tmoa_setting

    rows = []
    for n in NODES:
        model = build_tmoa(tmoa_setting(n))
        j = solve_enumeration(model).split
        res = simulate_uploads(model.profile.input_mb, float(model.profile.map_mb[j]),
                               n_slots=n_slots, seed=seed)
        for scheme, mb in res.mb_per_task.items():
            rows.append({"nodes": n, "split": j, "scheme": scheme, "mb_per_task": mb,
                         "dormant_fraction": res.dormant_fraction})
    return rows


def main(out_dir: str) -> list[dict]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = run()
    with open(out / "fig8.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    schemes = list(dict.fromkeys(r["scheme"] for r in rows))
    fig, ax = plt.subplots(figsize=(6, 4))
    width = 0.8 / len(schemes)
    for k, s in enumerate(schemes):
        vals = [next(r["mb_per_task"] for r in rows if r["nodes"] == n and r["scheme"] == s)
                for n in NODES]
        ax.bar(np.arange(len(NODES)) + k * width, vals, width, label=s)
    ax.set_xticks(np.arange(len(NODES)) + 0.4 - width / 2, [f"{n} nodes" for n in NODES])
    ax.set_ylabel("MiB uploaded per task")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "fig8.png", dpi=120)
    return rows


@click.command()
@click.argument("out_dir", type=click.Path(file_okay=False))
def cli(out_dir):
    """TMOA/ATSA Fig. 8 into OUT_DIR: fig8.csv, fig8.png."""
    for r in main(out_dir):
        click.echo(r)


if __name__ == "__main__":  # pragma: no cover
    cli()

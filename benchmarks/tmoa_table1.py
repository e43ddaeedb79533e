"""TMOA Table 1 (and Figs. 5-6): the ResNet-34 split for 10, 20 and 30 edge nodes.

Usage: ``python -m offloadlab.benchmarks.tmoa_table1 OUT_DIR`` writes ``table1.csv`` (the
three solvers, the dual bound, the binding constraint), ``profile.csv`` (memory Dt_j and
delay per split for every node count) and ``table1.png`` (delay and memory per split,
the chosen splits marked).
"""

from __future__ import annotations

import csv
from pathlib import Path

import click

NODES = (10, 20, 30)


def main(out_dir: str) -> list[dict]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from offloadlab.formulations.tmoa import build_tmoa, tmoa_row
    from offloadlab.instances.tmoa_presets import tmoa_setting

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = [tmoa_row(n) for n in NODES]
    with open(out / "table1.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    models = {n: build_tmoa(tmoa_setting(n)) for n in NODES}
    with open(out / "profile.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["nodes", "split", "layer", "memory_mb", "delay_s", "feasible"])
        for n, m in models.items():
            ok = m.feasible()
            for j in range(m.n_splits):
                w.writerow([n, j, m.profile.names[j], m.profile.dt_mb[j], m.delay_s[j],
                            bool(ok[j])])
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    prof = models[NODES[0]].profile
    ax1.plot(prof.dt_mb, "k.-")
    for r in rows:
        ax1.axhline(0.8 * r["min_memory_mb"], ls=":", label=f"0.8 P0, {r['nodes']} nodes")
    ax1.set_xlabel("split after layer j")
    ax1.set_ylabel("edge memory Dt_j (MiB)")
    ax1.legend(fontsize=8)
    for r in rows:
        m = models[r["nodes"]]
        ax2.plot(m.delay_s, label=f"{r['nodes']} nodes")
        ax2.plot(r["split_enumeration"], r["optimum"], "o")
    ax2.set_xlabel("split after layer j")
    ax2.set_ylabel("mean delay (s)")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "table1.png", dpi=120)
    return rows


@click.command()
@click.argument("out_dir", type=click.Path(file_okay=False))
def cli(out_dir):
    """TMOA Table 1 into OUT_DIR: table1.csv, profile.csv, table1.png."""
    for r in main(out_dir):
        click.echo(r)


if __name__ == "__main__":  # pragma: no cover
    cli()

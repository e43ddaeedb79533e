"""DMRO Figs. 6–7 with the DP optimum as a row.

Fig. 6: the seven methods (local-only, edge-only, cloud-only, DQN, double DQN, dueling
DQN, DMRO) and the DP optimum on ``dmro-workflows-paper-s0`` with the delay/energy
weight delta swept; the paper's claim is checked at delta = 0.2 (DMRO at least 17.6 %
better than the other DRL methods). Fig. 7: the four learners' decision objective over
training on ``dmro-multiserver-paper-s0`` (two edge, two cloud servers), with the
optimum.

Usage: ``python -m offloadlab.benchmarks.dmro_figures RESULTS [--budget N] [--weights
0,0.2,0.5,1] [--seed 0] [--skip-fig7]`` writes ``fig6.csv``, ``fig7.csv`` and prints
markdown tables.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import click

METHODS = ("local-only", "edge-only", "cloud-only", "dmro-dqn", "dmro-double-dqn",
           "dmro-dueling-dqn", "dmro")
LEARNERS = METHODS[3:]


def with_delta(name: str, delta: float):
    """The library instance ``name`` with the weight ``delta`` on energy."""
    import offloadlab as ol
    from offloadlab.instance import parse_instance
    from offloadlab.instances.library import library_path

    data = ol.load_instance(library_path(name)).model_dump(by_alias=True, exclude_none=True)
    data["objective"]["delta"] = delta
    return ol.Problem.from_instance(parse_instance(data, f"{name} delta={delta}"))


def write(path: Path, rows: list) -> None:
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


@click.command()
@click.argument("results", type=click.Path(file_okay=False))
@click.option("--budget", default=10_000, type=click.IntRange(1), show_default=True, help="Training placements.")
@click.option("--weights", default="0,0.2,0.5,1", show_default=True)
@click.option("--seed", default=0, type=click.IntRange(0), show_default=True)
@click.option("--skip-fig7", is_flag=True)
def main(results, budget, weights, seed, skip_fig7):
    """Figs. 6 and 7 into RESULTS."""
    import offloadlab as ol

    try:
        deltas = [float(w) for w in weights.split(",")]
        if not all(0 <= d < math.inf for d in deltas):
            raise ValueError
    except ValueError:
        raise click.BadParameter(f"expected finite numbers of 0 or more separated by "
                                 f"commas, got {weights!r}", param_hint="--weights") from None
    out = Path(results)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for delta in deltas:
        problem = with_delta("dmro-workflows-paper-s0", delta)
        row = {"delta": delta, "dp": ol.solve(problem, "dp").objective}
        for m in METHODS:
            kw = dict(seed=seed, budget_evals=budget + 1) if m in LEARNERS else {}
            row[m] = ol.solve(problem, m, **kw).objective
            click.echo(f"delta {delta} {m}: {row[m]:.6g} (DP {row['dp']:.6g})", err=True)
        rows.append(row)
        write(out / "fig6.csv", rows)
    click.echo("| delta | DP optimum | " + " | ".join(METHODS) + " |")
    click.echo("|---" * (len(METHODS) + 2) + "|")
    for r in rows:
        click.echo(f"| {r['delta']:g} | {r['dp']:.2f} | " + " | ".join(
            f"{r[m]:.2f} ({100 * (r[m] / r['dp'] - 1):.1f} %)" for m in METHODS) + " |")
    for r in rows:
        others = {m: 100 * (r[m] - r["dmro"]) / r[m] for m in LEARNERS[:-1]}
        click.echo(f"delta {r['delta']:g}: DMRO better than " + ", ".join(
            f"{m} by {v:.2f} %" for m, v in others.items()))
    if skip_fig7:
        return
    from offloadlab.learners.dmro import DMROConfig, train
    from offloadlab.learners.env import PlacementEnv

    problem = ol.Problem.from_instance(ol.load_instance(
        __import__("offloadlab.instances.library", fromlist=["library_path"])
        .library_path("dmro-multiserver-paper-s0")))
    optimum = ol.solve(problem, "dp").objective
    curves = []
    for m in LEARNERS:
        res = train(PlacementEnv(problem), DMROConfig.for_variant(m), steps=budget, seed=seed)
        curves += [{"learner": m, "steps": s, "decision": v, "episodes": e,
                    "dp_optimum": optimum} for s, _, v, e in res.curve]
        write(out / "fig7.csv", curves)
        click.echo(f"| {m} | final decision {res.best:.2f} | gap "
                   f"{100 * (res.best / optimum - 1):.2f} % |")


if __name__ == "__main__":
    main()

"""DMRO Figs. 8–9 against the exact optimum: initial parameters meta-learned over
several environments (Algorithm 2) vs random vs trained on another environment, adapted
on environments never seen in meta-training.

For each unseen environment and each initialisation, Algorithm 1 trains for ``--adapt``
placements with a decision phase every ``--every``; reported: the placements needed for
the best decision so far to come within 5 % and 1 % of the DP optimum (``None``: not
within the budget), and the final gap.

Usage: ``python -m offloadlab.benchmarks.dmro_meta RESULTS [--family dmro-workflows]
[--envs 8] [--meta-steps N] [--other-steps N] [--test 0-1] [--adapt N] [--every N]``
writes ``meta.pt``, ``other.pt``, ``curves.csv``, ``meta.csv`` and prints a markdown
table.
"""

from __future__ import annotations

import csv
from pathlib import Path

import click
import numpy as np

from offloadlab.learners.family import DMRO_FAMILIES, FAMILIES
from offloadlab.options import IntList


def steps_within(curve, optimum: float, tol: float):
    """First curve step at which the best decision so far is within ``tol`` of the
    optimum, else None."""
    best = np.inf
    for step, _, value, _ in curve:
        best = min(best, value)
        if best <= optimum * (1 + tol):
            return int(step)
    return None


@click.command()
@click.argument("results", type=click.Path(file_okay=False))
@click.option("--family", default="dmro-workflows", show_default=True,
              type=click.Choice([*DMRO_FAMILIES, *FAMILIES]))
@click.option("--envs", "n_envs", default=8, type=click.IntRange(1), show_default=True)
@click.option("--meta-steps", default=16_000, type=click.IntRange(1), show_default=True)
@click.option("--other-steps", default=8_000, type=click.IntRange(1), show_default=True)
@click.option("--other-seed", default=2000, type=click.IntRange(0), show_default=True,
              help="Family member the trained-elsewhere parameters come from.")
@click.option("--test", "test_seeds", type=IntList(), default="0-1", show_default=True)
@click.option("--adapt", default=6_000, type=click.IntRange(1), show_default=True)
@click.option("--every", default=250, type=click.IntRange(1), show_default=True)
@click.option("--seed", default=0, type=click.IntRange(0), show_default=True)
def main(results, family, n_envs, meta_steps, other_steps, other_seed, test_seeds, adapt,
         every, seed):
    """Meta vs random vs trained-elsewhere initial parameters, into RESULTS."""
    import offloadlab as ol
    from offloadlab.learners.dmro import DMROConfig, train
    from offloadlab.learners.env import PlacementEnv
    from offloadlab.learners.family import generate
    from offloadlab.learners.meta import meta_environments, meta_train

    out = Path(results)
    out.mkdir(parents=True, exist_ok=True)
    meta_res, rec = meta_train(meta_environments(family, n_envs), steps=meta_steps,
                               seed=seed, out_path=out / "meta.pt")
    click.echo(f"meta-training: {rec['steps']} steps in {rec['wall_s']:.0f} s", err=True)
    other = ol.Problem.from_instance(generate(family, other_seed))
    other_res, rec = meta_train([other], steps=other_steps, seed=seed,
                                out_path=out / "other.pt")
    click.echo(f"trained elsewhere: {rec['steps']} steps in {rec['wall_s']:.0f} s", err=True)
    inits = {"meta": [n.state_dict() for n in meta_res.nets], "random": None,
             "other": [n.state_dict() for n in other_res.nets]}
    cfg = DMROConfig(eval_every=every)
    rows, curves = [], []
    for test_seed in test_seeds:
        problem = ol.Problem.from_instance(generate(family, test_seed))
        optimum = ol.solve(problem, "dp").objective
        for name, init in inits.items():
            res = train(PlacementEnv(problem), cfg, steps=adapt, seed=seed, init=init)
            curves += [{"env": test_seed, "init": name, "steps": s, "wall_s": w,
                        "decision": v, "dp_optimum": optimum} for s, w, v, _ in res.curve]
            row = {"env": problem.instance.name, "init": name, "dp_optimum": optimum,
                   "start_gap_pct": (100 * (res.curve[0][2] / optimum - 1)
                                     if init is not None else None),
                   "steps_5pct": steps_within(res.curve, optimum, 0.05),
                   "steps_1pct": steps_within(res.curve, optimum, 0.01),
                   "final_gap_pct": 100 * (res.best / optimum - 1), "wall_s": res.wall_s}
            rows.append(row)
            click.echo(str(row), err=True)
            for fname, data in (("meta.csv", rows), ("curves.csv", curves)):
                with open(out / fname, "w", newline="") as fh:
                    w = csv.DictWriter(fh, fieldnames=list(data[0]))
                    w.writeheader()
                    w.writerows(data)
    click.echo(f"| environment | init | steps to 5 % | steps to 1 % | final gap % "
               f"(budget {adapt}) |")
    click.echo("|---|---|---|---|---|")
    for r in rows:
        click.echo(f"| {r['env']} | {r['init']} | {r['steps_5pct']} | {r['steps_1pct']} | "
                   f"{r['final_gap_pct']:.3f} |")


if __name__ == "__main__":
    main()

"""Generalisation, which no paper measures: train once on generated instances of a
family, then solve held-out members with the checkpoint (no retraining) and report the
gap |Q − Q*| / |Q*| to each held-out instance's proven optimum.

Usage: ``python -m offloadlab.benchmarks.ddpqn_generalisation RESULTS [--family
ddpqn-small] [--train 0-15] [--test 100-104] [--steps N] [--learner ddpqn]`` writes
``generalisation.csv``, the checkpoint and its learning curve, and prints a markdown
table.
"""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from offloadlab.learners.family import DMRO_FAMILIES, FAMILIES
from offloadlab.options import IntList

from .ddpqn_common import exact_reference, gap, markdown_table, run_solver, write_csv


@click.command()
@click.argument("results", type=click.Path(file_okay=False))
@click.option("--family", default="ddpqn-small", show_default=True,
              type=click.Choice([*FAMILIES, *DMRO_FAMILIES]))
@click.option("--train", "train_seeds", type=IntList(), default="0-15", show_default=True)
@click.option("--test", "test_seeds", type=IntList(), default="100-104", show_default=True)
@click.option("--steps", default=40_000, type=click.IntRange(1), show_default=True)
@click.option("--learner", default="ddpqn", show_default=True)
@click.option("--seed", default=0, type=click.IntRange(0), show_default=True)
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE")
def main(results, family, train_seeds, test_seeds, steps, learner, seed, params):
    """Train on FAMILY members TRAIN, test on members TEST, into RESULTS."""
    from offloadlab.cli import UserError, parse_params
    from offloadlab.learners.commands import train_learner, training_hyper
    from offloadlab.learners.family import generate
    from offloadlab.problem import Problem
    from offloadlab.registry import SolverError, check_params

    from offloadlab.learners.dqn import VARIANTS

    if learner not in VARIANTS:
        raise UserError(f"--learner {learner!r}: not a DQN variant; known: "
                        f"{', '.join(VARIANTS)}")
    user = parse_params(params)
    try:   # before any work
        options = {"seed": "--seed"}
        extra = training_hyper(learner, {k: v for k, v in user.items() if k != "pad_layers"},
                               options=options)
        pad = check_params(learner, user, options).get("pad_layers")
    except SolverError as exc:
        raise UserError(str(exc)) from None
    out = Path(results)
    train_set = [Problem.from_instance(generate(family, s)) for s in train_seeds]
    test_set = [Problem.from_instance(generate(family, s)) for s in test_seeds]
    pad = pad or max(len(t) for p in train_set + test_set for t in p.task_layers)
    rec = train_learner(learner, train_set, steps=steps, seed=seed, hyper=extra,
                        out_path=out / f"{family}-{learner}.pt", pad_layers=pad)
    click.echo(f"trained {learner} on {len(train_set)} instances: {rec['steps']} steps in "
               f"{rec['wall_s']:.0f} s", err=True)
    rows = []
    for problem in test_set:
        ref = exact_reference(problem, out)
        sol = run_solver(problem, learner, checkpoint=rec["checkpoint"])
        greedy = run_solver(problem, "greedy").objective
        rows.append({"instance": problem.instance.name, "optimum": ref["objective"],
                     "optimum_status": ref["status"], "learner": sol.objective,
                     "gap_pct": gap(sol.objective, ref["objective"]), "greedy": greedy,
                     "greedy_gap_pct": gap(greedy, ref["objective"])})
        click.echo(f"{rows[-1]['instance']}: gap {rows[-1]['gap_pct']:.2f} % (greedy "
                   f"{rows[-1]['greedy_gap_pct']:.2f} %)", err=True)
    rows.append({"instance": "median", "gap_pct": float(np.median([r["gap_pct"] for r in rows])),
                 "greedy_gap_pct": float(np.median([r["greedy_gap_pct"] for r in rows]))})
    write_csv(rows, out / "generalisation.csv")
    click.echo(markdown_table(rows, ["instance", "optimum", "optimum_status", "learner",
                                     "gap_pct", "greedy", "greedy_gap_pct"]))


if __name__ == "__main__":
    main()

"""MTL-A3C on contended single slots: every learner and baseline against the slot's
ground truth (proven bound, best plan, feasibility verdict).

For each seed a hard slot (:func:`offloadlab.instances.slot_generator.hard_slot`) gets
its ground truth from :func:`offloadlab.formulations.slot_truth.slot_truth` (greedy, GA,
the ``exact`` dispatcher with CP-SAT and the windowed Lagrangian bound, ``--exact-s`` in
all): ``optimal``, ``feasible`` (a plan meets every deadline, not proven optimal) or
``infeasible`` (proven: no plan meets every deadline). Then the three MTL-A3C baselines
and each learner trained for ``--train-s`` seconds. Rows give the objective (total
delay), ``gap_pct`` to the proven bound (a true gap, an upper estimate of the distance to
the optimum), ``vs_best_known_pct`` to the best plan found, and the deadlines violated
(:func:`offloadlab.learners.slots.slot_report`). ``--truth-only`` skips the learners.

``--workers-ratio`` instead measures A3C's environment steps per second with 1 and 2
workers in one run (same budget) and the greedy objective each reached.

Usage: ``python -m offloadlab.benchmarks.mtl_a3c_hard [--seeds 0,1] [--train-s 60]
[--learner mtl-a3c ...] [--exact-s 40] [--truth-only] [--workers-ratio]``; prints one
JSON document.
"""

from __future__ import annotations

import json
import math
import sys
import time

import click

from offloadlab.options import POSITIVE, IntList


def _pct(value):
    return None if value is None else round(value, 3)


def _row(problem, name, sol, truth=None):
    from offloadlab.learners.slots import slot_report

    row = {"solver": name, "objective": sol.objective, "status": sol.status,
           "wall_s": round(sol.wall_s, 2), "evaluations": sol.evaluations}
    if sol.assign is not None:
        row["violations"] = slot_report(problem, sol.assign, sol.priority).total_violations
    if truth is not None and math.isfinite(sol.objective):
        row["gap_pct"] = _pct(truth.gap_pct(sol.objective))
        row["vs_best_known_pct"] = _pct(truth.vs_best_pct(sol.objective))
    return row


def truth_record(seed: int, exact_s: float):
    """The hard slot of ``seed``, its ground truth and the summary record."""
    from offloadlab.formulations.slot_truth import slot_truth
    from offloadlab.instances.slot_generator import hard_slot
    from offloadlab.problem import Problem

    problem = Problem.from_instance(hard_slot(seed))
    truth = slot_truth(problem, time_limit_s=exact_s, seed=seed)
    record = {"instance": problem.instance.name, "status": truth.status,
              "best": truth.objective, "bound": truth.bound,
              "bound_source": truth.bound_source, "best_from": truth.plan_source,
              "truth_wall_s": round(truth.wall_s, 1),
              "gap_of_best_pct": _pct(truth.gap_pct(truth.objective))}
    return problem, truth, record


def hard_rows(seed: int, learners, train_s: float, exact_s: float) -> dict:
    """Ground truth, baselines and the learners on the hard slot of ``seed``."""
    from offloadlab.registry import solve

    problem, truth, record = truth_record(seed, exact_s)
    rows = [_row(problem, name, solve(problem, name, seed=seed), truth)
            for name in ("greedy", "least-loaded", "apdi", "rpdi")]
    for name in learners:
        print(f"seed {seed}: training {name} for {train_s} s", file=sys.stderr)
        sol = solve(problem, name, seed=seed, budget_evals=10**8, time_limit_s=train_s)
        rows.append(_row(problem, name, sol, truth))
    return {**record, "rows": rows}


def workers_ratio(seed: int, steps: int) -> dict:
    """A3C with 1 then 2 workers on the same hard slot and budget, in one run."""
    from offloadlab.instances.slot_generator import hard_slot
    from offloadlab.problem import Problem
    from offloadlab.registry import solve

    problem = Problem.from_instance(hard_slot(seed))
    out = {}
    for workers in (1, 2):
        started = time.perf_counter()
        sol = solve(problem, "a3c", seed=seed, budget_evals=steps + 1, workers=workers)
        wall_s = time.perf_counter() - started
        out[workers] = {"wall_s": round(wall_s, 2), "steps_per_s": round(steps / wall_s, 1),
                        "objective": sol.objective}
    out["speedup"] = round(out[1]["wall_s"] / out[2]["wall_s"], 3)
    return out


@click.command()
@click.option("--seeds", default="0,1", type=IntList(), show_default=True)
@click.option("--train-s", default=60.0, type=POSITIVE, show_default=True)
@click.option("--exact-s", default=40.0, type=POSITIVE, show_default=True,
              help="Seconds for each slot's ground truth.")
@click.option("--truth-only", is_flag=True, help="Ground truth and greedy only.")
@click.option("--learner", "learners", multiple=True,
              help="Default: mtl-a3c, a3c, dist-dqn.")
@click.option("--workers-ratio", is_flag=True)
@click.option("--steps", default=6000, type=click.IntRange(1), show_default=True, help="For --workers-ratio.")
def main(seeds, train_s, exact_s, truth_only, learners, workers_ratio, steps):
    """Learners against exact and the baselines on hard slots (one JSON document)."""
    if workers_ratio:
        print(json.dumps({"a3c_workers": workers_ratio_fn(seeds[0], steps)}, indent=1))
        return
    learners = () if truth_only else (learners or ("mtl-a3c", "a3c", "dist-dqn"))
    if learners:   # every run checked before the first starts
        from offloadlab.cli import check_run
        from offloadlab.instances.slot_generator import hard_slot
        from offloadlab.problem import Problem

        slot = Problem.from_instance(hard_slot(seeds[0]))
        for name in learners:
            check_run(name, slot)
    print(json.dumps([hard_rows(s, learners, train_s, exact_s) for s in seeds], indent=1))


workers_ratio_fn = workers_ratio

if __name__ == "__main__":
    main()

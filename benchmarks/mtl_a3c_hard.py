"""MTL-A3C on contended single slots: every learner and baseline against the best plan
found and the exact solver's bound and feasibility verdict.

For each seed a hard slot (:func:`offloadlab.instances.slot_generator.hard_slot`) is
solved by greedy, the three MTL-A3C baselines, GA and CP-SAT (the best plan found is
the best of these), then by each learner trained for ``--train-s`` seconds. Rows give
the objective (total delay), its gap to the best plan found, the deadlines violated
(:func:`offloadlab.learners.slots.slot_report`) and CP-SAT's status and bound (a proven
``infeasible`` says no plan meets every deadline).

``--workers-ratio`` instead measures A3C's environment steps per second with 1 and 2
workers in one run (same budget) and the greedy objective each reached.

Usage: ``python -m offloadlab.benchmarks.mtl_a3c_hard [--seeds 0,1] [--train-s 60]
[--learner mtl-a3c ...] [--exact-s 20] [--workers-ratio]``; prints one JSON document.
"""

from __future__ import annotations

import json
import math
import sys
import time

import click


def _row(problem, name, sol, best=None):
    from offloadlab.learners.slots import slot_report

    row = {"solver": name, "objective": sol.objective, "status": sol.status,
           "wall_s": round(sol.wall_s, 2), "evaluations": sol.evaluations}
    if sol.assign is not None:
        row["violations"] = slot_report(problem, sol.assign, sol.priority).total_violations
    if best is not None and math.isfinite(sol.objective):
        row["gap_to_best_pct"] = round(100 * (sol.objective / best - 1), 3)
    return row


def hard_rows(seed: int, learners, train_s: float, exact_s: float) -> dict:
    """Baselines, GA, CP-SAT and the learners on the hard slot of ``seed``."""
    from offloadlab.instances.slot_generator import hard_slot
    from offloadlab.problem import Problem
    from offloadlab.registry import solve

    problem = Problem.from_instance(hard_slot(seed))
    sols = {name: solve(problem, name, seed=seed)
            for name in ("greedy", "least-loaded", "apdi", "rpdi")}
    sols["ga"] = solve(problem, "ga", seed=seed, budget_evals=20_000)
    sols["cpsat"] = solve(problem, "cpsat", seed=seed, time_limit_s=exact_s)
    best = min(s.objective for s in sols.values())
    rows = [_row(problem, n, s, best) for n, s in sols.items()]
    for name in learners:
        print(f"seed {seed}: training {name} for {train_s} s", file=sys.stderr)
        sol = solve(problem, name, seed=seed, budget_evals=10**8, time_limit_s=train_s)
        rows.append(_row(problem, name, sol, best))
    return {"instance": problem.instance.name, "best": best,
            "cpsat_bound": sols["cpsat"].bound, "cpsat_status": sols["cpsat"].status,
            "rows": rows}


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
@click.option("--seeds", default="0,1", show_default=True)
@click.option("--train-s", default=60.0, show_default=True)
@click.option("--exact-s", default=20.0, show_default=True)
@click.option("--learner", "learners", multiple=True,
              help="Default: mtl-a3c, a3c, dist-dqn.")
@click.option("--workers-ratio", is_flag=True)
@click.option("--steps", default=6000, show_default=True, help="For --workers-ratio.")
def main(seeds, train_s, exact_s, learners, workers_ratio, steps):
    """Learners against exact and the baselines on hard slots (one JSON document)."""
    seeds = [int(s) for s in seeds.split(",")]
    if workers_ratio:
        print(json.dumps({"a3c_workers": workers_ratio_fn(seeds[0], steps)}, indent=1))
        return
    learners = learners or ("mtl-a3c", "a3c", "dist-dqn")
    print(json.dumps([hard_rows(s, learners, train_s, exact_s) for s in seeds], indent=1))


workers_ratio_fn = workers_ratio

if __name__ == "__main__":
    main()

"""MTL-A3C's goals on contended slots: A3C, MTL-A3C and distributed DQN against the best
plan found, and A3C's learning speed with 1 and 2 workers.

For each seed a hard slot (:func:`offloadlab.instances.slot_generator.hard_slot`) is
solved by greedy, by GA with a large budget (``--ga-evals``) and by each learner trained
for a fixed number of environment steps (``--steps``, ``workers=1``: deterministic, one
core). The best plan found is the best of all of them (a proven optimum per slot would
replace it when one exists). Rows give the objective (total delay), the gap to the best
plan found, the deadlines missed, the learner's wall and CPU seconds and its steps per
CPU second (the machine may be shared: CPU time says what an idle core would take).

``--workers-ratio`` instead trains A3C with 1 then 2 workers on the same slot, seed and
budget, in one run, and reports when each first reached a target objective with its
greedy policy (by default greedy's objective), in wall seconds, and the ratio.

Usage: ``python -m offloadlab.benchmarks.mtl_a3c_goals [--seeds 0-4] [--steps 120000]
[--dqn-steps 30000] [--learner mtl-a3c ...] [--ga-evals 500000] [--out goals.json]`` or
``--workers-ratio [--seeds 0] [--steps 60000] [--target-gap 0]``; prints one JSON document.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import sys
import time

import click

from offloadlab.learners.commands import SLOT_LEARNERS
from offloadlab.options import NON_NEGATIVE, IntList

LEARNERS = ("mtl-a3c", "a3c", "dist-dqn")


def _row(problem, name, sol, wall_s=None, cpu_s=None):
    from offloadlab.learners.slots import slot_report

    row = {"solver": name, "objective": sol.objective, "status": sol.status,
           "evaluations": sol.evaluations, "wall_s": round(sol.wall_s, 2)}
    if sol.assign is not None:
        row["violations"] = slot_report(problem, sol.assign, sol.priority).total_violations
    if cpu_s is not None:
        row["cpu_s"] = round(cpu_s, 2)
        row["steps_per_cpu_s"] = round(sol.evaluations / max(cpu_s, 1e-9), 1)
    for key in ("plan", "policy_key", "episode_key"):  # which plan, and both candidates'
        if key in sol.params:                          # (deadlines missed, objective)
            row[key] = sol.params[key]
    return row


def goal_rows(seed: int, learners, steps: int, ga_evals: int,
              dqn_steps: int | None = None) -> dict:
    """Greedy, GA and the learners on the hard slot of ``seed``, with gaps
    (``dqn_steps``: distributed DQN's budget when it differs from ``steps``)."""
    from offloadlab.instances.slot_generator import hard_slot
    from offloadlab.problem import Problem
    from offloadlab.registry import solve

    problem = Problem.from_instance(hard_slot(seed))
    rows = [_row(problem, "greedy", solve(problem, "greedy")),
            _row(problem, "ga", solve(problem, "ga", seed=seed, budget_evals=ga_evals))]
    for name in learners:
        budget = dqn_steps if name == "dist-dqn" and dqn_steps else steps
        print(f"seed {seed}: {name}, {budget} steps", file=sys.stderr)
        cpu0 = time.process_time()
        sol = solve(problem, name, seed=seed, budget_evals=budget + 1)
        rows.append(_row(problem, name, sol, cpu_s=time.process_time() - cpu0))
    feasible = [r["objective"] for r in rows if r["status"] in ("feasible", "optimal")]
    best = min(feasible) if feasible else math.inf
    for r in rows:
        if math.isfinite(best) and math.isfinite(r["objective"]):
            r["gap_to_best_pct"] = round(100 * (r["objective"] / best - 1), 3)
        if not math.isfinite(r["objective"]):
            r["objective"] = None
    return {"instance": problem.instance.name, "seed": seed,
            "best": best if math.isfinite(best) else None,
            "best_by": [r["solver"] for r in rows if r["objective"] == best], "rows": rows}


def summary(results, learners) -> dict:
    """Per learner: median gap over the seeds, slots where it beats greedy, deadlines
    missed where the best plan found keeps them all; the goals' verdicts."""
    out = {}
    for name in learners:
        gaps, beats, missed = [], 0, 0
        for res in results:
            rows = {r["solver"]: r for r in res["rows"]}
            row, greedy = rows[name], rows["greedy"]["objective"]
            gaps.append(row.get("gap_to_best_pct", math.inf))
            beats += row["objective"] is not None and (greedy is None
                                                       or row["objective"] < greedy)
            if res["best"] is not None:  # some plan keeps every deadline
                missed += row.get("violations", 0)
        median = statistics.median(gaps)
        out[name] = {"median_gap_pct": _finite(median), "gaps_pct": [_finite(g) for g in gaps],
                     "beats_greedy": f"{beats}/{len(results)}", "missed_deadlines": missed}
    greedy = [next(r for r in res["rows"] if r["solver"] == "greedy").get(
        "gap_to_best_pct", math.inf) for res in results]
    out["greedy"] = {"median_gap_pct": _finite(statistics.median(greedy)),
                     "gaps_pct": [_finite(g) for g in greedy]}
    if "mtl-a3c" in out:
        m, g = out["mtl-a3c"]["median_gap_pct"], statistics.median(greedy)
        out["goal_mtl_a3c_within_3pct_and_beats_greedy"] = m is not None and m <= 3.0 and m < g
    out["goal_every_deadline_met"] = all(out[n]["missed_deadlines"] == 0 for n in learners)
    return out


def time_to_target(curve, target: float) -> float:
    """Wall seconds at the first evaluation whose greedy objective is at most
    ``target`` (inf when none)."""
    return next((w for _, w, obj, _ in curve if obj <= target * (1 + 1e-9)), math.inf)


def workers_ratio(seed: int, steps: int, target_gap_pct: float | None) -> dict:
    """A3C with 1 then 2 workers, same slot, seed and budget, in one run."""
    from offloadlab.instances.slot_generator import hard_slot
    from offloadlab.learners.a3c import A3CConfig, train
    from offloadlab.problem import Problem
    from offloadlab.registry import solve

    problem = Problem.from_instance(hard_slot(seed))
    greedy = solve(problem, "greedy").objective
    target = greedy
    if target_gap_pct is not None:
        ga = solve(problem, "ga", seed=seed, budget_evals=500_000).objective
        target = ga * (1 + target_gap_pct / 100)
    out = {"instance": problem.instance.name, "target": target,
           "target_is": "greedy" if target_gap_pct is None else f"GA +{target_gap_pct} %",
           "load_1min_before": os.getloadavg()[0], "cpus": os.cpu_count()}
    cfg = A3CConfig(eval_every=400)
    for workers in (1, 2):
        cpu0 = time.process_time()
        _, info = train(problem, cfg, steps=steps, seed=seed, workers=workers)
        curve = info["curve"]
        out[f"workers_{workers}"] = {
            "wall_s": round(info["wall_s"], 2), "steps": info["steps"],
            "steps_per_s": round(info["steps"] / info["wall_s"], 1),
            "parent_cpu_s": round(time.process_time() - cpu0, 2),
            "time_to_target_s": _finite(time_to_target(curve, target)),
            "best_greedy": min(row[2] for row in curve)}
    one, two = out["workers_1"]["time_to_target_s"], out["workers_2"]["time_to_target_s"]
    out["load_1min_after"] = os.getloadavg()[0]
    out["time_to_target_ratio"] = round(one / two, 3) if one and two else None
    out["throughput_ratio"] = round(out["workers_2"]["steps_per_s"]
                                    / out["workers_1"]["steps_per_s"], 3)
    return out


def _finite(value: float):
    """``value`` rounded, or None when it is not finite (JSON has no infinity)."""
    return round(value, 2) if math.isfinite(value) else None


@click.command()
@click.option("--seeds", default="0-4", type=IntList(), show_default=True)
@click.option("--steps", default=120_000, type=click.IntRange(1), show_default=True,
              help="Training steps per learner (workers=1).")
@click.option("--dqn-steps", type=click.IntRange(1), default=None,
              help="dist-dqn's training steps (default: --steps).")
@click.option("--ga-evals", default=500_000, type=click.IntRange(1), show_default=True)
@click.option("--learner", "learners", multiple=True, type=click.Choice(SLOT_LEARNERS),
              help="Default: mtl-a3c, a3c, dist-dqn.")
@click.option("--workers-ratio", "ratio", is_flag=True,
              help="A3C 1 vs 2 workers: time to reach the target, in one run.")
@click.option("--target-gap", type=NON_NEGATIVE, default=None,
              help="--workers-ratio: target GA's objective + this % (default: greedy's).")
@click.option("--out", "out_path", type=click.Path(dir_okay=False), default=None)
def main(seeds, steps, dqn_steps, ga_evals, learners, ratio, target_gap, out_path):
    """Goals of the slotted learners on hard slots (one JSON document)."""
    if ratio:
        doc = {"a3c_workers": workers_ratio(seeds[0], steps, target_gap)}
    else:
        learners = learners or LEARNERS
        results = [goal_rows(s, learners, steps, ga_evals, dqn_steps) for s in seeds]
        doc = {"steps": steps, "dqn_steps": dqn_steps or steps, "ga_evals": ga_evals,
               "results": results,
               "summary": summary(results, learners)}
    text = json.dumps(doc, indent=1)
    if out_path:
        with open(out_path, "w") as fh:
            fh.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main()

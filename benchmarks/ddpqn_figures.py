"""DDPQN Figs. 6, 9–10, 12 and 13, each with the exact optimum (or proven bound) as an
extra row.

* ``fig6``: delay, energy and cost vs the number of tasks (1–4 AlexNet tasks on one
  client, 2 edge, 2 cloud) for DDPQN, DQN and Greedy.
* ``fig9_10``: coordination (mean H) and balance (mean Z~) under the weight settings A
  (all terms), A−B (no coordination term, varphi = 0), A−X (no balance term, omega = 0)
  and A−B−X, on ddpqn-alexnet-small-s0's environment.
* ``fig12``: client + edge + cloud (L-E-C) vs client + edge (L-E) vs client + cloud (L-C).
* ``fig13``: the number of edge and of cloud servers.

The learners train from scratch on every instance (``--steps`` environment steps, median
over ``--seeds``); the optimum comes from the ``exact`` solver (cached in RESULTS).
Objectives are standardised per instance, so across instances compare the raw delay,
energy and cost columns.

Usage: ``python -m offloadlab.benchmarks.ddpqn_figures RESULTS {fig6,fig9_10,fig12,fig13}
[--steps N] [--seeds K]``; writes ``FIG.csv``, ``FIG.png`` and prints a markdown table.
"""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from offloadlab.options import POSITIVE

from .ddpqn_common import (exact_reference, gap, markdown_table, plan_terms, run_solver,
                           write_csv)

WEIGHTS = {"A": {}, "A-B": {"varphi": 0.0}, "A-X": {"omega": 0.0},
           "A-B-X": {"varphi": 0.0, "omega": 0.0}}
COLUMNS = ["point", "method", "objective", "gap_pct", "bound_gap_pct", "delay_s", "energy_j", "cost_usd",
           "coordination", "balance"]


def instance(n_tasks: int = 2, n_edge: int = 2, n_cloud: int = 2, drop_tier: str | None = None,
             name: str = "ddpqn-point", **weights):
    """A DDPQN-environment problem (AlexNet tasks) with tiers removed or weights changed."""
    from offloadlab.instance import parse_instance
    from offloadlab.instances import presets
    from offloadlab.problem import Problem

    data = presets.ddpqn("alexnet", n_tasks, n_edge=n_edge, n_cloud=n_cloud, name=name,
                         **weights).model_dump(by_alias=True, exclude_none=True)
    if drop_tier:
        data["servers"] = [s for s in data["servers"] if s["tier"] != drop_tier]
    return Problem.from_instance(parse_instance(data, name))


def points(fig: str) -> list[tuple[str, object]]:
    if fig == "fig6":
        return [(f"{n} tasks", instance(n, name=f"ddpqn-alexnet-{n}t")) for n in (1, 2, 3, 4)]
    if fig == "fig9_10":
        return [(k, instance(name=f"ddpqn-alexnet-{k}", **w)) for k, w in WEIGHTS.items()]
    if fig == "fig12":
        return [("L-E-C", instance(name="ddpqn-lec")),
                ("L-E", instance(drop_tier="cloud", name="ddpqn-le")),
                ("L-C", instance(drop_tier="edge", name="ddpqn-lc"))]
    if fig == "fig13":
        return [(f"{e} edge, {c} cloud", instance(n_edge=e, n_cloud=c, name=f"ddpqn-e{e}c{c}"))
                for e, c in ((1, 2), (2, 2), (3, 2), (2, 1), (2, 3))]
    raise click.BadParameter(f"unknown figure {fig!r}")


@click.command()
@click.argument("results", type=click.Path(file_okay=False))
@click.argument("fig", type=click.Choice(["fig6", "fig9_10", "fig12", "fig13"]))
@click.option("--steps", default=20_000, type=click.IntRange(1), show_default=True)
@click.option("--seeds", default=3, type=click.IntRange(1), show_default=True)
@click.option("--methods", default="ddpqn,dqn,greedy", show_default=True)
@click.option("--exact-time-limit", default=120.0, type=POSITIVE, show_default=True)
def main(results, fig, steps, seeds, methods, exact_time_limit):
    """Reproduce one DDPQN figure into RESULTS."""
    from offloadlab.cli import check_run

    out = Path(results)
    rows, pts, methods = [], points(fig), methods.split(",")
    for method in methods:   # every run checked before the first starts
        check_run(method, pts[0][1], budget_evals=steps)
    for label, problem in pts:
        ref = exact_reference(problem, out, exact_time_limit)
        kind = "exact (proven optimum)" if ref["status"] == "optimal" else \
            f"exact ({ref['status']}, bound {ref['bound']})"
        rows.append({"point": label, "method": kind, "objective": ref["objective"],
                     "gap_pct": 0.0 if ref["status"] == "optimal" else None, **ref["terms"]})
        for method in methods:
            runs = [run_solver(problem, method, seed=s, budget_evals=steps)
                    for s in (range(seeds) if method != "greedy" else [0])]
            objs = [r.objective for r in runs]
            best = runs[int(np.argsort(objs)[len(objs) // 2])]  # the median run
            # without a proven optimum, the gap is to the proven bound (an upper estimate)
            proven = ref["status"] == "optimal"
            rows.append({"point": label, "method": method, "objective": best.objective,
                         "gap_pct": gap(best.objective, ref["objective"]) if proven else None,
                         "bound_gap_pct": None if proven or ref["bound"] is None
                         else gap(best.objective, ref["bound"]),
                         **plan_terms(problem, best)})
            click.echo(f"{fig} {label} {method}: {best.objective:.5g}", err=True)
    write_csv(rows, out / f"{fig}.csv")
    _plot(rows, out / f"{fig}.png", fig)
    click.echo(markdown_table(rows, COLUMNS))


def _plot(rows, path: Path, fig: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = (["coordination", "balance"] if fig == "fig9_10"
               else ["delay_s", "energy_j", "cost_usd"])
    labels = list(dict.fromkeys(r["point"] for r in rows))
    methods = list(dict.fromkeys(r["method"] for r in rows))
    fig_, axes = plt.subplots(1, len(metrics), figsize=(4 * len(metrics), 3.5))
    width = 0.8 / len(methods)
    for ax, metric in zip(np.atleast_1d(axes), metrics):
        for i, m in enumerate(methods):
            vals = [next((r.get(metric, np.nan) for r in rows
                          if r["point"] == p and r["method"] == m), np.nan) for p in labels]
            ax.bar(np.arange(len(labels)) + i * width, vals, width, label=m)
        ax.set_xticks(np.arange(len(labels)) + 0.4 - width / 2, labels, fontsize=7)
        ax.set_title(metric)
    np.atleast_1d(axes)[0].legend(fontsize=6)
    fig_.suptitle(f"DDPQN {fig}")
    fig_.tight_layout()
    fig_.savefig(path, dpi=120)
    plt.close(fig_)


if __name__ == "__main__":
    main()

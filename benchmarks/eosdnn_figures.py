"""Shared code of the EosDNN Fig. 16/17 reproductions: run, tabulate, plot.

Every row of a figure gains what the paper lacks: the exact optimum or best bound (the
registry's exact solver within a time limit, on instances up to ``exact_max_layers``
layers) and every method's gap to it; without a bound the gap is "vs best known".
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

METHODS = (("greedy", {}), ("ga", {}), ("pre-pso", {}), ("pso-ga", {}),
           ("pso-ga", {"init": "random", "search_order": False}), ("heft", {}), ("peft", {}))
LABELS = {"pso-ga init=random search_order=False": "pso-ga (paper-literal)"}


def run_point(problem, name: str, budget_evals: int | None, seeds: int,
              exact_time_limit_s: float, exact_max_layers: int) -> list[dict]:
    """Rows (instance, method, median objective over seeds, gap, reference)."""
    from offloadlab.heuristics.comparison import best_bound
    from offloadlab.registry import solve
    from offloadlab.solution import relative_gap

    rows = []
    for solver, params in METHODS:
        values, walls = [], []
        for seed in range(seeds if solver in ("ga", "pso-ga", "pre-pso") else 1):
            sol = solve(problem, solver, seed=seed, budget_evals=budget_evals, **params)
            values.append(sol.objective)
            walls.append(sol.wall_s)
        label = solver + "".join(f" {k}={v}" for k, v in params.items())
        rows.append({"instance": name, "layers": problem.n_layers, "tasks": problem.n_tasks,
                     "method": LABELS.get(label, label), "objective": float(np.median(values)),
                     "wall_s": float(np.median(walls)), "runs": len(values)})
    bound, source = (None, "")
    if problem.n_layers <= exact_max_layers:
        bound, source = best_bound(problem, exact_time_limit_s)
    ref = bound if bound is not None else min(r["objective"] for r in rows)
    if bound is not None:
        rows.append({"instance": name, "layers": problem.n_layers, "tasks": problem.n_tasks,
                     "method": f"bound ({source})", "objective": bound, "wall_s": None,
                     "runs": 1})
    for r in rows:
        gap = relative_gap(r["objective"], ref)
        r["gap_pct"] = None if gap is None else 100 * gap
        r["gap_to"] = "bound" if bound is not None else "best known"
    return rows


def write_csv(rows: list[dict], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def plot_bars(rows: list[dict], groups: list[str], group_key: str, path: Path,
              title: str, xlabel: str) -> None:
    """Grouped bars (log scale) of every method's objective per group, bound included."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = list(dict.fromkeys(r["method"] for r in rows if not
                                 r["method"].startswith("bound")))
    methods.append("bound")
    width = 0.8 / len(methods)
    fig, ax = plt.subplots(figsize=(10, 4.5))
    for k, m in enumerate(methods):
        ys = []
        for g in groups:
            hit = [r["objective"] for r in rows if str(r[group_key]) == str(g)
                   and (r["method"] == m or (m == "bound" and r["method"].startswith("bound")))]
            ys.append(hit[0] if hit else np.nan)
        ax.bar(np.arange(len(groups)) + k * width, ys, width, label=m)
    ax.set_xticks(np.arange(len(groups)) + 0.4 - width / 2, [str(g) for g in groups])
    ax.set_yscale("log")
    ax.set_ylabel("migration delay MD (s, sum of task latencies)")
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)

"""Shared parts of the DDPQN reproductions: exact optima (cached), learner runs, CSV and
plots. Every objective is the simulator's; every gap is against a proven optimum or
bound (``exact``), labelled as such.
"""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import numpy as np


def exact_reference(problem, results: Path, time_limit_s: float = 120.0) -> dict:
    """The exact solver's objective, bound and status for ``problem`` (cached as JSON in
    ``results/exact-cache.json`` by instance name and content)."""
    from offloadlab.registry import get_solver

    cache_path = results / "exact-cache.json"
    cache = json.loads(cache_path.read_text()) if cache_path.exists() else {}
    digest = hashlib.sha1(problem.instance.to_json().encode()).hexdigest()[:10]
    key = f"{problem.instance.name}:{digest}"
    if key not in cache:
        sol = get_solver("exact")(problem, time_limit_s=time_limit_s)
        cache[key] = {"objective": sol.objective, "bound": sol.bound, "status": sol.status,
                      "terms": plan_terms(problem, sol)}
        results.mkdir(parents=True, exist_ok=True)
        cache_path.write_text(json.dumps(cache, indent=1))
    return cache[key]


def plan_terms(problem, sol) -> dict:
    """The simulator's named terms (delay, energy, cost, coordination, balance) of a
    Solution's plan."""
    from offloadlab.simulator import simulate

    if sol.assign is None:
        return {}
    ev = simulate(problem, sol.assign, sol.priority)
    return {k: float(v[0]) for k, v in ev.terms.items()}


def gap(value: float, reference: float) -> float:
    """|value − reference| / |reference| (the goals' measure), in percent."""
    return 100.0 * abs(value - reference) / abs(reference)


def run_solver(problem, name: str, **kwargs):
    """``name`` on ``problem`` through the registry (budgets and parameters checked)."""
    from offloadlab.registry import solve

    return solve(problem, name, **kwargs)


def write_csv(rows: list[dict], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    keys = list(dict.fromkeys(k for r in rows for k in r))
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=keys)
        w.writeheader()
        w.writerows(rows)


def markdown_table(rows: list[dict], columns: list[str]) -> str:
    """A README-ready table of ``rows`` (floats to 4 significant digits)."""
    def cell(v):
        if isinstance(v, float):
            return "-" if not np.isfinite(v) else f"{v:.4g}"
        return "-" if v is None else str(v)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def plot(path: Path, series: dict, title: str, xlabel: str, ylabel: str,
         hlines: dict | None = None) -> None:
    """Lines ``series[label] = (x, y)`` and horizontal references ``hlines[label] = y``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for label, (x, y) in series.items():
        ax.plot(x, y, label=label)
    for label, y in (hlines or {}).items():
        ax.axhline(y, ls="--", color="k" if "optim" in label else "grey", lw=1, label=label)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)

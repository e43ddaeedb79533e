"""``offloadlab pareto``: a delay-energy-cost front and its quality against the exact one.

The reference point of the hypervolume is fixed per instance and objective set: 1.1 times
the largest value of each objective over the plans of the registered baselines
(local-only, edge-only, cloud-only, greedy, HEFT, PEFT), so hypervolumes of different
runs and algorithms compare. When an exact front is known (``--exact-time-limit`` > 0 and
the instance small enough for :mod:`offloadlab.formulations.pareto`), the output adds the
HV ratio (HV of the front / HV of the exact front) and IGD+ (pymoo's, on objectives
scaled to the exact front's range: IGD+ 0.01 is 1 % of the range); else they are null.
"""

from __future__ import annotations

import time

import click
import numpy as np

ANCHORS = ("local-only", "edge-only", "cloud-only", "greedy", "heft", "peft")


def register(main: click.Group) -> None:
    main.add_command(pareto)


def reference_point(problem, columns) -> np.ndarray:
    """1.1 times the worst value of each objective over the baselines' plans."""
    from offloadlab.simulator import components
    from offloadlab.warm_start import registered_plans

    plans, _ = registered_plans(problem, ANCHORS)
    f = np.vstack([components(problem, a, p)[:, columns] for _, a, p in plans])
    f = f[np.isfinite(f).all(axis=1)]
    return 1.1 * f.max(axis=0)


def indicators(front: np.ndarray, ref: np.ndarray, exact: np.ndarray | None) -> dict:
    """``hv`` (and, against an exact front, ``hv_exact``, ``hv_ratio`` and ``igd_plus``)."""
    from pymoo.indicators.hv import HV
    from pymoo.indicators.igd_plus import IGDPlus

    hv = HV(ref_point=ref)
    out = {"hv": float(hv(front)) if len(front) else 0.0, "hv_exact": None,
           "hv_ratio": None, "igd_plus": None}
    if exact is None or not len(exact):
        return out
    ideal, nadir = exact.min(axis=0), exact.max(axis=0)
    span = np.where(nadir > ideal, nadir - ideal, 1.0)
    out["hv_exact"] = float(hv(exact))
    out["hv_ratio"] = out["hv"] / out["hv_exact"] if out["hv_exact"] > 0 else None
    out["igd_plus"] = float(IGDPlus((exact - ideal) / span)((front - ideal) / span)) \
        if len(front) else None
    return out


def run_pareto(problem, algorithm: str, objectives, *, seed: int = 0,
               budget_evals: int | None = None, exact_time_limit_s: float = 60.0) -> dict:
    """One front with its indicators (the ``pareto`` command's JSON object)."""
    from offloadlab.formulations.pareto import ParetoError, exact_front
    from offloadlab.plan import plan_to_dict

    from .moo import UNITS, objective_columns, search

    columns = objective_columns(problem, objectives)
    started = time.perf_counter()
    exact = None
    if algorithm == "exact" or exact_time_limit_s > 0:
        try:
            exact = exact_front(problem, objectives, time_limit_s=exact_time_limit_s)
        except ParetoError:
            if algorithm == "exact":
                raise
    if algorithm == "exact":
        found = exact
    else:
        found = search(problem, algorithm, objectives, seed=seed, budget_evals=budget_evals)
    ref = reference_point(problem, columns)
    complete = exact is not None and exact["proven"]
    ind = indicators(found["front"], ref, exact["front"] if complete else None)
    return {
        "instance": problem.instance.name, "algorithm": algorithm,
        "objectives": [UNITS[o] for o in objectives], "seed": seed,
        "front": found["front"].tolist(),
        "plans": [plan_to_dict(problem, a, p) for a, p in zip(found["assign"],
                                                               found["priority"])],
        "hv": ind["hv"], "reference_point": ref.tolist(),
        "hv_exact": ind["hv_exact"], "hv_ratio": ind["hv_ratio"],
        "igd_plus": ind["igd_plus"],
        "exact": None if exact is None else {
            "method": exact["method"], "proven": bool(exact["proven"]),
            "points": len(exact["front"]), "solves": exact["solves"],
            "wall_s": exact["wall_s"]},
        "evaluations": found.get("evaluations", 0),
        "wall_s": found.get("wall_s", time.perf_counter() - started),
    }


@click.command()
@click.argument("instance")
@click.option("--algorithm", default="nsga2", show_default=True,
              help="nsga2, nsga3, moead, agemoea2, smsemoa or exact.")
@click.option("--objectives", default=None,
              help="Two or three of delay, energy, cost (comma-separated); default: "
                   "every one the instance's kind defines.")
@click.option("--budget-evals", type=int, default=None,
              help="Simulator evaluations (default 20000).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--exact-time-limit", type=float, default=60.0, show_default=True,
              help="Seconds for the exact front the indicators compare with (0: none).")
@click.option("--plot", "plot_path", default=None, help="Write the front as a PNG.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def pareto(instance, algorithm, objectives, budget_evals, seed, exact_time_limit, plot_path,
           as_json):
    """The delay-energy-cost Pareto front of INSTANCE by a pymoo algorithm or exactly,
    with its hypervolume and, against the exact front, HV ratio and IGD+."""
    from offloadlab.cli import UserError, emit, load_problem, table

    from .moo import ALGORITHMS

    if algorithm not in (*ALGORITHMS, "exact"):
        raise UserError(f"--algorithm: unknown {algorithm!r}; known: "
                        f"{', '.join((*ALGORITHMS, 'exact'))}")
    if budget_evals is not None and budget_evals < 1:
        raise UserError(f"--budget-evals: must be >= 1, got {budget_evals}")
    if seed < 0:
        raise UserError(f"--seed: must be >= 0, got {seed}")
    if not 0 <= exact_time_limit < float("inf"):
        raise UserError(f"--exact-time-limit: must be >= 0 seconds, got {exact_time_limit}")
    if plot_path is not None and not plot_path.lower().endswith(".png"):
        raise UserError(f"--plot: {plot_path}: the plot is a PNG file (ends in .png)")
    problem = load_problem(instance)
    from offloadlab.formulations.pareto import ParetoError, defined_objectives

    names = ([o.strip() for o in objectives.split(",") if o.strip()]
             if objectives is not None else list(defined_objectives(problem)))

    from .moo import objective_columns
    try:
        objective_columns(problem, names)
        out = run_pareto(problem, algorithm, names, seed=seed, budget_evals=budget_evals,
                         exact_time_limit_s=exact_time_limit if algorithm != "exact"
                         else max(exact_time_limit, 0) or None)
    except (ValueError, ParetoError) as exc:
        raise UserError(f"{problem.instance.name}: {exc}") from None
    if plot_path:
        from .moo_plots import plot_front

        plot_front(out, plot_path)

    def render(o):
        def num(x):
            return "n/a" if x is None else f"{x:.6g}"
        title = (f"{o['instance']}: {o['algorithm']}, {len(o['front'])} points, "
                 f"HV {num(o['hv'])}, HV ratio {num(o['hv_ratio'])}, "
                 f"IGD+ {num(o['igd_plus'])}")
        table(title, o["objectives"], o["front"], digits=6)

    emit(out, as_json, render)

"""MTL-A3C Figs. 8–13 with the exact row: delay (and energy) of every learner and
baseline against the exact solver's plan and proven bound.

Every point is one instance of :func:`offloadlab.instances.presets.mtl_a3c` (VGG16 chains
of merged blocks from 10 IoT devices on edge servers, device–ES rates in [0.8, 2] MB/s,
deadlines uniform in [1, 7] s) with one parameter swept:

* Fig. 8: edge servers 2–9 (6 blocks, 60 tasks/s);
* Fig. 9: blocks per task 3–18 (4 ESs, 60 tasks/s);
* Fig. 10: release rate 30–110 tasks/s (4 ESs, 6 blocks);
* Fig. 11: energy of the plans of Figs. 8–10 (same points, no new runs);
* Fig. 12: maximum tolerated delay ``tau_max_s``: deadlines are the preset's [1, 7] s
  scaled by ``tau_max_s / 7`` (4 ESs, 6 blocks, 60 tasks/s);
* Fig. 13: device–ES link capacity (every device the same rate) × the four models
  VGG16, AlexNet, ResNet32 and NiN (4 ESs, 6 blocks, 60 tasks/s).

Scaled down (chosen, so that a learner trains and the exact solver proves in seconds):
a point releases ``rate × window_s`` tasks over one window of ``window_s`` (default
0.1 s: 6 tasks at 60 tasks/s, the paper's rate over a tenth of its 1-s slot), not 600
slots of 1 s. The tolerated-delay axis is shrunk too: these CIFAR-size tasks finish in
0.05–0.5 s, so the paper's [1, 7] s never binds.

Rows per point: ``mtl-a3c``, ``a3c``, ``dist-dqn`` (``--train-steps`` environment
steps, one worker, so deterministic), ``least-loaded`` (the paper's Greedy), ``apdi``,
``rpdi``, ``ga`` (``--ga-evals``) and ``exact`` (``--exact-s``). Each row gives the
simulator's objective of its plan (``null`` when infeasible), its total delay and
violated deadlines replayed by :func:`offloadlab.learners.slots.slot_report` (feasible
or not), the delay spent in blocks on edge servers and on devices (each block's
transfer + wait + execution, by where it runs: the paper's edge and local inference
delays), its energy, and its gap: against exact's proven bound when exact proves one
(``gap_to_bound_pct``), and always against the best feasible objective of the point
(``vs_best_known_pct``).

Energy (MODELS.md §6, eqs. 4 and 7; the core's ``deadline`` objective has no energy
component, so it is computed here from the simulator's per-layer records): a block on its
device costs ``κ·f²·c`` (κ = 1e-26, ``f`` the device's Hz, ``c`` the block's cycles); a
block whose input the device sends to an edge server (the task input or the previous
block's output) costs ``p·transfer_s`` with ``p`` = ``TX_W`` (chosen, the paper's value
is in a missing table: 0.5 W); transfers between edge servers and to the device and
execution on edge servers cost nothing (ES energy 0).

ResNet32 is a DAG (residual shortcuts): its blocks are cut only where one tensor crosses
(after a residual block), the cuts nearest to equal layer counts
(:func:`chain_blocks`).

Usage: ``python -m offloadlab.benchmarks.mtl_a3c_figs (--figure N ... | --all) [--quick]
[--train-steps 5000] [--exact-s 10] [--ga-evals 5000] [--window-s 0.1] [--seed 0]
[--out benchmarks/figures]`` prints one JSON document and writes ``mtl_a3c_figN.png``
into ``--out``; ``--solvers exact,ga`` runs only those rows; ``--tables DOC.json ...``
reads saved documents instead of running (a later document's row replaces the same
solver's row at the same point, e.g. exact rerun with a longer limit), prints the
Markdown tables and redraws the PNGs.
"""

from __future__ import annotations

import copy
import json
import math
import sys
import time
from pathlib import Path

import click
import numpy as np

from offloadlab.options import POSITIVE

KAPPA = 1e-26   # MTL-A3C eq. 4: energy coefficient of the device chip
TX_W = 0.5      # chosen: the device's transmit power (W)
LEARNERS = ("mtl-a3c", "a3c", "dist-dqn")
BASELINES = ("least-loaded", "apdi", "rpdi")
SOLVERS = LEARNERS + BASELINES + ("ga", "exact")
MODELS = ("vgg16", "alexnet", "resnet32", "nin")
DEFAULT = {"model": "vgg16", "n_blocks": 6, "n_es": 4, "rate_per_s": 60,
           "tau_max_s": 7.0, "link_mb_per_s": None}

# figure -> (axis field, values, values with --quick)
AXES = {
    8: ("n_es", (2, 3, 4, 5, 6, 7, 8, 9), (2, 4)),
    9: ("n_blocks", (3, 6, 9, 12, 15, 18), (3, 6)),
    10: ("rate_per_s", (30, 50, 70, 90, 110), (30, 60)),
    12: ("tau_max_s", (0.14, 0.35, 0.7, 1.4, 7.0), (0.35, 7.0)),
    13: ("link_mb_per_s", (0.8, 1.4, 2.0), (1.4,)),
}
ENERGY_OF = (8, 9, 10)  # Fig. 11 reads the plans of these figures
TITLES = {8: "edge servers", 9: "blocks per task", 10: "release rate (tasks/s)",
          11: "energy", 12: "max tolerated delay (s)", 13: "device-ES link (MB/s)"}


# --- instances --------------------------------------------------------------------------


def chain_blocks(model: dict, n_blocks: int) -> dict:
    """``model`` merged into ``n_blocks`` chained blocks: a chain by
    :func:`~offloadlab.instances.presets.merge_blocks`; a DAG (layers in topological file
    order) cut only after a layer whose output is the only tensor crossing the cut, at the
    allowed cuts nearest to equal layer counts. A block's cycles and weights are the sums
    of its layers', its output its last layer's."""
    from offloadlab.instances.presets import blocks_model, merge_blocks

    layers = model["layers"]
    if all(len(layer["next"]) <= 1 for layer in layers):
        return merge_blocks(model, n_blocks)
    pos = {layer["name"]: i for i, layer in enumerate(layers)}
    reach = np.array([max([pos[s] for s in layer["next"]], default=i)
                      for i, layer in enumerate(layers)])
    if any(pos[s] <= i for i, layer in enumerate(layers) for s in layer["next"]):
        raise ValueError("chain_blocks needs the layers in topological order")
    # a cut after i is clean when no layer before i sends past i
    prefix = np.maximum.accumulate(np.concatenate([[-1], reach[:-1]]))
    cuts = [i for i in range(len(layers) - 1) if prefix[i] <= i]
    if len(cuts) < n_blocks - 1:
        raise ValueError(f"the model has {len(cuts) + 1} chain blocks at most, not "
                         f"{n_blocks}")
    targets = [g[-1] for g in np.array_split(np.arange(len(layers)), n_blocks)[:-1]]
    chosen = []
    for t in targets:  # nearest free cut, in order
        free = [c for c in cuts if c not in chosen and (not chosen or c > chosen[-1])]
        chosen.append(min(free, key=lambda c: abs(c - t)))
    bounds = [-1] + chosen + [len(layers) - 1]
    return blocks_model(model, [layers[bounds[b] + 1: bounds[b + 1] + 1]
                                for b in range(n_blocks)])


def point_problem(spec: dict, window_s: float, seed: int):
    """The :class:`~offloadlab.problem.Problem` of one point (module docstring)."""
    from offloadlab.instance import parse_instance
    from offloadlab.instances.models import load_model
    from offloadlab.instances.presets import mtl_a3c
    from offloadlab.problem import Problem

    n_tasks = max(1, round(spec["rate_per_s"] * window_s))
    inst = mtl_a3c("vgg16", spec["n_blocks"], n_es=spec["n_es"], n_tasks=n_tasks,
                   slot_s=window_s, seed=seed)
    data = inst.model_dump(by_alias=True, exclude_none=True)
    model = spec["model"]
    data["models"] = {model: chain_blocks(load_model(model), spec["n_blocks"])}
    for task in data["tasks"]:
        task["model"] = model
        task["deadline_s"] = round(task["deadline_s"] * spec["tau_max_s"] / 7.0, 6)
    if spec["link_mb_per_s"] is not None:
        for link in data["links"]:
            if link["b"] == "edge" and link["a"] != "edge":
                link["mb_per_s"] = float(spec["link_mb_per_s"])
    name = (f"mtl-{model}-{spec['n_blocks']}b-{spec['n_es']}es-{n_tasks}t"
            f"-tau{spec['tau_max_s']:g}-link{spec['link_mb_per_s']}-s{seed}")
    data["name"] = name
    data["description"] = (f"MTL-A3C figure point: {n_tasks} x {model} "
                           f"({spec['n_blocks']} blocks) on {spec['n_es']} edge servers")
    return Problem.from_instance(parse_instance(data, name))


# --- one point --------------------------------------------------------------------------


def plan_measures(problem, assign, priority) -> dict:
    """Delay split by where each block runs, and energy, from the simulator's records;
    total delay and violated deadlines by :func:`slot_report` (feasible or not)."""
    from offloadlab.learners.slots import slot_report
    from offloadlab.simulator import simulate

    ev = simulate(problem, assign, priority)
    assign = np.asarray(assign)
    spent_s = (ev.exec_s + ev.transfer_s + ev.wait_s)[0]
    on_device = problem.tier[assign] == 0
    hz = problem.ghz[assign] * 1e9
    local_j = KAPPA * hz ** 2 * problem.gcycles * 1e9
    crit = ev.crit_pred[0]
    sent_by_device = np.where(crit < 0, True, on_device[np.maximum(crit, 0)])
    tx_j = np.where(sent_by_device & ~on_device, TX_W * ev.transfer_s[0], 0.0)
    report = slot_report(problem, assign, priority)
    return {"delay_s": report.total_delay_s, "violations": report.total_violations,
            "edge_s": float(spent_s[~on_device].sum()),
            "local_s": float(spent_s[on_device].sum()),
            "energy_j": float(np.where(on_device, local_j, 0.0).sum() + tx_j.sum())}


def solve_row(problem, name: str, budgets: dict, seed: int):
    """``(Solution, row)`` of solver ``name`` on ``problem``."""
    from offloadlab.registry import solve

    if name in LEARNERS:
        sol = solve(problem, name, seed=seed, budget_evals=budgets["train_steps"] + 1)
    elif name == "ga":
        sol = solve(problem, name, seed=seed, budget_evals=budgets["ga_evals"])
    elif name == "exact":
        sol = solve(problem, name, seed=seed, time_limit_s=budgets["exact_s"])
    else:
        sol = solve(problem, name, seed=seed)
    row = {"solver": name, "objective": _num(sol.objective), "status": sol.status,
           "wall_s": round(sol.wall_s, 2)}
    if sol.assign is not None:
        row.update(plan_measures(problem, sol.assign, sol.priority))
        row["plan"] = {"assign": sol.assign.tolist(),
                       "priority": None if sol.priority is None else
                       np.asarray(sol.priority).tolist()}
    if name == "exact":
        row.update(bound=_num(sol.bound), bound_source=sol.bound_source,
                   message=sol.message)
    return sol, row


def run_point(spec: dict, budgets: dict, window_s: float, seed: int,
              solvers=SOLVERS) -> dict:
    """``solvers`` on one point, with gaps (module docstring)."""
    problem = point_problem(spec, window_s, seed)
    rows = []
    for name in solvers:
        rows.append(solve_row(problem, name, budgets, seed)[1])
        print(f"{problem.instance.name}: {name} {rows[-1]['objective']} "
              f"({rows[-1]['wall_s']} s)", file=sys.stderr, flush=True)
    return with_gaps({"instance": problem.instance.name, "spec": spec,
                      "n_layers": problem.n_layers, "n_tasks": problem.n_tasks,
                      "rows": rows})


def with_gaps(point: dict) -> dict:
    """``point`` with exact's bound and status, the best feasible objective and every
    row's gaps to them (none to a bound exact did not prove)."""
    exact = next((r for r in point["rows"] if r["solver"] == "exact"), {})
    bound = exact.get("bound")
    feasible = [r["objective"] for r in point["rows"] if r["objective"] is not None]
    best = min(feasible) if feasible else None
    for r in point["rows"]:
        obj = r["objective"]
        r["gap_to_bound_pct"] = (None if obj is None or bound is None or bound <= 0
                                 else round(100 * (obj / bound - 1), 3))
        r["vs_best_known_pct"] = (None if obj is None or best is None
                                  else round(100 * (obj / best - 1), 3))
    return {**point, "bound": bound, "bound_source": exact.get("bound_source"),
            "exact_status": exact.get("status"), "best_known": best}


def merge(docs) -> dict:
    """Saved documents as one: a later document's row replaces the row of the same
    solver at the same instance (e.g. exact rerun with a longer limit)."""
    out: dict = {"figures": {}}
    for doc in copy.deepcopy(list(docs)):
        for fig, data in doc["figures"].items():
            have = out["figures"].setdefault(fig, {"axis": data["axis"], "points": []})
            for point in data["points"]:
                old = next((p for p in have["points"]
                            if p["instance"] == point["instance"]), None)
                if old is None:
                    have["points"].append(point)
                    continue
                rows = {r["solver"]: r for r in old["rows"]}
                rows.update({r["solver"]: r for r in point["rows"]})
                old["rows"] = [rows[s] for s in SOLVERS if s in rows]
    for data in out["figures"].values():
        data["points"] = [with_gaps(p) for p in data["points"]]
    return out


def _num(x):
    return None if x is None or not math.isfinite(x) else float(x)


def run_figures(figures, budgets: dict, window_s: float, seed: int, quick: bool,
                solvers=SOLVERS) -> dict:
    """The JSON document of ``figures`` (Fig. 11 runs the points of Figs. 8–10); a point
    shared by two figures runs once."""
    cache: dict = {}
    doc = {"settings": {**budgets, "window_s": window_s, "seed": seed, "quick": quick,
                        "solvers": list(solvers),
                        "tx_w": TX_W, "kappa": KAPPA},
           "figures": {}}
    wanted = sorted({f for g in figures for f in (ENERGY_OF if g == 11 else (g,))})
    for fig in wanted:
        axis, values, quick_values = AXES[fig]
        points = []
        for model in (MODELS if fig == 13 else (DEFAULT["model"],)):
            for x in (quick_values if quick else values):
                spec = {**DEFAULT, "model": model, axis: x}
                key = json.dumps(spec, sort_keys=True)
                if key not in cache:
                    cache[key] = run_point(spec, budgets, window_s, seed, solvers)
                points.append({"x": x, "model": model, **cache[key]})
        doc["figures"][str(fig)] = {"axis": axis, "points": points}
    return doc


# --- tables and plots -------------------------------------------------------------------


def _cell(row: dict, field: str) -> str:
    if row.get(field) is None:
        return "-"
    late = f" ({row['violations']} late)" if row.get("violations") else ""
    return f"{row[field]:.3f}{late}"


def _bound_cell(point: dict) -> str:
    """Exact's proven bound, status and the gap of its plan to the bound."""
    exact = next((r for r in point["rows"] if r["solver"] == "exact"), {})
    if point["bound"] is None:
        return f"- ({point['exact_status']})"
    gap = exact.get("gap_to_bound_pct")
    gap = "" if gap is None else f", gap {gap:.2f} %"
    return f"{point['bound']:.4f} ({point['exact_status']}{gap})"


def tables(doc: dict) -> str:
    """Markdown: per figure, one line per point with each solver's delay and exact's
    bound, status and gap; the energy of Figs. 8–10's plans as Fig. 11."""
    out = []
    figs = doc["figures"]
    for fig in sorted(int(f) for f in figs):
        blocks = [(fig, "delay_s")]
        if fig in ENERGY_OF:
            blocks.append((11, "energy_j"))
        for number, field in blocks:
            delay = field == "delay_s"
            axis = figs[str(fig)]["axis"]
            head = ("| " + ("model | " if fig == 13 else "") + f"{axis} | "
                    + " | ".join(SOLVERS) + " |" + (" exact bound (status, gap) |"
                                                    if delay else ""))
            out += [f"Fig. {fig}: delay (s) vs {TITLES[fig]}" if delay else
                    f"Fig. 11: energy (J) of the Fig. {fig} plans vs {TITLES[fig]}",
                    "", head, "|---" * (len(SOLVERS) + 1 + delay + (fig == 13)) + "|"]
            for p in figs[str(fig)]["points"]:
                by = {r["solver"]: r for r in p["rows"]}
                out.append("| " + (f"{p['model']} | " if fig == 13 else "") + f"{p['x']} | "
                           + " | ".join(_cell(by.get(s, {}), field) for s in SOLVERS)
                           + " |" + (f" {_bound_cell(p)} |" if delay else ""))
            out.append("")
    return "\n".join(out)


def plot(doc: dict, out_dir: Path) -> list[str]:
    """One PNG per figure (Fig. 11 when Figs. 8–10 are in ``doc``); returns the paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    figs = doc["figures"]
    written = []

    def lines(ax, points, field, with_bound):
        xs = [p["x"] for p in points]
        for s in SOLVERS:
            ys = [next((r for r in p["rows"] if r["solver"] == s), {}).get(field, np.nan)
                  for p in points]
            ax.plot(xs, [np.nan if y is None else y for y in ys], marker="o", ms=3,
                    label=s, ls="--" if s == "exact" else "-")
        if with_bound:
            ax.plot(xs, [np.nan if p["bound"] is None else p["bound"] for p in points],
                    "k:", label="exact bound")
        ax.set_yscale("log")  # the baselines sit 10x above the rest

    for fig in sorted(int(f) for f in figs):
        points = figs[str(fig)]["points"]
        if fig == 13:
            fig_, axes = plt.subplots(1, len(MODELS), figsize=(14, 3.6), sharey=False)
            for ax, model in zip(axes, MODELS):
                lines(ax, [p for p in points if p["model"] == model], "delay_s", True)
                ax.set_title(model)
                ax.set_xlabel(TITLES[13])
            axes[0].set_ylabel("total delay (s)")
        else:
            fig_, ax = plt.subplots(figsize=(6, 4))
            lines(ax, points, "delay_s", True)
            ax.set_xlabel(TITLES[fig])
            ax.set_ylabel("total delay (s)")
        fig_.axes[0].legend(fontsize=7)
        fig_.suptitle(f"MTL-A3C Fig. {fig} (reproduction)")
        fig_.tight_layout()
        path = out_dir / f"mtl_a3c_fig{fig}.png"
        fig_.savefig(path, dpi=110)
        plt.close(fig_)
        written.append(str(path))
    energy = [f for f in ENERGY_OF if str(f) in figs]
    if energy:
        fig_, axes = plt.subplots(1, len(energy), figsize=(5 * len(energy), 3.6),
                                  squeeze=False)
        for ax, f in zip(axes[0], energy):
            lines(ax, figs[str(f)]["points"], "energy_j", False)
            ax.set_xlabel(TITLES[f])
            ax.set_ylabel("energy (J)")
        axes[0][0].legend(fontsize=7)
        fig_.suptitle("MTL-A3C Fig. 11 (reproduction): energy")
        fig_.tight_layout()
        path = out_dir / "mtl_a3c_fig11.png"
        fig_.savefig(path, dpi=110)
        plt.close(fig_)
        written.append(str(path))
    return written


# --- command line -----------------------------------------------------------------------


@click.command()
@click.option("--figure", "figures", multiple=True, type=click.Choice(
    ["8", "9", "10", "11", "12", "13"]), help="Repeatable.")
@click.option("--all", "all_", is_flag=True, help="Figs. 8–13.")
@click.option("--quick", is_flag=True, help="Two points per axis, tiny budgets (seconds).")
@click.option("--train-steps", default=5000, type=click.IntRange(1), show_default=True,
              help="Environment steps of each learner.")
@click.option("--exact-s", default=10.0, type=POSITIVE, show_default=True, help="Exact's time limit.")
@click.option("--ga-evals", default=5000, type=click.IntRange(1), show_default=True)
@click.option("--window-s", default=0.1, type=POSITIVE, show_default=True,
              help="Release window: rate x window tasks per point.")
@click.option("--seed", default=0, type=click.IntRange(0), show_default=True)
@click.option("--out", default="benchmarks/figures", show_default=True,
              type=click.Path(file_okay=False), help="Where the PNGs go.")
@click.option("--solvers", default=",".join(SOLVERS), show_default=True,
              help="Comma-separated subset of the rows.")
@click.option("--no-plot", is_flag=True)
@click.option("--tables", "saved", multiple=True, type=click.Path(exists=True,
              dir_okay=False), help="Saved JSON documents: print tables, redraw PNGs.")
def main(figures, all_, quick, train_steps, exact_s, ga_evals, window_s, seed, out,
         solvers, no_plot, saved):
    """MTL-A3C Figs. 8–13 with the exact row (one JSON document on stdout)."""
    if saved:
        doc = merge(json.loads(Path(path).read_text()) for path in saved)
        if not no_plot:
            plot(doc, Path(out))
        click.echo(tables(doc))
        return
    if all_:
        figures = tuple(AXES) + (11,)
    if not figures:
        raise click.UsageError("give --figure N (repeatable) or --all")
    if quick:
        train_steps, exact_s, ga_evals, window_s = (min(train_steps, 300),
                                                    min(exact_s, 5.0),
                                                    min(ga_evals, 500), min(window_s, 0.05))
    solvers = tuple(s.strip() for s in solvers.split(","))
    unknown = sorted(set(solvers) - set(SOLVERS))
    if unknown:
        raise click.BadParameter(f"unknown rows {unknown}; choose among {SOLVERS}",
                                 param_hint="--solvers")
    budgets = {"train_steps": train_steps, "exact_s": exact_s, "ga_evals": ga_evals}
    started = time.perf_counter()
    doc = run_figures([int(f) for f in figures], budgets, window_s, seed, quick, solvers)
    doc["wall_s"] = round(time.perf_counter() - started, 1)
    if not no_plot:
        doc["png"] = plot(doc, Path(out))
    click.echo(json.dumps(doc))


if __name__ == "__main__":  # pragma: no cover
    main()

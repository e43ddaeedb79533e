"""Reports from the results store: Markdown gap tables, CSV exports and PNG plots.

``write_report(db, out_dir)`` writes ``report.md``, ``runs.csv`` (one line per run),
``summary.csv`` (one line per instance and solver configuration) and three plots:
``convergence.png`` (best objective over time from the runs' histories),
``gap-per-solver.png`` (a dot per run, the median gap as a bar) and
``objective-vs-size.png`` (only for objective kinds with instances of several sizes);
with multi-objective runs also ``fronts.csv`` and ``fronts.png`` (two-objective fronts).

Resolved choices:

* When the store holds several code versions of the same run (instance, solver,
  parameters, budget, seed), the report uses the most recently finished one.
* A gap is only called a gap against a proven bound (the best one over every run of the
  instance); otherwise the table shows the distance to the best known objective, in its
  own column, labelled "vs best known".
* Summary means are over the instances where the solver found a feasible plan; the
  counts of infeasible and failed runs stand beside them.
* Multi-objective fronts (the store's ``fronts`` table) get their own table and
  ``fronts.csv``: per instance, objective set and algorithm, the median and worst HV ratio
  and the median and worst IGD+ over seeds, against the proven exact front where the
  store holds one ("vs exact front"), else against the nondominated union of every front
  of that instance and objective set in the report, the unproven exact one included
  ("vs union of fronts"). The union is formed here, from the stored fronts.
"""

from __future__ import annotations

import csv
import math
import statistics
import time
from collections import defaultdict
from pathlib import Path

from .store import EXACT_LABEL, Store, front_indicators, with_gaps

UNION_LABEL = "union of fronts"

CSV_FIELDS = ["instance", "kind", "n_tasks", "n_layers", "n_servers", "solver", "label",
              "params", "seed", "time_limit_s", "budget_evals", "status", "objective",
              "bound", "bound_source", "ref_bound", "ref_bound_by", "best_known", "gap",
              "gap_best", "gap_kind", "wall_s", "job_wall_s", "evaluations", "code_version",
              "suite", "host", "message", "error"]
FRONT_CSV_FIELDS = ["instance", "kind", "n_tasks", "n_layers", "n_servers", "objectives",
                    "algorithm", "label", "seed", "budget_evals", "time_limit_s", "status",
                    "vs", "hv", "hv_ratio", "igd_plus", "reference_point", "front_size",
                    "evaluations", "wall_s", "cpu_s", "job_wall_s", "proven", "method",
                    "solves", "code_version", "suite", "host", "message", "error", "front"]


def load_rows(db: str | Path, suite: str | None = None) -> list[dict]:
    """The store's rows with gaps, the latest code version of each run only."""
    with Store(db) as store:
        rows, refs = store.rows(suite=suite), store.references()
    latest: dict[tuple, dict] = {}
    for r in rows:
        ident = (r["instance"], r["instance_sha"], r["solver"], r["label"],
                 str(r["params"]), r["seed"], r["time_limit_s"], r["budget_evals"])
        if ident not in latest or _when(r) > _when(latest[ident]):
            latest[ident] = r
    rows = with_gaps(sorted(latest.values(), key=_order), refs)
    _set_configs(rows)
    return rows


def load_fronts(db: str | Path, suite: str | None = None) -> list[dict]:
    """The store's fronts (latest code version of each run) with ``hv_ratio``,
    ``igd_plus`` and ``vs`` (``"exact front"`` or ``"union of fronts"``) set."""
    with Store(db) as store:
        rows = store.fronts(suite=suite)
        exact = {}
        for r in rows:
            pair = (r["instance"], r["instance_sha"], ",".join(r["objectives"]))
            if pair not in exact:
                exact[pair] = store.exact_front(*pair)
    latest: dict[tuple, dict] = {}
    for r in rows:
        ident = (r["instance"], r["instance_sha"], r["algorithm"], r["label"],
                 ",".join(r["objectives"]), r["seed"], r["budget_evals"], r["time_limit_s"])
        if ident not in latest or _when(r) > _when(latest[ident]):
            latest[ident] = r
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in latest.values():
        groups[(r["instance"], r["instance_sha"], ",".join(r["objectives"]))].append(r)
    out = []
    for pair, rs in groups.items():
        reference, label = exact[pair], EXACT_LABEL
        if reference is None:
            reference, label = _union([r["front"] for r in rs if r["front"]]), UNION_LABEL
        for r in rs:
            r["vs"] = label if r["front"] is not None else None
            if r["front"] is None or r["reference_point"] is None:
                r["hv_ratio"] = r["igd_plus"] = None
            elif label == UNION_LABEL or r["reference"] != EXACT_LABEL:
                ind = front_indicators(r["front"], r["reference_point"], reference)
                r["hv_ratio"], r["igd_plus"] = ind["hv_ratio"], ind["igd_plus"]
            out.append(r)
    return sorted(out, key=lambda r: (r["kind"] or "", r["instance"], r["objectives"],
                                      r["algorithm"] != "exact", r["label"], r["seed"] or 0))


def _union(fronts: list[list]) -> list:
    """The nondominated union of fronts (a list of points)."""
    import numpy as np

    from offloadlab.formulations.pareto import nondominated

    points = np.vstack([np.asarray(f, dtype=float) for f in fronts if len(f)]) \
        if any(len(f) for f in fronts) else np.zeros((0, 1))
    return points[nondominated(points)].tolist() if len(points) else []


def front_summary(fronts: list[dict]) -> list[dict]:
    """One record per (instance, objectives, algorithm label, budget): runs, errors, the
    reference's label, median and worst HV ratio and IGD+ over seeds, medians of front
    size, evaluations, wall and CPU seconds."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in fronts:
        groups[(r["instance"], r["instance_sha"], tuple(r["objectives"]), r["label"],
                r["budget_evals"], r["time_limit_s"])].append(r)
    out = []
    for (inst, _sha, objectives, label, budget, _t), rs in groups.items():
        ratios = [r["hv_ratio"] for r in rs if r["hv_ratio"] is not None]
        igds = [r["igd_plus"] for r in rs if r["igd_plus"] is not None]
        first = rs[0]
        out.append({
            "instance": inst, "kind": first["kind"], "objectives": list(objectives),
            "algorithm": first["algorithm"], "label": label, "budget_evals": budget,
            "runs": len(rs), "statuses": _status_counts(rs),
            "errors": sum(r["status"] == "error" for r in rs),
            "vs": next((r["vs"] for r in rs if r["vs"]), None),
            "hv_ratio_median": _median(ratios), "hv_ratio_worst": min(ratios, default=None),
            "igd_plus_median": _median(igds), "igd_plus_worst": max(igds, default=None),
            "front_size": _median([r["front_size"] for r in rs]),
            "evaluations": _median([r["evaluations"] for r in rs]),
            "wall_s": _median([r["wall_s"] for r in rs]),
            "cpu_s": _median([r["cpu_s"] for r in rs]),
        })
    return out


def _median(xs):
    xs = [x for x in xs if x is not None and math.isfinite(x)]
    return statistics.median(xs) if xs else None


def _when(r):
    return (r["finished_at"] or 0.0, r["row_id"])


def _order(r):
    return (r["kind"] or "", r["instance"], r["label"] or r["solver"], r["seed"] or 0)


def config(row: dict) -> str:
    """A solver configuration's display name (set by :func:`load_rows`)."""
    return row.get("config") or row["label"] or row["solver"]


def _set_configs(rows: list[dict]) -> None:
    """``config`` = the label, plus the budget when the label ran with several budgets."""
    budgets: dict[str, set] = defaultdict(set)
    for r in rows:
        budgets[r["label"] or r["solver"]].add((r["time_limit_s"], r["budget_evals"]))
    for r in rows:
        label = r["label"] or r["solver"]
        parts = [] if len(budgets[label]) == 1 else [
            f"{r['time_limit_s']:g} s" if r["time_limit_s"] is not None else "",
            f"{r['budget_evals']} evals" if r["budget_evals"] is not None else ""]
        parts = [p for p in parts if p]
        r["config"] = f"{label} ({', '.join(parts)})" if parts else label


def summarise(rows: list[dict]) -> list[dict]:
    """One record per (instance, solver configuration): seeds, statuses, best and mean
    objective, gaps (vs the proven bound, vs the best known), wall time, evaluations."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        groups[(r["instance"], r["instance_sha"], r["label"] or r["solver"],
                r["time_limit_s"], r["budget_evals"])].append(r)
    out = []
    for (inst, _sha, _label, _t, _e), rs in groups.items():
        ok = [r for r in rs if r["objective"] is not None]
        first = rs[0]
        out.append({
            "instance": inst, "kind": first["kind"], "n_layers": first["n_layers"],
            "n_tasks": first["n_tasks"], "n_servers": first["n_servers"],
            "config": config(first), "solver": first["solver"], "runs": len(rs),
            "statuses": _status_counts(rs),
            "errors": sum(r["status"] == "error" for r in rs),
            "best": min((r["objective"] for r in ok), default=None),
            "mean": _mean([r["objective"] for r in ok]),
            "gap": _mean([r["gap"] for r in ok]),
            "gap_best": _mean([r["gap_best"] for r in ok]),
            "ref_bound": first["ref_bound"], "ref_bound_by": first["ref_bound_by"],
            "best_known": first["best_known"],
            "wall_s": _mean([r["wall_s"] for r in rs]),
            "evaluations": _mean([r["evaluations"] for r in rs]),
        })
    return out


def solver_table(summary: list[dict]) -> list[dict]:
    """One record per solver configuration over all instances."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for s in summary:
        groups[s["config"]].append(s)
    out = []
    for cfg, ss in sorted(groups.items()):
        proven = [s["gap"] for s in ss if s["gap"] is not None]
        out.append({
            "config": cfg, "instances": len(ss), "runs": sum(s["runs"] for s in ss),
            "errors": sum(s["errors"] for s in ss),
            "no_plan": sum(s["best"] is None for s in ss),
            "proven_instances": len(proven), "mean_gap": _mean(proven),
            "max_gap": max(proven, default=None),
            "within_1pct": sum(g <= 0.01 for g in proven),
            "mean_gap_best": _mean([s["gap_best"] for s in ss]),
            "wall_s": _mean([s["wall_s"] for s in ss]),
        })
    return out


def write_report(db: str | Path, out_dir: str | Path, suite: str | None = None,
                 plots: bool = True, unmatched: list[str] | None = None) -> dict:
    """Write the Markdown report, the CSV files and the plots of a store into ``out_dir``.

    ``unmatched`` lists the suite's optional solver entries that matched nothing (by
    default looked up in the built-in suites the rows come from).

    Returns
    -------
    dict
        The paths written (``markdown``, ``runs_csv``, ``summary_csv``, ``plots``) and
        the row count.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = load_rows(db, suite)
    summary = summarise(rows)
    fronts = load_fronts(db, suite)
    pareto = front_summary(fronts)
    written = {"rows": len(rows), "runs_csv": str(_write_csv(out / "runs.csv", rows,
                                                               CSV_FIELDS)),
               "summary_csv": str(_write_csv(out / "summary.csv", summary,
                                             list(summary[0]) if summary else ["instance"]))}
    if fronts:
        written["fronts"] = len(fronts)
        written["fronts_csv"] = str(_write_csv(out / "fronts.csv", fronts, FRONT_CSV_FIELDS))
        written["pareto"] = pareto
    images = []
    if plots and rows:
        images = plot_all(rows, out)
    if plots and fronts:
        images += [p for p in [plot_fronts(fronts, out / "fronts.png")] if p is not None]
    written["plots"] = [str(p) for p in images]
    md = markdown(rows, summary, db, images, suite, unmatched, pareto,
                  [f for f in fronts if f["status"] == "error"])
    (out / "report.md").write_text(md)
    written["markdown"] = str(out / "report.md")
    return written


def markdown(rows, summary, db, images, suite=None, unmatched=None, pareto=None,
             front_errors=None) -> str:
    """The report as Markdown text (``pareto``: :func:`front_summary` records;
    ``front_errors``: the fronts that raised)."""
    versions = sorted({r["code_version"] for r in rows})
    lines = [f"# offloadlab benchmark report{f': {suite}' if suite else ''}", "",
             f"Store `{db}`: {len(rows)} runs on {len({r['instance'] for r in rows})} "
             f"instances; code versions {', '.join(versions) or '-'}; written "
             f"{time.strftime('%Y-%m-%d %H:%M')}.", "",
             "*gap* = (objective - bound) / |bound| against the best **proven** lower "
             "bound of the instance (the solver that proved it is named). Where no bound is "
             "proven, only the distance to the **best known** objective is shown: it is not "
             "a gap. Objectives and gaps are means over seeds; *best* is the best seed.", ""]
    lines += _solver_section(solver_table(summary))
    by_kind: dict[str, list[dict]] = defaultdict(list)
    for s in summary:
        by_kind[s["kind"] or "?"].append(s)
    for kind, ss in sorted(by_kind.items()):
        lines += [f"## Objective `{kind}`", ""]
        for inst in dict.fromkeys(s["instance"] for s in ss):
            lines += _instance_section([s for s in ss if s["instance"] == inst])
    lines += _pareto_section(pareto or [], front_errors or [])
    lines += _problems_section(rows)
    lines += _unmatched_section(sorted({r["suite"] for r in rows if r["suite"]}), suite,
                                unmatched)
    if images:
        lines += ["## Plots", ""] + [f"![{Path(p).stem}]({Path(p).name})" for p in images]
        lines.append("")
    return "\n".join(lines)


def _solver_section(table: list[dict]) -> list[str]:
    head = ["solver", "instances", "runs", "errors", "no plan", "proven-bound instances",
            "mean gap %", "max gap %", "within 1 %", "mean % vs best known", "mean wall s"]
    body = [[t["config"], t["instances"], t["runs"], t["errors"], t["no_plan"],
             t["proven_instances"], _pct(t["mean_gap"]), _pct(t["max_gap"]),
             t["within_1pct"], _pct(t["mean_gap_best"]), _secs(t["wall_s"])] for t in table]
    return ["## Solvers over all instances", ""] + _md_table(head, body) + [""]


def _instance_section(ss: list[dict]) -> list[str]:
    s0 = ss[0]
    ref = (f"proven bound {_num(s0['ref_bound'])} ({s0['ref_bound_by']})"
           if s0["ref_bound"] is not None else "no proven bound")
    title = (f"### {s0['instance']} ({s0['n_tasks']} tasks, {s0['n_layers']} layers, "
             f"{s0['n_servers']} servers): {ref}; best known {_num(s0['best_known'])}")
    head = ["solver", "runs", "status", "best", "mean", "gap % (proven)",
            "% vs best known", "wall s", "evaluations"]
    body = [[s["config"], s["runs"], s["statuses"], _num(s["best"]), _num(s["mean"]),
             _pct(s["gap"]), _pct(s["gap_best"]), _secs(s["wall_s"]),
             _int(s["evaluations"])] for s in sorted(ss, key=_rank)]
    return [title, ""] + _md_table(head, body) + [""]


def _pareto_section(pareto: list[dict], errors: list[dict]) -> list[str]:
    if not pareto:
        return []
    raised = [] if not errors else ["Fronts that raised:", ""] + _md_table(
        ["instance", "objectives", "algorithm", "seed", "error"],
        [[f["instance"], ", ".join(f["objectives"]), f["label"], f["seed"],
          (f["error"] or "").replace("|", "/")[:200]] for f in errors]) + [""]
    head = ["instance", "objectives", "algorithm", "budget evals", "runs", "status", "vs",
            "HV ratio median", "HV ratio worst", "IGD+ median", "IGD+ worst",
            "front size", "evaluations", "wall s", "CPU s"]
    body = [[p["instance"], ", ".join(p["objectives"]), p["label"],
             "-" if p["algorithm"] == "exact" else p["budget_evals"] or "default",
             p["runs"], p["statuses"], p["vs"] or "-", _ratio(p["hv_ratio_median"]),
             _ratio(p["hv_ratio_worst"]), _igd(p["igd_plus_median"]),
             _igd(p["igd_plus_worst"]), _int(p["front_size"]), _int(p["evaluations"]),
             _secs(p["wall_s"]), _secs(p["cpu_s"])] for p in pareto]
    return ["## Multi-objective fronts", "",
            "*HV ratio* = hypervolume of the front / hypervolume of the reference front "
            "(1 is the whole reference; the reference point is 1.1 x the worst baseline "
            "plan per objective); *IGD+* on objectives scaled to the reference front's "
            "range (0.01 = 1 % of it). *vs* names the reference: the proven **exact "
            "front**, or, where none is stored, the nondominated **union of fronts** "
            "found for the instance and objectives (then a ratio of 1 means only that "
            "no other run did better). Median and worst over seeds.", ""] + \
        _md_table(head, body) + [""] + raised


def _ratio(x) -> str:
    return "-" if x is None else f"{x:.5f}"


def _igd(x) -> str:
    return "-" if x is None else f"{x if abs(x) > 1e-12 else 0.0:.4g}"  # 1e-17: rounding


def _rank(s):
    return (s["mean"] is None, s["mean"] if s["mean"] is not None else 0.0, s["config"])


def _problems_section(rows: list[dict]) -> list[str]:
    errors = [r for r in rows if r["status"] == "error"]
    conflicts = {r["instance"] for r in rows if r["bound_conflict"]}
    over = [r for r in rows if r["time_limit_s"] and r["job_wall_s"]
            and r["job_wall_s"] > 1.1 * r["time_limit_s"] + 2.0]
    if not (errors or conflicts or over):
        return []
    lines = ["## Problems", ""]
    if conflicts:
        lines += ["A plan better than the proven bound (a wrong bound or a model that "
                  "disagrees with the simulator) on: " + ", ".join(sorted(conflicts)), ""]
    if over:
        lines += ["Runs past their time limit (more than 1.1 x limit + 2 s):", ""]
        lines += _md_table(["instance", "solver", "seed", "limit s", "ran s"],
                           [[r["instance"], r["label"], r["seed"], _secs(r["time_limit_s"]),
                             _secs(r["job_wall_s"])] for r in over]) + [""]
    if errors:
        lines += ["Runs that raised:", ""]
        lines += _md_table(["instance", "solver", "seed", "error"],
                           [[r["instance"], r["label"], r["seed"],
                             (r["error"] or "").replace("|", "/")[:200]] for r in errors])
        lines.append("")
    return lines


def _unmatched_section(suites: list[str], suite: str | None, given) -> list[str]:
    """The optional solver entries of the (built-in) suites that matched nothing."""
    from .suite import builtin_suites, unmatched_entries

    if given is not None:
        found = [(suite or "this run", e) for e in given]
    else:
        found = [(name, e) for name in suites if name in builtin_suites()
                 for e in unmatched_entries(name)]
    if not found:
        return []
    return (["## Suite entries that matched no solver", ""]
            + [f"* suite `{name}`: `{entry}` (optional) matched no registered solver, so "
               "nothing ran for it" for name, entry in found] + [""])


def _md_table(head: list[str], body: list[list]) -> list[str]:
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in body]
    return out


def _status_counts(rs: list[dict]) -> str:
    counts: dict[str, int] = defaultdict(int)
    for r in rs:
        counts[r["status"]] += 1
    return ", ".join(f"{k} {v}" if len(rs) > 1 else k for k, v in sorted(counts.items()))


def _mean(xs):
    xs = [x for x in xs if x is not None and math.isfinite(x)]
    return statistics.fmean(xs) if xs else None


def _num(x) -> str:
    return "-" if x is None else f"{x:.6g}"


def _secs(x) -> str:
    return "-" if x is None else f"{x:.2f}"


def _int(x) -> str:
    return "-" if x is None else f"{x:.0f}"


def _pct(x) -> str:
    return "-" if x is None else f"{100 * x + 0.0:.2f}".replace("-0.00", "0.00")


def _write_csv(path: Path, rows: list[dict], fields: list[str]) -> Path:
    import json

    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: json.dumps(v) if isinstance(v, (dict, list)) else v
                        for k, v in r.items()})
    return path


# --- plots -------------------------------------------------------------------------------
def plot_all(rows: list[dict], out: Path) -> list[Path]:
    """Write the three PNG plots; returns their paths (a plot without data is left out)."""
    import matplotlib

    matplotlib.use("Agg")
    paths = [plot_convergence(rows, out / "convergence.png"),
             plot_gaps(rows, out / "gap-per-solver.png"),
             plot_size(rows, out / "objective-vs-size.png")]
    return [p for p in paths if p is not None]


def _colours(labels):
    """(colour, line style) per label: tab10's strong colours (pale ones vanish on
    white), then the same colours dashed and dotted, so no two labels look alike."""
    import matplotlib.pyplot as plt

    cycle = plt.get_cmap("tab10").colors
    return {lab: (cycle[i % 10], ("-", "--", ":")[i // 10 % 3])
            for i, lab in enumerate(sorted(labels))}


def plot_convergence(rows: list[dict], path: Path, max_panels: int = 12) -> Path | None:
    """Best objective over time, one panel per instance, one line per run with a
    history; the proven bound as a dashed line."""
    import matplotlib.pyplot as plt

    with_hist = [r for r in rows if r["history"]]
    instances = list(dict.fromkeys(r["instance"] for r in with_hist))[:max_panels]
    if not instances:
        return None
    colours = _colours({config(r) for r in with_hist})
    cols = min(3, len(instances))
    nrows = math.ceil(len(instances) / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(5 * cols, 3.4 * nrows), squeeze=False)
    for ax, inst in zip(axes.flat, instances):
        shown = set()
        for r in (r for r in with_hist if r["instance"] == inst):
            pts = [(t, v) for t, v in r["history"] if t is not None and v is not None]
            if not pts:
                continue
            t, v = zip(*pts)
            t = [max(x, 1e-3) for x in t]  # a log axis; the first milliseconds are noise
            end = max(r["wall_s"] or t[-1], t[-1])
            lab = config(r)
            ax.step(list(t) + [end], list(v) + [v[-1]], where="post", color=colours[lab][0],
                    ls=colours[lab][1], lw=1.2, alpha=0.8,
                    label=None if lab in shown else lab)
            shown.add(lab)
        if r["ref_bound"] is not None:
            ax.axhline(r["ref_bound"], color="k", ls="--", lw=1, label="proven bound")
        ax.set_title(inst, fontsize=9)
        ax.set_xscale("log")
        ax.set_xlabel("seconds")
        ax.set_ylabel("best objective")
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(instances):]:
        ax.axis("off")
    fig.suptitle("Best objective over time (proven bound dashed)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_gaps(rows: list[dict], path: Path) -> Path | None:
    """Per solver configuration: gaps to the proven bound (filled dots) and distances to
    the best known objective where no bound is proven (open dots), in percent."""
    import matplotlib.pyplot as plt

    pts = [r for r in rows if r["gap_best"] is not None]
    if not pts:
        return None
    labels = sorted({config(r) for r in pts})
    fig, ax = plt.subplots(figsize=(max(6, 0.6 * len(labels) + 2), 4.5))
    drawn, labelled = False, set()
    for i, lab in enumerate(labels):
        mine = [r for r in pts if config(r) == lab]
        proven = [100 * r["gap"] for r in mine if r["gap"] is not None]
        best = [100 * r["gap_best"] for r in mine if r["gap"] is None]
        for values, style, label in ((proven, {"color": "C0"}, "gap to proven bound"),
                                     (best, {"facecolors": "none", "edgecolors": "C3"},
                                      "vs best known (no bound)")):
            if values:  # a legend entry only for what is drawn
                ax.scatter([i] * len(values), values, s=18, **style,
                           label=None if label in labelled else label)
                labelled.add(label)
        if proven:
            ax.plot([i - 0.3, i + 0.3], [statistics.median(proven)] * 2, color="C0",
                    label="median gap" if not drawn else None)
            drawn = True
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize=8)
    ax.set_yscale("symlog", linthresh=1.0)
    values = [100 * (r["gap"] if r["gap"] is not None else r["gap_best"]) for r in pts]
    ax.set_ylim(min(min(values), 0.0) - 0.5, max(max(values), 1.0) * 1.3 + 0.5)
    ax.set_xlim(-0.6, len(labels) - 0.4)
    ax.set_title("Gap per solver configuration (each dot a run)")
    ax.set_ylabel("% above reference")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_fronts(fronts: list[dict], path: Path, max_panels: int = 12) -> Path | None:
    """The two-objective fronts, one panel per instance and objective pair: the exact
    front as open squares, each algorithm's front of its lowest seed as dots on top."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from offloadlab.formulations.pareto import UNITS

    pairs = list(dict.fromkeys((f["instance"], tuple(f["objectives"])) for f in fronts
                               if len(f["objectives"]) == 2 and f["front"]))[:max_panels]
    if not pairs:
        return None
    colours = _colours({f["label"] for f in fronts if f["algorithm"] != "exact"})
    cols = min(3, len(pairs))
    nrows = math.ceil(len(pairs) / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(5 * cols, 3.6 * nrows), squeeze=False)
    for ax, (inst, objectives) in zip(axes.flat, pairs):
        mine = [f for f in fronts if f["instance"] == inst and tuple(f["objectives"])
                == objectives and f["front"]]
        for f in mine:
            if f["algorithm"] == "exact":
                x, y = zip(*f["front"])
                ax.scatter(x, y, s=70, marker="s", facecolors="none", edgecolors="k",
                           label="exact" if f["proven"] else "exact (not proven)")
        labels = sorted({f["label"] for f in mine if f["algorithm"] != "exact"})
        for i, label in enumerate(labels):
            first = min((f for f in mine if f["label"] == label), key=lambda f: f["seed"])
            x, y = zip(*first["front"])
            # shrinking dots: a point several algorithms found shows as nested rings
            ax.scatter(x, y, s=max(6, 36 - 12 * i), color=colours[label][0], zorder=3,
                       label=f"{label} (seed {first['seed']})")
        ax.set_title(inst, fontsize=9)
        ax.set_xlabel(UNITS.get(objectives[0], objectives[0]))
        ax.set_ylabel(UNITS.get(objectives[1], objectives[1]))
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(pairs):]:
        ax.axis("off")
    fig.suptitle("Two-objective fronts")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_size(rows: list[dict], path: Path) -> Path | None:
    """Objective (mean over seeds) against the number of layers, one panel per objective
    kind, one series per solver configuration."""
    import matplotlib.pyplot as plt

    summary = [s for s in summarise(rows) if s["mean"] is not None and s["n_layers"]]
    # a panel only where the size axis has more than one value
    kinds = sorted(k for k in {s["kind"] for s in summary}
                   if len({s["n_layers"] for s in summary if s["kind"] == k}) > 1)
    if not kinds:
        return None
    colours = _colours({s["config"] for s in summary})
    fig, axes = plt.subplots(1, len(kinds), figsize=(6.5 * len(kinds), 4), squeeze=False)
    for ax, kind in zip(axes.flat, kinds):
        mine = [s for s in summary if s["kind"] == kind]
        for lab in sorted({s["config"] for s in mine}):
            ss = sorted((s for s in mine if s["config"] == lab), key=lambda s: s["n_layers"])
            ax.plot([s["n_layers"] for s in ss], [s["mean"] for s in ss], marker="o",
                    color=colours[lab][0], ls=colours[lab][1], ms=4, lw=1, label=lab)
        if all(s["mean"] > 0 for s in mine):
            ax.set_yscale("log")
        ax.set_title(f"objective {kind}")
        ax.set_xlabel("layers in the instance")
        ax.set_ylabel("objective (mean over seeds)")
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))  # off the data
        ax.margins(0.08)
    fig.suptitle("Objective against instance size")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path

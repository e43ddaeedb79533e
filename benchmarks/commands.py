"""``offloadlab bench ...`` and ``offloadlab report``: suites, the simulator's speed,
reports from the results store.

``bench`` is a click group whose unknown subcommand names resolve to suites: ``offloadlab
bench latency`` runs the built-in suite ``latency`` and ``offloadlab bench my.json`` a
suite file, exactly like ``offloadlab bench run SUITE``. Real subcommands (``run``,
``quick``, ``suites``, ``simulator`` and those other modules add) take precedence over a
suite of the same name.
"""

from __future__ import annotations

import time
from pathlib import Path

import click
import numpy as np

from offloadlab.options import POSITIVE


def register(main: click.Group) -> None:
    main.add_command(bench)
    main.add_command(report)


class BenchGroup(click.Group):
    """A click group whose unknown subcommand names are suite names or suite files."""

    def get_command(self, ctx, cmd_name):
        cmd = super().get_command(ctx, cmd_name)
        if cmd is not None:
            return cmd
        from .suite import builtin_suites

        if (cmd_name in builtin_suites() or cmd_name.endswith(".json")
                or Path(cmd_name).is_file()):
            return _suite_command(cmd_name)
        return None

    def resolve_command(self, ctx, args):
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as exc:
            from .suite import builtin_suites

            raise click.UsageError(
                f"{exc.message} Give a subcommand ({', '.join(self.list_commands(ctx))}), "
                f"a built-in suite ({', '.join(builtin_suites())}) or a suite file.",
                ctx) from None


@click.group(cls=BenchGroup)
def bench():
    """Benchmarks. `bench SUITE` (= `bench run SUITE`) runs a suite (a built-in name,
    see `bench suites`, or a suite file) into the results store; `bench quick` is the
    built-in quick suite; `bench simulator` measures plans per second."""


def simulator_rate(instance: str = "latency-vgg19-paper-s0", population: int = 100,
                   seconds: float = 3.0, seed: int = 0) -> dict:
    """Plans per second of the simulator on random populations, one core.

    Each population has random assignments and a random precedence-respecting priority
    per plan; the compiled kernel is warmed up before timing. ``plans_per_s`` is the
    search path (:func:`~offloadlab.simulator.objective`, what the metaheuristics call),
    ``full_plans_per_s`` the full per-layer schedule (:func:`~offloadlab.simulator.simulate`);
    the ``*_per_cpu_s`` figures count this process's CPU time only (read them on a busy
    machine). Half of ``seconds`` goes to each path.
    """
    from offloadlab import Problem, load_instance, simulate
    from offloadlab.heuristics.baselines import random_plans
    from offloadlab.instances.library import library_path
    from offloadlab.simulator import objective

    problem = Problem.from_instance(load_instance(library_path(instance)))
    rng = np.random.default_rng(seed)
    pops = [(random_plans(problem, population, rng),
             problem.random_priority(rng, population)) for _ in range(8)]
    out = {"instance": instance, "population": population,
           "layers_per_plan": problem.n_layers, "servers": problem.n_servers}
    for label, fn in (("", objective), ("full_", simulate)):
        fn(problem, *pops[0])  # compile or load the cached kernel
        done, started, cpu_started = 0, time.perf_counter(), time.process_time()
        while time.perf_counter() - started < seconds / 2:
            for assign, priority in pops:
                fn(problem, assign, priority)
                done += population
        wall_s = time.perf_counter() - started
        cpu_s = time.process_time() - cpu_started
        out.update({f"{label}plans": done, f"{label}seconds": wall_s,
                    f"{label}plans_per_s": done / wall_s,
                    f"{label}plans_per_cpu_s": done / cpu_s})
    return out


@bench.command()
@click.option("--instance", default="latency-vgg19-paper-s0", show_default=True)
@click.option("--population", default=100, show_default=True)
@click.option("--seconds", type=POSITIVE, default=3.0, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def simulator(instance, population, seconds, as_json):
    """Plans per second of the simulator (EosDNN paper scenario: 12 VGG19 tasks on
    4 devices, 5 edge and 5 cloud servers), one core."""
    from offloadlab.cli import UserError, emit, library_name

    if population < 1:
        raise UserError("--population must be >= 1")
    library_name(instance)
    out = simulator_rate(instance, population, seconds)
    emit(out, as_json, lambda o: click.echo(
        f"{o['plans_per_s']:,.0f} plans/s ({o['plans_per_cpu_s']:,.0f} per CPU second); "
        f"with the full per-layer schedule {o['full_plans_per_s']:,.0f} plans/s "
        f"(plans of {o['layers_per_plan']} layers on {o['servers']} servers, populations "
        f"of {o['population']})"))


def _run_options(func):
    """The options every suite run takes."""
    options = [
        click.option("--db", "db", type=click.Path(dir_okay=False), default=None,
                     help="Results store [default: results/offloadlab.sqlite]."),
        click.option("--report", "report_dir", type=click.Path(file_okay=False),
                     default=None, help="Also write the suite's report into this folder."),
        click.option("--dask", "dask", default=None, metavar="ADDRESS|local",
                     help="Run on a Dask scheduler at ADDRESS, or on a LocalCluster."),
        click.option("--workers", type=int, default=0,
                     help="Local worker processes (or LocalCluster workers); 0 = cores."),
        click.option("--time-limit", "time_limit_s", type=float, default=None,
                     help="Override the suite's seconds per run."),
        click.option("--retry-errors", is_flag=True,
                     help="Run again the jobs stored with status error."),
        click.option("--json", "as_json", is_flag=True, help="Print one JSON object."),
    ]
    for opt in reversed(options):
        func = opt(func)
    return func


def _suite_command(ref: str) -> click.Command:
    """``bench SUITE`` as a command of its own (what :class:`BenchGroup` resolves to)."""

    @_run_options
    def run_it(**kwargs):
        _run_and_show(ref, **kwargs)

    return click.Command(ref, callback=run_it, params=run_it.__click_params__,
                         help=f"Run the suite {ref}.")


@bench.command("run")
@click.argument("suite")
@_run_options
def run_cmd(suite, **kwargs):
    """Run SUITE (a built-in suite name or a suite file); finished runs in the store are
    reused, so an interrupted run resumes."""
    _run_and_show(suite, **kwargs)


@bench.command()
@_run_options
def quick(**kwargs):
    """The built-in quick suite: every registered solver, seed 0, one small instance of
    each family; prints objective, proven bound and gap."""
    _run_and_show("quick", **kwargs)


@bench.command("suites")
@click.option("--json", "as_json", is_flag=True)
def suites_cmd(as_json):
    """List the built-in suites."""
    import json

    from offloadlab.cli import emit, table

    from .suite import builtin_suites

    rows = []
    for name, path in builtin_suites().items():
        raw = json.loads(path.read_text())
        rows.append({"name": name, "description": raw.get("description", ""),
                     "file": str(path)})
    emit(rows, as_json, lambda rs: table("built-in suites", ["name", "description"],
                                         [[r["name"], r["description"]] for r in rs]))


def _run_and_show(ref, db, report_dir, dask, workers, time_limit_s, retry_errors, as_json):
    import sqlite3

    from offloadlab.cli import UserError, check_budget_options, emit

    from .runner import ClusterError, run_suite
    from .store import DEFAULT_DB, Store, with_gaps
    from .suite import SuiteError, load_suite, with_time_limit

    db = db or str(DEFAULT_DB)
    check_budget_options(time_limit_s=time_limit_s)
    if workers < 0:
        raise UserError(f"--workers must be >= 0 (0: one per core), got {workers}")
    try:
        suite = load_suite(ref)
        if time_limit_s is not None:
            suite = with_time_limit(suite, time_limit_s)
        summary = run_suite(suite, db, workers=workers, dask=dask,
                            retry_errors=retry_errors, progress=not as_json)
    except (SuiteError, ClusterError) as exc:
        raise UserError(str(exc)) from None
    except sqlite3.DatabaseError as exc:
        raise UserError(f"{db}: not a results store ({exc})") from None
    with Store(db) as store:
        rows = with_gaps(store.rows(keys=summary.keys), store.references())
    out = {"suite": summary.suite, "db": summary.db, "jobs": summary.jobs,
           "reused": summary.reused, "ran": summary.ran, "errors": summary.errors,
           "overruns": summary.overruns,
           "skipped": [vars(s) for s in summary.skipped],
           "rows": [_public(r) for r in rows]}
    if suite.pareto:
        from .report import load_fronts

        keys = set(summary.keys)
        out["fronts"] = [{k: v for k, v in f.items() if k not in ("front", "instance_path")}
                         for f in load_fronts(db, summary.suite) if f["key"] in keys]
    if report_dir:
        from .report import write_report

        out["report"] = write_report(db, report_dir, suite=summary.suite,
                                     unmatched=list(suite.missing))
    emit(out, as_json, _render_run)


def _pct(x) -> str | None:
    return None if x is None else f"{abs(100 * x) if abs(x) < 5e-5 else 100 * x:.2f}"


def _secs(x) -> str | None:
    return None if x is None else f"{x:.2f}"


def _public(row: dict) -> dict:
    return {k: v for k, v in row.items() if k not in ("history", "plan", "instance_path")}


def _render_run(o: dict) -> None:
    """One table per instance (its proven bound in the title), so that columns fit."""
    from offloadlab.cli import plural, table

    seeds = len({r["seed"] for r in o["rows"]}) > 1
    for instance in dict.fromkeys(r["instance"] for r in o["rows"]):
        rows = [r for r in o["rows"] if r["instance"] == instance]
        bound = next((r["ref_bound"] for r in rows if r["ref_bound"] is not None), None)
        title = f"{instance}: " + (f"proven bound {bound:.6g}" if bound is not None
                                   else "no proven bound (distances vs best known)")
        table(title, ["solver"] + (["seed"] if seeds else []) +
              ["status", "objective", "gap %", "% vs best known", "wall_s"],
              [[r["label"]] + ([r["seed"]] if seeds else []) +
               [r["status"], r["objective"], _pct(r["gap"]), _pct(r["gap_best"]),
                _secs(r["wall_s"])] for r in rows])
    _render_fronts(o.get("fronts", []))
    for s in o["skipped"]:
        what = f" on {plural(s['instances'], 'instance')}" if s["instances"] else ""
        click.echo(f"skipped {s['solver']}{what}: {s['reason']}")
    for r in o["rows"]:
        if r["status"] == "error":
            click.echo(f"error: {r['instance']} {r['label']} seed {r['seed']}: {r['error']}")
        elif (r.get("message") or "").startswith("overran"):
            click.echo(f"{r['instance']} {r['label']} seed {r['seed']}: "
                       f"{r['message'].split(';')[0]}")
    click.echo(f"{plural(o['jobs'], 'job')}: {o['reused']} reused from the store, "
               f"{o['ran']} run, {plural(o['errors'], 'error')}"
               + (f", {plural(o['overruns'], 'time-limit overrun')}" if o["overruns"] else "")
               + f"; store {o['db']}")
    if "report" in o:
        click.echo(f"report: {o['report']['markdown']}")


def _render_fronts(fronts: list[dict]) -> None:
    """One table per instance and objective set: a line per run with its HV ratio and
    IGD+ against the reference the title names."""
    from offloadlab.cli import table

    def num(x, digits):
        return "-" if x is None else f"{x if abs(x) > 1e-12 else 0.0:.{digits}g}"

    for pair in dict.fromkeys((f["instance"], ", ".join(f["objectives"])) for f in fronts):
        mine = [f for f in fronts if (f["instance"], ", ".join(f["objectives"])) == pair]
        vs = next((f["vs"] for f in mine if f["vs"]), None) or "no reference"
        table(f"{pair[0]} ({pair[1]}): fronts vs {vs}",
              ["algorithm", "seed", "status", "points", "HV ratio", "IGD+", "evals", "cpu_s"],
              [[f["label"], "-" if f["seed"] is None else f["seed"], f["status"],
                f["front_size"], num(f["hv_ratio"], 6), num(f["igd_plus"], 3),
                f["evaluations"], _secs(f["cpu_s"])] for f in mine])
    for f in fronts:
        if f["status"] == "error":
            click.echo(f"error: {f['instance']} pareto {f['label']} seed {f['seed']}: "
                       f"{f['error']}")


@click.command()
@click.option("--db", "db", type=click.Path(dir_okay=False), default=None,
              help="Results store [default: results/offloadlab.sqlite].")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="results/report",
              show_default=True, help="Folder for report.md, the CSV files and the plots.")
@click.option("--suite", default=None, help="Only the runs of this suite.")
@click.option("--no-plots", is_flag=True, help="Skip the PNG plots.")
@click.option("--json", "as_json", is_flag=True, help="Print the paths as JSON.")
def report(db, out_dir, suite, no_plots, as_json):
    """Write a Markdown report (gap tables against proven bounds, marked apart from
    distances to the best known objective), CSV exports and PNG plots from the store."""
    import sqlite3

    from offloadlab.cli import UserError, emit

    from .report import write_report
    from .store import DEFAULT_DB, Store

    db = db or str(DEFAULT_DB)
    if not Path(db).exists():
        raise UserError(f"{db}: no results store (run `offloadlab bench SUITE` first)")
    try:
        if suite is not None:
            with Store(db) as store:
                stored = store.suites()
            if suite not in stored:
                raise UserError(f"--suite {suite!r}: no runs of it in {db} (suites there: "
                                f"{', '.join(stored) or 'none'})")
        out = write_report(db, out_dir, suite=suite, plots=not no_plots)
    except sqlite3.DatabaseError as exc:
        raise UserError(f"{db}: not a results store ({exc})") from None
    except OSError as exc:
        raise UserError(f"--out {out_dir}: cannot write: {exc.strerror or exc}") from None
    emit(out, as_json, lambda o: click.echo(
        f"{o['rows']} runs" + (f" and {o['fronts']} fronts" if o.get("fronts") else "")
        + f" -> {o['markdown']}, {o['runs_csv']}, {o['summary_csv']}"
        + (f", {o['fronts_csv']}" if o.get("fronts_csv") else "")
        + "".join(f", {p}" for p in o["plots"])))

"""The ``offloadlab`` command line.

Core commands live here; each part of the toolkit adds its own commands through a
``register(main)`` function in the modules listed in :data:`COMMAND_MODULES`, which must
import nothing heavy at module level.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import click

from .instance import InstanceError, load_instance
from .problem import Problem
from .registry import SOLVERS, SolverError, get_solver

COMMAND_MODULES = [
    "offloadlab.instances.commands",
    "offloadlab.benchmarks.commands",
    "offloadlab.formulations.tmoa_commands",
    "offloadlab.heuristics.upload_commands",
    "offloadlab.formulations.commands",
    "offloadlab.heuristics.commands",
    "offloadlab.learners.commands",
]


class UserError(click.ClickException):
    """A clear, one-line error for bad input (exit code 2)."""

    exit_code = 2


def emit(obj, as_json: bool, render=None) -> None:
    """Print ``obj`` as one JSON object, or through ``render`` for people."""
    if as_json:
        click.echo(json.dumps(obj, indent=1, default=_json_default))
    elif render is not None:
        render(obj)


def _json_default(x):
    import numpy as np

    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")


def load_problem(path: str) -> Problem:
    """Load an instance file as a Problem, turning defects into a UserError."""
    try:
        return Problem.from_instance(load_instance(path))
    except InstanceError as exc:
        raise UserError(str(exc)) from None


def parse_params(items: tuple[str, ...]) -> dict:
    """``key=value`` pairs; values parsed as JSON when they are JSON, else strings."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UserError(f"--param {item!r}: expected key=value")
        try:
            out[key.replace("-", "_")] = json.loads(value)
        except json.JSONDecodeError:
            out[key.replace("-", "_")] = value
    return out


def table(title: str, columns: list[str], rows: list[list]) -> None:
    """Print a rich table."""
    from rich.console import Console
    from rich.table import Table

    t = Table(title=title)
    for c in columns:
        t.add_column(c)
    for r in rows:
        t.add_row(*[_cell(v) for v in r])
    Console().print(t)


def _cell(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="offloadlab")
def main():
    """Place the layers of DNN inference tasks on device, edge and cloud servers, and
    measure every heuristic and learner against proven bounds."""


@main.command()
@click.argument("instance", type=click.Path(dir_okay=False))
@click.argument("plan", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def evaluate(instance, plan, as_json):
    """Score PLAN (an offloadlab.plan/1 file) on INSTANCE with the simulator."""
    from .plan import load_plan
    from .simulator import simulate

    problem = load_problem(instance)
    try:
        assign, priority = load_plan(problem, plan)
    except InstanceError as exc:
        raise UserError(str(exc)) from None
    ev = simulate(problem, assign, priority)
    out = {
        "instance": problem.instance.name, "feasible": bool(ev.feasible[0]),
        "reason": ev.reason(0), "objective": _finite(ev.objective[0]),
        "latency_s": dict(zip([t.name for t in problem.instance.tasks],
                              ev.latency_s[0].tolist())),
        "terms": {k: float(v[0]) for k, v in ev.terms.items()},
        "layers": [
            {"task": t, "layer": n, "server": problem.server_names[assign[g]],
             "start_s": ev.start_s[0, g], "finish_s": ev.finish_s[0, g],
             "exec_s": ev.exec_s[0, g], "transfer_s": ev.transfer_s[0, g],
             "wait_s": ev.wait_s[0, g]}
            for g, (t, n) in enumerate(problem.layer_names)],
    }

    def render(o):
        table(f"{o['instance']}: objective {_cell(o['objective'])}"
              + ("" if o["feasible"] else f" (infeasible: {o['reason']})"),
              ["task", "layer", "server", "start_s", "finish_s", "exec_s", "transfer_s",
               "wait_s"], [list(r.values()) for r in o["layers"]])

    emit(out, as_json, render)
    if not out["feasible"]:
        sys.exit(1)


def _finite(x):
    import math

    return float(x) if math.isfinite(x) else None


@main.command()
@click.argument("instance", type=click.Path(dir_okay=False))
@click.option("--solver", "solver_name", required=True,
              help="Solver name (see `offloadlab solvers`).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--time-limit", "time_limit_s", type=float, default=None, help="Seconds.")
@click.option("--budget-evals", type=int, default=None, help="Simulator evaluations.")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE",
              help="A solver parameter (repeatable).")
@click.option("--out", "out_path", type=click.Path(dir_okay=False), default=None,
              help="Write the plan file here.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def solve(instance, solver_name, seed, time_limit_s, budget_evals, params, out_path, as_json):
    """Solve INSTANCE with a solver and print its Solution."""
    problem = load_problem(instance)
    try:
        fn = get_solver(solver_name)
    except SolverError as exc:
        raise UserError(str(exc)) from None
    kwargs = dict(seed=seed, time_limit_s=time_limit_s, budget_evals=budget_evals)
    kwargs.update(parse_params(params))
    try:
        sol = fn(problem, **kwargs)
    except TypeError as exc:
        raise UserError(f"solver {solver_name!r}: {exc}") from None
    out = sol.to_dict(problem)
    if out_path and out["plan"] is not None:
        Path(out_path).write_text(json.dumps(out["plan"], indent=1) + "\n")

    def render(o):
        table(f"{o['instance']} — {o['solver']}", ["status", "objective", "bound", "gap %",
                                                   "wall_s", "evaluations", "message"],
              [[o["status"], o["objective"], o["bound"],
                None if o["gap"] is None else 100 * o["gap"], o["wall_s"], o["evaluations"],
                o["message"]]])

    emit(out, as_json, render)


@main.command()
@click.option("--json", "as_json", is_flag=True)
def solvers(as_json):
    """List the registered solvers and whether their dependencies are installed."""
    from .registry import available

    rows = [{"name": i.name, "available": available(i.name), "extra": i.extra,
             "kinds": list(i.kinds), "summary": i.summary} for i in SOLVERS.values()]
    emit(rows, as_json, lambda rs: table("solvers", ["name", "available", "extra", "summary"],
                                         [[r["name"], r["available"], r["extra"],
                                           r["summary"]] for r in rs]))


def _register_plugins() -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(main)


_register_plugins()


def run() -> None:  # pragma: no cover - thin alias
    main()


if __name__ == "__main__":  # pragma: no cover
    main()

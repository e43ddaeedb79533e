"""The ``offloadlab`` command line.

Core commands live here; each part of the toolkit adds its own commands through a
``register(main)`` function in the modules listed in :data:`COMMAND_MODULES`, which must
import nothing heavy at module level.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import sys
from contextlib import contextmanager
from pathlib import Path

import click

from .instance import InstanceError, load_instance
from .options import NON_NEGATIVE, POSITIVE, positive  # noqa: F401  (re-exported)
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
    "offloadlab.heuristics.moo_commands",
]


class UserError(click.ClickException):
    """A clear, one-line error for bad input (exit code 2)."""

    exit_code = 2


_JSON_OUT = None  # the real stdout while a --json command runs (all else goes to stderr)


def emit(obj, as_json: bool, render=None) -> None:
    """Print ``obj`` as one JSON object, or through ``render`` for people."""
    if as_json:
        click.echo(json.dumps(obj, indent=1, default=_json_default), file=_JSON_OUT)
    elif render is not None:
        render(obj)


@contextmanager
def json_stdout():
    """Send everything written to stdout to stderr, down to the file descriptor (solver
    banners and logs printed by C libraries, child processes), except :func:`emit`'s
    JSON: ``--json`` prints exactly one JSON document on stdout."""
    global _JSON_OUT
    real = sys.stdout
    try:
        fd = real.fileno()
    except (AttributeError, OSError, ValueError):
        fd = None  # a captured stream (tests): no descriptor to redirect
    saved = None
    if fd is not None:
        real.flush()
        saved = os.dup(fd)
        os.dup2(sys.stderr.fileno(), fd)
        _JSON_OUT = os.fdopen(os.dup(saved), "w")
    else:
        _JSON_OUT = real
    sys.stdout = sys.stderr
    try:
        yield
    finally:
        sys.stdout = real
        if saved is not None:
            sys.stderr.flush()
            _JSON_OUT.close()
            os.dup2(saved, fd)
            os.close(saved)
        _JSON_OUT = None


def _json_default(x):
    import numpy as np

    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")


def instance_path(ref: str) -> Path:
    """An instance file from a path or a library name (``latency-alexnet-tiny-s0``).

    Raises
    ------
    UserError
        Neither a file nor a library name, suggesting the closest library names.
    """
    from .instances.library import LIBRARY_DIR

    path = Path(ref)
    if not ref.strip():   # else Path("") would be the current directory
        raise UserError(f"{ref!r}: not an instance file nor a library instance name "
                        "(all in `offloadlab instances list`)")
    if path.exists() or "/" in ref or ref.endswith(".json"):
        return path
    named = LIBRARY_DIR / f"{ref}.json"
    if named.exists():
        return named
    import difflib

    names = sorted(p.stem for p in LIBRARY_DIR.glob("*.json"))
    close = difflib.get_close_matches(ref, names, 3, 0.5)
    hint = (f"did you mean {', '.join(close)}?" if close else "closest library names: "
            + ", ".join(difflib.get_close_matches(ref, names, 3, 0.0))
            + "; all in `offloadlab instances list`")
    raise UserError(f"{ref}: neither a file nor a library instance name ({hint})")


def library_name(ref: str, option: str = "--instance") -> str:
    """``ref`` when it names a library instance, else a UserError naming ``option`` (with
    the closest names for a typo)."""
    from .instances.library import LIBRARY_DIR

    if "/" in ref or ref.endswith(".json") or not (LIBRARY_DIR / f"{ref}.json").is_file():
        instance_path(ref)   # a typo: the closest library names
        raise UserError(f"{option} {ref}: not a library instance name "
                        "(see `offloadlab instances list`)")
    return ref


def load_problem(ref: str) -> Problem:
    """Load an instance (file or library name) as a Problem; defects become UserErrors."""
    try:
        return Problem.from_instance(load_instance(instance_path(ref)))
    except InstanceError as exc:
        raise UserError(str(exc)) from None


def check_budget_options(seed=None, time_limit_s=None, budget_evals=None) -> None:
    """:func:`~offloadlab.registry.check_budgets` for the command line: a bad ``--seed``,
    ``--time-limit`` or ``--budget-evals`` is a UserError naming the option."""
    from .registry import check_budgets

    try:
        check_budgets(seed, time_limit_s, budget_evals)
    except SolverError as exc:  # name the options as the user typed them
        raise UserError(str(exc).replace("time limit ", "--time-limit ")
                        .replace("budget_evals ", "--budget-evals ")
                        .replace("seed must", "--seed must")) from None


SOLVE_OPTIONS = {"seed": "--seed", "time_limit_s": "--time-limit",
                 "budget_evals": "--budget-evals"}


def check_run(solver: str, problem: Problem | None = None, seed=None, time_limit_s=None,
              budget_evals=None, params: dict | None = None,
              options: dict = SOLVE_OPTIONS) -> dict:
    """Validate a solver run before it starts (name, dependency, objective kind, budgets,
    parameters); returns the parameters converted to their types. ``options``: the
    command's options for the run settings, named when one is given as ``--param``.

    Raises
    ------
    UserError
        Naming what is wrong (unknown parameters list the solver's parameters).
    """
    from .registry import check_kind, check_params

    check_budget_options(seed, time_limit_s, budget_evals)
    try:
        get_solver(solver)
        if problem is not None:
            check_kind(solver, problem.instance.objective.kind)
        return check_params(solver, params or {}, options)
    except SolverError as exc:
        raise UserError(str(exc)) from None


def write_text(path: str, text: str) -> None:
    """Write an output file; a missing folder or an unwritable path is a UserError."""
    try:
        Path(path).write_text(text)
    except OSError as exc:
        raise UserError(f"{path}: cannot write: {exc.strerror or exc}") from None


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


def table(title: str, columns: list[str], rows: list[list], digits: int = 6) -> None:
    """Print a rich table; numbers are never cut (text columns wrap instead), so it fits
    an 80-column or piped terminal."""
    from rich.console import Console
    from rich.table import Table

    console = Console(soft_wrap=False)
    cells = [[_cell(v, digits) for v in r] for r in rows]
    numeric = [all(_is_number(r[k]) for r in rows) for k in range(len(columns))]
    natural = [max([len(c)] + [len(r[k]) for r in cells]) for k, c in enumerate(columns)]
    widths = _text_widths(columns, cells, numeric, natural, console.width)
    t = Table()
    for k, c in enumerate(columns):
        if numeric[k]:  # numbers are never cut
            t.add_column(c, justify="right", no_wrap=True, min_width=natural[k])
        else:
            t.add_column(c, overflow="fold", width=widths[k])
    for r in cells:
        t.add_row(*r)
    console.print(title, markup=False, highlight=False)  # a caption wraps to the table's width
    console.print(t)


def _text_widths(columns, cells, numeric, natural, width: int) -> list:
    """Widths of the text columns when the table is wider than ``width`` (None: as
    wide as they need): each gets its longest word (at most 16) and a share of the rest,
    so text wraps between words and numbers keep their full width."""
    room = width - 3 * len(columns) - 1 - sum(n for n, num in zip(natural, numeric) if num)
    text = [k for k in range(len(columns)) if not numeric[k]]
    if sum(natural[k] for k in text) <= room:
        return [None] * len(columns)
    words = {k: max([len(w) for x in [columns[k]] + [r[k] for r in cells]
                     for w in x.split()] or [1]) for k in text}
    cap = 16
    while cap > 3 and sum(min(words[k], cap) for k in text) > room:
        cap -= 1
    out: list = [None] * len(columns)
    for k in text:
        out[k] = min(words[k], cap, natural[k])
    spare = room - sum(out[k] for k in text)
    want = {k: natural[k] - out[k] for k in text}
    total = sum(want.values())
    for k in text:  # the rest in proportion to what each column still lacks
        out[k] += want[k] * spare // total if total > 0 and spare > 0 else 0
    return out


def _is_number(v) -> bool:
    if v is None or isinstance(v, (int, float)) and not isinstance(v, bool):
        return True
    try:
        float(v)
        return isinstance(v, str)
    except (TypeError, ValueError):
        return False


def plural(n: int, word: str) -> str:
    """``1 error``, ``2 errors``."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _cell(v, digits: int = 6) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}g}"
    return str(v)


class _Main(click.Group):
    """The top group: notes whether the command line asks for ``--json``."""

    def parse_args(self, ctx, args):
        ctx.meta["offloadlab.json"] = "--json" in args
        return super().parse_args(ctx, args)


@click.group(cls=_Main, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="offloadlab")
@click.pass_context
def main(ctx):
    """Place the layers of DNN inference tasks on device, edge and cloud servers, and
    measure heuristics against proven bounds.

    INSTANCE arguments take an instance file or a library name (see `instances list`)."""
    if ctx.meta.get("offloadlab.json"):
        ctx.with_resource(json_stdout())


@main.command()
@click.argument("instance")
@click.argument("plan", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def evaluate(instance, plan, as_json):
    """Score PLAN (an offloadlab.plan/1 file) on INSTANCE (a file or a library name)
    with the simulator."""
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
        "components": _components(problem, assign, priority),
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
               "wait_s"], [list(r.values()) for r in o["layers"]], digits=4)

    emit(out, as_json, render)
    if not out["feasible"]:
        sys.exit(1)


def _components(problem, assign, priority) -> dict:
    """Raw ``delay_s, energy_j, cost_usd`` of a plan (null where the kind has none)."""
    from .simulator import components

    row = components(problem, assign, priority)[0]
    return {k: _finite(v) for k, v in zip(("delay_s", "energy_j", "cost_usd"), row)}


def _finite(x):
    return float(x) if math.isfinite(x) else None


@main.command()
@click.argument("instance")
@click.option("--solver", "solver_name", required=True,
              help="Solver name (see `offloadlab solvers`).")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of a stochastic solver (>= 0).")
@click.option("--time-limit", "time_limit_s", type=float, default=None,
              help="Seconds (> 0); the solver stops within it.")
@click.option("--budget-evals", type=int, default=None,
              help="Simulator evaluations (>= 1).")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE",
              help="A solver parameter (repeatable; `offloadlab solvers NAME` lists them).")
@click.option("--out", "out_path", type=click.Path(dir_okay=False), default=None,
              help="Write the plan file here.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def solve(instance, solver_name, seed, time_limit_s, budget_evals, params, out_path, as_json):
    """Solve INSTANCE (a file or a library name) with a solver and print its Solution."""
    problem = load_problem(instance)
    kwargs = check_run(solver_name, problem, seed, time_limit_s, budget_evals,
                       parse_params(params))
    if out_path and not Path(out_path).resolve().parent.is_dir():
        raise UserError(f"--out {out_path}: no such folder")
    try:  # a solver may find a user's mistake late (e.g. a checkpoint for other servers)
        sol = get_solver(solver_name)(problem, seed=seed, time_limit_s=time_limit_s,
                                      budget_evals=budget_evals, **kwargs)
    except SolverError as exc:
        raise UserError(str(exc)) from None
    out = sol.to_dict(problem)
    out["seed"] = seed  # what the solver was given (deterministic solvers ignore it)
    if out_path and out["plan"] is not None:
        write_text(out_path, json.dumps(out["plan"], indent=1) + "\n")

    def render(o):
        table(f"{o['instance']} — {o['solver']}", ["status", "objective", "bound", "gap %",
                                                   "wall_s", "evaluations"],
              [[o["status"], o["objective"], o["bound"],
                None if o["gap"] is None else 100 * o["gap"], round(o["wall_s"], 3),
                o["evaluations"]]])
        if o["message"]:
            click.echo(o["message"])
        if out_path:
            click.echo(f"plan written to {out_path}" if o["plan"] is not None
                       else "no plan to write")

    emit(out, as_json, render)


@main.command()
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True)
def solvers(name, as_json):
    """List the registered solvers: the objective kinds each supports and whether its
    dependencies are installed; with NAME, that solver's parameters."""
    from .registry import KINDS, available, solver_params

    if name is not None:
        if name not in SOLVERS:
            raise UserError(f"unknown solver {name!r}; known: {', '.join(sorted(SOLVERS))}")
        info = SOLVERS[name]
        params = solver_params(name)
        out = {"name": name, "available": available(name), "extra": info.extra,
               "kinds": list(info.kinds), "summary": info.summary,
               "params": {k: {"type": p.type, "default": p.default, "doc": p.doc,
                              "valid": p.describe().split(", default")[0]}
                          for k, p in params.items()}}

        def render(o):
            click.echo(f"{o['name']}: {o['summary']}")
            click.echo(f"objective kinds: {', '.join(o['kinds'])}; "
                       + ("installed" if o["available"]
                          else f"needs pip install 'offloadlab[{o['extra']}]'"))
            if not o["params"]:
                click.echo("no parameters")
                return
            table("parameters (--param name=value)", ["name", "valid values", "default",
                                                      "meaning"],
                  [[k, p["valid"], json.dumps(p["default"]), p["doc"]]
                   for k, p in o["params"].items()])

        emit(out, as_json, render)
        return
    rows = [{"name": i.name, "available": available(i.name), "extra": i.extra,
             "kinds": list(i.kinds), "summary": i.summary} for i in SOLVERS.values()]
    every = set(KINDS)
    emit(rows, as_json, lambda rs: table(
        "solvers (`offloadlab solvers NAME` for its parameters)",
        ["name", "kinds", "installed", "summary"],
        [[r["name"], "all" if set(r["kinds"]) == every else ", ".join(r["kinds"]),
          "yes" if r["available"] else f"no: [{r['extra']}]", r["summary"]] for r in rs]))


def _register_plugins() -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(main)


_register_plugins()


def run() -> None:  # pragma: no cover - thin alias
    main()


if __name__ == "__main__":  # pragma: no cover
    # `python -m offloadlab.cli`: run the imported module, the one the commands share
    importlib.import_module("offloadlab.cli").main()

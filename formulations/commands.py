"""``offloadlab gap``, ``offloadlab model`` and ``offloadlab bench exact``."""

from __future__ import annotations

import click

DEFAULT_SOLVERS = "greedy,dp,exact"


def register(main: click.Group) -> None:
    main.add_command(gap)
    main.add_command(model)
    if "bench" in main.commands:
        main.commands["bench"].add_command(bench_exact)


def gap_rows(problem, solvers: list[str], time_limit_s: float | None, seed: int = 0,
             params: dict | None = None) -> dict:
    """Run ``solvers`` and measure each against the best proven bound among them.

    Without any proven bound the reference is the best objective found, labelled
    ``vs best known`` (never called a gap to the optimum).
    """
    import numpy as np

    from offloadlab.registry import get_solver

    from .exact import best_bound

    params = params or {}
    sols = [get_solver(name)(problem, seed=seed, time_limit_s=time_limit_s,
                             **params.get(name, {}))
            for name in solvers]
    bound, source = best_bound(sols)
    proven = bound is not None
    if not proven:
        finite = [s.objective for s in sols if np.isfinite(s.objective)]
        bound, source = (min(finite), "best known") if finite else (None, None)
    rows = []
    for s in sols:
        gap = None
        if s.status == "optimal" and proven:
            gap = 0.0  # met its own proven bound, equal to the best within tolerance
        elif bound is not None and np.isfinite(s.objective):
            gap = 0.0 if s.objective <= bound else (
                (s.objective - bound) / abs(bound) if bound else None)
        rows.append({"solver": s.solver, "objective": _finite(s.objective),
                     "own_bound": _finite(s.bound), "status": s.status,
                     "gap_pct": None if gap is None else 100 * gap,
                     "wall_s": s.wall_s, "message": s.message})
    return {"instance": problem.instance.name, "kind": problem.instance.objective.kind,
            "bound": bound, "bound_source": source, "bound_proven": proven, "rows": rows}


def _finite(x):
    import math

    return float(x) if x is not None and math.isfinite(x) else None


def _render_gap(o: dict) -> None:
    from offloadlab.cli import table

    label = "gap %" if o["bound_proven"] else "vs best known %"
    bound = "none" if o["bound"] is None else f"{o['bound']:.6g}"
    title = (f"{o['instance']} ({o['kind']}): "
             + (f"proven bound {bound} from {o['bound_source']}" if o["bound_proven"]
                else f"no proven bound; best known {bound}"))
    table(title, ["solver", "objective", "own bound", label, "status", "wall_s"],
          [[r["solver"], r["objective"], r["own_bound"],
            None if r["gap_pct"] is None else round(r["gap_pct"], 4), r["status"],
            round(r["wall_s"], 2)] for r in o["rows"]])


@click.command()
@click.argument("instance")
@click.option("--solvers", default=DEFAULT_SOLVERS, show_default=True,
              help="Comma-separated solver names.")
@click.option("--time-limit", "time_limit_s", type=float, default=60.0, show_default=True,
              help="Seconds per solver.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def gap(instance, solvers, time_limit_s, seed, as_json):
    """Each solver's objective and gap to the best proven bound on INSTANCE (a file or
    a library name)."""
    from offloadlab.cli import UserError, check_run, emit, load_problem

    problem = load_problem(instance)
    names = [s.strip() for s in solvers.split(",") if s.strip()]
    if not names:
        raise UserError("--solvers: give at least one solver name")
    for name in names:
        check_run(name, problem, seed, time_limit_s)
    emit(gap_rows(problem, names, time_limit_s, seed), as_json, _render_gap)


@click.command()
@click.argument("instance")
@click.option("--write-model", "path", required=True, type=click.Path(dir_okay=False),
              help="Write the MILP here (.lp or .mps).")
@click.option("--no-incumbent", is_flag=True,
              help="Do not tighten the model with the greedy/DP incumbent.")
def model(instance, path, no_incumbent):
    """Write the placement-and-scheduling MILP of INSTANCE (a file or a library name)
    for another solver."""
    from offloadlab.cli import UserError, load_problem

    from .milp import MilpError, build_placement_milp, incumbent, write_model

    problem = load_problem(instance)
    if not path.lower().endswith((".lp", ".mps")):
        raise UserError(f"--write-model {path}: the file must end in .lp or .mps")
    upper = None if no_incumbent else incumbent(problem)[2]
    try:
        m = build_placement_milp(problem, upper_bound=upper)
    except MilpError as exc:
        raise UserError(str(exc)) from None
    try:
        write_model(m, path)
    except OSError as exc:
        raise UserError(f"--write-model {path}: cannot write: {exc.strerror or exc}") \
            from None
    click.echo(f"wrote {path}: {m.nvariables()} variables, {m.nconstraints()} constraints")


BENCH_PATTERNS = ("latency-", "ddpqn-", "dmro-", "deadline-", "makespan-")


def bench_rows(names: list[str], time_limit_s: float, progress=None) -> list[dict]:
    """``exact`` on each library instance: status, objective, bound, gap, seconds."""
    from offloadlab import Problem, load_instance
    from offloadlab.instances.library import library_path
    from offloadlab.registry import solve

    rows = []
    for name in names:
        problem = Problem.from_instance(load_instance(library_path(name)))
        sol = solve(problem, "exact", seed=0, time_limit_s=time_limit_s)
        rows.append({"instance": name, "kind": problem.instance.objective.kind,
                     "layers": problem.n_layers, "servers": problem.n_servers,
                     "status": sol.status, "objective": _finite(sol.objective),
                     "bound": _finite(sol.bound), "bound_source": sol.bound_source,
                     "gap_pct": None if sol.gap is None else 100 * sol.gap,
                     "wall_s": sol.wall_s, "method": sol.message.split(":")[0]})
        if progress:
            progress(name)
    return rows


@click.command("exact")
@click.option("--time-limit", "time_limit_s", default=60.0, show_default=True,
              help="Seconds per instance.")
@click.option("--sizes", default="tiny,small,paper", show_default=True,
              help="Comma-separated library sizes to include.")
@click.option("--instance", "only", multiple=True, help="Only these library instances.")
@click.option("--json", "as_json", is_flag=True)
def bench_exact(time_limit_s, sizes, only, as_json):
    """`exact` on every library instance: solve time, status, bound and gap."""
    from offloadlab.cli import UserError, check_budget_options, emit, library_name, table
    from offloadlab.instances.library import library_files

    check_budget_options(time_limit_s=time_limit_s)
    wanted = {s.strip() for s in sizes.split(",") if s.strip()}
    known = {p.stem.split("-")[-2] for p in library_files()}
    if not wanted or wanted - known:
        raise UserError(f"--sizes {sizes!r}: library sizes are {', '.join(sorted(known))}")
    for name in only:
        library_name(name)
    names = list(only) or [p.stem for p in library_files()
                           if p.stem.split("-")[-2] in wanted]
    rows = bench_rows(names, time_limit_s,
                      None if as_json else lambda n: click.echo(f"done {n}", err=True))
    emit(rows, as_json, lambda rs: table(
        f"bench exact (time limit {time_limit_s:g} s)",
        ["instance", "layers", "servers", "method", "status", "objective", "bound",
         "gap %", "wall_s"],
        [[r["instance"], r["layers"], r["servers"], r["method"], r["status"],
          r["objective"], r["bound"], r["gap_pct"], r["wall_s"]] for r in rs]))

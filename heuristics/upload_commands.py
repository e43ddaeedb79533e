"""``offloadlab upload``: the uploading plan of one task under a migration plan."""

from __future__ import annotations

import click

from offloadlab.options import NON_NEGATIVE

PLANNER_CHOICES = ("exact", "lmu", "ionn", "efficiency", "non-uploading")
EXACT_SOLVERS = ("exact", "milp")  # tried first when registered, installed and small
EXACT_MAX_LAYERS = 40
EXACT_TIME_LIMIT_S = 60.0


def migration_plan(problem, progress=None):
    """The best available migration plan: ``(assign, solver name)``.

    An exact solver (``exact`` or ``milp``) when registered, installed and the instance
    has at most :data:`EXACT_MAX_LAYERS` layers (with a 60 s limit), else ``greedy``.
    """
    import numpy as np

    from offloadlab.registry import SOLVERS, available, solve

    for name in EXACT_SOLVERS:
        if name in SOLVERS and available(name) and problem.n_layers <= EXACT_MAX_LAYERS:
            if progress:
                progress(f"migration plan by {name} (up to {EXACT_TIME_LIMIT_S:.0f} s)")
            sol = solve(problem, name, seed=0, time_limit_s=EXACT_TIME_LIMIT_S)
            if sol.assign is not None and np.isfinite(sol.objective):
                return sol.assign, name
    if progress:
        progress("migration plan by greedy")
    sol = solve(problem, "greedy", seed=0)
    if sol.assign is None:
        raise ValueError(f"greedy found no feasible migration plan: {sol.message}")
    return sol.assign, "greedy"


def register(main) -> None:
    @main.command()
    @click.argument("instance", type=click.Path(dir_okay=False))
    @click.option("--plan", "plan_path", type=click.Path(dir_okay=False), default=None,
                  help="Migration plan (offloadlab.plan/1); default: best available solver.")
    @click.option("--task", "task_name", default=None,
                  help="The task whose client uploads (default: the first task).")
    @click.option("--planner", type=click.Choice(PLANNER_CHOICES), required=True)
    @click.option("--tail", "tail_s", type=NON_NEGATIVE, default=0.0, show_default=True,
                  help="Seconds of observation after the last upload added to the SSD "
                       "at the final SD (the paper's Table II tail).")
    @click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
    def upload(instance, plan_path, task_name, planner, tail_s, as_json):
        """Plan the upload of a task's remote layers and report its SSD and SD curve."""
        from offloadlab.cli import emit, load_problem

        problem = load_problem(instance)
        with _status(not as_json) as say:
            assign, source = _migration(problem, plan_path, say)
            out = run_upload(problem, assign, task_name, planner, tail_s, say)
        out["migration_plan"] = source
        emit(out, as_json, _render)


def run_upload(problem, assign, task, planner, tail_s=0.0, progress=None) -> dict:
    """The ``upload`` command's JSON object for one plan, task and planner."""
    from offloadlab.cli import UserError
    from offloadlab.upload_model import UploadError, UploadModel
    from offloadlab.heuristics.upload_planners import plan

    try:
        model = UploadModel.build(problem, assign, task if task is not None else 0)
    except UploadError as exc:
        raise UserError(str(exc)) from None
    if progress:
        progress(f"{planner} upload plan over {len(model.items)} weighted units")
    out = {"instance": problem.instance.name, "planner": planner}
    if planner == "exact":
        from offloadlab.heuristics.upload_planners import best_upload

        ex = best_upload(model, tail_s=tail_s)
        res = ex.result
        out.update(status=ex.status, bound=ex.bound, bound_source=ex.bound_source,
                   gap=ex.gap, wall_s=ex.wall_s)
    else:
        res = plan(model, planner, tail_s)
    out.update(res.to_dict())
    return out


def _migration(problem, plan_path, say):
    from offloadlab.cli import UserError
    from offloadlab.instance import InstanceError

    if plan_path is None:
        try:
            assign, solver = migration_plan(problem, say)
        except ValueError as exc:
            raise UserError(str(exc)) from None
        return assign, f"solver:{solver}"
    from offloadlab.plan import load_plan

    try:
        assign, _ = load_plan(problem, plan_path)
    except InstanceError as exc:
        raise UserError(str(exc)) from None
    return assign, f"file:{plan_path}"


class _status:
    """A spinner on stderr for people (silent with --json)."""

    def __init__(self, show: bool):
        self.show, self._st = show, None

    def __enter__(self):
        if self.show:
            from rich.console import Console

            self._st = Console(stderr=True).status("planning the upload")
            self._st.__enter__()
        return self.say

    def say(self, text: str) -> None:
        if self._st is not None:
            self._st.update(text)

    def __exit__(self, *exc):
        if self._st is not None:
            self._st.__exit__(*exc)
        return False


def _render(o: dict) -> None:
    from offloadlab.cli import table

    ends, t = [], 0.0
    for dt in o["partition_upload_s"]:
        t += dt
        ends.append(t)
    sds = [pt[1] for pt in o["sd_curve"]]
    rows = [[k + 1, ", ".join(p), dt, end]
            for k, (p, dt, end) in enumerate(zip(o["partitions"], o["partition_upload_s"],
                                                 ends))]
    extra = ""
    if o["planner"] == "exact":
        extra = f", {o['status']} (bound {o['bound']:.6g} by {o['bound_source']})"
    table(f"{o['instance']} / {o['task']}: {o['planner']} upload, SSD {o['ssd']:.6g}"
          f"{extra}; migration plan from {o['migration_plan']}",
          ["#", "layers", "upload_s", "done_at_s"], rows)
    click.echo(f"SD {sds[0]:.6g} s before, {sds[-1]:.6g} s after the full upload "
               f"({o['upload_s']:.6g} s); largest partition "
               f"{100 * o['largest_partition_fraction']:.1f} % of the model")

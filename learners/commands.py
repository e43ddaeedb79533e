"""``offloadlab train`` and ``offloadlab bench env``.

Nothing heavy is imported at module level (torch and gymnasium load inside commands).
"""

from __future__ import annotations

import glob
import time
from dataclasses import fields
from pathlib import Path

import click
from click.core import ParameterSource

from offloadlab.options import POSITIVE, SEED


def register(main: click.Group) -> None:
    main.add_command(train)
    main.commands["bench"].add_command(env_bench)


def resolve_instances(items, error) -> list:
    """Problems from files, globs, library names and generated families.

    ``family:NAME:SEEDS`` (e.g. ``family:ddpqn-small:0-15``) generates instances with
    :func:`~offloadlab.learners.family.generate`; a glob matches files, then library
    names.
    """
    from offloadlab.instance import InstanceError, load_instance
    from offloadlab.instances.library import LIBRARY_DIR, library_path
    from offloadlab.problem import Problem

    problems = []
    for item in items:
        if item.startswith("family:"):
            from .family import FamilyError, parse_family

            try:
                problems += [Problem.from_instance(i) for i in parse_family(item)]
            except FamilyError as exc:
                raise error(str(exc)) from None
            continue
        paths = [Path(p) for p in sorted(glob.glob(item))] if any(c in item for c in "*?[") \
            else [Path(item)]
        if not paths or not paths[0].exists():
            if any(c in item for c in "*?["):
                stem = item if item.endswith(".json") else f"{item}.json"
                paths = sorted(LIBRARY_DIR.glob(stem))
                if not paths:
                    raise error(f"{item}: matches no file and no library instance")
            else:
                try:
                    paths = [library_path(item)]
                except FileNotFoundError:
                    raise error(f"{item}: no such file or library instance") from None
        for path in paths:
            try:
                problems.append(Problem.from_instance(load_instance(path)))
            except InstanceError as exc:
                raise error(str(exc)) from None
    if not problems:
        raise error("no instances given")
    return problems


@click.command()
@click.argument("learner")
@click.argument("instances", nargs=-1)
@click.option("--steps", type=int, default=20_000, show_default=True,
              help="Environment steps (layer placements) of training.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--time-limit", "time_limit_s", type=float, default=None,
              help="Stop training after this many seconds.")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE",
              help="A hyper-parameter (repeatable), e.g. gamma=0.9.")
@click.option("--reward", type=click.Choice(["objective", "ddpqn"]), default="objective",
              show_default=True)
@click.option("--out", "out_path", type=click.Path(dir_okay=False), required=True,
              help="Checkpoint file (.pt); the curve goes next to it (.csv, .png).")
@click.option("--meta", is_flag=True,
              help="dmro: meta-learn initial parameters over --envs generated environments "
                   "(DMRO Algorithm 2) instead of training on INSTANCES.")
@click.option("--envs", "n_envs", type=int, default=8, show_default=True,
              help="dmro --meta: number of environments of --family.")
@click.option("--family", default="dmro-workflows", show_default=True,
              help="dmro --meta: the generated family the environments come from.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def train(learner, instances, steps, seed, time_limit_s, params, reward, out_path, meta,
          n_envs, family, as_json):
    """Train LEARNER (e.g. ddpqn, dmro; a3c, mtl-a3c, dist-dqn on one deadline
    instance) on INSTANCES (files, globs, library names or family:NAME:SEEDS) and write a
    checkpoint and the learning curve; `train dmro --meta --envs N` meta-learns DMRO's
    initial parameters instead."""
    from offloadlab.cli import UserError, check_budget_options, emit, parse_params
    from offloadlab.registry import SolverError

    from .dmro import VARIANTS as DMRO_VARIANTS
    from .dqn import VARIANTS

    check_budget_options(seed, time_limit_s)
    if steps <= 0:
        raise UserError(f"--steps must be positive, got {steps}")
    ctx = click.get_current_context()
    for name, option in (("n_envs", "--envs"), ("family", "--family")):
        if not meta and ctx.get_parameter_source(name) != ParameterSource.DEFAULT:
            raise UserError(f"{option}: only with --meta (it would be ignored)")
    if learner in DMRO_VARIANTS:
        return _train_dmro(learner, instances, steps, seed, time_limit_s, params, out_path,
                           meta, n_envs, family, as_json)
    if meta:
        raise UserError(f"--meta: only for {', '.join(DMRO_VARIANTS)}, not {learner!r}")
    if learner in SLOT_LEARNERS:
        return _train_slot(learner, instances, steps, seed, time_limit_s, params, reward,
                           out_path, as_json)
    if learner not in VARIANTS:
        raise UserError(f"unknown learner {learner!r}; known: {', '.join(VARIANTS)}")
    problems = resolve_instances(instances, UserError)
    servers = {p.n_servers for p in problems}
    if len(servers) > 1:
        raise UserError(f"instances differ in their number of servers ({sorted(servers)}); "
                        "one network needs one action space")
    try:
        hyper = training_hyper(learner, parse_params(params))
        out = train_learner(learner, problems, steps=steps, seed=seed,
                            time_limit_s=time_limit_s, reward=reward, hyper=hyper,
                            out_path=Path(out_path), progress_bar=not as_json)
    except SolverError as exc:
        raise UserError(str(exc)) from None

    def render(o):
        click.echo(f"{o['learner']}: {o['steps']} steps in {o['wall_s']:.1f} s, best greedy "
                   f"objective {o['best_objective']:.6g}; checkpoint {o['checkpoint']}, "
                   f"curve {o['curve']}")

    emit(out, as_json, render)


SLOT_LEARNERS = ("a3c", "mtl-a3c", "dist-dqn")  # the slotted deadline environment's


def _train_slot(learner, instances, steps, seed, time_limit_s, params, reward, out_path,
                as_json):
    """``train a3c|mtl-a3c|dist-dqn``: one deadline instance, the solver's training."""
    from offloadlab.cli import UserError, emit, parse_params
    from offloadlab.registry import SolverError, check_params

    if reward != "objective":
        raise UserError(f"--reward {reward}: {learner} learns the deadline reward "
                        "−(Σ delay + β·ψ) only")
    problems = resolve_instances(instances, UserError)
    if len(problems) != 1:
        raise UserError(f"{learner} trains on one instance, got {len(problems)}")
    problem = problems[0]
    if problem.instance.objective.kind != "deadline":
        raise UserError(f"{problem.instance.name}: {learner} needs a deadline instance, "
                        f"not {problem.instance.objective.kind!r}")
    try:
        hyper = check_params(learner, parse_params(params), TRAIN_OPTIONS)
        if "checkpoint" in hyper:
            raise SolverError("--param checkpoint: not a hyper-parameter of training")
        out = train_slot_learner(learner, problem, steps=steps, seed=seed,
                                 time_limit_s=time_limit_s, hyper=hyper,
                                 out_path=Path(out_path))
    except SolverError as exc:
        raise UserError(str(exc)) from None
    emit(out, as_json, lambda o: click.echo(
        f"{o['learner']}: {o['steps']} steps in {o['wall_s']:.1f} s, best greedy objective "
        f"{o['best_objective']:.6g}, best training episode {o['best_episode']:.6g}; "
        f"checkpoint {o['checkpoint']}, curve {o['curve']}"))


def train_slot_learner(learner: str, problem, *, steps: int, seed: int, time_limit_s=None,
                       hyper: dict | None = None, out_path: Path) -> dict:
    """Train ``a3c``, ``mtl-a3c`` or ``dist-dqn`` on a deadline ``problem`` and write the
    checkpoint (the policy of the best greedy snapshot) and the curve; the record."""
    import math

    from .checkpoint import save_checkpoint
    from .slots import SlotEnv

    hyper = dict(hyper or {})
    workers = int(hyper.pop("workers", 1))
    started = time.perf_counter()
    if learner == "dist-dqn":
        from .dist_dqn import train as train_dqn
        from .dqn import DQNConfig

        hyper.pop("keep_episodes", None)
        chunk = int(hyper.pop("chunk", 50))
        cfg = DQNConfig.for_variant("dqn", **{"epsilon_greedy": 0.99, **hyper})
        net, info = train_dqn(problem, cfg, steps=steps, seed=seed, workers=workers,
                              chunk=chunk, time_limit_s=time_limit_s)
        branches = 0
    else:
        from .a3c import A3CConfig, train as train_a3c

        if "hidden" in hyper:
            hyper["hidden"] = tuple(int(h) for h in hyper["hidden"])
        cfg = A3CConfig(**hyper)
        branches = max(len(t) for t in problem.task_layers) if learner == "mtl-a3c" else 0
        net, info = train_a3c(problem, cfg, steps=steps, seed=seed, workers=workers,
                              branches=branches, time_limit_s=time_limit_s)
    extra = {"instances": [problem.instance.name], "steps": info["steps"], "seed": seed,
             "branches": branches, "workers": workers}
    ckpt = save_checkpoint(out_path, net, learner, cfg.to_dict(), SlotEnv(problem).spec_dict(),
                           extra)
    curve_csv = ckpt.with_suffix(".csv")
    write_curve(info["curve"], curve_csv, ckpt.with_suffix(".png"), learner)
    greedy = [row[2] for row in info["curve"]]
    return {"learner": learner, "steps": info["steps"],
            "wall_s": time.perf_counter() - started, "checkpoint": str(ckpt),
            "curve": str(curve_csv), "best_objective": min(greedy) if greedy else math.nan,
            "best_episode": info["episode"][0][1], "instances": extra["instances"],
            "seed": seed}


def _train_dmro(learner, instances, steps, seed, time_limit_s, params, out_path, meta,
                n_envs, family, as_json):
    """``train dmro``: initial parameters from INSTANCES or, with ``--meta``, from
    ``--envs`` members of ``--family`` (Algorithm 2)."""
    from offloadlab.cli import UserError, emit, parse_params
    from offloadlab.registry import SolverError

    from .dmro import DMROConfig
    from .family import DMRO_FAMILIES, FamilyError
    from .meta import meta_environments, meta_train

    if meta:
        if instances:
            raise UserError("--meta takes no INSTANCES: it generates --envs environments "
                            "of --family")
        if n_envs <= 0:
            raise UserError(f"--envs must be positive, got {n_envs}")
        if family not in DMRO_FAMILIES:
            raise UserError(f"--family {family!r}: known: {', '.join(DMRO_FAMILIES)}")
        try:
            problems = meta_environments(family, n_envs)
        except FamilyError as exc:
            raise UserError(str(exc)) from None
    else:
        problems = resolve_instances(instances, UserError)
        if len({(p.n_servers, max(len(t) for t in p.task_layers)) for p in problems}) > 1:
            raise UserError("instances differ in their number of servers or longest task; "
                            "one network needs one observation and action space")
    try:
        hyper = training_hyper(learner, parse_params(params),
                               {f.name for f in fields(DMROConfig)})
        bar_cm = _bar(steps, f"train {learner}") if not as_json else None
        if bar_cm is None:
            _, out = meta_train(problems, steps=steps, seed=seed, hyper=hyper,
                                time_limit_s=time_limit_s, out_path=Path(out_path),
                                variant=learner)
        else:
            with bar_cm as advance:
                _, out = meta_train(problems, steps=steps, seed=seed, hyper=hyper,
                                    time_limit_s=time_limit_s, progress=advance,
                                    out_path=Path(out_path), variant=learner)
    except SolverError as exc:
        raise UserError(str(exc)) from None
    out["meta"] = bool(meta)
    emit(out, as_json, lambda o: click.echo(
        f"{o['learner']}{' (meta)' if o['meta'] else ''}: {o['steps']} steps in "
        f"{o['wall_s']:.1f} s over {len(o['instances'])} environment"
        f"{'s' if len(o['instances']) > 1 else ''}, best decision "
        f"{o['best_objective']:.6g}; parameters {o['checkpoint']}"))


TRAIN_OPTIONS = {"seed": "--seed", "time_limit_s": "--time-limit"}


def training_hyper(learner: str, params: dict, known: set | None = None,
                   options: dict = TRAIN_OPTIONS) -> dict:
    """``params`` checked as training hyper-parameters of ``learner`` (converted to their
    types); ``known``: their names (default: the DQN family's); ``options``: the
    command's options for the run settings (``seed``, ``time_limit_s``).

    Raises
    ------
    SolverError
        An unknown learner or parameter, an ill-typed value, or a solve-time option
        (checkpoint, order, ...), which is not training's.
    """
    from offloadlab.registry import SolverError, check_params, get_solver

    from .dqn import SWITCHES, DQNConfig

    get_solver(learner)   # an unknown name is a SolverError
    hyper = check_params(learner, params, options)
    if known is None:
        known = {f.name for f in fields(DQNConfig)} - set(SWITCHES)
    other = sorted(set(hyper) - known)
    if other:
        raise SolverError(f"--param {other[0]}: not a hyper-parameter of training; "
                          f"known: {', '.join(sorted(known))}")
    return hyper


def train_learner(learner: str, problems, *, steps: int, seed: int, time_limit_s=None,
                  reward: str = "objective", hyper: dict | None = None,
                  out_path: Path, progress_bar: bool = False,
                  pad_layers: int | None = None) -> dict:
    """Train on ``problems`` and write checkpoint, curve CSV and PNG; returns the record.

    ``pad_layers`` (default: the longest task among ``problems``) sets the observation's
    padding; give more to apply the checkpoint to instances with longer tasks."""
    from contextlib import nullcontext

    from .checkpoint import save_checkpoint
    from .dqn import DQNConfig, train
    from .env import PlacementEnv

    cfg = DQNConfig.for_variant(learner, **(hyper or {}))
    pad = pad_layers or max(len(t) for p in problems for t in p.task_layers)
    envs = [PlacementEnv(p, reward=reward, pad_layers=pad) for p in problems]
    bar_cm = _bar(steps, f"train {learner}") if progress_bar else nullcontext(None)
    with bar_cm as advance:
        result = train(envs, cfg, steps=steps, seed=seed, time_limit_s=time_limit_s,
                       progress=advance)
    spec = envs[0].spec_dict()
    extra = {"instances": [p.instance.name for p in problems], "steps": result.steps,
             "seed": seed}
    ckpt = save_checkpoint(out_path, result.q_net, learner, cfg.to_dict(), spec, extra)
    curve_csv = ckpt.with_suffix(".csv")
    write_curve(result.curve, curve_csv, ckpt.with_suffix(".png"), learner)
    return {"learner": learner, "steps": result.steps, "wall_s": result.wall_s,
            "checkpoint": str(ckpt), "curve": str(curve_csv),
            "best_objective": result.best, "instances": extra["instances"], "seed": seed}


def write_curve(curve, csv_path: Path, png_path: Path | None, title: str) -> None:
    """The learning curve as CSV (steps, wall_s, greedy_objective, episode_objective)
    and, when matplotlib is installed, as a PNG."""
    lines = ["steps,wall_s,greedy_objective,episode_objective"]
    lines += [f"{s},{w:.4f},{g:.10g},{e:.10g}" for s, w, g, e in curve]
    csv_path.write_text("\n".join(lines) + "\n")
    if png_path is None:
        return
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, ax = plt.subplots(figsize=(6, 3.5))
    steps = [c[0] for c in curve]
    ax.plot(steps, [c[3] for c in curve], label="episodes (exploring)", alpha=0.6)
    ax.plot(steps, [c[2] for c in curve], label="greedy rollout")
    ax.set_xlabel("environment steps")
    ax.set_ylabel("objective (lower is better)")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(png_path, dpi=120)
    plt.close(fig)


class _bar:
    """A rich progress bar over environment steps; yields ``advance(steps_done)``."""

    def __init__(self, total: int, title: str):
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                   TimeElapsedColumn, TimeRemainingColumn)

        from rich.console import Console

        self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), TimeElapsedColumn(),
                                 TimeRemainingColumn(), console=Console(stderr=True))
        self.task = self.progress.add_task(title, total=total)

    def __enter__(self):
        self.progress.__enter__()
        return lambda done: self.progress.update(self.task, completed=done)

    def __exit__(self, *exc):
        return self.progress.__exit__(*exc)


@click.command("env")
@click.option("--instance", default="ddpqn-alexnet-small-s0", show_default=True,
              help="Library name or file.")
@click.option("--batch", type=int, default=256, show_default=True,
              help="Episodes stepped together.")
@click.option("--seconds", type=POSITIVE, default=3.0, show_default=True)
@click.option("--seed", type=SEED, default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def env_bench(instance, batch, seconds, seed, as_json):
    """Layer placements per second of the batched placement environment (random
    allowed actions, one core), and of the single Gymnasium environment."""
    from offloadlab.cli import UserError, emit, table

    if batch <= 0:
        raise UserError("--batch must be positive")
    problem = resolve_instances([instance], UserError)[0]
    out = env_rate(problem, batch=batch, seconds=seconds, seed=seed)
    emit(out, as_json, lambda o: table(
        f"placement environment on {o['instance']}", list(o), [list(o.values())]))


def env_rate(problem, *, batch: int = 256, seconds: float = 3.0, seed: int = 0) -> dict:
    """Measured in one run: placements per second of :class:`BatchPlacementEnv` (batch of
    ``batch`` episodes) and of one :class:`PlacementEnv` (a fifth of the time)."""
    import numpy as np

    from .env import BatchPlacementEnv, PlacementEnv

    rng = np.random.default_rng(seed)
    venv = BatchPlacementEnv(problem, batch)
    venv.reset(seed=seed)
    venv.step(venv.random_actions(rng))  # compile before timing
    steps, started = 0, time.perf_counter()
    cpu0 = time.process_time()
    while time.perf_counter() - started < seconds:
        _, _, done, _ = venv.step(venv.random_actions(rng))
        steps += batch
        if done.all():
            venv.reset()
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu0
    env = PlacementEnv(problem)
    _, info = env.reset(seed=seed)
    single, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds / 5:
        action = int(rng.choice(np.flatnonzero(info["action_mask"])))
        _, _, term, _, info = env.step(action)
        single += 1
        if term:
            _, info = env.reset()
    single_rate = single / (time.perf_counter() - started)
    return {"instance": problem.instance.name, "batch": batch,
            "layers_per_episode": problem.n_layers, "steps_per_s": steps / wall,
            "steps_per_cpu_s": steps / max(cpu, 1e-9), "single_env_steps_per_s": single_rate,
            "speedup": steps / wall / single_rate}



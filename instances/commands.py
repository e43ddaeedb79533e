"""``offloadlab instances ...``: list, show, validate, build and import the library."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from offloadlab.instance import SCHEMA_PATH, InstanceError, json_schema_text, load_instance
from offloadlab.options import POSITIVE, SEED


def register(main: click.Group) -> None:
    from .profile_commands import profile_cmd

    main.add_command(instances)
    main.add_command(profile_cmd)


@click.group()
def instances():
    """The instance library: list, show, validate, build, import-workbook, new."""


@instances.command("list")
@click.option("--json", "as_json", is_flag=True)
def list_(as_json):
    """One line per library instance: family, size, tasks, layers, servers."""
    from offloadlab.cli import emit, table
    from offloadlab.problem import Problem

    from .library import library_files

    rows = []
    for path in library_files():
        inst = load_instance(path)
        pb = Problem.from_instance(inst)
        rows.append({"name": inst.name, "kind": inst.objective.kind, "tasks": pb.n_tasks,
                     "layers": pb.n_layers, "servers": pb.n_servers, "file": str(path)})
    emit(rows, as_json, lambda rs: table(
        "instance library", ["name", "kind", "tasks", "layers", "servers"],
        [[r["name"], r["kind"], r["tasks"], r["layers"], r["servers"]] for r in rs]))


@instances.command()
@click.argument("instance")
@click.option("--json", "as_json", is_flag=True, help="Print the whole file.")
def show(instance, as_json):
    """Describe INSTANCE (a file, or a library name)."""
    from offloadlab.cli import UserError, emit, plural, table

    inst = _load(instance, UserError)
    if as_json:
        emit(json.loads(inst.to_json()), True)
        return
    click.echo(f"{inst.name}: {inst.description}")
    click.echo(f"objective: {inst.objective.model_dump(by_alias=True)}")
    table("servers", ["name", "tier", "ghz", "pools", "memory_mb"],
          [[s.name, s.tier, s.ghz, s.pools, s.memory_mb] for s in inst.servers])
    table("models", ["model", "layers", "gcycles", "param_mb", "input_mb"],
          [[k, len(m.layers), sum(x.gcycles for x in m.layers),
            sum(x.param_mb for x in m.layers), m.input_mb] for k, m in inst.models.items()])
    click.echo(f"{plural(len(inst.tasks), 'task')}, {plural(len(inst.links), 'link')}")


def _load(name: str, error):
    from offloadlab.cli import instance_path

    try:
        return load_instance(instance_path(name))
    except InstanceError as exc:
        raise error(str(exc)) from None


@instances.command()
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True)
def validate(files, as_json):
    """Check FILES (default: the whole library); exit 1 naming each defect."""
    from offloadlab.cli import emit

    from .library import library_files

    paths = [Path(f) for f in files] or library_files()
    results = []
    for path in paths:
        try:
            load_instance(path)
            results.append({"file": str(path), "ok": True, "error": None})
        except InstanceError as exc:
            results.append({"file": str(path), "ok": False, "error": str(exc)})

    def render(rs):
        for r in rs:
            click.echo(f"ok     {r['file']}" if r["ok"] else f"ERROR  {r['error']}")
        bad = sum(not r["ok"] for r in rs)
        click.echo(f"{len(rs) - bad} valid, {bad} invalid")

    emit(results, as_json, render)
    if not all(r["ok"] for r in results):
        sys.exit(1)


@instances.command()
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Folder to write to (default: the installed library).")
def build(out_dir):
    """Regenerate the whole library from code and seeds (byte-identical)."""
    from rich.progress import track

    from .library import BUILDERS, LIBRARY_DIR, build as build_one

    folder = Path(out_dir) if out_dir else LIBRARY_DIR
    folder.mkdir(parents=True, exist_ok=True)
    for name in track(list(BUILDERS), description="building", transient=True):
        (folder / f"{name}.json").write_text(build_one(name).to_json())
    if out_dir is None:
        SCHEMA_PATH.write_text(json_schema_text())
    click.echo(f"wrote {len(BUILDERS)} instances to {folder}")


@instances.command("import-workbook")
@click.argument("workbook", type=click.Path(exists=True, dir_okay=False))
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Folder for the model files (default: the installed models folder).")
@click.option("--json", "as_json", is_flag=True)
def import_workbook_cmd(workbook, out_dir, as_json):
    """Import the layer-profile WORKBOOK, reporting every defect by sheet and row."""
    from offloadlab.cli import UserError, emit

    try:
        from .models import write_models
        from .workbook import import_workbook
    except ModuleNotFoundError as exc:
        raise UserError(f"needs {exc.name!r}: pip install 'offloadlab[workbook]'") from None
    import zipfile

    if not workbook.lower().endswith((".xlsx", ".xlsm")):
        raise UserError(f"{workbook}: not an Excel workbook (.xlsx)")
    try:
        models, issues = import_workbook(workbook)
    except (OSError, KeyError, zipfile.BadZipFile) as exc:  # corrupt, or not the layout
        raise UserError(f"{workbook}: cannot import: {exc}") from None
    folder = Path(out_dir) if out_dir else Path(__file__).parent / "models"
    write_models(folder, workbook)
    out = {"models": {k: len(v["layers"]) for k, v in models.items()},
           "issues": [{"sheet": i.sheet, "row": i.row, "layer": i.layer, "kind": i.kind,
                       "message": i.message, "repair": i.repair} for i in issues],
           "out": str(folder)}

    def render(o):
        for i in o["issues"]:
            fix = f" -> repaired: {i['repair']}" if i["repair"] else " -> refused"
            click.echo(f"{i['sheet']} row {i['row']} ({i['layer']}): {i['message']}{fix}")
        click.echo(f"models: {json.dumps(o['models'])} written to {o['out']}")

    emit(out, as_json, render)


@instances.command()
@click.option("--model", "model_path", required=True, type=click.Path(dir_okay=False),
              help="A model file (what `offloadlab profile` writes).")
@click.option("--preset", required=True, help="Environment: latency-small, "
              "latency-paper, ddpqn-small, ddpqn-paper, dmro-paper, dmro-multiserver, "
              "deadline-small, deadline-paper.")
@click.option("--tasks", "n_tasks", type=click.IntRange(1), default=4, show_default=True,
              help="Inferences of the model.")
@click.option("--seed", type=SEED, default=0, show_default=True,
              help="Seed of the preset's random draws (dmro, deadline).")
@click.option("--name", default=None, help="Model name (default: the file's stem).")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False),
              help="Instance file to write.")
def new(model_path, preset, n_tasks, seed, name, out_path):
    """Wrap a model file in one of the library's environments as an instance file."""
    from offloadlab.cli import UserError

    from .wrap import PRESETS, wrap_model

    if preset not in PRESETS:
        raise UserError(f"unknown preset {preset!r}; known: {', '.join(PRESETS)}")
    path = Path(model_path)
    try:
        entry = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: not valid JSON: {exc}") from None
    model = name or path.stem
    try:
        inst = wrap_model(entry, model, preset, n_tasks, seed, source=str(path))
    except InstanceError as exc:
        raise UserError(str(exc)) from None
    Path(out_path).write_text(inst.to_json())
    click.echo(f"wrote {inst.name}: {n_tasks} x {model} ({len(entry['layers'])} layers) "
               f"in {preset} -> {out_path}")


@instances.command("generate-dag")
@click.option("--nodes", type=click.IntRange(min=2), default=100, show_default=True,
              help="Layers per DAG.")
@click.option("--shape", type=click.Choice(["layered", "random"]), default="layered",
              show_default=True)
@click.option("--servers", type=click.IntRange(min=1), default=4, show_default=True)
@click.option("--speeds", type=click.Choice(["identical", "related"]), default="identical",
              show_default=True)
@click.option("--data/--no-data", default=False, show_default=True,
              help="Layers send data between servers.")
@click.option("--tasks", type=click.IntRange(min=1), default=1, show_default=True,
              help="DAGs in the instance.")
@click.option("--p-min", "p_min_s", type=POSITIVE, default=1.0, show_default=True,
              help="Shortest processing time (s at 1 GHz).")
@click.option("--p-max", "p_max_s", type=POSITIVE, default=10.0, show_default=True)
@click.option("--kind", type=click.Choice(["makespan", "latency"]), default="makespan",
              show_default=True)
@click.option("--seed", type=SEED, default=0, show_default=True)
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="File to write (default: stdout).")
def generate_dag(nodes, shape, servers, speeds, data, tasks, p_min_s, p_max_s, kind, seed,
                 out):
    """A random DAG scheduling instance (P|prec|Cmax and variants), seeded."""
    from offloadlab.cli import UserError

    from .generators import random_dag_instance

    try:
        inst = random_dag_instance(nodes=nodes, shape=shape, servers=servers, speeds=speeds,
                                   data=data, tasks=tasks, p_min_s=p_min_s,
                                   p_max_s=p_max_s, kind=kind, seed=seed)
    except ValueError as exc:
        raise UserError(f"generate-dag: {exc}") from None
    if out:
        Path(out).write_text(inst.to_json())
        click.echo(f"wrote {out}: {inst.name}", err=True)
    else:
        click.echo(inst.to_json(), nl=False)

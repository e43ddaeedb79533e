"""``offloadlab profile``: a PyTorch network to an instance-format model file."""

from __future__ import annotations

import time
from pathlib import Path

import click

from offloadlab.options import POSITIVE


@click.command("profile")
@click.argument("target")
@click.option("--input-shape", "input_shape", required=True, metavar="N,C,H,W",
              help="Shape of the float32 input, batch first, e.g. 1,3,224,224.")
@click.option("--name", default=None,
              help="Model name (default: the factory's); the default file is NAME.json.")
@click.option("--granularity", type=click.Choice(["layer", "block"]), default="layer",
              show_default=True, help="One layer per compute node, or per residual/"
              "inception block (layers between cut layers).")
@click.option("--measure", is_flag=True,
              help="gcycles from timed runs on one thread of this CPU x its clock, "
                   "instead of FLOPs.")
@click.option("--repeats", type=click.IntRange(1), default=5, show_default=True,
              help="Timed runs with --measure (median).")
@click.option("--ghz", type=POSITIVE, default=None,
              help="Clock for --measure (default: this CPU's maximum).")
@click.option("--out", "out_path", type=click.Path(dir_okay=False), default=None,
              help="Model file to write (default: NAME.json).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def profile_cmd(target, input_shape, name, granularity, measure, repeats, ghz, out_path,
                as_json):
    """Profile the network of TARGET into a model file of the library's format.

    TARGET is package.module:factory or path/to/file.py:factory, a function that takes
    no argument and returns a torch.nn.Module (torchvision.models:resnet18 works where
    torchvision is installed).
    """
    from offloadlab.cli import UserError, emit

    started = time.perf_counter()  # wall_s includes importing torch
    try:
        import torch  # noqa: F401
    except ModuleNotFoundError:
        raise UserError("needs 'torch': pip install 'offloadlab[profile]'") from None
    from .profile import ProfileError, parse_shape, profile_model
    from .models import model_json

    try:
        shape = parse_shape(input_shape)
        result = profile_model(target, shape, granularity, measure, repeats, ghz)
    except ProfileError as exc:
        raise UserError(str(exc)) from None
    name = name or target.rpartition(":")[2]
    path = Path(out_path or f"{name}.json")
    path.write_text(model_json(result.entry), encoding="utf-8")
    layers = result.entry["layers"]
    out = {"model": name, "out": str(path), "method": result.method,
           "granularity": granularity, "measured": measure, "layers": len(layers),
           "gflops": result.flops / 1e9, "params": result.params,
           "gcycles": sum(x["gcycles"] for x in layers),
           "param_mb": sum(x["param_mb"] for x in layers),
           "input_mb": result.entry["input_mb"], "notes": result.notes,
           "wall_s": time.perf_counter() - started}
    for note in result.notes:
        click.echo(f"note: {note}", err=True)

    def render(o):
        click.echo(f"{o['model']}: {o['layers']} layers ({o['method']}), "
                   f"{o['gflops']:.4g} GFLOPs, {o['gcycles']:.4g} Gcycles, "
                   f"{o['params']:,} parameters = {o['param_mb']:.4g} MiB, "
                   f"input {o['input_mb']:.4g} MiB -> {o['out']}")

    emit(out, as_json, render)

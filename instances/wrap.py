"""A user's model in one of the library's environments (``offloadlab instances new``).

A preset ``<family>-<size>`` names a builder of :mod:`.presets` and its settings, as the
library uses them.  The instance is the preset's environment -- servers, links, the
tasks' devices, release times and deadlines, the objective -- with the given model in
place of the library's: the builder runs on a library model and the model is then
swapped, so the environment is the library's to the byte.
"""

from __future__ import annotations

import json

from offloadlab.instance import Instance, parse_instance

from . import presets

_PLACEHOLDER = "alexnet"  # the library model a preset is built with before the swap

#: preset -> (builder of (n_tasks, seed), what it is)
PRESETS = {
    "latency-small": (lambda n, seed: presets.eosdnn(_PLACEHOLDER, n, n_clients=2, n_edge=2,
                                                     n_cloud=2),
                      "EosDNN migration, 2 clients, 2 edge, 2 cloud servers; latency"),
    "latency-paper": (lambda n, seed: presets.eosdnn(_PLACEHOLDER, n),
                      "EosDNN migration, 4 clients, 5 edge, 5 cloud servers; latency"),
    "ddpqn-small": (lambda n, seed: presets.ddpqn(_PLACEHOLDER, n, n_edge=2, n_cloud=2),
                    "DDPQN, one client, 2 edge, 2 cloud servers; delay-energy-cost"),
    "ddpqn-paper": (lambda n, seed: presets.ddpqn(_PLACEHOLDER, n),
                    "DDPQN, one client, 5 edge, 5 cloud servers; delay-energy-cost"),
    "dmro-paper": (lambda n, seed: presets.dmro(4, 1, 1, seed=seed),
                   "DMRO, 4 users, 1 edge, 1 cloud server; time + delta x energy"),
    "dmro-multiserver": (lambda n, seed: presets.dmro(4, 1, 1, multi_server=True, seed=seed),
                         "DMRO, 4 users, 2 edge, 2 cloud servers; time + delta x energy"),
    "deadline-small": (lambda n, seed: presets.mtl_a3c("vgg16", 1, n_es=4, n_devices=4,
                                                       n_tasks=n, seed=seed),
                       "MTL-A3C, 4 IoT devices, 4 edge servers; hard deadlines"),
    "deadline-paper": (lambda n, seed: presets.mtl_a3c("vgg16", 1, n_tasks=n, seed=seed),
                       "MTL-A3C, 10 IoT devices, 4 edge servers; hard deadlines"),
}


def wrap_model(entry: dict, model: str, preset: str, n_tasks: int, seed: int = 0,
               source: str = "<model>", name: str | None = None) -> Instance:
    """An instance running ``n_tasks`` inferences of ``entry`` in ``preset``.

    Parameters
    ----------
    entry : dict
        A model entry ``{"input_mb", "layers"}`` (what ``offloadlab profile`` writes).
    model : str
        Its name in the instance.
    preset : str
        A key of :data:`PRESETS`.
    n_tasks : int
        Inferences.  DMRO's tasks go round-robin over its users; the others keep the
        preset's own assignment to devices (and, for ``deadline``, its release times and
        deadlines, drawn with ``seed``: 1-7 s, the paper's, whatever the model).
    source : str
        The model's file, named in errors.

    Raises
    ------
    KeyError
        For an unknown preset.
    offloadlab.instance.InstanceError
        When the model entry is not a valid model (naming ``source`` and the JSON path).
    """
    if preset not in PRESETS:
        raise KeyError(f"unknown preset {preset!r}; known: {', '.join(PRESETS)}")
    if n_tasks < 1:
        raise ValueError(f"--tasks {n_tasks}: at least one task")
    builder, what = PRESETS[preset]
    data = json.loads(builder(n_tasks, seed).to_json())
    family, size = preset.split("-", 1)
    tasks = data["tasks"]
    if family == "dmro":
        users = [s["name"] for s in data["servers"] if s["tier"] == "device"]
        tasks = [{"name": f"t{i + 1}", "model": model, "device": users[i % len(users)]}
                 for i in range(n_tasks)]
    data.update(
        name=name or f"{family}-{model}-{size}-s{seed}",
        description=f"{n_tasks} x {model} in preset {preset}: {what}.",
        models={model: entry},
        tasks=[dict(task, model=model) for task in tasks])
    return parse_instance(data, source)

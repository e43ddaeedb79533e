"""Harder single slots for the deadline family (MTL-A3C §5 with contention).

The library's ``deadline-vgg16-*`` instances have generous deadlines and two-pool edge
servers, so layer-by-layer greedy is already optimal there. A hard slot releases
``n_tasks`` VGG16-style chains (``n_blocks`` merged blocks) within the first
``release_s`` of one slot, from ``n_devices`` IoT devices, onto ``n_es`` edge servers
with a single slot each (``pools`` 1), so blocks queue; each task's deadline is
``deadline_factor`` times its contention-free latency (its best latency alone on the
servers, the core's earliest-finish plan of the task by itself).
"""

from __future__ import annotations

import numpy as np

from offloadlab.instance import Instance, parse_instance

from .presets import _round, merge_blocks, mtl_network
from .models import load_model


def _alone_latency_s(data: dict, index: int) -> float:
    """Latency of task ``index`` alone (no deadline), by the best of greedy and the
    all-device and all-edge plans (the earliest-finish plan of one chain)."""
    from offloadlab.problem import Problem
    from offloadlab.registry import solve

    one = {**data, "tasks": [{k: v for k, v in data["tasks"][index].items()
                              if k != "deadline_s"}]}
    problem = Problem.from_instance(parse_instance(one))
    return min(solve(problem, name).objective for name in ("greedy", "dp"))


def hard_slot(seed: int = 0, n_tasks: int = 10, n_es: int = 3, n_blocks: int = 4,
              n_devices: int = 5, deadline_factor: float = 4.0, release_s: float = 0.2,
              model: str = "vgg16", name: str | None = None) -> Instance:
    """One contended slot (module docstring); the same arguments give the same
    instance."""
    rng = np.random.default_rng(seed)
    servers, links = mtl_network(rng, n_devices, n_es, pools=1)
    release = np.sort(rng.uniform(0.0, release_s, n_tasks))
    devices = [f"iot{int(d) + 1}" for d in rng.integers(0, n_devices, n_tasks)]
    tasks = [{"name": f"t{i + 1}", "model": model, "device": devices[i],
              "release_s": _round(release[i])} for i in range(n_tasks)]
    data = {
        "name": name or f"hardslot-{model}-{n_tasks}t{n_es}es-s{seed}",
        "description": f"One contended slot: {n_tasks} x {model} ({n_blocks} blocks) from "
                       f"{n_devices} devices on {n_es} single-slot edge servers, deadlines "
                       f"{deadline_factor} x the contention-free latency.",
        "servers": servers, "links": links,
        "models": {model: merge_blocks(load_model(model), n_blocks)}, "tasks": tasks,
        "objective": {"kind": "deadline"}}
    for i, task in enumerate(tasks):
        task["deadline_s"] = _round(deadline_factor * _alone_latency_s(data, i))
    return parse_instance(data)

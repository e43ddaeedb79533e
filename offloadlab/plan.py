"""The plan file format ``offloadlab.plan/1`` and its conversion to arrays.

``{"format": "offloadlab.plan/1", "assignment": {task: {layer: server}},
"priority": [[task, layer], ...]}``; ``priority`` is optional (default: by release time,
depth in the DAG, task index).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .instance import InstanceError, read_json
from .problem import Problem

FORMAT = "offloadlab.plan/1"


def plan_to_dict(problem: Problem, assign, priority=None) -> dict:
    """A plan-file object for one plan given as arrays."""
    assign = np.asarray(assign).ravel()
    out: dict = {"format": FORMAT, "assignment": {}}
    for g, (task, layer) in enumerate(problem.layer_names):
        out["assignment"].setdefault(task, {})[layer] = problem.server_names[int(assign[g])]
    if priority is not None:
        out["priority"] = [list(problem.layer_names[int(g)]) for g in np.asarray(priority).ravel()]
    return out


def plan_from_dict(problem: Problem, data: dict, source: str = "<plan>"):
    """Arrays ``(assign, priority)`` from a plan-file object; priority may be None.

    Raises
    ------
    InstanceError
        Naming the JSON path: unknown keys, tasks, layers or servers, missing layers, a
        priority list that is not a precedence-respecting permutation.
    """
    def fail(path, reason):
        raise InstanceError(source, path, reason)

    if not isinstance(data, dict):
        fail("", "a plan must be a JSON object")
    if data.get("format") == "offloadlab.instance/1" or {"servers", "tasks"} <= set(data):
        fail("", f"this is an instance file, not a plan ({FORMAT}: the layers' servers); "
             "make one with `offloadlab solve INSTANCE --solver NAME --out PLAN`")
    extra = set(data) - {"format", "assignment", "priority"}
    if extra:
        fail(sorted(extra)[0], "unknown field (check its spelling)")
    if data.get("format", FORMAT) != FORMAT:
        fail("format", f"unsupported format {data.get('format')!r}, expected {FORMAT!r}")
    if not isinstance(data.get("assignment"), dict):
        fail("assignment", "missing or not an object")
    index = problem.layer_index
    server = {n: i for i, n in enumerate(problem.server_names)}
    tasks = {t.name for t in problem.instance.tasks}
    assign = np.full(problem.n_layers, -1, dtype=np.int64)
    for task, layers in data["assignment"].items():
        if task not in tasks:
            fail(f"assignment.{task}", f"unknown task {task!r}")
        if not isinstance(layers, dict):
            fail(f"assignment.{task}", "must map layer names to server names")
        for layer, srv in layers.items():
            if not isinstance(srv, str):
                fail(f"assignment.{task}.{layer}", f"must be a server name, not {srv!r}")
            if (task, layer) not in index:
                fail(f"assignment.{task}.{layer}", f"task {task!r} has no layer {layer!r}")
            if srv not in server:
                fail(f"assignment.{task}.{layer}", f"unknown server {srv!r}")
            assign[index[task, layer]] = server[srv]
    missing = np.flatnonzero(assign < 0)
    if len(missing):
        task, layer = problem.layer_names[missing[0]]
        fail(f"assignment.{task}", f"no server for layer {layer!r} ({len(missing)} missing)")
    priority = None
    if data.get("priority") is not None:
        priority = _priority(problem, data["priority"], fail)
    return assign, priority


def _priority(problem: Problem, items, fail) -> np.ndarray:
    index = problem.layer_index
    order = []
    if not isinstance(items, list):
        fail("priority", "must be a list of [task, layer] pairs")
    for k, item in enumerate(items):
        key = (tuple(item) if isinstance(item, list) and len(item) == 2
               and all(isinstance(x, str) for x in item) else None)
        if key is None or key not in index:
            fail(f"priority[{k}]", f"{item!r} is not a [task, layer] pair of the instance")
        order.append(index[key])
    if sorted(order) != list(range(problem.n_layers)):
        fail("priority", "must list every layer of every task exactly once")
    check_priority(problem, np.array(order), lambda k, why: fail(f"priority[{k}]", why))
    return np.array(order, dtype=np.int64)


def check_priority(problem: Problem, order: np.ndarray, fail) -> None:
    """Call ``fail(position, reason)`` where ``order`` runs a layer before a predecessor."""
    pos = np.empty(problem.n_layers, dtype=np.int64)
    pos[order] = np.arange(len(order))
    for g in range(problem.n_layers):
        for q in problem.preds(g):
            if pos[q] > pos[g]:
                task, layer = problem.layer_names[g]
                fail(int(pos[g]), f"layer {layer!r} of task {task!r} comes before its "
                     f"predecessor {problem.layer_names[q][1]!r}")


def load_plan(problem: Problem, path: str | Path):
    """Read a plan file; see :func:`plan_from_dict`."""
    path = Path(path)
    return plan_from_dict(problem, read_json(path), str(path))

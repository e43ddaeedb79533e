"""The instance file format ``offloadlab.instance/1``.

An instance holds servers, links, DNN models (DAGs of layers), tasks and the objective.
Every field has a unit in its name; every optional field has a documented default; an
unknown field is an error (a typo must never be silently ignored). :func:`load_instance`
reports each defect with the file, the JSON path and the reason.

Resolved semantics (see the README, "Semantics"):

* Links are symmetric; ``a``/``b`` name a tier or a server; a server-pair link overrides a
  tier-pair link; a server needs no link to itself.
* ``deadline_s`` is a hard limit on the task's latency whatever the objective kind.
* Sizes: every ``_mb`` is MiB (2**20 bytes), ``mb_per_s`` MiB per second and ``usd_per_gb``
  a price per GiB (1024 MiB).
* ``memory_mb`` of a server, when set, bounds the sum of ``param_mb + out_mb`` of the
  layers placed on it (weights stay resident, every output is held until sent).
* ``device`` of a task may be null: the input is then already where the first layer runs
  and no device-tier server may run its layers (the ``makespan`` family).
"""

from __future__ import annotations

import json
from collections import deque
from pathlib import Path
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

FORMAT = "offloadlab.instance/1"
TIERS = ("device", "edge", "cloud")

# Numbers are strict (a JSON integer may stand for a float; a boolean or a string may
# not) and finite, within a sane range per field (README, "File formats"): a value
# outside it is a unit or typing mistake, never a scenario.
BIG = 1e9      # MiB, Gcycles, seconds, MiB/s: far beyond any DNN, link or horizon
MONEY_W = 1e6  # watts, J per Gcycle, US$ per hour or per GiB, objective weights
RANGES: dict[str, tuple[float, float, bool]] = {  # field: (low, high, low is exclusive)
    "ghz": (0, 1000, True), "pools": (1, 10_000, False), "active_w": (0, MONEY_W, False),
    "idle_w": (0, MONEY_W, False), "j_per_gcycle": (0, MONEY_W, False),
    "usd_per_hour": (0, MONEY_W, False), "memory_mb": (0, BIG, True),
    "mb_per_s": (0, BIG, True), "usd_per_gb": (0, MONEY_W, False), "tx_w": (0, MONEY_W, False),
    "gcycles": (0, BIG, False), "out_mb": (0, BIG, False), "param_mb": (0, BIG, False),
    "input_mb": (0, BIG, False), "release_s": (0, BIG, False), "deadline_s": (0, BIG, True),
}
WEIGHT_RANGE = (0, MONEY_W, False)  # every objective weight


def _number(low: float, high: float, low_open: bool = False):
    """A strict, finite float in ``[low, high]`` (``(low, high]`` when ``low_open``)."""
    lo = {"gt": low} if low_open else {"ge": low}
    return Annotated[float, Field(strict=True, le=high, allow_inf_nan=False, **lo)]


def _field(name: str):
    return _number(*RANGES[name])


Weight = _number(*WEIGHT_RANGE)


class InstanceError(ValueError):
    """A defect in an instance or plan, with where it is and why.

    Parameters
    ----------
    source : str
        The file (or ``<instance>`` for objects built in memory).
    path : str
        The JSON path of the culprit, e.g. ``models.alexnet.layers[3].next``.
    reason : str
        What is wrong.
    """

    def __init__(self, source: str, path: str, reason: str):
        self.source, self.path, self.reason = source, path, reason
        super().__init__(f"{source}: {path or '<root>'}: {reason}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Server(_Strict):
    """A computing node: a device (client), an edge server or a cloud server."""

    name: str = Field(min_length=1, description="Unique name.")
    tier: Literal["device", "edge", "cloud"]
    ghz: _field("ghz") = Field(
        description="Processing speed, Gcycles per second (above 1000: MHz given?).")
    pools: Annotated[int, Field(strict=True, ge=1, le=10_000)] = Field(
        1, description="Layers it runs at once (identical slots).")
    active_w: _field("active_w") = Field(0.0, description="Power while computing.")
    idle_w: _field("idle_w") = Field(0.0, description="Power while its work runs elsewhere.")
    j_per_gcycle: _field("j_per_gcycle") = Field(0.0, description="Energy per Gcycle (dmro).")
    usd_per_hour: _field("usd_per_hour") = Field(0.0, description="Price of compute time.")
    memory_mb: _field("memory_mb") | None = Field(None,
                                                  description="Memory limit, MiB; null = none.")


class Link(_Strict):
    """A symmetric link between two tiers or two named servers."""

    a: str = Field(min_length=1, description="A tier or a server name.")
    b: str = Field(min_length=1, description="A tier or a server name.")
    mb_per_s: _field("mb_per_s") = Field(description="Bandwidth, MiB per second.")
    usd_per_gb: _field("usd_per_gb") = Field(0.0,
                                             description="Transfer price per GiB (ddpqn cost).")
    tx_w: _field("tx_w") = Field(0.0, description="Device transmit power while sending (ddpqn).")


class Layer(_Strict):
    """One layer (or block) of a DNN model."""

    name: str = Field(min_length=1)
    gcycles: _field("gcycles") = Field(description="Computation, Gcycles.")
    out_mb: _field("out_mb") = Field(description="Size of its output, MiB.")
    param_mb: _field("param_mb") = Field(0.0, description="Size of its weights, MiB.")
    next: list[str] = Field(default_factory=list, description="Successor layer names.")


class Model(_Strict):
    """A DNN model: a DAG of layers with one input tensor."""

    input_mb: _field("input_mb") = Field(description="Size of the input sent by the device, MiB.")
    layers: list[Layer] = Field(min_length=1)


class Task(_Strict):
    """One inference of a model, released by a device."""

    name: str = Field(min_length=1)
    model: str
    device: str | None = Field(description="Originating device; null = none (makespan).")
    release_s: _field("release_s") = 0.0
    deadline_s: _field("deadline_s") | None = Field(None, description="Hard limit on latency.")


class _Objective(_Strict):
    return_output: Annotated[bool, Field(strict=True)] = Field(
        False, description="Add the return of each final output to the device.")


class Latency(_Objective):
    """EosDNN: minimise the sum of task latencies."""

    kind: Literal["latency"]


class Deadline(_Objective):
    """MTL-A3C: minimise the sum of task latencies under hard deadlines."""

    kind: Literal["deadline"]
    beta: Weight = Field(1.0, description="Learners' weight of deadline overrun (eq. 14).")


class Makespan(_Objective):
    """ATSA: minimise the latest finish minus the earliest release."""

    kind: Literal["makespan"]


class Dmro(_Objective):
    """DMRO: minimise sum of (T_x + delta * E_x) over workflows, no contention."""

    kind: Literal["dmro"]
    return_output: Annotated[bool, Field(strict=True)] = True
    delta: Weight = 0.5
    alpha: Weight = Field(1.0, description="Weight of edge energy.")
    beta: Weight = Field(1.0, description="Weight of cloud energy.")


class Ddpqn(_Objective):
    """DDPQN: standardised delay/energy/cost with coordination and balance (P1)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    kind: Literal["ddpqn"]
    theta: Weight = 0.5
    vartheta: Weight = 0.3
    eta: Weight = 0.2
    phi: Weight = 0.6
    varphi: Weight = 0.2
    omega: Weight = 0.2
    lambda_: tuple[Weight, Weight, Weight] = Field(
        (0.33, 0.33, 0.34), alias="lambda", description="Weights of b_T, b_E, b_U in Y.")


Objective = Annotated[Union[Latency, Deadline, Makespan, Dmro, Ddpqn], Field(discriminator="kind")]


class Instance(_Strict):
    """A whole problem: servers, links, models, tasks and the objective."""

    format: Literal["offloadlab.instance/1"] = FORMAT
    name: str = Field(min_length=1)
    description: str = ""
    servers: list[Server] = Field(min_length=1)
    links: list[Link] = Field(default_factory=list)
    models: dict[str, Model] = Field(min_length=1)
    tasks: list[Task] = Field(min_length=1)
    objective: Objective = Field(default_factory=lambda: Latency(kind="latency"))

    @model_validator(mode="after")
    def _references(self) -> "Instance":
        _check_references(self)
        return self

    # convenience look-ups -------------------------------------------------------------
    def server(self, name: str) -> Server:
        return next(s for s in self.servers if s.name == name)

    def to_json(self) -> str:
        """Serialise canonically (what ``instances build`` writes)."""
        data = self.model_dump(mode="json", by_alias=True, exclude_defaults=False)
        return json.dumps(data, indent=1) + "\n"


# --- reference and DAG checks ---------------------------------------------------------


class _Defect(ValueError):
    def __init__(self, path: str, reason: str):
        self.path, self.reason = path, reason
        super().__init__(f"{path}: {reason}")


def _unique(names: list[str], where: str) -> None:
    seen: set[str] = set()
    for i, n in enumerate(names):
        if n in seen:
            raise _Defect(f"{where}[{i}].name", f"duplicate name {n!r}")
        seen.add(n)


def _check_references(inst: Instance) -> None:
    _unique([s.name for s in inst.servers], "servers")
    _unique([t.name for t in inst.tasks], "tasks")
    tiers = {s.name: s.tier for s in inst.servers}
    pairs: dict[frozenset, int] = {}
    for i, link in enumerate(inst.links):
        for end in ("a", "b"):
            ref = getattr(link, end)
            if ref not in tiers and ref not in TIERS:
                raise _Defect(f"links[{i}].{end}", f"{ref!r} is neither a tier nor a server")
        pair = frozenset((link.a, link.b))
        if pair in pairs:  # links are symmetric: which one would win is undefined
            raise _Defect(f"links[{i}]", f"links[{pairs[pair]}] already joins {link.a!r} "
                          f"and {link.b!r}; give each pair once")
        pairs[pair] = i
    for name, model in inst.models.items():
        check_dag(model, f"models.{name}")
    for i, task in enumerate(inst.tasks):
        if task.model not in inst.models:
            raise _Defect(f"tasks[{i}].model", f"unknown model {task.model!r}")
        if task.device is not None:
            if task.device not in tiers:
                raise _Defect(f"tasks[{i}].device", f"unknown server {task.device!r}")
            if tiers[task.device] != "device":
                raise _Defect(f"tasks[{i}].device",
                              f"{task.device!r} is not a device (tier {tiers[task.device]})")


def check_dag(model: Model, where: str) -> None:
    """Refuse duplicate, dangling, cyclic or unreachable layers, naming them."""
    names = [layer.name for layer in model.layers]
    _unique(names, f"{where}.layers")
    index = {n: i for i, n in enumerate(names)}
    indeg = [0] * len(names)
    for i, layer in enumerate(model.layers):
        for j, succ in enumerate(layer.next):
            if succ not in index:
                raise _Defect(f"{where}.layers[{i}].next[{j}]",
                              f"layer {layer.name!r} names unknown successor {succ!r}")
            if succ == layer.name:
                raise _Defect(f"{where}.layers[{i}].next[{j}]",
                              f"layer {layer.name!r} is its own successor")
        if len(set(layer.next)) != len(layer.next):
            raise _Defect(f"{where}.layers[{i}].next", f"layer {layer.name!r} repeats a successor")
        for succ in layer.next:
            indeg[index[succ]] += 1
    order = topological_order(model)
    if len(order) < len(names):
        raise _Defect(f"{where}.layers", f"cycle through layers {_cycle(model)}")
    sources = [n for n, d in zip(names, indeg) if d == 0]
    if len(sources) > 1:
        reach = _reachable(model, sources[0])
        raise _Defect(f"{where}.layers", f"layers unreachable from the input layer "
                      f"{sources[0]!r}: {[n for n in names if n not in reach]}")


def _reachable(model: Model, source: str) -> set[str]:
    succ = {layer.name: layer.next for layer in model.layers}
    seen, stack = {source}, [source]
    while stack:
        for nxt in succ[stack.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen


def _cycle(model: Model) -> list[str]:
    import networkx as nx

    graph = nx.DiGraph([(layer.name, n) for layer in model.layers for n in layer.next])
    return [u for u, _ in nx.find_cycle(graph)]


def topological_order(model: Model) -> list[int]:
    """Kahn's order from the single source (ties by listing order); short on a cycle."""
    index = {layer.name: i for i, layer in enumerate(model.layers)}
    indeg = [0] * len(model.layers)
    for layer in model.layers:
        for succ in layer.next:
            indeg[index[succ]] += 1
    queue = deque(i for i, d in enumerate(indeg) if d == 0)
    order = []
    while queue:
        i = queue.popleft()
        order.append(i)
        for succ in model.layers[i].next:
            k = index[succ]
            indeg[k] -= 1
            if indeg[k] == 0:
                queue.append(k)
    return order


# --- loading --------------------------------------------------------------------------


def _loc_to_path(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("latency", "deadline", "makespan", "dmro", "ddpqn"):
            continue  # discriminated-union tag, not a JSON key
        else:
            out += ("." if out else "") + str(part)
    return out


UNIT_HINTS = {  # unknown fields that carry another unit than the format's
    "mhz": "ghz (GHz)", "hz": "ghz (GHz)", "gflops": "gcycles", "mcycles": "gcycles (Gcycles)",
    "cycles": "gcycles (Gcycles)", "kb": "out_mb (MiB)", "out_kb": "out_mb (MiB)",
    "mbps": "mb_per_s (MiB/s)", "mbit_per_s": "mb_per_s (MiB/s)", "gb_per_s": "mb_per_s (MiB/s)",
    "kb_per_s": "mb_per_s (MiB/s)", "bandwidth": "mb_per_s (MiB/s)", "release_ms": "release_s",
    "deadline_ms": "deadline_s", "param_kb": "param_mb (MiB)", "memory_gb": "memory_mb (MiB)",
    "watts": "active_w / idle_w (W)", "usd_per_s": "usd_per_hour", "input_kb": "input_mb (MiB)",
}


def _unknown_field(err: dict) -> str:
    import difflib

    name = str(err["loc"][-1])
    if name in UNIT_HINTS:
        return f"unknown field {name!r}: give it as {UNIT_HINTS[name]}"
    fields = {f for m in (Server, Link, Layer, Model, Task, Instance, Latency, Deadline,
                          Makespan, Dmro, Ddpqn) for f in m.model_fields} | {"lambda"}
    close = difflib.get_close_matches(name, sorted(fields), 1)
    hint = f" (did you mean {close[0]!r}?)" if close else " (check its spelling)"
    return f"unknown field {name!r}{hint}"


def _reason(err: dict) -> str:
    if err["type"] == "extra_forbidden":
        return _unknown_field(err)
    msg, got = err["msg"], err.get("input")
    name = next((p for p in reversed(err["loc"]) if isinstance(p, str)), "")
    if err["type"].startswith(("greater_than", "less_than", "finite_number")):
        low, high, low_open = RANGES.get(name, WEIGHT_RANGE)
        msg = (f"must be greater than {'' if low_open else 'or equal to '}{low:g} and at "
               f"most {high:g}, got {got!r}")
        if name == "ghz" and isinstance(got, (int, float)) and got > high:
            msg += " (a value above 1000 looks like MHz: give GHz, e.g. 2.3 for 2300 MHz)"
    elif err["type"] in ("float_type", "int_type", "bool_type", "string_type"):
        want = {"float_type": "a number", "int_type": "an integer",
                "bool_type": "true or false", "string_type": "a string"}[err["type"]]
        msg = f"must be {want}, not {json.dumps(got) if _jsonable(got) else repr(got)}"
    return msg


def _jsonable(x) -> bool:
    try:
        json.dumps(x)
        return True
    except (TypeError, ValueError):
        return False


def parse_instance(data: dict, source: str = "<instance>") -> Instance:
    """Validate a decoded JSON object; raise :class:`InstanceError` on the first defect."""
    if not isinstance(data, dict):
        raise InstanceError(source, "", "an instance must be a JSON object")
    fmt = data.get("format", FORMAT)
    if fmt != FORMAT:
        raise InstanceError(source, "format", f"unsupported format {fmt!r}, expected {FORMAT!r}")
    try:
        return Instance.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        ctx = (err.get("ctx") or {}).get("error")
        if isinstance(ctx, _Defect):
            raise InstanceError(source, ctx.path, ctx.reason) from None
        raise InstanceError(source, _loc_to_path(err["loc"]), _reason(err)) from None


def load_instance(path: str | Path) -> Instance:
    """Read and validate an instance file.

    Raises
    ------
    InstanceError
        Naming the file, the JSON path and the reason.
    """
    path = Path(path)
    return parse_instance(read_json(path), str(path))


def read_json(path: Path, error=InstanceError):
    """The JSON document of the file ``path`` (instances, plans, suites); a missing,
    unreadable or non-JSON file raises ``error(file, "", reason)``."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        reason = "no such file"
    except IsADirectoryError:
        reason = "a directory, not a file"
    except OSError as exc:
        reason = exc.strerror or str(exc)
    except UnicodeDecodeError:
        reason = "not a text file (UTF-8)"
    except json.JSONDecodeError as exc:
        reason = f"not valid JSON: {exc}"
    raise error(str(path), "", reason)


SCHEMA_PATH = Path(__file__).parent / "schema" / "instance-1.json"


def json_schema() -> dict:
    """The JSON Schema of the instance format, generated from the models.

    The package ships it as ``offloadlab/schema/instance-1.json`` (rewritten by
    ``offloadlab instances build``).
    """
    schema = Instance.model_json_schema(by_alias=True)
    schema["title"] = FORMAT
    return schema


def json_schema_text() -> str:
    """The schema as the shipped file holds it."""
    return json.dumps(json_schema(), indent=1, sort_keys=True) + "\n"

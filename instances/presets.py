"""The papers' environments and workload generators, as instance builders.

Every builder returns a validated :class:`~offloadlab.instance.Instance`; randomness comes
only from ``numpy.random.default_rng(seed)``. Values the papers leave out are chosen here,
each marked "Chosen:" with the reason.
"""

from __future__ import annotations

import numpy as np

from offloadlab.instance import Instance, parse_instance

from .models import load_model


def truncate(model: dict, n_layers: int) -> dict:
    """The first ``n_layers`` of a chain-prefix of ``model`` (successors cut to the kept).

    Only layers reachable within the kept prefix of the listed (topological) order are
    kept; the last kept layers become sinks.
    """
    kept = model["layers"][:n_layers]
    names = {layer["name"] for layer in kept}
    layers = [dict(layer, next=[n for n in layer["next"] if n in names]) for layer in kept]
    return {"input_mb": model["input_mb"], "layers": layers}


def merge_blocks(model: dict, n_blocks: int) -> dict:
    """A chain model merged into ``n_blocks`` contiguous blocks of near-equal layer count.

    A block's computation and weights are the sums of its layers'; its output is its last
    layer's output (MTL-A3C's block-wise partitioning of a sequential model).
    """
    layers = model["layers"]
    if any(len(layer["next"]) > 1 for layer in layers):
        raise ValueError("merge_blocks needs a chain model")
    groups = np.array_split(np.arange(len(layers)), n_blocks)
    return blocks_model(model, [[layers[i] for i in idx] for idx in groups])


def blocks_model(model: dict, parts: list[list[dict]]) -> dict:
    """A chain model of one block per part (consecutive layers): a block's computation
    and weights are the sums of its layers', its output its last layer's output."""
    blocks = [{"name": f"block{b + 1}",
               "gcycles": float(sum(layer["gcycles"] for layer in part)),
               "out_mb": part[-1]["out_mb"],
               "param_mb": float(sum(layer["param_mb"] for layer in part)),
               "next": [f"block{b + 2}"] if b + 1 < len(parts) else []}
              for b, part in enumerate(parts)]
    return {"input_mb": model["input_mb"], "layers": blocks}


def _spread(lo: float, hi: float, n: int) -> list[float]:
    """Resolved (MODELS.md §1): speeds inside a range spread evenly over the tier."""
    return [float(x) for x in (np.linspace(lo, hi, n) if n > 1 else [hi])]


def _round(x: float, digits: int = 6) -> float:
    return float(round(x, digits))


# --- EosDNN (family latency) ----------------------------------------------------------


def eosdnn_servers(n_clients: int = 4, n_edge: int = 5, n_cloud: int = 5,
                   edge_pools: int = 2, cloud_pools: int = 8) -> list[dict]:
    """EosDNN §VII-A: clients 1.1–2.3 GHz (1 pool), edge 4.2–18.3 (2), cloud 40–120 (8)."""
    out = [{"name": f"dev{i + 1}", "tier": "device", "ghz": _round(g), "pools": 1}
           for i, g in enumerate(_spread(1.1, 2.3, n_clients))]
    out += [{"name": f"edge{i + 1}", "tier": "edge", "ghz": _round(g), "pools": edge_pools}
            for i, g in enumerate(_spread(4.2, 18.3, n_edge))]
    out += [{"name": f"cloud{i + 1}", "tier": "cloud", "ghz": _round(g), "pools": cloud_pools}
            for i, g in enumerate(_spread(40.0, 120.0, n_cloud))]
    return out


EOSDNN_LINKS = [
    {"a": "device", "b": "edge", "mb_per_s": 10.0},
    {"a": "device", "b": "cloud", "mb_per_s": 0.5},
    {"a": "edge", "b": "cloud", "mb_per_s": 5.0},
    # Resolved: the garbled fourth figure is read as edge-edge and cloud-cloud 10 MB/s.
    {"a": "edge", "b": "edge", "mb_per_s": 10.0},
    {"a": "cloud", "b": "cloud", "mb_per_s": 10.0},
]


def _tasks(model: str, n_tasks: int, devices: list[str], release_s=None, deadline_s=None):
    out = []
    for i in range(n_tasks):
        task = {"name": f"t{i + 1}", "model": model, "device": devices[i % len(devices)]}
        if release_s is not None:
            task["release_s"] = _round(release_s[i])
        if deadline_s is not None:
            task["deadline_s"] = _round(deadline_s[i])
        out.append(task)
    return out


def eosdnn(model: str, n_tasks: int = 12, n_clients: int = 4, n_edge: int = 5,
           n_cloud: int = 5, n_layers: int | None = None, edge_pools: int = 2,
           cloud_pools: int = 8, name: str | None = None) -> Instance:
    """The EosDNN migration scenario: ``n_tasks`` inferences spread round-robin over the
    clients, all released at 0, objective ``latency`` (sum of task latencies)."""
    profile = load_model(model)
    if n_layers is not None:
        profile = truncate(profile, n_layers)
    servers = eosdnn_servers(n_clients, n_edge, n_cloud, edge_pools, cloud_pools)
    devices = [s["name"] for s in servers if s["tier"] == "device"]
    return parse_instance({
        "name": name or f"eosdnn-{model}-{n_tasks}t",
        "description": f"EosDNN migration: {n_tasks} x {model} on {n_clients} clients, "
                       f"{n_edge} edge, {n_cloud} cloud servers (EosDNN §VII-A).",
        "servers": servers, "links": EOSDNN_LINKS, "models": {model: profile},
        "tasks": _tasks(model, n_tasks, devices), "objective": {"kind": "latency"}})


# --- DDPQN ----------------------------------------------------------------------------

DDPQN_LINKS = [  # Table 2
    {"a": "cloud", "b": "cloud", "mb_per_s": 5.0, "usd_per_gb": 0.4},
    {"a": "cloud", "b": "edge", "mb_per_s": 0.5, "usd_per_gb": 0.8},
    {"a": "device", "b": "cloud", "mb_per_s": 0.5, "usd_per_gb": 0.8, "tx_w": 0.2},
    {"a": "edge", "b": "edge", "mb_per_s": 10.0, "usd_per_gb": 0.16},
    {"a": "device", "b": "edge", "mb_per_s": 10.0, "usd_per_gb": 0.16, "tx_w": 0.2},
]


def ddpqn(model: str, n_tasks: int = 10, n_edge: int = 5, n_cloud: int = 5,
          n_layers: int | None = None, name: str | None = None, **weights) -> Instance:
    """DDPQN §5.1: one client (2.3 GHz, 70 W busy / 10 W idle), edge $2.10–2.43/h at
    4.2–18.3 GHz, cloud $0.225–1.80/h at 40–120 GHz (Table 3), pools 1/2/8 (resolved:
    EosDNN's environment). ``weights`` override the objective's defaults."""
    profile = load_model(model)
    if n_layers is not None:
        profile = truncate(profile, n_layers)
    servers = [{"name": "client", "tier": "device", "ghz": 2.3, "pools": 1,
                "active_w": 70.0, "idle_w": 10.0}]
    servers += [{"name": f"edge{i + 1}", "tier": "edge", "ghz": _round(g), "pools": 2,
                 "usd_per_hour": _round(p)}
                for i, (g, p) in enumerate(zip(_spread(4.2, 18.3, n_edge),
                                               _spread(2.10, 2.43, n_edge)))]
    servers += [{"name": f"cloud{i + 1}", "tier": "cloud", "ghz": _round(g), "pools": 8,
                 "usd_per_hour": _round(p)}
                for i, (g, p) in enumerate(zip(_spread(40.0, 120.0, n_cloud),
                                               _spread(0.225, 1.80, n_cloud)))]
    return parse_instance({
        "name": name or f"ddpqn-{model}-{n_tasks}t",
        "description": f"DDPQN: {n_tasks} x {model} from one client, {n_edge} edge, "
                       f"{n_cloud} cloud servers (DDPQN §5.1, Tables 2-3).",
        "servers": servers, "links": DDPQN_LINKS, "models": {model: profile},
        "tasks": _tasks(model, n_tasks, ["client"]),
        "objective": {"kind": "ddpqn", **weights}})


# --- DMRO -----------------------------------------------------------------------------

# Chosen (Table II is missing from the text): speeds, bandwidths and energies such that
# local, edge and cloud are each optimal for some subtasks of the §V-A workloads.
DMRO_DEVICE = {"ghz": 2.0, "j_per_gcycle": 0.3}
DMRO_EDGE = [{"ghz": 10.0, "j_per_gcycle": 0.15}, {"ghz": 8.0, "j_per_gcycle": 0.12}]
DMRO_CLOUD = [{"ghz": 40.0, "j_per_gcycle": 0.1}, {"ghz": 30.0, "j_per_gcycle": 0.08}]
DMRO_LINKS = [
    {"a": "device", "b": "edge", "mb_per_s": 40.0},
    {"a": "edge", "b": "cloud", "mb_per_s": 20.0},
    {"a": "device", "b": "cloud", "mb_per_s": 8.0},
    {"a": "edge", "b": "edge", "mb_per_s": 40.0},
    {"a": "cloud", "b": "cloud", "mb_per_s": 40.0},
]


def dmro(n_users: int = 4, n_workflows: int = 5, n_subtasks: int = 5, multi_server: bool = False,
         delta: float = 0.5, seed: int = 0, name: str | None = None) -> Instance:
    """DMRO §V-A: ``n_users`` x ``n_workflows`` chains of ``n_subtasks`` subtasks; first
    input 50–100 MB, later data 10–50 MB, 1–100 Gcycles per subtask (10^3–10^5 Mcycles),
    uniformly at random. One edge + one cloud server, or two of each (Table III).
    Chosen: ``n_subtasks`` = 5 (the paper does not say)."""
    rng = np.random.default_rng(seed)
    k = 2 if multi_server else 1
    servers = [{"name": f"user{u + 1}", "tier": "device", **DMRO_DEVICE}
               for u in range(n_users)]
    servers += [{"name": f"edge{i + 1}", "tier": "edge", **DMRO_EDGE[i]} for i in range(k)]
    servers += [{"name": f"cloud{i + 1}", "tier": "cloud", **DMRO_CLOUD[i]} for i in range(k)]
    models, tasks = {}, []
    for u in range(n_users):
        for w in range(n_workflows):
            wf = f"u{u + 1}w{w + 1}"
            gc = rng.uniform(1.0, 100.0, n_subtasks)
            data = rng.uniform(10.0, 50.0, n_subtasks)
            models[wf] = {"input_mb": _round(rng.uniform(50.0, 100.0)), "layers": [
                {"name": f"s{i + 1}", "gcycles": _round(gc[i]), "out_mb": _round(data[i]),
                 "next": [f"s{i + 2}"] if i + 1 < n_subtasks else []}
                for i in range(n_subtasks)]}
            tasks.append({"name": wf, "model": wf, "device": f"user{u + 1}"})
    return parse_instance({
        "name": name or f"dmro-{n_users}x{n_workflows}-s{seed}",
        "description": f"DMRO workflows: {n_users} users x {n_workflows} chains of "
                       f"{n_subtasks} subtasks, {k} edge + {k} cloud (DMRO §V-A).",
        "servers": servers, "links": DMRO_LINKS, "models": models, "tasks": tasks,
        "objective": {"kind": "dmro", "delta": delta}})


# --- MTL-A3C (family deadline) ----------------------------------------------------------


def mtl_network(rng, n_devices: int, n_es: int, pools: int) -> tuple[list, list]:
    """MTL-A3C's servers and links: ``n_devices`` 1-GHz IoT devices, ``n_es`` edge
    servers of 5–15 GHz with ``pools`` slots, device–ES rates drawn uniform in
    [0.8, 2] MB/s from ``rng``, 10 MB/s between edge servers."""
    servers = [{"name": f"iot{d + 1}", "tier": "device", "ghz": 1.0} for d in range(n_devices)]
    servers += [{"name": f"es{i + 1}", "tier": "edge", "ghz": _round(g), "pools": pools}
                for i, g in enumerate(_spread(5.0, 15.0, n_es))]
    rates = rng.uniform(0.8, 2.0, n_devices)
    links = [{"a": f"iot{d + 1}", "b": "edge", "mb_per_s": _round(r)}
             for d, r in enumerate(rates)]
    links.append({"a": "edge", "b": "edge", "mb_per_s": 10.0})
    return servers, links


def mtl_a3c(model: str = "vgg16", n_blocks: int = 6, n_es: int = 4, n_devices: int = 10,
            n_tasks: int = 60, slot_s: float = 1.0, seed: int = 0,
            name: str | None = None) -> Instance:
    """MTL-A3C §5: ``n_tasks`` tasks released uniformly over one slot by ``n_devices``
    IoT devices, each a chain of ``n_blocks`` blocks of ``model``, on ``n_es`` edge servers.
    Device-ES rates uniform in [0.8, 2] MB/s per device; deadlines uniform in [1, 7] s.
    Chosen: devices 1.0 GHz, ES 5–15 GHz with 2 pools, R_max = 10 MB/s between ESs."""
    rng = np.random.default_rng(seed)
    servers, links = mtl_network(rng, n_devices, n_es, pools=2)
    release = np.sort(rng.uniform(0.0, slot_s, n_tasks))
    deadline = rng.uniform(1.0, 7.0, n_tasks)
    devices = [f"iot{int(d) + 1}" for d in rng.integers(0, n_devices, n_tasks)]
    tasks = [{"name": f"t{i + 1}", "model": model, "device": devices[i],
              "release_s": _round(release[i]), "deadline_s": _round(deadline[i])}
             for i in range(n_tasks)]
    return parse_instance({
        "name": name or f"mtl-{model}-{n_tasks}t-s{seed}",
        "description": f"MTL-A3C: {n_tasks} x {model} ({n_blocks} blocks) from {n_devices} "
                       f"devices on {n_es} edge servers, hard deadlines (MTL-A3C §5).",
        "servers": servers, "links": links,
        "models": {model: merge_blocks(load_model(model), n_blocks)}, "tasks": tasks,
        "objective": {"kind": "deadline"}})


# --- ATSA (family makespan) -----------------------------------------------------------


def atsa(n_tasks: int = 200, n_nodes: int = 10, seed: int = 0,
         name: str | None = None) -> Instance:
    """ATSA §2.3/§4: independent tasks on edge nodes, each node one task at a time.

    Chosen (the paper gives no table): node speeds 1–4 GHz; task work 1–20 Gcycles and
    memory 64–512 MB, uniformly at random; node memory 0.8–1.6 times the mean demand per
    node, so that memory binds at every size. A task is a one-layer model whose
    ``param_mb`` is its memory need; tasks have no device (their input is on the node)."""
    rng = np.random.default_rng(seed)
    work = rng.uniform(1.0, 20.0, n_tasks)
    mem = rng.uniform(64.0, 512.0, n_tasks)
    per_node = mem.sum() / n_nodes
    servers = [{"name": f"node{j + 1}", "tier": "edge", "ghz": _round(g), "pools": 1,
                "memory_mb": _round(m * per_node)}
               for j, (g, m) in enumerate(zip(rng.uniform(1.0, 4.0, n_nodes),
                                              rng.uniform(0.8, 1.6, n_nodes)))]
    models = {f"job{i + 1}": {"input_mb": 0.0, "layers": [
        {"name": "run", "gcycles": _round(work[i]), "out_mb": 0.0,
         "param_mb": _round(mem[i])}]} for i in range(n_tasks)}
    tasks = [{"name": f"job{i + 1}", "model": f"job{i + 1}", "device": None}
             for i in range(n_tasks)]
    return parse_instance({
        "name": name or f"atsa-{n_tasks}x{n_nodes}-s{seed}",
        "description": f"ATSA: {n_tasks} independent tasks on {n_nodes} edge nodes, "
                       "memory limits, makespan (TMOA/ATSA §2.3).",
        "servers": servers, "links": [], "models": models, "tasks": tasks,
        "objective": {"kind": "makespan"}})

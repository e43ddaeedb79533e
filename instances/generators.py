"""Random DAG scheduling instances: P|prec|Cmax, Q|prec|Cmax and their variants with
data transfers, in the instance format (tasks without a device, servers of one tier).

Two DAG shapes, both with one input layer (the format's rule) reaching every node:

* ``layered``: the nodes after the source are cut into levels of random width; each node
  takes 1 to ``max_preds`` predecessors in the previous level, and every node of a level
  without a successor gets one in the next level;
* ``random``: nodes in a random topological order, each arc ``i -> j`` (``i < j``) present
  with probability ``edge_p``; a node without a predecessor gets one uniformly among the
  earlier nodes.

Processing times are uniform in ``[p_min_s, p_max_s]`` on a 1 GHz server (``gcycles``
= seconds at 1 GHz), rounded to 1e-3. Servers are ``edge`` servers with one slot each,
all at 1 GHz (``identical``) or at speeds uniform in ``[1, max_speed]`` GHz rounded to
0.1 (``related``). Without data every ``out_mb`` is 0; with data it is uniform in
``[0.1, data_mb]`` and servers are linked at ``mb_per_s``. Every draw comes from one
``numpy`` generator seeded by ``seed``: same arguments, same file.
"""

from __future__ import annotations

import numpy as np

from offloadlab.instance import FORMAT, Instance, parse_instance

SHAPES = ("layered", "random")
SPEEDS = ("identical", "related")


def dag_arcs(rng: np.random.Generator, nodes: int, shape: str, *, max_preds: int = 3,
             edge_p: float | None = None) -> list[tuple[int, int]]:
    """Arcs ``(i, j)`` with ``i < j`` of a DAG on ``nodes`` nodes whose only source is 0."""
    if nodes < 2:
        raise ValueError(f"a DAG needs at least 2 nodes, got {nodes}")
    arcs: set[tuple[int, int]] = set()
    if shape == "layered":
        levels, left, nxt = [[0]], nodes - 1, 1
        mean_width = max(2, int(round(np.sqrt(nodes))))
        while left:
            width = min(left, int(rng.integers(1, 2 * mean_width)))
            levels.append(list(range(nxt, nxt + width)))
            nxt += width
            left -= width
        for prev, level in zip(levels, levels[1:]):
            for j in level:
                k = int(rng.integers(1, min(max_preds, len(prev)) + 1))
                for i in rng.choice(prev, size=k, replace=False):
                    arcs.add((int(i), j))
            for i in prev:
                if not any(a == i for a, _ in arcs):
                    arcs.add((i, int(rng.choice(level))))
    elif shape == "random":
        p = edge_p if edge_p is not None else min(1.0, 3.0 / nodes)
        for j in range(1, nodes):
            preds = np.flatnonzero(rng.random(j) < p)
            if not len(preds):
                preds = [int(rng.integers(0, j))]
            arcs.update((int(i), j) for i in preds)
    else:
        raise ValueError(f"unknown DAG shape {shape!r}; known: {', '.join(SHAPES)}")
    return sorted(arcs)


def random_dag_instance(*, nodes: int = 100, shape: str = "layered", servers: int = 4,
                        speeds: str = "identical", data: bool = False, tasks: int = 1,
                        p_min_s: float = 1.0, p_max_s: float = 10.0, max_speed: float = 4.0,
                        data_mb: float = 5.0, mb_per_s: float = 10.0, max_preds: int = 3,
                        edge_p: float | None = None, kind: str = "makespan",
                        seed: int = 0, name: str | None = None) -> Instance:
    """A random DAG scheduling instance (see the module docstring).

    Parameters
    ----------
    nodes : int
        Layers per DAG (>= 2).
    shape : {"layered", "random"}
    servers : int
        Servers (>= 1), one slot each.
    speeds : {"identical", "related"}
    data : bool
        Whether layers send data (``out_mb`` > 0) over links of ``mb_per_s``.
    tasks : int
        DAGs in the instance (each drawn anew, released at 0, no device).
    kind : str
        Objective kind (``makespan`` by default; ``latency`` sums the DAGs' spans).
    seed : int
    """
    if shape not in SHAPES:
        raise ValueError(f"unknown DAG shape {shape!r}; known: {', '.join(SHAPES)}")
    if speeds not in SPEEDS:
        raise ValueError(f"unknown speeds {speeds!r}; known: {', '.join(SPEEDS)}")
    if servers < 1 or tasks < 1:
        raise ValueError(f"need at least one server and one task, got {servers}, {tasks}")
    if not 0 < p_min_s <= p_max_s:
        raise ValueError(f"processing times need 0 < p_min_s <= p_max_s, got {p_min_s}, "
                         f"{p_max_s}")
    rng = np.random.default_rng(seed)
    ghz = (np.ones(servers) if speeds == "identical"
           else np.round(rng.uniform(1.0, max_speed, servers), 1))
    models, task_list = {}, []
    for t in range(tasks):
        arcs = dag_arcs(rng, nodes, shape, max_preds=max_preds, edge_p=edge_p)
        succ: dict[int, list[str]] = {i: [] for i in range(nodes)}
        for i, j in arcs:
            succ[i].append(f"n{j}")
        p = np.round(rng.uniform(p_min_s, p_max_s, nodes), 3)
        out = (np.round(rng.uniform(0.1, data_mb, nodes), 3) if data else np.zeros(nodes))
        model = f"dag{t}"
        models[model] = {"input_mb": 0.0, "layers": [
            {"name": f"n{i}", "gcycles": float(p[i]), "out_mb": float(out[i]),
             "next": succ[i]} for i in range(nodes)]}
        task_list.append({"name": f"job{t}", "model": model, "device": None,
                          "release_s": 0.0})
    label = name or (f"dag-{shape}-{nodes}n-{servers}{'q' if speeds == 'related' else 'p'}"
                     f"{'-data' if data else ''}-s{seed}")
    data_dict = {
        "format": FORMAT, "name": label,
        "description": (f"random {shape} DAG x{tasks}, {nodes} nodes, {servers} "
                        f"{speeds} servers, p in [{p_min_s}, {p_max_s}] s at 1 GHz"
                        + (f", data up to {data_mb} MB at {mb_per_s} MB/s" if data
                           else ", no data") + f", seed {seed}"),
        "servers": [{"name": f"m{s + 1}", "tier": "edge", "ghz": float(ghz[s]), "pools": 1}
                    for s in range(servers)],
        "links": [{"a": "edge", "b": "edge", "mb_per_s": float(mb_per_s)}],
        "models": models, "tasks": task_list, "objective": {"kind": kind},
    }
    return parse_instance(data_dict, source=label)

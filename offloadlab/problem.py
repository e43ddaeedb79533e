"""An instance flattened into arrays: what the simulator and every solver index into.

Layers of all tasks get one global index: tasks in file order, each task's layers in
topological order of its model (Kahn's order, ties by listing order). That global order
is also DDPQN's MDP order ("tasks in order, layers in order").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from .instance import TIERS, Instance, topological_order

TIER_CODE = {t: i for i, t in enumerate(TIERS)}


def bandwidth_matrix(inst: Instance, attr: str = "mb_per_s", missing: float = 0.0) -> np.ndarray:
    """Per server pair, the value of ``attr`` on the link that applies.

    A server-pair link overrides a tier-pair link; links are symmetric; a missing link
    gives ``missing``. For ``mb_per_s`` the diagonal is infinite (no transfer).
    """
    names = [s.name for s in inst.servers]
    tiers = [s.tier for s in inst.servers]
    pos = {n: i for i, n in enumerate(names)}
    n = len(names)
    out = np.full((n, n), missing, dtype=np.float64)
    # tier pairs first, then server-specific overrides
    tier_links = [link for link in inst.links if link.a in TIERS and link.b in TIERS]
    for link in tier_links + [link for link in inst.links if link not in tier_links]:
        a = [pos[link.a]] if link.a in pos else [i for i in range(n) if tiers[i] == link.a]
        b = [pos[link.b]] if link.b in pos else [i for i in range(n) if tiers[i] == link.b]
        for i in a:
            for j in b:
                if i != j:
                    out[i, j] = out[j, i] = getattr(link, attr)
    if attr == "mb_per_s":
        np.fill_diagonal(out, np.inf)
    else:
        np.fill_diagonal(out, 0.0)
    return out


@dataclass(frozen=True, eq=False)
class Problem:
    """Array view of an :class:`Instance` (build with :meth:`from_instance`)."""

    instance: Instance
    server_names: list[str]
    tier: np.ndarray          # (S,) 0 device, 1 edge, 2 cloud
    ghz: np.ndarray           # (S,)
    pools: np.ndarray         # (S,) int
    bw: np.ndarray            # (S, S) MB/s, inf on the diagonal, 0 = no link
    task_device: np.ndarray   # (T,) server index, -1 = none
    release_s: np.ndarray     # (T,)
    deadline_s: np.ndarray    # (T,) inf = none
    layer_task: np.ndarray    # (L,)
    layer_names: list[tuple[str, str]]  # (task, layer) per global index
    gcycles: np.ndarray       # (L,)
    out_mb: np.ndarray        # (L,)
    param_mb: np.ndarray      # (L,)
    input_mb: np.ndarray      # (L,) the model input for source layers, else 0
    pred_ptr: np.ndarray      # (L+1,) CSR of predecessors (global indices)
    pred_idx: np.ndarray
    is_sink: np.ndarray       # (L,) bool
    depth: np.ndarray         # (L,) longest path from the source, in edges
    allowed: np.ndarray       # (L, S) bool
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_instance(cls, inst: Instance) -> "Problem":
        names = [s.name for s in inst.servers]
        pos = {n: i for i, n in enumerate(names)}
        tier = np.array([TIER_CODE[s.tier] for s in inst.servers], dtype=np.int64)
        layer_task, lnames, gc, out, par, inp, preds, sink, depth = ([] for _ in range(9))
        for t, task in enumerate(inst.tasks):
            model = inst.models[task.model]
            order = topological_order(model)
            base = len(layer_task)
            glob = {model.layers[i].name: base + k for k, i in enumerate(order)}
            my_preds: dict[int, list[int]] = {g: [] for g in glob.values()}
            for i in order:
                for succ in model.layers[i].next:
                    my_preds[glob[succ]].append(glob[model.layers[i].name])
            for k, i in enumerate(order):
                layer = model.layers[i]
                g = base + k
                p = sorted(my_preds[g])
                layer_task.append(t)
                lnames.append((task.name, layer.name))
                gc.append(layer.gcycles)
                out.append(layer.out_mb)
                par.append(layer.param_mb)
                inp.append(model.input_mb if not p else 0.0)
                preds.append(p)
                sink.append(not layer.next)
                depth.append(0 if not p else 1 + max(depth[q] for q in p))
        n_layers = len(layer_task)
        ptr = np.zeros(n_layers + 1, dtype=np.int64)
        ptr[1:] = np.cumsum([len(p) for p in preds])
        dev = np.array([pos[t.device] if t.device is not None else -1 for t in inst.tasks],
                       dtype=np.int64)
        layer_task_a = np.array(layer_task, dtype=np.int64)
        allowed = np.zeros((n_layers, len(names)), dtype=bool)
        allowed[:, tier != 0] = True
        has_dev = dev[layer_task_a] >= 0
        allowed[np.flatnonzero(has_dev), dev[layer_task_a][has_dev]] = True
        return cls(
            instance=inst, server_names=names, tier=tier,
            ghz=np.array([s.ghz for s in inst.servers], dtype=np.float64),
            pools=np.array([s.pools for s in inst.servers], dtype=np.int64),
            bw=bandwidth_matrix(inst),
            task_device=dev,
            release_s=np.array([t.release_s for t in inst.tasks], dtype=np.float64),
            deadline_s=np.array([t.deadline_s if t.deadline_s is not None else np.inf
                                 for t in inst.tasks], dtype=np.float64),
            layer_task=layer_task_a, layer_names=lnames,
            gcycles=np.array(gc, dtype=np.float64), out_mb=np.array(out, dtype=np.float64),
            param_mb=np.array(par, dtype=np.float64), input_mb=np.array(inp, dtype=np.float64),
            pred_ptr=ptr,
            pred_idx=np.array([q for p in preds for q in p], dtype=np.int64),
            is_sink=np.array(sink, dtype=bool), depth=np.array(depth, dtype=np.int64),
            allowed=allowed,
        )

    # sizes ------------------------------------------------------------------------------
    @property
    def n_layers(self) -> int:
        return len(self.layer_task)

    @property
    def n_servers(self) -> int:
        return len(self.server_names)

    @property
    def n_tasks(self) -> int:
        return len(self.release_s)

    def preds(self, layer: int) -> np.ndarray:
        return self.pred_idx[self.pred_ptr[layer]:self.pred_ptr[layer + 1]]

    @cached_property
    def succs(self) -> list[list[int]]:
        out: list[list[int]] = [[] for _ in range(self.n_layers)]
        for g in range(self.n_layers):
            for p in self.preds(g):
                out[p].append(g)
        return out

    @cached_property
    def default_priority(self) -> np.ndarray:
        """By (release time, depth in the DAG, task index, topological position)."""
        keys = (np.arange(self.n_layers), self.layer_task, self.depth,
                self.release_s[self.layer_task])
        return np.lexsort(keys).astype(np.int64)

    @cached_property
    def objective(self):
        """The instance's objective as an object (:mod:`offloadlab.objectives`)."""
        from .objectives import make_objective

        return make_objective(self)

    @cached_property
    def exec_s(self) -> np.ndarray:
        """(L, S) execution time of each layer on each server."""
        return self.gcycles[:, None] / self.ghz[None, :]

    @cached_property
    def slot_ptr(self) -> np.ndarray:
        """(S+1,) offsets of each server's pool slots in one flat array."""
        return np.concatenate([[0], np.cumsum(self.pools)]).astype(np.int64)

    @cached_property
    def memory_mb(self) -> np.ndarray:
        """(S,) memory limit, inf where none."""
        return np.array([s.memory_mb if s.memory_mb is not None else np.inf
                         for s in self.instance.servers])

    @cached_property
    def layer_index(self) -> dict[tuple[str, str], int]:
        return {n: g for g, n in enumerate(self.layer_names)}

    @cached_property
    def task_layers(self) -> list[np.ndarray]:
        return [np.flatnonzero(self.layer_task == t) for t in range(self.n_tasks)]

    def allowed_servers(self, layer: int) -> np.ndarray:
        return np.flatnonzero(self.allowed[layer])

    def random_priority(self, rng: np.random.Generator, n: int = 1) -> np.ndarray:
        """(n, L) random priority lists that respect precedence.

        Sorting by depth plus a uniform [0, 1) key keeps every predecessor (depth at most
        one less) ahead of its successors.
        """
        keys = self.depth[None, :] + rng.random((n, self.n_layers))
        return np.argsort(keys, axis=1, kind="stable").astype(np.int64)

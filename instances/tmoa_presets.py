"""TMOA settings (TMOA/ATSA paper §2.2, §3, §4; MODELS.md §5): edge slave nodes, cloud,
links and workload for the split-point model of :mod:`offloadlab.formulations.tmoa`.

The paper gives no table of node parameters. Chosen values (documented here and in the
README):

* A pool of 30 slave nodes in three classes, added in this order as the node count grows
  (Table 1 uses the first 10, 20, 30): 10 *gateways* (40 G-ops/s, 40 MiB for the model),
  10 *hubs* (25 G-ops/s, 20 MiB) and 10 *sensor boards* (15 G-ops/s, 12 MiB). The memory
  figure is the memory a node grants the DNN partition (weights plus feature maps), not
  its RAM. Adding weaker nodes lowers P0 = min memory, which is what moves the split
  forward as nodes are added (Table 1's trend).
* Node throughput L = 12.5 MB/s (100 Mbit/s), edge–cloud bandwidth W_H = 5 MB/s (the
  EosDNN edge–cloud figure), terminal uplink 10 MB/s (fixed mean; a kernel-density
  estimate from rate samples is available in the model, eqs. 16–17).
* Cloud rate F_c = 8 G-ops/s *per task*: the cloud's share for one task, as it serves
  many edge pools. It is below an edge node's rate so that the delay falls as the split
  moves back (the paper's Fig. 6); with a faster cloud the optimum sits at the first layer
  of a stage (where the feature map shrinks) and Fig. 6 cannot be reproduced.
* Workload: 30 tasks per second in total, spread evenly over the x nodes (each node an
  M/M/1 queue with arrival rate 30/x per second); the period of the energy budget is 1 s.
* Latency limit T_max = 0.3 s per task (edge part: queueing + execution, edge-to-cloud
  transfer, uplink; C2 of eq. 22 does not count the cloud's processing).
* Energy: static power e = 4 W (gateway), 3 W (hub), 2 W (board); computational energy
  coefficient omega = 0.004 J per (G-op x G-ops/s) (eq. 19: E^c = omega * Zt_j * F); budget
  E = 10 J per node per period.
* lambda0 = 0.8 (eq. 10's memory margin). One operation = one multiply-accumulate, as eq. 8
  counts Z; 4 bytes per value.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

MAX_NODES = 30


@dataclass(frozen=True)
class EdgeNode:
    """One edge slave node v_i (§2.2)."""

    name: str
    gops: float                 # F_i, G-operations per second
    memory_mb: float            # P_i, MiB granted to the model partition
    throughput_mb_per_s: float  # L_i
    static_w: float             # e_i, static power while computing
    j_per_gop_ghz: float        # omega_i of eq. 19
    energy_max_j: float         # E_i, energy budget per period


@dataclass(frozen=True)
class TmoaSetting:
    """Everything the TMOA model needs besides the DNN's roofline profile."""

    nodes: tuple[EdgeNode, ...]
    cloud_gops: float = 8.0            # F_c per task
    wan_mb_per_s: float = 5.0          # W_H, edge to cloud
    uplink_mb_per_s: float = 10.0      # terminal to edge (mean rate)
    uplink_samples_mb_per_s: tuple[float, ...] | None = None  # KDE option (eqs. 16-17)
    arrival_per_s: float = 30.0        # total task arrival rate over all nodes
    period_s: float = 1.0              # period of the energy budget
    t_max_s: float = 0.3               # T_max of C2
    lambda0: float = 0.8               # memory margin of eq. 10

    @property
    def n_nodes(self) -> int:
        return len(self.nodes)

    @property
    def arrival_per_node_s(self) -> float:
        """a: tasks per second arriving at each node (even spread)."""
        return self.arrival_per_s / self.n_nodes


_CLASSES = (  # (prefix, gops, memory_mb, static_w)
    ("gateway", 40.0, 40.0, 4.0),
    ("hub", 25.0, 20.0, 3.0),
    ("board", 15.0, 12.0, 2.0),
)


def node_pool(n_nodes: int) -> tuple[EdgeNode, ...]:
    """The first ``n_nodes`` of the 30-node pool (10 per class, strongest first)."""
    if not 1 <= n_nodes <= MAX_NODES:
        raise ValueError(f"n_nodes must be in 1..{MAX_NODES}, got {n_nodes}")
    nodes = []
    for i in range(n_nodes):
        prefix, gops, mem, static = _CLASSES[min(i // 10, len(_CLASSES) - 1)]
        nodes.append(EdgeNode(f"{prefix}{i + 1}", gops, mem, 12.5, static, 0.004, 10.0))
    return tuple(nodes)


def tmoa_setting(n_nodes: int = 10, **overrides) -> TmoaSetting:
    """The TMOA setting with the first ``n_nodes`` pool nodes; keyword overrides replace
    fields of :class:`TmoaSetting` (e.g. ``t_max_s=0.2``)."""
    return replace(TmoaSetting(nodes=node_pool(n_nodes)), **overrides)

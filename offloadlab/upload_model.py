"""The EosDNN query-delay model while a client uploads layer weights (MODELS.md §2).

Given a migration plan, one client (a task's device) must upload the weights
(``param_mb``) of the layers the plan puts on edge/cloud servers before they can run
there; meanwhile queries keep running with what has been uploaded.

Resolved semantics (also in the docstrings below):

* **Units.** A layer that lies on every path from the model input to its output is a
  *chain layer*. The layers strictly between two consecutive chain layers form a *block*
  (an inception module, a residual block). A block is one upload unit, as EosDNN §VI-C
  uploads "the inception module as one layer": it becomes usable when all its remote
  layers are uploaded. For chain models every remote layer is its own unit.
* **SD(U).** The query delay when the units in ``U`` are usable: the minimum, over the
  states of the usable units (run locally, or on the migration plan's servers), of the
  contention-free delay from the input at the client to the result back at the client.
  A chain layer's state is its own; a block's state applies to all its layers (remote =
  each of its remote layers on its assigned server, its other layers on the client), and
  the delay through a block is its critical (longest) path. Unusable units run on the
  client. This is a shortest path over a two-state chain (exact dynamic programme), and
  SD is non-increasing in ``U``; SD(empty) = all local.
* **Uploads** go one at a time over the client's uplink; a layer takes
  ``param_mb / bw(client, server)`` seconds, a unit the sum over its remote layers.
  Units without weights take 0 s (the paper's "size = 0" layers).
* **SSD** = sum over partitions k of SD(U_{k-1}) * t_k, the area under the SD curve until
  the upload completes; the paper's observation tail (Table II) is optional: it adds
  SD(all) * ``tail_s``. A partition is usable only once all of it is uploaded.
* LDA* (the paper's independent layer delay advantage) of a set ``P`` of units is
  SD(Z) - D(P), where Z are the pre-uploaded size-0 units and D(P) is the delay with
  every unit of ``P`` forced onto its servers, the size-0 units free and the rest local
  (it can be negative, unlike a marginal SD gain).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from numba import njit

from offloadlab.graph import chain_nodes, task_graph
from offloadlab.problem import Problem

LOCAL, EITHER, REMOTE = 0, 1, 2  # the states a unit may take
_INF = np.inf


class UploadError(ValueError):
    """Bad input to the upload model (unknown task, missing uplink, bad partitions)."""


# --- the compiled two-state chain DP --------------------------------------------------


@njit(cache=True, nogil=True)
def _sd(node_exec, node_unit, link_cost, link_unit, mode, extra):
    """Min delay over the chain; ``mode[u]`` limits unit u's states, ``extra[u]`` is added
    whenever unit u runs remotely. Node 0 / last node are the client's input and output."""
    f0, f1 = 0.0, _INF
    n_links = link_cost.shape[0]
    for k in range(n_links):
        lu = link_unit[k]
        b_hi = 1 if lu >= 0 and mode[lu] != LOCAL else 0
        b_lo = 1 if lu >= 0 and mode[lu] == REMOTE else 0
        q = k + 1
        nu = node_unit[q]
        g0, g1 = _INF, _INF
        for b in range(b_lo, b_hi + 1):
            add = extra[lu] if b == 1 else 0.0
            v0 = min(f0 + link_cost[k, 0, b, 0], f1 + link_cost[k, 1, b, 0]) + add
            v1 = min(f0 + link_cost[k, 0, b, 1], f1 + link_cost[k, 1, b, 1]) + add
            g0 = min(g0, v0)
            g1 = min(g1, v1)
        f0 = g0 + node_exec[q, 0]
        f1 = g1 + node_exec[q, 1]
        if nu < 0 or mode[nu] == LOCAL:
            f1 = _INF
        else:
            f1 += extra[nu]
            if mode[nu] == REMOTE:
                f0 = _INF
    return f0


@njit(cache=True, nogil=True)
def _sd_batch(node_exec, node_unit, link_cost, link_unit, modes, extra):
    out = np.empty(modes.shape[0])
    for i in range(modes.shape[0]):
        out[i] = _sd(node_exec, node_unit, link_cost, link_unit, modes[i], extra)
    return out


@njit(cache=True, nogil=True)
def _sd_subsets(node_exec, node_unit, link_cost, link_unit, base_mode, items, extra):
    """SD of every subset (bit i = ``items[i]`` usable) over the usable base units."""
    n = len(items)
    out = np.empty(1 << n)
    mode = base_mode.copy()
    for mask in range(1 << n):
        for i in range(n):
            mode[items[i]] = EITHER if (mask >> i) & 1 else LOCAL
        out[mask] = _sd(node_exec, node_unit, link_cost, link_unit, mode, extra)
    return out


# --- the model -----------------------------------------------------------------------


@dataclass(eq=False)
class UploadModel:
    """The upload problem of one task under a migration plan.

    Build with :meth:`build`. Units are indexed in chain order; ``unit_layers[u]`` holds
    the global indices of the remote layers of unit ``u``.
    """

    problem: Problem
    task: int
    client: int
    assign: np.ndarray            # (L,) the migration plan, all tasks
    unit_layers: list[list[int]]  # remote layers of each unit
    unit_slot: np.ndarray         # (U,) position along the chain (for adjacency)
    upload_s: np.ndarray          # (U,) upload time of each unit
    size_mb: np.ndarray           # (U,) weights of each unit
    node_exec: np.ndarray         # (N, 2) exec of chain node local/remote
    node_unit: np.ndarray         # (N,) unit of a chain node, -1 = client only
    link_cost: np.ndarray         # (N-1, 2, 2, 2) delay between nodes [a, block b, c]
    link_unit: np.ndarray         # (N-1,) unit of the block on the link, -1 = none
    breaks: np.ndarray            # (U-1,) bool: a client-only layer lies between u, u+1
    model_mb: float               # all weights of the task's model
    extra: dict = field(default_factory=dict)

    @classmethod
    def build(cls, problem: Problem, assign, task: int | str = 0) -> "UploadModel":
        """The upload model of ``task`` (index or name) under the plan ``assign``.

        Raises
        ------
        UploadError
            Unknown task, a task without a device, or a remote layer with no uplink.
        """
        t = _task_index(problem, task)
        client = int(problem.task_device[t])
        if client < 0:
            raise UploadError(f"task {problem.layer_names[problem.task_layers[t][0]][0]!r} "
                              "has no device: nothing to upload from")
        assign = np.asarray(assign, dtype=np.int64).ravel()
        if assign.shape != (problem.n_layers,):
            raise UploadError(f"plan has {assign.size} layers, instance {problem.n_layers}")
        return _Builder(problem, t, client, assign).build()

    # sizes and names --------------------------------------------------------------------
    @property
    def n_units(self) -> int:
        return len(self.unit_layers)

    @cached_property
    def zero_units(self) -> np.ndarray:
        """Units without weights (uploaded first at no cost by LMU and the exact DP)."""
        return np.flatnonzero(self.upload_s == 0)

    @cached_property
    def items(self) -> np.ndarray:
        """Units with weights: the decisions of the upload order."""
        return np.flatnonzero(self.upload_s > 0)

    def unit_names(self, u: int) -> list[str]:
        return [self.problem.layer_names[g][1] for g in self.unit_layers[u]]

    @property
    def task_name(self) -> str:
        return self.problem.instance.tasks[self.task].name

    # delays -----------------------------------------------------------------------------
    def modes(self, usable=(), forced=()) -> np.ndarray:
        """A state-limit vector: ``usable`` units free, ``forced`` remote, others local."""
        mode = np.full(self.n_units, LOCAL, dtype=np.int8)
        mode[list(usable)] = EITHER
        mode[list(forced)] = REMOTE
        return mode

    def delay(self, modes: np.ndarray, extra: np.ndarray | None = None) -> np.ndarray:
        """Delay for each row of ``modes`` ((n, U) or (U,)) — see :func:`_sd`."""
        modes = np.atleast_2d(np.asarray(modes, dtype=np.int8))
        extra = np.zeros(self.n_units) if extra is None else np.asarray(extra, float)
        return _sd_batch(self.node_exec, self.node_unit, self.link_cost, self.link_unit,
                         modes, extra)

    def sd(self, usable) -> float:
        """SD(U): the query delay with the units ``usable`` uploaded."""
        return float(self.delay(self.modes(usable))[0])

    def sd_subsets(self, items, base_usable=()) -> np.ndarray:
        """SD of every subset of ``items`` (bit i = ``items[i]``) plus ``base_usable``."""
        base = self.modes(base_usable)
        return _sd_subsets(self.node_exec, self.node_unit, self.link_cost, self.link_unit,
                           base, np.asarray(items, dtype=np.int64), np.zeros(self.n_units))

    def lda_star(self, units) -> float:
        """The independent delay advantage of uploading ``units`` together (may be < 0)."""
        zero = self.zero_units
        base = self.delay(self.modes(zero))[0]
        return float(base - self.delay(self.modes(zero, forced=units))[0])

    def path_states(self, modes: np.ndarray, extra: np.ndarray | None = None) -> np.ndarray:
        """Units in the remote state on a shortest path (first found in chain order)."""
        extra = np.zeros(self.n_units) if extra is None else np.asarray(extra, float)
        best = self.delay(modes, extra)[0]
        chosen: list[int] = []
        mode = np.asarray(modes, dtype=np.int8).copy()
        for u in range(self.n_units):  # fix states one by one, keeping the optimum
            if mode[u] != EITHER:
                if mode[u] == REMOTE:
                    chosen.append(u)
                continue
            trial = mode.copy()
            trial[u] = LOCAL
            if self.delay(trial, extra)[0] <= best + 1e-12 * max(1.0, best):
                mode = trial
            else:
                mode[u] = REMOTE
                chosen.append(u)
        return np.array(chosen, dtype=np.int64)

    # plans ------------------------------------------------------------------------------
    def evaluate(self, partitions, tail_s: float = 0.0) -> "UploadResult":
        """Score an upload plan: partitions of units, uploaded in the given order."""
        parts = [list(map(int, p)) for p in partitions]
        flat = sorted(u for p in parts for u in p)
        if flat != list(range(self.n_units)):
            missing = sorted(set(range(self.n_units)) - set(flat))
            dup = sorted({u for u in flat if flat.count(u) > 1})
            raise UploadError(f"partitions must cover every remote unit once "
                              f"(missing {missing}, repeated {dup})")
        usable: list[int] = []
        sds = [self.sd(usable)]
        times = []
        for p in parts:
            times.append(float(self.upload_s[p].sum()))
            usable += p
            sds.append(self.sd(usable))
        return UploadResult(self, parts, np.array(sds), np.array(times), tail_s)


@dataclass(frozen=True, eq=False)
class UploadResult:
    """An upload plan with its SD after each partition (``sd_s[0]`` = before any)."""

    model: UploadModel
    partitions: list[list[int]]
    sd_s: np.ndarray
    part_s: np.ndarray
    tail_s: float = 0.0

    @property
    def ssd(self) -> float:
        """Area under the SD curve until the upload completes (+ the tail, if any)."""
        return ssd_from_steps(self.sd_s, self.part_s, self.tail_s)

    @property
    def upload_s(self) -> float:
        """Time until the whole remote part is uploaded."""
        return float(self.part_s.sum())

    @property
    def largest_fraction(self) -> float:
        """Weights of the largest partition over the weights of the whole model."""
        sizes = [self.model.size_mb[p].sum() for p in self.partitions] or [0.0]
        return float(max(sizes) / self.model.model_mb) if self.model.model_mb > 0 else 0.0

    def curve(self) -> list[list[float]]:
        """``[time_s, sd_s]`` points of the step curve (SD from that time on)."""
        ends = np.concatenate([[0.0], np.cumsum(self.part_s)])
        pts: list[list[float]] = []
        for t, sd in zip(ends, self.sd_s):
            if pts and abs(pts[-1][0] - t) <= 1e-12:
                pts[-1][1] = float(sd)
            else:
                pts.append([float(t), float(sd)])
        return pts

    def partition_names(self) -> list[list[str]]:
        return [[n for u in p for n in self.model.unit_names(u)] for p in self.partitions]

    def to_dict(self) -> dict:
        return {"task": self.model.task_name, "ssd": self.ssd, "upload_s": self.upload_s,
                "tail_s": self.tail_s, "sd_initial_s": float(self.sd_s[0]),
                "sd_final_s": float(self.sd_s[-1]),
                "largest_partition_fraction": self.largest_fraction,
                "partitions": self.partition_names(),
                "partition_upload_s": self.part_s.tolist(),
                "sd_curve": self.curve()}


def ssd_from_steps(sd_s, part_s, tail_s: float = 0.0) -> float:
    """SSD = sum_k SD_{k-1} * t_k, plus SD_final * ``tail_s`` (the paper's tail).

    ``sd_s`` has one more entry than ``part_s``: the SD before any upload, then after each.

    Examples
    --------
    Table II of EosDNN, Plan A:

    >>> ssd_from_steps([63, 55, 44, 40, 21], [13, 10, 6, 15])
    2233.0
    >>> ssd_from_steps([63, 55, 44, 40, 21], [13, 10, 6, 15], tail_s=6)
    2359.0
    """
    sd_s, part_s = np.asarray(sd_s, float), np.asarray(part_s, float)
    if len(sd_s) != len(part_s) + 1:
        raise UploadError("need one SD value more than partition times")
    return float(np.dot(sd_s[:-1], part_s) + sd_s[-1] * tail_s)


# --- building the chain --------------------------------------------------------------


def _task_index(problem: Problem, task) -> int:
    names = [t.name for t in problem.instance.tasks]
    if isinstance(task, str):
        if task not in names:
            raise UploadError(f"unknown task {task!r}; tasks: {', '.join(names[:10])}"
                              + (" ..." if len(names) > 10 else ""))
        return names.index(task)
    if not 0 <= int(task) < len(names):
        raise UploadError(f"task index {task} out of range (0..{len(names) - 1})")
    return int(task)


class _Builder:
    """Chain layers, blocks and the link delay table of one task."""

    def __init__(self, problem: Problem, task: int, client: int, assign: np.ndarray):
        self.p, self.t, self.client, self.assign = problem, task, client, assign
        self.layers = [int(g) for g in problem.task_layers[task]]  # topological

    def chain_layers(self) -> list[int]:
        """Layers on every input-to-output path (:func:`offloadlab.graph.chain_nodes`)."""
        on_chain = chain_nodes(task_graph(self.p, np.array(self.layers)))
        return [g for g, c in zip(self.layers, on_chain) if c]

    def build(self) -> UploadModel:
        p, client, assign = self.p, self.client, self.assign
        chain = self.chain_layers()
        chain_set = set(chain)
        pos = {g: i for i, g in enumerate(self.layers)}
        remote = {g for g in self.layers if assign[g] != client}
        for g in remote:
            if p.bw[client, assign[g]] <= 0:
                raise UploadError(f"layer {p.layer_names[g][1]!r} of task "
                                  f"{p.layer_names[g][0]!r}: no uplink from "
                                  f"{p.server_names[client]!r} to "
                                  f"{p.server_names[assign[g]]!r}")
        nodes = [None] + chain + [None]  # virtual input / output at the client
        unit_layers, unit_slot, node_unit, link_unit = [], [], [], []
        node_exec = np.zeros((len(nodes), 2))
        node_exec[:, 1] = _INF
        link_cost = np.full((len(nodes) - 1, 2, 2, 2), _INF)
        local_between = []  # per gap between units: a client-only layer in between
        pending_local = False
        for j, g in enumerate(nodes):
            if j > 0:
                prev = nodes[j - 1]
                lo = pos[prev] + 1 if prev is not None else 0
                hi = pos[g] if g is not None else len(self.layers)
                inner = [h for h in self.layers[lo:hi] if h not in chain_set]
                inner_remote = [h for h in inner if h in remote]
                if inner and not inner_remote:
                    pending_local = True
                if inner_remote:
                    local_between.append(pending_local)
                    pending_local = False
                    link_unit.append(len(unit_layers))
                    unit_layers.append(inner_remote)
                    unit_slot.append(2 * j - 1)
                else:
                    link_unit.append(-1)
                self._fill_link(link_cost[j - 1], prev, inner, g, remote)
            if g is None:
                node_unit.append(-1)
                continue
            node_exec[j, 0] = p.exec_s[g, client]
            if g in remote:
                node_exec[j, 1] = p.exec_s[g, assign[g]]
                local_between.append(pending_local)
                pending_local = False
                node_unit.append(len(unit_layers))
                unit_layers.append([g])
                unit_slot.append(2 * j)
            else:
                node_unit.append(-1)
                pending_local = True
        upload = np.array([sum(p.param_mb[h] / p.bw[client, assign[h]] for h in u)
                           for u in unit_layers], dtype=float)
        size = np.array([sum(p.param_mb[h] for h in u) for u in unit_layers], dtype=float)
        return UploadModel(
            problem=p, task=self.t, client=client, assign=assign,
            unit_layers=unit_layers, unit_slot=np.array(unit_slot, dtype=np.int64),
            upload_s=upload, size_mb=size, node_exec=node_exec,
            node_unit=np.array(node_unit, dtype=np.int64), link_cost=link_cost,
            link_unit=np.array(link_unit, dtype=np.int64),
            breaks=np.array(local_between[1:], dtype=bool),
            model_mb=float(p.param_mb[self.layers].sum()))

    def _fill_link(self, cost, prev, inner, nxt, remote) -> None:
        """cost[a, b, c]: from ``prev`` finishing (state a) to ``nxt`` ready (state c)
        through the block ``inner`` (state b), its critical path."""
        client = self.client

        def where(g, state):
            return client if g is None or not state or g not in remote else self.assign[g]

        for a in (0, 1):
            if a and (prev is None or prev not in remote):
                continue
            for c in (0, 1):
                if c and (nxt is None or nxt not in remote):
                    continue
                for b in (0, 1):
                    if b and not any(h in remote for h in inner):
                        continue
                    loc = {h: where(h, b) for h in inner}
                    loc[prev] = where(prev, a)
                    cost[a, b, c] = self._through(prev, inner, nxt, loc, where(nxt, c))

    def _through(self, prev, inner, nxt, loc, nxt_loc) -> float:
        p = self.p
        finish = {prev: 0.0}

        def arrive(h, dest, srcs):
            best = 0.0
            for q, mb in srcs:
                with np.errstate(divide="ignore"):
                    best = max(best, finish[q] + mb / p.bw[loc[q], dest])
            return best

        def sources_of(h):
            preds = p.preds(h)
            if len(preds) == 0:
                return [(prev, p.input_mb[h])]
            return [(int(q), p.out_mb[q]) for q in preds]

        for h in inner:
            finish[h] = arrive(h, loc[h], sources_of(h)) + p.exec_s[h, loc[h]]
        if nxt is None:  # the result of every sink returns to the client
            sinks = [g for g in [prev] + inner if g is not None and p.is_sink[g]]
            return arrive(None, nxt_loc, [(g, p.out_mb[g]) for g in sinks])
        return arrive(nxt, nxt_loc, sources_of(nxt))

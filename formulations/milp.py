"""The placement-and-scheduling MILP of the shared model (MODELS.md §0), solved by HiGHS.

Variables: ``x[l, s]`` places layer l on server s; ``y[p, l, s', s]`` (continuous, a flow
per precedence arc) carries the pair "p on s', l on s" that prices the transfer; start
times ``S[l]``; task ends ``E[t]``; for a server whose pools can bind, a slot variable
``z[l, s, q]`` per identical slot (or ``x`` itself when the server has one slot) and one
order variable ``o[i, j]`` per pair of layers that may meet on such a server.

Constraints (named after the papers' equations):

* ``assign_once`` (EosDNN eq. 7, DDPQN's one action per subtask): each layer on one server.
* ``flow_in``/``flow_out``: the arc variables' marginals are the endpoint assignments
  (a network-flow form, integral on a chain, so the LP relaxation of a chain without
  contention is already the shortest path).
* ``ready_input`` / ``ready_arc`` (EosDNN eqs. 3–5, MTL-A3C eqs. 3–9): a layer starts after
  its input has reached its server, from the device or from each predecessor's server.
* ``task_end`` (+ the return of the output when asked, DMRO eq. 1's e_{n,n+1}).
* ``slot_of``/``pool_order`` (EosDNN eq. 7's x_run <= x_pl): layers sharing a slot do not
  overlap; big-Ms from per-layer earliest starts and latest finishes.
* ``deadline`` (MTL-A3C eq. 10c), ``memory`` (ATSA's per-node memory).
* ``balance_abs`` (DDPQN eq. 12): |B_s - B_s'| after every placement.
* Cuts: ``head``/``tail`` (contention-free earliest ready time and least remaining time per
  (layer, server)), ``task_floor`` (each task at least its contention-free value) and
  ``objective_floor`` (the contention-free DP bound).

Strength, by what the structure gives (the issue's list): capacity constraints only for
servers whose pools can bind (more tasks can reach them than they have slots; ``dmro``
never); slots only as many as can be busy at once, with symmetry broken by allowing the
r-th candidate layer of a server only the first r+1 slots; (layer, server) pairs whose
contention-free head plus tail exceed the task's latency budget under the incumbent are
removed; big-Ms from the incumbent's horizon; the incumbent (best of greedy and the DP
plan) is the warm start.

Reading the plan back: the assignment from ``x``, the priority = layers sorted by MILP
start (a precedence-respecting order, ties by depth and index); the simulator re-scores
it. For the time objectives the list scheduler starts every layer no later than the MILP
did, so the simulator's value is at most the MILP's and equal at the optimum.

Resolved (ddpqn): the MILP is restricted to chain models (the critical predecessor of a
layer with several predecessors depends on the schedule). Its standardised delay T~
includes the wait ``S[l] - ready[l]``; because the per-layer scales differ, a schedule
with inserted idle time can score below every list schedule, so for ddpqn the MILP is a
relaxation of the simulator's problem: its bound is valid, and its plan is proven optimal
only when the simulator's value meets the bound.
"""

from __future__ import annotations

import heapq
import os
import tempfile
import time
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np

from offloadlab.graph import is_chain
from offloadlab.problem import Problem
from offloadlab.registry import make_solution
from offloadlab.simulator import simulate
from offloadlab.warm_start import registered_plans

from .dp import (ddpqn_pair_cost, edge_lag, energy_cost, input_lag, path_bound,
                 return_lag, time_bounds)

KINDS = ("latency", "deadline", "makespan", "dmro", "ddpqn")
TOL = 1e-6


class MilpError(RuntimeError):
    """The MILP disagrees with the simulator, or the instance is outside its scope."""


# --- data the builder needs ----------------------------------------------------------


@dataclass
class MilpData:
    """Everything the builder derives from the problem before writing the model."""

    problem: Problem
    pairs: list                     # allowed (l, s) after pruning
    arcs: list                      # (p, l) precedence arcs
    arc_pairs: dict                 # (p, l) -> [(s', s), ...] with a link
    head: np.ndarray
    tail: np.ndarray
    task_lb: np.ndarray             # contention-free value per task
    dp_bound: float
    latest_end: np.ndarray          # (T,) latest task end worth considering
    earliest_start: np.ndarray      # (L,)
    latest_finish: np.ndarray       # (L,)
    units: dict = field(default_factory=dict)   # (s, q) -> candidate layers
    order_pairs: list = field(default_factory=list)


def _reachability(problem: Problem) -> list[set]:
    """Descendants of each layer (within its task)."""
    desc: list[set] = [set() for _ in range(problem.n_layers)]
    for layers in problem.task_layers:
        for g in layers[::-1]:
            for u in problem.succs[g]:
                desc[g] |= {u} | desc[u]
    return desc


def _width(layers: list[int], desc: list[set]) -> int:
    """Largest antichain among ``layers`` (Dilworth: n minus a maximum matching in the
    comparability bipartite graph)."""
    import networkx as nx

    if len(layers) <= 1:
        return len(layers)
    g = nx.Graph()
    left = [("a", i) for i in layers]
    g.add_nodes_from(left)
    g.add_nodes_from(("b", j) for j in layers)
    g.add_edges_from((("a", i), ("b", j)) for i in layers for j in layers if j in desc[i])
    matching = nx.bipartite.hopcroft_karp_matching(g, top_nodes=left)
    return len(layers) - len(matching) // 2


def list_horizon(problem: Problem) -> float:
    """An upper bound on every finish time of any list schedule of any plan."""
    exec_max = np.where(problem.allowed, problem.exec_s, 0).max(axis=1)
    lag_max = np.zeros(problem.n_layers)
    finite_bw = problem.bw[(problem.bw > 0) & np.isfinite(problem.bw)]
    slowest = finite_bw.min() if finite_bw.size else np.inf
    for g in range(problem.n_layers):
        mb = max([problem.out_mb[p] for p in problem.preds(g)] + [problem.input_mb[g]])
        lag_max[g] = mb / slowest if mb > 0 else 0.0
    ret = problem.out_mb[problem.is_sink].max() / slowest if problem.is_sink.any() else 0.0
    return float(problem.release_s.max() + (exec_max + lag_max).sum() + ret)


def prepare(problem: Problem, upper_bound: float | None = None) -> MilpData:
    """Prune, bound and find the contended servers (see the module docstring)."""
    kind = problem.instance.objective.kind
    if kind not in KINDS:
        raise MilpError(f"objective kind {kind!r} has no MILP")
    if problem.objective.per_layer and not is_chain(problem):
        raise MilpError("ddpqn MILP needs chain models: a layer with several predecessors "
                        "has a schedule-dependent critical predecessor")
    pb = path_bound(problem)
    head, tail = time_bounds(problem)
    rel = problem.release_s
    n_tasks = problem.n_tasks
    horizon = list_horizon(problem)
    budget = horizon - rel                                    # latency budget per task
    budget = np.minimum(budget, np.where(np.isfinite(problem.deadline_s),
                                         problem.deadline_s, np.inf))
    lat_lb = _latency_lb(problem, head, tail)
    if upper_bound is not None and np.isfinite(upper_bound):
        if kind in ("latency", "deadline"):
            budget = np.minimum(budget, upper_bound - (lat_lb.sum() - lat_lb))
        elif kind == "dmro":
            energy = np.where(problem.allowed, energy_cost(problem), np.inf).min(axis=1)
            energy_lb = np.bincount(problem.layer_task, energy, minlength=n_tasks)
            budget = np.minimum(budget, upper_bound - (pb.task_value.sum() - pb.task_value)
                                - energy_lb)
        elif kind == "makespan":
            budget = np.minimum(budget, upper_bound + rel.min() - rel)
    slack = 1e-7 * max(1.0, float(np.max(np.abs(budget))))
    keep = problem.allowed & np.isfinite(head + tail)
    keep &= head + tail <= budget[problem.layer_task][:, None] + slack
    for g in range(problem.n_layers):
        if not keep[g].any():
            raise MilpError(f"layer {problem.layer_names[g]} has no server within the "
                            "latency budget (deadline or missing links)")
    pairs = [(int(g), int(s)) for g, s in zip(*np.nonzero(keep))]
    arcs = [(int(p), g) for g in range(problem.n_layers) for p in problem.preds(g)]
    arc_pairs = {}
    for p, g in arcs:
        lag = edge_lag(problem, p)
        arc_pairs[(p, g)] = [(int(a), int(b)) for a in np.flatnonzero(keep[p])
                             for b in np.flatnonzero(keep[g]) if np.isfinite(lag[a, b])]
    t_of = problem.layer_task
    earliest = rel[t_of] + np.where(keep, head, np.inf).min(axis=1)
    after = np.where(keep, tail - problem.exec_s, np.inf).min(axis=1)
    latest_end = rel + budget
    latest_finish = latest_end[t_of] - after
    data = MilpData(problem, pairs, arcs, arc_pairs, head, tail, pb.task_value, pb.bound,
                    latest_end, earliest, latest_finish)
    if problem.objective.contention:
        _contention(data, keep)
    return data


def _latency_lb(problem: Problem, head, tail) -> np.ndarray:
    """(T,) contention-free latency per task (from the heads and tails)."""
    out = np.zeros(problem.n_tasks)
    for t, layers in enumerate(problem.task_layers):
        src = [g for g in layers if not len(problem.preds(g))]
        out[t] = max(float(np.min(head[g] + tail[g])) for g in src)
    return out


def _contention(data: MilpData, keep: np.ndarray) -> None:
    """Units (server slots) whose pools can bind, and the layer pairs that may meet."""
    problem = data.problem
    chain = is_chain(problem)
    desc = _reachability(problem)
    pair_set = set()
    for s in range(problem.n_servers):
        cands = np.flatnonzero(keep[:, s])
        users = {}
        for g in cands:
            users.setdefault(int(problem.layer_task[g]), []).append(int(g))
        # a task runs at most a largest antichain of its layers at once (1 for a chain)
        busy = sum(1 if chain else _width(v, desc) for v in users.values())
        slots = int(min(problem.pools[s], busy))
        if busy <= problem.pools[s]:
            continue
        meet = [(int(i), int(j)) for i, j in combinations(cands, 2)
                if j not in desc[i] and i not in desc[j]
                and data.latest_finish[i] > data.earliest_start[j] + 1e-12
                and data.latest_finish[j] > data.earliest_start[i] + 1e-12]
        if not meet:
            continue
        for q in range(slots):
            # symmetry: the r-th candidate (global order) only uses slots 0..r
            data.units[(s, q)] = [int(g) for r, g in enumerate(cands) if r >= q]
        pair_set.update(meet)
    data.order_pairs = sorted(pair_set)


def disjunctive_rows(data: MilpData) -> int:
    """How many pool-order constraint pairs the model would have."""
    total = 0
    for cands in data.units.values():
        here = set(cands)
        total += sum(1 for i, j in data.order_pairs if i in here and j in here)
    return total


# --- the model -----------------------------------------------------------------------


def build_placement_milp(problem, upper_bound: float | None = None, data: MilpData | None = None,
                         deadline: float | None = None):
    """The placement-and-scheduling MILP as a Pyomo ``ConcreteModel`` (no I/O, no solve).

    Parameters
    ----------
    problem : Problem or Instance
        The instance (an :class:`~offloadlab.instance.Instance` is converted).
    upper_bound : float, optional
        The objective of a known feasible plan: tightens horizons and prunes
        (layer, server) pairs that cannot be part of a better plan.
    data : MilpData, optional
        The output of :func:`prepare` when already computed.
    deadline : float, optional
        A ``time.perf_counter()`` value after which the pool-order rows (the bulk of a
        large model) are skipped: the caller must then discard the incomplete model.

    Returns
    -------
    pyomo.environ.ConcreteModel
        With ``model.data`` holding the :class:`MilpData`.
    """
    import pyomo.environ as pyo

    if not isinstance(problem, Problem):
        problem = Problem.from_instance(problem)
    d = data or prepare(problem, upper_bound)
    m = pyo.ConcreteModel(name=problem.instance.name)
    m.data = d
    rel = problem.release_s
    t_of = problem.layer_task
    exec_s = problem.exec_s
    n_l = problem.n_layers

    # sets
    m.L = pyo.Set(initialize=range(n_l))
    m.T = pyo.Set(initialize=range(problem.n_tasks))
    m.A = pyo.Set(initialize=d.pairs, dimen=2)
    arc_index = [(p, g, a, b) for (p, g), lst in d.arc_pairs.items() for a, b in lst]
    m.Y = pyo.Set(initialize=arc_index, dimen=4)
    on = {}
    for g, s in d.pairs:
        on.setdefault(g, []).append(s)

    # variables
    m.x = pyo.Var(m.A, domain=pyo.Binary)
    m.y = pyo.Var(m.Y, bounds=(0, 1))
    # bounds get a little slack: they come from sums of floats
    pad = 1e-7 * max(1.0, float(d.latest_end.max()))
    m.S = pyo.Var(m.L, bounds=lambda m, g: (
        d.earliest_start[g] - pad,
        d.latest_finish[g] - min(exec_s[g, s] for s in on[g]) + pad))
    timed = problem.objective.time_valued   # task_lb is a latency only for these
    m.E = pyo.Var(m.T, bounds=lambda m, t: (rel[t] + d.task_lb[t] * timed - pad,
                                            d.latest_end[t] + pad))

    def finish(g):
        return m.S[g] + sum(exec_s[g, s] * m.x[g, s] for s in on[g])

    m.assign_once = pyo.Constraint(m.L, rule=lambda m, g: sum(m.x[g, s] for s in on[g]) == 1)
    out_of = {}
    into = {}
    for p, g, a, b in arc_index:
        out_of.setdefault((p, g, a), []).append(b)
        into.setdefault((p, g, b), []).append(a)
    m.flow_out = pyo.Constraint(
        [(p, g, a) for (p, g) in d.arcs for a in on[p]],
        rule=lambda m, p, g, a: sum(m.y[p, g, a, b] for b in out_of.get((p, g, a), []))
        == m.x[p, a])
    m.flow_in = pyo.Constraint(
        [(p, g, b) for (p, g) in d.arcs for b in on[g]],
        rule=lambda m, p, g, b: sum(m.y[p, g, a, b] for a in into.get((p, g, b), []))
        == m.x[g, b])
    sources = [g for g in range(n_l) if not len(problem.preds(g))]
    lag_in = {g: input_lag(problem, g) for g in sources}
    lags = {p: edge_lag(problem, p) for p in {p for p, _ in d.arcs}}

    def arrival_input(g):
        return rel[t_of[g]] + sum(lag_in[g][s] * m.x[g, s] for s in on[g])

    def arrival_arc(p, g):
        return finish(p) + sum(lags[p][a, b] * m.y[p, g, a, b] for a, b in d.arc_pairs[(p, g)])

    m.ready_input = pyo.Constraint(sources, rule=lambda m, g: m.S[g] >= arrival_input(g))
    m.ready_arc = pyo.Constraint(d.arcs, rule=lambda m, p, g: m.S[g] >= arrival_arc(p, g))
    sinks = [g for g in range(n_l) if problem.is_sink[g]]
    ret = {g: return_lag(problem, g) for g in sinks}
    m.task_end = pyo.Constraint(sinks, rule=lambda m, g: m.E[t_of[g]] >= finish(g) + sum(
        ret[g][s] * m.x[g, s] for s in on[g]))
    # cuts from the contention-free programme
    m.head = pyo.Constraint(m.L, rule=lambda m, g: m.S[g] >= rel[t_of[g]] + sum(
        d.head[g, s] * m.x[g, s] for s in on[g]))
    m.tail = pyo.Constraint(m.L, rule=lambda m, g: m.E[t_of[g]] >= m.S[g] + sum(
        d.tail[g, s] * m.x[g, s] for s in on[g]))
    deadlined = [t for t in range(problem.n_tasks) if np.isfinite(problem.deadline_s[t])]
    m.deadline = pyo.Constraint(deadlined, rule=lambda m, t: m.E[t] - rel[t]
                                <= problem.deadline_s[t])
    mem = problem.memory_mb
    need = problem.param_mb + problem.out_mb
    limited = [s for s in range(problem.n_servers) if np.isfinite(mem[s])
               and sum(need[g] for g, s2 in d.pairs if s2 == s) > mem[s]]
    m.memory = pyo.Constraint(limited, rule=lambda m, s: sum(
        need[g] * m.x[g, s2] for g, s2 in d.pairs if s2 == s) <= mem[s])
    _pool_constraints(m, d, finish, deadline)
    m.objective_expr = pyo.Expression(expr=_objective(m, d, on, finish, sources, lag_in,
                                                      lags))
    m.obj = pyo.Objective(expr=m.objective_expr, sense=pyo.minimize)
    if np.isfinite(d.dp_bound):
        m.objective_floor = pyo.Constraint(expr=m.objective_expr >= d.dp_bound)
    return m


def _pool_constraints(m, d: MilpData, finish, deadline: float | None = None) -> None:
    """``slot_of`` and ``pool_order``: no overlap on a slot of a contended server (rows
    are skipped once ``deadline`` has passed)."""
    import pyomo.environ as pyo

    problem = d.problem
    multi = [(g, s, q) for (s, q), cands in d.units.items() if problem.pools[s] > 1
             for g in cands]
    m.Z = pyo.Set(initialize=multi, dimen=3)
    m.z = pyo.Var(m.Z, domain=pyo.Binary)
    slotted = sorted({(g, s) for g, s, _ in multi})
    slots_of = {}
    for g, s, q in multi:
        slots_of.setdefault((g, s), []).append(q)
    m.slot_of = pyo.Constraint(slotted, rule=lambda m, g, s: sum(
        m.z[g, s, q] for q in slots_of[(g, s)]) == m.x[g, s])
    m.O = pyo.Set(initialize=d.order_pairs, dimen=2)
    m.o = pyo.Var(m.O, domain=pyo.Binary)
    rows = []
    for (s, q), cands in d.units.items():
        here = set(cands)
        for i, j in d.order_pairs:
            if i in here and j in here:
                rows.append((i, j, s, q))

    def on_unit(g, s, q):
        return m.x[g, s] if problem.pools[s] == 1 else m.z[g, s, q]

    def big_m(i, j):
        return max(0.0, float(d.latest_finish[i] - d.earliest_start[j]))

    def late():
        return deadline is not None and time.perf_counter() > deadline

    def before(m, i, j, s, q):
        if late():
            return pyo.Constraint.Skip
        both = 2 - on_unit(i, s, q) - on_unit(j, s, q)
        return m.S[j] >= finish(i) - big_m(i, j) * (1 - m.o[i, j] + both)

    def after(m, i, j, s, q):
        if late():
            return pyo.Constraint.Skip
        both = 2 - on_unit(i, s, q) - on_unit(j, s, q)
        return m.S[i] >= finish(j) - big_m(j, i) * (m.o[i, j] + both)

    m.pool_order_ij = pyo.Constraint(rows, rule=before)
    m.pool_order_ji = pyo.Constraint(rows, rule=after)


def _objective(m, d: MilpData, on, finish, sources, lag_in, lags):
    """The instance's objective kind as a linear expression."""
    import pyomo.environ as pyo

    problem = d.problem
    obj = problem.instance.objective
    rel = problem.release_s
    if obj.kind in ("latency", "deadline"):
        return sum(m.E[t] - rel[t] for t in m.T)
    if obj.kind == "makespan":
        m.Cmax = pyo.Var(bounds=(rel.min(), float(d.latest_end.max())))
        m.makespan = pyo.Constraint(m.T, rule=lambda m, t: m.Cmax >= m.E[t])
        return m.Cmax - rel.min()
    if obj.kind == "dmro":
        energy = energy_cost(problem)
        return (sum(m.E[t] - rel[t] for t in m.T)
                + sum(energy[g, s] * m.x[g, s] for g, s in d.pairs))
    # ddpqn: pair terms + what waiting adds to T~ + omega * balance
    expr = 0
    for g in range(problem.n_layers):
        cost, wait_coef = ddpqn_pair_cost(problem, g)
        dev = problem.task_device[problem.layer_task[g]]
        preds = problem.preds(g)
        if not len(preds):
            row = cost[dev] if dev >= 0 else np.diag(cost)
            expr += sum(float(row[s]) * m.x[g, s] for s in on[g])
            arrival = rel[problem.layer_task[g]] + sum(lag_in[g][s] * m.x[g, s] for s in on[g])
        else:
            p = int(preds[0])
            expr += sum(float(cost[a, b]) * m.y[p, g, a, b] for a, b in d.arc_pairs[(p, g)])
            arrival = finish(p) + sum(lags[p][a, b] * m.y[p, g, a, b]
                                      for a, b in d.arc_pairs[(p, g)])
        if wait_coef:
            expr += wait_coef * (m.S[g] - arrival)
    if obj.omega:
        expr += obj.omega * _balance(m, d, on)
    return expr


def _balance(m, d: MilpData, on):
    """Sum over placements k of Z~_k (DDPQN eq. 12), |.| by ``balance_abs`` pairs."""
    import pyomo.environ as pyo

    problem = d.problem
    edge = np.flatnonzero(problem.tier == 1)
    cloud = np.flatnonzero(problem.tier == 2)
    scale = max(len(edge) - 1, len(cloud) - 1)
    if scale <= 0:
        return 0
    pairs = [(int(a), int(b)) for grp in (edge, cloud) for a, b in combinations(grp, 2)]
    index = [(k, a, b) for k in range(problem.n_layers) for a, b in pairs]
    m.D = pyo.Set(initialize=index, dimen=3)
    m.dev_abs = pyo.Var(m.D, bounds=(0, None))
    placed = {s: [g for g, s2 in d.pairs if s2 == s] for s in range(problem.n_servers)}

    def count(k, s):
        return sum(m.x[g, s] for g in placed[s] if g <= k)

    m.balance_abs_pos = pyo.Constraint(m.D, rule=lambda m, k, a, b: m.dev_abs[k, a, b]
                                       >= count(k, a) - count(k, b))
    m.balance_abs_neg = pyo.Constraint(m.D, rule=lambda m, k, a, b: m.dev_abs[k, a, b]
                                       >= count(k, b) - count(k, a))
    return sum(m.dev_abs[k, a, b] / ((k + 1) * scale) for k, a, b in index)


# --- warm start and read-back --------------------------------------------------------


def set_plan_values(m, assign, priority=None) -> None:
    """Give every variable the value of the simulator's schedule of a plan (warm start)."""
    d: MilpData = m.data
    problem = d.problem
    ev = simulate(problem, assign, priority)
    start, fin = ev.start_s[0], ev.finish_s[0]
    for (g, s) in m.A:
        m.x[g, s].value = float(assign[g] == s)
    for (p, g, a, b) in m.Y:
        m.y[p, g, a, b].value = float(assign[p] == a and assign[g] == b)
    for g in m.L:
        m.S[g].value = float(start[g])
    for t in m.T:
        m.E[t].value = float(problem.release_s[t] + ev.latency_s[0, t])
    if hasattr(m, "Cmax"):
        m.Cmax.value = max(m.E[t].value for t in m.T)
    slot = _slots(problem, assign, start, fin, d)
    for (g, s, q) in m.Z:
        m.z[g, s, q].value = float(assign[g] == s and slot.get(g) == q)
    for (i, j) in m.O:
        m.o[i, j].value = float(fin[i] <= start[j] + 1e-12 or start[i] < start[j])
    if hasattr(m, "dev_abs"):
        counts = np.cumsum(np.eye(problem.n_servers)[assign], axis=0)
        for (k, a, b) in m.D:
            m.dev_abs[k, a, b].value = abs(counts[k, a] - counts[k, b])


def _slots(problem: Problem, assign, start, fin, d: MilpData) -> dict:
    """Slot per layer on multi-slot contended servers: interval colouring by start time,
    then labels renumbered by first use in global order (the model's symmetry rule)."""
    out = {}
    for s in {s for s, _ in d.units if problem.pools[s] > 1}:
        layers = np.flatnonzero(assign == s)
        free: list[float] = []
        raw = {}
        for g in sorted(layers, key=lambda g: (start[g], fin[g], g)):
            q = next((k for k, f in enumerate(free) if f <= start[g] + 1e-12), len(free))
            if q == len(free):
                free.append(0.0)
            free[q] = fin[g]
            raw[g] = q
        relabel = {}
        for g in sorted(layers):
            relabel.setdefault(raw[g], len(relabel))
            out[int(g)] = relabel[raw[g]]
    return out


def read_plan(m) -> tuple[np.ndarray, np.ndarray]:
    """Assignment from ``x``; priority = layers by MILP start (precedence kept)."""
    d: MilpData = m.data
    problem = d.problem
    assign = np.full(problem.n_layers, -1, dtype=np.int64)
    best = np.full(problem.n_layers, -1.0)
    for (g, s) in m.A:
        v = m.x[g, s].value or 0.0
        if v > best[g]:
            best[g], assign[g] = v, s
    start = np.array([m.S[g].value for g in range(problem.n_layers)], dtype=float)
    return assign, start_order(problem, start)


def start_order(problem: Problem, start: np.ndarray) -> np.ndarray:
    """A precedence-respecting list of all layers, by start time (ties: depth, index)."""
    indeg = np.diff(problem.pred_ptr).copy()
    heap = [(start[g], problem.depth[g], g) for g in range(problem.n_layers) if indeg[g] == 0]
    heapq.heapify(heap)
    order = []
    while heap:
        _, _, g = heapq.heappop(heap)
        order.append(g)
        for u in problem.succs[g]:
            indeg[u] -= 1
            if indeg[u] == 0:
                heapq.heappush(heap, (start[u], problem.depth[u], u))
    return np.array(order, dtype=np.int64)


# --- solving with HiGHS --------------------------------------------------------------


@dataclass
class HighsResult:
    """What HiGHS reported: status, incumbent objective, dual bound, wall seconds."""

    status: str
    objective: float
    bound: float
    wall_s: float
    has_solution: bool


def write_model(m, path: str) -> None:
    """Write the model as ``.lp`` or ``.mps`` (by the suffix) for another solver."""
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in (".lp", ".mps"):
        raise ValueError(f"{path}: model files end in .lp or .mps")
    m.write(path, io_options={"symbolic_solver_labels": True})


def solve_highs(m, *, time_limit_s=None, mip_rel_gap=1e-6, threads=1, seed=0,
                warm_start=True, log=False, deadline=None) -> HighsResult:
    """Solve the Pyomo model with HiGHS (through an LP file, so the incumbent of the
    warm start can be handed over) and load the solution into the model's variables.

    ``deadline`` (a ``time.perf_counter()`` value) caps HiGHS's time limit so that
    writing and reading the model count too."""
    import highspy

    from offloadlab.streams import stdout_to_stderr

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.lp")
        _, smap_id = m.write(path, io_options={"symbolic_solver_labels": True})
        symbols = m.solutions.symbol_map[smap_id].bySymbol
        with stdout_to_stderr():  # HiGHS prints its banner on creation
            h = highspy.Highs()
        h.setOptionValue("output_flag", bool(log))
        h.readModel(path)
    if deadline is not None and time.perf_counter() >= deadline:  # writing took it all
        return HighsResult("time_limit", float("inf"), float("-inf"), 0.0, False)
    lp = h.getLp()
    names = list(lp.col_names_)
    cols = [symbols[n] for n in names]
    h.setOptionValue("mip_rel_gap", float(mip_rel_gap))
    # times are fractions of a second: absolute tolerances must be well below 1e-6
    h.setOptionValue("primal_feasibility_tolerance", 1e-9)
    h.setOptionValue("mip_feasibility_tolerance", 1e-9)
    # HiGHS keeps one thread scheduler per process: another model solved here before
    # (pyomo's HiGHS interface, `tmoa`) may have started it with other threads, which
    # makes run() fail at once
    highspy.Highs.resetGlobalScheduler(True)
    h.setOptionValue("threads", int(threads))
    h.setOptionValue("random_seed", int(seed or 0))
    if deadline is not None:
        left = deadline - time.perf_counter()
        time_limit_s = left if time_limit_s is None else min(time_limit_s, left)
    if time_limit_s is not None:
        h.setOptionValue("time_limit", max(0.01, float(time_limit_s)))
    if warm_start and all(v.value is not None for v in cols):
        sol = highspy.HighsSolution()
        sol.col_value = [float(v.value) for v in cols]
        sol.value_valid = True
        h.setSolution(sol)
    started = time.perf_counter()
    with stdout_to_stderr():  # the log, when asked for, goes to stderr
        h.run()
    wall = time.perf_counter() - started
    status = h.getModelStatus()
    info = h.getInfo()
    ms = highspy.HighsModelStatus
    label = {ms.kOptimal: "optimal", ms.kTimeLimit: "time_limit",
             ms.kInfeasible: "infeasible"}.get(status, "error")
    has = info.primal_solution_status == 2
    if has:
        values = h.getSolution().col_value
        for v, x in zip(cols, values):
            v.set_value(x, skip_validation=True)
    obj = info.objective_function_value if has else float("inf")
    bound = info.mip_dual_bound
    if label == "infeasible":
        bound = float("inf")
    return HighsResult(label, float(obj), float(bound), wall, has)


# --- the registered solver -----------------------------------------------------------


def incumbent(problem: Problem, warm_plans=None
              ) -> tuple[np.ndarray | None, np.ndarray | None, float]:
    """The best of ``warm_plans`` (assignments; default: the registered greedy's plan)
    and the contention-free plan, under the default priority."""
    if warm_plans is None:
        warm_plans = [a for _, a, _ in registered_plans(problem, ("greedy",))[0]]
    plans = [a for a in [*warm_plans, path_bound(problem).assign] if a is not None]
    if not plans:
        return None, None, float("inf")
    values = simulate(problem, np.array(plans)).objective
    k = int(np.argmin(values))
    if not np.isfinite(values[k]):
        return None, None, float("inf")
    return plans[k], problem.default_priority, float(values[k])


def solve(problem: Problem, *, seed=None, time_limit_s=None, budget_evals=None,
          mip_rel_gap: float = 1e-6, threads: int = 1, warm_start: bool = True,
          write_model_path: str | None = None, log: bool = False,
          max_rows: int = 150_000, max_layers: int = 300, hint=None):
    """Solve the placement-and-scheduling MILP with HiGHS.

    Parameters
    ----------
    problem : Problem
    seed : int, optional
        HiGHS ``random_seed``.
    time_limit_s : float, optional
        Seconds in all, model building included (when building takes it all, the
        incumbent is returned with status ``time_limit``).
    mip_rel_gap : float
        HiGHS relative gap at which it stops as optimal.
    threads : int
        HiGHS threads.
    warm_start : bool
        Hand the best of greedy and the contention-free plan to HiGHS.
    write_model_path : str, optional
        Also write the model there (``.lp`` or ``.mps``).
    hint : (assign, priority), optional
        A plan to warm-start from instead of the greedy/contention-free incumbent.
    max_rows, max_layers : int
        Above this many pool-order rows or layers the model is not built (paper-size
        instances): the result is the incumbent with the contention-free bound.

    Returns
    -------
    Solution
        Objective from the simulator; ``bound`` the best of HiGHS's dual bound and the
        contention-free DP bound (``bound_source`` says which); status ``optimal``,
        ``time_limit``, ``infeasible`` or ``error``.

    Raises
    ------
    MilpError
        When the simulator's value of the MILP's plan exceeds the MILP's objective (the
        model does not match the simulator), or the instance is outside the model.
    """
    started = time.perf_counter()
    params = {"mip_rel_gap": mip_rel_gap, "threads": threads, "warm_start": warm_start,
              "time_limit_s": time_limit_s}
    if problem.objective.per_layer and not is_chain(problem):
        raise MilpError("ddpqn MILP needs chain models: a layer with several predecessors "
                        "has a schedule-dependent critical predecessor")
    pb = path_bound(problem)
    if not np.isfinite(pb.bound):
        return make_solution(problem, "milp", None, started=started, status="infeasible",
                             params=params, message=pb.reason)
    if hint is not None:
        assign0, prio0 = hint
        upper = float(simulate(problem, assign0, prio0).objective[0])
        if not np.isfinite(upper):
            assign0, prio0, upper = None, None, None
    else:
        assign0, prio0, upper = incumbent(problem) if warm_start else (None, None, None)
    try:
        # a cheap size guard first: pair enumeration itself is quadratic in the layers
        data = prepare(problem, upper) if problem.n_layers <= max_layers else None
        rows = disjunctive_rows(data) if data is not None else max_rows + 1
        if rows > max_rows:
            return make_solution(
                problem, "milp", assign0, prio0, started=started, status="feasible",
                bound=pb.bound, bound_source="contention-free DP", params=params, seed=seed,
                message=f"MILP not solved: over max_layers={max_layers} or "
                        f"max_rows={max_rows} pool-order rows; incumbent from greedy/DP")
        deadline = None if time_limit_s is None else started + float(time_limit_s)
        m = build_placement_milp(problem, data=data, deadline=deadline)
    except MilpError as exc:
        if "latency budget" in str(exc):
            return make_solution(problem, "milp", None, started=started,
                                 status="infeasible", params=params, message=str(exc))
        raise
    if deadline is not None and time.perf_counter() >= deadline:  # model incomplete
        return make_solution(problem, "milp", assign0, prio0, started=started,
                             status="time_limit",
                             bound=pb.bound, bound_source="contention-free DP",
                             params=params, seed=seed,
                             message="the time limit was spent building the model")
    if write_model_path:
        write_model(m, write_model_path)
    if assign0 is not None:
        set_plan_values(m, assign0, prio0)
    res = solve_highs(m, mip_rel_gap=mip_rel_gap, threads=threads, seed=seed,
                      warm_start=assign0 is not None, log=log, deadline=deadline)
    dp_bound = m.data.dp_bound
    bound, source = res.bound, "milp"
    if np.isfinite(dp_bound) and dp_bound > bound:
        bound, source = dp_bound, "contention-free DP"
    if res.status == "infeasible":
        return make_solution(problem, "milp", None, started=started, status="infeasible",
                             params=params, seed=seed,
                             message="HiGHS proved the MILP infeasible")
    if not res.has_solution:  # the warm start is still a plan
        return make_solution(problem, "milp", assign0, prio0, started=started,
                             status=res.status, bound=bound, bound_source=source,
                             params=params, seed=seed,
                             message=f"HiGHS {res.status} in {res.wall_s:.2f} s without a "
                             "plan" + ("; the warm start is returned" if assign0 is not None
                                       else ""))
    assign, priority = read_plan(m)
    sim = float(simulate(problem, assign, priority).objective[0])
    _check_agreement(problem, sim, res)
    status = res.status
    if status == "optimal" and problem.objective.per_layer and not (
            sim <= bound + max(mip_rel_gap, TOL) * max(1.0, abs(bound))):
        status = "feasible"   # the relaxation's optimum needs inserted idle time
    return make_solution(problem, "milp", assign, priority, started=started, status=status,
                         bound=bound, bound_source=source, params=params, seed=seed,
                         message=f"HiGHS {res.status} in {res.wall_s:.2f} s; MILP "
                                 f"objective {res.objective:.9g}")


def _check_agreement(problem: Problem, sim: float, res: HighsResult) -> None:
    """The simulator's value of the MILP's plan must not exceed the MILP's objective; at
    a proven optimum of a time objective they agree within 1e-6 relative."""
    scale = max(1.0, abs(res.objective))
    if not np.isfinite(sim) or sim > res.objective + TOL * scale:
        raise MilpError(f"{problem.instance.name}: simulator value {sim:.9g} of the MILP "
                        f"plan exceeds the MILP objective {res.objective:.9g}")
    if res.status == "optimal" and not problem.objective.per_layer and sim < res.objective - TOL * scale \
            and sim < res.bound - TOL * scale:
        raise MilpError(f"{problem.instance.name}: simulator value {sim:.9g} is below the "
                        f"MILP bound {res.bound:.9g}")

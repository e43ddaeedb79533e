"""Exact Pareto fronts of delay, energy and cost (``offloadlab pareto --algorithm exact``).

Four methods, the cheapest that applies (:func:`exact_front` picks it):

* ``brute-force`` (tiny instances): every assignment of allowed servers times, when pools
  queue layers, every precedence-respecting priority list, scored by the simulator in
  chunks; the nondominated set of all of them.
* ``decomposition`` (no contention, no memory limit, no deadline: ``dmro``): the tasks do
  not interact, and every component is a sum over tasks, so the front is the nondominated
  Minkowski sum of the per-task fronts. Each task's plans are enumerated and scored by the
  simulator with the other tasks fixed (differences to that base plan add up).
* ``label-dp`` (``ddpqn`` chains, energy and cost without the delay): both are sums over
  precedence arcs that the schedule does not change, so the front is the projection of the
  contention-free front: per task a label-setting DP along the chain keeps the
  nondominated (delay, energy, cost) labels per (layer, server), and the tasks' fronts are
  combined (:class:`_FreeBound`).
* ``epsilon-constraint`` (``ddpqn`` chains with the delay): the placement-and-scheduling
  MILP of :mod:`.milp` with the sum of task latencies (the model of the ``latency`` kind
  on the same servers, links and pools) and energy and cost as linear functions of the
  placement and arc variables, handed to HiGHS once (:class:`_HighsFront`); between solves
  only three rows' bounds and the objective change. The search region is kept as local
  upper bounds (Klamroth, Lacour and Vanderpooten 2015; the box method of Kirlik and Sayın
  2014 in the form of Dächert and Klamroth 2015): for a bound ``u``, the lexicographic
  optimum under ``f <= u - step`` (least first component, delay when present, then least
  sum of the others, normalised) is a new nondominated point, or the box is empty; each
  point splits the bounds whose box holds it, and the front is complete and proven when no
  bound is left. A box is settled without a MILP when the contention-free relaxation
  (the label DP's front, a valid bound since contention only adds waiting) has no plan in
  it (empty), or when the plans attaining its optima in the box meet no contention under
  their contention-free start order (then they are optimal); otherwise its least delay
  bounds the MILP's delay row from below and its quickest plan in the box is the warm
  start. Rows making the pool-order variables transitive along precedence cut symmetric
  orders. A box whose least first component an explored box already shows is empty is
  skipped.

The epsilon ``step`` is ``1e-6`` of the greedy plan's value of each component (the unit
in which rows and objectives are normalised; HiGHS runs at feasibility 1e-9, relative
gap 1e-9 and absolute gap 1e-10, far below it): two plans closer than that in every
component they improve count as one point. Every plan is re-scored by the simulator,
which must agree with the MILP on energy and cost, be no slower, and equal the MILP's
optimum of the first component.

Every point is proven optimal for its box; the result says ``proven`` false only when a
time limit cut the enumeration short.
"""

from __future__ import annotations

import itertools
import math
import os
import tempfile
import time

import numpy as np

from offloadlab.problem import Problem
from offloadlab.simulator import components

OBJECTIVES = ("delay", "energy", "cost")
UNITS = {"delay": "delay_s", "energy": "energy_j", "cost": "cost_usd"}
BRUTE_MAX = 300_000      # plans the brute force may score
TASK_MAX = 200_000       # plans per task in the decomposition
CHUNK = 20_000
REL_STEP = 1e-6       # epsilon step, in units of the greedy plan's component
HOLD_TOL = 1e-9       # slack of the first component held at its optimum (normalised)


def defined_objectives(problem: Problem) -> tuple[str, ...]:
    """The components the instance's kind defines (ddpqn all three, dmro delay and
    energy, the time kinds delay only)."""
    kind = problem.instance.objective.kind
    return {"ddpqn": OBJECTIVES, "dmro": ("delay", "energy")}.get(kind, ("delay",))


def objective_columns(problem: Problem, names) -> list[int]:
    """Columns of :func:`offloadlab.simulator.components` for ``names``.

    Raises
    ------
    ValueError
        When a name is unknown, repeated, fewer than two are given, or the instance's
        kind does not define the component.
    """
    names = list(names)
    bad = [n for n in names if n not in OBJECTIVES]
    if bad:
        raise ValueError(f"unknown objective {bad[0]!r}; known: {', '.join(OBJECTIVES)}")
    kind = problem.instance.objective.kind
    defined = defined_objectives(problem)
    if len(defined) < 2:
        raise ValueError(f"kind {kind!r} defines only the delay: nothing to trade off")
    missing = [n for n in names if n not in defined]
    if missing:
        raise ValueError(f"objective {missing[0]!r} is not defined for kind {kind!r} "
                         f"(it defines {', '.join(defined)})")
    if len(set(names)) != len(names) or len(names) < 2:
        raise ValueError("give two or three distinct names of "
                         f"{', '.join(defined)}")
    return [OBJECTIVES.index(n) for n in names]


def nondominated(points: np.ndarray) -> np.ndarray:
    """Indices of the nondominated rows of ``points`` (minimised), one per distinct
    point, in lexicographic order.

    In lexicographic order a dominator comes before what it dominates, so each point is
    compared with the points kept so far only.
    """
    points = np.asarray(points, dtype=float)
    if len(points) == 0:
        return np.zeros(0, dtype=np.int64)
    _, first = np.unique(points, axis=0, return_index=True)  # lexicographic order
    keep = [first[0]]
    kept = points[first[:1]]
    for i in first[1:]:
        p = points[i]
        if not (kept <= p).all(axis=1).any():  # distinct, so <= everywhere dominates
            keep.append(i)
            kept = np.vstack([kept, p])
    return np.asarray(keep, dtype=np.int64)


class ParetoError(ValueError):
    """No exact front method applies to this instance."""


def exact_front(problem: Problem, objectives=("delay", "energy", "cost"), *,
                time_limit_s: float | None = None, method: str | None = None) -> dict:
    """The exact Pareto front of ``objectives`` (names of :data:`~.moo.OBJECTIVES`).

    Returns
    -------
    dict
        ``front`` (N, M) sorted lexicographically, ``assign`` (N, L), ``priority`` (N, L),
        ``method``, ``proven`` and ``solves`` (MILPs solved; 0 for enumeration).

    Raises
    ------
    ParetoError
        When no method applies (too large to enumerate, not a chain for the MILP).
    """
    columns = objective_columns(problem, objectives)
    method = method or choose_method(problem, columns)
    started = time.perf_counter()
    if method == "brute-force":
        out = brute_force(problem, columns)
    elif method == "decomposition":
        out = decomposition(problem, columns)
    elif method == "label-dp":
        out = label_front(problem, columns)
    elif method == "epsilon-constraint":
        out = epsilon_constraint(problem, columns, time_limit_s=time_limit_s)
    else:
        raise ParetoError(f"unknown exact front method {method!r}")
    out["method"] = method
    out["wall_s"] = time.perf_counter() - started
    return out


def n_priorities(problem: Problem) -> int:
    """How many priority lists matter: 1 without contention, else the number of linear
    extensions of the layer DAG when every task is a chain (else an upper bound, L!)."""
    if not problem.objective.contention:
        return 1
    sizes = [len(t) for t in problem.task_layers]
    if all(_is_chain_task(problem, t) for t in problem.task_layers):
        return math.factorial(sum(sizes)) // math.prod(math.factorial(n) for n in sizes)
    return math.factorial(problem.n_layers)


def _is_chain_task(problem: Problem, layers) -> bool:
    return all(len(problem.preds(g)) <= 1 for g in layers) and sum(
        1 for g in layers if not len(problem.preds(g))) == 1


def _decomposable(problem: Problem) -> bool:
    return (not problem.objective.contention and not np.isfinite(problem.memory_mb).any()
            and not np.isfinite(problem.deadline_s).any())


def choose_method(problem: Problem, columns=(0, 1, 2)) -> str:
    """``brute-force`` when small enough, else ``decomposition`` when the tasks do not
    interact, else ``label-dp`` for ``ddpqn`` chains without the delay (energy and cost do
    not depend on the schedule), else ``epsilon-constraint`` for chain models."""
    from offloadlab.graph import is_chain

    counts = problem.allowed.sum(axis=1)
    plans = math.prod(int(c) for c in counts)
    if plans * n_priorities(problem) <= BRUTE_MAX:
        return "brute-force"
    if _decomposable(problem):
        per_task = max(math.prod(int(counts[g]) for g in t) for t in problem.task_layers)
        if per_task <= TASK_MAX:
            return "decomposition"
    if 0 not in columns and problem.instance.objective.kind == "ddpqn" and is_chain(problem):
        return "label-dp"
    if is_chain(problem) and problem.objective.contention:
        return "epsilon-constraint"
    raise ParetoError(f"{problem.instance.name}: no exact front: {plans} assignments is too "
                      "many to enumerate and the MILP needs chain models")


# --- enumeration ----------------------------------------------------------------------


def linear_extensions(problem: Problem):
    """Every precedence-respecting order of all layers (a generator)."""
    n = problem.n_layers
    indeg = np.diff(problem.pred_ptr).astype(int)
    order: list[int] = []

    def rec():
        if len(order) == n:
            yield np.array(order, dtype=np.int64)
            return
        for g in range(n):
            if indeg[g] == 0 and g not in placed:
                placed.add(g)
                order.append(g)
                for u in problem.succs[g]:
                    indeg[u] -= 1
                yield from rec()
                for u in problem.succs[g]:
                    indeg[u] += 1
                order.pop()
                placed.discard(g)

    placed: set[int] = set()
    yield from rec()


def _assignments(problem: Problem, layers) -> np.ndarray:
    """Every combination of allowed servers of ``layers``, (K, len(layers))."""
    choices = [problem.allowed_servers(g) for g in layers]
    return np.array(list(itertools.product(*choices)), dtype=np.int64).reshape(-1, len(layers))


def _merge(best, f, assign, priority):
    """Nondominated union of the running front and a new chunk."""
    f_all = np.vstack([best[0], f])
    a_all = np.vstack([best[1], assign])
    p_all = np.vstack([best[2], priority])
    keep = nondominated(f_all)
    return f_all[keep], a_all[keep], p_all[keep]


def brute_force(problem: Problem, columns) -> dict:
    """Every plan (see the module docstring)."""
    n, m = problem.n_layers, len(columns)
    assigns = _assignments(problem, range(n))
    orders = list(linear_extensions(problem)) if problem.objective.contention else \
        [problem.default_priority]
    best = (np.zeros((0, m)), np.zeros((0, n), dtype=np.int64), np.zeros((0, n), dtype=np.int64))
    for order in orders:
        for lo in range(0, len(assigns), CHUNK):
            a = assigns[lo:lo + CHUNK]
            prio = np.broadcast_to(order, a.shape)
            f = components(problem, a, order[None, :])[:, columns]
            ok = np.isfinite(f).all(axis=1)
            if ok.any():
                best = _merge(best, f[ok], a[ok], prio[ok])
    return _result(*best, proven=True, solves=0)


def decomposition(problem: Problem, columns) -> dict:
    """Minkowski sum of per-task fronts (see the module docstring)."""
    from offloadlab.registry import solve

    base = solve(problem, "greedy").assign
    if base is None:
        raise ParetoError(f"{problem.instance.name}: no feasible base plan")
    base_f = components(problem, base)[0, columns]
    if not np.isfinite(base_f).all():
        raise ParetoError(f"{problem.instance.name}: the base plan is infeasible")
    # the running front: offsets to the base value and the assignment that gives them
    front_d = np.zeros((1, len(columns)))
    front_a = base[None, :].copy()
    for layers in problem.task_layers:
        opts = _assignments(problem, layers)
        plans = np.repeat(base[None, :], len(opts), axis=0)
        plans[:, layers] = opts
        f = np.vstack([components(problem, plans[lo:lo + CHUNK])[:, columns]
                       for lo in range(0, len(plans), CHUNK)])
        ok = np.isfinite(f).all(axis=1)
        keep = np.flatnonzero(ok)[nondominated(f[ok])]
        d_task = f[keep] - base_f
        # every pair (front point, task option), then the nondominated ones
        d = (front_d[:, None, :] + d_task[None, :, :]).reshape(-1, len(columns))
        a = np.repeat(front_a, len(keep), axis=0)
        a[:, layers] = np.tile(opts[keep], (len(front_a), 1))
        sel = nondominated(d)
        front_d, front_a = d[sel], a[sel]
    f = components(problem, front_a)[:, columns]  # the simulator's values, not the sums
    assert np.allclose(f, front_d + base_f, rtol=1e-9, atol=1e-9)
    prio = np.broadcast_to(problem.default_priority, front_a.shape)
    keep = nondominated(f)
    return _result(f[keep], front_a[keep], prio[keep], proven=True, solves=0)


def label_front(problem: Problem, columns) -> dict:
    """Energy and cost of ``ddpqn`` chains: sums over arcs that the schedule does not
    change, so the front is the projection of the contention-free (delay, energy, cost)
    front of :class:`_FreeBound` (whose label DP keeps every point a projection needs)."""
    from offloadlab.graph import is_chain

    if 0 in columns or problem.instance.objective.kind != "ddpqn" or not is_chain(problem):
        raise ParetoError("the label DP front is for energy and cost of ddpqn chains")
    free = _FreeBound(problem)
    assign = np.array([free.plan(k) for k in range(len(free.f))])
    prio = np.broadcast_to(problem.default_priority, assign.shape)
    f = components(problem, assign, prio)[:, columns]   # the simulator's values
    assert np.allclose(f, free.f[:, columns], rtol=1e-9, atol=0)
    keep = nondominated(f)
    return _result(f[keep], assign[keep], prio[keep], proven=True, solves=0)


def _result(f, assign, priority, *, proven: bool, solves: int) -> dict:
    order = np.lexsort(f.T[::-1]) if len(f) else np.zeros(0, dtype=np.int64)
    return {"front": f[order], "assign": np.asarray(assign)[order],
            "priority": np.asarray(priority)[order], "proven": proven, "solves": solves}


# --- epsilon-constraint on the MILP -----------------------------------------------------


def latency_twin(problem: Problem) -> Problem:
    """The same instance with the ``latency`` objective: its MILP minimises the sum of task
    latencies on the same servers, links and pools."""
    from offloadlab.instance import Latency

    spec = Latency(kind="latency", return_output=problem.instance.objective.return_output)
    return Problem.from_instance(problem.instance.model_copy(update={"objective": spec}))


def _source(problem: Problem, g: int, s):
    dev = problem.task_device[problem.layer_task[g]]
    return np.full_like(s, dev) if dev >= 0 else s


def component_exprs(m, problem: Problem):
    """Pyomo expressions (delay, energy, cost) of the MILP ``m`` (built on
    :func:`latency_twin`), energy and cost from the ddpqn objective's per-layer formula."""
    from .dp import edge_lag, input_lag

    d = m.data
    obj = problem.objective
    on: dict[int, list[int]] = {}
    for g, s in d.pairs:
        on.setdefault(g, []).append(s)
    energy, cost = 0, 0
    for g in range(problem.n_layers):
        preds = problem.preds(g)
        if not len(preds):
            s = np.array(on[g])
            src = _source(problem, g, s)
            _, _, e, u, _ = obj._layer(g, s, src, problem.exec_s[g, s],
                                       input_lag(problem, g)[s], 0.0, -1)
            energy += sum(float(e[i]) * m.x[g, int(s[i])] for i in range(len(s)))
            cost += sum(float(u[i]) * m.x[g, int(s[i])] for i in range(len(s)))
            continue
        p = int(preds[0])
        pairs = d.arc_pairs[(p, g)]
        a = np.array([x for x, _ in pairs])
        b = np.array([y for _, y in pairs])
        _, _, e, u, _ = obj._layer(g, b, a, problem.exec_s[g, b], edge_lag(problem, p)[a, b],
                                   0.0, p)
        energy += sum(float(e[i]) * m.y[p, g, int(a[i]), int(b[i])] for i in range(len(a)))
        cost += sum(float(u[i]) * m.y[p, g, int(a[i]), int(b[i])] for i in range(len(a)))
    return [m.objective_expr, energy, cost]


def _arc_terms(problem: Problem, g: int) -> tuple[np.ndarray, np.ndarray]:
    """(K, S, 3) contention-free (delay, energy, cost) of chain layer ``g`` per
    (predecessor's server or, for a source, the device: K = 1, server), and the
    predecessor (-1 for a source)."""
    from .dp import edge_lag, input_lag, return_lag

    obj = problem.objective
    s = np.arange(problem.n_servers)
    preds = problem.preds(g)
    if len(preds):
        p = int(preds[0])
        a, b = np.meshgrid(s, s, indexing="ij")
        lag = edge_lag(problem, p)[a, b]
        _, d, e, u, _ = obj._layer(g, b, a, problem.exec_s[g, b], lag, 0.0, p)
    else:
        p = -1
        b = s[None, :]
        lag = input_lag(problem, g)[None, :]
        _, d, e, u, _ = obj._layer(g, b, _source(problem, g, b), problem.exec_s[g, b], lag,
                                   0.0, -1)
    d = d + return_lag(problem, g)[b]
    ok = problem.allowed[g][b] & np.isfinite(lag)
    out = np.stack(np.broadcast_arrays(d, e, u), axis=-1).astype(float)
    out[~ok] = np.inf
    return out, p


def chain_front(problem: Problem, layers) -> tuple[np.ndarray, np.ndarray]:
    """The contention-free (delay, energy, cost) front of one chain task by a
    label-setting DP along the chain (every term is a sum over arcs): (N, 3) values and
    (N, len(layers)) assignments."""
    n_s = problem.n_servers
    labels = None  # per server: (values (K, 3), plans (K, i))
    for i, g in enumerate(layers):
        terms, _ = _arc_terms(problem, g)
        new = []
        for b in range(n_s):
            if labels is None:
                f = terms[0, b][None, :]
                plans = np.zeros((1, 0), dtype=np.int64)
            else:
                f = np.vstack([labels[a][0] + terms[a, b] for a in range(n_s)])
                plans = np.vstack([labels[a][1] for a in range(n_s)])
            ok = np.isfinite(f).all(axis=1)
            f, plans = f[ok], plans[ok]
            keep = nondominated(f)
            new.append((f[keep], np.hstack([plans[keep],
                                            np.full((len(keep), 1), b, dtype=np.int64)])))
        labels = new
    f = np.vstack([v for v, _ in labels])
    plans = np.vstack([a for _, a in labels])
    keep = nondominated(f)
    return f[keep], plans[keep]


def free_order(problem: Problem, assign: np.ndarray) -> np.ndarray:
    """The priority listing layers by their contention-free start times (chains): when
    those starts never overlap on a pool, the list schedule is the contention-free one."""
    from .dp import edge_lag, input_lag
    from .milp import start_order

    start = np.zeros(problem.n_layers)
    for layers in problem.task_layers:
        t = problem.release_s[problem.layer_task[layers[0]]]
        prev = None
        for g in layers:
            s = assign[g]
            t += input_lag(problem, g)[s] if prev is None else edge_lag(problem, prev)[
                assign[prev], s]
            start[g] = t
            t += problem.exec_s[g, s]
            prev = g
    return start_order(problem, start)


def free_plans(problem: Problem, columns, count: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Up to ``count`` plans of the contention-free relaxation spread over its front in
    ``columns``: every point of the tasks' combined front when it is small, else the
    weighted-sum optima of Das-Dennis weight vectors (each task its own optimum, the
    components scaled by their range), each under its contention-free order. Empty when
    the instance has no chain label DP (not ``ddpqn`` chains)."""
    from offloadlab.graph import is_chain

    if problem.instance.objective.kind != "ddpqn" or not is_chain(problem) or count < 1:
        return []
    fronts = [chain_front(problem, layers) for layers in problem.task_layers]
    cols = list(columns)
    try:
        free = _FreeBound(problem, fronts)
        f = free.f[:, cols]
        keep = nondominated(f)
        picks = [free.plan(k) for k in keep]
    except ParetoError:  # too many combinations: weighted sums
        span = sum(fr[:, cols].max(axis=0) - fr[:, cols].min(axis=0) for fr, _ in fronts)
        span = np.where(span > 0, span, 1.0)
        parts = 1
        while _n_weights(len(cols), parts + 1) <= count:
            parts += 1
        from pymoo.util.ref_dirs import get_reference_directions

        picks = []
        for w in get_reference_directions("das-dennis", len(cols), n_partitions=parts):
            w = np.maximum(w, 1e-3) / span
            assign = np.zeros(problem.n_layers, dtype=np.int64)
            for layers, (fr, plans) in zip(problem.task_layers, fronts):
                assign[layers] = plans[int(np.argmin(fr[:, cols] @ w))]
            picks.append(assign)
        picks = list(np.unique(np.array(picks), axis=0))
    if len(picks) > count:  # spread: every k-th along the lexicographic order
        picks = [picks[i] for i in np.linspace(0, len(picks) - 1, count).round().astype(int)]
    return [(a, free_order(problem, a)) for a in picks]


def _n_weights(m: int, parts: int) -> int:
    return math.comb(parts + m - 1, m - 1)


class _FreeBound:
    """The contention-free relaxation of :func:`epsilon_constraint` (the tasks' chains
    alone on every server): the least delay of any plan with energy and cost under given
    bounds is at least its least delay there, and equal when the simulator finds no
    contention in the plan that attains it."""

    MAX_PAIRS = 4_000_000

    def __init__(self, problem: Problem, fronts=None):
        self.problem = problem
        self.fronts = fronts or [chain_front(problem, layers) for layers in problem.task_layers]
        self.layers = problem.task_layers
        f, idx = self.fronts[0][0], np.arange(len(self.fronts[0][0]))[:, None]
        for t in range(1, len(self.fronts)):  # every combination, pruned to the front
            g = self.fronts[t][0]
            if len(f) * len(g) > self.MAX_PAIRS:
                raise ParetoError("contention-free front too large")
            f = (f[:, None, :] + g[None, :, :]).reshape(-1, 3)
            idx = np.hstack([np.repeat(idx, len(g), axis=0),
                             np.tile(np.arange(len(g)), len(idx))[:, None]])
            keep = _nondominated_fast(f)
            f, idx = f[keep], idx[keep]
        self.f, self.idx = f, idx

    def plan(self, k: int) -> np.ndarray:
        assign = np.zeros(self.problem.n_layers, dtype=np.int64)
        for t, layers in enumerate(self.layers):
            assign[layers] = self.fronts[t][1][self.idx[k, t]]
        return assign

    def least(self, first: int, upper: np.ndarray, weights=None) -> int | None:
        """Index of the point least in ``weights @ f`` (default: component ``first``) with
        every component ``<= upper`` (raw), ties by the sum; None if there is none."""
        ok = (self.f <= upper).all(axis=1)
        if not ok.any():
            return None
        cand = np.flatnonzero(ok)
        key = self.f[cand, first] if weights is None else self.f[cand] @ weights
        best = cand[np.flatnonzero(key <= key.min())]
        return int(best[np.argmin(self.f[best].sum(axis=1))])


def _nondominated_fast(points: np.ndarray) -> np.ndarray:
    """:func:`nondominated` for large sets: sorted by the first component, a point is
    kept unless a kept point is no worse in the others (blocks compared at once)."""
    order = np.lexsort(points.T[::-1])
    pts = points[order]
    keep = np.zeros(len(pts), dtype=bool)
    kept = np.zeros((0, pts.shape[1]))
    block = 2048
    for lo in range(0, len(pts), block):
        chunk = pts[lo:lo + block]
        dom = np.zeros(len(chunk), dtype=bool)
        if len(kept):
            for k0 in range(0, len(kept), 4096):
                dom |= (kept[None, k0:k0 + 4096, 1:] <= chunk[:, None, 1:]).all(axis=2).any(
                    axis=1)
        # within the block, sequentially (earlier points come first in the order)
        for i in np.flatnonzero(~dom):
            prior = chunk[:i][keep[lo:lo + i]]
            if len(prior) and (prior[:, 1:] <= chunk[i, 1:]).all(axis=1).any():
                dom[i] = True
            else:
                keep[lo + i] = True
        kept = pts[:lo + len(chunk)][keep[:lo + len(chunk)]]
    return order[keep]


class _HighsFront:
    """The MILP of :func:`latency_twin` handed to HiGHS once, with one row per component;
    each scalarisation only changes the rows' bounds and the objective's coefficients.

    Components are normalised by ``scale`` (the greedy plan's values) in the rows and
    objectives so that HiGHS's tolerances mean the same for seconds, joules and dollars.
    """

    def __init__(self, problem: Problem, columns, deadline: float):
        import highspy
        from pyomo.repn import generate_standard_repn

        from offloadlab.streams import stdout_to_stderr

        from offloadlab.graph import is_chain

        from .milp import build_placement_milp

        self.problem, self.deadline = problem, deadline
        self.order = sorted(columns)           # lexicographic order: delay first
        self.m = m = build_placement_milp(latency_twin(problem))
        exprs = component_exprs(m, problem)
        greedy = _greedy_components(problem)
        self.scale = np.where(greedy > 0, greedy, 1.0)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "model.lp")
            _, smap_id = m.write(path, io_options={"symbolic_solver_labels": True})
            symbols = m.solutions.symbol_map[smap_id].bySymbol
            with stdout_to_stderr():  # HiGHS prints its banner on creation
                self.h = h = highspy.Highs()
            h.setOptionValue("output_flag", False)
            h.readModel(path)
        names = list(h.getLp().col_names_)
        self.vars = [symbols[n] for n in names]
        index = {id(v): i for i, v in enumerate(self.vars)}
        self.n_col = len(names)
        self.coef = np.zeros((3, self.n_col))   # normalised component = coef @ x + const
        self.const = np.zeros(3)
        for c in range(3):
            repn = generate_standard_repn(exprs[c], compute_values=True)
            for v, a in zip(repn.linear_vars, repn.linear_coefs):
                self.coef[c, index[id(v)]] += float(a) / self.scale[c]
            self.const[c] = float(repn.constant) / self.scale[c]
        self._order_cuts(index)
        self.row0 = h.getNumRow()
        for c in range(3):
            nz = np.flatnonzero(self.coef[c])
            h.addRow(-highspy.kHighsInf, highspy.kHighsInf, len(nz), nz.astype(np.int32),
                     self.coef[c, nz])
        for name, value in (("mip_rel_gap", 1e-9), ("mip_abs_gap", 1e-10),
                            ("primal_feasibility_tolerance", 1e-9),
                            ("mip_feasibility_tolerance", 1e-9), ("threads", 1),
                            ("random_seed", 0)):
            h.setOptionValue(name, value)
        highspy.Highs.resetGlobalScheduler(True)
        self.solves = 0
        self.free_hits = 0
        self.free = None
        if 0 in columns and is_chain(problem):
            try:
                self.free = _FreeBound(problem)
            except ParetoError:
                pass
        self.x = None                           # the last solution: the next warm start

    def _order_cuts(self, index: dict) -> None:
        """Rows making the pool-order variables transitive along precedence: when ``a``
        runs before ``b``, ``a``'s predecessors and ``b``'s successors do too. Valid
        because any schedule gives every pair its order by (start, index) and layers
        take positive time; they remove fractional and symmetric orders."""
        problem, m, h = self.problem, self.m, self.h
        if not hasattr(m, "o") or not len(m.O) or (problem.exec_s[problem.allowed] <= 0).any():
            return
        pairs = set(m.O)

        def before(a, b):   # (column, sign, constant) of "a before b"
            if (a, b) in pairs:
                return index[id(m.o[a, b])], 1.0, 0.0
            if (b, a) in pairs:
                return index[id(m.o[b, a])], -1.0, 1.0
            return None

        rows = set()
        for i, j in pairs:
            for a, b in ((i, j), (j, i)):
                here = before(a, b)
                for later in [before(p, b) for p in problem.preds(a)] + \
                        [before(a, s) for s in problem.succs[b]]:
                    if later is not None:   # later >= here
                        rows.add((later, here))
        for (c1, s1, k1), (c2, s2, k2) in sorted(rows):
            h.addRow(k2 - k1, highspy_inf(), 2, np.array([c1, c2], dtype=np.int32),
                     np.array([s1, -s2]))

    def _bound(self, c: int, upper: float, lower: float = -np.inf) -> None:
        import highspy

        hi = upper - self.const[c] if np.isfinite(upper) else highspy.kHighsInf
        lo = lower - self.const[c] if np.isfinite(lower) else -highspy.kHighsInf
        self.h.changeRowBounds(self.row0 + c, lo, hi)

    def _plan_values(self, assign, priority) -> np.ndarray:
        """The columns' values of a plan's simulated schedule (a warm start)."""
        from .milp import set_plan_values

        set_plan_values(self.m, assign, priority)
        return np.array([v.value if v.value is not None else 0.0 for v in self.vars])

    def _minimise(self, weights: np.ndarray) -> str:
        """Minimise ``weights @ normalised components``; the status."""
        import highspy

        h = self.h
        cost = weights @ self.coef
        h.changeColsCost(self.n_col, np.arange(self.n_col, dtype=np.int32), cost)
        left = self.deadline - time.perf_counter()
        if left <= 0:
            return "time_limit"
        h.setOptionValue("time_limit", float(min(left, 1e7)))
        if self.x is not None:
            sol = highspy.HighsSolution()
            sol.col_value = list(self.x)
            sol.value_valid = True
            h.setSolution(sol)
        from offloadlab.streams import stdout_to_stderr

        with stdout_to_stderr():
            h.run()
        self.solves += 1
        status = h.getModelStatus()
        ms = highspy.HighsModelStatus
        if status == ms.kInfeasible:
            return "infeasible"
        if status != ms.kOptimal:
            return "time_limit" if status == ms.kTimeLimit else f"error: {status}"
        self.x = np.array(h.getSolution().col_value)
        return "optimal"

    def lexmin(self, upper: np.ndarray) -> tuple[str, np.ndarray | None, tuple | None]:
        """The lexicographic optimum with every normalised component ``<= upper``:
        minimise the first of :attr:`order`, then the sum of the others with the first
        held at its optimum. Returns (status, simulator components (raw), plan)."""
        from .milp import read_plan

        first, rest = self.order[0], self.order[1:]
        for c in range(3):
            self._bound(c, upper[c])
        shortcut = self._free_lexmin(upper) if self.free is not None and first == 0 \
            else None
        if shortcut is not None:
            if shortcut[0] != "stage 2":
                return shortcut
            best = shortcut[1]
        else:
            w = np.zeros(3)
            w[first] = 1.0
            status = self._minimise(w)
            if status != "optimal":
                return status, None, None
            best = float(self.coef[first] @ self.x + self.const[first])
        self._bound(first, best + HOLD_TOL * max(1.0, abs(best)))
        w = np.zeros(3)
        w[rest] = 1.0
        status = self._minimise(w)
        if status != "optimal":
            return status, None, None
        for v, value in zip(self.vars, self.x):
            v.set_value(float(value), skip_validation=True)
        assign, priority = read_plan(self.m)
        f = components(self.problem, assign, priority)[0]
        milp = (self.coef @ self.x + self.const) * self.scale
        _check(self.problem, f, milp, first, best * self.scale[first])
        return "optimal", f, (assign, priority)

    def _incumbent(self, raw: np.ndarray) -> np.ndarray:
        """The warm start of a box: of the relaxation's plans in the box, under their
        contention-free order, the one the simulator finds quickest."""
        free, pb = self.free, self.problem
        cand = np.flatnonzero((free.f <= raw).all(axis=1))
        plans = np.array([free.plan(k) for k in cand])
        prios = np.array([free_order(pb, a) for a in plans])
        delay = components(pb, plans, prios)[:, 0]
        best = int(np.argmin(delay))
        return self._plan_values(plans[best], prios[best])

    def _free_lexmin(self, upper: np.ndarray):
        """The box through the contention-free relaxation: ``("infeasible", None, None)``
        when even it has no plan there; the lexicographic optimum when the plans attaining
        the relaxation's optima meet no contention in the simulator; else
        ``("stage 2", least delay)`` when only the first stage is settled, or None, with
        the relaxation's least delay as the delay row's lower bound."""
        free, pb = self.free, self.problem
        raw = upper * self.scale
        k = free.least(0, raw)
        if k is None:
            return "infeasible", None, None
        low = free.f[k, 0] / self.scale[0]
        self._bound(0, upper[0], low - HOLD_TOL * max(1.0, abs(low)))
        assign = free.plan(k)
        prio = free_order(pb, assign)
        f = components(pb, assign, prio)[0]
        if f[0] > free.f[k, 0] + HOLD_TOL * max(1.0, free.f[k, 0]):
            self.x = self._incumbent(raw)
            return None                          # contention: the MILP decides
        best = f[0] / self.scale[0]
        self.x = self._plan_values(assign, prio)
        hold = raw.copy()
        hold[0] = f[0] * (1 + HOLD_TOL)
        w = np.zeros(3)
        w[self.order[1:]] = 1.0 / self.scale[self.order[1:]]
        k2 = free.least(0, hold, weights=w)
        assign2 = free.plan(k2)
        prio2 = free_order(pb, assign2)
        f2 = components(pb, assign2, prio2)[0]
        if f2[0] <= hold[0]:
            self.free_hits += 1
            return "optimal", f2, (assign2, prio2)
        return "stage 2", best

def highspy_inf() -> float:
    import highspy

    return highspy.kHighsInf


def _greedy_components(problem: Problem) -> np.ndarray:
    from offloadlab.registry import solve

    sol = solve(problem, "greedy")
    return np.abs(components(problem, sol.assign, sol.priority)[0])


def _check(problem: Problem, sim: np.ndarray, milp: np.ndarray, first: int,
           best: float) -> None:
    """The simulator agrees with the MILP on energy and cost, is no slower, and its value
    of the scalarised component is the MILP's optimum ``best`` (all raw units)."""
    tol = 1e-6 * np.maximum(1.0, np.abs(milp))
    if abs(sim[1] - milp[1]) > tol[1] or abs(sim[2] - milp[2]) > tol[2] \
            or sim[0] > milp[0] + tol[0] or abs(sim[first] - best) > tol[first]:
        raise RuntimeError(f"{problem.instance.name}: simulator {sim.tolist()} disagrees "
                           f"with the MILP {milp.tolist()} (optimum {best:.9g} of component "
                           f"{first})")


def split_upper_bounds(upper: list[np.ndarray], z: np.ndarray, step: np.ndarray
                       ) -> list[np.ndarray]:
    """Local upper bounds after a new point ``z`` (Klamroth, Lacour and Vanderpooten,
    2015): every bound ``u`` whose box ``{y <= u - step}`` holds ``z`` is replaced by
    ``(z_j, u_-j)`` for each j; bounds below another one are redundant and dropped."""
    hit = [u for u in upper if (z <= u - step / 2).all()]
    if not hit:
        return upper
    keep = [u for u in upper if not (z <= u - step / 2).all()]
    new = []
    for u in hit:
        for j in range(len(z)):
            v = u.copy()
            v[j] = z[j]
            new.append(v)
    out = keep
    for v in new:
        # redundant: another bound is at least as large everywhere
        if any((v <= w).all() for w in out + new if w is not v and not (w == v).all()):
            continue
        if any((w == v).all() for w in out):
            continue
        out.append(v)
    return out


def box_search(oracle, step: np.ndarray) -> tuple[list, bool]:
    """Every nondominated point by local upper bounds (see the module docstring).

    ``oracle(v)`` returns ``(status, z, extra)``: ``"optimal"`` with the lexicographic
    optimum ``z`` (least ``z[0]``, then nondominated) of the points ``<= v``,
    ``"infeasible"`` when there is none, anything else to stop. Returns the ``(z, extra)``
    found and whether the search finished.
    """
    upper = [np.full(len(step), np.inf)]
    found = []
    # (u, a value the first component of every point in u's box, and of every point with
    # the others <= u[1:] - step but the first above u[0], exceeds): a box below one of
    # these in every other component and with u[0] <= that value is empty
    explored: list[tuple[np.ndarray, float]] = []
    while upper:
        u = upper.pop()
        if any((u[1:] <= v[1:]).all() and u[0] <= least for v, least in explored):
            continue
        status, z, extra = oracle(u - step)
        if status == "infeasible":
            # empty: a point with the others in range has its first component above u[0]
            explored.append((u, u[0]))
            continue
        if status != "optimal":
            return found, False
        explored.append((u, z[0]))
        found.append((z, extra))
        upper = split_upper_bounds(upper + [u], z, step)
    return found, True


def epsilon_constraint(problem: Problem, columns, *, time_limit_s: float | None = None) -> dict:
    """The front by epsilon-constraint over local upper bounds (see the module
    docstring)."""
    if problem.instance.objective.kind != "ddpqn":
        raise ParetoError("the epsilon-constraint front is written for ddpqn instances")
    deadline = time.perf_counter() + (time_limit_s if time_limit_s is not None else np.inf)
    model = _HighsFront(problem, columns, deadline)
    order = model.order

    def oracle(u):
        bounds = np.full(3, np.inf)
        bounds[order] = u
        status, f, plan = model.lexmin(bounds)
        return status, (None if f is None else f[order] / model.scale[order]), (f, plan)

    found, complete = box_search(oracle, np.full(len(order), REL_STEP))
    points = [extra for _, extra in found]
    n = problem.n_layers
    f = np.array([p[0][columns] for p in points]).reshape(-1, len(columns))
    assign = np.array([p[1][0] for p in points], dtype=np.int64).reshape(-1, n)
    prio = np.array([p[1][1] for p in points], dtype=np.int64).reshape(-1, n)
    keep = nondominated(f) if len(f) else np.zeros(0, dtype=np.int64)
    return _result(f[keep], assign[keep], prio[keep], proven=complete, solves=model.solves)

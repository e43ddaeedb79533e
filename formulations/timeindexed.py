"""A time-indexed MILP for ``deadline`` and ``latency`` slots (HiGHS through highspy):
exact precedence and objective, bucketed capacities.

Variables: ``y[l, s, j] = 1`` when layer ``l`` runs on server ``s`` and starts in bucket
``j`` (``[j delta, (j + 1) delta)``), only inside the layer's window (from the release plus
its contention-free head to the release plus the task's latency cap minus its tail);
a continuous start ``S_l`` inside the chosen bucket; arc flows ``w[p, l, a, b]`` (``p`` on
``a`` and ``l`` on ``b``) that price each transfer lag exactly; a continuous end ``E_t``.

    min  sum_t E_t - r_t
    s.t. sum_{s, j} y[l, s, j] = 1                       (one server and bucket)
         sum_j j delta y[l, ., j] <= S_l <= sum_j (j + 1) delta y[l, ., j]
         S_l >= S_p + sum_{a, b} (d[p, a] + lag[a, b]) w[p, l, a, b]   (precedence)
         sum_b w[p, l, a, b] = sum_j y[p, a, j],  sum_a w[p, l, a, b] = sum_j y[l, b, j]
         S_l >= r_t + sum input_lag[s] y[l, s, j]           (sources)
         E_t >= S_l + sum (d[l, s] + return[s]) y[l, s, j]  (sinks)
         r_t + lb_t <= E_t <= r_t + cap_t                   (deadline, incumbent cap)
         sum_{l, j : j <= k < j + q[l, s]} y[l, s, j] <= pools_s   (each bucket k of each
                                                               contended server s)

with ``q[l, s] = floor(d[l, s] / delta)``.

Why it is a relaxation (its bound is valid). Take any feasible schedule in which every
task meets its cap, and set ``j = floor(S / delta)``, the real ``S``, ``E`` and the used
(a, b) pairs. Every row but the capacity holds with the real values (precedence,
transfer lags and the objective are exact, not rounded). Capacity: two layers that follow
each other in one slot of ``s`` have ``S_b >= S_a + d_a``, so ``j_b >= floor((S_a + d_a)
/ delta) >= j_a + q_a``: the rounded occupations ``[j, j + q)`` of one slot are disjoint,
and at most ``pools_s`` cover any bucket. The caps: a plan better than the incumbent
``UB`` has every latency at most ``UB - sum of the other tasks' contention-free
latencies``; so ``min(UB, dual bound)`` is a lower bound on the optimum, and when the
model is infeasible with deadline caps alone no plan meets every deadline.

The plan read back (servers, layers listed by ``S``) is scored by the simulator, the
single source of truth; it is proven optimal when its value meets the bound.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from offloadlab.problem import Problem
from offloadlab.simulator import simulate

from .dp import edge_lag, input_lag, path_bound, return_lag, time_bounds

KINDS = ("latency", "deadline")


@dataclass
class TimeIndexedResult:
    """Outcome of :func:`solve_time_indexed`.

    Attributes
    ----------
    status : str
        ``optimal`` (the plan's simulated value meets the bound), ``infeasible`` (proven:
        no plan meets every deadline), ``bound`` (a bound, with or without a better plan),
        ``none`` (HiGHS found neither within the limit).
    bound : float
        Proven lower bound on the objective (inf when infeasible, -inf without one).
    assign, priority, objective
        The model's plan scored by the simulator (None / inf without one).
    delta_s : float
    columns : int
        Start variables ``y`` in the model.
    mip_status : str
        HiGHS's model status.
    """

    status: str
    bound: float
    assign: np.ndarray | None = None
    priority: np.ndarray | None = None
    objective: float = math.inf
    delta_s: float = 0.0
    columns: int = 0
    mip_status: str = ""
    wall_s: float = 0.0


class _Builder:
    """Rows and columns of a sparse model, row-wise."""

    def __init__(self):
        self.lo, self.hi, self.cost, self.integer = [], [], [], []
        self.rows = []   # (lower, upper, {col: coef})

    def col(self, lo, hi, cost=0.0, integer=False) -> int:
        self.lo.append(float(lo))
        self.hi.append(float(hi))
        self.cost.append(float(cost))
        self.integer.append(integer)
        return len(self.lo) - 1

    def row(self, lo, hi, coefs: dict) -> None:
        self.rows.append((float(lo), float(hi), coefs))

    def highs(self, offset: float):
        import highspy

        from offloadlab.streams import stdout_to_stderr

        lp = highspy.HighsLp()
        lp.num_col_ = len(self.lo)
        lp.num_row_ = len(self.rows)
        lp.col_cost_ = np.array(self.cost)
        lp.col_lower_ = np.array(self.lo)
        lp.col_upper_ = np.array(self.hi)
        lp.offset_ = float(offset)
        lp.row_lower_ = np.array([r[0] for r in self.rows])
        lp.row_upper_ = np.array([r[1] for r in self.rows])
        start, index, value = [0], [], []
        for _, _, coefs in self.rows:
            for c, v in coefs.items():
                index.append(c)
                value.append(v)
            start.append(len(index))
        lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
        lp.a_matrix_.start_ = np.array(start, dtype=np.int32)
        lp.a_matrix_.index_ = np.array(index, dtype=np.int32)
        lp.a_matrix_.value_ = np.array(value)
        lp.integrality_ = [highspy.HighsVarType.kInteger if i
                           else highspy.HighsVarType.kContinuous for i in self.integer]
        with stdout_to_stderr():   # HiGHS prints its banner on creation
            h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        h.passModel(lp)
        return h


def _add(coefs: dict, col: int, value: float) -> None:
    coefs[col] = coefs.get(col, 0.0) + value


def build(problem: Problem, cap: np.ndarray, delta: float):
    """The model (see the module docstring) as a :class:`_Builder` and its handles, or
    None when some layer has no start window (no plan within the caps)."""
    from .lagrangian import contended_servers

    head, tail = time_bounds(problem)
    lb_t = path_bound(problem).task_value
    rel = problem.release_s
    t_of = problem.layer_task
    m = _Builder()
    y = {}          # (g, s) -> (first bucket, [cols])
    w = {}          # (p, g, a, b) -> col
    start = np.zeros(problem.n_layers, dtype=np.int64)
    for g in range(problem.n_layers):
        t = t_of[g]
        windows = {}
        for s in np.flatnonzero(problem.allowed[g]):
            lo = rel[t] + head[g, s]
            hi = rel[t] + cap[t] - tail[g, s]
            if not (np.isfinite(lo) and np.isfinite(hi)) or hi < lo - 1e-12:
                continue
            windows[int(s)] = (lo, hi)
        if not windows:
            return None
        s_lo = min(w[0] for w in windows.values())
        s_hi = max(w[1] for w in windows.values())
        start[g] = m.col(s_lo, s_hi)
        one, low, high = {}, {start[g]: 1.0}, {start[g]: 1.0}
        for s, (lo, hi) in windows.items():
            j0, j1 = int(math.floor(lo / delta)), int(math.floor(hi / delta))
            cols = [m.col(0, 1, integer=True) for _ in range(j1 - j0 + 1)]
            y[g, s] = (j0, cols)
            for k, c in enumerate(cols):
                one[c] = 1.0
                low[c] = -(j0 + k) * delta
                high[c] = -(j0 + k + 1) * delta
        m.row(1, 1, one)
        m.row(0, math.inf, low)
        m.row(-math.inf, 0, high)
    on = {g: [s for (h, s) in y if h == g] for g in range(problem.n_layers)}
    ends = [m.col(rel[t] + lb_t[t], rel[t] + cap[t], cost=1.0)
            for t in range(problem.n_tasks)]

    def x(g, s, coef, coefs):   # coef * (layer g on server s)
        for c in y[g, s][1]:
            _add(coefs, c, coef)

    for g in range(problem.n_layers):
        t = t_of[g]
        preds = problem.preds(g)
        if not len(preds):
            lag = input_lag(problem, g)
            coefs = {start[g]: 1.0}
            for s in on[g]:
                x(g, s, -lag[s], coefs)
            m.row(rel[t], math.inf, coefs)
        for p in preds:
            p = int(p)
            lag = edge_lag(problem, p)
            out_a = {a: {} for a in on[p]}
            in_b = {b: {} for b in on[g]}
            prec = {start[g]: 1.0, start[p]: -1.0}
            for a in on[p]:
                for b in on[g]:
                    if not math.isfinite(lag[a, b]):
                        continue
                    c = m.col(0, 1)
                    w[p, g, a, b] = c
                    out_a[a][c] = 1.0
                    in_b[b][c] = 1.0
                    prec[c] = -(problem.exec_s[p, a] + lag[a, b])
            for a, coefs in out_a.items():
                x(p, a, -1.0, coefs)
                m.row(0, 0, coefs)
            for b, coefs in in_b.items():
                x(g, b, -1.0, coefs)
                m.row(0, 0, coefs)
            m.row(0, math.inf, prec)
        if problem.is_sink[g]:
            ret = return_lag(problem, g)
            coefs = {ends[t]: 1.0, start[g]: -1.0}
            for s in on[g]:
                x(g, s, -(problem.exec_s[g, s] + ret[s]), coefs)
            m.row(0, math.inf, coefs)
    mem = problem.param_mb + problem.out_mb   # the simulator's memory rule
    for s in np.flatnonzero(np.isfinite(problem.memory_mb)):
        coefs = {}
        for g in range(problem.n_layers):
            if (g, int(s)) in y:
                x(g, int(s), float(mem[g]), coefs)
        if coefs:
            m.row(-math.inf, float(problem.memory_mb[s]) * (1 + 1e-9), coefs)
    for s in np.flatnonzero(contended_servers(problem)):
        s = int(s)
        per_bucket: dict = {}
        for (g, b), (j0, cols) in y.items():
            q = int(math.floor(problem.exec_s[g, b] / delta + 1e-9))
            if b != s or q < 1:
                continue
            # started by bucket k: cum[k - j0] = y[j0] + ... + y[k] (few nonzeros per row)
            cum = []
            for k, c in enumerate(cols):
                cum.append(m.col(0, 1))
                coefs = {cum[-1]: 1.0, c: -1.0}
                if k:
                    coefs[cum[-2]] = -1.0
                m.row(0, 0, coefs)
            last = len(cols) - 1
            # running in bucket u: started in (u - q, u]
            for u in range(j0, j0 + last + q + 1):
                row = per_bucket.setdefault(u, {})
                _add(row, cum[min(u - j0, last)], 1.0)
                if u - q >= j0:
                    _add(row, cum[min(u - q - j0, last)], -1.0)
        for coefs in per_bucket.values():
            coefs = {c: v for c, v in coefs.items() if v != 0.0}
            if coefs:
                m.row(-math.inf, float(problem.pools[s]), coefs)
    return m, {"y": y, "w": w, "start": start, "ends": ends, "on": on}


def _plan_values(problem: Problem, handles, n_cols: int, delta: float, assign, priority):
    """Column values of a simulated plan (a MIP start); None if it leaves the windows."""
    ev = simulate(problem, assign, priority)
    if not np.isfinite(ev.objective[0]):
        return None
    s_start = ev.start_s[0]
    vals = np.zeros(n_cols)
    for g in range(problem.n_layers):
        key = (g, int(assign[g]))
        if key not in handles["y"]:
            return None
        j0, cols = handles["y"][key]
        k = int(math.floor(s_start[g] / delta)) - j0
        if not 0 <= k < len(cols):
            return None
        vals[cols[k]] = 1.0
        vals[handles["start"][g]] = s_start[g]
        for p in problem.preds(g):
            col = handles["w"].get((int(p), g, int(assign[p]), int(assign[g])))
            if col is None:
                return None
            vals[col] = 1.0
    for t, col in enumerate(handles["ends"]):
        vals[col] = problem.release_s[t] + ev.latency_s[0][t]
    return vals


def solve_time_indexed(problem: Problem, *, upper: float | None = None, plan=None,
                       time_limit_s: float = 30.0, delta_s: float | None = None,
                       max_columns: int = 40_000, threads: int = 1,
                       seed: int = 0, log: bool = False) -> TimeIndexedResult:
    """Build and solve the time-indexed MILP.

    Parameters
    ----------
    upper : float, optional
        Objective of a feasible plan: caps every task's latency (else the deadlines,
        which must then be finite).
    plan : (assign, priority), optional
        A plan handed to HiGHS as its first incumbent.
    delta_s : float, optional
        Bucket length; default the shortest that keeps at most ``max_columns`` start
        variables (rounded to 1, 2 or 5 times a power of ten).
    """
    import highspy

    from .milp import start_order
    from .windowed import latency_caps

    started = time.perf_counter()
    kind = problem.instance.objective.kind
    if kind not in KINDS:
        raise ValueError(f"the time-indexed model covers {KINDS}, not {kind!r}")
    pb = path_bound(problem)
    if not np.isfinite(pb.bound):
        return TimeIndexedResult("infeasible", math.inf, mip_status=pb.reason)
    cap = latency_caps(problem, upper)
    if not np.isfinite(cap).all():
        raise ValueError("the time-indexed model needs an incumbent or finite deadlines")
    has_upper = upper is not None and math.isfinite(upper)
    delta = delta_s or _bucket(problem, cap, max_columns)
    built = build(problem, cap, delta)
    if built is None:   # some layer has no window: nothing within the caps
        if has_upper:
            return TimeIndexedResult("bound", float(upper), delta_s=delta)
        return TimeIndexedResult("infeasible", math.inf, delta_s=delta,
                                 mip_status="a layer has no start window within its "
                                            "deadline")
    m, h = built
    highs = m.highs(-float(problem.release_s.sum()))
    highspy.Highs.resetGlobalScheduler(True)
    highs.setOptionValue("threads", int(threads))
    highs.setOptionValue("output_flag", bool(log))
    highs.setOptionValue("random_seed", int(seed))
    highs.setOptionValue("mip_rel_gap", 1e-7)
    highs.setOptionValue("primal_feasibility_tolerance", 1e-9)
    highs.setOptionValue("mip_feasibility_tolerance", 1e-9)
    left = time_limit_s - (time.perf_counter() - started)
    highs.setOptionValue("time_limit", max(0.05, left))
    if plan is not None:
        vals = _plan_values(problem, h, len(m.lo), delta, *plan)
        if vals is not None:
            sol = highspy.HighsSolution()
            sol.col_value = list(vals)
            sol.value_valid = True
            highs.setSolution(sol)
    from offloadlab.streams import stdout_to_stderr

    with stdout_to_stderr():   # the log, when asked for, goes to stderr
        highs.run()
    status = highs.getModelStatus()
    info = highs.getInfo()
    ms = highspy.HighsModelStatus
    n_y = sum(len(c) for _, c in h["y"].values())
    res = TimeIndexedResult("none", -math.inf, delta_s=delta, columns=n_y,
                            mip_status=highs.modelStatusToString(status))
    if status == ms.kInfeasible:
        res.status = "bound" if has_upper else "infeasible"
        res.bound = float(upper) if has_upper else math.inf
        res.wall_s = time.perf_counter() - started
        return res
    bound = float(info.mip_dual_bound)
    if math.isfinite(bound):
        res.bound = min(float(upper), bound) if has_upper else bound
        res.status = "bound"
    if info.primal_solution_status == 2:
        vals = np.asarray(highs.getSolution().col_value)
        assign = np.full(problem.n_layers, -1, dtype=np.int64)
        for (g, s), (_, cols) in h["y"].items():
            if vals[cols].sum() > 0.5:
                assign[g] = s
        prio = start_order(problem, vals[h["start"]])
        value = float(simulate(problem, assign, prio).objective[0])
        res.assign, res.priority, res.objective = assign, prio, value
        if math.isfinite(res.bound) and value <= res.bound + 1e-9 * max(1.0, abs(value)):
            res.status = "optimal"
    res.wall_s = time.perf_counter() - started
    return res


def _bucket(problem: Problem, cap: np.ndarray, max_columns: int) -> float:
    """The shortest of 1, 2, 5 x 10^k seconds keeping at most ``max_columns`` starts."""
    head, tail = time_bounds(problem)
    span = 0.0
    for g in range(problem.n_layers):
        t = problem.layer_task[g]
        width = cap[t] - head[g] - tail[g]
        span += float(np.where(problem.allowed[g] & np.isfinite(width),
                               np.maximum(width, 0.0), 0.0).sum())
    raw = span / max(1, max_columns)
    for k in range(-7, 2):
        for f in (1, 2, 5):
            if f * 10.0 ** k >= raw:
                return f * 10.0 ** k
    return 100.0

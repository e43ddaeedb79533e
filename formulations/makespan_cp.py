"""CP-SAT for P|prec|Cmax in integer time units: one DAG on m identical one-slot
servers without data, where every processing time is a multiple of the unit.

The core is a start per layer, the precedence arcs and one ``cumulative`` of unit
demands and capacity m. That loses nothing: the intervals of a schedule that never runs
more than m layers at once form an interval graph of clique number at most m, which is
m-colourable (by start, each layer on the server free longest), so every cumulative
schedule is a schedule on the m servers and the two models have the same optimum. Over
it (by default) a server per layer with one no-overlap per server, whose disjunctive
reasoning proves small pieces at once where the cumulative alone takes seconds.
Minimising the makespan with the best plan's value minus one unit as its upper end and a
proven bound as its lower end: INFEASIBLE proves the plan optimal, OPTIMAL gives the
optimum and its schedule, a solution alone is a better plan.

A DAG may be cut at its bottlenecks (layers comparable with all others): the optimum is
then the sum of the pieces' optima (:func:`segments`),
so the model takes a piece: its layers, the arcs among them, time 0 at its start.

Asked for one makespan alone (lower end = upper end), the model has no objective: a
question of feasibility, where a piece whose optimum is its bound is found at once
(:func:`prove_by_pieces` asks that first). Without CP-SAT's LP relaxation the search
runs faster and finds packings and shorter plans sooner; with it small pieces are
proven sooner: :func:`prove_by_pieces` asks for the bound alone without it and
searches the range with it (on request, without it first).

Redundant parts, each implied by the model, that help the search: start domains from
integer heads and tails (:func:`heads_tails`) narrowed by energetic reasoning at the
upper end (:func:`energetic_starts`), the cumulative's edge finding and overload checks
with precedences, and per server the work bounds of the time windows of least slack
(:func:`tight_windows`: all servers together idle at most the slack inside, so each
one does; no window holds more than the whole schedule's idle time, which makes every
window nearly full near a perfect packing). Every start and span may be taken on the grid
(left-shifting a schedule keeps it feasible and puts every start on a sum of
durations), so every bound is rounded up to it.
"""

from __future__ import annotations

import math
import time

import numpy as np

# per-server work bounds of the windows of least slack that prove_by_pieces adds
# (measured: 3 of 4 small generated DAGs whose optimum is above the bounds proven in
# 0.5-2.2 s, none in 15 s without; docs/decoders.md)
WINDOWS = 10
# share of a piece's time for a makespan at its bound alone, before the range up to the
# plan's span (measured: dag-random-50n-4p-s1's optimum at the bound in 0.7 s that way,
# none in 30 s over the range; docs/decoders.md)
PROBE = 1 / 2


def identical_servers(problem) -> int:
    """The number of servers m; ValueError outside P|prec|Cmax: one DAG task without a
    device on identical one-slot servers, no data on the arcs, memory for every layer on
    any server."""
    mem_mb = float((problem.param_mb + problem.out_mb).sum())
    if (problem.instance.objective.kind != "makespan" or problem.n_tasks != 1
            or (problem.task_device >= 0).any()
            or not problem.allowed.all() or (problem.pools != 1).any()
            or np.ptp(problem.ghz) > 0 or (problem.out_mb > 0).any()
            or mem_mb > problem.memory_mb.min()):
        raise ValueError(f"{problem.instance.name}: not one DAG on identical one-slot "
                         "servers without data")
    return int(problem.n_servers)


def integer_durations(problem, unit_s: float = 1e-3) -> np.ndarray:
    """Processing time of every layer in ``unit_s`` units; ValueError off the grid or
    outside P|prec|Cmax (:func:`identical_servers`)."""
    identical_servers(problem)
    dur = np.round(problem.exec_s[:, 0] / unit_s).astype(np.int64)
    if np.abs(dur * unit_s - problem.exec_s[:, 0]).max() > 1e-9:
        raise ValueError(f"{problem.instance.name}: processing times off the "
                         f"{unit_s:g} s grid")
    return dur


def piece(problem, layers: np.ndarray, unit_s: float = 1e-3):
    """(durations, local predecessor lists) of the sub-DAG of ``layers`` (ascending,
    so topological), arcs to other layers dropped."""
    return _sub(integer_durations(problem, unit_s), predecessors(problem), layers)


def predecessors(problem) -> list[list[int]]:
    """The predecessor list of every layer (plain ints, for a child process)."""
    return [[int(p) for p in problem.preds(g)] for g in range(problem.n_layers)]


def _sub(dur: np.ndarray, preds: list, layers: np.ndarray):
    """(durations, local predecessor lists) of the sub-DAG of ``layers``."""
    layers = np.sort(np.asarray(layers))
    local = {int(g): i for i, g in enumerate(layers)}
    return dur[layers], [[local[p] for p in preds[int(g)] if p in local] for g in layers]


def segments(problem) -> list[np.ndarray]:
    """The layers cut at *bottlenecks* (layers comparable with every other: each other
    layer is an ancestor or a descendant), in order: [segment, bottleneck, segment, …]
    with empty segments left out. Every layer of a segment runs after the bottleneck
    before it and before the one after it, so an optimal schedule is the optimal
    schedules of the segments and the bottlenecks one after the other."""
    n = problem.n_layers
    anc = np.zeros((n, n), dtype=bool)
    for g in range(n):   # layers are in topological order
        for p in problem.preds(g):
            anc[g] |= anc[int(p)]
            anc[g, int(p)] = True
    related = anc | anc.T | np.eye(n, dtype=bool)
    cuts = np.flatnonzero(related.all(axis=1))
    out, rank = [], anc.sum(axis=1)
    prev = np.zeros(n, dtype=bool)   # layers placed so far
    for b in cuts[np.argsort(rank[cuts], kind="stable")]:
        seg = np.flatnonzero(anc[b] & ~prev)
        if len(seg):
            out.append(seg)
        out.append(np.array([b]))
        prev |= anc[b]
        prev[b] = True
    if (~prev).any():
        out.append(np.flatnonzero(~prev))
    return out


def plan_from_starts(problem, start_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(assign, priority) of a schedule given by start times: layers by start, each on
    the server that has been free longest (interval-graph colouring: never more than m
    layers overlap, so a server is always free). Simulating it in that order starts no
    layer later than ``start_s``.

    Raises
    ------
    ValueError
        When more than m layers overlap at some time, or outside P|prec|Cmax.
    """
    m = identical_servers(problem)
    dur = problem.exec_s[:, 0]
    order = np.lexsort((np.arange(problem.n_layers), start_s))
    free = np.zeros(m)
    assign = np.zeros(problem.n_layers, dtype=np.int64)
    for g in order:
        s = int(np.argmin(free))
        if free[s] > start_s[g] + 1e-9:
            raise ValueError(f"{problem.instance.name}: more than {m} layers overlap at "
                             f"{start_s[g]:.3f} s")
        assign[g], free[s] = s, start_s[g] + dur[g]
    return assign, order.astype(np.int64)


def _gaps(dur: np.ndarray, preds: list) -> np.ndarray:
    """gap[a, j]: the longest chain of durations strictly between ancestor a and j
    (-1 where a is not an ancestor of j); j waits at least that after a's finish."""
    n = len(dur)
    gap = np.full((n, n), -1, dtype=np.int64)
    for j in range(n):
        for p in preds[j]:
            gap[:, j] = np.maximum(gap[:, j], np.where(gap[:, p] >= 0,
                                                       gap[:, p] + dur[p], -1))
            gap[p, j] = max(gap[p, j], 0)
    return gap


def _pressure(keys: np.ndarray, lags: np.ndarray, work: np.ndarray, m: int) -> int:
    """max over thresholds (k, q) of k + ceil(W / m) + q, W the work of the items with
    key >= k and lag >= q (0 when there is none)."""
    best = 0
    for q in np.unique(lags):
        sel = lags >= q
        order = np.argsort(-keys[sel], kind="stable")
        cum = np.cumsum(work[sel][order])
        best = max(best, int(np.max(keys[sel][order] + -(-cum // m))) + int(q))
    return best


def heads_tails(dur: np.ndarray, preds: list, m: int, rounds: int = 3):
    """Earliest start and least time from the finish to the end of every layer
    (integer units), raised by the work around it.

    Proof: all ancestors ``a`` of ``j`` finish before ``j`` starts, ``a`` not before
    ``est_a + dur_a`` and at least ``gap[a, j]`` (the longest chain strictly between
    them) before ``j``'s start. The ancestors with ``est_a >= k`` and
    ``gap[a, j] >= q`` run their work ``W`` inside ``[k, start_j - q]`` on at most m
    servers, so ``start_j >= k + W / m + q``, and, start times being on the grid,
    ``>= k + ceil(W / m) + q``. Symmetrically the descendants with least time-to-end
    ``>= k`` and gap ``>= q`` after ``j``: ``rest_j >= k + ceil(W / m) + q``. Both pass
    along the arcs (a layer starts after a predecessor's earliest finish). Each round
    uses the values of the last; every value stays a lower bound.
    """
    n = len(dur)
    gap = _gaps(dur, preds)
    succs = [[] for _ in range(n)]
    for j in range(n):
        for p in preds[j]:
            succs[p].append(j)
    est = np.zeros(n, dtype=np.int64)
    rest = np.zeros(n, dtype=np.int64)
    for _ in range(rounds):
        before = (est.copy(), rest.copy())
        for j in range(n):
            for p in preds[j]:
                est[j] = max(est[j], est[p] + dur[p])
            anc = gap[:, j] >= 0
            if anc.any():
                est[j] = max(est[j], _pressure(est[anc], gap[anc, j], dur[anc], m))
        for j in range(n - 1, -1, -1):
            for s in succs[j]:
                rest[j] = max(rest[j], rest[s] + dur[s])
            desc = gap[j] >= 0
            if desc.any():
                rest[j] = max(rest[j], _pressure(rest[desc], gap[j, desc], dur[desc], m))
        if (est == before[0]).all() and (rest == before[1]).all():
            break
    return est, rest


def energetic_starts(dur: np.ndarray, preds: list, m: int, est: np.ndarray,
                     lst: np.ndarray, rounds: int = 30):
    """Start windows ``[est, lst]`` narrowed by energetic reasoning, or None when no
    schedule fits them.

    Proof: in a window ``[a, b]`` every layer ``i`` runs at least ``least_i`` (its
    overlap at its earliest or latest start, whichever is less) and all of them at most
    ``m (b - a)``, so layer ``j`` runs at most ``least_j + slack`` there, slack
    ``m (b - a) - Σ least``. Its overlap at start S is ``min(S + d - a, d, b - a,
    b - S)``, above that bound for S in ``(a + L - d, b - L)``, ``L = least_j +
    slack``, when ``d`` and ``b - a`` exceed L: an earliest (latest) start inside is
    moved past that interval. Windows: ``a`` among the starts' ends, ``b`` among the
    finishes' ends; then along the arcs; until nothing moves or ``rounds``.
    """
    n = len(dur)
    est, lst = np.array(est, dtype=np.int64), np.array(lst, dtype=np.int64)
    succs = [[] for _ in range(n)]
    for j in range(n):
        for p in preds[j]:
            succs[p].append(j)
    for _ in range(rounds):
        if (lst < est).any():
            return None
        a = np.unique(np.concatenate([est, lst]))
        b = np.unique(np.concatenate([est + dur, lst + dur]))
        new_est, new_lst = est.copy(), lst.copy()
        for chunk in np.array_split(a, max(1, len(a) // 32)):
            lo_w, hi_w = np.broadcast_arrays(chunk[:, None], b[None, :])
            ok = hi_w > lo_w
            lo_w, hi_w = lo_w[ok][:, None], hi_w[ok][:, None]    # windows (W, 1)
            width = hi_w - lo_w

            def overlap(start):
                return np.clip(np.minimum(start + dur, hi_w) - np.maximum(start, lo_w),
                               0, None)

            least = np.minimum(overlap(est), overlap(lst))
            slack = m * width - least.sum(axis=1, keepdims=True)
            if (slack < 0).any():
                return None
            cap = least + slack                      # most work of each layer inside
            first = lo_w + cap - dur + 1             # forbidden starts [first, last]
            last = hi_w - cap - 1
            act = (dur > cap) & (width > cap) & (first <= last)
            hit = act & (first <= est) & (est <= last)
            new_est = np.maximum(new_est, np.where(hit, last + 1, est).max(axis=0))
            hit = act & (first <= lst) & (lst <= last)
            new_lst = np.minimum(new_lst, np.where(hit, first - 1, lst).min(axis=0))
        for j in range(n):   # along the arcs
            for p in preds[j]:
                new_est[j] = max(new_est[j], new_est[p] + dur[p])
        for j in range(n - 1, -1, -1):
            for q in succs[j]:
                new_lst[j] = min(new_lst[j], new_lst[q] - dur[j])
        if (new_est == est).all() and (new_lst == lst).all():
            break
        est, lst = new_est, new_lst
    return None if (lst < est).any() else (est, lst)


def piece_bound(dur: np.ndarray, est: np.ndarray, rest: np.ndarray, m: int) -> int:
    """A lower bound on the makespan of a piece from its heads and tails: the longest
    ``est + dur + rest``, and for every thresholds ``(k, q)`` the layers with
    ``est >= k`` and ``rest >= q`` run inside ``[k, C - q]`` on m servers:
    ``C >= k + ceil(W / m) + q``."""
    return max(int((est + dur + rest).max()), _pressure(est, rest, dur, m))


def solve_piece(dur: np.ndarray, preds: list, m: int, *, upper: int, lower: int = 0,
                time_limit_s: float = 60.0, workers: int = 2, seed: int = 0,
                hint_start: np.ndarray | None = None, servers: bool = True,
                params: dict | None = None, log: bool = False, windows: int = 0,
                lp: bool = True) -> dict:
    """Least makespan of a piece, searched in ``[lower, upper]`` units.

    Parameters
    ----------
    upper : int
        Largest makespan asked for (a plan's value minus one to prove that plan).
    lower : int
        A proven lower bound (raised to :func:`piece_bound`).
    hint_start : array, optional
        Start times (units) of a schedule: a hint for the search (not when
        ``lower == upper``: then the model asks for a schedule within ``upper`` alone,
        without an objective, and a hint above it slowed that search down).
    servers : bool
        Add the server variables (:func:`_add_servers`); without them, the cumulative
        alone.
    params : dict, optional
        More CP-SAT parameters by name (a list extends a repeated field).
    windows : int
        With the servers: per server, the work bounds of this many windows of least
        slack (:func:`tight_windows`, :func:`_add_window`).
    lp : bool
        CP-SAT's linear relaxation (``linearization_level`` 1); without it
        (level 0) the search runs more nodes a second, which finds packings sooner
        and proves small pieces later (:func:`prove_by_pieces` uses both).

    Returns
    -------
    dict with ``status`` — ``infeasible`` (no schedule within ``upper``: the bound is
    ``upper + 1``), ``optimal`` (``makespan`` proven), ``feasible`` (a schedule, bound
    below it) or ``unknown`` — and ``bound`` (units, proven), ``makespan`` and
    ``start`` when a schedule was found, ``wall_s``.
    """
    started = time.perf_counter()   # the import counts: a second in a fresh process
    from ortools.sat.python import cp_model

    n = len(dur)
    est, rest = heads_tails(dur, preds, m)
    lower = max(int(lower), piece_bound(dur, est, rest, m))
    lst = upper - dur - rest
    narrowed = energetic_starts(dur, preds, m, est, lst) if lower <= upper else None
    if narrowed is None:   # an empty window: no model needed
        return {"status": "infeasible", "bound": upper + 1,
                "wall_s": time.perf_counter() - started}
    est, lst = narrowed
    model = cp_model.CpModel()
    start = [model.NewIntVar(int(est[g]), int(lst[g]), f"s{g}") for g in range(n)]
    intervals = [model.NewFixedSizeIntervalVar(start[g], int(dur[g]), f"i{g}")
                 for g in range(n)]
    cmax = model.NewIntVar(lower, upper, "cmax")
    for j in range(n):
        for p in preds[j]:
            model.Add(start[p] + int(dur[p]) <= start[j])
        if lower < upper:   # else the start windows say it
            model.Add(start[j] + int(dur[j] + rest[j]) <= cmax)
    model.AddCumulative(intervals, [1] * n, m)
    if servers:
        on = _add_servers(model, start, dur, m)
        idle = m * upper - int(dur.sum())
        for a, b, slack, least, most in tight_windows(dur, est, lst, m, windows, idle):
            _add_window(model, on, b - a, slack, least, most)
    if lower < upper:   # else a question of feasibility alone
        model.Minimize(cmax)
    if hint_start is not None and lower < upper:   # at one makespan it misleads
        for g in range(n):
            model.AddHint(start[g], int(hint_start[g]))
    solver = cp_model.CpSolver()
    prm = solver.parameters
    left_s = float(time_limit_s) - (time.perf_counter() - started)
    prm.max_time_in_seconds = max(0.1, left_s)
    prm.num_workers = int(workers)
    prm.random_seed = int(seed)
    prm.use_timetable_edge_finding_in_cumulative = True
    prm.use_overload_checker_in_cumulative = True
    prm.use_hard_precedences_in_cumulative = True
    prm.log_search_progress = bool(log)
    prm.linearization_level = 1 if lp else 0
    for key, value in (params or {}).items():   # e.g. {"subsolvers": ["default_lp"]}
        field = getattr(prm, key)
        if isinstance(value, list):
            field.extend(value)
        else:
            setattr(prm, key, value)
    code = solver.Solve(model)
    out = {"wall_s": time.perf_counter() - started}
    if code == cp_model.INFEASIBLE:
        return out | {"status": "infeasible", "bound": upper + 1}
    out["bound"] = lower if lower == upper else max(
        lower, int(math.ceil(solver.BestObjectiveBound() - 1e-6)))
    if code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        out["start"] = np.array([solver.Value(s) for s in start], dtype=np.int64)
        out["makespan"] = int((out["start"] + dur).max())
        out["status"] = "optimal" if code == cp_model.OPTIMAL else "feasible"
    else:
        out["status"] = "unknown"
    return out


def _add_servers(model, start, dur: np.ndarray, m: int) -> list:
    """Server variables over the cumulative: per layer one optional interval per server
    (sharing its start), one no-overlap per server, and layer i may use server s only if
    an earlier layer uses s - 1 (servers named by first use: breaks their symmetry).
    Redundant with the cumulative (colouring), but no-overlap reasons per server
    (disjunctive edge finding, detectable precedences), which proves small pieces fast.
    Returns the server literals of each layer."""
    n = len(dur)
    on = [[model.NewBoolVar(f"x{i}_{s}") for s in range(min(m, i + 1))] for i in range(n)]
    per_server = [[] for _ in range(m)]
    for i in range(n):
        model.AddExactlyOne(on[i])
        for s, x in enumerate(on[i]):
            per_server[s].append(model.NewOptionalFixedSizeIntervalVar(
                start[i], int(dur[i]), x, f"i{i}_{s}"))
            if s:
                model.AddBoolOr([on[j][s - 1] for j in range(s - 1, i)]).OnlyEnforceIf(x)
    for ivs in per_server:
        model.AddNoOverlap(ivs)
    return on


def tight_windows(dur: np.ndarray, est: np.ndarray, lst: np.ndarray, m: int,
                  count: int, idle: int | None = None) -> list:
    """The ``count`` time windows ``[a, b]`` of least relative slack: ``a`` among the
    earliest and latest starts, ``b`` among the earliest and latest finishes, slack
    ``m (b - a)`` minus the work every schedule within the start windows
    ``[est, lst]`` does inside (each layer's overlap at its earliest or latest start,
    whichever is less). Returns (a, b, slack, least, most) with per layer the least and
    the most overlap with the window; windows whose slack is not below ``b - a`` (where
    any server may idle throughout) are left out. The slack returned is at most
    ``idle``, the servers' idle time in all up to the makespan asked (``m C - W``: no
    window holds more)."""
    if count <= 0:
        return []
    a = np.unique(np.concatenate([est, lst]))[:, None, None]
    b = np.unique(np.concatenate([est + dur, lst + dur]))[None, :, None]
    width = np.maximum(b - a, 0)

    def overlap(s):
        return np.clip(np.minimum(s + dur, b) - np.maximum(s, a), 0, width)

    least = np.minimum(overlap(est), overlap(lst))
    slack = m * width[..., 0] - least.sum(axis=2)
    ok = (width[..., 0] > 0) & (slack < width[..., 0])
    ia, ib = np.nonzero(ok)
    order = np.argsort(slack[ia, ib] / width[ia, ib, 0], kind="stable")[:count]
    if idle is not None:   # near a perfect packing every window is nearly full
        slack = np.minimum(slack, idle)
    out = []
    for i, j in zip(ia[order], ib[order]):
        lo, hi = int(a[i, 0, 0]), int(b[0, j, 0])
        most = np.clip(np.minimum.reduce([dur, np.full_like(dur, hi - lo), lst + dur - lo,
                                          hi - est]), 0, None)
        out.append((lo, hi, int(slack[i, j]), least[i, j], most))
    return out


def _add_window(model, on, width: int, slack: int, least, most) -> None:
    """Per server, over a window of ``width`` units and ``slack``: the layers' least
    overlaps on it fit in the window, and their most overlaps cover all of it but the
    slack (all servers together idle at most ``slack`` inside, so each one does)."""
    for s in range(max(len(x) for x in on)):
        lo = [(int(least[i]), x[s]) for i, x in enumerate(on) if s < len(x) and least[i]]
        hi = [(int(most[i]), x[s]) for i, x in enumerate(on) if s < len(x) and most[i]]
        if sum(w for w, _ in lo) > width:
            model.Add(sum(w * x for w, x in lo) <= width)
        model.Add(sum(w * x for w, x in hi) >= width - slack)



def prove_by_pieces(dur: np.ndarray, preds: list, m: int, parts: list, start: np.ndarray,
                    lower: int, time_limit_s: float, *, workers: int = 1, seed: int = 0,
                    params: dict | None = None, windows: int = WINDOWS,
                    no_lp: float = 0.0) -> dict:
    """Each piece of ``parts`` (:func:`segments`, or all layers as one) to
    :func:`solve_piece`, asked for a makespan below that of the schedule ``start`` on
    the piece (integer units, time 0 at the DAG's start); the pieces go smallest first,
    each with its share of the time left in proportion to its size, none past
    ``time_limit_s``; ``workers``, ``seed``, ``params`` and ``windows`` go to
    :func:`solve_piece`. A piece whose bound is below its span minus one is first asked
    for its bound alone (``PROBE`` of its share): there the start windows are narrowest.
    The probe runs without CP-SAT's LP (it finds packings sooner); then the range up
    to the span minus one, first without the LP on the ``no_lp`` share of the time
    left (shorter plans sooner), then with it (small pieces proven sooner).

    The optimum is the sum of the pieces' optima, so the pieces' bounds add up to a
    bound and their schedules one after the other to a schedule; and a piece's optimum
    is at least ``lower`` minus the other pieces' shortest spans so far (the plan's, or
    the solver's for the pieces already solved).

    Returns
    -------
    dict with ``status`` (``optimal`` when every piece is proven, else ``time_limit``),
    ``makespan`` and ``start`` (the joined schedule), ``bound`` (proven), all in units,
    and ``segments`` (the pieces' sizes).
    """
    deadline = time.perf_counter() + time_limit_s
    start = np.asarray(start, dtype=np.int64)
    parts = [np.sort(np.asarray(p)) for p in parts]
    spans = [int((start[p] + dur[p]).max() - start[p].min()) for p in parts]
    solved = {}
    left_layers = sum(len(p) for p in parts if len(p) > m)
    for k in sorted(range(len(parts)), key=lambda k: len(parts[k])):   # small first
        part = parts[k]
        d, pr = _sub(dur, preds, part)
        local = start[part] - start[part].min()
        span = spans[k]
        est, rest = heads_tails(d, pr, m)
        # the optimum is the sum of the pieces' optima, each at most the plan's span
        lb = max(piece_bound(d, est, rest, m), int(lower) - sum(spans) + span)
        ok = lb >= span
        if len(part) <= m:    # all at once: every layer at its earliest start
            local, span, ok = est, int((est + d).max()), True
        elif not ok and deadline - time.perf_counter() > 0.2:   # its share of the time
            left_s = deadline - time.perf_counter()
            share = min(left_s, max(1.0, left_s * len(part) / left_layers))
            kw = {"workers": workers, "seed": seed, "params": params, "windows": windows}
            end = time.perf_counter() + share
            # the bound alone (narrowest windows), then the range without and with the LP
            stages = [(lb, PROBE, False), (span - 1, no_lp, False), (span - 1, 1.0, True)]
            if lb >= span - 1:   # the bound is the range's one makespan: no probe
                stages.pop(0)
            for upper, frac, lp in stages:
                if frac <= 0:
                    continue
                left_s = end - time.perf_counter()
                if ok or left_s <= 0.1:
                    break
                res = solve_piece(d, pr, m, upper=min(upper, span - 1), lower=lb,
                                  time_limit_s=frac * left_s, hint_start=local, lp=lp, **kw)
                lb = max(lb, res["bound"])
                if "start" in res:
                    local, span = res["start"], res["makespan"]
                ok = lb >= span
        left_layers -= len(part) if len(part) > m else 0
        spans[k] = span   # the pieces after it see the shorter plan in their bounds
        solved[k] = (local, span, min(lb, span), ok)
    out_start = np.zeros(len(dur), dtype=np.int64)
    t = bound = 0
    for k, part in enumerate(parts):   # one after the other
        local, span, lb, _ = solved[k]
        out_start[part] = t + local
        t, bound = t + span, bound + lb
    return {"status": "optimal" if all(s[3] for s in solved.values()) else "time_limit",
            "makespan": int(t), "bound": max(int(bound), int(lower)), "start": out_start,
            "segments": [len(p) for p in parts]}


def prove_isolated(time_limit_s: float, **kwargs) -> dict | None:
    """:func:`prove_by_pieces` (keyword arguments but ``time_limit_s``) in a fresh
    process (:func:`.cpsat.run_child`: ``exact`` imports highspy, whose HiGHS clashes
    with OR-Tools'), ``time_limit_s`` counting its start-up; None when it fails to
    answer in time (it is then killed)."""
    from .cpsat import run_child

    deadline_epoch = time.time() + time_limit_s
    return run_child("offloadlab.formulations.makespan_cp", (deadline_epoch, kwargs),
                     max(0.0, time_limit_s), bool(kwargs.get("log")))


if __name__ == "__main__":   # the child of prove_isolated: pickled arguments on stdin
    import os
    import pickle

    from ortools.sat.python import cp_model  # noqa: F401  (start-up, before the clock)

    from .cpsat import answer_channel, read_request

    deadline_epoch, kwargs = read_request("offloadlab.formulations.makespan_cp")
    channel = answer_channel()
    # 0.1 s to hand the answer back
    result = prove_by_pieces(time_limit_s=deadline_epoch - time.time() - 0.1, **kwargs)
    channel.write(pickle.dumps(result))
    channel.flush()
    os._exit(0)   # no interpreter teardown: the parent waits for the exit

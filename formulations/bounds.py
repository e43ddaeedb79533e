"""Lower bounds that count capacity: load, energetic reasoning, critical path with
release, and a DDPQN bound that keeps the balance term; :func:`best_bound` takes their max.

Every function returns a number that no feasible plan beats (the simulator's objective
of any plan is at least the bound), each with its proof in the docstring. Notation: a
layer ``l`` of task ``t`` on server ``s`` runs ``exec_s[l, s] = gcycles_l / ghz_s``
seconds in one of the ``pools_s`` slots, so a server processes at most
``ghz_s * pools_s`` Gcycles per second; ``head[l, s]`` and ``tail[l, s]`` are the
contention-free earliest ready time after the release and least time from the start to
the task's end (:func:`offloadlab.formulations.dp.time_bounds`), valid in every schedule
because waiting only delays. ``end_t`` is the task's end (its last sink's finish plus the
return of the output), latency ``end_t - r_t``.

Which bound holds for which kind:

===========  ================================================================
kind         bounds
===========  ================================================================
makespan     critical path with release, load per server set, energetic reasoning
latency      critical path (contention-free DP), k-th completion load bound, device
             queue (:mod:`.device_bound`), source server (:mod:`.source_bound`)
deadline     as latency (deadlines only remove plans) but the source server
ddpqn        contention-free DP with the balance term priced (:func:`ddpqn_bound`)
dmro         the contention-free DP is exact (no contention)
===========  ================================================================
"""

from __future__ import annotations

import time

import numpy as np

from offloadlab.problem import Problem

from .device_bound import device_bound
from .dp import is_chain, path_bound, time_bounds

TOL = 1e-9


def _windows(problem: Problem):
    """Per layer: earliest start (absolute), least time after its finish to the task's
    end, and the (L, S) head/tail arrays (inf where not allowed), all tightened by the
    loads of the ancestors and descendants (:func:`load_windows`)."""
    head, tail = time_bounds(problem)
    rel = problem.release_s[problem.layer_task]
    with np.errstate(invalid="ignore"):
        est = rel + np.where(problem.allowed, head, np.inf).min(axis=1)
        rest = np.maximum(np.where(problem.allowed, tail - problem.exec_s, np.inf)
                          .min(axis=1), 0.0)
    est, rest = load_windows(problem, est, rest)
    with np.errstate(invalid="ignore"):
        head = np.maximum(head, (est - rel)[:, None])
        tail = np.maximum(tail, problem.exec_s + rest[:, None])
    return est, rest, head, tail


def load_windows(problem: Problem, est: np.ndarray, rest: np.ndarray):
    """Earliest starts and least times-to-end raised by the work around each layer.

    A layer starts after all its ancestors finish; those with earliest start at least
    ``e`` process their ``G_e`` Gcycles from ``e`` on, at most ``cap`` (the servers any
    of them may use) per second, so ``start_l >= e + G_e / cap`` for every ``e``.
    Symmetrically its descendants with time-to-end at least ``q`` run between its finish
    and ``end - q``: ``end - finish_l >= q + G_q / cap``. Layers are visited in
    topological order (reverse for the tails), so each uses its neighbours' raised
    values. A raised value also passes along each arc: a layer starts no earlier than a
    predecessor's earliest start plus its shortest run, and a predecessor's time-to-end
    is at least a successor's shortest run plus its time-to-end (lags only add). Other
    tasks only take capacity away, so the values hold for every kind.
    """
    est, rest = est.copy(), rest.copy()
    speed = problem.ghz * problem.pools
    for layers in problem.task_layers:
        n = len(layers)
        loc = {int(g): i for i, g in enumerate(layers)}
        anc = np.zeros((n, n), dtype=bool)
        for i, g in enumerate(layers):
            for p in problem.preds(g):
                anc[i] |= anc[loc[int(p)]]
                anc[i, loc[int(p)]] = True
        work = problem.gcycles[layers]
        ok = problem.allowed[layers]
        # a raised value passes along the arcs: a layer starts after each predecessor's
        # earliest start plus its shortest run (and ends its task a successor's later)
        p_min = np.where(problem.allowed, problem.exec_s, np.inf).min(axis=1)
        for i, g in enumerate(layers):
            for p in problem.preds(g):
                est[g] = max(est[g], est[p] + p_min[p])
            est[g] = max(est[g], _staircase(est[layers][anc[i]], work[anc[i]],
                                            ok[anc[i]], speed, lambda e, w, c: e + w / c))
        for i in range(n - 1, -1, -1):
            g = layers[i]
            for u in problem.succs[g]:
                rest[g] = max(rest[g], p_min[u] + rest[u])
            desc = anc[:, i]
            rest[g] = max(rest[g], _staircase(rest[layers][desc], work[desc], ok[desc],
                                              speed, lambda q, w, c: q + w / c))
    return est, rest


def _staircase(keys, work, allowed, speed, value) -> float:
    """max over thresholds k of value(k, work of the items with key >= k, capacity)."""
    if not len(keys):
        return -np.inf
    cap = float(speed[allowed.any(axis=0)].sum())
    order = np.argsort(-keys, kind="stable")
    cum = np.cumsum(work[order])
    return float(np.max(value(keys[order], cum, cap)))


def _server_sets(problem: Problem) -> list[np.ndarray]:
    """The distinct allowed-server sets of the layers, and their union."""
    sets = {tuple(np.flatnonzero(row)) for row in problem.allowed}
    out = [np.array(s) for s in sorted(sets)]
    union = np.flatnonzero(problem.allowed.any(axis=0))
    if not any(len(s) == len(union) for s in out):
        out.append(union)
    return out


def critical_path_bound(problem: Problem) -> float:
    """The contention-free bound with release times (the DP of :mod:`.dp`).

    Proof: every task's latency is at least its contention-free latency ``lb_t``
    (waiting only delays), so Σ latency ≥ Σ lb_t and, for makespan,
    ``max_t end_t - min r ≥ max_t (r_t + lb_t) - min r``. -inf for ddpqn on DAG models
    (the programme needs chains there).
    """
    if problem.instance.objective.kind == "ddpqn" and not is_chain(problem):
        return -np.inf
    return float(path_bound(problem).bound)


def load_bound(problem: Problem) -> float:
    """Total work over total capacity, per set of servers the layers can reach.

    makespan: for every set ``U`` among the layers' allowed-server sets (and their
    union), the layers ``l`` whose allowed servers lie in ``U`` process
    ``G_U = Σ gcycles_l`` Gcycles on ``U``, at most ``cap_U = Σ_{s∈U} ghz_s pools_s``
    per second, all inside ``[min_l est_l, min r + C - min_l rest_l]`` (``est`` the
    earliest start, ``rest`` the least time from a finish to the task's end). Hence
    ``C ≥ G_U / cap_U + min est - min r + min rest``.

    latency / deadline: order the tasks by their end in an optimal schedule,
    ``e_(1) ≤ … ≤ e_(T)``. The first k tasks to end have all their work done by
    ``e_(k)``, at least the k smallest task works ``G_t``, on at most ``cap`` (all
    reachable servers) from ``min r`` on: ``e_(k) ≥ min r + (k smallest G) / cap``;
    and ``k`` tasks have ended, each at ``end_t ≥ r_t + lb_t``: ``e_(k)`` is at least the
    k-th smallest ``r_t + lb_t``. So Σ latency ≥ Σ_k max of the two − Σ r_t.

    Returns -inf for kinds where it does not apply (dmro, ddpqn).
    """
    kind = problem.instance.objective.kind
    r_min = float(problem.release_s.min())
    if kind == "makespan":
        est, rest, _, _ = _windows(problem)
        with np.errstate(invalid="ignore"):
            span = est + np.where(problem.allowed, problem.exec_s, np.inf).min(axis=1) + rest
        best = float(span.max()) - r_min   # critical path with the loads around it
        for servers in _server_sets(problem):
            inside = ~problem.allowed[:, np.setdiff1d(np.arange(problem.n_servers),
                                                      servers)].any(axis=1)
            if not inside.any():
                continue
            cap = float((problem.ghz[servers] * problem.pools[servers]).sum())
            work = float(problem.gcycles[inside].sum())
            best = max(best, work / cap + est[inside].min() - r_min + rest[inside].min())
        return float(best)
    if kind in ("latency", "deadline"):
        union = np.flatnonzero(problem.allowed.any(axis=0))
        cap = float((problem.ghz[union] * problem.pools[union]).sum())
        work = np.bincount(problem.layer_task, weights=problem.gcycles,
                           minlength=problem.n_tasks)
        by_work = r_min + np.cumsum(np.sort(work)) / cap
        lb = path_bound(problem).task_value
        by_path = np.sort(problem.release_s + lb)
        return float(np.maximum(by_work, by_path).sum() - problem.release_s.sum())
    return -np.inf


def energetic_bound(problem: Problem, upper: float | None = None, *,
                    max_points: int = 48, iterations: int = 40) -> float:
    """Energetic reasoning over time windows (makespan; -inf for other kinds).

    For a trial makespan ``C`` every layer ``l`` on server ``s`` starts in
    ``[r_t + head[l, s], min r + C - tail[l, s]]``. Within an interval ``[a, b]`` it
    then processes at least ``ghz_s * min(overlap at the earliest start, overlap at the
    latest start)`` Gcycles (the overlap of ``[S, S + p]`` with ``[a, b]`` is unimodal in
    ``S``); its mandatory work ``m_l`` is the least of that over its allowed servers
    (``C`` is impossible when no server's window is non-empty). All servers process at
    most ``cap_U (b - a)`` Gcycles in ``[a, b]``, so a ``C`` with
    ``Σ_{l: allowed ⊆ U} m_l > cap_U (b - a)`` for some interval and server set ``U`` is
    below the optimum. Windows shrink as ``C`` falls, so infeasibility is monotone and a
    bisection returns the largest ``C`` proven impossible (a valid bound). Intervals:
    ``a`` among the earliest starts, ``b`` among the latest finishes (quantiles when
    there are many; the choice never affects validity).
    """
    if problem.instance.objective.kind != "makespan":
        return -np.inf
    _, _, head, tail = _windows(problem)
    rel = problem.release_s[problem.layer_task][:, None]
    r_min = float(problem.release_s.min())
    ok = problem.allowed & np.isfinite(head) & np.isfinite(tail)
    est = np.where(ok, rel + head, np.inf)                    # (L, S)
    p = np.where(ok, problem.exec_s, 0.0)
    speed = problem.ghz[None, :]
    sets = _server_sets(problem)
    members = [(~problem.allowed[:, np.setdiff1d(np.arange(problem.n_servers), s)]
                .any(axis=1), float((problem.ghz[s] * problem.pools[s]).sum()))
               for s in sets]

    def impossible(c: float) -> bool:
        lst = np.where(ok, r_min + c - tail, -np.inf)         # latest start
        feasible = ok & (lst >= est - TOL * max(1.0, abs(c)))
        if not feasible.any(axis=1).all():
            return True
        b = _points((lst + p)[feasible], max_points)[:, None, None]
        lo_s = np.where(feasible, est, 0.0)[None]
        hi_s = np.where(feasible, lst, 0.0)[None]
        for a in _points(est[feasible], max_points):
            width = np.maximum(b - a, 0.0)

            def overlap(start):
                return np.clip(np.minimum(start + p, b) - np.maximum(start, a), 0.0, width)

            work = speed * np.minimum(overlap(lo_s), overlap(hi_s))
            mandatory = np.where(feasible[None], work, np.inf).min(axis=2)  # (B, L)
            for inside, cap in members:
                need = mandatory[:, inside].sum(axis=1)
                if (need > cap * width[:, 0, 0] * (1 + TOL) + TOL).any():
                    return True
        return False

    lo = max(critical_path_bound(problem), load_bound(problem))
    if not np.isfinite(lo):
        return -np.inf
    if not impossible(lo):
        return -np.inf  # nothing beyond the simpler bounds
    hi = upper if upper is not None and np.isfinite(upper) else 2 * lo + 1.0
    if impossible(hi):
        return float(hi)
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        if impossible(mid):
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-9 * max(1.0, abs(hi)):
            break
    return float(lo)


def _points(values: np.ndarray, n: int) -> np.ndarray:
    vals = np.unique(values[np.isfinite(values)])
    if len(vals) > n:
        vals = np.unique(np.quantile(vals, np.linspace(0, 1, n), method="nearest"))
    return vals


def device_queue_bound(problem: Problem, time_limit_s: float = 5.0) -> float:
    """The device-queue bound of :mod:`.device_bound` on the tightened windows."""
    _, _, head, tail = _windows(problem)
    return device_bound(problem, head, tail, time_limit_s=time_limit_s)


def source_server_bound(problem: Problem, upper: float | None = None,
                        time_limit_s: float = 5.0) -> float:
    """The bound of :mod:`.source_bound` (where each task's source layer runs: the
    device queue, or the slots of the shared server it starts on) on the tightened
    windows; -inf for other kinds, tasks with several source layers, or past the time
    limit."""
    from .source_bound import source_bound

    _, _, head, tail = _windows(problem)
    return source_bound(problem, head, tail, upper, time_limit_s=time_limit_s)


def ddpqn_bound(problem: Problem, *, time_limit_s: float = 5.0,
                iterations: int = 3000, plans: list | None = None) -> float:
    """The contention-free DDPQN programme with the node-balance term priced (chains).

    The per-layer term with zero wait is an arc cost of (source server, server)
    (:func:`offloadlab.formulations.dp.ddpqn_pair_cost`); waiting only raises ``T~``
    (coefficient ``phi * theta >= 0``), so dropping it relaxes. The balance: for any
    counts ``B`` and any antisymmetric ``sigma`` with ``|sigma_ij| <= 1``,
    ``Σ_{i<j} |B_i - B_j| >= Σ_{i<j} sigma_ij (B_i - B_j) = Σ_i w_i B_i`` with
    ``w_i = Σ_{j≠i} sigma_ij``. With ``B_i(k)`` the placements on server ``i`` among the
    first ``k`` in the global order, ``Σ_k Z_k / (k scale) >= Σ_l w_{s_l} h_l`` where
    ``h_l = Σ_{k>l} 1 / (k scale)`` (0-based ``l``): an additive cost per (layer,
    server). So for every ``sigma`` the shortest path per task under these costs is a
    lower bound; projected supergradient steps on ``sigma`` raise it, and the best
    value is returned. ``-inf`` for DAG models or negative weights (not a relaxation).
    ``plans``, when given, receives every iterate's assignment (balanced by the prices:
    good starting plans).
    """
    from .dp import ddpqn_pair_cost

    o = problem.instance.objective
    if o.kind != "ddpqn" or not is_chain(problem) or min(o.omega, o.phi * o.theta) < 0:
        return -np.inf
    started = time.perf_counter()
    n_l, n_s = problem.n_layers, problem.n_servers
    tables = [ddpqn_pair_cost(problem, g)[0] for g in range(n_l)]
    allowed_inf = np.where(problem.allowed, 0.0, np.inf)
    groups = [np.flatnonzero(problem.tier == k) for k in (1, 2)]
    groups = [g for g in groups if len(g) >= 2]
    scale = max(len(np.flatnonzero(problem.tier == 1)) - 1,
                len(np.flatnonzero(problem.tier == 2)) - 1)
    if scale <= 0 or o.omega == 0 or not groups:
        iterations = 1
    inv_k = 1.0 / (np.arange(1, n_l + 1) * max(scale, 1))   # 1 / (k scale), k = l + 1
    # sigma[k] per step k and group: Z_k >= w(k) . B(k) holds for each k on its own
    sigma = [np.zeros((n_l, len(g), len(g))) for g in groups]
    best = -np.inf
    step0 = None
    for it in range(iterations):
        w = np.zeros((n_l, n_s))
        for g, sg in zip(groups, sigma):
            w[:, g] = sg.sum(axis=2)
        # layer l (0-based) counts in B(k) for every k >= l + 1
        extra = o.omega * np.cumsum((w * inv_k[:, None])[::-1], axis=0)[::-1] + allowed_inf
        value, assign = _chain_paths(problem, tables, extra)
        best = max(best, value)
        if plans is not None:
            plans.append(assign)
        if it + 1 >= iterations or time.perf_counter() - started > time_limit_s:
            break
        counts = np.cumsum(assign[:, None] == np.arange(n_s)[None, :], axis=0)  # B(k)
        scaled = o.omega * counts * inv_k[:, None]
        grads = [scaled[:, g][:, :, None] - scaled[:, g][:, None, :] for g in groups]
        norm = np.sqrt(sum(float((x ** 2).sum()) for x in grads))
        if norm <= 0:
            break
        if step0 is None:
            step0 = 1.0 / norm
        step = step0 * 2.0 / np.sqrt(it + 1.0)
        sigma = [np.clip(sg + step * gr, -1.0, 1.0) for sg, gr in zip(sigma, grads)]
    return float(best)


def ddpqn_plans(problem: Problem, *, time_limit_s: float = 5.0, keep: int = 8):
    """The best distinct plans, by the simulator, among the iterates of
    :func:`ddpqn_bound`.

    Returns ``(bound, plans)`` with ``plans`` a list of ``(objective, assign)``, best
    first, feasible ones only (at most ``keep``).
    """
    from offloadlab.simulator import simulate

    plans: list = []
    bound = ddpqn_bound(problem, time_limit_s=time_limit_s, plans=plans)
    if not plans:
        return bound, []
    uniq = np.unique(np.array(plans), axis=0)
    values = simulate(problem, uniq).objective
    order = [int(k) for k in np.argsort(values, kind="stable")[:keep]
             if np.isfinite(values[k])]
    return bound, [(float(values[k]), uniq[k]) for k in order]


def _chain_paths(problem: Problem, tables, extra: np.ndarray):
    """Shortest path per chain task under pair costs plus per-(layer, server) extras."""
    total = 0.0
    assign = np.zeros(problem.n_layers, dtype=np.int64)
    for layers in problem.task_layers:
        dev = problem.task_device[problem.layer_task[layers[0]]]
        back = []
        g0 = int(layers[0])
        f = (tables[g0][dev] if dev >= 0 else np.diag(tables[g0]).copy()) + extra[g0]
        for g in layers[1:]:
            cand = f[:, None] + tables[int(g)]
            back.append(np.argmin(cand, axis=0))
            f = cand.min(axis=0) + extra[int(g)]
        s = int(np.argmin(f))
        total += float(f[s])
        assign[layers[-1]] = s
        for i in range(len(layers) - 1, 0, -1):
            s = int(back[i - 1][s])
            assign[layers[i - 1]] = s
    return total, assign


def time_grid(problem: Problem) -> float | None:
    """The largest power of ten (1e-6 to 1 s) of which every release, execution time
    and transfer lag is a multiple, or None.

    Every start in the simulator is a maximum of sums of these values, so every end, and
    the makespan or summed latency of every plan, is a multiple of the grid: a bound may
    then be rounded up to it.
    """
    from .dp import edge_lag, input_lag, return_lag

    values = [problem.release_s, problem.exec_s[problem.allowed]]
    for g in range(problem.n_layers):
        ok = problem.allowed[g]
        if not len(problem.preds(g)):
            values.append(input_lag(problem, g)[ok])
        if problem.is_sink[g]:
            values.append(return_lag(problem, g)[ok])
        for q in problem.preds(g):
            values.append(edge_lag(problem, q)[np.ix_(problem.allowed[q], ok)].ravel())
    vals = np.concatenate([np.ravel(v) for v in values])
    vals = vals[np.isfinite(vals)]
    for k in range(7):
        scaled = vals * 10.0 ** k
        if np.all(np.abs(scaled - np.round(scaled)) <= 1e-7 * np.maximum(1.0, scaled)):
            return 10.0 ** -k
    return None


def best_bound(problem: Problem, upper: float | None = None, *,
               time_limit_s: float = 5.0) -> tuple[float, str]:
    """The best of the bounds above for the instance's kind, and its name.

    Parameters
    ----------
    upper : float, optional
        The objective of a known plan (caps the energetic bisection; any bound above it
        is clipped to it, since the optimum is at most ``upper``).
    """
    kind = problem.instance.objective.kind
    cands = [(critical_path_bound(problem), "contention-free DP")]
    if kind in ("makespan", "latency", "deadline"):
        cands.append((load_bound(problem), "load"))
    if kind in ("latency", "deadline"):
        cands.append((device_queue_bound(problem, time_limit_s), "device queue"))
    if kind == "latency":   # deadline: releases spread, the bound stays weak there
        cands.append((source_server_bound(problem, upper, time_limit_s), "source server"))
    if kind == "makespan":
        cands.append((energetic_bound(problem, upper), "energetic reasoning"))
    if kind == "ddpqn":
        cands.append((ddpqn_bound(problem, time_limit_s=time_limit_s), "DDPQN balance DP"))
    value, source = cands[0]
    for v, name in cands[1:]:   # another source only when it is higher beyond rounding
        if v > value + TOL * max(1.0, abs(value)):
            value, source = v, name
    grid = time_grid(problem) if kind in ("makespan", "latency", "deadline") else None
    if grid is not None and np.isfinite(value):
        rounded = np.ceil(value / grid - 1e-6) * grid
        if rounded > value:
            value, source = float(rounded), f"{source}, rounded up to the {grid:g} s grid"
    if upper is not None and np.isfinite(upper) and value > upper:
        value = float(upper)
    return float(value), source

"""The contention-free dynamic programme: a shortest path per task through (layer, server).

Without contention (no pool ever holds more layers than it has slots) the tasks do not
interact, and each task's best plan is a shortest path through the layered graph whose
nodes are (layer, server) pairs: node costs are execution times (plus ``delta`` times the
weighted energy for ``dmro``), arc costs the transfer lags ``out_mb / bw`` between the
predecessor's server and the layer's server, the task input comes from the device and the
final output may return to it. This is exact at any size when no pool can bind (``dmro``
ignores contention; a single task; pools at least the number of tasks that may use them)
and a valid lower bound otherwise, because waiting only adds to a latency.

Resolved choices (also in the README):

* For a DAG model (several predecessors) the programme relaxes the consistency of shared
  ancestors: ``f(l, s) = node(l, s) + max_p min_s' (f(p, s') + lag(p, s', s))``. That is a
  lower bound, exact for chains only; the plan it returns is rebuilt from the sink and
  scored by the simulator like any other plan.
* ``ddpqn``: the per-layer term with zero wait depends only on (critical predecessor
  server, server), so it is an arc cost; the balance term ``omega * Z~`` is nonnegative
  and dropped, and waiting only raises ``T~``. The value is therefore a lower bound,
  exact when ``omega = 0`` and no pool binds. Chains only (a DAG layer's critical
  predecessor depends on the schedule).
* ``makespan``: per task the shortest latency, the objective the latest ``release +
  latency`` minus the earliest release.
* Memory limits and hard deadlines are not part of the programme: a deadline below a
  task's contention-free latency proves the instance infeasible; otherwise the plan is
  scored by the simulator, and it is proven optimal only when its simulated objective
  meets the bound.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from offloadlab.problem import Problem
from offloadlab.registry import make_solution
from offloadlab.simulator import simulate

KINDS = ("latency", "deadline", "makespan", "dmro", "ddpqn")


# --- coefficients shared with the MILP -----------------------------------------------


def _lag(mb: float, bw: np.ndarray) -> np.ndarray:
    """Transfer time of ``mb`` over links ``bw`` (inf where the link is missing)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(bw > 0, mb / np.where(bw > 0, bw, 1.0), np.inf)
    return np.where(np.isinf(bw), 0.0, out)


def input_lag(problem: Problem, g: int) -> np.ndarray:
    """(S,) time for the task input of source layer ``g`` to reach each server."""
    dev = problem.task_device[problem.layer_task[g]]
    if dev < 0:
        return np.zeros(problem.n_servers)
    return _lag(problem.input_mb[g], problem.bw[dev])


def edge_lag(problem: Problem, p: int) -> np.ndarray:
    """(S, S) time for the output of layer ``p`` to go from server s' to server s."""
    return _lag(problem.out_mb[p], problem.bw)


def return_lag(problem: Problem, g: int) -> np.ndarray:
    """(S,) return of sink ``g``'s output to its device, when the objective asks for it."""
    dev = problem.task_device[problem.layer_task[g]]
    if not (problem.instance.objective.return_output and problem.is_sink[g] and dev >= 0):
        return np.zeros(problem.n_servers)
    return _lag(problem.out_mb[g], problem.bw[:, dev])


def energy_cost(problem: Problem) -> np.ndarray:
    """(L, S) ``delta`` times the weighted energy of each layer on each server (dmro)."""
    from offloadlab.objectives import Dmro

    obj = problem.instance.objective
    if not isinstance(problem.objective, Dmro):
        return np.zeros((problem.n_layers, problem.n_servers))
    weight = np.array([1.0, obj.alpha, obj.beta])[problem.tier]
    j_per_gcycle = np.array([s.j_per_gcycle for s in problem.instance.servers])
    return obj.delta * problem.gcycles[:, None] * (weight * j_per_gcycle)[None, :]


def ddpqn_pair_cost(problem: Problem, g: int) -> tuple[np.ndarray, float]:
    """Per-layer DDPQN term with zero wait, by (source server, server); and the wait
    coefficient.

    Returns ``(cost, wait_coef)``: ``cost[s', s]`` is ``phi*(theta*T~ + vartheta*E~ +
    eta*U~) - varphi*H`` of layer ``g`` on ``s`` with its data coming from ``s'`` (the
    critical predecessor's server; for a source layer only row ``device`` is meaningful,
    or the diagonal when the task has no device), inf where a link is missing;
    ``wait_coef * wait_s`` is what waiting adds (``phi*theta / span_T``).
    Mirrors :func:`offloadlab.objectives.ddpqn`.
    """
    from offloadlab.objectives import _ddpqn_tables, _standardise

    o = problem.instance.objective
    usd_per_gb, tx_w, usd_per_s, active_w, idle_w, lo, hi = _ddpqn_tables(problem)
    n = problem.n_servers
    dev = problem.task_device[problem.layer_task[g]]
    preds = problem.preds(g)
    mb = problem.out_mb[preds[0]] if len(preds) else problem.input_mb[g]
    src = np.repeat(np.arange(n)[:, None], n, axis=1)
    dst = src.T
    ex = np.broadcast_to(problem.exec_s[g][None, :], (n, n))
    if not len(preds) and dev < 0:
        tr = np.zeros((n, n))
        data_mb = np.zeros((n, n))
    else:
        tr = _lag(mb, problem.bw)
        data_mb = np.where(src == dst, 0.0, mb)
    power = (np.where(dst == dev, active_w[dev], idle_w[dev]) if dev >= 0
             else np.zeros((n, n)))
    with np.errstate(invalid="ignore"):
        t0 = ex + tr
        energy = power * ex + tx_w * np.where(np.isfinite(tr), tr, 0.0)
        cost = ex * usd_per_s[dst] + data_mb / 1024.0 * usd_per_gb
    comps = [_standardise(x, lo[i, g], hi[i, g]) for i, x in enumerate((t0, energy, cost))]
    b = [np.clip(1.0 - c, 0.0, 1.0) for c in comps]
    total_b = b[0] + b[1] + b[2]
    coupling = np.where(total_b > 0, 3.0 * np.cbrt(b[0] * b[1] * b[2])
                        / np.where(total_b > 0, total_b, 1.0), 0.0)
    lam = o.lambda_
    harmony = np.sqrt(coupling * (lam[0] * b[0] + lam[1] * b[1] + lam[2] * b[2]))
    value = (o.phi * (o.theta * comps[0] + o.vartheta * comps[1] + o.eta * comps[2])
             - o.varphi * harmony)
    value = np.where(np.isfinite(tr), value, np.inf)
    span = hi[0, g] - lo[0, g]
    return value, (o.phi * o.theta / span if span > 0 else 0.0)


def is_chain(problem: Problem) -> bool:
    """True when every layer has at most one predecessor and one successor."""
    return bool((np.diff(problem.pred_ptr) <= 1).all()
                and all(len(s) <= 1 for s in problem.succs))


# --- the programme -------------------------------------------------------------------


@dataclass(frozen=True)
class PathBound:
    """The contention-free programme's result.

    Attributes
    ----------
    bound : float
        Lower bound on the objective (inf: some task cannot meet its deadline or has no
        feasible path).
    task_value : numpy.ndarray
        (T,) per task: the contention-free latency, or for ``dmro`` latency plus weighted
        energy, or for ``ddpqn`` the sum of per-layer terms without balance.
    assign : numpy.ndarray or None
        A plan attaining ``task_value`` for chains (rebuilt from the sink for DAGs).
    exact_chain : bool
        True when the per-task values are exact shortest paths (chains).
    reason : str
        Why the bound is infinite, else empty.
    """

    bound: float
    task_value: np.ndarray
    assign: np.ndarray | None
    exact_chain: bool
    reason: str = ""


def _forward(problem: Problem, layers, node, arc, source):
    """f(l, s) over one task's layers (topological order) and the argmin predecessors."""
    f, arg = {}, {}
    for g in layers:
        preds = problem.preds(g)
        if not len(preds):
            f[g] = node[g] + source(g)
            continue
        parts = []
        for p in preds:
            cand = f[p][:, None] + arc(p, g)           # (s', s)
            arg[(p, g)] = np.argmin(cand, axis=0)
            parts.append(cand.min(axis=0))
        f[g] = node[g] + np.max(parts, axis=0)
        f[g][~problem.allowed[g]] = np.inf
    return f, arg


def _rebuild(problem: Problem, layers, f, arg, end_cost, assign) -> None:
    """Choose servers from the sinks back (first choice wins for shared ancestors)."""
    sinks = [g for g in layers if problem.is_sink[g]]
    stack = []
    for g in sinks:
        if assign[g] < 0:
            assign[g] = int(np.argmin(f[g] + end_cost(g)))
            stack.append(g)
    while stack:
        g = stack.pop()
        for p in problem.preds(g):
            if assign[p] < 0:
                assign[p] = int(arg[(p, g)][assign[g]])
                stack.append(p)


def path_bound(problem: Problem) -> PathBound:
    """Run the contention-free programme on every task (see the module docstring)."""
    chain = is_chain(problem)
    if problem.objective.per_layer and not chain:
        raise ValueError("ddpqn: the dynamic programme needs chain models (a layer with "
                         "several predecessors has a schedule-dependent critical one)")
    allowed_inf = np.where(problem.allowed, 0.0, np.inf)
    if problem.objective.per_layer:
        tables = {g: ddpqn_pair_cost(problem, g)[0] for g in range(problem.n_layers)}
        node = allowed_inf

        def source(g):
            dev = problem.task_device[problem.layer_task[g]]
            return tables[g][dev] if dev >= 0 else np.diag(tables[g]).copy()

        def arc(p, g):
            return tables[g]
    else:
        node = problem.exec_s + energy_cost(problem) + allowed_inf

        def source(g):
            return input_lag(problem, g)

        def arc(p, g):
            return edge_lag(problem, p)

    def end_cost(g):
        return (np.zeros(problem.n_servers) if problem.objective.per_layer
                else return_lag(problem, g))

    assign = np.full(problem.n_layers, -1, dtype=np.int64)
    values = np.zeros(problem.n_tasks)
    reason = ""
    for t, layers in enumerate(problem.task_layers):
        f, arg = _forward(problem, layers, node, arc, source)
        values[t] = max(float(np.min(f[g] + end_cost(g))) for g in layers
                        if problem.is_sink[g])
        _rebuild(problem, layers, f, arg, end_cost, assign)
        name = problem.instance.tasks[t].name
        if not np.isfinite(values[t]):
            reason = f"task {name!r}: no server sequence avoids a missing link"
        elif problem.objective.time_valued and values[t] > problem.deadline_s[t] * (1 + 1e-9):
            reason = (f"task {name!r}: deadline {problem.deadline_s[t]:.6g} s below its "
                      f"contention-free latency {values[t]:.6g} s")
    bound = _combine(problem, values)
    if reason:
        bound = np.inf
    return PathBound(bound, values, assign if (assign >= 0).all() else None, chain, reason)


def _combine(problem: Problem, values: np.ndarray) -> float:
    kind = problem.instance.objective.kind
    if kind == "makespan":
        return float((problem.release_s + values).max() - problem.release_s.min())
    return float(values.sum())


def time_bounds(problem: Problem) -> tuple[np.ndarray, np.ndarray]:
    """Heads and tails per (layer, server), contention-free, for the MILP's cuts.

    ``head[l, s]``: earliest time after the task's release at which ``l`` can be ready on
    ``s``; ``tail[l, s]``: least time from the start of ``l`` on ``s`` to its task's end
    (its execution, the rest of the DAG, the return of the output). Both are inf where
    ``l`` cannot run on ``s``.
    """
    n_layers, n = problem.n_layers, problem.n_servers
    allowed_inf = np.where(problem.allowed, 0.0, np.inf)
    exec_s = problem.exec_s + allowed_inf
    head = np.full((n_layers, n), np.inf)
    tail = np.full((n_layers, n), np.inf)
    for layers in problem.task_layers:
        for g in layers:
            preds = problem.preds(g)
            if not len(preds):
                head[g] = input_lag(problem, g)
            else:
                head[g] = np.max([((head[p] + exec_s[p])[:, None] + edge_lag(problem, p))
                                  .min(axis=0) for p in preds], axis=0)
            head[g] += allowed_inf[g]
        for g in layers[::-1]:
            succ = problem.succs[g]
            rest = return_lag(problem, g) if problem.is_sink[g] else np.zeros(n)
            if succ:
                rest = np.max([(edge_lag(problem, g) + tail[u][None, :]).min(axis=1)
                               for u in succ] + [rest], axis=0)
            tail[g] = exec_s[g] + rest
    return head, tail


# --- the solver ----------------------------------------------------------------------


def solve(problem: Problem, *, seed=None, time_limit_s=None, budget_evals=None):
    """Contention-free shortest paths: the optimum when no pool binds, else a bound.

    The plan (default priority; the greedy plan when that is better under contention)
    is scored by the simulator; the status is ``optimal`` when its value meets the bound
    (within 1e-9 relative), ``infeasible`` when a task's deadline is below its
    contention-free latency, else ``feasible`` with the bound.
    """
    started = time.perf_counter()
    res = path_bound(problem)
    if not np.isfinite(res.bound):
        return make_solution(problem, "dp", None, started=started, status="infeasible",
                             message=res.reason or "no feasible path")
    # the bound is valid in every case, so the simulator's value meeting it proves
    # optimality (make_solution decides the status); under contention the greedy plan
    # may be the better incumbent
    from offloadlab.heuristics.baselines import greedy_assign

    plans = [res.assign] if res.assign is not None else []
    fallback, evals = greedy_assign(problem)
    if fallback is not None:
        plans.append(fallback)
    values = [float(simulate(problem, a).objective[0]) for a in plans]
    if not plans or not np.isfinite(min(values)):
        return make_solution(problem, "dp", None, started=started, status="error",
                             bound=res.bound, bound_source="contention-free DP",
                             evaluations=evals + len(plans),
                             message="neither the contention-free plan nor greedy is "
                                     "feasible; the bound stands")
    best = plans[int(np.argmin(values))]
    return make_solution(problem, "dp", best, problem.default_priority, started=started,
                         bound=res.bound, bound_source="contention-free DP",
                         evaluations=evals + len(plans))

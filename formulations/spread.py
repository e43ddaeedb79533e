"""Spread plans for large DAG instances: tasks dealt out over the edge servers.

On the paper-size DAG instances (GoogLeNet, ResNet101: twelve tasks from four one-slot
devices) every task's contention-free plan runs its first layers on the device, with the
branches of a fork side by side, and sends the rest to the fastest edge server: together
these plans queue on the devices and on that one server. The plans here give each task
one edge server (dealt out in turn, fastest first, from several offsets), keep it off
its device, and plan its layers by the contention-free programme over that server and
the cloud; the best, by the simulator, seeds the re-insertion search of
:func:`offloadlab.formulations.lagrangian.insertion_search`, which moves tasks back onto
their devices where the simulator says it pays.
"""

from __future__ import annotations

import time

import numpy as np

from offloadlab.problem import Problem

from .dp import edge_lag, input_lag, return_lag


def task_plan(problem: Problem, t: int, usable: np.ndarray) -> tuple[float, np.ndarray]:
    """Contention-free programme for task ``t`` over the servers ``usable`` (bool (S,)).

    Returns ``(latency, servers of the task's layers)``; latency inf when no path."""
    layers = problem.task_layers[t]
    ex = np.where(problem.allowed & usable[None, :], problem.exec_s, np.inf)
    f, arg = {}, {}
    for g in layers:
        preds = problem.preds(g)
        if not len(preds):
            ready = input_lag(problem, g)
        else:
            parts = []
            for p in preds:
                cand = f[p][:, None] + edge_lag(problem, p)
                arg[(int(p), int(g))] = np.argmin(cand, axis=0)
                parts.append(cand.min(axis=0))
            ready = np.max(parts, axis=0)
        f[int(g)] = ready + ex[g]
    sinks = [int(g) for g in layers if problem.is_sink[g]]
    value = max(float(np.min(f[g] + return_lag(problem, g))) for g in sinks)
    assign = {}
    stack = []
    for g in sinks:
        assign[g] = int(np.argmin(f[g] + return_lag(problem, g)))
        stack.append(g)
    while stack:   # from the sinks back; the first choice wins for shared ancestors
        g = stack.pop()
        for p in problem.preds(g):
            if int(p) not in assign:
                assign[int(p)] = int(arg[(int(p), g)][assign[g]])
                stack.append(int(p))
    return value, np.array([assign[int(g)] for g in layers], dtype=np.int64)


def spread_plans(problem: Problem) -> list[np.ndarray]:
    """One plan per offset: task ``t`` on edge ``(t + offset) mod E`` (edges fastest
    first) and the cloud, off its device when it can be; tasks without a path there
    keep their contention-free servers."""
    edges = np.flatnonzero(problem.tier == 1)
    edges = edges[np.argsort(-problem.ghz[edges] * problem.pools[edges], kind="stable")]
    if not len(edges):
        return []
    cloud = problem.tier == 2
    everything = np.ones(problem.n_servers, dtype=bool)
    plans = []
    for offset in range(len(edges)):
        assign = np.zeros(problem.n_layers, dtype=np.int64)
        for t, layers in enumerate(problem.task_layers):
            usable = cloud.copy()
            usable[edges[(t + offset) % len(edges)]] = True
            value, servers = task_plan(problem, t, usable)
            if not np.isfinite(value):
                value, servers = task_plan(problem, t, everything)
            assign[layers] = servers
        plans.append(assign)
    return plans


def task_options(problem: Problem, t: int) -> np.ndarray:
    """Plans of task ``t`` alone, (K, n_t): its first ``k`` layers (in topological
    order) on its device and the rest on one edge server, for every ``k`` and edge,
    and the contention-free plan over each edge server with and without the device."""
    layers = problem.task_layers[t]
    dev = int(problem.task_device[t])
    edges = np.flatnonzero(problem.tier == 1)
    allowed = problem.allowed[layers]
    out = []
    for e in edges:
        for k in range(len(layers) + 1 if dev >= 0 else 1):
            row = np.where(np.arange(len(layers)) < k, dev, e)
            if allowed[np.arange(len(layers)), row].all():
                out.append(row)
        for with_dev in (False, True):
            usable = problem.tier == 2
            usable[e] = True
            if with_dev and dev >= 0:
                usable[dev] = True
            value, servers = task_plan(problem, t, usable)
            if np.isfinite(value):
                out.append(servers)
    return np.unique(np.array(out, dtype=np.int64), axis=0) if out else \
        np.zeros((0, len(layers)), dtype=np.int64)


def greedy_plan(problem: Problem):
    """Tasks placed one at a time, by contention-free latency, each taking the option of
    :func:`task_options` that least raises the summed latency of the tasks placed so far
    (all options scored in one simulator call); task-major priority in that order.

    Returns ``(assign, priority)`` or ``(None, None)``."""
    from offloadlab.simulator import simulate

    everything = np.ones(problem.n_servers, dtype=bool)
    cf = [task_plan(problem, t, everything) for t in range(problem.n_tasks)]
    cur = np.zeros(problem.n_layers, dtype=np.int64)
    for t, layers in enumerate(problem.task_layers):
        cur[layers] = cf[t][1]
    order = np.argsort([v for v, _ in cf], kind="stable")
    done: list[int] = []
    for t in order:
        opts = task_options(problem, int(t))
        if not len(opts):
            continue
        layers = problem.task_layers[t]
        pop = np.repeat(cur[None, :], len(opts), axis=0)
        pop[:, layers] = opts
        done.append(int(t))
        rest = [x for x in range(problem.n_tasks) if x not in done]
        prio = np.concatenate([problem.task_layers[x] for x in done + rest])
        ev = simulate(problem, pop, prio[None, :])
        ends = np.stack([ev.finish_s[:, problem.task_layers[x]].max(axis=1)
                         - problem.release_s[x] for x in done], axis=1)
        cost = np.where(ev.feasible, ends.sum(axis=1), np.inf)
        k = int(np.argmin(cost))
        if np.isfinite(cost[k]):
            cur = pop[k]
    rest = [x for x in range(problem.n_tasks) if x not in done]
    prio = np.concatenate([problem.task_layers[x] for x in done + rest])
    return cur, prio


def spread_incumbent(problem: Problem, inc, *, seed: int = 0, time_limit_s: float = 10.0):
    """``inc`` (``(assign, priority, objective, source)`` or None) or a better plan
    from the spread plans and re-insertion, within about ``time_limit_s`` seconds."""
    from offloadlab.simulator import simulate

    from .lagrangian import insertion_search
    from .milp import start_order

    started = time.perf_counter()
    plans = spread_plans(problem)
    if not plans:
        return inc
    ev = simulate(problem, np.array(plans))
    k = int(np.argmin(ev.objective))
    value = float(ev.objective[k])
    assign, prio = plans[k], start_order(problem, ev.start_s[k])
    g_assign, g_prio = greedy_plan(problem)
    g_value = float(simulate(problem, g_assign, g_prio).objective[0])
    if g_value < value:
        assign, prio, value = g_assign, g_prio, g_value
    if not np.isfinite(value):
        return inc
    left = time_limit_s - (time.perf_counter() - started)
    if left > 0:
        assign, prio, value, _ = insertion_search(problem, value, seed=seed,
                                                  time_limit_s=left, start_assign=assign,
                                                  start_priority=prio)
    if inc is not None and inc[2] <= value:
        return inc
    return assign, prio, float(value), "spread plans and re-insertion"

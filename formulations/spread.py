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
    if not np.isfinite(value):
        return inc
    assign, prio = plans[k], start_order(problem, ev.start_s[k])
    left = time_limit_s - (time.perf_counter() - started)
    if left > 0:
        assign, prio, value, _ = insertion_search(problem, value, seed=seed,
                                                  time_limit_s=left, start_assign=assign,
                                                  start_priority=prio)
    if inc is not None and inc[2] <= value:
        return inc
    return assign, prio, float(value), "spread plans and re-insertion"

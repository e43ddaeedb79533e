"""Spread plans for large DAG instances: tasks dealt out over the edge servers.

On the paper-size DAG instances (GoogLeNet, ResNet101: twelve tasks from four one-slot
devices) every task's contention-free plan runs its first layers on the device, with the
branches of a fork side by side, and sends the rest to the fastest edge server: together
these plans queue on the devices and on that one server. The plans here give each task
one edge server (dealt out in turn, fastest first, from several offsets), keep it off
its device, and plan its layers by the contention-free programme over that server and
the cloud; a greedy plan places the tasks one at a time, each choosing a prefix of its
layers for its device and one edge server for the rest (or a contention-free plan over
one edge), by the simulator's summed latency of the tasks placed so far. The best seeds
a local search over single layers, runs of layers and a task's whole share of a server,
and then the re-insertion search of
:func:`offloadlab.formulations.lagrangian.insertion_search`.
"""

from __future__ import annotations

import time

import numpy as np

from offloadlab.budget import time_left
from offloadlab.problem import Problem

from .dp import edge_lag, input_lag, return_lag

DEVICE_PRICES = (1.0, 1.5, 2.0, 3.0, 5.0, 8.0)   # device slowdowns of task_options


def task_plan(problem: Problem, t: int, usable: np.ndarray,
              slowdown: np.ndarray | None = None) -> tuple[float, np.ndarray]:
    """Contention-free programme for task ``t`` over the servers ``usable`` (bool (S,)),
    each server's execution times multiplied by ``slowdown`` (S,) when given (a plan
    that spares a shared server).

    Returns ``(latency, servers of the task's layers)``; latency inf when no path."""
    layers = problem.task_layers[t]
    ex = np.where(problem.allowed & usable[None, :], problem.exec_s, np.inf)
    if slowdown is not None:
        ex = ex * slowdown[None, :]
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


def device_cuts(problem: Problem, t: int, windows=None, n_caps: int = 40) -> list:
    """Sets of task ``t``'s layers (bool masks) that a latency below a cap keeps on its
    device (:func:`offloadlab.formulations.device_bound.pinned_windows`, caps from the
    contention-free latency to where nothing is mandatory): the device's share of plans
    that leave the device as early as such a latency allows (the first layers and the
    heads of a fork's branches, whose outputs are small)."""
    from .bounds import _windows
    from .device_bound import _TaskGraph, pinned_windows
    from .dp import path_bound

    dev = int(problem.task_device[t])
    if dev < 0:
        return []
    head, tail = (windows or _windows(problem)[2:])
    layers = problem.task_layers[t]
    graph = _TaskGraph(problem, t)
    other = graph.allowed.copy()
    other[:, dev] = False
    with np.errstate(invalid="ignore"):
        v = np.where(other, head[layers] + tail[layers], np.inf).min(axis=1)
    lb = float(path_bound(problem).task_value[t])
    v = v[np.isfinite(v)]
    if not len(v) or v.max() <= lb:
        return []
    cuts: list = []
    for cap in np.linspace(lb, float(v.max()), n_caps):
        must = pinned_windows(graph, head[layers], tail[layers], float(cap))[0]
        if must.any() and not must.all() and not any((must == c).all() for c in cuts):
            cuts.append(must)
    return cuts


def task_options(problem: Problem, t: int, cuts: list | None = None) -> np.ndarray:
    """Plans of task ``t`` alone, (K, n_t): its first ``k`` layers (in topological
    order) on its device and the rest on one edge server, for every ``k`` and edge,
    the contention-free plan over each edge server with and without the device (its
    time priced up by the factors ``DEVICE_PRICES``), and each of ``cuts`` (device
    layer masks, :func:`device_cuts`) on the device with the rest on one edge."""
    layers = problem.task_layers[t]
    dev = int(problem.task_device[t])
    edges = np.flatnonzero(problem.tier == 1)
    allowed = problem.allowed[layers]
    out = []
    for e in edges:
        for must in cuts or []:
            row = np.where(must, dev, e)
            if allowed[np.arange(len(layers)), row].all():
                out.append(row)
        for k in range(len(layers) + 1 if dev >= 0 else 1):
            row = np.where(np.arange(len(layers)) < k, dev, e)
            if allowed[np.arange(len(layers)), row].all():
                out.append(row)
        for with_dev in (False, True):
            usable = problem.tier == 2
            usable[e] = True
            if with_dev and dev >= 0:
                usable[dev] = True
            # the device's time priced up: cuts that leave it sooner (shared by the
            # device's tasks) at some cost in latency
            for factor in DEVICE_PRICES if with_dev and dev >= 0 else (1.0,):
                slow = np.ones(problem.n_servers)
                if dev >= 0:
                    slow[dev] = factor
                value, servers = task_plan(problem, t, usable, slow)
                if np.isfinite(value):
                    out.append(servers)
    return np.unique(np.array(out, dtype=np.int64), axis=0) if out else \
        np.zeros((0, len(layers)), dtype=np.int64)


def greedy_plan(problem: Problem, deadline: float = np.inf):
    """Tasks placed one at a time, by contention-free latency, each taking the option of
    :func:`task_options` that least raises the summed latency of the tasks placed so far
    (all options scored in one simulator call); task-major priority in that order.

    Past ``deadline`` (a ``time.perf_counter()`` value) the remaining tasks keep their
    contention-free plans. Returns ``(assign, priority)``."""
    from offloadlab.simulator import simulate

    everything = np.ones(problem.n_servers, dtype=bool)
    cf = [task_plan(problem, t, everything) for t in range(problem.n_tasks)]
    cur = np.zeros(problem.n_layers, dtype=np.int64)
    for t, layers in enumerate(problem.task_layers):
        cur[layers] = cf[t][1]
    order = np.argsort([v for v, _ in cf], kind="stable")
    done: list[int] = []
    for t in order:
        if time.perf_counter() > deadline:
            break
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


def move_search(problem: Problem, assign: np.ndarray, priority: np.ndarray, *,
                time_limit_s: float = 5.0, chunk: int = 512):
    """Local search over the assignment, priority fixed: move one layer, or a run of
    up to four consecutive layers of a task, to its device or to a server the task
    already uses; moves are scored by the simulator in chunks and the best of a chunk is
    taken when it improves. Returns ``(assign, objective)``."""
    from offloadlab.simulator import objective

    started = time.perf_counter()
    assign = np.asarray(assign).copy()
    value = float(objective(problem, assign, priority)[0])
    improved = True
    while improved and time.perf_counter() - started < time_limit_s:
        improved = False
        moves = []
        for t, layers in enumerate(problem.task_layers):
            servers = set(assign[layers].tolist())
            if problem.task_device[t] >= 0:
                servers.add(int(problem.task_device[t]))
            for i in range(len(layers)):
                for n in range(1, 5):
                    if i + n > len(layers):
                        break
                    run = layers[i:i + n]
                    for s in servers:
                        if problem.allowed[run, s].all() and (assign[run] != s).any():
                            moves.append((int(layers[i]), n, s))
        moves = np.array(moves, dtype=np.int64).reshape(-1, 3)
        # and every layer a task has on one server to another server
        swaps = [(t, a, b) for t, layers in enumerate(problem.task_layers)
                 for a in np.unique(assign[layers])
                 for b in np.flatnonzero(problem.allowed[layers[assign[layers] == a]]
                                         .all(axis=0)) if b != a]
        for lo in range(0, len(swaps), chunk):
            pop = np.repeat(assign[None, :], len(swaps[lo:lo + chunk]), axis=0)
            for i, (t, a, b) in enumerate(swaps[lo:lo + chunk]):
                layers = problem.task_layers[t]
                pop[i, layers[assign[layers] == a]] = b
            values = objective(problem, pop, priority)
            k = int(np.argmin(values))
            if values[k] < value - 1e-12 * max(1.0, abs(value)):
                assign, value, improved = pop[k], float(values[k]), True
                break
        for lo in range(0, len(moves), chunk):
            if time.perf_counter() - started > time_limit_s:
                break
            part = moves[lo:lo + chunk]
            rows = np.repeat(np.arange(len(part)), part[:, 1])
            cols = np.concatenate([np.arange(g, g + n) for g, n, _ in part])
            pop = np.repeat(assign[None, :], len(part), axis=0)
            pop[rows, cols] = part[rows, 2]
            values = objective(problem, pop, priority)
            k = int(np.argmin(values))
            if values[k] < value - 1e-12 * max(1.0, abs(value)):
                assign, value, improved = pop[k], float(values[k]), True
    return assign, value


def order_search(problem: Problem, assign: np.ndarray, order: list[int]):
    """Task-major priorities: move one task to another place in ``order`` while that
    improves (all moves of a pass scored in one simulator call). Returns
    ``(order, priority, objective)``."""
    from offloadlab.simulator import objective

    def prio(o):
        return np.concatenate([problem.task_layers[t] for t in o])

    order = list(order)
    value = float(objective(problem, assign, prio(order))[0])
    while True:
        cands = []
        for i in range(len(order)):
            rest = order[:i] + order[i + 1:]
            cands += [rest[:j] + [order[i]] + rest[j:] for j in range(len(order))
                      if j != i]
        if not cands:
            break
        values = objective(problem, np.repeat(assign[None, :], len(cands), axis=0),
                           np.array([prio(o) for o in cands]))
        k = int(np.argmin(values))
        if not values[k] < value - 1e-12 * max(1.0, abs(value)):
            break
        order, value = cands[k], float(values[k])
    return order, prio(order), value


def spread_incumbent(problem: Problem, inc, *, seed: int = 0, time_limit_s: float = 10.0):
    """``inc`` (``(assign, priority, objective, source)`` or None) or a better plan:
    the best of the spread plans and the greedy plan, improved by :func:`option_search`
    (measured on latency-googlenet-paper-s0: 1.489 -> 1.391 in 20 s), by
    :func:`move_search` and then by re-insertion, within about ``time_limit_s``
    seconds."""
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
    g_assign, g_prio = greedy_plan(problem, deadline=started + 0.25 * time_limit_s)
    g_value = float(simulate(problem, g_assign, g_prio).objective[0])
    if g_value < value:
        assign, prio, value = g_assign, g_prio, g_value
    if not np.isfinite(value):
        return inc
    left = time_left(0.6 * time_limit_s, started)
    if left > 0:
        assign, prio, value = option_search(problem, assign, prio, seed=seed,
                                            time_limit_s=left)
    left = time_left(time_limit_s, started)
    if left > 0:
        assign, value = move_search(problem, assign, prio, time_limit_s=0.6 * left)
    left = time_left(time_limit_s, started)
    if left > 0:
        assign, prio, value, _ = insertion_search(problem, value, seed=seed,
                                                  time_limit_s=left, start_assign=assign,
                                                  start_priority=prio)
    if inc is not None and inc[2] <= value:
        return inc
    return (assign, prio, float(value),
            "spread plans, task options, moves and re-insertion")


def option_search(problem: Problem, assign: np.ndarray, priority: np.ndarray, *,
                  seed: int = 0, time_limit_s: float = 10.0, chunk: int = 2048,
                  max_rounds: int | None = None):
    """Iterated local search over whole-task options and a task-major order.

    Each task takes one row of :func:`task_options` (or its row of ``assign``); the
    priority lists the tasks' layers task by task. A step takes the best of every
    single-task option change and every move of one task in the order (all scored by
    the simulator, in chunks); at a local optimum two random tasks get random options
    and two tasks swap places, from the best so far (``seed`` drives the draws).
    Stops after ``time_limit_s`` or ``max_rounds`` descents (then the same seed gives
    the same plan). Returns ``(assign, priority, objective)``, never worse than the
    input plan.
    """
    from offloadlab.simulator import objective, simulate

    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    layers = problem.task_layers
    from .bounds import _windows

    windows = _windows(problem)[2:]
    opts, by_class = [], {}
    for t, ls in enumerate(layers):   # tasks of one model and device share options
        key = (problem.instance.tasks[t].model, int(problem.task_device[t]))
        if key not in by_class:
            by_class[key] = task_options(problem, t, device_cuts(problem, t, windows))
        opts.append(np.vstack([by_class[key], assign[ls][None, :]]))
    ev = simulate(problem, assign, priority)
    order = [int(t) for t in np.argsort([ev.start_s[0, ls].min() for ls in layers],
                                        kind="stable")]

    def build(choice):
        out = np.empty(problem.n_layers, dtype=np.int64)
        for t, ls in enumerate(layers):
            out[ls] = opts[t][choice[t]]
        return out

    def prio(o):
        return np.concatenate([layers[t] for t in o])

    def scored(pop, prios):
        return np.concatenate([objective(problem, pop[i:i + chunk], prios[i:i + chunk]
                                         if prios.shape[0] > 1 else prios)
                               for i in range(0, len(pop), chunk)])

    def descend(choice, order, value):
        # tasks in random order, each taking its best option when that improves; once
        # no task improves, the best move of one task in the order
        while time.perf_counter() - started < time_limit_s:
            improved = False
            for t in rng.permutation(problem.n_tasks):
                if time.perf_counter() - started >= time_limit_s:
                    return choice, order, value
                pop = np.repeat(build(choice)[None, :], len(opts[t]), axis=0)
                pop[:, layers[t]] = opts[t]
                v1 = scored(pop, prio(order)[None, :])
                k = int(np.argmin(v1))
                if v1[k] < value - 1e-12 * max(1.0, abs(value)):
                    choice = choice.copy()
                    choice[t], value, improved = k, float(v1[k]), True
            if improved:
                continue
            orders = [o for i in range(len(order)) for j in range(len(order)) if j != i
                      for o in [order[:i] + order[i + 1:]]
                      for o in [o[:j] + [order[i]] + o[j:]]]
            if not orders:
                break
            v2 = scored(np.repeat(build(choice)[None, :], len(orders), axis=0),
                        np.array([prio(o) for o in orders]))
            k = int(np.argmin(v2))
            if not v2[k] < value - 1e-12 * max(1.0, abs(value)):
                break
            order, value = orders[k], float(v2[k])
        return choice, order, value

    choice = np.array([len(o) - 1 for o in opts])
    value = float(objective(problem, build(choice), prio(order))[0])
    best = (value, choice, order)
    rounds = 0
    while time.perf_counter() - started < time_limit_s and rounds != max_rounds:
        rounds += 1
        choice, order, value = descend(choice, order, value)
        if value < best[0]:
            best = (value, choice, order)
        choice, order = best[1].copy(), list(best[2])
        for t in rng.choice(problem.n_tasks, min(2, problem.n_tasks), replace=False):
            choice[t] = int(rng.integers(len(opts[t])))
        if problem.n_tasks > 1:
            i, j = rng.choice(problem.n_tasks, 2, replace=False)
            order[i], order[j] = order[j], order[i]
        value = float(objective(problem, build(choice), prio(order))[0])
    start_value = float(objective(problem, assign, priority)[0])
    if best[0] < start_value:
        return build(best[1]), prio(best[2]), float(best[0])
    return assign, priority, start_value

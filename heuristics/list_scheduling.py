"""HEFT and PEFT: classic list scheduling on heterogeneous servers.

Both rank the layers, then take them from a ready list (highest rank first) and put each
on the allowed server that minimises its finish time (HEFT) or its finish time plus the
optimistic cost to the end (PEFT). Finish times come from the schedule's step, the one
the simulator runs: each candidate is probed on the placed prefix and the best committed
(the step appends, it does not insert into idle gaps, so this is HEFT without
insertion).

Average costs over the servers a layer may use: execution ``mean_s gcycles / ghz_s``;
transfer of an edge ``out_mb * mean(1 / bw)`` over the linked pairs of distinct allowed
servers (0 on the same server, as in the originals).
"""

from __future__ import annotations

import heapq
import time

import numpy as np

from offloadlab.problem import Problem
from offloadlab.registry import make_solution
from offloadlab.schedule import earliest_finish_plan


def mean_exec_s(problem: Problem) -> np.ndarray:
    """(L,) mean execution time over each layer's allowed servers."""
    ex = np.where(problem.allowed, problem.exec_s, 0.0)
    return ex.sum(axis=1) / problem.allowed.sum(axis=1)


def mean_transfer_s(problem: Problem, src: int, dst: int) -> float:
    """Mean time to move ``src``'s output to ``dst`` between distinct linked servers."""
    a = problem.allowed_servers(src)
    b = problem.allowed_servers(dst)
    bw = problem.bw[np.ix_(a, b)]
    ok = np.isfinite(bw) & (bw > 0)
    return float(problem.out_mb[src] * (1.0 / bw[ok]).mean()) if ok.any() else 0.0


def upward_rank(problem: Problem) -> np.ndarray:
    """HEFT's rank_u: mean exec plus the longest mean path to a sink."""
    w = mean_exec_s(problem)
    rank = np.zeros(problem.n_layers)
    for g in range(problem.n_layers - 1, -1, -1):  # reverse topological
        tail = [mean_transfer_s(problem, g, j) + rank[j] for j in problem.succs[g]]
        rank[g] = w[g] + max(tail, default=0.0)
    return rank


def optimistic_cost_table(problem: Problem) -> np.ndarray:
    """PEFT's OCT (L, S): the cheapest cost from a layer on s to the end of its task.

    ``OCT[l, s] = max over successors j of min over s' of OCT[j, s'] + exec(j, s') +
    (mean transfer if s' != s)``; sinks 0; servers a layer may not use are ``inf``.
    """
    n_l, n_s = problem.n_layers, problem.n_servers
    oct_ = np.zeros((n_l, n_s))
    ex = np.where(problem.allowed, problem.exec_s, np.inf)
    for g in range(n_l - 1, -1, -1):
        for j in problem.succs[g]:
            base = oct_[j] + ex[j]                   # (S',)
            c = mean_transfer_s(problem, g, j)
            same = base                               # s' == s: no transfer
            other = base + c
            best_other = np.min(other)
            cand = np.minimum(same, best_other)       # (S,) per s
            oct_[g] = np.maximum(oct_[g], cand)
    return np.where(problem.allowed, oct_, np.inf)


def ready_list_order(problem: Problem, rank: np.ndarray) -> np.ndarray:
    """Precedence-respecting order: among ready layers, the highest rank first (ties:
    the lower global index)."""
    indeg = np.diff(problem.pred_ptr).copy()
    heap = [(-rank[g], g) for g in range(problem.n_layers) if indeg[g] == 0]
    heapq.heapify(heap)
    order = []
    while heap:
        _, g = heapq.heappop(heap)
        order.append(g)
        for j in problem.succs[g]:
            indeg[j] -= 1
            if indeg[j] == 0:
                heapq.heappush(heap, (-rank[j], j))
    return np.array(order, dtype=np.int64)


def place(problem: Problem, order: np.ndarray, extra_s: np.ndarray | None = None):
    """Each layer in ``order`` to the allowed server minimising finish (+ ``extra_s``).

    Every candidate is probed with the schedule's step (O(L·S)). Returns ``(assign,
    evaluations)``; ``assign`` is None when a layer has no server with a feasible finish
    (missing links).
    """
    return earliest_finish_plan(problem, order, extra_s=extra_s)


def peft_inputs(problem: Problem) -> tuple[np.ndarray, np.ndarray]:
    """PEFT's (rank, extra cost per layer and server) from the optimistic cost table."""
    table = optimistic_cost_table(problem)
    rank = np.where(problem.allowed, table, 0.0).sum(1) / problem.allowed.sum(1)
    return rank, np.where(np.isfinite(table), table, 0.0)


def heuristic_plans(problem: Problem, names=("greedy", "peft", "heft")):
    """``(assign, order, evaluations)`` of each named constructive heuristic (assign None
    when it finds no feasible plan; greedy's order is the default priority)."""
    from .baselines import greedy_assign

    for name in names:
        if name == "greedy":
            assign, used = greedy_assign(problem)
            yield assign, problem.default_priority, used
            continue
        rank, extra = (upward_rank(problem), None) if name == "heft" else peft_inputs(problem)
        order = ready_list_order(problem, rank)
        assign, used = place(problem, order, extra)
        yield assign, order, used


def _solve(problem: Problem, name: str, rank: np.ndarray, extra_s=None, started=0.0):
    order = ready_list_order(problem, rank)
    assign, evals = place(problem, order, extra_s)
    msg = "" if assign is not None else "some layer has no server with a feasible finish"
    return make_solution(problem, name, assign, order if assign is not None else None,
                         started=started, evaluations=evals, message=msg)


def heft(problem: Problem, *, seed=None, time_limit_s=None, budget_evals=None):
    """HEFT (Topcuoglu et al. 2002): upward rank, earliest finish time (deterministic)."""
    started = time.perf_counter()
    return _solve(problem, "heft", upward_rank(problem), started=started)


def peft(problem: Problem, *, seed=None, time_limit_s=None, budget_evals=None):
    """PEFT (Arabnejad & Barbosa 2014): rank = mean OCT, server by finish + OCT."""
    started = time.perf_counter()
    rank, extra = peft_inputs(problem)
    return _solve(problem, "peft", rank, extra, started=started)

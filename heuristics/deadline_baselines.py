"""MTL-A3C's baselines for deadline-constrained block partitioning (§6): Greedy (each
block on the edge server with the lowest load), APDI (blocks spread evenly) and RPDI
(random).

All three place the blocks in the instance's default priority (release order, so slot by
slot) with the core's step (:func:`offloadlab.schedule.place_batch`). For each block the
step is tried on every server at once (the state copied once per server); the candidates
are the servers the instance allows whose step keeps every deadline and memory limit, or,
when none does, every allowed server (the plan is then infeasible and says why). Chosen:
the paper's baselines ignore deadlines; restricting them to deadline-keeping servers makes
them fair competitors of learners whose action mask does the same.
"""

from __future__ import annotations

import time

import numpy as np

from offloadlab.problem import Problem
from offloadlab.schedule import FEASIBLE, new_state, place_batch

RULES = ("least-loaded", "apdi", "rpdi")


def _candidates(problem: Problem, state, look, g: int) -> tuple[np.ndarray, np.ndarray]:
    """(allowed, keeps) boolean (S,) masks for layer ``g``: the structurally allowed
    servers and those among them that keep every limit."""
    n_s = problem.n_servers
    for dst, src in zip(look._arrays(), state._arrays()):
        dst[...] = np.repeat(src, n_s, axis=0)
    step = place_batch(problem, look, np.full(n_s, g), np.arange(n_s))
    allowed = problem.allowed[g] & step.committed
    keeps = allowed & (step.status == FEASIBLE)
    return allowed, keeps


def baseline_plan(problem: Problem, rule: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The plan of one baseline rule: ``(assign (L,), priority (L,))``.

    Parameters
    ----------
    rule : {"least-loaded", "apdi", "rpdi"}
        ``least-loaded``: the edge server with the least execution time assigned so far
        (the device when no edge server is a candidate); ``apdi``: the candidate with the
        fewest blocks so far (ties: lowest index), which spreads blocks evenly; ``rpdi``:
        a uniformly random candidate.
    seed : int
        Seeds ``rpdi``.
    """
    if rule not in RULES:
        raise ValueError(f"rule must be one of {RULES}, not {rule!r}")
    rng = np.random.default_rng(seed)
    order = np.asarray(problem.default_priority, dtype=np.int64)
    state, look = new_state(problem, 1), new_state(problem, problem.n_servers)
    load_s = np.zeros(problem.n_servers)
    n_on = np.zeros(problem.n_servers, dtype=np.int64)
    edge = problem.tier == 1
    for g in order:
        allowed, keeps = _candidates(problem, state, look, int(g))
        cand = keeps if keeps.any() else allowed
        if not cand.any():  # nothing structurally possible: let the simulator say why
            cand = problem.allowed[g].copy()
        idx = np.flatnonzero(cand)
        if rule == "least-loaded":
            pool = idx[edge[idx]] if edge[idx].any() else idx
            s = int(pool[np.argmin(load_s[pool])])
        elif rule == "apdi":
            s = int(idx[np.argmin(n_on[idx])])
        else:
            s = int(rng.choice(idx))
        place_batch(problem, state, np.array([g]), np.array([s]))
        load_s[s] += problem.exec_s[g, s]
        n_on[s] += 1
    return state.assign[0].copy(), order


def _solver(rule: str):
    def run(problem, *, seed=None, time_limit_s=None, budget_evals=None):
        from offloadlab.registry import make_solution

        started = time.perf_counter()
        assign, priority = baseline_plan(problem, rule, 0 if seed is None else int(seed))
        return make_solution(problem, rule, assign, priority, started=started, seed=seed,
                             params={"rule": rule})

    run.__name__ = f"solve_{rule.replace('-', '_')}"
    run.__doc__ = f"The {rule} baseline of MTL-A3C as a solver; see :func:`baseline_plan`."
    return run


solve_least_loaded = _solver("least-loaded")
solve_apdi = _solver("apdi")
solve_rpdi = _solver("rpdi")

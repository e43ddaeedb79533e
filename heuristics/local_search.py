"""A final local search for PSO-GA and GA: descent over segment moves.

EosDNN stops PSO-GA after its iterations; the swarm's best plan is then often one move
away from a better one (a layer or a run of layers on the wrong server). A *move* puts
the genes ``lo..hi`` of one task on one server (genes that may not use it keep theirs):

* one gene to another allowed server (Fig. 4(b)'s mutation, all of them);
* a *run* (maximal consecutive genes of one task on one server) to another server;
* a boundary shift: the first / last ``k`` genes of a run (2 <= k < its length) to the
  neighbouring run's server;
* a whole task to one server.

The moves are scored in chunks, each one population call of the simulator, in a seeded
random order; the best of a chunk replaces the incumbent when it improves it, and the
moves are rebuilt around the new incumbent. A full pass without improvement is a local
optimum; the search also stops when the budget ends. The priority stays the incumbent's.
"""

from __future__ import annotations

import numpy as np

from offloadlab.problem import Problem

from offloadlab.budget import Evaluator
from .operators import Encoding

CHUNK = 512  # moves per simulator call: the whole neighbourhood on small instances


def runs(genes: np.ndarray, spans) -> np.ndarray:
    """Run id per gene: consecutive genes of one task on one server share one."""
    lo, _ = spans
    idx = np.arange(len(genes))
    start = (idx == lo) | np.concatenate([[True], genes[1:] != genes[:-1]])
    return np.cumsum(start) - 1


def moves(genes: np.ndarray, enc: Encoding, spans) -> np.ndarray:
    """(K, 3) moves ``(lo, hi, server)`` one step away from ``genes``."""
    n_genes, n_servers = enc.allowed.shape
    out = []
    g_idx, s_idx = np.nonzero(enc.allowed & (np.arange(n_servers)[None, :] != genes[:, None]))
    out.append(np.stack([g_idx, g_idx, s_idx], axis=1))
    run_id = runs(genes, spans)
    first = np.flatnonzero(np.diff(np.concatenate([[-1], run_id])))
    last = np.concatenate([first[1:] - 1, [n_genes - 1]])
    ranges = [np.stack([first, last], axis=1)[last > first]]
    lo, hi = spans
    ranges.append(np.unique(np.stack([lo, hi], axis=1), axis=0))
    for r in ranges:
        rows = np.repeat(r, n_servers, axis=0)
        out.append(np.column_stack([rows, np.tile(np.arange(n_servers), len(r))]))
    for k in range(1, len(first)):
        b = first[k]
        if b == lo[b]:
            continue  # a task boundary, not a run boundary
        a_lo, b_hi = first[k - 1], last[k]
        stops = np.arange(b + 1, b_hi)           # genes b..stop of the right run go left
        out.append(np.column_stack([np.full(len(stops), b), stops,
                                    np.full(len(stops), genes[b - 1])]))
        starts = np.arange(a_lo + 1, b - 1)      # genes start..b-1 of the left run go right
        out.append(np.column_stack([starts, np.full(len(starts), b - 1),
                                    np.full(len(starts), genes[b])]))
    return np.concatenate(out).astype(np.int64)


def apply_moves(genes: np.ndarray, enc: Encoding, mv: np.ndarray) -> np.ndarray:
    """(K, G) plans: ``genes`` with each move applied."""
    pos = np.arange(len(genes))[None, :]
    mask = (pos >= mv[:, :1]) & (pos <= mv[:, 1:2]) & enc.allowed[:, mv[:, 2]].T
    return np.where(mask, mv[:, 2:3], genes[None, :])


def polish(problem: Problem, enc: Encoding, evaluator: Evaluator, genes: np.ndarray,
           value: float, priority: np.ndarray, spans, rng: np.random.Generator,
           chunk: int = CHUNK) -> tuple[np.ndarray, float]:
    """Descent from ``genes`` (objective ``value``) under ``priority``.

    Returns the final genes and objective (never worse than the start). Every plan is
    scored by ``evaluator`` (it counts in the budget and updates the best plan seen).
    """
    priority = np.atleast_2d(priority)[:1]
    mv = moves(genes, enc, spans)
    order, i = rng.permutation(len(mv)), 0
    while i < len(mv) and not evaluator.done():
        plans = apply_moves(genes, enc, mv[order[i:i + chunk]])
        i += chunk
        values = evaluator(enc.decode(plans), priority)
        if len(values) == 0:
            break
        k = int(np.argmin(values))
        if values[k] < value:
            genes, value = plans[k], float(values[k])
            mv = moves(genes, enc, spans)
            order, i = rng.permutation(len(mv)), 0
    return genes, value


def polish_order(problem: Problem, evaluator: Evaluator, score, genes: np.ndarray,
                 keys: np.ndarray, value: float, rng: np.random.Generator,
                 chunk: int = CHUNK):
    """Descent over the order, for the earliest-finish decoders: a move puts one layer
    just before another in the incumbent's priority list (its keys become positions;
    successors it passes follow it, since a layer's effective key is the largest on its
    paths). Each chunk is ``chunk`` random moves scored in one call of ``score(genes,
    keys)`` (the decoder's evaluation: it returns the objectives of the rows the budget
    allows and rewrites ``genes`` with the decoded servers); the best replaces the incumbent when it improves it. Stops when the
    budget ends or after as many non-improving moves as there are layer pairs.

    Returns ``(genes, keys, value)`` of the incumbent (never worse than the start).
    """
    from .operators import keys_to_priority, priority_to_keys

    n = problem.n_layers
    keys = priority_to_keys(problem, keys_to_priority(problem, keys[None, :]))[0]
    idle = 0
    while idle < n * n and not evaluator.done():
        layer = rng.integers(0, n, chunk)
        before = rng.integers(0, n, chunk)
        cand = np.repeat(keys[None, :], chunk, axis=0)
        cand[np.arange(chunk), layer] = keys[before] - 0.5 / n
        plans = np.repeat(genes[None, :], chunk, axis=0)
        values = score(plans, cand)
        if len(values) == 0:
            break
        k = int(np.argmin(values))
        idle += len(values)
        if values[k] < value:
            genes, value, idle = plans[k], float(values[k]), 0
            keys = priority_to_keys(problem, keys_to_priority(problem, cand[k:k + 1]))[0]
    return genes, keys, value

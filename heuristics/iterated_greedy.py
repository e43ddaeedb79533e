"""Iterated greedy over a priority list (Ruiz & Stützle 2007's destruction and
construction, on precedence-feasible lists).

From the incumbent list, a step moves ``d`` layers (2 to :data:`MAX_MOVED`, chosen at
random) to random positions among those their predecessors and successors allow
(destruction), then re-inserts each of them, in turn, at the best of its allowed
positions (construction): all the positions of one layer are scored in one call of the
search's evaluation, so the budget counts every candidate. The result replaces the
current list when it is no longer, or else with the probability ``exp(-Δ / T)`` of a
constant-temperature annealing (T = :data:`TEMPERATURE` × the mean layer time); the
best list seen is returned.
"""

from __future__ import annotations

import numpy as np

from offloadlab.budget import Evaluator
from offloadlab.problem import Problem

# Layers moved per step at most (at least 2), and the acceptance temperature as a
# share of the mean layer time (Ruiz & Stützle's rule scales it the same way).
MAX_MOVED = 4
TEMPERATURE = 0.1


def allowed_positions(problem: Problem, order: np.ndarray, layer: int) -> np.ndarray:
    """Positions in ``order`` without ``layer`` (length L - 1) where inserting ``layer``
    keeps every predecessor before it and every successor after it."""
    rest = order[order != layer]
    pos = np.empty(problem.n_layers, dtype=np.int64)
    pos[rest] = np.arange(len(rest))
    preds = problem.preds(layer)
    lo = int(pos[preds].max()) + 1 if len(preds) else 0
    succs = problem.succs[layer]
    hi = int(pos[list(succs)].min()) if len(succs) else len(rest)
    return np.arange(lo, hi + 1)


def insertions(order: np.ndarray, layer: int, positions: np.ndarray) -> np.ndarray:
    """(K, L) lists: ``order`` with ``layer`` moved to each of ``positions`` (positions
    in the list without it)."""
    rest = order[order != layer]
    out = np.empty((len(positions), len(order)), dtype=np.int64)
    for k, p in enumerate(positions):
        out[k, :p] = rest[:p]
        out[k, p] = layer
        out[k, p + 1:] = rest[p:]
    return out


def iterated_greedy(problem: Problem, evaluator: Evaluator, score, order: np.ndarray,
                    value: float, rng: np.random.Generator
                    ) -> tuple[np.ndarray, float, np.ndarray | None]:
    """Iterated greedy from ``order`` (makespan ``value``) until the budget ends.

    ``score(orders)`` returns ``(values, orders, extra)`` of as many rows as the budget
    allows: the decoded makespans, the lists the decoder settled on (a justifying
    decoder rewrites them) and whatever per-row record the caller wants back for the
    best (its servers). Returns ``(order, value, extra)`` of the best list seen (extra
    None when nothing beat the start).
    """
    temp = TEMPERATURE * float(problem.exec_s[:, 0].mean())
    best, best_value, best_extra = order.copy(), float(value), None
    cur, cur_value = order.copy(), float(value)
    while not evaluator.done():
        moved = rng.choice(problem.n_layers, int(rng.integers(2, MAX_MOVED + 1)),
                           replace=False)
        trial = cur
        for g in moved:    # destruction: each to a random allowed position
            pos = allowed_positions(problem, trial, int(g))
            trial = insertions(trial, int(g), pos[rng.integers(len(pos)):][:1])[0]
        trial_value = np.inf
        for g in moved:    # construction: each to its best allowed position
            cands = insertions(trial, int(g), allowed_positions(problem, trial, int(g)))
            values, lists, extra = score(cands)
            if len(values) == 0:
                break
            ties = np.flatnonzero(values <= values.min() + 1e-12)
            k = int(ties[rng.integers(len(ties))])
            trial, trial_value = lists[k], float(values[k])
            if trial_value < best_value - 1e-12:
                best, best_value, best_extra = trial.copy(), trial_value, extra[k]
        if not np.isfinite(trial_value):
            break
        delta = trial_value - cur_value
        if delta <= 1e-12 or rng.random() < np.exp(-delta / max(temp, 1e-12)):
            cur, cur_value = trial, trial_value
    return best, best_value, best_extra

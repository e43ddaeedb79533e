"""A final local search for PSO-GA and GA: best-improvement over segment moves.

EosDNN stops PSO-GA after its iterations; the swarm's best plan is then often one move
away from a better one (a layer or a run of layers on the wrong server). The polish
scores, as one population per step, every plan one move away from the incumbent:

* one gene to another allowed server (Fig. 4(b)'s mutation, all of them);
* a *run* (maximal consecutive genes of one task on one server) to another server;
* a boundary shift: the first / last ``k`` genes of a run to the neighbouring run's
  server, every ``k``;
* a whole task to one server.

It takes the best neighbour while it improves (the priority stays the incumbent's) and
stops at a local optimum or when the budget ends.
"""

from __future__ import annotations

import numpy as np

from offloadlab.problem import Problem

from .budget import Evaluator
from .operators import Encoding


def runs(genes: np.ndarray, spans) -> np.ndarray:
    """Run id per gene: consecutive genes of one task on one server share one."""
    lo, _ = spans
    idx = np.arange(len(genes))
    start = (idx == lo) | np.concatenate([[True], genes[1:] != genes[:-1]])
    return np.cumsum(start) - 1


def _apply_masks(genes: np.ndarray, enc: Encoding, masks: np.ndarray,
                 servers: np.ndarray) -> np.ndarray:
    """Plans: ``genes`` with the genes of ``masks[k]`` (where allowed) on ``servers[k]``."""
    ok = masks & enc.allowed[:, servers].T
    return np.where(ok, servers[:, None], genes[None, :])


def neighbours(genes: np.ndarray, enc: Encoding, spans) -> np.ndarray:
    """Every plan one move away (deduplicated, the incumbent excluded), (K, G)."""
    n_genes, n_servers = enc.allowed.shape
    pos = np.arange(n_genes)
    # one gene to another server
    g_idx, s_idx = np.nonzero(enc.allowed & (np.arange(n_servers)[None, :] != genes[:, None]))
    single = np.repeat(genes[None, :], len(g_idx), axis=0)
    single[np.arange(len(g_idx)), g_idx] = s_idx
    # runs and whole tasks to every server
    run_id = runs(genes, spans)
    lo, hi = spans
    groups = [run_id[:, None] == np.arange(run_id[-1] + 1)[None, :]]
    first_of_task = np.unique(lo)
    groups.append((pos[:, None] >= lo[first_of_task][None, :])
                  & (pos[:, None] <= hi[first_of_task][None, :]))
    group_masks = np.concatenate(groups, axis=1).T            # (R + T, G)
    masks = np.repeat(group_masks, n_servers, axis=0)
    servers = np.tile(np.arange(n_servers), len(group_masks))
    blocks = [single, _apply_masks(genes, enc, masks, servers)]
    # boundary shifts: the genes between a cut and a run boundary to the other side's server
    shift_masks, shift_servers = [], []
    for b in np.flatnonzero((pos > 0) & (run_id != np.roll(run_id, 1)) & (pos != lo)):
        left, right = genes[b - 1], genes[b]
        r_lo, r_hi = pos[run_id == run_id[b - 1]][0], pos[run_id == run_id[b]][-1]
        for k in range(b + 1, r_hi + 1):      # genes b..k-1 of the right run go left
            shift_masks.append((pos >= b) & (pos < k))
            shift_servers.append(left)
        for k in range(r_lo + 1, b):          # genes k..b-1 of the left run go right
            shift_masks.append((pos >= k) & (pos < b))
            shift_servers.append(right)
    if shift_masks:
        blocks.append(_apply_masks(genes, enc, np.array(shift_masks), np.array(shift_servers)))
    plans = np.unique(np.concatenate(blocks), axis=0)
    return plans[(plans != genes[None, :]).any(axis=1)]


def polish(problem: Problem, enc: Encoding, evaluator: Evaluator, genes: np.ndarray,
           value: float, priority: np.ndarray, spans,
           max_steps: int | None = None) -> tuple[np.ndarray, float]:
    """Best-improvement descent from ``genes`` (objective ``value``) under ``priority``.

    Returns the final genes and objective (never worse than the start). Every neighbour is
    scored by ``evaluator`` (so it counts in the budget and updates the best plan seen).
    """
    step = 0
    priority = np.atleast_2d(priority)[:1]
    while not evaluator.done() and (max_steps is None or step < max_steps):
        plans = neighbours(genes, enc, spans)
        if len(plans) == 0:
            break
        values = evaluator(enc.decode(plans), priority)
        if len(values) == 0:
            break
        k = int(np.argmin(values))
        if not values[k] < value:
            break
        genes, value = plans[k], float(values[k])
        step += 1
    return genes, value

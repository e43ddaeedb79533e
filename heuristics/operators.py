"""Encodings and operators shared by GA and PSO-GA, vectorised over a population.

A population is a (P, G) integer array of *genes*, one server per gene. By default a gene
is a layer (G = L); prePSO and two-step migration tie several layers to one gene, or fix
some layers to a server (see :class:`Encoding`). The optional priority order is a (P, L)
array of random keys decoded by :func:`keys_to_priority` into a precedence-respecting
list. Every operator keeps every gene on one of its allowed servers.

The operators follow EosDNN §V-D (Fig. 4): the crossover copies a random segment
``[ind1, ind2]`` of a donor (the particle best, the global best, or a GA mate) into the
particle; the mutation picks a random position and changes its server.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from offloadlab.problem import Problem


@dataclass(frozen=True)
class Encoding:
    """Which layers a gene sets, and the servers of layers no gene sets.

    Attributes
    ----------
    gene_of_layer : numpy.ndarray, shape (L,)
        Gene index of every layer; -1 = fixed to ``base_assign``.
    base_assign : numpy.ndarray, shape (L,)
        Server of each fixed layer (ignored where a gene applies).
    allowed : numpy.ndarray, shape (G, S)
        Servers a gene may take: allowed for every layer it sets.
    """

    gene_of_layer: np.ndarray
    base_assign: np.ndarray
    allowed: np.ndarray

    @property
    def n_genes(self) -> int:
        return self.allowed.shape[0]

    @classmethod
    def identity(cls, problem: Problem) -> "Encoding":
        """One gene per layer."""
        n = problem.n_layers
        return cls(np.arange(n, dtype=np.int64), np.zeros(n, dtype=np.int64),
                   problem.allowed.copy())

    @classmethod
    def from_groups(cls, problem: Problem, gene_of_layer, base_assign=None) -> "Encoding":
        """Genes from a layer -> gene map (-1 = fixed to ``base_assign``).

        Raises
        ------
        ValueError
            When the layers of one gene share no allowed server, or a fixed layer's base
            server is not allowed for it.
        """
        gene_of_layer = np.asarray(gene_of_layer, dtype=np.int64)
        n_genes = int(gene_of_layer.max()) + 1 if (gene_of_layer >= 0).any() else 0
        allowed = np.ones((n_genes, problem.n_servers), dtype=bool)
        for g in range(n_genes):
            allowed[g] = problem.allowed[gene_of_layer == g].all(axis=0)
            if not allowed[g].any():
                raise ValueError(f"gene {g}: its layers share no allowed server")
        base = (np.zeros(problem.n_layers, dtype=np.int64) if base_assign is None
                else np.asarray(base_assign, dtype=np.int64))
        fixed = np.flatnonzero(gene_of_layer < 0)
        bad = fixed[~problem.allowed[fixed, base[fixed]]]
        if len(bad):
            raise ValueError(f"layer {problem.layer_names[bad[0]]}: fixed to a server it "
                             "may not use")
        return cls(gene_of_layer, base, allowed)

    def decode(self, genes: np.ndarray) -> np.ndarray:
        """(P, G) genes -> (P, L) assignments."""
        tied = self.gene_of_layer >= 0
        out = np.broadcast_to(self.base_assign, (genes.shape[0], len(tied))).copy()
        out[:, tied] = genes[:, self.gene_of_layer[tied]]
        return out

    def encode(self, assign: np.ndarray) -> np.ndarray:
        """(P, L) assignments -> (P, G) genes (the first layer of each gene decides)."""
        assign = np.atleast_2d(assign)
        first = np.full(self.n_genes, -1, dtype=np.int64)
        layers = np.flatnonzero(self.gene_of_layer >= 0)
        first[self.gene_of_layer[layers[::-1]]] = layers[::-1]
        return assign[:, first]

    @property
    def table(self) -> tuple[np.ndarray, np.ndarray]:
        """``(servers, counts)``: the k-th allowed server of gene g is servers[g, k]."""
        counts = self.allowed.sum(axis=1)
        servers = np.zeros((self.n_genes, max(1, int(counts.max(initial=1)))), dtype=np.int64)
        rank = np.cumsum(self.allowed, axis=1) - 1
        rows, cols = np.nonzero(self.allowed)
        servers[rows, rank[rows, cols]] = cols
        return servers, counts


def random_genes(enc: Encoding, n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, G) genes drawn uniformly from each gene's allowed servers."""
    servers, counts = enc.table
    picks = (rng.random((n, enc.n_genes)) * counts[None, :]).astype(np.int64)
    return servers[np.arange(enc.n_genes)[None, :], picks]


def segment_genes(problem: Problem, enc: Encoding, n: int, rng: np.random.Generator,
                  max_cuts: int = 3) -> np.ndarray:
    """(n, G) genes where each task runs in a few contiguous segments of its layers.

    Each task's layers (topological order) are cut at 0 to ``max_cuts`` random points;
    each segment draws one server allowed for all of its genes (else each gene draws its
    own). Random plans that switch servers at every layer pay a transfer per layer; these
    look like the plans worth searching around.
    """
    servers, counts = enc.table
    genes = random_genes(enc, n, rng)
    segment_of_layer = np.zeros((n, problem.n_layers), dtype=np.int64)
    for layers in problem.task_layers:
        cuts = rng.integers(0, len(layers), size=(n, max_cuts))
        n_cuts = rng.integers(0, max_cuts + 1, size=(n, 1))  # 0 cuts: the task on one server
        cuts = np.where(np.arange(max_cuts)[None, :] < n_cuts, cuts, len(layers))
        pos = np.arange(len(layers))[None, :, None]
        segment_of_layer[:, layers] = (pos > cuts[:, None, :]).sum(axis=2)
    segment_of_layer += (max_cuts + 1) * problem.layer_task[None, :]
    # one server per (plan, segment): the server of the segment's first gene
    tied = np.flatnonzero(enc.gene_of_layer >= 0)
    gene_ids = enc.gene_of_layer[tied]
    first_gene = np.full((n, (max_cuts + 1) * problem.n_tasks), -1, dtype=np.int64)
    rows = np.repeat(np.arange(n), len(tied))
    segs = segment_of_layer[:, tied].ravel()
    first_gene[rows[::-1], segs[::-1]] = np.tile(gene_ids, n)[::-1]
    lead = first_gene[np.arange(n)[:, None], segment_of_layer[:, tied]]
    candidate = genes[np.arange(n)[:, None], lead]
    ok = enc.allowed[gene_ids[None, :], candidate]
    out = genes.copy()
    out[np.arange(n)[:, None], gene_ids[None, :]] = np.where(ok, candidate,
                                                             genes[:, gene_ids])
    return out


def segment_crossover(pop: np.ndarray, donors: np.ndarray, apply: np.ndarray,
                      rng: np.random.Generator) -> np.ndarray:
    """EosDNN Fig. 4(a): copy the donor's segment ``[ind1, ind2]`` into each row.

    Parameters
    ----------
    pop, donors : numpy.ndarray, shape (P, G)
        Rows to change and their donors (same dtype; genes or order keys).
    apply : numpy.ndarray of bool, shape (P,)
        Rows that take part; the others are returned unchanged.
    rng : numpy.random.Generator

    Returns
    -------
    numpy.ndarray
        A new (P, G) array; rows keep allowed values because both parents have them.
    """
    n_rows, n_genes = pop.shape
    ends = np.sort(rng.integers(0, n_genes, size=(n_rows, 2)), axis=1)
    pos = np.arange(n_genes)[None, :]
    seg = (pos >= ends[:, :1]) & (pos <= ends[:, 1:]) & apply[:, None]
    return np.where(seg, donors, pop)


def server_mutation(pop: np.ndarray, enc: Encoding, apply: np.ndarray,
                    rng: np.random.Generator) -> np.ndarray:
    """EosDNN Fig. 4(b): one random position of each applied row gets another server.

    The new server is drawn uniformly among the gene's other allowed servers (a gene with
    one allowed server is left as it is).
    """
    servers, counts = enc.table
    out = pop.copy()
    rows = np.flatnonzero(apply)
    if len(rows) == 0 or enc.n_genes == 0:
        return out
    genes = rng.integers(0, enc.n_genes, size=len(rows))
    cnt = counts[genes]
    current = pop[rows, genes]
    cur_rank = np.argmax(servers[genes] == current[:, None], axis=1)
    draw = (rng.random(len(rows)) * np.maximum(cnt - 1, 1)).astype(np.int64)
    new_rank = draw + (draw >= cur_rank)
    new = np.where(cnt > 1, servers[genes, np.minimum(new_rank, cnt - 1)], current)
    out[rows, genes] = new
    return out


def key_mutation(keys: np.ndarray, apply: np.ndarray, rng: np.random.Generator,
                 scale: float | None = None) -> np.ndarray:
    """Change the order key of one random layer of each applied row: redraw it uniformly
    in [0, 1) (``scale`` None), or shift it by a uniform amount in ``(-scale, scale)``."""
    out = keys.copy()
    rows = np.flatnonzero(apply)
    cols = rng.integers(0, keys.shape[1], size=len(rows))
    if scale is None:
        out[rows, cols] = rng.random(len(rows))
    else:
        out[rows, cols] += scale * (2 * rng.random(len(rows)) - 1)
    return out


@njit(cache=True, nogil=True)
def _effective_keys(keys, pred_ptr, pred_idx):
    out = keys.copy()
    n_rows, n_layers = keys.shape
    for p in range(n_rows):
        for g in range(n_layers):  # global index order is topological
            for j in range(pred_ptr[g], pred_ptr[g + 1]):
                q = pred_idx[j]
                if out[p, q] > out[p, g]:
                    out[p, g] = out[p, q]
    return out


def keys_to_priority(problem: Problem, keys: np.ndarray) -> np.ndarray:
    """(P, L) random keys -> (P, L) precedence-respecting priority lists.

    A layer's effective key is the largest key on any path reaching it, so a predecessor
    never sorts after its successor (ties go to the smaller depth). Every topological
    order is reachable: the keys ``position in that order`` decode to it.
    """
    eff = _effective_keys(np.ascontiguousarray(keys, dtype=np.float64), problem.pred_ptr,
                          problem.pred_idx)
    depth = np.broadcast_to(problem.depth, eff.shape)
    # sort by (effective key, depth): a stable argsort on depth then on the key
    by_depth = np.argsort(depth, axis=1, kind="stable")
    eff_sorted = np.take_along_axis(eff, by_depth, axis=1)
    order = np.argsort(eff_sorted, axis=1, kind="stable")
    return np.take_along_axis(by_depth, order, axis=1).astype(np.int64)


def priority_to_keys(problem: Problem, priority: np.ndarray) -> np.ndarray:
    """Keys that decode to ``priority`` (its positions, scaled into [0, 1))."""
    priority = np.atleast_2d(priority)
    keys = np.empty(priority.shape, dtype=np.float64)
    rows = np.arange(priority.shape[0])[:, None]
    keys[rows, priority] = np.arange(priority.shape[1])[None, :] / priority.shape[1]
    return keys


def linear(start: float, end: float, t: int, n: int) -> float:
    """Linear schedule from ``start`` (t = 0) to ``end`` (t = n - 1)."""
    return start + (end - start) * (t / max(n - 1, 1))


def adaptive_inertia(distance: np.ndarray, w_max: float = 0.8, w_min: float = 0.2) -> np.ndarray:
    """EosDNN eq. 16: ``w = w_max - (w_max - w_min) * exp(d / (d - 1.01))``.

    ``d`` is the fraction of genes where the particle differs from the global best
    (resolved, MODELS.md §1): 0 gives ``w_min`` (little mutation near GB), 1 gives almost
    ``w_max``.
    """
    return w_max - (w_max - w_min) * np.exp(distance / (distance - 1.01))


def tournament(values: np.ndarray, n: int, rng: np.random.Generator, size: int = 2) -> np.ndarray:
    """Indices of ``n`` winners of ``size``-way tournaments (lower value wins)."""
    cand = rng.integers(0, len(values), size=(n, size))
    return cand[np.arange(n), np.argmin(values[cand], axis=1)]


def gene_spans(problem: Problem, enc: Encoding) -> tuple[np.ndarray, np.ndarray]:
    """Per gene, the first and last gene index of its task's genes: ``(lo, hi)``.

    A gene's task is the task of its layers (one task per gene: every encoding here ties
    layers of one task only). The genes of a task are consecutive indices (true of the
    identity, prePSO and two-step encodings), in topological order for the identity.
    """
    task = np.full(enc.n_genes, -1, dtype=np.int64)
    tied = np.flatnonzero(enc.gene_of_layer >= 0)
    task[enc.gene_of_layer[tied]] = problem.layer_task[tied]
    lo = np.zeros(enc.n_genes, dtype=np.int64)
    hi = np.zeros(enc.n_genes, dtype=np.int64)
    for t in np.unique(task):
        idx = np.flatnonzero(task == t)
        lo[idx], hi[idx] = idx.min(), idx.max()
    return lo, hi


def segment_mutation(pop: np.ndarray, enc: Encoding, spans: tuple[np.ndarray, np.ndarray],
                     apply: np.ndarray, rng: np.random.Generator,
                     whole_task_p: float = 0.25) -> np.ndarray:
    """Move a contiguous segment of one task's genes to one server, in each applied row.

    A random gene picks the task; with probability ``whole_task_p`` the segment is all of
    the task's genes, else it runs between two uniform positions of the task. The server
    is drawn uniformly among the first gene's allowed servers; genes of the segment that
    may not use it keep theirs. The one-position mutation of Fig. 4(b) cannot move a task
    off a server (every intermediate plan pays two extra transfers); this one can.
    """
    out = pop.copy()
    rows = np.flatnonzero(apply)
    if len(rows) == 0 or enc.n_genes == 0:
        return out
    lo, hi = spans
    servers, counts = enc.table
    pick = rng.integers(0, enc.n_genes, size=len(rows))
    a, b = lo[pick], hi[pick]
    ends = np.sort(a[:, None] + (rng.random((len(rows), 2)) * (b - a + 1)[:, None])
                   .astype(np.int64), axis=1)
    whole = rng.random(len(rows)) < whole_task_p
    start = np.where(whole, a, ends[:, 0])
    stop = np.where(whole, b, ends[:, 1])
    server = servers[start, (rng.random(len(rows)) * counts[start]).astype(np.int64)]
    pos = np.arange(enc.n_genes)[None, :]
    seg = (pos >= start[:, None]) & (pos <= stop[:, None]) & enc.allowed[:, server].T
    out[rows] = np.where(seg, server[:, None], pop[rows])
    return out


def mutate(pop: np.ndarray, enc: Encoding, spans, apply: np.ndarray,
           rng: np.random.Generator, segment_p: float) -> np.ndarray:
    """The mutation M(): a segment move with probability ``segment_p``, else Fig. 4(b)'s
    one-position change."""
    seg = apply & (rng.random(len(apply)) < segment_p)
    out = server_mutation(pop, enc, apply & ~seg, rng)
    return segment_mutation(out, enc, spans, seg, rng) if seg.any() else out


def task_plans(problem: Problem, enc: Encoding) -> np.ndarray:
    """(S, G) genes: plan s puts every gene on server s where allowed (else its first
    allowed server) — whole tasks on one server, the plans a per-layer search finds last."""
    servers, _ = enc.table
    cols = np.arange(problem.n_servers)[:, None]
    return np.where(enc.allowed.T, cols, servers[None, :, 0])

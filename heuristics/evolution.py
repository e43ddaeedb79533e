"""The evolution code GA and PSO-GA share: populations and their start (seeded by the
heuristics), GA generations, the final local search, and the frame that runs a search
over one encoding or the two steps of :mod:`.two_step`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from offloadlab.budget import Evaluator
from offloadlab.problem import Problem

from .operators import (Encoding, gene_spans, key_mutation, keys_to_priority, mutate,
                        priority_to_keys, random_genes, segment_crossover, segment_genes,
                        task_plans, tournament)
from .two_step import two_step_search


@dataclass
class Population:
    """Genes (P, G), order keys (P, L) or None, and objectives (P,)."""

    genes: np.ndarray
    keys: np.ndarray | None
    values: np.ndarray


def priorities(problem: Problem, keys: np.ndarray | None) -> np.ndarray:
    """Priority lists for a population: decoded keys, or the default order for all."""
    if keys is None:
        return problem.default_priority[None, :]
    return keys_to_priority(problem, keys)


INITS = ("heuristics", "greedy", "segments", "random")


@dataclass
class Seeds:
    """Plans that start a search: genes (K, G) and their order keys (K, L) or None (the
    default priority)."""

    genes: np.ndarray
    keys: np.ndarray | None = None


def initial_keys(problem: Problem, n: int, rng: np.random.Generator,
                 order_noise: float | None, center: np.ndarray | None = None) -> np.ndarray:
    """(n, L) order keys: the default priority's keys plus uniform noise in
    ``[0, order_noise)`` (None: uniform keys, random orders); row 0 is the default.

    Uniform keys decode to orders that interleave tasks at random, and most of them are
    poor; noise around the default priority searches orders near a good one (measured:
    the unseeded search on latency-vgg19-small-s0 goes from 27 % to 0 % above the
    optimum). ``center`` replaces the default priority (and row 0's order); a (K, L)
    ``center`` gives K orders: rows 0..K-1 are they, and row i scatters around order
    ``i mod K``.
    """
    default = priority_to_keys(problem, problem.default_priority if center is None
                               else center)
    if order_noise is None:
        keys = rng.random((n, problem.n_layers))
    else:
        keys = (default[np.arange(n) % len(default)]
                + order_noise * rng.random((n, problem.n_layers)))
    k = min(n, len(default) if order_noise is not None else 1)
    keys[:k] = default[:k]
    return keys


def rule_orders(problem: Problem) -> np.ndarray:
    """(K, L) priority lists of list-scheduling rules, HEFT's first: among the ready
    layers, the highest of upward rank (HEFT); longest path through the layer (on the
    critical path first); work of the layer and all its descendants; number of
    descendants; number of successors; own execution time (LPT). Ties go to the upward
    rank, then the global index. On identical servers each is a classic P|prec|Cmax
    priority rule, and no one rule is best on every DAG."""
    from .list_scheduling import mean_exec_s, ready_list_order, upward_rank

    n = problem.n_layers
    up = upward_rank(problem)
    w = mean_exec_s(problem)
    down = np.zeros(n)           # longest path from the task's start to the layer
    desc = np.zeros((n, n), dtype=bool)
    for g in range(n):           # global layers are in topological order
        for p in problem.preds(g):
            down[g] = max(down[g], down[p] + w[p])
    for g in range(n - 1, -1, -1):
        for j in problem.succs[g]:
            desc[g] |= desc[j]
            desc[g, j] = True
    n_succ = np.array([len(problem.succs[g]) for g in range(n)])
    primaries = [up, up + down, w + desc.astype(float) @ w, desc.sum(axis=1), n_succ, w]
    orders = []
    for primary in primaries:
        rank = np.empty(n)
        rank[np.lexsort((-np.arange(n), up, primary))] = np.arange(n)
        orders.append(ready_list_order(problem, rank))
    orders = np.array(orders)
    first = np.unique(orders, axis=0, return_index=True)[1]   # drop repeated orders
    return orders[np.sort(first)]


def initial_population(problem: Problem, enc: Encoding, n: int, rng: np.random.Generator,
                       search_order: bool, seeds: Seeds | np.ndarray | None = None,
                       init: str = "segments", order_noise: float | None = None,
                       center: np.ndarray | None = None):
    """Initial genes (first rows replaced by the ``seeds``) and order keys.

    ``init`` = ``random``: every gene uniform over its allowed servers; otherwise half of
    the rows are contiguous per-task segments (:func:`segment_genes`), half uniform. The
    first individual's keys decode to the default priority, so the fixed-order plan
    space is always represented; seeds keep their own keys when they have some.
    """
    if init not in INITS:
        raise ValueError(f"init must be one of {INITS}, got {init!r}")
    if seeds is not None and not isinstance(seeds, Seeds):
        seeds = Seeds(np.atleast_2d(seeds))
    genes = random_genes(enc, n, rng)
    if init != "random":
        genes[: n // 2] = segment_genes(problem, enc, n // 2, rng)
    keys = None
    if search_order:
        keys = initial_keys(problem, n, rng, order_noise, center)
    if seeds is not None and len(seeds.genes):
        k = min(n, len(seeds.genes))
        genes[:k] = seeds.genes[:k]
        if keys is not None and center is not None and np.ndim(center) == 2:
            j = min(n - k, len(center))   # the centre orders themselves follow the seeds
            keys[k:k + j] = keys[:j].copy()
        if keys is not None:
            keys[:k] = (priority_to_keys(problem, problem.default_priority)
                        if seeds.keys is None else seeds.keys[:k])
    return genes, keys


DECODERS = ("auto", "assign", "order", "hybrid")


@dataclass
class Decoder:
    """How a chromosome (server genes, order keys) becomes a plan.

    ``assign``: the servers from the genes, the order from the keys. ``order`` (random
    keys): only the order matters; each layer goes, in that order, to the server where it
    finishes earliest (:func:`offloadlab.schedule.decode_population`). ``hybrid``: the
    genes' servers, each repaired to the earliest-finish server with probability
    ``repair_p`` (drawn anew at each decode from ``rng``). With ``order`` and ``hybrid``
    the decoded servers are written back into the genes (the chromosome holds the plan
    that was scored, so the distance of eq. 16 and the local search see it).

    ``justify`` > 0 (``order`` on P|prec|Cmax, :func:`.justify.justifiable`): the
    decode is :func:`.justify.justify`'s list scheduler, and the ``justify`` share of
    the rows with the shortest schedules get forward-backward rounds (at most
    ``rounds``), every pass charged as an evaluation; the justified order is written
    back into the keys (Lamarckian), the servers into the genes.
    """

    kind: str = "assign"
    repair_p: float = 0.5
    rng: np.random.Generator | None = None
    justify: float = 0.0
    rounds: int = 4
    passes: int = 0   # justification passes charged so far
    rows: int = 0     # rows decoded with justification

    def noise(self, order_noise: float | None) -> float | None:
        """The initial keys' noise: ``order_noise``, or :data:`DECODED_NOISE` around
        :meth:`center` for an earliest-finish decoder when it is None."""
        return DECODED_NOISE if order_noise is None and self.kind != "assign" else order_noise

    def center(self, problem: Problem) -> np.ndarray | None:
        """The orders the initial keys scatter around when the order decides the servers
        (earliest-finish decoders; else None, the default): for ``makespan`` the
        list-scheduling rules of :func:`rule_orders`, else HEFT's upward-rank list alone
        (measured: the rules' lists, which interleave the tasks by rank, put GA 7 %
        above on dag-layered-30n-4p-s4, three DAGs with summed latencies)."""
        if self.kind == "assign":
            return None
        if problem.instance.objective.kind == "makespan":
            return rule_orders(problem)
        from .list_scheduling import ready_list_order, upward_rank

        return ready_list_order(problem, upward_rank(problem))

    def plans(self, problem: Problem, enc: Encoding, genes: np.ndarray,
              keys: np.ndarray | None, evaluator: Evaluator | None = None
              ) -> tuple[np.ndarray, np.ndarray]:
        """(assignments, priorities) of the rows; rewrites ``genes`` when it decodes (and
        ``keys`` when it justifies, charging ``evaluator`` the extra passes within what
        it leaves after scoring the rows)."""
        from offloadlab.schedule import decode_population

        assign, order = enc.decode(genes), priorities(problem, keys)
        if self.kind == "assign" or not len(assign):
            return assign, order
        if self.justify > 0 and self.kind == "order" and keys is not None:
            from .justify import justify

            left = None if evaluator is None else evaluator.left()
            order, assign, _, used = justify(
                problem, order, share=self.justify, max_rounds=self.rounds,
                max_passes=None if left is None else max(0, left - len(order)))
            if evaluator is not None:
                evaluator.charge(used)
            self.passes += used
            self.rows += len(order)
            if JUSTIFY_LAMARCK:
                keys[:] = priority_to_keys(problem, order)
            genes[:] = enc.encode(assign)
            return assign, order
        repair = True if self.kind == "order" else (
            self.rng.random(assign.shape) < self.repair_p)
        assign = decode_population(problem, order, assign, repair)
        genes[:] = enc.encode(assign)
        return assign, order

    def cost(self) -> float:
        """Evaluations per scored row so far (1 + the justification passes per row)."""
        return 1.0 + self.passes / max(self.rows, 1)


ASSIGN = Decoder()
# Initial order keys of the earliest-finish decoders: HEFT's list plus noise up to 0.1
# (key = position / L). Measured on 12 generated DAGs (50/100 nodes, 2-8 identical
# servers), the sum of the gaps to the load/critical-path bound of pso-ga: 40.9 % with
# uniform keys, 38.1 % with these (ga: 44.0 % -> 36.8 %).
DECODED_NOISE = 0.1
# The ``order`` decoder on P|prec|Cmax (:mod:`.justify`): the share of each decoded
# population it justifies (the shortest schedules first), the rounds per row at most
# (PSO-GA's; GA passes its own, ``ga.JUSTIFY_ROUNDS``), and whether the justified
# order goes back into the keys. Measured on the 13 DAGs of ``dag_optima`` not proven
# at the bound (seeds 0-2, GA and PSO-GA, default budget), the summed gap to the best
# plan of all runs: share 1 / 0.3 / 0.1: 0.12-0.30 % / 0.39-0.72 % / 0.44-1.25 %;
# 1, 4 or 10 rounds: within the seed spread (before the tabu search; since then
# PSO-GA with 1, 2, 4 or 8 rounds reaches the optimum of the three perfect packings
# of ``ga.JUSTIFY_ROUNDS`` in 37, 37, 37 and 39 of 60 runs, seeds 0-19); without the
# write-back 0.67-0.83 % (docs/decoders.md).
JUSTIFY_SHARE = 1.0
JUSTIFY_ROUNDS = 4
JUSTIFY_LAMARCK = True


def make_decoder(problem: Problem, kind: str, repair_p: float, search_order: bool,
                 seed: int, rounds: int = JUSTIFY_ROUNDS) -> Decoder:
    """The :class:`Decoder` of a solver run; ``auto`` picks by instance class
    (:func:`auto_decoder`); ``rounds``: justification rounds per row at most.

    Raises
    ------
    ValueError
        For an unknown ``kind``, or ``order`` without ``search_order`` (a fixed order
        would decode every chromosome to one plan).
    """
    if kind not in DECODERS:
        raise ValueError(f"decoder must be one of {DECODERS}, got {kind!r}")
    if kind == "auto":
        kind = auto_decoder(problem, search_order)
    if kind == "order" and not search_order:
        raise ValueError("decoder 'order' needs search_order=True")
    from .justify import justifiable

    share = JUSTIFY_SHARE if kind == "order" and justifiable(problem) else 0.0
    return Decoder(kind, float(repair_p), np.random.default_rng([int(seed), 7]), share,
                   int(rounds))


def auto_decoder(problem: Problem, search_order: bool) -> str:
    """The measured default (README, "Decoders"; ``python -m
    offloadlab.benchmarks.decoders``): ``order`` where no task has a device (scheduling
    instances: generated DAGs on identical or related servers, with or without data,
    makespan jobs), where it is best for both solvers; ``assign`` where tasks start on
    devices (latency, deadline, ddpqn, dmro), where earliest finish per layer strands
    chains on the servers (latency-vgg19-small-s0: 166 % above the server genes' plan)."""
    if search_order and (problem.task_device < 0).all():
        return "order"
    return "assign"


def evaluate(problem: Problem, enc: Encoding, evaluator: Evaluator, genes: np.ndarray,
             keys: np.ndarray | None, decoder: Decoder = ASSIGN) -> np.ndarray:
    """Objectives of as many rows as the budget allows (``genes`` rewritten by a
    decoding ``decoder``)."""
    left = evaluator.left()
    n = len(genes) if left is None else max(0, min(len(genes), left))
    assign, order = decoder.plans(problem, enc, genes[:n], None if keys is None else keys[:n],
                                  evaluator)
    return evaluator(assign, order)


def ga_generations(problem: Problem, enc: Encoding, evaluator: Evaluator,
                   rng: np.random.Generator, pop: Population, generations: int | None,
                   crossover_p: float = 0.9, mutation_p: float = 0.3,
                   segment_p: float = 0.0, spans=None,
                   decoder: Decoder = ASSIGN) -> Population:
    """Evolve ``pop`` for ``generations`` (None: until the budget ends); returns the last
    generation (rows the budget could not score keep their parents). A mutation is a
    segment move with probability ``segment_p`` (:func:`.operators.mutate`)."""
    n = len(pop.values)
    spans = gene_spans(problem, enc) if spans is None else spans
    gen = 0
    while (generations is None or gen < generations) and not evaluator.done():
        gen += 1
        parents = tournament(pop.values, n, rng)
        mates = tournament(pop.values, n, rng)
        do_x = rng.random(n) < crossover_p
        do_m = rng.random(n) < mutation_p
        genes = segment_crossover(pop.genes[parents], pop.genes[mates], do_x, rng)
        genes = mutate(genes, enc, spans, do_m, rng, segment_p)
        keys = None
        if pop.keys is not None:
            keys = segment_crossover(pop.keys[parents], pop.keys[mates], do_x, rng)
            keys = key_mutation(keys, do_m, rng)
        values = evaluate(problem, enc, evaluator, genes, keys, decoder)
        k = len(values)
        if k < n:  # the budget ran out inside the generation: keep the parents there
            genes[k:] = pop.genes[k:]
            if keys is not None:
                keys[k:] = pop.keys[k:]
            values = np.concatenate([values, pop.values[k:]])
        elite = int(np.argmin(pop.values))
        worst = int(np.argmax(values))
        if pop.values[elite] < values.min():
            genes[worst] = pop.genes[elite]
            values[worst] = pop.values[elite]
            if keys is not None:
                keys[worst] = pop.keys[elite]
        pop = Population(genes, keys, values)
    return pop


def polish_best(problem: Problem, enc: Encoding, evaluator: Evaluator, pop: Population,
                spans, rng: np.random.Generator, decoder: Decoder = ASSIGN,
                tail_share: float = 0.0) -> None:
    """Run the final local search (:mod:`.local_search`) from ``pop``'s best row, and
    write the result back into that row: over the order with the ``order`` decoder
    (:func:`.local_search.polish_order`), over the servers otherwise. With
    ``tail_share`` > 0 (the justified ``order`` decoder), the last ``tail_share`` of
    the budget left runs the tabu search over schedules of :mod:`.tail_search` from the
    order search's result."""
    from .local_search import polish, polish_order

    g = int(np.argmin(pop.values))
    if not np.isfinite(pop.values[g]):
        return
    if decoder.kind == "order" and pop.keys is not None:
        def score(genes, keys):
            return evaluate(problem, enc, evaluator, genes, keys, decoder)

        old = evaluator.until(1.0 - tail_share) if tail_share > 0 else None
        pop.genes[g], pop.keys[g], pop.values[g] = polish_order(
            problem, evaluator, score, pop.genes[g], pop.keys[g], float(pop.values[g]),
            rng)
        if old is not None:
            evaluator.restore(old)
            _tail_search(problem, enc, evaluator, pop, g, rng)
        return
    keys = None if pop.keys is None else pop.keys[g:g + 1]
    genes, value = polish(problem, enc, evaluator, pop.genes[g], float(pop.values[g]),
                          priorities(problem, keys), spans, rng)
    pop.genes[g], pop.values[g] = genes, value


def _tail_search(problem: Problem, enc: Encoding, evaluator: Evaluator, pop: Population,
                 g: int, rng: np.random.Generator) -> None:
    """:func:`.tail_search.tail_search` from row ``g`` on the budget left; its plan
    goes back into the row (servers into the genes, the list into the keys)."""
    from .tail_search import tail_search

    assign = enc.decode(pop.genes[g:g + 1])[0]
    order = keys_to_priority(problem, pop.keys[g:g + 1])[0]
    assign, order, value = tail_search(problem, evaluator, assign, order,
                                       float(pop.values[g]), rng)
    if value < pop.values[g]:
        pop.genes[g] = enc.encode(assign[None, :])[0]
        pop.keys[g] = priority_to_keys(problem, order)[0]
        pop.values[g] = value


# The final search on P|prec|Cmax (the justified ``order`` decoder): the tabu search over
# schedules (:mod:`.tail_search`) on this share of the whole budget, after the order
# search on ``polish`` of it. Measured on the 12 DAGs of ``dag_optima`` that one run
# misses, GA and PSO-GA, seeds 0-4 (docs/decoders.md): runs at the optimum of the four
# proven at the bound 3 of 40 without it, 7 with it after the order search, 3 in its
# place; summed gap to the best plans known
# 2320 / 2080 / 1999 ms (24 of 40 and 1923 ms since its compound moves,
# ``tail_search.balance_moves``).
TAIL_SHARE = 0.3


def run_phases(problem: Problem, enc: Encoding, evaluator: Evaluator, search,
               polish_share: float, spans, rng: np.random.Generator,
               best=lambda state: state.best, decoder: Decoder = ASSIGN) -> None:
    """``search(None)`` on all but ``polish_share`` of the budget, the local search, then
    ``search(state)`` on whatever the local search left (it stops at a local optimum).
    With the justified ``order`` decoder (P|prec|Cmax) and ``polish_share`` > 0, a
    further :data:`TAIL_SHARE` of the budget goes to the tabu search over schedules
    after the local search (:func:`polish_best`).

    ``search(state)`` returns its state; ``best(state)`` is the :class:`Population` whose
    best row the local search improves in place (so the resumed search sees it).
    """
    tail = TAIL_SHARE if (polish_share > 0 and decoder.kind == "order"
                          and decoder.justify > 0) else 0.0
    final = min(1.0, polish_share + tail)
    old = evaluator.until(1.0 - final) if polish_share > 0 else None
    state = search(None)
    if old is None:
        return
    evaluator.restore(old)
    if not evaluator.done():
        polish_best(problem, enc, evaluator, best(state), spans, rng, decoder,
                    min(1.0, tail / final) if tail else 0.0)
    if not evaluator.done():
        search(state)


def start_population(problem: Problem, enc: Encoding, evaluator: Evaluator,
                     rng: np.random.Generator, n: int, search_order: bool,
                     seeds: np.ndarray | None = None, init: str = "segments",
                     order_noise: float | None = None,
                     decoder: Decoder = ASSIGN) -> Population:
    """A scored initial population (rows beyond the budget score ``inf``)."""
    genes, keys = initial_population(problem, enc, n, rng, search_order, seeds, init,
                                     decoder.noise(order_noise), decoder.center(problem))
    values = evaluate(problem, enc, evaluator, genes, keys, decoder)
    values = np.concatenate([values, np.full(n - len(values), np.inf)])
    return Population(genes, keys, values)


def greedy_seed(problem: Problem, enc: Encoding, evaluator: Evaluator, init: str,
                seed_plans=None, search_order: bool = False) -> Seeds | None:
    """The plans that start the search, each with the default priority's keys.

    ``seed_plans`` first; ``init="greedy"`` adds the greedy plan; ``init="heuristics"``
    adds the greedy, PEFT and HEFT plans (PEFT and HEFT also with their own orders when
    ``search_order``) and the :func:`task_plans` (every task on one server). Their
    simulator calls are charged to the budget, and skipped when it cannot pay for them
    eight times over.
    """
    from .list_scheduling import heuristic_plans

    rows = [] if seed_plans is None else list(np.atleast_2d(np.asarray(seed_plans)))
    orders = [problem.default_priority] * len(rows)
    left = evaluator.left()
    cost = int(problem.allowed.sum())
    if init in ("greedy", "heuristics") and (left is None or left > 8 * cost):
        names = ("greedy",) if init == "greedy" else ("greedy", "peft", "heft")
        for assign, order, used in heuristic_plans(problem, names):
            evaluator.charge(used)
            if assign is None:
                continue
            rows.append(assign)
            orders.append(problem.default_priority)
            if search_order and order is not None:
                rows.append(assign)
                orders.append(order)
    genes = enc.encode(np.array(rows)) if rows else np.empty((0, enc.n_genes), np.int64)
    if init == "heuristics":
        plans = task_plans(problem, enc)
        genes = np.concatenate([genes, plans])
        orders += [problem.default_priority] * len(plans)
    if not len(genes):
        return None
    return Seeds(genes, priority_to_keys(problem, np.array(orders)) if search_order else None)


def default_budget(budget_evals, pop_size, generations):
    """``budget_evals``, or the paper's run: a population per generation, the initial one
    and the final re-scoring."""
    if budget_evals is None:
        return pop_size * (generations + 1) + 1
    return int(budget_evals)


def population_search(problem: Problem, evaluator: Evaluator, rng: np.random.Generator,
                      advance, *, size: int, search_order: bool, init: str,
                      order_noise: float | None, seed_plans, polish: float,
                      two_step: bool, encoding: Encoding | None = None,
                      best=lambda state: state.best, decoder: Decoder = ASSIGN) -> None:
    """The frame of GA and PSO-GA: per encoding (one gene per layer, ``encoding``, or
    the two steps of :mod:`.two_step`), a scored start population of ``size`` (seeded
    by :func:`greedy_seed`), then ``state = advance(enc, spans, state)`` until the budget
    ends, with the final local search of :func:`run_phases` (``best(state)`` is the
    :class:`Population` it polishes). ``advance`` first gets the start Population, scored
    through ``decoder`` (which ``advance`` must use too)."""

    def search(enc: Encoding, seeds=None):
        spans = gene_spans(problem, enc)

        def phase(state):
            if state is None:
                start = seeds if seeds is not None else greedy_seed(
                    problem, enc, evaluator, init, seed_plans, search_order)
                state = start_population(problem, enc, evaluator, rng, size, search_order,
                                         start, init, order_noise, decoder)
            return advance(enc, spans, state)

        run_phases(problem, enc, evaluator, phase, polish, spans, rng, best=best,
                   decoder=decoder)

    if two_step:
        two_step_search(problem, evaluator, search)
    else:
        search(encoding if encoding is not None else Encoding.identity(problem))

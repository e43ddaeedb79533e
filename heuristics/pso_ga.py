"""PSO-GA, the migration algorithm of EosDNN (§V-D, Algorithm 1, eqs. 9–16).

A particle is a server per layer plus an order (eqs. 9–10). Each iteration updates every
particle by eq. 12:

* inertia (eq. 13): with probability ``w`` the mutation M() changes the server of one
  random position; ``w`` is adaptive per particle by eq. 16 with ``w_max`` 0.8, ``w_min``
  0.2 and ``d`` = the fraction of positions where the particle differs from the global best
  (resolved, MODELS.md §1);
* individual cognition (eq. 14): with probability ``eps1`` (0.9 -> 0.2, linear) the
  segment crossover p() with the particle's best PB;
* social cognition (eq. 15): with probability ``eps2`` (0.4 -> 0.9, linear) the segment
  crossover g() with the global best GB.

Algorithm 1 line 1 seeds the swarm with a GA: ``ga_generations`` generations of
:mod:`.evolution` from a random population, whose last generation is the initial swarm (its
evaluations count in the budget). The swarm is scored with one population call of the
simulator per iteration; operators are numpy over the whole swarm.

Order: the paper keeps the order fixed ("the order of DNN layers u_j is not updated with
iteration"). Here ``search_order=True`` is the default: the order is searched as random
keys (decoded to a precedence-respecting list), crossed and mutated alongside the
servers, because the fixed default priority of MODELS.md §0 misses the proven optimum of
both tiny library instances by 8–9 %. ``search_order=False`` is the paper's fixed order.

What the paper leaves open, chosen here (each an option; effects measured on the four
library instances with proven optima, median of 5 seeds, default budget):

* ``init="heuristics"`` (default): the initial GA population holds the greedy, PEFT and
  HEFT plans (PEFT/HEFT also with their own orders) and one plan per server with every
  task wholly on it (:func:`.operators.task_plans`); half of the rest are per-task
  segment plans. Paper: ``init="random"``. Effect (vs ``init="segments"``):
  latency-alexnet-small-s0 2.5 % -> 0 %, latency-vgg19-small-s0 25 % -> 0 %.
* ``segment_p=0.5``: half of the mutations M() move a contiguous segment of one task's
  layers (a quarter of them the whole task) to one server (:func:`.operators.
  segment_mutation`) — still a random change of the particle; the other half are the
  paper's one-position change. Effect without seeding: alexnet-small 4.8 % -> 2.5 %,
  vgg19-small 30 % -> 25 %; it is the only way a particle moves a task off a server
  without paying two transfers per intermediate step.
* ``polish=0.1``: the last 10 % of the budget runs a descent over layer, run, boundary
  and whole-task moves from the global best (:mod:`.local_search`); what a local optimum
  leaves goes back to the swarm. Effect without seeding: alexnet-small 3.4 % -> 2.5 %
  (vgg19-small 23 % -> 25 %, noise).

With all three the four instances reach their optimum on 20 of 20 runs (before: 10 of
20, up to 68 % above on vgg19-small); the paper-literal configuration (``init=random
search_order=false segment_p=0 polish=0``) misses all four (8 %, 8 %, 20 %, 440 %).
The effects above were measured on VGG19's former decimal-MB sizes; on the MiB sizes
(README, "Metaheuristics"): without seeding 2.5 % and 30 % on alexnet-small and
vgg19-small, without seeding, segment mutation and polish 28 % and 590 %, paper-literal
9 %, 9 %, 20 %, 424 %.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from offloadlab.budget import Evaluator
from offloadlab.problem import Problem
from offloadlab.registry import parameter_errors

from .evolution import (ASSIGN, JUSTIFY_ROUNDS, Decoder, Population, evaluate,
                        ga_generations as ga_seeding, make_decoder, population_search)
from .operators import (Encoding, adaptive_inertia, gene_spans, key_mutation, linear, mutate,
                        segment_crossover)

PAPER = dict(particles=100, iterations=600, w_max=0.8, w_min=0.2, eps1=(0.9, 0.2),
             eps2=(0.4, 0.9), ga_generations=10)


@dataclass
class Swarm:
    """Positions (genes, keys), the particle bests, the iteration and the schedules'
    horizon; a search can stop and resume from it."""

    genes: np.ndarray
    keys: np.ndarray | None
    best: Population
    t: int = 0
    n_iter: int = 1


def new_swarm(evaluator: Evaluator, swarm: Population, cost: float = 1.0) -> Swarm:
    """A swarm from a scored population; the schedules of ``eps1``/``eps2`` run over the
    iterations the evaluation budget leaves (``left // particles``, or ``left //
    (particles * cost)`` when a particle costs ``cost`` evaluations), without one over
    600 iterations."""
    n = len(swarm.values)
    left = evaluator.left()
    n_iter = max(1, int(left // (n * cost)) if left is not None else PAPER["iterations"])
    best = Population(swarm.genes.copy(), None if swarm.keys is None else swarm.keys.copy(),
                      swarm.values.copy())
    return Swarm(swarm.genes, swarm.keys, best, 0, n_iter)


def swarm_search(problem: Problem, enc: Encoding, evaluator: Evaluator,
                 rng: np.random.Generator, state: Swarm, w_max: float = 0.8,
                 w_min: float = 0.2, eps1=(0.9, 0.2), eps2=(0.4, 0.9), segment_p=0.0,
                 spans=None, decoder: Decoder = ASSIGN) -> Swarm:
    """Run eq. 12 on ``state`` until the budget ends; returns the state (particle bests
    in ``state.best``). A mutation is a segment move with probability ``segment_p``."""
    spans = gene_spans(problem, enc) if spans is None else spans
    best, pos, keys, n_iter = state.best, state.genes, state.keys, state.n_iter
    n = len(best.values)
    t = state.t
    while not evaluator.done():
        g = int(np.argmin(best.values))
        # inertia: mutation with the adaptive probability w of eq. 16
        distance = (pos != best.genes[g]).mean(axis=1)
        do_mutate = rng.random(n) < adaptive_inertia(distance, w_max, w_min)
        new = mutate(pos, enc, spans, do_mutate, rng, segment_p)
        # individual and social cognition: crossovers with PB and GB
        cross_pb = rng.random(n) < linear(*eps1, min(t, n_iter - 1), n_iter)
        new = segment_crossover(new, best.genes, cross_pb, rng)
        cross_gb = rng.random(n) < linear(*eps2, min(t, n_iter - 1), n_iter)
        gb = np.broadcast_to(best.genes[g], new.shape)
        new = segment_crossover(new, gb, cross_gb, rng)
        new_keys = None
        if keys is not None:
            new_keys = key_mutation(keys, do_mutate, rng)
            new_keys = segment_crossover(new_keys, best.keys, cross_pb, rng)
            new_keys = segment_crossover(new_keys, np.broadcast_to(best.keys[g], keys.shape),
                                         cross_gb, rng)
        values = evaluate(problem, enc, evaluator, new, new_keys, decoder)
        k = len(values)
        pos = np.concatenate([new[:k], pos[k:]])
        if keys is not None:
            keys = np.concatenate([new_keys[:k], keys[k:]])
        better = np.flatnonzero(values < best.values[:k])
        best.genes[better] = new[better]
        best.values[better] = values[better]
        if keys is not None:
            best.keys[better] = new_keys[better]
        t += 1
    return Swarm(pos, keys, best, t, n_iter)


def paper_budget(particles: int, iterations: int, ga_gens: int) -> int:
    """Evaluations of the paper's run: the GA seeding, the iterations, the final score."""
    return particles * (1 + ga_gens + iterations) + 1


def pso_ga(problem: Problem, *, seed=0, time_limit_s=None, budget_evals=None,
           particles=100, iterations=600, ga_generations=10, w_max=0.8, w_min=0.2,
           eps1=(0.9, 0.2), eps2=(0.4, 0.9), search_order=True, init="heuristics",
           segment_p=0.5, polish=0.1, order_noise=None, two_step=False, seed_plans=None,
           decoder="auto", repair_p=0.5, justify_rounds=JUSTIFY_ROUNDS, encoding=None,
           name="pso-ga"):
    """PSO-GA of EosDNN, seeded and budgeted.

    Parameters
    ----------
    problem : Problem
    seed : int
        Same seed, same plan.
    time_limit_s : float, optional
        Stop when it is spent (status ``time_limit``).
    budget_evals : int, optional
        Simulator evaluations in all (GA seeding and the final re-scoring included);
        default ``particles * (1 + ga_generations + iterations) + 1``.
    particles, iterations : int
        N = 100 and 600 iterations as in the paper.
    ga_generations : int
        GA generations that seed the swarm (Algorithm 1 line 1; 0 = random swarm).
    w_max, w_min : float
        Bounds of the adaptive inertia (eq. 16).
    eps1, eps2 : (float, float)
        Start and end of the linear schedules of the crossover probabilities.
    search_order : bool
        Search the priority order too (default True, see the module docstring).
    init : {"heuristics", "greedy", "segments", "random"}
        The GA's initial population: ``random`` (uniform servers), ``segments`` (half of
        it contiguous per-task segments), ``greedy`` (``segments`` plus the greedy plan),
        ``heuristics`` (``segments`` plus greedy, PEFT, HEFT and whole-task plans).
    segment_p : float
        Share of the mutations that move a task segment (0 = the paper's M() only).
    polish : float
        Share of the budget kept for the final local search (0 = none); on
        P|prec|Cmax with the ``order`` decoder a further
        :data:`.evolution.TAIL_SHARE` goes to the tabu search over schedules after it
        (:mod:`.tail_search`).
    order_noise : float or None
        Initial order keys near the default priority (see :func:`.ga.ga`); None =
        uniform keys with the ``assign`` decoder, HEFT's list plus noise up to 0.1 with
        the earliest-finish decoders (:data:`.evolution.DECODED_NOISE`).
    two_step : bool
        Two-step migration (:mod:`.two_step`) for models with inception/residual blocks.
    seed_plans : array_like, shape (K, L), optional
        Assignments placed in the initial GA population.
    decoder : {"auto", "assign", "order", "hybrid"}
        How a particle becomes a plan (:class:`.evolution.Decoder`): servers from the
        genes (``assign``), each layer in the keys' order where it finishes earliest
        (``order``), or the genes with earliest-finish repair (``hybrid``); ``auto`` is
        the measured default per instance class (:func:`.evolution.auto_decoder`). On
        P|prec|Cmax (one-slot identical servers, no data) ``order`` justifies every
        decoded schedule forward and backward (:mod:`.justify`), each pass charged.
    repair_p : float
        The ``hybrid`` decoder's probability of repairing a gene.
    justify_rounds : int
        On P|prec|Cmax with the ``order`` decoder, forward-backward rounds per decoded
        particle at most (:mod:`.justify`); default
        :data:`.evolution.JUSTIFY_ROUNDS` (4).
    encoding : Encoding, optional
        Genes other than one per layer (prePSO's merged layers); ignored with
        ``two_step``.
    name : str
        Solver name recorded in the Solution.
    """
    started = time.perf_counter()
    seed = 0 if seed is None else int(seed)
    eps1, eps2 = tuple(eps1), tuple(eps2)
    budget = (paper_budget(particles, iterations, ga_generations) if budget_evals is None
              else int(budget_evals))
    params = dict(particles=particles, iterations=iterations, ga_generations=ga_generations,
                  w_max=w_max, w_min=w_min, eps1=eps1, eps2=eps2, search_order=search_order,
                  init=init, segment_p=segment_p, polish=polish, order_noise=order_noise,
                  two_step=two_step, decoder=decoder, repair_p=repair_p,
                  justify_rounds=justify_rounds, budget_evals=budget,
                  time_limit_s=time_limit_s, seed_plans=seed_plans is not None)
    with parameter_errors(name):
        dec = make_decoder(problem, decoder, repair_p, search_order, seed, justify_rounds)
    params["decoder"] = dec.kind
    evaluator = Evaluator(problem, budget, time_limit_s, started)
    rng = np.random.default_rng(seed)

    def advance(enc, spans, state):
        if isinstance(state, Population):  # Algorithm 1 line 1: the GA seeds the swarm
            state = new_swarm(evaluator, ga_seeding(problem, enc, evaluator, rng, state,
                                                    ga_generations, segment_p=segment_p,
                                                    spans=spans, decoder=dec), dec.cost())
        return swarm_search(problem, enc, evaluator, rng, state, w_max, w_min, eps1, eps2,
                            segment_p, spans, dec)

    population_search(problem, evaluator, rng, advance, size=particles,
                      search_order=search_order, init=init, order_noise=order_noise,
                      seed_plans=seed_plans, polish=polish, two_step=two_step,
                      encoding=encoding, decoder=dec)
    return evaluator.solution(name, params=params, seed=seed)

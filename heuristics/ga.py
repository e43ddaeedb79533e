"""A generational genetic algorithm over the same encoding as PSO-GA (EosDNN's GA peer).

Binary tournament selection, the segment crossover of EosDNN Fig. 4(a) with a second
tournament winner as donor, the one-position server mutation of Fig. 4(b), and elitism
(the best plan so far replaces the worst child). The whole generation is scored in one
population call of the simulator.
"""

from __future__ import annotations

import time

import numpy as np

from offloadlab.budget import Evaluator
from offloadlab.problem import Problem
from offloadlab.registry import parameter_errors

from .evolution import default_budget, ga_generations, make_decoder, population_search


# Justification rounds per decoded chromosome on P|prec|Cmax. One round costs a row 3
# evaluations instead of about 4.8, so GA runs about 1.6 times as many generations.
# Measured against 4 rounds on the 12 DAGs of ``dag_optima`` one run misses (seeds
# 0-4): runs at the optimum of the five proven 13 of 25 against 11, summed gap to the
# best plans 785 against 982 ms; on the three perfect packings GA reaches
# (dag-random-50n-4p-s0, dag-random-100n-4p-s0/s1, seeds 0-39) 91 against 84 of 120
# runs (docs/decoders.md). PSO-GA keeps 4 (:data:`.evolution.JUSTIFY_ROUNDS`).
JUSTIFY_ROUNDS = 1


def ga(problem: Problem, *, seed=0, time_limit_s=None, budget_evals=None, pop_size=100,
       generations=600, crossover_p=0.9, mutation_p=0.3, search_order=True,
       init="heuristics", segment_p=0.5, polish=0.1, order_noise=None, two_step=False,
       seed_plans=None, decoder="auto", repair_p=0.5, justify_rounds=JUSTIFY_ROUNDS):
    """Genetic algorithm (EosDNN's GA baseline), seeded and budgeted.

    Parameters
    ----------
    problem : Problem
    seed : int
        Same seed, same plan.
    time_limit_s, budget_evals : float, int, optional
        Stop at whichever comes first; ``budget_evals`` defaults to
        ``pop_size * (generations + 1) + 1`` (the final re-scoring included).
    pop_size, generations : int
        Default 100 x 600, the same budget as PSO-GA.
    crossover_p, mutation_p : float
        Probability that a child takes a mate's segment / is mutated.
    search_order : bool
        Also evolve the priority order (random keys); default True as PSO-GA's default.
    init : {"heuristics", "greedy", "segments", "random"}
        Initial population (see :func:`.evolution.initial_population` and
        :func:`.evolution.greedy_seed`).
    segment_p : float
        Share of mutations that move a task segment (0 = Fig. 4(b)'s only).
    polish : float
        Share of the budget kept for the final local search (0 = none); what it leaves
        at a local optimum goes back to the GA. On P|prec|Cmax with the ``order``
        decoder a further :data:`.evolution.TAIL_SHARE` goes to the tabu search over
        schedules after it (:mod:`.tail_search`).
    order_noise : float or None
        Initial order keys: the default priority's plus noise up to this (None, the
        default: uniform keys). Measured: 0.1 takes the unseeded search on
        latency-vgg19-small-s0 from 27 % to 2 % above the optimum, but loses 20 % on
        latency-googlenet-small-s0 with seed 0; with the default seeding it is not needed.
        With the earliest-finish decoders None means HEFT's list plus noise up to 0.1
        (:data:`.evolution.DECODED_NOISE`).
    two_step : bool
        Two-step migration (:mod:`.two_step`) for models with inception/residual blocks.
    seed_plans : array_like, shape (K, L), optional
        Assignments placed in the initial population.
    decoder : {"auto", "assign", "order", "hybrid"}
        How a chromosome becomes a plan (see :func:`.pso_ga.pso_ga`).
    repair_p : float
        The ``hybrid`` decoder's probability of repairing a gene.
    justify_rounds : int
        On P|prec|Cmax with the ``order`` decoder, forward-backward rounds per decoded
        chromosome at most (:mod:`.justify`); default :data:`JUSTIFY_ROUNDS` (1).
    """
    started = time.perf_counter()
    seed = 0 if seed is None else int(seed)
    budget = default_budget(budget_evals, pop_size, generations)
    params = dict(pop_size=pop_size, generations=generations, crossover_p=crossover_p,
                  mutation_p=mutation_p, search_order=search_order, init=init,
                  segment_p=segment_p, polish=polish, order_noise=order_noise,
                  two_step=two_step, decoder=decoder, repair_p=repair_p,
                  justify_rounds=justify_rounds, budget_evals=budget,
                  time_limit_s=time_limit_s)
    with parameter_errors("ga"):
        dec = make_decoder(problem, decoder, repair_p, search_order, seed, justify_rounds)
    params["decoder"] = dec.kind
    evaluator = Evaluator(problem, budget, time_limit_s, started)
    rng = np.random.default_rng(seed)

    def advance(enc, spans, pop):
        return ga_generations(problem, enc, evaluator, rng, pop, None, crossover_p,
                              mutation_p, segment_p, spans, dec)

    population_search(problem, evaluator, rng, advance, size=pop_size,
                      search_order=search_order, init=init, order_noise=order_noise,
                      seed_plans=seed_plans, polish=polish, two_step=two_step,
                      best=lambda pop: pop, decoder=dec)
    return evaluator.solution("ga", params=params, seed=seed)

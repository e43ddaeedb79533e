"""A generational genetic algorithm over the same encoding as PSO-GA (EosDNN's GA peer).

Binary tournament selection, the segment crossover of EosDNN Fig. 4(a) with a second
tournament winner as donor, the one-position server mutation of Fig. 4(b), and elitism
(the best plan so far replaces the worst child). The whole generation is scored in one
population call of the simulator.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from offloadlab.problem import Problem
from offloadlab.registry import make_solution

from .budget import Evaluator
from .operators import (Encoding, key_mutation, keys_to_priority, priority_to_keys,
                        random_genes, segment_crossover, segment_genes, server_mutation,
                        tournament)


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


INITS = ("greedy", "segments", "random")


def initial_population(problem: Problem, enc: Encoding, n: int, rng: np.random.Generator,
                       search_order: bool, seeds: np.ndarray | None = None,
                       init: str = "segments"):
    """Initial genes (first rows replaced by ``seeds`` genes) and order keys.

    ``init`` = ``random``: every gene uniform over its allowed servers; ``segments``: half
    of the rows as contiguous per-task segments (:func:`segment_genes`), half uniform.
    The first individual's keys decode to the default priority, so the fixed-order plan
    space is always represented.
    """
    if init not in INITS:
        raise ValueError(f"init must be one of {INITS}, got {init!r}")
    genes = random_genes(enc, n, rng)
    if init != "random":
        genes[: n // 2] = segment_genes(problem, enc, n // 2, rng)
    if seeds is not None and len(seeds):
        k = min(n, len(seeds))
        genes[:k] = seeds[:k]
    keys = None
    if search_order:
        keys = rng.random((n, problem.n_layers))
        keys[0] = priority_to_keys(problem, problem.default_priority)[0]
    return genes, keys


def evaluate(problem: Problem, enc: Encoding, evaluator: Evaluator, genes: np.ndarray,
             keys: np.ndarray | None) -> np.ndarray:
    """Objectives of as many rows as the budget allows."""
    return evaluator(enc.decode(genes), priorities(problem, keys))


def ga_generations(problem: Problem, enc: Encoding, evaluator: Evaluator,
                   rng: np.random.Generator, pop: Population, generations: int | None,
                   crossover_p: float = 0.9, mutation_p: float = 0.3) -> Population:
    """Evolve ``pop`` for ``generations`` (None: until the budget ends); returns the last
    generation (rows the budget could not score keep their parents)."""
    n = len(pop.values)
    gen = 0
    while (generations is None or gen < generations) and not evaluator.done():
        gen += 1
        parents = tournament(pop.values, n, rng)
        mates = tournament(pop.values, n, rng)
        do_x = rng.random(n) < crossover_p
        do_m = rng.random(n) < mutation_p
        genes = segment_crossover(pop.genes[parents], pop.genes[mates], do_x, rng)
        genes = server_mutation(genes, enc, do_m, rng)
        keys = None
        if pop.keys is not None:
            keys = segment_crossover(pop.keys[parents], pop.keys[mates], do_x, rng)
            keys = key_mutation(keys, do_m, rng)
        values = evaluate(problem, enc, evaluator, genes, keys)
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


def start_population(problem: Problem, enc: Encoding, evaluator: Evaluator,
                     rng: np.random.Generator, n: int, search_order: bool,
                     seeds: np.ndarray | None = None, init: str = "segments") -> Population:
    """A scored initial population (rows beyond the budget score ``inf``)."""
    genes, keys = initial_population(problem, enc, n, rng, search_order, seeds, init)
    values = evaluate(problem, enc, evaluator, genes, keys)
    values = np.concatenate([values, np.full(n - len(values), np.inf)])
    return Population(genes, keys, values)


def greedy_seed(problem: Problem, enc: Encoding, evaluator: Evaluator, init: str,
                seed_plans=None) -> np.ndarray | None:
    """Genes of the plans that start the search: ``seed_plans``, plus the greedy plan
    when ``init`` is ``greedy`` and the budget can pay for it (its simulator calls are
    charged to the budget)."""
    rows = [] if seed_plans is None else list(np.atleast_2d(np.asarray(seed_plans)))
    left = evaluator.left()
    cost = int(problem.allowed.sum())
    if init == "greedy" and (left is None or left > 2 * cost):
        from .baselines import greedy_assign
        assign, used = greedy_assign(problem)
        evaluator.charge(used)
        if assign is not None:
            rows.append(assign)
    return enc.encode(np.array(rows)) if rows else None


def default_budget(budget_evals, pop_size, generations):
    """``budget_evals``, or the paper's run: a population per generation, the initial one
    and the final re-scoring."""
    if budget_evals is None:
        return pop_size * (generations + 1) + 1
    return int(budget_evals)


def ga(problem: Problem, *, seed=0, time_limit_s=None, budget_evals=None, pop_size=100,
       generations=600, crossover_p=0.9, mutation_p=0.3, search_order=True,
       init="greedy", two_step=False, seed_plans=None):
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
        Probability that a child takes a mate's segment / a one-position mutation.
    search_order : bool
        Also evolve the priority order (random keys); default True as PSO-GA's default.
    init : {"greedy", "segments", "random"}
        Initial population (see :func:`initial_population`; ``greedy`` = ``segments``
        plus the greedy plan).
    two_step : bool
        Two-step migration (:mod:`.two_step`) for models with inception/residual blocks.
    seed_plans : array_like, shape (K, L), optional
        Assignments placed in the initial population.
    """
    started = time.perf_counter()
    seed = 0 if seed is None else int(seed)
    budget = default_budget(budget_evals, pop_size, generations)
    params = dict(pop_size=pop_size, generations=generations, crossover_p=crossover_p,
                  mutation_p=mutation_p, search_order=search_order, init=init,
                  two_step=two_step, budget_evals=budget, time_limit_s=time_limit_s)
    evaluator = Evaluator(problem, budget, time_limit_s, started)
    rng = np.random.default_rng(seed)

    def search(enc: Encoding, seeds=None):
        if seeds is None:
            seeds = greedy_seed(problem, enc, evaluator, init, seed_plans)
        pop = start_population(problem, enc, evaluator, rng, pop_size, search_order, seeds,
                               init)
        return ga_generations(problem, enc, evaluator, rng, pop, None, crossover_p,
                              mutation_p)

    if two_step:
        from .two_step import two_step_search
        two_step_search(problem, evaluator, search)
    else:
        search(Encoding.identity(problem))
    return make_solution(problem, "ga", evaluator.best_assign, evaluator.best_priority,
                         started=started, status=evaluator.status(), params=params,
                         seed=seed, evaluations=evaluator.used, history=evaluator.history)

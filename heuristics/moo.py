"""Multi-objective search over delay, energy and cost with pymoo's algorithms.

A plan is encoded as integers: one gene per layer, the rank of its server among the
layer's allowed servers, and, when servers' pools can queue layers (every kind but
``dmro``), one order key per layer in ``0..L-1`` decoded to a precedence-respecting
priority by :func:`~offloadlab.heuristics.operators.keys_to_priority`. The pymoo
:class:`OffloadProblem` evaluates a whole population in one simulator call
(:func:`offloadlab.simulator.components`); it keeps an external archive of every
feasible plan it scored, and the front an algorithm returns is the nondominated set of
that archive (what the search found, not only its last population).

:class:`LinkRepair` makes every plan feasible where the structure allows it: a layer whose
data cannot reach its server (no link from a predecessor's server or from the device) moves
to the server its critical data comes from, or to the first allowed server every
predecessor can reach. Deadlines and memory limits are not repaired; such plans score
:data:`PENALTY` in every objective.

Initial populations hold the plans of the single-objective solvers (PrePSO with 15 % of
the budget, then the contention-free DP, greedy, the tier baselines, HEFT and PEFT,
while their evaluations stay within 80 % of the budget; each plan also
under the default priority), then, for ``ddpqn`` chains, plans spread over the
contention-free relaxation's front (:func:`~offloadlab.formulations.pareto.free_plans`),
then uniform random plans. The seeding solvers' evaluations count: the search gets what
is left of the budget, so ``evaluations`` stays within it (unless the seeding alone
leaves less than one population). Every
algorithm uses pymoo's own operators (SBX and polynomial mutation with rounding) and
its evaluation-count termination, and the seed makes the whole run deterministic.
"""

from __future__ import annotations

import time

import numpy as np

from offloadlab.formulations.pareto import (OBJECTIVES, UNITS, nondominated,  # noqa: F401
                                            objective_columns)
from offloadlab.problem import Problem

from .operators import Encoding, keys_to_priority, priority_to_keys

ALGORITHMS = ("nsga2", "nsga3", "moead", "agemoea2", "smsemoa")
SEED_SOLVERS = ("local-only", "dp", "greedy", "edge-only", "cloud-only", "heft", "peft")
# searching solvers seeding the first population and their shares of the budget
SEARCH_SEEDS = (("pre-pso", 0.15),)
SEED_SHARE = 0.8  # the seeding solvers together use at most this share of the budget
PENALTY = 1e12  # pymoo needs finite objectives: plans the repair cannot fix score this
DEFAULT_BUDGET = 20000
DEFAULT_POP = 100


class Codec:
    """Integer genes <-> plans (see the module docstring)."""

    def __init__(self, problem: Problem):
        self.problem = problem
        self.servers, self.counts = Encoding.identity(problem).table
        self.ordered = bool(problem.objective.contention)
        n = problem.n_layers
        self.n_var = n * (2 if self.ordered else 1)
        self.upper = np.concatenate([self.counts - 1] + ([np.full(n, n - 1)] if self.ordered
                                                         else [])).astype(float)

    def decode(self, x) -> tuple[np.ndarray, np.ndarray]:
        """(P, n_var) genes -> (P, L) assignments and (P|1, L) priorities."""
        x = np.clip(np.rint(np.asarray(x, dtype=float)), 0, self.upper).astype(np.int64)
        n = self.problem.n_layers
        assign = self.servers[np.arange(n)[None, :], x[:, :n]]
        if self.ordered:
            return assign, keys_to_priority(self.problem, x[:, n:].astype(float))
        return assign, self.problem.default_priority[None, :]

    def encode(self, assign, priority=None) -> np.ndarray:
        """Plans -> genes (priority None: the default order)."""
        assign = np.atleast_2d(assign)
        rank = np.cumsum(self.problem.allowed, axis=1) - 1
        genes = rank[np.arange(assign.shape[1])[None, :], assign]
        if not self.ordered:
            return genes
        if priority is None:
            priority = self.problem.default_priority
        keys = priority_to_keys(self.problem, np.broadcast_to(priority, assign.shape))
        return np.hstack([genes, np.rint(keys * assign.shape[1]).astype(np.int64)])


def repair_links(problem: Problem, assign: np.ndarray) -> np.ndarray:
    """Move layers whose data cannot reach their server (see the module docstring)."""
    assign = np.array(assign, dtype=np.int64)
    bw = problem.bw
    for g in range(problem.n_layers):
        preds = problem.preds(g)
        s = assign[:, g]
        if len(preds):
            src = assign[:, preds]                                # (P, k)
            reach = (bw[src[:, :, None], np.arange(problem.n_servers)[None, None, :]] > 0
                     ).all(axis=1) & problem.allowed[g][None, :]
        else:
            dev = problem.task_device[problem.layer_task[g]]
            if dev < 0:
                continue
            reach = np.broadcast_to((bw[dev] > 0) & problem.allowed[g], (len(s), len(bw)))
        bad = ~reach[np.arange(len(s)), s]
        if not bad.any():
            continue
        if len(preds):  # where the critical data is: the first predecessor's server
            first = src[bad, 0]
            ok = reach[bad, first]
            fallback = np.argmax(reach[bad], axis=1)
            s[bad] = np.where(ok, first, fallback)
        else:
            s[bad] = np.argmax(reach[bad], axis=1)
        assign[:, g] = s
    return assign


def make_problem(problem: Problem, columns: list[int], budget: int):
    """The pymoo ``Problem`` (built here so that importing this module needs no pymoo)."""
    from pymoo.core.problem import Problem as PymooProblem

    from offloadlab.simulator import components

    codec = Codec(problem)

    class OffloadProblem(PymooProblem):
        """Population-vectorised (delay, energy, cost) subset of an offloading instance."""

        def __init__(self):
            super().__init__(n_var=codec.n_var, n_obj=len(columns), xl=0.0, xu=codec.upper,
                             vtype=int)
            self.codec = codec
            self.evaluations = 0
            self.budget = budget
            self.archive_f: list[np.ndarray] = []
            self.archive_x: list[np.ndarray] = []

        def _evaluate(self, x, out, *args, **kwargs):
            # rows beyond the budget are not simulated: they score the penalty
            n = max(0, min(len(x), self.budget - self.evaluations))
            assign, priority = codec.decode(np.asarray(x)[:n])
            f = np.full((len(x), len(columns)), np.inf)
            f[:n] = components(problem, assign, priority)[:, columns] if n else f[:0]
            self.evaluations += n
            ok = np.isfinite(f[:n]).all(axis=1)
            f = f[:n]
            if ok.any():
                self.archive_f.append(f[ok])
                self.archive_x.append(codec.encode(assign[ok], priority[ok] if len(priority)
                                                   > 1 else priority[0]))
                self._prune()
            out["F"] = np.full((len(x), len(columns)), PENALTY)
            out["F"][:n] = np.where(ok[:, None], f, PENALTY)

        def _prune(self):
            f = np.vstack(self.archive_f)
            x = np.vstack(self.archive_x)
            keep = nondominated(f)
            self.archive_f, self.archive_x = [f[keep]], [x[keep]]

        def front(self) -> tuple[np.ndarray, np.ndarray]:
            """The nondominated archive: (N, M) objectives and (N, n_var) genes."""
            if not self.archive_f:
                return np.zeros((0, len(columns))), np.zeros((0, codec.n_var), dtype=int)
            return self.archive_f[0], self.archive_x[0]

    return OffloadProblem()


def _repair_class(problem: Problem, codec: Codec):
    from pymoo.core.repair import Repair

    class LinkRepair(Repair):
        """Round the genes and move layers whose data cannot reach their server."""

        def _do(self, _problem, x, **kwargs):
            x = np.clip(np.rint(np.asarray(x, dtype=float)), 0, codec.upper).astype(np.int64)
            assign, _ = codec.decode(x)
            fixed = repair_links(problem, assign)
            changed = (fixed != assign).any(axis=1)
            if changed.any():
                x[changed, :problem.n_layers] = codec.encode(fixed[changed])[
                    :, :problem.n_layers]
            return x

    return LinkRepair()


def initial_population(problem: Problem, codec: Codec, size: int, seed: int, columns,
                       budget: int) -> tuple[np.ndarray, int]:
    """The first population (see the module docstring) and the evaluations its solvers
    used: the plans of the searching solvers of :data:`SEARCH_SEEDS` (each with its
    share of ``budget``) and of the cheap :data:`SEED_SOLVERS`, while their evaluations
    stay within :data:`SEED_SHARE` of the budget, each also under the default priority
    (the constructive solvers score a partial plan per layer and server: thousands of
    evaluations on paper sizes, tens on small ones); then plans of the
    contention-free relaxation's front; then uniform random genes (seeded)."""
    from offloadlab.formulations.pareto import free_plans
    from offloadlab.warm_start import registered_plans

    plans, used = [], 0
    for name, share in (*SEARCH_SEEDS, *((n, None) for n in SEED_SOLVERS)):
        evals = None if share is None else int(budget * share)
        if used + (evals or 0) > SEED_SHARE * budget:
            continue
        more, spent = registered_plans(problem, (name,), seed=seed, budget_evals=evals)
        plans += more
        used += spent
    seeded = []
    for _, a, p in plans:
        seeded.append(codec.encode(a, p)[0])
        if codec.ordered and p is not None:   # its order may queue worse than the default
            seeded.append(codec.encode(a, None)[0])
    seeded = list(np.unique(np.array(seeded, dtype=np.int64).reshape(-1, codec.n_var),
                            axis=0))[:size]
    room = max(0, size - len(seeded) - size // 5)   # a fifth stays random
    seeded += [codec.encode(a, p)[0] for a, p in free_plans(problem, columns, room)]
    rng = np.random.default_rng(seed)
    rand = np.floor(rng.random((size - len(seeded), codec.n_var))
                    * (codec.upper + 1)).astype(np.int64)
    pop = np.vstack([np.array(seeded, dtype=np.int64).reshape(-1, codec.n_var), rand])
    return repair_pop(problem, codec, pop), used


def repair_pop(problem: Problem, codec: Codec, x: np.ndarray) -> np.ndarray:
    assign, _ = codec.decode(x)
    x = x.copy()
    x[:, :problem.n_layers] = codec.encode(repair_links(problem, assign))[:, :problem.n_layers]
    return x


def reference_directions(n_obj: int, pop_size: int) -> np.ndarray:
    """Das-Dennis directions: ``pop_size`` for two objectives, 91 (12 partitions) for
    three."""
    from pymoo.util.ref_dirs import get_reference_directions

    parts = pop_size - 1 if n_obj == 2 else 12
    return get_reference_directions("das-dennis", n_obj, n_partitions=parts)


def make_algorithm(name: str, n_obj: int, pop_size: int, sampling, repair):
    """One of :data:`ALGORITHMS` with pymoo's integer operators."""
    from pymoo.operators.crossover.sbx import SBX
    from pymoo.operators.mutation.pm import PM
    from pymoo.operators.repair.rounding import RoundingRepair
    ops = dict(crossover=SBX(prob=0.9, eta=15, vtype=float, repair=RoundingRepair()),
               # eta 1: wide jumps, since a server rank is a category more than a number
               mutation=PM(eta=1, vtype=float, repair=RoundingRepair()))
    ref_dirs = reference_directions(n_obj, pop_size)
    if name == "nsga2":
        from pymoo.algorithms.moo.nsga2 import NSGA2
        return NSGA2(pop_size=pop_size, sampling=sampling, repair=repair,
                     eliminate_duplicates=True, **ops)
    if name == "nsga3":
        from pymoo.algorithms.moo.nsga3 import NSGA3
        return NSGA3(ref_dirs=ref_dirs, pop_size=max(pop_size, len(ref_dirs)),
                     sampling=sampling, repair=repair, eliminate_duplicates=True, **ops)
    if name == "moead":
        # pymoo's MOEAD scores offspring one at a time; ParallelMOEAD scores a whole
        # generation in one simulator call, then replaces neighbours in sequence
        from pymoo.algorithms.moo.moead import ParallelMOEAD
        return ParallelMOEAD(ref_dirs=ref_dirs, n_neighbors=15, prob_neighbor_mating=0.7,
                     sampling=sampling, repair=repair, **ops)
    if name == "agemoea2":
        from pymoo.algorithms.moo.age2 import AGEMOEA2
        return AGEMOEA2(pop_size=pop_size, sampling=sampling, repair=repair,
                        eliminate_duplicates=True, **ops)
    if name == "smsemoa":
        from pymoo.algorithms.moo.sms import SMSEMOA
        return SMSEMOA(pop_size=pop_size, sampling=sampling, repair=repair,
                       eliminate_duplicates=True, **ops)
    raise ValueError(f"unknown algorithm {name!r}; known: {', '.join(ALGORITHMS)}")


def search(problem: Problem, algorithm: str, objectives=("delay", "energy", "cost"), *,
           budget_evals: int | None = None, seed: int = 0, pop_size: int = DEFAULT_POP):
    """Run one pymoo algorithm; return its front.

    Returns
    -------
    dict
        ``front`` (N, M) objectives sorted lexicographically, ``assign`` (N, L),
        ``priority`` (N, L), ``evaluations`` (the search's plus what the solvers seeding
        the first population used: ``budget_evals`` in all), ``search_evaluations``,
        ``wall_s`` and ``cpu_s`` (this
        process's CPU time: what counts on a loaded machine).
    """
    from pymoo.optimize import minimize

    started, cpu = time.perf_counter(), time.process_time()
    columns = objective_columns(problem, objectives)
    budget = int(budget_evals or DEFAULT_BUDGET)
    pb = make_problem(problem, columns, budget)
    codec = pb.codec
    pop_size = max(4, min(pop_size, budget))
    if algorithm in ("nsga3", "moead"):  # one member per reference direction
        pop_size = len(reference_directions(len(columns), pop_size))
    sampling, seeding_evals = initial_population(problem, codec, pop_size, seed, columns,
                                                 budget)
    pb.budget = max(pop_size, budget - seeding_evals)  # the seeding solvers' count
    alg = make_algorithm(algorithm, len(columns), pop_size, sampling,
                         _repair_class(problem, codec))
    minimize(pb, alg, ("n_eval", pb.budget), seed=int(seed), verbose=False)
    f, x = pb.front()
    assign, priority = codec.decode(x) if len(x) else (np.zeros((0, problem.n_layers), int),) * 2
    if len(x) and priority.shape[0] == 1:
        priority = np.broadcast_to(priority, assign.shape)
    order = np.lexsort(f.T[::-1]) if len(f) else np.zeros(0, dtype=int)
    return {"front": f[order], "assign": assign[order], "priority": np.asarray(priority)[order],
            "evaluations": pb.evaluations + seeding_evals,
            "search_evaluations": pb.evaluations, "wall_s": time.perf_counter() - started,
            "cpu_s": time.process_time() - cpu}

"""The simulator: the single source of truth for every objective value (MODELS.md §0).

:func:`simulate` evaluates a whole population of plans in one call. A plan is an
assignment ``assign[p, l]`` (server index per global layer) and a priority list
``priority[p, :]`` (a permutation of the global layers that respects precedence). The
list scheduler is the schedule's compiled step (:mod:`offloadlab.schedule`) run over the
population; objectives (``problem.objective``) are vectorised numpy on its output.

Resolved semantics (also in the README):

* ``ready = max(release, max over predecessors of finish + out_mb / bw)``; a source layer
  receives ``input_mb`` from the task's device from ``release`` on. The *critical*
  predecessor is the one whose data arrives last (ties: the lowest global index); its
  transfer is the layer's ``transfer_s``.
* Each server has ``pools`` identical slots; a layer takes the slot that frees earliest.
* Task latency = latest sink finish (plus the return of its output to the device when the
  objective says ``return_output``) minus release.
* ``dmro`` ignores contention (pools unlimited), as DMRO does.
* A plan is infeasible, never a number, when a server index is out of range, a layer
  runs on another task's device (or on a device when the task has none), a link is
  missing, a hard deadline is missed, a server's memory is exceeded, or the priority
  list breaks precedence or is not a permutation; ``status`` holds the first failure in
  the priority order (codes and messages: :data:`offloadlab.schedule.REASONS`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from .problem import Problem
from .schedule import (BAD_ORDER, BAD_SERVER, DEADLINE, FEASIBLE, FOREIGN_DEVICE,  # noqa: F401
                       MEMORY, NO_DEVICE, NO_LINK, PRECEDENCE, REASONS, STRUCTURAL, pack)
from .schedule import population as _population


@dataclass(frozen=True)
class Evaluation:
    """The simulator's output for a population of P plans over L layers and T tasks.

    ``objective[p]`` is ``inf`` where ``feasible[p]`` is false; ``status[p]`` then holds
    the reason code (see :data:`REASONS`). Per-layer arrays are (P, L), per task (P, T);
    ``crit_pred`` is each layer's critical predecessor (-1: the task input).
    """

    objective: np.ndarray
    feasible: np.ndarray
    status: np.ndarray
    start_s: np.ndarray
    finish_s: np.ndarray
    exec_s: np.ndarray
    transfer_s: np.ndarray
    wait_s: np.ndarray
    latency_s: np.ndarray
    crit_pred: np.ndarray
    terms: dict

    def reason(self, p: int = 0) -> str | None:
        """Human-readable reason why plan ``p`` is infeasible (None if feasible)."""
        return REASONS.get(int(self.status[p]))


def as_population(problem: Problem, assign, priority=None) -> tuple[np.ndarray, np.ndarray]:
    """Coerce a plan or a population to (P, L) assignments and (1|P, L) priorities."""
    assign = np.atleast_2d(np.asarray(assign, dtype=np.int64))
    if assign.shape[1] != problem.n_layers:
        raise ValueError(f"assignment has {assign.shape[1]} layers, the instance "
                         f"{problem.n_layers}")
    if priority is None:
        priority = problem.default_priority[None, :]
    priority = np.atleast_2d(np.asarray(priority, dtype=np.int64))
    if priority.shape[1] != problem.n_layers or priority.shape[0] not in (1, assign.shape[0]):
        raise ValueError(f"priority has shape {priority.shape}, expected (1 or "
                         f"{assign.shape[0]}, {problem.n_layers})")
    return np.ascontiguousarray(assign), np.ascontiguousarray(priority)


def simulate(problem: Problem, assign, priority=None) -> Evaluation:
    """Schedule a population of plans and score them with the instance's objective.

    Parameters
    ----------
    problem : Problem
        The instance as arrays (``Problem.from_instance``).
    assign : array_like of int, shape (L,) or (P, L)
        Server index of every global layer, per plan.
    priority : array_like of int, shape (L,), (1, L) or (P, L), optional
        Order in which the list scheduler takes the layers; default
        ``problem.default_priority`` for every plan.

    Returns
    -------
    Evaluation
    """
    assign, priority = as_population(problem, assign, priority)
    arrays = _allocate(assign.shape[0], problem.n_layers, problem.n_tasks)
    return _run(problem, assign, priority, arrays, record=True)


def objective(problem: Problem, assign, priority=None) -> np.ndarray:
    """Objective per plan (``inf`` where infeasible), the fast path for search loops.

    Same numbers as ``simulate(...).objective``; unless the objective is scored per
    layer, the kernel keeps no per-layer record and its buffers are reused across calls
    (per problem and thread).
    """
    assign, priority = as_population(problem, assign, priority)
    n_plans = assign.shape[0]
    key = ("workspace", threading.get_ident())
    ws = problem.extra.get(key)
    if ws is None or ws[0][0].shape[0] < n_plans:
        pk = pack(problem)
        ws = (_allocate(n_plans, problem.n_layers, problem.n_tasks),
              np.empty(len(pk[1])), np.empty(problem.n_servers), pk)
        problem.extra[key] = ws
    arrays, slot_free, mem_mb, pk = ws
    if problem.objective.per_layer:
        ev = _run(problem, assign, priority, [a[:n_plans] for a in arrays], record=True)
        return ev.objective.copy()
    start, finish, exec_s, transfer, wait, crit, task_end, status = arrays
    _population(pk, assign, priority, False, start, finish, exec_s, transfer, wait, crit,
                task_end, status, slot_free, mem_mb)  # rows beyond n_plans are not touched
    latency = task_end[:n_plans] - problem.release_s
    value = problem.objective.score(assign, None, None, None, None, latency)[0]
    return np.where(status[:n_plans] == FEASIBLE, value, np.inf)


def components(problem: Problem, assign, priority=None) -> np.ndarray:
    """(P, 3) raw ``(delay_s, energy_j, cost_usd)`` per plan (``problem.objective``'s
    :meth:`~offloadlab.objectives.Objective.components`; NaN where the kind has no such
    component, inf rows where the plan is infeasible)."""
    assign, priority = as_population(problem, assign, priority)
    arrays = _allocate(assign.shape[0], problem.n_layers, problem.n_tasks)
    ev = _run(problem, assign, priority, arrays, record=True)
    out = problem.objective.components(assign, ev.exec_s, ev.transfer_s, ev.wait_s,
                                       ev.crit_pred, ev.latency_s)
    out[~ev.feasible] = np.inf
    return out


def _allocate(n_plans: int, n_layers: int, n_tasks: int) -> list[np.ndarray]:
    """start, finish, exec, transfer, wait (P, L); crit (P, L); task end (P, T); status."""
    return [*(np.empty((n_plans, n_layers)) for _ in range(5)),
            np.empty((n_plans, n_layers), dtype=np.int64), np.empty((n_plans, n_tasks)),
            np.empty(n_plans, dtype=np.int64)]


def _run(problem: Problem, assign, priority, arrays, record: bool) -> Evaluation:
    start, finish, exec_s, transfer, wait, crit, task_end, status = arrays
    _population(pack(problem), assign, priority, record, start, finish, exec_s, transfer,
                wait, crit, task_end, status, np.empty(len(pack(problem)[1])),
                np.empty(problem.n_servers))
    if record:
        stopped = np.isin(status, STRUCTURAL)
        if stopped.any():  # the kernel stopped early: unscheduled layers hold garbage
            for arr in (exec_s, transfer, wait):
                arr[stopped] = 0.0
    latency = task_end - problem.release_s[None, :]
    ok = status == FEASIBLE
    value, terms = problem.objective.score(assign, exec_s, transfer, wait, crit, latency)
    return Evaluation(objective=np.where(ok, value, np.inf), feasible=ok, status=status,
                      start_s=start, finish_s=finish, exec_s=exec_s, transfer_s=transfer,
                      wait_s=wait, latency_s=latency, crit_pred=crit, terms=terms)


def memory_use(problem: Problem, assign: np.ndarray, weights=None) -> np.ndarray:
    """(P, S) memory held on each server: by default the sum of ``param_mb + out_mb``
    of its layers (``weights`` per layer replaces that sum)."""
    n_plans = assign.shape[0]
    if weights is None:
        weights = problem.param_mb + problem.out_mb
    flat = (assign + problem.n_servers * np.arange(n_plans)[:, None]).ravel()
    use = np.bincount(flat, weights=np.tile(weights, n_plans),
                      minlength=n_plans * problem.n_servers)
    return use.reshape(n_plans, problem.n_servers)

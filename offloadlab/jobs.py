"""The makespan family as arrays: independent one-layer tasks on exclusive nodes
(MODELS.md §5).

Family ``makespan`` (``instances/presets.py::atsa``): every task is a one-layer model
without a device, each node runs one task at a time (``pools`` = 1), and the tasks placed
on a node hold ``param_mb + out_mb`` of its ``memory_mb``. :func:`makespan_jobs` is the
view the exact model (:mod:`offloadlab.formulations.makespan`) and the heuristics (ATSA,
ACO, PSO, FCFS) share; it refuses instances outside the family with the server or task
that breaks it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from offloadlab.problem import Problem


@dataclass(frozen=True)
class Jobs:
    """Independent single-layer tasks on exclusive nodes.

    Attributes
    ----------
    et_s : numpy.ndarray
        (T, S) execution time of task i on server s (inf where not allowed), the ET
        matrix of eq. 1.
    allowed : numpy.ndarray
        (T, S) bool.
    need_mb : numpy.ndarray
        (T,) memory a task holds on its node.
    cap_mb : numpy.ndarray
        (S,) memory of each node (inf = unlimited).
    release_s : numpy.ndarray
        (T,).
    order : numpy.ndarray
        Tasks by (release, index): the arrival order.
    """

    et_s: np.ndarray
    allowed: np.ndarray
    need_mb: np.ndarray
    cap_mb: np.ndarray
    release_s: np.ndarray
    order: np.ndarray

    @property
    def n_tasks(self) -> int:
        return self.et_s.shape[0]

    @property
    def n_servers(self) -> int:
        return self.et_s.shape[1]


def makespan_jobs(problem: Problem) -> Jobs:
    """The family's data; ``ValueError`` naming the culprit when the instance is not of
    the makespan family (one layer per task, pools = 1 on every usable server)."""
    inst = problem.instance
    if inst.objective.kind != "makespan":
        raise ValueError(f"{inst.name}: objective kind is {inst.objective.kind!r}, "
                         "these solvers need 'makespan'")
    counts = np.bincount(problem.layer_task, minlength=problem.n_tasks)
    if (counts != 1).any():
        t = int(np.flatnonzero(counts != 1)[0])
        raise ValueError(f"{inst.name}: tasks[{t}] ({inst.tasks[t].name}) has {counts[t]} "
                         "layers; the makespan family needs one-layer tasks")
    usable = problem.allowed.any(axis=0)
    multi = np.flatnonzero(usable & (problem.pools != 1))
    if len(multi):
        s = int(multi[0])
        raise ValueError(f"{inst.name}: servers[{s}] ({problem.server_names[s]}) has pools="
                         f"{problem.pools[s]}; the makespan family needs pools = 1")
    et = np.where(problem.allowed, problem.exec_s, np.inf)
    release = problem.release_s.copy()
    return Jobs(et_s=et, allowed=problem.allowed.copy(),
                need_mb=problem.param_mb + problem.out_mb, cap_mb=problem.memory_mb.copy(),
                release_s=release,
                order=np.lexsort((np.arange(problem.n_tasks), release)).astype(np.int64))


def to_layers(problem: Problem, task_assign: np.ndarray) -> np.ndarray:
    """Per-task nodes as the global layer assignment (one layer per task)."""
    out = np.empty(problem.n_layers, dtype=np.int64)
    out[np.array([layers[0] for layers in problem.task_layers])] = task_assign
    return out

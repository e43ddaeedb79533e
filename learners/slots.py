"""The slotted environment of MTL-A3C (§3-4) for the ``deadline`` family.

Tasks arrive slot by slot (their ``release_s``); each is a chain of ``M`` blocks with a
deadline. The agent decides block by block, in the instance's default priority (release
order, so slot after slot, the blocks of one slot interleaved by release and depth), where
each block runs: the task's own device (local execution) or an edge server. Queueing among
the blocks of a slot, and of earlier slots still running, is the core's schedule
(:func:`offloadlab.schedule.place_batch`): the environment computes nothing the simulator
does not.

Reward (eqs. 12-14)
    Minus the block's increment of ``Σ delay + β·ψ``, ``ψ = Σ max(L − τ, 0)`` over tasks
    (``L`` a task's latency, ``τ`` its deadline, ``β`` the instance's
    ``objective.beta``): ``problem.objective.increment + problem.objective.soft_increment``.
    An episode's rewards sum to minus (total delay + β · total overrun). The observation's
    ``cost`` field reads the same penalised increment.

Observation (``slots/2``): the placement environment's (``8 S + 5 + K`` fields, see
:mod:`~offloadlab.learners.env`) followed by what a slot's contention needs, in the
same units (times over ``time_scale_s``, clipped to ``±OBS_MAX``):

====================  ======  =========================================================
field                 size    meaning
====================  ======  =========================================================
free                  S       when each server's earliest pool slot frees, minus the
                              task's current end ``t0`` (its queue; negative: idle)
slack                 1       the task's deadline minus its elapsed time (time left)
====================  ======  =========================================================

The block's remaining chain work is the placement environment's ``cycles`` field.

Deadlines are also hard in the simulator, so the action mask (of
:class:`~offloadlab.learners.env.BatchPlacementEnv`) keeps to servers that meet the
deadline while one does; when none does, the overrun is penalised by ``β·ψ``, the plan is
infeasible for the simulator and :func:`slot_report` counts the violation.

:func:`slot_report` replays a plan with the core's step and reports, per slot, the total
delay, the number of violated deadlines and the overrun ψ, whether or not the plan is
feasible.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from offloadlab.problem import Problem
from offloadlab.schedule import FEASIBLE, new_state, place_batch

from .env import N_SERVER_FIELDS, OBS_MAX, BatchPlacementEnv, as_problem

N_SLOT_SERVER_FIELDS = 1  # free
N_SLOT_SCALAR_FIELDS = 1  # slack


class PenalisedDeadline:
    """The deadline objective's increment plus its soft overrun penalty (β·ψ)."""

    kind = "deadline"

    def __init__(self, objective):
        if objective.kind != "deadline":
            raise ValueError(f"the slotted environment needs a deadline instance, not a "
                             f"{objective.kind!r} one")
        self.objective = objective

    def increment(self, state, step) -> np.ndarray:
        return (self.objective.increment(state, step)
                + self.objective.soft_increment(state, step))


class SlotEnv(BatchPlacementEnv):
    """``batch`` episodes of a deadline instance, block by block in release order, with
    the reward ``−(Σ delay + β·ψ)`` (module docstring); observation and actions as
    :class:`~offloadlab.learners.env.BatchPlacementEnv`.

    ``block`` (the position of the current block in its task, 0..M−1) selects an actor
    branch of MTL-A3C.
    """

    def __init__(self, instance, batch: int = 1, *, pad_layers: int | None = None):
        problem = as_problem(instance)
        if problem.instance.objective.kind != "deadline":
            raise ValueError(f"{problem.instance.name}: the slotted environment needs a "
                             f"deadline instance, not "
                             f"{problem.instance.objective.kind!r}")
        super().__init__(problem, batch, reward="objective", pad_layers=pad_layers,
                         order="priority")
        self.objective = PenalisedDeadline(problem.objective)
        self.base_dim = self.obs_dim
        self.obs_dim = self.base_dim + N_SLOT_SERVER_FIELDS * self.n_servers \
            + N_SLOT_SCALAR_FIELDS
        width = self.state.slot_free_s.shape[1] // self.n_servers
        self._first_slot = np.arange(self.n_servers) * width  # each server's earliest
        position = np.zeros(problem.n_layers, dtype=np.int64)
        for layers in problem.task_layers:
            position[np.asarray(layers)] = np.arange(len(layers))
        self._position = position

    def _observe(self) -> np.ndarray:
        self.obs_dim = self.base_dim  # the placement environment's part, at its width
        try:
            base = super()._observe()
        finally:
            self.obs_dim = self.base_dim + N_SLOT_SERVER_FIELDS * self.n_servers \
                + N_SLOT_SCALAR_FIELDS
        p, k = self.problem, self.k
        obs = np.zeros((self.batch, self.obs_dim), dtype=np.float32)
        obs[:, :self.base_dim] = base
        if k >= p.n_layers:
            return obs
        t = p.layer_task[self._order[k]]
        t0 = self.state.task_end_s[:, t]
        free = self.state.slot_free_s[:, self._first_slot] - t0[:, None]
        slack = p.release_s[t] + p.deadline_s[t] - t0
        extra = np.concatenate([free, slack[:, None]], axis=1) / self.time_scale_s
        obs[:, self.base_dim:] = np.clip(extra, -OBS_MAX, OBS_MAX)
        return obs

    def server_features(self, obs):
        """(N, S, 9) per-server fields of observations (N, D) (:func:`server_features`)."""
        return server_features(obs, self.n_servers, self.base_dim)

    @property
    def block(self) -> int:
        """Position in its task of the block to place now (0 when the episode is over)."""
        if self.k >= self.problem.n_layers:
            return 0
        return int(self._position[self._order[self.k]])

    def spec_dict(self) -> dict:
        return {**super().spec_dict(), "observation": "slots/2", "base_dim": self.base_dim,
                "reward": "deadline-soft"}


def server_features(obs, n_servers: int, base_dim: int):
    """(N, S, 9) per-server fields of SlotEnv observations (N, D), a torch tensor: the
    placement environment's eight (mask, source, end, wait, transfer, exec, share, cost)
    and ``free``; the scorer of :mod:`.a3c` reads them."""
    import torch

    n = obs.shape[0]
    dyn = obs[:, :N_SERVER_FIELDS * n_servers].reshape(n, N_SERVER_FIELDS, n_servers)
    free = obs[:, base_dim:base_dim + n_servers].reshape(n, 1, n_servers)
    return torch.cat([dyn, free], 1).transpose(1, 2)


class BestEpisode:
    """The best complete episode seen in training: its key ``(0, objective)`` (feasible
    plans only; the objective is minus the episode's return, Σ delay) and assignment.

    Every training episode is a plan the simulator's step scored, and the step budget
    already counts it, so a learner may return the best of them (as any combinatorial
    optimiser returns the best solution it evaluated)."""

    def __init__(self):
        self.key, self.assign = (math.inf, math.inf), None

    def update(self, env: "SlotEnv", returns) -> None:
        """Take the finished episodes of ``env`` (all ``batch`` at their end) whose
        plans keep every deadline, with their ``returns`` (B,)."""
        feasible = env.state.status == FEASIBLE
        if not feasible.any():
            return
        objective = np.where(feasible, -np.asarray(returns, dtype=float), np.inf)
        b = int(np.argmin(objective))
        if (0, objective[b]) < self.key:
            self.key, self.assign = (0, float(objective[b])), env.state.assign[b].copy()

    def merge(self, other: "BestEpisode") -> None:
        if other.key < self.key:
            self.key, self.assign = other.key, other.assign


def plan_key(problem: Problem, assign, priority) -> tuple:
    """How a learner ranks candidate plans: deadlines missed, then Σ delay + β·ψ."""
    report = slot_report(problem, assign, priority)
    beta = float(problem.instance.objective.beta or 0.0)
    return (report.total_violations,
            report.total_delay_s + beta * float(report.overrun_s.sum()))


def best_plan(problem: Problem, candidates: dict, priority) -> tuple[str, np.ndarray, dict]:
    """``(name, assign, keys)``: the best of ``candidates`` (name -> assignment or None),
    all placed in ``priority``, by :func:`plan_key` (the first wins ties), and every
    candidate's key."""
    keys = {name: plan_key(problem, a, priority) for name, a in candidates.items()
            if a is not None}
    name = min(keys, key=lambda n: (keys[n], list(keys).index(n)))
    return name, np.asarray(candidates[name]), keys


def slot_of(problem: Problem, slot_s: float | None = None) -> np.ndarray:
    """(T,) slot index of every task: ``floor(release_s / slot_s)`` (``slot_s`` None: one
    slot per distinct release time, in order)."""
    release = np.asarray(problem.release_s, dtype=float)
    if slot_s is None:
        return np.unique(release, return_inverse=True)[1].astype(np.int64)
    if slot_s <= 0:
        raise ValueError(f"slot_s must be > 0, got {slot_s}")
    return np.floor(release / slot_s + 1e-9).astype(np.int64)


@dataclass(frozen=True)
class SlotReport:
    """Per-slot totals of a plan (arrays indexed by slot number ``slots``)."""

    slots: np.ndarray          # slot numbers present
    delay_s: np.ndarray        # Σ task latency per slot
    violations: np.ndarray     # tasks over their deadline per slot
    overrun_s: np.ndarray      # ψ per slot
    latency_s: np.ndarray      # (T,) per task

    @property
    def total_delay_s(self) -> float:
        return float(self.delay_s.sum())

    @property
    def total_violations(self) -> int:
        return int(self.violations.sum())

    def to_dict(self) -> dict:
        return {"delay_s": self.total_delay_s, "violations": self.total_violations,
                "overrun_s": float(self.overrun_s.sum()),
                "per_slot": [{"slot": int(k), "delay_s": float(d), "violations": int(v),
                              "overrun_s": float(o)} for k, d, v, o in
                             zip(self.slots, self.delay_s, self.violations, self.overrun_s)]}


def slot_report(problem: Problem, assign, priority=None,
                slot_s: float | None = None) -> SlotReport:
    """Replay ``assign`` in ``priority`` (default: the default priority) with the core's
    step and total delay, violated deadlines and overrun per slot. Deadline failures are
    committed by the step, so an infeasible plan is reported too; a structural failure
    (a forbidden server, a missing link) is a ValueError."""
    assign = np.asarray(assign, dtype=np.int64)
    order = np.asarray(problem.default_priority if priority is None else priority,
                       dtype=np.int64)
    state = new_state(problem, 1)
    for g in order:
        step = place_batch(problem, state, np.array([g]), assign[[g]])
        if not step.committed[0]:
            task, layer = problem.layer_names[g]
            raise ValueError(f"layer {layer!r} of task {task!r}: the plan cannot place it "
                             f"on server {problem.server_names[assign[g]]!r}")
    latency = state.task_end_s[0] - problem.release_s
    over = np.maximum(latency - problem.deadline_s, 0.0)
    late = latency > problem.deadline_s * (1 + 1e-9) + 1e-12
    slot = slot_of(problem, slot_s)
    slots, inv = np.unique(slot, return_inverse=True)
    n = len(slots)
    return SlotReport(slots, np.bincount(inv, latency, n), np.bincount(inv, late, n)
                      .astype(np.int64), np.bincount(inv, over, n), latency)

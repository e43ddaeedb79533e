"""Objective kinds as objects (MODELS.md §1–§6): one class per kind.

``problem.objective`` is the instance's objective as an :class:`Objective`; it owns its
parameters and knows

* ``score(assign, exec_s, transfer_s, wait_s, crit, latency_s)``: ``(value, terms)`` per
  plan of a population, from the simulator's per-layer arrays (P, L) and task latencies
  (P, T); what :func:`offloadlab.simulator.simulate` reports. Infeasibility is decided by
  the simulator, not here.
* ``components(...)`` (same arguments): (P, 3) raw ``(delay_s, energy_j, cost_usd)`` for
  multi-objective work. ``delay_s`` is the kind's own time (sum of task latencies, with
  waits; makespan for ``makespan``); ``energy_j`` is dmro's weighted energy (§4) or
  ddpqn's device-side energy (§3); ``cost_usd`` is ddpqn's cost (§3); a component a kind
  does not define is NaN.
* ``contention``: whether servers' pools queue layers (false for dmro).
* ``per_layer``: whether ``score`` reads the per-layer records (ddpqn), not only latencies.
* ``time_valued``: whether the value is a time (latency sums, makespan), not a weighted
  mix (dmro, ddpqn).
* ``increment(state, step)``: (B,) what each placement of a
  :func:`offloadlab.schedule.place_batch` step added to the objective (0 where the step
  failed structurally). Placed in any precedence-respecting order, the increments of a
  complete plan sum to the simulator's objective of that plan under that priority
  (ddpqn: only in the global order ``0..L-1``, see :class:`Ddpqn`). Latency and
  deadline: the increase of the task's end (it starts at the release); makespan: the
  increase of the latest task end (it starts at the earliest release); dmro: the latency
  increase plus ``delta`` times the layer's weighted energy.
* ``soft_increment(state, step)``: (B,) a learner's soft-deadline penalty increment,
  ``beta * max(latency - deadline, 0)`` telescoped per task for :class:`Deadline` (its
  ``beta``, MTL-A3C eq. 14), 0 for the other kinds. The hard deadline stays the meaning
  of the objective; this term is only for a reward that asks for it.

Adding a kind means adding one class here (and its parameters in ``instance.py``).
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, ClassVar

import numpy as np

if TYPE_CHECKING:  # the problem builds its objective: no import at run time
    from .problem import Problem


def score(problem: Problem, assign, exec_s, transfer_s, wait_s, crit, latency_s):
    """``problem.objective.score(...)``: ``(value, terms)`` per plan.

    ``crit[p, l]`` is the global index of layer l's critical predecessor, -1 when its
    data is the task input sent by the device.
    """
    return problem.objective.score(assign, exec_s, transfer_s, wait_s, crit, latency_s)


def makespan(problem: Problem, latency_s: np.ndarray) -> np.ndarray:
    """Latest task end minus the earliest release."""
    end = problem.release_s[None, :] + latency_s
    return end.max(axis=1) - problem.release_s.min()


class Objective:
    """The objective of one problem; subclasses are the kinds (see the module doc)."""

    kind: ClassVar[str] = ""
    contention: ClassVar[bool] = True   # pools queue layers
    per_layer: ClassVar[bool] = False   # score reads per-layer records, not only latencies
    time_valued: ClassVar[bool] = True  # the value is a time (latencies or makespan)

    def __init__(self, problem: Problem):
        self.problem = problem
        self.spec = problem.instance.objective
        self.return_output = bool(self.spec.return_output)

    def score(self, assign, exec_s, transfer_s, wait_s, crit, latency_s):
        return latency_s.sum(axis=1), {}

    def components(self, assign, exec_s, transfer_s, wait_s, crit, latency_s) -> np.ndarray:
        delay = latency_s.sum(axis=1)
        return np.column_stack([delay, np.full_like(delay, np.nan),
                                np.full_like(delay, np.nan)])

    def increment(self, state, step) -> np.ndarray:
        return step.task_end_after_s - step.task_end_before_s

    def soft_increment(self, state, step) -> np.ndarray:
        return np.zeros(len(step.layer))


class Latency(Objective):
    """EosDNN: the sum of task latencies."""

    kind = "latency"


class Deadline(Objective):
    """MTL-A3C: the sum of task latencies under hard deadlines; ``beta`` weighs a
    learner's soft overrun penalty."""

    kind = "deadline"

    def soft_increment(self, state, step) -> np.ndarray:
        pb = self.problem
        t = pb.layer_task[np.clip(step.layer, 0, pb.n_layers - 1)]
        base = pb.release_s[t] + pb.deadline_s[t]  # inf without a deadline: no overrun
        late = [np.maximum(end - base, 0.0) for end in (step.task_end_before_s,
                                                         step.task_end_after_s)]
        return self.spec.beta * (late[1] - late[0])


class Makespan(Objective):
    """ATSA: the latest task end minus the earliest release."""

    kind = "makespan"

    def score(self, assign, exec_s, transfer_s, wait_s, crit, latency_s):
        return makespan(self.problem, latency_s), {}

    def components(self, assign, exec_s, transfer_s, wait_s, crit, latency_s):
        out = super().components(assign, exec_s, transfer_s, wait_s, crit, latency_s)
        out[:, 0] = makespan(self.problem, latency_s)
        return out

    def increment(self, state, step) -> np.ndarray:
        return step.front_after_s - step.front_before_s


class Dmro(Objective):
    """DMRO: Q = sum over workflows of T_x + delta * E_x, no contention; E weighs the
    energy of edge servers by ``alpha`` and of cloud servers by ``beta``."""

    kind = "dmro"
    contention = False
    time_valued = False

    def __init__(self, problem: Problem):
        super().__init__(problem)
        weight = np.array([1.0, self.spec.alpha, self.spec.beta])[problem.tier]
        j_per_gcycle = np.array([s.j_per_gcycle for s in problem.instance.servers])
        self.j_weighted = weight * j_per_gcycle  # (S,) weighted J per gigacycle

    def _parts(self, assign, latency_s):
        energy_j = self.j_weighted[assign] * self.problem.gcycles[None, :]
        return latency_s.sum(axis=1), energy_j.sum(axis=1)

    def score(self, assign, exec_s, transfer_s, wait_s, crit, latency_s):
        delay, energy = self._parts(assign, latency_s)
        return delay + self.spec.delta * energy, {"delay_s": delay, "energy_j": energy}

    def components(self, assign, exec_s, transfer_s, wait_s, crit, latency_s):
        delay, energy = self._parts(assign, latency_s)
        return np.column_stack([delay, energy, np.full_like(delay, np.nan)])

    def increment(self, state, step) -> np.ndarray:
        ok = step.committed
        g = np.where(ok, step.layer, 0)
        s = np.where(ok, step.server, 0)
        energy = np.where(ok, self.j_weighted[s] * self.problem.gcycles[g], 0.0)
        return step.task_end_after_s - step.task_end_before_s + self.spec.delta * energy


def dmro(problem: Problem, assign, latency_s):
    """DMRO's ``(Q, terms)`` per plan (see :class:`Dmro`)."""
    return Dmro(problem).score(assign, None, None, None, None, latency_s)


# --- DDPQN ----------------------------------------------------------------------------


@lru_cache(maxsize=32)
def _ddpqn_tables(problem: Problem):
    """Per-server-pair raw components and per-layer min/max for standardisation.

    Returns arrays indexed [p_server, s_server] for the energy/cost coefficients and the
    per-layer (min, max) of queue-free T, E, U over every allowed (predecessor server,
    server) pair with a link. For a source layer the "predecessor" is the task's device.
    """
    inst = problem.instance
    usd_per_gb = problem.link_matrix("usd_per_gb")
    tx_w = problem.link_matrix("tx_w")
    usd_per_s = np.array([s.usd_per_hour for s in inst.servers]) / 3600.0
    active_w = np.array([s.active_w for s in inst.servers])
    idle_w = np.array([s.idle_w for s in inst.servers])
    n_layers = problem.n_layers
    lo = np.zeros((3, n_layers))
    hi = np.zeros((3, n_layers))
    for g in range(n_layers):
        dev = problem.task_device[problem.layer_task[g]]
        s_ok = problem.allowed_servers(g)
        preds = problem.preds(g)
        if len(preds):
            pairs = [(problem.out_mb[q], problem.allowed_servers(q)) for q in preds]
        else:
            # the device sends the input; without a device the input is already there
            pairs = [(problem.input_mb[g], [dev] if dev >= 0 else [None])]
        values = []
        for mb, p_ok in pairs:
            for p in p_ok:
                for s in s_ok:
                    comps = _components(problem, g, s if p is None else p, s, mb, dev,
                                        usd_per_gb, tx_w, usd_per_s, active_w, idle_w)
                    if comps is not None:
                        values.append(comps)
        vals = np.array(values).T
        lo[:, g], hi[:, g] = vals.min(axis=1), vals.max(axis=1)
    return usd_per_gb, tx_w, usd_per_s, active_w, idle_w, lo, hi


def _components(problem, g, p, s, mb, dev, usd_per_gb, tx_w, usd_per_s, active_w, idle_w):
    """Queue-free (T, E, U) of layer g on s with its data coming from p (None: no link)."""
    bw = problem.bw[p, s]
    if bw == 0.0:
        return None
    ex = problem.exec_s[g, s]
    tr = mb / bw  # 0 when p == s (infinite bandwidth)
    power = (active_w[dev] if s == dev else idle_w[dev]) if dev >= 0 else 0.0
    return (ex + tr, power * ex + tx_w[p, s] * tr,
            ex * usd_per_s[s] + mb / 1024.0 * usd_per_gb[p, s])


def _standardise(x, lo, hi):
    span = hi - lo
    return np.where(span > 0, (x - lo) / np.where(span > 0, span, 1.0), 0.0)


class Ddpqn(Objective):
    """DDPQN's P1: the sum over layers of ``phi * (theta T~ + vartheta E~ + eta U~) -
    varphi * H + omega * Z~``.

    ``Z~_k`` (node balance, eq. 12 normalised) counts the layers on each edge / cloud
    server after the k-th placement in the global (MDP) order ``0..L-1``. The
    :meth:`increment` reads the counts and the number of layers placed so far from the
    state, so it is exact only when the layers are placed in that order; in another
    order it scores the balance of the layers placed so far (a shaped reward whose sum
    differs from P1 by the balance terms only).
    """

    kind = "ddpqn"
    per_layer = True
    time_valued = False

    def _layer(self, g, s, src, exec_s, transfer_s, wait_s, crit):
        """Per-layer ``(phi * standardised terms - varphi * H, delay, energy, cost, H)``
        of layers ``g`` on servers ``s`` whose data comes from servers ``src`` (arrays of
        one broadcast shape)."""
        pb, o = self.problem, self.spec
        usd_per_gb, tx_w, usd_per_s, active_w, idle_w, lo, hi = _ddpqn_tables(pb)
        dev = pb.task_device[pb.layer_task[g]]
        has_dev = dev >= 0
        devc = np.where(has_dev, dev, 0)
        power = np.where(s == devc, active_w[devc], idle_w[devc]) * has_dev
        data_mb = np.where(crit >= 0, pb.out_mb[np.clip(crit, 0, None)], pb.input_mb[g])
        data_mb = np.where(src == s, 0.0, data_mb)
        t0 = exec_s + transfer_s
        energy = power * exec_s + tx_w[src, s] * transfer_s
        cost = exec_s * usd_per_s[s] + data_mb / 1024.0 * usd_per_gb[src, s]
        lo, hi = lo[:, g], hi[:, g]
        t_std = _standardise(t0 + wait_s, lo[0], hi[0])
        e_std = _standardise(energy, lo[1], hi[1])
        u_std = _standardise(cost, lo[2], hi[2])
        b = [np.clip(1.0 - _standardise(x, lo[i], hi[i]), 0.0, 1.0)
             for i, x in enumerate((t0, energy, cost))]
        total_b = b[0] + b[1] + b[2]
        coupling = np.where(total_b > 0, 3.0 * np.cbrt(b[0] * b[1] * b[2])
                            / np.where(total_b > 0, total_b, 1.0), 0.0)
        lam = o.lambda_
        harmony = np.sqrt(coupling * (lam[0] * b[0] + lam[1] * b[1] + lam[2] * b[2]))
        base = o.phi * (o.theta * t_std + o.vartheta * e_std + o.eta * u_std) \
            - o.varphi * harmony
        return base, t0 + wait_s, energy, cost, harmony

    def _population(self, assign, exec_s, transfer_s, wait_s, crit):
        pb = self.problem
        g = np.arange(pb.n_layers)[None, :]
        dev = np.broadcast_to(pb.task_device[pb.layer_task], assign.shape)
        # where the layer's data comes from: the critical predecessor's server, or the device
        rows = np.arange(assign.shape[0])[:, None]
        src = np.where(crit >= 0, assign[rows, np.clip(crit, 0, None)],
                       np.where(dev >= 0, dev, assign))
        base, delay, energy, cost, harmony = self._layer(g, assign, src, exec_s, transfer_s,
                                                         wait_s, crit)
        balance = node_balance(pb, assign)
        per_layer = base + self.spec.omega * balance
        terms = {"delay_s": delay.sum(1), "energy_j": energy.sum(1), "cost_usd": cost.sum(1),
                 "coordination": harmony.mean(1), "balance": balance.mean(1)}
        return per_layer.sum(axis=1), terms

    def score(self, assign, exec_s, transfer_s, wait_s, crit, latency_s):
        return self._population(assign, exec_s, transfer_s, wait_s, crit)

    def components(self, assign, exec_s, transfer_s, wait_s, crit, latency_s):
        _, terms = self._population(assign, exec_s, transfer_s, wait_s, crit)
        # delay: task latencies like every kind (P1's per-layer T sum counts overlaps twice)
        return np.column_stack([latency_s.sum(axis=1), terms["energy_j"], terms["cost_usd"]])

    def increment(self, state, step) -> np.ndarray:
        ok = step.committed
        g = np.where(ok, step.layer, 0)
        s = np.where(ok, step.server, 0)
        crit = np.where(ok, step.crit, -1)
        dev = self.problem.task_device[self.problem.layer_task[g]]
        rows = np.arange(len(g))
        src = np.where(crit >= 0, state.assign[rows, np.clip(crit, 0, None)],
                       np.where(dev >= 0, dev, s))
        base = self._layer(g, s, src, step.exec_s, step.transfer_s, step.wait_s, crit)[0]
        balance = balance_of_counts(self.problem, state.n_on, state.n_placed)
        return np.where(ok, base + self.spec.omega * balance, 0.0)


def ddpqn(problem: Problem, assign, exec_s, transfer_s, wait_s, crit):
    """DDPQN's ``(P1, terms)`` per plan (see :class:`Ddpqn`)."""
    return Ddpqn(problem).score(assign, exec_s, transfer_s, wait_s, crit, None)


def _balance_groups(problem: Problem):
    edge = np.flatnonzero(problem.tier == 1)
    cloud = np.flatnonzero(problem.tier == 2)
    scale = max(len(edge) - 1, len(cloud) - 1)
    return [g for g in (edge, cloud) if len(g) >= 2], scale


def node_balance(problem: Problem, assign: np.ndarray) -> np.ndarray:
    """Z~_k after each placement in global (MDP) order, (P, L), eq. 12 normalised."""
    n_plans, n_layers = assign.shape
    out = np.zeros((n_plans, n_layers))
    groups, scale = _balance_groups(problem)
    if scale <= 0:
        return out
    for group in groups:
        counts = np.cumsum(assign[:, :, None] == group[None, None, :], axis=1)
        counts.sort(axis=2)
        n = len(group)
        coef = 2 * np.arange(n) - n + 1  # sum_{i<j} |B_i - B_j| for sorted B
        out += counts @ coef
    return out / (np.arange(1, n_layers + 1)[None, :] * scale)


def balance_of_counts(problem: Problem, n_on: np.ndarray, n_placed: np.ndarray) -> np.ndarray:
    """Z~ of (B, S) layer counts per server after ``n_placed`` (B,) placements."""
    out = np.zeros(len(n_placed))
    groups, scale = _balance_groups(problem)
    if scale <= 0:
        return out
    for group in groups:
        counts = np.sort(n_on[:, group], axis=1)
        n = len(group)
        out += counts @ (2 * np.arange(n) - n + 1)
    return out / (np.maximum(n_placed, 1) * scale)


KINDS = {cls.kind: cls for cls in (Latency, Deadline, Makespan, Dmro, Ddpqn)}


def make_objective(problem: Problem) -> Objective:
    """The :class:`Objective` of ``problem.instance.objective``."""
    return KINDS[problem.instance.objective.kind](problem)

"""Objective kinds, vectorised over a population of scheduled plans (MODELS.md §1–§6).

Every function takes the simulator's per-layer arrays (P, L) and returns one value per
plan plus named terms for reports. Infeasibility is decided by the simulator, not here.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .problem import Problem


def score(problem: Problem, assign, exec_s, transfer_s, wait_s, crit, latency_s):
    """Dispatch on ``problem.instance.objective.kind``; returns ``(value, terms)``.

    ``crit[p, l]`` is the global index of layer l's critical predecessor, -1 when its
    data is the task input sent by the device.
    """
    kind = problem.instance.objective.kind
    if kind in ("latency", "deadline"):
        return latency_s.sum(axis=1), {}
    if kind == "makespan":
        return makespan(problem, latency_s), {}
    if kind == "dmro":
        return dmro(problem, assign, latency_s)
    if kind == "ddpqn":
        return ddpqn(problem, assign, exec_s, transfer_s, wait_s, crit)
    raise ValueError(f"unknown objective kind {kind!r}")


def makespan(problem: Problem, latency_s: np.ndarray) -> np.ndarray:
    """Latest task end minus the earliest release."""
    end = problem.release_s[None, :] + latency_s
    return end.max(axis=1) - problem.release_s.min()


def dmro(problem: Problem, assign, latency_s):
    """Q = sum over workflows of T_x + delta * E_x, E weighted 1 / alpha / beta by tier."""
    obj = problem.instance.objective
    weight = np.array([1.0, obj.alpha, obj.beta])[problem.tier]
    j_per_gcycle = np.array([s.j_per_gcycle for s in problem.instance.servers])
    energy_j = (weight * j_per_gcycle)[assign] * problem.gcycles[None, :]
    delay = latency_s.sum(axis=1)
    energy = energy_j.sum(axis=1)
    return delay + obj.delta * energy, {"delay_s": delay, "energy_j": energy}


# --- DDPQN ----------------------------------------------------------------------------


@lru_cache(maxsize=32)
def _ddpqn_tables(problem: Problem):
    """Per-server-pair raw components and per-layer min/max for standardisation.

    Returns arrays indexed [p_server, s_server] for the energy/cost coefficients and the
    per-layer (min, max) of queue-free T, E, U over every allowed (predecessor server,
    server) pair with a link. For a source layer the "predecessor" is the task's device.
    """
    inst = problem.instance
    from .problem import bandwidth_matrix
    usd_per_gb = bandwidth_matrix(inst, "usd_per_gb")
    tx_w = bandwidth_matrix(inst, "tx_w")
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


def ddpqn(problem: Problem, assign, exec_s, transfer_s, wait_s, crit):
    """DDPQN's P1: sum of phi*(weighted standardised T,E,U) - varphi*H + omega*Z~."""
    o = problem.instance.objective
    usd_per_gb, tx_w, usd_per_s, active_w, idle_w, lo, hi = _ddpqn_tables(problem)
    dev = np.broadcast_to(problem.task_device[problem.layer_task], assign.shape)
    has_dev = dev >= 0
    devc = np.where(has_dev, dev, 0)
    power = np.where(assign == devc, active_w[devc], idle_w[devc]) * has_dev
    # where the layer's data comes from: the critical predecessor's server, or the device
    rows = np.arange(assign.shape[0])[:, None]
    src = np.where(crit >= 0, assign[rows, np.clip(crit, 0, None)], np.where(has_dev, dev, assign))
    data_mb = np.where(crit >= 0, problem.out_mb[np.clip(crit, 0, None)], problem.input_mb[None, :])
    data_mb = np.where(src == assign, 0.0, data_mb)
    t0 = exec_s + transfer_s
    energy = power * exec_s + tx_w[src, assign] * transfer_s
    cost = exec_s * usd_per_s[assign] + data_mb / 1024.0 * usd_per_gb[src, assign]
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
    balance = node_balance(problem, assign)
    per_layer = (o.phi * (o.theta * t_std + o.vartheta * e_std + o.eta * u_std)
                 - o.varphi * harmony + o.omega * balance)
    terms = {"delay_s": (t0 + wait_s).sum(1), "energy_j": energy.sum(1),
             "cost_usd": cost.sum(1), "coordination": harmony.mean(1),
             "balance": balance.mean(1)}
    return per_layer.sum(axis=1), terms


def node_balance(problem: Problem, assign: np.ndarray) -> np.ndarray:
    """Z~_k after each placement in global (MDP) order, (P, L), eq. 12 normalised."""
    n_plans, n_layers = assign.shape
    out = np.zeros((n_plans, n_layers))
    edge = np.flatnonzero(problem.tier == 1)
    cloud = np.flatnonzero(problem.tier == 2)
    scale = max(len(edge) - 1, len(cloud) - 1)
    if scale <= 0:
        return out
    for group in (edge, cloud):
        if len(group) < 2:
            continue
        counts = np.cumsum(assign[:, :, None] == group[None, None, :], axis=1)
        counts.sort(axis=2)
        n = len(group)
        coef = 2 * np.arange(n) - n + 1  # sum_{i<j} |B_i - B_j| for sorted B
        out += counts @ coef
    return out / (np.arange(1, n_layers + 1)[None, :] * scale)

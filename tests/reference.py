"""An independent, loop-by-loop reading of MODELS.md §0 and §3 for one plan.

Deliberately plain Python with no code shared with the simulator, so that the tests
compare two implementations of the same text.
"""

from __future__ import annotations

import math

TIERS = ("device", "edge", "cloud")


def link(inst, i: int, j: int, attr: str):
    """The link value between servers i and j (None: no link); i == j never asks."""
    si, sj = inst.servers[i], inst.servers[j]
    value = None
    for lk in inst.links:  # tier pairs first
        if lk.a in TIERS and lk.b in TIERS and {lk.a, lk.b} == {si.tier, sj.tier} and (
                (lk.a == si.tier and lk.b == sj.tier) or (lk.b == si.tier and lk.a == sj.tier)):
            value = getattr(lk, attr)
    for lk in inst.links:  # then server overrides
        if lk.a in TIERS and lk.b in TIERS:
            continue
        ends = [lk.a, lk.b]
        ok_ij = (ends[0] in (si.name, si.tier) and ends[1] in (sj.name, sj.tier))
        ok_ji = (ends[1] in (si.name, si.tier) and ends[0] in (sj.name, sj.tier))
        if ok_ij or ok_ji:
            value = getattr(lk, attr)
    return value


def schedule(pb, assign, priority):
    """Per layer dicts (start, finish, exec, transfer, wait, src, data_mb), task ends."""
    inst = pb.instance
    n_srv = len(inst.servers)
    slots = {s: [0.0] * inst.servers[s].pools for s in range(n_srv)}
    unlimited = inst.objective.kind == "dmro"
    rec, task_end = {}, {}
    for g in priority:
        s = int(assign[g])
        t = int(pb.layer_task[g])
        task = inst.tasks[t]
        dev = pb.server_names.index(task.device) if task.device else -1
        preds = list(pb.preds(g))
        if not preds:
            src, mb = (dev, pb.input_mb[g]) if dev >= 0 else (s, 0.0)
            tr = 0.0 if src == s else mb / link(inst, src, s, "mb_per_s")
            ready, crit = task.release_s + tr, None
        else:
            ready, tr, crit = task.release_s, 0.0, None
            arrivals = []
            for q in preds:
                lag = 0.0 if assign[q] == s else pb.out_mb[q] / link(inst, int(assign[q]), s,
                                                                     "mb_per_s")
                arrivals.append((rec[q]["finish"] + lag, -q, lag))
            arrive, negq, lag = max(arrivals)
            crit = -negq
            if arrive > ready:
                ready = arrive
            tr = lag
            src, mb = int(assign[crit]), pb.out_mb[crit]
        ex = pb.gcycles[g] / inst.servers[s].ghz
        if unlimited:
            start = ready
        else:
            k = min(range(len(slots[s])), key=lambda i: slots[s][i])
            start = max(ready, slots[s][k])
            slots[s][k] = start + ex
        rec[g] = dict(start=start, finish=start + ex, exec=ex, transfer=tr, wait=start - ready,
                      src=src, data_mb=mb if src != s else 0.0)
        if pb.is_sink[g]:
            end = start + ex
            if inst.objective.return_output and dev >= 0 and dev != s:
                end += pb.out_mb[g] / link(inst, s, dev, "mb_per_s")
            task_end[t] = max(task_end.get(t, -math.inf), end)
    return rec, task_end


def latency_sum(pb, assign, priority):
    _, ends = schedule(pb, assign, priority)
    return sum(ends[t] - pb.instance.tasks[t].release_s for t in ends)


def ddpqn(pb, assign, priority):
    """MODELS.md §3 P1 for one plan."""
    inst = pb.instance
    o = inst.objective
    rec, _ = schedule(pb, assign, priority)

    def comps(g, p, s, mb, dev):
        ex = pb.gcycles[g] / inst.servers[s].ghz
        if p != s and link(inst, p, s, "mb_per_s") is None:
            return None
        tr = 0.0 if p == s else mb / link(inst, p, s, "mb_per_s")
        power = 0.0
        if dev >= 0:
            power = inst.servers[dev].active_w if s == dev else inst.servers[dev].idle_w
        tx = 0.0 if p == s else link(inst, p, s, "tx_w")
        usd_gb = 0.0 if p == s else link(inst, p, s, "usd_per_gb")
        return (ex + tr, power * ex + tx * tr,
                ex * inst.servers[s].usd_per_hour / 3600 + (mb if p != s else 0) / 1024 * usd_gb)

    edge = [i for i, s in enumerate(inst.servers) if s.tier == "edge"]
    cloud = [i for i, s in enumerate(inst.servers) if s.tier == "cloud"]
    scale = max(len(edge) - 1, len(cloud) - 1)
    counts = {i: 0 for i in range(len(inst.servers))}
    total = 0.0
    for k, g in enumerate(range(pb.n_layers), start=1):
        s = int(assign[g])
        dev = int(pb.task_device[pb.layer_task[g]])
        allowed = [i for i in range(len(inst.servers)) if pb.allowed[g, i]]
        preds = list(pb.preds(g))
        options = ([(pb.out_mb[q], [i for i in range(len(inst.servers)) if pb.allowed[q, i]])
                    for q in preds] if preds else
                   [(pb.input_mb[g], [dev] if dev >= 0 else [None])])
        values = [c for mb, ps in options for p in ps for s2 in allowed
                  if (c := comps(g, s2 if p is None else p, s2, mb, dev)) is not None]
        lo = [min(v[i] for v in values) for i in range(3)]
        hi = [max(v[i] for v in values) for i in range(3)]
        r = rec[g]
        t0, e, u = comps(g, r["src"], s, r["data_mb"] if r["src"] != s else 0.0, dev)
        std = lambda x, i: (x - lo[i]) / (hi[i] - lo[i]) if hi[i] > lo[i] else 0.0  # noqa
        t_std, e_std, u_std = std(t0 + r["wait"], 0), std(e, 1), std(u, 2)
        b = [min(1.0, max(0.0, 1 - std(x, i))) for i, x in enumerate((t0, e, u))]
        c = 3 * (b[0] * b[1] * b[2]) ** (1 / 3) / sum(b) if sum(b) > 0 else 0.0
        y = sum(w * x for w, x in zip(o.lambda_, b))
        h = math.sqrt(c * y)
        counts[s] += 1
        z = sum(abs(counts[i] - counts[j]) for grp in (edge, cloud)
                for a, i in enumerate(grp) for j in grp[a + 1:])
        z_std = z / (k * scale) if scale > 0 else 0.0
        total += o.phi * (o.theta * t_std + o.vartheta * e_std + o.eta * u_std) \
            - o.varphi * h + o.omega * z_std
    return total

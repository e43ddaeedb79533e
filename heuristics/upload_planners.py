"""Upload planners of EosDNN §VI: LMU (Principles 1–4), Non-uploading, IONN and
Recursive-efficiency. Each returns an :class:`~offloadlab.upload_model.UploadResult`
scored by the one query-delay model; the exact order is in
:mod:`offloadlab.formulations.upload_dp`.

Resolved semantics (the paper describes the planners in words only):

* **LMU.** Size-0 units are pre-uploaded at time 0 (Principle 2; under SD's "use an
  uploaded layer only where it helps" they run exactly when that helps). Weighted units
  with LDA* < 0 merge with an adjacent partition by the Merge Rules (Principle 3):
  both candidates positive -> higher ELDA*; one positive -> that one; both negative ->
  the output side, and keep growing until LDA* > 0 or nothing adjacent is left. Two units
  are adjacent when no client-only layer lies between them. Partitions are then uploaded
  greedily by the current ELDA = (SD(U) - SD(U + P)) / t_P (Principle 1, as in Table III:
  recomputed after each upload; ties by ELDA* = LDA*/t_P, then chain position). When a
  merged partition's turn comes, its contiguous proper sub-runs with LDA* > 0 are uploaded
  first, one at a time by the same rule, and then the rest at once (Principle 4). The
  paper's division of ELDA by the input size is a constant factor and is left out.
* **Non-uploading.** The whole remote part (size-0 layers included) as one partition.
* **IONN.** Shortest path with a penalty factor k: each round the query path may run a
  not-yet-uploaded unit remotely at an extra cost of k times its upload time; the units a
  round's path newly runs remotely form the next partition; k starts at 1 and halves
  each round (40 rounds); whatever is left goes last, as one partition.
* **Recursive-efficiency.** Over contiguous runs of not-yet-uploaded units (size-0 units
  included, as ordinary units), upload the run with the highest efficiency
  (SD(U) - SD(U + run)) / t_run, split what remains around it and repeat; a zero-time run
  with no gain has efficiency -inf. When no run gains anything, each remaining maximal
  run goes whole, by decreasing LDA*/t.
"""

from __future__ import annotations

import numpy as np

from offloadlab.upload_model import EITHER, UploadModel, UploadResult

PLANNERS = ("lmu", "non-uploading", "ionn", "efficiency")


def plan(model: UploadModel, planner: str, tail_s: float = 0.0) -> UploadResult:
    """Run the planner named ``planner`` (one of :data:`PLANNERS` or ``exact``)."""
    if planner == "exact":
        return best_upload(model, tail_s).result
    funcs = {"lmu": lmu, "non-uploading": non_uploading, "ionn": ionn,
             "efficiency": recursive_efficiency}
    if planner not in funcs:
        raise ValueError(f"unknown planner {planner!r}; known: exact, {', '.join(PLANNERS)}")
    return funcs[planner](model, tail_s=tail_s)


def best_upload(model: UploadModel, tail_s: float = 0.0, **options):
    """:func:`~offloadlab.formulations.upload_dp.exact_upload` with the planners' plans
    as its incumbents beyond the subset DP's reach (``options``: ``max_items``)."""
    from offloadlab.formulations.upload_dp import exact_upload

    return exact_upload(model, tail_s=tail_s, **options,
                        incumbents=lambda: [plan(model, p, tail_s) for p in PLANNERS])


# --- shared helpers -------------------------------------------------------------------


def _gain_rate(model: UploadModel, usable: list[int], parts: list[list[int]]):
    """(SD(U) - SD(U + P)) / t_P for each candidate P; zero time: +inf if it gains."""
    base = model.sd(usable)
    modes = np.stack([model.modes(usable + list(p)) for p in parts])
    gain = base - model.delay(modes)
    t = np.array([model.upload_s[p].sum() for p in parts])
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(t > 0, gain / np.where(t > 0, t, 1.0),
                        np.where(gain > 1e-12, np.inf, -np.inf))
    return rate, gain


def _runs(model: UploadModel, units) -> list[list[int]]:
    """Split ``units`` (sorted) into maximal adjacent runs."""
    runs: list[list[int]] = []
    for u in sorted(units):
        if runs and _adjacent(model, runs[-1][-1], u):
            runs[-1].append(u)
        else:
            runs.append([u])
    return runs


def _adjacent(model: UploadModel, u: int, v: int) -> bool:
    """No client-only layer between units ``u`` < ``v`` (size-0 units do not break)."""
    return not model.breaks[u:v].any()


def _elda_star(model: UploadModel, part) -> float:
    t = model.upload_s[list(part)].sum()
    lda = model.lda_star(part)
    return lda / t if t > 0 else (np.inf if lda > 0 else -np.inf)


# --- baselines ------------------------------------------------------------------------


def non_uploading(model: UploadModel, tail_s: float = 0.0) -> UploadResult:
    """The whole remote part uploaded at once."""
    parts = [list(range(model.n_units))] if model.n_units else []
    return model.evaluate(parts, tail_s)


def ionn(model: UploadModel, tail_s: float = 0.0, rounds: int = 40) -> UploadResult:
    """IONN: shortest-path partitions with a halving penalty factor on upload time."""
    uploaded: set[int] = set()
    parts: list[list[int]] = []
    k = 1.0
    for _ in range(rounds):
        if len(uploaded) == model.n_units:
            break
        extra = np.where(np.isin(np.arange(model.n_units), list(uploaded)), 0.0,
                         k * model.upload_s)
        mode = np.full(model.n_units, EITHER, dtype=np.int8)
        new = [int(u) for u in model.path_states(mode, extra) if u not in uploaded]
        if new:
            parts.append(sorted(new))
            uploaded.update(new)
        k /= 2
    rest = [u for u in range(model.n_units) if u not in uploaded]
    if rest:
        parts.append(rest)
    return model.evaluate(parts, tail_s)


def recursive_efficiency(model: UploadModel, tail_s: float = 0.0) -> UploadResult:
    """Efficiency-based recursive partitioning over contiguous runs of units."""
    segments = [list(range(model.n_units))] if model.n_units else []
    usable: list[int] = []
    parts: list[list[int]] = []
    while segments:
        cands = [(s, seg[i:j]) for s, seg in enumerate(segments)
                 for i in range(len(seg)) for j in range(i + 1, len(seg) + 1)]
        rate, gain = _gain_rate(model, usable, [c for _, c in cands])
        best = int(np.argmax(rate))
        if not gain[best] > 1e-12:
            rest = sorted(segments, key=lambda seg: (-_elda_star(model, seg), seg[0]))
            parts.extend(rest)
            break
        s, run = cands[best]
        seg = segments.pop(s)
        i = seg.index(run[0])
        left, right = seg[:i], seg[i + len(run):]
        segments[s:s] = [x for x in (left, right) if x]
        parts.append(run)
        usable += run
    return model.evaluate(parts, tail_s)


# --- LMU ------------------------------------------------------------------------------


def merge_partitions(model: UploadModel) -> list[list[int]]:
    """Principle 3: weighted units grouped by the Merge Rules (chain order)."""
    parts: list[list[int]] = []
    for run in _runs(model, model.items):
        groups = [[u] for u in run]
        k = 0
        while k < len(groups):
            if model.lda_star(groups[k]) < 0:
                k = _grow(model, groups, k)
            k += 1
        parts.extend(groups)
    return parts


def _grow(model: UploadModel, groups: list[list[int]], k: int) -> int:
    """Merge ``groups[k]`` with neighbours until its LDA* > 0; return its new index."""
    while model.lda_star(groups[k]) < 0:
        cands = []
        if k > 0:
            cands.append(("in", groups[k - 1] + groups[k]))
        if k + 1 < len(groups):
            cands.append(("out", groups[k] + groups[k + 1]))
        if not cands:
            break
        lda = {side: model.lda_star(g) for side, g in cands}
        pos = [(side, g) for side, g in cands if lda[side] > 0]
        if len(pos) == 2:
            side = max(pos, key=lambda c: _elda_star(model, c[1]))[0]
        elif pos:
            side = pos[0][0]
        else:
            side = "out" if k + 1 < len(groups) else "in"
        if side == "in":
            groups[k - 1:k + 1] = [groups[k - 1] + groups[k]]
            k -= 1
        else:
            groups[k:k + 2] = [groups[k] + groups[k + 1]]
    return k


def lmu(model: UploadModel, tail_s: float = 0.0) -> UploadResult:
    """Layer Merge Uploading (Algorithm 2): Principles 2, 3, 1 then 4.

    The result's ``partitions`` start with the size-0 units (time 0).
    ``model.extra['lmu']`` records the merged partitions (``groups``) and, per step of
    Principle 1, the group picked, the ELDA of every remaining group at that moment and
    the sub-partitions it was uploaded in (``trace``).
    """
    zero = [int(u) for u in model.zero_units]
    usable = list(zero)
    parts: list[list[int]] = [zero] if zero else []
    groups = merge_partitions(model)
    trace: list[dict] = []
    remaining = list(range(len(groups)))
    while remaining:
        cand = [groups[g] for g in remaining]
        rate, _ = _gain_rate(model, usable, cand)
        star = np.array([_elda_star(model, c) for c in cand])
        order = np.lexsort((np.array([c[0] for c in cand]), -star, -rate))
        pick = remaining[int(order[0])]
        subs = _sub_partitions(model, groups[pick], usable)
        trace.append({"group": pick, "rates": dict(zip(remaining, rate.tolist())),
                      "parts": subs})
        remaining.remove(pick)
        for sub in subs:
            parts.append(sub)
            usable += sub
    model.extra["lmu"] = {"groups": groups, "trace": trace}
    return model.evaluate(parts, tail_s)


def _sub_partitions(model: UploadModel, group: list[int], usable: list[int]):
    """Principle 4: contiguous proper sub-runs with LDA* > 0 first, then the rest."""
    rest = list(group)
    out = []
    while len(rest) > 1:
        cands = [rest[i:j] for i in range(len(rest)) for j in range(i + 1, len(rest) + 1)
                 if j - i < len(rest)]
        cands = [c for c in cands if model.lda_star(c) > 0]
        if not cands:
            break
        rate, _ = _gain_rate(model, usable + [u for p in out for u in p], cands)
        star = np.array([_elda_star(model, c) for c in cands])
        best = cands[int(np.lexsort((np.array([c[0] for c in cands]), -star, -rate))[0])]
        out.append(best)
        rest = [u for u in rest if u not in best]
    if rest:
        out.append(rest)
    return out

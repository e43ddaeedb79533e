"""The exact upload order of EosDNN's uploading plan (MODELS.md §2), by dynamic
programming over subsets of the weighted remote units.

Size-0 units go first at no cost (they take no upload time, and SD is non-increasing in
the uploaded set, so having them early never hurts). Then, with ``U`` the set of
weighted units already uploaded::

    f(all) = 0,    f(U) = min over l not in U of  SD(U) * t_l + f(U + {l})

f(empty) is the least SSD over all orders. Uploading units one at a time is optimal over
every partitioned plan too: splitting a partition into its units, in any order, never
raises SD during its upload. So every planner's SSD is >= f(empty) (a test checks it).

Both tables have 2**n entries (n weighted units): practical to about 22 units (about 2 s
and 70 MB). Beyond ``max_items`` no order is proven; the result is the best of the
heuristic planners with a valid lower bound, the *missing-items bound*: while the k-th
unit uploads, n - k + 1 units are missing, so SD >= s_{n-k+1}, where s_m is the least SD
over sets missing exactly m units (s_n = SD(size-0 units) and s_1, s_2 computed exactly;
s_m >= s_2 for m >= 2 since SD is monotone). The least possible sum of s-coefficients
times upload times pairs the largest coefficient with the shortest upload. The plans to
compare there are passed in (``incumbents``, e.g. the heuristic planners'; see
:func:`offloadlab.heuristics.upload_planners.best_upload`); without them, the
shortest-upload-first order of single units.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np
from numba import njit

from offloadlab.upload_model import UploadModel, UploadResult

MAX_ITEMS = 22


@dataclass(frozen=True, eq=False)
class ExactUpload:
    """The exact (or best known) upload plan with its proven bound on the SSD."""

    result: UploadResult
    bound: float
    status: str           # "optimal" | "feasible"
    bound_source: str     # "subset DP" | "missing-items bound"
    wall_s: float

    @property
    def gap(self) -> float:
        """(SSD - bound) / bound; 0 when optimal."""
        if self.status == "optimal":
            return 0.0
        return (self.result.ssd - self.bound) / self.bound if self.bound > 0 else 0.0


@njit(cache=True, nogil=True)
def _subset_dp(sd, t):
    """f over all masks (bit i = item i uploaded) and the best next item per mask."""
    n = len(t)
    full = (1 << n) - 1
    f = np.empty(1 << n)
    nxt = np.full(1 << n, -1, dtype=np.int8)
    f[full] = 0.0
    for mask in range(full - 1, -1, -1):
        best, arg = np.inf, -1
        for i in range(n):
            if not (mask >> i) & 1:
                v = sd[mask] * t[i] + f[mask | (1 << i)]
                if v < best:
                    best, arg = v, i
        f[mask] = best
        nxt[mask] = arg
    return f, nxt


def exact_upload(model: UploadModel, tail_s: float = 0.0, max_items: int = MAX_ITEMS,
                 incumbents: Callable[[], Iterable[UploadResult]] | None = None
                 ) -> ExactUpload:
    """The least-SSD upload order (or, beyond ``max_items``, a bound and the best of the
    plans ``incumbents()`` returns, called only then). ``tail_s`` adds the same
    SD(all) * tail_s to every plan."""
    started = time.perf_counter()
    items = [int(u) for u in model.items]
    zero = [int(u) for u in model.zero_units]
    head = [zero] if zero else []
    if len(items) > max_items:
        return _beyond(model, items, zero, tail_s, started, incumbents)
    t = model.upload_s[items].astype(float)
    sd = model.sd_subsets(items, base_usable=zero)
    f, nxt = _subset_dp(sd, t)
    order, mask = [], 0
    while len(order) < len(items):
        i = int(nxt[mask])
        order.append(items[i])
        mask |= 1 << i
    result = model.evaluate(head + [[u] for u in order], tail_s)
    optimum = float(f[0]) + float(sd[-1]) * tail_s
    if not np.isclose(result.ssd, optimum, rtol=1e-6, atol=1e-9):
        raise AssertionError(f"subset DP {optimum} != evaluated SSD {result.ssd}")
    return ExactUpload(result, optimum, "optimal", "subset DP",
                       time.perf_counter() - started)


def missing_items_bound(model: UploadModel, tail_s: float = 0.0) -> float:
    """A valid lower bound on the SSD of every upload plan (see the module docstring)."""
    items = [int(u) for u in model.items]
    zero = [int(u) for u in model.zero_units]
    n = len(items)
    if n == 0:
        return model.sd(zero) * tail_s
    full = zero + items
    s = {0: model.sd(full), n: model.sd(zero)}
    for m in (1, 2):
        if m < n:
            modes = np.stack([model.modes([u for u in full if u not in miss])
                              for miss in itertools.combinations(items, m)])
            s[m] = float(model.delay(modes).min())
    coef = np.array([s.get(n - k, s[min(n - k, 2)]) for k in range(n)])  # k-th upload
    coef = np.sort(coef)[::-1]
    t = np.sort(model.upload_s[items])
    return float(np.dot(coef, t) + s[0] * tail_s)


def _beyond(model, items, zero, tail_s, started, incumbents) -> ExactUpload:
    if incumbents is not None:
        plans = list(incumbents())
    else:
        head = [zero] if zero else []
        by_time = sorted(items, key=lambda u: model.upload_s[u])
        plans = [model.evaluate(head + [[u] for u in by_time], tail_s)]
    best = min(plans, key=lambda r: r.ssd)
    bound = missing_items_bound(model, tail_s)
    return ExactUpload(best, bound, "feasible", "missing-items bound",
                       time.perf_counter() - started)

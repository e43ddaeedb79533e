"""MODELS.md §0's claim: min over (assignment, priority) of the list-scheduling simulator
equals the optimum over all schedules, checked by brute force on tiny instances."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from offloadlab import Problem

import reference
from conftest import brute_force, library_problem, tiny_problem


def all_assignments(pb: Problem):
    return itertools.product(*[np.flatnonzero(pb.allowed[g]) for g in range(pb.n_layers)])


def slot_sequences(layers, pools):
    """Every way to put ``layers`` on ``pools`` identical slots, in order per slot."""
    for slots in itertools.product(range(pools), repeat=len(layers)):
        groups = [[x for x, k in zip(layers, slots) if k == j] for j in range(pools)]
        for perms in itertools.product(*[itertools.permutations(gr) for gr in groups]):
            yield perms


def semi_active_latency(pb: Problem, assign, sequences) -> float:
    """Earliest starts given precedence, transfer lags and per-slot sequences; inf when
    the sequences contradict precedence (a cycle)."""
    inst = pb.instance
    prev = {}
    for seq in sequences:
        for a, b in zip(seq, seq[1:]):
            prev[b] = a
    finish: dict[int, float] = {}
    visiting: set[int] = set()

    def fin(g):
        if g in finish:
            return finish[g]
        if g in visiting:
            raise RecursionError
        visiting.add(g)
        s = int(assign[g])
        task = inst.tasks[pb.layer_task[g]]
        dev = pb.server_names.index(task.device)
        ready = task.release_s
        if not len(pb.preds(g)):
            ready += 0.0 if dev == s else pb.input_mb[g] / reference.link(inst, dev, s,
                                                                          "mb_per_s")
        for q in pb.preds(g):
            lag = 0.0 if assign[q] == s else pb.out_mb[q] / reference.link(
                inst, int(assign[q]), s, "mb_per_s")
            ready = max(ready, fin(q) + lag)
        if g in prev:
            ready = max(ready, fin(prev[g]))
        finish[g] = ready + pb.gcycles[g] / inst.servers[s].ghz
        visiting.discard(g)
        return finish[g]

    try:
        ends = {}
        for g in range(pb.n_layers):
            if pb.is_sink[g]:
                t = pb.layer_task[g]
                ends[t] = max(ends.get(t, -math.inf), fin(g))
    except RecursionError:
        return math.inf
    return sum(e - inst.tasks[t].release_s for t, e in ends.items())


def schedule_minimum(pb: Problem) -> float:
    best = math.inf
    for assign in all_assignments(pb):
        per_server = [[g for g in range(pb.n_layers) if assign[g] == s]
                      for s in range(pb.n_servers)]
        choices = [list(slot_sequences(layers, int(pb.pools[s])))
                   for s, layers in enumerate(per_server)]
        for combo in itertools.product(*choices):
            seqs = [seq for per in combo for seq in per]
            best = min(best, semi_active_latency(pb, assign, seqs))
    return best


@pytest.mark.parametrize("make", [lambda: library_problem("latency-alexnet-tiny-s0"),
                                  lambda: library_problem("latency-vgg19-tiny-s0"),
                                  lambda: tiny_problem()],
                         ids=["alexnet-tiny", "vgg19-tiny", "hand-tiny-pools2"])
def test_simulator_minimum_is_the_schedule_optimum(make):
    pb = make()
    sim = brute_force(pb)
    assert sim == pytest.approx(schedule_minimum(pb), rel=1e-12)
    assert math.isfinite(sim)

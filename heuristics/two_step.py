"""Two-step migration for models with inception or residual blocks (EosDNN §V-A).

Step 1 (initial migration): the condensed chain. The *chain layers* are those on every
path from the model's input to its output; the other layers form blocks (an inception
module or a residual branch, between two consecutive chain layers). Each block is one
gene (all its layers on one server), each chain layer its own gene.

Step 2 (secondary migration): the chain layers are fixed to their step-1 servers (so the
block's input and output servers are fixed) and each branch of each block (a connected
group of the block's inner layers) becomes one gene, started from the step-1 plan.
Resolved: the evaluation (and time) budget is split ``split`` / ``1 - split`` between
the steps (default half each); a model without blocks has no step 2 and gets it all.
The simulator scores the whole plan in both steps (the paper's branch-maximum delay is
what the list scheduler computes for parallel branches).
"""

from __future__ import annotations

import numpy as np

from offloadlab.budget import Evaluator
from offloadlab.graph import branches, chain_and_blocks, task_graph
from offloadlab.problem import Problem

from .operators import Encoding


def _dense(keys: np.ndarray) -> np.ndarray:
    _, inv = np.unique(keys, return_inverse=True)
    return inv


def step_encodings(problem: Problem):
    """(step-1 gene map, step-2 gene map with -1 on chain layers), or None without blocks."""
    step1 = np.empty(problem.n_layers, dtype=np.int64)
    step2 = np.full(problem.n_layers, -1, dtype=np.int64)
    cache: dict[str, tuple] = {}
    any_block = False
    for t, layers in enumerate(problem.task_layers):
        model = problem.instance.tasks[t].model
        if model not in cache:
            graph = task_graph(problem, layers)
            is_chain, block = chain_and_blocks(graph)
            cache[model] = (is_chain, block, branches(graph, is_chain))
        is_chain, block, branch = cache[model]
        any_block |= bool((~is_chain).any())
        # step 1: a chain layer is its own gene; a block's layers share one
        step1[layers] = t * 2 * len(layers) + np.where(is_chain, np.arange(len(layers)),
                                                       len(layers) + block)
        step2[layers] = np.where(is_chain, -1, t * len(layers) + branch)
    if not any_block:
        return None
    step2[step2 >= 0] = _dense(step2[step2 >= 0])
    return _dense(step1), step2


def two_step_search(problem: Problem, evaluator: Evaluator, search, split: float = 0.5):
    """Run ``search(encoding, seeds)`` for step 1 then step 2 under one evaluator."""
    maps = step_encodings(problem)
    if maps is None:
        return search(Encoding.identity(problem))
    step1, step2 = maps
    old = evaluator.until(split)
    search(Encoding.from_groups(problem, step1))
    evaluator.restore(old)
    best = evaluator.best_assign
    if best is None or evaluator.done():
        return None
    enc2 = Encoding.from_groups(problem, step2, best)
    return search(enc2, enc2.encode(best[None, :]))

"""prePSO (EosDNN §VII baseline, after Lin et al. [30]): merge, then PSO-GA.

Merging rule. MODELS.md §1 (after the paper's §II) says: merge two adjacent layers
``u -> v`` when the out-degree of ``u`` and the in-degree of ``v`` differ by one. Read
literally, no chain layer ever merges (out 1, in 1: they differ by 0), so on AlexNet and
VGG19 prePSO would be PSO-GA itself, while the paper's Fig. 16 shows them apart and its
§II criticises this preprocessing for making partitions too coarse. Resolved: the
default ``merge="series"`` is the classic series reduction the garbled sentence most
plausibly describes: merge ``u -> v`` when ``u``'s out-degree and ``v``'s in-degree are
both one (a chain model becomes one gene per task; a DAG keeps its forks and joins and
merges the chains between them). ``merge="literal"`` keeps the literal rule
(``|out(u) - in(v)| == 1``, which merges residual forks and joins, not chains).

Degrees are those of the original model; a merge that would close a cycle through
another path is skipped; merged layers keep their own execution and transfers in the
simulator but share one server (one gene of PSO-GA).
"""

from __future__ import annotations

import networkx as nx
import numpy as np

from offloadlab.graph import task_graph
from offloadlab.problem import Problem

from .operators import Encoding


MERGES = ("series", "literal")


def mergeable(graph: nx.DiGraph, u, v, rule: str) -> bool:
    """Does the edge ``u -> v`` merge under ``rule`` (see the module docstring)?"""
    if rule == "series":
        return graph.out_degree(u) == 1 and graph.in_degree(v) == 1
    return abs(graph.out_degree(u) - graph.in_degree(v)) == 1


def merge_groups(graph: nx.DiGraph, rule: str = "series") -> np.ndarray:
    """Group id per node after the prePSO merges (ids dense, ordered by first node)."""
    if rule not in MERGES:
        raise ValueError(f"merge must be one of {MERGES}, got {rule!r}")
    quotient = graph.copy()
    group = {v: v for v in graph.nodes}
    for u, v in sorted(graph.edges):
        if not mergeable(graph, u, v, rule):
            continue
        a, b = group[u], group[v]
        if a == b:
            continue
        if quotient.has_edge(a, b):
            quotient.remove_edge(a, b)
        if nx.has_path(quotient, a, b):  # another path: contracting would close a cycle
            quotient.add_edge(a, b)
            continue
        quotient = nx.contracted_nodes(quotient, a, b, self_loops=False)
        for w, gr in group.items():
            if gr == b:
                group[w] = a
    ids = {}
    return np.array([ids.setdefault(group[v], len(ids)) for v in sorted(graph.nodes)])


def merged_encoding(problem: Problem, rule: str = "series") -> Encoding:
    """One gene per merged group of every task (groups computed once per model)."""
    per_model: dict[str, np.ndarray] = {}
    gene_of_layer = np.empty(problem.n_layers, dtype=np.int64)
    offset = 0
    for t, layers in enumerate(problem.task_layers):
        model = problem.instance.tasks[t].model
        if model not in per_model:
            per_model[model] = merge_groups(task_graph(problem, layers), rule)
        groups = per_model[model]
        gene_of_layer[layers] = groups + offset
        offset += int(groups.max()) + 1
    return Encoding.from_groups(problem, gene_of_layer)


def pre_pso(problem: Problem, *, seed=0, time_limit_s=None, budget_evals=None,
            merge="series", **params):
    """PSO-GA (same parameters, see :func:`.pso_ga.pso_ga`) on the merged graph;
    ``merge`` is the merging rule (``series`` or ``literal``, module docstring)."""
    from .pso_ga import pso_ga

    return pso_ga(problem, seed=seed, time_limit_s=time_limit_s, budget_evals=budget_evals,
                  encoding=merged_encoding(problem, merge), name="pre-pso", **params)

"""prePSO (EosDNN §VII baseline, after Lin et al. [30]): merge, then PSO-GA.

Merging rule (MODELS.md §1): two adjacent layers ``u -> v`` become one when the
out-degree of ``u`` and the in-degree of ``v`` differ by exactly one. Resolved: degrees
are those of the original model; a merge that would close a cycle through another path
is skipped; merged layers keep their own execution and transfers in the simulator but
share one server (one gene of PSO-GA). On a chain every out-degree and in-degree is one,
so nothing merges and prePSO is PSO-GA; residual blocks (a fork of out-degree 2 into a
branch of in-degree 1, a branch of out-degree 1 into a join of in-degree 2) merge whole.
"""

from __future__ import annotations

import networkx as nx
import numpy as np

from offloadlab.problem import Problem

from .operators import Encoding


def task_graph(problem: Problem, layers: np.ndarray) -> nx.DiGraph:
    """The DAG of one task's layers, nodes numbered from 0 in topological order."""
    base = int(layers[0])
    graph = nx.DiGraph()
    graph.add_nodes_from(range(len(layers)))
    for g in layers:
        for q in problem.preds(int(g)):
            graph.add_edge(int(q) - base, int(g) - base)
    return graph


def merge_groups(graph: nx.DiGraph) -> np.ndarray:
    """Group id per node after the prePSO merges (ids dense, ordered by first node)."""
    quotient = graph.copy()
    group = {v: v for v in graph.nodes}
    for u, v in sorted(graph.edges):
        if abs(graph.out_degree(u) - graph.in_degree(v)) != 1:
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


def merged_encoding(problem: Problem) -> Encoding:
    """One gene per merged group of every task (groups computed once per model)."""
    per_model: dict[str, np.ndarray] = {}
    gene_of_layer = np.empty(problem.n_layers, dtype=np.int64)
    offset = 0
    for t, layers in enumerate(problem.task_layers):
        model = problem.instance.tasks[t].model
        if model not in per_model:
            per_model[model] = merge_groups(task_graph(problem, layers))
        groups = per_model[model]
        gene_of_layer[layers] = groups + offset
        offset += int(groups.max()) + 1
    return Encoding.from_groups(problem, gene_of_layer)


def pre_pso(problem: Problem, *, seed=0, time_limit_s=None, budget_evals=None, **params):
    """PSO-GA (same parameters, see :func:`.pso_ga.pso_ga`) on the merged graph."""
    from .pso_ga import pso_ga

    return pso_ga(problem, seed=seed, time_limit_s=time_limit_s, budget_evals=budget_evals,
                  encoding=merged_encoding(problem), name="pre-pso", **params)

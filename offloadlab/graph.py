"""The layer graphs of a problem: one task's DAG, chain layers, blocks and branches.

A *chain layer* lies on every path from the model's input to its output; the layers
strictly between two consecutive chain layers form a *block* (an inception module, a
residual block), and the connected groups of a block's layers are its *branches*. The
two-step migration, prePSO's merging and the upload model all read a model this way.
"""

from __future__ import annotations

import networkx as nx
import numpy as np

from offloadlab.problem import Problem


def task_graph(problem: Problem, layers: np.ndarray) -> nx.DiGraph:
    """The DAG of one task's layers (or of a run of tasks' layers), nodes numbered from 0
    in topological order."""
    base = int(layers[0])
    graph = nx.DiGraph()
    graph.add_nodes_from(range(len(layers)))
    for g in layers:
        for q in problem.preds(int(g)):
            graph.add_edge(int(q) - base, int(g) - base)
    return graph


def is_chain(problem: Problem) -> bool:
    """True when every layer has at most one predecessor and one successor."""
    return bool((np.diff(problem.pred_ptr) <= 1).all()
                and all(len(s) <= 1 for s in problem.succs))


def chain_nodes(graph: nx.DiGraph) -> np.ndarray:
    """Per node (numbered in topological order): does it lie on every input-to-output
    path?

    With a virtual input feeding every source and a virtual output fed by every sink, a
    node lies on every path exactly when no edge jumps from before it to after it.
    """
    n = graph.number_of_nodes()
    out = np.zeros(n, dtype=bool)
    furthest = max(v for v in range(n) if graph.in_degree(v) == 0)  # the virtual input
    for v in range(n):
        out[v] = furthest <= v
        furthest = max(furthest, max(graph.successors(v), default=n))  # sinks: the output
    return out


def chain_and_blocks(graph: nx.DiGraph) -> tuple[np.ndarray, np.ndarray]:
    """Per node: is it a chain layer, and its block id (-1 for chain layers).

    An inner layer's block is its nearest chain dominator.
    """
    is_chain_node = chain_nodes(graph)
    source = min(v for v in graph.nodes if graph.in_degree(v) == 0)
    dom = nx.immediate_dominators(graph, source)
    block = np.full(len(is_chain_node), -1, dtype=np.int64)
    for v in np.flatnonzero(~is_chain_node):
        u = dom[int(v)]
        while not is_chain_node[u]:
            u = dom[u]
        block[v] = u
    return is_chain_node, block


def branches(graph: nx.DiGraph, is_chain_node: np.ndarray) -> np.ndarray:
    """Branch id per inner layer (connected groups of inner layers), -1 for chain."""
    inner = graph.subgraph([v for v in graph.nodes if not is_chain_node[v]]).to_undirected()
    out = np.full(graph.number_of_nodes(), -1, dtype=np.int64)
    for k, comp in enumerate(sorted(nx.connected_components(inner), key=min)):
        out[sorted(comp)] = k
    return out

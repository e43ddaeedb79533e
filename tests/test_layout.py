"""The package's layout, read from its source: no import cycle, and each folder imports
only what lies below it (the core nothing else, formulations no heuristics).

Imports are walked with ``ast`` (lazy imports inside functions count too), with the
folders mapped to subpackages as ``pyproject.toml`` maps them.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_DIRS = tomllib.loads((ROOT / "pyproject.toml").read_text())[
    "tool"]["setuptools"]["package-dir"]
HEAVY = ("torch", "pyomo", "pymoo", "dask", "matplotlib", "highspy", "ortools")


def _modules() -> dict[str, Path]:
    """Module name -> file, for every module of the distribution."""
    out = {}
    for package, folder in PACKAGE_DIRS.items():
        for path in sorted((ROOT / folder).glob("*.py")):
            name = package if path.stem == "__init__" else f"{package}.{path.stem}"
            out[name] = path
    return out


MODULES = _modules()


def _imported(name: str, path: Path) -> set[str]:
    """The package's modules that ``name`` imports (``from P import m`` counts as P.m
    when m is a module)."""
    package = name if path.stem == "__init__" else name.rpartition(".")[0]
    found = set()
    tree = ast.parse(path.read_text(), str(path))
    typing_only = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If)
                   and getattr(block.test, "id", None) == "TYPE_CHECKING"
                   for n in ast.walk(block)}  # annotations only: no import at run time
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parent = ".".join(parts[:len(parts) - node.level + 1])
                base = f"{parent}.{base}" if base else parent
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)
    return {m for m in found if m in MODULES and m != name}


GRAPH = nx.DiGraph((name, dep) for name, path in MODULES.items()
                   for dep in _imported(name, path))
GRAPH.add_nodes_from(MODULES)


def test_the_walk_sees_the_package():
    assert GRAPH.has_edge("offloadlab.heuristics.pso_ga", "offloadlab.heuristics.evolution")
    assert GRAPH.has_edge("offloadlab.formulations.makespan", "offloadlab.jobs")
    assert len(MODULES) > 60


def test_no_import_cycle():
    cycles = [c for c in nx.strongly_connected_components(GRAPH) if len(c) > 1]
    loops = [nx.find_cycle(GRAPH.subgraph(c)) for c in cycles]
    assert not cycles, "import cycles: " + "; ".join(
        " -> ".join([u for u, _ in loop] + [loop[0][0]]) for loop in loops)


def _folder(module: str) -> str:
    if module == "offloadlab.cli":  # the command line sits on top of every folder
        return "cli"
    parts = module.split(".")
    return parts[1] if len(parts) > 2 and ".".join(parts[:2]) in PACKAGE_DIRS else "core"


@pytest.mark.parametrize("folder,forbidden", [
    ("core", {"formulations", "heuristics", "learners", "instances", "benchmarks"}),
    ("formulations", {"heuristics", "learners", "benchmarks"}),
    ("heuristics", {"learners", "benchmarks"}),
    ("instances", {"formulations", "heuristics", "learners", "benchmarks"}),
])
def test_folders_import_only_what_lies_below(folder, forbidden):
    wrong = sorted((a, b) for a, b in GRAPH.edges
                   if _folder(a) == folder and _folder(b) in forbidden)
    assert not wrong, wrong


def test_import_offloadlab_stays_light():
    code = ("import sys, offloadlab; "
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True)
    assert out.stdout.strip() == "[]"

"""The README's Python API example runs as written."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_a_python_example():
    assert python_blocks(), "the README lost its Python API example"


def test_readme_python_blocks_run(capsys):
    for code in python_blocks():
        scope: dict = {}
        exec(compile(code, str(README), "exec"), scope)  # noqa: S102 - our own README
        ev, sol = scope["ev"], scope["sol"]
        assert sol.solver == "pso-ga" and sol.evaluations <= 2000
        assert ev.objective.shape == (4,) and ev.objective[0] == sol.objective
    printed = capsys.readouterr().out
    assert "feasible" in printed

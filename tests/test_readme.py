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
    scopes = []
    for code in python_blocks():  # every block runs as written
        scope: dict = {}
        exec(compile(code, str(README), "exec"), scope)  # noqa: S102 - our own README
        scopes.append(scope)
    api = next(s for s in scopes if "ev" in s)  # the Python API example
    ev, sol = api["ev"], api["sol"]
    assert sol.solver == "pso-ga" and sol.evaluations <= 2000
    assert ev.objective.shape == (4,) and ev.objective[0] == sol.objective
    assert api["step"].status.shape == (256,) and (api["reward"] <= 0).all()
    printed = capsys.readouterr().out
    assert "feasible" in printed

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


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_readme_links_resolve():
    text = re.sub(r"```.*?```", "", README.read_text(), flags=re.S)  # headings, not comments
    anchors = {slug(h) for h in re.findall(r"^#+ (.+)$", text, flags=re.M)}
    for target in re.findall(r"\]\(#([^)]+)\)", text):
        assert target in anchors, f"README links to #{target}, which no heading has"
    for target in re.findall(r"\]\(((?:docs|benchmarks)/[^)#]+)\)", text):
        assert (README.parent / target).is_file(), f"README links to missing {target}"
    assert re.findall(r"\]\(docs/", text), "the README lost its links to docs/"

"""The README runs as written: its Python blocks run, its command lines name real
commands and options, its links resolve."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def python_blocks() -> list[str]:
    return ["\n".join(lines) + "\n" for lang, lines in fenced_blocks() if lang == "python"]


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


def fenced_blocks() -> list[tuple[str, list[str]]]:
    """(language, lines) of each fenced block of the README, in order."""
    blocks, lang, lines = [], None, []
    for line in README.read_text().splitlines():
        if line.startswith("```"):
            if lang is None:
                lang, lines = line[3:].strip(), []
            else:
                blocks.append((lang, lines))
                lang = None
        elif lang is not None:
            lines.append(line)
    return blocks


def command_lines() -> list[list[str]]:
    """Every ``offloadlab ...`` command of the README's bash blocks and ``$ offloadlab``
    line of its example sessions, as words (continuations joined, comments and the
    brackets of optional parts dropped)."""
    shown = []
    for lang, lines in fenced_blocks():
        if lang == "bash":
            shown += "\n".join(lines).replace("\\\n", " ").splitlines()
        elif lang == "":
            shown += [line[2:] for line in lines if line.startswith("$ ")]
    parts = [part.strip() for line in shown for part in line.split("&&")]
    return [shlex.split(p.replace("[", " ").replace("]", " "), comments=True)[1:]
            for p in parts if p.startswith("offloadlab ")]


def test_readme_command_lines_name_real_commands_and_options():
    # every subcommand and every --option the README shows exists (running them all
    # takes minutes: their behaviour is tested where each command is)
    import click

    from offloadlab.cli import main

    lines = command_lines()
    assert len(lines) > 40
    for words in lines:
        cmd, ctx, k = main, click.Context(main), 0
        while isinstance(cmd, click.Group) and k < len(words) and not words[k].startswith("-"):
            sub = cmd.get_command(ctx, words[k])
            if sub is None and cmd is not main and words[k].isupper():
                break   # a placeholder such as SUITE where a group takes one
            assert sub is not None, f"README: offloadlab {' '.join(words)}: no {words[k]!r}"
            cmd, ctx, k = sub, click.Context(sub, parent=ctx), k + 1
        known = {o for p in cmd.params for o in p.opts + p.secondary_opts} | {"--help", "-h"}
        for w in words[k:]:
            if w.startswith("--"):
                assert w.split("=")[0] in known, f"README: offloadlab {' '.join(words)}: {w}"


def test_readme_modules_exist():
    # every `python -m offloadlab.X` the README and docs/ name is a module of the package
    import importlib.util

    text = README.read_text() + "".join(
        p.read_text() for p in (README.parent / "docs").glob("*.md"))
    names = set(re.findall(r"python -m (offloadlab(?:\.\w+)*)", text))
    assert "offloadlab.benchmarks.dag_optima" in names
    for name in names:
        assert importlib.util.find_spec(name) is not None, f"no module {name}"

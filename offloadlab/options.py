"""Option types of the command line and the benchmark scripts: numbers above 0 (or at
least 0) and finite, seeds, lists of integers and output paths. Nothing of offloadlab is
imported here, so every command module may import it at module level (``offloadlab.cli``
imports the command modules)."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import click


def positive(kind, *, zero_ok: bool = False):
    """An argparse ``type`` for the benchmark scripts: a ``kind`` (int, float) above 0
    (or at least 0 with ``zero_ok``, e.g. a seed), else argparse's one-line usage
    error."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not (0 <= value if zero_ok else 0 < value) or value == math.inf:
            raise argparse.ArgumentTypeError(
                f"must be a number {'of 0 or more' if zero_ok else 'above 0'}, got {text!r}")
        return value

    parse.__name__ = f"positive {kind.__name__}"
    return parse


class FiniteFloat(click.FloatRange):
    """A click float above 0 (at least 0 with ``zero_ok``) and finite: click's
    ``FloatRange`` lets ``nan`` and ``inf`` through, which no time or gap means."""

    def __init__(self, zero_ok: bool = False):
        super().__init__(0, min_open=not zero_ok)

    def convert(self, value, param, ctx):
        got = super().convert(value, param, ctx)
        if not math.isfinite(got):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return got


def out_folder(text: str) -> str:
    """An argparse ``type`` for an output folder: new or a folder, not a file."""
    if Path(text).exists() and not Path(text).is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a file, not a folder")
    return text


def out_file(text: str) -> str:
    """An argparse ``type`` for an output file: not a folder."""
    if Path(text).is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a folder, not a file")
    return text


def int_list(text: str, minimum: int = 0) -> list[int]:
    """``"0-4"`` (inclusive) or ``"3,5,8"`` as ints of at least ``minimum``; a
    ValueError saying what was expected otherwise."""
    try:
        if "-" in text.strip("-"):
            lo, hi = text.split("-")
            values = list(range(int(lo), int(hi) + 1))
        else:
            values = [int(x) for x in text.split(",")]
    except ValueError:
        values = []
    if not values or min(values) < minimum:
        raise ValueError(f"expected integers of at least {minimum}, as a list like 3,5,8 "
                         f"or a range like 0-4, got {text!r}")
    return values


def ints(minimum: int = 0):
    """:func:`int_list` as an argparse ``type`` (argparse's one-line usage error)."""

    def parse(text: str) -> list[int]:
        try:
            return int_list(text, minimum)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse


class IntList(click.ParamType):
    """:func:`int_list` as a click type (seeds: ``0-4`` or ``0,1``)."""

    name = "ints"

    def __init__(self, minimum: int = 0):
        self.minimum = minimum

    def convert(self, value, param, ctx):
        if isinstance(value, list):
            return value
        try:
            return int_list(value, self.minimum)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


POSITIVE = FiniteFloat()   # seconds, speeds: above 0
NON_NEGATIVE = FiniteFloat(zero_ok=True)
SEED = click.IntRange(0, 2 ** 32 - 1)   # numpy's generators refuse negative seeds

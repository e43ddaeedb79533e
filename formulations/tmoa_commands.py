"""``offloadlab tmoa``: the TMOA split point for several node counts (Table 1)."""

from __future__ import annotations

import click


def register(main: click.Group) -> None:
    main.add_command(tmoa)


def _nodes(text: str) -> list[int]:
    from offloadlab.cli import UserError

    try:
        nodes = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise UserError(f"--nodes {text!r}: expected comma-separated integers") from None
    bad = [n for n in nodes if not 1 <= n <= 30]
    if not nodes or bad:
        raise UserError(f"--nodes {text!r}: node counts must be in 1..30 (the preset pool)")
    return nodes


@click.command()
@click.option("--nodes", default="10,20,30", show_default=True,
              help="Comma-separated numbers of edge slave nodes.")
@click.option("--time-limit", "time_limit_s", type=float, default=60.0, show_default=True,
              help="HiGHS time limit per solve, seconds.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def tmoa(nodes, time_limit_s, as_json):
    """ResNet-34 edge/cloud split (TMOA): enumeration, one-hot MILP (HiGHS) and the
    Lagrangian dual (eq. 23), with the binding constraint. `optimum` is the minimal mean
    delay (s); `dual_bound` a proven lower bound on it."""
    from offloadlab.cli import check_budget_options, emit, table
    from offloadlab.formulations.tmoa import tmoa_row

    check_budget_options(time_limit_s=time_limit_s)
    rows = [tmoa_row(n, time_limit_s) for n in _nodes(nodes)]

    def render(o):
        table("TMOA split point of ResNet-34 (paper Table 1: 20 / 13 / 7 for 10 / 20 / 30)",
              ["nodes", "split e/m/l", "layer", "paper", "delay_s", "dual_bound_s",
               "KKT", "binding"],
              [[r["nodes"], f"{r['split_enumeration']}/{r['split_milp']}/"
                f"{r['split_lagrangian']}", r["layer"], r["paper_split"], r["optimum"],
                r["dual_bound"], r["kkt"], r["binding"]] for r in o["results"]])

    emit({"results": rows}, as_json, render)

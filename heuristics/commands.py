"""``offloadlab bench heuristics``: PSO-GA against its peers, one run each.

Same fitness (the simulator), same evaluation budget, one seed; objective and wall time
side by side, with the exact bound where one is proven (the registry's exact solvers,
else brute force on instances small enough), otherwise gaps "vs best known".
"""

from __future__ import annotations

import click

DEFAULT_INSTANCES = ("latency-alexnet-tiny-s0", "latency-vgg19-tiny-s0",
                     "latency-alexnet-small-s0", "latency-vgg19-small-s0",
                     "latency-googlenet-small-s0", "latency-vgg19-paper-s0")
METHODS = (("pso-ga", {}), ("pso-ga", {"search_order": False}), ("ga", {}),
           ("pymoo-ga", {}), ("pymoo-pso", {}), ("greedy", {}), ("heft", {}),
           ("peft", {}))


def register(main: click.Group) -> None:
    main.commands["bench"].add_command(heuristics)


@click.command()
@click.option("--instance", "instances", multiple=True,
              help="Library name or file (repeatable); default: tiny, small and "
                   "latency-vgg19-paper-s0.")
@click.option("--budget-evals", default=20001, show_default=True,
              help="Evaluations per metaheuristic run.")
@click.option("--seed", default=0, show_default=True)
@click.option("--exact-time-limit", default=60.0, show_default=True,
              help="Seconds for the exact bound on each instance.")
@click.option("--json", "as_json", is_flag=True)
def heuristics(instances, budget_evals, seed, exact_time_limit, as_json):
    """PSO-GA vs pymoo's GA and PSO, our GA, Greedy, HEFT, PEFT (same budget)."""
    from offloadlab.cli import UserError, emit, instance_path, table

    if budget_evals < 1 or seed < 0 or not 0 < exact_time_limit < float("inf"):
        raise UserError("--budget-evals must be >= 1, --seed >= 0 and "
                        "--exact-time-limit > 0")
    for name in instances:   # a file or a library name, else a clear error
        if instance_path(name).is_dir():
            raise UserError(f"--instance {name}: a directory, not an instance file")

    from .comparison import compare

    rows = []
    for name in instances or DEFAULT_INSTANCES:
        rows += compare(name, METHODS, budget_evals=budget_evals, seed=seed,
                        exact_time_limit_s=exact_time_limit)

    def render(rs):
        table(f"heuristics, {budget_evals} evaluations, seed {seed}",
              ["instance", "method", "objective", "gap %", "gap to", "wall_s", "evals",
               "evals/s"],
              [[r["instance"], r["method"], r["objective"],
                None if r["gap"] is None else 100 * r["gap"], r["reference"], r["wall_s"],
                r["evaluations"], r["evals_per_s"]] for r in rs])

    emit(rows, as_json, render)

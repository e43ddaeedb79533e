"""``offloadlab bench ...``: the simulator's speed and the quick comparison of solvers."""

from __future__ import annotations

import time

import click
import numpy as np


def register(main: click.Group) -> None:
    main.add_command(bench)


@click.group()
def bench():
    """Benchmarks: `simulator` (plans per second) and `quick` (every solver, a few
    library instances)."""


def simulator_rate(instance: str = "latency-vgg19-paper-s0", population: int = 100,
                   seconds: float = 3.0, seed: int = 0) -> dict:
    """Plans per second of :func:`~offloadlab.simulator.simulate` on random populations.

    Each population has random assignments and a random precedence-respecting priority
    per plan; the compiled kernel is warmed up before timing.
    """
    from offloadlab import Problem, load_instance, simulate
    from offloadlab.heuristics.baselines import random_plans
    from offloadlab.instances.library import library_path

    problem = Problem.from_instance(load_instance(library_path(instance)))
    rng = np.random.default_rng(seed)
    pops = [(random_plans(problem, population, rng),
             problem.random_priority(rng, population)) for _ in range(8)]
    simulate(problem, *pops[0])  # compile / load the cached kernel
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for assign, priority in pops:
            simulate(problem, assign, priority)
            done += population
    elapsed = time.perf_counter() - started
    return {"instance": instance, "population": population, "plans": done,
            "layers_per_plan": problem.n_layers, "servers": problem.n_servers,
            "seconds": elapsed, "plans_per_s": done / elapsed}


@bench.command()
@click.option("--instance", default="latency-vgg19-paper-s0", show_default=True)
@click.option("--population", default=100, show_default=True)
@click.option("--seconds", default=3.0, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def simulator(instance, population, seconds, as_json):
    """Plans per second of the simulator (EosDNN paper scenario: 12 VGG19 tasks on
    4 devices, 5 edge and 5 cloud servers), one core."""
    from offloadlab.cli import emit

    out = simulator_rate(instance, population, seconds)
    emit(out, as_json, lambda o: click.echo(
        f"{o['plans_per_s']:,.0f} plans/s ({o['plans']} plans of {o['layers_per_plan']} "
        f"layers on {o['servers']} servers in {o['seconds']:.2f} s, populations of "
        f"{o['population']})"))


QUICK_INSTANCES = [
    "latency-alexnet-tiny-s0", "latency-alexnet-small-s0", "ddpqn-alexnet-tiny-s0",
    "dmro-workflows-small-s0", "deadline-vgg16-small-s0", "makespan-jobs-small-s0",
]


@bench.command()
@click.option("--time-limit", "time_limit_s", default=20.0, show_default=True,
              help="Seconds per solver run.")
@click.option("--json", "as_json", is_flag=True)
def quick(time_limit_s, as_json):
    """Solve a handful of library instances with every available solver; print a table
    of objective, bound and gap."""
    from rich.progress import Progress

    from offloadlab import Problem, load_instance
    from offloadlab.cli import emit, table
    from offloadlab.instances.library import library_path
    from offloadlab.registry import SOLVERS, available, solve

    jobs = []
    for name in QUICK_INSTANCES:
        problem = Problem.from_instance(load_instance(library_path(name)))
        for info in SOLVERS.values():
            if problem.instance.objective.kind in info.kinds and available(info.name):
                jobs.append((problem, info.name))
    rows = []
    with Progress(transient=True, disable=as_json) as bar:
        task = bar.add_task("solving", total=len(jobs))
        for problem, solver in jobs:
            bar.update(task, description=f"{problem.instance.name} {solver}")
            sol = solve(problem, solver, seed=0, time_limit_s=time_limit_s)
            rows.append(sol.to_dict())
            bar.advance(task)
    for r in rows:
        r.pop("history", None)
    emit(rows, as_json, lambda rs: table(
        "bench quick", ["instance", "solver", "status", "objective", "bound", "gap %",
                        "wall_s"],
        [[r["instance"], r["solver"], r["status"], r["objective"], r["bound"],
          None if r["gap"] is None else 100 * r["gap"], r["wall_s"]] for r in rs]))

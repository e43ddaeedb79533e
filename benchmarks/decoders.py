"""The metaheuristics' decoders measured on every family: the library's tiny and small
instances of each kind and generated DAGs (identical / related servers, with and
without data, one and several DAGs).

For each instance, GA and PSO-GA run at their default budget with each decoder
(``assign``, ``order``, ``hybrid``) and each seed; the table gives the mean objective
in % above the best plan any of them (or HEFT) found on that instance (by a share of
its absolute value), and HEFT's.

Run: ``python -m offloadlab.benchmarks.decoders [--seeds 0 1] [--quick]``; ``--optima
[--plans-dir DIR]``: GA and PSO-GA per seed on the 32 DAGs of ``dag_optima.json``;
``--fingerprints FILE``: whether a change alters GA's and PSO-GA's plans or evaluation
counts on the library instances (write FILE with one version, compare with another).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from offloadlab.cli import positive
from offloadlab.options import out_file, out_folder
from offloadlab.heuristics.evolution import DECODERS as CHOICES

DECODERS = ("assign", "order", "hybrid")
SOLVERS = ("ga", "pso-ga")
LIBRARY = ("latency-alexnet-tiny-s0", "latency-alexnet-small-s0", "latency-vgg19-small-s0",
           "latency-googlenet-small-s0", "deadline-vgg16-tiny-s0", "deadline-vgg16-small-s0",
           "ddpqn-alexnet-tiny-s0", "ddpqn-alexnet-small-s0", "dmro-workflows-tiny-s0",
           "dmro-workflows-small-s0", "makespan-jobs-tiny-s0", "makespan-jobs-small-s0")
DAGS = (dict(nodes=50, shape="layered", servers=4),
        dict(nodes=100, shape="random", servers=8),
        dict(nodes=50, shape="layered", servers=4, speeds="related"),
        dict(nodes=100, shape="random", servers=8, speeds="related"),
        dict(nodes=50, shape="layered", servers=4, data=True),
        dict(nodes=100, shape="random", servers=8, speeds="related", data=True),
        dict(nodes=30, shape="layered", servers=4, tasks=3, kind="latency"))


def problems(quick: bool):
    """(label, Problem) of every family (``quick``: one of each)."""
    from offloadlab.instance import load_instance
    from offloadlab.instances.generators import random_dag_instance
    from offloadlab.instances.library import library_path
    from offloadlab.problem import Problem

    lib = LIBRARY[::3] if quick else LIBRARY
    for name in lib:
        yield name, Problem.from_instance(load_instance(library_path(name)))
    for spec in DAGS[:2] if quick else DAGS:
        inst = random_dag_instance(seed=spec["servers"], **spec)
        yield inst.name, Problem.from_instance(inst)


def measure(seeds=(0,), quick=False) -> list[dict]:
    """One row per instance: HEFT and every (solver, decoder) mean objective, and the
    seconds each took."""
    from offloadlab.registry import get_solver

    rows = []
    for label, problem in problems(quick):
        row = {"instance": label, "heft": get_solver("heft")(problem).objective}
        for solver in SOLVERS:
            for dec in DECODERS:
                started = time.perf_counter()
                vals = [get_solver(solver)(problem, seed=s, decoder=dec).objective
                        for s in seeds]
                row[solver, dec] = float(np.mean(vals))
                row[solver, dec, "s"] = (time.perf_counter() - started) / len(seeds)
        rows.append(row)
        print(render([row], header=not rows[:-1]), flush=True)
    return rows


def render(rows: list[dict], header: bool = True) -> str:
    """Markdown rows: % above the row's best (HEFT included), and seconds per run."""
    cols = [(s, d) for s in SOLVERS for d in DECODERS]
    lines = []
    if header:
        lines.append("| instance | HEFT | " + " | ".join(f"{s} {d}" for s, d in cols) + " |")
        lines.append("|---" * (2 + len(cols)) + "|")
    for row in rows:
        best = min(v for k, v in row.items() if k != "instance" and not
                   (isinstance(k, tuple) and len(k) == 3))
        def pct(v):
            # above the best by a share of its size (ddpqn's objectives are negative)
            return "inf" if not np.isfinite(v) else f"{100 * (v - best) / abs(best):.2f}"
        cells = [pct(row["heft"])] + [f"{pct(row[c])} ({row[c + ('s',)]:.1f} s)"
                                      for c in cols]
        lines.append(f"| {row['instance']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def reference_bound(problem, upper: float) -> tuple[float, str]:
    """The exact portfolio's best bound (capacity, energetic, DP) within 5 s."""
    from offloadlab.formulations.bounds import best_bound

    return best_bound(problem, upper=upper, time_limit_s=5.0)


def at_bound(seeds=(0, 1), decoder: str = "auto") -> dict:
    """GA and PSO-GA (default parameters and budget, seed 0) on generated 50- and
    100-node DAGs (layered and random, generator seeds ``seeds``) on 2, 4, 8 and 16
    identical servers without data: how many reach the bound (proven optimal), how many
    are worse than HEFT, and the sum of the gaps to the bound."""
    from offloadlab.instances.generators import random_dag_instance
    from offloadlab.problem import Problem
    from offloadlab.registry import get_solver

    count: dict = {"instances": 0}

    def add(key, value):
        count[key] = count.get(key, 0) + value

    for nodes in (50, 100):
        for servers in (2, 4, 8, 16):
            for shape in ("layered", "random"):
                for seed in seeds:
                    problem = Problem.from_instance(random_dag_instance(
                        nodes=nodes, shape=shape, servers=servers, seed=seed))
                    got = {"heft": get_solver("heft")(problem).objective}
                    for solver in SOLVERS:
                        got[solver] = get_solver(solver)(problem, seed=0,
                                                         decoder=decoder).objective
                    lb, source = reference_bound(problem, min(got.values()))
                    count["instances"] += 1
                    line = f"{nodes} {servers:2d} {shape:7s} s{seed}: bound {lb:.3f} ({source})"
                    for solver, v in got.items():
                        line += f" {solver} {v / lb - 1:.2%}"
                        add((solver, "at bound"), int(v <= lb * (1 + 1e-6)))
                        add((solver, "worse than heft"), int(v > got["heft"] * (1 + 1e-9)))
                        add((solver, "gap sum %"), 100 * (v / lb - 1))
                    print(line, flush=True)
    print(count)
    return count


def optima(seeds=(0,), plans_dir: str | None = None) -> dict:
    """``dag_optima.measure`` per seed on the 32 stored DAGs (re-read each time). With
    ``plans_dir``, every plan better than the stored one (and than a plan already in the
    directory) is written to ``plans_dir/<instance>.json``."""
    import json
    from pathlib import Path

    from . import dag_optima

    out = {}
    for seed in seeds:
        got = dag_optima.measure(dag_optima.load(), seed)
        for plan in got.pop("plans"):
            if plans_dir is None:
                continue
            path = Path(plans_dir) / f"{plan['instance']}.json"
            if path.exists() and json.loads(path.read_text())["makespan_s"] <= plan[
                    "makespan_s"]:
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(plan) + "\n")
        out[seed] = got
        print(f"seed {seed}: {json.dumps(got)}", flush=True)
    return out


def fingerprints(seed: int = 0) -> dict:
    """``"<instance>/<solver>/<decoder>"`` -> [objective, evaluations, digest of the plan]
    of GA and PSO-GA (default budget, ``seed``) with every decoder on the 12 library
    instances: comparing two versions' files shows whether a change reaches them."""
    import hashlib

    from offloadlab.instance import load_instance
    from offloadlab.instances.library import library_path
    from offloadlab.problem import Problem
    from offloadlab.registry import get_solver

    out = {}
    for name in LIBRARY:
        problem = Problem.from_instance(load_instance(library_path(name)))
        for solver in SOLVERS:
            for decoder in DECODERS:
                sol = get_solver(solver)(problem, seed=seed, decoder=decoder)
                plan = (np.asarray(sol.assign, dtype=np.int64).tobytes()
                        + np.asarray(sol.priority, dtype=np.int64).tobytes())
                out[f"{name}/{solver}/{decoder}"] = [float(sol.objective),
                                                     int(sol.evaluations),
                                                     hashlib.sha1(plan).hexdigest()]
    return out


def compare_fingerprints(path: str) -> None:
    """Write :func:`fingerprints` to ``path``, or, when it exists, compare with it:
    prints how many of the runs are identical and exits 1 when any differs."""
    import json
    import sys
    from pathlib import Path

    file = Path(path)
    old = None
    try:   # checked before the runs: a bad path or file costs nothing
        if file.exists():
            old = json.loads(file.read_text())
            if not isinstance(old, dict):
                raise ValueError("not a JSON object")
        elif not file.parent.is_dir():
            raise ValueError(f"no directory {file.parent}")
    except (OSError, ValueError) as exc:
        print(f"--fingerprints {file}: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    got = fingerprints()
    if old is None:
        file.write_text(json.dumps(got, indent=0) + "\n")
        print(f"{len(got)} runs written to {file}", file=sys.stderr)
        return
    differ = sorted(k for k in got if old.get(k) != got[k])
    print(f"{len(got) - len(differ)} of {len(got)} identical to {file}"
          + "".join(f"\n  {k}: {old.get(k)} -> {got[k]}" for k in differ), file=sys.stderr)
    if differ:
        raise SystemExit(1)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=positive(int, zero_ok=True), nargs="+", default=[0])
    ap.add_argument("--quick", action="store_true", help="one instance per family")
    ap.add_argument("--at-bound", action="store_true",
                    help="generated identical-server DAGs: how many reach the bound")
    ap.add_argument("--decoder", default="auto", choices=CHOICES,
                    help="with --at-bound")
    ap.add_argument("--optima", action="store_true",
                    help="the 32 DAGs of dag_optima.json against their best known plans")
    ap.add_argument("--plans-dir", type=out_folder,
                    help="with --optima: write better plans there")
    ap.add_argument("--fingerprints", metavar="FILE", type=out_file,
                    help="GA and PSO-GA with every decoder on the library instances: "
                    "write their plans' fingerprints to FILE, or compare with it")
    args = ap.parse_args(argv)
    if args.fingerprints:
        compare_fingerprints(args.fingerprints)
    elif args.optima:
        optima(tuple(args.seeds), args.plans_dir)
    elif args.at_bound:
        at_bound(tuple(args.seeds), args.decoder)
    else:
        measure(tuple(args.seeds), args.quick)


if __name__ == "__main__":
    main()

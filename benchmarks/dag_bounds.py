"""``exact`` on random DAG instances: is the optimum proven where a bound is attained?

    python -m offloadlab.benchmarks.dag_bounds [--nodes 50,100] [--servers 2,4,8,16]
        [--seeds 3] [--time-limit 30] [--shape layered] [--json]

For each generated instance (identical servers, no data, ``makespan``) it prints the
critical-path, load and energetic bounds, the ``exact`` result and whether the best
bound was attained by the plan; a bound above the plan's simulated objective is reported
as an error (it would be a wrong bound).
"""

from __future__ import annotations

import argparse
import json
import sys

from offloadlab import Problem
from offloadlab.options import ints, positive
from offloadlab.formulations import bounds, exact
from offloadlab.instances.generators import random_dag_instance


def run(nodes: list[int], servers: list[int], seeds: int, time_limit_s: float,
        shape: str = "layered") -> list[dict]:
    rows = []
    for n in nodes:
        for m in servers:
            for seed in range(seeds):
                problem = Problem.from_instance(random_dag_instance(
                    nodes=n, servers=m, shape=shape, seed=seed))
                cp = bounds.critical_path_bound(problem)
                load = bounds.load_bound(problem)
                energetic = bounds.energetic_bound(problem)
                sol = exact.solve(problem, time_limit_s=time_limit_s)
                best = bounds.best_bound(problem)[0]   # rounded to the time grid
                rows.append({
                    "instance": problem.instance.name, "nodes": n, "servers": m,
                    "critical_path": cp, "load": load, "energetic": energetic,
                    "objective": sol.objective, "bound": sol.bound,
                    "bound_source": sol.bound_source, "status": sol.status,
                    "wall_s": sol.wall_s,
                    "attained": bool(sol.objective <= best * (1 + 1e-9)),
                    "wrong": bool(sol.bound > sol.objective * (1 + 1e-9))})
                print(f"{rows[-1]['instance']}: {sol.status} {sol.objective:.3f} bound "
                      f"{sol.bound:.3f} ({sol.bound_source}) {sol.wall_s:.1f} s",
                      file=sys.stderr)
    return rows


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=ints(2), default=[50, 100])
    ap.add_argument("--servers", type=ints(1), default=[2, 4, 8, 16])
    ap.add_argument("--seeds", type=positive(int), default=3)
    ap.add_argument("--time-limit", type=positive(float), default=30.0)
    ap.add_argument("--shape", default="layered", choices=["layered", "random"])
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    rows = run(args.nodes, args.servers, args.seeds, args.time_limit, args.shape)
    if args.json:
        print(json.dumps(rows, indent=1))
        return
    attained = [r for r in rows if r["attained"]]
    proven = [r for r in attained if r["status"] == "optimal"]
    print(f"{len(rows)} instances; bound attained on {len(attained)}, proven optimal on "
          f"{len(proven)} of those; proven overall "
          f"{sum(r['status'] == 'optimal' for r in rows)}; wrong bounds "
          f"{sum(r['wrong'] for r in rows)}")
    for r in rows:
        print(f"{r['instance']:28s} {r['status']:10s} obj {r['objective']:9.3f} bound "
              f"{r['bound']:9.3f} cp {r['critical_path']:8.3f} load {r['load']:8.3f} "
              f"energetic {r['energetic']:8.3f} {r['wall_s']:5.1f} s")


if __name__ == "__main__":
    main()

"""Write frozen_simulator.json: objectives of seeded random plans and the constructive
heuristics' plans on every library instance.

The committed file was written by the simulator and heuristics of commit 5553c81 (before
the incremental schedule); tests/test_schedule.py checks that they are kept. Run it again
(``python tests/data/freeze_simulator.py tests/data/frozen_simulator.json``) only when a
change of meaning is intended.
"""
import json, sys, time
import numpy as np
from offloadlab import Problem, load_instance, simulate
from offloadlab.instances.library import BUILDERS, library_path
from offloadlab.heuristics.baselines import random_plans, greedy_assign
from offloadlab.heuristics.list_scheduling import heuristic_plans

out = {}
for name in sorted(BUILDERS):
    pb = Problem.from_instance(load_instance(library_path(name)))
    rng = np.random.default_rng(7)
    assign = random_plans(pb, 24, rng)
    prio = pb.random_priority(rng, 24)
    ev = simulate(pb, assign, prio)
    ev0 = simulate(pb, assign[:8])
    rec = {"objective": [float(v).hex() for v in ev.objective],
           "status": ev.status.tolist(),
           "objective_default": [float(v).hex() for v in ev0.objective],
           "status_default": ev0.status.tolist()}
    t0 = time.perf_counter()
    for label, (a, order, used) in zip(("greedy", "peft", "heft"), heuristic_plans(pb)):
        rec[label] = None if a is None else a.tolist()
    for label, tiers in (("edge-only", (1,)), ("cloud-only", (2,))):
        a, _ = greedy_assign(pb, tiers)
        rec[label] = None if a is None else a.tolist()
    print(name, pb.n_layers, f"{time.perf_counter() - t0:.1f}s", file=sys.stderr, flush=True)
    out[name] = rec
json.dump(out, open(sys.argv[1], "w"), separators=(",", ":"))

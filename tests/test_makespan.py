"""Makespan family (ATSA): exact MILP = brute force, determinism per seed, memory limits,
and clear refusals of instances outside the family."""

import itertools

import numpy as np
import pytest

from offloadlab import Problem, parse_instance, simulate, solve
from offloadlab.jobs import makespan_jobs
from offloadlab.heuristics.fcfs import fcfs_assign
from offloadlab.instances import presets
from offloadlab.simulator import memory_use

pytest.importorskip("pyomo")
HEURISTICS = ("atsa", "aco", "pso")


def _brute_force(problem):
    n = problem.n_servers
    pop = np.array(list(itertools.product(range(n), repeat=problem.n_layers)))
    return float(simulate(problem, pop).objective.min())


def _jobs_instance(work, mem, ghz, cap, release=None, name="hand"):
    release = release or [0.0] * len(work)
    return parse_instance({
        "name": name,
        "servers": [{"name": f"n{j}", "tier": "edge", "ghz": g, "pools": 1, "memory_mb": c}
                    for j, (g, c) in enumerate(zip(ghz, cap))],
        "models": {f"m{i}": {"input_mb": 0.0, "layers": [
            {"name": "run", "gcycles": w, "out_mb": 0.0, "param_mb": m}]}
            for i, (w, m) in enumerate(zip(work, mem))},
        "tasks": [{"name": f"t{i}", "model": f"m{i}", "device": None, "release_s": r}
                  for i, r in enumerate(release)],
        "objective": {"kind": "makespan"}})


TINY = {
    "preset-5x2": presets.atsa(5, 2, seed=0),
    "preset-6x3": presets.atsa(6, 3, seed=3),
    "releases": _jobs_instance([4, 2, 3, 5, 1, 2], [1, 1, 1, 1, 1, 1], [1.0, 2.0],
                               [10, 10], release=[0, 0, 3, 3, 6, 9]),
    "memory-binds": _jobs_instance([5, 5, 5, 1, 1], [3, 3, 3, 1, 1], [1.0, 4.0], [9, 4]),
}


@pytest.mark.parametrize("name", list(TINY))
def test_milp_equals_brute_force(name):
    problem = Problem.from_instance(TINY[name])
    sol = solve(problem, "makespan-milp", time_limit_s=30)
    assert sol.status == "optimal"
    assert sol.objective == pytest.approx(_brute_force(problem), rel=1e-9)
    assert sol.bound == pytest.approx(sol.objective, rel=1e-6)


@pytest.mark.parametrize("name", list(TINY))
def test_heuristics_never_beat_the_optimum_and_respect_memory(name):
    problem = Problem.from_instance(TINY[name])
    best = _brute_force(problem)
    for solver in HEURISTICS + ("fcfs",):
        sol = solve(problem, solver, seed=0, budget_evals=200)
        assert sol.objective >= best - 1e-9
        if np.isfinite(sol.objective):
            held = memory_use(problem, sol.assign[None, :])[0]
            assert (held <= problem.memory_mb * (1 + 1e-9)).all()


@pytest.mark.parametrize("solver", HEURISTICS)
def test_deterministic_per_seed(solver):
    problem = Problem.from_instance(presets.atsa(30, 4, seed=1))
    a = solve(problem, solver, seed=7, budget_evals=300)
    b = solve(problem, solver, seed=7, budget_evals=300)
    assert np.array_equal(a.assign, b.assign) and a.objective == b.objective
    assert a.evaluations == b.evaluations <= 300


def test_memory_limits_respected_on_a_binding_instance():
    problem = Problem.from_instance(presets.atsa(40, 5, seed=2))
    for solver in HEURISTICS:  # FCFS may strand a task here (it ignores what comes next)
        sol = solve(problem, solver, seed=0, budget_evals=400)
        assert sol.status in ("feasible", "optimal"), (solver, sol.message)
        held = memory_use(problem, sol.assign[None, :])[0]
        assert (held <= problem.memory_mb * (1 + 1e-9)).all()
    # an unconstrained optimum would break memory: the limit really binds
    fast = np.argmax(problem.ghz)
    assert memory_use(problem, np.full((1, problem.n_layers), fast))[0, fast] \
        > problem.memory_mb[fast]


def test_atsa_beats_random_assignment_and_milp_bounds_everyone():
    problem = Problem.from_instance(presets.atsa(40, 5, seed=2))
    exact = solve(problem, "makespan-milp", time_limit_s=20)
    assert exact.bound is not None
    for solver in HEURISTICS + ("fcfs",):
        assert solve(problem, solver, seed=0, budget_evals=400).objective \
            >= exact.bound - 1e-9


def test_fcfs_takes_the_first_free_node():
    jobs = makespan_jobs(Problem.from_instance(
        _jobs_instance([4, 1, 1], [1, 1, 1], [1.0, 1.0], [10, 10])))
    assert fcfs_assign(jobs).tolist() == [0, 1, 1]


def test_refuses_instances_outside_the_family():
    with pytest.raises(ValueError, match="makespan"):
        makespan_jobs(Problem.from_instance(presets.eosdnn("alexnet", 1, n_clients=1)))
    inst = TINY["preset-5x2"].model_copy(update={"servers": [
        s.model_copy(update={"pools": 2}) for s in TINY["preset-5x2"].servers]})
    with pytest.raises(ValueError, match="pools"):
        makespan_jobs(Problem.from_instance(inst))

"""Exact formulations: MILP = DP (where exact) = brute force on tiny instances."""

from __future__ import annotations

import json

import numpy as np
import pytest

from offloadlab import Problem, load_instance
from offloadlab.instance import parse_instance
from offloadlab.instances.library import library_path
from offloadlab.simulator import simulate

from conftest import brute_force

pytest.importorskip("pyomo")
pytest.importorskip("highspy")

from offloadlab.formulations import dp, exact, milp  # noqa: E402

TINY = ["latency-alexnet-tiny-s0", "latency-vgg19-tiny-s0", "ddpqn-alexnet-tiny-s0",
        "dmro-workflows-tiny-s0", "deadline-vgg16-tiny-s0", "makespan-jobs-tiny-s0"]


def load(name: str) -> Problem:
    return Problem.from_instance(load_instance(library_path(name)))


@pytest.fixture(scope="module")
def brute():
    return {name: brute_force(load(name)) for name in TINY}


@pytest.mark.parametrize("name", TINY)
def test_milp_matches_brute_force(name, brute):
    problem = load(name)
    sol = milp.solve(problem, time_limit_s=30)
    assert sol.status == "optimal"
    assert sol.objective == pytest.approx(brute[name], rel=1e-6)
    assert sol.bound <= sol.objective + 1e-6 * max(1.0, abs(sol.objective))
    # the returned plan is what the simulator says
    again = simulate(problem, sol.assign, sol.priority).objective[0]
    assert again == pytest.approx(sol.objective, rel=1e-12)


@pytest.mark.parametrize("name", TINY)
def test_dp_is_a_bound_and_exact_when_it_says_so(name, brute):
    problem = load(name)
    sol = dp.solve(problem)
    assert sol.bound <= brute[name] + 1e-9 * max(1.0, abs(brute[name]))
    if sol.status == "optimal":
        assert sol.objective == pytest.approx(brute[name], rel=1e-9)


@pytest.mark.parametrize("name", TINY)
def test_exact_matches_brute_force(name, brute):
    sol = exact.solve(load(name), time_limit_s=30)
    assert sol.solver == "exact" and sol.status == "optimal"
    assert sol.objective == pytest.approx(brute[name], rel=1e-6)


def test_dp_exact_without_contention():
    """dmro ignores contention: the DP is the optimum on a 20-layer instance too."""
    problem = load("dmro-workflows-small-s0")
    a, b = dp.solve(problem), milp.solve(problem, time_limit_s=30)
    assert a.status == b.status == "optimal"
    assert a.objective == pytest.approx(b.objective, rel=1e-6)


def _with_deadline(name: str, deadline_s: float) -> Problem:
    data = json.loads(library_path(name).read_text())
    for task in data["tasks"]:
        task["deadline_s"] = deadline_s
    return Problem.from_instance(parse_instance(data))


def test_infeasible_deadline_is_reported_infeasible():
    problem = _with_deadline("deadline-vgg16-tiny-s0", 1e-4)
    for solve in (dp.solve, milp.solve, exact.solve):
        sol = solve(problem)
        assert sol.status == "infeasible"
        assert not np.isfinite(sol.objective)
        assert "deadline" in sol.message


def test_deadline_that_only_contention_breaks():
    """Deadlines between the contention-free latency and the contended one: the MILP
    must respect them (latency-alexnet-tiny has both tasks competing for one edge)."""
    data = json.loads(library_path("latency-alexnet-tiny-s0").read_text())
    for task in data["tasks"]:
        task["deadline_s"] = 0.16
    data["objective"] = {"kind": "deadline"}
    problem = Problem.from_instance(parse_instance(data))
    sol = milp.solve(problem, time_limit_s=30)
    best = brute_force(problem)
    if np.isfinite(best):
        assert sol.status == "optimal"
        assert sol.objective == pytest.approx(best, rel=1e-6)
        assert (simulate(problem, sol.assign, sol.priority).latency_s <= 0.16 + 1e-9).all()
    else:
        assert sol.status == "infeasible"


def test_time_limited_solve_returns_a_bound_below_its_objective():
    problem = load("latency-googlenet-small-s0")
    sol = milp.solve(problem, time_limit_s=2)
    assert sol.status in ("time_limit", "optimal")
    assert np.isfinite(sol.objective)
    assert sol.bound is not None and sol.bound <= sol.objective
    assert sol.bound >= dp.path_bound(problem).bound - 1e-12


def test_milp_objective_agrees_with_simulator_on_its_plan():
    problem = load("latency-alexnet-tiny-s0")
    m = milp.build_placement_milp(problem)
    res = milp.solve_highs(m, time_limit_s=30, warm_start=False)
    assert res.status == "optimal"
    assign, priority = milp.read_plan(m)
    sim = simulate(problem, assign, priority).objective[0]
    assert sim == pytest.approx(res.objective, rel=1e-6)


@pytest.mark.parametrize("name", ["latency-alexnet-tiny-s0", "ddpqn-alexnet-tiny-s0",
                                  "makespan-jobs-tiny-s0"])
def test_warm_start_satisfies_every_constraint(name):
    """The simulator's schedule of any plan is a feasible point of the model with the
    simulator's objective value (the MILP is a relaxation of list scheduling)."""
    import pyomo.environ as pyo

    problem = load(name)
    assign, priority, value = milp.incumbent(problem)
    m = milp.build_placement_milp(problem)
    milp.set_plan_values(m, assign, priority)
    for con in m.component_data_objects(pyo.Constraint, active=True):
        body = pyo.value(con.body)
        assert con.lower is None or body >= pyo.value(con.lower) - 1e-7, con.name
        assert con.upper is None or body <= pyo.value(con.upper) + 1e-7, con.name
    assert pyo.value(m.objective_expr) == pytest.approx(value, rel=1e-9)


def test_ddpqn_milp_refuses_dag():
    data = json.loads(library_path("ddpqn-alexnet-tiny-s0").read_text())
    model = next(iter(data["models"].values()))
    names = [layer["name"] for layer in model["layers"]]
    model["layers"][0]["next"] = names[1:3]
    model["layers"][1]["next"] = []
    model["layers"][2]["next"] = []
    problem = Problem.from_instance(parse_instance(data))
    with pytest.raises(milp.MilpError, match="chain"):
        milp.solve(problem)


def test_gap_command_json(tmp_path):
    from click.testing import CliRunner

    from offloadlab.cli import main

    path = library_path("latency-alexnet-tiny-s0")
    out = CliRunner().invoke(main, ["gap", str(path), "--solvers", "greedy,exact",
                                    "--time-limit", "20", "--json"])
    assert out.exit_code == 0, out.output
    res = json.loads(out.output)
    assert res["bound_proven"]
    rows = {r["solver"]: r for r in res["rows"]}
    assert rows["exact"]["gap_pct"] == pytest.approx(0.0, abs=1e-4)
    assert rows["greedy"]["gap_pct"] > 1.0
    lp = tmp_path / "m.lp"
    out = CliRunner().invoke(main, ["model", str(path), "--write-model", str(lp)])
    assert out.exit_code == 0, out.output
    assert "pool_order" in lp.read_text()

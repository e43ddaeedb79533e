"""The EosDNN uploading plan: query-delay model, exact order, planners, command."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from offloadlab.cli import main
from offloadlab.formulations.upload_dp import exact_upload, missing_items_bound
from offloadlab.upload_model import UploadError, UploadModel, ssd_from_steps
from offloadlab.heuristics.upload_planners import PLANNERS, best_upload, lmu, plan
from offloadlab.instance import parse_instance
from offloadlab.problem import Problem
from offloadlab.simulator import simulate

SERVERS = [{"name": "dev", "tier": "device", "ghz": 1.0, "pools": 64},
           {"name": "edge1", "tier": "edge", "ghz": 4.0, "pools": 64},
           {"name": "edge2", "tier": "edge", "ghz": 8.0, "pools": 64},
           {"name": "cloud", "tier": "cloud", "ghz": 40.0, "pools": 64}]
LINKS = [{"a": "device", "b": "edge", "mb_per_s": 10.0},
         {"a": "device", "b": "cloud", "mb_per_s": 1.0},
         {"a": "edge", "b": "edge", "mb_per_s": 10.0},
         {"a": "edge", "b": "cloud", "mb_per_s": 5.0}]


def make_problem(layers, input_mb=1.0, return_output=True) -> Problem:
    inst = parse_instance({
        "name": "upload-test", "servers": SERVERS, "links": LINKS,
        "models": {"m": {"input_mb": input_mb, "layers": layers}},
        "tasks": [{"name": "t1", "model": "m", "device": "dev"}],
        "objective": {"kind": "latency", "return_output": return_output}})
    return Problem.from_instance(inst)


@st.composite
def upload_models(draw, max_layers=7, skips=True):
    """A random chain (optionally with skip edges, i.e. blocks) and migration plan."""
    n = draw(st.integers(2, max_layers))
    layers = []
    for i in range(n):
        nxt = [f"l{i + 1}"] if i + 1 < n else []
        if skips and i + 2 < n and draw(st.booleans()) and draw(st.booleans()):
            nxt.append(f"l{i + 2}")
        weighted = draw(st.booleans()) or draw(st.booleans())
        layers.append({"name": f"l{i}", "gcycles": draw(st.floats(0.01, 3.0)),
                       "out_mb": draw(st.floats(0.01, 3.0)),
                       "param_mb": draw(st.floats(0.1, 30.0)) if weighted else 0.0,
                       "next": nxt})
    problem = make_problem(layers, input_mb=draw(st.floats(0.01, 3.0)))
    assign = np.array(draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)))
    return UploadModel.build(problem, assign, "t1")


# --- the SD model ---------------------------------------------------------------------


def test_table_ii_arithmetic():
    sd = [63, 55, 44, 40, 21]
    assert ssd_from_steps(sd, [13, 10, 6, 15]) == 2233.0
    assert ssd_from_steps(sd, [13, 10, 6, 15], tail_s=6) == 2359.0
    with pytest.raises(UploadError):
        ssd_from_steps(sd, [13, 10])


def test_sd_by_hand_on_a_three_layer_chain():
    # A = 1, 2, 1 s on the client; the middle layer on edge2 (8 GHz): C = 0.25 s,
    # B_in = 0.5 MB / 10 MB/s, B_out = 0.2 MB / 10 MB/s
    layers = [{"name": "a", "gcycles": 1.0, "out_mb": 0.5, "param_mb": 0.0, "next": ["b"]},
              {"name": "b", "gcycles": 2.0, "out_mb": 0.2, "param_mb": 5.0, "next": ["c"]},
              {"name": "c", "gcycles": 1.0, "out_mb": 0.1, "param_mb": 0.0, "next": []}]
    model = UploadModel.build(make_problem(layers), np.array([0, 2, 0]), "t1")
    assert model.n_units == 1 and model.upload_s[0] == pytest.approx(0.5)
    assert model.sd([]) == pytest.approx(4.0)
    assert model.sd([0]) == pytest.approx(1 + 0.05 + 0.25 + 0.02 + 1)
    assert model.lda_star([0]) == pytest.approx(2 - 0.25 - 0.05 - 0.02)
    res = model.evaluate([[0]], tail_s=2.0)
    assert res.ssd == pytest.approx(4.0 * 0.5 + 2.32 * 2.0)
    assert res.curve() == [[0.0, 4.0], [0.5, pytest.approx(2.32)]]
    assert res.largest_fraction == pytest.approx(1.0)


@pytest.mark.parametrize("skips", [False, True])
def test_all_remote_delay_is_the_simulators_latency(skips):
    rng = np.random.default_rng(3)
    n = 9
    layers = [{"name": f"l{i}", "gcycles": float(rng.uniform(0.1, 2)),
               "out_mb": float(rng.uniform(0.1, 2)), "param_mb": 1.0,
               "next": [f"l{j}" for j in (i + 1, i + 3) if j < n and (skips or j == i + 1)]}
              for i in range(n)]
    problem = make_problem(layers)
    assign = rng.integers(0, 4, n)
    model = UploadModel.build(problem, assign, "t1")
    forced = model.delay(model.modes(forced=range(model.n_units)))[0]
    assert forced == pytest.approx(simulate(problem, assign).latency_s[0, 0])
    assert (model.n_units < int((assign != 0).sum())) == (skips and model.n_units > 0)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(upload_models())
def test_sd_is_monotone_and_bounded_by_local(model):
    full = list(range(model.n_units))
    assert model.sd(full) <= model.sd([]) + 1e-12
    for u in full:
        rest = [v for v in full if v != u]
        assert model.sd(full) <= model.sd(rest) + 1e-12
        assert model.sd([u]) <= model.sd([]) + 1e-12


# --- the exact order and the planners -------------------------------------------------


def brute_force_ssd(model) -> float:
    zero = [[int(u) for u in model.zero_units]] if len(model.zero_units) else []
    return min(model.evaluate(zero + [[u] for u in order]).ssd
               for order in itertools.permutations(int(u) for u in model.items))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(upload_models(max_layers=6))
def test_exact_dp_equals_brute_force(model):
    ex = exact_upload(model)
    assert ex.status == "optimal"
    assert ex.result.ssd == pytest.approx(brute_force_ssd(model), rel=1e-9, abs=1e-12)
    assert missing_items_bound(model) <= ex.result.ssd * (1 + 1e-9) + 1e-12


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(upload_models())
def test_no_planner_beats_the_exact_optimum(model):
    best = exact_upload(model).result.ssd
    for name in PLANNERS:
        res = plan(model, name)
        assert res.ssd >= best * (1 - 1e-9) - 1e-12, name
        assert res.sd_s[-1] == pytest.approx(model.sd(range(model.n_units)))
        assert res.upload_s == pytest.approx(model.upload_s.sum())


def test_beyond_the_limit_gives_a_bound_and_the_best_heuristic():
    rng = np.random.default_rng(0)
    layers = [{"name": f"l{i}", "gcycles": float(rng.uniform(0.2, 2)),
               "out_mb": float(rng.uniform(0.05, 1)), "param_mb": float(rng.uniform(1, 9)),
               "next": [f"l{i + 1}"] if i < 7 else []} for i in range(8)]
    model = UploadModel.build(make_problem(layers), rng.integers(1, 4, 8), "t1")
    exact = exact_upload(model)
    capped = best_upload(model, max_items=4)
    assert capped.status == "feasible" and capped.bound_source == "missing-items bound"
    assert capped.bound <= exact.result.ssd * (1 + 1e-9)
    assert capped.result.ssd >= exact.result.ssd * (1 - 1e-9)
    assert capped.result.ssd == pytest.approx(min(plan(model, p).ssd for p in PLANNERS))


def test_non_uploading_is_one_partition():
    rng = np.random.default_rng(1)
    layers = [{"name": f"l{i}", "gcycles": 1.0, "out_mb": 0.1, "param_mb": float(i % 2),
               "next": [f"l{i + 1}"] if i < 4 else []} for i in range(5)]
    model = UploadModel.build(make_problem(layers), np.array([0, 1, 1, 3, 3]), "t1")
    res = plan(model, "non-uploading")
    assert len(res.partitions) == 1 and res.largest_fraction == pytest.approx(1.0)
    assert res.partition_names() == [["l1", "l2", "l3", "l4"]]
    assert len(plan(model, "lmu").partitions) > 1
    del rng


# --- LMU's principles -----------------------------------------------------------------


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(upload_models(max_layers=8))
def test_lmu_follows_principles_1_to_4(model):
    res = lmu(model)
    info = model.extra["lmu"]
    zero = set(int(u) for u in model.zero_units)
    parts = res.partitions
    # Principle 2: the size-0 units first, at no cost, and nowhere else
    if zero:
        assert set(parts[0]) == zero and res.part_s[0] == 0
        parts = parts[1:]
    assert not any(u in zero for p in parts for u in p)
    # Principle 3: merged partitions hold a unit with LDA* < 0 and end with LDA* >= 0
    # unless they cover their whole run of adjacent units
    groups = info["groups"]
    assert sorted(u for g in groups for u in g) == sorted(int(u) for u in model.items)
    runs = _runs_of(model)
    for g in groups:
        run = next(r for r in runs if g[0] in r)
        assert g == run[run.index(g[0]):run.index(g[0]) + len(g)]  # contiguous
        if len(g) > 1:
            assert min(model.lda_star([u]) for u in g) < 0
            assert model.lda_star(g) >= 0 or g == run
        elif model.lda_star(g) < 0:
            assert run == g
    # Principle 1: each step uploads a group of the highest current ELDA
    for step in info["trace"]:
        rates = step["rates"]
        assert rates[step["group"]] >= max(rates.values()) - 1e-9
    # Principle 4: a group's sub-partitions come first (LDA* > 0, proper), then the rest
    flat = [p for step in info["trace"] for p in step["parts"]]
    assert flat == parts
    for step in info["trace"]:
        g, subs = groups[step["group"]], step["parts"]
        assert sorted(u for s in subs for u in s) == sorted(g)
        for s in subs[:-1]:
            assert len(s) < len(g) and model.lda_star(s) > 0


def _runs_of(model):
    runs = []
    for u in model.items:
        if runs and not model.breaks[runs[-1][-1]:u].any():
            runs[-1].append(int(u))
        else:
            runs.append([int(u)])
    return runs


# --- the command line -----------------------------------------------------------------


@pytest.fixture
def files(tmp_path):
    layers = [{"name": f"l{i}", "gcycles": 1.0 + i, "out_mb": 0.3,
               "param_mb": [0.0, 2.0, 5.0, 0.0, 9.0][i],
               "next": [f"l{i + 1}"] if i < 4 else []} for i in range(5)]
    inst = make_problem(layers).instance
    path = tmp_path / "inst.json"
    path.write_text(inst.to_json())
    plan_path = tmp_path / "plan.json"
    servers = ["dev", "edge2", "edge2", "cloud", "cloud"]
    plan_path.write_text(json.dumps({"format": "offloadlab.plan/1", "assignment": {
        "t1": {f"l{i}": s for i, s in enumerate(servers)}}}))
    return path, plan_path, tmp_path


@pytest.mark.parametrize("planner", ["exact", "lmu", "ionn", "efficiency", "non-uploading"])
def test_upload_command_json(files, planner):
    path, plan_path, _ = files
    r = CliRunner().invoke(main, ["upload", str(path), "--plan", str(plan_path),
                                  "--planner", planner, "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert {"ssd", "partitions", "sd_curve", "upload_s"} <= set(out)
    assert sorted(n for p in out["partitions"] for n in p) == ["l1", "l2", "l3", "l4"]
    assert out["upload_s"] == pytest.approx(2 / 10 + 5 / 10 + 9 / 1)
    assert out["sd_curve"][0][0] == 0.0


def test_upload_command_without_plan_names_the_solver(files):
    path, _, _ = files
    r = CliRunner().invoke(main, ["upload", str(path), "--planner", "lmu", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["migration_plan"].startswith("solver:")


def test_upload_command_errors(files):
    path, plan_path, tmp = files
    r = CliRunner().invoke(main, ["upload", str(path), "--plan", str(plan_path),
                                  "--planner", "lmu", "--task", "nope"])
    assert r.exit_code == 2 and "unknown task 'nope'" in r.output
    bad = tmp / "bad.json"
    bad.write_text(json.dumps({"assignment": {"t1": {"l0": "dev", "zz": "edge1"}}}))
    r = CliRunner().invoke(main, ["upload", str(path), "--plan", str(bad),
                                  "--planner", "lmu"])
    assert r.exit_code == 2 and "zz" in r.output
    r = CliRunner().invoke(main, ["upload", str(path), "--planner", "greedy"])
    assert r.exit_code == 2


def test_fig12_rows_put_every_planner_at_or_above_the_exact_optimum():
    from offloadlab.benchmarks.eosdnn_fig12 import plan_rows

    rows = plan_rows("alexnet", "edge")
    assert {r["planner"] for r in rows} == {"non-uploading", "ionn", "efficiency", "lmu",
                                            "exact"}
    assert all(r["exact_status"] == "optimal" and r["gap_pct"] >= -1e-6 for r in rows)
    assert next(r for r in rows if r["planner"] == "exact")["gap_pct"] == pytest.approx(0)
    assert next(r for r in rows if r["planner"] == "non-uploading")["largest_fraction"] == 1.0

"""TMOA split point: enumeration = MILP = recovered Lagrangian split, weak duality, KKT,
the roofline profile, the binding constraint and the dormancy rule."""

import numpy as np
import pytest

from offloadlab.formulations.tmoa import (
    best_split, binding_families, build_tmoa, lagrangian, resnet34_profile,
    solve_enumeration, solve_lagrangian, solve_milp, uplink_s)
from offloadlab.heuristics.dormancy import simulate_uploads, use_cloud
from offloadlab.instances.tmoa_presets import tmoa_setting

pytest.importorskip("pyomo")


def test_resnet34_profile_counts():
    prof = resnet34_profile()
    assert prof.n_layers == 34
    assert prof.zt_gop[-1] == pytest.approx(3.66, rel=0.01)  # ~3.6 G MACs
    assert np.all(np.diff(prof.zt_gop) > 0) and np.all(np.diff(prof.dt_mb) > 0)
    assert prof.labels[7] == "3x3 conv, 064" and prof.labels[13] == "3x3 conv, 128"
    assert prof.labels[20] == "3x3 conv, 256" and prof.labels[34] == "fc, 1000"


SETTINGS = {
    "10 nodes": tmoa_setting(10),
    "20 nodes": tmoa_setting(20),
    "30 nodes": tmoa_setting(30),
    "tight latency": tmoa_setting(30, t_max_s=0.25),
    "heavy load": tmoa_setting(5, arrival_per_s=60.0),
}


@pytest.mark.parametrize("name", list(SETTINGS))
def test_three_solvers_agree(name):
    model = build_tmoa(SETTINGS[name])
    enum = solve_enumeration(model)
    milp = solve_milp(model, time_limit_s=30)
    dual = solve_lagrangian(model)
    assert enum.split is not None
    assert enum.split == milp.split == dual.split
    assert dual.delay_s == pytest.approx(enum.delay_s, rel=1e-12)
    # weak duality, and the subgradient reaches the LP (convex hull) bound
    assert dual.dual_bound_s <= enum.delay_s + 1e-12
    assert dual.dual_bound_s <= milp.detail["lp_bound_s"] + 1e-9
    assert dual.dual_bound_s == pytest.approx(milp.detail["lp_bound_s"], rel=1e-4)
    assert dual.duality_gap_s == pytest.approx(enum.delay_s - dual.dual_bound_s)


def test_enumeration_is_the_brute_force_minimum():
    model = build_tmoa(tmoa_setting(20))
    ok = model.feasible()
    j = solve_enumeration(model).split
    assert ok[j] and model.delay_s[j] == model.delay_s[ok].min()
    assert not ok[j + 1]  # the next deeper split breaks a constraint


def test_table1_trend_and_binding():
    splits = [solve_enumeration(build_tmoa(tmoa_setting(n))).split for n in (10, 20, 30)]
    assert splits[0] > splits[1] > splits[2]
    assert splits[1:] == [13, 7]
    assert binding_families(build_tmoa(tmoa_setting(20))) == ["memory"]
    assert "latency" in binding_families(build_tmoa(tmoa_setting(30, t_max_s=0.25)))


def test_kkt_holds_when_no_constraint_binds():
    model = build_tmoa(tmoa_setting(10, lambda0=10.0))  # memory never binds
    dual = solve_lagrangian(model)
    assert dual.split == best_split(model, ()) == 34
    assert dual.kkt and dual.duality_gap_s == pytest.approx(0.0, abs=1e-12)
    assert np.allclose(dual.multipliers, 0.0)


def test_kkt_fails_with_a_positive_gap_when_memory_binds():
    dual = solve_lagrangian(build_tmoa(tmoa_setting(20)))
    assert not dual.kkt and dual.duality_gap_s > 0
    assert not dual.kkt_detail["complementary_slackness"]


def test_lagrangian_is_a_lower_bound_on_feasible_splits():
    model = build_tmoa(tmoa_setting(30))
    rng = np.random.default_rng(0)
    ok = model.feasible()
    for _ in range(20):
        mu = rng.random(model.scaled.shape[0])
        assert (lagrangian(model, mu)[ok] <= model.delay_s[ok] + 1e-12).all()


def test_uplink_kde_close_to_mean_rate_for_narrow_samples():
    setting = tmoa_setting(10, uplink_samples_mb_per_s=(9.8, 10.0, 10.2, 9.9, 10.1))
    assert uplink_s(setting, 1.0) == pytest.approx(0.1, rel=0.01)
    wide = tmoa_setting(10, uplink_samples_mb_per_s=(5.0, 10.0, 15.0))
    assert uplink_s(wide, 1.0) > 0.1  # Jensen: E[1/v] > 1/E[v]


def test_unstable_queue_makes_a_split_infeasible():
    model = build_tmoa(tmoa_setting(10, arrival_per_s=400.0))
    assert not np.isfinite(model.delay_s[-1])
    j = solve_enumeration(model).split
    assert solve_milp(model).split == j == solve_lagrangian(model).split


def test_dormancy_rule_and_uploads():
    assert use_cloud(0.04, 0.05) and not use_cloud(0.06, 0.05)
    res = simulate_uploads(0.574, 0.191, n_slots=300, seed=1)
    again = simulate_uploads(0.574, 0.191, n_slots=300, seed=1)
    mb = res.mb_per_task
    assert mb == again.mb_per_task
    assert mb["cloud-edge + dormancy"] < mb["cloud-edge"] < mb["cloud only"]
    assert mb["cloud-edge + dormancy"] == pytest.approx(0.191 * (1 - res.dormant_fraction))

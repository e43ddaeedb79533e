"""TMOA: the edge/cloud split point of ResNet-34 (TMOA/ATSA paper §3; MODELS.md §5).

The first j of the network's N = 34 layers run on every edge slave node, layers j+1..N on
the cloud. For every split j the model computes

* memory (C1, eq. 10): ``g_i(j) = Dt_j - lambda0 * P_i`` with ``Dt_j = sum_{l<=j} (Par_l +
  Map_l)`` x 4 bytes, one constraint per node (the smallest node binds: P0 = min P_i);
* latency (C2): ``h_i(j) = T_qp,i + T_ec,i + T_te - T_max`` per node, with
  ``T_qp = Zt_j/F_i + a Zt_j / (F_i (F_i - a Zt_j))`` (execution plus the M/M/1 wait of
  eq. 12, arrival rate a per node), ``T_ec = Map_j / min(W_H, L_i)``, ``T_te`` = uplink of
  the input image (fixed mean rate, or the kernel-density estimate of eqs. 16-17);
* energy (C3, eqs. 18-20): ``y_i(j) = n_i (e_i Zt_j / F_i + omega_i Zt_j F_i) - E_i`` per node,
  n_i = a * period tasks per period;
* the delay to minimise: ``delay(j) = mean_i (T_qp,i + T_ec,i) + T_cp + T_te``,
  ``T_cp = (Zt_N - Zt_j) / F_c`` (eq. 14).

Resolved (MODELS.md §5 and choices of this module):

* P1 maximises f(j) = -delay(j); ties go to the deeper split (Fig. 6: delay falls with j).
* Layer numbering: the paper's 34 layers (conv1, the 32 block convolutions, fc). A split
  after layer j keeps every architecture layer up to it on the edge, pooling and projection
  shortcuts included; j = 0 sends the input image to the cloud (no edge work).
  Only Map_j crosses to the cloud, as in the paper (inside a residual block the cloud would
  also need the block input; the paper ignores it and so do we).
* Tasks are spread evenly over the nodes; the delay objective is the mean over nodes (each
  node serves the same number of tasks). A split whose queue is unstable (a Zt_j >= F_i) has
  infinite delay and is infeasible; the MILP fixes its one-hot variable to 0.
* The Lagrangian (eq. 23) is written for minimisation of the delay with the constraints
  divided by their budgets (lambda0 P_i, T_max, E_i), so every multiplier is in seconds per
  unit of relative violation; scaling changes no feasible set and no bound.

Three solvers that must agree: :func:`solve_enumeration` (the ground truth),
:func:`solve_milp` (Pyomo, one-hot split variable, HiGHS) and :func:`solve_lagrangian`
(projected subgradient on the dual of eq. 23, Polyak steps, exact primal recovery).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from offloadlab.instances.tmoa_presets import TmoaSetting, tmoa_setting

BYTES_PER_VALUE = 4
MIB = 2**20
FAMILIES = ("memory", "latency", "energy")


# --- the DNN's split profile ------------------------------------------------------------


@dataclass(frozen=True)
class SplitProfile:
    """Per split j = 0..N: cumulative work, edge memory and the tensor sent to the cloud.

    Attributes
    ----------
    names : list of str
        Layer that ends the edge part (``"input"`` for j = 0).
    labels : list of str
        Table 1 style description, e.g. ``"3x3 conv, 064"``.
    zt_gop : numpy.ndarray
        Zt_j, G-operations (multiply-accumulates) of the edge part (eq. 8).
    dt_mb : numpy.ndarray
        Dt_j, MiB of weights plus feature maps of the edge part (eq. 10).
    map_mb : numpy.ndarray
        MiB of the tensor sent to the cloud (the input image for j = 0).
    """

    names: list
    labels: list
    zt_gop: np.ndarray
    dt_mb: np.ndarray
    map_mb: np.ndarray

    @property
    def n_layers(self) -> int:
        return len(self.names) - 1

    @property
    def input_mb(self) -> float:
        return float(self.map_mb[0])


def resnet34_profile() -> SplitProfile:
    """The split profile of ResNet-34 at 224x224 from its roofline counts."""
    from offloadlab.instances.architectures import resnet34_net, resnet34_roofline

    specs = {s.name: s for s in resnet34_net().layers}
    image = 3 * 224 * 224
    names, labels = ["input"], ["input image"]
    zt, dt, maps = [0.0], [0.0], [image * BYTES_PER_VALUE / MIB]
    z_sum = d_sum = 0
    for row in resnet34_roofline():
        z_sum += row["z"]
        d_sum += row["par"] + row["map"]
        if row["paper_layer"] is None:
            continue
        spec = specs[row["name"]]
        kind = "fc" if spec.kind == "fc" else f"{spec.kernel}x{spec.kernel} conv"
        names.append(row["name"])
        labels.append(f"{kind}, {spec.out_shape[0]:03d}")
        zt.append(z_sum / 1e9)
        dt.append(d_sum * BYTES_PER_VALUE / MIB)
        maps.append(row["map"] * BYTES_PER_VALUE / MIB)
    return SplitProfile(names, labels, np.array(zt), np.array(dt), np.array(maps))


# --- the model: every term for every split ----------------------------------------------


@dataclass(frozen=True)
class TmoaModel:
    """The TMOA problem evaluated at every split.

    ``delay_s[j]`` is the objective; ``raw[family]`` the (x, J) constraint values in their
    units (MiB, s, J; feasible when <= 0); ``scaled`` stacks them divided by their budgets
    into one (3x, J) matrix with ``rows[k] = (family, node name)``.
    """

    setting: TmoaSetting
    profile: SplitProfile
    delay_s: np.ndarray
    raw: dict
    scaled: np.ndarray
    rows: list
    terms: dict = field(default_factory=dict)

    @property
    def n_splits(self) -> int:
        return len(self.delay_s)

    def feasible(self, families=FAMILIES) -> np.ndarray:
        """(J,) True where every constraint of ``families`` holds."""
        ok = np.isfinite(self.delay_s)
        for fam in families:
            ok &= (self.raw[fam] <= 1e-12).all(axis=0)
        return ok


def uplink_s(setting: TmoaSetting, input_mb: float) -> float:
    """T_te: the input over the terminal uplink (mean rate, or the KDE of eqs. 16-17).

    With rate samples, T_te = input_mb * E[1/v] under the Gaussian kernel density of the
    samples (bandwidth lambda = sigma (4 / 3l)^0.2), integrated on a grid restricted to
    v >= half the smallest sample (the density's tail near 0 would make E[1/v] diverge).
    """
    samples = setting.uplink_samples_mb_per_s
    if not samples:
        return input_mb / setting.uplink_mb_per_s
    v = np.asarray(samples, dtype=float)
    sigma = v.std(ddof=1) if len(v) > 1 else 0.0
    if sigma == 0.0:
        return input_mb / v.mean()
    lam = sigma * (4.0 / (3.0 * len(v))) ** 0.2
    grid = np.linspace(v.min() / 2, v.max() + 4 * lam, 4001)
    dens = np.exp(-(((grid[:, None] - v[None, :]) / lam) ** 2)).sum(axis=1)
    return input_mb * float(np.trapezoid(dens / grid, grid) / np.trapezoid(dens, grid))


def build_tmoa(setting: TmoaSetting | None = None,
               profile: SplitProfile | None = None) -> TmoaModel:
    """Evaluate delay and constraints C1-C3 of eq. 22 at every split."""
    setting = setting or tmoa_setting()
    profile = profile or resnet34_profile()
    zt = profile.zt_gop[None, :]
    f = np.array([n.gops for n in setting.nodes])[:, None]
    a = setting.arrival_per_node_s
    with np.errstate(divide="ignore", invalid="ignore"):
        load = a * zt
        wait = np.where(load < f, load / (f * (f - load)), np.inf)
    t_qp = zt / f + wait
    rate = np.minimum(setting.wan_mb_per_s,
                      np.array([n.throughput_mb_per_s for n in setting.nodes]))[:, None]
    t_ec = profile.map_mb[None, :] / rate
    t_te = uplink_s(setting, profile.input_mb)
    t_cp = (profile.zt_gop[-1] - profile.zt_gop) / setting.cloud_gops
    delay = (t_qp + t_ec).mean(axis=0) + t_cp + t_te
    mem_cap = setting.lambda0 * np.array([n.memory_mb for n in setting.nodes])[:, None]
    e_max = np.array([n.energy_max_j for n in setting.nodes])[:, None]
    static = np.array([n.static_w for n in setting.nodes])[:, None]
    omega = np.array([n.j_per_gop_ghz for n in setting.nodes])[:, None]
    n_tasks = a * setting.period_s
    energy = n_tasks * (static * zt / f + omega * zt * f)
    raw = {"memory": np.broadcast_to(profile.dt_mb[None, :], t_qp.shape) - mem_cap,
           "latency": t_qp + t_ec + t_te - setting.t_max_s,
           "energy": energy - e_max}
    budgets = {"memory": mem_cap, "latency": np.full_like(mem_cap, setting.t_max_s),
               "energy": e_max}
    scaled = np.vstack([raw[fam] / budgets[fam] for fam in FAMILIES])
    rows = [(fam, n.name) for fam in FAMILIES for n in setting.nodes]
    terms = {"t_qp_s": t_qp, "t_ec_s": t_ec, "t_te_s": t_te, "t_cp_s": t_cp,
             "energy_j": energy}
    return TmoaModel(setting, profile, delay, raw, scaled, rows, terms)


# --- solver 1: enumeration (the ground truth) -------------------------------------------


@dataclass(frozen=True)
class SplitResult:
    """A split found by one of the solvers."""

    method: str
    split: int | None
    delay_s: float
    bound_s: float | None = None
    status: str = "optimal"
    detail: dict = field(default_factory=dict)


def best_split(model: TmoaModel, families=FAMILIES) -> int | None:
    """The feasible split with the least delay, ties to the deeper split; None if none."""
    ok = model.feasible(families)
    if not ok.any():
        return None
    delay = np.where(ok, model.delay_s, np.inf)
    best = delay.min()
    ties = np.flatnonzero(ok & (delay <= best + 1e-12 * max(1.0, abs(best))))
    return int(ties.max())


def solve_enumeration(model: TmoaModel) -> SplitResult:
    """Enumerate every split: exact by construction."""
    j = best_split(model)
    if j is None:
        return SplitResult("enumeration", None, math.inf, status="infeasible")
    return SplitResult("enumeration", j, float(model.delay_s[j]), float(model.delay_s[j]))


def binding_families(model: TmoaModel) -> list[str]:
    """Constraint families whose removal would lower the optimal delay."""
    j = best_split(model)
    if j is None:
        return list(FAMILIES)
    out = []
    for fam in FAMILIES:
        k = best_split(model, [f for f in FAMILIES if f != fam])
        if k is not None and model.delay_s[k] < model.delay_s[j] - 1e-12:
            out.append(fam)
    return out


def binding_label(model: TmoaModel) -> str:
    """``"memory@board21"``-style label of the binding constraints (``"none"``)."""
    fams = binding_families(model)
    if not fams:
        return "none"
    j = best_split(model)
    parts = []
    for fam in fams:
        if j is None or j + 1 >= model.n_splits:
            parts.append(fam)
            continue
        # the node whose constraint of this family is tightest at the next deeper split
        node = int(np.argmax(model.raw[fam][:, min(j + 1, model.n_splits - 1)]))
        parts.append(f"{fam}@{model.setting.nodes[node].name}")
    return "+".join(parts)


# --- solver 2: Pyomo one-hot model solved by HiGHS ---------------------------------------


def build_pyomo(model: TmoaModel, relax: bool = False):
    """The TMOA model with a one-hot split variable x_j (a Pyomo ``ConcreteModel``).

    Sets, parameters, variables, objective, then C1-C3 of eq. 22 per node; splits with an
    infinite term (unstable queue) are fixed to 0.
    """
    import pyomo.environ as pe

    m = pe.ConcreteModel(name="tmoa")
    m.J = pe.RangeSet(0, model.n_splits - 1)
    m.K = pe.RangeSet(0, len(model.rows) - 1)
    finite = np.isfinite(model.delay_s) & np.isfinite(model.scaled).all(axis=0)
    m.x = pe.Var(m.J, domain=pe.UnitInterval if relax else pe.Binary)
    for j in m.J:
        if not finite[j]:
            m.x[j].fix(0)
    delay = {j: float(model.delay_s[j]) if finite[j] else 0.0 for j in m.J}
    raw = np.vstack([model.raw[fam] for fam in FAMILIES])
    m.delay = pe.Objective(expr=sum(delay[j] * m.x[j] for j in m.J), sense=pe.minimize)
    m.one_split = pe.Constraint(expr=sum(m.x[j] for j in m.J) == 1)

    def constraint_rule(m, k):
        return sum(float(raw[k, j]) * m.x[j] for j in m.J if finite[j]) <= 0.0

    m.c = pe.Constraint(m.K, rule=constraint_rule)  # rows: memory, latency, energy per node
    return m


def solve_milp(model: TmoaModel, time_limit_s: float | None = 60.0) -> SplitResult:
    """Solve the one-hot model with HiGHS; ties broken towards the deeper split by a
    second solve fixing the delay (kept exact: the delay is re-read from the model)."""
    import pyomo.environ as pe

    m = build_pyomo(model)
    if _highs_solve(m, time_limit_s).incumbent_objective is None:
        return SplitResult("milp", None, math.inf, status="infeasible")
    value = pe.value(m.delay)
    # prefer the deepest split among the optimal ones
    m.depth = pe.Objective(expr=-sum(j * m.x[j] for j in m.J), sense=pe.minimize)
    m.delay.deactivate()
    m.keep = pe.Constraint(expr=m.delay.expr <= value + 1e-9 * max(1.0, abs(value)))
    _highs_solve(m, time_limit_s)
    j = max(m.J, key=lambda k: m.x[k].value or 0.0)
    delay = float(model.delay_s[j])
    if abs(pe.value(m.delay.expr) - delay) > 1e-6 * max(1.0, delay):
        raise AssertionError(f"TMOA MILP delay {pe.value(m.delay.expr)} != evaluation {delay}")
    lp = build_pyomo(model, relax=True)
    _highs_solve(lp, time_limit_s)
    return SplitResult("milp", int(j), delay, delay,
                       detail={"lp_bound_s": float(pe.value(lp.delay))})


def _highs_solve(m, time_limit_s):
    """Solve ``m`` with HiGHS; load the values only when a solution exists."""
    from offloadlab.formulations.makespan import highs_solve

    res = highs_solve(m, time_limit_s, {"mip_rel_gap": 0.0})
    if res.incumbent_objective is not None:
        res.solution_loader.load_vars()
    return res


# --- solver 3: the Lagrangian dual of eq. 23 ----------------------------------------------


@dataclass(frozen=True)
class DualResult:
    """The Lagrangian dual maximised by projected subgradient.

    Attributes
    ----------
    dual_bound_s : float
        max over the visited multipliers of q(mu) = min_j L(j, mu): a lower bound on the
        optimal delay (weak duality).
    multipliers : numpy.ndarray
        mu at the best dual value, one per constraint row of the model.
    split : int or None
        The recovered primal split (exact: splits are examined in increasing order of
        L(j, mu) until L reaches the best feasible delay, since delay(j) >= L(j, mu) for
        every feasible j).
    delay_s : float
        Its delay.
    duality_gap_s : float
        delay_s - dual_bound_s.
    kkt : bool
        Whether (split, mu) satisfies the KKT conditions: primal and dual feasibility,
        complementary slackness and Lagrangian optimality of the split.
    kkt_detail : dict
        Each KKT condition separately, and the largest |mu_k c_k(j)|.
    candidates : int
        Splits examined by the recovery.
    iterations : int
    history : list of float
        q(mu) per iteration.
    """

    dual_bound_s: float
    multipliers: np.ndarray
    split: int | None
    delay_s: float
    duality_gap_s: float
    kkt: bool
    kkt_detail: dict
    candidates: int
    iterations: int
    history: list


def lagrangian(model: TmoaModel, mu: np.ndarray) -> np.ndarray:
    """L(j, mu) = delay(j) + sum_k mu_k c_k(j) for every split (inf where undefined)."""
    with np.errstate(invalid="ignore"):
        val = model.delay_s + mu @ np.where(np.isfinite(model.scaled), model.scaled, 0.0)
    return np.where(np.isfinite(model.delay_s), val, np.inf)


def solve_lagrangian(model: TmoaModel, iterations: int = 3000, theta: float = 1.0,
                     patience: int = 50, tol: float = 1e-9) -> DualResult:
    """Maximise the dual of eq. 23 by projected subgradient with Polyak steps.

    Step = theta (UB - q(mu)) / ||c(j*)||^2 along the constraint values at the Lagrangian
    minimiser j*, projected on mu >= 0; UB is the best feasible delay met so far (the
    largest finite delay before that); theta halves after ``patience`` iterations without
    a better dual value. Deterministic.
    """
    finite = np.isfinite(model.delay_s)
    if not finite.any():
        raise ValueError("TMOA: no split has a finite delay (every queue is unstable)")
    c = np.where(np.isfinite(model.scaled), model.scaled, 0.0)
    feasible = model.feasible()
    mu = np.zeros(c.shape[0])
    upper = float(model.delay_s[finite].max())
    best_q, best_mu, stall, history = -math.inf, mu.copy(), 0, []
    for _ in range(iterations):
        lag = lagrangian(model, mu)
        j = int(np.argmin(lag))
        q = float(lag[j])
        history.append(q)
        if feasible[j]:
            upper = min(upper, float(model.delay_s[j]))
        if q > best_q + tol:
            best_q, best_mu, stall = q, mu.copy(), 0
        else:
            stall += 1
            if stall >= patience:
                theta, stall = theta / 2, 0
        g = c[:, j]
        norm2 = float(g @ g)
        if norm2 == 0.0 or upper - q <= tol * max(1.0, abs(upper)) or theta < 1e-8:
            break
        mu = np.maximum(0.0, mu + theta * max(upper - q, tol) / norm2 * g)
    split, delay, examined = _recover(model, best_mu)
    detail = _kkt(model, split, best_mu, tol=1e-7)
    return DualResult(best_q, best_mu, split, delay, delay - best_q, all(detail[k] for k in (
        "primal_feasible", "dual_feasible", "complementary_slackness",
        "lagrangian_optimal")), detail, examined, len(history), history)


def _recover(model: TmoaModel, mu: np.ndarray) -> tuple[int | None, float, int]:
    """Scan splits by increasing L(j, mu); stop once L(j, mu) >= the best feasible delay."""
    lag = lagrangian(model, mu)
    feasible = model.feasible()
    order = sorted(range(model.n_splits), key=lambda j: (lag[j], -j))
    best, best_delay, examined = None, math.inf, 0
    for j in order:
        if not np.isfinite(lag[j]) or lag[j] > best_delay + 1e-12 * max(1.0, best_delay):
            break
        examined += 1
        d = float(model.delay_s[j])
        if feasible[j] and (d < best_delay - 1e-12 * max(1.0, d)
                            or (abs(d - best_delay) <= 1e-12 * max(1.0, d) and j > best)):
            best, best_delay = j, d
    return best, best_delay, examined


def _kkt(model: TmoaModel, j: int | None, mu: np.ndarray, tol: float) -> dict:
    if j is None:
        return {"primal_feasible": False, "dual_feasible": bool((mu >= 0).all()),
                "complementary_slackness": False, "lagrangian_optimal": False,
                "max_slackness_product": math.inf}
    c = model.scaled[:, j]
    lag = lagrangian(model, mu)
    product = float(np.max(np.abs(mu * c))) if len(mu) else 0.0
    return {"primal_feasible": bool((c <= tol).all()),
            "dual_feasible": bool((mu >= 0).all()),
            "complementary_slackness": product <= tol,
            "lagrangian_optimal": bool(lag[j] <= lag.min() + tol),
            "max_slackness_product": product}


# --- Table 1 ----------------------------------------------------------------------------

PAPER_TABLE1 = {10: 20, 20: 13, 30: 7}


def tmoa_row(n_nodes: int, time_limit_s: float | None = 60.0, **overrides) -> dict:
    """Solve the split for ``n_nodes`` with the three solvers; one Table 1 row."""
    model = build_tmoa(tmoa_setting(n_nodes, **overrides))
    enum = solve_enumeration(model)
    milp = solve_milp(model, time_limit_s)
    dual = solve_lagrangian(model)
    j = enum.split
    return {
        "nodes": n_nodes,
        "split_enumeration": enum.split,
        "split_milp": milp.split,
        "split_lagrangian": dual.split,
        "optimum": enum.delay_s if j is not None else None,
        "dual_bound": dual.dual_bound_s,
        "binding": binding_label(model),
        "layer": model.profile.labels[j] if j is not None else None,
        "paper_split": PAPER_TABLE1.get(n_nodes),
        "lp_bound": milp.detail.get("lp_bound_s"),
        "duality_gap": dual.duality_gap_s,
        "kkt": dual.kkt,
        "memory_used_mb": float(model.profile.dt_mb[j]) if j is not None else None,
        "min_memory_mb": min(n.memory_mb for n in model.setting.nodes),
        "unconstrained_split": best_split(model, ()),
    }

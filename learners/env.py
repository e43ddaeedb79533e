"""The placement environment every learner shares (Gymnasium), single and batched.

One episode places every layer of an instance, one per step, in the MDP order of DDPQN
§4.1: tasks in file order, each task's layers in topological order (the global layer
order of :class:`~offloadlab.problem.Problem`). ``order="priority"`` places them in the
instance's default priority instead (by release, depth in the DAG, task), which
interleaves the tasks as the exact models may; it is refused for the ``ddpqn`` score,
whose node balance counts placements in the MDP order. Each step is the core's incremental
schedule (:func:`offloadlab.schedule.place_batch`): the environment computes nothing
the simulator does not. Because every episode places the same layer at step ``k``, a batch
of episodes moves in lockstep and one compiled call serves all of them
(:class:`BatchPlacementEnv`); :class:`PlacementEnv` is the Gymnasium face of a batch of
one.

Actions
    ``Discrete(S)``: the server of the current layer. The allowed servers are in
    ``info["action_mask"]`` and ``action_masks()`` (sb3-contrib's MaskablePPO
    convention): those the instance allows (its own device, edge, cloud) whose links
    reach the layer's data, and, among those, the ones that neither overflow a server's
    memory nor make the task miss its deadline (unless every server does: then the
    episode goes on and its plan is infeasible). An action outside the mask is an error,
    never remapped.

Observation (float32, length ``8 S + 5 + K``, ``K`` = ``pad_layers``), times divided by
the instance's ``time_scale_s``, data by its ``data_scale_mb``, cycles by
``gcycles_scale``; clipped to ``[-OBS_MAX, OBS_MAX]``. With ``t0`` the task's current end
(its release, then the latest finish of its placed layers):

====================  ======  =========================================================
field                 size    meaning
====================  ======  =========================================================
mask                  S       1 where the server is allowed
source                S       1 on the servers holding the layer's input (DDPQN's
                              previous action; the task's device for a first layer)
end                   S       finish of the layer on each server minus ``t0`` (the
                              task's latency increment if it goes there)
wait                  S       its wait for a pool slot there (earliest free slot
                              relative to the time its data is ready)
transfer              S       transfer of its input to each server
exec                  S       its execution time on each server
share                 S       share of the layers placed so far on each server
cost                  S       the objective's increment if the layer goes there (the
                              core's step and the objective's increment, on a copy of
                              the state), divided by ``cost_scale``
data                  1       data between layers: MB the layer receives
elapsed               1       ``t0`` minus the task's release
cycles                K       Gcycles of this layer and the task's remaining ones, padded
                              with zeros (DDPQN's current and remaining cycles)
position              1       this layer's position in its task, 0..1
tasks_left            1       share of the tasks after this layer's (file order)
layers_left           1       share of all layers still to place
====================  ======  =========================================================

Values on forbidden servers are 0. The terminal observation is all zeros with an empty
mask.

Reward
    ``"objective"`` (default): minus the layer's increment of the instance's objective
    (``problem.objective.increment``), so that an episode's rewards sum to minus the
    simulator's objective of the plan built (:meth:`PlacementEnv.plan`), for every
    objective kind. ``"ddpqn"``: the paper's per-layer score, i.e. minus the layer's term
    of DDPQN's objective P1 with the instance's weights if it is a ``ddpqn`` instance,
    else the default weights.

Infeasible plans
    When no allowed server can keep a deadline or a memory limit, the layer still goes
    where the agent sends it; ``info["feasible"]`` turns false and the simulator's
    objective of the plan is infinite (the telescoping identity is about feasible plans).
"""

from __future__ import annotations

import gymnasium
import numpy as np
from gymnasium import spaces

from offloadlab.problem import Problem
from offloadlab.schedule import FEASIBLE, new_state, observe_servers, pack, place_batch

OBS_MAX = 1e3
N_SERVER_FIELDS = 8
N_SCALAR_FIELDS = 5


def as_problem(instance) -> Problem:
    """A Problem from a Problem, an Instance, a file path or a library name."""
    from pathlib import Path

    from offloadlab.instance import Instance, load_instance
    from offloadlab.instances.library import library_path

    if isinstance(instance, Problem):
        return instance
    if isinstance(instance, Instance):
        return Problem.from_instance(instance)
    path = Path(instance)
    if not path.exists():
        path = library_path(str(instance))
    return Problem.from_instance(load_instance(path))


def obs_size(n_servers: int, pad_layers: int) -> int:
    return N_SERVER_FIELDS * n_servers + N_SCALAR_FIELDS + pad_layers


class BatchPlacementEnv:
    """``batch`` placement episodes of one instance stepped together (lockstep).

    ``reset()`` returns ``(obs (B, D), info)``; ``step(actions (B,))`` returns ``(obs,
    reward (B,), done (B,), info)`` with ``info["action_mask"]`` (B, S) and
    ``info["feasible"]`` (B,). All episodes end together after ``L`` steps; call
    ``reset()`` then. Semantics as :class:`PlacementEnv`.
    """

    def __init__(self, instance, batch: int = 1, *, reward: str = "objective",
                 pad_layers: int | None = None, order: str = "mdp"):
        if reward not in ("objective", "ddpqn"):
            raise ValueError(f"reward must be 'objective' or 'ddpqn', not {reward!r}")
        if order not in ("mdp", "priority"):
            raise ValueError(f"order must be 'mdp' or 'priority', not {order!r}")
        self.problem = p = as_problem(instance)
        if order == "priority" and (reward == "ddpqn" or p.instance.objective.kind == "ddpqn"):
            raise ValueError("the ddpqn score counts node balance in the MDP order: use "
                             "order='mdp'")
        self.order_kind = order
        self._order = (np.arange(p.n_layers, dtype=np.int64) if order == "mdp"
                       else np.asarray(p.default_priority, dtype=np.int64))
        self.batch = int(batch)
        self.reward_kind = reward
        longest = max(len(t) for t in p.task_layers)
        self.pad_layers = longest if pad_layers is None else int(pad_layers)
        if self.pad_layers < longest:
            raise ValueError(f"pad_layers={self.pad_layers} is shorter than the longest "
                             f"task of {p.instance.name!r} ({longest} layers)")
        self.n_servers = p.n_servers
        self.obs_dim = obs_size(p.n_servers, self.pad_layers)
        self.objective = self._objective(reward)
        self.time_scale_s, self.data_scale_mb, self.gcycles_scale = _scales(p)
        self._scales = np.array([self.time_scale_s])
        self._static = self._static_features()
        self._pk = pack(p)
        self.state = new_state(p, self.batch)
        self._look = new_state(p, self.batch * p.n_servers)  # one copy per candidate
        self.cost_scale = 1.0 if self.objective.kind == "ddpqn" else self.time_scale_s
        self.k = 0
        self._mask = np.zeros((self.batch, p.n_servers), dtype=bool)
        self._dyn = np.zeros((self.batch, N_SERVER_FIELDS, p.n_servers))

    # --- set-up ------------------------------------------------------------------------
    def _objective(self, reward: str):
        """The objective object whose increments are the rewards."""
        p = self.problem
        if reward == "objective" or p.instance.objective.kind == "ddpqn":
            return p.objective
        # the paper's score on another kind: DDPQN's objective (default weights) over the
        # same layers and servers; it reads only the step and the state's counts
        from offloadlab.instance import parse_instance

        data = p.instance.model_dump(by_alias=True, exclude_none=True)
        data["objective"] = {"kind": "ddpqn"}
        return Problem.from_instance(parse_instance(data)).objective

    def _static_features(self) -> np.ndarray:
        """(L, 5 + K) per-layer fields that do not depend on the plan (their slots for
        ``elapsed`` are filled at each step)."""
        p = self.problem
        out = np.zeros((p.n_layers, N_SCALAR_FIELDS + self.pad_layers))
        for t, layers in enumerate(p.task_layers):
            for k, g in enumerate(layers):
                preds = p.preds(g)
                data = p.input_mb[g] if len(preds) == 0 else p.out_mb[preds].sum()
                out[g, 0] = data / self.data_scale_mb
                rest = p.gcycles[layers[k:]] / self.gcycles_scale
                out[g, 2:2 + len(rest)] = rest
                out[g, 2 + self.pad_layers] = k / max(len(layers) - 1, 1)
                out[g, 3 + self.pad_layers] = (p.n_tasks - t - 1) / p.n_tasks
        return out

    def spec_dict(self) -> dict:
        """What a checkpoint must know to rebuild this environment's observation."""
        return {"observation": "placement/1", "n_servers": self.n_servers,
                "pad_layers": self.pad_layers, "obs_dim": self.obs_dim,
                "reward": self.reward_kind, "order": self.order_kind}

    # --- episodes ----------------------------------------------------------------------
    def reset(self, seed: int | None = None):
        self.state.reset(self.problem)
        self.k = 0
        return self._observe(), self._info()

    def step(self, actions):
        p = self.problem
        actions = np.asarray(actions, dtype=np.int64).reshape(self.batch)
        if self.k >= p.n_layers:
            raise RuntimeError("the episode is over: call reset()")
        g = int(self._order[self.k])
        ok = self._mask[np.arange(self.batch), np.clip(actions, 0, p.n_servers - 1)]
        ok &= (actions >= 0) & (actions < p.n_servers)
        if not ok.all():
            b = int(np.flatnonzero(~ok)[0])
            task, layer = p.layer_names[g]
            a = int(actions[b])
            name = p.server_names[a] if 0 <= a < p.n_servers else str(a)
            allowed = [p.server_names[s] for s in np.flatnonzero(self._mask[b])]
            raise ValueError(f"layer {layer!r} of task {task!r}: server {name!r} is not "
                             f"allowed (allowed: {', '.join(allowed)})")
        step = place_batch(p, self.state, np.full(self.batch, g), actions)
        reward = -self.objective.increment(self.state, step)
        self.k += 1
        obs = self._observe()
        done = np.full(self.batch, self.k == p.n_layers)
        return obs, reward, done, self._info()

    def _observe(self) -> np.ndarray:
        p = self.problem
        obs = np.zeros((self.batch, self.obs_dim), dtype=np.float32)
        if self.k >= p.n_layers:
            self._mask[:] = False
            return obs
        g = int(self._order[self.k])
        st = self.state
        observe_servers(self._pk, st.slot_free_s, st.finish_s, st.assign, st.task_end_s,
                        st.mem_mb, st.n_on, st.n_placed, g, self._scales, self._mask,
                        self._dyn)
        self._dyn[:, 7, :] = self._lookahead(g) / self.cost_scale
        n_dyn = N_SERVER_FIELDS * p.n_servers
        obs[:, :n_dyn] = self._dyn.reshape(self.batch, n_dyn)
        obs[:, n_dyn:] = self._static[g]
        t = p.layer_task[g]
        obs[:, n_dyn + 1] = (st.task_end_s[:, t] - p.release_s[t]) / self.time_scale_s
        obs[:, -1] = (p.n_layers - self.k) / p.n_layers
        np.clip(obs, -OBS_MAX, OBS_MAX, out=obs)
        return obs

    def _lookahead(self, g: int) -> np.ndarray:
        """(B, S) the objective's increment of layer ``g`` on each server (0 where it is
        not allowed): every episode's state copied once per server, one batched step."""
        n_s = self.n_servers
        for dst, src in zip(self._look._arrays(), self.state._arrays()):
            dst[...] = np.repeat(src, n_s, axis=0)
        servers = np.tile(np.arange(n_s), self.batch)
        step = place_batch(self.problem, self._look, np.full(len(servers), g), servers)
        cost = self.objective.increment(self._look, step).reshape(self.batch, n_s)
        return np.where(self._mask, cost, 0.0)

    def _info(self) -> dict:
        return {"action_mask": self._mask.copy(),
                "feasible": self.state.status == FEASIBLE}

    def action_masks(self) -> np.ndarray:
        """(B, S) allowed servers of the current layer."""
        return self._mask.copy()

    def random_actions(self, rng: np.random.Generator) -> np.ndarray:
        """One uniformly random allowed server per episode."""
        keys = rng.random(self._mask.shape) * self._mask
        return keys.argmax(axis=1)

    @property
    def order(self) -> np.ndarray:
        """The placement order, as a plan's priority list."""
        return self._order.copy()


def _scales(p: Problem) -> tuple[float, float, float]:
    """Instance-wide scales: median execution time plus the median data size over the
    median bandwidth (s); median data size (MB); median layer Gcycles."""
    exec_s = p.exec_s[p.allowed]
    data = np.concatenate([p.out_mb, p.input_mb[p.input_mb > 0]])
    data_mb = float(np.median(data[data > 0])) if (data > 0).any() else 1.0
    off = ~np.eye(p.n_servers, dtype=bool) & (p.bw > 0) & np.isfinite(p.bw)
    bw = float(np.median(p.bw[off])) if off.any() else np.inf
    time_scale = float(np.median(exec_s)) + data_mb / bw
    gc = p.gcycles[p.gcycles > 0]
    return (max(time_scale, 1e-12), max(data_mb, 1e-12),
            float(np.median(gc)) if len(gc) else 1.0)


class PlacementEnv(gymnasium.Env):
    """Place every layer of an instance, one per step (see the module docstring).

    Parameters
    ----------
    instance : Problem, Instance, path or library name
    reward : {"objective", "ddpqn"}
    pad_layers : int, optional
        Length of the ``cycles`` field (default: the instance's longest task); set it to
        train one network on several instances.
    order : {"mdp", "priority"}
        The placement order (module docstring).

    Examples
    --------
    >>> import gymnasium, offloadlab.learners
    >>> env = gymnasium.make("offloadlab/Placement-v0", instance="ddpqn-alexnet-tiny-s0")
    >>> obs, info = env.reset(seed=0)
    >>> int(info["action_mask"].sum())
    4
    """

    metadata = {"render_modes": []}

    def __init__(self, instance, reward: str = "objective", pad_layers=None,
                 order: str = "mdp"):
        self.core = BatchPlacementEnv(instance, 1, reward=reward, pad_layers=pad_layers,
                                      order=order)
        self.problem = self.core.problem
        self.action_space = spaces.Discrete(self.problem.n_servers)
        self.observation_space = spaces.Box(-OBS_MAX, OBS_MAX, (self.core.obs_dim,),
                                            dtype=np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        obs, info = self.core.reset()
        return obs[0], self._info1(info)

    def step(self, action):
        obs, reward, done, info = self.core.step([int(action)])
        return obs[0], float(reward[0]), bool(done[0]), False, self._info1(info)

    @staticmethod
    def _info1(info):
        return {"action_mask": info["action_mask"][0], "feasible": bool(info["feasible"][0])}

    def action_masks(self) -> np.ndarray:
        """(S,) bool: the servers the current layer may go to."""
        return self.core.action_masks()[0]

    def spec_dict(self) -> dict:
        return self.core.spec_dict()

    def clone(self) -> "PlacementEnv":
        """A fresh environment of the same instance and settings (its own episode)."""
        return PlacementEnv(self.problem, reward=self.core.reward_kind,
                            pad_layers=self.core.pad_layers, order=self.core.order_kind)

    @property
    def assign(self) -> np.ndarray:
        """Server per layer (-1 where not placed yet)."""
        return self.core.state.assign[0].copy()

    @property
    def order(self) -> np.ndarray:
        """The placement (MDP) order: the plan's priority list."""
        return self.core.order

    def plan(self) -> dict:
        """The plan built (``offloadlab.plan/1`` dict, placement order as priority)."""
        from offloadlab.plan import plan_to_dict

        if (self.assign < 0).any():
            raise RuntimeError("the episode is not finished: some layers are unplaced")
        return plan_to_dict(self.problem, self.assign, self.order)


from . import register_env  # noqa: E402  (importing the environment registers it)

register_env()

"""A3C and MTL-A3C (Mnih et al., 2016; MTL-A3C §5) on the slotted deadline environment.

Real asynchrony: ``workers`` processes (``torch.multiprocessing``, fork) each run
``n_envs`` :class:`~offloadlab.learners.slots.SlotEnv` episodes in lockstep with a local
copy of the network, compute ``t_max``-step advantage actor-critic gradients and apply
them, without locks (Hogwild), to one shared model with one shared RMSProp (its square
averages live in shared memory, :class:`SharedRMSprop`). A shared counter holds the
environment steps of all workers; training stops when it reaches the budget or the time
limit passes (in every worker: no child outlives its solver).

Networks (:class:`ActorCritic`): a trunk (MLP over the whole observation) gives a
context; an actor scores each server from that server's own fields (its mask, finish,
wait, transfer, execution, share, penalised cost and queue, :func:`.slots.server_features`)
and the context, with one small MLP shared by the servers (a softmax over the allowed
servers), so what it learns about one server holds for the others; a linear critic reads
the context.

* ``a3c``: one actor.
* ``mtl-a3c``: the shared trunk, ``M`` actor branches (one per block position in a task)
  and one critic. Soft parameter sharing: the loss adds ``share_l2 · Σ_b ||θ_b − mean
  θ||²`` over the branches' parameters, which pulls the branches towards each other
  without tying them.

Update: n-step returns (``t_max`` steps, bootstrapped by the critic), advantages
normalised over the segment's ``t_max × n_envs`` transitions, an entropy bonus, the
critic's squared error. With probability ε a block goes to a uniformly random allowed
server instead of a sample of the policy; such steps train the critic but not the actor
(their action is not the policy's). Rewards are divided by the environment's time scale.

The plan returned is the better (fewer missed deadlines, then less Σ delay + β·ψ) of
the greedy (arg-max) rollout of the best snapshot worker 0 evaluated (the final policy
included) and the best complete, deadline-keeping episode any worker played in training
(:class:`~offloadlab.learners.slots.BestEpisode`: each is a plan the core's step scored,
counted by the step budget). ``keep_episodes=False`` returns the policy's plan only.

Determinism: ``workers=1`` (the default) trains in the calling process and is
reproducible (same seed, same plan). With ``workers > 1`` the interleaving of the
Hogwild updates depends on the operating system's scheduling, so runs with the same seed
may differ; the seed still fixes every worker's own random streams.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, fields

import numpy as np

from offloadlab.budget import time_left

from .processes import join_or_terminate

DEFAULT_STEPS = 30_000
COST_FIELD = 7  # of a server's fields (.slots.server_features): the penalised cost
PAPER = {"lr": 0.01, "gamma": 0.95, "eps_start": 1.0, "eps_end": 0.01}


@dataclass
class A3CConfig:
    """Hyper-parameters (the paper's values unless marked chosen).

    Attributes
    ----------
    lr : float
        RMSProp learning rate, 0.01.
    gamma : float
        Discount, 0.95.
    eps_start, eps_end : float
        Chosen: 0 and 0, on-policy sampling (the paper: ε-greedy from 1 to 0.01,
        ``PAPER``; on a hard slot it left the policy 16 % above GA and no training
        episode feasible after 40,000 steps, where sampling the policy alone reached
        2 %).
    explore_fraction : float
        Chosen: share of the budget over which ε decays (0.5).
    t_max : int
        Chosen: steps per update (10).
    n_envs : int
        Chosen: episodes each worker plays in lockstep (8; one forward pass acts for all).
    hidden : tuple of int
        Chosen: trunk widths (64, 64).
    branch_hidden : int
        Chosen: hidden width of an actor (branch), 32.
    entropy : float
        Chosen: entropy bonus 0.01.
    value_coef : float
        Chosen: critic loss weight 0.5.
    share_l2 : float
        MTL-A3C: weight of the soft parameter sharing penalty (chosen 1e-3).
    rms_alpha, rms_eps : float
        RMSProp decay 0.99 and epsilon 0.1 (A3C's shared RMSProp).
    grad_clip : float
        Chosen: gradient norm clip 40.
    eval_every : int
        Worker 0's steps between greedy evaluations (chosen 2000).
    normalize_adv : bool
        Chosen: normalise advantages over each update's transitions.
    cost_prior : float
        Chosen 0 (off): a fixed term ``−cost_prior × cost`` added to each server's
        logit, which starts the policy near greedy; it slowed learning on hard slots.
    keep_episodes : bool
        Chosen: the plan may be the best training episode (module docstring).
    """

    lr: float = 0.01
    gamma: float = 0.95
    eps_start: float = 0.0
    eps_end: float = 0.0
    explore_fraction: float = 0.5
    t_max: int = 10
    n_envs: int = 8
    hidden: tuple = (64, 64)
    branch_hidden: int = 32
    entropy: float = 0.01
    value_coef: float = 0.5
    share_l2: float = 1e-3
    rms_alpha: float = 0.99
    rms_eps: float = 0.1
    grad_clip: float = 40.0
    eval_every: int = 2000
    normalize_adv: bool = True
    cost_prior: float = 0.0
    keep_episodes: bool = True

    def to_dict(self) -> dict:
        out = asdict(self)
        out["hidden"] = list(self.hidden)
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "A3CConfig":
        known = {f.name for f in fields(cls)}
        cfg = {k: v for k, v in data.items() if k in known}
        if "hidden" in cfg:
            cfg["hidden"] = tuple(int(h) for h in cfg["hidden"])
        return cls(**cfg)


def build_net(obs_dim: int, n_servers: int, base_dim: int, cfg: A3CConfig, branches: int):
    """The :class:`ActorCritic` of a SlotEnv's spaces; ``branches`` 0 = plain A3C."""
    import torch
    from torch import nn

    from .slots import server_features

    def scorer(width: int):
        return nn.Sequential(nn.Linear(width, cfg.branch_hidden), nn.ReLU(),
                             nn.Linear(cfg.branch_hidden, 1))

    class ActorCritic(nn.Module):
        """Trunk, per-server actor(s), critic (module docstring)."""

        def __init__(self):
            super().__init__()
            layers, width = [], obs_dim
            for h in cfg.hidden:
                layers += [nn.Linear(width, h), nn.ReLU()]
                width = h
            self.trunk = nn.Sequential(*layers)
            self.critic = nn.Linear(width, 1)
            self.n_branches = branches
            n_fields = 9 + width  # the server's fields and the context
            if branches:
                self.actors = nn.ModuleList(scorer(n_fields) for _ in range(branches))
            else:
                self.actor = scorer(n_fields)

        def forward(self, obs, block):
            """Logits (N, S) and values (N,) for observations (N, D) whose current block
            positions are ``block`` (an int for all rows, or (N,); ignored by plain
            A3C)."""
            z = self.trunk(obs)
            per_server = server_features(obs, n_servers, base_dim)
            x = torch.cat([per_server, z[:, None, :].expand(-1, n_servers, -1)], dim=2)
            if not self.n_branches:
                logits = self.actor(x).squeeze(-1)
            elif isinstance(block, int):
                logits = self.actors[min(block, self.n_branches - 1)](x).squeeze(-1)
            else:
                heads = torch.stack([a(x).squeeze(-1) for a in self.actors], dim=1)
                idx = block.clamp(max=self.n_branches - 1).view(-1, 1, 1)
                logits = heads.gather(1, idx.expand(-1, 1, n_servers)).squeeze(1)
            if cfg.cost_prior:  # a soft greedy start: cheaper servers score higher
                logits = logits - cfg.cost_prior * per_server[:, :, COST_FIELD]
            return logits, self.critic(z).squeeze(-1)

        def sharing_penalty(self):
            """Σ_b ||θ_b − mean θ||² over the actor branches (0 for plain A3C)."""
            if not self.n_branches:
                return torch.zeros(())
            total = torch.zeros(())
            for params in zip(*(a.parameters() for a in self.actors)):
                stack = torch.stack(params)
                total = total + ((stack - stack.mean(0)) ** 2).sum()
            return total

    return ActorCritic()


class SharedRMSprop:
    """RMSProp whose square averages are shared tensors (A3C's shared statistics)."""

    def __init__(self, params, lr: float, alpha: float, eps: float):
        import torch

        self.params = list(params)
        self.lr, self.alpha, self.eps = lr, alpha, eps
        self.square_avg = [torch.zeros_like(p.data).share_memory_() for p in self.params]

    def step(self, grads) -> None:
        """Apply ``grads`` (one tensor per parameter) in place, without a lock."""
        for p, g, sq in zip(self.params, grads, self.square_avg):
            sq.mul_(self.alpha).addcmul_(g, g, value=1 - self.alpha)
            p.data.addcdiv_(g, sq.sqrt().add_(self.eps), value=-self.lr)


def greedy_rollout(env, net):
    """One greedy (masked arg-max) episode of a SlotEnv with batch 1; returns ``(assign,
    order, return)``. ``net(obs, block)`` gives ``(scores, anything)``."""
    import torch

    from .networks import masked

    obs, info = env.reset()
    total = 0.0
    with torch.no_grad():
        while env.k < env.problem.n_layers:
            logits, _ = net(torch.as_tensor(obs), env.block)
            a = masked(logits, torch.as_tensor(info["action_mask"]))
            obs, reward, _, info = env.step(a.argmax(dim=1).numpy())
            total += float(reward[0])
    return env.state.assign[0].copy(), env.order, total


def _snapshot_key(env, ret: float) -> tuple:
    """Snapshots are ranked by whether their greedy plan misses a deadline, then by its
    penalised delay (a feasible plan beats any infeasible one)."""
    from offloadlab.schedule import FEASIBLE

    return (0 if env.state.status[0] == FEASIBLE else 1, -ret)


def _epsilon(cfg, done_share: float) -> float:
    return max(cfg.eps_end, cfg.eps_start - (cfg.eps_start - cfg.eps_end) * done_share)


def _returns(rewards, bootstrap, gamma: float):
    """(n, B) n-step returns of rewards (n, B) bootstrapped by ``bootstrap`` (B,)."""
    import torch

    out = torch.empty_like(rewards)
    ret = bootstrap
    for i in range(rewards.shape[0] - 1, -1, -1):
        ret = rewards[i] + gamma * ret
        out[i] = ret
    return out


class _Worker:
    """One asynchronous learner: ``n_envs`` lockstep episodes, t_max-step updates of the
    shared model. Worker 0 also evaluates the shared policy greedily."""

    def __init__(self, rank, shared, optimizer, counter, problem, cfg, steps, seed,
                 deadline):
        import copy

        import torch

        from .slots import BestEpisode, SlotEnv

        torch.set_num_threads(1)
        torch.manual_seed(seed + 1000 * rank)
        self.torch, self.rank, self.cfg = torch, rank, cfg
        self.shared, self.optimizer, self.counter = shared, optimizer, counter
        self.steps, self.deadline = steps, deadline
        self.rng = np.random.default_rng([seed, rank])
        self.env = SlotEnv(problem, cfg.n_envs)
        self.eval_env = SlotEnv(problem) if rank == 0 else None
        self.local = copy.deepcopy(shared)
        self.scale = 1.0 / self.env.time_scale_s
        self.explore = max(1, int(cfg.explore_fraction * steps))
        self.started = time.perf_counter()
        self.best_episode = BestEpisode()
        self.curve, self.episode_objs = [], []
        self.best, self.best_state = (math.inf, math.inf), None
        self.done_steps = 0

    def evaluate(self) -> None:
        """Greedy rollout of the shared policy; keep the snapshot when it is the best."""
        import copy

        _, _, ret = greedy_rollout(self.eval_env, self.shared)
        recent = float(np.mean(self.episode_objs)) if self.episode_objs else math.nan
        self.episode_objs = []
        self.curve.append((int(self.counter.value), time.perf_counter() - self.started,
                           -ret, recent))
        key = _snapshot_key(self.eval_env, ret)
        if key < self.best:
            self.best, self.best_state = key, copy.deepcopy(self.shared.state_dict())

    def run(self) -> dict:
        cfg, env, n_layers = self.cfg, self.env, self.env.problem.n_layers
        obs, info = env.reset()
        ep_return = np.zeros(cfg.n_envs)
        next_eval = 0
        while time.perf_counter() <= self.deadline:
            with self.counter.get_lock():
                start = self.counter.value
                n = min(cfg.t_max, n_layers - env.k, (self.steps - start) // cfg.n_envs)
                self.counter.value += max(n, 0) * cfg.n_envs
            if n <= 0:
                break
            obs, info = self._segment(obs, info, n, start, ep_return)
            self.done_steps += n * cfg.n_envs
            if env.k == n_layers:
                self.best_episode.update(env, ep_return)
                self.episode_objs.extend((-ep_return).tolist())
                ep_return[:] = 0.0
                obs, info = env.reset()
            if self.rank == 0 and self.done_steps >= next_eval:
                next_eval += cfg.eval_every
                self.evaluate()
        if self.rank == 0:
            self.evaluate()
        return {"curve": self.curve, "best": self.best, "best_state": self.best_state,
                "episode": (self.best_episode.key, self.best_episode.assign),
                "steps": self.done_steps}

    def _segment(self, obs, info, n: int, start: int, ep_return):
        """Play ``n`` steps of every episode with the shared policy, then apply one
        update computed in one batched pass; returns the next observation and info."""
        from .networks import masked

        torch, cfg, env, local = self.torch, self.cfg, self.env, self.local
        local.load_state_dict(self.shared.state_dict())
        seen, masks, blocks, actions, rewards, on_policy = [], [], [], [], [], []
        for i in range(n):
            # over steps only, never the clock: same seed, same episodes
            done_share = (start + i * cfg.n_envs) / self.explore
            mask = info["action_mask"]
            with torch.no_grad():
                logits, _ = local(torch.as_tensor(obs), env.block)
            action = _sample(logits.numpy(), mask, self.rng)
            explore = self.rng.random(cfg.n_envs) < _epsilon(cfg, done_share)
            if explore.any():
                action[explore] = env.random_actions(self.rng)[explore]
            seen.append(obs)
            masks.append(mask)
            blocks.append(np.full(cfg.n_envs, env.block))
            actions.append(action)
            on_policy.append(~explore)
            obs, reward, _, info = env.step(action)
            ep_return += reward
            rewards.append(reward * self.scale)
        with torch.no_grad():
            bootstrap = (torch.zeros(cfg.n_envs) if env.k == env.problem.n_layers
                         else local(torch.as_tensor(obs), env.block)[1])
        logits, values = local(torch.as_tensor(np.concatenate(seen)),
                               torch.as_tensor(np.concatenate(blocks)))
        logp_all = torch.log_softmax(
            masked(logits, torch.as_tensor(np.concatenate(masks))), dim=1)
        action_t = torch.as_tensor(np.concatenate(actions)).view(-1, 1)
        logp = logp_all.gather(1, action_t).squeeze(1)
        entropy = -(logp_all.exp() * logp_all).sum(dim=1)
        returns = _returns(torch.as_tensor(np.stack(rewards), dtype=torch.float32),
                           bootstrap, cfg.gamma).reshape(-1)
        adv = returns - values
        actor_adv = adv.detach()
        if cfg.normalize_adv and actor_adv.numel() > 1:
            actor_adv = (actor_adv - actor_adv.mean()) / (actor_adv.std() + 1e-8)
        on = torch.as_tensor(np.concatenate(on_policy), dtype=torch.float32)
        loss = (-(logp * actor_adv * on).mean() + cfg.value_coef * (adv ** 2).mean()
                - cfg.entropy * (entropy * on).mean()
                + cfg.share_l2 * local.sharing_penalty())
        local.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(local.parameters(), cfg.grad_clip)
        self.optimizer.step([p.grad if p.grad is not None else torch.zeros_like(p)
                             for p in local.parameters()])
        return obs, info


def _sample(logits: np.ndarray, mask: np.ndarray, rng) -> np.ndarray:
    """(B,) one allowed server per row, drawn from the masked softmax of ``logits``
    (bounded as :func:`.networks.masked` bounds them)."""
    from .networks import BOUND

    z = np.where(mask, np.clip(np.nan_to_num(logits, nan=-BOUND), -BOUND, BOUND), -np.inf)
    p = np.exp(z - z.max(axis=1, keepdims=True))
    cum = np.cumsum(p, axis=1)
    u = rng.random((len(p), 1)) * cum[:, -1:]  # below the total: an allowed server
    return (cum < u).sum(axis=1)


def _worker(rank, shared, optimizer, counter, problem, cfg, steps, seed, deadline, out):
    result = _Worker(rank, shared, optimizer, counter, problem, cfg, steps, seed,
                     deadline).run()
    if out is not None:  # plain arrays: tensors would travel as fds the child closes
        if result["best_state"] is not None:
            result["best_state"] = {k: v.numpy().copy()
                                    for k, v in result["best_state"].items()}
        out.put((rank, result))
    return result


def train(problem, cfg: A3CConfig, *, steps: int = DEFAULT_STEPS, seed: int = 0,
          workers: int = 1, branches: int = 0, time_limit_s: float | None = None):
    """Train (MTL-)A3C on a deadline problem with ``workers`` asynchronous learners.

    Returns ``(net, info)``: the best snapshot (worker 0's greedy evaluations) and a dict
    with ``curve`` ((steps, wall_s, greedy objective, mean objective of the episodes
    played since the last evaluation) rows, worker 0's), ``episode`` (the best training
    episode's ``(key, assign)``, any worker), ``steps`` (all workers), ``wall_s``,
    ``stopped_by_time``.
    """
    started = time.perf_counter()  # importing torch counts against the limit
    import torch.multiprocessing as mp

    from .dqn import setup_torch
    from .slots import SlotEnv

    torch = setup_torch(seed)
    env = SlotEnv(problem)
    shared = build_net(env.obs_dim, env.n_servers, env.base_dim, cfg, branches)
    shared.share_memory()
    optimizer = SharedRMSprop(shared.parameters(), cfg.lr, cfg.rms_alpha, cfg.rms_eps)
    deadline = math.inf if time_limit_s is None else started + time_limit_s
    ctx = mp.get_context("fork")
    counter = ctx.Value("q", 0)
    args = (shared, optimizer, counter, problem, cfg, steps, seed, deadline)
    if workers == 1:
        results = {0: _worker(0, *args, None)}
    else:
        out = ctx.Queue()
        procs = [ctx.Process(target=_worker, args=(rank, *args, out), daemon=True)
                 for rank in range(workers)]
        for p in procs:
            p.start()
        results = {}
        wait_s = None if time_limit_s is None else time_limit_s + 60.0
        try:
            for _ in procs:
                rank, res = out.get(timeout=wait_s)
                results[rank] = res
        finally:
            join_or_terminate(procs)
        if results[0]["best_state"] is not None:
            results[0]["best_state"] = {k: torch.as_tensor(v)
                                        for k, v in results[0]["best_state"].items()}
    result = results[0]
    if result["best_state"] is not None:
        shared.load_state_dict(result["best_state"])
    episode = min((r["episode"] for r in results.values()), key=lambda e: e[0])
    total = int(counter.value)
    return shared, {"curve": result["curve"], "episode": episode,
                    "steps": min(total, steps), "wall_s": time.perf_counter() - started,
                    "stopped_by_time": total + cfg.n_envs <= steps}


def net_from_checkpoint(data: dict):
    """The (untrained) ActorCritic a checkpoint's content describes (:mod:`.checkpoint`
    loads its weights)."""
    env = data["env"]
    return build_net(env["obs_dim"], env["n_servers"], env["base_dim"],
                     A3CConfig.from_dict(data["config"]),
                     int(data["extra"].get("branches", 0)))


def solve(problem, *, multitask: bool = False, seed=None, time_limit_s=None,
          budget_evals=None, workers: int = 1, checkpoint=None, **hyper):
    """Train A3C (or MTL-A3C) on ``problem`` and return its plan as a Solution.

    Parameters
    ----------
    problem : Problem
        A ``deadline`` instance.
    multitask : bool
        MTL-A3C (one actor branch per block position) instead of A3C.
    seed : int, optional
        Default 0.
    time_limit_s : float, optional
        Training stops in every worker when it is reached (status ``time_limit``).
    budget_evals : int, optional
        Environment steps of all workers together, plus one for the final scoring; default
        30,000 training steps. Workers take whole lockstep steps of ``n_envs`` episodes,
        so up to ``n_envs - 1`` steps of the budget may stay unused.
    workers : int
        Asynchronous worker processes; 1 (default) trains in this process and is
        deterministic, more are not (module docstring).
    checkpoint : str, optional
        A ``.pt`` file written by ``offloadlab train a3c|mtl-a3c``: no training, the
        greedy rollout of its policy.
    **hyper
        :class:`A3CConfig` fields.
    """
    from offloadlab.registry import make_solution

    from .slots import SlotEnv, best_plan, slot_report

    started = time.perf_counter()
    seed = 0 if seed is None else int(seed)
    name = "mtl-a3c" if multitask else "a3c"
    if checkpoint is not None:
        from .checkpoint import load_checkpoint

        env = SlotEnv(problem)
        net, meta = load_checkpoint(checkpoint, problem, learner=name,
                                    env_spec=env.spec_dict(), build=net_from_checkpoint)
        assign, order, _ = greedy_rollout(env, net)
        report = slot_report(problem, assign, order)
        return make_solution(problem, name, assign, order, started=started,
                             params={"checkpoint": str(checkpoint), **meta["config"]},
                             seed=seed, evaluations=0, message=_message(report, "policy"))
    if "hidden" in hyper:
        hyper["hidden"] = tuple(int(h) for h in hyper["hidden"])
    cfg = A3CConfig(**hyper)
    branches = max(len(t) for t in problem.task_layers) if multitask else 0
    steps = DEFAULT_STEPS if budget_evals is None else max(0, int(budget_evals) - 1)
    net, info = train(problem, cfg, steps=steps, seed=seed, workers=int(workers),
                      branches=branches, time_limit_s=time_left(time_limit_s, started))
    env = SlotEnv(problem)
    policy, order, _ = greedy_rollout(env, net)
    episode = info["episode"][1] if cfg.keep_episodes else None
    source, assign, keys = best_plan(problem, {"policy": policy, "episode": episode}, order)
    report = slot_report(problem, assign, order)
    params = {"workers": int(workers), "steps": info["steps"], "plan": source,
              **{f"{k}_key": list(v) for k, v in keys.items()},
              **cfg.to_dict()}
    return make_solution(problem, name, assign, order, started=started, params=params,
                         seed=seed, evaluations=info["steps"],
                         history=[(w, obj) for _, w, obj, _ in info["curve"]],
                         status="time_limit" if info["stopped_by_time"] else None,
                         message=_message(report, source))


def _message(report, source: str) -> str:
    what = "best training episode" if source == "episode" else "greedy policy"
    return (f"delay {report.total_delay_s:.6g} s, {report.total_violations} deadline(s) "
            f"violated; plan of the {what}")


def _solver(multitask: bool):
    from .variants import variant_solver

    return variant_solver(solve, "mtl-a3c" if multitask else "a3c", {"multitask": multitask},
                          [(f.name, list(f.default) if isinstance(f.default, tuple)
                            else f.default) for f in fields(A3CConfig)])


solve_a3c = _solver(False)
solve_mtl_a3c = _solver(True)

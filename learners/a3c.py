"""A3C and MTL-A3C (Mnih et al., 2016; MTL-A3C §5) on the slotted deadline environment.

Real asynchrony: ``workers`` processes (``torch.multiprocessing``, fork) each run their
own :class:`~offloadlab.learners.slots.SlotEnv` episodes with a local copy of the
network, compute ``t_max``-step advantage actor-critic gradients and apply them, without
locks (Hogwild), to one shared model with one shared RMSProp (its square averages live in
shared memory, :class:`SharedRMSprop`). A shared counter holds the environment steps of
all workers; training stops when it reaches the budget or the time limit passes (in
every worker: no child outlives its solver).

Networks (:class:`ActorCritic`):

* ``a3c``: one MLP trunk, one softmax actor head over the servers, one critic head.
* ``mtl-a3c``: the shared trunk, ``M`` actor branches (one per block position in a task,
  its own hidden layer and head) and one critic. Soft parameter sharing: the loss adds
  ``share_l2 · Σ_b ||θ_b − mean θ||²`` over the branches' parameters, which pulls the
  branches towards each other without tying them.

Choices (each a parameter): the paper's lr 0.01, γ 0.95 and ε annealed linearly from 1
to 0.01 over ``explore_fraction`` of the budget (with probability ε a uniformly random
allowed server, else a sample from the policy); rewards are divided by the
environment's time scale for learning; the plan returned is the greedy (arg-max) rollout
of the best snapshot that worker 0 evaluated.

Determinism: ``workers=1`` (the default) trains in the calling process and is
reproducible (same seed, same plan). With ``workers > 1`` the interleaving of the
Hogwild updates depends on the operating system's scheduling, so runs with the same seed
may differ; the seed still fixes every worker's own random streams.
"""

from __future__ import annotations

import inspect
import math
import time
from dataclasses import asdict, dataclass, fields

import numpy as np

from .processes import join_or_terminate

DEFAULT_STEPS = 30_000


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
        ε-greedy exploration from 1 to 0.01.
    explore_fraction : float
        Chosen: share of the budget over which ε decays (0.5).
    t_max : int
        Chosen: steps per update (20).
    hidden : tuple of int
        Chosen: trunk widths (64, 64); MTL-A3C branches add a hidden layer of 32.
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
        Worker 0's steps between greedy evaluations (chosen 500).
    """

    lr: float = 0.01
    gamma: float = 0.95
    eps_start: float = 1.0
    eps_end: float = 0.01
    explore_fraction: float = 0.5
    t_max: int = 20
    hidden: tuple = (64, 64)
    entropy: float = 0.01
    value_coef: float = 0.5
    share_l2: float = 1e-3
    rms_alpha: float = 0.99
    rms_eps: float = 0.1
    grad_clip: float = 40.0
    eval_every: int = 500

    def to_dict(self) -> dict:
        out = asdict(self)
        out["hidden"] = list(self.hidden)
        return out


def _build_net(obs_dim: int, n_actions: int, cfg: A3CConfig, branches: int):
    import torch
    from torch import nn

    class ActorCritic(nn.Module):
        """Trunk, actor branch(es), critic; ``branches`` 0 = plain A3C (one head)."""

        def __init__(self):
            super().__init__()
            layers, width = [], obs_dim
            for h in cfg.hidden:
                layers += [nn.Linear(width, h), nn.ReLU()]
                width = h
            self.trunk = nn.Sequential(*layers)
            self.critic = nn.Linear(width, 1)
            self.n_branches = branches
            if branches:
                self.actors = nn.ModuleList(
                    nn.Sequential(nn.Linear(width, 32), nn.ReLU(), nn.Linear(32, n_actions))
                    for _ in range(branches))
            else:
                self.actor = nn.Linear(width, n_actions)

        def forward(self, obs, block):
            """Logits (N, S) and values (N,) for observations (N, D) whose current block
            positions are ``block`` (N,) (ignored by plain A3C)."""
            z = self.trunk(obs)
            if self.n_branches:
                heads = torch.stack([a(z) for a in self.actors], dim=1)  # (N, M, S)
                idx = block.clamp(max=self.n_branches - 1).view(-1, 1, 1)
                logits = heads.gather(1, idx.expand(-1, 1, heads.shape[2])).squeeze(1)
            else:
                logits = self.actor(z)
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


def _masked_logits(logits, mask, torch):
    return torch.where(mask, logits, torch.full_like(logits, -1e9))


def greedy_rollout(env, net):
    """One greedy (masked arg-max) episode of a SlotEnv with batch 1; returns ``(assign,
    order, return)``."""
    import torch

    obs, info = env.reset()
    total = 0.0
    with torch.no_grad():
        while env.k < env.problem.n_layers:
            logits, _ = net(torch.as_tensor(obs), torch.tensor([env.block]))
            a = _masked_logits(logits, torch.as_tensor(info["action_mask"]), torch)
            obs, reward, _, info = env.step(a.argmax(dim=1).numpy())
            total += float(reward[0])
    return env.state.assign[0].copy(), env.order, total


def _snapshot_key(env, ret: float) -> tuple:
    """Snapshots are ranked by the deadlines their greedy plan misses, then by its
    penalised delay (a feasible plan beats any infeasible one)."""
    from offloadlab.schedule import FEASIBLE

    return (0 if env.state.status[0] == FEASIBLE else 1, -ret)


def _worker(rank, shared, optimizer, counter, problem, cfg, branches, steps, seed,
            deadline, out):
    """One asynchronous learner: episodes, t_max-step updates on the shared model.
    Worker 0 also evaluates; returns (or puts on ``out``) its curve and best snapshot."""
    import copy

    import torch

    from .slots import SlotEnv

    torch.set_num_threads(1)
    torch.manual_seed(seed + 1000 * rank)
    rng = np.random.default_rng([seed, rank])
    env = SlotEnv(problem)
    eval_env = SlotEnv(problem) if rank == 0 else None
    local = copy.deepcopy(shared)
    scale = 1.0 / env.time_scale_s
    explore = max(1, int(cfg.explore_fraction * steps))
    # under a time limit, exploration also decays over that share of the time
    explore_s = max(1e-9, cfg.explore_fraction * (deadline - time.perf_counter()))
    curve, best, best_state = [], (math.inf, math.inf), None
    started = time.perf_counter()
    obs, info = env.reset()
    done_steps, next_eval = 0, 0

    def evaluate(step_count):
        nonlocal best, best_state
        _, _, ret = greedy_rollout(eval_env, shared)
        curve.append((step_count, time.perf_counter() - started, -ret))
        key = _snapshot_key(eval_env, ret)
        if key < best:
            best, best_state = key, copy.deepcopy(shared.state_dict())

    while True:
        if time.perf_counter() > deadline:
            break
        with counter.get_lock():
            start = counter.value
            take = min(cfg.t_max, steps - start)
            counter.value += max(take, 0)
        if take <= 0:
            break
        local.load_state_dict(shared.state_dict())
        logp, values, rewards, ents = [], [], [], []
        terminal = False
        for _ in range(take):
            done_share = max((start + len(rewards)) / explore,
                             (time.perf_counter() - started) / explore_s)
            eps = max(cfg.eps_end, cfg.eps_start - (cfg.eps_start - cfg.eps_end) * done_share)
            mask = torch.as_tensor(info["action_mask"])
            logits, value = local(torch.as_tensor(obs), torch.tensor([env.block]))
            logits = _masked_logits(logits, mask, torch)
            dist = torch.distributions.Categorical(logits=logits)
            if rng.random() < eps:
                action = env.random_actions(rng)
            else:
                action = dist.sample().numpy()
            logp.append(dist.log_prob(torch.as_tensor(action))[0])
            ents.append(dist.entropy()[0])
            values.append(value[0])
            obs, reward, done, info = env.step(action)
            rewards.append(float(reward[0]) * scale)
            if done[0]:
                terminal = True
                obs, info = env.reset()
                break
        with torch.no_grad():
            ret = 0.0 if terminal else float(local(torch.as_tensor(obs),
                                                   torch.tensor([env.block]))[1][0])
        returns = []
        for r in reversed(rewards):
            ret = r + cfg.gamma * ret
            returns.append(ret)
        returns = torch.tensor(returns[::-1], dtype=torch.float32)
        values_t = torch.stack(values)
        adv = returns - values_t
        loss = (-(torch.stack(logp) * adv.detach()).sum() + cfg.value_coef * (adv ** 2).sum()
                - cfg.entropy * torch.stack(ents).sum() + cfg.share_l2 * local.sharing_penalty())
        local.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(local.parameters(), cfg.grad_clip)
        optimizer.step([p.grad if p.grad is not None else torch.zeros_like(p)
                        for p in local.parameters()])
        done_steps += len(rewards)
        if rank == 0 and done_steps >= next_eval:
            next_eval += cfg.eval_every
            evaluate(counter.value)
    if rank == 0:
        evaluate(counter.value)
    result = {"curve": curve, "best": best, "best_state": best_state, "steps": done_steps}
    if out is not None:  # plain arrays: tensors would travel as fds the child closes
        if best_state is not None:
            result["best_state"] = {k: v.numpy().copy() for k, v in best_state.items()}
        out.put((rank, result))
    return result


def train(problem, cfg: A3CConfig, *, steps: int = DEFAULT_STEPS, seed: int = 0,
          workers: int = 1, branches: int = 0, time_limit_s: float | None = None):
    """Train (MTL-)A3C on a deadline problem with ``workers`` asynchronous learners.

    Returns ``(net, info)``: the best snapshot (worker 0's greedy evaluations) and a dict
    with ``curve`` ((steps, wall_s, objective) triples), ``steps`` (all workers),
    ``wall_s``, ``stopped_by_time``.
    """
    import torch
    import torch.multiprocessing as mp

    from .slots import SlotEnv

    started = time.perf_counter()
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    env = SlotEnv(problem)
    shared = _build_net(env.obs_dim, env.n_servers, cfg, branches)
    shared.share_memory()
    optimizer = SharedRMSprop(shared.parameters(), cfg.lr, cfg.rms_alpha, cfg.rms_eps)
    deadline = math.inf if time_limit_s is None else started + time_limit_s
    ctx = mp.get_context("fork")
    counter = ctx.Value("q", 0)
    args = (shared, optimizer, counter, problem, cfg, branches, steps, seed, deadline)
    if workers == 1:
        result = _worker(0, *args, None)
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
        result = results[0]
        if result["best_state"] is not None:
            result["best_state"] = {k: torch.as_tensor(v)
                                    for k, v in result["best_state"].items()}
    if result["best_state"] is not None:
        shared.load_state_dict(result["best_state"])
    total = int(counter.value)
    return shared, {"curve": result["curve"], "steps": min(total, steps),
                    "wall_s": time.perf_counter() - started,
                    "stopped_by_time": total < steps}


def solve(problem, *, multitask: bool = False, seed=None, time_limit_s=None,
          budget_evals=None, workers: int = 1, **hyper):
    """Train A3C (or MTL-A3C) on ``problem`` and return the greedy plan as a Solution.

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
        30,000 training steps.
    workers : int
        Asynchronous worker processes; 1 (default) trains in this process and is
        deterministic, more are not (module docstring).
    **hyper
        :class:`A3CConfig` fields.
    """
    from offloadlab.registry import make_solution

    from .slots import SlotEnv, slot_report

    started = time.perf_counter()
    seed = 0 if seed is None else int(seed)
    if "hidden" in hyper:
        hyper["hidden"] = tuple(int(h) for h in hyper["hidden"])
    cfg = A3CConfig(**hyper)
    name = "mtl-a3c" if multitask else "a3c"
    branches = max(len(t) for t in problem.task_layers) if multitask else 0
    steps = DEFAULT_STEPS if budget_evals is None else max(0, int(budget_evals) - 1)
    if time_limit_s is not None:  # the limit counts from the solver's start
        time_limit_s = max(0.0, time_limit_s - (time.perf_counter() - started))
    net, info = train(problem, cfg, steps=steps, seed=seed, workers=int(workers),
                      branches=branches, time_limit_s=time_limit_s)
    assign, order, _ = greedy_rollout(SlotEnv(problem), net)
    report = slot_report(problem, assign, order)
    params = {"workers": int(workers), "steps": info["steps"], **cfg.to_dict()}
    return make_solution(problem, name, assign, order, started=started, params=params,
                         seed=seed, evaluations=info["steps"],
                         history=[(w, obj) for _, w, obj in info["curve"]],
                         status="time_limit" if info["stopped_by_time"] else None,
                         message=f"delay {report.total_delay_s:.6g} s, "
                                 f"{report.total_violations} deadline(s) violated")


def _solver(multitask: bool):
    def run(problem, **kwargs):
        return solve(problem, multitask=multitask, **kwargs)

    base = [p for n, p in inspect.signature(solve).parameters.items()
            if n not in ("multitask", "hyper")]
    hyper = [inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default
                               if not isinstance(f.default, tuple) else list(f.default))
             for f in fields(A3CConfig)]
    run.__signature__ = inspect.Signature(base + hyper)
    run.__name__ = "solve_mtl_a3c" if multitask else "solve_a3c"
    run.__doc__ = f"{'MTL-A3C' if multitask else 'A3C'} as a solver; see :func:`solve`."
    return run


solve_a3c = _solver(False)
solve_mtl_a3c = _solver(True)

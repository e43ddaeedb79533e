"""MTL-A3C Fig. 6 (convergence): the episode reward of MTL-A3C, A3C and distributed DQN
over training, against greedy and the best plan found.

Each learner trains ``--steps`` environment steps (``workers=1``, seeded) on a
paper-like slot (default :func:`offloadlab.instances.slot_generator.hard_slot` seed 0:
VGG16 chains on single-slot edge servers, the paper's 0.8-2 MB/s device links; or any
deadline instance with ``--instance``). The curve is the mean reward (minus Σ delay +
β·ψ, in seconds) of the training episodes between two evaluations, and the reward of
the greedy policy at each evaluation, against episodes. Horizontal lines: greedy and the
best plan found (the best of GA with ``--ga-evals``, greedy and every learner's
deadline-keeping training episodes).

Usage: ``python -m offloadlab.benchmarks.mtl_a3c_fig6 [--steps 120000] [--seed 0]
[--instance NAME] [--out fig6.png]``; writes the PNG and prints one JSON document (the
final numbers: last and best rewards per learner).
"""

from __future__ import annotations

import json
import math
import sys

import click

LEARNERS = ("mtl-a3c", "a3c", "dist-dqn")


def curves(problem, steps: int, seed: int, eval_every: int) -> dict:
    """Learner -> (curve rows (steps, wall_s, greedy, episode mean), best episode, plan
    objective)."""
    from offloadlab.learners.a3c import A3CConfig
    from offloadlab.learners.a3c import train as train_a3c
    from offloadlab.learners.dist_dqn import train as train_dqn
    from offloadlab.learners.dqn import DQNConfig

    out = {}
    branches = max(len(t) for t in problem.task_layers)
    for name in LEARNERS:
        print(f"{name}: {steps} steps", file=sys.stderr)
        if name == "dist-dqn":
            cfg = DQNConfig.for_variant("dqn", epsilon_greedy=0.99, eval_every=eval_every)
            _, info = train_dqn(problem, cfg, steps=steps, seed=seed)
        else:
            cfg = A3CConfig(eval_every=eval_every)
            _, info = train_a3c(problem, cfg, steps=steps, seed=seed,
                                branches=branches if name == "mtl-a3c" else 0)
        out[name] = info
    return out


def plot(results, problem, greedy: float, best: float, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for (name, info), color in zip(results.items(), ("C0", "C1", "C2")):
        rows = [r for r in info["curve"] if math.isfinite(r[3])]
        episodes = [r[0] / problem.n_layers for r in rows]
        ax.plot(episodes, [-r[3] for r in rows], color=color, label=f"{name} (episodes)")
        ax.plot([r[0] / problem.n_layers for r in info["curve"]],
                [-r[2] for r in info["curve"]], color=color, ls=":", alpha=0.8,
                label=f"{name} (greedy policy)")
    ax.axhline(-greedy, color="grey", ls="--", label="greedy")
    ax.axhline(-best, color="black", ls="-.", label="best plan found")
    low = -3 * best  # keep the early random episodes from flattening the curves
    ax.set_ylim(max(low, ax.get_ylim()[0]), -0.95 * best)
    ax.set_xlabel("episodes")
    ax.set_ylabel("reward −(Σ delay + β·ψ) (s)")
    ax.set_title(f"Convergence on {problem.instance.name}")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


@click.command()
@click.option("--steps", default=120_000, type=click.IntRange(1), show_default=True)
@click.option("--seed", default=0, type=click.IntRange(0), show_default=True)
@click.option("--instance", default=None, help="A deadline instance (default hard_slot).")
@click.option("--ga-evals", default=500_000, type=click.IntRange(1), show_default=True)
@click.option("--eval-every", default=2000, type=click.IntRange(1), show_default=True)
@click.option("--out", "out_path", type=click.Path(dir_okay=False), default="mtl_a3c_fig6.png",
              show_default=True)
def main(steps, seed, instance, ga_evals, eval_every, out_path):
    """Fig. 6: convergence curves (PNG) and their numbers (JSON)."""
    from offloadlab.instances.slot_generator import hard_slot
    from offloadlab.learners.commands import resolve_instances
    from offloadlab.problem import Problem
    from offloadlab.registry import solve

    problem = (Problem.from_instance(hard_slot(seed)) if instance is None
               else resolve_instances([instance], click.UsageError)[0])
    greedy = solve(problem, "greedy").objective
    ga = solve(problem, "ga", seed=seed, budget_evals=ga_evals).objective
    results = curves(problem, steps, seed, eval_every)
    found = [r["episode"][0][1] for r in results.values()]  # feasible plans only
    best = min([greedy, ga, *found])
    plot(results, problem, greedy, best, out_path)
    doc = {"instance": problem.instance.name, "steps": steps, "seed": seed,
           "greedy_reward": -greedy, "ga_reward": -ga, "best_reward": -best,
           "png": out_path, "learners": {
               name: {"final_episode_reward": -next(r[3] for r in reversed(info["curve"])
                                                     if math.isfinite(r[3])),
                      "best_greedy_reward": -min(row[2] for row in info["curve"]),
                      "best_episode_reward": -info["episode"][0][1],
                      "episodes": info["steps"] / problem.n_layers,
                      "wall_s": round(info["wall_s"], 1)}
               for name, info in results.items()}}
    print(json.dumps(_finite(doc), indent=1))


def _finite(value):
    """``value`` with every non-finite float as None (JSON has no infinity)."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


if __name__ == "__main__":
    main()

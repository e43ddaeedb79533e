"""DMRO's outer model (DMRO §IV-B, Algorithm 2): initial parameters learned over several
environments.

Algorithm 2 trains the ``s`` networks on environments selected at random: each round of
episodes plays in a randomly chosen environment, its transitions go into the one memory,
and the networks learn from random minibatches of it, so that the parameters fit no
single environment. The resulting weights are the meta-parameters psi with which
Algorithm 1 starts on a new environment (``offloadlab solve INST --solver dmro --param
init=meta.pt``). Here that is :func:`offloadlab.learners.dmro.train` over the
environments (its random order of rounds is Algorithm 2's random selection); the
environments are members of a generated family (:func:`~offloadlab.learners.family.
generate_dmro`: other workloads, speeds and bandwidths).

Meta-training uses seeds from :data:`META_SEED0` on, so that the family's first seeds
(0, 1, ...) stay unseen for testing.
"""

from __future__ import annotations

from pathlib import Path

META_SEED0 = 1000


def meta_environments(family: str, n_envs: int) -> list:
    """The ``n_envs`` Problems of ``family`` used for meta-training."""
    from offloadlab.problem import Problem

    from .family import generate

    return [Problem.from_instance(generate(family, META_SEED0 + i)) for i in range(n_envs)]


def meta_train(problems, *, steps: int, seed: int = 0, hyper: dict | None = None,
               time_limit_s: float | None = None, progress=None, out_path=None,
               variant: str = "dmro"):
    """Algorithm 2 over ``problems``; writes the meta-parameters to ``out_path``.

    Returns ``(result, record)``: the :class:`~offloadlab.learners.dmro.DMROResult` and
    a JSON-able summary.
    """
    from .dmro import DMROConfig, save_init, train
    from .env import PlacementEnv

    cfg = DMROConfig.for_variant(variant, **(hyper or {}))
    pad = max(len(t) for p in problems for t in p.task_layers)
    envs = [PlacementEnv(p, pad_layers=pad) for p in problems]
    result = train(envs, cfg, steps=steps, seed=seed, time_limit_s=time_limit_s,
                   progress=progress)
    names = [p.instance.name for p in problems]
    record = {"learner": variant, "steps": result.steps, "wall_s": result.wall_s,
              "best_objective": result.best, "instances": names, "seed": seed}
    if out_path is not None:
        path = save_init(out_path, result, envs[0].spec_dict(),
                         {"instances": names, "steps": result.steps, "seed": seed})
        record["checkpoint"] = str(Path(path))
    return result, record

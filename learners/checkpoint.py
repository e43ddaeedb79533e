"""Checkpoints (``.pt``): weights + learner name + hyper-parameters + environment spec.

A checkpoint holds only plain Python values and tensors, so ``torch.load`` reads it with
``weights_only=True``. The environment spec (servers, observation padding, reward) is
checked against the instance it is applied to.
"""

from __future__ import annotations

from pathlib import Path

from offloadlab.registry import SolverError

FORMAT = "offloadlab.checkpoint/1"


def save_checkpoint(path, q_net, learner: str, config: dict, env_spec: dict,
                    extra: dict | None = None) -> Path:
    """Write ``q_net``'s weights and what is needed to rebuild it and its environment."""
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"format": FORMAT, "learner": learner, "config": config, "env": env_spec,
                "state_dict": q_net.state_dict(), "extra": extra or {}}, path)
    return path


class CheckpointError(SolverError):
    """A checkpoint file that is missing, not a checkpoint, or made for another
    action or observation space (a user's mistake, reported in one line)."""


def read_checkpoint(path) -> dict:
    """The checkpoint's content.

    Raises
    ------
    CheckpointError
        When the file is missing or not an offloadlab checkpoint (named in the message).
    """
    import torch

    try:
        data = torch.load(Path(path), weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint {path}: no such file") from None
    except Exception as exc:  # torch raises many types for a file that is not a checkpoint
        raise CheckpointError(f"checkpoint {path}: not a checkpoint ({type(exc).__name__})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"checkpoint {path}: not an {FORMAT} file")
    return data


def load_checkpoint(path, problem=None, *, learner=None, env_spec: dict | None = None,
                    build=None):
    """The network of a checkpoint (in eval mode) and its metadata.

    With ``problem``, refuses a checkpoint trained for another number of servers or a
    shorter observation padding than the instance's longest task needs. With
    ``learner`` (a name or a tuple of names), refuses another learner's checkpoint; with
    ``env_spec`` (the spec of the environment it will act in), one that observes
    another observation or size. ``build(content)`` makes the (untrained) network the
    weights go into (default: a Q-network of the recorded shape; :mod:`.a3c` passes its
    actor-critic's).
    """
    from .networks import QNetwork

    data = read_checkpoint(path)
    env = data["env"]
    names = (learner,) if isinstance(learner, str) else learner
    if names is not None and data["learner"] not in names:
        raise CheckpointError(f"checkpoint {path}: written by {data['learner']!r}, not by "
                              f"{' or '.join(repr(n) for n in names)}")
    if problem is not None:
        if env["n_servers"] != problem.n_servers:
            raise CheckpointError(f"checkpoint {path}: trained for {env['n_servers']} "
                                  f"servers, instance {problem.instance.name!r} has "
                                  f"{problem.n_servers}")
        longest = max(len(t) for t in problem.task_layers)
        if env["pad_layers"] < longest:
            raise CheckpointError(f"checkpoint {path}: observes {env['pad_layers']} layers "
                                  f"per task, instance {problem.instance.name!r} has tasks "
                                  f"of {longest}")
    for key in ("observation", "obs_dim"):
        if env_spec is not None and env.get(key) != env_spec.get(key):
            raise CheckpointError(f"checkpoint {path}: its {key} is {env.get(key)!r}, the "
                                  f"instance's is {env_spec.get(key)!r}")
    if env_spec is None and str(env.get("observation", "")).startswith("slots"):
        raise CheckpointError(f"checkpoint {path}: written by {data['learner']!r} for the "
                              f"slotted deadline environment; use --solver {data['learner']}")
    cfg = data["config"]  # the network's shape; the learner's module is not needed here
    if build is not None:
        net = build(data)
    else:
        net = QNetwork(env["obs_dim"], env["n_servers"], tuple(cfg["hidden"]),
                       cfg["dueling"])
    try:
        net.load_state_dict(data["state_dict"])
    except RuntimeError as exc:  # shapes that do not match the recorded configuration
        first = str(exc).strip().splitlines()[-1].strip()
        raise CheckpointError(f"checkpoint {path}: weights do not fit its network "
                              f"({first})") from None
    net.eval()
    meta = {"learner": data["learner"], "config": data["config"],
            "env": {"reward": env["reward"], "pad_layers": env["pad_layers"],
                    "order": env.get("order", "mdp")},
            "extra": data.get("extra", {})}
    return net, meta

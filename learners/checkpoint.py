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


def load_checkpoint(path, problem=None):
    """The Q-network of a checkpoint (in eval mode) and its metadata.

    With ``problem``, refuses a checkpoint trained for another number of servers or a
    shorter observation padding than the instance's longest task needs.
    """
    from .networks import QNetwork

    data = read_checkpoint(path)
    env = data["env"]
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
    cfg = data["config"]  # the network's shape; the learner's module is not needed here
    q_net = QNetwork(env["obs_dim"], env["n_servers"], tuple(cfg["hidden"]), cfg["dueling"])
    q_net.load_state_dict(data["state_dict"])
    q_net.eval()
    meta = {"learner": data["learner"], "config": data["config"],
            "env": {"reward": env["reward"], "pad_layers": env["pad_layers"],
                    "order": env.get("order", "mdp")},
            "extra": data.get("extra", {})}
    return q_net, meta

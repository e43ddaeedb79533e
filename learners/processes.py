"""Child processes of the asynchronous learners (A3C workers, distributed-DQN actors)."""

from __future__ import annotations


def join_or_terminate(procs, grace_s: float = 5.0) -> None:
    """Wait up to ``grace_s`` for each process, then terminate what still runs: no child
    outlives its solver."""
    for p in procs:
        p.join(timeout=grace_s)
        if p.is_alive():
            p.terminate()
            p.join()

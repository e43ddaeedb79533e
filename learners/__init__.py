"""Learners: the placement environment (Gymnasium) and the PyTorch agents.

The environment is registered as ``offloadlab/Placement-v0`` when this package is
imported after gymnasium (or when :mod:`.env` is imported)::

    import gymnasium, offloadlab.learners
    env = gymnasium.make("offloadlab/Placement-v0", instance="ddpqn-alexnet-small-s0")

Modules: :mod:`.env` (the environment, single and batched), :mod:`.dqn` (the DQN
family: DQN, double, dueling, prioritised and DDPQN), :mod:`.dmro` (DMRO's parallel
DQNs) and :mod:`.meta` (its meta-learned initial parameters), :mod:`.networks`, :mod:`.replay`,
:mod:`.rollout`, :mod:`.checkpoint`, :mod:`.family` (generated training families) and
:mod:`.commands` (``offloadlab train``, ``offloadlab bench env``). Nothing heavy is
imported here, so the command line stays fast.
"""

import sys

ENV_ID = "offloadlab/Placement-v0"


def register_env() -> None:
    """Register :class:`~offloadlab.learners.env.PlacementEnv` with gymnasium (once)."""
    import gymnasium

    if ENV_ID not in gymnasium.registry:
        gymnasium.register(id=ENV_ID, entry_point="offloadlab.learners.env:PlacementEnv")


if "gymnasium" in sys.modules:
    register_env()

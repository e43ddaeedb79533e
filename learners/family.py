"""Generated instance families for training and held-out testing.

A family keeps the shape of a library instance (servers, tasks, model) and draws the
numbers a deployment would vary, seeded: server speeds and prices within DDPQN Table 3's
ranges, link bandwidths within ±30 % of Table 2, task release times. Training on some
seeds and testing on others measures whether a policy generalises to instances it has
not seen (``benchmarks/ddpqn_generalisation.py``).

On the command line a family is ``family:NAME:SEEDS`` with SEEDS a range ``0-15`` or a
list ``3,5,8``, e.g. ``offloadlab train ddpqn family:ddpqn-small:0-15 --out a.pt``.
"""

from __future__ import annotations

import numpy as np

from offloadlab.instance import Instance, parse_instance
from offloadlab.options import int_list

# name -> (model, tasks, edge servers, cloud servers, layers per task or None = all)
FAMILIES = {
    "ddpqn-tiny": ("alexnet", 2, 2, 1, 3),
    "ddpqn-small": ("alexnet", 2, 2, 2, None),
}
# DMRO environments (§V-D): name -> multi-server; see :func:`generate_dmro`
DMRO_FAMILIES = {"dmro-workflows": False, "dmro-multiserver": True}


class FamilyError(ValueError):
    """A family spec that names no family or no seeds."""


def generate(family: str, seed: int) -> Instance:
    """Instance ``seed`` of ``family`` (named ``{family}-g{seed}``).

    Edge servers draw ``ghz`` uniformly in [4.2, 18.3] and ``usd_per_hour`` in
    [2.10, 2.43]; cloud servers in [40, 120] GHz and [0.225, 1.80] $/h; every link's
    bandwidth is Table 2's times a factor in [0.7, 1.3]; tasks are released uniformly in
    [0, 0.2] s. Weights are DDPQN's defaults.
    """
    from offloadlab.instances import presets

    if family in DMRO_FAMILIES:
        return generate_dmro(family, seed)
    if family not in FAMILIES:
        raise FamilyError(f"unknown family {family!r}; known: "
                          f"{', '.join([*FAMILIES, *DMRO_FAMILIES])}")
    model, n_tasks, n_edge, n_cloud, n_layers = FAMILIES[family]
    rng = np.random.default_rng([int(seed), 7211])
    base = presets.ddpqn(model, n_tasks, n_edge=n_edge, n_cloud=n_cloud, n_layers=n_layers,
                         name=f"{family}-g{seed}")
    data = base.model_dump(by_alias=True, exclude_none=True)
    for server in data["servers"]:
        if server["tier"] == "edge":
            server["ghz"] = round(float(rng.uniform(4.2, 18.3)), 4)
            server["usd_per_hour"] = round(float(rng.uniform(2.10, 2.43)), 4)
        elif server["tier"] == "cloud":
            server["ghz"] = round(float(rng.uniform(40.0, 120.0)), 4)
            server["usd_per_hour"] = round(float(rng.uniform(0.225, 1.80)), 4)
    for link in data["links"]:
        link["mb_per_s"] = round(link["mb_per_s"] * float(rng.uniform(0.7, 1.3)), 4)
    for task in data["tasks"]:
        task["release_s"] = round(float(rng.uniform(0.0, 0.2)), 4)
    data["description"] = (f"Generated member {seed} of family {family}: "
                           + base.description)
    return parse_instance(data, f"family {family} seed {seed}")


def generate_dmro(family: str, seed: int) -> Instance:
    """Environment ``seed`` of a DMRO family (named ``{family}-g{seed}``): the paper
    preset's shape (4 users x 5 workflows x 5 subtasks; one or two edge and cloud
    servers) with its own workloads (the preset's generator, seed ``seed``), every
    server's speed times a factor in [0.5, 1.5] and every link's bandwidth times a factor
    in [0.5, 1.5] (chosen: DMRO Table IV's training and testing values are missing from
    the text; they differ in bandwidths and speeds)."""
    from offloadlab.instances import presets

    rng = np.random.default_rng([int(seed), 3641])
    base = presets.dmro(multi_server=DMRO_FAMILIES[family], seed=int(seed) + 1000,
                        name=f"{family}-g{seed}")
    data = base.model_dump(by_alias=True, exclude_none=True)
    for server in data["servers"]:
        server["ghz"] = round(server["ghz"] * float(rng.uniform(0.5, 1.5)), 4)
    for link in data["links"]:
        link["mb_per_s"] = round(link["mb_per_s"] * float(rng.uniform(0.5, 1.5)), 4)
    data["description"] = f"Generated member {seed} of family {family}: " + base.description
    return parse_instance(data, f"family {family} seed {seed}")


def parse_seeds(text: str) -> list[int]:
    """``"0-15"`` (inclusive) or ``"3,5,8"`` as a list of ints
    (:func:`offloadlab.options.int_list`)."""
    try:
        return int_list(text)
    except ValueError as exc:
        raise FamilyError(f"seeds: {exc}") from None


def parse_family(spec: str) -> list[Instance]:
    """The instances of ``family:NAME:SEEDS``."""
    parts = spec.split(":")
    if len(parts) != 3 or parts[0] != "family":
        raise FamilyError(f"{spec!r}: expected family:NAME:SEEDS, e.g. family:ddpqn-small:0-15")
    return [generate(parts[1], s) for s in parse_seeds(parts[2])]

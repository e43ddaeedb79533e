"""The shared instance library: every file, the code and seed that makes it.

Files are named ``{family}-{model}-{size}-s{seed}.json`` with sizes ``tiny``
(brute-forceable), ``small`` (an exact solver proves optimality within a minute) and
``paper`` (the papers' settings). ``offloadlab instances build`` rewrites them
byte-identically; a missing file is an error, never silently regenerated.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from offloadlab.instance import Instance

from . import presets

LIBRARY_DIR = Path(__file__).parent / "library"

_TINY = dict(n_clients=1, n_edge=1, n_cloud=1, n_layers=3, edge_pools=1, cloud_pools=1)

# name stem -> builder (seed 0 everywhere; a builder gets the file's name)
BUILDERS: dict[str, Callable[..., Instance]] = {
    # EosDNN migration (latency)
    "latency-alexnet-tiny-s0": lambda n: presets.eosdnn("alexnet", 2, name=n, **_TINY),
    "latency-vgg19-tiny-s0": lambda n: presets.eosdnn("vgg19", 2, name=n, **_TINY),
    "latency-alexnet-small-s0": lambda n: presets.eosdnn("alexnet", 4, name=n),
    "latency-vgg19-small-s0": lambda n: presets.eosdnn("vgg19", 2, n_clients=2, n_edge=2,
                                                       n_cloud=2, name=n),
    # GoogLeNet up to inception 4a (32 layers, three inception modules): the whole
    # 83-layer DAG is not provable within a minute (38.7 % gap left after 60 s)
    "latency-googlenet-small-s0": lambda n: presets.eosdnn("googlenet", 1, n_clients=1,
                                                           n_edge=2, n_cloud=2,
                                                           n_layers=32, name=n),
    **{f"latency-{m}-paper-s0": (lambda m: lambda n: presets.eosdnn(m, 12, name=n))(m)
       for m in ("alexnet", "vgg19", "googlenet", "resnet101")},
    # DDPQN delay-energy-cost
    "ddpqn-alexnet-tiny-s0": lambda n: presets.ddpqn("alexnet", 2, n_edge=2, n_cloud=1,
                                                     n_layers=3, name=n),
    "ddpqn-alexnet-small-s0": lambda n: presets.ddpqn("alexnet", 2, n_edge=2, n_cloud=2,
                                                      name=n),
    **{f"ddpqn-{m}-paper-s0": (lambda m: lambda n: presets.ddpqn(m, 10, name=n))(m)
       for m in ("alexnet", "vgg19")},
    # DMRO workflows
    "dmro-workflows-tiny-s0": lambda n: presets.dmro(1, 1, 3, name=n),
    "dmro-workflows-small-s0": lambda n: presets.dmro(2, 2, 5, name=n),
    "dmro-workflows-paper-s0": lambda n: presets.dmro(4, 5, 5, name=n),
    "dmro-multiserver-paper-s0": lambda n: presets.dmro(4, 5, 5, multi_server=True, name=n),
    # MTL-A3C deadlines
    "deadline-vgg16-tiny-s0": lambda n: presets.mtl_a3c("vgg16", 3, n_es=2, n_devices=2,
                                                        n_tasks=2, name=n),
    "deadline-vgg16-small-s0": lambda n: presets.mtl_a3c("vgg16", 6, n_es=4, n_devices=4,
                                                         n_tasks=4, name=n),
    "deadline-vgg16-paper-s0": lambda n: presets.mtl_a3c("vgg16", 6, name=n),
    # ATSA makespan
    "makespan-jobs-tiny-s0": lambda n: presets.atsa(5, 2, name=n),
    "makespan-jobs-small-s0": lambda n: presets.atsa(12, 3, name=n),
    "makespan-jobs-paper-s0": lambda n: presets.atsa(200, 10, name=n),
}


def build(name: str) -> Instance:
    """Build one library instance from code and its seed."""
    if name not in BUILDERS:
        raise KeyError(f"no library instance {name!r}")
    return BUILDERS[name](name)


def build_library(out_dir: Path = LIBRARY_DIR, progress=None) -> list[Path]:
    """Write every library file; returns the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in BUILDERS:
        path = out_dir / f"{name}.json"
        path.write_text(build(name).to_json())
        paths.append(path)
        if progress:
            progress(name)
    return paths


def library_files() -> list[Path]:
    """The library's instance files, sorted by name."""
    return sorted(LIBRARY_DIR.glob("*.json"))


def library_path(name: str) -> Path:
    """The file of a library instance by name (with or without ``.json``).

    Raises
    ------
    FileNotFoundError
        When the file is missing (run ``offloadlab instances build``).
    """
    path = LIBRARY_DIR / (name if name.endswith(".json") else f"{name}.json")
    if not path.exists():
        raise FileNotFoundError(f"{path}: not in the library (offloadlab instances build)")
    return path

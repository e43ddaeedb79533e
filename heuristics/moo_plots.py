"""Front plots (matplotlib PNG): a scatter for two objectives; for three, a 3-D scatter
and a parallel-coordinates plot (each objective scaled to [0, 1] over what is drawn)."""

from __future__ import annotations

import numpy as np


def plot_fronts(fronts: dict, labels: list[str], path: str, title: str = "",
                points: dict | None = None) -> None:
    """Draw several fronts (name -> (N, M) array) and marked points (name -> (M,)).

    Parameters
    ----------
    fronts : dict
        Front name -> (N, M) objectives; ``exact`` is drawn as a line/large markers.
    labels : list of str
        The M objective names with units.
    path : str
        The PNG file to write.
    points : dict, optional
        Single plans to mark (for example a weighted single-objective optimum).
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = points or {}
    fronts = {k: np.asarray(v, dtype=float).reshape(-1, len(labels)) for k, v in fronts.items()}
    if len(labels) == 2:
        fig, ax = plt.subplots(figsize=(6, 4.5))
        for name, f in fronts.items():
            f = f[np.argsort(f[:, 0])]
            if name == "exact":
                ax.step(f[:, 0], f[:, 1], where="post", color="k", lw=0.8)
            ax.scatter(f[:, 0], f[:, 1], s=30 if name == "exact" else 14, label=name,
                       marker="o" if name == "exact" else "x")
        for name, p in points.items():
            ax.scatter([p[0]], [p[1]], marker="*", s=160, label=name, zorder=5)
        ax.set_xlabel(labels[0])
        ax.set_ylabel(labels[1])
        ax.legend(fontsize=7)
    else:
        fig = plt.figure(figsize=(12, 4.8))
        ax = fig.add_subplot(1, 2, 1, projection="3d")
        for name, f in fronts.items():
            ax.scatter(f[:, 0], f[:, 1], f[:, 2], s=12, label=name)
        for name, p in points.items():
            ax.scatter([p[0]], [p[1]], [p[2]], marker="*", s=160, label=name)
        ax.set_xlabel(labels[0])
        ax.set_ylabel(labels[1])
        ax.set_zlabel(labels[2])
        ax.legend(fontsize=7)
        par = fig.add_subplot(1, 2, 2)
        every = np.vstack([*fronts.values(), *[np.atleast_2d(p) for p in points.values()]])
        lo, hi = every.min(axis=0), every.max(axis=0)
        span = np.where(hi > lo, hi - lo, 1.0)
        xs = np.arange(len(labels))
        colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
        for i, (name, f) in enumerate(fronts.items()):
            for j, row in enumerate((f - lo) / span):
                par.plot(xs, row, color=colors[i % len(colors)], alpha=0.5, lw=0.8,
                         label=name if j == 0 else None)
        for name, p in points.items():
            par.plot(xs, (np.asarray(p) - lo) / span, color="k", lw=2.0, ls="--", label=name)
        par.set_xticks(xs, labels)
        par.set_ylabel("scaled to [0, 1]")
        par.legend(fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_front(out: dict, path: str) -> None:
    """The ``pareto`` command's result as a PNG."""
    plot_fronts({out["algorithm"]: out["front"]}, out["objectives"], path,
                title=f"{out['instance']}: {out['algorithm']}, HV {out['hv']:.6g}")

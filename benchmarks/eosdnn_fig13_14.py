"""EosDNN Figs. 13–14: SD over the upload time and the SSD for AlexNet and VGG19.

Usage: ``python -m offloadlab.benchmarks.eosdnn_fig13_14 OUT_DIR`` writes
``fig13_14_curves.csv`` (the step curves), ``fig13_14_ssd.csv`` (SSD per planner with
the exact optimum, each planner's gap to it and its SSD reduction against
Non-uploading), ``fig13_14_claims.csv`` (the paper's claim checked) and
``fig13_alexnet_{scenario}.png`` / ``fig14_vgg19_{scenario}.png``. Scenarios as in
:mod:`offloadlab.benchmarks.eosdnn_fig12`.
"""

from __future__ import annotations

from pathlib import Path

import click

from .eosdnn_fig12 import PLANNERS, SCENARIOS, upload_setting, write_csv

FIGURES = {"alexnet": "fig13", "vgg19": "fig14"}
PAPER_LMU_VS_NON_UPLOADING_PCT = 45.16  # EosDNN §VII-C, Fig. 13(a), AlexNet


def results(model_name: str, scenario: str):
    """``(upload results by planner, exact record, migration solver)``."""
    from offloadlab.heuristics.upload_planners import best_upload, plan

    model, solver = upload_setting(model_name, scenario)
    ex = best_upload(model)
    res = {name: (ex.result if name == "exact" else plan(model, name)) for name in PLANNERS}
    return res, ex, solver


def main(out_dir: str) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    curves, ssd_rows, claims = [], [], []
    for scenario in SCENARIOS:
        for model_name, fig in FIGURES.items():
            res, ex, solver = results(model_name, scenario)
            base = res["non-uploading"].ssd
            for name, r in res.items():
                ssd_rows.append({
                    "model": model_name, "scenario": scenario, "migration": solver,
                    "planner": name, "ssd": round(r.ssd, 6),
                    "reduction_vs_non_uploading_pct": round(100 * (base - r.ssd) / base, 3),
                    "gap_to_exact_pct": round(100 * (r.ssd - ex.bound) / ex.bound, 4),
                    "exact_status": ex.status, "exact_wall_s": round(ex.wall_s, 4),
                    "sd_initial_s": round(float(r.sd_s[0]), 6),
                    "sd_final_s": round(float(r.sd_s[-1]), 6),
                    "upload_s": round(r.upload_s, 6)})
                curves += [{"model": model_name, "scenario": scenario, "planner": name,
                            "time_s": t, "sd_s": sd} for t, sd in r.curve()]
            if model_name == "alexnet":
                got = 100 * (base - res["lmu"].ssd) / base
                claims.append({
                    "claim": "LMU SSD below Non-uploading on AlexNet (Fig. 13a)",
                    "scenario": scenario, "paper_pct": PAPER_LMU_VS_NON_UPLOADING_PCT,
                    "measured_pct": round(got, 2),
                    "exact_vs_non_uploading_pct": round(100 * (base - ex.result.ssd) / base, 2),
                    "holds": got >= PAPER_LMU_VS_NON_UPLOADING_PCT})
            _plot(plt, res, f"{model_name} ({scenario})",
                  out / f"{fig}_{model_name}_{scenario}.png")
    write_csv(out / "fig13_14_curves.csv", curves)
    write_csv(out / "fig13_14_ssd.csv", ssd_rows)
    write_csv(out / "fig13_14_claims.csv", claims)
    return {"ssd": ssd_rows, "claims": claims}


def _plot(plt, res, model_name, path) -> None:
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, r in res.items():
        pts = r.curve()
        xs = [p[0] for p in pts] + [r.upload_s * 1.05]
        ys = [p[1] for p in pts] + [pts[-1][1]]
        ax.step(xs, ys, where="post", label=f"{name} (SSD {r.ssd:.4g})",
                linestyle="--" if name == "exact" else "-")
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_xlabel("upload time (s)")
    ax.set_ylabel("SD: query delay (s)")
    ax.set_title(f"{model_name}: SD while uploading")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


@click.command()
@click.argument("out_dir", type=click.Path(file_okay=False))
def cli(out_dir):
    """EosDNN Figs. 13-14 into OUT_DIR: step curves, SSD per planner, the paper's claim."""
    report = main(out_dir)
    for r in report["ssd"] + report["claims"]:
        click.echo(r)


if __name__ == "__main__":  # pragma: no cover
    cli()

"""The Merewether surrogate against the solver on held-out runs: peak-depth errors,
hydrograph peak errors, and the speed-up.

    twin batch scenes/sweeps/merewether_train.toml --out out/sweep_train
    twin batch scenes/sweeps/merewether_holdout.toml --out out/sweep_holdout
    twin surrogate train out/sweep_train --out out/merewether.surrogate.npz [--regression rbf|mlp]
    python benchmarks/surrogate_merewether.py out/merewether.surrogate.npz out/sweep_holdout [--json]

Errors come from :func:`twin.physics.surrogates.flood.evaluate` over every held-out run.
The speed-up is measured here, in one process: the solver's wall time for the first
held-out parameter set (all cores, as ``twin run`` runs it) against the surrogate's
prediction time (mean of 200) and against a whole ``twin run --surrogate`` (prediction
plus writing result.zarr and summary.json). The training time is the one the model
records (``twin surrogate train``: POD and regression, not reading the store).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import xarray as xr
from twin.physics.surrogates.flood import evaluate, write_result
from twin.physics.surrogates.pod import FloodSurrogate

from twin.app.runs import execute
from twin.script import load_script

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model", type=Path)
    p.add_argument("holdout", type=Path, help="the --out folder of the held-out sweep")
    p.add_argument("--json", action="store_true", help="write benchmarks/results/surrogate_merewether_REGRESSION.json")
    p.add_argument("--figure", type=Path, help="draw the held-out run with the largest RMSE into this PNG")
    args = p.parse_args()
    model = FloodSurrogate.load(args.model)
    figures = evaluate(model, args.holdout)
    held = xr.open_zarr(args.holdout / "results.zarr", decode_times=False)
    k = int(held["run"].values[held["status"].values == "done"][0])
    params = {**model.fixed, **{n: float(held[n].values[k]) for n in model.names}}
    script = load_script(model.meta["scene_script"])
    with tempfile.TemporaryDirectory(prefix="twin-bench-surrogate-") as tmp:
        start = time.perf_counter()
        execute(script.setup(params), Path(tmp) / "solver", parameters=params, script=model.meta["scene_script"], progress=False)
        solver_s = time.perf_counter() - start
        start = time.perf_counter()
        write_result(args.model, params, Path(tmp) / "surrogate", script=model.meta["scene_script"])
        whole_s = time.perf_counter() - start
    figures.update(in_process={"solver_wall_s": solver_s, "prediction_s": figures["prediction_time_s"],
                               "speed_up_prediction": solver_s / figures["prediction_time_s"],
                               "surrogate_run_with_files_s": whole_s, "speed_up_with_files": solver_s / whole_s},
                   training_runs=model.meta["training_runs"], modes=model.meta["modes"],
                   regression=model.meta["regression"], training_time_s=model.meta["training_time_s"])
    if args.figure:
        worst = max(figures["per_run"], key=lambda r: r["rmse_m"])
        _figure(model, held.sel(run=worst["run"]).load(), args.figure)
    if args.json:  # every held-out run's figures too
        (ROOT / "benchmarks" / "results" / f"surrogate_merewether_{model.meta['regression']}.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps({k: v for k, v in figures.items() if k != "per_run"}, indent=2))


def _figure(model: FloodSurrogate, run: xr.Dataset, path: Path) -> None:
    """Solver and surrogate peak depth, their difference, and two probe hydrographs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    pred = model.predict({**model.fixed, **{n: float(run[n]) for n in model.names}})
    truth = run["max_depth"].values
    x, y = run["x"].values, run["y"].values
    extent = (x[0], x[-1], y[0], y[-1])
    fig, axes = plt.subplots(1, 4, figsize=(18, 4.6))
    for ax, field, title in ((axes[0], truth, "solver"), (axes[1], pred["max_depth"], "surrogate")):
        im = ax.imshow(np.where(field > 1e-3, field, np.nan), origin="lower", extent=extent, vmin=0, vmax=float(truth.max()), cmap="Blues")
        ax.set_title(f"peak depth, {title} [m]")
        fig.colorbar(im, ax=ax, shrink=0.8)
    diff = pred["max_depth"] - truth
    lim = float(np.abs(diff).max())
    im = axes[2].imshow(np.where((truth > 1e-3) | (pred["max_depth"] > 1e-3), diff, np.nan), origin="lower", extent=extent,
                        cmap="RdBu_r", vmin=-lim, vmax=lim)
    axes[2].set_title("surrogate - solver [m]")
    fig.colorbar(im, ax=axes[2], shrink=0.8)
    t = run["probe_time"].values
    for p, colour in zip(np.argsort(-run["probe_depth"].values.max(axis=1))[:3], plt.cm.tab10.colors):
        axes[3].plot(t, run["probe_depth"].values[p], color=colour, label=f"{run['probe'].values[p]} solver")
        axes[3].plot(t, pred["probe_depth"][p], "--", color=colour, label="surrogate")
    axes[3].set(xlabel="time [s]", ylabel="depth [m]", title="probe hydrographs")
    axes[3].legend(fontsize=7)
    params = ", ".join(f"{n} = {float(run[n]):.3g}" for n in model.names)
    fig.suptitle(f"held-out run with the largest RMSE: {params}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


if __name__ == "__main__":
    main()

"""The Merewether surrogate against the solver on held-out runs: peak-depth errors,
hydrograph peak errors, and the speed-up.

    twin batch scenes/sweeps/merewether_train.toml --out out/sweep_train
    twin batch scenes/sweeps/merewether_holdout.toml --out out/sweep_holdout
    twin surrogate train out/sweep_train --out out/merewether.surrogate.npz
    python benchmarks/surrogate_merewether.py out/merewether.surrogate.npz out/sweep_holdout [--json]

Errors come from :func:`physics.surrogates.flood.evaluate` over every held-out run.
The speed-up is measured here, in one process: the solver's wall time for the first
held-out parameter set (all cores, as ``twin run`` runs it) against the surrogate's
prediction time (mean of 200) and against a whole ``twin run --surrogate`` (prediction
plus writing result.zarr and summary.json).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import xarray as xr

from physics.surrogates.flood import evaluate, write_result
from physics.surrogates.pod import FloodSurrogate
from twin.runner import load_script, run_flood

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model", type=Path)
    p.add_argument("holdout", type=Path, help="the --out folder of the held-out sweep")
    p.add_argument("--json", action="store_true", help="write benchmarks/results/surrogate_merewether.json")
    args = p.parse_args()
    model = FloodSurrogate.load(args.model)
    figures = evaluate(model, args.holdout)
    held = xr.open_zarr(args.holdout / "results.zarr")
    k = int(held["run"].values[held["status"].values == "done"][0])
    params = {**model.fixed, **{n: float(held[n].values[k]) for n in model.names}}
    script = load_script(model.meta["scene_script"])
    with tempfile.TemporaryDirectory(prefix="twin-bench-surrogate-") as tmp:
        start = time.perf_counter()
        run_flood(script.setup(params), Path(tmp) / "solver", parameters=params, script=model.meta["scene_script"], progress=False)
        solver_s = time.perf_counter() - start
        start = time.perf_counter()
        write_result(args.model, params, Path(tmp) / "surrogate", script=model.meta["scene_script"])
        whole_s = time.perf_counter() - start
    figures.update(in_process={"solver_wall_s": solver_s, "prediction_s": figures["prediction_time_s"],
                               "speed_up_prediction": solver_s / figures["prediction_time_s"],
                               "surrogate_run_with_files_s": whole_s, "speed_up_with_files": solver_s / whole_s},
                   training_runs=model.meta["training_runs"], modes=model.meta["modes"])
    if args.json:  # every held-out run's figures too
        (ROOT / "benchmarks" / "results" / "surrogate_merewether.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps({k: v for k, v in figures.items() if k != "per_run"}, indent=2))


if __name__ == "__main__":
    main()

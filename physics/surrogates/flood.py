"""Surrogate Results and their measurement against the solver.

:func:`write_result` writes what ``twin run SCENE --surrogate MODEL`` returns: the
same ``result.zarr`` + ``summary.json`` layout, names, units and coordinates as a
solver run, holding what the surrogate predicts (peak depth and stage, probe
depth and stage, the static fields), marked ``source = "surrogate"``.
:func:`evaluate` compares a surrogate with held-out solver runs.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from twin.physics.simulation import write_text, write_zarr
from twin.physics.surrogates.pod import WET_THRESHOLD, FloodSurrogate

from twin.errors import InputError


def result_dataset(model: FloodSurrogate, predicted: dict[str, np.ndarray], attrs: dict):
    """The predicted Result as an xarray Dataset (CF names and units as the solver's)."""
    import xarray as xr

    g = model.grid
    bed = g["bed_elevation"].astype(np.float64)
    peak = predicted["max_depth"]
    wet = peak > WET_THRESHOLD
    ph = predicted["probe_depth"]
    yx, pt = ("y", "x"), ("probe", "probe_time")
    from twin.io.cf import attach_grid_mapping

    ds = xr.Dataset(
        {
            "max_depth": (yx, peak.astype(np.float32), {"units": "m", "long_name": "maximum water depth over the run"}),
            "max_stage": (yx, np.where(wet, peak + bed, np.nan).astype(np.float32),
                          {"units": "m", "long_name": "maximum water surface elevation (NaN where never wet)"}),
            "bed_elevation": (yx, g["bed_elevation"], {"units": "m", "long_name": "bed elevation used by the solver"}),
            "ground_elevation": (yx, g["ground_elevation"], {"units": "m", "standard_name": "surface_altitude", "long_name": "bare terrain elevation"}),
            "building": (yx, g["building"], {"units": "1", "long_name": "1 inside a building footprint"}),
            "probe_x": (("probe",), g["probe_x"], {"units": "m", "standard_name": "projection_x_coordinate", "long_name": "probe x"}),
            "probe_y": (("probe",), g["probe_y"], {"units": "m", "standard_name": "projection_y_coordinate", "long_name": "probe y"}),
            "probe_bed": (("probe",), g["probe_bed"], {"units": "m", "long_name": "bed elevation at the probe cell"}),
            "probe_depth": (pt, ph, {"units": "m", "long_name": "water depth at the probe"}),
            "probe_stage": (pt, np.where(ph > WET_THRESHOLD, ph + g["probe_bed"][:, None], np.nan),
                            {"units": "m", "long_name": "water surface elevation at the probe (NaN where dry)"}),
        },
        coords={
            "x": ("x", g["x"], {"units": "m", "standard_name": "projection_x_coordinate", "long_name": "cell centre x"}),
            "y": ("y", g["y"], {"units": "m", "standard_name": "projection_y_coordinate", "long_name": "cell centre y"}),
            "probe_time": ("probe_time", g["probe_time"], {"units": "s", "long_name": "simulated time of probe samples"}),
            "probe": ("probe", g["probe"]),
        },
        attrs={"Conventions": "CF-1.10", "twin_kind": "surrogate", "wet_threshold_m": WET_THRESHOLD, "crs": model.meta["crs"],
               "title": model.meta["title"], "source": "surrogate", **attrs},
    )
    return attach_grid_mapping(ds, model.meta["crs"])


def write_result(model_path: str | Path, params: dict, out: str | Path, *, script: str) -> dict:
    """Predict the Result at ``params`` with the model at ``model_path`` and write
    ``out``/result.zarr and ``out``/summary.json (atomically); return the summary.

    Raises:
        InputError: the model is unreadable, was trained on another scene, or
            ``params`` lie outside what it was trained on.
    """
    model = FloodSurrogate.load(model_path)
    if Path(model.meta["scene_script"]).name != Path(script).name:
        raise InputError(model_path, "", f"was trained on {Path(model.meta['scene_script']).name}, not {Path(script).name}")
    start = time.perf_counter()
    predicted = model.predict(params, source=str(script))
    predict_s = time.perf_counter() - start
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    ds = result_dataset(model, predicted, {"surrogate": str(model_path), "scene_script": str(script), "status": "complete"})
    write_zarr(ds, out / "result.zarr")
    summary = {"status": "complete", "source": "surrogate", "surrogate": str(model_path), "prediction_time_s": predict_s,
               "scene": model.meta["title"], "script": str(script), "parameters": params,
               "trained_range": {n: [float(lo), float(hi)] for n, lo, hi in zip(model.names, model.low, model.high)},
               "training_runs": model.meta["training_runs"], "sweep_fingerprint": model.meta["sweep_fingerprint"],
               "cells": int(model.wet.size)}
    write_text(out / "summary.json", json.dumps(summary, indent=2, default=str))
    return summary


PEAK_FRACTION = 0.9
"""A hydrograph's peak time is when it first reaches this fraction of its peak height:
under a constant inflow the hydrographs plateau, and the argmax only follows noise."""


def _peak(series: np.ndarray, times: np.ndarray) -> tuple[float, float]:
    """Peak height [m] and peak time [s] (see PEAK_FRACTION) of a hydrograph."""
    top = float(series.max())
    return top, float(times[int(np.argmax(series >= PEAK_FRACTION * top))])


def evaluate(model: FloodSurrogate, holdout_dir: str | Path, *, repeats: int = 200) -> dict:
    """Errors of ``model`` on the finished runs of another sweep (held out from training).

    Returns, over the held-out runs: peak-depth RMSE and maximum error [m] over the
    cells wet (> 1 mm) in the solver's or the surrogate's field, per run and overall;
    errors of the height [m] and time [s] (:data:`PEAK_FRACTION`) of the probe
    hydrograph peaks (probes wet in the solver run), the largest per run; the surrogate's prediction time [s] (mean of ``repeats``) and the
    solver's wall time [s] as recorded in the sweep.
    """
    import xarray as xr

    store = Path(holdout_dir) / "results.zarr"
    if not store.is_dir():
        raise InputError(holdout_dir, "", "holds no results.zarr (the --out folder of twin batch)")
    ds = xr.open_zarr(store, decode_times=False)
    ds = ds[[*model.names, "status", "max_depth", "probe_depth", "wall_time_s"]].load()  # not the snapshots a sweep may keep
    done = ds.isel(run=np.flatnonzero(ds["status"].values == "done"))
    times = done["probe_time"].values
    rows, sq, n_wet = [], 0.0, 0
    for k in range(done.sizes["run"]):
        run = done.isel(run=k)
        params = {**model.fixed, **{n: float(run[n].values) for n in model.names}}
        pred = model.predict(params, source=str(store))
        truth = run["max_depth"].values.astype(np.float64)
        wet = (truth > WET_THRESHOLD) | (pred["max_depth"] > WET_THRESHOLD)
        err = pred["max_depth"][wet] - truth[wet]
        sq += float((err * err).sum())
        n_wet += int(wet.sum())
        heights, delays = [], []
        for p in range(done.sizes["probe"]):
            h_true, t_true = _peak(run["probe_depth"].values[p], times)
            if h_true <= WET_THRESHOLD:
                continue
            h_pred, t_pred = _peak(pred["probe_depth"][p], times)
            heights.append(abs(h_pred - h_true))
            delays.append(abs(t_pred - t_true))
        rows.append({"run": int(run["run"].values), **{n: float(run[n].values) for n in model.names},
                     "rmse_m": float(np.sqrt(np.mean(err * err))), "max_error_m": float(np.abs(err).max()),
                     "peak_height_error_m": max(heights, default=0.0), "peak_time_error_s": max(delays, default=0.0),
                     "solver_wall_s": float(run["wall_time_s"].values)})
    params = {**model.fixed, **{n: float(v) for n, v in zip(model.names, (model.low + model.high) / 2)}}
    start = time.perf_counter()
    for _ in range(repeats):
        model.predict(params)
    predict_s = (time.perf_counter() - start) / repeats
    solver_s = float(np.mean([r["solver_wall_s"] for r in rows]))
    return {
        "runs": len(rows), "rmse_m": float(np.sqrt(sq / max(n_wet, 1))),
        "max_error_m": max(r["max_error_m"] for r in rows), "worst_run_rmse_m": max(r["rmse_m"] for r in rows),
        "peak_height_error_m": max(r["peak_height_error_m"] for r in rows),
        "mean_peak_height_error_m": float(np.mean([r["peak_height_error_m"] for r in rows])),
        "peak_time_error_s": max(r["peak_time_error_s"] for r in rows),
        "mean_peak_time_error_s": float(np.mean([r["peak_time_error_s"] for r in rows])),
        "prediction_time_s": predict_s, "solver_wall_time_s": solver_s, "speed_up": solver_s / predict_s, "per_run": rows,
    }

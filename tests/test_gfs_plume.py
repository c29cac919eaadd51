"""scenes/gfs_plume.py runs headless for a short while, conserves mass, moves with the wind, and renders."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr
from shared_data import DATA, need

from twin.app.cli import main
from twin.params import resolve
from twin.script import load_script

pytestmark = pytest.mark.data  # needs ../shared/data

SCENE = "scenes/gfs_plume.py"
GFS = DATA / "weather" / "GFS_test.nc"

pytest.importorskip("netCDF4")


def test_plume_runs_and_renders(tmp_path, capsys):
    need(GFS)
    out = tmp_path / "plume"
    argv = ["run", SCENE, "--out", str(out), "--quiet", "--pictures", "--set", "hours=2", "--set", "output_hours=1",
            "--set", "particles=4000", "--set", "release_hours=0", "--set", "kh=500"]
    assert main(argv) == 0
    assert "picture plume:" in capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "complete" and summary["volume_balance"]["relative_error"] < 1e-6
    ds = xr.open_zarr(out / "result.zarr", decode_times=False)
    assert ds["concentration"].dims == ("time", "z", "y", "x") and np.all(np.isfinite(ds["concentration"].values))
    assert float(ds["mslp"].min()) < 97000.0  # the cyclone's centre is inside the domain
    # after 1 h the puff's centre has moved by the wind at the release (bilinear on the 50 km nodes,
    # 200 m between the 0 and 250 m levels) times 1 h, to within 15 %: the wind changes along a
    # ~50 km path by about that much on the 1° analysis; the turbulent spread (Kh = 500 m2/s:
    # sigma = 1.9 km) moves the mean of 4000 particles by ~30 m
    script = load_script(SCENE)
    run = script.setup(resolve(script.PARAMETERS, [], SCENE))
    ox, oy = run.scene.origin
    i, j = int(np.searchsorted(run.x, ox)), int(np.searchsorted(run.y, oy))
    assert run.x[i] == ox and run.y[j] == oy  # the release sits on a wind node
    wind = 0.2 * np.array([run.wind_x[0, 0, j, i], run.wind_y[0, 0, j, i]]) + 0.8 * np.array([run.wind_x[0, 1, j, i], run.wind_y[0, 1, j, i]])
    pos = ds["particle_position"].sel(time=3600.0).values
    moved = np.nanmean(pos[:, :2], axis=0) - np.array([ox, oy])
    assert np.linalg.norm(moved - wind * 3600.0) < 0.15 * np.linalg.norm(wind * 3600.0)
    assert (out / "plume.png").stat().st_size > 50_000


def test_interrupted_run_resumes_bitwise(tmp_path, monkeypatch):
    """Ctrl-C in the middle of a dispersion run, then `twin run --resume`: the result equals
    the uninterrupted run's, bit for bit."""
    from twin.physics.dispersion.solver import DispersionSolver

    need(GFS)
    args = ["--quiet", "--set", "hours=2", "--set", "output_hours=0.5", "--set", "particles=2000", "--set", "release_hours=0"]
    assert main(["run", SCENE, "--out", str(tmp_path / "whole"), *args]) == 0
    step, calls = DispersionSolver.step, []

    def interrupted_step(self, *a, **k):  # Ctrl-C after 15 of the 24 steps of 300 s
        calls.append(1)
        if len(calls) > 15:
            raise KeyboardInterrupt
        return step(self, *a, **k)

    monkeypatch.setattr(DispersionSolver, "step", interrupted_step)
    assert main(["run", SCENE, "--out", str(tmp_path / "parts"), *args]) == 130
    monkeypatch.setattr(DispersionSolver, "step", step)
    assert main(["run", SCENE, "--resume", str(tmp_path / "parts"), *args]) == 0
    whole, parts = (xr.open_zarr(tmp_path / d / "result.zarr", decode_times=False) for d in ("whole", "parts"))
    assert whole["time"].size == parts["time"].size == 5
    for name in whole.data_vars:
        assert np.array_equal(whole[name].values, parts[name].values, equal_nan=True), name


def test_release_outside_the_weather_is_one_line(tmp_path, capsys):
    need(GFS)
    assert main(["run", SCENE, "--out", str(tmp_path / "x"), "--set", "lon=10", "--set", "lat=50"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not cover the scene" in err and "GFS_test.nc" in err

"""Surrogates: POD + cubic RBF regression trained on a sweep, twin run --surrogate, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from physics.surrogates.pod import FloodSurrogate, Reduced, train
from shared_data import DATA, need
from twin.batch import run_sweep
from twin.cli import main
from twin.runner import load_script, parameters_of, run_flood
from twin.sweep import load_sweep

ROOT = Path(__file__).resolve().parents[1]
SCENE = ROOT / "scenes" / "merewether.py"
FIXED = {"resolution": 20.0, "duration": 60.0, "output_interval": 30.0, "probe_interval": 5.0}
SWEEP = """
scene = "{scene}"
[fixed]
{fixed}
[vary]
design = "latin_hypercube"
samples = 8
seed = 3
[vary.parameters]
inflow = [10.0, 30.0]
manning = [0.02, 0.08]
[keep]
peak_fields = ["max_depth"]
probes = ["probe_depth"]
"""


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory):
    need(DATA / "flood" / "merewether")
    tmp = tmp_path_factory.mktemp("sweep")
    path = tmp / "sweep.toml"
    path.write_text(SWEEP.format(scene=SCENE, fixed="\n".join(f"{k} = {v}" for k, v in FIXED.items())))
    assert run_sweep(load_sweep(path), tmp / "out", workers=2, progress=False)["done"] == 8
    return tmp / "out"


def test_rbf_reproduces_linear_functions_and_interpolates_its_data():
    """The cubic RBF with a linear tail reproduces any linear function exactly (the
    polynomial part takes it, the RBF weights vanish) and passes through its data."""
    rng = np.random.default_rng(0)
    centres = rng.random((12, 3))
    linear = lambda x: np.stack([1.0 + x @ [2.0, -1.0, 0.5], -3.0 + x @ [0.1, 0.2, 0.3]], axis=1)  # noqa: E731
    r = Reduced.fit(centres, linear(centres), energy=1.0)
    new = rng.random((20, 3))
    np.testing.assert_allclose(r.predict(new, centres), linear(new), atol=1e-9)
    bumpy = np.sin(5 * centres).sum(axis=1, keepdims=True) * np.ones((1, 4))
    np.testing.assert_allclose(Reduced.fit(centres, bumpy, energy=1.0).predict(centres, centres), bumpy, atol=1e-9)


def test_surrogate_passes_through_its_training_runs_and_is_deterministic(sweep_dir):
    model = train(sweep_dir, energy=1.0)
    ds = xr.open_zarr(sweep_dir / "results.zarr").load()
    for k in range(ds.sizes["run"]):
        params = {**model.fixed, "inflow": float(ds["inflow"][k]), "manning": float(ds["manning"][k])}
        pred = model.predict(params)
        np.testing.assert_allclose(pred["max_depth"], ds["max_depth"].values[k], atol=1e-6)
        np.testing.assert_allclose(pred["probe_depth"], ds["probe_depth"].values[k], atol=1e-6)
    again = train(sweep_dir, energy=1.0)
    assert np.array_equal(again.peak.weights, model.peak.weights) and np.array_equal(again.probes.modes, model.probes.modes)
    assert model.names == ["inflow", "manning"] and list(model.low) == [10.0, 0.02] and list(model.high) == [30.0, 0.08]


def test_twin_run_surrogate_gives_a_result_shaped_like_the_solvers(tmp_path, sweep_dir, capsys):
    model_path = tmp_path / "model.npz"
    assert main(["surrogate", "train", str(sweep_dir), "--out", str(model_path)]) == 0
    sets = [f"{k}={v}" for k, v in FIXED.items()] + ["inflow=21.5", "manning=0.05"]
    argv = ["run", str(SCENE), *(a for s in sets for a in ("--set", s))]
    assert main([*argv, "--surrogate", str(model_path), "--out", str(tmp_path / "sur")]) == 0
    sur = xr.open_zarr(tmp_path / "sur" / "result.zarr")
    summary = json.loads((tmp_path / "sur" / "summary.json").read_text())
    assert sur.attrs["source"] == "surrogate" and summary["source"] == "surrogate" and summary["parameters"]["inflow"] == 21.5
    script = load_script(SCENE)
    params = parameters_of(script, SCENE, sets)
    run_flood(script.setup(params), tmp_path / "solver", parameters=params, script=str(SCENE), progress=False)
    ref = xr.open_zarr(tmp_path / "solver" / "result.zarr")
    for name in sur.data_vars:
        assert sur[name].dims == ref[name].dims and sur[name].attrs["units"] == ref[name].attrs["units"], name
    for name in ("x", "y", "probe", "probe_time"):
        assert np.array_equal(sur[name].values, ref[name].values), name
    assert sur.attrs["crs"] == ref.attrs["crs"]
    # an inflow between training runs: within a few centimetres of the solver on this coarse grid
    wet = (ref["max_depth"].values > 1e-3) | (sur["max_depth"].values > 1e-3)
    rmse = float(np.sqrt(np.mean((sur["max_depth"].values[wet] - ref["max_depth"].values[wet]) ** 2)))
    assert rmse < 0.05, rmse
    capsys.readouterr()
    # outside the trained range, or with a parameter the sweep held fixed changed: one line, exit 2, no output
    for extra, key in ((["--set", "inflow=35"], "parameter inflow"), (["--set", "road_manning=0.03"], "parameter road_manning"),
                       (["--pictures"], "--pictures and --view need a solver run")):
        out = tmp_path / f"refused_{len(extra)}_{extra[-1]}"
        assert main([*argv, *extra, "--surrogate", str(model_path), "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and key in err, err
        assert not out.exists()


def test_bad_models_and_stores_are_one_line(tmp_path, capsys):
    bad = tmp_path / "model.npz"
    bad.write_text("not a model")
    with pytest.raises(Exception) as e:
        FloodSurrogate.load(bad)
    assert str(bad) in str(e.value)
    assert main(["surrogate", "train", str(tmp_path), "--out", str(tmp_path / "m.npz")]) == 2
    assert "holds no results.zarr" in capsys.readouterr().err

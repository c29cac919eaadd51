"""Surrogates: POD + cubic RBF or Warp-trained MLP regression trained on a sweep, twin run --surrogate, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import twin.physics.surrogates.mlp as mlp
import xarray as xr
from shared_data import DATA, need
from twin.physics.surrogates.mlp import MLP
from twin.physics.surrogates.pod import FloodSurrogate, Reduced, train

from twin.app.batch import run_sweep
from twin.app.cli import main
from twin.app.runs import execute
from twin.app.sweep import load_sweep
from twin.script import load_script, parameters_of

pytestmark = pytest.mark.data  # needs ../shared/data

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
    np.testing.assert_allclose(r.predict(new), linear(new), atol=1e-9)
    bumpy = np.sin(5 * centres).sum(axis=1, keepdims=True) * np.ones((1, 4))
    np.testing.assert_allclose(Reduced.fit(centres, bumpy, energy=1.0).predict(centres), bumpy, atol=1e-9)


def test_surrogate_passes_through_its_training_runs_and_is_deterministic(sweep_dir):
    model = train(sweep_dir, energy=1.0)
    ds = xr.open_zarr(sweep_dir / "results.zarr", decode_times=False).load()
    for k in range(ds.sizes["run"]):
        params = {**model.fixed, "inflow": float(ds["inflow"][k]), "manning": float(ds["manning"][k])}
        pred = model.predict(params)
        np.testing.assert_allclose(pred["max_depth"], ds["max_depth"].values[k], atol=1e-6)
        np.testing.assert_allclose(pred["probe_depth"], ds["probe_depth"].values[k], atol=1e-6)
    again = train(sweep_dir, energy=1.0)
    assert np.array_equal(again.peak.regression.weights, model.peak.regression.weights) and np.array_equal(again.probes.modes, model.probes.modes)
    assert model.names == ["inflow", "manning"] and list(model.low) == [10.0, 0.02] and list(model.high) == [30.0, 0.08]


def test_twin_run_surrogate_gives_a_result_shaped_like_the_solvers(tmp_path, sweep_dir, capsys):
    model_path = tmp_path / "model.npz"
    assert main(["surrogate", "train", str(sweep_dir), "--out", str(model_path)]) == 0
    sets = [f"{k}={v}" for k, v in FIXED.items()] + ["inflow=21.5", "manning=0.05"]
    argv = ["run", str(SCENE), *(a for s in sets for a in ("--set", s))]
    assert main([*argv, "--surrogate", str(model_path), "--out", str(tmp_path / "sur")]) == 0
    sur = xr.open_zarr(tmp_path / "sur" / "result.zarr", decode_times=False)
    summary = json.loads((tmp_path / "sur" / "summary.json").read_text())
    assert sur.attrs["source"] == "surrogate" and summary["source"] == "surrogate" and summary["parameters"]["inflow"] == 21.5
    script = load_script(SCENE)
    params = parameters_of(script, SCENE, sets)
    execute(script.setup(params), tmp_path / "solver", parameters=params, script=str(SCENE), progress=False)
    ref = xr.open_zarr(tmp_path / "solver" / "result.zarr", decode_times=False)
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


def _smooth(u: np.ndarray) -> np.ndarray:
    """A smooth known function of 2 parameters in [0, 1]^2, two outputs of range ~1."""
    return np.stack([np.sin(np.pi * u[:, 0]) * np.cos(0.5 * np.pi * u[:, 1]), u[:, 0] * u[:, 1] + 0.5 * u[:, 1] ** 2], axis=1)


def test_mlp_learns_a_smooth_function_deterministically():
    """Trained with wp.Tape + warp.optim.Adam on an 8 x 8 grid, the network's loss falls
    by 300x, it reproduces the function at 400 random points to 3 % RMS and 15 %
    at worst (of its range ~1), its NumPy prediction matches the Warp training loss,
    and training again gives the same network bit for bit."""
    g = (np.arange(8) + 0.5) / 8
    u = np.stack(np.meshgrid(g, g), axis=-1).reshape(-1, 2)
    net = MLP.fit(u, _smooth(u), hidden=(16, 16), iterations=1500)
    assert net.loss[-1] < net.loss[0] / 300, (net.loss[0], net.loss[-1])
    assert np.mean(((net.predict(u) - _smooth(u)) / net.scale) ** 2) == pytest.approx(net.loss[-1], rel=0.2)
    new = np.random.default_rng(0).random((400, 2))
    err = net.predict(new) - _smooth(new)
    assert np.sqrt(np.mean(err**2)) < 0.03 and np.abs(err).max() < 0.15, (np.sqrt(np.mean(err**2)), np.abs(err).max())
    again = MLP.fit(u, _smooth(u), hidden=(16, 16), iterations=1500)
    assert np.array_equal(again.theta, net.theta) and np.array_equal(again.loss, net.loss)


def test_mlp_surrogate_saves_loads_and_answers_twin_run(tmp_path, sweep_dir, monkeypatch, capsys):
    monkeypatch.setattr(mlp, "HIDDEN", (16, 16))
    monkeypatch.setattr(mlp, "ITERATIONS", 300)
    model_path = tmp_path / "mlp.npz"
    assert main(["surrogate", "train", str(sweep_dir), "--out", str(model_path), "--regression", "mlp"]) == 0
    model = FloodSurrogate.load(model_path)
    assert model.meta["regression"] == "mlp" and isinstance(model.peak.regression, MLP)
    again = train(sweep_dir, regression="mlp")
    assert np.array_equal(again.peak.regression.theta, model.peak.regression.theta)
    assert np.array_equal(again.probes.regression.theta, model.probes.regression.theta)
    params = {**model.fixed, "inflow": 21.5, "manning": 0.05}
    for name, value in again.predict(params).items():
        assert np.array_equal(model.predict(params)[name], value), name
    sets = [f"{k}={v}" for k, v in FIXED.items()] + ["inflow=21.5", "manning=0.05"]
    argv = ["run", str(SCENE), *(a for s in sets for a in ("--set", s)), "--surrogate", str(model_path), "--out", str(tmp_path / "sur")]
    assert main(argv) == 0
    assert np.array_equal(xr.open_zarr(tmp_path / "sur" / "result.zarr", decode_times=False)["max_depth"].values, model.predict(params)["max_depth"].astype(np.float32))
    assert main(["surrogate", "evaluate", str(model_path), str(sweep_dir)]) == 0
    assert "8 held-out runs" in capsys.readouterr().out
    assert main(["surrogate", "train", str(sweep_dir), "--out", str(tmp_path / "bad.npz"), "--regression", "svm"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--regression" in err and "rbf, mlp" in err, err
    assert not (tmp_path / "bad.npz").exists()

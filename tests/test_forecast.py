"""The learned forecast: Warp gradients, the train/predict pipeline and file layout, baselines, bad input.

The full training and the held-out RMSE table run in benchmarks/forecast_skill.py
(minutes); here a tiny model trains for a few iterations on the first days.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr
from shared_data import DATA, need
from twin.physics.device import init_warp
from twin.physics.surrogates.conv import ConvNet
from twin.physics.surrogates.forecast import (
    Forecaster,
    Series,
    baseline_forecasts,
    fit_scales,
    one_standard_error_choice,
    read_series,
    starts_with_inputs,
)

from twin.app.cli import main

# xarray loads every engine (cfgrib, hence Debian's ecCodes 2.28) on its first open
pytestmark = pytest.mark.filterwarnings("ignore:ecCodes .* or higher is recommended:UserWarning")

ERA5_NC = DATA / "weather" / "era5_t2m_uk_2019-03-01_to_24.nc"
ERA5_GRIB = DATA / "weather" / "era5_t2m_uk_2019-03-01_to_24.grib"


def test_gradient_matches_finite_differences():
    """wp.Tape's gradient of the mean squared error against central differences of the network's
    loss (step 1e-3: the loss's float32 rounding ~1e-7 / 2e-3 ~ 5e-5 and the O(h^2) truncation
    ~1e-6 stay below the 1e-3 absolute bound; 2 % relative covers a ReLU kink inside a step).
    Every parameter is checked: the convolutions' gradients pass through both hidden layers."""
    init_warp()
    rng = np.random.default_rng(0)
    net = ConvNet(3, 2)
    net.theta.assign(rng.normal(0.0, 0.5, net.size).astype(np.float32))  # every weight non-zero
    x = rng.normal(size=(2, 3, 5, 6)).astype(np.float32)
    y = rng.normal(size=(2, 5, 6)).astype(np.float32)
    _, grad = net.loss_and_grad(x, y)
    g = grad.numpy()
    theta = net.theta.numpy().copy()

    def loss(t):
        net.theta.assign(t.astype(np.float32))
        return float(np.mean((net.predict(x).astype(np.float64) - y) ** 2))

    for k in range(net.size):
        e = np.zeros_like(theta)
        e[k] = 1e-3
        fd = (loss(theta + e) - loss(theta - e)) / 2e-3
        assert g[k] == pytest.approx(fd, rel=0.02, abs=1e-3), k
    net.theta.assign(theta)


@pytest.fixture(scope="module")
def first_days(tmp_path_factory):
    """The first 8 days of the shared ERA5 file (a smaller real file for a fast pipeline test)."""
    path = tmp_path_factory.mktemp("era5") / "era5_8days.nc"
    with xr.open_dataset(need(ERA5_NC)) as ds:
        ds.isel(time=slice(0, 192)).to_netcdf(path)
    return path


def test_train_and_predict_layout(first_days, tmp_path, capsys):
    model, report, pred = tmp_path / "t2m.model.npz", tmp_path / "report.json", tmp_path / "pred.nc"
    argv = ["forecast", "train", "--data", str(first_days), "--out", str(model), "--leads", "1,6", "--holdout-hours", "48",
            "--iterations", "3", "--batch", "4", "--hidden", "2", "--report", str(report), "--quiet"]
    assert main(argv) == 0
    r = json.loads(report.read_text())
    assert set(r["leads"]) == {"1", "6"}
    assert set(r["leads"]["6"]["rmse_K"]) == {"model", "persistence", "same_hour_yesterday", "climatology", "ridge"}
    assert r["leads"]["1"]["test_starts"] == 47 and r["leads"]["6"]["test_starts"] == 42
    assert main(["forecast", "predict", "--model", str(model), "--data", str(first_days), "--leads", "6,1", "--out", str(pred)]) == 0
    out = capsys.readouterr().out
    assert "2 leads x 168 start times" in out
    with xr.open_dataset(pred) as ds:
        t = ds["t2m"]
        assert t.dims == ("lead", "time", "latitude", "longitude") and t.attrs["units"] == "K"
        assert list(ds["lead"].values) == [6, 1] and ds["lead"].attrs["units"] == "hours"
        assert ds.sizes["time"] == 192 - 24  # every start with its 24 h of inputs in the file
        assert str(ds["time"].values[0])[:16] == "2019-03-02T00:00"
        assert np.all(np.isfinite(t.values)) and 250.0 < float(t.min()) and float(t.max()) < 300.0
        saved = t.values
    # the model file alone reproduces the forecast; the GRIB copy of the data gives the same numbers
    series = read_series(first_days)
    f = Forecaster.load(model)
    starts = starts_with_inputs(series)
    np.testing.assert_allclose(f.predict(series, starts, 1), saved[1], rtol=0, atol=1e-4)
    g = read_series(need(ERA5_GRIB))
    grib = Series(g.t2m[:192], g.times[:192], g.latitude, g.longitude)
    np.testing.assert_array_equal(f.predict(grib, starts, 1), f.predict(series, starts, 1))


def test_same_seed_same_model(first_days, tmp_path):
    paths = [tmp_path / f"m{k}.npz" for k in range(2)]
    for p in paths:
        assert main(["forecast", "train", "--data", str(first_days), "--out", str(p), "--leads", "1", "--holdout-hours", "48",
                     "--iterations", "2", "--batch", "4", "--hidden", "2", "--quiet"]) == 0
    with np.load(paths[0]) as a, np.load(paths[1]) as b:
        np.testing.assert_array_equal(a["theta_1"], b["theta_1"])


def test_baselines_are_what_they_say():
    s = read_series(need(ERA5_NC))
    starts = starts_with_inputs(s)[:30]
    scales = fit_scales(s, np.arange(240))
    for lead, back in ((1, 23), (6, 18), (24, 0), (48, 0)):
        b = baseline_forecasts(s, starts, lead, scales)
        np.testing.assert_array_equal(b["persistence"], s.t2m[starts])
        np.testing.assert_array_equal(b["same_hour_yesterday"], s.t2m[starts - back])
        np.testing.assert_array_equal(b["climatology"], scales.climatology[(s.hours[starts] + lead) % 24])
    hour = s.hours[:240] == 5
    np.testing.assert_allclose(scales.climatology[5], s.t2m[:240][hour].mean(axis=0))


def test_one_standard_error_rule():
    """The iteration count: the fewest checkpoints within one paired standard error of the best."""
    w = np.full(4, 0.25)
    consistent = np.array([[1.0, 0.9, 0.8], [2.0, 1.9, 1.8], [1.5, 1.4, 1.3], [1.2, 1.1, 1.0]])  # every fold gains 0.1 a checkpoint
    assert one_standard_error_choice(consistent, w) == 2
    noisy = np.array([[1.0, 0.5], [2.0, 2.3], [1.5, 1.3], [1.2, 1.4]])  # gains 0.5, -0.3, 0.2, -0.2: mean 0.05, one SE 0.19
    assert int(np.argmin(w @ noisy)) == 1 and one_standard_error_choice(noisy, w) == 0
    assert one_standard_error_choice(noisy[:, ::-1], w) == 0  # the start is the best


def _one_line(capsys, argv, expected):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and expected in err, err


def test_bad_input(first_days, tmp_path, capsys):
    model = tmp_path / "m.npz"
    assert main(["forecast", "train", "--data", str(first_days), "--out", str(model), "--leads", "1", "--holdout-hours", "48",
                 "--iterations", "1", "--batch", "2", "--hidden", "2", "--quiet"]) == 0
    pred = tmp_path / "p.nc"
    _one_line(capsys, ["forecast", "predict", "--model", str(model), "--data", str(first_days), "--leads", "24", "--out", str(pred)],
              "trained for leads [1] h, not [24]")
    gfs = need(DATA / "weather" / "GFS_test.nc")
    _one_line(capsys, ["forecast", "predict", "--model", str(model), "--data", str(gfs), "--leads", "1", "--out", str(pred)],
              "variable 't2m': not in the file")
    _one_line(capsys, ["forecast", "predict", "--model", str(first_days), "--data", str(first_days), "--leads", "1", "--out", str(pred)],
              "not a twin forecast model")
    _one_line(capsys, ["forecast", "predict", "--model", str(model), "--data", str(first_days), "--leads", "1,x", "--out", str(pred)],
              "--leads")
    assert not pred.exists() and not list(tmp_path.glob("*.partial*"))

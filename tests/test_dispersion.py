"""The particle dispersion solver against analytic solutions, its NumPy reference, and its own budget."""

from __future__ import annotations

import numpy as np
import pytest
from twin.physics.device import available_devices
from twin.physics.dispersion import Control, DispersionRecorder, DispersionSolver, Model, OutputGrid, Release
from twin.physics.dispersion.reference import reference_step
from twin.physics.simulation import RunSettings, Simulation

DEVICES = available_devices()


def run(solver, state, control, dt, steps, t0=0.0):
    """``steps`` steps of ``dt`` [s]; returns the final state."""
    other = state.clone()
    for k in range(steps):
        solver.step(state, other, control, dt, t0 + k * dt)
        state, other = other, state
    return state


def box(half=200e3, top=10e3, n=21, nz=11, **kwargs):
    x = np.linspace(-half, half, n)
    return Model.on_grid(x, x.copy(), np.linspace(0.0, top, nz), **kwargs), (nz, n, n)


@pytest.mark.parametrize("device", DEVICES)
def test_gaussian_puff_in_uniform_wind(device):
    """Uniform wind U and constant K: the puff's centre is x0 + U t and its variance 2 K t per axis.

    Bounds for N particles (independent draws): the sample mean of an axis has
    standard error sigma / sqrt(N) and the sample variance sigma^2 sqrt(2 / (N - 1));
    both are checked at 5 standard errors (a false alarm once in ~1.7 million per
    check). The steps are uniform draws; after 60 of them the excess kurtosis of a
    particle's displacement is -1.2 / 60, which only narrows the sample variance's spread. Heun's method is exact for a uniform wind, and float32 rounding of
    positions (~2e-3 m at 2e4 m, 60 steps) is far below sigma / sqrt(N) ~ 3 m.
    """
    K = np.array([50.0, 80.0, 5.0])
    model, shape = box(diffusivity=tuple(K), device=device)
    wind = np.array([5.0, -3.0, 0.2])
    control = Control.from_numpy(model, *(np.full(shape, c) for c in wind))
    n, t, dt = 40000, 3600.0, 60.0
    start = np.array([1000.0, -2000.0, 5000.0])
    state = run(DispersionSolver(model, dt=dt, seed=7), model.state(Release(tuple(start), 1.0, n)), control, dt, int(t / dt))
    pos = state.pos.numpy().astype(np.float64)
    assert state.airborne().all()
    sigma2 = 2.0 * K * t
    mean_err = np.abs(pos.mean(axis=0) - (start + wind * t))
    assert np.all(mean_err < 5.0 * np.sqrt(sigma2 / n)), (mean_err, np.sqrt(sigma2 / n))
    var_err = np.abs(pos.var(axis=0, ddof=1) - sigma2)
    assert np.all(var_err < 5.0 * sigma2 * np.sqrt(2.0 / (n - 1))), (var_err / sigma2)


def heun_rotation_error(radius: float, theta: float, steps: int) -> float:
    """Distance [m] from its start of a point on a circle of ``radius`` after ``steps``
    Heun steps of angle ``theta``: each step multiplies z = x + iy by 1 + i theta - theta^2 / 2."""
    g = 1.0 + 1j * theta - theta**2 / 2.0
    return abs(radius * g**steps - radius)


@pytest.mark.parametrize("device", DEVICES)
def test_solid_body_rotation_returns_at_second_order(device):
    """u = -Omega y, v = Omega x: after one turn the error is Heun's, 2nd order in dt.

    The wind is linear in x and y, so trilinear interpolation is exact; the
    measured error must equal the analytic error of Heun's amplification factor
    to float32 rounding (|x| ~ 1e5 m: ~0.01 m per step), and halve-dt must cut it
    by 4 (within 10 %).
    """
    model, (nz, ny, nx) = box(device=device)
    omega = 2.0 * np.pi / 86400.0
    x = model.grid_lo[0] + model.spacing[0] * np.arange(nx)
    X, Y = np.meshgrid(x, x)
    u = np.broadcast_to(-omega * Y, (nz, ny, nx))
    v = np.broadcast_to(omega * X, (nz, ny, nx))
    control = Control.from_numpy(model, u, v)
    radius = 100e3
    errors = []
    for steps in (72, 144):
        dt = 86400.0 / steps
        state = run(DispersionSolver(model, dt=dt), model.state(Release((radius, 0.0, 2000.0), 1.0, 4)), control, dt, steps)
        p = state.pos.numpy()[0].astype(np.float64)
        err = float(np.hypot(p[0] - radius, p[1]))
        expected = heun_rotation_error(radius, omega * dt, steps)
        assert err == pytest.approx(expected, rel=1e-3, abs=0.05 * np.sqrt(steps))
        assert p[2] == 2000.0
        errors.append(err)
    assert 4.0 * 0.9 < errors[0] / errors[1] < 4.0 * 1.1


def test_kernel_matches_the_numpy_reference():
    """Zero diffusivity, a random time-varying wind, deposition and outflow: the Warp kernel and
    the NumPy reference agree to float32 rounding of the arithmetic. Bound: positions stay below
    16 km, where a float32 ulp is 2**-10 m; the two may round differently (compiler-fused
    products, the time weight in float64 in NumPy) by at most one ulp per step, so after 40 steps
    they differ by less than 40 * 2**-10 m = 0.039 m."""
    rng = np.random.default_rng(3)
    model, shape = box(half=10e3, top=3000.0, n=9, nz=5, deposition_velocity=0.05, surface_layer=500.0)
    wind = rng.normal(0.0, 8.0, (3, *shape, 3)).astype(np.float32)
    wind[..., 0] += 12.0  # some particles leave through the east side
    wind[..., 2] *= 0.05
    control = Control.from_numpy(model, wind[..., 0], wind[..., 1], wind[..., 2], times=np.array([0.0, 600.0, 1200.0]))
    state = model.state(Release((0.0, 0.0, 300.0), 2.0, 2000, duration=1500.0))
    solver = DispersionSolver(model, dt=45.0)
    host = state.numpy()
    for k in range(40):
        host = reference_step(model, control.wind.numpy(), control.wind_t0, control.wind_dt, host, k * 45.0, 45.0, rng)
    state = run(solver, state, control, 45.0, 40)
    got = state.numpy()
    np.testing.assert_array_equal(got["status"], host["status"])
    assert 0 < np.count_nonzero(got["status"] == 2) < len(got["status"])  # some left, some did not
    alive = got["status"] == 0
    assert np.abs(host["pos"]).max() < 16384.0
    np.testing.assert_allclose(got["pos"][alive], host["pos"][alive], atol=40 * 2.0**-10, rtol=0)
    np.testing.assert_allclose(got["deposited"], host["deposited"], rtol=1e-5, atol=1e-12)


def test_cpu_threads_are_bitwise_neutral():
    """Particles split over 1, 2 or 3 CPU threads (parts of at least MIN_PARTICLES_PER_THREAD)
    move bitwise the same: each particle's random numbers depend only on its index."""
    model, shape = box(half=30e3, top=2000.0, n=7, nz=5, diffusivity=(30.0, 30.0, 2.0), deposition_velocity=0.02, surface_layer=100.0)
    control = Control.from_numpy(model, np.full(shape, 6.0), np.full(shape, 2.0))
    n = 3 * DispersionSolver.MIN_PARTICLES_PER_THREAD + 7  # three uneven parts
    results = []
    for threads in (1, 2, 3):
        solver = DispersionSolver(model, dt=60.0, seed=5, cpu_threads=threads)
        results.append(run(solver, model.state(Release((0.0, 0.0, 50.0), 1.0, n)), control, 60.0, 5).numpy())
    for other in results[1:]:
        for key in ("pos", "mass", "status", "deposited"):
            np.testing.assert_array_equal(other[key], results[0][key])


def plume(out_dir, *, seed=1, device="cpu", duration=3600.0):
    model, shape = box(half=30e3, top=2000.0, n=7, nz=5, diffusivity=(30.0, 30.0, 2.0), deposition_velocity=0.02,
                       surface_layer=100.0, device=device)
    control = Control.from_numpy(model, np.full(shape, 6.0), np.full(shape, 2.0))
    solver = DispersionSolver(model, dt=60.0, seed=seed)
    grid = OutputGrid((-30e3, -30e3, 0.0), (2e3, 2e3, 200.0), (10, 30, 30))
    recorder = DispersionRecorder(solver, grid, {"title": "test plume"}, tracked=50)
    state = model.state(Release((0.0, 0.0, 50.0), 10.0, 3000, duration=1800.0))
    sim = Simulation(solver, recorder, state, control, RunSettings(duration, 600.0, probe_interval=600.0), out_dir, {"parameters": {"seed": seed}}, progress=False)
    return sim, solver


@pytest.mark.parametrize("device", DEVICES)
def test_mass_budget_result_and_determinism(tmp_path, device):
    """Airborne + deposited + gone + not yet released = released mass (float32 per particle:
    relative 1e-6); the gridded column mass integrates to the airborne mass inside the grid;
    the same seed gives bitwise-equal results, another seed does not; a resumed run is bitwise
    equal to an uninterrupted one."""
    import xarray as xr

    sim, solver = plume(tmp_path / "a", device=device, duration=4800.0)
    summary = sim.run()
    b = summary["volume_balance"]
    assert b["relative_error"] < 1e-6
    assert b["deposited_kg"] > 0.0 and b["left_domain_kg"] > 0.0 and b["airborne_kg"] > 0.0
    ds = xr.open_zarr(tmp_path / "a" / "result.zarr", decode_times=False)
    assert ds["concentration"].dims == ("time", "z", "y", "x") and ds["concentration"].attrs["units"] == "kg m-3"
    assert ds.sizes["time"] == 9
    column = ds["column_mass"].values.astype(np.float64).sum(axis=(1, 2)) * 2e3 * 2e3
    np.testing.assert_allclose(column, ds["airborne_kg"].values, rtol=1e-5)
    total = sum(ds[k].values for k in ("airborne_kg", "deposited_kg", "left_domain_kg", "not_released_kg"))
    np.testing.assert_allclose(total, 10.0, rtol=1e-6)

    again, _ = plume(tmp_path / "b", device=device, duration=4800.0)
    again.run()
    other, _ = plume(tmp_path / "c", seed=2, device=device, duration=4800.0)
    other.run()
    a, b2, c = (xr.open_zarr(tmp_path / d / "result.zarr", decode_times=False)["particle_position"].values for d in "abc")
    np.testing.assert_array_equal(a, b2)
    assert not np.array_equal(np.nan_to_num(a), np.nan_to_num(c))

    first, _ = plume(tmp_path / "d", device=device, duration=2400.0)  # stops at 2400 s ...
    first.run()
    resumed, _ = plume(tmp_path / "d", device=device, duration=4800.0)  # ... and goes on to 4800 s
    resumed.run(resume=True)
    d = xr.open_zarr(tmp_path / "d" / "result.zarr", decode_times=False)
    np.testing.assert_array_equal(d["particle_position"].values, a)
    np.testing.assert_array_equal(d["concentration"].values, ds["concentration"].values)

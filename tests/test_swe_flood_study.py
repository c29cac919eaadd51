"""Flood-study inputs of the solver (issue 15): boundaries on spans of an edge, rain from
gridded fields, ARR initial and continuing losses, and the hazard envelopes (running
maximum of h |u|, arrival time)."""

from __future__ import annotations

import numpy as np
import pyproj
import pytest
import xarray as xr
from twin.physics.swe import Control, FloodSolver, Model
from twin.physics.swe.from_scene import flood_problem
from twin.physics.swe.recorder import ARRIVAL_DEPTH, FloodRecorder

from tests.conftest import whole_and_resumed
from twin.errors import InputError
from twin.io.weather import precipitation_rate, read_weather
from twin.scene import Boundary, Heightfield, LossZone, Rain, Scene, TimeSeries, load_scene, save_scene

UNIT_ROUNDOFF = {"float32": 2.0**-24, "float64": 2.0**-53}
CRS = "EPSG:32633"
X0, Y0 = 500_000.0, 4_000_000.0  # UTM 33N, metres


def _scene(nx=30, ny=20, d=2.0, bed=None, **kw) -> Scene:
    """A flat (or ``bed``) scene of nx x ny cells of d metres at (X0, Y0)."""
    z = np.zeros((ny, nx)) if bed is None else bed
    terrain = Heightfield(z, X0, Y0, d, d)
    return Scene("study", CRS, (X0, Y0), (X0, Y0, X0 + nx * d, Y0 + ny * d), terrain, default_manning=0.03, **kw)


def _advance(solver, control, s, steps, dt=None, t=0.0, recorder=None):
    """``steps`` steps of dt (default: the CFL step); returns (state, t, Heun-integral of the
    callback values per step is left to the caller)."""
    s2 = s.clone()
    for _ in range(steps):
        step = solver.stable_dt(s, t) if dt is None else dt
        solver.step(s, s2, control, step, t)
        s, s2 = s2, s
        t += step
        if recorder is not None:
            recorder.update(s, t)
    return s, t


# === boundaries on spans of an edge ===========================================================


def test_bad_spans_are_one_line_input_errors():
    q = TimeSeries.constant(1.0)
    with pytest.raises(InputError, match=r"boundary west\[0\].*outside the edge \(0 \.\. 40 m\)") as e:
        _scene(boundaries={"west": [Boundary("discharge", q, span=(30.0, 45.0))]})
    assert "\n" not in str(e.value)
    with pytest.raises(InputError, match=r"boundary south\[1\].*overlaps south\[0\]"):
        _scene(boundaries={"south": [Boundary("transmissive", span=(0.0, 20.0)), Boundary("discharge", q, span=(15.0, 30.0))]})
    with pytest.raises(InputError, match=r"whole edge"):
        _scene(boundaries={"east": [Boundary("transmissive"), Boundary("discharge", q, span=(15.0, 30.0))]})
    with pytest.raises(InputError, match=r"a < b"):
        Boundary("transmissive", span=(5.0, 5.0))
    s = _scene(boundaries={"north": [Boundary("transmissive", span=(0.0, 0.5))]})  # inside, but no cell centre
    with pytest.raises(InputError, match=r"north\[0\].*no cell centre at 2 m"):
        flood_problem(s, resolution=2.0)


def test_spans_become_edge_cells_and_survive_save_and_load(tmp_path):
    q = TimeSeries([0.0, 10.0], [1.0, 2.0])
    s = _scene(boundaries={"west": [Boundary("discharge", q, span=(10.0, 20.0)), Boundary("transmissive", span=(20.0, 40.0))],
                           "south": Boundary("transmissive")})
    back = load_scene(save_scene(s, tmp_path / "s.twin"))
    assert back.boundaries["west"][0].span == (10.0, 20.0) and back.boundaries["west"][1].kind == "transmissive"
    model, control, _ = flood_problem(back, resolution=2.0)
    # [a, b) holds the centres 1, 3, 5, ... m: (10, 20) -> cells 5..9, (20, 40) -> 10..19
    assert model.boundary_spans["west"] == [("discharge", 5, 10), ("transmissive", 10, 20)]
    assert model.boundary_kinds["south"] == "transmissive" and model.boundary_kinds["west"] == "spans"
    assert control.span_series["west"][0] is back.boundaries["west"][0].series


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_span_discharge_enters_only_through_its_wet_cells_and_is_conserved(dtype):
    # a 60 m x 40 m basin, sloping down to the east, with a discharge span (10, 20) m on
    # the west edge (cells 5..9) and a free outflow span on the east edge; walls elsewhere
    ny, nx, d = 20, 30, 2.0
    bed = np.tile(0.01 * (nx - np.arange(nx)), (ny, 1))
    Q = TimeSeries([0.0, 20.0, 40.0], [0.5, 2.0, 1.0])
    scene = _scene(nx, ny, d, bed, boundaries={"west": [Boundary("discharge", Q, span=(10.0, 20.0))],
                                               "east": [Boundary("transmissive", span=(0.0, 12.0))]})
    depth = np.zeros((ny, nx))
    depth[6:8, :3] = 0.05  # two of the span's five cells are wet at the start
    # one Euler step: the discharge goes through the faces of the two wet cells only, evenly
    model, control, _ = flood_problem(scene, resolution=d, dtype=dtype, order=1)
    solver = FloodSolver(model, control)
    _advance(solver, control, model.state(depth), 1, dt=0.01)
    west = solver._fx[0].numpy()[:: nx + 1][:ny]  # mass flux [m^2/s] through the west faces
    expected = np.zeros(ny)
    expected[6:8] = Q(0.0) / (2 * d)
    np.testing.assert_allclose(west, expected, rtol=4 * UNIT_ROUNDOFF[dtype])
    # a run: every cubic metre the series sends comes in, and the volume balance closes
    model, control, _ = flood_problem(scene, resolution=d, dtype=dtype, order=2)
    solver = FloodSolver(model, control)
    s = model.state(depth)
    v0 = solver.volume(s)
    s, t, exact = s, 0.0, 0.0
    s2 = s.clone()
    for _ in range(400):
        dt = min(solver.stable_dt(s, t), 0.5)
        solver.step(s, s2, control, dt, t)
        exact += 0.5 * dt * (Q(t) + Q(t + dt))  # Heun: the two stages' discharges, half a step each
        s, s2 = s2, s
        t += dt
    b = solver.volume_balance(s, v0)
    # the face value q is rounded once a stage (u of the dtype, the same sign on every face
    # of the span); the float64 counters and this sum add one rounding a stage each
    rel = 8 * UNIT_ROUNDOFF[dtype] + 4 * 400 * UNIT_ROUNDOFF["float64"]
    assert b["boundary_inflow_m3"]["west"] == pytest.approx(exact, rel=rel)
    assert b["boundary_inflow_m3"]["east"] < 0 and b["boundary_inflow_m3"]["north"] == b["boundary_inflow_m3"]["south"] == 0
    assert abs(b["relative_error"]) <= 400 * 8 * UNIT_ROUNDOFF[dtype], b
    east = solver._fx[0].numpy()[nx :: nx + 1][:ny]
    assert np.any(east[:6] > 0) and np.all(east[6:] == 0)  # the outflow span is (0, 12) m: cells 0..5
    assert t > 40.0


def test_stage_span_fills_through_its_cells_only():
    # a flat dry basin; a stage span of 0.3 m over (20, 30) m of the south edge (cells 10..14)
    ny, nx, d = 16, 24, 2.0
    scene = _scene(nx, ny, d, boundaries={"south": [Boundary("stage", TimeSeries.constant(0.3), span=(20.0, 30.0))]})
    model, control, _ = flood_problem(scene, resolution=d, order=1)
    solver = FloodSolver(model, control)
    s, t = _advance(solver, control, model.state(0.0), 60)
    south = solver._fy[0].numpy()[:nx]
    assert np.all(south[10:15] > 0) and np.all(south[:10] == 0) and np.all(south[15:] == 0)
    b = solver.volume_balance(s, 0.0)
    assert b["boundary_inflow_m3"]["south"] > 0 and abs(b["relative_error"]) <= 60 * 8 * UNIT_ROUNDOFF["float32"]


# === rain from gridded fields =================================================================


def _rain_file(path, *, amount=False, shift=0.0):
    """A CF NetCDF precipitation file on a 500 m UTM 33N grid around the scene: a rate
    [mm h-1] linear in x and y times (1, 3, 0) at 0, 600, 1200 s, or (``amount``) the
    running total [m] of a rate linear in x and y at 1, 4 and 2 x over the hours."""
    x = X0 - 1000.0 + shift + 500.0 * np.arange(8)
    y = Y0 - 1000.0 + 500.0 * np.arange(7)
    X, Y = np.meshgrid(x - X0, y - Y0)
    base = 10.0 + 0.004 * X + 0.002 * Y  # mm/h, positive over the grid
    gm = pyproj.CRS(CRS).to_cf()
    if amount:
        times = np.array([0.0, 3600.0, 7200.0, 10800.0])
        cumulative = np.concatenate([[0.0], np.cumsum([1.0, 4.0, 2.0])])  # hours of the base rate
        values = cumulative[:, None, None] * base[None] * 1e-3  # m
        var = ("tp", values, {"units": "m", "standard_name": "precipitation_amount", "grid_mapping": "crs"})
    else:
        times = np.array([0.0, 600.0, 1200.0])
        values = np.array([1.0, 3.0, 0.0])[:, None, None] * base[None]
        var = ("rain", values, {"units": "mm h-1", "grid_mapping": "crs"})
    ds = xr.Dataset(
        {var[0]: (("time", "y", "x"), var[1], var[2]), "crs": ((), 0, gm)},
        coords={"time": ("time", times, {"units": "seconds since 2024-06-01 00:00:00", "standard_name": "time"}),
                "x": ("x", x, {"standard_name": "projection_x_coordinate", "units": "m"}),
                "y": ("y", y, {"standard_name": "projection_y_coordinate", "units": "m"})},
    )
    ds.to_netcdf(path, engine="netcdf4")
    return read_weather(path).fields[var[0]]


def _base_integral(scene: Scene) -> float:
    """Integral of the base rate [m/s] over the scene [m^3/s]: linear, so area x centre value."""
    xmin, ymin, xmax, ymax = scene.extent
    xc, yc = 0.5 * (xmin + xmax) - X0, 0.5 * (ymin + ymax) - Y0
    return (xmax - xmin) * (ymax - ymin) * (10.0 + 0.004 * xc + 0.002 * yc) * 1e-3 / 3600.0


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_rain_field_adds_its_space_time_integral(tmp_path, dtype):
    field = _rain_file(tmp_path / "rain.nc")
    scene = _scene(40, 30, 5.0, rain=Rain(field=field))
    model, control, _ = flood_problem(scene, resolution=5.0, dtype=dtype)
    solver = FloodSolver(model, control)
    dt, steps = 10.0, 150  # 1500 s: the field's 1200 s and 300 s of no rain; frame times fall on steps
    s, t = _advance(solver, control, model.state(0.0), steps, dt=dt)
    # bilinear sampling of a field linear in x and y is exact at the centres, and the
    # centre rule is exact for a linear function over the cells; linear in time, Heun's
    # trapezoid is exact between frame times: the integral is (1+3)/2 600 + (3+0)/2 600 s
    exact = _base_integral(scene) * (0.5 * 4.0 * 600.0 + 0.5 * 3.0 * 600.0)
    # float64: a few roundings a frame; float32: the frames on the device are rounded
    # (u relative), then the host sums them in float64
    assert solver.volume_from_sources == pytest.approx(exact, rel=4 * UNIT_ROUNDOFF[dtype] + 1e-13)
    # the water in the basin: each step adds dt * rain in the state's precision, 8
    # roundings a cell a step at most (as in the basin balance of test_swe_verification)
    stored = solver.volume(s)
    assert stored == pytest.approx(exact, rel=steps * 8 * UNIT_ROUNDOFF[dtype] + 4 * UNIT_ROUNDOFF[dtype])
    assert abs(solver.volume_balance(s, 0.0)["relative_error"]) <= steps * 8 * UNIT_ROUNDOFF[dtype]


def test_accumulated_rain_is_differenced_to_rates(tmp_path):
    field = _rain_file(tmp_path / "tp.nc", amount=True)
    rate = precipitation_rate(field)
    np.testing.assert_array_equal(rate.coords["time"] - field.coords["time"][0], [0, 3600, 3600, 7200, 7200, 10800])
    scene = _scene(40, 30, 5.0, rain=Rain(field=field, field_start=field.coords["time"][0] + 1800.0))
    scene = load_scene(save_scene(scene, tmp_path / "s.twin"))  # the field travels in the .twin file
    np.testing.assert_array_equal(scene.rain.field.values, field.values)
    model, control, _ = flood_problem(scene, resolution=5.0, dtype="float64")
    solver = FloodSolver(model, control)
    s, t = _advance(solver, control, model.state(0.0), 120, dt=100.0)  # 0 .. 12000 s of run time
    # the run starts half an hour in: half of the first hour, then 4 and 2 hours' worth
    exact = _base_integral(scene) * 3600.0 * (0.5 * 1.0 + 4.0 + 2.0)
    assert solver.volume_from_sources == pytest.approx(exact, rel=1e-12)
    # "interval" amounts: each value is the hour's amount, here 1, 2, 3 hours' worth at 1, 2, 3 h
    interval = precipitation_rate(field, "interval")
    np.testing.assert_allclose(interval.values[::2] / field.values[1:], 1.0 / 3600.0)


def test_rain_field_must_cover_the_scene(tmp_path):
    field = _rain_file(tmp_path / "rain.nc", shift=1500.0)  # starts 500 m east of the scene's west edge
    scene = _scene(40, 30, 5.0, rain=Rain(field=field))
    with pytest.raises(InputError, match=r"rain: variable 'rain': its grid .* does not cover the scene") as e:
        flood_problem(scene, resolution=5.0)
    assert "\n" not in str(e.value)
    with pytest.raises(InputError, match="not both or neither"):
        Rain(TimeSeries.constant(1.0), field=field)


# === initial and continuing losses ============================================================


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_initial_then_continuing_loss_in_its_zone(tmp_path, dtype):
    # still water 20 mm deep on a flat closed basin; the west half is a zone with an
    # initial loss of 4 mm and a continuing loss of 36 mm/h (1e-5 m/s)
    ny, nx, d = 16, 24, 2.0
    zone = LossZone(np.array([[X0, Y0], [X0 + 24.0, Y0], [X0 + 24.0, Y0 + 32.0], [X0, Y0 + 32.0]]), 4.0, 36.0, "grass")
    scene = load_scene(save_scene(_scene(nx, ny, d, loss_zones=[zone]), tmp_path / "s.twin"))
    model, control, _ = flood_problem(scene, resolution=d, dtype=dtype)
    solver = FloodSolver(model, control)
    s = model.state(0.02)
    v0 = solver.volume(s)
    steps, dt = 50, 2.0
    s, t = _advance(solver, control, s, steps, dt=dt)
    lost = s.infiltrated.numpy().reshape(ny, nx).astype(np.float64)
    # the whole initial loss in the first step, then the continuing loss each step after
    expected = 4e-3 + (steps - 1) * 1e-5 * dt
    np.testing.assert_allclose(lost[:, :12], expected, rtol=steps * 4 * UNIT_ROUNDOFF[dtype])
    assert np.all(lost[:, 12:] == 0.0)
    b = solver.volume_balance(s, v0)
    assert abs(b["relative_error"]) <= steps * 8 * UNIT_ROUNDOFF[dtype], b


# === hazard: running maximum of h |u| and the arrival time ====================================


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_running_max_of_depth_velocity_bounds_every_snapshot(tmp_path, dtype):
    from twin.physics.simulation import RunSettings, Simulation

    # a dam break in a box with an obstacle: the flow speeds up and slows down again
    ny, nx = 24, 48
    bed = np.zeros((ny, nx))
    bed[8:16, 30:34] = 2.0
    model = Model.from_arrays(bed, dx=1.0, manning_n=0.02, dtype=dtype)
    depth = np.where(np.arange(nx)[None, :] < 12, 1.0, 0.0) * np.ones((ny, 1))
    solver = FloodSolver(model, Control())
    recorder = FloodRecorder(solver, {}, {"ground_elevation": bed, "building": bed > 1}, {})
    sim = Simulation(solver, recorder, model.state(depth), Control(), RunSettings(20.0, 1.0), tmp_path, progress=False)
    sim.run()
    ds = xr.open_zarr(tmp_path / "result.zarr", decode_times=False)
    envelope = ds["max_depth_velocity"].values.astype(np.float64)
    assert ds["max_depth_velocity"].attrs["units"] == "m2 s-1"
    h = ds["depth"].values.astype(np.float64)
    speed = np.hypot(ds["u"].values.astype(np.float64), ds["v"].values.astype(np.float64))
    # snapshot u = hu / h rounded to float32 once, h exact: h |u| is within 2 u of the
    # tracked |q| (itself within 2 u of the exact one) for every snapshot
    tol = 4 * UNIT_ROUNDOFF["float32"]
    assert np.all(h * speed <= envelope * (1 + tol) + 1e-30)
    assert np.max(h * speed) > 0.5  # the flow is fast enough to matter
    # the envelope is the maximum of the product, not the product of the maxima
    product = ds["max_depth"].values.astype(np.float64) * ds["max_speed"].values.astype(np.float64)
    assert np.all(envelope <= product * (1 + tol))
    assert np.any(envelope < 0.9 * product)


def test_arrival_time_is_the_first_step_beyond_the_threshold(tmp_path):
    # uniform rain on a flat basin: h = r t everywhere, so the arrival time is the first
    # step end with r t > ARRIVAL_DEPTH; a raised block where no rain falls never floods
    ny, nx, d = 16, 16, 10.0
    bed = np.zeros((ny, nx))
    bed[:, 12:] = 1.0
    r = 36.0  # mm/h = 1e-5 m/s: 1 cm after 1000 s
    scene = _scene(nx, ny, d, bed, rain=Rain(TimeSeries.constant(r), polygon=np.array(
        [[X0, Y0], [X0 + 120.0, Y0], [X0 + 120.0, Y0 + 160.0], [X0, Y0 + 160.0]])))
    model, control, _ = flood_problem(scene, resolution=d, dtype="float64")
    solver = FloodSolver(model, control)
    recorder = FloodRecorder(solver, {}, {"ground_elevation": bed, "building": bed > 0}, {})
    s = model.state(0.0)
    recorder.update(s, 0.0)
    dt = 3.0  # within the CFL limit (7 s at 1.2 cm on 10 m cells)
    s, t = _advance(solver, control, s, 400, dt=dt, recorder=recorder)
    arrival = recorder.arrival_time.numpy().reshape(ny, nx)
    t_first = dt * np.floor(ARRIVAL_DEPTH / (r * 1e-3 / 3600.0) / dt + 1)  # 1002 s: 1000 s lies mid-step
    np.testing.assert_array_equal(arrival[:, :12], t_first)
    assert np.all(np.isnan(arrival[:, 12:]))
    ds = recorder.dataset([0.0], [recorder.snapshot(s)], recorder.state_dict())
    assert ds["arrival_time"].attrs["units"] == "s" and np.isnan(ds["arrival_time"].values[0, -1])


def test_spans_and_rain_fields_keep_skipping_dry_tiles_bitwise_neutral(tmp_path):
    # 64 x 48 cells (48 tiles): a discharge span and a stage span feed a dry basin, rain
    # falls from a field over its west half only; skipping dry tiles must change nothing
    ny, nx, d = 48, 64, 5.0
    bed = np.tile(0.005 * (nx - np.arange(nx)), (ny, 1))
    field = _rain_file(tmp_path / "rain.nc")
    half = np.array([[X0, Y0], [X0 + 100.0, Y0], [X0 + 100.0, Y0 + 240.0], [X0, Y0 + 240.0]])
    scene = _scene(nx, ny, d, bed, rain=Rain(field=field, polygon=half), boundaries={
        "west": [Boundary("discharge", TimeSeries([0.0, 60.0], [1.0, 4.0]), span=(100.0, 130.0))],
        "south": [Boundary("stage", TimeSeries.constant(0.25), span=(250.0, 300.0)), Boundary("transmissive", span=(300.0, 320.0))]})
    runs = []
    for skip in (False, True):
        model, control, _ = flood_problem(scene, resolution=d)
        solver = FloodSolver(model, control, skip_dry_tiles=skip, cpu_threads=1)
        s, _ = _advance(solver, control, model.state(0.0), 80, dt=None)
        runs.append((s.h.numpy(), s.hu.numpy(), s.hv.numpy(), solver._inflow.numpy(), solver._n_active))
    assert runs[1][-1] < runs[0][-1]  # some tiles were skipped
    for a, b in zip(runs[0][:-1], runs[1][:-1]):
        assert np.array_equal(a, b)


def test_resume_with_spans_rain_field_and_losses_is_bitwise_equal(tmp_path):
    from twin.physics.simulation import RunSettings, Simulation

    ny, nx, d = 20, 30, 5.0
    bed = np.tile(0.005 * (nx - np.arange(nx)), (ny, 1))
    zone = LossZone(np.array([[X0, Y0], [X0 + 75.0, Y0], [X0 + 75.0, Y0 + 100.0], [X0, Y0 + 100.0]]), 2.0, 10.0)
    scene = _scene(nx, ny, d, bed, rain=Rain(field=_rain_file(tmp_path / "rain.nc")), loss_zones=[zone], boundaries={
        "west": [Boundary("discharge", TimeSeries([0.0, 60.0], [0.5, 3.0]), span=(40.0, 70.0))],
        "east": [Boundary("transmissive", span=(0.0, 50.0))]})

    def simulation(out, on_step=None):
        model, control, fg = flood_problem(scene, resolution=d)
        solver = FloodSolver(model, control)
        recorder = FloodRecorder(solver, {}, {"ground_elevation": fg.ground, "building": fg.building}, {})
        return Simulation(solver, recorder, model.state(0.0), control, RunSettings(120.0, 30.0), out, progress=False,
                          on_step=on_step)

    a, b = (xr.open_zarr(p / "result.zarr", decode_times=False) for p in whole_and_resumed(simulation, tmp_path, 70.0))
    for name in ("depth", "u", "v", "max_depth", "max_depth_velocity", "arrival_time", "time_of_max_depth"):
        assert np.array_equal(a[name].values, b[name].values, equal_nan=True), name
    assert np.isfinite(a["arrival_time"].values).any()

"""Initial water, hot start and flood-run bad input, through the scene API (docs/flood-solver.md).

1. lakes at several levels separated by dry land, over rough ground, stay at rest to the
   round-off bound of tests/test_swe_verification.py;
2. a dam break from an initial-water polygon against Stoker (wet bed) and Ritter (dry bed);
3. the volume balance in summary.json includes the initial water;
4. a hot start continues an earlier run bitwise;
5. bad input: one-line InputError, nothing written; a scene with no probes runs; a grid too
   large for the memory is refused before anything is allocated;
6. water bodies from CityJSON and OSM, and Delft's canals, become initial water.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import shapely
import xarray as xr
from shared_data import DATA, need
from test_swe_verification import (
    DAM_WIDTH,
    DEVICES,
    UNIT_ROUNDOFF,
    advance_steps,
    bumpy_bed,
    cell_average,
    dam_break_depth,
    host,
    lake_bounds,
)
from twin.physics.swe.from_scene import flood_problem
from twin.physics.swe.hot_start import load_hot_start, parse_hot_start
from twin.physics.swe.run import FloodRun
from twin.physics.swe.solver import FloodSolver

from twin.app.runs import execute
from twin.errors import InputError
from twin.io.water import initial_water, shore_level
from twin.scene import (
    Boundary,
    Heightfield,
    Inflow,
    InitialWater,
    Probe,
    Rain,
    Scene,
    TimeSeries,
    load_scene,
    save_scene,
)

pytestmark = pytest.mark.data  # needs ../shared/data


def run_flood(run: FloodRun, out, *, hot_start=None, **kwargs) -> dict:
    """``twin run`` from Python, with ``--hot-start``."""
    run.hot_start = None if hot_start is None else str(hot_start)
    return execute(run, out, **kwargs)


ROOT = Path(__file__).resolve().parents[1]


def box(x0, y0, x1, y1):
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], float)


def flat_scene(width, height, *, initial_water, **kw):
    """A flat bed at 0 m over (0, 0, width, height) [m], no friction, walls all round."""
    terrain = Heightfield(np.zeros((2, 2)), 0.0, 0.0, width / 2, height / 2)
    return Scene("flat", "EPSG:32633", (0.0, 0.0), (0.0, 0.0, width, height), terrain, default_manning=0.0,
                 initial_water=initial_water, **kw)


# === 1. lakes at rest =========================================================================

N_LAKE = 48


def lakes_scene():
    """Three basins on a rough 48 x 48 m bed (the verification's bumpy bed, 100 m datum) split by
    3 m ridges: the whole domain at 100.4 m, then the middle basin at 100.7 m and the east one
    at 101.0 m (later entries override earlier ones), each with islands of the rough ground."""
    z = bumpy_bed(N_LAKE, seed=3)
    z[:, 15:17] = z[:, 31:33] = 103.0
    terrain = Heightfield(z, 0.0, 0.0, 1.0, 1.0)
    water = [InitialWater(100.4), InitialWater(100.7, box(16, -5, 32, 60)), InitialWater(101.0, box(32, 0, 48, 48))]
    return Scene("lakes", "EPSG:32633", (0.0, 0.0), (0.0, 0.0, N_LAKE, N_LAKE), terrain, default_manning=0.0,
                 initial_water=water)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_lakes_at_several_levels_stay_at_rest(dtype, device):
    steps = 1000
    model, control, fg = flood_problem(lakes_scene(), resolution=1.0, dtype=dtype, device=device)
    state = model.state_from_stage(fg.initial_stage)
    h0 = host(state.h, model.shape)
    stage0 = h0 + fg.bed
    wet0 = h0 > 0
    for cols, level in ((slice(0, 15), 100.4), (slice(17, 31), 100.7), (slice(33, 48), 101.0)):
        assert np.allclose(stage0[:, cols][wet0[:, cols]], level, atol=1e-5), level  # each basin at its level
        assert (~wet0[:, cols]).any(), "islands poke out of each lake"
    assert not wet0[:, 15:17].any() and not wet0[:, 31:33].any()  # the ridges stay dry land
    sol = FloodSolver(model, control)
    s, _, dt_max = advance_steps(sol, control, state, steps)
    h = host(s.h, model.shape)
    wet = h > model.h_dry
    speed = np.hypot(host(s.hu, model.shape), host(s.hv, model.shape))
    r = {"u_max": float((speed[wet] / h[wet]).max()), "stage_dev": float(np.abs(h - h0)[wet].max()),
         "e_max": float((h0 + host(model.bed, model.shape))[wet0].max()), "dt_max": dt_max, "dx": model.dx}
    bound = lake_bounds(r, dtype, steps)
    assert r["u_max"] <= bound["u_max"], (r, bound)
    assert r["stage_dev"] <= bound["stage_dev"], (r, bound)
    assert np.all(h[~wet0] == 0)  # dry land and islands stay dry


# === 2. dam breaks from an initial-water polygon ==============================================


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("hr", [0.1, 0.0], ids=["stoker-wet", "ritter-dry"])
def test_dam_break_from_initial_water_polygon(tmp_path, hr, device):
    # the verification's dam break (h_l = 1 m | h_r on [0, 10] m, dam at 5 m, t = 0.6 s), built as
    # a scene: a 2-cell-wide channel of 400 square cells, the reservoir an initial-water polygon
    # over a bed at 0 m (and a first entry at h_r for Stoker's wet bed)
    n, L, T = 400, 10.0, 0.6
    dx = L / n
    water = ([InitialWater(hr)] if hr > 0 else []) + [InitialWater(1.0, box(0.0, 0.0, 5.0, 2 * dx))]
    run = FloodRun(flat_scene(L, 2 * dx, initial_water=water), duration=T, output_interval=T, probe_interval=T, resolution=dx)
    summary = run_flood(run, tmp_path, parameters={}, progress=False, device=device)
    assert summary["grid"]["nx"] == n and summary["grid"]["ny"] == 2
    depth = xr.open_zarr(tmp_path / "result.zarr", decode_times=False)["depth"]
    assert float(depth.time[-1]) == T
    exact = cell_average(lambda x: dam_break_depth(x, T, 1.0, hr, 5.0), np.arange(n + 1) * dx)
    l1 = float(np.abs(depth.values[-1, 0].astype(np.float64) - exact).sum() * dx)
    # the verification's bound on the L1 error of order 2: the jumps smeared over <= 1 cell
    assert l1 <= DAM_WIDTH[2] * (1.0 - hr) * dx, l1
    assert np.array_equal(depth.values[-1, 0], depth.values[-1, 1])  # the rows stay identical


# === 3. volume balance with initial water =====================================================


def basin_scene(**kw):
    """A 40 x 30 m sloping basin: a reservoir polygon at 1.2 m (bed 0-0.8 m), a pond at 0.5 m,
    time-varying rain and an inflow, infiltration, a probe."""
    x = np.arange(40) + 0.5
    z = np.tile(0.02 * x, (30, 1)) + 0.05 * np.sin(np.arange(30) / 3.0)[:, None]
    terrain = Heightfield(z, 0.0, 0.0, 1.0, 1.0)
    defaults = {
        "initial_water": [InitialWater(1.2, box(0, 0, 12, 30)), InitialWater(0.5, box(25, 5, 35, 25))],
        "rain": Rain(TimeSeries([0.0, 5.0, 20.0], [0.0, 200.0, 50.0]), infiltration=20.0),
        "inflows": [Inflow("pipe", (30.0, 15.0), 2.0, TimeSeries([0.0, 10.0, 20.0], [0.0, 0.5, 0.1]))],
        "probes": [Probe("p", 20.0, 15.0)],
    }
    defaults.update(kw)
    return Scene("basin", "EPSG:32633", (0.0, 0.0), (0.0, 0.0, 40.0, 30.0), terrain, default_manning=0.03, **defaults)


def initial_volume(scene, resolution):
    """The initial water's volume [m^3] from the rasterised bed, in float64."""
    model, _, fg = flood_problem(scene, resolution=resolution, dtype="float64", device="cpu")
    return float(np.nansum(np.maximum(fg.initial_stage - fg.bed, 0.0)) * model.cell_area)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_volume_balance_includes_initial_water(tmp_path, dtype):
    scene = basin_scene()
    run = FloodRun(scene, duration=20.0, output_interval=5.0, probe_interval=1.0, resolution=1.0, dtype=dtype)
    summary = run_flood(run, tmp_path, parameters={}, progress=False)
    vb = json.loads((tmp_path / "summary.json").read_text())["volume_balance"]
    v0 = initial_volume(scene, 1.0)
    assert vb["initial_m3"] == pytest.approx(v0, rel=8 * UNIT_ROUNDOFF[dtype])  # the depths' rounding to dtype
    assert vb["initial_m3"] > 100.0 and vb["sources_m3"] > 0 and vb["infiltrated_m3"] > 0
    # the verification's bound: K = 8 roundings of size u h per cell and step
    assert abs(vb["relative_error"]) <= summary["steps"] * 8 * UNIT_ROUNDOFF[dtype], vb


# === 4. hot start =============================================================================


def _states(out):
    with np.load(out / "run" / "checkpoint.npz") as z:
        return {k: z[k] for k in z.files if k.startswith("state_")}


@pytest.mark.parametrize("device", DEVICES)
def test_hot_start_continues_bitwise(tmp_path, device):
    scene = basin_scene(boundaries={"east": Boundary("transmissive")})
    T = 10.0

    def run(duration, out, hot_start=None):
        r = FloodRun(scene, duration=duration, output_interval=2.5, probe_interval=1.0, resolution=1.0)
        return run_flood(r, tmp_path / out, parameters={}, progress=False, hot_start=hot_start, device=device)

    whole = run(2 * T, "whole")
    run(T, "first")
    second = run(2 * T, "second", hot_start=tmp_path / "first")  # from the last stored time, T
    assert second["hot_start"]["time_s"] == T
    assert whole["steps"] == run(T, "again")["steps"] + second["steps"]
    a, b = _states(tmp_path / "whole"), _states(tmp_path / "second")
    assert set(a) == {"state_h", "state_hu", "state_hv", "state_infiltrated"}
    for k in a:
        assert np.array_equal(a[k], b[k]), k
    assert np.abs(a["state_infiltrated"]).max() > 0  # the infiltrated depth is carried over too
    # from a stored time in the middle of a run, named after the colon
    run(2 * T, "middle", hot_start=f"{tmp_path / 'whole'}:{T}")
    for k, v in _states(tmp_path / "middle").items():
        assert np.array_equal(a[k], v), k
    # a hot-started run stopped part way resumes (without naming the hot start again) bitwise
    def stop(sim):
        if sim.t > 1.5 * T:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_flood(FloodRun(scene, duration=2 * T, output_interval=2.5, probe_interval=1.0, resolution=1.0), tmp_path / "resumed",
                  parameters={}, progress=False, hot_start=tmp_path / "first", on_step=stop, device=device)
    resumed = run_flood(FloodRun(scene, duration=2 * T, output_interval=2.5, probe_interval=1.0, resolution=1.0),
                        tmp_path / "resumed", parameters={}, progress=False, resume=True, device=device)
    assert resumed["hot_start"]["time_s"] == T
    for k, v in _states(tmp_path / "resumed").items():
        assert np.array_equal(a[k], v), k
    ds_whole, ds_second = xr.open_zarr(tmp_path / "whole" / "result.zarr", decode_times=False), xr.open_zarr(tmp_path / "second" / "result.zarr", decode_times=False)
    assert list(ds_second.time.values) == [10.0, 12.5, 15.0, 17.5, 20.0]
    assert np.array_equal(ds_whole.depth.sel(time=ds_second.time).values, ds_second.depth.values)
    assert np.array_equal(ds_whole.probe_depth.sel(probe_time=ds_second.probe_time).values, ds_second.probe_depth.values)


def test_parse_hot_start():
    assert parse_hot_start("out/spin") == (parse_hot_start("out/spin")[0], None)
    assert parse_hot_start("out/spin:3600")[1] == 3600.0
    assert str(parse_hot_start("out/spin:3600")[0]) == "out/spin"
    assert parse_hot_start("c:/runs/spin")[1] is None


# === 5. bad input, no probes, memory ==========================================================


def test_scene_with_initial_water_saves_and_loads(tmp_path):
    stage = Heightfield(np.full((3, 4), 0.7), -1.0, -1.0, 15.0, 15.0)
    scene = basin_scene(initial_water=[InitialWater(0.3), InitialWater(stage, box(1, 1, 9, 9))])
    loaded = load_scene(save_scene(scene, tmp_path / "basin.twin"))
    assert loaded.initial_water[0].stage == 0.3 and loaded.initial_water[0].polygon is None
    assert np.array_equal(loaded.initial_water[1].stage.elevation, stage.elevation)
    assert np.array_equal(loaded.initial_water[1].polygon, box(1, 1, 9, 9))
    fg1 = flood_problem(scene, resolution=1.0, device="cpu")[2]
    fg2 = flood_problem(loaded, resolution=1.0, device="cpu")[2]
    assert np.array_equal(fg1.initial_stage, fg2.initial_stage, equal_nan=True)


@pytest.mark.parametrize("water, message", [
    ([InitialWater(1.0, box(100, 100, 120, 120))], r"initial_water\[0\]: the polygon .* lies outside the domain"),
    ([InitialWater(1.0), InitialWater(1.0, np.array([[0, 0], [10, 10], [10, 0], [0, 10]], float))],
     r"initial_water\[1\]: the polygon is invalid \(Self-intersection"),
    ([InitialWater(Heightfield(np.ones((2, 2)), 0.0, 0.0, 10.0, 10.0))],
     r"initial_water\[0\].stage: the stage raster .* does not cover the area it fills"),
])
def test_bad_initial_water_is_refused_in_one_line(water, message):
    with pytest.raises(InputError, match=message) as e:
        basin_scene(initial_water=water)
    assert "\n" not in str(e.value)


def test_initial_water_stage_raster_and_polygon_limits():
    # a stage raster that covers only the polygon it fills is enough; where its bilinear
    # sample is NaN (no data) the earlier entries stay
    levels = np.full((4, 4), 0.9)
    levels[3, 3] = np.nan  # the raster's north-east cell, x and y in (7.5, 10) m
    stage = Heightfield(levels, 0.0, 0.0, 2.5, 2.5)
    scene = basin_scene(initial_water=[InitialWater(0.1), InitialWater(stage, box(0, 0, 10, 10))])
    fg = flood_problem(scene, resolution=1.0, device="cpu")[2]
    s = fg.initial_stage
    assert np.allclose(s[:6, :6], 0.9, rtol=0, atol=1e-12)  # samples away from the NaN
    assert s[9, 9] == 0.1 and np.all(s[12:, 12:] == 0.1)  # the NaN, and outside the polygon


def test_hot_start_from_another_grid_or_crs_is_refused_and_nothing_written(tmp_path):
    scene = basin_scene()
    run_flood(FloodRun(scene, duration=2.0, output_interval=1.0, resolution=1.0), tmp_path / "first", parameters={}, progress=False)
    coarse = FloodRun(scene, duration=4.0, output_interval=1.0, resolution=2.0)
    with pytest.raises(InputError, match=r"first: summary.json: grid: nx is 40, this run's is 20: a hot start needs the same grid") as e:
        run_flood(coarse, tmp_path / "second", parameters={}, progress=False, hot_start=tmp_path / "first")
    assert "\n" not in str(e.value)
    other = basin_scene()
    other.crs = "EPSG:32634"
    with pytest.raises(InputError, match="CRS is EPSG:32633, this run's is EPSG:32634"):
        run_flood(FloodRun(other, duration=4.0, output_interval=1.0, resolution=1.0), tmp_path / "second", parameters={},
                  progress=False, hot_start=tmp_path / "first")
    same = FloodRun(scene, duration=4.0, output_interval=1.0, resolution=1.0)
    with pytest.raises(InputError, match=r"time 1.5 s: is not a stored output time; stored: 0, 1, 2 s"):
        run_flood(same, tmp_path / "second", parameters={}, progress=False, hot_start=f"{tmp_path / 'first'}:1.5")
    with pytest.raises(InputError, match="no such result folder"):
        run_flood(same, tmp_path / "second", parameters={}, progress=False, hot_start=tmp_path / "nothing")
    with pytest.raises(InputError, match=r"start time: 2.0 s must lie in \[0, duration = 2.0 s\)"):
        run_flood(FloodRun(scene, duration=2.0, output_interval=1.0, resolution=1.0), tmp_path / "second", parameters={},
                  progress=False, hot_start=tmp_path / "first")
    assert not (tmp_path / "second").exists()


def test_load_hot_start_reads_the_stored_state(tmp_path):
    scene = basin_scene()
    run_flood(FloodRun(scene, duration=2.0, output_interval=1.0, resolution=1.0), tmp_path, parameters={}, progress=False)
    model = flood_problem(scene, resolution=1.0, device="cpu")[0]
    state, t = load_hot_start(tmp_path, model, crs=scene.crs, time=1.0)
    with np.load(tmp_path / "run" / "snapshot_00001.npz") as z:
        assert t == float(z["time"]) == 1.0
        assert np.array_equal(state.h.numpy(), z["state_h"])
        assert np.array_equal(z["depth"], z["state_h"].reshape(model.shape))  # float32 runs: the same numbers


def test_scene_with_no_probes_buildings_zones_or_inflows_runs(tmp_path):
    scene = basin_scene(rain=None, inflows=[], probes=[])
    summary = run_flood(FloodRun(scene, duration=3.0, output_interval=1.0, resolution=1.0), tmp_path, parameters={}, progress=False)
    assert summary["status"] == "complete"
    ds = xr.open_zarr(tmp_path / "result.zarr", decode_times=False)
    assert ds.sizes["probe"] == 0 and ds.sizes["time"] == 4 and float(ds["depth"].max()) > 0


def test_a_grid_too_large_for_the_memory_is_refused_before_allocating():
    scene = basin_scene()
    with pytest.raises(InputError, match=r"resolution: a grid of 40000 x 30000 = 1,200,000,000 cells of 0.001 x 0.001 m "
                                         r"needs about \d+ GiB of host memory .*; [\d.e+]+ GiB is available: use a coarser resolution"):
        flood_problem(scene, resolution=1e-3, device="cpu")


# === 6. water bodies from the importers =======================================================


def test_shore_level_is_the_lowest_bank():
    # a valley sloping down to the east (0.1 m per m) with a pond in the middle; the bank is
    # sampled 1.5 terrain cells outside the outline, so its lowest point is on the east side
    x = np.arange(20) + 0.5
    terrain = Heightfield(np.tile(10.0 - 0.1 * x, (20, 1)), 0.0, 0.0, 1.0, 1.0)
    pond = box(5, 5, 12, 15)
    assert shore_level(pond, terrain) == pytest.approx(10.0 - 0.1 * (12 + 1.5), abs=1e-9)
    (w,) = initial_water([pond], terrain)
    assert w.stage == pytest.approx(8.65) and np.array_equal(w.polygon, pond)
    assert initial_water([pond], terrain, level=9.0)[0].stage == 9.0  # the scene's level wins
    assert initial_water([pond, box(50, 50, 60, 60)], terrain, extent=(0, 0, 20, 20)) == [w]  # outside: left out
    with pytest.raises(InputError, match="its shore lies outside the terrain"):
        shore_level(box(40, 40, 50, 50), terrain)


def test_cityjson_water_bodies_at_their_levels():
    from twin.io.cityjson import read_cityjson

    city = read_cityjson(need(DATA / "city" / "delft.city.json"))
    # the three WaterBody objects of the file, each a flat surface at its level [m NAP]
    assert [round(w.stage, 6) for w in city.water] == [-0.42, -0.15, 0.13]
    assert [round(shapely.Polygon(w.polygon).area) for w in city.water] == [11935, 3861, 270]


def test_osm_water_areas_become_initial_water():
    pytest.importorskip("osmium")
    from twin.io.osm import read_osm

    osm = read_osm(need(DATA / "city" / "moscow.osm"))
    # the extract's water: two natural=water and one landuse=reservoir closed ways
    assert osm.counts["water_bodies"] == len(osm.water) == 3
    tilted = Heightfield(np.add.outer(np.arange(40.0), np.arange(50.0)) * 0.1 + 120.0, osm.extent[0], osm.extent[1],
                         (osm.extent[2] - osm.extent[0]) / 50, (osm.extent[3] - osm.extent[1]) / 40)
    water = initial_water(osm.water, tilted)
    assert all(tilted.elevation.min() < w.stage < tilted.elevation.max() for w in water)


def test_delft_canals_start_full():
    from twin.script import load_script, parameters_of

    need(DATA / "city" / "delft.city.json")
    script = load_script(ROOT / "scenes" / "delft_cloudburst.py")
    run = script.setup(parameters_of(script, "delft_cloudburst.py", []))
    assert [round(w.stage, 2) for w in run.scene.initial_water] == [-0.42, -0.15, 0.13]
    model, _, fg = flood_problem(run.scene, resolution=2.0, device="cpu")
    depth = np.nan_to_num(np.maximum(fg.initial_stage - fg.bed, 0.0))
    assert depth.max() == pytest.approx(1.5)  # canal_depth below the water level
    assert 8e3 < depth.sum() * model.cell_area < 2e4  # m^3 in the canals inside the domain


# === 7. a river scene: spin-up, then a hot-started flood ======================================


def test_james_creek_spin_up_then_hot_started_flood(tmp_path):
    from twin.script import load_script, parameters_of

    need(DATA / "terrain" / "boulder_creek_srtmgl3.asc")
    path = ROOT / "scenes" / "james_creek_river.py"
    script = load_script(path)
    coarse = ["resolution=180", "flood_start=1800", "rise=900", "fall=1800", "output_interval=600", "probe_interval=60"]

    def run(out, duration, hot_start=None):
        params = parameters_of(script, path, coarse + [f"duration={duration}"])
        return run_flood(script.setup(params), tmp_path / out, parameters=params, progress=False, hot_start=hot_start)

    spin = run("spin", 1800)  # the base flow only
    flood = run("flood", 9000, hot_start=tmp_path / "spin")
    assert flood["hot_start"]["time_s"] == 1800.0
    assert flood["volume_balance"]["initial_m3"] == pytest.approx(spin["volume_balance"]["stored_m3"], rel=1e-12)
    assert flood["volume_balance"]["boundary_inflow_m3"]["east"] < 0  # the flood leaves downstream
    assert abs(flood["volume_balance"]["relative_error"]) < 1e-5
    ds = xr.open_zarr(tmp_path / "flood" / "result.zarr", decode_times=False)
    inflow = ds.probe_depth.sel(probe="inflow")
    assert float(inflow.max()) > 3 * float(inflow.isel(probe_time=0))  # the flood wave over the base flow
    whole = run("whole", 9000)
    a, b = _states(tmp_path / "whole"), _states(tmp_path / "flood")
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert whole["steps"] == spin["steps"] + flood["steps"]


def test_a_large_grid_announces_its_size_and_memory(capsys):
    from twin.physics.swe.from_scene import ANNOUNCE_CELLS, check_memory

    from twin.raster import Grid

    check_memory(Grid(0.0, 0.0, 1.0, 1.0, 2000, ANNOUNCE_CELLS // 2000), "float32", "cpu")  # nothing allocated
    err = capsys.readouterr().err
    assert err.startswith("twin: grid 2000 x 2000 = 4,000,000 cells of 1 x 1 m: about 0.745 GiB of host memory and 0.581 GiB on cpu")
    check_memory(Grid(0.0, 0.0, 1.0, 1.0, 100, 100), "float32", "cpu")
    assert capsys.readouterr().err == ""


def test_osm_city_fills_its_water_bodies_on_a_dem(tmp_path):
    pytest.importorskip("osmium")
    pytest.importorskip("rasterio")
    from test_dem import _geotiff

    from twin.script import load_script, parameters_of

    osm = need(DATA / "city" / "moscow.osm")
    lon = np.linspace(37.55, 37.66, 120)
    values = np.tile(150.0 + 2000.0 * (lon - 37.55), (40, 1)).astype(np.float32)  # rising eastward, 10 m per 90 m
    step = lon[1] - lon[0]
    tif = _geotiff(tmp_path / "dem.tif", values, 37.55 - step / 2, 55.83 + step / 2, step, "EPSG:4326")
    path = ROOT / "scenes" / "osm_city.py"
    script = load_script(path)
    scene = script.setup(parameters_of(script, path, [f"osm={osm}", f"dem={tif}"])).scene
    assert len(scene.initial_water) >= 1  # the extract's water bodies that hold a cell centre
    for w in scene.initial_water:
        assert w.stage == shore_level(w.polygon, scene.terrain)
    fg = flood_problem(scene, resolution=10.0, device="cpu")[2]
    levels = np.unique(fg.initial_stage[np.isfinite(fg.initial_stage)])
    assert set(levels) == {w.stage for w in scene.initial_water}  # each body's cells at its level (on a tilted
    # plane the lowest bank is the lowest ground, so these hold no water: a pond needs a hollow)
    dry = script.setup(parameters_of(script, path, [f"osm={osm}", f"dem={tif}", "fill_water=false"])).scene
    assert dry.initial_water == []

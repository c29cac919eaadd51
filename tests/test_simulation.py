"""The twin core end to end: scene scripts, `twin run`, results, resume, Ctrl-C, bad input."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from twin.physics.simulation import Run

from tests.conftest import whole_and_resumed
from tests.fill_reference import fill_by_whole_grid_passes
from twin.app.cli import main
from twin.app.runs import execute
from twin.scene import load_scene, save_scene
from twin.script import load_script, parameters_of, setup_run

ROOT = Path(__file__).resolve().parents[1]
SCENE = ROOT / "scenes" / "merewether.py"
DATA = ROOT.parent / "shared" / "data" / "flood" / "merewether"
TWIN = [sys.executable, "-m", "twin.app.cli"]
COARSE = ["--set", "resolution=8", "--set", "duration=120", "--set", "output_interval=20", "--set", "probe_interval=5"]

needs_data = pytest.mark.skipif(not DATA.is_dir(), reason="the Merewether case needs ../shared/data (CI lays it beside the clone)")


def _assignments(args: list[str]) -> list[str]:
    return [a for a in args if a != "--set"]


def _run(out: Path, args=COARSE, **kw) -> dict:
    script = load_script(SCENE)
    params = parameters_of(script, SCENE, _assignments(args))
    return execute(script.setup(params), out, parameters=params, script=str(SCENE), progress=False, **kw)


def _assert_same_result(a: Path, b: Path) -> None:
    da, db = xr.open_zarr(a / "result.zarr", decode_times=False), xr.open_zarr(b / "result.zarr", decode_times=False)
    assert set(da.data_vars) == set(db.data_vars)
    for name in da.data_vars:
        assert np.array_equal(da[name].values, db[name].values, equal_nan=True), name
    np.testing.assert_array_equal(da["time"].values, db["time"].values)
    np.testing.assert_array_equal(da["probe_time"].values, db["probe_time"].values)


@needs_data
def test_result_has_cf_names_units_and_crs(tmp_path):
    summary = _run(tmp_path)
    ds = xr.open_zarr(tmp_path / "result.zarr", decode_times=False)
    for name in ("depth", "stage", "u", "v"):
        assert ds[name].dims == ("time", "y", "x")
    for name in ("max_depth", "max_stage", "max_speed", "time_of_max_depth"):
        assert ds[name].dims == ("y", "x")
    assert ds["depth"].attrs["units"] == "m" and ds["u"].attrs["units"] == "m s-1"
    assert ds["time_of_max_depth"].attrs["units"] == "s" and ds["time"].attrs["units"] == "seconds since 2000-01-01 00:00:00"
    assert ds["max_depth"].attrs["grid_mapping"] == "spatial_ref" and "crs_wkt" in ds["spatial_ref"].attrs
    assert ds.attrs["crs"] == "EPSG:32756"
    np.testing.assert_allclose(ds["time"].values, np.arange(0, 121, 20.0))
    assert ds.sizes["probe"] == 12
    # cell centres in the scene CRS, 8 m apart, inside extent.csv
    assert 382250 < ds["x"].values[0] < ds["x"].values[-1] < 382571
    assert np.allclose(np.diff(ds["x"].values), ds["x"].values[1] - ds["x"].values[0])
    assert summary["steps"] > 0 and summary["cells"] == ds.sizes["x"] * ds.sizes["y"]
    assert summary["volume_balance"]["sources_m3"] == pytest.approx(19.7 * 120, rel=1e-9)
    assert abs(summary["volume_balance"]["relative_error"]) < 1e-5  # float32 state, float64 sums
    assert np.nanmax(ds["max_depth"].values) > 0.1
    on_disk = json.loads((tmp_path / "summary.json").read_text())
    assert on_disk["parameters"]["resolution"] == 8.0 and "warp" in on_disk["versions"]


@needs_data
def test_resume_after_interrupt_is_bitwise_equal(tmp_path):
    _run(tmp_path / "whole")

    def interrupt(sim):
        if sim.t > 50:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path / "parts", on_step=interrupt)
    partial = xr.open_zarr(tmp_path / "parts" / "result.zarr", decode_times=False)
    assert partial.attrs["status"] == "interrupted"
    assert partial["time"].values[-1] == 40.0  # valid up to the last output
    summary = _run(tmp_path / "parts", resume=True)
    assert summary["status"] == "complete"
    _assert_same_result(tmp_path / "whole", tmp_path / "parts")


@needs_data
def test_killed_process_resumes_bitwise(tmp_path):
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    args = [*TWIN, "run", str(SCENE), *COARSE, "--set", "duration=300", "--quiet"]
    subprocess.run([*args, "--out", str(whole)], check=True, cwd=ROOT)
    proc = subprocess.Popen([*args, "--out", str(killed)], cwd=ROOT)
    ckpt = killed / "run" / "checkpoint.npz"
    deadline = time.time() + 60
    while time.time() < deadline and not (killed / "run" / "snapshot_00003.npz").exists():
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert ckpt.exists() and not (killed / "result.zarr").exists()
    subprocess.run([*TWIN, "run", str(SCENE), *COARSE, "--set", "duration=300", "--quiet", "--resume", str(killed)], check=True, cwd=ROOT)
    _assert_same_result(whole, killed)


@needs_data
def test_ctrl_c_leaves_a_valid_result(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.Popen([*TWIN, "run", str(SCENE), "--set", "resolution=4", "--set", "output_interval=10", "--quiet", "--out", str(out)],
                            cwd=ROOT, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not (out / "run" / "snapshot_00003.npz").exists():
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    ds = xr.open_zarr(out / "result.zarr", decode_times=False)
    # snapshot 3 exists, so checkpoint 2 did (a checkpoint follows its snapshot): at least 3 outputs
    assert ds.attrs["status"] == "interrupted" and ds.sizes["time"] >= 3
    assert "--resume" in err and "Traceback" not in err


def _cli(args: list[str], capsys) -> tuple[int, str]:
    rc = main(args)
    captured = capsys.readouterr()
    return rc, captured.err


@needs_data
@pytest.mark.parametrize(
    "args, expected",
    [
        (["--set", "nope=1"], "unknown parameter 'nope'"),
        (["--set", "resolution=abc"], "parameter resolution: 'abc' is not a valid float"),
        (["--set", "resolution=-1"], "parameter resolution: must be > 0"),
        (["--set", "buildings=melt"], "parameter buildings: 'melt' is not one of raise, wall"),
        (["--set", "data=/nonexistent"], "/nonexistent/extent.csv"),
    ],
)
def test_bad_parameters_are_one_line_and_exit_2(tmp_path, capsys, args, expected):
    rc, err = _cli(["run", str(SCENE), *args, "--out", str(tmp_path / "o")], capsys)
    assert rc == 2
    assert expected in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o" / "result.zarr").exists()


def _broken_copy(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    shutil.copytree(DATA, data)
    return data


@needs_data
def test_bad_files_are_one_line_and_exit_2(tmp_path, capsys):
    data = _broken_copy(tmp_path)
    import zipfile

    with zipfile.ZipFile(DATA / "topography1.zip") as z:
        text = z.read("topography1.asc").decode()
    lines = text.splitlines()
    with zipfile.ZipFile(data / "topography1.zip", "w") as z:  # the header says 416 rows, 415 follow
        z.writestr("topography1.asc", "\n".join(lines[:-1]) + "\n")
    rc, err = _cli(["run", str(SCENE), "--set", f"data={data}", "--out", str(tmp_path / "o")], capsys)
    assert rc == 2 and "topography1.zip!topography1.asc" in err and "416" in err, err
    shutil.copy(DATA / "topography1.zip", data / "topography1.zip")
    (data / "RoadPolygon.csv").write_text("382213.8,6354235.2\n382229.8,6354242.9\n")
    rc, err = _cli(["run", str(SCENE), "--set", f"data={data}", "--out", str(tmp_path / "o")], capsys)
    assert rc == 2 and "RoadPolygon.csv" in err, err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o" / "result.zarr").exists()


@needs_data
def test_probe_outside_domain_is_rejected(tmp_path):
    from twin.errors import InputError
    from twin.scene import Probe

    script = load_script(SCENE)
    run = script.setup(parameters_of(script, SCENE, []))
    run.scene.probes.append(Probe("far", 0.0, 0.0))
    with pytest.raises(InputError, match="probe 'far'.*outside the domain"):
        type(run.scene)(**{k: getattr(run.scene, k) for k in run.scene.__dataclass_fields__})


@needs_data
def test_scene_saves_and_loads_losslessly(tmp_path):
    script = load_script(SCENE)
    scene = script.setup(parameters_of(script, SCENE, [])).scene
    path = save_scene(scene, tmp_path / "merewether.twin")
    back = load_scene(path)
    assert back.crs == scene.crs and back.extent == scene.extent and back.origin == scene.origin
    assert np.array_equal(back.terrain.elevation, scene.terrain.elevation, equal_nan=True)
    assert [b.name for b in back.buildings] == [b.name for b in scene.buildings]
    for a, b in zip(back.buildings, scene.buildings):
        assert np.array_equal(a.footprint, b.footprint) and a.height == b.height
    assert back.inflows[0].center == scene.inflows[0].center
    assert back.inflows[0].discharge(500.0) == scene.inflows[0].discharge(500.0)
    assert back.boundaries["east"].kind == "transmissive"
    assert [(p.name, p.x, p.y) for p in back.probes] == [(p.name, p.x, p.y) for p in scene.probes]


@needs_data
def test_inspect_reads_the_dem(capsys):
    assert main(["inspect", str(DATA / "topography1.zip"), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["crs"] == "EPSG:32756" and list(d["shape"]) == [416, 321]


def test_run_help_lists_parameters(capsys):
    assert main(["run", str(SCENE), "--help"]) == 0
    out = capsys.readouterr().out
    assert "resolution [m] = 1.0" in out and "inflow [m3/s] = 19.7" in out


@needs_data
@pytest.mark.parametrize("script", sorted(p for p in (ROOT / "scenes").glob("*.py") if not p.stem.startswith("_")), ids=lambda p: p.stem)
def test_every_scene_script_runs_a_few_seconds(tmp_path, script):
    module = load_script(script)
    params = parameters_of(module, script, [])
    for name, value in (("duration", 10.0), ("output_interval", 5.0), ("resolution", 8.0), ("dwell", 0.0),
                        ("hours", 0.5), ("output_hours", 0.25), ("particles", 2000)):
        if name in params:
            params[name] = value
    run = setup_run(module, params, (Run,))
    if run.kind == "machine":  # the whole log: a run shortened to its first day
        run.times, run.readings = run.times[:288], run.readings[:288]
    execute(run, tmp_path, parameters=params, script=str(script), progress=False)
    ds = xr.open_zarr(tmp_path / "result.zarr", decode_times=False)
    assert ds.attrs["twin_kind"] == run.kind
    name = {"flood": "depth", "dispersion": "concentration", "robot": "q", "machine": "z"}[run.kind]
    assert np.isfinite(ds[name].values).all()


@needs_data
def test_nan_guard_stops_with_where_and_when(tmp_path):
    from twin.errors import SimulationError

    def poison(sim):
        if sim.steps == 30:
            h = sim.state.h.numpy()
            h[5 * sim.solver.model.nx + 7] = np.nan
            sim.state.h.assign(h)

    with pytest.raises(SimulationError, match=r"at t=\d+\.\d+ s, step 30: cell \(i=7, j=5\) at x=.* m, y=.* m: depth nan"):
        _run(tmp_path, on_step=poison)
    ds = xr.open_zarr(tmp_path / "result.zarr", decode_times=False)
    assert ds.attrs["status"] == "failed" and np.isfinite(ds["depth"].values).all()


@needs_data
def test_fixed_dt_beyond_cfl_is_refused(tmp_path):
    from twin.errors import SimulationError

    script = load_script(SCENE)
    params = parameters_of(script, SCENE, _assignments(COARSE))
    run = script.setup(params)
    run.fixed_dt = 2.0  # 8 m cells, |u| + c of several m/s: the CFL limit is well under 1 s
    with pytest.raises(SimulationError, match="fixed dt 2.0 s exceeds the CFL limit"):
        execute(run, tmp_path, parameters=params, progress=False)
    run.fixed_dt = 0.05
    summary = execute(run, tmp_path / "ok", parameters=params, progress=False)
    assert summary["steps"] == pytest.approx(120 / 0.05, abs=30)  # plus the steps cut short at probe/output times


def test_courtyards_stay_open_and_floating_parts_do_not_block():
    from twin.raster import rasterise
    from twin.scene import Building, Heightfield, Scene

    square = np.array([[0, 0], [20, 0], [20, 20], [0, 20]], float)
    court = np.array([[6, 6], [14, 6], [14, 14], [6, 14]], float)
    scene = Scene("courtyard", "EPSG:32756", (0.0, 0.0), (0.0, 0.0, 40.0, 20.0), Heightfield(np.zeros((20, 40)), 0.0, 0.0, 1.0, 1.0),
                  buildings=[Building(square, 5.0, "block", holes=[court]), Building(square + [20, 0], 5.0, "bridge", min_height=3.0)])
    fg = rasterise(scene, 1.0)
    assert fg.bed[10, 10] == 0.0 and fg.bed[2, 2] == 5.0  # the courtyard is ground, the ring is raised
    assert not fg.building[:, 20:].any()  # the floating part leaves the ground open


def test_inflow_over_a_polygon_feeds_its_cells():
    from twin.raster import rasterise
    from twin.scene import Heightfield, Inflow, Scene, TimeSeries

    poly = np.array([[2, 2], [8, 2], [8, 5], [2, 5]], float)
    scene = Scene("p", "EPSG:32756", (0.0, 0.0), (0.0, 0.0, 10.0, 10.0), Heightfield(np.zeros((10, 10)), 0.0, 0.0, 1.0, 1.0),
                  inflows=[Inflow("culvert", (5.0, 3.5), 0.0, TimeSeries.constant(1.0), polygon=poly)])
    fg = rasterise(scene, 1.0)
    assert (fg.source_of_cell == 0).sum() == 18  # centres x 2.5..7.5 (6) by y 2.5..4.5 (3)


def test_resume_with_a_rising_stage_edge_is_bitwise_equal(tmp_path):
    """A resumed run takes its first step from the checkpoint's time, not from t = 0: a
    dry basin whose west edge stage jumps above the bed at the 20 s checkpoint (the
    edge's wave speed at that time limits the step; at t = 0 nothing would)."""
    from twin.physics.simulation import RunSettings, Simulation
    from twin.physics.swe import Control, FloodSolver, Model
    from twin.physics.swe.recorder import FloodRecorder

    from twin.scene import TimeSeries

    def simulation(out, on_step=None):
        bed = np.zeros((24, 40))
        model = Model.from_arrays(bed, dx=2.0, order=1, boundaries={"west": "stage"})
        control = Control(boundary_series={"west": TimeSeries([0.0, 19.9, 20.0], [-1.0, -1.0, 0.5])})
        solver = FloodSolver(model, control)
        recorder = FloodRecorder(solver, {"P": (12, 5)}, {"ground_elevation": bed, "building": bed > 0}, {})
        return Simulation(solver, recorder, model.state(0.0), control, RunSettings(40.0, 10.0), out, progress=False,
                          on_step=on_step)

    _assert_same_result(*whole_and_resumed(simulation, tmp_path, 25.0))


def test_fill_nodata_visits_only_the_frontier_and_equals_whole_grid_passes():
    """Bitwise the same fill as whole-grid passes, on random gaps (single cells, rims, corners, one
    valid cell); with data in one corner of 1500 x 1500 it fills 2.2 million cells in ~1500 rings."""
    from twin.raster import fill_nodata

    rng = np.random.default_rng(16)
    for _ in range(40):
        ny, nx = rng.integers(1, 50, 2)
        a = rng.normal(size=(ny, nx))
        a[rng.random((ny, nx)) < rng.random()] = np.nan
        a.flat[rng.integers(a.size)] = 1.0
        filled, count = fill_nodata(a)
        assert count == int(np.isnan(a).sum()) and np.array_equal(filled, fill_by_whole_grid_passes(a))
    corner = np.full((1500, 1500), np.nan)
    corner[:20, :20] = rng.normal(size=(20, 20))
    filled, count = fill_nodata(corner)
    assert count == 1500 * 1500 - 400 and np.isfinite(filled).all()
    assert np.array_equal(filled[:60, :60], fill_by_whole_grid_passes(corner[:60, :60]))

"""GPU readiness checked on the CPU: every Warp module of twin compiles for CUDA (NVRTC, no
GPU needed), device-resident stepping is bitwise the host-stepped loop (and today's
results), and every ensemble member is bitwise its own single run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import resident_case as case
import warp as wp
from twin.physics.cuda_check import compile_for_cuda, twin_modules
from twin.physics.simulation import RunSettings
from twin.physics.swe.ensemble import Member, run_ensemble, scenario_members

from twin.errors import InputError, SimulationError

pytestmark = pytest.mark.data  # needs ../shared/data

BRANCH_POINT = json.loads((Path(__file__).parent / "data" / "resident_case_b4768ec.json").read_text())
"""Hashes of the case's Result made with the code before device-resident stepping (b4768ec)."""


def test_every_twin_warp_module_compiles_for_sm80_and_sm90():
    modules = twin_modules()
    names = " ".join(modules)
    for expected in ("update_cells", "compute_x_fluxes", "track_maxima", "begin_step", "stage_controls",
                     "twin.physics.swe.recorder", "twin.physics.dispersion.kernels", "twin.physics.surrogates.mlp_warp", "conv3x3_relu"):
        assert expected in names, f"{expected} not found among {sorted(modules)}"
    assert sum("update_cells" in n for n in modules) == 2  # float32 and float64
    failures = compile_for_cuda(modules)
    assert not failures, "modules that do not compile for CUDA: " + "; ".join(f"{k}: {v}" for k, v in failures.items())


def test_a_module_that_does_not_compile_is_named(tmp_path):
    @wp.kernel(module="unique")
    def broken(a: wp.array(dtype=float)):
        a[wp.tid()] = wp.float32(1.0) + wp.int32(1)

    failures = compile_for_cuda({"broken_module": broken.module}, archs=(90,), module_dir=tmp_path)
    assert list(failures) == ["broken_module"]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_resident_stepping_is_bitwise_the_host_loop_and_the_branch_point(tmp_path, dtype):
    host, host_summary = case.run(tmp_path / "host", dtype=dtype)
    resident, resident_summary = case.run(tmp_path / "resident", dtype=dtype, resident=True)
    assert case.digest(host) == case.digest(resident)
    # the variables the Result had at the branch point are bitwise those of then (later ones are new fields)
    then = BRANCH_POINT[dtype]["result"]
    assert {k: v for k, v in case.digest(host).items() if k in then} == then
    for key in ("steps", "volume_balance"):
        assert host_summary[key] == resident_summary[key] == BRANCH_POINT[dtype][key]


def _bad_run(tmp_path, resident: bool, settings: RunSettings, poison: bool) -> str:
    from twin.physics.simulation import Simulation
    from twin.physics.swe import FloodSolver
    from twin.physics.swe.recorder import FloodRecorder

    model, control, state, probes = case.case()
    if poison:
        h = state.h.numpy()
        h[37 * case.NX + 11] = np.nan
        state.h.assign(h)
    solver = FloodSolver(model, control)
    recorder = FloodRecorder(solver, probes, {"ground_elevation": model.bed_elevation(), "building": np.zeros(model.shape, bool)}, {})
    sim = Simulation(solver, recorder, state, control, settings, tmp_path / str(resident), progress=False, resident=resident)
    with pytest.raises(SimulationError) as e:
        sim.run()
    return str(e.value)


@pytest.mark.parametrize("poison, settings", [(True, RunSettings(10.0, 5.0)), (False, RunSettings(10.0, 5.0, fixed_dt=5.0))],
                         ids=["nan-cell", "fixed-dt-too-large"])
def test_resident_guards_name_the_cell_time_and_step_as_the_host_loop(tmp_path, poison, settings):
    host = _bad_run(tmp_path, False, settings, poison)
    assert host == _bad_run(tmp_path, True, settings, poison)
    assert "at t=0.000 s, step 0" in host and ("cell (i=11, j=37)" in host if poison else "CFL limit" in host)


def test_ensemble_members_are_bitwise_their_single_runs(tmp_path):
    variants = [dict(manning=0.03), dict(manning=0.05, inflow=2.0, rain=0.5, level=0.2),
                dict(manning=0.02, inflow=0.5, rain=2.0, level=-0.1)]
    members = [Member(*case.case(**v)[:3]) for v in variants]
    ds = run_ensemble(members, RunSettings(**case.SETTINGS), tmp_path / "ensemble", probes=case.case()[3])
    summary = json.loads((tmp_path / "ensemble" / "summary.json").read_text())
    assert ds.depth.dims == ("member", "time", "y", "x") and ds.sizes["member"] == 3
    for k, v in enumerate(variants):
        single, single_summary = case.run(tmp_path / f"single{k}", **v)
        member = ds.isel(member=k)
        for name in single.data_vars:
            assert np.array_equal(single[name].values, member[name].values, equal_nan=single[name].dtype.kind == "f"), (k, name)
        assert single_summary["volume_balance"] == summary["member_volume_balance"][k]


def test_scenario_members_vary_one_scenario():
    model, control, state, _ = case.case()
    members = scenario_members(model, control, state, manning=[0.02, 0.04], inflow=[1.0, 3.0], rain=[1.0, 0.0], level=[0.0, 0.1])
    assert members[1].model.manning_n.numpy()[0] == np.float32(0.04)
    assert members[1].control.source_discharge[0].values[1] == 9.0
    assert not members[1].control.rain_rate.any()
    assert members[1].state.h.numpy().sum() > members[0].state.h.numpy().sum()
    with pytest.raises(InputError):
        scenario_members(model, control, state, manning=[0.02], inflow=[1.0, 2.0])


def test_ensemble_members_must_share_the_grid(tmp_path):
    a = Member(*case.case()[:3])
    model, control, state, _ = case.case()
    other = Member(type(model).from_arrays(model.bed_elevation() + 1.0, dx=model.dx, dtype=model.dtype), control, state)
    with pytest.raises(InputError, match="member 1"):
        run_ensemble([a, other], RunSettings(**case.SETTINGS), tmp_path)


def test_device_check_runs_in_cpu_smoke_mode(tmp_path):
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from device_check import main

    out = tmp_path / "smoke.json"
    assert main(["--cpu-smoke", "--out", str(out), "--only", "flood"]) == 0
    result = json.loads(out.read_text())
    assert result["device_name"] and result["copy_bandwidth_gb_s"] > 0
    for row in result["flood"]:
        assert set(row) >= {"grid", "dtype", "cell_updates_per_s", "bandwidth_gb_s", "fraction_of_bandwidth"}
        assert row["cell_updates_per_s"] > 0 and row["resident_cell_updates_per_s"] > 0
    assert {r["dtype"] for r in result["flood"]} == {"float32", "float64"}


def test_a_scene_ensemble_member_is_its_twin_run(tmp_path):
    import xarray as xr
    from shared_data import DATA, need

    from twin.app.ensemble import run_scene_ensemble
    from twin.app.runs import execute
    from twin.params import resolve
    from twin.script import load_script

    need(DATA / "flood" / "merewether")
    scene = Path(__file__).resolve().parents[1] / "scenes" / "merewether.py"
    script = load_script(scene)
    sets = [resolve(script.PARAMETERS, ["resolution=10", "duration=20", f"manning={n}", f"inflow={q}"], "merewether")
            for n, q in ((0.03, 10.0), (0.05, 20.0))]
    folders = run_scene_ensemble(scene, sets, tmp_path / "ensemble", device="cpu")
    execute(script.setup(sets[1]), tmp_path / "single", parameters=sets[1], device="cpu", progress=False)
    with xr.open_zarr(folders[1] / "result.zarr", decode_times=False) as member, xr.open_zarr(tmp_path / "single" / "result.zarr", decode_times=False) as single:
        for name in single.data_vars:
            assert np.array_equal(single[name].values, member[name].values, equal_nan=single[name].dtype.kind == "f"), name
    single_summary = json.loads((tmp_path / "single" / "summary.json").read_text())
    member_summary = json.loads((folders[1] / "summary.json").read_text())
    assert member_summary["steps"] == single_summary["steps"]
    assert member_summary["volume_balance"] == single_summary["volume_balance"]

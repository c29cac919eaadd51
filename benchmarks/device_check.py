"""The prepared device check: every GPU figure twin needs, in one run of under 8 minutes
on one H100 or H200 (see docs/gpu.md and benchmarks/device_check.sh).

    python benchmarks/device_check.py                     # on the GPU machine -> benchmarks/results/device_check.json
    python benchmarks/device_check.py --cpu-smoke --out /tmp/smoke.json   # tiny sizes on the CPU

Sections, each written to the JSON as soon as it is done (a section that fails records
its error; one that would pass the time budget is skipped and says so):

* ``tests``: the CUDA-parametrised solver tests and tests/test_gpu.py (pytest);
* ``flood``: throughput of the flood solver on a wet n x n basin (benchmarks/flood_throughput.py's
  case), host-stepped and device-resident, float32 and float64, against the card's copy
  bandwidth measured in the same run with a Warp copy kernel;
* ``merewether``: the Merewether scene at 1 m, host-stepped and device-resident;
* ``ensemble``: 64 Merewether members at 2 m (Manning's n from 0.02 to 0.06) in one batched run;
* ``dispersion``: 10^7 particles in the GFS plume scene's winds;
* ``robot``: the UR5 cell on Newton's solvers on the device.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np
import warp as wp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from twin.physics.device import pick_device  # noqa: E402

VALUES_PER_CELL_UPDATE = 19  # as benchmarks/flood_throughput.py

FULL = dict(grids=[1024, 4096, 8192], flood_steps=20, merewether_resolution=1.0, merewether_duration=None,
            ensemble_members=64, ensemble_resolution=2.0, ensemble_duration=120.0, particles=10_000_000,
            dispersion_steps=10, robot_steps=500, copy_n=1 << 28, tests=True)
SMOKE = dict(grids=[64, 128], flood_steps=3, merewether_resolution=10.0, merewether_duration=20.0,
             ensemble_members=3, ensemble_resolution=10.0, ensemble_duration=10.0, particles=10_000,
             dispersion_steps=2, robot_steps=5, copy_n=1 << 20, tests=False)


@wp.kernel
def copy_kernel(src: wp.array(dtype=float), dst: wp.array(dtype=float)):
    i = wp.tid()
    dst[i] = src[i]


def copy_bandwidth(device: str, n: int, repeats: int = 10) -> float:
    """Read + write bandwidth [GB/s] of a Warp copy kernel over n float32 values (best of ``repeats``)."""
    src = wp.full(n, 1.0, dtype=float, device=device)
    dst = wp.zeros(n, dtype=float, device=device)
    wp.launch(copy_kernel, dim=n, inputs=[src], outputs=[dst], device=device)
    wp.synchronize_device(device)
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        wp.launch(copy_kernel, dim=n, inputs=[src], outputs=[dst], device=device)
        wp.synchronize_device(device)
        best = min(best, time.perf_counter() - t0)
    return 2 * 4 * n / best / 1e9


def flood_row(n: int, dtype: str, device: str, steps: int, bandwidth: float) -> dict:
    """Host-stepped and device-resident cell updates per second on the n x n basin."""
    from flood_throughput import case, time_warp
    from twin.physics.swe import Control, FloodSolver
    from twin.physics.swe.recorder import FloodRecorder

    per_step, _ = time_warp(n, dtype, device, steps, os.cpu_count() or 1)
    model, s = case(n, dtype, device)
    solver = FloodSolver(model, Control())
    recorder = FloodRecorder(solver, {}, {}, {})
    clock = solver.device_clock()
    clock.set(0.0, 0, 0.0)
    s, other = clock.run_steps(s, s.clone(), 1, recorder)  # compile and warm up
    wp.synchronize_device(device)
    t0 = time.perf_counter()
    clock.run_steps(s, other, steps, recorder)
    wp.synchronize_device(device)
    resident = (time.perf_counter() - t0) / steps
    size = np.dtype(dtype).itemsize
    row = {"grid": n, "dtype": dtype, "cells": n * n, "cell_updates_per_s": n * n / per_step,
           "resident_cell_updates_per_s": n * n / resident, "bandwidth_gb_s": bandwidth,
           "bytes_per_cell_update": VALUES_PER_CELL_UPDATE * size}
    best = max(row["cell_updates_per_s"], row["resident_cell_updates_per_s"])
    row["fraction_of_bandwidth"] = best * VALUES_PER_CELL_UPDATE * size / (bandwidth * 1e9)
    return row


def merewether_run(resolution: float, duration: float | None, device: str, out: Path, resident: bool) -> dict:
    """Wall time [s] and steps of the Merewether scene."""
    from twin.physics.simulation import RunSettings, Simulation
    from twin.physics.swe.from_scene import flood_problem
    from twin.physics.swe.recorder import FloodRecorder
    from twin.physics.swe.solver import FloodSolver

    from twin.params import resolve
    from twin.script import load_script

    script = load_script(ROOT / "scenes" / "merewether.py")
    args = [f"resolution={resolution}"] + ([f"duration={duration}"] if duration else [])
    run = script.setup(resolve(script.PARAMETERS, args, "merewether"))
    model, control, fg = flood_problem(run.scene, resolution=run.resolution, buildings=run.buildings, order=run.order,
                                       dtype=run.dtype, device=device)
    solver = FloodSolver(model, control)
    recorder = FloodRecorder(solver, fg.probe_cells, {"ground_elevation": fg.ground, "building": fg.building}, {})
    settings = RunSettings(run.duration, run.output_interval, run.probe_interval)
    sim = Simulation(solver, recorder, model.state(0.0), control, settings, out, progress=False, resident=resident)
    t0 = time.perf_counter()
    summary = sim.run()
    return {"resident": resident, "resolution_m": resolution, "cells": model.nx * model.ny, "steps": summary["steps"],
            "simulated_s": summary["simulated_time_s"], "wall_s": time.perf_counter() - t0}


def ensemble_run(members: int, resolution: float, duration: float, device: str, out: Path) -> dict:
    """Cell updates per second of ``members`` Merewether scenarios run as one batch."""
    from twin.physics.simulation import RunSettings
    from twin.physics.swe.ensemble import run_ensemble, scenario_members
    from twin.physics.swe.from_scene import flood_problem

    from twin.params import resolve
    from twin.script import load_script

    script = load_script(ROOT / "scenes" / "merewether.py")
    run = script.setup(resolve(script.PARAMETERS, [f"resolution={resolution}"], "merewether"))
    model, control, fg = flood_problem(run.scene, resolution=run.resolution, buildings=run.buildings, order=run.order,
                                       dtype=run.dtype, device=device)
    manning = np.linspace(0.02, 0.06, members)
    batch = scenario_members(model, control, model.state(0.0), manning=list(manning))
    t0 = time.perf_counter()
    ds = run_ensemble(batch, RunSettings(duration, duration / 2, probe_interval=duration / 10), out,
                      probes=fg.probe_cells)
    wall = time.perf_counter() - t0
    steps = np.asarray(ds.attrs["member_steps"])
    return {"members": members, "resolution_m": resolution, "cells_per_member": model.nx * model.ny,
            "simulated_s": duration, "member_steps": steps.tolist(), "wall_s": wall,
            "cell_updates_per_s": float(steps.sum()) * model.nx * model.ny / wall}


def dispersion_row(particles: int, device: str, steps: int) -> dict:
    from dispersion_throughput import case, plume_run, time_warp

    model, control, state = case(plume_run(), particles, device)
    per_step = time_warp(model, control, state, os.cpu_count() or 1, steps)
    return {"particles": particles, "s_per_step": per_step, "particle_steps_per_s": particles / per_step}


def robot_rows(device: str, steps: int) -> list[dict]:
    import warnings

    from robot_step import measure

    from twin.io.urdf import UrdfWarning
    from twin.params import resolve
    from twin.script import load_script

    script = load_script(ROOT / "scenes" / "ur5_cell.py")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UrdfWarning)
        run = script.setup(resolve(script.PARAMETERS, [], "ur5_cell"))
    rows = []
    for kind in ("mujoco", "featherstone", "xpbd"):
        try:
            rows.append(measure(run.robot, device, kind, steps, 20, run.kp, run.kd, run.trajectory))
        except Exception as e:  # noqa: BLE001 - a solver that cannot run this model is reported
            rows.append({"device": device, "solver": kind, "error": f"{type(e).__name__}: {e}"})
    return rows


def run_tests(device: str, budget: float) -> dict:
    """The CUDA-parametrised solver tests and tests/test_gpu.py, with pytest."""
    cmd = [sys.executable, "-m", "pytest", "-q", "-m", "not slow", "-p", "no:cacheprovider",
           "tests/test_gpu.py", "tests/test_swe_execution.py", "tests/test_swe_verification.py", "tests/test_dispersion.py",
           "-k", "cuda or test_gpu"]
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=budget)
        tail = (p.stdout + p.stderr)[-3000:]
        return {"command": " ".join(cmd[1:]), "returncode": p.returncode, "passed": p.returncode == 0,
                "wall_s": time.perf_counter() - t0, "tail": tail}
    except subprocess.TimeoutExpired:
        return {"command": " ".join(cmd[1:]), "passed": False, "error": f"timed out after {budget:.0f} s"}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cpu-smoke", action="store_true", help="tiny sizes on the CPU, to check that the script runs")
    p.add_argument("--device", default=None, help="cpu or cuda:0 (default: cuda when present)")
    p.add_argument("--out", type=Path, default=None, help="JSON file (default: benchmarks/results/device_check.json)")
    p.add_argument("--budget", type=float, default=450.0, help="seconds for the whole check; later sections are skipped")
    p.add_argument("--only", nargs="*", default=None, help="sections to run (tests flood merewether ensemble dispersion robot)")
    args = p.parse_args(argv)
    cfg = SMOKE if args.cpu_smoke else FULL
    device = pick_device("cpu" if args.cpu_smoke else args.device)
    if args.out is None and args.cpu_smoke:
        p.error("--cpu-smoke needs --out (the committed device_check.json holds GPU figures only)")
    out = args.out or ROOT / "benchmarks" / "results" / "device_check.json"
    start = time.perf_counter()
    result = {"device": device, "device_name": wp.get_device(device).name, "cpu_smoke": args.cpu_smoke,
              "warp": wp.__version__, "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "sections": {}}
    if wp.get_device(device).is_cuda:
        props = wp.get_device(device)
        result["device_memory_gib"] = props.total_memory / 2**30
        result["sm_arch"] = props.arch

    def save():
        result["wall_s"] = time.perf_counter() - start
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=1, default=float) + "\n")

    def section(name: str, need_s: float, fn):
        """Run ``fn`` as section ``name`` if ``need_s`` seconds are left; record its time."""
        if args.only is not None and name not in args.only:
            return None
        left = args.budget - (time.perf_counter() - start)
        if left < need_s:
            result["sections"][name] = f"skipped: {left:.0f} s left of the budget, {need_s:.0f} s needed"
            save()
            return None
        t0 = time.perf_counter()
        try:
            value = fn(left)
            result["sections"][name] = {"wall_s": time.perf_counter() - t0}
        except Exception as e:  # noqa: BLE001 - recorded, the other sections still run
            value = None
            result["sections"][name] = {"error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()[-2000:]}
        save()
        print(f"device_check: {name} done ({time.perf_counter() - t0:.1f} s)", file=sys.stderr)
        return value

    tmp = Path(tempfile.mkdtemp(prefix="twin_device_check_"))
    if cfg["tests"]:
        result["tests"] = section("tests", 60, lambda left: run_tests(device, min(150.0, left - 200)))
    bandwidth = copy_bandwidth(device, cfg["copy_n"])
    result["copy_bandwidth_gb_s"] = bandwidth

    def flood(left):
        rows = []
        for dtype in ("float32", "float64"):
            for n in cfg["grids"]:
                rows.append(flood_row(n, dtype, device, cfg["flood_steps"], bandwidth))
                result["flood"] = rows
                save()
        return rows

    result["flood"] = section("flood", 60, flood)

    def merewether(left):
        runs = [merewether_run(cfg["merewether_resolution"], cfg["merewether_duration"], device, tmp / "mw_res", True)]
        result["merewether_wall_s"] = runs[0]["wall_s"]
        result["merewether_runs"] = runs
        save()
        runs.append(merewether_run(cfg["merewether_resolution"], cfg["merewether_duration"], device, tmp / "mw_host", False))
        return runs

    result["merewether_runs"] = section("merewether", 60, merewether)
    ens = section("ensemble", 60, lambda left: ensemble_run(cfg["ensemble_members"], cfg["ensemble_resolution"],
                                                            cfg["ensemble_duration"], device, tmp / "ensemble"))
    if ens:
        result["ensemble"] = ens
        result["ensemble_cell_updates_per_s"] = ens["cell_updates_per_s"]
    result["dispersion"] = section("dispersion", 30, lambda left: dispersion_row(cfg["particles"], device, cfg["dispersion_steps"]))
    result["robot"] = section("robot", 30, lambda left: robot_rows(device, cfg["robot_steps"]))
    save()
    print(json.dumps({k: result.get(k) for k in ("device_name", "copy_bandwidth_gb_s", "merewether_wall_s",
                                                 "ensemble_cell_updates_per_s")}, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Cost of the flood-study extras of the solver, in the same process and on the same grid:

* hazard tracking: the running maximum of h |u| and the arrival time, folded in at every
  step by the recorder's maxima kernel, against the same run without them;
* a rain field: regridding one frame of a lat/lon precipitation grid (reprojected with
  pyproj, bilinear) to the solver's cells and uploading it, the work done once per
  frame interval (typically the output interval of radar or NWP rain).

    python benchmarks/flood_hazard.py --json                  # 512^2, float32, CPU
    python benchmarks/flood_hazard.py --grid 1024 --device cuda:0 --json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np
import warp as wp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from flood_throughput import case  # noqa: E402  the same wet, bumpy dam-break basin
from twin.physics.device import pick_device  # noqa: E402
from twin.physics.swe import Control, FloodSolver  # noqa: E402
from twin.physics.swe.model import RainFrames  # noqa: E402
from twin.physics.swe.recorder import FloodRecorder  # noqa: E402

from twin.io.weather import Regridder  # noqa: E402
from twin.scene import GriddedField  # noqa: E402


def clock(device: str):
    """Process CPU time on the CPU (all of the process's threads; other processes on a
    shared machine do not count), wall time on a GPU."""
    return time.process_time if wp.get_device(device).is_cpu else time.perf_counter


def time_steps(solver, recorder, s, s2, steps: int, device: str) -> tuple[float, float]:
    """(seconds per step: CFL step, both Heun stages, maxima tracking; seconds per
    recorder update alone), the update timed again on the step's state."""
    now = clock(device)
    wp.synchronize_device(device)
    t0 = now()
    t = 0.0
    for _ in range(steps):
        dt = solver.stable_dt(s)
        solver.step(s, s2, solver._control, dt, t)
        recorder.update(s2, t + dt)
        s, s2 = s2, s
        t += dt
    wp.synchronize_device(device)
    per_step = (now() - t0) / steps
    t0 = now()
    for _ in range(steps):
        recorder.update(s, t)
    wp.synchronize_device(device)
    return per_step, (now() - t0) / steps


def hazard_overhead(n: int, dtype: str, device: str, steps: int, rounds: int) -> dict:
    """Step time with and without hazard tracking, alternating rounds of ``steps`` steps
    from the same state (the best round of each), and the recorder's update (the maxima
    kernel) alone with and without."""
    model, s0 = case(n, dtype, device)
    solver = FloodSolver(model, Control())
    recorders = {True: FloodRecorder(solver, {}, {}, {}, hazard=True), False: FloodRecorder(solver, {}, {}, {}, hazard=False)}
    step = {True: float("inf"), False: float("inf")}
    update = dict(step)
    for r in range(rounds + 1):  # round 0 compiles and warms up
        for hazard in (False, True) if r % 2 else (True, False):
            s, s2 = s0.clone(), s0.clone()
            per_step, per_update = time_steps(solver, recorders[hazard], s, s2, steps if r else 2, device)
            if r:
                step[hazard] = min(step[hazard], per_step)
                update[hazard] = min(update[hazard], per_update)
    return {"grid": n, "dtype": dtype, "device": device, "steps_per_round": steps, "rounds": rounds,
            "clock": "process CPU time" if wp.get_device(device).is_cpu else "wall",
            "step_s_without": step[False], "step_s_with": step[True],
            "overhead_percent": 100.0 * (step[True] - step[False]) / step[False],
            "update_s_without": update[False], "update_s_with": update[True],
            "tracking_percent_of_step": 100.0 * (update[True] - update[False]) / step[False]}


def rain_regrid_cost(n: int, dtype: str, device: str, repeats: int) -> dict:
    """Regridding setup (once) and cost per frame (regrid + upload) of a 0.01 degree
    lat/lon rain grid onto n x n 1 m cells in UTM 56S (Newcastle, NSW)."""
    model, s = case(n, dtype, device)
    x0, y0 = 382_000.0, 6_354_000.0  # EPSG:32756
    lon = np.arange(151.60, 151.90, 0.01)
    lat = np.arange(-33.05, -32.85, 0.01)
    rng = np.random.default_rng(0)
    field = GriddedField("rain", "m s-1", ("time", "latitude", "longitude"),
                         {"time": np.array([0.0, 300.0]), "latitude": lat, "longitude": lon},
                         rng.uniform(0, 2e-5, (2, lat.size, lon.size)), "EPSG:4326")
    xc = x0 + 0.5 + np.arange(n)
    yc = y0 + 0.5 + np.arange(n)
    t0 = time.perf_counter()
    regridder = Regridder(field, "EPSG:32756", xc, yc)
    setup = time.perf_counter() - t0
    values = regridder.horizontal_last(field)
    solver = FloodSolver(model, Control(rain_field=RainFrames(np.array([0.0, 300.0]), lambda k: regridder(values[k]))))
    solver._set_sources(0.0)  # allocate and warm up
    per_frame = float("inf")
    now = clock(device)
    for _ in range(repeats):
        wp.synchronize_device(device)
        t0 = now()
        solver._upload_frame(solver._rain_next, 1)
        wp.synchronize_device(device)
        per_frame = min(per_frame, now() - t0)
    return {"grid": n, "dtype": dtype, "device": device, "source_grid": [lat.size, lon.size],
            "setup_s": setup, "per_frame_s": per_frame}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--grid", type=int, default=512, help="grid size n (n x n cells)")
    p.add_argument("--device", default=None, help="cpu or cuda:0 (default: cuda when present)")
    p.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    p.add_argument("--steps", type=int, default=20, help="steps per timed round")
    p.add_argument("--rounds", type=int, default=3, help="timed rounds with and without tracking (best kept)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    a = p.parse_args(argv)
    device = pick_device(a.device)
    out = {"hazard": hazard_overhead(a.grid, a.dtype, device, a.steps, a.rounds),
           "rain_field": rain_regrid_cost(a.grid, a.dtype, device, 5)}
    out["rain_field"]["per_frame_in_steps"] = out["rain_field"]["per_frame_s"] / out["hazard"]["step_s_with"]
    if a.json:
        print(json.dumps(out, indent=2))
    else:
        h, r = out["hazard"], out["rain_field"]
        print(f"{a.grid}^2 {a.dtype} on {device} ({h['clock']}): step {h['step_s_without'] * 1e3:.2f} ms without hazard "
              f"tracking, {h['step_s_with'] * 1e3:.2f} ms with ({h['overhead_percent']:+.2f} %); the maxima kernel "
              f"{h['update_s_without'] * 1e3:.2f} -> {h['update_s_with'] * 1e3:.2f} ms ({h['tracking_percent_of_step']:+.2f} % of a step)")
        print(f"rain field: regridder setup {r['setup_s'] * 1e3:.1f} ms, {r['per_frame_s'] * 1e3:.2f} ms a frame "
              f"({r['per_frame_in_steps']:.2f} steps)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

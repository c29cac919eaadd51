"""Throughput of the particle dispersion solver: Warp against its NumPy reference, in the same process.

    python benchmarks/dispersion_throughput.py --json                    # 1e4 .. 1e6 particles, CPU
    python benchmarks/dispersion_throughput.py --device cuda:0 --particles 1000000 10000000 --no-numpy --json

The case is the wind of ``scenes/gfs_plume.py`` (the GFS analysis of the 26 October
2010 cyclone on 50 km nodes, 41 heights) with the particles spread over the lowest
3 km around the release, Kh = 5000 m2/s, Kz = 5 m2/s and dry deposition on: every
particle is airborne and takes the whole step (Heun's two wind look-ups, three
Gaussian draws, reflection, deposition). A *particle-step* is one step of one particle.
Warp runs with 1 thread and with every core (``cpu_threads``); the NumPy reference
(``physics/dispersion/reference.py``, vectorised, one thread) does the same arithmetic.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import warp as wp
from twin.physics.device import pick_device
from twin.physics.dispersion import Control, DispersionSolver, Model, State
from twin.physics.dispersion.reference import reference_step

ROOT = Path(__file__).resolve().parents[1]
DT = 300.0


def plume_run():
    """The default DispersionRun of scenes/gfs_plume.py (its winds)."""
    from twin.params import resolve
    from twin.script import load_script

    script = load_script(ROOT / "scenes" / "gfs_plume.py")
    return script.setup(resolve(script.PARAMETERS, [], "gfs_plume"))


def case(run, n: int, device: str):
    """Model, Control and a State of ``n`` airborne particles in the GFS plume scene's winds."""
    ox, oy = run.scene.origin
    model = Model.on_grid(run.x - ox, run.y - oy, run.z, diffusivity=run.diffusivity,
                          deposition_velocity=run.deposition_velocity, surface_layer=run.surface_layer, origin=(ox, oy), device=device)
    control = Control.from_numpy(model, run.wind_x, run.wind_y)
    rng = np.random.default_rng(0)
    pos = np.column_stack([rng.uniform(-500e3, 500e3, n), rng.uniform(-500e3, 500e3, n), rng.uniform(0.0, 3000.0, n)])
    host = {"pos": pos.astype(np.float32), "mass": np.full(n, 1.0 / n, np.float32), "status": np.zeros(n, np.int32),
            "deposited": np.zeros(n, np.float32), "release_time": np.zeros(n, np.float32)}
    return model, control, State.from_numpy(host, device)


def time_warp(model, control, state, threads: int, steps: int) -> float:
    """Seconds per step."""
    solver = DispersionSolver(model, dt=DT, seed=1, cpu_threads=threads)
    other = state.clone()
    solver.step(state, other, control, DT, 0.0)  # compile and warm up
    wp.synchronize_device(model.device)
    t0 = time.perf_counter()
    for k in range(steps):
        solver.step(state, other, control, DT, k * DT)
        state, other = other, state
    wp.synchronize_device(model.device)
    return (time.perf_counter() - t0) / steps


def time_numpy(model, control, state, steps: int) -> float:
    host = state.numpy()
    wind = control.wind.numpy()
    rng = np.random.default_rng(1)
    t0 = time.perf_counter()
    for k in range(steps):
        host = reference_step(model, wind, control.wind_t0, control.wind_dt, host, k * DT, DT, rng)
    return (time.perf_counter() - t0) / steps


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--particles", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    p.add_argument("--device", default=None, help="cpu or cuda:0 (default: cuda when present)")
    p.add_argument("--threads", type=int, default=int(os.environ.get("TWIN_CPU_THREADS", os.cpu_count() or 1)))
    p.add_argument("--no-numpy", action="store_true", help="skip the NumPy reference")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    args = p.parse_args(argv)
    device = pick_device(args.device)
    rows = []
    run = plume_run()
    for n in args.particles:
        model, control, state = case(run, n, device)
        steps = max(3, min(50, int(2e7 // n)))
        row = {"particles": n}
        for threads in sorted({1, args.threads}) if wp.get_device(device).is_cpu else [1]:
            row[f"warp_particle_steps_per_s_{threads}_threads"] = n / time_warp(model, control, state, threads, steps)
        if not args.no_numpy:
            np_step = time_numpy(model, control, state, max(1, min(5, int(2e6 // n))))
            row["numpy_particle_steps_per_s"] = n / np_step
            for key in [k for k in row if k.startswith("warp_")]:
                row["speedup_" + key[len("warp_particle_steps_per_s_"):]] = row[key] / row["numpy_particle_steps_per_s"]
        rows.append(row)
        if not args.json:
            print(json.dumps(row))
    if args.json:
        print(json.dumps({"device": device, "threads": args.threads, "dt_s": DT, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Throughput of the shallow-water solver: Warp against the NumPy reference of the
same scheme, in the same process, and against the machine's memory bandwidth.

    python benchmarks/flood_throughput.py --json               # 256^2 .. 4096^2
    python benchmarks/flood_throughput.py --grid 1024 --device cuda:0 --json

A "cell update" is one full time step (both Heun stages) of one cell. The case
is a fully wet, rough-bedded basin with a dam-break, so no cell takes the dry
early-out. ``bytes_per_cell_update`` is what the scheme must move at least per
step in the state's precision: each stage reads h, hu, hv, bed and Manning n and
writes h, hu, hv, and the second stage also reads the step's starting state:
2 * (5 + 3) + 3 = 19 values.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import warp as wp
from twin.physics.device import pick_device
from twin.physics.swe import Control, FloodSolver, Model
from twin.physics.swe.recorder import FloodRecorder
from twin.physics.swe.reference import ReferenceSolver

VALUES_PER_CELL_UPDATE = 19


def case(n: int, dtype: str, device: str) -> tuple[Model, object]:
    """A wet n x n basin, 1 m cells, bumpy bed, depth 1-2 m with a dam."""
    x = np.arange(n) / n
    bed = 0.2 * np.sin(12 * x)[None, :] * np.cos(9 * x)[:, None]
    model = Model.from_arrays(bed, dx=1.0, manning_n=0.03, dtype=dtype, device=device,
                              boundaries={"east": "transmissive", "north": "transmissive"})
    depth = np.where(np.arange(n)[None, :] < n // 2, 2.0, 1.0) - bed
    return model, model.state(depth)


def time_warp(n: int, dtype: str, device: str, steps: int, threads: int) -> tuple[float, float]:
    """Seconds per step (CFL reduction, fluxes, update and maxima tracking) and device bytes per cell."""
    model, s = case(n, dtype, device)
    solver = FloodSolver(model, Control(), cpu_threads=threads)
    recorder = FloodRecorder(solver, {}, {}, {})
    s2 = s.clone()
    dt = solver.stable_dt(s)
    solver.step(s, s2, solver._control, dt, 0.0)  # compile and warm up
    wp.synchronize_device(device)
    t0 = time.perf_counter()
    t = 0.0
    for _ in range(steps):
        dt = solver.stable_dt(s)
        solver.step(s, s2, solver._control, dt, t)
        recorder.update(s2, t)
        s, s2 = s2, s
        t += dt
    wp.synchronize_device(device)
    per_step = (time.perf_counter() - t0) / steps
    arrays = [model.bed, model.manning_n, model.solid, *s.__dict__.values(), *s2.__dict__.values(),
              *solver._stage.__dict__.values(), *solver._fx, *solver._fy,
              recorder.max_depth, recorder.max_speed, recorder.time_of_max_depth,
              recorder.max_depth_velocity, recorder.arrival_time]
    return per_step, sum(a.capacity for a in arrays) / (n * n)


def time_numpy(n: int, dtype: str, steps: int) -> float:
    model, s = case(n, dtype, "cpu")
    ref = ReferenceSolver(model)
    h, hu, hv = (a.numpy().reshape(n, n) for a in (s.h, s.hu, s.hv))
    t0 = time.perf_counter()
    for _ in range(steps):
        dt = ref.stable_dt(h, hu, hv)
        h, hu, hv = ref.step(h, hu, hv, dt, 0.0)
    return (time.perf_counter() - t0) / steps


@wp.kernel
def triad(b: wp.array(dtype=float), c: wp.array(dtype=float), s: float, offset: int, a: wp.array(dtype=float)):
    i = wp.tid() + offset
    a[i] = b[i] + s * c[i]


def stream_bandwidth(device: str, threads: int, n: int = 1 << 26, repeats: int = 5) -> float:
    """STREAM triad a = b + s c over float32 arrays with a Warp kernel on ``device`` [GB/s];
    on the CPU split over ``threads`` concurrent launches, as the solver does."""
    b = wp.full(n, 1.0, dtype=float, device=device)
    c = wp.full(n, 2.0, dtype=float, device=device)
    a = wp.zeros(n, dtype=float, device=device)
    parts = threads if wp.get_device(device).is_cpu else 1
    edges = np.linspace(0, n, parts + 1).astype(int)

    def run():
        if parts == 1:
            wp.launch(triad, dim=n, inputs=[b, c, 3.0, 0], outputs=[a], device=device)
        else:
            with ThreadPoolExecutor(parts) as pool:
                jobs = [pool.submit(wp.launch, triad, dim=int(hi - lo), inputs=[b, c, 3.0, int(lo)], outputs=[a], device=device)
                        for lo, hi in zip(edges[:-1], edges[1:])]
                for job in jobs:
                    job.result()
        wp.synchronize_device(device)

    run()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - t0)
    return 3 * 4 * n / best / 1e9


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--grid", type=int, nargs="+", default=[256, 512, 1024, 2048, 4096], help="grid sizes n (n x n cells)")
    p.add_argument("--device", default=None, help="cpu or cuda:0 (default: cuda when present)")
    p.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    p.add_argument("--no-numpy", action="store_true", help="skip the NumPy reference (e.g. on a GPU machine)")
    p.add_argument("--threads", type=int, default=int(os.environ.get("TWIN_CPU_THREADS", os.cpu_count() or 1)),
                   help="CPU threads of the solver and of the bandwidth test (default: all cores)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    args = p.parse_args(argv)
    device = pick_device(args.device)
    bandwidth = stream_bandwidth(device, args.threads)
    size = np.dtype(args.dtype).itemsize
    rows = []
    for n in args.grid:
        warp_steps = max(3, min(100, int(5e7 // (n * n))))
        per_step, bytes_per_cell = time_warp(n, args.dtype, device, warp_steps, args.threads)
        row = {"grid": n, "cells": n * n, "warp_s_per_step": per_step, "warp_cell_updates_per_s": n * n / per_step,
               "device_bytes_per_cell": bytes_per_cell}
        if not args.no_numpy:
            np_steps = max(1, min(10, int(4e6 // (n * n))))
            np_step = time_numpy(n, args.dtype, np_steps)
            row.update(numpy_cell_updates_per_s=n * n / np_step, speedup_vs_numpy=np_step / per_step)
        row["fraction_of_bandwidth"] = row["warp_cell_updates_per_s"] * VALUES_PER_CELL_UPDATE * size / (bandwidth * 1e9)
        rows.append(row)
        if not args.json:
            print(json.dumps(row), file=sys.stderr)
    result = {
        "grid": [r["grid"] for r in rows],
        "device": device,
        "device_name": wp.get_device(device).name,
        "dtype": args.dtype,
        "cpu_threads": args.threads if wp.get_device(device).is_cpu else None,
        "bandwidth_gb_s": bandwidth,
        "bytes_per_cell_update": VALUES_PER_CELL_UPDATE * size,
        "warp_cell_updates_per_s": [r["warp_cell_updates_per_s"] for r in rows],
        "numpy_cell_updates_per_s": [r.get("numpy_cell_updates_per_s") for r in rows],
        "rows": rows,
    }
    print(json.dumps(result, indent=None if args.json else 2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Sweep throughput: runs per hour with 1 and 2 local Dask workers, against the same
runs one after the other in this process (the reference), and the scheduling
overhead per run.

    python benchmarks/sweep_throughput.py [--runs 8] [--resolution 5] [--duration 1000] [--json]

The runs are Merewether flood runs (Latin hypercube over inflow 10-30 m^3/s and
Manning's n 0.5-2 times the case's), as in scenes/sweeps/merewether_train.toml.
``overhead_per_run_s`` = (sweep wall time - the solver wall time of its runs divided
among the workers) / runs: cluster start, task shipping, scene set-up on the worker,
result transfer and the store, per run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import xarray as xr

from twin.app.batch import run_sweep
from twin.app.runs import execute
from twin.app.sweep import load_sweep
from twin.script import load_script

ROOT = Path(__file__).resolve().parents[1]
SWEEP = """
scene = "{scene}"
[fixed]
resolution = {resolution}
duration = {duration}
output_interval = 100.0
probe_interval = 2.0
[vary]
design = "latin_hypercube"
samples = {runs}
seed = 11
[vary.parameters]
inflow = [10.0, 30.0]
road_manning = [0.01, 0.04]
manning = [0.02, 0.08]
[keep]
peak_fields = ["max_depth"]
probes = ["probe_depth"]
"""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=8)
    p.add_argument("--resolution", type=float, default=5.0)
    p.add_argument("--duration", type=float, default=1000.0)
    p.add_argument("--json", action="store_true", help="write benchmarks/results/sweep_throughput.json")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="twin-bench-sweep-") as tmp:
        tmp = Path(tmp)
        path = tmp / "sweep.toml"
        path.write_text(SWEEP.format(scene=ROOT / "scenes" / "merewether.py", **vars(args)))
        sweep = load_sweep(path)
        script = load_script(sweep.scene)
        start = time.perf_counter()
        for k in range(len(sweep.runs)):  # the reference: one after the other, here, all cores per run
            params = sweep.run_parameters(k)
            execute(script.setup(params), tmp / f"serial_{k}", parameters=params, script=str(sweep.scene), progress=False)
        serial = time.perf_counter() - start
        results = {"runs": len(sweep.runs), "resolution_m": args.resolution, "duration_s": args.duration,
                   "cpu_count": os.cpu_count(), "in_process_wall_s": serial, "in_process_runs_per_hour": 3600 * len(sweep.runs) / serial}
        for workers in (1, 2):
            out = tmp / f"sweep_{workers}"
            start = time.perf_counter()
            counts = run_sweep(sweep, out, workers=workers, progress=False)
            wall = time.perf_counter() - start
            assert counts["done"] == len(sweep.runs), counts
            solver = float(xr.open_zarr(out / "results.zarr", decode_times=False)["wall_time_s"].sum())
            results[f"workers_{workers}"] = {
                "wall_s": wall, "runs_per_hour": 3600 * len(sweep.runs) / wall, "vs_in_process": serial / wall,
                "solver_wall_s_sum": solver, "overhead_per_run_s": (wall - solver / workers) / len(sweep.runs)}
    print(json.dumps(results, indent=2))
    if args.json:
        target = ROOT / "benchmarks" / "results" / "sweep_throughput.json"
        target.write_text(json.dumps(results, indent=2) + "\n")
        print(f"wrote {target}", file=sys.stderr)


if __name__ == "__main__":
    main()

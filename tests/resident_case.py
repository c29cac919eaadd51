"""A small flood run that touches every time-dependent input of the solver (a stage
boundary, a discharge boundary, a varying inflow, rain with a varying scale,
infiltration, probes), for the device-resident stepping and ensemble tests.

    python tests/resident_case.py OUT.json   # hashes of the Result, made with this checkout's code
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import xarray as xr
from twin.physics.simulation import RunSettings, Simulation
from twin.physics.swe import Control, FloodSolver, Model
from twin.physics.swe.recorder import FloodRecorder

from twin.scene import TimeSeries

NX, NY = 40, 48
SETTINGS = dict(duration=30.0, output_interval=10.0, probe_interval=2.5)


def case(dtype: str = "float32", order: int = 2, manning: float = 0.03, inflow: float = 1.0, rain: float = 1.0,
         level: float = 0.0, device: str = "cpu"):
    """(model, control, initial state, probes) of the test case; ``manning``, ``inflow``
    (a factor on the inflow's hydrograph), ``rain`` (on the rain pattern) and ``level``
    (added to the initial pond's surface [m]) make ensemble members."""
    x = np.arange(NX) * 2.0
    y = np.arange(NY)[:, None] * 2.0
    bed = 0.02 * x[None, :] + 0.3 * np.sin(y / 9.0) + 0.05 * np.cos(x[None, :] / 5.0)
    solid = np.zeros((NY, NX), bool)
    solid[20:24, 15:19] = True
    model = Model.from_arrays(bed, dx=2.0, manning_n=manning * (1 + 0.2 * (y > 40)) * np.ones((NY, NX)), solid=solid,
                              boundaries={"west": "stage", "east": "transmissive", "south": "discharge", "north": "wall"},
                              order=order, dtype=dtype, device=device)
    source = np.full((NY, NX), -1)
    source[30:32, 25:27] = 0
    rain_rate = np.zeros((NY, NX))
    rain_rate[5:15, 5:35] = 2e-4 * rain
    control = Control(
        rain_rate=rain_rate, rain_scale=TimeSeries(np.array([0.0, 12.0, 25.0]), np.array([0.0, 1.5, 0.25])),
        infiltration_rate=np.full((NY, NX), 1e-5),
        source_of_cell=source,
        source_discharge=[TimeSeries(np.array([0.0, 7.0, 20.0]), inflow * np.array([0.5, 3.0, 1.0]))],
        boundary_series={"west": TimeSeries(np.array([0.0, 15.0, 30.0]), np.array([0.6, 1.1, 0.8])),
                         "south": TimeSeries(np.array([0.0, 10.0]), np.array([0.0, 4.0]))},
    )
    depth = np.maximum(0.5 + level - bed, 0.0) * (np.arange(NX)[None, :] < 12)
    state = model.state(depth)
    probes = {"a": (10, 10), "b": (30, 26), "c": (45, 38)}
    return model, control, state, probes


def run(out_dir: Path, *, resident: bool = False, **case_args) -> xr.Dataset:
    """Run the case into ``out_dir``; return its Result (loaded)."""
    model, control, state, probes = case(**case_args)
    solver = FloodSolver(model, control)
    recorder = FloodRecorder(solver, probes, {"ground_elevation": model.bed_elevation(), "building": np.zeros(model.shape, bool)}, {})
    sim = Simulation(solver, recorder, state, control, RunSettings(**SETTINGS), out_dir, progress=False, **({"resident": True} if resident else {}))
    summary = sim.run()
    with xr.open_zarr(out_dir / "result.zarr", decode_times=False) as ds:
        return ds.load(), summary


def digest(ds: xr.Dataset) -> dict[str, str]:
    """sha256 of every variable's bytes (and of its coordinates'), name -> hex."""
    return {name: hashlib.sha256(np.ascontiguousarray(ds[name].values).tobytes()).hexdigest()
            for name in sorted([*ds.data_vars, *ds.coords])}


if __name__ == "__main__":
    import tempfile

    from twin.physics.device import init_warp

    init_warp()
    hashes = {}
    for dtype in ("float32", "float64"):
        with tempfile.TemporaryDirectory() as d:
            ds, summary = run(Path(d), dtype=dtype)
            hashes[dtype] = {"result": digest(ds), "steps": summary["steps"], "volume_balance": summary["volume_balance"]}
    Path(sys.argv[1]).write_text(json.dumps(hashes, indent=1, sort_keys=True) + "\n")

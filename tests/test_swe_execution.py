"""How the solver executes must not change what it computes: skipping dry tiles,
splitting launches over CPU threads and walking tile lines give bitwise the results
of the plain launch."""

from __future__ import annotations

import numpy as np
import pytest
from twin.physics.device import available_devices
from twin.physics.swe import Control, FloodSolver, Model

from twin.scene import TimeSeries


def _run(device: str, dtype: str, order: int, **solver_options) -> tuple[np.ndarray, ...]:
    ny, nx = 160, 208  # 130 tiles: enough to skip some and to split over 3 threads
    X, Y = np.meshgrid(np.arange(nx), np.arange(ny))
    bed = 0.3 * np.sin(X / 5) * np.cos(Y / 4) + 0.02 * X
    solid = np.zeros((ny, nx), bool)
    solid[60:64, 100:103] = True
    model = Model.from_arrays(bed, dx=1.0, dy=0.8, manning_n=0.03, solid=solid, order=order, dtype=dtype, device=device,
                              boundaries={"west": "discharge", "east": "transmissive", "north": "transmissive"})
    sources = -np.ones((ny, nx), int)
    sources[70:73, 110:113] = 0
    control = Control(source_of_cell=sources, source_discharge=[TimeSeries([0, 10], [0.5, 1.0])],
                      boundary_series={"west": TimeSeries([0, 15, 16], [2.0, 2.0, 0.0])})
    depth = np.zeros((ny, nx))
    depth[20:30, 120:130] = 0.5  # a pond far from everything else
    s = model.state(depth)
    s2 = s.clone()
    solver = FloodSolver(model, control, **solver_options)
    t = 0.0
    for _ in range(300):
        dt = solver.stable_dt(s)
        solver.step(s, s2, control, dt, t)
        s, s2 = s2, s
        t += dt
    skipped = solver._n_active < solver._ntx * solver._nty
    return s.h.numpy(), s.hu.numpy(), s.hv.numpy(), np.array(list(solver.boundary_inflow.values())), skipped


@pytest.mark.parametrize("device", available_devices())
@pytest.mark.parametrize("dtype, order", [("float32", 2), ("float64", 1)])
def test_skipping_dry_tiles_is_bitwise_neutral(device, dtype, order):
    full = _run(device, dtype, order, skip_dry_tiles=False, cpu_threads=1)
    skip = _run(device, dtype, order, skip_dry_tiles=True, cpu_threads=1)
    assert skip[-1], "the case must leave some tiles dry, or it tests nothing"
    for a, b in zip(full[:-1], skip[:-1]):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("threads", [2, 3])
def test_cpu_threads_are_bitwise_neutral(threads):
    one = _run("cpu", "float32", 2, cpu_threads=1, skip_dry_tiles=False)
    many = _run("cpu", "float32", 2, cpu_threads=threads, skip_dry_tiles=False)  # 130 tiles: split in every step
    for a, b in zip(one[:-1], many[:-1]):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("device", available_devices())
@pytest.mark.parametrize("dtype, order", [("float32", 2), ("float64", 1)])
def test_walking_tile_lines_is_bitwise_neutral(device, dtype, order):
    one_each = _run(device, dtype, order, walk_lines=False)  # the GPU's launch shape
    walking = _run(device, dtype, order, walk_lines=True)  # the CPU's
    for a, b in zip(one_each[:-1], walking[:-1]):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("device", available_devices())
def test_two_runs_are_bitwise_equal(device):
    a = _run(device, "float32", 2)
    b = _run(device, "float32", 2)
    for x, y in zip(a[:-1], b[:-1]):
        assert np.array_equal(x, y)

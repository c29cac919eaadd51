"""Building the flood solver's Model and Control from a Scene."""

from __future__ import annotations

import os
import sys

import warp as wp

from physics.device import init_warp
from physics.swe.model import Control, Model
from twin.errors import InputError
from twin.raster import MM_PER_H, FloodGrid, Grid, rasterise
from twin.scene import Scene

HOST_BYTES_PER_CELL = 200
"""Peak host memory of a flood run [bytes per cell]: rasterising the scene (float64 cell
centres, the bilinear terrain sample, ground, bed, masks: measured 160 with tracemalloc)
and the float64 and float32 host copies of a snapshot."""

DEVICE_VALUES_PER_CELL = 28
"""Device arrays of the state's precision per cell: two States and the Heun stage (3 x 4),
velocities (2), the x and y face fluxes (8, one face per cell and edge), bed and Manning's n
(2), rain and infiltration (2) and the recorder's running maxima (2)."""

DEVICE_BYTES_PER_CELL = 16
"""Further device bytes per cell: the solid mask (1), inflow index (4), time of the maximum
depth (8) and slack for the tile lists."""

ANNOUNCE_CELLS = 4_000_000
"""Grids of at least this many cells announce their size and memory on stderr before rasterising."""

GIB = 2.0**30


def memory_needed(nx: int, ny: int, dtype: str) -> tuple[float, float]:
    """(host, device) bytes a flood run on an nx x ny grid needs, about."""
    cells = nx * ny
    real = 8 if dtype == "float64" else 4
    return cells * HOST_BYTES_PER_CELL, cells * (DEVICE_VALUES_PER_CELL * real + DEVICE_BYTES_PER_CELL)


def host_memory_available() -> float:
    """Bytes of host memory available now (Linux MemAvailable, else the free pages)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    return float(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))


def check_memory(grid: Grid, dtype: str, device: str | None) -> None:
    """Refuse a grid whose run would not fit in memory, before anything is allocated;
    announce a large one on stderr.

    Raises:
        InputError: naming the grid, the memory it needs and what is available.
    """
    host, dev = memory_needed(grid.nx, grid.ny, dtype)
    init_warp()
    d = wp.get_device(device)
    free_host = host_memory_available()
    if d.is_cpu:
        need, have, where = host + dev, free_host, "host memory (the CPU device's arrays included)"
    elif dev > d.free_memory:
        need, have, where = dev, float(d.free_memory), f"memory on {d.alias}"
    else:
        need, have, where = host, free_host, "host memory"
    sizes = f"{grid.nx} x {grid.ny} = {grid.nx * grid.ny:,} cells of {grid.dx:.4g} x {grid.dy:.4g} m"
    if need > have:
        raise InputError("resolution", "", f"a grid of {sizes} needs about {need / GIB:.3g} GiB of {where}; "
                                           f"{have / GIB:.3g} GiB is available: use a coarser resolution")
    if grid.nx * grid.ny >= ANNOUNCE_CELLS:
        print(f"twin: grid {sizes}: about {host / GIB:.3g} GiB of host memory and {dev / GIB:.3g} GiB on {d.alias}",
              file=sys.stderr)


def flood_problem(
    scene: Scene,
    *,
    resolution: float,
    buildings: str = "raise",
    order: int = 2,
    cfl: float = 0.5,
    h_dry: float = 1e-4,
    dtype: str = "float32",
    device: str | None = None,
) -> tuple[Model, Control, FloodGrid]:
    """Rasterise ``scene`` at ``resolution`` [m] and build the solver's Model and Control.

    The grid's memory is checked first (:func:`check_memory`). ``fg.initial_stage`` holds
    the scene's initial water; ``model.state_from_stage(fg.initial_stage)`` is the state
    a run starts from.
    """
    check_memory(Grid.over(scene.extent, resolution), dtype, device)
    fg = rasterise(scene, resolution, buildings=buildings)
    g = fg.grid
    model = Model.from_arrays(
        fg.bed, dx=g.dx, dy=g.dy, x0=g.x0, y0=g.y0, manning_n=fg.manning_n, solid=fg.solid,
        boundaries={e: b.kind for e, b in scene.boundaries.items()},
        order=order, cfl=cfl, h_dry=h_dry, dtype=dtype, device=device,
    )
    control = Control(
        source_of_cell=fg.source_of_cell if scene.inflows else None,
        source_discharge=[s.discharge for s in scene.inflows],
        boundary_series={e: b.series for e, b in scene.boundaries.items() if b.series is not None},
    )
    if scene.rain is not None:
        control.rain_rate = fg.rain_mask * MM_PER_H
        control.rain_scale = scene.rain.intensity
        if scene.rain.infiltration > 0:
            control.infiltration_rate = fg.rain_mask * scene.rain.infiltration * MM_PER_H
    return model, control, fg


__all__ = ["check_memory", "flood_problem", "memory_needed"]

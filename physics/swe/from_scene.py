"""Building the flood solver's Model and Control from a Scene."""

from __future__ import annotations

import math
import sys

import numpy as np
import warp as wp
from twin.physics.device import init_warp
from twin.physics.swe.model import Control, Model, RainFrames

from twin.errors import InputError
from twin.io.weather import Regridder, precipitation_rate
from twin.raster import ANNOUNCE_CELLS, GIB, MM_PER_H, FloodGrid, Grid, grid_sizes, host_memory_available, rasterise
from twin.scene import EDGES, Rain, Scene

HOST_BYTES_PER_CELL = 200
"""Peak host memory of a flood run [bytes per cell]: rasterising the scene (float64 cell
centres, the bilinear terrain sample, ground, bed, masks: measured 160 with tracemalloc)
and the float64 and float32 host copies of a snapshot."""

DEVICE_VALUES_PER_CELL = 35
"""Device arrays of the state's precision per cell: two States and the Heun stage (3 x 4),
velocities (2), the x and y face fluxes (8, one face per cell and edge), bed and Manning's n
(2), rain and infiltration (2), two rain-field frames (2), initial and continuing losses (2),
the recorder's running maxima of depth, speed and h|u| (3) and the arrival time (2, float64)."""

DEVICE_BYTES_PER_CELL = 16
"""Further device bytes per cell: the solid mask (1), inflow index (4), time of the maximum
depth (8) and slack for the tile lists."""



def memory_needed(nx: int, ny: int, dtype: str) -> tuple[float, float]:
    """(host, device) bytes a flood run on an nx x ny grid needs, about."""
    cells = nx * ny
    real = 8 if dtype == "float64" else 4
    return cells * HOST_BYTES_PER_CELL, cells * (DEVICE_VALUES_PER_CELL * real + DEVICE_BYTES_PER_CELL)


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
    sizes = grid_sizes(grid)
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
    kinds, whole_series, span_series = edge_boundaries(scene, g)
    model = Model.from_arrays(
        fg.bed, dx=g.dx, dy=g.dy, x0=g.x0, y0=g.y0, manning_n=fg.manning_n, solid=fg.solid,
        boundaries=kinds, order=order, cfl=cfl, h_dry=h_dry, dtype=dtype, device=device,
    )
    control = Control(
        source_of_cell=fg.source_of_cell if scene.inflows else None,
        source_discharge=[s.discharge for s in scene.inflows],
        boundary_series=whole_series,
        span_series=span_series,
    )
    if scene.rain is not None:
        if scene.rain.field is not None:
            control.rain_field = rain_frames(scene.rain, scene.crs, g, fg.rain_mask)
        else:
            control.rain_rate = fg.rain_mask * MM_PER_H
            control.rain_scale = scene.rain.intensity
        if scene.rain.infiltration > 0:
            control.infiltration_rate = fg.rain_mask * scene.rain.infiltration * MM_PER_H
    if scene.loss_zones:
        initial, continuing = np.zeros(g.shape), np.zeros(g.shape)
        for zone in scene.loss_zones:
            inside = g.polygon_mask(zone.polygon)
            initial[inside] = zone.initial_loss * 1e-3
            continuing[inside] = zone.continuing_loss * MM_PER_H
        control.initial_loss, control.continuing_loss = initial, continuing
    return model, control, fg


def edge_boundaries(scene: Scene, grid: Grid) -> tuple[dict, dict, dict]:
    """(edge -> kind or [(kind, c0, c1), ...] for :meth:`Model.from_arrays`, whole-edge
    series, span series) from the scene's boundaries. A span (a, b) [m] takes the edge
    cells whose centres lie in [a, b).

    Raises:
        InputError: a span that holds no cell centre at this resolution.
    """
    kinds, whole, spans = {}, {}, {}
    for edge in EDGES:
        bs = scene.edge_boundaries(edge)
        if len(bs) == 1 and bs[0].span is None:
            kinds[edge] = bs[0].kind
            if bs[0].series is not None:
                whole[edge] = bs[0].series
            continue
        d = grid.dy if edge in ("west", "east") else grid.dx
        n = grid.ny if edge in ("west", "east") else grid.nx
        kinds[edge], spans[edge] = [], []
        for k, b in enumerate(bs):
            a, e = b.span
            c0, c1 = (min(max(math.ceil(v / d - 0.5), 0), n) for v in (a, e))
            if c1 <= c0:
                raise InputError("scene " + scene.name, f"boundary {edge}[{k}]",
                                 f"span ({a:g}, {e:g}) m holds no cell centre at {d:g} m resolution")
            kinds[edge].append((b.kind, c0, c1))
            spans[edge].append(b.series)
    return kinds, whole, spans


def rain_frames(rain: Rain, crs: str, grid: Grid, mask: np.ndarray) -> RainFrames:
    """The rain field as frames on ``grid`` [m/s] (regridded bilinearly when the solver
    asks for a frame), times relative to ``rain.field_start``, zero outside ``mask``.

    Raises:
        InputError: the field does not cover the grid, or has missing or negative
            values over it.
    """
    f = precipitation_rate(rain.field, rain.accumulation)
    xc, yc = grid.centres()
    regridder = Regridder(f, crs, xc, yc, source="rain")
    values = regridder.horizontal_last(f)  # (time, source rows, source columns)
    j0, j1, i0, i1 = regridder.window
    used = values[:, j0:j1, i0:i1]
    times = f.coords["time"]
    bad = ~np.isfinite(used) | (used < 0)
    if bad.any():
        k = int(np.argwhere(bad)[0][0])
        raise InputError("rain", f"variable {f.name!r}", f"has missing or negative values over the scene at time {times[k]:.0f} s since 1970")
    start = times[0] if rain.field_start is None else float(rain.field_start)
    return RainFrames(times - start, lambda k: regridder(values[k]) * mask, mask)


__all__ = ["check_memory", "edge_boundaries", "flood_problem", "memory_needed", "rain_frames"]

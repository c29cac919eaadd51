"""Rasterising a Scene onto a structured solver grid (host side, NumPy).

Cells are selected by their centres: a cell belongs to a polygon when its
centre lies inside it (shapely's vectorised ``contains_xy``); an inflow circle
takes the cells whose centres lie within its radius, or the one nearest cell
when the grid is too coarse for any centre to fall inside.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import numpy as np
import shapely

from twin.errors import InputError
from twin.scene import Scene

ANNOUNCE_CELLS = 4_000_000
"""Grids of at least this many cells announce their size and memory on stderr before they are built."""
GIB = 2.0**30


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


def progress_bar(total: int, what: str, *, cells: int, unit: str = "cell"):
    """A progress bar on stderr over ``total`` ``unit``s for a step of a setup on ``cells`` cells when it is
    large (at least :data:`ANNOUNCE_CELLS`), else None."""
    if cells < ANNOUNCE_CELLS:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=what, unit=unit, unit_scale=True, file=sys.stderr, mininterval=1.0)


def grid_sizes(grid: "Grid") -> str:
    """``"nx x ny = N cells of dx x dy m"``, for messages."""
    return f"{grid.nx} x {grid.ny} = {grid.nx * grid.ny:,} cells of {grid.dx:.4g} x {grid.dy:.4g} m"


def check_host_memory(grid: "Grid", bytes_per_cell: float, what: str) -> None:
    """Refuse, before anything is allocated, building ``what`` on ``grid`` when it needs more host memory
    than is available (``bytes_per_cell`` [B]); announce a large grid on stderr.

    Raises:
        InputError: naming the grid, the memory it needs and what is available.
    """
    need, have = grid.nx * grid.ny * bytes_per_cell, host_memory_available()
    if need > have:
        raise InputError("resolution", "", f"{what} on a grid of {grid_sizes(grid)} needs about {need / GIB:.3g} GiB "
                                           f"of host memory; {have / GIB:.3g} GiB is available: use a coarser resolution")
    if grid.nx * grid.ny >= ANNOUNCE_CELLS:
        print(f"twin: {what}: grid {grid_sizes(grid)}, about {need / GIB:.3g} GiB of host memory", file=sys.stderr)

MM_PER_H = 1.0 / 3.6e6
"""One mm/h in m/s."""


@dataclass
class Grid:
    """A structured grid over a scene's extent.

    Attributes:
        x0, y0: lower-left corner [m, scene CRS]; dx, dy: cell size [m]; nx, ny: cells.
    """

    x0: float
    y0: float
    dx: float
    dy: float
    nx: int
    ny: int

    @classmethod
    def over(cls, extent: tuple[float, float, float, float], resolution: float) -> "Grid":
        """The grid of cells about ``resolution`` [m] wide that tiles ``extent`` exactly."""
        if not (np.isfinite(resolution) and resolution > 0):
            raise InputError("resolution", "", f"must be a positive number of metres, got {resolution}")
        xmin, ymin, xmax, ymax = extent
        nx = max(1, int(round((xmax - xmin) / resolution)))
        ny = max(1, int(round((ymax - ymin) / resolution)))
        return cls(float(xmin), float(ymin), (xmax - xmin) / nx, (ymax - ymin) / ny, nx, ny)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.ny, self.nx)

    def centres(self) -> tuple[np.ndarray, np.ndarray]:
        """Cell-centre coordinates x (nx,), y (ny,) [m]."""
        return (self.x0 + (np.arange(self.nx) + 0.5) * self.dx, self.y0 + (np.arange(self.ny) + 0.5) * self.dy)

    def cell_of(self, x: float, y: float) -> tuple[int, int]:
        """(j, i) of the cell containing point (x, y) [m]."""
        i = int(np.clip(np.floor((x - self.x0) / self.dx), 0, self.nx - 1))
        j = int(np.clip(np.floor((y - self.y0) / self.dy), 0, self.ny - 1))
        return j, i

    def polygon_window(self, polygon: np.ndarray, within: tuple[slice, slice] | None = None
                       ) -> tuple[tuple[slice, slice], np.ndarray]:
        """The cells whose centres lie inside ``polygon`` (n, 2) [m], within its bounding box (or the window
        ``within``): (rows, columns) slices of the grid and a bool mask of that window's shape. On a large
        grid, work on the window, not on a whole-grid mask per polygon."""
        poly = shapely.Polygon(polygon)
        if within is None:
            xmin, ymin, xmax, ymax = poly.bounds
            i0, i1 = (int(np.clip(np.floor((v - self.x0) / self.dx - 0.5), 0, self.nx)) for v in (xmin, xmax + self.dx))
            j0, j1 = (int(np.clip(np.floor((v - self.y0) / self.dy - 0.5), 0, self.ny)) for v in (ymin, ymax + self.dy))
            if i1 <= i0 or j1 <= j0:
                return (slice(0, 0), slice(0, 0)), np.zeros((0, 0), bool)
            within = (slice(j0, j1 + 1), slice(i0, i1 + 1))
        window = within
        xc, yc = self.centres()
        X, Y = np.meshgrid(xc[window[1]], yc[window[0]])
        shapely.prepare(poly)
        return window, shapely.contains_xy(poly, X, Y)

    def polygon_mask(self, polygon: np.ndarray) -> np.ndarray:
        """Cells whose centres lie inside ``polygon`` (n, 2) [m]: bool (ny, nx)."""
        mask = np.zeros(self.shape, bool)
        window, inside = self.polygon_window(polygon)
        mask[window] = inside
        return mask

    def circle_mask(self, center: tuple[float, float], radius: float) -> np.ndarray:
        """Cells whose centres lie within ``radius`` [m] of ``center``; at least one cell."""
        xc, yc = self.centres()
        d2 = (xc[None, :] - center[0]) ** 2 + (yc[:, None] - center[1]) ** 2
        mask = d2 <= radius * radius
        if not mask.any():
            mask.flat[int(np.argmin(d2))] = True
        return mask


@dataclass
class FloodGrid:
    """A Scene rasterised for the flood solver; every field is (ny, nx), row 0 south.

    Attributes:
        grid: the cells.
        ground: bare terrain elevation at cell centres [m].
        bed: the solver's bed [m]: ground, plus building heights when buildings are raised.
        building: True inside a building footprint.
        solid: True where a building is cut out as a wall.
        manning_n: Manning's n [s m^-1/3].
        source_of_cell: index into ``scene.inflows`` feeding the cell, -1 for none.
        rain_mask: True where the scene's rain falls.
        probe_cells: probe name -> (j, i).
        filled_nodata: number of cells whose terrain had no data and was filled
            from the nearest cells with data.
        initial_stage: the scene's initial water level [m] (see :func:`initial_stage`),
            NaN where no entry applies (dry).
    """

    grid: Grid
    ground: np.ndarray
    bed: np.ndarray
    building: np.ndarray
    solid: np.ndarray
    manning_n: np.ndarray
    source_of_cell: np.ndarray
    rain_mask: np.ndarray
    probe_cells: dict[str, tuple[int, int]]
    filled_nodata: int
    initial_stage: np.ndarray | None = None


def fill_nodata(values: np.ndarray) -> tuple[np.ndarray, int]:
    """Replace NaNs by the mean of their valid 4-neighbours, growing inwards; returns (filled, count).

    Each pass fills the missing cells next to a valid one from the values of the pass
    before (so a gap fills symmetrically from its rims). Only that frontier is visited:
    the work is linear in the cells, however far the gaps reach (a whole-grid pass per
    ring took hours on a 91-million-cell city whose ground covers a corner).

    Args:
        values: (ny, nx) with NaN where there is no data.
    """
    a = np.asarray(values, dtype=np.float64)
    missing = np.isnan(a)
    count = int(missing.sum())
    if count == a.size:
        raise InputError("terrain", "", "has no data inside the domain")
    if count == 0:
        return a.copy(), 0
    ny, nx = a.shape
    padded = np.full((ny + 2, nx + 2), np.nan)
    padded[1:-1, 1:-1] = a
    flat = padded.ravel()
    todo = np.zeros(padded.shape, bool)
    todo[1:-1, 1:-1] = missing
    todo = todo.ravel()
    row = nx + 2
    offsets = (-row, row, -1, 1)  # the neighbours south, north, west, east (summed in this order)
    gaps = np.flatnonzero(todo)
    frontier = gaps[np.any([~np.isnan(flat[gaps + o]) for o in offsets], axis=0)]
    bar = progress_bar(count, "filling cells without data", cells=a.size)
    while frontier.size:
        if bar is not None:
            bar.update(frontier.size)
        neighbours = [flat[frontier + o] for o in offsets]
        total = np.zeros(frontier.size)
        known = np.zeros(frontier.size)
        for v in neighbours:
            valid = ~np.isnan(v)
            total += np.where(valid, v, 0.0)
            known += valid
        flat[frontier] = total / known
        todo[frontier] = False
        nxt = np.concatenate([frontier + o for o in offsets])
        frontier = np.unique(nxt[todo[nxt]])
    if bar is not None:
        bar.close()
    return padded[1:-1, 1:-1].copy(), count


def rasterise(scene: Scene, resolution: float, *, buildings: str = "raise") -> FloodGrid:
    """Rasterise ``scene`` onto a grid of about ``resolution`` [m].

    Args:
        buildings: "raise" lifts the bed by each building's height inside its
            footprint; "wall" cuts the footprint out as solid (reflective) cells.
            Courtyards (``Building.holes``) stay open; parts with ``min_height > 0``
            (they float above the ground) do not block the water.
    """
    if buildings not in ("raise", "wall"):
        raise InputError("buildings", "", f"expected 'raise' or 'wall', got {buildings!r}")
    grid = Grid.over(scene.extent, resolution)
    xc, yc = grid.centres()
    X, Y = np.meshgrid(xc, yc)
    ground, filled = fill_nodata(scene.terrain.sample(X, Y))
    building = np.zeros(grid.shape, bool)
    bed = ground.copy()
    bar = progress_bar(len(scene.buildings) + len(scene.friction_zones), "buildings and friction zones",
                       cells=grid.nx * grid.ny, unit="polygon")
    for b in scene.buildings:
        if bar is not None:
            bar.update()
        if b.min_height > 0:  # a part that floats above the ground: water passes under it
            continue
        window, inside = grid.polygon_window(b.footprint)
        for hole in b.holes:  # courtyards stay open ground
            inside &= ~grid.polygon_window(hole, window)[1]
        building[window] |= inside
        if buildings == "raise":
            bed[window][inside] = ground[window][inside] + b.height
    solid = building.copy() if buildings == "wall" else np.zeros(grid.shape, bool)
    manning = np.full(grid.shape, scene.default_manning)
    for zone in scene.friction_zones:
        if bar is not None:
            bar.update()
        window, inside = grid.polygon_window(zone.polygon)
        manning[window][inside] = zone.manning_n
    if bar is not None:
        bar.close()
    source = np.full(grid.shape, -1, np.int32)
    for k, inflow in enumerate(scene.inflows):
        cells = grid.circle_mask(inflow.center, inflow.radius) if inflow.polygon is None else grid.polygon_mask(inflow.polygon)
        if not cells.any():
            raise InputError("scene " + scene.name, f"inflow {inflow.name!r}", "its polygon covers no cell centre; use a finer grid or a larger polygon")
        source[cells] = k
    rain_mask = np.zeros(grid.shape, bool)
    if scene.rain is not None:
        rain_mask[:] = True if scene.rain.polygon is None else grid.polygon_mask(scene.rain.polygon)
    probes = {p.name: grid.cell_of(p.x, p.y) for p in scene.probes}
    return FloodGrid(grid, ground, bed, building, solid, manning, source, rain_mask, probes, filled,
                     initial_stage(scene, grid, X, Y))


def initial_stage(scene: Scene, grid: Grid, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """The initial water level [m] of each cell, (ny, nx) float64, NaN where dry.

    ``scene.initial_water`` is applied in order, each entry over the cells whose
    centres (X, Y) [m], (ny, nx), lie inside its polygon (everywhere without one),
    so later entries override earlier ones; a stage raster's NaN leaves a cell as it was.
    Where the level is at or below the bed the solver makes the cell dry.
    """
    stage = np.full(grid.shape, np.nan)
    for k, w in enumerate(scene.initial_water):
        cells = np.ones(grid.shape, bool) if w.polygon is None else grid.polygon_mask(w.polygon)
        if not cells.any():
            raise InputError("scene " + scene.name, f"initial_water[{k}]", "its polygon covers no cell centre; use a finer grid or a larger polygon")
        levels = np.full(int(cells.sum()), w.stage) if np.isscalar(w.stage) else w.stage.sample(X[cells], Y[cells])
        has = np.isfinite(levels)
        idx = np.flatnonzero(cells.ravel())[has]
        stage.ravel()[idx] = levels[has]
    return stage

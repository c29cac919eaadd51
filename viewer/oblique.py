"""A 3D oblique picture of the peak flood, rendered off screen with pyvista.

The ground is a smooth surface through the cell centres; buildings stand on it
as flat-roofed blocks with vertical walls along the cell edges; the peak water
surface (``max_stage``) lies over it, translucent and coloured by peak depth.
Heights are exaggerated by ``z_exaggeration``; x and y are taken relative to
the lower-left cell centre, so UTM coordinates keep their precision in float32.
"""

from __future__ import annotations

import math
import os
from os import PathLike
from pathlib import Path

os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")

import numpy as np  # noqa: E402
import pyvista as pv  # noqa: E402
import xarray as xr  # noqa: E402
from matplotlib import colormaps  # noqa: E402
from matplotlib.colors import ListedColormap  # noqa: E402

from viewer.flood_maps import wet_threshold  # noqa: E402

pv.OFF_SCREEN = True

__all__ = ["render_oblique"]

EARTH_CMAP = ListedColormap(colormaps["gist_earth"](np.linspace(0.38, 0.82, 256)), name="earth")
WATER_CMAP = ListedColormap(colormaps["Blues"](np.linspace(0.25, 0.85, 256)), name="water")
BUILDING_COLOR = "#d9d9d9"
WATER_OPACITY = 0.75
SKIRT_COLOR = "#8a7658"
SKIRT_DEPTH = 0.03
"""Depth of the earth walls around the domain, as a fraction of its larger side."""
CAMERA_AZIMUTH_DEG = 225.0
"""Compass bearing of the camera seen from the domain centre (south-west)."""
CAMERA_ELEVATION_DEG = 35.0
FRAME = (-0.92, 0.74, -0.94, 0.84)
"""Part of the picture the scene fills, in normalized device coordinates (x0, x1, y0, y1):
the right is left for the colour bar and the top for the title."""


def render_oblique(
    ds: xr.Dataset,
    path: str | PathLike,
    *,
    window_size: tuple[int, int] = (1600, 1000),
    z_exaggeration: float = 2.0,
) -> Path:
    """Render the peak flood of a Result in 3D, seen from the south-west, to a PNG.

    Args:
        ds: a flood Result (layout in :mod:`viewer.flood_report`).
        path: the PNG to write.
        window_size: picture size (width, height) [px].
        z_exaggeration: factor on heights.

    Returns:
        The path of the PNG written.
    """
    x = ds["x"].values.astype(np.float64)
    y = ds["y"].values.astype(np.float64)
    xs, ys = x - x[0], y - y[0]
    building = ds["building"].values.astype(bool)
    bed = _filled(ds["bed_elevation"].values)
    ground = np.where(building, _filled(ds["ground_elevation"].values), bed)
    base = float(ground.min())

    def lift(z: np.ndarray) -> np.ndarray:
        return (z - base) * z_exaggeration

    depth = ds["max_depth"].values.astype(np.float64)
    wet = (depth > wet_threshold(ds)) & np.isfinite(ds["max_stage"].values)
    width, height = window_size
    font = max(8, round(height / 60))

    plotter = pv.Plotter(off_screen=True, window_size=[width, height], lighting="light kit")
    try:
        plotter.set_background("white", top="#a9c8e8")
        terrain = _heightfield(xs, ys, lift(ground))
        terrain["elevation"] = ground.ravel()
        plotter.add_mesh(terrain, scalars="elevation", cmap=EARTH_CMAP, smooth_shading=True,
                         show_scalar_bar=False, ambient=0.15, diffuse=0.85, specular=0.0)
        floor = np.full(ground.shape, -SKIRT_DEPTH * max(xs[-1], ys[-1]))
        plotter.add_mesh(_skirt(xs, ys, lift(ground), floor, np.ones(ground.shape, bool)),
                         color=SKIRT_COLOR, ambient=0.25, diffuse=0.75)
        if building.any():
            plotter.add_mesh(_blocks(xs, ys, lift(bed), lift(_local_min(ground)), building),
                             color=BUILDING_COLOR, smooth_shading=False, ambient=0.2, diffuse=0.8)
        if wet.any():
            stage = lift(ds["max_stage"].values.astype(np.float64))
            style = dict(scalars="depth", cmap=WATER_CMAP, clim=(0.0, max(0.1, float(np.percentile(depth[wet], 99)))),
                         opacity=WATER_OPACITY, ambient=0.3, diffuse=0.7, specular=0.4, specular_power=30.0)
            side = _skirt(xs, ys, stage, lift(ground), wet, depth=depth)
            if side.n_cells:
                plotter.add_mesh(side, show_scalar_bar=False, **style)
            plotter.add_mesh(_water(xs, ys, stage, depth, wet), smooth_shading=True, **style,
                             scalar_bar_args=dict(
                                 title="Peak depth [m]\n", vertical=True, position_x=0.9, position_y=0.2,
                                 width=0.035, height=0.6, fmt="%.1f", n_labels=5, color="black",
                                 title_font_size=font, label_font_size=font, bold=False))
        title = f"{ds.attrs.get('title', 'Flood')}: peak flood, heights x{z_exaggeration:g}"
        plotter.add_text(title, position="upper_edge", font_size=font, color="black")
        _aim_camera(plotter, xs[-1] / 2, ys[-1] / 2, float(lift(ground).mean()))
        _fit_view(plotter, width / height)
        plotter.enable_anti_aliasing("ssaa")
        plotter.render()
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        plotter.screenshot(str(out))
    finally:
        plotter.close()
    return out


def _filled(values: np.ndarray) -> np.ndarray:
    """Heights [m] as float64 with NaN replaced by the lowest finite height."""
    z = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(z)
    return np.where(finite, z, z[finite].min() if finite.any() else 0.0)


def _local_min(z: np.ndarray) -> np.ndarray:
    """Minimum of ``z`` (ny, nx) over each cell and its 8 neighbours."""
    p = np.pad(z, 1, mode="edge")
    ny, nx = z.shape
    return np.min([p[j : j + ny, i : i + nx] for j in range(3) for i in range(3)], axis=0)


def _quads(points: np.ndarray, corners: np.ndarray, **point_data: np.ndarray) -> pv.PolyData:
    """PolyData of quads ``corners`` (n, 4) over ``points`` (m, 3), unused points dropped.

    ``point_data`` arrays (m,) come along for the points kept.
    """
    used, faces = np.unique(corners, return_inverse=True)
    mesh = pv.PolyData.from_regular_faces(points[used], faces.reshape(corners.shape))
    for name, values in point_data.items():
        mesh[name] = values[used]
    return mesh


def _cell_quads(nx: int, ny: int, keep: np.ndarray) -> np.ndarray:
    """Corner indices (n, 4) of the quads between the points of an (ny, nx) grid where ``keep`` (ny-1, nx-1)."""
    j, i = np.nonzero(keep)
    p = j * nx + i
    return np.stack([p, p + 1, p + nx + 1, p + nx], axis=1)


def _heightfield(xs: np.ndarray, ys: np.ndarray, z: np.ndarray) -> pv.PolyData:
    """A surface through the points (xs[i], ys[j], z[j, i]): every point kept, in row order."""
    ny, nx = z.shape
    xx, yy = np.meshgrid(xs, ys)
    points = np.column_stack([xx.ravel(), yy.ravel(), z.ravel()])
    return pv.PolyData.from_regular_faces(points, _cell_quads(nx, ny, np.ones((ny - 1, nx - 1), bool)))


def _water(xs: np.ndarray, ys: np.ndarray, stage: np.ndarray, depth: np.ndarray, wet: np.ndarray) -> pv.PolyData:
    """The water surface at height ``stage`` (ny, nx) over the quads that touch a wet point.

    Dry corners of those quads take the mean stage of their wet neighbours, so
    the surface runs on flat into the rising ground and the terrain cuts the
    shoreline. Point data ``depth`` [m] is 0 on dry points.
    """
    ny, nx = wet.shape
    sums = np.zeros((ny + 2, nx + 2))
    counts = np.zeros((ny + 2, nx + 2))
    level = np.where(wet, stage, 0.0)
    for dj in range(3):
        for di in range(3):
            sums[dj : dj + ny, di : di + nx] += level
            counts[dj : dj + ny, di : di + nx] += wet
    with np.errstate(invalid="ignore"):
        around = (sums / counts)[1:-1, 1:-1]
    z = np.where(wet, stage, around)
    touch = wet[:-1, :-1] | wet[1:, :-1] | wet[:-1, 1:] | wet[1:, 1:]
    xx, yy = np.meshgrid(xs, ys)
    points = np.column_stack([xx.ravel(), yy.ravel(), z.ravel()])
    return _quads(points, _cell_quads(nx, ny, touch), depth=np.where(wet, depth, 0.0).ravel())


def _blocks(xs: np.ndarray, ys: np.ndarray, roof: np.ndarray, floor: np.ndarray, building: np.ndarray) -> pv.PolyData:
    """Buildings as blocks: roofs over building cells, vertical walls on their outer cell edges.

    Args:
        xs, ys: cell centres (nx,), (ny,) [m] of a regular grid.
        roof: roof heights (ny, nx); a roof corner takes the mean of the
            building cells around it, so a building's roof is one surface.
        floor: heights (ny, nx) the walls reach down to; a wall foot takes the
            lowest of the cells around it, so no gap shows under the wall.
        building: True inside a building, (ny, nx).
    """
    ny, nx = building.shape
    dx = xs[1] - xs[0] if nx > 1 else 1.0
    dy = ys[1] - ys[0] if ny > 1 else 1.0
    xe = np.append(xs - dx / 2, xs[-1] + dx / 2)
    ye = np.append(ys - dy / 2, ys[-1] + dy / 2)

    def around(a: np.ndarray) -> list[np.ndarray]:  # the (up to) four cells around each corner, (ny+1, nx+1)
        return [a[:-1, :-1], a[1:, :-1], a[:-1, 1:], a[1:, 1:]]

    inside = np.pad(building, 1)
    count = np.sum(around(inside.astype(np.float64)), axis=0)
    top = np.sum(around(np.pad(np.where(building, roof, 0.0), 1)), axis=0) / np.maximum(count, 1.0)
    foot = np.min(around(np.pad(floor, 1, mode="edge")), axis=0)
    xx, yy = np.meshgrid(xe, ye)
    n = xx.size
    points = np.concatenate([np.column_stack([xx.ravel(), yy.ravel(), z.ravel()]) for z in (top, foot)])

    roofs = _cell_quads(nx + 1, ny + 1, building)
    jx, ix = np.nonzero(inside[1:-1, 1:] != inside[1:-1, :-1])  # walls on x = xe[ix], rows jx
    a = jx * (nx + 1) + ix
    walls_x = np.stack([a, a + nx + 1, a + nx + 1 + n, a + n], axis=1)
    jy, iy = np.nonzero(inside[1:, 1:-1] != inside[:-1, 1:-1])  # walls on y = ye[jy], columns iy
    a = jy * (nx + 1) + iy
    walls_y = np.stack([a, a + 1, a + 1 + n, a + n], axis=1)
    return _quads(points, np.concatenate([roofs, walls_x, walls_y]))


def _skirt(
    xs: np.ndarray, ys: np.ndarray, top: np.ndarray, bottom: np.ndarray, keep: np.ndarray, **point_data: np.ndarray
) -> pv.PolyData:
    """Vertical walls around the domain border, from ``top`` down to ``bottom`` (ny, nx), facing out.

    Only between consecutive border points where ``keep`` (ny, nx) holds at both;
    ``point_data`` arrays (ny, nx) are carried to the wall points.
    """
    ny, nx = top.shape
    ring = np.concatenate([
        np.arange(nx - 1),  # south, west to east
        np.arange(ny - 1) * nx + nx - 1,  # east, south to north
        (ny - 1) * nx + np.arange(nx - 1, 0, -1),  # north, east to west
        np.arange(ny - 1, -1, -1) * nx,  # west, north to south, closing the ring
    ])
    xx, yy = np.meshgrid(xs, ys)
    xy = np.column_stack([xx.ravel()[ring], yy.ravel()[ring]])
    points = np.concatenate([np.column_stack([xy, top.ravel()[ring]]), np.column_stack([xy, bottom.ravel()[ring]])])
    kept = keep.ravel()[ring]
    k = np.nonzero(kept[:-1] & kept[1:])[0]
    m = ring.size
    data = {name: np.tile(values.ravel()[ring], 2) for name, values in point_data.items()}
    return _quads(points, np.stack([k + 1, k, k + m, k + 1 + m], axis=1), **data)  # facing outward


def _aim_camera(plotter: pv.Plotter, cx: float, cy: float, cz: float) -> None:
    """Look at (cx, cy, cz) from the south-west, CAMERA_ELEVATION_DEG above the horizon, the scene filling the view."""
    az, el = math.radians(CAMERA_AZIMUTH_DEG), math.radians(CAMERA_ELEVATION_DEG)
    direction = np.array([math.sin(az) * math.cos(el), math.cos(az) * math.cos(el), math.sin(el)])
    plotter.camera.focal_point = (cx, cy, cz)
    plotter.camera.position = tuple(np.array([cx, cy, cz]) + direction)
    plotter.camera.up = (0.0, 0.0, 1.0)
    plotter.reset_camera()


def _fit_view(plotter: pv.Plotter, aspect: float, frame: tuple[float, float, float, float] = FRAME) -> None:
    """Pan and zoom the camera so the scene's bounding box fills ``frame`` (NDC x0, x1, y0, y1) of the picture."""
    camera = plotter.camera
    camera.OrthogonalizeViewUp()
    b = plotter.bounds
    corners = np.array([(x, y, z, 1.0) for x in b[0:2] for y in b[2:4] for z in b[4:6]])
    goal = np.array([(frame[0] + frame[1]) / 2, (frame[2] + frame[3]) / 2])
    for _ in range(3):
        projection = pv.array_from_vtkmatrix(camera.GetCompositeProjectionTransformMatrix(aspect, -1.0, 1.0))
        h = corners @ projection.T
        ndc = h[:, :2] / h[:, 3:]
        low, high = ndc.min(axis=0), ndc.max(axis=0)
        zoom = min((frame[1] - frame[0]) / (high[0] - low[0]), (frame[3] - frame[2]) / (high[1] - low[1]))
        shift = (low + high) / 2 - goal / zoom  # NDC, before zooming
        half = camera.distance * math.tan(math.radians(camera.view_angle) / 2)
        up = np.array(camera.up)
        right = np.cross(np.array(camera.direction), up)
        delta = shift[0] * half * aspect * right + shift[1] * half * up
        camera.position = tuple(np.array(camera.position) + delta)
        camera.focal_point = tuple(np.array(camera.focal_point) + delta)
        camera.zoom(zoom)
    plotter.renderer.ResetCameraClippingRange()

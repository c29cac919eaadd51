"""Winds of a weather file on a dispersion model's grid: regridded, lifted onto heights, turned to grid axes.

Pressure-level winds (u east, v north [m/s] on levels [Pa]) become winds on
fixed heights above sea level using each column's geopotential height (linear
in height between levels; below the lowest level and above the highest the
nearest level's wind is held). Eastward/northward components become grid x/y
velocities through the projection's local Jacobian: a true displacement of one
metre east or north maps to a grid displacement (dx, dy), which carries both
the meridian convergence (the grid's north is not true north away from the
central meridian) and the map scale factor.
"""

from __future__ import annotations

import numpy as np

from twin.io.crs import metres_per_degree, transform
from twin.io.weather import WeatherData, regrid

__all__ = ["grid_axes", "winds_on_heights"]


def grid_axes(crs: str, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Grid displacement (dx, dy) of one true metre east and one true metre north at the nodes
    (x (nx,), y (ny,)) [m, ``crs``]; each of the two results has shape (ny, nx, 2)."""
    gx, gy = np.meshgrid(x, y)
    lon, lat = transform(crs, "EPSG:4326", gx, gy)
    step = 0.01  # degrees
    m_lon, m_lat = np.vectorize(metres_per_degree)(lat)
    ex, ey = transform("EPSG:4326", crs, lon + step, lat)
    nx_, ny_ = transform("EPSG:4326", crs, lon, lat + step)
    east = np.stack([(ex - gx), (ey - gy)], axis=-1) / (step * m_lon)[..., None]
    north = np.stack([(nx_ - gx), (ny_ - gy)], axis=-1) / (step * m_lat)[..., None]
    return east, north


def winds_on_heights(weather: WeatherData, crs: str, x: np.ndarray, y: np.ndarray, z: np.ndarray, *,
                     u: str, v: str, height: str) -> tuple[np.ndarray, np.ndarray]:
    """Grid-axis winds (u_x, u_y) [m/s], each (nt, nz, ny, nx) float32, at nodes x (nx,), y (ny,) [m, ``crs``]
    and heights z (nz,) [m above sea level], from pressure-level variables ``u``, ``v`` (eastward,
    northward wind) and ``height`` (geopotential height [m]) of ``weather``."""
    fields = [regrid(weather.fields[name], crs, x, y, source=weather.source) for name in (u, v, height)]
    ue, vn, gph = (f.values for f in fields)  # (nt, nlev, ny, nx), levels ascending in pressure
    nt, nlev, ny, nx = ue.shape
    out_e = np.empty((nt, len(z), ny, nx))
    out_n = np.empty_like(out_e)
    for t in range(nt):
        for j in range(ny):
            for i in range(nx):
                h = gph[t, ::-1, j, i]  # ascending height
                out_e[t, :, j, i] = np.interp(z, h, ue[t, ::-1, j, i])
                out_n[t, :, j, i] = np.interp(z, h, vn[t, ::-1, j, i])
    east, north = grid_axes(crs, x, y)
    wx = out_e * east[..., 0] + out_n * north[..., 0]
    wy = out_e * east[..., 1] + out_n * north[..., 1]
    return wx.astype(np.float32), wy.astype(np.float32)

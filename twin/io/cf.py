"""CF-1.10 georeferencing of gridded Results: the ``grid_mapping`` variable and the time axis.

GDAL (its netCDF and Zarr drivers, so QGIS), rioxarray and CF readers find the
CRS of a (y, x) variable through its ``grid_mapping`` attribute, which names a
scalar variable (here ``spatial_ref``) holding the CF projection parameters,
``crs_wkt`` (CF 1.7+), ``spatial_ref`` (the same WKT, where GDAL and rioxarray
look first) and ``GeoTransform`` (GDAL's six numbers). Cell centres ``x`` and
``y`` ascend (row 0 is the southern row), so the geotransform starts at the
south-west corner with a positive y step, as rioxarray derives it from the
coordinates; GDAL reads the coordinates themselves and flips the rows to its
north-up order.

The time axis counts "seconds since START", START being the scene's
``start_time`` in UTC (:data:`twin.scene.DEFAULT_START_TIME` when the scene
names none). xarray decodes such an axis into datetimes when it opens the
store; twin's own readers open Results with ``decode_times=False`` and keep the
seconds.
"""

from __future__ import annotations

import numpy as np
import pyproj
import xarray as xr

from twin.scene import DEFAULT_START_TIME, utc_time

__all__ = ["GRID_MAPPING", "attach_grid_mapping", "geotransform", "grid_mapping", "time_units"]

GRID_MAPPING = "spatial_ref"
"""Name of the grid-mapping variable in every gridded Result."""


def geotransform(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float, float, float, float]:
    """GDAL's (x_left, dx, 0, y_first_edge, 0, dy) of cell centres ``x`` (nx,), ``y`` (ny,) [m], equally spaced.

    The origin is the outer corner of cell (0, 0); dy > 0 for ascending ``y``.
    """
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    dx = float(x[1] - x[0]) if len(x) > 1 else 1.0
    dy = float(y[1] - y[0]) if len(y) > 1 else 1.0
    return (float(x[0]) - 0.5 * dx, dx, 0.0, float(y[0]) - 0.5 * dy, 0.0, dy)


def grid_mapping(crs: str, x: np.ndarray, y: np.ndarray) -> xr.DataArray:
    """The CF grid-mapping variable (a 0-d int32) of the grid with centres ``x``, ``y`` [m] in ``crs``.

    Attributes: the CF projection parameters of ``crs`` (pyproj ``CRS.to_cf``),
    ``crs_wkt`` and ``spatial_ref`` (WKT2) and ``GeoTransform`` (six numbers).
    """
    c = pyproj.CRS.from_user_input(crs)
    attrs = c.to_cf()
    attrs["spatial_ref"] = attrs["crs_wkt"]
    attrs["GeoTransform"] = " ".join(repr(v) for v in geotransform(x, y))
    return xr.DataArray(np.int32(0), attrs=attrs)


def time_units(start_time: str = DEFAULT_START_TIME) -> str:
    """CF units of a time axis in seconds from ``start_time`` (ISO 8601): "seconds since 2000-01-01 00:00:00"."""
    return "seconds since " + utc_time(start_time).strftime("%Y-%m-%d %H:%M:%S")


def attach_grid_mapping(ds: xr.Dataset, crs: str | None, start_time: str | None = None) -> xr.Dataset:
    """``ds`` with the grid-mapping variable of ``crs``, each variable over (y, x) pointing at it, and the time
    axes (``time``, ``probe_time``) in "seconds since" ``start_time``. Either is left out when None (a model
    built from bare arrays has no CRS).

    ``ds`` needs ascending, equally spaced ``x`` and ``y`` coordinates [m].
    """
    if crs is not None:
        ds = ds.assign_coords({GRID_MAPPING: grid_mapping(crs, ds["x"].values, ds["y"].values)})
        for _name, v in ds.data_vars.items():
            if v.dims[-2:] == ("y", "x"):
                v.attrs["grid_mapping"] = GRID_MAPPING
    if start_time is not None:
        for name in ("time", "probe_time"):
            if name in ds.coords:
                ds[name].attrs.update(units=time_units(start_time), calendar="proleptic_gregorian")
        ds.attrs["start_time"] = utc_time(start_time).strftime("%Y-%m-%dT%H:%M:%SZ")
    return ds

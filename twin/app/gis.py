"""A flood Result handed on as GIS files: Cloud-Optimized GeoTIFFs, one CF NetCDF-4, a GeoPackage.

``twin export RESULT_DIR --geotiff DIR --netcdf FILE.nc --vector FILE.gpkg``
calls :func:`export_gis`; each writer can also be called alone with a result
folder, a ``result.zarr`` store or an ``xarray.Dataset``. Every file is written
beside its place and renamed when complete, so an error leaves nothing half
written.

GeoTIFFs (:data:`GEOTIFF_PRODUCTS`, one per variable the Result holds) are
north-up COGs (DEFLATE, 512-pixel tiles, overviews), in the scene's CRS, with
nodata where the cell never got wet (NaN for floats, 0 for the hazard class).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from os import PathLike
from pathlib import Path

import numpy as np
import xarray as xr

from twin.errors import InputError

__all__ = ["GEOTIFF_PRODUCTS", "export_geotiff", "export_gis", "export_netcdf", "export_vector", "open_result"]

GEOTIFF_PRODUCTS = ("max_depth", "max_stage", "max_speed", "max_depth_velocity", "hazard_class", "arrival_time", "time_of_max_depth")
"""Result variables written as GeoTIFFs (``NAME.tif``), those the Result holds."""

NEEDED = ("max_depth", "max_speed", "x", "y")


def open_result(result: xr.Dataset | str | PathLike) -> xr.Dataset:
    """A flood Result: the Dataset itself, or ``result.zarr`` in a folder (or the store), times in seconds."""
    if isinstance(result, xr.Dataset):
        ds, source = result, "result"
    else:
        p = Path(result)
        store = p if p.suffix == ".zarr" else p / "result.zarr"
        if not store.is_dir():
            raise InputError(p, "", "no result.zarr here (expected a `twin run` output folder)")
        try:
            ds = xr.open_zarr(store, decode_times=False)
        except Exception as e:  # noqa: BLE001 (zarr raises many kinds on a damaged store)
            raise InputError(store, "", f"unreadable Result ({type(e).__name__}: {e})") from None
        source = store
    missing = [n for n in NEEDED if n not in ds.variables]
    if missing:
        raise InputError(source, "", f"not a flood Result, missing {', '.join(missing)}")
    if "crs" not in ds.attrs:
        raise InputError(source, "", "the Result names no CRS (attribute crs)")
    return ds


def _products(ds: xr.Dataset) -> dict[str, xr.DataArray]:
    """The GeoTIFF products of ``ds``, dry cells masked; the hazard class computed from the peaks when the
    Result has ``max_depth_velocity`` but no ``hazard_class``."""
    from twin.physics.swe.hazard import result_hazard_class

    wet = ds["max_depth"].values > float(ds.attrs.get("wet_threshold_m", 1e-3))
    hazard = result_hazard_class(ds)
    if hazard is not None:
        ds = ds.assign(hazard_class=(("y", "x"), hazard, {"units": "1", "long_name": "ARR 2019 flood hazard class (0 dry, 1..6 = H1..H6)"}))
    out = {}
    for name in GEOTIFF_PRODUCTS:
        if name not in ds:
            continue
        v = ds[name]
        if np.issubdtype(v.dtype, np.floating):
            v = v.where(wet)
        out[name] = v
    return out


def _staged(final: list[Path]):
    """A temporary folder beside the first of ``final`` and a function that moves its files to their places."""
    parent = final[0].parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".twin-export-", dir=parent))

    def commit():
        for f in final:
            os.replace(tmp / f.name, f)

    return tmp, commit


def export_geotiff(result: xr.Dataset | str | PathLike, out_dir: str | PathLike) -> dict[str, Path]:
    """Write ``out_dir``/NAME.tif, a Cloud-Optimized GeoTIFF, for each of :data:`GEOTIFF_PRODUCTS` the Result holds.

    Returns:
        product name -> path.
    """
    import rasterio
    import rasterio.shutil
    from rasterio.io import MemoryFile
    from rasterio.transform import from_origin

    ds = open_result(result)
    products = _products(ds)
    x, y = ds["x"].values, ds["y"].values
    dx, dy = float(x[1] - x[0]), float(y[1] - y[0])
    transform = from_origin(float(x[0]) - dx / 2, float(y[-1]) + dy / 2, dx, dy)
    out_dir = Path(out_dir)
    paths = {name: out_dir / f"{name}.tif" for name in products}
    tmp, commit = _staged(list(paths.values()))
    try:
        for name, v in products.items():
            data = np.asarray(v.values)[::-1]  # north-up: row 0 is the northern row
            integer = np.issubdtype(data.dtype, np.integer)
            data = data.astype(np.int8 if integer else np.float32)
            profile = {"driver": "GTiff", "width": data.shape[1], "height": data.shape[0], "count": 1, "dtype": data.dtype.name,
                       "crs": ds.attrs["crs"], "transform": transform, "nodata": 0 if integer else np.nan}
            with MemoryFile() as mem:
                with mem.open(**profile) as dst:
                    dst.write(data, 1)
                    dst.update_tags(1, units=v.attrs.get("units", ""), long_name=v.attrs.get("long_name", name))
                    dst.set_band_description(1, name)
                with mem.open() as src:
                    rasterio.shutil.copy(src, tmp / f"{name}.tif", driver="COG", COMPRESS="DEFLATE", BLOCKSIZE=512,
                                         PREDICTOR="YES" if not integer else "NO", OVERVIEWS="AUTO")
        commit()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return paths


def export_netcdf(result: xr.Dataset | str | PathLike, path: str | PathLike) -> Path:
    """Write the whole Result as one CF-1.10 NetCDF-4 file (zlib level 4), with its grid mapping and time axis."""
    ds = open_result(result).drop_encoding()
    path = Path(path)
    if path.suffix.lower() != ".nc":
        raise InputError(path, "", "a NetCDF file must end in .nc")
    encoding = {n: {"zlib": True, "complevel": 4} for n, v in ds.data_vars.items() if v.dtype.kind in "fiu"}
    tmp, commit = _staged([path])
    try:
        ds.assign_attrs(Conventions="CF-1.10").to_netcdf(tmp / path.name, format="NETCDF4", engine="netcdf4", encoding=encoding)
        commit()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return path


def export_vector(result: xr.Dataset | str | PathLike, path: str | PathLike) -> dict[str, int]:
    """Write a GeoPackage: ``flood_extent`` (polygons of the cells ever wet), ``hazard`` (polygons of each hazard
    class, when the Result has one) and ``probes`` (points with their peak depth [m], stage [m], speed [m/s] and
    the time of the peak depth [s]).

    Returns:
        layer name -> number of features.
    """
    import rasterio.features
    import shapely
    from rasterio.transform import from_origin

    from twin.io.vector import write_vector

    ds = open_result(result)
    path = Path(path)
    if path.suffix.lower() != ".gpkg":
        raise InputError(path, "", "the vector export is a GeoPackage; the file must end in .gpkg")
    products = _products(ds)
    threshold = float(ds.attrs.get("wet_threshold_m", 1e-3))
    x, y = ds["x"].values, ds["y"].values
    dx, dy = float(x[1] - x[0]), float(y[1] - y[0])
    transform = from_origin(float(x[0]) - dx / 2, float(y[-1]) + dy / 2, dx, dy)

    def polygons(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Polygons of the equal nonzero values of a (ny, nx) grid, and their values."""
        north_up = np.ascontiguousarray(values[::-1]).astype(np.int16)
        shapes = list(rasterio.features.shapes(north_up, mask=north_up > 0, transform=transform, connectivity=4))
        return np.array([shapely.geometry.shape(g) for g, _ in shapes], object), np.array([int(v) for _, v in shapes], np.int16)

    wet = (ds["max_depth"].values > threshold).astype(np.int16)
    extent, _ = polygons(wet)
    layers = {"flood_extent": (extent, {"area_m2": shapely.area(extent)})}
    if "hazard_class" in products:
        zones, cls = polygons(products["hazard_class"].values)
        layers["hazard"] = (zones, {"hazard_class": cls, "label": np.array([f"H{c}" for c in cls]), "area_m2": shapely.area(zones)})
    if "probe" in ds.dims and ds.sizes["probe"] > 0:
        depth = ds["probe_depth"].values
        speed = np.hypot(ds["probe_u"].values, ds["probe_v"].values) if "probe_u" in ds else np.full_like(depth, np.nan)
        stage = ds["probe_stage"].values
        ever = ~np.all(np.isnan(stage), axis=1)
        peak_stage = np.full(len(stage), np.nan)
        peak_stage[ever] = np.nanmax(stage[ever], axis=1)
        layers["probes"] = (shapely.points(ds["probe_x"].values, ds["probe_y"].values), {
            "name": ds["probe"].values.astype(str), "peak_depth_m": depth.max(axis=1), "peak_stage_m": peak_stage,
            "peak_speed_m_s": speed.max(axis=1), "time_of_peak_depth_s": ds["probe_time"].values[np.argmax(depth, axis=1)]})
    layers = {k: v for k, v in layers.items() if len(v[0])}
    if not layers:
        raise InputError(path, "", "nothing to write: no cell ever got wet and the Result has no probes")
    write_vector(path, layers, ds.attrs["crs"])
    return {k: len(v[0]) for k, v in layers.items()}


def export_gis(result: str | PathLike, *, geotiff: str | PathLike | None = None, netcdf: str | PathLike | None = None,
               vector: str | PathLike | None = None) -> dict[str, object]:
    """Every export asked for (``twin export RESULT_DIR --geotiff DIR --netcdf FILE.nc --vector FILE.gpkg``).

    Returns:
        "geotiff" -> {product: path}, "netcdf" -> path, "vector" -> {layer: features}, for those given.
    """
    if geotiff is None and netcdf is None and vector is None:
        raise InputError("twin export", "", "give --geotiff DIR, --netcdf FILE.nc or --vector FILE.gpkg")
    ds = open_result(result)
    done: dict[str, object] = {}
    if netcdf is not None:
        done["netcdf"] = export_netcdf(ds, netcdf)
    if geotiff is not None:
        done["geotiff"] = export_geotiff(ds, geotiff)
    if vector is not None:
        done["vector"] = export_vector(ds, vector)
    return done

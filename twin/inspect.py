"""What twin's importers read from a file: kind, CRS, extent, sizes, values.

:func:`describe` returns a plain dict (for scripts and tests);
:func:`format_description` turns it into a few aligned lines (for people).
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pyproj

from twin.errors import InputError
from twin.io.checks import library_errors, regular_file
from twin.io.csv_geometry import read_points, read_polygon
from twin.io.esri_ascii import read_esri_ascii, read_esri_ascii_header
from twin.io.prj import crs_from_prj, crs_from_prj_text
from twin.io.text import read_text
from twin.scene import Heightfield, load_scene

__all__ = ["describe", "format_description"]

SUPPORTED = (".asc, .zip (holding an .asc or an .hgt), .tif, .tiff, .hgt, .hgt.zip, .osm, .osm.gz, .osm.bz2, .pbf, "
             ".json (CityJSON), .jsonl (CityJSONSeq), .prj, .csv (polygon, points, sensor log), .urdf, .twin, .zarr (directory), "
             ".nc, .grib, .grib2, .grb, .gpkg, .shp, .geojson, .fgb")


def _heights(h: Heightfield) -> dict[str, Any]:
    """Shape, cell size, no-data count and elevation range of a heightfield."""
    e = h.elevation
    nodata = int(np.count_nonzero(np.isnan(e)))
    return {
        "shape": tuple(e.shape),
        "cellsize": (h.dx, h.dy),
        "nodata_cells": nodata,
        "elevation_range": (float(np.nanmin(e)), float(np.nanmax(e))) if nodata < e.size else None,
    }


def _grid_crs(path: Path, member: str | None) -> dict[str, Any]:
    """CRS of a grid from the .prj beside it (same stem) or, in a zip, beside its member."""
    prj = path.with_suffix(".prj")
    try:
        if prj.is_file():
            return {"crs": crs_from_prj(prj), "crs_source": str(prj)}
        if member is not None:
            name = str(Path(member).with_suffix(".prj"))
            with library_errors(f"{path}!{name}", "the zip member cannot be read as UTF-8 text"), zipfile.ZipFile(path) as z:
                text = z.read(name).decode("utf-8") if name in z.namelist() else None
            if text is not None:
                return {"crs": crs_from_prj_text(text, f"{path}!{name}"), "crs_source": f"{path}!{name}"}
    except InputError as e:
        return {"crs": None, "crs_error": str(e)}
    return {"crs": None, "crs_error": f"no {prj.name} beside it"}


def _describe_grid(path: Path) -> dict[str, Any]:
    header = read_esri_ascii_header(path)
    member = header.source.split("!", 1)[1] if "!" in header.source else None
    h = read_esri_ascii(path)
    d: dict[str, Any] = {"kind": "esri-ascii-grid (zip)" if member else "esri-ascii-grid"}
    if member:
        d["member"] = member
    d.update(_grid_crs(path, member))
    d["extent"] = h.extent
    d.update(_heights(h))
    d["nodata_value"] = header.nodata
    return d


def _describe_csv(path: Path) -> dict[str, Any]:
    """A ``name,x,y`` header makes a points file, a ``timestamp,...`` header a sensor log; anything else is read as a polygon."""
    from twin.io.sensor_log import TIME_COLUMNS

    first = next((line for line in read_text(path, encoding="utf-8-sig").splitlines() if line.strip()), "")
    if re.split(r"[,;\t]", first)[0].strip().lower() in TIME_COLUMNS:
        return _describe_sensor_log(path)
    if [c.strip().lower() for c in first.split(",")] == ["name", "x", "y"]:
        points = read_points(path)
        xy = np.array([(x, y) for _, x, y in points])
        return {
            "kind": "points",
            "points": len(points),
            "names": [name for name, _, _ in points],
            "extent": (*map(float, xy.min(axis=0)), *map(float, xy.max(axis=0))),
        }
    pts = read_polygon(path)
    x, y = pts[:, 0], pts[:, 1]
    area = 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))
    return {
        "kind": "polygon",
        "vertices": len(pts),
        "extent": (float(x.min()), float(y.min()), float(x.max()), float(y.max())),
        "area": area,
    }


def _describe_sensor_log(path: Path) -> dict[str, Any]:
    from twin.io.sensor_log import read_sensor_log

    log = read_sensor_log(path)
    start, end = log.span
    return {
        "kind": "sensor-log",
        "rows": log.rows,
        "channels": {name: log.units[name] or "unit not declared" for name in log.channels},
        "sampling_interval_s": log.interval,
        "time_span": (f"{start}Z", f"{end}Z"),
        "gaps": [{"after": f"{g.start}Z", "before": f"{g.end}Z", "missing": g.missing} for g in log.gaps],
        "duplicated_timestamps": [f"{t}Z" for t in log.duplicates],
        "clock_steps": [{"row": c.row, "from": f"{c.before}Z", "to": f"{c.after}Z", "back_s": c.seconds} for c in log.clock_steps],
    }


def _describe_urdf(path: Path) -> dict[str, Any]:
    import warnings

    from twin.io.urdf import UrdfWarning, read_urdf

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UrdfWarning)  # they are in the description
        robot = read_urdf(path, strict=False)
    return {
        "kind": "urdf",
        "robot": robot.name,
        "links": [link.name for link in robot.links],
        "joints": {j.name: j.type for j in robot.joints},
        "root": robot.root,
        "meshes_found": [f"{m.link} {m.role}: {m.path}" for m in robot.meshes],
        "meshes_missing": robot.missing,
        "total_mass_kg": robot.total_mass,
        "warnings": robot.warnings,
    }


def _describe_prj(path: Path) -> dict[str, Any]:
    crs = crs_from_prj(path)
    c = pyproj.CRS.from_user_input(crs)
    return {"kind": "projection", "crs": crs, "crs_name": c.name, "units": c.axis_info[0].unit_name}


def _describe_scene(path: Path) -> dict[str, Any]:
    s = load_scene(path)
    d: dict[str, Any] = {"kind": "twin-scene", "name": s.name, "crs": s.crs, "extent": s.extent, "origin": s.origin}
    d["terrain_extent"] = s.terrain.extent
    d.update(_heights(s.terrain))
    d.update(
        buildings=len(s.buildings),
        friction_zones=len(s.friction_zones),
        inflows=len(s.inflows),
        probes=len(s.probes),
        rain=s.rain is not None,
        boundaries={edge: ", ".join(b.kind + ("" if b.span is None else f" {b.span[0]:g}..{b.span[1]:g} m")
                                    for b in s.edge_boundaries(edge)) for edge in s.boundaries},
    )
    return d


def _describe_zarr(path: Path) -> dict[str, Any]:
    import xarray as xr  # heavy; only for results

    try:
        ds = xr.open_zarr(path, consolidated=False, decode_times=False)  # reads consolidated stores too
    except (OSError, ValueError, KeyError) as e:
        raise InputError(path, "", f"not a zarr store xarray can open ({e})") from None
    with ds:
        return {
            "kind": "zarr-result",
            "crs": ds.attrs.get("crs"),
            "dims": {str(k): int(v) for k, v in ds.sizes.items()},
            "variables": {str(k): f"({', '.join(map(str, v.dims))}) {v.dtype}" for k, v in ds.data_vars.items()},
            "attrs": {str(k): v for k, v in ds.attrs.items() if k != "crs"},
        }


def _describe_osm(path: Path) -> dict[str, Any]:
    from twin.io.osm import read_osm

    data = read_osm(path)
    c = dict(data.counts)
    return {
        "kind": "osm-pbf" if path.name.lower().endswith(".pbf") else "osm-xml",
        "crs": data.crs,
        "source_crs": "EPSG:4326",
        "bounds": data.bounds,
        "extent": data.extent,
        "buildings": c.pop("buildings"),
        "building_parts": c.pop("building_parts"),
        "roads": c.pop("roads"),
        "land_use_areas": c.pop("land_use_areas"),
        "vertices": c.pop("vertices"),
        "references_missing": c["missing_node_refs"] + c["missing_members"],
        "counts": c,
    }


def _describe_cityjson(path: Path) -> dict[str, Any]:
    from twin.io.cityjson import read_cityjson

    city = read_cityjson(path)
    c = dict(city.counts)
    types = {k.split(":", 1)[1]: c.pop(k) for k in sorted(k for k in list(c) if k.startswith("type:"))}
    return {
        "kind": "cityjsonseq" if path.name.lower().endswith(".jsonl") else "cityjson",
        "version": city.version,
        "crs": city.crs,
        "source_crs": city.source_crs,
        "extent": city.extent,
        "elevation_range": city.z_range,
        "buildings": c.pop("buildings"),
        "building_parts": c.pop("building_parts"),
        "roads": c.pop("roads"),
        "land_use_areas": c.pop("land_use_areas"),
        "vertices": c.pop("vertices"),
        "references_missing": c["orphan_parts"],
        "city_objects": types,
        "counts": c,
    }


def _describe_dem(path: Path) -> dict[str, Any]:
    from twin.io.crs import is_geographic, utm_crs
    from twin.io.dem import native_resolution, read_raster

    r = read_raster(path)
    d: dict[str, Any] = {"kind": r.kind}
    if "!" in r.source:
        d["member"] = r.source.split("!", 1)[1]
    d.update(crs=r.crs, extent=r.heights.extent)
    d.update(_heights(r.heights))
    d["voids_filled"] = d.pop("nodata_cells")
    if is_geographic(r.crs):
        xmin, ymin, xmax, ymax = r.heights.extent
        d["metric_crs"] = utm_crs(0.5 * (xmin + xmax), 0.5 * (ymin + ymax))
    d["cellsize_m"] = native_resolution(r.heights, r.crs)
    return d


def _describe_zip(path: Path) -> dict[str, Any]:
    from twin.io.dem import dem_kind

    return _describe_dem(path) if dem_kind(path) == "srtm-hgt" else _describe_grid(path)


def _describe_weather(path: Path) -> dict[str, Any]:
    from twin.io.weather import iso_time, read_weather, value_range

    w = read_weather(path)
    return {
        "kind": w.kind,
        "crs": w.crs,
        "extent": w.extent,
        "times": [iso_time(t) for t in w.times],
        "variables": {name: {"units": f.units, "units_in_file": w.raw_units[name], "dims": list(f.dims),
                             "shape": list(f.values.shape), "range": value_range(f)}
                      for name, f in w.fields.items()},
    }


def _describe_vector(path: Path) -> dict[str, Any]:
    import pyogrio

    from twin.io.crs import to_crs
    from twin.io.vector import VECTOR_SUFFIXES, list_layers

    layers = {}
    for name in list_layers(path):
        info = pyogrio.read_info(path, layer=name, force_feature_count=True)
        crs = None
        if info["crs"] is not None:
            try:
                crs = to_crs(info["crs"], f"{path}: layer {name}")
            except InputError:
                crs = info["crs"]
        layers[name] = {"crs": crs, "features": int(info["features"]), "geometry_type": info["geometry_type"],
                        "fields": {str(f): str(t) for f, t in zip(info["fields"], info["dtypes"])}}
    return {"kind": f"vector ({VECTOR_SUFFIXES[path.suffix.lower()]})", "layers": layers}


def _reader(path: Path):
    """The describe function for ``path`` from its name, or None."""
    name = path.name.lower()
    if name.endswith((".osm", ".osm.gz", ".osm.bz2", ".pbf")):
        return _describe_osm
    if name.endswith((".json", ".jsonl")):
        return _describe_cityjson
    if name.endswith((".tif", ".tiff", ".hgt")):
        return _describe_dem
    return {
        ".asc": _describe_grid,
        ".zip": _describe_zip,
        ".prj": _describe_prj,
        ".csv": _describe_csv,
        ".urdf": _describe_urdf,
        ".twin": _describe_scene,
        ".zarr": _describe_zarr,
        ".nc": _describe_weather,
        ".grib": _describe_weather,
        ".grib2": _describe_weather,
        ".grb": _describe_weather,
        ".gpkg": _describe_vector,
        ".shp": _describe_vector,
        ".geojson": _describe_vector,
        ".fgb": _describe_vector,
    }.get(path.suffix.lower())


def describe(path: str | Path) -> dict[str, Any]:
    """What twin reads from ``path``.

    Returns:
        A dict with "path" and "kind" ("esri-ascii-grid", "esri-ascii-grid (zip)",
        "geotiff", "srtm-hgt", "srtm-hgt (zip)", "osm-xml", "osm-pbf",
        "cityjson", "cityjsonseq", "projection", "polygon", "points",
        "twin-scene", "zarr-result", "urdf", "sensor-log", "netcdf3", "netcdf4", "grib") and, as the kind has them: "crs" ("EPSG:n"
        or None; for OSM and geographic CityJSON the UTM zone twin would use),
        "source_crs", "extent" (xmin, ymin, xmax, ymax) [CRS units], "shape"
        (ny, nx), "cellsize" (dx, dy), "nodata_cells" or "voids_filled",
        "elevation_range" (min, max) [m], "buildings", "building_parts",
        "roads", "land_use_areas", "vertices", "references_missing" (OSM node
        references and relation members not in the file; CityJSON parts whose
        parent is missing), "counts" (the importer's own), "points",
        "variables" (for weather files: name -> units (SI), units_in_file,
        dims, shape, range (min, max) after unpacking), "times" (ISO 8601 UTC),
        for a URDF "robot", "links", "joints", "meshes_found",
        "meshes_missing", "total_mass_kg", "warnings", for a sensor log "rows",
        "channels" (name: unit), "sampling_interval_s", "time_span", "gaps",
        "duplicated_timestamps", "clock_steps", for a vector file ("vector (GPKG)",
        "vector (ESRI Shapefile)", "vector (GeoJSON)", "vector (FlatGeobuf)") "layers":
        name -> "crs", "features", "geometry_type", "fields" (name: type), ...

    Raises:
        InputError: a missing file, an extension twin does not read, or any
            error the importer for that kind raises.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if not path.exists():
        raise InputError(path, "", "no such file")
    reader = _reader(path)
    if reader is None or (suffix == ".zarr") != path.is_dir():
        raise InputError(path, "", f"not a kind of file twin reads (it reads {SUPPORTED})")
    if suffix != ".zarr":
        regular_file(path)  # a FIFO or a device is refused before anything opens it
    return {"path": str(path), **reader(path)}


_LABELS = {
    "crs_source": "crs from",
    "crs_error": "crs problem",
    "crs_name": "crs name",
    "terrain_extent": "terrain extent",
    "nodata_value": "nodata value",
    "nodata_cells": "nodata cells",
    "elevation_range": "elevation [m]",
    "friction_zones": "friction zones",
    "source_crs": "source crs",
    "building_parts": "building parts",
    "land_use_areas": "land-use areas",
    "references_missing": "references missing",
    "voids_filled": "voids filled",
    "metric_crs": "metric crs",
    "cellsize_m": "cellsize [m]",
    "city_objects": "city objects",
}


def _fmt(key: str, v: Any) -> str:
    if key == "shape":
        return f"{v[0]} rows x {v[1]} columns"
    if key == "bounds":
        return f"lon {v[0]:.7g} .. {v[2]:.7g}, lat {v[1]:.7g} .. {v[3]:.7g}"
    if key in ("extent", "terrain_extent"):
        return f"x {v[0]:.10g} .. {v[2]:.10g}, y {v[1]:.10g} .. {v[3]:.10g}"
    if key == "elevation_range":
        return "all no data" if v is None else f"{v[0]:.6g} .. {v[1]:.6g}"
    if key == "times" and len(v) > 4:
        return f"{v[0]} .. {v[-1]} ({len(v)} times)"
    if isinstance(v, dict) and "units" in v:  # a weather variable
        rng = "all missing" if v["range"] is None else f"{v['range'][0]:.6g} .. {v['range'][1]:.6g}"
        return f"[{v['units']}] ({', '.join(v['dims'])}) {rng}"
    if isinstance(v, dict) and "geometry_type" in v:  # a vector layer
        fields = ", ".join(f"{name} ({kind})" for name, kind in v["fields"].items()) or "none"
        return f"{v['features']} {v['geometry_type']} features, {v['crs'] or 'no CRS'}; fields: {fields}"
    if key == "names" and len(v) > 8:
        return ", ".join(v[:8]) + f", ... ({len(v)} in all)"
    if isinstance(v, float):
        return f"{v:.10g}"
    if isinstance(v, (tuple, list)):
        return ", ".join(_fmt("", x) for x in v)
    if v is None:
        return "unknown" if key == "crs" else "none"
    return str(v)


def format_description(d: dict[str, Any]) -> str:
    """A few aligned ``label  value`` lines for a :func:`describe` dict; dicts nest indented."""
    lines: list[str] = []
    width = max(len(_LABELS.get(k, k)) for k in d)
    for key, value in d.items():
        label = _LABELS.get(key, key).ljust(width)
        if isinstance(value, dict):
            lines.append(f"{label}  {len(value) or 'none'}")
            sub = max((len(str(k)) for k in value), default=0)
            lines.extend(f"  {str(k).ljust(sub)}  {_fmt(str(k), v)}" for k, v in value.items())
        else:
            lines.append(f"{label}  {_fmt(key, value)}")
    return "\n".join(lines)

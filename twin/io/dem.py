"""DEM rasters into metric heightfields: GeoTIFF, SRTM ``.hgt`` / ``.hgt.zip``, ESRI ASCII.

:func:`read_raster` reads a DEM on the file's own grid (in the file's CRS,
degrees for SRTM), with NaN where the file has no data. :func:`read_dem` also
fills the voids (no-data cells, SRTM's -32768) from their neighbours, counts
them, and resamples the grid bilinearly onto a metric grid in the scene CRS
(the UTM zone of the centre unless another EPSG code is asked for).
:func:`drape` puts buildings on a terrain.

SRTM tiles are named after the south-west corner of the 1° x 1° square they
cover (``N40W106.hgt``) and hold 1201 x 1201 (3″) or 3601 x 3601 (1″)
big-endian int16 heights [m], north row first, samples on the whole-degree
lines (so the tile reaches half a sample beyond its square).
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely

from twin.errors import InputError
from twin.io.checks import ZIP_ERRORS, epsg, finite, library_errors, quiet, regular_file
from twin.io.crs import horizontal_crs, is_geographic, metres_per_degree, metric_crs, to_crs, transform
from twin.io.esri_ascii import read_esri_ascii, read_esri_ascii_header
from twin.io.prj import crs_from_prj, crs_from_prj_text
from twin.scene import Building, Heightfield

__all__ = ["Dem", "Raster", "drape", "fill_sinks", "read_dem", "read_raster", "resample"]

SRTM_VOID = -32768
SRTM_SIZES = {1201 * 1201 * 2: 1201, 3601 * 3601 * 2: 3601}
_TILE = re.compile(r"^([NS])(\d{2})([EW])(\d{3})", re.I)


@dataclass
class Raster:
    """A DEM on the file's own grid.

    Attributes:
        heights: heights [m] on the file's grid, row 0 south, NaN where the file
            has no data; x0, y0, dx, dy in the file's CRS units (degrees for SRTM).
        crs: "EPSG:<code>" of the grid (the horizontal part of a compound CRS).
        kind: "geotiff", "srtm-hgt", "srtm-hgt (zip)", "esri-ascii-grid" or
            "esri-ascii-grid (zip)".
        source: the file, "archive.zip!member" for a zip member.
        voids: number of cells without data.
    """

    heights: Heightfield
    crs: str
    kind: str
    source: str
    voids: int


@dataclass
class Dem:
    """A DEM on a metric grid in the scene CRS.

    Attributes:
        terrain: heights [m], shape (ny, nx), row 0 south, voids filled.
        crs: "EPSG:<code>" of ``terrain`` (projected, metres).
        raster: the file's grid as read (voids still NaN).
        voids_filled: cells of the file's grid that had no data and were filled.
        resampled: whether ``terrain`` was resampled from the file's grid.
        sinks_filled: cells of ``terrain`` raised by :func:`fill_sinks` (0 unless asked).
    """

    terrain: Heightfield
    crs: str
    raster: Raster
    voids_filled: int
    resampled: bool
    sinks_filled: int = 0


def _heightfield(values: np.ndarray, x0: float, y0: float, dx: float, dy: float) -> tuple[Heightfield, int]:
    """Heightfield from north-first ``values`` (NaN = void) and the count of voids."""
    e = np.ascontiguousarray(values[::-1], dtype=np.float64)
    return Heightfield(e, float(x0), float(y0), float(dx), float(dy)), int(np.count_nonzero(np.isnan(e)))


# --- SRTM ----------------------------------------------------------------------------------


def _tile_corner(label: str, name: str) -> tuple[int, int]:
    """(lon, lat) [degrees] of the south-west corner from an SRTM tile name."""
    m = _TILE.match(Path(name).name)
    if m is None:
        raise InputError(label, "", "the name does not say where the tile lies (SRTM tiles are named like N40W106.hgt)")
    lat = int(m[2]) * (1 if m[1].upper() == "N" else -1)
    lon = int(m[4]) * (1 if m[3].upper() == "E" else -1)
    if lat >= 90 or lon >= 180:
        raise InputError(label, "", f"the name gives an impossible corner ({lat}, {lon})")
    return lon, lat


def _read_hgt_bytes(label: str, name: str, data: bytes) -> tuple[Heightfield, int]:
    n = SRTM_SIZES.get(len(data))
    if n is None:
        raise InputError(label, f"byte {len(data)}", f"{len(data):,} bytes is not an SRTM tile: expected 2,884,802 "
                         "(3″, 1201 x 1201) or 25,934,402 (1″, 3601 x 3601) bytes of big-endian 16-bit heights")
    lon, lat = _tile_corner(label, name)
    raw = np.frombuffer(data, dtype=">i2").reshape(n, n)
    values = np.where(raw == SRTM_VOID, np.nan, raw.astype(np.float64))
    step = 1.0 / (n - 1)
    return _heightfield(values, lon - step / 2, lat - step / 2, step, step)


def _read_hgt(path: Path) -> Raster:
    if path.suffix.lower() != ".zip":
        with library_errors(path, "cannot be read"):
            data = path.read_bytes()
        h, voids = _read_hgt_bytes(str(path), path.name, data)
        return Raster(h, "EPSG:4326", "srtm-hgt", str(path), voids)
    z = _open_zip(path)
    with z:
        names = [n for n in z.namelist() if not n.endswith("/")]
        tiles = [n for n in names if n.lower().endswith(".hgt")]
        if not tiles:
            raise InputError(path, "", f"the archive holds no .hgt file (it holds: {', '.join(names) or 'nothing'})")
        if len(tiles) > 1:
            raise InputError(path, "", f"the archive holds several .hgt files ({', '.join(tiles)}); unzip the one you want")
        label = f"{path}!{tiles[0]}"
        with library_errors(label, "the zip member cannot be read"):
            data = z.read(tiles[0])
        h, voids = _read_hgt_bytes(label, tiles[0], data)
        return Raster(h, "EPSG:4326", "srtm-hgt (zip)", label, voids)


def _open_zip(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except ZIP_ERRORS:
        raise InputError(path, "", "not a zip archive") from None


# --- GeoTIFF -------------------------------------------------------------------------------


def _read_geotiff(path: Path, source_crs: str | None) -> Raster:
    import rasterio  # heavy; only for GeoTIFFs
    from rasterio.errors import RasterioError

    with quiet(path), library_errors(path, "not a GeoTIFF rasterio can read"):
        try:
            ds = rasterio.open(path)
        except RasterioError as e:
            raise InputError(path, "", f"not a GeoTIFF rasterio can read ({_gdal_message(path, e)})") from None
        return _geotiff_raster(path, ds, source_crs)


def _geotiff_raster(path: Path, ds, source_crs: str | None) -> Raster:
    """The Raster of an open rasterio dataset."""
    from rasterio.errors import RasterioError

    with ds:
        if source_crs is not None:
            crs = to_crs(source_crs, "source_crs")
        elif ds.crs is None:
            raise InputError(path, "", "the GeoTIFF has no CRS (no GeoKeys), so twin cannot place it; "
                             "pass its CRS (source_crs=...) or add one with gdal_edit.py -a_srs EPSG:n")
        else:
            crs = _epsg_of_wkt(path, ds.crs.to_wkt())
        t = ds.transform
        finite(path, "geotransform", tuple(t)[:6], "the geotransform")
        if t.b != 0 or t.d != 0:
            raise InputError(path, "geotransform", f"the grid is rotated or sheared ({tuple(t)[:6]}); twin reads north-up grids")
        if ds.count < 1:
            raise InputError(path, "", "the file holds no raster band")
        try:
            band = ds.read(1, masked=True)
        except RasterioError as e:
            raise InputError(path, "band 1", f"cannot read the heights ({_gdal_message(path, e)})") from None
        values = np.ma.filled(band.astype(np.float64), np.nan)
        values[~np.isfinite(values)] = np.nan
        dx, dy = float(t.a), float(-t.e)
        if not dx > 0 or dy == 0:
            raise InputError(path, "geotransform", f"the cell size ({t.a}, {t.e}) is not a grid twin reads (dx > 0, dy != 0)")
        if dy < 0:  # rows run south to north already
            values, dy = values[::-1], -dy
        h, voids = _heightfield(values, t.c, t.f - dy * ds.height, dx, dy)
    return Raster(h, horizontal_crs(crs), "geotiff", str(path), voids)


def _gdal_message(path: Path, e: Exception) -> str:
    """GDAL's message without the file names it repeats."""
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    for name in (str(path), path.name):
        text = text.replace(f"{name}:", "").strip()
    return text


def _epsg_of_wkt(path: Path, wkt: str) -> str:
    return epsg(wkt, path, "CRS")


# --- ESRI ASCII ----------------------------------------------------------------------------


def _asc_crs(path: Path, member: str | None) -> str | None:
    """CRS from the .prj beside the grid (same stem) or, in a zip, beside its member; None when there is none."""
    prj = path.with_suffix(".prj")
    if prj.is_file():
        return crs_from_prj(prj)
    text = None
    if member is not None:
        name = str(Path(member).with_suffix(".prj"))
        with library_errors(f"{path}!{name}", "the zip member cannot be read as UTF-8 text"), zipfile.ZipFile(path) as z:
            if name in z.namelist():
                text = z.read(name).decode("utf-8")
        if text is not None:
            return crs_from_prj_text(text, f"{path}!{name}")
    return None


def _read_asc(path: Path, source_crs: str | None, member: str | None) -> Raster:
    header = read_esri_ascii_header(path, member)
    member = header.source.split("!", 1)[1] if "!" in header.source else None
    crs = to_crs(source_crs, "source_crs") if source_crs is not None else _asc_crs(path, member)
    if crs is None:
        raise InputError(path, "", f"no {path.with_suffix('.prj').name} beside it says its CRS; pass source_crs= "
                         "(EPSG:4326 for a geographic grid)")
    h = read_esri_ascii(path, member)
    voids = int(np.count_nonzero(np.isnan(h.elevation)))
    return Raster(h, horizontal_crs(crs), "esri-ascii-grid (zip)" if member else "esri-ascii-grid", header.source, voids)


# --- any DEM -------------------------------------------------------------------------------


def dem_kind(path: str | Path) -> str | None:
    """"geotiff", "srtm-hgt" or "esri-ascii-grid" from the file name (a .zip is looked into); None otherwise."""
    path = Path(path)
    name = path.name.lower()
    if name.endswith((".tif", ".tiff")):
        return "geotiff"
    if name.endswith((".hgt", ".hgt.zip")):
        return "srtm-hgt"
    if name.endswith(".asc"):
        return "esri-ascii-grid"
    if name.endswith(".zip") and path.is_file():
        try:
            with zipfile.ZipFile(path) as z:
                names = [n.lower() for n in z.namelist()]
        except ZIP_ERRORS:
            return None
        if any(n.endswith(".hgt") for n in names) and not any(n.endswith(".asc") for n in names):
            return "srtm-hgt"
        return "esri-ascii-grid"
    return None


def read_raster(path: str | Path, *, source_crs: str | int | None = None, member: str | None = None) -> Raster:
    """Read a DEM on its own grid.

    Args:
        path: a GeoTIFF (``.tif``), an SRTM tile (``.hgt``, ``.hgt.zip``) or an
            ESRI ASCII grid (``.asc``, or a ``.zip`` holding one).
        source_crs: the CRS of the file's coordinates, for files that do not say
            (an ``.asc`` without ``.prj``, a GeoTIFF without GeoKeys); it
            overrides what the file says.
        member: the ``.asc`` inside a zip holding several.

    Raises:
        InputError: a missing or unreadable file, a GeoTIFF without a CRS, an
            ``.hgt`` of the wrong size or name, a zip without the expected member.
    """
    path = regular_file(path)
    kind = dem_kind(path)
    src = None if source_crs is None else str(source_crs) if not isinstance(source_crs, int) else f"EPSG:{source_crs}"
    if kind == "geotiff":
        return _read_geotiff(path, src)
    if kind == "srtm-hgt":
        return _read_hgt(path)
    if kind == "esri-ascii-grid":
        return _read_asc(path, src, member)
    raise InputError(path, "", "not a DEM twin reads (.tif, .tiff, .hgt, .hgt.zip, .asc, .zip holding an .asc)")


def _fill(raster: Raster) -> Heightfield:
    from twin.raster import fill_nodata

    h = raster.heights
    if raster.voids == 0:
        return h
    if raster.voids == h.elevation.size:
        raise InputError(raster.source, "", "the grid holds no data at all")
    filled, _ = fill_nodata(h.elevation)
    return Heightfield(filled, h.x0, h.y0, h.dx, h.dy)


def fill_sinks(h: Heightfield) -> tuple[Heightfield, int]:
    """Fill the pits of a DEM so that water can run off every cell over the grid's edge.

    Priority-flood (Barnes et al. 2014, Computers & Geosciences 62: 117-127)
    with 4-connected cells, as the flood solver's faces are: every cell is
    raised to the lowest level from which a path of non-rising cells leads to
    the edge. Returns the filled heightfield and the number of cells raised.
    """
    import heapq

    e = h.elevation.copy()
    ny, nx = e.shape
    done = np.zeros(e.shape, bool)
    done[[0, -1], :] = done[:, [0, -1]] = True
    js, is_ = np.nonzero(done)
    heap = [(float(e[j, i]), int(j), int(i)) for j, i in zip(js, is_)]
    heapq.heapify(heap)
    raised = 0
    while heap:
        z, j, i = heapq.heappop(heap)
        for jj, ii in ((j - 1, i), (j + 1, i), (j, i - 1), (j, i + 1)):
            if 0 <= jj < ny and 0 <= ii < nx and not done[jj, ii]:
                done[jj, ii] = True
                if e[jj, ii] < z:
                    e[jj, ii] = z
                    raised += 1
                heapq.heappush(heap, (float(e[jj, ii]), jj, ii))
    return Heightfield(e, h.x0, h.y0, h.dx, h.dy), raised


def native_resolution(h: Heightfield, crs: str) -> float:
    """Cell size [m] of a grid in ``crs``: the geometric mean of dx and dy, in metres at the grid's centre."""
    if is_geographic(crs):
        xmin, ymin, xmax, ymax = h.extent
        m_lon, m_lat = metres_per_degree(0.5 * (ymin + ymax))
        return float(np.sqrt(h.dx * m_lon * h.dy * m_lat))
    return float(np.sqrt(h.dx * h.dy))


def resample(h: Heightfield, src_crs: str, dst_crs: str, resolution: float, *,
             bounds: tuple[float, float, float, float] | None = None, rows_per_block: int = 512) -> Heightfield:
    """Bilinear resampling of ``h`` (in ``src_crs``, voids filled) onto a grid of about ``resolution`` [m] in ``dst_crs``.

    The new grid is the largest axis-aligned rectangle of ``dst_crs`` inside the
    outermost cell centres of ``h`` (cut to ``bounds`` (xmin, ymin, xmax, ymax)
    [m] when given), tiled exactly (as ``twin.raster.Grid.over``).
    """
    from twin.raster import Grid

    ny, nx = h.shape
    cx = h.x0 + (np.arange(nx) + 0.5) * h.dx
    cy = h.y0 + (np.arange(ny) + 0.5) * h.dy
    t = np.linspace(0.0, 1.0, 257)
    xa, xb, ya, yb = cx[0], cx[-1], cy[0], cy[-1]
    west = transform(src_crs, dst_crs, np.full_like(t, xa), ya + t * (yb - ya))
    east = transform(src_crs, dst_crs, np.full_like(t, xb), ya + t * (yb - ya))
    south = transform(src_crs, dst_crs, xa + t * (xb - xa), np.full_like(t, ya))
    north = transform(src_crs, dst_crs, xa + t * (xb - xa), np.full_like(t, yb))
    extent = (float(west[0].max()), float(south[1].max()), float(east[0].min()), float(north[1].min()))
    if bounds is not None:
        extent = (max(extent[0], bounds[0]), max(extent[1], bounds[1]), min(extent[2], bounds[2]), min(extent[3], bounds[3]))
    if not (extent[2] > extent[0] and extent[3] > extent[1]):
        raise InputError("resample", "", f"the grid does not cover a rectangle of {dst_crs}" + (f" inside {bounds}" if bounds else ""))
    grid = Grid.over(extent, resolution)
    gx, gy = grid.centres()
    out = np.empty(grid.shape)
    for j0 in range(0, grid.ny, rows_per_block):
        X, Y = np.meshgrid(gx, gy[j0:j0 + rows_per_block])
        sx, sy = transform(dst_crs, src_crs, X, Y)
        out[j0:j0 + rows_per_block] = h.sample(sx, sy)
    return Heightfield(out, grid.x0, grid.y0, grid.dx, grid.dy)


def read_dem(
    path: str | Path,
    *,
    crs: str | int | None = None,
    resolution: float | None = None,
    source_crs: str | int | None = None,
    member: str | None = None,
    bounds: tuple[float, float, float, float] | None = None,
    sinks: bool = False,
) -> Dem:
    """Read a DEM, fill its voids and put it on a metric grid in the scene CRS.

    Args:
        path: as :func:`read_raster`.
        crs: the scene CRS (an EPSG code or "EPSG:n", projected, in metres);
            default: the file's CRS when it is metric, else the UTM zone of the
            grid's centre.
        resolution: cell size of the metric grid [m]; default: the file's own
            cell size in metres. A grid already in ``crs`` at that size is kept
            as it is (no resampling).
        source_crs, member: as :func:`read_raster`.
        bounds: keep only this rectangle (xmin, ymin, xmax, ymax) [m, ``crs``].
        sinks: fill the pits of the metric grid (:func:`fill_sinks`), for
            rain-on-grid runs on DEMs whose pits are artefacts (SRTM's are,
            and resampling a one-cell-wide channel breaks it into more).

    Returns:
        The Dem: ``terrain`` in ``crs``, voids filled and counted.
    """
    raster = read_raster(path, source_crs=source_crs, member=member)
    filled = _fill(raster)
    src = raster.crs
    if crs is None and not is_geographic(src) and _is_metric(src):
        dst = src
    else:
        xmin, ymin, xmax, ymax = filled.extent
        lon, lat = transform(src, "EPSG:4326", np.array([0.5 * (xmin + xmax)]), np.array([0.5 * (ymin + ymax)]))
        dst = metric_crs(crs, float(lon[0]), float(lat[0]), "crs")
    native = native_resolution(filled, src)
    res = native if resolution is None else float(resolution)
    if not (np.isfinite(res) and res > 0):
        raise InputError("resolution", "", f"must be a positive number of metres, got {resolution}")
    resampled = not (dst == src and bounds is None and (resolution is None or np.isclose(res, native)))
    terrain = resample(filled, src, dst, res, bounds=bounds) if resampled else filled
    sinks_filled = 0
    if sinks:
        terrain, sinks_filled = fill_sinks(terrain)
    return Dem(terrain, dst, raster, raster.voids, resampled, sinks_filled)


def _is_metric(crs: str) -> bool:
    import pyproj

    c = pyproj.CRS.from_user_input(crs)
    return bool(c.is_projected and c.axis_info and c.axis_info[0].unit_name in ("metre", "meter"))


def drape(buildings: list[Building], terrain: Heightfield) -> None:
    """Set each building's ``base`` to the lowest ground under its footprint [m].

    The ground is the terrain sampled (bilinearly) at the footprint's vertices
    and at the centres of the terrain cells inside the footprint.
    """
    e = terrain.elevation
    ny, nx = e.shape
    for b in buildings:
        fp = np.asarray(b.footprint, dtype=np.float64)
        low = float(np.nanmin(terrain.sample(fp[:, 0], fp[:, 1])))
        xmin, ymin = fp.min(axis=0)
        xmax, ymax = fp.max(axis=0)
        i0 = max(int(np.floor((xmin - terrain.x0) / terrain.dx)), 0)
        i1 = min(int(np.ceil((xmax - terrain.x0) / terrain.dx)), nx)
        j0 = max(int(np.floor((ymin - terrain.y0) / terrain.dy)), 0)
        j1 = min(int(np.ceil((ymax - terrain.y0) / terrain.dy)), ny)
        if i1 > i0 and j1 > j0:
            X, Y = np.meshgrid(terrain.x0 + (np.arange(i0, i1) + 0.5) * terrain.dx, terrain.y0 + (np.arange(j0, j1) + 0.5) * terrain.dy)
            inside = shapely.contains_xy(shapely.Polygon(fp, b.holes or None), X, Y)
            if inside.any():
                low = min(low, float(np.nanmin(e[j0:j1, i0:i1][inside])))
        b.base = low

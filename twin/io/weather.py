"""CF NetCDF and GRIB weather fields into Scene fields (xarray; netCDF4 and cfgrib engines).

:func:`read_weather` opens a NetCDF (3 or 4) or GRIB file and returns every
gridded variable as a :class:`twin.scene.GriddedField` on the file's grid,
with the CF conventions honoured rather than guessed:

- coordinates are found by ``standard_name``, ``axis`` or ``units`` (latitude
  "degrees_north", longitude "degrees_east", time "<unit> since <date>",
  pressure in Pa/hPa/mbar, height in m), never by the variable's name alone;
- CF packing (``scale_factor``, ``add_offset``, ``_FillValue``,
  ``missing_value``) is undone by xarray; missing values become NaN;
- time is decoded from its ``units`` and ``calendar`` into seconds since
  1970-01-01 UTC; an axis that cannot be decoded is an error naming it;
- ``grid_mapping`` gives the CRS (``latitude_longitude`` is EPSG:4326; any other
  mapping goes through :meth:`pyproj.CRS.from_cf`);
- latitudes are made ascending, 0-360 longitudes become -180..180 ascending;
- pressure levels become Pa, temperatures K, geopotential height m
  ("gpm" is a metre of geopotential height), and geopotential [m2 s-2] is
  divided by g0 = 9.80665 m s-2 into geopotential height [m].

:func:`regrid` resamples a field bilinearly onto a metric grid in the scene CRS
(:class:`Regridder` keeps the weights for many frames), and
:func:`precipitation_rate` turns a precipitation amount or rate into a rate
[m s-1] for :class:`twin.scene.Rain`. Precipitation units: a rate in "mm h-1",
"mm s-1", "m s-1" or "kg m-2 s-1" (liquid water, 1000 kg m-3) becomes m s-1; an
amount in "mm", "m" or "kg m-2" becomes m.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from twin.errors import InputError, InputWarning
from twin.io.checks import library_errors, quiet, regular_file
from twin.io.crs import transform
from twin.scene import GriddedField

__all__ = ["G0", "Regridder", "WeatherData", "file_kind", "iso_time", "open_weather", "parse_units", "precipitation_rate",
           "read_weather", "regrid", "require_units", "value_range"]

G0 = 9.80665
"""Standard gravity [m s-2]: geopotential / G0 = geopotential height."""

_NETCDF_MAGIC = (b"CDF\x01", b"CDF\x02", b"CDF\x05", b"\x89HDF\r\n\x1a\n")
_GRIB_MAGIC = b"GRIB"

_UDUNITS_ALIASES = {"gpm": "m", "mb": "mbar", "C": "degC", "deg_C": "degC", "deg_K": "K", "degree_Kelvin": "K",
                    "degrees_Celsius": "degC", "degrees_C": "degC", "meters": "m", "metres": "m"}
"""Whole-string UDUNITS spellings pint reads otherwise (``mb`` is a millibarn to pint, ``C`` a coulomb;
``gpm`` is a metre of geopotential height)."""
_SI = {"[mass] / [length] / [time] ** 2": "Pa", "[temperature]": "K", "[length] / [time]": "m s-1", "[length]": "m"}
"""Dimensionalities twin converts to SI, with the SI unit's name: pressure, temperature, speed (and a
precipitation rate, mm h-1), length (and a precipitation amount, mm)."""
_WATER = {"[mass] / [length] ** 2 / [time]": "m s-1", "[mass] / [length] ** 2": "m"}
"""Precipitation as a mass of liquid water per area (kg m-2 s-1, kg m-2): depth of water, 1 kg m-2 = 1 mm."""
_GEOPOTENTIAL = "[length] ** 2 / [time] ** 2"


@lru_cache(maxsize=1)
def _registry():
    import pint

    return pint.UnitRegistry(autoconvert_offset_to_baseunit=True)


def parse_units(units: str):
    """The pint unit of a CF/UDUNITS unit string ("kelvin", "degree_Celsius", "degC", "m s-1", "m s**-1",
    "m2 s-2", "hPa", "gpm"), or None when pint cannot read it."""
    import pint

    text = _UDUNITS_ALIASES.get(units.strip(), units.strip())
    text = re.sub(r"(?<=[A-Za-z)])(-?\d+)(?![\d.])", r"**\1", text)  # UDUNITS exponents: "s-1" is "s**-1"
    try:
        return _registry().Unit(text)
    except (pint.errors.PintError, ValueError, TypeError, AttributeError, KeyError, AssertionError):
        return None


def _dimensionality(units: str) -> str | None:
    u = parse_units(units)
    return None if u is None else str(u.dimensionality)


def _to_si(units: str, values: np.ndarray, standard_name: str) -> tuple[str, np.ndarray]:
    """(SI unit, values) for pressure, temperature, speed, length and geopotential (divided by g0 into
    geopotential height [m]); any other unit, and one pint cannot read, passes unchanged."""
    u = parse_units(units) if units else None
    dim = None if u is None else str(u.dimensionality)
    if dim == _GEOPOTENTIAL or standard_name == "geopotential":
        factor = 1.0 if u is None or dim != _GEOPOTENTIAL else _registry().Quantity(1.0, u).to("m**2/s**2").magnitude
        return "m", values * factor / G0  # geopotential height
    if dim in _WATER:  # 1000 kg m-3 of water: kg m-2 is mm
        q = _registry().Quantity(values, u) / _registry().Quantity(1000.0, "kg/m**3")
        return _WATER[dim], np.asarray(q.to("m/s" if _WATER[dim] == "m s-1" else "m").magnitude, dtype=np.float64)
    if dim in _SI:
        q = _registry().Quantity(values, u)
        return _SI[dim], np.asarray(q.to_base_units().magnitude if dim != "[length] / [time]" else q.to("m/s").magnitude,
                                    dtype=np.float64)
    return units, values


def require_units(field: GriddedField, source: str, needed_for: str) -> str:
    """The field's unit, or an InputError when it has none and ``needed_for`` needs one."""
    if not field.units:
        raise InputError(source, f"variable {field.name!r}", f"has no units, and {needed_for} needs them")
    return field.units


@dataclass
class WeatherData:
    """What :func:`read_weather` found in a file.

    Attributes:
        fields: variable name -> field on the file's grid (SI units, NaN where missing).
        kind: "netcdf3", "netcdf4" or "grib".
        source: the file.
        crs: "EPSG:<code>" of the horizontal grid.
        extent: (xmin, ymin, xmax, ymax) of the grid points [degrees or CRS units].
        times: every time in the file [s since 1970-01-01 UTC], ascending.
        raw_units: variable name -> the unit as written in the file.
    """

    fields: dict[str, GriddedField]
    kind: str
    source: str
    crs: str
    extent: tuple[float, float, float, float]
    times: np.ndarray
    raw_units: dict[str, str]


def file_kind(path: Path) -> str:
    """"netcdf3", "netcdf4" or "grib" from the file's first bytes (not its name)."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except FileNotFoundError:
        raise InputError(path, "", "no such file") from None
    except OSError as e:
        raise InputError(path, "", f"cannot be read ({e.strerror})") from None
    if head.startswith(_GRIB_MAGIC):
        return "grib"
    if head[:4] in _NETCDF_MAGIC[:3]:
        return "netcdf3"
    if head == _NETCDF_MAGIC[3]:
        return "netcdf4"
    raise InputError(path, "", "not a NetCDF or GRIB file (its first bytes are neither 'CDF', HDF5 nor 'GRIB')")


def _grib_messages(path: Path) -> int:
    """The number of GRIB messages, walking their length fields; a file that ends inside a
    message, or holds bytes that are no message, is an InputError naming the byte."""
    size = path.stat().st_size
    count, at = 0, 0
    with open(path, "rb") as f:
        while at < size:
            f.seek(at)
            head = f.read(16)
            if head.strip(b"\0") == b"" and count:
                break  # zero padding after the last message
            if head[:4] != _GRIB_MAGIC or len(head) < 8:
                raise InputError(path, f"byte {at}", f"expected GRIB message {count + 1} here, found {head[:4]!r}")
            edition = head[7]
            length = int.from_bytes(head[8:16], "big") if edition == 2 else int.from_bytes(head[4:7], "big")
            if edition == 1 and length & 0x800000:
                break  # a GRIB 1 message over 8 MB codes its length in section 4: ecCodes checks the rest
            if edition not in (1, 2) or length < 16:
                raise InputError(path, f"byte {at}", f"GRIB message {count + 1} has edition {edition} and length {length}")
            if at + length > size:
                raise InputError(path, f"byte {size}", f"the file ends inside GRIB message {count + 1} (it says it is "
                                 f"{length} bytes long, {size - at} are here): truncated")
            f.seek(at + length - 4)
            if f.read(4) != b"7777":
                raise InputError(path, f"byte {at + length - 4}", f"GRIB message {count + 1} does not end with '7777'")
            count += 1
            at += length
    return count


def open_weather(path: str | Path):
    """The file as an xarray Dataset, CF packing undone, times left as numbers (decoded by :func:`read_weather`).

    A GRIB file is first walked message by message (:func:`_grib_messages`), so that
    one cut short is refused, not read as a shorter file.
    """
    import xarray as xr

    path = regular_file(path)
    kind = file_kind(path)
    if kind == "grib":
        _grib_messages(path)
    with library_errors(path, f"not a readable {kind} file"):
        if kind == "grib":
            # indexpath="": no .idx file written beside the data
            return xr.open_dataset(path, engine="cfgrib", decode_times=False, backend_kwargs={"indexpath": ""}), kind
        return xr.open_dataset(path, engine="netcdf4", decode_times=False, mask_and_scale=True), kind


def _role(var) -> str | None:
    """"time", "latitude", "longitude", "pressure", "height", "x", "y" from CF attributes, or None."""
    a = var.attrs
    sn = str(a.get("standard_name", ""))
    units = str(a.get("units", ""))
    axis = str(a.get("axis", a.get("_CoordinateAxisType", ""))).lower()
    if sn == "time" or " since " in units:
        return "time"
    if sn in ("latitude", "grid_latitude") or units in ("degrees_north", "degree_north", "degree_N", "degrees_N"):
        return "latitude"
    if sn in ("longitude", "grid_longitude") or units in ("degrees_east", "degree_east", "degree_E", "degrees_E"):
        return "longitude"
    if sn == "projection_x_coordinate" or axis == "geox":
        return "x"
    if sn == "projection_y_coordinate" or axis == "geoy":
        return "y"
    if sn == "air_pressure" or axis == "pressure" or (units and _dimensionality(units) == "[mass] / [length] / [time] ** 2"):
        return "pressure"
    if sn in ("height", "altitude") or axis == "height" or (str(a.get("positive", "")) == "up" and _dimensionality(units) == "[length]"):
        return "height"
    return None


def _seconds_since_epoch(path: Path, name: str, var) -> np.ndarray:
    """CF time values [s since 1970-01-01 UTC], or InputError naming the variable."""
    from xarray.coding.times import decode_cf_datetime

    units = var.attrs.get("units")
    if units is None:
        raise InputError(path, f"variable {name!r}", "time axis has no units")
    try:
        dt = decode_cf_datetime(np.asarray(var.values), units, var.attrs.get("calendar", "standard"))
        dt = np.asarray(dt, dtype="datetime64[ns]")
    except (ValueError, TypeError, OverflowError, OSError) as e:
        raise InputError(path, f"variable {name!r}", f"time axis cannot be decoded (units {units!r}: {e})") from None
    if np.any(np.isnat(dt)):
        raise InputError(path, f"variable {name!r}", f"time axis cannot be decoded (units {units!r}: missing times)")
    return (dt - np.datetime64("1970-01-01T00:00:00", "ns")) / np.timedelta64(1, "s")


def _grid_crs(path: Path, ds, var) -> str:
    """CRS of the variable's horizontal grid from its ``grid_mapping`` (EPSG:4326 when it has none)."""
    import pyproj

    name = var.attrs.get("grid_mapping")
    if name is None:
        return "EPSG:4326"
    if name not in ds.variables:
        raise InputError(path, f"variable {var.name!r}", f"grid_mapping {name!r} is not in the file")
    gm = ds.variables[name].attrs
    if gm.get("grid_mapping_name") == "latitude_longitude":
        return "EPSG:4326"  # a spherical earth_radius is taken as WGS 84 (< 0.2 % in distances)
    try:
        code = pyproj.CRS.from_cf(dict(gm)).to_epsg(min_confidence=50)
    except pyproj.exceptions.CRSError as e:
        raise InputError(path, f"grid_mapping {name!r}", f"not a CF grid mapping pyproj understands ({e})") from None
    if code is None:
        raise InputError(path, f"grid_mapping {name!r}", "has no EPSG code; twin keeps every CRS as an EPSG code")
    return f"EPSG:{code}"


def _coordinates(path: Path, ds, name: str) -> tuple[tuple[str, ...], dict[str, np.ndarray], list]:
    """Roles, values and the per-dimension index that orders them, for ``ds[name]``'s dimensions."""
    roles, coords, order = [], {}, []
    for dim in ds[name].dims:
        if dim not in ds.variables:
            raise InputError(path, f"variable {name!r}", f"dimension {dim!r} has no coordinate variable")
        c = ds.variables[dim]
        role = _role(c)
        if role is None:
            raise InputError(path, f"coordinate {dim!r}", "is not time, latitude, longitude, x, y, pressure or height "
                             "by its standard_name, axis or units")
        if role in roles:
            raise InputError(path, f"variable {name!r}", f"two dimensions are {role}")
        values = _seconds_since_epoch(path, dim, c) if role == "time" else np.asarray(c.values, dtype=np.float64)
        if role == "longitude":
            values = (values + 180.0) % 360.0 - 180.0
        elif role in ("pressure", "height"):
            units = str(c.attrs.get("units", ""))
            values = _to_si(units, values, "")[1]
        index = np.argsort(values, kind="stable")
        if values.size > 1 and np.any(np.diff(values[index]) == 0):
            raise InputError(path, f"coordinate {dim!r}", "has repeated values")
        roles.append(role)
        coords[role] = values[index]
        order.append(index)
    return tuple(roles), coords, order


def read_weather(path: str | Path, variables: list[str] | None = None) -> WeatherData:
    """Every gridded variable of a CF NetCDF or GRIB file, on the file's grid, in SI units.

    Args:
        path: a NetCDF 3/4 or GRIB 1/2 file (told apart by content, not by name).
        variables: names to read (default: every data variable with at least one
            horizontal dimension).

    A variable without a ``units`` attribute is read as unit-less ("") with an
    :class:`~twin.errors.InputWarning`; an operation that needs its units refuses
    it (:func:`require_units`). Units are read with pint, UDUNITS spellings
    included ("kelvin", "degree_Celsius", "degC", "m s-1", "m s**-1").

    Raises:
        InputError: not NetCDF/GRIB, a GRIB file cut inside a message, a damaged
            file (HDF or ecCodes errors), a time axis that cannot be decoded, a
            dimension twin cannot place, a bad grid_mapping.
    """
    path = Path(path)
    with quiet(path):
        ds, kind = open_weather(path)
        with ds, library_errors(path, f"not a readable {kind} file"):
            fields, raw_units, times, crs = _fields(path, ds, variables)
    first = next(iter(fields.values()))
    hx, hy = ("longitude", "latitude") if "longitude" in first.dims else ("x", "y")
    extent = (float(first.coords[hx][0]), float(first.coords[hy][0]), float(first.coords[hx][-1]), float(first.coords[hy][-1]))
    all_times = np.unique(np.concatenate(times)) if times else np.zeros(0)
    return WeatherData(fields, kind, str(path), crs, extent, all_times, raw_units)


def _fields(path: Path, ds, variables: list[str] | None):
    """(fields, units as written, time axes, CRS) of the dataset's gridded variables (see :func:`read_weather`)."""
    names = variables if variables is not None else [str(n) for n, v in ds.data_vars.items() if v.ndim >= 2]
    fields, raw_units, times = {}, {}, []
    crs = None
    for name in names:
        if name not in ds.data_vars:
            raise InputError(path, f"variable {name!r}", f"not in the file (it has {', '.join(map(str, ds.data_vars))})")
        var = ds[name]
        units = str(var.attrs.get("units", "")).strip()
        if not units:
            warnings.warn(f"{path}: variable {name!r}: has no units attribute; read as unit-less", InputWarning, stacklevel=4)
        dims, coords, order = _coordinates(path, ds, name)
        if not ({"latitude", "longitude"} <= set(dims) or {"x", "y"} <= set(dims)):
            raise InputError(path, f"variable {name!r}", f"has no horizontal grid (dimensions {', '.join(dims)})")
        values = np.asarray(var.values, dtype=np.float64)[np.ix_(*order)]
        sn = str(var.attrs.get("standard_name", ""))
        si, values = _to_si(units, values, sn)
        field_crs = _grid_crs(path, ds, var)
        crs = crs or field_crs
        fields[name] = GriddedField(name, si, dims, coords, values, field_crs, sn)
        raw_units[name] = units
        if "time" in coords:
            times.append(coords["time"])
    if not fields:
        raise InputError(path, "", "holds no gridded variable")
    return fields, raw_units, times, crs


def _bilinear_weights(axis: np.ndarray, at: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lower index, upper index and weight of the upper one for points ``at`` on ascending ``axis``."""
    n = axis.size
    if n == 1:
        zero = np.zeros(at.shape, np.int64)
        return zero, zero, np.zeros(at.shape)
    i0 = np.clip(np.searchsorted(axis, at, side="right") - 1, 0, n - 2)
    w = (at - axis[i0]) / (axis[i0 + 1] - axis[i0])
    return i0, i0 + 1, np.clip(w, 0.0, 1.0)


class Regridder:
    """Bilinear sampling of values on a field's horizontal grid at the cell centres
    ``x`` (nx,), ``y`` (ny,) [m] of a grid in ``crs`` (reprojected with pyproj); the
    weights are computed once, so that each frame costs one gather and sum.

    Attributes:
        window: (j0, j1, i0, i1): the source rows j0 .. j1-1 and columns i0 .. i1-1
            the samples read.

    Raises:
        InputError: the field's grid does not cover every centre (by more than
            1e-9 of its spacing; no extrapolation).
    """

    def __init__(self, field: GriddedField, crs: str, x: np.ndarray, y: np.ndarray, *, source: str = ""):
        self.hx, self.hy = ("longitude", "latitude") if "longitude" in field.dims else ("x", "y")
        hx, hy = self.hx, self.hy
        gx, gy = np.meshgrid(np.asarray(x, np.float64), np.asarray(y, np.float64))
        px, py = transform(crs, field.crs, gx, gy)
        ax, ay = field.coords[hx], field.coords[hy]
        tol_x = 1e-9 * (ax[-1] - ax[0] + 1.0)
        tol_y = 1e-9 * (ay[-1] - ay[0] + 1.0)
        if (px.min() < ax[0] - tol_x or px.max() > ax[-1] + tol_x or py.min() < ay[0] - tol_y or py.max() > ay[-1] + tol_y):
            raise InputError(source or "weather", f"variable {field.name!r}",
                             f"its grid ({hx} {ax[0]:.6g} .. {ax[-1]:.6g}, {hy} {ay[0]:.6g} .. {ay[-1]:.6g}) does not cover the scene "
                             f"({hx} {px.min():.6g} .. {px.max():.6g}, {hy} {py.min():.6g} .. {py.max():.6g})")
        self.i0, self.i1, self.wx = _bilinear_weights(ax, px)
        self.j0, self.j1, self.wy = _bilinear_weights(ay, py)
        self.window = (int(self.j0.min()), int(self.j1.max()) + 1, int(self.i0.min()), int(self.i1.max()) + 1)

    def __call__(self, v: np.ndarray) -> np.ndarray:
        """Values (..., n_hy, n_hx) on the field's grid -> (..., ny, nx) at the centres."""
        wx, wy, i0, i1, j0, j1 = self.wx, self.wy, self.i0, self.i1, self.j0, self.j1
        return ((1 - wy) * ((1 - wx) * v[..., j0, i0] + wx * v[..., j0, i1])
                + wy * ((1 - wx) * v[..., j1, i0] + wx * v[..., j1, i1]))

    def horizontal_last(self, field: GriddedField) -> np.ndarray:
        """The field's values with its horizontal dimensions moved last, (..., n_hy, n_hx)."""
        return np.moveaxis(field.values, [field.dims.index(self.hy), field.dims.index(self.hx)], [-2, -1])


def regrid(field: GriddedField, crs: str, x: np.ndarray, y: np.ndarray, *, source: str = "") -> GriddedField:
    """The field sampled bilinearly at the cell centres ``x`` (nx,), ``y`` (ny,) [m] of a grid in ``crs``.

    Horizontal dimensions (latitude/longitude or x/y) become ("y", "x"); the
    others (time, pressure, height) are kept.

    Raises:
        InputError: the field's grid does not cover every centre (see :class:`Regridder`).
    """
    r = Regridder(field, crs, x, y, source=source)
    other = [d for d in field.dims if d not in (r.hx, r.hy)]
    out = r(r.horizontal_last(field))
    coords = {d: field.coords[d] for d in other}
    coords.update(y=np.asarray(y, np.float64), x=np.asarray(x, np.float64))
    return GriddedField(field.name, field.units, (*other, "y", "x"), coords, out, crs, field.standard_name)


def precipitation_rate(field: GriddedField, accumulation: str = "running", *, source: str = "") -> GriddedField:
    """A precipitation field as a rate [m s-1] over (time, y-like, x-like), linear in
    time between consecutive times; a repeated time is a step.

    A rate field ("m s-1") is returned as it is. An amount field ("m") is turned
    into the rate of each interval between consecutive times, constant over the
    interval (so that its time integral is the amount): ``accumulation`` "running"
    (a total since a fixed start, e.g. GFS APCP, ERA5 ``tp`` summed over a
    forecast) is differenced; "interval" (each value is what fell since the
    previous time) is divided by the interval. The result then holds each
    interval's rate at both of its ends.

    Raises:
        InputError: not a rate or amount, not (time + 2 horizontal dimensions), fewer
            than two times for an amount, a negative amount (a reset of the total).
    """
    where = f"variable {field.name!r}"
    if "time" not in field.dims or field.values.ndim != 3:
        raise InputError(source or "rain", where, f"expected dimensions (time and two horizontal ones), got {', '.join(field.dims)}")
    if field.units == "m s-1":
        return field
    if field.units != "m":
        raise InputError(source or "rain", where, f"units {field.units!r} are neither a precipitation rate nor an amount")
    t = field.coords["time"]
    if t.size < 2:
        raise InputError(source or "rain", where, "an amount needs at least two times to become a rate")
    axis = field.dims.index("time")
    a = np.moveaxis(field.values, axis, 0)
    amount = np.diff(a, axis=0) if accumulation == "running" else a[1:]
    low = amount < -1e-9  # packing rounds amounts to about 1e-9 m and no finer
    if np.any(low):
        k = int(np.argwhere(low)[0][0])
        raise InputError(source or "rain", where, f"the amount falls between {iso_time(t[k])} and {iso_time(t[k + 1])} "
                         f"(by {-float(amount[k].min()):.3g} m): not a running total; use accumulation='interval'")
    rate = np.maximum(amount, 0.0) / np.diff(t)[:, None, None]
    values = np.moveaxis(np.repeat(rate, 2, axis=0), 0, axis)
    times = np.stack([t[:-1], t[1:]], axis=1).ravel()
    coords = {**field.coords, "time": times}
    return GriddedField(field.name, "m s-1", field.dims, coords, values, field.crs, field.standard_name)


def value_range(field: GriddedField) -> tuple[float, float] | None:
    """(min, max) of the field's values ignoring NaN, or None when all are missing."""
    finite = field.values[np.isfinite(field.values)]
    return (float(finite.min()), float(finite.max())) if finite.size else None


def iso_time(seconds: float) -> str:
    """"YYYY-MM-DDTHH:MM:SSZ" for seconds since 1970-01-01 UTC."""
    return str(np.datetime64(int(math.floor(seconds)), "s")) + "Z"

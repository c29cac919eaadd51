"""ESRI ASCII grids (``.asc``), plain or inside a ``.zip``.

The format: a header of ``key value`` lines (``ncols``, ``nrows``,
``xllcorner``/``xllcenter``, ``yllcorner``/``yllcenter``, ``cellsize`` or
``dx`` and ``dy``, optional ``NODATA_value``; keys in any case), then
``nrows * ncols`` numbers, the northern row first.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np

from twin.errors import InputError
from twin.io.checks import ZIP_ERRORS, finite, regular_file
from twin.scene import Heightfield

__all__ = ["EsriAsciiHeader", "read_esri_ascii", "read_esri_ascii_header"]

_KEYS = ("ncols", "nrows", "xllcorner", "xllcenter", "yllcorner", "yllcenter", "cellsize", "dx", "dy", "nodata_value")


@dataclass(frozen=True)
class EsriAsciiHeader:
    """What the header of an ESRI ASCII grid says.

    Attributes:
        source: the file, "archive.zip!member.asc" for a zip member.
        ncols, nrows: grid size [cells].
        x0, y0: lower-left corner of the lower-left cell [CRS units].
        dx, dy: cell size [CRS units].
        nodata: the no-data value, or None when the header has none.
        data_line: the 1-based line where the values begin.
    """

    source: str
    ncols: int
    nrows: int
    x0: float
    y0: float
    dx: float
    dy: float
    nodata: float | None
    data_line: int

    @property
    def extent(self) -> tuple[float, float, float, float]:
        """(xmin, ymin, xmax, ymax) [CRS units]."""
        return (self.x0, self.y0, self.x0 + self.ncols * self.dx, self.y0 + self.nrows * self.dy)


def _asc_member(path: Path, z: zipfile.ZipFile, member: str | None) -> str:
    names = [n for n in z.namelist() if not n.endswith("/")]
    if member is not None:
        if member not in names:
            raise InputError(path, "", f"the archive has no member {member!r} (it holds: {', '.join(names) or 'nothing'})")
        return member
    if not names:
        raise InputError(path, "", "the archive is empty")
    grids = [n for n in names if n.lower().endswith(".asc")]
    if not grids:
        raise InputError(path, "", f"the archive holds no .asc file (it holds: {', '.join(names)})")
    if len(grids) > 1:
        raise InputError(path, "", f"the archive holds several .asc files ({', '.join(grids)}); name one with member=")
    return grids[0]


@contextmanager
def _open_text(path: str | Path, member: str | None) -> Iterator[tuple[str, TextIO]]:
    """Yield (label, text stream) for a plain .asc or an .asc inside a .zip."""
    path = regular_file(path)
    if path.suffix.lower() != ".zip":
        if member is not None:
            raise InputError(path, "", f"member={member!r} given but the file is not a .zip archive")
        with open(path, encoding="utf-8", newline=None) as f:
            yield str(path), f
        return
    try:
        z = zipfile.ZipFile(path)
    except ZIP_ERRORS:
        raise InputError(path, "", "not a zip archive") from None
    with z:
        name = _asc_member(path, z, member)
        try:
            with z.open(name) as raw:
                yield f"{path}!{name}", io.TextIOWrapper(raw, encoding="utf-8", newline=None)
        except ZIP_ERRORS as e:
            raise InputError(f"{path}!{name}", "", f"the zip member cannot be read ({e})") from None


def _complete(values: dict) -> bool:
    """Whether the header keys read so far make a whole header."""
    has = values.keys()
    return (
        has >= {"ncols", "nrows"}
        and bool(has & {"xllcorner", "xllcenter"})
        and bool(has & {"yllcorner", "yllcenter"})
        and bool(has & {"cellsize", "dx"})
    )


def _parse_header(readline: Callable[[], str], label: str) -> tuple[EsriAsciiHeader, str]:
    """Read header lines; return the header and the first data line (already read)."""
    values: dict[str, tuple[float, int]] = {}  # key -> (value, line number)
    lineno = 0
    while True:
        line = readline()
        lineno += 1
        if not line:
            raise InputError(label, f"line {lineno}", "the file ends before any grid value")
        parts = line.split()
        if not parts:
            continue
        key = parts[0].lower()
        try:
            float(key)
            break  # the first value: the header is over
        except ValueError:
            pass
        if key not in _KEYS:
            if _complete(values):
                break  # a non-numeric value; the data parser reports it
            raise InputError(label, f"line {lineno}", f"unknown header key {parts[0]!r}")
        if key in values:
            raise InputError(label, f"line {lineno}", f"duplicate header key {parts[0]!r} (first on line {values[key][1]})")
        if len(parts) != 2:
            raise InputError(label, f"line {lineno}", f"expected '{parts[0]} <number>', found {line.strip()!r}")
        try:
            values[key] = (float(parts[1]), lineno)
        except ValueError:
            raise InputError(label, f"line {lineno}", f"{parts[0]} is not a number: {parts[1]!r}") from None

    def get(key: str) -> float:
        return values[key][0]

    def one_of(a: str, b: str) -> str:
        if a in values and b in values:
            raise InputError(label, f"line {values[b][1]}", f"both {a} and {b} given")
        if a not in values and b not in values:
            raise InputError(label, "header", f"missing key {a} (or {b})")
        return a if a in values else b

    for key, (v, at) in values.items():
        if key != "nodata_value":
            finite(label, f"line {at}", v, key)
    for key in ("ncols", "nrows"):
        if key not in values:
            raise InputError(label, "header", f"missing key {key}")
        v, at = values[key]
        if v != int(v) or v <= 0:
            raise InputError(label, f"line {at}", f"{key} must be a positive integer, found {v:g}")
    if "cellsize" in values:
        for key in ("dx", "dy"):
            if key in values:
                raise InputError(label, f"line {values[key][1]}", f"both cellsize and {key} given")
        sizes = ("cellsize", "cellsize")
    elif "dx" in values or "dy" in values:
        for key in ("dx", "dy"):
            if key not in values:
                raise InputError(label, "header", f"missing key {key}")
        sizes = ("dx", "dy")
    else:
        raise InputError(label, "header", "missing key cellsize (or dx and dy)")
    for key in sizes:
        if not get(key) > 0:
            raise InputError(label, f"line {values[key][1]}", f"{key} must be positive, found {get(key):g}")
    dx, dy = get(sizes[0]), get(sizes[1])
    xkey, ykey = one_of("xllcorner", "xllcenter"), one_of("yllcorner", "yllcenter")
    x0 = get(xkey) - (dx / 2 if xkey == "xllcenter" else 0.0)
    y0 = get(ykey) - (dy / 2 if ykey == "yllcenter" else 0.0)
    nodata = get("nodata_value") if "nodata_value" in values else None
    header = EsriAsciiHeader(label, int(get("ncols")), int(get("nrows")), x0, y0, dx, dy, nodata, lineno)
    finite(label, "header", header.extent, "the grid's extent (corner + size x cell size)")
    return header, line


def read_esri_ascii_header(path: str | Path, member: str | None = None) -> EsriAsciiHeader:
    """Read only the header of an ESRI ASCII grid (``.asc``, or ``.zip`` holding one)."""
    with _open_text(path, member) as (label, f):
        try:
            return _parse_header(f.readline, label)[0]
        except UnicodeDecodeError:
            raise InputError(label, "header", "not a text file") from None


def _bad_value(label: str, first_line: int, body: str) -> InputError:
    """The error for the first value in ``body`` that is not a number."""
    for lineno, line in enumerate(body.splitlines(), start=first_line):
        for col, tok in enumerate(line.split(), start=1):
            try:
                float(tok)
            except ValueError:
                return InputError(label, f"line {lineno}, value {col}", f"not a number: {tok!r}")
    return InputError(label, "data", "a value is not a number")


def _size_error(label: str, h: EsriAsciiHeader, body: str, found: int) -> InputError:
    """The error for a body with ``found`` != nrows*ncols values, naming a row when it can."""
    expected = h.nrows * h.ncols
    what = f"the header says {h.nrows} rows x {h.ncols} columns = {expected} values, found {found}"
    rows = [(n, len(line.split())) for n, line in enumerate(body.splitlines(), start=h.data_line) if line.strip()]
    bad = next((i for i, (_, count) in enumerate(rows) if count != h.ncols), None)
    if bad is not None and (bad > 0 or len(rows) == h.nrows):  # one row per line: name the odd one
        lineno, count = rows[bad]
        return InputError(label, f"line {lineno}", f"{what}; row {bad + 1} (from the top) has {count} values")
    if bad is None and len(rows) > h.nrows:
        return InputError(label, f"line {rows[h.nrows][0]}", f"{what}; this is row {h.nrows + 1}, beyond nrows")
    if bad is None:
        return InputError(label, f"line {rows[-1][0] if rows else h.data_line}", f"{what}; the file ends after {len(rows)} rows")
    return InputError(label, "data", what)


def read_esri_ascii(path: str | Path, member: str | None = None) -> Heightfield:
    """Read an ESRI ASCII grid into a :class:`Heightfield`.

    Args:
        path: a ``.asc`` file, or a ``.zip`` holding it.
        member: the ``.asc`` inside the zip; needed only when it holds several.

    Returns:
        The heightfield: elevation shape (nrows, ncols) float64 with row 0 the
        southern row, NaN where the file has NODATA_value; x0, y0, dx, dy from the
        header (a ``*llcenter`` is moved to the cell corner).
    """
    with _open_text(path, member) as (label, f):
        try:
            h, first = _parse_header(f.readline, label)
            body = first + f.read()
        except UnicodeDecodeError:
            raise InputError(label, "", "not a text file") from None
    try:
        values = np.array(body.split(), dtype=np.float64)
    except ValueError:
        raise _bad_value(label, h.data_line, body) from None
    if values.size != h.nrows * h.ncols:
        raise _size_error(label, h, body, values.size)
    bad = ~np.isfinite(values)
    if bad.any():
        k = int(np.argmax(bad))
        lines = [n for n, line in enumerate(body.splitlines(), start=h.data_line) if line.strip()]
        where = f"line {lines[k // h.ncols]}" if len(lines) == h.nrows else "data"  # one grid row per line
        raise InputError(label, where, f"the value of row {k // h.ncols + 1} (from the top), column {k % h.ncols + 1} "
                         f"is {float(values[k])!r}, not a finite height (no data is written as NODATA_value)")
    elevation = np.ascontiguousarray(values.reshape(h.nrows, h.ncols)[::-1])
    if h.nodata is not None:
        elevation[elevation == h.nodata] = np.nan
    return Heightfield(elevation, h.x0, h.y0, h.dx, h.dy)

"""Checks every importer makes before and while it reads: the one error boundary of twin's readers.

- :func:`regular_file`: the path is a regular file, checked with ``stat`` before
  anything opens it (a FIFO or a device would block or never end);
- :func:`finite`: numbers and arrays are finite, or the error names the place;
- :func:`epsg`: a CRS string names a CRS that pyproj knows, as "EPSG:<code>";
- :func:`library_errors`: a third-party decoder's failure on a damaged file
  (zip CRC, HDF, ecCodes, GDAL) becomes an :class:`~twin.errors.InputError`;
- :func:`quiet`: third-party chatter (C libraries writing to stderr, Python
  warnings) is kept off the screen; what matters becomes one
  :class:`~twin.errors.InputWarning` line.
"""

from __future__ import annotations

import os
import re
import stat
import sys
import tempfile
import warnings
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from twin.errors import InputError, InputWarning

__all__ = ["ZIP_ERRORS", "epsg", "finite", "library_errors", "quiet", "regular_file"]

ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError, RuntimeError)
"""What :mod:`zipfile` raises on a damaged archive (a bad CRC, a cut, impossible offsets, an unknown compression)."""

_KINDS = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"))


def regular_file(path: str | Path) -> Path:
    """``path`` as a Path, once ``stat`` says it is a regular file (nothing is opened).

    Raises:
        InputError: no such file, a directory, a FIFO, a device or a socket.
    """
    path = Path(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise InputError(path, "", "no such file") from None
    except OSError as e:
        raise InputError(path, "", f"cannot be read ({e.strerror})") from None
    if stat.S_ISDIR(mode):
        raise InputError(path, "", "is a directory, not a file")
    for test, kind in _KINDS:
        if test(mode):
            raise InputError(path, "", f"is {kind}, not a regular file; twin reads files")
    return path


def finite(source: object, where: str, values, what: str = "value") -> np.ndarray:
    """``values`` as a float64 array (a 0-d array for a number), once every entry is finite.

    Raises:
        InputError: "<what> is not a finite number" at ``where``, naming the first
            bad entry's index when ``values`` is an array.
    """
    a = np.asarray(values, dtype=np.float64)
    bad = ~np.isfinite(a)
    if bad.any():
        if a.ndim == 0:
            raise InputError(source, where, f"{what} must be a finite number, found {float(a)!r}")
        at = tuple(int(i) for i in np.argwhere(bad)[0])
        raise InputError(source, f"{where}[{at[0]}]" if where else f"[{at[0]}]",
                         f"{what} must be finite numbers, found {float(a[at])!r} ({int(bad.sum())} in all)")
    return a


def epsg(text: str | int, source: object = "crs", where: str = "") -> str:
    """"EPSG:<code>" of a CRS named by an EPSG code, "EPSG:n", WKT, PROJ or any text pyproj reads.

    Raises:
        InputError: pyproj does not know the CRS (an EPSG code not in its
            database, text it cannot parse), or the CRS has no EPSG code.
    """
    import pyproj

    s = f"EPSG:{text}" if isinstance(text, int) else str(text).strip()
    try:
        c = pyproj.CRS.from_user_input(s)
    except pyproj.exceptions.CRSError as e:
        raise InputError(source, where, f"unknown CRS {s[:80]!r} ({str(e).splitlines()[0][:160]})") from None
    code = c.to_epsg(min_confidence=70)
    if code is None:
        raise InputError(source, where, f"the CRS {c.name!r} has no EPSG code")
    return f"EPSG:{code}"


@contextmanager
def library_errors(source: object, what: str, where: str = "") -> Iterator[None]:
    """Turn a third-party decoder's exception inside the block into ``InputError(source, where, what (message))``.

    Only for calls into libraries that decode file contents (zipfile, netCDF4/HDF5,
    cfgrib/ecCodes, rasterio/GDAL, osmium): their exception types on damaged
    input are many and undocumented. twin's own InputError passes unchanged.
    """
    try:
        yield
    except InputError:
        raise
    except MemoryError:
        raise InputError(source, where, f"{what} (it asks for more memory than there is)") from None
    except Exception as e:  # noqa: BLE001 - the reader's boundary: any decoder failure is bad input
        text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise InputError(source, where, f"{what} ({text[:200]})") from None


_BENIGN = [
    re.compile(p) for p in (
        r"ecCodes .* or higher is recommended",  # Debian's 2.28 decodes twin's files exactly
        r"variable .* has multiple fill values",  # both become NaN, as CF says
        r"^\s*warnings\.warn\(",  # the source line Python prints under a warning
        r"^\s*$",
    )
]


@contextmanager
def quiet(source: object, *, benign: Iterable[str] = ()) -> Iterator[None]:
    """Keep what libraries print during a read off stderr; if the read succeeds and some of it
    matters, say it in one :class:`InputWarning`: "<source>: the reader said: <first line> (+n more)".

    Lines matching a ``benign`` pattern (and the known harmless ones) are dropped.
    twin's own InputWarnings raised inside pass through as they are.
    """
    patterns = _BENIGN + [re.compile(p) for p in benign]
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                yield  # an exception here ends the read: the chatter is dropped, the error says it
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
        tmp.seek(0)
        printed = tmp.read().decode("utf-8", "replace").splitlines()
    lines = [ln.strip() for ln in printed]
    for w in caught:
        if issubclass(w.category, InputWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        else:
            lines.append(str(w.message).strip())
    lines = [ln for ln in lines if not any(p.search(ln) for p in patterns)]
    if lines:
        more = f" (and {len(lines) - 1} more lines)" if len(lines) > 1 else ""
        warnings.warn(f"{source}: the reader said: {lines[0][:200]}{more}", InputWarning, stacklevel=3)

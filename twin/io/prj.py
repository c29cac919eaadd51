"""Projection files (``.prj``): WKT, or the old ArcInfo keyword format.

The ArcInfo format is one ``Keyword value`` per line::

    Projection    UTM
    Zone          56
    Datum         WGS84
    Units         METERS
    Yshift        10000000

Twin reads its UTM (``Yshift 10000000`` or a negative zone: southern
hemisphere) and GEOGRAPHIC projections; anything else pyproj can read (WKT1,
WKT2, ESRI WKT, PROJJSON, "EPSG:n") goes through pyproj.
"""

from __future__ import annotations

from pathlib import Path

import pyproj

from twin.errors import InputError
from twin.io.text import read_text

__all__ = ["crs_from_prj", "crs_from_prj_text"]

MIN_CONFIDENCE = 70
"""Least pyproj confidence [%] at which a WKT is taken as an EPSG code."""

# datum -> (EPSG code of the geographic CRS, UTM codes: {hemisphere: (base, first zone, last zone)})
_DATUMS: dict[str, tuple[int, dict[str, tuple[int, int, int]]]] = {
    "WGS84": (4326, {"north": (32600, 1, 60), "south": (32700, 1, 60)}),
    "NAD83": (4269, {"north": (26900, 1, 23)}),
    "NAD27": (4267, {"north": (26700, 1, 22)}),
    "ETRS89": (4258, {"north": (25800, 28, 38)}),
    "GDA94": (4283, {"south": (28300, 48, 58)}),
    "GDA2020": (7844, {"south": (7800, 46, 59)}),
}


def _arcinfo(text: str, source: str) -> str:
    """EPSG code of an ArcInfo keyword .prj."""
    keys: dict[str, tuple[str, int]] = {}  # keyword -> (value, line number)
    for lineno, line in enumerate(text.splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if parts[0].lower() == "parameters":
            break  # projection parameters follow; UTM and GEOGRAPHIC have none
        keys.setdefault(parts[0].lower(), (" ".join(parts[1:]), lineno))

    proj, proj_line = keys["projection"]
    datum, datum_line = keys.get("datum") or keys.get("spheroid") or ("", proj_line)
    datum = "".join(c for c in datum.upper() if c.isalnum())
    if datum not in _DATUMS:
        what = f"datum {datum!r}" if datum else "no Datum line"
        raise InputError(source, f"line {datum_line}", f"{what}: not one twin knows ({', '.join(_DATUMS)})")
    geographic, utm = _DATUMS[datum]
    if proj.upper() == "GEOGRAPHIC":
        return f"EPSG:{geographic}"
    if proj.upper() != "UTM":
        raise InputError(
            source, f"line {proj_line}", f"projection {proj!r} is not one twin can name by an EPSG code (it reads UTM and GEOGRAPHIC); write the .prj as WKT"
        )
    if "zone" not in keys:
        raise InputError(source, f"line {proj_line}", "a UTM projection without a Zone line")
    zone_text, zone_line = keys["zone"]
    try:
        zone = int(zone_text)
    except ValueError:
        raise InputError(source, f"line {zone_line}", f"zone is not an integer: {zone_text!r}") from None
    units, units_line = keys.get("units", ("METERS", proj_line))
    if units.upper() not in ("METERS", "METRES", "METER", "METRE"):
        raise InputError(source, f"line {units_line}", f"units {units!r}: twin reads UTM in metres only")
    yshift, yshift_line = keys.get("yshift", ("0", proj_line))
    try:
        south = zone < 0 or float(yshift) == 10_000_000.0
    except ValueError:
        raise InputError(source, f"line {yshift_line}", f"Yshift is not a number: {yshift!r}") from None
    hemisphere = "south" if south else "north"
    if hemisphere not in utm:
        raise InputError(source, f"line {datum_line}", f"no EPSG code for UTM on datum {datum} in the {hemisphere}ern hemisphere")
    base, first, last = utm[hemisphere]
    if not first <= abs(zone) <= last:
        raise InputError(source, f"line {zone_line}", f"UTM zone {abs(zone)} on datum {datum} must lie in {first}..{last}")
    return f"EPSG:{base + abs(zone)}"


def crs_from_prj_text(text: str, source: str) -> str:
    """"EPSG:<code>" of the text of a .prj; ``source`` names it in errors."""
    lines = [(n, line.strip()) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]
    if not lines:
        raise InputError(source, "", "empty file")
    first_line, first = lines[0]
    if first.split()[0].lower() == "projection":
        return _arcinfo(text, source)
    try:
        crs = pyproj.CRS.from_user_input(text.strip())
    except pyproj.exceptions.CRSError:
        raise InputError(
            source, f"line {first_line}", f"neither WKT nor an ArcInfo 'Projection' file pyproj or twin can read: {first[:60]!r}"
        ) from None
    code = crs.to_epsg(min_confidence=MIN_CONFIDENCE)
    if code is None:
        raise InputError(source, f"line {first_line}", f"the CRS {crs.name!r} matches no EPSG code (confidence >= {MIN_CONFIDENCE}%)")
    return f"EPSG:{code}"


def crs_from_prj(path: str | Path) -> str:
    """"EPSG:<code>" of a .prj file (WKT or ArcInfo keywords)."""
    return crs_from_prj_text(read_text(path), str(path))

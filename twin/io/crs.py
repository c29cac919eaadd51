"""Coordinate reference systems of imported data: names, the local metric CRS, transforms.

Every Scene lives in one projected CRS with metre units. Importers of
geographic data (OSM, SRTM, geographic GeoTIFFs and CityJSON) pick the UTM
zone of the data's centre unless told otherwise; the zone comes from the
longitude alone (the Norway and Svalbard exceptions are not applied).
"""

from __future__ import annotations

import math
import re
from functools import lru_cache

import numpy as np
import pyproj

from twin.errors import InputError
from twin.io.checks import epsg

__all__ = ["crs_from_reference_system", "horizontal_crs", "is_geographic", "metres_per_degree", "metric_crs", "to_crs", "transform", "utm_crs"]


def utm_crs(lon: float, lat: float) -> str:
    """"EPSG:326zz" (north) or "EPSG:327zz" (south) of the WGS 84 UTM zone holding (lon, lat) [degrees]."""
    if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
        raise InputError("crs", "", f"({lon}, {lat}) is not a longitude and latitude in degrees")
    zone = min(int((lon + 180.0) // 6.0) + 1, 60)
    return f"EPSG:{(32600 if lat >= 0 else 32700) + zone}"


def to_crs(crs: str | int, source: str = "crs") -> str:
    """"EPSG:<code>" for an EPSG code, an "EPSG:n" string, or any text pyproj understands with an EPSG code."""
    return epsg(crs, source)


def horizontal_crs(crs: str) -> str:
    """The horizontal part of a compound CRS ("EPSG:7415" -> "EPSG:28992"); other CRSs unchanged."""
    c = pyproj.CRS.from_user_input(crs)
    if c.is_compound:
        for sub in c.sub_crs_list:
            if not sub.is_vertical:
                code = sub.to_epsg(min_confidence=70)
                if code is not None:
                    return f"EPSG:{code}"
    return crs


def metric_crs(crs: str | int | None, lon: float, lat: float, source: str = "crs") -> str:
    """The scene CRS: ``crs`` when given (it must be projected, in metres), else the UTM zone of (lon, lat)."""
    if crs is None:
        return utm_crs(lon, lat)
    name = horizontal_crs(to_crs(crs, source))
    c = pyproj.CRS.from_user_input(name)
    unit = c.axis_info[0].unit_name if c.axis_info else ""
    if not c.is_projected or unit not in ("metre", "meter"):
        raise InputError(source, "", f"{name} ({c.name}) is not a projected CRS in metres; a scene needs one")
    return name


_URL = re.compile(r"(?:https?://www\.opengis\.net/def/crs/|urn:ogc:def:crs:)EPSG(?:/|:)[^/:]*(?:/|:+)(\d+)\s*$", re.I)


def crs_from_reference_system(text: str, source: str = "referenceSystem") -> str:
    """"EPSG:<code>" of a CityJSON ``referenceSystem``.

    Accepts the OGC URL of CityJSON 1.1/2.0 ("https://www.opengis.net/def/crs/EPSG/0/7415"),
    the URN of CityJSON 1.0 ("urn:ogc:def:crs:EPSG::7415") and "EPSG:7415"; the code
    must be one pyproj knows.
    """
    m = _URL.match(str(text).strip())
    if m:
        return epsg(int(m[1]), source)
    if re.fullmatch(r"EPSG:\d+", str(text).strip(), re.I):
        return epsg(str(text).strip().upper(), source)
    raise InputError(source, "", f"not an EPSG reference system: {text!r}")


@lru_cache(maxsize=32)
def _transformer(src: str, dst: str) -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(src, dst, always_xy=True)


def transform(src: str, dst: str, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points (x, y) from CRS ``src`` to ``dst`` (longitude first for geographic CRSs); any matching shapes."""
    if src == dst:
        return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    tx, ty = _transformer(src, dst).transform(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
    return np.asarray(tx, dtype=np.float64), np.asarray(ty, dtype=np.float64)


def is_geographic(crs: str) -> bool:
    """Whether ``crs`` has angular (degree) coordinates."""
    return bool(pyproj.CRS.from_user_input(crs).is_geographic)


def metres_per_degree(lat: float) -> tuple[float, float]:
    """Approximate metres per degree of longitude and of latitude at latitude ``lat`` [degrees] (WGS 84)."""
    phi = math.radians(lat)
    m_lat = 111132.92 - 559.82 * math.cos(2 * phi) + 1.175 * math.cos(4 * phi)
    m_lon = 111412.84 * math.cos(phi) - 93.5 * math.cos(3 * phi)
    return m_lon, m_lat

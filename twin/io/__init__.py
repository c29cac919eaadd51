"""Importers: real-world files (DEMs, projections, polygons, points) into twin's types."""

from __future__ import annotations

from twin.io.csv_geometry import read_points, read_polygon
from twin.io.esri_ascii import EsriAsciiHeader, read_esri_ascii, read_esri_ascii_header
from twin.io.prj import crs_from_prj, crs_from_prj_text

__all__ = [
    "EsriAsciiHeader",
    "crs_from_prj",
    "crs_from_prj_text",
    "read_esri_ascii",
    "read_esri_ascii_header",
    "read_points",
    "read_polygon",
]

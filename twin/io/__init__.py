"""Importers: real-world files (DEMs, projections, polygons, points, OSM, CityJSON, URDF robots, sensor logs) into twin's types."""

from __future__ import annotations

from twin.io.cityjson import CityData, ground_terrain, read_cityjson
from twin.io.crs import metric_crs, utm_crs
from twin.io.csv_geometry import read_points, read_polygon
from twin.io.dem import Dem, Raster, drape, fill_sinks, read_dem, read_raster
from twin.io.esri_ascii import EsriAsciiHeader, read_esri_ascii, read_esri_ascii_header
from twin.io.osm import OsmData, RoadGraph, read_osm, road_graph
from twin.io.prj import crs_from_prj, crs_from_prj_text
from twin.io.sensor_log import SensorLog, read_nab_labels, read_sensor_log
from twin.io.urdf import Robot, read_urdf
from twin.io.water import initial_water, shore_level

__all__ = [
    "CityData",
    "Dem",
    "EsriAsciiHeader",
    "OsmData",
    "Raster",
    "RoadGraph",
    "Robot",
    "SensorLog",
    "crs_from_prj",
    "crs_from_prj_text",
    "drape",
    "fill_sinks",
    "ground_terrain",
    "initial_water",
    "metric_crs",
    "read_cityjson",
    "read_dem",
    "read_esri_ascii",
    "read_esri_ascii_header",
    "read_nab_labels",
    "read_osm",
    "read_points",
    "read_polygon",
    "read_raster",
    "read_sensor_log",
    "read_urdf",
    "road_graph",
    "shore_level",
    "utm_crs",
]

"""Importers: real-world files (DEMs, projections, polygons, points, GIS vector layers, OSM, CityJSON, URDF robots, sensor logs) into twin's types."""

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
from twin.io.vector import (
    VectorLayer,
    boundary_spans_from_layer,
    buildings_from_layer,
    friction_zones_from_layer,
    inflows_from_layer,
    initial_water_from_layer,
    list_layers,
    probes_from_layer,
    read_vector,
    write_vector,
)
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
    "VectorLayer",
    "boundary_spans_from_layer",
    "buildings_from_layer",
    "crs_from_prj",
    "crs_from_prj_text",
    "drape",
    "fill_sinks",
    "friction_zones_from_layer",
    "ground_terrain",
    "inflows_from_layer",
    "initial_water",
    "initial_water_from_layer",
    "list_layers",
    "metric_crs",
    "probes_from_layer",
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
    "read_vector",
    "road_graph",
    "shore_level",
    "utm_crs",
    "write_vector",
]

"""Central Delft (NL) under a cloudburst, from the city's own CityJSON.

``shared/data/city/delft.city.json`` is a CityJSON 2.0 extract of the Dutch
BGT large-scale topography lifted to LoD1 with AHN heights: 160 buildings,
roads, land use, plant cover and two canals between which the block lies. Its
CRS is EPSG:7415 (RD New + NAP height); the scene uses its horizontal part,
EPSG:28992 "Amersfoort / RD New", and heights stay in metres above NAP.

The terrain is the file's ground surfaces (roads, land use, plant cover,
water) rasterised at ``terrain_resolution``; the buildings are raised to
their roofs; land cover gives Manning's n (``twin.io.cityjson.MANNING``).
Rain falls at ``rain`` mm/h for ``rain_duration`` seconds (by default a
cloudburst of 60 mm/h for 30 minutes) on sealed ground; water leaves the
domain over every edge and gathers in the canals. The file's objects cover
only part of the rectangle around the buildings; the cells under no ground
surface are filled from their neighbours.

The canals (the file's WaterBody objects) start full, each at its own water
level in the file (-0.42, -0.15 and +0.13 m NAP: the BGT models water as a
flat surface at its level, ``CityData.water``). The file gives no canal bed, so
the terrain inside them is lowered ``canal_depth`` below their level (1.5 m by
default, an assumption typical of Dutch city canals; 0 leaves them as the
file's flat surfaces, holding no water at the start).

    twin run scenes/delft_cloudburst.py --out out/delft --pictures
    twin export scenes/delft_cloudburst.py --usd out/delft.usdc --result out/delft
"""

from __future__ import annotations

import numpy as np
import shapely
from twin.physics.swe.from_scene import check_memory
from twin.physics.swe.run import FloodRun

from twin.data import data_file
from twin.io.cityjson import ground_terrain, read_cityjson
from twin.params import Param
from twin.raster import Grid
from twin.scene import Boundary, Probe, Rain, Scene, TimeSeries

DEFAULT_DATA = data_file("city", "delft.city.json")

PARAMETERS = [
    Param("resolution", 2.0, "m", "grid cell size", positive=True),
    Param("terrain_resolution", 1.0, "m", "cell size of the terrain rasterised from the ground surfaces", positive=True),
    Param("duration", 2400.0, "s", "simulated time", positive=True),
    Param("output_interval", 120.0, "s", "time between snapshots", positive=True),
    Param("probe_interval", 10.0, "s", "time between probe samples", positive=True),
    Param("rain", 60.0, "mm/h", "cloudburst intensity", minimum=0.0),
    Param("rain_duration", 1800.0, "s", "how long the cloudburst lasts", positive=True),
    Param("infiltration", 0.0, "mm/h", "loss rate where it rains (sealed city: 0)", minimum=0.0),
    Param("manning", 0.02, "s m-1/3", "Manning's n outside the land-cover polygons", minimum=0.0),
    Param("margin", 20.0, "m", "domain margin around the buildings", minimum=0.0),
    Param("canal_depth", 1.5, "m", "depth of the canals below their water level (assumed: the file gives no bed)", minimum=0.0),
    Param("buildings", "raise", "", "raise the bed to the roofs, or cut footprints out as walls", choices=("raise", "wall")),
    Param("order", 2, "", "order of accuracy in space and time", choices=(1, 2)),
    Param("data", DEFAULT_DATA, "", "the CityJSON file"),
]


def setup(p: dict) -> FloodRun:
    city = read_cityjson(p["data"])
    fp = shapely.union_all([shapely.Polygon(b.footprint) for b in city.buildings])
    xmin, ymin, xmax, ymax = fp.buffer(p["margin"]).bounds
    cx0, cy0, cx1, cy1 = city.extent
    extent = (max(xmin, cx0), max(ymin, cy0), min(xmax, cx1), min(ymax, cy1))
    check_memory(Grid.over(extent, p["resolution"]), "float32", None)  # the flood grid fits, before the terrain is built
    terrain, _ = ground_terrain(city, extent, p["terrain_resolution"])
    domain = shapely.box(*extent)
    canals = [w for w in city.water if shapely.Polygon(w.polygon).intersection(domain).area > 0]
    cells = Grid(terrain.x0, terrain.y0, terrain.dx, terrain.dy, terrain.shape[1], terrain.shape[0])
    for w in canals:  # the bed, canal_depth below the water surface the file gives
        inside = cells.polygon_mask(w.polygon)
        terrain.elevation[inside] = np.minimum(terrain.elevation[inside], w.stage - p["canal_depth"])
    probes = [Probe("centre", *shapely.Point((extent[0] + extent[2]) / 2, (extent[1] + extent[3]) / 2).coords[0])]
    for label, kind in (("street", "Road"), ("canal", "WaterBody"), ("garden", "PlantCover")):
        zones = [shapely.Polygon(z.polygon).intersection(domain) for z in city.areas if z.name == kind]
        zones = [z for z in zones if not z.is_empty]
        if zones:
            probes.append(Probe(label, *max(zones, key=lambda z: z.area).representative_point().coords[0]))
    T = p["rain_duration"]
    scene = Scene(
        name="Delft cloudburst",
        crs=city.crs,
        origin=(float(extent[0]), float(extent[1])),
        extent=tuple(float(v) for v in extent),
        terrain=terrain,
        buildings=city.buildings,
        friction_zones=city.areas,
        default_manning=p["manning"],
        rain=Rain(TimeSeries([0.0, T, T + 1e-6], [p["rain"], p["rain"], 0.0]), infiltration=p["infiltration"]),
        probes=probes,
        boundaries={edge: Boundary("transmissive") for edge in ("west", "east", "south", "north")},
        initial_water=canals,
    )
    return FloodRun(scene, duration=p["duration"], output_interval=p["output_interval"], probe_interval=p["probe_interval"],
                    resolution=p["resolution"], buildings=p["buildings"], order=p["order"])


__all__ = ["PARAMETERS", "setup"]

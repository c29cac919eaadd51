"""Rain on your own town: any OpenStreetMap extract, an optional DEM, and a storm.

Point ``osm`` at an ``.osm`` or ``.osm.pbf`` of your town (the default is the
Ostankino extract in ``shared/data/city/moscow.osm``) and, if you have one,
``dem`` at a DEM of it (GeoTIFF, SRTM ``.hgt``/``.hgt.zip``, ESRI ASCII; a
geographic one is resampled to the scene CRS). Without a DEM the ground is
flat at ``ground`` metres. The scene CRS is the UTM zone of the extract's
centre unless ``epsg`` names another.

The domain is the extract's bounds (cut to the DEM's extent); buildings are
draped on the terrain and raised by their OSM heights (``twin.io.osm``:
``height``, else ``building:levels`` x 3 m, else 6 m); land use, natural and
water areas set Manning's n (``twin.io.osm.MANNING``); roads are kept for
USD export. With a DEM, the OSM water bodies (``natural=water``,
``waterway=riverbank``, ``landuse=reservoir``) start full, each to its lowest
shore elevation (``twin.io.water``; those that hold no cell centre of the grid
are left out); set ``fill_water`` to false to start dry. Rain falls at ``rain``
mm/h for ``rain_duration`` seconds; water leaves over every edge.

    twin run scenes/osm_city.py --set osm=mytown.osm.pbf --set dem=N52E004.hgt.zip --out out/mytown --pictures
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from twin.physics.swe.run import FloodRun

from twin.data import data_file
from twin.errors import InputError
from twin.io.dem import drape, read_dem
from twin.io.osm import read_osm
from twin.io.water import initial_water
from twin.params import Param
from twin.raster import Grid
from twin.scene import Boundary, Heightfield, Probe, Rain, Scene, TimeSeries

HERE = Path(__file__).resolve().parent
DEFAULT_OSM = data_file("city", "moscow.osm")

PARAMETERS = [
    Param("osm", DEFAULT_OSM, "", "OpenStreetMap file (.osm, .osm.gz, .osm.bz2, .osm.pbf)"),
    Param("dem", "", "", "DEM of the area (.tif, .hgt, .hgt.zip, .asc); empty: flat ground"),
    Param("dem_crs", "", "", "CRS of a DEM whose file does not say (e.g. EPSG:4326 for an .asc without .prj)"),
    Param("ground", 0.0, "m", "elevation of the flat ground when there is no DEM"),
    Param("epsg", 0, "", "EPSG code of the scene CRS; 0: the UTM zone of the extract's centre", minimum=0),
    Param("resolution", 10.0, "m", "grid cell size", positive=True),
    Param("duration", 3600.0, "s", "simulated time", positive=True),
    Param("output_interval", 300.0, "s", "time between snapshots", positive=True),
    Param("probe_interval", 30.0, "s", "time between probe samples", positive=True),
    Param("rain", 50.0, "mm/h", "rain intensity", minimum=0.0),
    Param("rain_duration", 1800.0, "s", "how long it rains", positive=True),
    Param("infiltration", 5.0, "mm/h", "loss rate where it rains", minimum=0.0),
    Param("manning", 0.03, "s m-1/3", "Manning's n outside the land-cover areas", minimum=0.0),
    Param("buildings", "raise", "", "raise the bed by the building heights, or cut footprints out as walls", choices=("raise", "wall")),
    Param("order", 2, "", "order of accuracy in space and time", choices=(1, 2)),
    Param("fill_water", True, "", "with a DEM, start with the OSM water bodies full to their lowest shore"),
]


def setup(p: dict) -> FloodRun:
    data = read_osm(p["osm"], crs=p["epsg"] or None)
    extent = data.extent
    if p["dem"]:
        dem = read_dem(p["dem"], crs=data.crs, source_crs=p["dem_crs"] or None)
        terrain = dem.terrain
        t = terrain.extent
        extent = (max(extent[0], t[0]), max(extent[1], t[1]), min(extent[2], t[2]), min(extent[3], t[3]))
        if not (extent[2] > extent[0] and extent[3] > extent[1]):
            raise InputError(p["dem"], "", f"the DEM does not overlap the OSM extract ({data.extent} in {data.crs})")
    else:
        terrain = Heightfield(np.full((2, 2), float(p["ground"])), extent[0], extent[1],
                              (extent[2] - extent[0]) / 2, (extent[3] - extent[1]) / 2)
    water = []
    if p["dem"] and p["fill_water"]:
        grid = Grid.over(extent, p["resolution"])
        water = [w for w in initial_water(data.water, terrain, extent=extent) if grid.polygon_mask(w.polygon).any()]
    drape(data.buildings, terrain)
    drape(data.building_parts, terrain)
    T = p["rain_duration"]
    scene = Scene(
        name=f"rain on {Path(p['osm']).name}",
        crs=data.crs,
        origin=(float(extent[0]), float(extent[1])),
        extent=tuple(float(v) for v in extent),
        terrain=terrain,
        buildings=data.buildings,
        building_parts=data.building_parts,
        roads=data.roads,
        friction_zones=data.areas,
        default_manning=p["manning"],
        rain=Rain(TimeSeries([0.0, T, T + 1e-6], [p["rain"], p["rain"], 0.0]), infiltration=p["infiltration"]),
        probes=[Probe("centre", 0.5 * (extent[0] + extent[2]), 0.5 * (extent[1] + extent[3]))],
        boundaries={edge: Boundary("transmissive") for edge in ("west", "east", "south", "north")},
        initial_water=water,
    )
    return FloodRun(scene, duration=p["duration"], output_interval=p["output_interval"], probe_interval=p["probe_interval"],
                    resolution=p["resolution"], buildings=p["buildings"], order=p["order"])


__all__ = ["PARAMETERS", "setup"]

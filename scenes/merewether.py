"""Merewether, Newcastle NSW: the Pasha Bulker storm flood of 8 June 2007.

The case as the ARR Project 15 report and ANUGA's validation suite ran it
(``shared/data/flood/merewether/CASE.md``): the surveyed ~1 m DEM (UTM 56S),
buildings raised 3.0 m, Manning n 0.02 on the road and 0.04 elsewhere, a
constant 19.7 m^3/s inflow inside a 10 m circle, south and west walls, east and
north free outflow, 1000 s from dry ground.

    twin run scenes/merewether.py --out out/merewether
    twin run scenes/merewether.py --set resolution=2 --out out/coarse

The houses may come from a GIS vector file instead of the case's CSV files
(``--set houses=houses.gpkg``: GeoPackage, Shapefile, GeoJSON or FlatGeobuf, in
any CRS; each polygon is a house named by its ``name`` attribute, raised by its
``height`` attribute where it has one, else by ``building_height``).
:func:`houses_layer` gives the case's houses as such a layer.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import shapely
from twin.physics.swe.run import FloodRun

from twin.data import data_file
from twin.io import (
    buildings_from_layer,
    crs_from_prj,
    read_esri_ascii,
    read_points,
    read_polygon,
    read_vector,
)
from twin.params import Param
from twin.scene import (
    Boundary,
    Building,
    FrictionZone,
    Inflow,
    Probe,
    Scene,
    TimeSeries,
)

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = data_file("flood", "merewether")

PARAMETERS = [
    Param("resolution", 1.0, "m", "grid cell size", positive=True),
    Param("duration", 1000.0, "s", "simulated time", positive=True),
    Param("output_interval", 50.0, "s", "time between snapshots", positive=True),
    Param("probe_interval", 1.0, "s", "time between probe samples", positive=True),
    Param("inflow", 19.7, "m3/s", "constant discharge of the inflow", minimum=0.0),
    Param("building_height", 3.0, "m", "height buildings are raised by", minimum=0.0),
    Param("buildings", "raise", "", "raise the bed by the building height, or cut footprints out as walls", choices=("raise", "wall")),
    Param("road_manning", 0.02, "s m-1/3", "Manning's n on the road polygon", minimum=0.0),
    Param("manning", 0.04, "s m-1/3", "Manning's n elsewhere", minimum=0.0),
    Param("order", 2, "", "order of accuracy in space and time", choices=(1, 2)),
    Param("precision", "float32", "", "floating-point precision of the solver", choices=("float32", "float64")),
    Param("data", DEFAULT_DATA, "", "folder with the case's files (CASE.md)"),
    Param("houses", "", "", "vector file with the house footprints (attributes name, optional height) instead of data/houses/*.csv"),
    Param("houses_crs", "", "", "CRS of the houses file when it declares none (e.g. EPSG:28356)"),
]

# The reference model uses house032_033 (the union of 032 and 033) instead of those two
# and leaves out house030 (CASE.md).
EXCLUDED_HOUSES = {"house030", "house032", "house033"}


def houses_layer(data: str | Path) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The case's houses (data/houses/*.csv, less EXCLUDED_HOUSES) as polygons [m, the case's CRS] and a ``name`` attribute."""
    files = sorted(f for f in (Path(data) / "houses").glob("house*.csv") if f.stem not in EXCLUDED_HOUSES)
    return np.array([shapely.Polygon(read_polygon(f)) for f in files], object), {"name": np.array([f.stem for f in files])}


def setup(p: dict) -> FloodRun:
    data = Path(p["data"])
    extent_pts = read_polygon(data / "extent.csv")
    extent = tuple(float(v) for v in (extent_pts[:, 0].min(), extent_pts[:, 1].min(), extent_pts[:, 0].max(), extent_pts[:, 1].max()))
    crs = crs_from_prj(data / "topography1.prj")
    if p["houses"]:
        layer = read_vector(p["houses"], crs=p["houses_crs"] or None, scene_crs=crs)
        buildings = buildings_from_layer(layer, extent, height="height" if "height" in layer.attributes else None,
                                         default_height=p["building_height"], name="name" if "name" in layer.attributes else None)
    else:
        polygons, attrs = houses_layer(data)
        buildings = [Building(np.asarray(g.exterior.coords)[:-1], p["building_height"], str(n)) for g, n in zip(polygons, attrs["name"])]
    scene = Scene(
        name="Merewether 2007 urban flood",
        crs=crs,
        origin=extent[:2],
        extent=extent,
        terrain=read_esri_ascii(data / "topography1.zip"),
        buildings=buildings,
        friction_zones=[FrictionZone(read_polygon(data / "RoadPolygon.csv"), p["road_manning"], "road")],
        default_manning=p["manning"],
        inflows=[Inflow("storm inflow", (382265.0, 6354280.0), 10.0, TimeSeries.constant(p["inflow"]))],
        probes=[Probe(n, x, y) for n, x, y in read_points(HERE / "merewether_probes.csv")],
        boundaries={"south": Boundary("wall"), "west": Boundary("wall"),
                    "east": Boundary("transmissive"), "north": Boundary("transmissive")},
    )
    return FloodRun(scene, duration=p["duration"], output_interval=p["output_interval"], probe_interval=p["probe_interval"],
                    resolution=p["resolution"], buildings=p["buildings"], order=p["order"], dtype=p["precision"])


__all__ = ["PARAMETERS", "houses_layer", "setup"]

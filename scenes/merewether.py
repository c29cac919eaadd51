"""Merewether, Newcastle NSW: the Pasha Bulker storm flood of 8 June 2007.

The case as the ARR Project 15 report and ANUGA's validation suite ran it
(``shared/data/flood/merewether/CASE.md``): the surveyed ~1 m DEM (UTM 56S),
buildings raised 3.0 m, Manning n 0.02 on the road and 0.04 elsewhere, a
constant 19.7 m^3/s inflow inside a 10 m circle, south and west walls, east and
north free outflow, 1000 s from dry ground.

    twin run scenes/merewether.py --out out/merewether
    twin run scenes/merewether.py --set resolution=2 --out out/coarse
"""

from __future__ import annotations

from pathlib import Path

from physics.swe.run import FloodRun
from twin.data import data_file
from twin.io import crs_from_prj, read_esri_ascii, read_points, read_polygon
from twin.params import Param
from twin.scene import Boundary, Building, FrictionZone, Inflow, Probe, Scene, TimeSeries

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
]

# The reference model uses house032_033 (the union of 032 and 033) instead of those two
# and leaves out house030 (CASE.md).
EXCLUDED_HOUSES = {"house030", "house032", "house033"}


def setup(p: dict) -> FloodRun:
    data = Path(p["data"])
    extent_pts = read_polygon(data / "extent.csv")
    extent = (extent_pts[:, 0].min(), extent_pts[:, 1].min(), extent_pts[:, 0].max(), extent_pts[:, 1].max())
    houses = sorted(f for f in (data / "houses").glob("house*.csv") if f.stem not in EXCLUDED_HOUSES)
    scene = Scene(
        name="Merewether 2007 urban flood",
        crs=crs_from_prj(data / "topography1.prj"),
        origin=(float(extent[0]), float(extent[1])),
        extent=tuple(float(v) for v in extent),
        terrain=read_esri_ascii(data / "topography1.zip"),
        buildings=[Building(read_polygon(f), p["building_height"], f.stem) for f in houses],
        friction_zones=[FrictionZone(read_polygon(data / "RoadPolygon.csv"), p["road_manning"], "road")],
        default_manning=p["manning"],
        inflows=[Inflow("storm inflow", (382265.0, 6354280.0), 10.0, TimeSeries.constant(p["inflow"]))],
        probes=[Probe(n, x, y) for n, x, y in read_points(HERE / "merewether_probes.csv")],
        boundaries={"south": Boundary("wall"), "west": Boundary("wall"),
                    "east": Boundary("transmissive"), "north": Boundary("transmissive")},
    )
    return FloodRun(scene, duration=p["duration"], output_interval=p["output_interval"], probe_interval=p["probe_interval"],
                    resolution=p["resolution"], buildings=p["buildings"], order=p["order"], dtype=p["precision"])


__all__ = ["PARAMETERS", "setup"]

"""A river flood down James Creek, Colorado: a base flow, then a flood hydrograph.

The DEM is that of ``scenes/boulder_creek.py`` (NASA SRTMGL3, about 90 m,
resampled to UTM zone 13N, pits filled), over the lower canyon of James Creek
from ``west`` (default lon -105.400, where the creek's valley crosses the west
edge) through Jamestown to the tile's east edge (lat 40.090 to 40.140, about
4.1 x 5.4 km).

The creek enters at the west edge through a discharge span: the three edge
cells around the lowest point of that edge (the valley floor),
``Boundary("discharge", hydrograph, span=(a, b))``: ``base_flow`` until
``flood_start``, then a triangular flood hydrograph rising to ``peak`` over
``rise`` seconds and falling back over ``fall`` seconds, spread over the span's
wet cells and conserved exactly. Water leaves through a free (transmissive)
span of the east edge, ``outlet_cells`` cells each side of the valley floor;
the rest of the edges are walls. Manning's n is ``manning`` (0.05: a mountain stream
with cobbles and brush, Chow 1959). The figures are a scenario after the
September 2013 flood (Gochis et al. 2015), not a reconstruction of it.

The creek starts dry; its base flow is reached with a spin-up: the first
``flood_start`` seconds carry only the base flow. Run the spin-up once and
hot-start the flood from it (the clock goes on from the hot start's time):

    twin run scenes/james_creek_river.py --set duration=10800 --out out/james_spin
    twin run scenes/james_creek_river.py --hot-start out/james_spin --out out/james_flood

or the whole run at once (``duration`` covers the spin-up and the flood).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from twin.physics.swe.run import FloodRun

from twin.data import data_file
from twin.io.crs import transform
from twin.io.dem import read_dem
from twin.params import Param
from twin.scene import Boundary, Probe, Scene, TimeSeries

DEFAULT_DATA = data_file("terrain", "boulder_creek_srtmgl3.asc")

JAMESTOWN = (-105.3886, 40.1155)
"""Jamestown, Colorado (lon, lat) [degrees], on James Creek."""

SOUTH, EAST, NORTH = 40.090, -105.352, 40.140
"""The simulated area's other bounds [degrees]."""

PARAMETERS = [
    Param("resolution", 90.0, "m", "grid cell size (the DEM is resampled to it; 90 m is the SRTM grid)", positive=True),
    Param("west", -105.400, "degrees", "longitude of the west edge, where the creek enters"),
    Param("duration", 25200.0, "s", "end of the simulated time (spin-up and flood)", positive=True),
    Param("output_interval", 900.0, "s", "time between snapshots", positive=True),
    Param("probe_interval", 60.0, "s", "time between probe samples", positive=True),
    Param("base_flow", 1.0, "m3/s", "the creek's base flow", minimum=0.0),
    Param("peak", 150.0, "m3/s", "peak discharge of the flood", minimum=0.0),
    Param("flood_start", 10800.0, "s", "when the flood starts to rise (the spin-up before it)", minimum=0.0),
    Param("rise", 3600.0, "s", "time from the start of the flood to its peak", positive=True),
    Param("fall", 7200.0, "s", "time from the peak back to the base flow", positive=True),
    Param("manning", 0.05, "s m-1/3", "Manning's n of the valley", minimum=0.0),
    Param("outlet_cells", 5, "", "cells of the free outlet span each side of the valley floor on the east edge", minimum=0),
    Param("epsg", 32613, "", "scene CRS (default UTM zone 13N)"),
    Param("order", 2, "", "order of accuracy in space and time", choices=(1, 2)),
    Param("data", DEFAULT_DATA, "", "the DEM (geographic ESRI ASCII grid, or any DEM twin reads)"),
]


def hydrograph(p: dict) -> TimeSeries:
    """The inflow [m^3/s] over time [s]: base flow, a triangle up to the peak, base flow."""
    t0, t1, t2 = p["flood_start"], p["flood_start"] + p["rise"], p["flood_start"] + p["rise"] + p["fall"]
    return TimeSeries([0.0, t0, t1, t2], [p["base_flow"], p["base_flow"], p["peak"], p["base_flow"]])


def setup(p: dict) -> FloodRun:
    data = Path(p["data"])
    source_crs = "EPSG:4326" if data.suffix.lower() in (".asc", ".zip") and not data.with_suffix(".prj").exists() else None
    x, y = transform("EPSG:4326", f"EPSG:{p['epsg']}", np.array([p["west"], EAST, EAST, p["west"]]), np.array([SOUTH, SOUTH, NORTH, NORTH]))
    bounds = (float(x.min()), float(y.min()), float(x.max()), float(y.max()))
    dem = read_dem(data, crs=p["epsg"], resolution=p["resolution"], source_crs=source_crs, bounds=bounds, sinks=True)
    t = dem.terrain
    extent = t.extent
    e = t.elevation
    j_in = int(np.argmin(e[:, 0]))  # the valley floor on the west edge
    j0, j1 = max(j_in - 1, 0), min(j_in + 2, e.shape[0])
    inflow_span = (j0 * t.dy, j1 * t.dy)  # metres along the west edge, south to north
    j_out = int(np.argmin(e[:, -1]))
    k = p["outlet_cells"]
    outlet_span = (max(j_out - k, 0) * t.dy, min(j_out + k + 1, e.shape[0]) * t.dy)
    probes = [Probe("inflow", float(extent[0] + 0.5 * t.dx), float(extent[1] + (j_in + 0.5) * t.dy)),
              Probe("outlet", float(extent[2] - 0.5 * t.dx), float(extent[1] + (j_out + 0.5) * t.dy))]
    jx, jy = transform("EPSG:4326", dem.crs, np.array([JAMESTOWN[0]]), np.array([JAMESTOWN[1]]))
    if extent[0] <= jx[0] <= extent[2] and extent[1] <= jy[0] <= extent[3]:
        probes.insert(1, Probe("Jamestown", float(jx[0]), float(jy[0])))
    scene = Scene(
        name="James Creek river flood (Boulder Creek SRTM tile)",
        crs=dem.crs,
        origin=(float(extent[0]), float(extent[1])),
        extent=extent,
        terrain=t,
        default_manning=p["manning"],
        probes=probes,
        boundaries={"west": [Boundary("discharge", hydrograph(p), span=inflow_span)],
                    "east": [Boundary("transmissive", span=outlet_span)]},
    )
    return FloodRun(scene, duration=p["duration"], output_interval=p["output_interval"], probe_interval=p["probe_interval"],
                    resolution=p["resolution"], order=p["order"])


__all__ = ["PARAMETERS", "hydrograph", "setup"]

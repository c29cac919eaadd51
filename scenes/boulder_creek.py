"""A rain-on-grid flash flood in the Front Range canyons above Boulder, Colorado.

The DEM is ``shared/data/terrain/boulder_creek_srtmgl3.asc``: NASA SRTMGL3
(3″, about 90 m), geographic (EPSG:4326), lon -105.55 to -105.35, lat 40.09 to
40.21, heights in metres above the EGM96 geoid. Named after landlab's Boulder
Creek tutorial, the tile covers the James Creek and Left Hand Creek canyons
around Jamestown, the foothills town the September 2013 flood cut off. It is
resampled bilinearly to UTM zone 13N (EPSG:32613) at ``resolution``, over
``area``: "james_creek" (default), the canyon of James Creek from above
Jamestown to the tile's east edge (lon -105.445 to -105.352, lat 40.090 to
40.140, about 8 x 5.5 km), or "tile", the whole DEM (17 x 13 km).

Rain falls on the whole grid after the 9-15 September 2013 Front Range storm
(Gochis et al. 2015, "The Great Colorado Flood of September 2013", BAMS 96:
1461-1487): its wettest hours, on the night of 11-12 September, brought
several tens of mm per hour to the foothills, and Boulder measured 9.08 in
(230 mm) on 12 September. The default is ``rain`` = 40 mm/h for 3 hours
(120 mm) on soils already saturated by days of rain (``infiltration``
2 mm/h), Manning's n 0.07 for forested mountain slopes: a scenario after the
storm, not a reconstruction of it.

The DEM's pits, artefacts of the radar survey (and of resampling one-cell-wide
channels) that would hold the rain in ponds, are filled first (``fill_sinks``,
priority-flood on the simulated grid). Every edge is open, so the water runs down the real drainage and leaves the
canyons where the creeks cross the edge.

    twin run scenes/boulder_creek.py --out out/boulder --pictures
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from twin.physics.swe.run import FloodRun

from twin.data import data_file
from twin.io.crs import transform
from twin.io.dem import read_dem
from twin.params import Param
from twin.scene import Boundary, Probe, Rain, Scene, TimeSeries

DEFAULT_DATA = data_file("terrain", "boulder_creek_srtmgl3.asc")

JAMESTOWN = (-105.3886, 40.1155)
"""Jamestown, Colorado (lon, lat) [degrees], on James Creek."""

AREAS = {"james_creek": (-105.445, 40.090, -105.352, 40.140), "tile": None}
"""Simulated areas (lon_min, lat_min, lon_max, lat_max) [degrees]; None: the whole DEM."""

PARAMETERS = [
    Param("resolution", 90.0, "m", "grid cell size (the DEM is resampled to it; 90 m is the SRTM grid)", positive=True),
    Param("area", "james_creek", "", "what to simulate", choices=tuple(AREAS)),
    Param("duration", 14400.0, "s", "simulated time", positive=True),
    Param("output_interval", 900.0, "s", "time between snapshots", positive=True),
    Param("probe_interval", 60.0, "s", "time between probe samples", positive=True),
    Param("rain", 40.0, "mm/h", "rain intensity", minimum=0.0),
    Param("rain_duration", 10800.0, "s", "how long it rains", positive=True),
    Param("infiltration", 2.0, "mm/h", "loss rate of the saturated soil", minimum=0.0),
    Param("manning", 0.07, "s m-1/3", "Manning's n of the forested slopes", minimum=0.0),
    Param("fill_sinks", True, "", "fill the DEM's pits (SRTM artefacts) so that the rain runs off"),
    Param("epsg", 32613, "", "scene CRS (default UTM zone 13N)"),
    Param("order", 2, "", "order of accuracy in space and time", choices=(1, 2)),
    Param("data", DEFAULT_DATA, "", "the DEM (geographic ESRI ASCII grid, or any DEM twin reads)"),
]


def setup(p: dict) -> FloodRun:
    data = Path(p["data"])
    geographic_asc = data.suffix.lower() in (".asc", ".zip") and not data.with_suffix(".prj").exists()
    source_crs = "EPSG:4326" if geographic_asc else None  # the sample grid has no .prj; SRTMGL3 is WGS 84
    bounds = None
    if AREAS[p["area"]] is not None:
        lon0, lat0, lon1, lat1 = AREAS[p["area"]]
        x, y = transform("EPSG:4326", f"EPSG:{p['epsg']}", np.array([lon0, lon1, lon1, lon0]), np.array([lat0, lat0, lat1, lat1]))
        bounds = (float(x.min()), float(y.min()), float(x.max()), float(y.max()))
    dem = read_dem(data, crs=p["epsg"], resolution=p["resolution"], source_crs=source_crs, bounds=bounds,
                   sinks=p["fill_sinks"])
    t = dem.terrain
    extent = t.extent
    probes = []
    jx, jy = transform("EPSG:4326", dem.crs, np.array([JAMESTOWN[0]]), np.array([JAMESTOWN[1]]))
    if extent[0] <= jx[0] <= extent[2] and extent[1] <= jy[0] <= extent[3]:
        probes.append(Probe("Jamestown", float(jx[0]), float(jy[0])))
    e = t.elevation
    rim = np.zeros(e.shape, bool)
    rim[[0, -1], :] = rim[:, [0, -1]] = True
    j, i = np.unravel_index(np.argmin(np.where(rim, e, np.inf)), e.shape)
    probes.append(Probe("outlet", float(t.x0 + (i + 0.5) * t.dx), float(t.y0 + (j + 0.5) * t.dy)))
    T = p["rain_duration"]
    scene = Scene(
        name="Front Range flash flood (Boulder Creek SRTM tile)",
        crs=dem.crs,
        origin=(float(extent[0]), float(extent[1])),
        extent=extent,
        terrain=t,
        default_manning=p["manning"],
        rain=Rain(TimeSeries([0.0, T, T + 1e-6], [p["rain"], p["rain"], 0.0]), infiltration=p["infiltration"]),
        probes=probes,
        boundaries={edge: Boundary("transmissive") for edge in ("west", "east", "south", "north")},
    )
    return FloodRun(scene, duration=p["duration"], output_interval=p["output_interval"], probe_interval=p["probe_interval"],
                    resolution=p["resolution"], order=p["order"])


__all__ = ["PARAMETERS", "setup"]

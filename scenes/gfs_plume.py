"""A smoke plume from a stack near Chicago in the winds of the record Midwest cyclone, 26 October 2010.

The weather is the NCEP GFS analysis of 2010-10-26 12 UTC
(``shared/data/weather/GFS_test.nc``, 1° grid, 26 pressure levels): the day
the central pressure fell to about 955 hPa over Minnesota, the lowest ever
measured in the continental US away from the coasts. The file holds ONE
analysis time, so the wind is held steady for the whole run: this shows where
the plume goes in that day's flow, not how the storm itself moved. The file has
no vertical velocity, so w = 0 (particles move vertically only by turbulence),
and no orography, so the ground is flat at sea level.

Winds on the pressure levels are lifted onto fixed heights with each column's
geopotential height and turned to the grid's axes (EPSG:5070, NAD83 / Conus
Albers, metres); see :mod:`twin.physics.dispersion.from_weather`.

    twin run scenes/gfs_plume.py --out out/gfs_plume --pictures
"""

from __future__ import annotations

import numpy as np
from twin.physics.dispersion.run import DispersionRun

from twin.data import data_file
from twin.io.crs import transform
from twin.io.weather import iso_time, read_weather, regrid
from twin.params import Param
from twin.scene import Heightfield, Scene

DEFAULT_DATA = data_file("weather", "GFS_test.nc")
CRS = "EPSG:5070"

PARAMETERS = [
    Param("lon", -87.55, "degrees", "release longitude (default: the south shore of Lake Michigan, Chicago)"),
    Param("lat", 41.70, "degrees", "release latitude"),
    Param("height", 200.0, "m", "release height above the ground (a tall stack)", minimum=0.0),
    Param("mass", 1000.0, "kg", "mass released", positive=True),
    Param("release_hours", 6.0, "h", "the release lasts this long from the start (0: an instantaneous puff)", minimum=0.0),
    Param("hours", 48.0, "h", "simulated time", positive=True),
    Param("output_hours", 3.0, "h", "time between outputs", positive=True),
    Param("dt", 300.0, "s", "time step", positive=True),
    Param("particles", 50000, "", "number of particles", positive=True),
    Param("kh", 5000.0, "m2/s", "horizontal turbulent diffusivity (mesoscale eddies the 1° winds do not resolve)", minimum=0.0),
    Param("kz", 5.0, "m2/s", "vertical turbulent diffusivity", minimum=0.0),
    Param("deposition", 0.005, "m/s", "dry deposition velocity in the lowest 100 m", minimum=0.0),
    Param("cell", 25.0, "km", "horizontal size of an output cell", positive=True),
    Param("node_spacing", 50.0, "km", "spacing of the wind grid's nodes", positive=True),
    Param("top", 10000.0, "m", "top of the domain (particles reflect there)", positive=True),
    Param("seed", 1, "", "random seed of the turbulent walk", minimum=0),
    Param("data", DEFAULT_DATA, "", "the GFS analysis (CF NetCDF or GRIB with winds and geopotential height on pressure levels)"),
]

EXTENT_KM = (-2400.0, -1500.0, 2200.0, 1800.0)
"""The domain around the release [km]: west, south, east, north (inside the GFS grid)."""


def setup(p):
    from twin.physics.dispersion.from_weather import winds_on_heights

    weather = read_weather(p["data"])
    sx, sy = transform("EPSG:4326", CRS, np.array([p["lon"]]), np.array([p["lat"]]))
    origin = (float(sx[0]), float(sy[0]))
    w, s, e, n = (1e3 * v for v in EXTENT_KM)
    step = 1e3 * p["node_spacing"]
    x = origin[0] + np.arange(w, e + step / 2, step)
    y = origin[1] + np.arange(s, n + step / 2, step)
    z = np.arange(0.0, p["top"] + 1.0, 250.0)
    wind_x, wind_y = winds_on_heights(weather, CRS, x, y, z, u="u-component_of_wind_isobaric",
                                      v="v-component_of_wind_isobaric", height="Geopotential_height_isobaric")
    run = DispersionRun(
        scene=None, x=x, y=y, z=z, wind_x=wind_x, wind_y=wind_y,
        source=(origin[0], origin[1], p["height"]), mass=p["mass"], particles=p["particles"],
        release_duration=3600.0 * p["release_hours"], duration=3600.0 * p["hours"], output_interval=3600.0 * p["output_hours"],
        dt=p["dt"], diffusivity=(p["kh"], p["kh"], p["kz"]), deposition_velocity=p["deposition"], surface_layer=100.0,
        cell=(1e3 * p["cell"], 1e3 * p["cell"], 500.0), seed=p["seed"],
        notes=["Winds of the single GFS analysis of 2010-10-26 12 UTC, held steady for the whole run;",
               "no vertical wind in the file (w = 0); flat ground at sea level."],
    )
    grid = run.output_grid()
    cx, cy = grid.centres(0), grid.centres(1)
    background = {}
    fields = {}
    for name, key, long_name in (("Pressure_reduced_to_MSL_msl", "mslp", "pressure reduced to mean sea level (GFS analysis)"),
                                 ("Temperature_height_above_ground", "t2m", "2 m air temperature (GFS analysis)")):
        f = regrid(weather.fields[name], CRS, cx, cy, source=p["data"])
        fields[key] = f
        background[key] = (f.values.reshape(len(cy), len(cx)), f.units, long_name)
    run.background = background
    run.scene = Scene(
        name="Plume in the 26 October 2010 Midwest cyclone",
        crs=CRS, origin=origin, extent=(float(x[0]), float(y[0]), float(x[-1]), float(y[-1])),
        terrain=Heightfield(np.zeros((2, 2)), float(x[0]), float(y[0]), (x[-1] - x[0]) / 2, (y[-1] - y[0]) / 2),
        fields=fields, start_time=iso_time(float(weather.times[0])),  # the Result's time counts from the analysis
    )
    return run

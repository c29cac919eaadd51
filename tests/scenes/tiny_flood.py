"""A tiny flood scene (synthetic valley, 24 x 32 cells of 2 m): no shared data needed."""

import numpy as np
from twin.physics.swe.run import FloodRun

from twin.params import Param
from twin.scene import Boundary, Building, Heightfield, Inflow, Probe, Scene, TimeSeries

PARAMETERS = [
    Param("inflow", 2.0, "m3/s", "peak inflow", positive=True),
    Param("duration", 40.0, "s", "simulated time", positive=True),
    Param("probes", True, "", "with a probe"),
]


def setup(p):
    ny, nx = 24, 32
    x0, y0 = 500_000.0, 6_000_000.0
    yy, xx = np.mgrid[0:ny, 0:nx]
    terrain = Heightfield(10.0 - 0.08 * xx + 0.02 * (yy - ny / 2) ** 2, x0, y0, 2.0, 2.0)
    house = np.array([[x0 + 30, y0 + 10], [x0 + 40, y0 + 10], [x0 + 40, y0 + 18], [x0 + 30, y0 + 18]])
    scene = Scene(
        name="Tiny valley", crs="EPSG:32755", origin=(x0, y0), extent=terrain.extent, terrain=terrain,
        buildings=[Building(house, 4.0, "house")],
        inflows=[Inflow("pipe", (x0 + 6, y0 + 24), 3.0, TimeSeries([0.0, 20.0, 60.0], [0.0, p["inflow"], 0.5]))],
        probes=[Probe("gauge", x0 + 50, y0 + 24)] if p["probes"] else [],
        boundaries={"east": Boundary("transmissive")},
    )
    return FloodRun(scene, duration=p["duration"], output_interval=10.0, resolution=2.0, probe_interval=2.0)

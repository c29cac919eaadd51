"""A tiny dispersion scene: a puff in a uniform shear wind over 20 x 20 km, 2000 particles."""

import numpy as np
from twin.physics.dispersion.run import DispersionRun

from twin.params import Param
from twin.scene import Heightfield, Scene

PARAMETERS = [
    Param("height", 200.0, "m", "release height", positive=True),
    Param("wind", 5.0, "m/s", "eastward wind", minimum=0.0),
    Param("seed", 1, "", "random seed", minimum=0),
]


def setup(p):
    x0, y0 = 400_000.0, 5_000_000.0
    x = x0 + np.arange(0.0, 20_001.0, 2000.0)
    y = y0 + np.arange(0.0, 20_001.0, 2000.0)
    z = np.arange(0.0, 2001.0, 250.0)
    shape = (1, len(z), len(y), len(x))
    wind_x = np.full(shape, p["wind"]) * (0.5 + z[None, :, None, None] / 2000.0)
    wind_y = np.full(shape, 1.0)
    terrain = Heightfield(np.zeros((2, 2)), x0, y0, 10_000.0, 10_000.0)
    scene = Scene(name="Tiny plume", crs="EPSG:32631", origin=(x0 + 4000.0, y0 + 10_000.0),
                  extent=(x[0], y[0], x[-1], y[-1]), terrain=terrain)
    return DispersionRun(scene=scene, x=x, y=y, z=z, wind_x=wind_x, wind_y=wind_y,
                         source=(x0 + 4000.0, y0 + 10_000.0, p["height"]), mass=1.0, particles=2000,
                         duration=1800.0, output_interval=600.0, dt=60.0, diffusivity=(20.0, 20.0, 2.0),
                         deposition_velocity=0.01, cell=(2000.0, 2000.0, 250.0), seed=p["seed"])

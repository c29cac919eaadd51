"""A tiny machine thermal twin: two days of a synthetic temperature log (5 min readings) with a fault."""

import numpy as np
from twin.physics.thermal import ThermalModel
from twin.physics.thermal.run import MachineRun

from twin.params import Param

PARAMETERS = [
    Param("threshold", 4.0, "sigma", "alarm threshold", positive=True),
    Param("fault", 8.0, "degF", "step of the fault at 36 h", minimum=0.0),
]


def setup(p):
    t = np.arange(0.0, 2 * 86400.0, 300.0)
    rng = np.random.default_rng(3)
    y = 80.0 + 5.0 * np.sin(2 * np.pi * t / 86400.0) + rng.normal(0.0, 0.3, t.size) + p["fault"] * (t > 1.5 * 86400)
    model = ThermalModel(tau=3600.0, q_T=1e-4, q_u=1e-4, r=0.09, ambient=60.0)
    return MachineRun("Tiny machine", model, t, y, start="2024-01-01T00:00:00", unit="degF",
                      threshold=p["threshold"], holdoff=3600.0, output_interval=21600.0)

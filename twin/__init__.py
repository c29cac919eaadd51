"""twin: digital twins of real places, from real data to physics and pictures."""

from twin.errors import InputError, SimulationError, TwinError

__version__ = "0.1.0"

__all__ = ["InputError", "SimulationError", "TwinError", "__version__"]

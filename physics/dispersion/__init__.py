"""Lagrangian particle dispersion in Warp: wind-driven advection, turbulent random walk, dry deposition."""

from physics.dispersion.model import Control, Model, Release, State
from physics.dispersion.recorder import DispersionRecorder, OutputGrid
from physics.dispersion.solver import DispersionSolver

__all__ = ["Control", "DispersionRecorder", "DispersionSolver", "Model", "OutputGrid", "Release", "State"]

"""Lagrangian particle dispersion in Warp: wind-driven advection, turbulent random walk, dry deposition."""

from twin.physics.dispersion.model import Control, Model, Release, State
from twin.physics.dispersion.recorder import DispersionRecorder, OutputGrid
from twin.physics.dispersion.solver import DispersionSolver

__all__ = ["Control", "DispersionRecorder", "DispersionSolver", "Model", "OutputGrid", "Release", "State"]

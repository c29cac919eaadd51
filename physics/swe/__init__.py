"""Shallow-water flood solver: Model / State / Control / Solver, Warp kernels."""

from twin.physics.swe.model import GRAVITY, Control, Model, State
from twin.physics.swe.solver import FloodSolver

__all__ = ["GRAVITY", "Control", "FloodSolver", "Model", "State"]

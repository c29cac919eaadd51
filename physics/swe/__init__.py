"""Shallow-water flood solver: Model / State / Control / Solver, Warp kernels."""

from physics.swe.model import GRAVITY, Control, Model, State
from physics.swe.solver import FloodSolver

__all__ = ["GRAVITY", "Control", "FloodSolver", "Model", "State"]

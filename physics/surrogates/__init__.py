"""AI surrogates: learned stand-ins for solvers, trained on ``twin batch`` sweeps and
always measured against the solver they replace."""

from physics.surrogates.pod import FloodSurrogate, train

__all__ = ["FloodSurrogate", "train"]

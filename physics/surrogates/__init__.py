"""AI surrogates: learned stand-ins for a solver (trained on ``twin batch`` sweeps) or a
forecast, always measured against what they replace."""

from twin.physics.surrogates.pod import FloodSurrogate, train

__all__ = ["FloodSurrogate", "train"]

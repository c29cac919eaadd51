"""Learned models that stand in for a solver or a forecast (trained with Warp)."""

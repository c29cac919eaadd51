"""The definition :func:`twin.raster.fill_nodata` keeps, as whole-grid passes (for its test and its benchmark)."""

from __future__ import annotations

import numpy as np


def fill_by_whole_grid_passes(values: np.ndarray) -> np.ndarray:
    """Each pass over the whole grid sets every missing cell with a valid 4-neighbour to their mean
    (south, north, west, east summed in that order), until no cell is missing."""
    a = values.copy()
    while np.isnan(a).any():
        padded = np.pad(a, 1, constant_values=np.nan)
        neigh = np.stack([padded[:-2, 1:-1], padded[2:, 1:-1], padded[1:-1, :-2], padded[1:-1, 2:]])
        n = np.sum(~np.isnan(neigh), axis=0)
        take = np.isnan(a) & (n > 0)
        a[take] = np.nansum(neigh, axis=0)[take] / n[take]
    return a

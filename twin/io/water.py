"""Water bodies that importers read (OSM water areas, CityJSON WaterBody objects) as initial water.

A water body becomes a :class:`twin.scene.InitialWater` over its outline, at

* the level the scene gives, when it gives one;
* else the level its source gives (a CityJSON WaterBody's surface height, see
  :mod:`twin.io.cityjson`);
* else the **lowest shore elevation**: the lowest terrain height on the ring
  :data:`SHORE_OFFSET` terrain cells outside its outline (bilinear samples every
  half cell, only where the ring lies inside the terrain), i.e. the water stands
  as high as the body can hold before it spills over its lowest bank. OSM gives
  no heights, so its water areas take this level unless the scene says otherwise.
"""

from __future__ import annotations

import numpy as np
import shapely

from twin.errors import InputError
from twin.scene import Heightfield, InitialWater

__all__ = ["SHORE_OFFSET", "initial_water", "shore_level"]

SHORE_OFFSET = 1.5
"""Distance of the shore ring outside a water body's outline, in terrain cells: far enough
that the bilinear samples take no cell whose centre lies in the water."""


def shore_level(polygon: np.ndarray, terrain: Heightfield) -> float:
    """Lowest terrain elevation [m] on the shore of ``polygon`` (n, 2) [m] (see the module)."""
    cell = max(terrain.dx, terrain.dy)
    ring = shapely.Polygon(polygon).buffer(SHORE_OFFSET * cell).exterior
    ring = shapely.segmentize(ring, 0.5 * min(terrain.dx, terrain.dy))
    xy = shapely.get_coordinates(ring)
    xmin, ymin, xmax, ymax = terrain.extent
    inside = (xy[:, 0] >= xmin) & (xy[:, 0] <= xmax) & (xy[:, 1] >= ymin) & (xy[:, 1] <= ymax)
    z = terrain.sample(xy[inside, 0], xy[inside, 1])
    z = z[np.isfinite(z)]
    if z.size == 0:
        raise InputError("water body", f"polygon {shapely.Polygon(polygon).bounds}", "its shore lies outside the terrain; give its level")
    return float(z.min())


def initial_water(polygons: list[np.ndarray], terrain: Heightfield | None = None, *, level: float | None = None,
                  levels: list[float] | None = None, extent: tuple[float, float, float, float] | None = None) -> list[InitialWater]:
    """Initial water over water-body outlines (n, 2) [m]: at ``level`` [m] when given, else
    at each body's ``levels`` entry (the source's), else at its lowest shore elevation on
    ``terrain``. With ``extent`` (xmin, ymin, xmax, ymax), bodies outside it are left out."""
    box = None if extent is None else shapely.box(*extent)
    out = []
    for k, polygon in enumerate(polygons):
        if box is not None and shapely.Polygon(polygon).intersection(box).area == 0:
            continue
        if level is not None:
            stage = level
        elif levels is not None:
            stage = levels[k]
        elif terrain is not None:
            stage = shore_level(polygon, terrain)
        else:
            raise InputError("water body", f"polygon {k}", "needs a level or a terrain to find its shore level")
        out.append(InitialWater(stage, polygon))
    return out

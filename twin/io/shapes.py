"""Small shapely helpers shared by the vector importers."""

from __future__ import annotations

import shapely


def polygon_parts(geom) -> list[shapely.Polygon]:
    """The polygons of any geometry, largest first; lines and points dropped."""
    if geom.is_empty:
        return []
    if geom.geom_type == "Polygon":
        return [geom]
    parts = [p for g in getattr(geom, "geoms", []) for p in polygon_parts(g)]
    return sorted(parts, key=lambda p: -p.area)

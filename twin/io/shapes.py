"""Small shapely helpers shared by the vector importers: polygon pieces, clean building footprints."""

from __future__ import annotations

import numpy as np
import shapely


def polygon_parts(geom) -> list[shapely.Polygon]:
    """The polygons of any geometry, largest first; lines and points dropped."""
    if geom.is_empty:
        return []
    if geom.geom_type == "Polygon":
        return [geom]
    parts = [p for g in getattr(geom, "geoms", []) for p in polygon_parts(g)]
    return sorted(parts, key=lambda p: -p.area)


def clean_footprint(shell: np.ndarray, holes: list[np.ndarray] | None = None, *,
                    tolerance: float = 1e-6) -> list[tuple[np.ndarray, list[np.ndarray]]]:
    """A building footprint as valid polygons: repeated points (closer than ``tolerance`` [m])
    and collinear points dropped, self-intersections resolved with ``make_valid``.

    Args:
        shell: outer ring (n, 2) [m], closed or not; holes: inner rings (k, 2).

    Returns:
        (shell (n, 2), holes) of each polygon piece with area, largest first, rings
        left open; an empty list when nothing with area is left (or a coordinate is
        not finite).
    """
    shell = np.asarray(shell, dtype=np.float64)
    if len(shell) < 3 or not np.isfinite(shell).all():
        return []
    inner = [h for h in (np.asarray(h, dtype=np.float64) for h in holes or []) if len(h) >= 3 and np.isfinite(h).all()]
    poly = shapely.remove_repeated_points(shapely.Polygon(shell, inner or None), tolerance)
    out = []
    for p in polygon_parts(shapely.make_valid(poly)):
        ext = _drop_collinear(np.asarray(p.exterior.coords)[:-1])
        if p.area > 0 and len(ext) >= 3:
            out.append((ext, [h for h in (_drop_collinear(np.asarray(i.coords)[:-1]) for i in p.interiors) if len(h) >= 3]))
    return out


def _drop_collinear(ring: np.ndarray) -> np.ndarray:
    """An open ring (n, 2) without the vertices that lie on the line through their neighbours."""
    if len(ring) < 3:
        return ring
    a, b = ring - np.roll(ring, 1, axis=0), np.roll(ring, -1, axis=0) - ring
    cross = a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]
    scale = np.abs(a).max(axis=1) * np.abs(b).max(axis=1)
    return ring[np.abs(cross) > 1e-12 * scale]

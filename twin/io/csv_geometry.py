"""Polygons and named points from small CSV files.

A polygon file holds one ``x,y`` vertex per line, with an optional header of
column names; a points file holds ``name,x,y`` rows under a ``name,x,y``
header (or ``x,y`` rows, named P1, P2, ...). Blank lines are ignored;
coordinates are in the scene CRS [m].
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import shapely

from twin.errors import InputError
from twin.io.text import read_text

__all__ = ["read_points", "read_polygon"]


def _rows(path: str | Path) -> list[tuple[int, list[str]]]:
    """(line number, comma-separated fields, stripped) of each non-blank line."""
    path = Path(path)
    text = read_text(path, encoding="utf-8-sig")
    rows = [(n, [f.strip() for f in line.split(",")]) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]
    if not rows:
        raise InputError(path, "", "empty file")
    return rows


def _number(text: str) -> float | None:
    """The finite float in ``text``, or None."""
    try:
        v = float(text)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def _is_header(fields: list[str]) -> bool:
    return all(_number(f) is None for f in fields)


def _xy(path: str | Path, lineno: int, fields: list[str]) -> tuple[float, float]:
    x, y = (_number(f) for f in fields) if len(fields) == 2 else (None, None)
    if x is None or y is None:
        raise InputError(path, f"line {lineno}", f"expected 2 numbers, found {','.join(fields)!r}")
    return x, y


def read_polygon(path: str | Path) -> np.ndarray:
    """Read a simple polygon, one ``x,y`` vertex per line.

    Returns:
        The vertices [m], shape (n, 2) float64, n >= 3, the ring left open (a
        last vertex that repeats the first is dropped).

    Raises:
        InputError: a line that is not two numbers, fewer than 3 distinct
            vertices or zero area (the polygon does not close a region), or
            edges that cross.
    """
    rows = _rows(path)
    if _is_header(rows[0][1]):
        rows = rows[1:]
    lines = [n for n, _ in rows]
    pts = np.array([_xy(path, n, fields) for n, fields in rows], dtype=np.float64).reshape(-1, 2)
    if len(pts) > 1 and np.array_equal(pts[0], pts[-1]):
        pts, lines = pts[:-1], lines[:-1]
    span = f"lines {lines[0]}-{lines[-1]}" if lines else "data"
    distinct = len(np.unique(pts, axis=0))
    if distinct < 3:
        raise InputError(path, span, f"the polygon does not close: {distinct} distinct vertices, at least 3 needed")
    if shapely.MultiPoint(pts).convex_hull.area == 0.0:
        raise InputError(path, span, "the polygon does not close a region: its vertices lie on a line (zero area)")
    poly = shapely.Polygon(pts)
    if not poly.is_valid:
        raise _invalid(path, pts, lines, shapely.is_valid_reason(poly))
    return pts


def _invalid(path: str | Path, pts: np.ndarray, lines: list[int], reason: str) -> InputError:
    """The error for an invalid polygon, naming the lines of the edges at fault."""
    m = re.search(r"\[(\S+) (\S+)\]", reason)
    if m is None:
        return InputError(path, f"lines {lines[0]}-{lines[-1]}", f"not a valid polygon: {reason}")
    at = shapely.Point(float(m[1]), float(m[2]))
    edges = shapely.linestrings(np.stack([pts, np.roll(pts, -1, axis=0)], axis=1))
    d = shapely.distance(edges, at)
    near = np.flatnonzero(d <= 1e-9 * max(1.0, float(np.abs(pts).max())))
    if len(near) == 0:
        near = np.argsort(d)[:2]
    names = " and ".join(f"{lines[i]}-{lines[(i + 1) % len(lines)]}" for i in near[:2])
    what = reason.split("[")[0].strip().lower()
    return InputError(path, f"line {lines[near[0]]}", f"the polygon is not simple ({what} at ({at.x:.10g}, {at.y:.10g}), edges between lines {names})")


def read_points(path: str | Path) -> list[tuple[str, float, float]]:
    """Read named points: ``name,x,y`` rows under a ``name,x,y`` header, or ``x,y`` rows.

    Returns:
        (name, x [m], y [m]) per point, in file order; unnamed points are named
        P1, P2, ... in order.
    """
    rows = _rows(path)
    first_line, first = rows[0]
    named = False
    if _is_header(first):
        header = [f.lower() for f in first]
        if header not in (["name", "x", "y"], ["x", "y"]):
            raise InputError(path, f"line {first_line}", f"expected a header 'name,x,y' or 'x,y', found {','.join(first)!r}")
        named = header[0] == "name"
        rows = rows[1:]
    if not rows:
        raise InputError(path, "", "no points")
    points: list[tuple[str, float, float]] = []
    seen: dict[str, int] = {}
    for k, (lineno, fields) in enumerate(rows, start=1):
        if named:
            if len(fields) != 3 or not fields[0]:
                raise InputError(path, f"line {lineno}", f"expected a name and 2 numbers, found {','.join(fields)!r}")
            name, xy = fields[0], fields[1:]
        else:
            name, xy = f"P{k}", fields
        if name in seen:
            raise InputError(path, f"line {lineno}", f"duplicate name {name!r} (first on line {seen[name]})")
        seen[name] = lineno
        points.append((name, *_xy(path, lineno, xy)))
    return points

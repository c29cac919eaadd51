"""CityJSON 1.0, 1.1 and 2.0 (``.json``, ``.city.json``) and CityJSONSeq (``.jsonl``) into Scene parts.

The ``transform`` (scale, translate) is applied to the vertices and
``metadata.referenceSystem`` gives the CRS (the horizontal part of a compound
CRS: EPSG:7415 "Amersfoort / RD New + NAP height" gives EPSG:28992, heights
stay in NAP metres). Each city object's geometry of the highest level of
detail (or of the one asked for) is read:

* **Building** (with its **BuildingPart**\\ s merged in, found through
  ``parents``/``children``): a :class:`~twin.scene.Building` whose footprint is
  the outline of its ground surfaces (else of its roofs), whose ``base`` is its
  lowest vertex and ``height`` its top above that, and whose ``mesh`` holds its
  surfaces triangulated and labelled ground / wall / roof (semantic surfaces
  when the file has them, else by orientation: faces within 72.5° of vertical
  are walls, non-vertical faces at the base are ground, the others roofs);
* **Road**, **Railway**, **TransportSquare**, **LandUse**, **PlantCover**,
  **WaterBody**, **Waterway**: land-cover polygons (the outline of their
  surfaces) with Manning's n from :data:`MANNING`;
* each **WaterBody** also as initial water (``CityData.water``): its outline
  filled to its level, the top of its surfaces (LoD1 water such as the Dutch
  BGT's is a flat surface at the water level; a solid's top is its surface);
* the **ground surfaces** of all these (and of **TINRelief**) rasterised into a
  terrain when asked (``terrain_resolution``): each cell takes the lowest
  surface over its centre; cells inside a building without a ground surface
  take the building's base; cells under no surface are filled from their
  neighbours and counted. LoD1 models often lift vegetation to its canopy
  (3dfier does), so PlantCover heights are capped at their object's 10th
  percentile plus :data:`VEGETATION_RELIEF`.

Other objects (bridges, walls, furniture, installations, extensions) are
counted and left out.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import shapely

from twin.errors import InputError
from twin.io.checks import finite
from twin.io.crs import crs_from_reference_system, horizontal_crs, is_geographic, metric_crs, to_crs, transform
from twin.io.shapes import clean_footprint, polygon_parts
from twin.io.text import read_text
from twin.raster import progress_bar
from twin.scene import Building, FrictionZone, Heightfield, InitialWater, SurfaceMesh

__all__ = ["MANNING", "VEGETATION_RELIEF", "CityData", "ground_terrain", "rasterise_triangles", "read_cityjson"]

VERSIONS = re.compile(r"^(1\.0|1\.1|2\.0)(\.\d+)?$")

MANNING = {
    "Road": 0.016, "Railway": 0.04, "TransportSquare": 0.016, "LandUse": 0.035,
    "PlantCover": 0.045, "WaterBody": 0.025, "Waterway": 0.025,
}
"""Manning's n [s m^-1/3] of land-cover city objects: paving 0.016, ballast 0.04,
bare or mixed land 0.035, vegetation 0.045, open water 0.025 (Chow 1959)."""

GROUND_TYPES = frozenset({"TINRelief", *MANNING})
"""City object types whose surfaces are ground, for the terrain."""

BUILDING_TYPES = frozenset({"Building", "BuildingPart"})

VEGETATION_RELIEF = 1.0
"""Metres that a PlantCover surface may rise above its object's 10th-percentile height in the terrain."""

_SEMANTIC = {"GroundSurface": SurfaceMesh.GROUND, "WallSurface": SurfaceMesh.WALL, "RoofSurface": SurfaceMesh.ROOF}
_DEPTH = {"MultiSurface": 1, "CompositeSurface": 1, "Solid": 2, "MultiSolid": 3, "CompositeSolid": 3}
_WALL_NZ = 0.3  # |n_z| below this: a wall (tilted more than 72.5 degrees)


@dataclass
class CityData:
    """Scene parts read from a CityJSON file, in one metric CRS.

    Attributes:
        crs: "EPSG:<code>" of every coordinate below (projected, metres).
        source_crs: the file's CRS as it names it (e.g. "EPSG:7415").
        version: the file's CityJSON version ("2.0").
        extent: (xmin, ymin, xmax, ymax) [m] of the vertices used.
        z_range: (zmin, zmax) [m] of the vertices used.
        buildings: one per Building (parts merged; "id/2", ... for further
            pieces of a footprint in several pieces), with ``base``, ``mesh``.
        areas: land-cover polygons with Manning's n, largest first.
        ground: the ground triangles [m], shape (m, 3, 3) (x, y, z of each
            corner), vegetation capped; :func:`ground_terrain` rasterises them.
        terrain: the ground rasterised over ``extent`` (row 0 south), or None.
        counts: "city_objects", "buildings", "building_parts", "roads",
            "land_use_areas" (LandUse, PlantCover, WaterBody, Waterway),
            "water", "vegetation", "other_objects", "vertices", "geometries",
            "templates_skipped", "triangles", "orphan_parts", "type:<CityObject
            type>" for every type, and "terrain_cells_filled" with a terrain.
        water: each WaterBody's outline at its level (see the module), largest first.
    """

    crs: str
    source_crs: str
    version: str
    extent: tuple[float, float, float, float]
    z_range: tuple[float, float]
    buildings: list[Building]
    areas: list[FrictionZone]
    ground: np.ndarray
    terrain: Heightfield | None
    counts: dict[str, int]
    water: list[InitialWater] = field(default_factory=list)


# --- reading the JSON ----------------------------------------------------------------------------


def _load_json(path: Path, text: str, label: str, line_offset: int = 0) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        hint = "; the file looks truncated" if e.pos >= len(text.rstrip()) - 1 else ""
        raise InputError(path, f"line {e.lineno + line_offset}, column {e.colno}", f"not valid JSON ({e.msg}){hint}") from None
    except RecursionError:
        raise InputError(path, label, "JSON nested too deeply") from None


def _check_header(path: Path, doc: Any, where: str) -> tuple[str, np.ndarray, np.ndarray]:
    """(version, scale, translate) of a CityJSON document."""
    if not isinstance(doc, dict) or doc.get("type") != "CityJSON":
        raise InputError(path, where, "not a CityJSON document (no \"type\": \"CityJSON\")")
    version = str(doc.get("version", ""))
    if not VERSIONS.match(version):
        raise InputError(path, f"{where}version" if where else "version",
                         f"unknown CityJSON version {doc.get('version')!r}; twin reads 1.0, 1.1 and 2.0")
    t = doc.get("transform")
    if t is None:
        if version.startswith(("1.1", "2.0")):
            raise InputError(path, "transform", f"CityJSON {version} requires a transform")
        return version, np.ones(3), np.zeros(3)
    try:
        scale = np.asarray(t["scale"], dtype=np.float64).reshape(3)
        translate = np.asarray(t["translate"], dtype=np.float64).reshape(3)
    except (KeyError, TypeError, ValueError):
        raise InputError(path, "transform", "expected {\"scale\": [sx, sy, sz], \"translate\": [tx, ty, tz]}") from None
    finite(path, "transform.translate", translate, "the translation")
    if not np.all(finite(path, "transform.scale", scale, "the scale") != 0):
        raise InputError(path, "transform.scale", f"the scale must not be zero, found {scale.tolist()}")
    return version, scale, translate


def _vertices(path: Path, raw: Any, scale: np.ndarray, translate: np.ndarray, where: str) -> np.ndarray:
    if not isinstance(raw, list):
        raise InputError(path, where, "\"vertices\" must be a list of [x, y, z]")
    try:
        v = np.asarray(raw, dtype=np.float64).reshape(-1, 3) if raw else np.zeros((0, 3))
        if v.shape[0] != len(raw):
            raise ValueError
    except (TypeError, ValueError):
        bad = next((k for k, p in enumerate(raw) if not (isinstance(p, list) and len(p) == 3
                                                        and all(isinstance(c, (int, float)) for c in p))), None)
        raise InputError(path, f"{where}[{bad}]", f"not a vertex [x, y, z]: {raw[bad]!r}"[:200]) from None
    v = finite(path, where, v * scale + translate, "vertex coordinates")
    return v


def _documents(path: Path) -> Iterator[tuple[str, dict, np.ndarray, str]]:
    """(version or "", CityObjects, vertices [file units], place label) of the file's document(s)."""
    text = read_text(path, encoding="utf-8-sig")
    if path.name.lower().endswith(".jsonl"):
        yield from _sequence(path, text)
        return
    doc = _load_json(path, text, "")
    version, scale, translate = _check_header(path, doc, "")
    objects = doc.get("CityObjects")
    if not isinstance(objects, dict):
        raise InputError(path, "CityObjects", "missing or not an object")
    yield version, doc, _vertices(path, doc.get("vertices"), scale, translate, "vertices"), ""


def _sequence(path: Path, text: str) -> Iterator[tuple[str, dict, np.ndarray, str]]:
    """CityJSONSeq: a CityJSON header line, then one CityJSONFeature per line."""
    lines = text.splitlines()
    first = next((k for k, line in enumerate(lines) if line.strip()), None)
    if first is None:
        raise InputError(path, "", "empty file")
    header = _load_json(path, lines[first], f"line {first + 1}", first)
    version, scale, translate = _check_header(path, header, f"line {first + 1}: ")
    yield version, header, np.zeros((0, 3)), f"line {first + 1}"
    for k in range(first + 1, len(lines)):
        if not lines[k].strip():
            continue
        feature = _load_json(path, lines[k], f"line {k + 1}", k)
        if not isinstance(feature, dict) or feature.get("type") != "CityJSONFeature" or not isinstance(feature.get("CityObjects"), dict):
            raise InputError(path, f"line {k + 1}", "not a CityJSONFeature")
        yield "", feature, _vertices(path, feature.get("vertices"), scale, translate, f"line {k + 1}: vertices"), f"line {k + 1}"


# --- geometry -----------------------------------------------------------------------------------


def _lod(geom: dict) -> float:
    try:
        return float(geom.get("lod", 0))
    except (TypeError, ValueError):
        return 0.0


def _pick_geometry(geoms: list, lod: float | None) -> tuple[int, dict] | None:
    """(index, geometry) of the highest LoD (at most ``lod`` when given) among surfaces and solids."""
    usable = [(k, g) for k, g in enumerate(geoms) if isinstance(g, dict) and g.get("type") in _DEPTH]
    if lod is not None:
        usable = [(k, g) for k, g in usable if _lod(g) <= lod + 1e-9]
    if not usable:
        return None
    return max(usable, key=lambda kg: _lod(kg[1]))


def _faces(path: Path, where: str, geom: dict, nv: int) -> list[tuple[list[list[int]], str | None]]:
    """The geometry's surfaces as (rings of vertex indices, semantic type or None); indices checked."""
    depth = _DEPTH[geom["type"]]
    sem = geom.get("semantics") or {}
    kinds = [s.get("type") if isinstance(s, dict) else None for s in sem.get("surfaces", [])]
    out: list[tuple[list[list[int]], str | None]] = []

    def walk(node, values, level):
        if not isinstance(node, list):
            raise InputError(path, where, f"malformed {geom['type']} boundaries")
        for k, child in enumerate(node):
            v = values[k] if isinstance(values, list) and k < len(values) else None
            if level > 1:
                walk(child, v, level - 1)
            elif isinstance(child, list) and child and all(isinstance(r, list) for r in child):
                out.append((child, kinds[v] if isinstance(v, int) and 0 <= v < len(kinds) else None))
            else:
                raise InputError(path, where, f"malformed {geom['type']} boundaries (a surface is not a list of rings)")

    walk(geom.get("boundaries"), sem.get("values"), depth)
    indices = [i for rings, _ in out for r in rings for i in r]
    bad = [i for i in indices if type(i) is not int][:1]  # bool and float are not indices, 1.0 neither
    if bad:
        raise InputError(path, where, f"a vertex index must be a whole number, found {bad[0]!r}")
    try:
        flat = np.array(indices, dtype=np.int64)
    except OverflowError:
        raise InputError(path, where, "a vertex index is out of range") from None
    if flat.size and (flat.min() < 0 or flat.max() >= nv):
        bad = int(flat[(flat < 0) | (flat >= nv)][0])
        raise InputError(path, where, f"vertex index {bad} is out of range (the file has {nv} vertices)")
    return out


def _newell(p: np.ndarray) -> np.ndarray:
    """Normal of a polygon (k, 3) by Newell's method (length = twice the area)."""
    q = np.roll(p, -1, axis=0)
    return np.array([np.sum((p[:, 1] - q[:, 1]) * (p[:, 2] + q[:, 2])),
                     np.sum((p[:, 2] - q[:, 2]) * (p[:, 0] + q[:, 0])),
                     np.sum((p[:, 0] - q[:, 0]) * (p[:, 1] + q[:, 1]))])


def _triangulate(rings: list[np.ndarray], V: np.ndarray) -> tuple[list[tuple[int, int, int]], np.ndarray]:
    """Triangles (vertex indices, same winding as the face) of a planar face with holes, and its normal."""
    ext = rings[0]
    if len(ext) > 1 and ext[0] == ext[-1]:
        ext = ext[:-1]
    normal = _newell(V[ext]) if len(ext) >= 3 else np.zeros(3)
    if len(ext) < 3 or not np.any(normal):
        return [], normal
    if len(rings) == 1 and len(ext) == 3:
        return [(int(ext[0]), int(ext[1]), int(ext[2]))], normal
    axis = int(np.argmax(np.abs(normal)))
    keep = [a for a in range(3) if a != axis]
    if normal[axis] < 0:
        keep = keep[::-1]
    to2d = lambda r: V[r][:, keep]  # noqa: E731
    lookup = {}
    for r in rings:
        for idx, xy in zip(r, to2d(r)):
            lookup.setdefault((float(xy[0]), float(xy[1])), int(idx))
    poly = shapely.Polygon(to2d(ext), [to2d(r) for r in rings[1:] if len(r) >= 3])
    if not poly.is_valid:
        poly = shapely.make_valid(poly)
    tris = []
    for t in getattr(shapely.constrained_delaunay_triangles(poly), "geoms", []):
        c = np.asarray(t.exterior.coords)[:3]
        idx = [lookup.get((float(x), float(y))) for x, y in c]
        if None in idx:
            continue
        a = (c[1, 0] - c[0, 0]) * (c[2, 1] - c[0, 1]) - (c[1, 1] - c[0, 1]) * (c[2, 0] - c[0, 0])
        tris.append((idx[0], idx[1], idx[2]) if a > 0 else (idx[0], idx[2], idx[1]))
    return tris, normal


def _mesh_faces(faces, V: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Triangles (m, 3) [global indices], their semantic label (m,) (-1 unknown) and unit normals (m, 3)."""
    simple = [k for k, (rings, _) in enumerate(faces) if len(rings) == 1 and len(rings[0]) == 3]
    t = np.array([faces[k][0][0] for k in simple], np.int64).reshape(-1, 3)
    n = np.cross(V[t[:, 1]] - V[t[:, 0]], V[t[:, 2]] - V[t[:, 0]])
    good = np.linalg.norm(n, axis=1) > 0
    tris, normals = [t[good]], [n[good]]
    labels = [np.array([_label(faces[k][1]) for k in simple], np.int8)[good]]
    rest = set(range(len(faces))) - set(simple)
    for k in sorted(rest):
        rings, kind = faces[k]
        tk, nk = _triangulate([np.asarray(r, np.int64) for r in rings], V)
        if tk:
            tris.append(np.array(tk, np.int64))
            normals.append(np.repeat(nk[None], len(tk), axis=0))
            labels.append(np.full(len(tk), _label(kind), np.int8))
    normals = np.concatenate(normals)
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    return np.concatenate(tris), np.concatenate(labels), normals


def _label(kind: str | None) -> int:
    """The SurfaceMesh label of a semantic surface type; -1 without semantics."""
    return _SEMANTIC.get(kind, SurfaceMesh.OTHER) if kind else -1


def _outline(tris: np.ndarray, V: np.ndarray) -> list[shapely.Polygon]:
    """The 2-D outline of triangles (their union), largest polygon first.

    Triangles that share vertex indices (a triangulated surface) are outlined
    from the edges used once; otherwise, or when that does not give the area
    of the triangles, they are unioned.
    """
    if len(tris) == 0:
        return []
    xy = V[:, :2]
    p = xy[tris]
    area2 = np.abs((p[:, 1, 0] - p[:, 0, 0]) * (p[:, 2, 1] - p[:, 0, 1]) - (p[:, 1, 1] - p[:, 0, 1]) * (p[:, 2, 0] - p[:, 0, 0]))
    tris = tris[area2 > 1e-12]
    if len(tris) == 0:
        return []
    total = 0.5 * float(area2.sum())
    e = np.sort(np.concatenate([tris[:, [0, 1]], tris[:, [1, 2]], tris[:, [2, 0]]]), axis=1)
    edges, uses = np.unique(e, axis=0, return_counts=True)
    geom = shapely.build_area(shapely.multilinestrings(xy[edges[uses == 1]]))
    if abs(geom.area - total) > 1e-3 * max(total, 1.0):
        geom = shapely.union_all(shapely.polygons(p[area2 > 1e-12]))
    return polygon_parts(geom)


def _rings(poly: shapely.Polygon, min_hole: float = 0.5) -> tuple[np.ndarray, list[np.ndarray]]:
    """(exterior (n, 2), holes) of a polygon, rings left open; holes below ``min_hole`` [m^2] dropped."""
    ext = np.asarray(poly.exterior.coords)[:-1]
    holes = [np.asarray(i.coords)[:-1] for i in poly.interiors if shapely.Polygon(i).area >= min_hole]
    return ext, holes


def rasterise_triangles(tri: np.ndarray, x0: float, y0: float, dx: float, dy: float, shape: tuple[int, int],
                        *, chunk: int = 2_000_000) -> np.ndarray:
    """The lowest triangle over each cell centre: heights [m], shape (ny, nx), NaN under no triangle.

    Args:
        tri: triangles [m], shape (m, 3, 3) (x, y, z of each corner).
        x0, y0, dx, dy: grid corner and cell size [m]; shape: (ny, nx).
    """
    ny, nx = shape
    out = np.full(ny * nx, np.inf)
    if len(tri) == 0:
        return np.full(shape, np.nan)
    fx = (tri[:, :, 0] - x0) / dx - 0.5
    fy = (tri[:, :, 1] - y0) / dy - 0.5
    i0 = np.clip(np.ceil(fx.min(axis=1)), 0, nx).astype(np.int64)
    i1 = np.clip(np.floor(fx.max(axis=1)), -1, nx - 1).astype(np.int64)
    j0 = np.clip(np.ceil(fy.min(axis=1)), 0, ny).astype(np.int64)
    j1 = np.clip(np.floor(fy.max(axis=1)), -1, ny - 1).astype(np.int64)
    ni = np.maximum(i1 - i0 + 1, 0)
    nj = np.maximum(j1 - j0 + 1, 0)
    cells = ni * nj
    order = np.flatnonzero(cells)
    bar = progress_bar(int(cells.sum()), "ground terrain", cells=nx * ny)
    start = 0
    while start < len(order):
        stop = start + max(1, int(np.searchsorted(np.cumsum(cells[order[start:]]), chunk)))
        t = order[start:stop]
        start = stop
        n = cells[t]
        if bar is not None:
            bar.update(int(n.sum()))
        k = np.repeat(t, n)
        local = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
        ii = i0[k] + local % ni[k]
        jj = j0[k] + local // ni[k]
        px, py = ii + 0.5, jj + 0.5
        ax, ay = fx[k, 0] + 0.5, fy[k, 0] + 0.5
        bx, by = fx[k, 1] + 0.5, fy[k, 1] + 0.5
        cx, cy = fx[k, 2] + 0.5, fy[k, 2] + 0.5
        det = (by - cy) * (ax - cx) + (cx - bx) * (ay - cy)
        ok = np.abs(det) > 1e-12
        det = np.where(ok, det, 1.0)
        w0 = ((by - cy) * (px - cx) + (cx - bx) * (py - cy)) / det
        w1 = ((cy - ay) * (px - cx) + (ax - cx) * (py - cy)) / det
        w2 = 1.0 - w0 - w1
        eps = -1e-9
        inside = ok & (w0 >= eps) & (w1 >= eps) & (w2 >= eps)
        z = w0 * tri[k, 0, 2] + w1 * tri[k, 1, 2] + w2 * tri[k, 2, 2]
        np.minimum.at(out, (jj * nx + ii)[inside], z[inside])
    if bar is not None:
        bar.close()
    out[np.isinf(out)] = np.nan
    return out.reshape(shape)


# --- the importer -------------------------------------------------------------------------------


@dataclass
class _Object:
    oid: str
    kind: str
    parents: list[str]
    V: np.ndarray  # the vertices its indices refer to (file units, before reprojection)
    tris: np.ndarray  # (m, 3) indices into V
    labels: np.ndarray  # (m,) semantic label or -1
    normals: np.ndarray  # (m, 3)


def read_cityjson(
    path: str | Path,
    *,
    crs: str | int | None = None,
    source_crs: str | int | None = None,
    lod: float | None = None,
    terrain_resolution: float | None = None,
) -> CityData:
    """Read buildings, land cover and (optionally) a terrain from a CityJSON file.

    Args:
        path: CityJSON 1.0/1.1/2.0 (``.json``, ``.city.json``) or CityJSONSeq (``.jsonl``).
        crs: the scene CRS (EPSG code or "EPSG:n", projected, metres); default:
            the horizontal part of the file's CRS when it is metric, else the
            UTM zone of the centre.
        source_crs: the file's CRS when ``metadata.referenceSystem`` is missing
            (or to override it).
        lod: read the highest level of detail up to this one (default: the highest).
        terrain_resolution: cell size [m] of a terrain rasterised from the
            ground surfaces over the whole extent; None: none (see
            :func:`ground_terrain` for another extent).

    Raises:
        InputError: invalid JSON (line, column), an unknown version, a vertex
            index out of range (the city object's id), a missing CRS.
    """
    path = Path(path)
    version, meta = "", {}
    objects: list[_Object] = []
    counts: dict[str, int] = dict.fromkeys(("city_objects", "geometries", "templates_skipped", "vertices"), 0)
    for doc_version, doc, V, place in _documents(path):
        if doc_version:
            version, meta = doc_version, doc.get("metadata") or {}
        counts["vertices"] += len(V)
        for oid, obj in doc["CityObjects"].items():
            where = f"{place}: CityObject {oid!r}" if place else f"CityObject {oid!r}"
            if not isinstance(obj, dict) or not isinstance(obj.get("type"), str):
                raise InputError(path, where, "not a city object (no \"type\")")
            kind = obj["type"]
            counts["city_objects"] += 1
            counts[f"type:{kind}"] = counts.get(f"type:{kind}", 0) + 1
            geoms = obj.get("geometry") or []
            counts["templates_skipped"] += sum(1 for g in geoms if isinstance(g, dict) and g.get("type") == "GeometryInstance")
            if kind not in BUILDING_TYPES and kind not in GROUND_TYPES:
                continue
            picked = _pick_geometry(geoms, lod)
            parents = obj.get("parents") or []
            if picked is None:
                tris, labels, normals = np.zeros((0, 3), np.int64), np.zeros(0, np.int8), np.zeros((0, 3))
            else:
                k, geom = picked
                counts["geometries"] += 1
                faces = _faces(path, f"{where}, geometry {k}", geom, len(V))
                tris, labels, normals = _mesh_faces(faces, V)
            objects.append(_Object(oid, kind, [str(p) for p in parents], V, tris, labels, normals))
    src = _source_crs(path, meta, source_crs)
    return _assemble(path, version, src, crs, objects, counts, terrain_resolution)


def _source_crs(path: Path, meta: dict, source_crs: str | int | None) -> str:
    if source_crs is not None:
        return to_crs(source_crs, "source_crs")
    ref = meta.get("referenceSystem") if isinstance(meta, dict) else None
    if ref is None:
        raise InputError(path, "metadata.referenceSystem", "the file does not say its CRS; pass source_crs=")
    return crs_from_reference_system(ref, f"{path}: metadata.referenceSystem")


def _assemble(path: Path, version: str, src: str, crs, objects: list[_Object], counts: dict[str, int],
              terrain_resolution: float | None) -> CityData:
    horizontal = horizontal_crs(src)
    used = [o for o in objects if len(o.tris)]
    if not used:
        raise InputError(path, "CityObjects", "no building or land-cover surface to read")
    lo = np.min([o.V[np.unique(o.tris)].min(axis=0) for o in used], axis=0)
    hi = np.max([o.V[np.unique(o.tris)].max(axis=0) for o in used], axis=0)
    centre = transform(horizontal, "EPSG:4326", np.array([0.5 * (lo[0] + hi[0])]), np.array([0.5 * (lo[1] + hi[1])]))
    if crs is None and not is_geographic(horizontal):
        dst = metric_crs(horizontal, float(centre[0][0]), float(centre[1][0]), f"{path}: metadata.referenceSystem")
    else:
        dst = metric_crs(crs, float(centre[0][0]), float(centre[1][0]), "crs")
    projected: dict[int, np.ndarray] = {}
    for o in objects:  # reproject each vertex array once
        if id(o.V) not in projected:
            x, y = transform(horizontal, dst, o.V[:, 0], o.V[:, 1])
            projected[id(o.V)] = np.column_stack([x, y, o.V[:, 2]])
        o.V = projected[id(o.V)]
    buildings = _buildings(objects, counts)
    areas = _areas(objects, counts)
    allv = np.concatenate([o.V[np.unique(o.tris)] for o in objects if len(o.tris)])
    extent = (float(allv[:, 0].min()), float(allv[:, 1].min()), float(allv[:, 0].max()), float(allv[:, 1].max()))
    counts["triangles"] = int(sum(len(o.tris) for o in objects))
    city = CityData(dst, src, version, extent, (float(allv[:, 2].min()), float(allv[:, 2].max())), buildings, areas,
                    _ground(objects, buildings), None, counts, _water(objects))
    if terrain_resolution is not None:
        city.terrain, counts["terrain_cells_filled"] = ground_terrain(city, extent, terrain_resolution)
    return city


def _buildings(objects: list[_Object], counts: dict[str, int]) -> list[Building]:
    by_id = {o.oid: o for o in objects if o.kind == "Building"}
    members: dict[str, list[_Object]] = {oid: [o] for oid, o in by_id.items()}
    counts.update(buildings=len(by_id), building_parts=0, orphan_parts=0)
    for o in objects:
        if o.kind != "BuildingPart":
            continue
        counts["building_parts"] += 1
        root = _root(o, {x.oid: x for x in objects})
        if root is None:
            counts["orphan_parts"] += 1
            members[o.oid] = [o]
        else:
            members[root.oid].append(o)
    out = []
    for oid, group in members.items():
        b = _building(oid, group)
        out.extend(b)
    return out


def _root(o: _Object, by_id: dict[str, _Object]) -> _Object | None:
    """The Building a BuildingPart belongs to, following ``parents`` up; None if not in the file."""
    seen = set()
    while o.kind == "BuildingPart":
        parent = next((by_id[p] for p in o.parents if p in by_id), None)
        if parent is None or parent.oid in seen:
            return None
        seen.add(parent.oid)
        o = parent
    return o


def _building(oid: str, group: list[_Object]) -> list[Building]:
    """One building (several when its footprint falls apart) from a Building and its parts."""
    V = np.concatenate([o.V for o in group]) if len(group) > 1 else group[0].V
    offsets = np.cumsum([0] + [len(o.V) for o in group[:-1]])
    tris = np.concatenate([o.tris + off for o, off in zip(group, offsets)])
    if len(tris) == 0:
        return []
    labels = np.concatenate([o.labels for o in group])
    normals = np.concatenate([o.normals for o in group])
    used, inverse = np.unique(tris, return_inverse=True)
    verts = V[used]
    local = inverse.reshape(-1, 3).astype(np.int32)
    base, top = float(verts[:, 2].min()), float(verts[:, 2].max())
    unknown = labels < 0
    if unknown.any():
        zmax = verts[local[:, :], 2].max(axis=1)
        guess = np.where(np.abs(normals[:, 2]) < _WALL_NZ, SurfaceMesh.WALL,
                         np.where(zmax <= base + 0.2, SurfaceMesh.GROUND,
                                  np.where(normals[:, 2] > 0, SurfaceMesh.ROOF, SurfaceMesh.OTHER)))
        labels = np.where(unknown, guess, labels).astype(np.int8)
    ground = labels == SurfaceMesh.GROUND
    if ground.any():
        base = float(verts[local[ground], 2].min())
    outline = _outline(local[ground] if ground.any() else local[labels == SurfaceMesh.ROOF], verts)
    if not outline:
        outline = _outline(local[labels != SurfaceMesh.WALL], verts)
    outline = [p for p in outline if p.area >= 1.0] or outline[:1]
    pieces = [piece for poly in outline for piece in clean_footprint(*_rings(poly))]
    if not pieces:
        return []
    mesh = SurfaceMesh(verts, local, labels)
    kind = group[0].kind
    out = []
    for k, (ext, holes) in enumerate(pieces):
        out.append(Building(ext, top - base, oid if k == 0 else f"{oid}/{k + 1}", base=base, kind=kind, holes=holes,
                            mesh=mesh if k == 0 else None))
    return out


def _areas(objects: list[_Object], counts: dict[str, int]) -> list[FrictionZone]:
    zones: list[tuple[float, FrictionZone]] = []
    counts.update(roads=0, land_use_areas=0, water=0, vegetation=0)
    for o in objects:
        if o.kind not in MANNING or len(o.tris) == 0:
            continue
        if o.kind in ("Road", "Railway", "TransportSquare"):
            counts["roads"] += 1
        else:
            counts["land_use_areas"] += 1
            counts["water"] += o.kind in ("WaterBody", "Waterway")
            counts["vegetation"] += o.kind == "PlantCover"
        for poly in _outline(o.tris, o.V):
            if poly.area > 0:
                zones.append((poly.area, FrictionZone(_rings(poly)[0], MANNING[o.kind], o.kind)))
    counts["other_objects"] = counts["city_objects"] - counts["buildings"] - counts["building_parts"] - counts["roads"] - counts["land_use_areas"]
    zones.sort(key=lambda z: -z[0])
    return [z for _, z in zones]


def _water(objects: list[_Object]) -> list[InitialWater]:
    """Each WaterBody's outline at its level (the top of its surfaces), largest first."""
    bodies = []
    for o in objects:
        if o.kind != "WaterBody" or len(o.tris) == 0:
            continue
        level = float(o.V[np.unique(o.tris), 2].max())
        bodies.extend((poly.area, InitialWater(level, _rings(poly)[0])) for poly in _outline(o.tris, o.V) if poly.area > 0)
    bodies.sort(key=lambda b: -b[0])
    return [w for _, w in bodies]


def _ground(objects: list[_Object], buildings: list[Building]) -> np.ndarray:
    """The ground triangles (m, 3, 3) [m]: non-vertical faces of ground objects (vegetation capped) and building grounds."""
    tris = [np.zeros((0, 3, 3))]
    for o in objects:
        if o.kind not in GROUND_TYPES or len(o.tris) == 0:
            continue
        t = o.V[o.tris[np.abs(o.normals[:, 2]) > 1e-6]]
        if o.kind == "PlantCover" and len(t):
            z = o.V[np.unique(o.tris), 2]
            t[:, :, 2] = np.minimum(t[:, :, 2], np.percentile(z, 10) + VEGETATION_RELIEF)
        tris.append(t)
    for b in buildings:
        if b.mesh is not None:
            g = b.mesh.surface == SurfaceMesh.GROUND
            tris.append(b.mesh.vertices[b.mesh.triangles[g]])
    return np.concatenate(tris)


TERRAIN_BYTES_PER_CELL = 48
"""Peak host memory of :func:`ground_terrain` [bytes per cell]: the float64 raster, its filled copy and the
nearest-neighbour indices of the fill (two int64)."""


def ground_terrain(city: CityData, extent: tuple[float, float, float, float], resolution: float) -> tuple[Heightfield, int]:
    """The city's ground rasterised over ``extent`` (xmin, ymin, xmax, ymax) [m] at about ``resolution`` [m].

    Each cell takes the lowest ground triangle over its centre; cells inside a
    building with no ground surface take the building's base; the cells left
    are filled from their neighbours. Returns the terrain and the number of
    cells filled.
    """
    from twin.raster import Grid, check_host_memory, fill_nodata

    grid = Grid.over(extent, resolution)
    check_host_memory(grid, TERRAIN_BYTES_PER_CELL, "the city's ground terrain")
    z = rasterise_triangles(city.ground, grid.x0, grid.y0, grid.dx, grid.dy, grid.shape)
    for b in city.buildings:
        if b.base is not None:
            window, inside = grid.polygon_window(b.footprint)
            under = z[window]  # a view: written through
            under[inside & np.isnan(under)] = b.base
    if np.isnan(z).all():
        raise InputError("terrain", "", f"no ground surface of the city lies in {extent}")
    filled, count = fill_nodata(z)
    return Heightfield(filled, grid.x0, grid.y0, grid.dx, grid.dy), count

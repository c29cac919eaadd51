"""GIS vector layers (GeoPackage, Shapefile, GeoJSON, FlatGeobuf) in and out, and scene parts built from them.

:func:`read_vector` reads one layer with pyogrio into shapely geometries and
reprojects it to the scene CRS with pyproj. The builders turn a layer into
scene parts: :func:`buildings_from_layer`, :func:`friction_zones_from_layer`,
:func:`inflows_from_layer`, :func:`initial_water_from_layer`,
:func:`probes_from_layer` and :func:`boundary_spans_from_layer`.

Rules, the same for every builder:

* a layer without a CRS is refused unless ``crs=`` names it;
* an invalid polygon (self-intersecting, a bow-tie, a ring that touches
  itself) is **repaired** with ``shapely.make_valid`` and counted in
  ``VectorLayer.repaired`` (its feature ids); one that repairs to no area is
  refused;
* a polygon (or point, or line) not wholly inside the scene extent is refused,
  unless ``clip=True``: then polygons are cut to the extent and features
  wholly outside are left out (counted in the builder's ``skipped``);
* an attribute name the layer does not have is refused, naming the ones it has.

Every refusal is an :class:`twin.errors.InputError` naming the file, the
layer, the feature id and what is wrong.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyproj
import shapely

from twin.errors import InputError
from twin.io.crs import to_crs
from twin.io.shapes import polygon_parts
from twin.scene import EDGES, Building, FrictionZone, Inflow, Probe, TimeSeries

__all__ = [
    "LEVEL_HEIGHT",
    "VECTOR_SUFFIXES",
    "VectorLayer",
    "boundary_spans_from_layer",
    "buildings_from_layer",
    "friction_zones_from_layer",
    "inflows_from_layer",
    "initial_water_from_layer",
    "list_layers",
    "probes_from_layer",
    "read_vector",
    "write_vector",
]

VECTOR_SUFFIXES = {".gpkg": "GPKG", ".shp": "ESRI Shapefile", ".geojson": "GeoJSON", ".fgb": "FlatGeobuf"}
"""File suffixes twin reads and writes as vector layers, and their GDAL drivers."""

LEVEL_HEIGHT = 3.0
"""Height of one storey [m] when a building's height comes from its number of levels (as OSM's importer assumes)."""


@dataclass
class VectorLayer:
    """One layer of a vector file, in the scene CRS.

    Attributes:
        path: the file; layer: the layer's name.
        crs: "EPSG:<code>" of ``geometry`` (the scene CRS after reprojection).
        source_crs: the file's CRS (or the ``crs=`` given for a file without one).
        fids: feature ids, (n,) int64 (GeoPackage fid, Shapefile record number, ...).
        geometry: shapely geometries, (n,) object; invalid polygons already repaired.
        attributes: field name -> values, each (n,).
        repaired: feature ids of polygons ``shapely.make_valid`` repaired.
    """

    path: str
    layer: str
    crs: str
    source_crs: str
    fids: np.ndarray
    geometry: np.ndarray
    attributes: dict[str, np.ndarray]
    repaired: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.fids)

    def where(self, k: int) -> str:
        """The place of feature ``k`` in error messages: ``layer houses, feature 12``."""
        return f"layer {self.layer}, feature {int(self.fids[k])}"

    def column(self, name: str) -> np.ndarray:
        """The values of attribute ``name``, (n,); an unknown name is refused, listing the fields there are."""
        if name not in self.attributes:
            have = ", ".join(self.attributes) or "none"
            raise InputError(self.path, f"layer {self.layer}", f"no attribute {name!r} (its attributes: {have})")
        return self.attributes[name]

    def number(self, name: str, k: int) -> float:
        """Attribute ``name`` of feature ``k`` as a finite float, else refused."""
        value = self.column(name)[k]
        try:
            v = float(value)
        except (TypeError, ValueError):
            v = float("nan")
        if not np.isfinite(v):
            raise InputError(self.path, self.where(k), f"attribute {name!r} is {value!r}, not a number")
        return v


def _driver(path: Path) -> str:
    driver = VECTOR_SUFFIXES.get(path.suffix.lower())
    if driver is None:
        raise InputError(path, "", f"not a vector file twin reads (it reads {', '.join(VECTOR_SUFFIXES)})")
    return driver


def list_layers(path: str | Path) -> list[str]:
    """Names of the layers in a vector file."""
    import pyogrio

    path = Path(path)
    _driver(path)
    if not path.exists():
        raise InputError(path, "", "no such file")
    try:
        return [str(name) for name, _ in pyogrio.list_layers(path)]
    except pyogrio.errors.DataSourceError as e:
        raise InputError(path, "", f"not a readable vector file ({e})") from None


def read_vector(path: str | Path, layer: str | None = None, crs: str | int | None = None, *,
                scene_crs: str | None = None) -> VectorLayer:
    """Read one layer of a GeoPackage, Shapefile, GeoJSON or FlatGeobuf file.

    Args:
        path: the file (.gpkg, .shp, .geojson, .fgb).
        layer: the layer's name; None for a file with one layer.
        crs: the CRS of a file that declares none (an EPSG code or text pyproj reads);
            a file that declares one keeps its own.
        scene_crs: "EPSG:<code>" to reproject to; None keeps the file's CRS.

    Raises:
        InputError: an unreadable file, an unknown or ambiguous layer, no CRS and
            no ``crs=``, a polygon that repairs to no area.
    """
    import pyogrio

    path = Path(path)
    layers = list_layers(path)
    if layer is None:
        if len(layers) != 1:
            raise InputError(path, "", f"holds {len(layers)} layers ({', '.join(layers)}); name one with layer=")
        layer = layers[0]
    elif layer not in layers:
        raise InputError(path, f"layer {layer}", f"no such layer (the file holds: {', '.join(layers)})")
    try:
        meta, fids, wkb, values = pyogrio.raw.read(path, layer=layer, return_fids=True)
    except pyogrio.errors.DataSourceError as e:
        raise InputError(path, f"layer {layer}", f"unreadable ({e})") from None
    if meta["crs"] is None and crs is None:
        raise InputError(path, f"layer {layer}", "the layer has no CRS; give it with crs= (or --crs)")
    source = to_crs(meta["crs"] if meta["crs"] is not None else crs, f"{path}: layer {layer}")
    target = source if scene_crs is None else to_crs(scene_crs)
    geometry = shapely.from_wkb(wkb) if wkb is not None else np.full(len(fids), None, object)
    if source != target:
        transformer = pyproj.Transformer.from_crs(source, target, always_xy=True)
        geometry = shapely.transform(geometry, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1])))
    out = VectorLayer(str(path), layer, target, source, np.asarray(fids, np.int64), np.asarray(geometry, object),
                      {str(n): np.asarray(v) for n, v in zip(meta["fields"], values)})
    for k, g in enumerate(out.geometry):
        if g is None or g.is_empty:
            raise InputError(path, out.where(k), "has no geometry")
        if g.geom_type in ("Polygon", "MultiPolygon") and not g.is_valid:
            reason = shapely.is_valid_reason(g)
            fixed = shapely.union_all(polygon_parts(shapely.make_valid(g)))
            if fixed.is_empty or fixed.area == 0.0:
                raise InputError(path, out.where(k), f"not a valid polygon ({reason}) and make_valid leaves no area")
            out.geometry[k] = fixed
            out.repaired.append(int(out.fids[k]))
    return out


def write_vector(path: str | Path, layers: dict[str, tuple[np.ndarray, dict[str, np.ndarray]]], crs: str | None) -> Path:
    """Write ``layers`` (name -> (shapely geometries (n,), attributes name -> (n,))) in ``crs`` (None: no CRS).

    The format follows the suffix (:data:`VECTOR_SUFFIXES`; GeoJSON and FlatGeobuf hold one
    layer). The file appears whole or not at all: it is written beside its place, then renamed.
    """
    import pyogrio

    path = Path(path)
    driver = _driver(path)
    if driver != "GPKG" and len(layers) != 1:
        raise InputError(path, "", f"a {driver} file holds one layer, not {len(layers)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmpdir = Path(tempfile.mkdtemp(prefix=".partial-", dir=path.parent))
    try:
        tmp = tmpdir / path.name
        for name, (geoms, attrs) in layers.items():
            geoms = np.asarray(geoms, object)
            kinds = sorted({g.geom_type for g in geoms})
            gtype = kinds[0] if len(kinds) == 1 else "Unknown"
            if {"Polygon", "MultiPolygon"} >= set(kinds) and len(kinds) == 2:
                gtype = "MultiPolygon"
            pyogrio.raw.write(tmp, shapely.to_wkb(geoms), [np.asarray(v) for v in attrs.values()], list(attrs),
                              layer=name, driver=driver, geometry_type=gtype, crs=crs, append=tmp.exists(),
                              promote_to_multi=gtype == "MultiPolygon",
                              layer_options={"SPATIAL_INDEX": "NO"} if driver == "FlatGeobuf" else None)  # keep the order
        for f in tmpdir.iterdir():  # a Shapefile is several files; the .shp last, so it appears complete
            if f.suffix != path.suffix:
                os.replace(f, path.parent / f.name)
        os.replace(tmp, path)
    finally:
        for f in tmpdir.iterdir():
            f.unlink()
        tmpdir.rmdir()
    return path


# -- checks shared by the builders ---------------------------------------------------
def _inside(layer: VectorLayer, k: int, extent: tuple[float, float, float, float], clip: bool):
    """Feature ``k``'s geometry inside ``extent``: itself, cut to it (``clip``), None when wholly outside
    and ``clip``; refused when not wholly inside and not ``clip``."""
    g = layer.geometry[k]
    box = shapely.box(*extent)
    if box.covers(g):
        return g
    if not clip:
        xmin, ymin, xmax, ymax = (float(v) for v in g.bounds)
        raise InputError(layer.path, layer.where(k), f"{g.geom_type.lower()} ({xmin:.10g}, {ymin:.10g}) .. ({xmax:.10g}, {ymax:.10g}) "
                         f"is not inside the domain {tuple(float(v) for v in extent)} (pass clip=True to cut it)")
    cut = g.intersection(box)
    return None if cut.is_empty or (g.geom_type.endswith("Polygon") and cut.area == 0.0) else cut


def _polygons(layer: VectorLayer, extent, clip: bool) -> list[tuple[int, list[shapely.Polygon]]]:
    """(feature index, its polygon parts inside the extent) of each polygon feature kept."""
    out = []
    for k, g in enumerate(layer.geometry):
        if not g.geom_type.endswith("Polygon"):
            raise InputError(layer.path, layer.where(k), f"is a {g.geom_type}, expected a polygon")
        g = _inside(layer, k, extent, clip)
        if g is not None:
            out.append((k, polygon_parts(g)))
    return out


def _ring(ring) -> np.ndarray:
    """A ring's vertices, (n, 2) float64, left open."""
    return np.asarray(ring.coords, np.float64)[:-1, :2]


def _name(layer: VectorLayer, name: str | None, k: int, part: int, parts: int) -> str:
    base = str(layer.column(name)[k]) if name else f"{layer.layer}:{int(layer.fids[k])}"
    return base if parts == 1 else f"{base}.{part}"


# -- builders -------------------------------------------------------------------------
def buildings_from_layer(layer: VectorLayer, extent: tuple[float, float, float, float], *, height: str | None = None,
                         levels: str | None = None, level_height: float = LEVEL_HEIGHT, default_height: float | None = None,
                         name: str | None = None, clip: bool = False) -> list[Building]:
    """Buildings from a polygon layer; each part of a multipolygon is a building, with its holes.

    The height [m] of each comes from, in order: the attribute ``height``; the
    attribute ``levels`` x ``level_height`` [m]; ``default_height``. A feature
    with none of these (an empty attribute and no default) is refused.

    Args:
        extent: the scene's (xmin, ymin, xmax, ymax) [m].
        name: attribute holding the building's name (default "<layer>:<fid>").
    """
    for attr in (height, levels, name):
        if attr:
            layer.column(attr)
    out = []
    for k, parts in _polygons(layer, extent, clip):
        h = None
        for attr, scale in ((height, 1.0), (levels, level_height)):
            if attr and h is None and _present(layer.column(attr)[k]):
                h = layer.number(attr, k) * scale
        if h is None:
            h = default_height
        if h is None or h < 0:
            raise InputError(layer.path, layer.where(k), f"no building height (attributes {height!r}, {levels!r} empty and no default)"
                             if h is None else f"negative building height {h} m")
        out += [Building(_ring(p.exterior), float(h), _name(layer, name, k, j, len(parts)), holes=[_ring(r) for r in p.interiors])
                for j, p in enumerate(parts)]
    return out


def _present(value: Any) -> bool:
    """Whether an attribute value is there (not None, NaN or an empty string)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return False
    return not (isinstance(value, (float, np.floating)) and np.isnan(value))


def friction_zones_from_layer(layer: VectorLayer, extent: tuple[float, float, float, float], *, manning: str | None = None,
                              land_use: str | None = None, table: dict[str, float] | None = None,
                              clip: bool = False) -> list[FrictionZone]:
    """Friction zones from a polygon layer: Manning's n [s m^-1/3] from the attribute ``manning``, or from
    the attribute ``land_use`` looked up in ``table`` (class -> n). A class not in the table is refused."""
    if (manning is None) == (land_use is None and table is None) or (land_use is None) != (table is None):
        raise InputError(layer.path, f"layer {layer.layer}", "give either manning= (an attribute) or land_use= and table=")
    out = []
    for k, parts in _polygons(layer, extent, clip):
        if manning:
            n = layer.number(manning, k)
            label = f"{layer.layer}:{int(layer.fids[k])}"
        else:
            label = str(layer.column(land_use)[k])
            if label not in table:
                raise InputError(layer.path, layer.where(k), f"land use {label!r} is not in the table ({', '.join(map(str, table))})")
            n = float(table[label])
        if n < 0:
            raise InputError(layer.path, layer.where(k), f"Manning's n {n} is negative")
        out += [FrictionZone(_ring(p.exterior), n, label) for p in parts]
    return out


def inflows_from_layer(layer: VectorLayer, extent: tuple[float, float, float, float], discharge: str | TimeSeries | dict[str, TimeSeries], *,
                       name: str | None = None, clip: bool = False) -> list[Inflow]:
    """Inflow areas from a polygon layer: the water enters the cells whose centres lie in each polygon.

    Args:
        discharge: the discharge [m3/s] over time: one TimeSeries for every area, a dict from the
            area's ``name`` to its series, or an attribute holding a constant discharge.
    """
    out = []
    for k, parts in _polygons(layer, extent, clip):
        label = _name(layer, name, k, 0, 1)
        if isinstance(discharge, TimeSeries):
            q = discharge
        elif isinstance(discharge, dict):
            if label not in discharge:
                raise InputError(layer.path, layer.where(k), f"no discharge series for inflow area {label!r}")
            q = discharge[label]
        else:
            q = TimeSeries.constant(layer.number(discharge, k))
        for j, p in enumerate(parts):
            c = p.representative_point()
            out.append(Inflow(label if len(parts) == 1 else f"{label}.{j}", (float(c.x), float(c.y)), 0.0, q, polygon=_ring(p.exterior)))
    return out


def initial_water_from_layer(layer: VectorLayer, extent: tuple[float, float, float, float], level: str | float, *,
                             clip: bool = False) -> list:
    """Initial water from a polygon layer: a stage [m] (the attribute ``level`` or one number) inside each polygon.

    Returns:
        ``twin.scene.InitialWater(stage, polygon=...)`` per polygon part where the scene
        API has it, else (polygon (n, 2) [m], stage [m]) pairs, in the layer's order
        (later entries override earlier ones).
    """
    import twin.scene as scene_api

    if isinstance(level, str):
        layer.column(level)
    made = getattr(scene_api, "InitialWater", None)
    out = []
    for k, parts in _polygons(layer, extent, clip):
        stage = layer.number(level, k) if isinstance(level, str) else float(level)
        for p in parts:
            out.append(made(stage, polygon=_ring(p.exterior)) if made else (_ring(p.exterior), stage))
    return out


def probes_from_layer(layer: VectorLayer, extent: tuple[float, float, float, float], *, name: str | None = None) -> list[Probe]:
    """Probes from a point layer, named by the attribute ``name`` (default "<layer>:<fid>"); names must be unique."""
    out, seen = [], {}
    for k, g in enumerate(layer.geometry):
        if g.geom_type != "Point":
            raise InputError(layer.path, layer.where(k), f"is a {g.geom_type}, expected a point")
        _inside(layer, k, extent, False)
        label = _name(layer, name, k, 0, 1)
        if label in seen:
            raise InputError(layer.path, layer.where(k), f"duplicate probe name {label!r} (first at feature {seen[label]})")
        seen[label] = int(layer.fids[k])
        out.append(Probe(label, float(g.x), float(g.y)))
    return out


def boundary_spans_from_layer(layer: VectorLayer, extent: tuple[float, float, float, float], *,
                              tolerance: float = 1.0) -> list[tuple[str, tuple[float, float]]]:
    """Boundary spans from a line layer drawn along the domain's edges.

    Each line must lie within ``tolerance`` [m] of one edge; its span (a, b) [m]
    runs along that edge from the corner where it starts: west and east edges
    from south to north, south and north edges from west to east; a < b, cut to
    the edge's length.

    Returns:
        (edge, (a, b)) per line, in the layer's order.
    """
    xmin, ymin, xmax, ymax = (float(v) for v in extent)
    edges = {  # edge -> (line, origin coordinate, axis along it (0: x, 1: y), length)
        "west": (shapely.LineString([(xmin, ymin), (xmin, ymax)]), ymin, 1, ymax - ymin),
        "east": (shapely.LineString([(xmax, ymin), (xmax, ymax)]), ymin, 1, ymax - ymin),
        "south": (shapely.LineString([(xmin, ymin), (xmax, ymin)]), xmin, 0, xmax - xmin),
        "north": (shapely.LineString([(xmin, ymax), (xmax, ymax)]), xmin, 0, xmax - xmin),
    }
    out = []
    for k, g in enumerate(layer.geometry):
        if not g.geom_type.endswith("LineString"):
            raise InputError(layer.path, layer.where(k), f"is a {g.geom_type}, expected a line along an edge")
        vertices = shapely.points(shapely.get_coordinates(g))
        d = {e: float(shapely.distance(vertices, edges[e][0]).max()) for e in EDGES}
        near = [e for e in EDGES if d[e] <= tolerance]
        if not near:
            d = {e: round(v, 3) for e, v in d.items()}
            raise InputError(layer.path, layer.where(k), f"the line does not lie along an edge of the domain within {tolerance} m "
                             f"(greatest distance from each edge: {d})")
        edge = near[0]
        _, origin, axis, length = edges[edge]
        coords = shapely.get_coordinates(g)[:, axis] - origin
        a, b = float(np.clip(coords.min(), 0.0, length)), float(np.clip(coords.max(), 0.0, length))
        if not b > a:
            raise InputError(layer.path, layer.where(k), f"the line has no length along the {edge} edge")
        out.append((edge, (a, b)))
    return out

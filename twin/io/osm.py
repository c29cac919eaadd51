"""OpenStreetMap extracts (OSM XML, PBF, ``.osm.gz``/``.bz2``) into Scene parts, with pyosmium.

The file is streamed twice and never held in memory: a first pass reads the
multipolygon relations twin uses and notes their member ways; a second pass
keeps node locations in pyosmium's index and turns ways into

* **buildings** (``building=*``, not ``no``) and **building parts**
  (``building:part=*``) from closed ways and multipolygon relations, with
  heights from the tags (see :func:`building_heights`);
* **roads** (``highway=*``): centrelines with their class, name and an
  estimated width (``width`` tag, else ``lanes`` x 3.5 m, else
  :data:`ROAD_WIDTH` by class), whose shared node ids make the road graph
  (:func:`road_graph`);
* **land-cover areas** (``landuse``, ``natural``, ``leisure``, ``water``,
  ``waterway=riverbank|dock``, ``amenity=parking``) with Manning's n from
  :data:`MANNING`;
* **water bodies** (``natural=water``, ``waterway=riverbank``,
  ``landuse=reservoir``): their outlines, for initial water
  (:func:`twin.io.water.initial_water`; OSM has no heights, so their level is
  the scene's or the lowest shore elevation).

Clipped extracts are normal: a way whose nodes are partly missing is kept
with the nodes that are there (a closed way as the ring of its remaining
nodes, a road as its unbroken runs) and counted in ``counts`` as
``ways_clipped``; one with too few nodes left is dropped and counted as
``ways_dropped``; ``missing_node_refs`` counts the references that did not
resolve and ``missing_members`` the relation members not in the file.
"""

from __future__ import annotations

import re
from array import array
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import shapely

from twin.errors import InputError
from twin.io.checks import regular_file
from twin.io.crs import metric_crs, transform
from twin.io.shapes import clean_footprint, polygon_parts
from twin.scene import Building, FrictionZone, Road

__all__ = [
    "DEFAULT_HEIGHT",
    "LEVEL_HEIGHT",
    "MANNING",
    "OsmData",
    "RoadGraph",
    "building_heights",
    "read_osm",
    "road_graph",
]

LEVEL_HEIGHT = 3.0
"""Metres per storey, for ``building:levels``, ``roof:levels`` and ``building:min_level``."""

DEFAULT_HEIGHT = 6.0
"""Height [m] of a building with no height or levels tag (two storeys)."""

LANE_WIDTH = 3.5
"""Metres per lane, for ``lanes``."""

ROAD_WIDTH = {
    "motorway": 22.0, "trunk": 18.0, "primary": 14.0, "secondary": 12.0, "tertiary": 10.0,
    "motorway_link": 7.0, "trunk_link": 7.0, "primary_link": 7.0, "secondary_link": 7.0, "tertiary_link": 7.0,
    "residential": 8.0, "unclassified": 7.0, "living_street": 6.0, "pedestrian": 6.0, "road": 7.0,
    "service": 5.0, "busway": 7.0, "track": 3.0, "cycleway": 2.0, "footway": 2.0, "bridleway": 2.0,
    "path": 1.5, "steps": 2.0, "corridor": 2.0,
}
"""Estimated width [m] by ``highway`` class, when neither ``width`` nor ``lanes`` is tagged."""

OTHER_ROAD_WIDTH = 4.0
"""Width [m] of a highway class not in :data:`ROAD_WIDTH`."""

NOT_ROADS = {"proposed", "abandoned", "razed", "disused", "platform", "bus_stop", "elevator"}
"""``highway`` values that are not roads on the ground."""

MANNING = {
    "landuse": {
        None: 0.05, "residential": 0.06, "commercial": 0.05, "retail": 0.05, "industrial": 0.05, "garages": 0.03,
        "railway": 0.05, "construction": 0.04, "brownfield": 0.035, "greenfield": 0.035, "military": 0.05,
        "religious": 0.05, "cemetery": 0.05, "grass": 0.03, "meadow": 0.035, "village_green": 0.03,
        "recreation_ground": 0.03, "farmland": 0.035, "farmyard": 0.04, "allotments": 0.05, "orchard": 0.08,
        "vineyard": 0.06, "plant_nursery": 0.06, "forest": 0.12, "quarry": 0.035, "landfill": 0.04,
        "reservoir": 0.025, "basin": 0.025, "salt_pond": 0.025,
    },
    "natural": {
        None: 0.05, "water": 0.025, "wetland": 0.07, "wood": 0.12, "scrub": 0.07, "heath": 0.05,
        "grassland": 0.035, "fell": 0.04, "beach": 0.025, "sand": 0.025, "bare_rock": 0.025, "scree": 0.035,
        "shingle": 0.03, "glacier": 0.02, "mud": 0.03,
    },
    "leisure": {
        None: 0.04, "park": 0.04, "garden": 0.04, "pitch": 0.03, "playground": 0.035, "golf_course": 0.03,
        "common": 0.035, "nature_reserve": 0.08, "sports_centre": 0.03, "stadium": 0.03, "track": 0.025,
    },
    "water": {None: 0.025},
    "waterway": {"riverbank": 0.025, "dock": 0.025},
    "amenity": {"parking": 0.018},
}
"""Manning's n [s m^-1/3] by tag key and value (``None``: any other value of that key).

Values from the usual tables for overland flow (Chow 1959; HEC-RAS 2D land-cover
guidance): sealed surfaces 0.015-0.02, short grass 0.03, parks and mixed urban
cover 0.04-0.06, scrub 0.07, woods 0.12, open water 0.025. Keys are tried in
the order above; a key whose value is missing from its table and has no
``None`` entry does not make an area.
"""

AREA_KEYS = tuple(MANNING)

WATER_TAGS = (("natural", "water"), ("waterway", "riverbank"), ("landuse", "reservoir"))
"""Tags of the areas that are water bodies (``OsmData.water``)."""

_NUMBER = re.compile(r"^\s*(-?\d+(?:[.,]\d+)?)\s*(m|meters?|metres?|ft|feet|')?\s*$", re.I)
_FEET_INCHES = re.compile(r"^\s*(\d+)\s*'\s*(\d+(?:\.\d+)?)\s*\"\s*$")


def _metres(text: str | None) -> float | None:
    """A length tag in metres ("12", "12.5 m", "40 ft", "10'6\\""); the first of "12;15"; None if unreadable."""
    if text is None:
        return None
    text = text.split(";")[0]
    m = _FEET_INCHES.match(text)
    if m:
        return (float(m[1]) * 12 + float(m[2])) * 0.0254
    m = _NUMBER.match(text)
    if m is None:
        return None
    v = float(m[1].replace(",", "."))
    if m[2] and m[2].lower() in ("ft", "feet", "'"):
        v *= 0.3048
    return v if np.isfinite(v) else None


def _count(text: str | None) -> float | None:
    """A non-negative storey count ("3", "2.5", first of "3;4"); None if unreadable."""
    if text is None:
        return None
    try:
        v = float(text.split(";")[0].strip().replace(",", "."))
    except ValueError:
        return None
    return v if np.isfinite(v) and v >= 0 else None


def building_heights(tags: dict[str, str], *, default_height: float = DEFAULT_HEIGHT,
                     level_height: float = LEVEL_HEIGHT) -> tuple[float, float, str]:
    """(height [m], min_height [m], where the height came from) of a building or part.

    The top is ``height``; else ``building:levels`` x ``level_height`` plus
    ``roof:height`` (or ``roof:levels`` x ``level_height``); else
    ``default_height``. The underside is ``min_height``, else
    ``building:min_level`` x ``level_height``, else 0 (and 0 when it is not
    below the top). The source is "height", "levels" or "default".
    """
    height = _metres(tags.get("height"))
    source = "height"
    if height is None or height <= 0:
        levels = _count(tags.get("building:levels"))
        if levels is not None and levels > 0:
            roof = _metres(tags.get("roof:height"))
            if roof is None:
                roof_levels = _count(tags.get("roof:levels"))
                roof = roof_levels * level_height if roof_levels is not None else 0.0
            height, source = levels * level_height + max(roof, 0.0), "levels"
        else:
            height, source = default_height, "default"
    low = _metres(tags.get("min_height"))
    if low is None:
        min_level = _count(tags.get("building:min_level"))
        low = min_level * level_height if min_level is not None else 0.0
    if not 0.0 <= low < height:
        low = 0.0
    return float(height), float(low), source


def _manning(tags: dict[str, str]) -> tuple[str, float] | None:
    """("key=value", Manning's n) of a land-cover area, or None."""
    for key in AREA_KEYS:
        value = tags.get(key)
        if value is None:
            continue
        table = MANNING[key]
        n = table.get(value, table.get(None))
        if n is not None:
            return f"{key}={value}", n
    return None


def _road_width(tags: dict[str, str]) -> float:
    w = _metres(tags.get("width"))
    if w is not None and w > 0:
        return w
    lanes = _count(tags.get("lanes"))
    if lanes is not None and lanes >= 1:
        return lanes * LANE_WIDTH
    return ROAD_WIDTH.get(tags.get("highway", ""), OTHER_ROAD_WIDTH)


@dataclass
class OsmData:
    """Scene parts read from an OSM file, in one metric CRS.

    Attributes:
        crs: "EPSG:<code>" of every coordinate below.
        bounds: the file's ``<bounds>`` (or the data's) as (lon_min, lat_min,
            lon_max, lat_max) [degrees].
        extent: the rectangle of ``crs`` around ``bounds`` (xmin, ymin, xmax, ymax) [m].
        buildings: one per closed way and per outer ring of a multipolygon
            (parts after the first named "r123/2", ...); ``base`` is None.
        building_parts: ``building:part`` outlines, likewise.
        roads: highway centrelines (a clipped way gives one per unbroken run).
        areas: land-cover polygons with Manning's n, largest first (so that
            rasterising them in order lets smaller areas inside win).
        counts: "nodes", "ways", "relations" (read), "buildings",
            "building_relations", "building_parts", "roads", "land_use_areas",
            "vertices" (of the geometry kept), "height_from_height",
            "height_from_levels", "height_from_default", "missing_node_refs",
            "ways_clipped", "ways_dropped", "missing_members", "rings_clipped",
            "water_bodies".
        water: outlines (n, 2) [m] of the water bodies (:data:`WATER_TAGS`), largest first;
            islands (inner rings) are not kept: land above the water's level stays dry.
    """

    crs: str
    bounds: tuple[float, float, float, float]
    extent: tuple[float, float, float, float]
    buildings: list[Building]
    building_parts: list[Building]
    roads: list[Road]
    areas: list[FrictionZone]
    counts: dict[str, int]
    water: list[np.ndarray] = field(default_factory=list)


# --- streaming ----------------------------------------------------------------------------------

_KIND_BUILDING, _KIND_PART, _KIND_ROAD, _KIND_AREA = "building", "part", "road", "area"


def _kind_of(tags) -> tuple[str, object] | None:
    """What a way or relation becomes: (kind, detail) or None."""
    b = tags.get("building")
    if b is not None and b != "no":
        return _KIND_BUILDING, b
    p = tags.get("building:part")
    if p is not None and p != "no":
        return _KIND_PART, p
    h = tags.get("highway")
    if h is not None and h not in NOT_ROADS:
        return _KIND_ROAD, h
    area = _manning(tags)
    if area is not None:
        return _KIND_AREA, area
    return None


_WANTED_TAGS = frozenset(("building", "building:part", "height", "min_height", "building:levels", "building:min_level",
                          "roof:height", "roof:levels", "highway", "name", "width", "lanes", "area", "type", *AREA_KEYS))


def _tags(obj) -> dict[str, str]:
    return {t.k: t.v for t in obj.tags if t.k in _WANTED_TAGS}


@dataclass(slots=True)
class _Feature:
    """A kept object before projection: its rings or lines as (start, stop, holes) index ranges into the
    collector's coordinate and node-id buffers; ``holes`` is a tuple of (start, stop)."""

    kind: str
    ident: str
    tags: dict[str, str]
    parts: list[tuple[int, int, tuple]]


class _Collector:
    """Relations first (``relation``), then nodes and ways (``node``, ``way``)."""

    def __init__(self):
        self.relations: dict[int, tuple[dict[str, str], str, list[tuple[int, str]]]] = {}
        self.member_ways: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray] | None] = {}
        self.features: list[_Feature | None] = []
        self.lon = array("d")
        self.lat = array("d")
        self.ids = array("q")  # the node id of each coordinate, -1 where there is none (assembled rings)
        self.counts = dict.fromkeys(("nodes", "ways", "relations", "missing_node_refs", "ways_clipped", "ways_dropped",
                                     "missing_members", "rings_clipped"), 0)
        self.lon_range = [np.inf, -np.inf]
        self.lat_range = [np.inf, -np.inf]

    # pass 1
    def relation(self, r):
        self.counts["relations"] += 1
        tags = _tags(r)
        if tags.get("type") != "multipolygon":
            return
        kind = _kind_of(tags)
        if kind is None or kind[0] == _KIND_ROAD:
            return
        members = [(m.ref, m.role) for m in r.members if m.type == "w"]
        self.relations[r.id] = (tags, kind[0], members)
        for ref, _ in members:
            self.member_ways[ref] = None

    # pass 2
    def node(self, n):
        self.counts["nodes"] += 1

    def way(self, w):
        self.counts["ways"] += 1
        member = w.id in self.member_ways
        tags = _tags(w) if len(w.tags) else {}
        kind = _kind_of(tags) if tags else None
        if kind is None and not member:
            return
        ids, lons, lats, missing = [], [], [], 0
        for n in w.nodes:
            loc = n.location
            if loc.valid():
                ids.append(n.ref)
                lons.append(loc.lon)
                lats.append(loc.lat)
            else:
                missing += 1
        self.counts["missing_node_refs"] += missing
        closed = len(w.nodes) > 3 and w.nodes[0].ref == w.nodes[len(w.nodes) - 1].ref
        if member:
            self.member_ways[w.id] = (np.array(ids, np.int64), np.array(lons), np.array(lats))
        if kind is None:
            return
        if kind[0] == _KIND_ROAD:
            self._road(w.id, tags, w.nodes, missing)
            return
        if not closed:
            if kind[0] != _KIND_AREA:
                self.counts["ways_dropped"] += 1  # an outline that does not close
            return  # an area tag on a line (a tree row, a river's centreline) makes no area
        ring = _open_ring(ids, lons, lats)
        if ring is None:
            self.counts["ways_dropped"] += 1
            return
        if missing:
            self.counts["ways_clipped"] += 1
        self.features.append(_Feature(kind[0], f"w{w.id}", tags, [(*self._add(ring[1], ring[2]), ())]))

    def _road(self, wid: int, tags: dict[str, str], nodes, missing: int) -> None:
        runs: list[tuple[list[int], list[float], list[float]]] = [([], [], [])]
        for n in nodes:
            loc = n.location
            if loc.valid():
                run = runs[-1]
                run[0].append(n.ref)
                run[1].append(loc.lon)
                run[2].append(loc.lat)
            elif runs[-1][0]:
                runs.append(([], [], []))
        runs = [r for r in runs if len(r[0]) >= 2]
        if not runs:
            self.counts["ways_dropped"] += 1
            return
        if missing:
            self.counts["ways_clipped"] += 1
        self.features.append(_Feature(_KIND_ROAD, f"w{wid}", tags, [(*self._add(lons, lats, ids), ()) for ids, lons, lats in runs]))

    def _add(self, lons, lats, ids=None) -> tuple[int, int]:
        """Append coordinates (and their node ids) to the buffers; returns their (start, stop)."""
        start = len(self.lon)
        self.lon.extend(lons)
        self.lat.extend(lats)
        self.ids.extend(ids if ids is not None else [-1] * len(lons))
        if len(lons):
            self.lon_range = [min(self.lon_range[0], min(lons)), max(self.lon_range[1], max(lons))]
            self.lat_range = [min(self.lat_range[0], min(lats)), max(self.lat_range[1], max(lats))]
        return start, len(self.lon)

    def assemble_relations(self) -> None:
        """Turn the multipolygon relations into features, from their member ways."""
        for rid, (tags, kind, members) in self.relations.items():
            outer, inner = [], []
            for ref, role in members:
                way = self.member_ways.get(ref)
                if way is None or len(way[0]) < 2:
                    self.counts["missing_members"] += 1
                    continue
                (inner if role == "inner" else outer).append(way)
            outer_rings, clipped_o = _join_rings(outer)
            inner_rings, clipped_i = _join_rings(inner)
            self.counts["rings_clipped"] += clipped_o + clipped_i
            if not outer_rings:
                continue
            polys = _polygons(outer_rings, inner_rings)
            if not polys:
                continue
            parts = [(*self._add(*shell), tuple(self._add(*h) for h in holes)) for shell, holes in polys]
            self.features.append(_Feature(kind, f"r{rid}", tags, parts))


def _open_ring(ids, lons, lats):
    """(ids, lons, lats) of a ring without its closing vertex, or None if fewer than 3 distinct vertices remain."""
    if len(ids) > 1 and ids[0] == ids[-1]:
        ids, lons, lats = ids[:-1], lons[:-1], lats[:-1]
    if len(set(zip(lons, lats))) < 3:
        return None
    return ids, lons, lats


def _join_rings(ways: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> tuple[list[tuple[np.ndarray, np.ndarray]], int]:
    """Join member ways end to end (by node id) into rings of (lon, lat); chains that do not close are closed
    straight (a clipped ring) when they have 3 vertices or more. Returns (rings, number clipped)."""
    pending = list(range(len(ways)))
    by_end: dict[int, list[int]] = {}
    for k, (ids, _, _) in enumerate(ways):
        by_end.setdefault(int(ids[0]), []).append(k)
        by_end.setdefault(int(ids[-1]), []).append(k)
    used = [False] * len(ways)
    rings, clipped = [], 0
    for start in pending:
        if used[start]:
            continue
        used[start] = True
        ids, lons, lats = (list(a) for a in ways[start])
        while ids[0] != ids[-1]:
            nxt = next((k for k in by_end.get(ids[-1], []) if not used[k]), None)
            if nxt is None:
                break
            used[nxt] = True
            nids, nlon, nlat = ways[nxt]
            if nids[0] != ids[-1]:
                nids, nlon, nlat = nids[::-1], nlon[::-1], nlat[::-1]
            ids += list(nids[1:])
            lons += list(nlon[1:])
            lats += list(nlat[1:])
        closed = ids[0] == ids[-1]
        ring = _open_ring(ids, lons, lats)
        if ring is None:
            continue
        if not closed:
            clipped += 1
        rings.append((np.array(ring[1]), np.array(ring[2])))
    return rings, clipped


def _polygons(outer, inner):
    """Outer and inner rings (lon, lat) into valid polygons [(shell (lon, lat), [holes])], in degrees."""
    shells = [shapely.Polygon(np.column_stack(r)) for r in outer]
    holes = [shapely.Polygon(np.column_stack(r)) for r in inner]
    geom = shapely.union_all([shapely.make_valid(s) for s in shells])
    if holes:
        geom = shapely.difference(geom, shapely.union_all([shapely.make_valid(h) for h in holes]))
    out = []
    for poly in polygon_parts(geom):
        shell = np.asarray(poly.exterior.coords)[:-1]
        out.append(((shell[:, 0], shell[:, 1]), [(np.asarray(i.coords)[:-1, 0], np.asarray(i.coords)[:-1, 1]) for i in poly.interiors]))
    return out


# --- reading ------------------------------------------------------------------------------------


def _osm_file(path: Path):
    import osmium

    name = path.name.lower()
    if name.endswith((".pbf", ".osm", ".osm.gz", ".osm.bz2", ".osc", ".o5m", ".opl")):
        return osmium.io.File(str(path))
    return osmium.io.File(str(path), "osm")


def _apply(path: Path, types, *handlers) -> None:
    """Run pyosmium over ``path``; its errors become one-line InputErrors naming the place."""
    import osmium

    try:
        with osmium.io.Reader(_osm_file(path), types) as reader:
            osmium.apply(reader, *handlers)
    except osmium.InvalidLocationError as e:
        raise InputError(path, _find_in_xml(path, str(e)), f"bad node coordinate ({e})") from None
    except (RuntimeError, ValueError) as e:
        raise _osm_error(path, str(e)) from None


def _osm_error(path: Path, message: str) -> InputError:
    message = message.strip().splitlines()[0] if message.strip() else "unreadable"
    m = re.search(r"line (\d+), column (\d+)", message)
    if m:
        what = re.sub(r"^XML parsing error at line \d+, column \d+:\s*", "", message)
        hint = "; the file looks truncated" if what in ("unclosed token", "no element found") else ""
        return InputError(path, f"line {m[1]}, column {m[2]}", f"malformed OSM XML ({what}){hint}")
    if re.search(r"truncated|EOF|end of file", message, re.I):
        return InputError(path, f"byte {path.stat().st_size}", f"the file ends early ({message})")
    return InputError(path, "", f"not an OSM file pyosmium can read ({message})")


def _find_in_xml(path: Path, message: str) -> str:
    """"line N" of the first XML line holding the bad coordinate quoted in ``message``, or ""."""
    m = re.search(r"'([^']*)'", message)
    if m is None or path.suffix.lower() != ".osm":
        return ""
    needle = re.compile(r"""\b(?:lat|lon)\s*=\s*["']""" + re.escape(m[1]) + r"""["']""")
    with open(path, encoding="utf-8", errors="replace") as f:
        for lineno, line in enumerate(f, start=1):
            if needle.search(line):
                return f"line {lineno}"
    return ""


def _header_bounds(path: Path) -> tuple[float, float, float, float] | None:
    import osmium

    try:
        with osmium.io.Reader(_osm_file(path), osmium.osm.NOTHING) as reader:
            box = reader.header().box()
    except (RuntimeError, ValueError) as e:
        raise _osm_error(path, str(e)) from None
    if not box.valid():
        return None
    return (box.bottom_left.lon, box.bottom_left.lat, box.top_right.lon, box.top_right.lat)


def read_osm(
    path: str | Path,
    *,
    crs: str | int | None = None,
    default_height: float = DEFAULT_HEIGHT,
    level_height: float = LEVEL_HEIGHT,
    location_index: str = "flex_mem",
) -> OsmData:
    """Read buildings, building parts, roads and land-cover areas from an OSM file.

    Args:
        path: OSM XML (``.osm``, ``.osm.gz``, ``.osm.bz2``) or PBF (``.pbf``).
        crs: the scene CRS (EPSG code or "EPSG:n", projected, metres);
            default: the UTM zone of the centre of the file's bounds.
        default_height, level_height: see :func:`building_heights` [m].
        location_index: pyosmium's node-location store ("flex_mem"; for planet-
            sized files a disk-backed one such as "dense_mmap_array").

    Raises:
        InputError: a missing or unreadable file, malformed XML (with its line
            and column), a PBF that ends early.
    """
    import osmium

    path = regular_file(path)
    bounds = _header_bounds(path)
    c = _Collector()
    _apply(path, osmium.osm.RELATION, c)
    index = osmium.index.create_map(location_index)
    locations = osmium.NodeLocationsForWays(index)
    locations.ignore_errors()
    _apply(path, osmium.osm.NODE | osmium.osm.WAY, locations, c)
    del index, locations
    c.assemble_relations()
    if bounds is None:
        if not np.isfinite(c.lon_range[0]):
            raise InputError(path, "", "the file holds no buildings, roads or areas and no <bounds>")
        bounds = (c.lon_range[0], c.lat_range[0], c.lon_range[1], c.lat_range[1])
    scene_crs = metric_crs(crs, 0.5 * (bounds[0] + bounds[2]), 0.5 * (bounds[1] + bounds[3]), "crs")
    x, y = transform("EPSG:4326", scene_crs, np.frombuffer(c.lon), np.frombuffer(c.lat))
    xy = np.column_stack([x, y]) if len(x) else np.zeros((0, 2))
    return _build(c, xy, scene_crs, bounds, default_height, level_height)


def _build(c: _Collector, xy: np.ndarray, crs: str, bounds, default_height: float, level_height: float) -> OsmData:
    buildings: list[Building] = []
    parts: list[Building] = []
    roads: list[Road] = []
    areas: list[tuple[float, FrictionZone]] = []
    water: list[tuple[float, np.ndarray]] = []
    counts = dict(c.counts)
    counts.update(dict.fromkeys(("buildings", "building_relations", "building_parts", "roads", "land_use_areas",
                                 "height_from_height", "height_from_levels", "height_from_default", "footprints_dropped"), 0))
    ids = np.frombuffer(c.ids, dtype=np.int64)
    for k in range(len(c.features)):
        f, c.features[k] = c.features[k], None  # free each feature as it becomes Scene parts
        if f.kind == _KIND_ROAD:
            counts["roads"] += 1
            width = float(_road_width(f.tags))
            for j, (a, b, _) in enumerate(f.parts):
                roads.append(Road(xy[a:b].copy(), ids[a:b].copy(), f.tags["highway"], width, f.tags.get("name", ""),
                                  f.ident if j == 0 else f"{f.ident}/{j + 1}"))
            continue
        if f.kind == _KIND_AREA:
            name, n = _manning(f.tags)
            counts["land_use_areas"] += 1
            is_water = any(f.tags.get(k) == v for k, v in WATER_TAGS)
            for a, b, _ in f.parts:
                ring = xy[a:b].copy()
                area = abs(shapely.area(shapely.Polygon(ring)))
                areas.append((area, FrictionZone(ring, float(n), name)))
                if is_water:
                    water.append((area, ring))
            continue
        height, low, source = building_heights(f.tags, default_height=default_height, level_height=level_height)
        target = buildings if f.kind == _KIND_BUILDING else parts
        counts["buildings" if f.kind == _KIND_BUILDING else "building_parts"] += 1
        if f.kind == _KIND_BUILDING:
            counts[f"height_from_{source}"] += 1
            counts["building_relations"] += f.ident.startswith("r")
        kind = f.tags.get("building" if f.kind == _KIND_BUILDING else "building:part", "")
        pieces = [p for a, b, holes in f.parts for p in clean_footprint(xy[a:b], [xy[h0:h1] for h0, h1 in holes])]
        counts["footprints_dropped"] += not pieces
        for j, (shell, holes) in enumerate(pieces):
            target.append(Building(shell, height, f.ident if j == 0 else f"{f.ident}/{j + 1}", min_height=low,
                                   kind=kind, holes=holes))
    counts["vertices"] = len(xy)
    corners_lon = np.array([bounds[0], bounds[2], bounds[2], bounds[0]])
    corners_lat = np.array([bounds[1], bounds[1], bounds[3], bounds[3]])
    t = np.linspace(0.0, 1.0, 65)
    edge_lon = np.concatenate([corners_lon[k] + t * (corners_lon[(k + 1) % 4] - corners_lon[k]) for k in range(4)])
    edge_lat = np.concatenate([corners_lat[k] + t * (corners_lat[(k + 1) % 4] - corners_lat[k]) for k in range(4)])
    ex, ey = transform("EPSG:4326", crs, edge_lon, edge_lat)
    extent = (float(ex.min()), float(ey.min()), float(ex.max()), float(ey.max()))
    areas.sort(key=lambda a: -a[0])
    water.sort(key=lambda a: -a[0])
    counts["water_bodies"] = len(water)
    return OsmData(crs, tuple(float(v) for v in bounds), extent, buildings, parts, roads, [z for _, z in areas], counts,
                   [w for _, w in water])


# --- the road graph -----------------------------------------------------------------------------


@dataclass
class RoadGraph:
    """Roads split at junctions.

    Attributes:
        nodes: junctions and road ends [m], shape (k, 2).
        node_ids: their OSM node ids, shape (k,) int64.
        edges: (from, to) indices into ``nodes``, shape (m, 2) int64.
        road: index into the roads list of the road each edge follows, shape (m,).
        length: edge length along the road [m], shape (m,).
    """

    nodes: np.ndarray
    node_ids: np.ndarray
    edges: np.ndarray
    road: np.ndarray
    length: np.ndarray


def road_graph(roads: list[Road]) -> RoadGraph:
    """The graph of ``roads``: a node at every vertex shared by two roads (or twice by one) and at road ends."""
    if not roads:
        return RoadGraph(np.zeros((0, 2)), np.zeros(0, np.int64), np.zeros((0, 2), np.int64), np.zeros(0, np.int64), np.zeros(0))
    all_ids = np.concatenate([r.nodes for r in roads])
    uniq, uses = np.unique(all_ids, return_counts=True)
    shared = set(uniq[uses > 1].tolist())
    node_of: dict[int, int] = {}
    nodes, node_ids, edges, which, length = [], [], [], [], []

    def node(nid: int, p: np.ndarray) -> int:
        k = node_of.get(nid)
        if k is None:
            k = node_of[nid] = len(nodes)
            nodes.append(p)
            node_ids.append(nid)
        return k

    for r_index, r in enumerate(roads):
        seg = np.hypot(*np.diff(r.points, axis=0).T)
        start, run = 0, 0.0
        for k in range(1, len(r.nodes)):
            run += seg[k - 1]
            if k == len(r.nodes) - 1 or int(r.nodes[k]) in shared:
                edges.append((node(int(r.nodes[start]), r.points[start]), node(int(r.nodes[k]), r.points[k])))
                which.append(r_index)
                length.append(run)
                start, run = k, 0.0
    return RoadGraph(np.array(nodes), np.array(node_ids, np.int64), np.array(edges, np.int64),
                     np.array(which, np.int64), np.array(length))

"""The Scene: what the world *is*, georeferenced, on the host, in SI units.

A Scene lives in one projected, metric CRS (an EPSG code) and keeps every
coordinate in that CRS as float64 metres. ``origin`` is a point of the CRS near
the scene that solvers subtract before going to float32, so that a 1 m grid in
UTM (x ~ 4e5 m) keeps centimetre precision on the device.

Scenes save to and load from a single ``.twin`` file (see :func:`save_scene`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import shapely

from twin.errors import InputError

__all__ = [
    "Boundary",
    "Building",
    "FrictionZone",
    "GriddedField",
    "Heightfield",
    "Inflow",
    "InitialWater",
    "LossZone",
    "Probe",
    "Rain",
    "Road",
    "Scene",
    "SurfaceMesh",
    "TimeSeries",
    "load_scene",
    "save_scene",
]

EDGES = ("west", "east", "south", "north")
DEFAULT_START_TIME = "2000-01-01T00:00:00Z"
"""The scene's ``start_time`` when none is given: simulated time 0 is this instant (UTC)."""
BOUNDARY_KINDS = ("wall", "transmissive", "stage", "discharge")


@dataclass
class TimeSeries:
    """A piecewise-linear function of time, held constant outside its range.

    Attributes:
        times: sample times [s], shape (n,), strictly increasing.
        values: values at those times, shape (n,), in the unit of the owner.
    """

    times: np.ndarray
    values: np.ndarray

    def __post_init__(self):
        self.times = np.atleast_1d(np.asarray(self.times, dtype=np.float64))
        self.values = np.atleast_1d(np.asarray(self.values, dtype=np.float64))
        if self.times.shape != self.values.shape or self.times.ndim != 1:
            raise InputError("time series", "", f"times {self.times.shape} and values {self.values.shape} differ in shape")
        if self.times.size > 1 and np.any(np.diff(self.times) <= 0):
            raise InputError("time series", "", "times must be strictly increasing")
        if not (np.all(np.isfinite(self.times)) and np.all(np.isfinite(self.values))):
            raise InputError("time series", "", "times and values must be finite")

    @classmethod
    def constant(cls, value: float) -> "TimeSeries":
        return cls(np.zeros(1), np.array([float(value)]))

    def __call__(self, t: float) -> float:
        """Value at time ``t`` [s]."""
        return float(np.interp(t, self.times, self.values))


@dataclass
class Heightfield:
    """A regular raster of heights (a DEM).

    Attributes:
        elevation: heights [m], shape (ny, nx), float64; row 0 is the *southern*
            row (y grows with the row index); NaN where there is no data.
        x0, y0: lower-left corner of the lower-left cell [m, scene CRS].
        dx, dy: cell size [m].
    """

    elevation: np.ndarray
    x0: float
    y0: float
    dx: float
    dy: float

    @property
    def shape(self) -> tuple[int, int]:
        return self.elevation.shape

    @property
    def extent(self) -> tuple[float, float, float, float]:
        """(xmin, ymin, xmax, ymax) [m]."""
        ny, nx = self.elevation.shape
        return (self.x0, self.y0, self.x0 + nx * self.dx, self.y0 + ny * self.dy)

    def sample(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Bilinear heights [m] at points (x, y) [m], any matching shapes.

        Cell values sit at cell centres; points beyond the outermost centres take
        the edge value. NaN (no data) propagates.
        """
        ny, nx = self.elevation.shape
        fx = np.clip((np.asarray(x, dtype=np.float64) - self.x0) / self.dx - 0.5, 0.0, nx - 1.0)
        fy = np.clip((np.asarray(y, dtype=np.float64) - self.y0) / self.dy - 0.5, 0.0, ny - 1.0)
        i0 = np.minimum(np.floor(fx).astype(np.int64), max(nx - 2, 0))
        j0 = np.minimum(np.floor(fy).astype(np.int64), max(ny - 2, 0))
        i1 = np.minimum(i0 + 1, nx - 1)
        j1 = np.minimum(j0 + 1, ny - 1)
        tx = fx - i0
        ty = fy - j0
        e = self.elevation
        return (
            (1 - ty) * ((1 - tx) * e[j0, i0] + tx * e[j0, i1])
            + ty * ((1 - tx) * e[j1, i0] + tx * e[j1, i1])
        )


@dataclass
class SurfaceMesh:
    """Triangulated 3-D surfaces of one object (a CityJSON LoD1/LoD2 building).

    Attributes:
        vertices: [m, scene CRS; z is elevation], shape (n, 3) float64.
        triangles: vertex indices, shape (m, 3) int32, wound as the source's faces
            (counter-clockwise seen from outside in a valid CityJSON solid).
        surface: what each triangle is, shape (m,) int8: ``GROUND``, ``WALL``,
            ``ROOF`` or ``OTHER``.
    """

    GROUND = 0
    WALL = 1
    ROOF = 2
    OTHER = 3
    NAMES = ("ground", "wall", "roof", "other")

    vertices: np.ndarray
    triangles: np.ndarray
    surface: np.ndarray


@dataclass
class Building:
    """A building footprint, extruded.

    Attributes:
        footprint: polygon vertices [m, scene CRS], shape (n, 2); closed or not.
        height: height of the top above the ground [m].
        name: identifier (e.g. the source file's stem or an OSM id).
        base: elevation of the ground under the building [m] (the lowest ground
            under the footprint), or None when not draped on a terrain yet.
        min_height: height of the underside above the base [m] (> 0 for a part
            that floats: a bridge between towers, a tower's upper section).
        kind: what the source calls it (OSM ``building=*`` value, CityJSON type).
        holes: inner rings (courtyards) [m, scene CRS], each shape (k, 2).
        mesh: the source's 3-D surfaces (roof, wall, ground), or None for a
            plain extrusion of the footprint.
    """

    footprint: np.ndarray
    height: float
    name: str = ""
    base: float | None = None
    min_height: float = 0.0
    kind: str = ""
    holes: list[np.ndarray] = field(default_factory=list)
    mesh: SurfaceMesh | None = None


@dataclass
class FrictionZone:
    """A land-cover polygon with its Manning roughness.

    Attributes:
        polygon: vertices [m, scene CRS], shape (n, 2).
        manning_n: Manning's n [s m^-1/3].
        name: e.g. "road".
    """

    polygon: np.ndarray
    manning_n: float
    name: str = ""


@dataclass
class Road:
    """A road centreline; roads that share a vertex id meet there (the road graph).

    Attributes:
        points: vertices [m, scene CRS], shape (n, 2), n >= 2.
        nodes: id of each vertex, shape (n,) int64 (OSM node ids).
        kind: the road class (OSM ``highway=*``, e.g. "residential").
        width: estimated width of the paved surface [m].
        name: the street name, or "".
        ident: the source's id (e.g. "w123").
    """

    points: np.ndarray
    nodes: np.ndarray
    kind: str
    width: float
    name: str = ""
    ident: str = ""


@dataclass
class Inflow:
    """Water injected inside a circle or a polygon (a pipe outlet, a burst main, a culvert).

    Attributes:
        name: identifier.
        center: (x, y) [m, scene CRS].
        radius: [m]; the cells whose centres lie inside receive the water, spread
            evenly per unit area.
        discharge: discharge [m^3/s] over time [s].
        polygon: optional area [m, scene CRS], shape (n, 2); when given, the cells
            whose centres lie inside it receive the water instead of the circle's.
    """

    name: str
    center: tuple[float, float]
    radius: float
    discharge: TimeSeries
    polygon: np.ndarray | None = None


@dataclass
class Rain:
    """Rain over the whole domain (or inside ``polygon`` when given): a uniform
    intensity series or a gridded field over time.

    Attributes:
        intensity: rain intensity [mm/h] over time [s]; None when ``field`` is given.
        polygon: optional area [m, scene CRS], shape (n, 2).
        infiltration: constant loss rate [mm/h] where it rains, taken only
            from water present.
        field: a gridded precipitation field over time (``twin.io.weather``):
            dims ("time", latitude/y, longitude/x), a rate [m s-1] or an amount [m]
            (amounts are differenced to rates, see ``accumulation``); regridded
            bilinearly to the solver's cell centres and interpolated linearly in
            time on the device; no rain before its first or after its last time.
        field_start: the field's time [s since 1970-01-01 UTC] at the run's t = 0;
            None: its first time.
        accumulation: for an amount field: "running" (a total since a fixed
            start, differenced between times) or "interval" (each value is the
            amount fallen since the previous time).
    """

    intensity: TimeSeries | None = None
    polygon: np.ndarray | None = None
    infiltration: float = 0.0
    field: "GriddedField | None" = None
    field_start: float | None = None
    accumulation: str = "running"

    def __post_init__(self):
        if (self.intensity is None) == (self.field is None):
            raise InputError("rain", "", "give either a uniform intensity series or a gridded field, not both or neither")
        if self.accumulation not in ("running", "interval"):
            raise InputError("rain", "accumulation", f"expected 'running' or 'interval', got {self.accumulation!r}")
        if not (np.isfinite(self.infiltration) and self.infiltration >= 0):
            raise InputError("rain", "infiltration", f"must be a non-negative rate [mm/h], got {self.infiltration}")


@dataclass
class LossZone:
    """A land-use polygon with the ARR initial and continuing loss model: the first
    ``initial_loss`` of water present in a cell is absorbed at once, then water is
    lost at ``continuing_loss`` (both only from water present, like
    ``Rain.infiltration``, whose losses count towards the initial loss).

    Attributes:
        polygon: vertices [m, scene CRS], shape (n, 2).
        initial_loss: [mm].
        continuing_loss: [mm/h].
        name: e.g. "pervious".
    """

    polygon: np.ndarray
    initial_loss: float
    continuing_loss: float
    name: str = ""

    def __post_init__(self):
        for what, v in (("initial_loss", self.initial_loss), ("continuing_loss", self.continuing_loss)):
            if not (np.isfinite(v) and v >= 0):
                raise InputError(f"loss zone {self.name!r}", what, f"must be a non-negative number, got {v}")


@dataclass
class Boundary:
    """What happens at one domain edge, or on a stretch of it.

    Attributes:
        kind: "wall" (reflective), "transmissive" (free outflow), "stage"
            (prescribed water-surface elevation [m]) or "discharge" (prescribed
            inflow [m^3/s], positive into the domain).
        series: the stage [m] or discharge [m^3/s] over time; None for wall and
            transmissive.
        span: (a, b) [m] along the edge, a < b, measured from the edge's start
            (west and east edges run south to north, south and north edges west
            to east); None: the whole edge. A whole-edge discharge is spread
            evenly over the edge's length; a span's over the wet cells of the span
            (over its lowest open cell while none is wet).
    """

    kind: str = "wall"
    series: TimeSeries | None = None
    span: tuple[float, float] | None = None

    def __post_init__(self):
        if self.kind not in BOUNDARY_KINDS:
            raise InputError("boundary", "", f"unknown boundary kind {self.kind!r}; expected one of {', '.join(BOUNDARY_KINDS)}")
        if self.kind in ("stage", "discharge") and self.series is None:
            raise InputError("boundary", "", f"a {self.kind} boundary needs a time series")
        if self.span is not None:
            a, b = (float(v) for v in self.span)
            if not (np.isfinite(a) and np.isfinite(b) and a < b):
                raise InputError("boundary", "span", f"expected (a, b) in metres with a < b, got {tuple(self.span)}")
            self.span = (a, b)


@dataclass
class GriddedField:
    """A gridded physical field with named dimensions (a weather variable).

    Attributes:
        name: the variable's name (e.g. "u-component_of_wind_isobaric").
        units: the values' unit (SI after import: "K", "Pa", "m s-1", "m").
        dims: dimension names, e.g. ("time", "pressure", "latitude", "longitude")
            on the file's grid or ("time", "pressure", "y", "x") on the scene's.
        coords: dimension name -> 1-D coordinate values: "time" [s since
            1970-01-01 UTC], "pressure" [Pa], "height" [m], "latitude" and
            "longitude" [degrees, ascending], "x" and "y" [m, ``crs``, ascending].
        values: shape (len(coords[d]) for d in dims), float64, NaN where missing.
        crs: "EPSG:<code>" of the horizontal coordinates.
        standard_name: the CF standard name, or "".
    """

    name: str
    units: str
    dims: tuple[str, ...]
    coords: dict[str, np.ndarray]
    values: np.ndarray
    crs: str
    standard_name: str = ""

    def __post_init__(self):
        self.dims = tuple(self.dims)
        self.coords = {d: np.asarray(self.coords[d], dtype=np.float64) for d in self.dims}
        self.values = np.asarray(self.values, dtype=np.float64)
        shape = tuple(len(self.coords[d]) for d in self.dims)
        if self.values.shape != shape:
            raise InputError("field " + self.name, "", f"values have shape {self.values.shape}, the coordinates {shape}")


@dataclass
class InitialWater:
    """Water already there when a run starts (a sea, a river at its base flow, a lake, a reservoir).

    Attributes:
        stage: the water level [m]: one number, or a :class:`Heightfield` of levels
            sampled bilinearly at cell centres (NaN there: this entry leaves the cell
            as the earlier entries made it).
        polygon: the area it fills [m, scene CRS], shape (n, 2); None: the whole domain.

    A cell takes the level of the last entry of ``Scene.initial_water`` whose
    polygon holds its centre; where that level is at or below the bed the cell is
    dry. The water starts at rest.
    """

    stage: float | Heightfield
    polygon: np.ndarray | None = None

    def __post_init__(self):
        if not isinstance(self.stage, Heightfield):
            self.stage = float(self.stage)
            if not np.isfinite(self.stage):
                raise InputError("initial water", "stage", f"level {self.stage} is not finite")
        if self.polygon is not None:
            self.polygon = np.asarray(self.polygon, dtype=np.float64)
            if self.polygon.ndim != 2 or self.polygon.shape[1] != 2 or len(self.polygon) < 3 or not np.isfinite(self.polygon).all():
                raise InputError("initial water", "polygon", f"expected (n >= 3, 2) finite vertices, got shape {self.polygon.shape}")


@dataclass
class Probe:
    """A named observation point [m, scene CRS]."""

    name: str
    x: float
    y: float


@dataclass
class Scene:
    """A georeferenced twin of a place, ready to rasterise onto a solver grid.

    Attributes:
        name: the scene's name.
        crs: the projected CRS, "EPSG:<code>"; every coordinate here is in it.
        origin: (x, y) [m] subtracted before single-precision arithmetic.
        extent: the simulated rectangle (xmin, ymin, xmax, ymax) [m].
        terrain: the ground heightfield.
        buildings, friction_zones, inflows, probes: as their classes say.
        default_manning: Manning's n outside every friction zone [s m^-1/3].
        rain: optional rain (and infiltration).
        loss_zones: ARR initial and continuing losses by land use; later zones
            override earlier ones where they overlap.
        boundaries: edge name ("west", "east", "south", "north") -> a Boundary,
            or a list of Boundaries on non-overlapping spans of the edge (a wall
            where none applies).
        roads: road centrelines (the road graph), for renderers and USD.
        building_parts: 3-D detail of buildings (OSM ``building:part``) for
            renderers and USD; solvers use ``buildings`` only.
        fields: gridded fields with time (weather), by name.
        initial_water: the water at the start, in order (later entries override
            earlier ones inside their polygons); empty: the run starts dry.
        start_time: the instant simulated time 0 stands for, an ISO 8601
            timestamp ("2007-06-08T14:00:00+10:00"; UTC when it names no zone);
            Results count time in "seconds since" it. Default
            :data:`DEFAULT_START_TIME`.
    """

    name: str
    crs: str
    origin: tuple[float, float]
    extent: tuple[float, float, float, float]
    terrain: Heightfield
    buildings: list[Building] = field(default_factory=list)
    friction_zones: list[FrictionZone] = field(default_factory=list)
    default_manning: float = 0.03
    inflows: list[Inflow] = field(default_factory=list)
    rain: Rain | None = None
    probes: list[Probe] = field(default_factory=list)
    boundaries: dict[str, "Boundary | list[Boundary]"] = field(default_factory=lambda: {e: Boundary() for e in EDGES})
    roads: list[Road] = field(default_factory=list)
    building_parts: list[Building] = field(default_factory=list)
    fields: dict[str, GriddedField] = field(default_factory=dict)
    loss_zones: list[LossZone] = field(default_factory=list)
    initial_water: list[InitialWater] = field(default_factory=list)
    start_time: str = DEFAULT_START_TIME

    def edge_length(self, edge: str) -> float:
        """Length [m] of an edge of the extent."""
        xmin, ymin, xmax, ymax = self.extent
        return ymax - ymin if edge in ("west", "east") else xmax - xmin

    def edge_boundaries(self, edge: str) -> list[Boundary]:
        """The boundaries of ``edge`` as a list (one entry with ``span`` None: the whole edge)."""
        b = self.boundaries[edge]
        return list(b) if isinstance(b, (list, tuple)) else [b]

    def _check_spans(self, edge: str) -> None:
        """One-line InputError for a span outside its edge or spans that overlap."""
        bs = self.edge_boundaries(edge)
        length = self.edge_length(edge)
        tol = 1e-9 * length
        spans = []
        for n, b in enumerate(bs):
            where = f"boundary {edge}[{n}]"
            if not isinstance(b, Boundary):
                raise InputError("scene " + self.name, where, f"expected a Boundary, got {type(b).__name__}")
            if b.span is None:
                if len(bs) > 1:
                    raise InputError("scene " + self.name, where, "covers the whole edge and so overlaps the edge's other boundaries; give it a span")
                continue
            a, e = b.span
            if a < -tol or e > length + tol:
                raise InputError("scene " + self.name, where, f"span ({a:g}, {e:g}) m lies outside the edge (0 .. {length:g} m)")
            spans.append((a, e, n))
        spans.sort()
        for (a0, e0, n0), (a1, e1, n1) in zip(spans, spans[1:]):
            if a1 < e0 - tol:
                raise InputError("scene " + self.name, f"boundary {edge}[{n1}]", f"span ({a1:g}, {e1:g}) m overlaps {edge}[{n0}] ({a0:g}, {e0:g}) m")

    def __post_init__(self):
        utc_time(self.start_time, "scene " + self.name)
        for edge in EDGES:
            self.boundaries.setdefault(edge, Boundary())
        unknown = set(self.boundaries) - set(EDGES)
        if unknown:
            raise InputError("scene " + self.name, "boundaries", f"unknown edge {sorted(unknown)[0]!r}; expected one of {', '.join(EDGES)}")
        xmin, ymin, xmax, ymax = self.extent
        if not (xmax > xmin and ymax > ymin):
            raise InputError("scene " + self.name, "extent", f"empty rectangle {self.extent}")
        for edge in EDGES:
            self._check_spans(edge)
        for p in self.probes:
            if not (xmin <= p.x <= xmax and ymin <= p.y <= ymax):
                raise InputError("scene " + self.name, f"probe {p.name!r}", f"point ({p.x}, {p.y}) lies outside the domain {self.extent}")
        for s in self.inflows:
            if not (xmin <= s.center[0] <= xmax and ymin <= s.center[1] <= ymax):
                raise InputError("scene " + self.name, f"inflow {s.name!r}", f"centre {s.center} lies outside the domain {self.extent}")
        if self.default_manning < 0 or any(z.manning_n < 0 for z in self.friction_zones):
            raise InputError("scene " + self.name, "friction", "Manning's n must not be negative")
        for k, w in enumerate(self.initial_water):
            _check_initial_water(self, k, w)


def _check_initial_water(scene: Scene, k: int, w: InitialWater) -> None:
    """Refuse an initial-water entry whose polygon is invalid or misses the domain, or whose
    stage raster does not cover the part of the domain it applies to."""
    where = f"initial_water[{k}]"
    area = shapely.box(*scene.extent)
    if w.polygon is not None:
        poly = shapely.Polygon(w.polygon)
        if not poly.is_valid:
            raise InputError("scene " + scene.name, where, f"the polygon is invalid ({shapely.is_valid_reason(poly)}); repair it, e.g. with shapely.make_valid")
        area = area.intersection(poly)
        if area.is_empty or area.area == 0:
            raise InputError("scene " + scene.name, where, f"the polygon {poly.bounds} lies outside the domain {scene.extent}")
    if isinstance(w.stage, Heightfield):
        xmin, ymin, xmax, ymax = area.bounds
        sx0, sy0, sx1, sy1 = w.stage.extent
        if xmin < sx0 or ymin < sy0 or xmax > sx1 or ymax > sy1:
            raise InputError("scene " + scene.name, where + ".stage",
                             f"the stage raster {w.stage.extent} does not cover the area it fills {(xmin, ymin, xmax, ymax)}")


def utc_time(text: str, source: str = "start_time") -> dt.datetime:
    """The UTC instant of an ISO 8601 timestamp (UTC when it names no zone)."""
    try:
        t = dt.datetime.fromisoformat(str(text).strip())
    except ValueError:
        raise InputError(source, "start_time", f"{text!r} is not an ISO 8601 timestamp (e.g. 2007-06-08T04:00:00Z)") from None
    return t.replace(tzinfo=dt.timezone.utc) if t.tzinfo is None else t.astimezone(dt.timezone.utc)


# --- saving and loading -------------------------------------------------------------
# A .twin file is a zip archive: ``scene.json`` holds everything but the terrain,
# with floats written by Python's repr (exact round trip); ``terrain.npy`` holds the
# heightfield in NumPy's own format. One file, no extra dependency, and both parts
# readable with standard tools.

FORMAT = "twin.scene/1"


def _encode(obj):
    if isinstance(obj, np.ndarray):
        return {"__array__": obj.tolist(), "dtype": str(obj.dtype)}
    if dataclasses.is_dataclass(obj):
        return {"__type__": type(obj).__name__, **{f.name: _encode(getattr(obj, f.name)) for f in dataclasses.fields(obj)}}
    if isinstance(obj, dict):
        return {k: _encode(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_encode(v) for v in obj]
    return obj


_TYPES = {c.__name__: c for c in (TimeSeries, Building, FrictionZone, Inflow, Rain, Boundary, Probe, Road, SurfaceMesh,
                                   GriddedField, LossZone, Heightfield, InitialWater)}


def _decode(obj, source: str = "scene", where: str = "scene.json"):
    """The objects ``_encode`` wrote; unknown types, unknown or missing fields are InputErrors naming the place."""
    if isinstance(obj, dict):
        if "__array__" in obj:
            try:
                return np.asarray(obj["__array__"], dtype=np.dtype(obj.get("dtype")))
            except (TypeError, ValueError) as e:
                raise InputError(source, where, f"not an array ({e})") from None
        if "__type__" in obj:
            cls = _TYPES.get(obj["__type__"]) if isinstance(obj["__type__"], str) else None
            if cls is None:
                raise InputError(source, where, f"unknown type {obj['__type__']!r} (twin knows {', '.join(_TYPES)})")
            names = {f.name for f in dataclasses.fields(cls)}
            extra = sorted(set(obj) - names - {"__type__"})
            if extra:
                raise InputError(source, where, f"{cls.__name__} has no field {extra[0]!r} (its fields: {', '.join(sorted(names))})")
            try:
                return cls(**{k: _decode(v, source, f"{where}.{k}") for k, v in obj.items() if k != "__type__"})
            except TypeError as e:
                raise InputError(source, where, f"not a {cls.__name__} ({e})") from None
        return {k: _decode(v, source, f"{where}.{k}") for k, v in obj.items()}
    if isinstance(obj, list):
        return [_decode(v, source, f"{where}[{k}]") for k, v in enumerate(obj)]
    return obj


def save_scene(scene: Scene, path: str | Path) -> Path:
    """Write ``scene`` to ``path`` (a ``.twin`` zip); the write is atomic."""
    path = Path(path)
    meta = {f.name: _encode(getattr(scene, f.name)) for f in dataclasses.fields(scene) if f.name != "terrain"}
    t = scene.terrain
    meta["terrain"] = {"x0": t.x0, "y0": t.y0, "dx": t.dx, "dy": t.dy}
    meta["format"] = FORMAT
    buf = io.BytesIO()
    np.save(buf, t.elevation, allow_pickle=False)
    tmp = path.with_name(path.name + ".partial")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("scene.json", json.dumps(meta, indent=1))
        z.writestr("terrain.npy", buf.getvalue())
    tmp.replace(path)
    return path


def load_scene(path: str | Path) -> Scene:
    """Read a Scene written by :func:`save_scene`.

    Raises:
        InputError: not a regular file, not a zip holding ``scene.json`` and
            ``terrain.npy``, an unknown format, type or field, a missing field, a
            terrain whose corner or cell size is not finite (or a cell size not
            positive), or a scene its own checks refuse.
    """
    from twin.io.checks import ZIP_ERRORS, finite, regular_file  # the io package imports this module

    path = regular_file(path)
    try:
        with zipfile.ZipFile(path) as z:
            meta = json.loads(z.read("scene.json"))
            elevation = np.load(io.BytesIO(z.read("terrain.npy")), allow_pickle=False)
    except (*ZIP_ERRORS, KeyError, json.JSONDecodeError, UnicodeDecodeError, RecursionError) as e:
        raise InputError(path, "", f"not a twin scene file ({str(e)[:200] or type(e).__name__})") from None
    if not isinstance(meta, dict) or meta.pop("format", None) != FORMAT:
        raise InputError(path, "scene.json", f"format is not {FORMAT}")
    where = "scene.json: terrain"
    t = meta.pop("terrain", None)
    if not isinstance(t, dict) or sorted(t) != ["dx", "dy", "x0", "y0"]:
        raise InputError(path, where, "missing, or not {\"x0\", \"y0\", \"dx\", \"dy\"}")
    x0, y0, dx, dy = (float(finite(path, f"{where}.{k}", t[k] if isinstance(t[k], (int, float)) else np.nan, k))
                      for k in ("x0", "y0", "dx", "dy"))
    if not (dx > 0 and dy > 0):
        raise InputError(path, where, f"the cell size must be positive, found dx={dx}, dy={dy}")
    if elevation.ndim != 2 or elevation.dtype.kind != "f" or 0 in elevation.shape:
        raise InputError(path, "terrain.npy", f"expected a 2-D float array of heights, found {elevation.dtype} {elevation.shape}")
    names = {f.name for f in dataclasses.fields(Scene)} - {"terrain"}
    unknown = sorted(set(meta) - names)
    if unknown:
        raise InputError(path, f"scene.json: {unknown[0]}", f"not a field of a scene (its fields: {', '.join(sorted(names))})")
    fields = {k: _decode(v, str(path), f"scene.json: {k}") for k, v in meta.items()}
    try:
        for key in ("origin", "extent"):
            if key in fields:
                fields[key] = tuple(fields[key])
        for s in fields.get("inflows", []):
            s.center = tuple(s.center)
        return Scene(terrain=Heightfield(elevation, x0, y0, dx, dy), **fields)
    except (TypeError, AttributeError, ValueError) as e:
        if isinstance(e, InputError):
            raise InputError(path, e.where or e.source, e.what) from None
        raise InputError(path, "scene.json", f"not a scene ({e})") from None

"""What stays put in a picture: ground, buildings, roads and probes on a display grid.

A :class:`Site` is built from a flood Result (optionally with the Scene it was
run on, for building footprints and roads) or from a Scene alone. It holds
NumPy arrays only; :mod:`twin.viewer.actors` turns it into PyVista meshes. The
ground colours and the sun's shadows are computed here too, so they can be
checked as numbers.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np
import shapely
import xarray as xr

from twin.scene import Scene, SurfaceMesh

__all__ = ["LAND_CLASSES", "Footprint", "Site", "ground_colours", "sun_shadow"]

MAX_POINTS = 1_200_000
"""Most grid points a Scene's terrain is drawn with; a finer DEM is resampled."""

LAND_CLASSES = ("grass", "road", "paved", "water")
"""Land-use classes of the ground, by code (the index): what colours it."""
LAND = {
    "grass": "#7b8c57",
    "road": "#55585c",
    "paved": "#a19c90",
    "water": "#46524b",
    "earth": "#8c7a5b",
}
"""Ground colours (hex) by land-use class, and ``earth`` for steep slopes."""
ZONE_WORDS = (
    ("road", ("road", "street", "highway", "carriageway")),
    ("water", ("water", "canal", "river", "pond")),
    ("paved", ("landuse", "paved", "square", "parking", "pavement", "sidewalk")),
    ("grass", ("plant", "grass", "park", "garden", "vegetation", "meadow")),
)
"""Words in a friction zone's name (case ignored) that give its land-use class."""


@dataclass
class Footprint:
    """One building (or building part) as a prism.

    Attributes:
        xy: outline [m, scene CRS], (n, 2), counter-clockwise, not closed.
        base: height of the walls' foot [m]: a little under the ground, or the
            underside of a part that floats (then ``floats``).
        roof: height of the flat roof [m].
        holes: courtyards, each (k, 2) clockwise, not closed.
        floats: the part floats above the ground (a bridge, an upper section): its underside is drawn.
        kind: what the source calls it (``house``, ``Building``, ...).
    """

    xy: np.ndarray
    base: float
    roof: float
    holes: list[np.ndarray] = field(default_factory=list)
    floats: bool = False
    kind: str = ""


@dataclass
class Site:
    """The ground of a picture on a regular grid of points (the Result's cell centres).

    Attributes:
        title: the scene's name; crs: "EPSG:..."; key: name of the scene script
            (``merewether``) for its camera presets, or "".
        x, y: point coordinates [m, scene CRS], (nx,), (ny,), ascending.
        ground: bare terrain [m], (ny, nx).
        bed: what water flows over [m], (ny, nx): the ground, raised inside buildings.
        building: True inside a building, (ny, nx).
        land: land-use class of each point, index into :data:`LAND_CLASSES`, int8 (ny, nx).
        footprints: buildings as prisms; empty when only the raster ``building`` is known.
        meshes: buildings given as 3-D surfaces by their source (CityJSON), drawn as they are.
        probe_names, probe_xy: named points, (np,) and (np, 2) [m].
        wet_threshold: depth [m] at or below which water is not drawn.
    """

    title: str
    crs: str
    key: str
    x: np.ndarray
    y: np.ndarray
    ground: np.ndarray
    bed: np.ndarray
    building: np.ndarray
    land: np.ndarray
    footprints: list[Footprint] = field(default_factory=list)
    meshes: list[SurfaceMesh] = field(default_factory=list)
    probe_names: list[str] = field(default_factory=list)
    probe_xy: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    wet_threshold: float = 1e-3

    @property
    def shape(self) -> tuple[int, int]:
        return self.ground.shape

    @property
    def spacing(self) -> tuple[float, float]:
        """Point spacing (dx, dy) [m]."""
        return _step(self.x), _step(self.y)

    def every(self, step: int) -> "Site":
        """This site on every ``step``-th grid point (the same site for step 1)."""
        if step == 1:
            return self
        k = slice(None, None, step)
        return dataclasses.replace(self, x=self.x[k], y=self.y[k], ground=self.ground[k, k], bed=self.bed[k, k],
                                   building=self.building[k, k], land=self.land[k, k])

    def cell_of(self, x: float, y: float) -> tuple[int, int]:
        """(j, i) of the grid point nearest to (x, y) [m]."""
        dx, dy = self.spacing
        i = int(np.clip(round((x - self.x[0]) / dx), 0, self.x.size - 1))
        j = int(np.clip(round((y - self.y[0]) / dy), 0, self.y.size - 1))
        return j, i

    @classmethod
    def from_result(cls, ds: xr.Dataset, scene: Scene | None = None, *, key: str = "") -> "Site":
        """The Site of a flood Result; ``scene`` (the one it ran on) adds footprints and roads."""
        names = [str(n) for n in ds["probe"].values] if "probe" in ds.coords else []
        xy = np.column_stack([ds["probe_x"].values, ds["probe_y"].values]) if names else np.zeros((0, 2))
        return cls.from_grid(ds["x"].values, ds["y"].values, ds["ground_elevation"].values, ds["bed_elevation"].values,
                             ds["building"].values, title=str(ds.attrs.get("title", "Flood")),
                             crs=str(ds.attrs.get("crs", "")), scene=scene, key=key, probe_names=names, probe_xy=xy,
                             wet_threshold=float(ds.attrs.get("wet_threshold_m", 1e-3)))

    @classmethod
    def from_grid(cls, x: np.ndarray, y: np.ndarray, ground: np.ndarray, bed: np.ndarray, building: np.ndarray, *,
                  title: str, crs: str, scene: Scene | None = None, key: str = "", probe_names: list[str] | None = None,
                  probe_xy: np.ndarray | None = None, wet_threshold: float = 1e-3) -> "Site":
        """The Site of a solver grid: cell centres x (nx,), y (ny,) [m], ground, bed [m] and building mask (ny, nx).

        ``scene`` adds buildings, land use and roads, and the probes when none are given.
        """
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        ground = _filled(ground)
        if probe_names is None and scene is not None:
            probe_names, probe_xy = [p.name for p in scene.probes], np.array([[p.x, p.y] for p in scene.probes])
        site = cls(title=title, crs=crs, key=key, x=x, y=y, ground=ground, bed=_filled(bed),
                   building=np.asarray(building).astype(bool), land=np.zeros(ground.shape, np.int8),
                   probe_names=list(probe_names or []),
                   probe_xy=np.zeros((0, 2)) if probe_xy is None else np.asarray(probe_xy, np.float64).reshape(-1, 2),
                   wet_threshold=wet_threshold)
        if scene is not None:
            site.land = _land_use(scene, x, y)
            site.footprints, site.meshes = _buildings(scene, x, y, ground)
        return site

    @classmethod
    def from_scene(cls, scene: Scene, *, key: str = "", max_points: int = MAX_POINTS) -> "Site":
        """The Site of a Scene: its terrain sampled at about its own resolution (at most ``max_points`` points)."""
        xmin, ymin, xmax, ymax = scene.extent
        t = scene.terrain
        step = max(min(t.dx, t.dy), math.sqrt((xmax - xmin) * (ymax - ymin) / max_points))
        nx, ny = max(2, round((xmax - xmin) / step)), max(2, round((ymax - ymin) / step))
        x = xmin + (np.arange(nx) + 0.5) * (xmax - xmin) / nx
        y = ymin + (np.arange(ny) + 0.5) * (ymax - ymin) / ny
        xx, yy = np.meshgrid(x, y)
        ground = _filled(t.sample(xx, yy))
        footprints, meshes = _buildings(scene, x, y, ground)
        building = np.zeros(ground.shape, bool)
        bed = ground.copy()
        for b in scene.buildings:
            if b.min_height > 0:
                continue
            inside = _inside(b.footprint, x, y, b.holes)
            building |= inside
            bed[inside] = ground[inside] + b.height
        return cls(
            title=scene.name, crs=scene.crs, key=key, x=x, y=y, ground=ground, bed=bed, building=building,
            land=_land_use(scene, x, y), footprints=footprints, meshes=meshes,
            probe_names=[p.name for p in scene.probes],
            probe_xy=np.array([[p.x, p.y] for p in scene.probes]).reshape(-1, 2),
        )


def ground_colours(site: Site, style: str = "landuse") -> np.ndarray:
    """Albedo of the ground points, (ny, nx, 3) in [0, 1], before any lighting.

    ``landuse``: grass, turning to bare earth on steep slopes, then roads,
    paving and the beds of water bodies by :attr:`Site.land`, with a faint
    fixed mottle; ``hillshade``: light grey relief shaded by a north-west sun
    (for plan views).
    """
    dx, dy = site.spacing
    if style == "hillshade":
        from twin.viewer.flood_maps import hillshade

        shade = hillshade(site.ground, dx, dy)
        return np.repeat((0.35 + 0.6 * shade)[..., None], 3, axis=2)
    if style != "landuse":
        raise KeyError(f"unknown ground style {style!r}; expected landuse or hillshade")
    gy, gx = np.gradient(site.ground, dy, dx)
    steep = np.clip((np.hypot(gx, gy) - 0.25) / 0.5, 0.0, 1.0)[..., None]
    colours = (1 - steep) * _rgb(LAND["grass"]) + steep * _rgb(LAND["earth"])
    for code, name in enumerate(LAND_CLASSES[1:], start=1):
        weight = _soften(site.land == code)[..., None]  # edges blend over a point, not a staircase
        colours = (1 - weight) * colours + weight * _rgb(LAND[name])
    return np.clip(colours * (1.0 + 0.06 * _mottle(site.shape)[..., None]), 0.0, 1.0)


def sun_shadow(height: np.ndarray, dx: float, dy: float, *, azimuth: float, elevation: float,
               softness: float = 0.5, reach: float | None = None) -> np.ndarray:
    """Light of a distant sun reaching each point of a heightfield: 1 lit, 0 in full shadow.

    Args:
        height: heights [m], (ny, nx), row 0 in the south.
        dx, dy: point spacing [m].
        azimuth: compass bearing the sun shines from [deg]; elevation: above the horizon [deg].
        softness: height [m] by which the terrain must rise above the ray to the
            sun to cast full shadow (a penumbra; 0 gives hard edges).
        reach: how far [m] to look towards the sun; by default as far as the
            highest point can cast a shadow.

    Returns:
        (ny, nx) in [0, 1].
    """
    z = np.asarray(height, dtype=np.float64)
    az, el = math.radians(azimuth), math.radians(elevation)
    slope = math.tan(el)
    if reach is None:
        reach = (float(z.max() - z.min()) + softness) / max(slope, 1e-6)
    step = 0.5 * min(dx, dy)
    ux, uy = math.sin(az) * step / dx, math.cos(az) * step / dy  # grid steps towards the sun
    ny, nx = z.shape
    jj, ii = np.indices(z.shape, dtype=np.float64)
    excess = np.full(z.shape, -np.inf)
    for k in range(1, int(reach / step) + 1):
        fi, fj = ii + k * ux, jj + k * uy
        inside = (fi >= -1e-6) & (fi <= nx - 1 + 1e-6) & (fj >= -1e-6) & (fj <= ny - 1 + 1e-6)
        if not inside.any():
            break
        h = _bilinear(z, np.clip(fi, 0, nx - 1), np.clip(fj, 0, ny - 1))
        excess = np.maximum(excess, np.where(inside, h - (z + k * step * slope), -np.inf))
    if softness <= 0:
        return (excess <= 0).astype(np.float64)
    return np.clip(1.0 - excess / softness, 0.0, 1.0)


def _bilinear(z: np.ndarray, fi: np.ndarray, fj: np.ndarray) -> np.ndarray:
    """``z`` (ny, nx) at fractional indices (fi along x, fj along y)."""
    ny, nx = z.shape
    i0 = np.minimum(fi.astype(np.intp), nx - 2) if nx > 1 else np.zeros(fi.shape, np.intp)
    j0 = np.minimum(fj.astype(np.intp), ny - 2) if ny > 1 else np.zeros(fj.shape, np.intp)
    tx, ty = fi - i0, fj - j0
    i1, j1 = np.minimum(i0 + 1, nx - 1), np.minimum(j0 + 1, ny - 1)
    return (1 - ty) * ((1 - tx) * z[j0, i0] + tx * z[j0, i1]) + ty * ((1 - tx) * z[j1, i0] + tx * z[j1, i1])


def _soften(mask: np.ndarray) -> np.ndarray:
    """A mask (ny, nx) as weights in [0, 1]: its 3 x 3 mean, edges repeated."""
    ny, nx = mask.shape
    p = np.pad(mask.astype(np.float64), 1, mode="edge")
    return sum(p[j : j + ny, i : i + nx] for j in range(3) for i in range(3)) / 9.0


def _mottle(shape: tuple[int, int]) -> np.ndarray:
    """A fixed smooth pattern in about [-1, 1], (ny, nx): variation of the ground's colour."""
    j, i = np.indices(shape, dtype=np.float64)
    return (np.sin(0.21 * i + 1.3 * np.sin(0.05 * j)) * np.cos(0.17 * j + 0.8 * np.sin(0.07 * i))
            + 0.5 * np.sin(0.61 * i + 0.43 * j)) / 1.5


def _rgb(hex_colour: str) -> np.ndarray:
    return np.array([int(hex_colour[k : k + 2], 16) / 255.0 for k in (1, 3, 5)])


def _step(centres: np.ndarray) -> float:
    return float((centres[-1] - centres[0]) / (centres.size - 1)) if centres.size > 1 else 1.0


def _filled(values: np.ndarray) -> np.ndarray:
    """Heights [m] as float64 with NaN replaced by the lowest finite height."""
    z = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(z)
    return np.where(finite, z, z[finite].min() if finite.any() else 0.0)


def _inside(polygon, x: np.ndarray, y: np.ndarray, holes: list[np.ndarray] | None = None) -> np.ndarray:
    """True at the grid points (x (nx,), y (ny,)) inside ``polygon`` ((n, 2) with ``holes``, or a shapely geometry), (ny, nx)."""
    shape = polygon if isinstance(polygon, shapely.Geometry) else shapely.Polygon(polygon, holes or None)
    xmin, ymin, xmax, ymax = shape.bounds
    inside = np.zeros((y.size, x.size), bool)
    i0, i1 = np.searchsorted(x, xmin), np.searchsorted(x, xmax, side="right")
    j0, j1 = np.searchsorted(y, ymin), np.searchsorted(y, ymax, side="right")
    if i1 > i0 and j1 > j0:
        xx, yy = np.meshgrid(x[i0:i1], y[j0:j1])
        inside[j0:j1, i0:i1] = shapely.contains_xy(shape, xx, yy)
    return inside


def _land_use(scene: Scene, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Land-use class (index into :data:`LAND_CLASSES`) of the grid points, int8 (ny, nx).

    From the friction zones' names (:data:`ZONE_WORDS`), then the road
    centrelines (:attr:`Scene.roads`) widened to their width.
    """
    land = np.zeros((y.size, x.size), np.int8)
    for zone in scene.friction_zones:
        name = zone.name.lower()
        kind = next((k for k, words in ZONE_WORDS if any(w in name for w in words)), None)
        if kind is not None:
            land[_inside(zone.polygon, x, y)] = LAND_CLASSES.index(kind)
    if scene.roads:
        paved = shapely.union_all([shapely.LineString(r.points).buffer(max(r.width, 1.0) / 2, cap_style="flat")
                                   for r in scene.roads if len(r.points) > 1])
        land[_inside(paved, x, y)] = LAND_CLASSES.index("road")
    return land


def _buildings(scene: Scene, x: np.ndarray, y: np.ndarray, ground: np.ndarray) -> tuple[list[Footprint], list[SurfaceMesh]]:
    """The scene's buildings standing on ``ground`` (ny, nx) over the grid (x, y): prisms, and the source's own meshes.

    Where the scene has building parts (3-D detail), they are drawn instead of
    the buildings they lie in. A building's roof is ``height`` over its
    ``base`` (else over the mean ground along its outline).
    """
    parts = list(scene.building_parts)
    inside_parts = [shapely.Polygon(_open(p.footprint)).representative_point() for p in parts if len(_open(p.footprint)) >= 3]
    footprints, meshes = [], []
    for b, is_part in [(b, False) for b in scene.buildings] + [(p, True) for p in parts]:
        xy = _open(b.footprint)
        if len(xy) < 3:
            continue
        outline = shapely.Polygon(xy)
        if not is_part and any(outline.contains(point) for point in inside_parts):
            continue
        if b.mesh is not None:
            meshes.append(b.mesh)
            continue
        z = _bilinear(ground, np.clip((xy[:, 0] - x[0]) / _step(x), 0, x.size - 1),
                      np.clip((xy[:, 1] - y[0]) / _step(y), 0, y.size - 1))
        base = float(z.mean()) if b.base is None else float(b.base)
        floats = b.min_height > 0
        holes = [h[::-1] if shapely.LinearRing(h).is_ccw else h for h in map(_open, b.holes) if len(h) >= 3]
        footprints.append(Footprint(xy if outline.exterior.is_ccw else xy[::-1],
                                    base + b.min_height if floats else min(base, float(z.min())) - 0.5,
                                    base + float(b.height), holes, floats, b.kind))
    return footprints, meshes


def _open(ring: np.ndarray) -> np.ndarray:
    """A polygon's vertices (n, 2) as float64 without the closing repeat of the first."""
    xy = np.asarray(ring, dtype=np.float64)
    return xy[:-1] if len(xy) > 1 and np.allclose(xy[0], xy[-1], rtol=0.0, atol=1e-6) else xy

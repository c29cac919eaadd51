"""A Site and its water as PyVista actors, the water updated in place from frame to frame.

Display coordinates: x and y [m] relative to the Site's first grid point (so
UTM coordinates keep their precision in float32), heights ``(z - base) *
z_scale`` with ``base`` the lowest ground. The meshes:

- ground: a surface through the grid points, coloured by land use (or a
  hillshade), the sun's shadows baked into its colours, with earth walls
  around the border;
- buildings: prisms from footprints (or blocks from the raster), roofs and
  walls as two actors with their own materials;
- water: a surface over *every* grid point whose heights, colours (by field,
  with depth-dependent opacity) and normals are rewritten in place each frame,
  dry points sunk under the ground; plus its cross-section at the border;
- probes: red pins with their names.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pyvista as pv
from twin.viewer.fields import Frame, colour_table, field_values, fill_shore, water_rgba, water_surface
from twin.viewer.geometry import Site, ground_colours, sun_shadow
from twin.viewer.quality import Quality
from twin.viewer.quality import direction as _direction

from twin.errors import InputWarning

__all__ = ["FloodActors"]

WALL_COLOURS = ("#ece6da", "#e2ddd3", "#f1eee8", "#d9d2c5")
ROOF_COLOURS = ("#9a4e3a", "#7d7f82", "#a86450", "#5f6468", "#b9b6ae")
SKIRT_TOP, SKIRT_BOTTOM = "#8a7658", "#4a3d2e"
PROBE_COLOUR = "#e0312b"
SKIRT_DEPTH = 0.04
"""Depth of the earth walls under the lowest ground, as a fraction of the larger side."""
SHADOW_FLOOR = 0.5
"""Brightness of the ground in full shadow, as a fraction of its lit albedo."""
RIPPLES = ((1.7, 0.6), (-0.9, 1.9), (2.9, -1.3), (0.4, -3.3), (-3.7, -2.2))
"""Wave vectors [rad/m] of the water's ripples (wavelengths of 1.6 to 3.5 m)."""
UNLIT_AMBIENT = 0.5
"""Brightness of a face turned away from the sun, as a fraction of its colour, when lighting is baked in."""


class FloodActors:
    """The actors of a Site (ground, buildings, probes) and of its water, on ``plotter``.

    Args:
        plotter: where the actors go.
        site: what to draw.
        quality: materials, shading and shadows (:mod:`twin.viewer.quality`).
        z_scale: factor on heights.
        ground: ``landuse`` or ``hillshade`` colours.
        water: whether to add the water (False for a scene without a Result).
        min_depth: water shallower than this [m] is not drawn (a rain film everywhere hides the ground).
        label_size: font size of the probes' names [pt].

    Ground and water use every ``step``-th grid point, the smallest step that
    keeps them within ``quality.max_points`` points.
    """

    def __init__(self, plotter: pv.Plotter, site: Site, quality: Quality, *, z_scale: float = 2.0,
                 ground: str = "landuse", water: bool = True, min_depth: float = 0.01, label_size: int = 11):
        n = site.ground.size
        self.step = 1 if quality.max_points is None or n <= quality.max_points else math.ceil(math.sqrt(n / quality.max_points))
        site = site.every(self.step)
        self.plotter, self.site, self.quality, self.z_scale = plotter, site, quality, z_scale
        self.label_size = label_size
        self.min_depth = min_depth
        self.origin = np.array([site.x[0], site.y[0]])
        self.base = float(site.ground.min())
        self.xs, self.ys = site.x - site.x[0], site.y - site.y[0]
        dx, dy = site.spacing
        self.shadow = (sun_shadow(self.lift(site.bed), dx, dy, azimuth=quality.sun_azimuth,
                                  elevation=quality.sun_elevation, softness=quality.shadow_softness * z_scale)
                       if quality.shadows else np.ones(site.shape))
        self.ground = self._add_ground(ground)
        self.buildings = self._add_buildings()
        self.probes = self._add_probes()
        self.water: pv.PolyData | None = None
        self.water_actor: pv.Actor | None = None
        self._table: dict[str, np.ndarray] = {}
        if water:
            self._add_water()

    # -- coordinates -------------------------------------------------------------------
    def lift(self, z: np.ndarray | float) -> np.ndarray:
        """Display heights of heights ``z`` [m]."""
        return (np.asarray(z, dtype=np.float64) - self.base) * self.z_scale

    def to_display(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Display points (n, 3) of scene points (x, y [m, CRS], z [m])."""
        return np.column_stack([np.asarray(x) - self.origin[0], np.asarray(y) - self.origin[1], self.lift(z)])

    def to_scene(self, point: np.ndarray) -> tuple[float, float, float]:
        """Scene coordinates (x, y [m, CRS], z [m]) of a display point (3,)."""
        return (float(point[0] + self.origin[0]), float(point[1] + self.origin[1]),
                float(point[2] / self.z_scale + self.base))

    # -- the ground --------------------------------------------------------------------
    def _material(self, *, roughness: float, specular: float = 0.0) -> dict:
        """add_mesh keywords for a material: PBR, classic, or unlit (lighting baked into the colours)."""
        q = self.quality
        if not q.lit:
            return dict(lighting=False)
        if q.pbr:
            return dict(pbr=True, roughness=roughness, metallic=0.0)
        return dict(ambient=0.28, diffuse=0.78, specular=specular, specular_power=40.0)

    def _add_ground(self, style: str) -> pv.PolyData:
        site, q = self.site, self.quality
        z = self.lift(site.ground)
        mesh = _heightfield(self.xs, self.ys, z)
        albedo = ground_colours(site, style) * (SHADOW_FLOOR + (1.0 - SHADOW_FLOOR) * self.shadow[..., None])
        if not q.lit:
            from twin.viewer.flood_maps import hillshade

            light = hillshade(z, *site.spacing, azimuth=q.sun_azimuth, altitude=q.sun_elevation)
            albedo = albedo * (UNLIT_AMBIENT + (1.0 - UNLIT_AMBIENT) * light[..., None] / math.sin(math.radians(q.sun_elevation)))
        mesh["colours"] = _bytes(albedo.reshape(-1, 3))
        if q.smooth:
            mesh.point_data["Normals"] = _normals(_blur(z), *site.spacing)
            mesh.point_data.active_normals_name = "Normals"
        self.plotter.add_mesh(mesh, scalars="colours", rgb=True, show_scalar_bar=False, name="ground",
                              **self._material(roughness=0.92))
        floor = np.full(site.shape, -SKIRT_DEPTH * max(self.xs[-1], self.ys[-1], 1.0))
        ring = _ring(site.shape)
        skirt = _wall(self.xs, self.ys, ring, z.ravel()[ring], floor.ravel()[ring])
        t = (skirt.points[:, 2] - floor.min()) / max(z.max() - floor.min(), 1e-9)
        skirt["colours"] = _bytes(np.outer(1 - t, _rgb(SKIRT_BOTTOM)) + np.outer(t, _rgb(SKIRT_TOP)))
        self._add_solid(skirt, "skirt", roughness=0.95)
        return mesh

    def _add_solid(self, mesh: pv.PolyData, name: str, *, roughness: float, specular: float = 0.0) -> None:
        """Add a mesh of flat faces coloured by its point array ``colours``; unlit, each face's light is baked in."""
        if self.quality.lit:
            self.plotter.add_mesh(_with_normals(mesh), scalars="colours", rgb=True, show_scalar_bar=False, name=name,
                                  **self._material(roughness=roughness, specular=specular))
            return
        q = self.quality
        sun = _direction(q.sun_azimuth, q.sun_elevation)
        light = UNLIT_AMBIENT + (1.0 - UNLIT_AMBIENT) * np.clip(mesh.cell_normals @ sun, 0.0, 1.0)
        faces = mesh.point_data_to_cell_data()["colours"].astype(np.float64) * light[:, None]
        mesh.clear_data()
        mesh.cell_data["colours"] = np.clip(np.rint(faces), 0, 255).astype(np.uint8)
        self.plotter.add_mesh(mesh, scalars="colours", rgb=True, preference="cell", show_scalar_bar=False, name=name,
                              lighting=False)

    def _add_buildings(self) -> list[pv.PolyData]:
        site = self.site
        if site.footprints or site.meshes:
            roofs, walls = _prisms(site, self)
        elif site.building.any():
            roofs, walls = _blocks(self.xs, self.ys, self.lift(site.bed), self.lift(_local_min(site.ground)), site.building)
        else:
            return []
        self._add_solid(walls, "walls", roughness=0.8)
        self._add_solid(roofs, "roofs", roughness=0.55, specular=0.15)
        return [roofs, walls]

    def _add_probes(self) -> pv.PolyData | None:
        site = self.site
        if not len(site.probe_names):
            return None
        ground = np.array([site.ground[site.cell_of(x, y)] for x, y in site.probe_xy])
        feet = self.to_display(site.probe_xy[:, 0], site.probe_xy[:, 1], ground)
        height = 0.02 * max(self.xs[-1], self.ys[-1])
        heads = feet + [0.0, 0.0, height]
        radius = height / 7.0
        pins = pv.MultiBlock()
        for foot, head in zip(feet, heads):
            pins.append(pv.Cylinder(center=(foot + head) / 2, direction=(0, 0, 1), radius=radius / 4, height=height,
                                    resolution=12))
            pins.append(pv.Sphere(radius=radius, center=head, theta_resolution=16, phi_resolution=12))
        pins = pins.combine().extract_surface(algorithm="dataset_surface")
        self.plotter.add_mesh(pins, color=PROBE_COLOUR, smooth_shading=True, name="probes",
                              **self._material(roughness=0.35, specular=0.5))
        self.plotter.add_point_labels(heads + [0.0, 0.0, 1.6 * radius], site.probe_names, font_size=self.label_size,
                                      text_color="#1b1b1b", shape_color="white", shape_opacity=0.6,
                                      show_points=False, margin=2, name="probe_labels", always_visible=True)
        return pins

    # -- the water ---------------------------------------------------------------------
    def _add_water(self) -> None:
        site = self.site
        z = self.lift(site.bed) - self.z_scale
        self.water = _heightfield(self.xs, self.ys, z)
        self.water["colours"] = np.zeros((self.water.n_points, 4), np.uint8)
        if self.quality.smooth:
            self.water.point_data["Normals"] = _normals(z, *site.spacing)
            self.water.point_data.active_normals_name = "Normals"
        q = self.quality
        style = (dict(pbr=True, roughness=0.07, metallic=0.0) if q.pbr
                 else dict(ambient=0.3, diffuse=0.7, specular=0.6, specular_power=60.0) if q.lit
                 else dict(lighting=False))
        self.water_actor = self.plotter.add_mesh(self.water, scalars="colours", rgba=True, show_scalar_bar=False,
                                                 name="water", **style)
        ring = _ring(site.shape)
        self._ring = ring
        self.edge = _wall(self.xs, self.ys, ring, z.ravel()[ring], self.lift(site.ground).ravel()[ring])
        self.edge["colours"] = np.zeros((self.edge.n_points, 4), np.uint8)
        self.plotter.add_mesh(self.edge, scalars="colours", rgba=True, show_scalar_bar=False, name="water_edge",
                              **style)

    def table(self, field: str) -> np.ndarray:
        """RGBA colour table (256, 4) of ``field``."""
        if field not in self._table:
            self._table[field] = colour_table(field)
        return self._table[field]

    def show(self, frame: Frame, field: str, clim: tuple[float, float]) -> None:
        """Draw the water of ``frame`` coloured by ``field`` over ``clim``, rewriting the mesh arrays in place."""
        if self.water is None:
            return
        site, k = self.site, slice(None, None, self.step)
        # no water on roofs (rain there is real in the solver, but hides the walls); none thinner than min_depth
        depth = np.where(site.building, 0.0, frame.depth[k, k])
        frame = Frame(frame.t, depth, frame.speed[k, k], frame.arrival[k, k], frame.label,
                      None if frame.hazard is None else frame.hazard[k, k])
        shown = max(site.wet_threshold, self.min_depth)
        z = self.lift(water_surface(site.bed, depth, shown, ground=site.ground, buildings=site.building))
        values = fill_shore(field_values(field, frame, shown), depth > shown, buildings=site.building)
        rgba = water_rgba(field, values, clim, self.table(field))
        if self.quality.shadows:
            rgba[..., :3] = np.rint(rgba[..., :3] * (0.55 + 0.45 * self.shadow)[..., None]).astype(np.uint8)
        flat_rgba = rgba.reshape(-1, 4)
        water = self.water
        water.points[:, 2] = z.ravel()
        water["colours"][:] = flat_rgba
        if self.quality.smooth:
            water.point_data["Normals"][:] = _normals(z, *site.spacing, ripples=self.quality.ripples,
                                                      phase=0.05 * frame.t)
        water.Modified()
        ring = self._ring
        ground = self.lift(site.ground).ravel()[ring]
        top = np.maximum(z.ravel()[ring], ground)
        n = ring.size
        self.edge.points[:n, 2] = top
        self.edge.points[n:, 2] = ground
        self.edge["colours"][:] = np.tile(flat_rgba[ring], (2, 1))
        self.edge.Modified()


# -- meshes ----------------------------------------------------------------------------
def _rgb(hex_colour: str) -> np.ndarray:
    return np.array([int(hex_colour[k : k + 2], 16) / 255.0 for k in (1, 3, 5)])


def _bytes(colours: np.ndarray) -> np.ndarray:
    """Colours in [0, 1] as uint8."""
    return np.rint(np.clip(colours, 0.0, 1.0) * 255.0).astype(np.uint8)


def _with_normals(mesh: pv.PolyData) -> pv.PolyData:
    """``mesh`` with point normals, split at sharp edges (flat walls and roofs stay flat under PBR)."""
    if mesh.n_cells == 0:
        return mesh
    return mesh.compute_normals(split_vertices=True, feature_angle=30.0, consistent_normals=False,
                                auto_orient_normals=False)


def _normals(z: np.ndarray, dx: float, dy: float, *, ripples: bool = False, phase: float = 0.0) -> np.ndarray:
    """Unit normals (ny*nx, 3) of the heightfield ``z`` (ny, nx) [display units] on spacing dx, dy.

    ``ripples`` adds small waves (slopes up to ~0.03) from a few directions, moving with ``phase`` [rad].
    """
    gy, gx = np.gradient(z, dy, dx) if min(z.shape) > 1 else (np.zeros_like(z), np.zeros_like(z))
    gx, gy = np.clip(gx, -1.0, 1.0), np.clip(gy, -1.0, 1.0)
    if ripples:
        j, i = np.indices(z.shape, dtype=np.float64)
        x, y = i * dx, j * dy
        for (kx, ky), speed in zip(RIPPLES, (1.0, -1.3, 0.7, 1.9, -0.6)):
            slope = 0.006 * np.cos(kx * x + ky * y + speed * phase + 7.0 * kx)
            gx, gy = gx + slope * kx / math.hypot(kx, ky), gy + slope * ky / math.hypot(kx, ky)
    n = np.stack([-gx.ravel(), -gy.ravel(), np.ones(z.size)], axis=1)
    return (n / np.linalg.norm(n, axis=1, keepdims=True)).astype(np.float32)


def _blur(z: np.ndarray, passes: int = 2) -> np.ndarray:
    """``z`` (ny, nx) smoothed by ``passes`` 3 x 3 box filters (edges repeated): a Gaussian of ~0.8 cells per pass."""
    ny, nx = z.shape
    for _ in range(passes):
        p = np.pad(z, 1, mode="edge")
        z = sum(p[j : j + ny, i : i + nx] for j in range(3) for i in range(3)) / 9.0
    return z


def _quads(points: np.ndarray, corners: np.ndarray, **point_data: np.ndarray) -> pv.PolyData:
    """PolyData of quads ``corners`` (n, 4) over ``points`` (m, 3), unused points dropped.

    ``point_data`` arrays (m, ...) come along for the points kept.
    """
    used, faces = np.unique(corners, return_inverse=True)
    mesh = pv.PolyData.from_regular_faces(points[used], faces.reshape(corners.shape))
    for name, values in point_data.items():
        mesh[name] = values[used]
    return mesh


def _cell_quads(nx: int, ny: int, keep: np.ndarray) -> np.ndarray:
    """Corner indices (n, 4) of the quads between the points of an (ny, nx) grid where ``keep`` (ny-1, nx-1)."""
    j, i = np.nonzero(keep)
    p = j * nx + i
    return np.stack([p, p + 1, p + nx + 1, p + nx], axis=1)


def _heightfield(xs: np.ndarray, ys: np.ndarray, z: np.ndarray) -> pv.PolyData:
    """A surface through the points (xs[i], ys[j], z[j, i]): every point kept, in row order."""
    ny, nx = z.shape
    xx, yy = np.meshgrid(xs, ys)
    points = np.column_stack([xx.ravel(), yy.ravel(), z.ravel()])
    return pv.PolyData.from_regular_faces(points, _cell_quads(nx, ny, np.ones((ny - 1, nx - 1), bool)))


def _local_min(z: np.ndarray) -> np.ndarray:
    """Minimum of ``z`` (ny, nx) over each cell and its 8 neighbours."""
    p = np.pad(z, 1, mode="edge")
    ny, nx = z.shape
    return np.min([p[j : j + ny, i : i + nx] for j in range(3) for i in range(3)], axis=0)


def _palette(colours: tuple[str, ...], k: int) -> np.ndarray:
    """The colour of building ``k``, cycling through ``colours`` in a scrambled order."""
    return _rgb(colours[(k * 7 + 3) % len(colours)])


def _blocks(xs: np.ndarray, ys: np.ndarray, roof: np.ndarray, floor: np.ndarray,
            building: np.ndarray) -> tuple[pv.PolyData, pv.PolyData]:
    """Buildings of a raster as (roofs, walls): roofs over building cells, walls on their outer cell edges.

    Args:
        xs, ys: cell centres (nx,), (ny,) [display units] of a regular grid.
        roof: roof heights (ny, nx); a roof corner takes the mean of the building cells around it.
        floor: heights (ny, nx) the walls reach down to; a wall foot takes the lowest cell around it.
        building: True inside a building, (ny, nx).
    """
    ny, nx = building.shape
    dx = xs[1] - xs[0] if nx > 1 else 1.0
    dy = ys[1] - ys[0] if ny > 1 else 1.0
    xe = np.append(xs - dx / 2, xs[-1] + dx / 2)
    ye = np.append(ys - dy / 2, ys[-1] + dy / 2)

    def around(a: np.ndarray) -> list[np.ndarray]:  # the (up to) four cells around each corner, (ny+1, nx+1)
        return [a[:-1, :-1], a[1:, :-1], a[:-1, 1:], a[1:, 1:]]

    inside = np.pad(building, 1)
    count = np.sum(around(inside.astype(np.float64)), axis=0)
    top = np.sum(around(np.pad(np.where(building, roof, 0.0), 1)), axis=0) / np.maximum(count, 1.0)
    foot = np.min(around(np.pad(floor, 1, mode="edge")), axis=0)
    xx, yy = np.meshgrid(xe, ye)
    n = xx.size
    points = np.concatenate([np.column_stack([xx.ravel(), yy.ravel(), z.ravel()]) for z in (top, foot)])
    roofs = _cell_quads(nx + 1, ny + 1, building)
    jx, ix = np.nonzero(inside[1:-1, 1:] != inside[1:-1, :-1])  # walls on x = xe[ix], rows jx
    a = jx * (nx + 1) + ix
    walls_x = np.stack([a, a + nx + 1, a + nx + 1 + n, a + n], axis=1)
    jy, iy = np.nonzero(inside[1:, 1:-1] != inside[:-1, 1:-1])  # walls on y = ye[jy], columns iy
    a = jy * (nx + 1) + iy
    walls_y = np.stack([a, a + 1, a + 1 + n, a + n], axis=1)
    roof_mesh = _quads(points, roofs)
    wall_mesh = _quads(points, np.concatenate([walls_x, walls_y]))
    roof_mesh["colours"] = _bytes(np.tile(_rgb(ROOF_COLOURS[1]), (roof_mesh.n_points, 1)))
    wall_mesh["colours"] = _bytes(np.tile(_rgb(WALL_COLOURS[0]), (wall_mesh.n_points, 1)))
    return roof_mesh, wall_mesh


def _prisms(site: Site, actors: FloodActors) -> tuple[pv.PolyData, pv.PolyData]:
    """Buildings from footprints and source meshes as (roofs, walls), coloured per building.

    A prism's roof is its outline's constrained Delaunay triangles (exact for
    concave outlines and courtyards); its walls face out, around courtyards
    too; a part that floats gets its underside. A source mesh (CityJSON) is
    drawn as it is, its roof triangles with the roofs, the rest but the ground
    with the walls.
    """
    roof_points, roof_colours = [], []
    wall_points, wall_faces, wall_colours = [], [], []
    nw = 0
    skipped = []
    for k, f in enumerate(site.footprints):
        corners = _roof_triangles(f)
        if corners is None:
            skipped.append(k)
            continue
        u, v = corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]
        ccw = u[:, 0] * v[:, 1] - u[:, 1] * v[:, 0] > 0
        corners = np.where(ccw[:, None, None], corners, corners[:, ::-1])
        lids = [(corners.reshape(-1, 2), f.roof)] + ([(corners[:, ::-1].reshape(-1, 2), f.base)] if f.floats else [])
        for lid, z in lids:
            roof_points.append(actors.to_display(lid[:, 0], lid[:, 1], np.full(len(lid), z)))
            roof_colours.append(np.tile(_palette(ROOF_COLOURS, k), (len(lid), 1)))
        for ring in [f.xy, *f.holes]:  # outline counter-clockwise, courtyards clockwise: walls face out of the solid
            m = len(ring)
            top = actors.to_display(ring[:, 0], ring[:, 1], np.full(m, f.roof))
            foot = actors.to_display(ring[:, 0], ring[:, 1], np.full(m, f.base))
            a = np.arange(m)
            b = (a + 1) % m
            wall_points.append(np.concatenate([top, foot]))
            wall_faces.append(nw + np.stack([a, b, b + m, a + m], axis=1)[:, ::-1])
            wall_colours.append(np.tile(_palette(WALL_COLOURS, k), (2 * m, 1)))
            nw += 2 * m
    if skipped:
        warnings.warn(f"{len(skipped)} of {len(site.footprints)} building footprints could not be triangulated and are "
                      f"not drawn (footprint {', '.join(map(str, skipped[:5]))}{', ...' if len(skipped) > 5 else ''})",
                      InputWarning, stacklevel=2)
    for k, mesh in enumerate(site.meshes, start=len(site.footprints)):
        points = actors.to_display(mesh.vertices[:, 0], mesh.vertices[:, 1], mesh.vertices[:, 2])
        roof = mesh.surface == mesh.ROOF
        corners = points[mesh.triangles[roof].ravel()]
        roof_points.append(corners)
        roof_colours.append(np.tile(_palette(ROOF_COLOURS, k), (len(corners), 1)))
        corners = points[mesh.triangles[~roof & (mesh.surface != mesh.GROUND)].ravel()]
        wall_points.append(corners)
        wall_faces.append(nw + np.arange(len(corners)).reshape(-1, 3))
        wall_colours.append(np.tile(_palette(WALL_COLOURS, k), (len(corners), 1)))
        nw += len(corners)
    roofs = _triangles(roof_points, roof_colours)
    walls = pv.PolyData(np.concatenate(wall_points) if wall_points else np.zeros((0, 3)),
                        faces=_padded(wall_faces))
    walls["colours"] = _bytes(np.concatenate(wall_colours)) if wall_colours else np.zeros((0, 3), np.uint8)
    return roofs, walls


def _roof_triangles(f) -> np.ndarray | None:
    """The constrained Delaunay triangles (m, 3, 2) of a footprint's outline with its courtyards,
    cleaned (:func:`twin.io.shapes.clean_footprint`) when GEOS cannot triangulate it as it is; None if
    nothing with area can be triangulated."""
    import shapely
    from shapely.errors import GEOSException

    from twin.io.shapes import clean_footprint

    for attempt in range(2):
        try:
            polys = ([shapely.Polygon(f.xy, f.holes or None)] if attempt == 0 else
                     [shapely.Polygon(shell, holes or None) for shell, holes in clean_footprint(f.xy, f.holes)])
            triangles = [t for p in polys for t in shapely.get_parts(shapely.constrained_delaunay_triangles(p))]
        except (GEOSException, ValueError):
            continue
        if triangles:
            return np.array([np.asarray(t.exterior.coords)[:3] for t in triangles]).reshape(-1, 3, 2)
    return None


def _triangles(points: list[np.ndarray], colours: list[np.ndarray]) -> pv.PolyData:
    """PolyData of consecutive point triples (triangles), with point colours."""
    xyz = np.concatenate(points) if points else np.zeros((0, 3))
    mesh = pv.PolyData.from_regular_faces(xyz, np.arange(len(xyz)).reshape(-1, 3))
    mesh["colours"] = _bytes(np.concatenate(colours)) if colours else np.zeros((0, 3), np.uint8)
    return mesh


def _padded(faces: list[np.ndarray]) -> np.ndarray:
    """VTK face array (size, i0, i1, ...) of faces given as (n, k) index arrays, k per array."""
    return np.concatenate([np.column_stack([np.full(len(f), f.shape[1]), f]).ravel() for f in faces]) if faces else np.zeros(0, int)


def _ring(shape: tuple[int, int]) -> np.ndarray:
    """Flat indices of the border points of an (ny, nx) grid, once round anticlockwise, closed."""
    ny, nx = shape
    return np.concatenate([
        np.arange(nx - 1),  # south, west to east
        np.arange(ny - 1) * nx + nx - 1,  # east, south to north
        (ny - 1) * nx + np.arange(nx - 1, 0, -1),  # north, east to west
        np.arange(ny - 1, -1, -1) * nx,  # west, north to south, closing the ring
    ])


def _wall(xs: np.ndarray, ys: np.ndarray, ring: np.ndarray, top: np.ndarray, bottom: np.ndarray) -> pv.PolyData:
    """Vertical quads facing out along the border ``ring`` of the grid (xs, ys), from ``top`` to ``bottom`` (m,).

    Points: the ring's tops, then its bottoms (2 m points, every one kept).
    """
    xx, yy = np.meshgrid(xs, ys)
    xy = np.column_stack([xx.ravel()[ring], yy.ravel()[ring]])
    points = np.concatenate([np.column_stack([xy, top]), np.column_stack([xy, bottom])])
    m = ring.size
    k = np.arange(m - 1)
    return pv.PolyData.from_regular_faces(points, np.stack([k + 1, k, k + m, k + 1 + m], axis=1))

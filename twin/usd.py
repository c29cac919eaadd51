"""OpenUSD export of a Scene (and of a flood Result): ``twin export``.

The layer has ``metersPerUnit = 1`` and ``upAxis = Z``. Coordinates are the
scene CRS minus the scene's origin (USD points are single precision, UTM
coordinates are not), so a USD point (X, Y, Z) is at easting origin_x + X,
northing origin_y + Y, elevation Z [m]. The layer's custom data records
``twin:crs``, ``twin:origin`` (x, y) [m], ``twin:scene`` and, with a result,
``twin:time_unit`` = "s" (a time code is a simulated second).

    /World                       Xform, the default prim
      Looks/<Name>               UsdPreviewSurface materials
      Terrain                    Mesh: the heightfield, one vertex per cell corner
      Buildings/<name>           Mesh: walls, roof, floor as GeomSubsets "wall", "roof", "ground"
      BuildingParts/<name>       likewise, for OSM building:part outlines
      Roads/<class>              Mesh: road ribbons of the estimated width, draped 5 cm above the ground
      LandCover/<name>           Mesh: land-cover polygons draped 2 cm above the ground
                                 (roads and land cover are cut to the terrain's extent)
      Water                      Mesh (with a result): the water surface over time; dry cells are holes

A building with a ``mesh`` (CityJSON) is written with its own triangles and
labels; the others are the footprint extruded from ``base + min_height`` to
``base + height`` (``base``: the building's, else the lowest terrain under its
footprint's vertices).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import shapely

from twin.errors import InputError
from twin.scene import Building, Heightfield, Scene, SurfaceMesh

__all__ = ["EXTENSIONS", "check_usd", "export_usd"]

EXTENSIONS = (".usd", ".usda", ".usdc")

_COLOURS = {
    "Terrain": (0.55, 0.52, 0.45), "Roof": (0.62, 0.30, 0.24), "Wall": (0.85, 0.82, 0.75), "Ground": (0.35, 0.33, 0.30),
    "Other": (0.6, 0.6, 0.6), "Road": (0.25, 0.25, 0.27), "Water": (0.12, 0.35, 0.65), "Vegetation": (0.30, 0.55, 0.25),
    "Land": (0.70, 0.65, 0.50),
}
_SUBSET_LOOK = {SurfaceMesh.GROUND: "Ground", SurfaceMesh.WALL: "Wall", SurfaceMesh.ROOF: "Roof", SurfaceMesh.OTHER: "Other"}


def _look_of_zone(name: str) -> str:
    n = name.lower()
    if any(w in n for w in ("water", "riverbank", "reservoir", "basin", "dock", "waterway")):
        return "Water"
    if any(w in n for w in ("road", "railway", "transport", "parking", "highway")):
        return "Road"
    if any(w in n for w in ("grass", "park", "wood", "forest", "plant", "meadow", "garden", "scrub", "heath", "pitch",
                            "common", "orchard", "vineyard", "wetland", "village_green", "recreation")):
        return "Vegetation"
    return "Land"


class _Names:
    """Valid, unique USD prim names."""

    def __init__(self):
        self.used: set[str] = set()

    def __call__(self, name: str) -> str:
        from pxr import Tf

        base = Tf.MakeValidIdentifier(name or "unnamed")
        out, k = base, 1
        while out in self.used:
            k += 1
            out = f"{base}_{k}"
        self.used.add(out)
        return out


def _mesh(stage, path: str, points: np.ndarray, counts: np.ndarray, indices: np.ndarray, look=None):
    from pxr import UsdGeom, Vt

    m = UsdGeom.Mesh.Define(stage, path)
    pts = Vt.Vec3fArray.FromNumpy(np.ascontiguousarray(points, dtype=np.float32))
    m.CreatePointsAttr(pts)
    m.CreateFaceVertexCountsAttr(Vt.IntArray.FromNumpy(np.ascontiguousarray(counts, dtype=np.int32)))
    m.CreateFaceVertexIndicesAttr(Vt.IntArray.FromNumpy(np.ascontiguousarray(indices, dtype=np.int32)))
    m.CreateSubdivisionSchemeAttr(UsdGeom.Tokens.none)
    m.CreateExtentAttr(UsdGeom.PointBased.ComputeExtent(pts))
    if look is not None:
        _bind(m.GetPrim(), look)
    return m


def _bind(prim, material) -> None:
    from pxr import UsdShade

    UsdShade.MaterialBindingAPI.Apply(prim).Bind(material)


def _materials(stage, names) -> dict:
    from pxr import Gf, Sdf, UsdGeom, UsdShade

    UsdGeom.Scope.Define(stage, "/World/Looks")
    looks = {}
    for name in names:
        mat = UsdShade.Material.Define(stage, f"/World/Looks/{name}")
        shader = UsdShade.Shader.Define(stage, f"/World/Looks/{name}/Surface")
        shader.CreateIdAttr("UsdPreviewSurface")
        shader.CreateInput("diffuseColor", Sdf.ValueTypeNames.Color3f).Set(Gf.Vec3f(*_COLOURS[name]))
        shader.CreateInput("roughness", Sdf.ValueTypeNames.Float).Set(0.1 if name == "Water" else 0.8)
        if name == "Water":
            shader.CreateInput("opacity", Sdf.ValueTypeNames.Float).Set(0.75)
        mat.CreateSurfaceOutput().ConnectToSource(shader.ConnectableAPI(), "surface")
        looks[name] = mat
    return looks


def _grid_mesh(nx: int, ny: int) -> tuple[np.ndarray, np.ndarray]:
    """Quads between the (ny, nx) vertices of a grid, counter-clockwise from above: (counts, indices)."""
    j, i = np.meshgrid(np.arange(ny - 1), np.arange(nx - 1), indexing="ij")
    a = (j * nx + i).ravel()
    quads = np.stack([a, a + 1, a + 1 + nx, a + nx], axis=1)
    return np.full(len(quads), 4), quads.ravel()


def _terrain(stage, t: Heightfield, origin, look) -> None:
    """The heightfield as a mesh with a vertex at every cell corner (heights sampled bilinearly)."""
    ny, nx = t.shape
    X, Y = np.meshgrid(t.x0 + np.arange(nx + 1) * t.dx, t.y0 + np.arange(ny + 1) * t.dy)
    z = t.sample(X, Y)
    z = np.where(np.isnan(z), np.nanmin(z), z)
    counts, idx = _grid_mesh(nx + 1, ny + 1)
    _mesh(stage, "/World/Terrain", np.column_stack([X.ravel() - origin[0], Y.ravel() - origin[1], z.ravel()]), counts, idx, look)


def _extrusion(b: Building, base: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Triangles of an extruded footprint: vertices (n, 3), triangles (m, 3), labels (m,)."""
    poly = shapely.geometry.polygon.orient(shapely.Polygon(b.footprint, b.holes or None), 1.0)
    if not poly.is_valid:
        poly = shapely.make_valid(poly)
    polys = [poly] if poly.geom_type == "Polygon" else [p for p in getattr(poly, "geoms", []) if p.geom_type == "Polygon"]
    bottom, top = base + b.min_height, base + b.height
    verts, tris, labels = [], [], []

    def add(points3, faces, label):
        off = sum(len(v) for v in verts)
        verts.append(points3)
        tris.append(faces + off)
        labels.append(np.full(len(faces), label, np.int8))

    for p in polys:
        p = shapely.geometry.polygon.orient(p, 1.0)
        for ring in [p.exterior, *p.interiors]:
            r = np.asarray(ring.coords)[:-1]
            n = len(r)
            if n < 2:
                continue
            pts = np.concatenate([np.column_stack([r, np.full(n, bottom)]), np.column_stack([r, np.full(n, top)])])
            k = np.arange(n)
            k1 = (k + 1) % n
            faces = np.concatenate([np.stack([k, k1, k1 + n], 1), np.stack([k, k1 + n, k + n], 1)])
            add(pts, faces, SurfaceMesh.WALL)
        tri = shapely.constrained_delaunay_triangles(p)
        c = np.array([np.asarray(t.exterior.coords)[:3] for t in tri.geoms]).reshape(-1, 3, 2)
        if len(c):
            area = (c[:, 1, 0] - c[:, 0, 0]) * (c[:, 2, 1] - c[:, 0, 1]) - (c[:, 1, 1] - c[:, 0, 1]) * (c[:, 2, 0] - c[:, 0, 0])
            c[area < 0] = c[area < 0][:, ::-1]
            flat = c.reshape(-1, 2)
            faces = np.arange(len(flat)).reshape(-1, 3)
            add(np.column_stack([flat, np.full(len(flat), top)]), faces, SurfaceMesh.ROOF)
            add(np.column_stack([flat, np.full(len(flat), bottom)]), faces[:, ::-1], SurfaceMesh.GROUND)
    if not verts:
        return np.zeros((0, 3)), np.zeros((0, 3), np.int64), np.zeros(0, np.int8)
    return np.concatenate(verts), np.concatenate(tris), np.concatenate(labels)


def _buildings(stage, root: str, buildings: list[Building], terrain: Heightfield, origin, looks) -> int:
    from pxr import UsdGeom, Vt

    UsdGeom.Scope.Define(stage, root)
    names = _Names()
    written = 0
    for b in buildings:
        if b.mesh is not None:
            verts, tris, labels = b.mesh.vertices, b.mesh.triangles, b.mesh.surface
        else:
            fp = np.asarray(b.footprint, dtype=np.float64)
            base = b.base if b.base is not None else float(np.nanmin(terrain.sample(fp[:, 0], fp[:, 1])))
            verts, tris, labels = _extrusion(b, base)
        if len(tris) == 0:
            continue
        pts = verts - np.array([origin[0], origin[1], 0.0])
        m = _mesh(stage, f"{root}/{names(b.name)}", pts, np.full(len(tris), 3), tris.ravel())
        mesh_api = UsdGeom.Imageable(m.GetPrim())
        for label in np.unique(labels):
            faces = np.flatnonzero(labels == label).astype(np.int32)
            subset = UsdGeom.Subset.CreateGeomSubset(mesh_api, SurfaceMesh.NAMES[int(label)], UsdGeom.Tokens.face,
                                                     Vt.IntArray.FromNumpy(faces), "materialBind", UsdGeom.Tokens.nonOverlapping)
            _bind(subset.GetPrim(), looks[_SUBSET_LOOK[int(label)]])
        written += 1
    return written


def _ribbon(points: np.ndarray, width: float) -> tuple[np.ndarray, np.ndarray] | None:
    """Left and right edges (n, 2) of a polyline widened to ``width`` [m] (mitred, capped at 2x)."""
    p = points[np.r_[True, np.any(np.diff(points, axis=0) != 0, axis=1)]]
    if len(p) < 2:
        return None
    d = np.diff(p, axis=0)
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    n = np.column_stack([-d[:, 1], d[:, 0]])
    vn = np.concatenate([n[:1], n[:-1] + n[1:], n[-1:]])
    vn /= np.maximum(np.linalg.norm(vn, axis=1, keepdims=True), 1e-12)
    scale = 1.0 / np.clip(np.einsum("ij,ij->i", vn, np.concatenate([n[:1], n])), 0.5, 1.0)
    off = vn * (0.5 * width * scale)[:, None]
    return p + off, p - off


def _roads(stage, scene: Scene, origin, look) -> int:
    from pxr import UsdGeom

    by_class: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    box = shapely.box(*scene.terrain.extent)
    for r in scene.roads:
        clipped = shapely.intersection(shapely.LineString(r.points), box)
        for line in getattr(clipped, "geoms", [clipped]):
            if line.geom_type != "LineString" or line.is_empty:
                continue
            edges = _ribbon(np.asarray(line.coords), r.width)
            if edges is not None:
                by_class.setdefault(r.kind, []).append(edges)
    if not by_class:
        return 0
    UsdGeom.Scope.Define(stage, "/World/Roads")
    names = _Names()
    for kind, ribbons in sorted(by_class.items()):
        pts, quads, off = [], [], 0
        for left, right in ribbons:
            n = len(left)
            k = np.arange(n - 1) + off
            quads.append(np.stack([k + n, k + n + 1, k + 1, k], axis=1))  # right edge then left: counter-clockwise
            pts.extend([left, right])
            off += 2 * n
        xy = np.concatenate(pts)
        z = scene.terrain.sample(xy[:, 0], xy[:, 1]) + 0.05
        q = np.concatenate(quads)
        _mesh(stage, f"/World/Roads/{names(kind)}", np.column_stack([xy - origin, z]), np.full(len(q), 4), q.ravel(), look)
    return len(scene.roads)


def _land_cover(stage, scene: Scene, origin, looks) -> int:
    from pxr import UsdGeom

    by_name: dict[str, list[np.ndarray]] = {}
    box = shapely.box(*scene.terrain.extent)
    for zone in scene.friction_zones:
        poly = shapely.Polygon(zone.polygon)
        if not poly.is_valid:
            poly = shapely.make_valid(poly)
        tris = shapely.constrained_delaunay_triangles(shapely.intersection(poly, box))
        c = np.array([np.asarray(t.exterior.coords)[:3] for t in getattr(tris, "geoms", []) if t.geom_type == "Polygon"])
        if len(c):
            by_name.setdefault(zone.name, []).append(c.reshape(-1, 3, 2))
    if not by_name:
        return 0
    UsdGeom.Scope.Define(stage, "/World/LandCover")
    names = _Names()
    for name, parts in sorted(by_name.items()):
        c = np.concatenate(parts)
        area = (c[:, 1, 0] - c[:, 0, 0]) * (c[:, 2, 1] - c[:, 0, 1]) - (c[:, 1, 1] - c[:, 0, 1]) * (c[:, 2, 0] - c[:, 0, 0])
        c[area < 0] = c[area < 0][:, ::-1]
        xy = c.reshape(-1, 2)
        z = scene.terrain.sample(xy[:, 0], xy[:, 1]) + 0.02
        _mesh(stage, f"/World/LandCover/{names(name)}", np.column_stack([xy - origin, z]), np.full(len(c), 3),
              np.arange(len(xy)), looks[_look_of_zone(name)])
    return len(scene.friction_zones)


def _water(stage, result: Path, origin, look, wet: float) -> int:
    """The water surface of a flood Result over time; returns the number of time samples."""
    import xarray as xr
    from pxr import Vt

    store = result / "result.zarr" if (result / "result.zarr").exists() else result
    if not store.exists():
        raise InputError(result, "", "no result.zarr in this folder")
    try:
        ds = xr.open_zarr(store, decode_times=False)
    except (OSError, ValueError, KeyError) as e:
        raise InputError(store, "", f"not a flood result xarray can open ({e})") from None
    with ds:
        missing = [v for v in ("depth", "stage", "bed_elevation") if v not in ds.variables]
        if missing:
            raise InputError(store, "", f"not a flood Result, missing {', '.join(missing)}")
        xs = ds["x"].values - origin[0]
        ys = ds["y"].values - origin[1]
        X, Y = np.meshgrid(xs, ys)
        bed = ds["bed_elevation"].values
        dry_z = (bed - 0.05).ravel()
        nx, ny = len(xs), len(ys)
        counts, idx = _grid_mesh(nx, ny)
        m = _mesh(stage, "/World/Water", np.column_stack([X.ravel(), Y.ravel(), bed.ravel()]), counts, idx, look)
        points, holes = m.GetPointsAttr(), m.CreateHoleIndicesAttr()
        times = ds["time"].values.astype(float)
        for k, t in enumerate(times):
            depth = ds["depth"].isel(time=k).values
            wet_v = depth > wet
            z = np.where(wet_v.ravel(), ds["stage"].isel(time=k).values.ravel(), dry_z)
            pts = np.column_stack([X.ravel(), Y.ravel(), z]).astype(np.float32)
            points.Set(Vt.Vec3fArray.FromNumpy(pts), float(t))
            corners = wet_v[:-1, :-1] | wet_v[:-1, 1:] | wet_v[1:, :-1] | wet_v[1:, 1:]
            holes.Set(Vt.IntArray.FromNumpy(np.flatnonzero(~corners.ravel()).astype(np.int32)), float(t))
        stage.SetStartTimeCode(float(times[0]))
        stage.SetEndTimeCode(float(times[-1]))
        stage.SetTimeCodesPerSecond(1.0)
        return len(times)


def export_usd(scene: Scene, path: str | Path, *, result: str | Path | None = None, wet_threshold: float = 0.01) -> dict:
    """Write ``scene`` (and the water of a flood ``result`` folder or store) to a USD file.

    Args:
        path: ``.usd`` or ``.usdc`` (binary crate) or ``.usda`` (text).
        result: a ``twin run`` output folder (holding ``result.zarr``) or the store itself.
        wet_threshold: depth [m] below which a cell is dry (a hole in the water mesh).

    Returns:
        Counts of what was written: "buildings", "building_parts", "roads",
        "land_cover", "terrain_cells", "water_frames".
    """
    from pxr import Gf, Usd, UsdGeom, Vt

    path = Path(path)
    if path.suffix.lower() not in EXTENSIONS:
        raise InputError(path, "", f"a USD file must end in {', '.join(EXTENSIONS)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
    stage = Usd.Stage.CreateNew(str(tmp))
    UsdGeom.SetStageMetersPerUnit(stage, 1.0)
    UsdGeom.SetStageUpAxis(stage, UsdGeom.Tokens.z)
    world = UsdGeom.Xform.Define(stage, "/World")
    stage.SetDefaultPrim(world.GetPrim())
    origin = np.array(scene.origin, dtype=np.float64)
    layer = stage.GetRootLayer()
    data = {
        "twin:crs": scene.crs,
        "twin:origin": Gf.Vec2d(float(origin[0]), float(origin[1])),
        "twin:scene": scene.name,
        "twin:extent": Vt.DoubleArray([float(v) for v in scene.extent]),
    }
    counts = {}
    looks = _materials(stage, list(_COLOURS))
    _terrain(stage, scene.terrain, origin, looks["Terrain"])
    counts["terrain_cells"] = int(scene.terrain.elevation.size)
    counts["buildings"] = _buildings(stage, "/World/Buildings", scene.buildings, scene.terrain, origin, looks)
    counts["building_parts"] = _buildings(stage, "/World/BuildingParts", scene.building_parts, scene.terrain, origin, looks) \
        if scene.building_parts else 0
    counts["roads"] = _roads(stage, scene, origin, looks["Road"])
    counts["land_cover"] = _land_cover(stage, scene, origin, looks)
    counts["water_frames"] = 0
    if result is not None:
        counts["water_frames"] = _water(stage, Path(result), origin, looks["Water"], wet_threshold)
        data["twin:time_unit"] = "s"
    layer.customLayerData = data
    layer.Save()
    del stage
    tmp.replace(path)
    return counts


def check_usd(path: str | Path) -> tuple[list[str], list[str]]:
    """Validate a USD file as ``usdchecker --useNewValidationFramework`` does (no USDZ rules).

    Returns:
        (errors, warnings), each a list of messages; a compliant file has no errors.
    """
    from pxr import Usd, UsdValidation

    registry = UsdValidation.ValidationRegistry()
    names = [m.name for m in registry.GetAllValidatorMetadata()
             if "UsdzValidators" not in m.GetKeywords() and m.name != "usdUtilsValidators:RootPackageValidator"]
    context = UsdValidation.ValidationContext(registry.GetOrLoadValidatorsByName(names))
    stage = Usd.Stage.Open(str(path))
    if stage is None:
        return [f"{path}: cannot open"], []
    errors, warnings = [], []
    for e in context.Validate(stage):
        if e.GetType() == UsdValidation.ValidationErrorType.Error:
            errors.append(e.GetErrorAsString())
        elif e.GetType() == UsdValidation.ValidationErrorType.Warn:
            warnings.append(e.GetErrorAsString())
    return errors, warnings

"""CityJSON import (twin.io.cityjson): Delft counted against the file, versions 1.0/1.1/2.0, CityJSONSeq, bad files."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import shapely
from shared_data import DATA, need

from twin.app.cli import main
from twin.errors import InputError
from twin.inspect import describe
from twin.io.cityjson import MANNING, ground_terrain, rasterise_triangles, read_cityjson
from twin.scene import SurfaceMesh

pytestmark = pytest.mark.data  # needs ../shared/data

DELFT = DATA / "city" / "delft.city.json"


@pytest.fixture(scope="module")
def raw() -> dict:
    return json.loads(need(DELFT).read_text())


@pytest.fixture(scope="module")
def delft():
    return read_cityjson(need(DELFT))


def test_delft_counts_match_the_file(delft, raw):
    types: dict[str, int] = {}
    for o in raw["CityObjects"].values():
        types[o["type"]] = types.get(o["type"], 0) + 1
    c = delft.counts
    assert c["city_objects"] == len(raw["CityObjects"]) == 570
    assert {k[5:]: v for k, v in c.items() if k.startswith("type:")} == types
    assert c["buildings"] == types["Building"] == 160 and c["building_parts"] == 0 and len(delft.buildings) == 160
    assert c["roads"] == types["Road"] == 143
    assert c["land_use_areas"] == types["LandUse"] + types["PlantCover"] + types["WaterBody"] == 210
    assert c["vertices"] == len(raw["vertices"]) == 18262
    assert c["triangles"] <= sum(len(g["boundaries"][0] if g["type"] == "Solid" else g["boundaries"])
                                 for o in raw["CityObjects"].values() for g in o["geometry"])
    assert (delft.version, delft.source_crs, delft.crs) == ("2.0", "EPSG:7415", "EPSG:28992")
    gx = raw["metadata"]["geographicalExtent"]
    assert delft.extent == pytest.approx((gx[0], gx[1], gx[3], gx[4]), abs=1e-6)
    assert delft.z_range == pytest.approx((gx[2], gx[5]), abs=1e-6)


def test_delft_buildings_match_their_solids(delft, raw):
    scale, translate = np.array(raw["transform"]["scale"]), np.array(raw["transform"]["translate"])
    V = np.array(raw["vertices"]) * scale + translate
    by_name = {b.name: b for b in delft.buildings}
    for oid, o in raw["CityObjects"].items():
        if o["type"] != "Building":
            continue
        shell = o["geometry"][0]["boundaries"][0]
        idx = np.unique([i for face in shell for ring in face for i in ring])
        b = by_name[oid]
        assert b.base == pytest.approx(V[idx, 2].min()) and b.height == pytest.approx(V[idx, 2].max() - V[idx, 2].min())
        assert b.kind == "Building" and b.mesh is not None
        labels = set(np.unique(b.mesh.surface).tolist())
        assert {SurfaceMesh.WALL, SurfaceMesh.ROOF} <= labels
        tops = [V[face[0]] for face in shell if np.cross(V[face[0][1]] - V[face[0][0]], V[face[0][2]] - V[face[0][0]])[2] > 1e-9]
        roof_area = sum(shapely.Polygon(t[:, :2]).area for t in tops)
        assert shapely.Polygon(b.footprint, b.holes).area == pytest.approx(roof_area, rel=1e-6)
    b = by_name["b1105d28c-00ba-11e6-b420-2bdcc4ab5d7f"]
    assert (b.base, b.height) == pytest.approx((-0.1, 6.1))


def test_delft_land_cover_and_terrain(delft):
    names = {z.name for z in delft.areas}
    assert names == {"Road", "LandUse", "PlantCover", "WaterBody"}
    assert all(z.manning_n == MANNING[z.name] for z in delft.areas)
    extent = (84_850.0, 447_450.0, 85_000.0, 447_600.0)
    terrain, filled = ground_terrain(delft, extent, 2.0)
    assert terrain.shape == (75, 75) and terrain.extent == pytest.approx(extent)
    assert 0 <= filled < 0.2 * terrain.elevation.size
    assert -0.5 < terrain.elevation.min() and terrain.elevation.max() < 8.0
    assert np.median(terrain.elevation) < 1.5  # streets and yards, not roofs or tree tops
    assert len(delft.ground) > 20_000 and delft.terrain is None


def test_delft_scene_saves_and_loads_losslessly(tmp_path, delft):
    from twin.scene import Heightfield, Scene, load_scene, save_scene

    terrain = Heightfield(np.zeros((2, 2)), delft.extent[0], delft.extent[1], 300.0, 200.0)
    scene = Scene("delft", delft.crs, delft.extent[:2], delft.extent, terrain, buildings=delft.buildings, friction_zones=delft.areas)
    back = load_scene(save_scene(scene, tmp_path / "delft.twin"))
    for a, b in zip(back.buildings, scene.buildings, strict=True):
        assert (a.name, a.height, a.base, a.kind) == (b.name, b.height, b.base, b.kind)
        assert np.array_equal(a.footprint, b.footprint) and all(np.array_equal(h, k) for h, k in zip(a.holes, b.holes, strict=True))
        assert np.array_equal(a.mesh.vertices, b.mesh.vertices) and np.array_equal(a.mesh.triangles, b.mesh.triangles)
        assert np.array_equal(a.mesh.surface, b.mesh.surface) and a.mesh.triangles.dtype == np.int32


def test_rasterise_triangles_is_exact_on_a_plane():
    corners = np.array([[0.0, 0.0], [10.0, 0.0], [10.0, 6.0], [0.0, 6.0]])
    z = lambda x, y: 1.0 + 0.5 * x - 0.25 * y  # noqa: E731
    quad = np.column_stack([corners, z(corners[:, 0], corners[:, 1])])
    tri = np.stack([quad[[0, 1, 2]], quad[[0, 2, 3]]])
    out = rasterise_triangles(tri, 0.0, 0.0, 1.0, 1.0, (8, 12))
    xc, yc = np.meshgrid(np.arange(12) + 0.5, np.arange(8) + 0.5)
    inside = (xc < 10) & (yc < 6)
    np.testing.assert_allclose(out[inside], z(xc, yc)[inside])
    assert np.isnan(out[~inside]).all()


# --- small files of every version ------------------------------------------------------------------

BOX = [(0, 0), (10, 0), (10, 8), (0, 8)]


def _city(version: str) -> dict:
    """A building (LoD1 solid and LoD2 solid with semantics), a BuildingPart, a road, a land use with a hole, water.

    Coordinates in RD New near Delft; z = 1 m (NAP) ground, 7 m roof; the part is 10..14 x 0..4, 1..4 m.
    """
    verts: list[list[float]] = []

    def v(x, y, z):
        verts.append([x, y, z])
        return len(verts) - 1

    def box(x0, y0, x1, y1, z0, z1):
        b = [v(x, y, z0) for x, y in ((x0, y0), (x1, y0), (x1, y1), (x0, y1))]
        t = [v(x, y, z1) for x, y in ((x0, y0), (x1, y0), (x1, y1), (x0, y1))]
        ground = [[b[0], b[3], b[2], b[1]]]
        roof = [[t[0], t[1], t[2], t[3]]]
        walls = [[[b[k], b[(k + 1) % 4], t[(k + 1) % 4], t[k]]] for k in range(4)]
        return [ground, roof, *walls]

    lod1 = box(0, 0, 10, 8, 1, 7)
    lod2 = box(0, 0, 10, 8, 1, 7)
    part = box(10, 0, 14, 4, 1, 4)
    road = [[[v(-5, -6, 1), v(20, -6, 1), v(20, -1, 1)]], [[v(-5, -6, 1), v(20, -1, 1), v(-5, -1, 1)]]]
    land = [[[v(-20, 10, 1.2), v(-2, 10, 1.2), v(-2, 30, 1.2), v(-20, 30, 1.2)],
             [v(-15, 15, 1.2), v(-15, 20, 1.2), v(-10, 20, 1.2), v(-10, 15, 1.2)]]]
    water = [[[v(20, 10, -0.4), v(40, 10, -0.4), v(40, 30, -0.4), v(20, 30, -0.4)]]]
    semantics = {"surfaces": [{"type": "GroundSurface"}, {"type": "RoofSurface"}, {"type": "WallSurface"}],
                 "values": [[0, 1, 2, 2, 2, 2]]}
    lod = (lambda x: x) if version == "1.0" else str
    doc = {
        "type": "CityJSON",
        "version": version,
        "metadata": {"referenceSystem": "urn:ogc:def:crs:EPSG::7415" if version == "1.0"
                     else "https://www.opengis.net/def/crs/EPSG/0/7415"},
        "CityObjects": {
            "B1": {"type": "Building", "children": ["B1-P1"], "geometry": [
                {"type": "Solid", "lod": lod(1), "boundaries": [lod1]},
                {"type": "Solid", "lod": lod(2), "boundaries": [lod2], "semantics": semantics}]},
            "B1-P1": {"type": "BuildingPart", "parents": ["B1"], "geometry": [
                {"type": "Solid", "lod": lod(2), "boundaries": [part], "semantics": semantics}]},
            "R1": {"type": "Road", "geometry": [{"type": "MultiSurface", "lod": lod(1), "boundaries": road}]},
            "L1": {"type": "LandUse", "geometry": [{"type": "MultiSurface", "lod": lod(1), "boundaries": land}]},
            "W1": {"type": "WaterBody", "geometry": [{"type": "MultiSurface", "lod": lod(1), "boundaries": water}]},
            "T1": {"type": "SolitaryVegetationObject", "geometry": []},
        },
    }
    offset = np.array([85_000.0, 447_500.0, 0.0])
    if version == "1.0":
        doc["vertices"] = (np.array(verts) + offset).tolist()
    else:
        doc["transform"] = {"scale": [0.001, 0.001, 0.001], "translate": offset.tolist()}
        doc["vertices"] = np.round(np.array(verts) * 1000).astype(int).tolist()
    return doc


@pytest.mark.parametrize("version", ["1.0", "1.1", "2.0"])
def test_versions_parts_semantics_and_holes(tmp_path, version):
    f = tmp_path / f"city{version}.json"
    f.write_text(json.dumps(_city(version)))
    city = read_cityjson(f)
    c = city.counts
    assert (city.version, city.crs, city.source_crs) == (version, "EPSG:28992", "EPSG:7415")
    assert (c["buildings"], c["building_parts"], c["roads"], c["land_use_areas"], c["water"], c["other_objects"]) == (1, 1, 1, 2, 1, 1)
    (b,) = city.buildings
    assert b.name == "B1" and (b.base, b.height) == pytest.approx((1.0, 6.0))
    poly = shapely.Polygon(b.footprint, b.holes)
    assert poly.area == pytest.approx(80.0 + 16.0)  # the part's ground is merged in
    assert poly.bounds == pytest.approx((85_000.0, 447_500.0, 85_014.0, 447_508.0))
    m = b.mesh
    area = lambda t: 0.5 * np.linalg.norm(np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0]), axis=1).sum()  # noqa: E731
    tri = m.vertices[m.triangles]
    assert area(tri[m.surface == SurfaceMesh.GROUND]) == pytest.approx(96.0)
    assert area(tri[m.surface == SurfaceMesh.ROOF]) == pytest.approx(96.0)
    assert area(tri[m.surface == SurfaceMesh.WALL]) == pytest.approx(2 * (10 + 8) * 6 + 2 * (4 + 4) * 3)
    normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    assert (normals[m.surface == SurfaceMesh.ROOF][:, 2] > 0).all() and (normals[m.surface == SurfaceMesh.GROUND][:, 2] < 0).all()
    land = next(z for z in city.areas if z.name == "LandUse")
    assert shapely.Polygon(land.polygon).area == pytest.approx(18 * 20)  # the outline; the hole's triangles leave it out
    terrain, _ = ground_terrain(city, city.extent, 1.0)
    assert terrain.sample(np.array([85_005.0]), np.array([447_504.0]))[0] == pytest.approx(1.0)  # under the building
    assert terrain.sample(np.array([85_030.0]), np.array([447_520.0]))[0] == pytest.approx(-0.4)  # the water


def test_lod_choice(tmp_path):
    f = tmp_path / "c.json"
    f.write_text(json.dumps(_city("2.0")))
    (b,) = read_cityjson(f, lod=1.0).buildings
    assert set(np.unique(b.mesh.surface).tolist()) == {SurfaceMesh.WALL, SurfaceMesh.ROOF, SurfaceMesh.GROUND}  # guessed
    assert shapely.Polygon(b.footprint).area == pytest.approx(80.0)  # the part has no LoD1 geometry


def test_cityjsonseq(tmp_path):
    doc = _city("2.0")
    header = {k: v for k, v in doc.items() if k not in ("CityObjects", "vertices")} | {"CityObjects": {}, "vertices": []}
    lines = [json.dumps(header)]
    groups = [["B1", "B1-P1"], ["R1"], ["L1"], ["W1"], ["T1"]]
    for ids in groups:
        objects = copy.deepcopy({i: doc["CityObjects"][i] for i in ids})
        used = sorted({x for o in objects.values() for g in o["geometry"] for x in _indices(g["boundaries"])})
        remap = {old: new for new, old in enumerate(used)}
        for o in objects.values():
            for g in o["geometry"]:
                g["boundaries"] = _remap(g["boundaries"], remap)
        lines.append(json.dumps({"type": "CityJSONFeature", "id": ids[0], "CityObjects": objects,
                                 "vertices": [doc["vertices"][i] for i in used]}))
    f = tmp_path / "city.city.jsonl"
    f.write_text("\n".join(lines) + "\n")
    city = read_cityjson(f)
    assert (city.counts["buildings"], city.counts["building_parts"], city.counts["land_use_areas"]) == (1, 1, 2)
    assert shapely.Polygon(city.buildings[0].footprint).area == pytest.approx(96.0)
    assert describe(f)["kind"] == "cityjsonseq"
    lines[3] = lines[3][:-5]
    f.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=rf"^{f}: line 4, column \d+: not valid JSON"):
        read_cityjson(f)


def _indices(b):
    return [x for y in b for x in _indices(y)] if isinstance(b, list) else [b]


def _remap(b, remap):
    return [_remap(y, remap) for y in b] if isinstance(b, list) else remap[b]


# --- bad files ---------------------------------------------------------------------------------------


def test_vertex_index_out_of_range_names_the_object(tmp_path, capsys):
    doc = _city("2.0")
    doc["CityObjects"]["R1"]["geometry"][0]["boundaries"][1][0][2] = len(doc["vertices"]) + 7
    f = tmp_path / "bad.city.json"
    f.write_text(json.dumps(doc))
    expected = f"CityObject 'R1', geometry 0: vertex index {len(doc['vertices']) + 7} is out of range (the file has {len(doc['vertices'])} vertices)"
    with pytest.raises(InputError) as e:
        read_cityjson(f)
    assert str(e.value) == f"{f}: {expected}"
    assert main(["inspect", str(f)]) == 2
    err = capsys.readouterr().err
    assert expected in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize("version", ["0.9", "3.0", 2])
def test_unknown_version(tmp_path, version):
    doc = _city("2.0")
    doc["version"] = version
    f = tmp_path / "v.json"
    f.write_text(json.dumps(doc))
    with pytest.raises(InputError, match=rf"^{f}: version: unknown CityJSON version {version!r}; twin reads 1.0, 1.1 and 2.0"):
        read_cityjson(f)


def test_truncated_and_other_bad_json(tmp_path):
    data = need(DELFT).read_text()
    f = tmp_path / "cut.city.json"
    f.write_text(data[: len(data) // 2])
    with pytest.raises(InputError, match=rf"^{f}: line 1, column \d+: not valid JSON .*the file looks truncated"):
        read_cityjson(f)
    g = tmp_path / "other.json"
    g.write_text(json.dumps({"type": "FeatureCollection"}))
    with pytest.raises(InputError, match=r"not a CityJSON document"):
        read_cityjson(g)
    doc = _city("2.0")
    del doc["metadata"]
    h = tmp_path / "nocrs.json"
    h.write_text(json.dumps(doc))
    with pytest.raises(InputError, match=r"metadata\.referenceSystem: the file does not say its CRS"):
        read_cityjson(h)
    assert read_cityjson(h, source_crs=28992).crs == "EPSG:28992"
    doc = _city("2.0")
    doc["vertices"][3] = [1, 2]
    k = tmp_path / "vert.json"
    k.write_text(json.dumps(doc))
    with pytest.raises(InputError, match=r"vertices\[3\]: not a vertex \[x, y, z\]: \[1, 2\]"):
        read_cityjson(k)


def test_inspect_cityjson(capsys):
    assert main(["inspect", str(need(DELFT)), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert (d["kind"], d["version"], d["crs"], d["source_crs"]) == ("cityjson", "2.0", "EPSG:28992", "EPSG:7415")
    assert (d["buildings"], d["building_parts"], d["roads"], d["land_use_areas"], d["vertices"]) == (160, 0, 143, 210, 18262)
    assert d["city_objects"]["GenericCityObject"] == 54

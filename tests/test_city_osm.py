"""OpenStreetMap import (twin.io.osm): the Moscow extract counted against the XML, PBF, clipped extracts, bad files."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import shapely
from shared_data import DATA, need

from twin.app.cli import main
from twin.errors import InputError
from twin.inspect import describe
from twin.io.crs import transform
from twin.io.osm import DEFAULT_HEIGHT, LEVEL_HEIGHT, MANNING, NOT_ROADS, building_heights, read_osm, road_graph

pytestmark = pytest.mark.data  # needs ../shared/data

osmium = pytest.importorskip("osmium")

MOSCOW = DATA / "city" / "moscow.osm"


def _tags(e) -> dict[str, str]:
    return {t.get("k"): t.get("v") for t in e.findall("tag")}


def _is_area(tags: dict[str, str]) -> bool:
    return any(k in tags and (tags[k] in table or None in table) for k, table in MANNING.items())


class Xml:
    """What the XML itself says, counted with ElementTree, by the rules of twin.io.osm's docstring."""

    def __init__(self, path: Path):
        root = ET.parse(path).getroot()
        self.nodes = {n.get("id"): (float(n.get("lon")), float(n.get("lat"))) for n in root.iter("node")}
        self.ways = {w.get("id"): ([nd.get("ref") for nd in w.findall("nd")], _tags(w)) for w in root.iter("way")}
        self.relations = [(r.get("id"), _tags(r), [(m.get("type"), m.get("ref"), m.get("role")) for m in r.findall("member")])
                          for r in root.iter("relation")]

    def closed(self, wid: str) -> bool:
        refs = self.ways[wid][0]
        return len(refs) > 3 and refs[0] == refs[-1]

    def kind(self, tags: dict[str, str]) -> str | None:
        if tags.get("building", "no") != "no":
            return "building"
        if tags.get("building:part", "no") != "no":
            return "part"
        if "highway" in tags and tags["highway"] not in NOT_ROADS:
            return "road"
        return "area" if _is_area(tags) else None

    def multipolygons(self, kind: str):
        return [r for r in self.relations if r[1].get("type") == "multipolygon" and self.kind(r[1]) == kind]


@pytest.fixture(scope="module")
def xml() -> Xml:
    return Xml(need(MOSCOW))


@pytest.fixture(scope="module")
def moscow():
    return read_osm(need(MOSCOW))


def test_counts_match_the_xml(moscow, xml):
    c = moscow.counts
    assert (c["nodes"], c["ways"], c["relations"]) == (8402, 1652, 272) == (len(xml.nodes), len(xml.ways), len(xml.relations))
    building_ways = [w for w, (_, t) in xml.ways.items() if xml.kind(t) == "building"]
    assert len(building_ways) == 619 and all(xml.closed(w) for w in building_ways)
    assert c["building_relations"] == len(xml.multipolygons("building")) == 9
    assert c["buildings"] == 619 + 9 == 628
    assert c["building_parts"] == sum(1 for _, t in xml.ways.values() if xml.kind(t) == "part") == 42
    assert c["roads"] == sum(1 for _, t in xml.ways.values() if xml.kind(t) == "road") == 588
    area_ways = sum(1 for w, (_, t) in xml.ways.items() if xml.kind(t) == "area" and xml.closed(w))
    members = {w for r in xml.multipolygons("area") for typ, w, _ in r[2] if typ == "way"}
    complete = [r for r in xml.multipolygons("area") if any(typ == "way" and w in xml.ways for typ, w, _ in r[2])]
    assert c["land_use_areas"] == area_ways + len(complete) == 99
    wanted = [m for kind in ("building", "part", "area") for r in xml.multipolygons(kind) for m in r[2] if m[0] == "way"]
    assert c["missing_members"] == sum(1 for _, w, _ in wanted if w not in xml.ways) == 19
    assert members  # the relations do reference ways
    assert c["missing_node_refs"] == c["ways_clipped"] == c["ways_dropped"] == 0  # the file is referentially complete
    assert (c["height_from_height"], c["height_from_levels"], c["height_from_default"]) == (1, 112, 515)
    assert len(moscow.buildings) >= 628 and len(moscow.building_parts) == 42 and len(moscow.roads) == 588


def test_crs_bounds_and_coordinates(moscow, xml):
    assert moscow.crs == "EPSG:32637"  # UTM 37N: 37.6 E
    assert moscow.bounds == pytest.approx((37.582641, 55.805261, 37.626929, 55.824455))
    refs, _ = xml.ways["23161467"]
    lon, lat = np.array([xml.nodes[r] for r in refs[:-1]]).T
    x, y = transform("EPSG:4326", "EPSG:32637", lon, lat)
    b = next(b for b in moscow.buildings if b.name == "w23161467")
    np.testing.assert_allclose(b.footprint, np.column_stack([x, y]), atol=1e-6)
    xmin, ymin, xmax, ymax = moscow.extent
    assert 2700 < xmax - xmin < 2900 and 2100 < ymax - ymin < 2250  # 0.0443 deg x 0.0192 deg at 55.8 N


def test_heights_from_tags(moscow):
    by_name = {b.name: b for b in moscow.buildings}
    tower = by_name["w42220517"]  # the Ostankino tower's base building: height=18
    assert (tower.height, tower.min_height) == (18.0, 0.0)
    parts = {b.name: b for b in moscow.building_parts}
    top = parts["w89305864"]  # the spire: min_height=505, height=540
    assert (top.height, top.min_height) == (540.0, 505.0)
    assert max(p.height for p in parts.values()) == 540.0
    assert sum(1 for b in moscow.buildings if b.height == DEFAULT_HEIGHT) >= 515
    levels = [b for b in moscow.buildings if b.height not in (DEFAULT_HEIGHT, 18.0)]
    assert levels and all(b.height % LEVEL_HEIGHT == 0 for b in levels)


def test_multipolygon_buildings_and_areas_are_valid(moscow):
    relations = [b for b in moscow.buildings if b.name.startswith("r")]
    assert {b.name.split("/")[0] for b in relations} == {f"r{i}" for i in (1791630, 1791633, 1791635, 1791641, 1791647,
                                                                           1791648, 1791649, 2667260, 2667261)}
    for b in moscow.buildings + moscow.building_parts:
        poly = shapely.Polygon(b.footprint, b.holes)
        assert poly.area > 0, b.name
    areas = [abs(shapely.Polygon(z.polygon).area) for z in moscow.areas]
    assert areas == sorted(areas, reverse=True)  # largest first: smaller areas inside win when rasterised in order
    names = {z.name for z in moscow.areas}
    assert {"landuse=residential", "natural=water", "leisure=park", "amenity=parking"} <= names
    assert all(z.manning_n == MANNING[z.name.split("=")[0]].get(z.name.split("=")[1], MANNING[z.name.split("=")[0]].get(None))
               for z in moscow.areas)


def test_roads_and_graph(moscow, xml):
    kinds = {r.kind for r in moscow.roads}
    assert {"secondary", "tertiary", "residential", "service", "footway"} <= kinds
    sec = next(r for r in moscow.roads if r.kind == "secondary" and "lanes" not in xml.ways[r.ident[1:]][1]
               and "width" not in xml.ways[r.ident[1:]][1])
    assert sec.width == 12.0
    named = [r for r in moscow.roads if r.name]
    assert named and all(r.name == xml.ways[r.ident[1:]][1]["name"] for r in named)
    for r in moscow.roads:
        refs = xml.ways[r.ident[1:]][0]
        assert [str(n) for n in r.nodes] == refs and r.points.shape == (len(refs), 2)
    g = road_graph(moscow.roads)
    assert g.edges.shape[1] == 2 and len(g.edges) >= len(moscow.roads)
    total = sum(float(np.hypot(*np.diff(r.points, axis=0).T).sum()) for r in moscow.roads)
    assert g.length.sum() == pytest.approx(total)
    degree = np.bincount(g.edges.ravel(), minlength=len(g.nodes))
    assert (degree >= 3).sum() > 100  # junctions


def test_pbf_gives_the_same_scene(tmp_path, moscow):
    pbf = tmp_path / "moscow.osm.pbf"
    with osmium.SimpleWriter(str(pbf)) as writer:
        for obj in osmium.FileProcessor(str(MOSCOW)):
            writer.add(obj)
    data = read_osm(pbf, crs=32637)
    for key in ("buildings", "building_parts", "roads", "land_use_areas", "vertices", "missing_members"):
        assert data.counts[key] == moscow.counts[key], key
    np.testing.assert_allclose(data.buildings[0].footprint, moscow.buildings[0].footprint, atol=1e-3)  # 1e-7 deg in PBF
    assert describe(pbf)["kind"] == "osm-pbf"


def _clipped(tmp_path: Path, xml_path: Path, box: tuple[float, float, float, float]) -> tuple[Path, set[str]]:
    """The extract with the nodes outside ``box`` (lon/lat) removed, as osmium extract --strategy simple does."""
    tree = ET.parse(xml_path)
    root = tree.getroot()
    gone = set()
    for n in list(root.iter("node")):
        lon, lat = float(n.get("lon")), float(n.get("lat"))
        if not (box[0] <= lon <= box[2] and box[1] <= lat <= box[3]):
            gone.add(n.get("id"))
            root.remove(n)
    out = tmp_path / "clipped.osm"
    tree.write(out, encoding="utf-8", xml_declaration=True)
    return out, gone


def test_clipped_extract_keeps_what_closes_and_counts(tmp_path, xml):
    path, gone = _clipped(tmp_path, MOSCOW, (37.60, 55.80, 37.62, 55.82))
    data = read_osm(path)
    used = [w for w, (_, t) in xml.ways.items() if xml.kind(t) is not None]
    used += [m[1] for kind in ("building", "part", "area") for r in xml.multipolygons(kind) for m in r[2]
             if m[0] == "way" and m[1] in xml.ways and xml.kind(xml.ways[m[1]][1]) is None]
    missing = sum(1 for w in set(used) for ref in xml.ways[w][0] if ref in gone)
    assert data.counts["missing_node_refs"] == missing > 1000
    cut = [w for w, (refs, t) in xml.ways.items() if xml.kind(t) in ("building", "part") and any(r in gone for r in refs)]
    kept = [w for w in cut if len({r for r in xml.ways[w][0] if r not in gone}) >= 3]
    names = {b.name for b in data.buildings + data.building_parts}
    assert all(f"w{w}" in names for w in kept) and not any(f"w{w}" in names for w in set(cut) - set(kept))
    assert data.counts["ways_clipped"] >= len(kept) > 0 and data.counts["ways_dropped"] > 0
    inside = [w for w, (refs, t) in xml.ways.items() if xml.kind(t) == "building" and not any(r in gone for r in refs)]
    assert all(f"w{w}" in names for w in inside)
    for r in data.roads:  # every run of a clipped road is unbroken
        assert len(r.nodes) >= 2 and not ({str(n) for n in r.nodes} & gone)


def test_building_heights_rules():
    assert building_heights({"height": "12.5 m"}) == (12.5, 0.0, "height")
    assert building_heights({"height": "40 ft"})[0] == pytest.approx(12.192)
    assert building_heights({"height": "10'6\""})[0] == pytest.approx(3.2004)
    assert building_heights({"building:levels": "4", "roof:levels": "1"}) == (15.0, 0.0, "levels")
    assert building_heights({"building:levels": "4", "roof:height": "2"}) == (14.0, 0.0, "levels")
    assert building_heights({"building:levels": "5", "building:min_level": "2"}) == (15.0, 6.0, "levels")
    assert building_heights({"height": "tall"}) == (DEFAULT_HEIGHT, 0.0, "default")
    assert building_heights({}, default_height=9.0) == (9.0, 0.0, "default")
    assert building_heights({"height": "10", "min_height": "12"}) == (10.0, 0.0, "height")  # an underside above the top is ignored


def test_truncated_xml_is_one_line_exit_2(tmp_path, capsys):
    data = need(MOSCOW).read_bytes()
    cut = tmp_path / "cut.osm"
    cut.write_bytes(data[: len(data) // 3])
    with pytest.raises(InputError) as e:
        read_osm(cut)
    msg = str(e.value)
    line = data[: len(data) // 3].count(b"\n") + 1
    assert msg.startswith(f"{cut}: line {line}, column ") and "malformed OSM XML" in msg and "truncated" in msg
    assert main(["inspect", str(cut), "--json"]) == 2
    err = capsys.readouterr().err
    assert f"line {line}" in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize(
    "text, where",
    [
        ('<osm version="0.6">\n<node id="1" lat="x" lon="2"/>\n</osm>\n', "line 2"),
        ("hello world\n", "line 1, column 0"),
    ],
)
def test_bad_xml(tmp_path, text, where):
    f = tmp_path / "bad.osm"
    f.write_text(text)
    with pytest.raises(InputError, match=rf"^{f}: {where}: "):
        read_osm(f)


def test_truncated_pbf_and_missing_file(tmp_path):
    pbf = tmp_path / "m.osm.pbf"
    with osmium.SimpleWriter(str(pbf)) as writer:
        for obj in osmium.FileProcessor(str(need(MOSCOW))):
            writer.add(obj)
    data = pbf.read_bytes()
    cut = tmp_path / "cut.osm.pbf"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=rf"^{cut}: "):
        read_osm(cut)
    with pytest.raises(InputError, match=r"nothing\.osm: no such file"):
        read_osm(tmp_path / "nothing.osm")


def test_inspect_osm(capsys):
    assert main(["inspect", str(need(MOSCOW)), "--json"]) == 0
    import json

    d = json.loads(capsys.readouterr().out)
    assert (d["kind"], d["crs"], d["buildings"], d["building_parts"], d["roads"], d["land_use_areas"]) == \
        ("osm-xml", "EPSG:32637", 628, 42, 588, 99)
    assert d["references_missing"] == 19 and d["vertices"] > 8000

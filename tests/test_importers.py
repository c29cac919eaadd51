"""Importers (twin.io) and twin.inspect on the real Merewether and Boulder Creek data and on bad files."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
import shapely
from shared_data import DATA, need

from twin.errors import InputError
from twin.inspect import describe, format_description
from twin.io import crs_from_prj, read_esri_ascii, read_esri_ascii_header, read_points, read_polygon
from twin.scene import Heightfield, Scene, save_scene

pytestmark = pytest.mark.data  # needs ../shared/data

MEREWETHER = DATA / "flood" / "merewether"
BOULDER = DATA / "terrain" / "boulder_creek_srtmgl3.asc"


@pytest.fixture(scope="module")
def topo() -> Heightfield:
    return read_esri_ascii(need(MEREWETHER / "topography1.zip"))


@pytest.fixture(scope="module")
def topo_rows() -> list[list[str]]:
    """The data lines of topography1.asc as raw tokens, north first, as in the file."""
    with zipfile.ZipFile(need(MEREWETHER / "topography1.zip")) as z:
        lines = z.read("topography1.asc").decode().splitlines()
    return [line.split() for line in lines[6:] if line.strip()]


# --- real data -------------------------------------------------------------------------


def test_merewether_grid_shape_corner_extent(topo):
    assert topo.shape == (416, 321)
    assert topo.elevation.dtype == np.float64
    assert topo.x0 == pytest.approx(382249.79, abs=0.01)
    assert topo.y0 == pytest.approx(6354265.43, abs=0.01)
    assert topo.dx == topo.dy == pytest.approx(0.99993681000029)
    xmin, ymin, xmax, ymax = topo.extent
    assert (xmax - xmin, ymax - ymin) == pytest.approx((321 * 0.99993681000029, 416 * 0.99993681000029))


def test_merewether_row_order_and_nodata(topo, topo_rows):
    assert len(topo_rows) == 416
    south = np.array(topo_rows[-1], dtype=float)  # the file's last line is the southern row
    assert topo.elevation[0, 0] == 24.4364 == south[0]
    np.testing.assert_array_equal(topo.elevation[0], np.where(south == -9999, np.nan, south))
    assert np.isnan(topo.elevation[-1, 0]) and topo.elevation[-1, 1] == 42.9475  # the file's first line
    raw_nodata = sum(row.count("-9999") for row in topo_rows)
    assert raw_nodata == 73
    assert np.count_nonzero(np.isnan(topo.elevation)) == raw_nodata
    assert 15.0 < np.nanmin(topo.elevation) and np.nanmax(topo.elevation) < 60.0


def test_merewether_header_only():
    h = read_esri_ascii_header(need(MEREWETHER / "topography1.zip"))
    assert (h.nrows, h.ncols, h.nodata, h.data_line) == (416, 321, -9999.0, 7)
    assert h.source.endswith("topography1.zip!topography1.asc")


def test_merewether_prj():
    assert crs_from_prj(need(MEREWETHER / "topography1.prj")) == "EPSG:32756"


def test_merewether_houses_and_road_are_valid_polygons():
    houses = sorted(need(MEREWETHER / "houses").glob("*.csv"))
    assert len(houses) == 60
    for f in houses + [MEREWETHER / "RoadPolygon.csv", MEREWETHER / "extent.csv"]:
        pts = read_polygon(f)
        assert pts.ndim == 2 and pts.shape[1] == 2 and len(pts) >= 3 and pts.dtype == np.float64
        assert not np.array_equal(pts[0], pts[-1])
        poly = shapely.Polygon(pts)
        assert poly.is_valid and poly.area > 0, f.name


def test_boulder_creek_dem():
    h = read_esri_ascii(need(BOULDER))
    assert h.shape == (144, 240)
    assert h.x0 == pytest.approx(-105.550416666684) and h.y0 == pytest.approx(40.090416666671)
    assert not np.isnan(h.elevation).any()  # NODATA_value 0 never occurs


def test_describe_real_files():
    d = describe(need(MEREWETHER / "topography1.zip"))
    assert d["kind"] == "esri-ascii-grid (zip)" and d["member"] == "topography1.asc"
    assert d["crs"] == "EPSG:32756" and d["crs_source"].endswith("topography1.prj")
    assert d["shape"] == (416, 321) and d["nodata_cells"] == 73
    assert d["extent"][:2] == pytest.approx((382249.79, 6354265.43), abs=0.01)
    text = format_description(d)
    assert "416 rows x 321 columns" in text and "EPSG:32756" in text
    assert describe(MEREWETHER / "topography1.prj")["crs_name"] == "WGS 84 / UTM zone 56S"
    assert describe(MEREWETHER / "houses" / "house000.csv")["vertices"] == 11
    b = describe(need(BOULDER))
    assert b["crs"] is None and "no boulder_creek_srtmgl3.prj" in b["crs_error"]


# --- grids built here ------------------------------------------------------------------

GOOD = "NCOLS 3\nnrows 2\nxllcenter 10.5\nYLLCENTER 20.5\ncellsize 1\nnodata_value -1\n1 2 3\n4 -1 6\n"


def test_small_grid_flip_centre_and_nodata(tmp_path):
    f = tmp_path / "g.asc"
    f.write_text(GOOD.replace("\n", "\r\n"))
    h = read_esri_ascii(f)
    assert (h.x0, h.y0, h.dx, h.dy) == (10.0, 20.0, 1.0, 1.0)
    np.testing.assert_array_equal(h.elevation, [[4, np.nan, 6], [1, 2, 3]])


def test_zip_member_choice(tmp_path):
    f = tmp_path / "two.zip"
    with zipfile.ZipFile(f, "w") as z:
        z.writestr("a.asc", GOOD)
        z.writestr("b.asc", GOOD.replace("1 2 3", "7 8 9"))
    with pytest.raises(InputError, match="several .asc files"):
        read_esri_ascii(f)
    assert read_esri_ascii(f, member="b.asc").elevation[1, 0] == 7


def grid_error(tmp_path: Path, text: str) -> str:
    f = tmp_path / "bad.asc"
    f.write_text(text)
    with pytest.raises(InputError) as e:
        read_esri_ascii(f)
    assert str(e.value).startswith(f"{f}: ")
    return str(e.value)


def test_grid_too_few_values(tmp_path):
    msg = grid_error(tmp_path, GOOD.replace("4 -1 6", "4 -1"))
    assert "line 8" in msg and "6 values, found 5" in msg and "row 2" in msg


def test_grid_too_many_values(tmp_path):
    msg = grid_error(tmp_path, GOOD + "7 8 9\n")
    assert "line 9" in msg and "6 values, found 9" in msg


def test_grid_missing_row(tmp_path):
    msg = grid_error(tmp_path, GOOD.replace("4 -1 6\n", ""))
    assert "line 7" in msg and "found 3" in msg and "ends after 1 rows" in msg


def test_grid_non_numeric_value(tmp_path):
    msg = grid_error(tmp_path, GOOD.replace("4 -1 6", "4 x7 6"))
    assert "line 8, value 2" in msg and "'x7'" in msg


@pytest.mark.parametrize(
    "text, where, what",
    [
        (GOOD.replace("nrows 2\n", ""), "header", "missing key nrows"),
        (GOOD.replace("cellsize 1\n", ""), "header", "missing key cellsize"),
        (GOOD.replace("cellsize 1\n", "cellsize 1\nncols 3\n"), "line 6", "duplicate header key 'ncols' (first on line 1)"),
        (GOOD.replace("cellsize 1", "cellsize one"), "line 5", "cellsize is not a number: 'one'"),
        (GOOD.replace("cellsize 1", "cellsize 0"), "line 5", "cellsize must be positive"),
        (GOOD.replace("nrows 2", "nrows -2"), "line 2", "nrows must be a positive integer"),
        (GOOD.replace("cellsize", "cellsise"), "line 5", "unknown header key 'cellsise'"),
    ],
)
def test_grid_bad_header(tmp_path, text, where, what):
    msg = grid_error(tmp_path, text)
    assert f": {where}: " in msg and what in msg


def test_grid_missing_file_and_bad_archives(tmp_path):
    with pytest.raises(InputError, match=r"nothing\.asc: no such file"):
        read_esri_ascii(tmp_path / "nothing.asc")
    empty = tmp_path / "noasc.zip"
    with zipfile.ZipFile(empty, "w") as z:
        z.writestr("readme.txt", "hello")
    with pytest.raises(InputError, match=r"noasc\.zip: the archive holds no \.asc file \(it holds: readme\.txt\)"):
        read_esri_ascii(empty)
    fake = tmp_path / "fake.zip"
    fake.write_text(GOOD)
    with pytest.raises(InputError, match=r"fake\.zip: not a zip archive"):
        read_esri_ascii(fake)


def test_grid_error_in_zip_member_names_member(tmp_path):
    f = tmp_path / "dem.zip"
    with zipfile.ZipFile(f, "w") as z:
        z.writestr("dem.asc", GOOD.replace("4 -1 6", "4 -1"))
    with pytest.raises(InputError, match=r"dem\.zip!dem\.asc: line 8: "):
        read_esri_ascii(f)


# --- projections -----------------------------------------------------------------------

ESRI_WKT = (
    'PROJCS["WGS_1984_UTM_Zone_56S",GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],'
    'PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Transverse_Mercator"],'
    'PARAMETER["False_Easting",500000.0],PARAMETER["False_Northing",10000000.0],PARAMETER["Central_Meridian",153.0],'
    'PARAMETER["Scale_Factor",0.9996],PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]'
)


@pytest.mark.parametrize(
    "text, code",
    [
        (ESRI_WKT, "EPSG:32756"),
        ("Projection UTM\nZone 33\nDatum WGS84\nUnits METERS\nYshift 0\n", "EPSG:32633"),
        ("Projection UTM\nZone -56\nDatum WGS84\n", "EPSG:32756"),
        ("Projection UTM\nZone 56\nDatum GDA94\nYshift 10000000\n", "EPSG:28356"),
        ("Projection GEOGRAPHIC\nDatum WGS84\nUnits DD\nParameters\n", "EPSG:4326"),
    ],
)
def test_prj_formats(tmp_path, text, code):
    f = tmp_path / "a.prj"
    f.write_text(text)
    assert crs_from_prj(f) == code


@pytest.mark.parametrize(
    "text, where",
    [
        ("this is not a projection\n", "line 1"),
        ("\nPROJCS[garbage\n", "line 2"),
        ("Projection LAMBERT\nDatum WGS84\n", "line 1"),
        ("Projection UTM\nZone 56\nDatum MARS2000\n", "line 3"),
        ("Projection UTM\nZone 99\nDatum WGS84\n", "line 2"),
    ],
)
def test_prj_garbage(tmp_path, text, where):
    f = tmp_path / "bad.prj"
    f.write_text(text)
    with pytest.raises(InputError, match=rf"^{f}: {where}: "):
        crs_from_prj(f)


# --- polygons and points ---------------------------------------------------------------


def test_polygon_header_and_closing_vertex(tmp_path):
    f = tmp_path / "p.csv"
    f.write_text("x,y\n0,0\n\n4,0\n4,3\n0,0\n")
    np.testing.assert_array_equal(read_polygon(f), [[0, 0], [4, 0], [4, 3]])


@pytest.mark.parametrize(
    "text, where, what",
    [
        ("0,0\n1,1\n", "lines 1-2", "does not close: 2 distinct vertices"),
        ("0,0\n1,1\n2,2\n", "lines 1-3", "zero area"),
        ("0,0\n2,2\n2,0\n0,2\n", "line 1", "not simple"),
        ("0,0\n1,0\nabc\n", "line 3", "expected 2 numbers, found 'abc'"),
        ("0,0\n1,0,5\n1,1\n", "line 2", "expected 2 numbers, found '1,0,5'"),
    ],
)
def test_polygon_bad(tmp_path, text, where, what):
    f = tmp_path / "bad.csv"
    f.write_text(text)
    with pytest.raises(InputError) as e:
        read_polygon(f)
    msg = str(e.value)
    assert msg.startswith(f"{f}: {where}: ") and what in msg


def test_self_intersection_names_crossing_edges(tmp_path):
    f = tmp_path / "bowtie.csv"
    f.write_text("0,0\n2,2\n2,0\n0,2\n")
    with pytest.raises(InputError, match=r"at \(1, 1\), edges between lines 1-2 and 3-4"):
        read_polygon(f)


def test_points(tmp_path):
    named = tmp_path / "probes.csv"
    named.write_text("name,x,y\nA,1,2\nB,3.5,4\n")
    assert read_points(named) == [("A", 1.0, 2.0), ("B", 3.5, 4.0)]
    bare = tmp_path / "bare.csv"
    bare.write_text("1,2\n3,4\n")
    assert read_points(bare) == [("P1", 1.0, 2.0), ("P2", 3.0, 4.0)]
    dup = tmp_path / "dup.csv"
    dup.write_text("name,x,y\nA,1,2\nA,3,4\n")
    with pytest.raises(InputError, match=rf"^{dup}: line 3: duplicate name 'A' \(first on line 2\)"):
        read_points(dup)
    bad = tmp_path / "bad.csv"
    bad.write_text("name,x,y\nA,1,north\n")
    with pytest.raises(InputError, match=rf"^{bad}: line 2: expected 2 numbers"):
        read_points(bad)


# --- inspect ---------------------------------------------------------------------------


def test_describe_kinds(tmp_path):
    probes = tmp_path / "probes.csv"
    probes.write_text("name,x,y\nA,1,2\nB,3,4\n")
    assert describe(probes) | {"path": ""} == {"path": "", "kind": "points", "points": 2, "names": ["A", "B"], "extent": (1.0, 2.0, 3.0, 4.0)}
    grid = tmp_path / "g.asc"
    grid.write_text(GOOD)
    (tmp_path / "g.prj").write_text("Projection UTM\nZone 56\nDatum WGS84\nYshift 10000000\n")
    d = describe(grid)
    assert (d["kind"], d["crs"], d["nodata_cells"], d["elevation_range"]) == ("esri-ascii-grid", "EPSG:32756", 1, (1.0, 6.0))
    terrain = Heightfield(np.zeros((2, 3)), 0.0, 0.0, 1.0, 1.0)
    scene = save_scene(Scene("s", "EPSG:32756", (0.0, 0.0), (0.0, 0.0, 3.0, 2.0), terrain), tmp_path / "s.twin")
    s = describe(scene)
    assert (s["kind"], s["crs"], s["shape"], s["buildings"]) == ("twin-scene", "EPSG:32756", (2, 3), 0)
    assert "twin-scene" in format_description(s)
    with pytest.raises(InputError, match=r"x\.xyz: not a kind of file twin reads"):
        (tmp_path / "x.xyz").write_bytes(b"II*\0")
        describe(tmp_path / "x.xyz")
    with pytest.raises(InputError, match=r"gone\.asc: no such file"):
        describe(tmp_path / "gone.asc")


def test_describe_zarr(tmp_path):
    xr = pytest.importorskip("xarray")
    ds = xr.Dataset({"h": (("time", "y", "x"), np.zeros((2, 3, 4), np.float32))}, attrs={"crs": "EPSG:32756", "scene": "s"})
    store = tmp_path / "run.zarr"
    ds.to_zarr(store, consolidated=False)
    d = describe(store)
    assert d["kind"] == "zarr-result" and d["crs"] == "EPSG:32756"
    assert d["dims"] == {"time": 2, "y": 3, "x": 4} and d["variables"] == {"h": "(time, y, x) float32"}
    assert "h" in format_description(d)
    (tmp_path / "empty.zarr").mkdir()
    with pytest.raises(InputError, match=r"empty\.zarr: not a zarr store"):
        describe(tmp_path / "empty.zarr")

"""DEM rasters (twin.io.dem): the Boulder Creek SRTM grid as .asc, GeoTIFF and .hgt, resampling, voids, bad files."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
from shared_data import DATA, need

from twin.app.cli import main
from twin.errors import InputError
from twin.inspect import describe
from twin.io.crs import transform, utm_crs
from twin.io.dem import SRTM_VOID, drape, read_dem, read_raster
from twin.scene import Building, Heightfield

pytestmark = pytest.mark.data  # needs ../shared/data

BOULDER = DATA / "terrain" / "boulder_creek_srtmgl3.asc"
JAMESTOWN = (-105.3886, 40.1155)


@pytest.fixture(scope="module")
def boulder() -> np.ndarray:
    """The Boulder grid's values as in the file (north row first), shape (144, 240)."""
    lines = need(BOULDER).read_text().splitlines()
    return np.array([line.split() for line in lines[6:] if line.strip()], dtype=float)


def test_boulder_asc_resampled_to_utm_13n(boulder):
    dem = read_dem(BOULDER, source_crs="EPSG:4326")
    assert dem.crs == "EPSG:32613" == utm_crs(-105.45, 40.15) and dem.resampled
    assert dem.raster.kind == "esri-ascii-grid" and dem.raster.heights.shape == (144, 240) and dem.voids_filled == 0
    t = dem.terrain
    # 3" cells are about 71 m (east) x 92.6 m (north) at 40.15 N; the default cell is their geometric mean
    assert t.dx == pytest.approx(81.2, abs=0.3) and t.dy == pytest.approx(81.2, abs=0.3)
    assert t.shape == (162, 208)
    xmin, ymin, xmax, ymax = t.extent
    assert (xmax - xmin, ymax - ymin) == pytest.approx((16_900, 13_140), abs=60)
    # every cell centre lies inside the source grid, so no value leaves the source's range
    assert boulder.min() <= t.elevation.min() and t.elevation.max() <= boulder.max()
    assert t.elevation.max() - t.elevation.min() > 1200
    x, y = transform("EPSG:4326", dem.crs, np.array([JAMESTOWN[0]]), np.array([JAMESTOWN[1]]))
    raw = dem.raster.heights.sample(np.array([JAMESTOWN[0]]), np.array([JAMESTOWN[1]]))
    assert t.sample(x, y) == pytest.approx(raw, abs=5.0)  # Jamestown, 2,109 m on the map: the creek bed
    assert 2090 < raw[0] < 2150


def test_raster_rows_run_south_to_north(boulder):
    r = read_raster(BOULDER, source_crs=4326)
    np.testing.assert_array_equal(r.heights.elevation[0], boulder[-1])
    np.testing.assert_array_equal(r.heights.elevation[-1], boulder[0])
    assert r.crs == "EPSG:4326"


def test_asc_without_prj_needs_a_crs():
    with pytest.raises(InputError, match=r"no boulder_creek_srtmgl3\.prj beside it says its CRS; pass source_crs="):
        read_dem(need(BOULDER))


def test_resolution_and_other_crs():
    dem = read_dem(need(BOULDER), source_crs=4326, crs="EPSG:32613", resolution=200.0)
    assert dem.terrain.dx == pytest.approx(200.0, rel=0.01) and dem.terrain.shape == (66, 84)
    with pytest.raises(InputError, match="not a projected CRS in metres"):
        read_dem(BOULDER, source_crs=4326, crs=4326)
    b = read_dem(BOULDER, source_crs=4326, bounds=(460_000.0, 4_440_000.0, 465_000.0, 4_443_000.0))
    assert b.terrain.extent == pytest.approx((460_000.0, 4_440_000.0, 465_000.0, 4_443_000.0))


# --- GeoTIFF --------------------------------------------------------------------------------------


def _geotiff(path: Path, values: np.ndarray, west: float, north: float, step: float, crs: str | None, nodata=None) -> Path:
    """A one-band north-up GeoTIFF of ``values`` (north row first) with square cells of ``step``."""
    rasterio = pytest.importorskip("rasterio")
    from rasterio.transform import Affine

    with rasterio.open(path, "w", driver="GTiff", width=values.shape[1], height=values.shape[0], count=1, dtype=values.dtype,
                       crs=crs, transform=Affine(step, 0.0, west, 0.0, -step, north), nodata=nodata) as ds:
        ds.write(values, 1)
    return path


def test_geotiff_geographic_with_voids(tmp_path, boulder):
    values = boulder.astype(np.float32)
    values[70:73, 100:104] = -9999.0  # a void of 12 cells
    step = 0.000833333333
    tif = _geotiff(tmp_path / "boulder.tif", values, -105.550416666684, 40.210416666671, step, "EPSG:4326", -9999.0)
    r = read_raster(tif)
    assert (r.kind, r.crs, r.voids) == ("geotiff", "EPSG:4326", 12)
    assert np.isnan(r.heights.elevation[144 - 71, 101])
    np.testing.assert_array_equal(r.heights.elevation[0], boulder[-1])
    dem = read_dem(tif)
    assert dem.voids_filled == 12 and dem.crs == "EPSG:32613" and not np.isnan(dem.terrain.elevation).any()
    asc = read_dem(BOULDER, source_crs=4326)
    assert dem.terrain.shape == asc.terrain.shape
    assert np.abs(dem.terrain.elevation - asc.terrain.elevation).max() < 60  # only around the filled void
    d = describe(tif)
    assert (d["kind"], d["crs"], d["shape"], d["voids_filled"], d["metric_crs"]) == ("geotiff", "EPSG:4326", (144, 240), 12, "EPSG:32613")


def test_geotiff_projected_is_kept(tmp_path):
    values = np.arange(12, dtype=np.float64).reshape(3, 4)
    tif = _geotiff(tmp_path / "utm.tif", values, 500_000.0, 4_000_030.0, 10.0, "EPSG:32613")
    dem = read_dem(tif)
    assert not dem.resampled and dem.crs == "EPSG:32613"
    assert dem.terrain.extent == (500_000.0, 4_000_000.0, 500_040.0, 4_000_030.0)
    np.testing.assert_array_equal(dem.terrain.elevation, values[::-1])


def test_geotiff_without_crs_is_one_line_exit_2(tmp_path, capsys):
    tif = _geotiff(tmp_path / "nocrs.tif", np.zeros((3, 4), np.float32), 0.0, 3.0, 1.0, None)
    with pytest.raises(InputError, match=r"nocrs\.tif: the GeoTIFF has no CRS"):
        read_dem(tif)
    assert main(["inspect", str(tif), "--json"]) == 2
    err = capsys.readouterr().err
    assert "nocrs.tif: the GeoTIFF has no CRS" in err and len(err.strip().splitlines()) == 1
    assert read_dem(tif, source_crs="EPSG:32613").crs == "EPSG:32613"
    bad = tmp_path / "bad.tif"
    bad.write_bytes(b"II*\0garbage")
    with pytest.raises(InputError, match=r"bad\.tif: not a GeoTIFF rasterio can read"):
        read_raster(bad)


# --- SRTM .hgt -------------------------------------------------------------------------------------


def _tile(boulder: np.ndarray) -> np.ndarray:
    """An SRTM3 tile N40W106 (1201 x 1201, north row first) holding the Boulder grid where it lies, voids elsewhere.

    The Boulder grid is SRTMGL3 itself: its cell centres are the tile's samples,
    lon -105.55 + i/1200, lat 40.21 - j/1200.
    """
    tile = np.full((1201, 1201), SRTM_VOID, dtype=">i2")
    row0 = round((41.0 - 40.21) * 1200)  # the grid's northern row
    col0 = round((-105.55 + 106.0) * 1200)
    tile[row0:row0 + 144, col0:col0 + 240] = boulder.astype(np.int16)
    return tile


def test_hgt_tile_georeferencing_and_voids(tmp_path, boulder):
    hgt = tmp_path / "N40W106.hgt"
    hgt.write_bytes(_tile(boulder).tobytes())
    r = read_raster(hgt)
    assert (r.kind, r.crs, r.heights.shape, r.voids) == ("srtm-hgt", "EPSG:4326", (1201, 1201), 1201 * 1201 - 144 * 240)
    assert r.heights.x0 == pytest.approx(-106.0 - 0.5 / 1200) and r.heights.y0 == pytest.approx(40.0 - 0.5 / 1200)
    asc = read_raster(BOULDER, source_crs=4326).heights
    lon = np.array([JAMESTOWN[0], -105.5, -105.4])
    lat = np.array([JAMESTOWN[1], 40.1, 40.2])
    np.testing.assert_allclose(r.heights.sample(lon, lat), asc.sample(lon, lat), atol=1e-6)
    zipped = tmp_path / "N40W106.SRTMGL3.hgt.zip"
    with zipfile.ZipFile(zipped, "w") as z:
        z.write(hgt, "N40W106.hgt")
    rz = read_raster(zipped)
    assert rz.kind == "srtm-hgt (zip)" and rz.source.endswith("N40W106.SRTMGL3.hgt.zip!N40W106.hgt")
    np.testing.assert_array_equal(rz.heights.elevation, r.heights.elevation)
    assert describe(zipped)["voids_filled"] == r.voids


def test_hgt_dem_fills_voids_in_a_small_tile(tmp_path):
    tile = np.full((1201, 1201), 1000, dtype=">i2")
    tile[600:603, 600:602] = SRTM_VOID
    hgt = tmp_path / "S34E151.hgt"
    hgt.write_bytes(tile.tobytes())
    dem = read_dem(hgt, resolution=500.0)
    assert dem.voids_filled == 6 and dem.crs == "EPSG:32756"
    np.testing.assert_allclose(dem.terrain.elevation, 1000.0)


@pytest.mark.parametrize(
    "name, data, expected",
    [
        ("N40W106.hgt", b"\0" * 1000, r"N40W106\.hgt: byte 1000: 1,000 bytes is not an SRTM tile"),
        ("tile.hgt", b"\0" * (1201 * 1201 * 2), r"tile\.hgt: the name does not say where the tile lies"),
    ],
)
def test_hgt_bad(tmp_path, name, data, expected):
    f = tmp_path / name
    f.write_bytes(data)
    with pytest.raises(InputError, match=expected):
        read_raster(f)


def test_hgt_zip_without_tile_is_one_line_exit_2(tmp_path, capsys):
    f = tmp_path / "N40W106.hgt.zip"
    with zipfile.ZipFile(f, "w") as z:
        z.writestr("readme.txt", "no tile here")
    with pytest.raises(InputError, match=r"hgt\.zip: the archive holds no \.hgt file \(it holds: readme\.txt\)"):
        read_raster(f)
    assert main(["inspect", str(f)]) == 2
    err = capsys.readouterr().err
    assert "holds no .hgt file" in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


# --- draping ---------------------------------------------------------------------------------------


def test_drape_takes_the_lowest_ground_under_the_footprint():
    y, x = np.mgrid[0:20, 0:20]
    terrain = Heightfield(10.0 + 0.5 * x + 0.0 * y, 0.0, 0.0, 1.0, 1.0)  # rises 0.5 m per metre eastward
    square = Building(np.array([[4.0, 4.0], [9.0, 4.0], [9.0, 9.0], [4.0, 9.0]]), 6.0, "b")
    far = Building(np.array([[30.0, 30.0], [31.0, 30.0], [31.0, 31.0]]), 3.0, "outside")
    drape([square, far], terrain)
    assert square.base == pytest.approx(10.0 + 0.5 * 3.5)  # the western edge, x = 4 (cell centres lie at .5)
    assert far.base == pytest.approx(10.0 + 0.5 * 19)  # clamped to the grid's edge values


def test_fill_sinks_leaves_no_pit():
    from twin.io.dem import fill_sinks

    e = np.full((6, 7), 10.0)
    e[1:5, 1:6] = 5.0  # a basin
    e[2, 3] = 1.0  # a pit inside it
    e[3, 0] = 4.0  # an outlet on the west edge: the basin drains to 5 m... through it
    filled, raised = fill_sinks(Heightfield(e, 0.0, 0.0, 1.0, 1.0))
    assert raised == 1 and filled.elevation[2, 3] == 5.0
    np.testing.assert_array_equal(np.delete(filled.elevation.ravel(), 2 * 7 + 3), np.delete(e.ravel(), 2 * 7 + 3))
    raw = read_dem(need(BOULDER), source_crs=4326)
    dem = read_dem(BOULDER, source_crs=4326, sinks=True)
    assert dem.sinks_filled > 0 and fill_sinks(raw.terrain)[1] == dem.sinks_filled and fill_sinks(dem.terrain)[1] == 0
    assert (dem.terrain.elevation >= raw.terrain.elevation).all()


def test_osm_city_scene_drapes_on_a_dem(tmp_path):
    """scenes/osm_city.py with a geographic GeoTIFF under the Moscow extract: resampled, cut, buildings draped."""
    from twin.io.osm import read_osm
    from twin.script import load_script, parameters_of

    osm = need(DATA / "city" / "moscow.osm")
    lon = np.linspace(37.55, 37.66, 120)
    lat = np.linspace(55.83, 55.80, 40)  # north row first
    values = (150.0 + 2000.0 * (lon[None, :] - 37.55) + 0.0 * lat[:, None]).astype(np.float32)  # rising eastward
    step = lon[1] - lon[0]
    tif = _geotiff(tmp_path / "dem.tif", values, 37.55 - step / 2, 55.83 + step / 2, step, "EPSG:4326")
    script = Path(__file__).resolve().parents[1] / "scenes" / "osm_city.py"
    module = load_script(script)
    run = module.setup(parameters_of(module, script, [f"osm={osm}", f"dem={tif}"]))
    scene = run.scene
    assert scene.crs == "EPSG:32637" and scene.terrain.dx == pytest.approx(scene.terrain.dy, rel=0.01)
    osm_extent = read_osm(osm).extent
    assert scene.extent[0] >= osm_extent[0] and scene.extent[3] <= osm_extent[3]
    for b in scene.buildings[:100]:
        fp = b.footprint
        ground = scene.terrain.sample(fp[:, 0], fp[:, 1])
        assert b.base <= ground.min() + 1e-9 and b.base > ground.min() - 5.0

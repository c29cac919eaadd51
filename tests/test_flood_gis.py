"""GIS in and out of flood studies, and the hazard products: CF grid mapping, GeoTIFF/NetCDF/GeoPackage
export, vector layers in, ARR 2019 hazard classes and the FD2320 rating."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import shapely
import xarray as xr
from shared_data import DATA, need
from twin.physics.swe.hazard import arr_hazard_class, fd2320_rating, hazard_variables

from twin.app.cli import main
from twin.app.gis import (
    GEOTIFF_PRODUCTS,
    export_geotiff,
    export_gis,
    export_netcdf,
    export_vector,
)
from twin.app.runs import load_script, parameters_of
from twin.errors import InputError
from twin.inspect import describe
from twin.io import crs_from_prj
from twin.io.crs import transform
from twin.io.vector import (
    boundary_spans_from_layer,
    buildings_from_layer,
    friction_zones_from_layer,
    inflows_from_layer,
    initial_water_from_layer,
    probes_from_layer,
    read_vector,
    write_vector,
)

pytestmark = pytest.mark.data  # needs ../shared/data

WET = 1e-3

# depth [m], speed [m/s], depth x speed [m2/s], class: at and just past every limit of ARR 2019 Table 6.7.4
HAZARD_TABLE = [
    (0.0, 0.0, 0.0, 0),      # dry
    (1e-3, 0.5, 5e-4, 0),    # at the wet threshold: dry
    (0.3, 1.0, 0.3, 1),      # H1 at all three limits
    (0.1, 2.0, 0.2, 1),      # H1 at the speed limit
    (0.31, 0.1, 0.031, 2),   # past H1's depth
    (0.2, 1.55, 0.31, 2),    # past H1's d*v
    (0.5, 1.2, 0.6, 2),      # H2 at its depth and d*v limits
    (0.51, 0.1, 0.051, 3),   # past H2's depth
    (1.2, 0.5, 0.6, 3),      # H3 at its limits
    (1.21, 0.1, 0.121, 4),   # past H3's depth
    (0.4, 1.6, 0.64, 4),     # past H2/H3's d*v
    (2.0, 0.5, 1.0, 4),      # H4 at its limits
    (2.01, 0.1, 0.201, 5),   # past H4's depth
    (0.1, 2.01, 0.201, 5),   # past H1-H4's speed
    (0.6, 1.8, 1.08, 5),     # past H4's d*v
    (4.0, 1.0, 4.0, 5),      # H5 at its depth and d*v limits
    (1.0, 4.0, 4.0, 5),      # H5 at its speed and d*v limits
    (4.01, 0.1, 0.401, 6),   # past H5's depth
    (0.5, 4.01, 2.005, 6),   # past H5's speed
    (1.5, 2.7, 4.05, 6),     # past H5's d*v
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_hazard_classes_at_every_boundary(dtype):
    d, v, dv, expected = (np.array(c) for c in zip(*HAZARD_TABLE))
    got = arr_hazard_class(d.astype(dtype), v.astype(dtype), dv.astype(dtype), WET)
    assert got.dtype == np.int8
    np.testing.assert_array_equal(got, expected)


def test_fd2320_rating_by_hand():
    d = np.array([0.0, 0.25, 0.5, 0.8, 0.1, 0.5])
    v = np.array([0.0, 1.0, 1.0, 0.5, 2.5, 1.0])
    dv = d * v
    urban = fd2320_rating(d, v, dv, WET, "urban")
    # d v + 0.5 d + DF: DF 0 up to 0.25 m, 1 (urban) above
    np.testing.assert_allclose(urban, [np.nan, 0.25 + 0.125, 0.5 + 0.25 + 1, 0.4 + 0.4 + 1, 0.25 + 0.05 + 1, 1.75], rtol=1e-6)
    pasture = fd2320_rating(d, v, dv, WET, "pasture")
    np.testing.assert_allclose(pasture[2:5], [0.75, 0.4 + 0.4 + 0.5, 0.25 + 0.05 + 0.5], rtol=1e-6)
    np.testing.assert_allclose(fd2320_rating(d, v, dv, WET, None)[2], 0.75, rtol=1e-6)


def test_hazard_refuses_without_the_running_depth_velocity_maximum():
    with pytest.raises(ValueError, match="max_depth_velocity"):
        hazard_variables(np.ones((2, 2)), np.ones((2, 2)), None, WET)


# -- GIS in ---------------------------------------------------------------------------
ROOT = Path(__file__).resolve().parents[1]
MEREWETHER = DATA / "flood" / "merewether"
SCENE = ROOT / "scenes" / "merewether.py"


@pytest.fixture(scope="module")
def merewether():
    """The case's CRS, extent and houses layer (real data: the shared house CSVs)."""
    script = load_script(SCENE)
    data = need(MEREWETHER)
    polygons, attrs = script.houses_layer(data)
    return script, crs_from_prj(data / "topography1.prj"), polygons, attrs


def _setup(script, **sets):
    params = parameters_of(script, SCENE, [f"{k}={v}" for k, v in sets.items()])
    return script.setup(params).scene


@pytest.mark.parametrize("suffix", [".gpkg", ".shp", ".geojson", ".fgb"])
def test_merewether_houses_from_a_vector_file_match_the_csvs(merewether, tmp_path, suffix):
    script, crs, polygons, attrs = merewether
    f = write_vector(tmp_path / f"houses{suffix}", {"houses": (polygons, attrs)}, crs)
    assert describe(f)["layers"]["houses"] == {"crs": crs, "features": len(polygons), "geometry_type": "Polygon",
                                               "fields": {"name": "object"}}
    csv, gis = _setup(script, resolution=8), _setup(script, resolution=8, houses=f)
    assert [b.name for b in gis.buildings] == [b.name for b in csv.buildings] and len(gis.buildings) == 57
    for a, b in zip(csv.buildings, gis.buildings):  # the same vertices (a Shapefile winds its rings clockwise)
        assert shapely.equals_exact(shapely.normalize(shapely.Polygon(a.footprint)), shapely.normalize(shapely.Polygon(b.footprint)), 0.0)
        assert a.height == b.height == 3.0


def test_merewether_houses_reprojected_from_wgs84(merewether, tmp_path):
    script, crs, polygons, attrs = merewether
    lonlat = shapely.transform(polygons, lambda xy: np.column_stack(transform(crs, "EPSG:4326", xy[:, 0], xy[:, 1])))
    heights = np.arange(len(polygons), dtype=np.float64) * 0.1
    f = write_vector(tmp_path / "houses.fgb", {"houses": (lonlat, {**attrs, "height": heights})}, "EPSG:4326")
    gis, csv = _setup(script, resolution=8, houses=f), _setup(script, resolution=8)
    for a, b, h in zip(csv.buildings, gis.buildings, heights):
        assert shapely.equals_exact(shapely.Polygon(a.footprint), shapely.Polygon(b.footprint), 1e-6)  # [m], a round trip through degrees
        assert b.height == h


@pytest.mark.filterwarnings("ignore:.crs. was not provided")
def test_vector_file_without_crs_needs_one(merewether, tmp_path):
    script, _, polygons, attrs = merewether
    f = write_vector(tmp_path / "houses.shp", {"houses": (polygons, attrs)}, None)
    with pytest.raises(InputError, match=r"houses\.shp: layer houses: the layer has no CRS"):
        _setup(script, houses=f)
    assert len(_setup(script, resolution=8, houses=f, houses_crs="EPSG:28356").buildings) == 57


def test_bad_vector_input_is_one_line_naming_file_layer_and_feature(merewether, tmp_path, capsys):
    script, crs, polygons, attrs = merewether
    moved = polygons.copy()
    moved[5] = shapely.affinity.translate(moved[5], 5000.0, 0.0)
    f = write_vector(tmp_path / "outside.gpkg", {"houses": (moved, attrs)}, crs)
    out = tmp_path / "run"
    assert main(["run", str(SCENE), "--set", f"houses={f}", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"twin: {f}: layer houses, feature 6: polygon (") and "is not inside the domain" in err and "\n" not in err
    assert not out.exists()
    layer = read_vector(f, scene_crs=crs)
    with pytest.raises(InputError, match=r"layer houses: no attribute 'storeys' \(its attributes: name\)"):
        buildings_from_layer(layer, (0, 0, 1e7, 1e7), levels="storeys")
    kept = buildings_from_layer(layer, _setup(script, resolution=8).extent, default_height=3.0, clip=True)
    assert len(kept) == 56  # the moved house is left out


def test_self_intersecting_polygons_are_repaired_and_counted(tmp_path):
    bowtie = shapely.Polygon([(0, 0), (10, 10), (10, 0), (0, 10)])
    square = shapely.box(20, 20, 30, 30)
    f = write_vector(tmp_path / "b.gpkg", {"b": (np.array([square, bowtie], object), {"levels": np.array([2, 3])})}, "EPSG:28356")
    layer = read_vector(f)
    assert layer.repaired == [2] and layer.geometry[1].is_valid and layer.geometry[1].area == pytest.approx(50.0)
    b = buildings_from_layer(layer, (0, 0, 100, 100), levels="levels")
    assert [x.height for x in b] == [6.0, 9.0, 9.0] and [x.name for x in b] == ["b:1", "b:2.0", "b:2.1"]


def test_scene_parts_from_layers(tmp_path):
    extent = (1000.0, 2000.0, 1100.0, 2050.0)
    zones = np.array([shapely.box(1000, 2000, 1050, 2050), shapely.box(1050, 2000, 1100, 2050)], object)
    f = write_vector(tmp_path / "parts.gpkg", {
        "landuse": (zones, {"kind": np.array(["road", "grass"]), "n": np.array([0.02, 0.05])}),
        "probes": (np.array([shapely.Point(1010, 2010), shapely.Point(1090, 2040)], object), {"id": np.array(["A", "B"])}),
        "edges": (np.array([shapely.LineString([(1000, 2010), (1000, 2030)]), shapely.LineString([(1100.5, 2050), (1040, 2050)]),
                            shapely.LineString([(1060, 2000), (1100, 2000)])], object), {"k": np.array([1, 2, 3])}),
    }, "EPSG:28356")
    z = friction_zones_from_layer(read_vector(f, "landuse"), extent, land_use="kind", table={"road": 0.02, "grass": 0.05})
    assert [(q.name, q.manning_n) for q in z] == [("road", 0.02), ("grass", 0.05)]
    z = friction_zones_from_layer(read_vector(f, "landuse"), extent, manning="n")
    assert [q.manning_n for q in z] == [0.02, 0.05]
    with pytest.raises(InputError, match=r"layer landuse, feature 2: land use 'grass' is not in the table"):
        friction_zones_from_layer(read_vector(f, "landuse"), extent, land_use="kind", table={"road": 0.02})
    inflows = inflows_from_layer(read_vector(f, "landuse"), extent, "n", name="kind")
    assert inflows[1].name == "grass" and inflows[1].discharge(0.0) == 0.05 and inflows[1].polygon.shape == (4, 2)
    water = initial_water_from_layer(read_vector(f, "landuse"), extent, "n")
    stage = [w.stage if hasattr(w, "stage") else w[1] for w in water]
    assert stage == [0.02, 0.05]
    probes = probes_from_layer(read_vector(f, "probes"), extent, name="id")
    assert [(p.name, p.x, p.y) for p in probes] == [("A", 1010.0, 2010.0), ("B", 1090.0, 2040.0)]
    spans = boundary_spans_from_layer(read_vector(f, "edges"), extent)
    assert spans == [("west", (10.0, 30.0)), ("north", (40.0, 100.0)), ("south", (60.0, 100.0))]
    with pytest.raises(InputError, match=r"layer edges, feature 1: the line does not lie along an edge"):
        boundary_spans_from_layer(read_vector(f, "edges"), (990.0, 2000.0, 1100.0, 2050.0))
    with pytest.raises(InputError, match=r"holds 3 layers"):
        read_vector(f)


def test_inspect_lists_the_layers_as_json(tmp_path, capsys):
    f = write_vector(tmp_path / "p.gpkg", {"pts": (np.array([shapely.Point(1, 2)], object), {"id": np.array([7])}),
                                           "area": (np.array([shapely.box(0, 0, 1, 1)], object), {"n": np.array([0.03])})}, "EPSG:32756")
    assert main(["inspect", str(f), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert main(["inspect", str(f)]) == 0
    assert "  pts   1 Point features, EPSG:32756; fields: id (int64)" in capsys.readouterr().out
    assert d["kind"] == "vector (GPKG)"
    assert d["layers"] == {"pts": {"crs": "EPSG:32756", "features": 1, "geometry_type": "Point", "fields": {"id": "int64"}},
                           "area": {"crs": "EPSG:32756", "features": 1, "geometry_type": "Polygon", "fields": {"n": "float64"}}}


# -- GIS out --------------------------------------------------------------------------
X0, Y0 = 382000.0, 6354000.0


@pytest.fixture(scope="module")
def flood_result(tmp_path_factory):
    """A tiny flood run (EPSG:28356, 30 x 20 cells of 2 m, 60 s): water poured on a tilted plane."""
    from twin.physics.swe.run import FloodRun

    from twin.app.runs import execute
    from twin.scene import Heightfield, Inflow, Probe, Scene, TimeSeries

    ny, nx = 20, 30
    bed = 0.02 * np.arange(nx)[None, :] * 2.0 + 0.01 * np.arange(ny)[:, None] * 2.0 + np.zeros((ny, nx))
    scene = Scene("tilted plane", "EPSG:28356", (X0, Y0), (X0, Y0, X0 + 2 * nx, Y0 + 2 * ny), Heightfield(bed, X0, Y0, 2.0, 2.0),
                  inflows=[Inflow("pour", (X0 + 40.0, Y0 + 26.0), 3.0, TimeSeries.constant(2.0))],
                  probes=[Probe("P1", X0 + 30.0, Y0 + 20.0), Probe("P2", X0 + 55.0, Y0 + 35.0)],
                  start_time="2007-06-08T14:00:00+10:00")
    out = tmp_path_factory.mktemp("flood")
    execute(FloodRun(scene, duration=60.0, output_interval=20.0, resolution=2.0, probe_interval=5.0), out,
              parameters={}, progress=False)
    return out


def _wet_cell(ds) -> tuple[int, int]:
    """(j, i) of a wet cell off the grid's axes of symmetry: the deepest south-west of the pour point."""
    depth = ds["max_depth"].values.copy()
    depth[14:, 18:] = 0.0
    return np.unravel_index(np.argmax(depth), depth.shape)


def test_result_zarr_carries_the_crs_for_rioxarray_and_the_time_since_start(flood_result):
    rioxarray = pytest.importorskip("rioxarray")
    assert rioxarray
    ds = xr.open_zarr(flood_result / "result.zarr", decode_coords="all")
    assert ds["max_depth"].rio.crs.to_epsg() == 28356 and ds["depth"].rio.crs.to_epsg() == 28356
    t = ds.rio.transform()
    assert (t.a, t.e, t.c, t.f) == (2.0, 2.0, X0, Y0)  # x0 of the west edge, y0 of the south edge, y ascending
    assert ds["time"].values[1] == np.datetime64("2007-06-08T04:00:20")
    raw = xr.open_zarr(flood_result / "result.zarr", decode_times=False)
    assert raw["time"].attrs["units"] == "seconds since 2007-06-08 04:00:00" and list(raw["time"].values) == [0.0, 20.0, 40.0, 60.0]
    assert raw.attrs["start_time"] == "2007-06-08T04:00:00Z"
    import rasterio

    j, i = _wet_cell(raw)
    with rasterio.open(f'ZARR:"{flood_result / "result.zarr"}":/max_depth') as src:  # GDAL's Zarr driver (QGIS)
        assert src.crs.to_epsg() == 28356
        row, col = src.index(float(raw["x"][i]), float(raw["y"][j]))
        assert src.read(1)[row, col] == raw["max_depth"].values[j, i] > 0.01


def test_geotiffs_have_the_epsg_and_a_geotransform_that_finds_each_cell(flood_result, tmp_path):
    import rasterio

    ds = xr.open_zarr(flood_result / "result.zarr", decode_times=False).load()
    paths = export_geotiff(ds, tmp_path / "tif")
    assert sorted(paths) == sorted(GEOTIFF_PRODUCTS)
    wet = ds["max_depth"].values > ds.attrs["wet_threshold_m"]
    j, i = np.argwhere(wet)[len(np.argwhere(wet)) // 2]
    dry = np.argwhere(~wet)[0]
    expected = {"hazard_class": arr_hazard_class(ds["max_depth"].values, ds["max_speed"].values,
                                                 ds["max_depth_velocity"].values, ds.attrs["wet_threshold_m"])}
    for name, path in paths.items():
        with rasterio.open(path) as src:
            assert src.crs.to_epsg() == 28356 and src.driver == "GTiff" and src.res == (2.0, 2.0)
            assert src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
            band = src.read(1)
            want = expected[name][j, i] if name in expected else ds[name].values[j, i]
            row, col = src.index(float(ds["x"][i]), float(ds["y"][j]))
            assert band[row, col] == pytest.approx(want, rel=1e-6), name
            r0, c0 = src.index(float(ds["x"][dry[1]]), float(ds["y"][dry[0]]))
            assert band[r0, c0] == src.nodata or (np.isnan(band[r0, c0]) and np.isnan(src.nodata)), name


def test_netcdf_is_cf_and_rioxarray_reads_the_crs(flood_result, tmp_path):
    pytest.importorskip("rioxarray")
    import rasterio

    f = export_netcdf(flood_result, tmp_path / "r.nc")
    with xr.open_dataset(f, decode_coords="all") as nc:
        assert nc.attrs["Conventions"] == "CF-1.10" and nc["max_depth"].rio.crs.to_epsg() == 28356
        ref = xr.open_zarr(flood_result / "result.zarr", decode_times=False)
        np.testing.assert_array_equal(nc["max_depth"].values, ref["max_depth"].values)
    with rasterio.open(f'NETCDF:"{f}":max_depth') as src:  # GDAL's netCDF driver: CRS and north-up geotransform
        assert src.crs.to_epsg() == 28356
        j, i = _wet_cell(ref)
        row, col = src.index(float(ref["x"][i]), float(ref["y"][j]))
        assert src.read(1)[row, col] == ref["max_depth"].values[j, i] > 0.01


def test_vector_export_has_extent_hazard_and_probes(flood_result, tmp_path):
    ds = xr.open_zarr(flood_result / "result.zarr", decode_times=False).load()
    counts = export_vector(ds, tmp_path / "flood.gpkg")
    assert set(counts) == {"flood_extent", "hazard", "probes"} and counts["probes"] == 2
    extent = read_vector(tmp_path / "flood.gpkg", "flood_extent")
    wet_area = 4.0 * np.count_nonzero(ds["max_depth"].values > ds.attrs["wet_threshold_m"])
    assert extent.crs == "EPSG:28356" and shapely.union_all(extent.geometry).area == pytest.approx(wet_area)
    probes = read_vector(tmp_path / "flood.gpkg", "probes")
    np.testing.assert_allclose(probes.attributes["peak_depth_m"], ds["probe_depth"].max("probe_time").values)


def test_export_refuses_what_is_not_a_result_and_writes_nothing(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no result.zarr here"):
        export_gis(tmp_path / "empty", geotiff=tmp_path / "tif")
    assert not (tmp_path / "tif").exists()


def test_hazard_field_and_map_draw_the_classes_in_their_colours(flood_result, tmp_path):
    from twin.viewer.fields import (
        FIELDS,
        HAZARD_COLOURS,
        History,
        colour_table,
        field_values,
        water_rgba,
    )
    from twin.viewer.flood_maps import plot_hazard

    ds = xr.open_zarr(flood_result / "result.zarr", decode_times=False).load()
    history = History.from_result(ds)
    peak = history.peak()
    values = field_values("hazard", peak, history.wet_threshold)
    cls = arr_hazard_class(ds["max_depth"].values, ds["max_speed"].values, ds["max_depth_velocity"].values, WET)
    np.testing.assert_array_equal(np.nan_to_num(values), cls)
    rgba = water_rgba("hazard", np.arange(1.0, 7.0), (0.5, 6.5), colour_table("hazard"))
    assert FIELDS["hazard"].discrete
    assert ["#{:02x}{:02x}{:02x}".format(*c[:3]) for c in rgba] == list(HAZARD_COLOURS)
    png = plot_hazard(ds, tmp_path / "hazard.png")
    assert png.stat().st_size > 10_000
    with pytest.raises(KeyError, match="no hazard class"):
        field_values("hazard", History.from_result(ds.drop_vars(["max_depth_velocity", "hazard_class"])).peak(), WET)


def test_start_time_is_kept_by_save_and_load_and_checked(tmp_path):
    from twin.scene import DEFAULT_START_TIME, Heightfield, Scene, load_scene, save_scene

    def scene(**kw):
        return Scene("s", "EPSG:28356", (0.0, 0.0), (0.0, 0.0, 4.0, 4.0), Heightfield(np.zeros((2, 2)), 0.0, 0.0, 2.0, 2.0), **kw)

    assert scene().start_time == DEFAULT_START_TIME == "2000-01-01T00:00:00Z"
    back = load_scene(save_scene(scene(start_time="2007-06-08T14:00:00+10:00"), tmp_path / "s.twin"))
    assert back.start_time == "2007-06-08T14:00:00+10:00"
    with pytest.raises(InputError, match="not an ISO 8601 timestamp"):
        scene(start_time="8 June 2007")

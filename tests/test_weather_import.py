"""Weather importers: CF NetCDF (3 and 4) and GRIB into Scene fields, checked against the raw numbers."""

from __future__ import annotations

import json

import numpy as np
import pytest
from shared_data import DATA, need

from twin.app.cli import main
from twin.errors import InputError
from twin.io.weather import G0, read_weather, regrid
from twin.scene import Heightfield, Scene, load_scene, save_scene

pytestmark = pytest.mark.data  # needs ../shared/data

netCDF4 = pytest.importorskip("netCDF4")

WEATHER = DATA / "weather"
GFS = WEATHER / "GFS_test.nc"
GFS3 = WEATHER / "GFS_test_netcdf3.nc"
ERA5_NC = WEATHER / "era5_t2m_uk_2019-03-01_to_24.nc"
ERA5_GRIB = WEATHER / "era5_t2m_uk_2019-03-01_to_24.grib"


def raw(path, name):
    """A variable's numbers as stored, unpacked by hand (scale_factor, add_offset, _FillValue, missing_value)."""
    with netCDF4.Dataset(path) as nc:
        v = nc.variables[name]
        v.set_auto_maskandscale(False)
        a = np.asarray(v[:], dtype=np.float64)
        attrs = {k: v.getncattr(k) for k in v.ncattrs()}
    missing = [attrs[k] for k in ("_FillValue", "missing_value") if k in attrs]
    bad = np.isin(a, np.asarray(missing, dtype=np.float64)) if missing else np.zeros(a.shape, bool)
    a = a * attrs.get("scale_factor", 1.0) + attrs.get("add_offset", 0.0)
    return np.where(bad, np.nan, a), attrs


@pytest.mark.parametrize("path", [GFS, GFS3], ids=["netcdf4", "netcdf3"])
def test_gfs_fields_equal_the_raw_numbers(path):
    w = read_weather(need(path))
    assert w.kind == ("netcdf4" if path == GFS else "netcdf3")
    assert w.crs == "EPSG:4326"
    assert w.extent == (-150.0, 20.0, -50.0, 65.0)  # 210..310 E became -150..-50, latitudes ascending
    assert [str(np.datetime64(int(t), "s")) for t in w.times] == ["2010-10-26T12:00:00"]
    u = w.fields["u-component_of_wind_isobaric"]
    assert u.dims == ("time", "pressure", "latitude", "longitude") and u.units == "m s-1"
    assert np.all(np.diff(u.coords["latitude"]) > 0) and np.all(np.diff(u.coords["pressure"]) > 0)
    assert u.coords["pressure"][0] == 1000.0 and u.coords["pressure"][-1] == 100000.0  # 10 hPa .. 1000 hPa in Pa
    for name in ("u-component_of_wind_isobaric", "Temperature_isobaric", "Geopotential_height_isobaric", "Pressure_reduced_to_MSL_msl"):
        values, attrs = raw(path, name)
        # the file: levels 10 hPa first (ascending in Pa), latitudes north first; twin: both ascending
        np.testing.assert_array_equal(w.fields[name].values, values[..., ::-1, :], err_msg=name)
    assert w.fields["Geopotential_height_isobaric"].units == "m" and w.raw_units["Geopotential_height_isobaric"] == "gpm"
    t = w.fields["Temperature_isobaric"].values
    mslp = w.fields["Pressure_reduced_to_MSL_msl"].values
    assert (round(t.min(), 1), round(t.max(), 1)) == (192.9, 304.2)  # PROVENANCE.md's ranges
    assert (round(mslp.min() / 100, 1), round(mslp.max() / 100, 1)) == (967.6, 1028.3)


def test_era5_netcdf_and_grib_agree_with_the_raw_numbers():
    nc = read_weather(need(ERA5_NC))
    grib = read_weather(need(ERA5_GRIB))
    eccodes = pytest.importorskip("eccodes")
    a, b = nc.fields["t2m"], grib.fields["t2m"]
    assert a.dims == b.dims == ("time", "latitude", "longitude")
    assert a.values.shape == (576, 33, 49)
    np.testing.assert_array_equal(a.coords["time"], b.coords["time"])
    assert a.coords["time"][0] == np.datetime64("2019-03-01T00:00", "s").astype(np.int64)
    assert np.all(np.diff(a.coords["time"]) == 3600.0)
    np.testing.assert_array_equal(a.values, b.values)  # the .nc was written from these GRIB messages
    values, _ = raw(ERA5_NC, "t2m")
    np.testing.assert_array_equal(a.values, values[:, ::-1, :])
    with open(ERA5_GRIB, "rb") as f:  # messages 0 and 575, decoded by ecCodes itself
        for k in range(576):
            h = eccodes.codes_grib_new_from_file(f)
            if k in (0, 575):
                grid = eccodes.codes_get_values(h).reshape(33, 49)[::-1]
                np.testing.assert_array_equal(b.values[k], grid.astype(np.float32))  # cfgrib hands out float32
            eccodes.codes_release(h)
    assert (round(a.values.min(), 1), round(a.values.max(), 1)) == (265.7, 290.1)


def packed_file(path, *, time_units="hours since 2019-03-01 00:00:00", temperature_units="degC", pressure_units="hPa"):
    """A small CF file packed as int16 from real ERA5 numbers: 0-360 longitudes, north-first latitudes,
    descending pressure levels, geopotential in m2 s-2, and fill and missing values."""
    w = read_weather(need(ERA5_NC)).fields["t2m"]
    t = w.values[:3, ::-1, :4]  # north first again, 4 longitudes from -10
    scale, offset = 0.01, 0.0
    with netCDF4.Dataset(path, "w") as nc:
        nc.createDimension("time", 3)
        nc.createDimension("level", 2)
        nc.createDimension("lat", t.shape[1])
        nc.createDimension("lon", 4)
        v = nc.createVariable("time", "f8", ("time",))
        v.units, v.standard_name, v[:] = time_units, "time", [0, 1, 2]
        v = nc.createVariable("level", "f4", ("level",))
        v.units, v[:] = pressure_units, [850, 500] if pressure_units == "hPa" else [85000, 50000]
        v = nc.createVariable("lat", "f4", ("lat",))
        v.units, v[:] = "degrees_north", w.coords["latitude"][::-1]
        v = nc.createVariable("lon", "f4", ("lon",))
        v.units, v[:] = "degrees_east", (w.coords["longitude"][:4] + 360.0) % 360.0  # 350 .. 350.75
        v = nc.createVariable("t", "i2", ("time", "level", "lat", "lon"), fill_value=-32767)
        v.set_auto_maskandscale(False)
        v.scale_factor, v.add_offset, v.missing_value = scale, offset, np.int16(-32766)
        v.units, v.standard_name = temperature_units, "air_temperature"
        packed = np.round((np.stack([t - 273.15, t - 273.15 - 30.0], axis=1) - offset) / scale).astype(np.int16)
        packed[0, 0, 0, 0] = -32767  # _FillValue
        packed[1, 1, 2, 3] = -32766  # missing_value
        v[:] = packed
        v = nc.createVariable("z", "f4", ("level", "lat", "lon"))
        v.units, v.standard_name = "m2 s-2", "geopotential"
        v[:] = np.array([1500.0, 5500.0])[:, None, None] * G0 * np.ones((1, t.shape[1], 4))
    return packed, scale, offset


def test_cf_packing_units_and_axes(tmp_path):
    path = tmp_path / "packed.nc"
    packed, scale, offset = packed_file(path)
    w = read_weather(path)
    t = w.fields["t"]
    assert t.units == "K" and t.dims == ("time", "pressure", "latitude", "longitude")
    np.testing.assert_array_equal(t.coords["pressure"], [50000.0, 85000.0])  # hPa -> Pa, ascending
    np.testing.assert_allclose(t.coords["longitude"], [-10.0, -9.75, -9.5, -9.25])
    assert np.all(np.diff(t.coords["latitude"]) > 0)
    np.testing.assert_array_equal(w.times, np.datetime64("2019-03-01T00", "s").astype(np.int64) + 3600.0 * np.arange(3))
    expected = packed * scale + offset + 273.15
    expected = np.where((packed == -32767) | (packed == -32766), np.nan, expected)
    np.testing.assert_allclose(t.values, expected[:, ::-1, ::-1, :], rtol=0, atol=1e-9)
    assert np.isnan(t.values[0, 1, -1, 0]) and np.isnan(t.values[1, 0, -3, 3])
    z = w.fields["z"]
    assert z.units == "m"
    np.testing.assert_allclose(z.values[:, 0, 0], [5500.0, 1500.0], rtol=1e-6)  # geopotential / g0, levels ascending in Pa


def test_regrid_to_a_scene_and_save(tmp_path):
    from twin.io.crs import transform

    f = read_weather(need(GFS), ["Temperature_height_above_ground"]).fields["Temperature_height_above_ground"]
    crs = "EPSG:32616"  # UTM 16N, Chicago
    # a scene centre placed exactly on the 42 N, 88 W node: bilinear gives the node's value
    cx, cy = transform("EPSG:4326", crs, np.array([-88.0]), np.array([42.0]))
    x = cx[0] + np.array([-50e3, 0.0, 50e3])
    y = cy[0] + np.array([-40e3, 0.0, 40e3])
    g = regrid(f, crs, x, y)
    assert g.dims == ("time", "height", "y", "x") and g.crs == crs
    node = f.values[0, 0, list(f.coords["latitude"]).index(42.0), list(f.coords["longitude"]).index(-88.0)]
    assert g.values[0, 0, 1, 1] == pytest.approx(node, abs=1e-6)
    lo, hi = f.values.min(), f.values.max()
    assert np.all((g.values >= lo) & (g.values <= hi))
    scene = Scene("chicago", crs, (cx[0], cy[0]), (x[0], y[0], x[-1], y[-1]),
                  Heightfield(np.zeros((2, 2)), x[0], y[0], 50e3, 40e3), fields={"t2": g})
    back = load_scene(save_scene(scene, tmp_path / "s.twin"))
    np.testing.assert_array_equal(back.fields["t2"].values, g.values)
    assert back.fields["t2"].dims == g.dims and back.fields["t2"].units == "K"
    with pytest.raises(InputError, match="does not cover the scene"):
        regrid(f, crs, cx[0] + np.array([0.0, 6000e3]), y)


def test_inspect_json(capsys):
    assert main(["inspect", str(need(GFS)), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["kind"] == "netcdf4" and d["times"] == ["2010-10-26T12:00:00Z"] and d["extent"] == [-150.0, 20.0, -50.0, 65.0]
    v = d["variables"]["Pressure_reduced_to_MSL_msl"]
    mslp, _ = raw(GFS, "Pressure_reduced_to_MSL_msl")
    assert v["units"] == "Pa" and v["dims"] == ["time", "latitude", "longitude"] and v["range"] == [np.nanmin(mslp), np.nanmax(mslp)]
    assert d["variables"]["Geopotential_height_isobaric"]["units_in_file"] == "gpm"
    assert main(["inspect", str(need(ERA5_GRIB))]) == 0
    out = capsys.readouterr().out
    assert "2019-03-01T00:00:00Z .. 2019-03-24T23:00:00Z (576 times)" in out and "t2m  [K] (time, latitude, longitude)" in out


def _one_line(capsys, argv):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    return err


def test_bad_input_is_one_line(tmp_path, capsys):
    text = tmp_path / "notes.nc"
    text.write_text("not a weather file\n")
    assert "not a NetCDF or GRIB file" in _one_line(capsys, ["inspect", str(text)])
    truncated = tmp_path / "cut.nc"
    truncated.write_bytes(need(GFS3).read_bytes()[:5000])
    assert "cut.nc" in _one_line(capsys, ["inspect", str(truncated)])

    bad_time = tmp_path / "bad_time.nc"
    packed_file(bad_time, time_units="hours since the storm")
    err = _one_line(capsys, ["inspect", str(bad_time)])
    assert "bad_time.nc: variable 'time': time axis cannot be decoded" in err

"""The hostile-input table of issue 16: one case per input a hostile user tried, grouped by category.

Each case builds its input under a folder and checks what twin does with it:
it is read (with the right values), read with one twin warning, or refused
with an InputError naming the file and the place. :func:`run_case` adds the
promises every case shares: no other exception (no traceback), no hang (a
timeout), nothing printed on stderr by a library. ``tests/test_hostile_inputs.py``
runs every case; ``benchmarks/hostile_inputs.py`` counts them per category.
"""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import signal
import sys
import tempfile
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from twin.errors import InputError, InputWarning

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
ROOT = Path(__file__).resolve().parents[1]
ASC = "ncols 3\nnrows 2\nxllcorner 0\nyllcorner 0\ncellsize 1\nNODATA_value -9999\n1 2 3\n4 5 6\n"
UR5 = DATA / "factory/example-robot-data/robots/ur_description/urdf/ur5_robot.urdf"
TIMEOUT_S = 60


@dataclass(frozen=True)
class Case:
    category: str
    name: str
    check: Callable[[Path], None]  # raises AssertionError when twin breaks a promise


CASES: list[Case] = []


def case(category: str, name: str):
    def add(check):
        CASES.append(Case(category, name, check))
        return check
    return add


# --- what a case expects -----------------------------------------------------------------------

def describe(path: Path) -> dict:
    from twin.inspect import describe as d

    return d(path)


def refused(path: Path, what: str = "", reader=describe) -> InputError:
    """``reader(path)`` raises an InputError naming ``path`` (and ``what``, a regex)."""
    try:
        reader(path)
    except InputError as e:
        assert str(path) in str(e) and "\n" not in str(e), f"not one line naming the file: {e}"
        assert re.search(what, str(e)), f"{e!s} does not say {what!r}"
        return e
    raise AssertionError(f"{path.name} was accepted")


def reads(path: Path, reader=describe, warning: str | None = None):
    """``reader(path)`` succeeds; with ``warning``, exactly one twin warning matching it."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = reader(path)
    ours = [str(w.message) for w in caught if issubclass(w.category, InputWarning)]
    if warning is not None:
        assert len(ours) == 1 and re.search(warning, ours[0]), f"expected one warning {warning!r}, got {ours}"
    return out


def _asc(tmp: Path, key: str, value: str) -> Path:
    p = tmp / "grid.asc"
    p.write_text(re.sub(rf"(?m)^{key} \S+", f"{key} {value}", ASC))
    return p


def _fifo(tmp: Path, name: str) -> Path:
    p = tmp / name
    os.mkfifo(p)
    return p


# --- importers ------------------------------------------------------------------------------------

for _key, _value in [("ncols", "nan"), ("nrows", "inf"), ("ncols", "1e400"), ("cellsize", "inf"), ("cellsize", "nan"),
                     ("xllcorner", "nan"), ("yllcorner", "-inf"), ("xllcorner", "1e400")]:
    case("importers", f"esri ascii {_key} {_value}")(
        lambda tmp, k=_key, v=_value: refused(_asc(tmp, k, v), rf"line \d+: {k} must be a finite number"))


@case("importers", "esri ascii grid value inf")
def _(tmp):
    p = tmp / "grid.asc"
    p.write_text(ASC.replace("5 6", "inf 6"))
    refused(p, "line 8: .* not a finite height")


@case("importers", "zip member with a bad CRC")
def _(tmp):
    data = bytearray((DATA / "flood/merewether/topography1.zip").read_bytes())
    data[200000] ^= 0xFF  # inside the deflated member
    p = tmp / "topo.zip"
    p.write_bytes(bytes(data))
    refused(p, "zip member cannot be read")


@case("importers", "NetCDF-4 with flipped bytes in a compressed chunk (HDF error on reading)")
def _(tmp):
    data = bytearray((DATA / "weather/era5_t2m_uk_2019-03-01_to_24.nc").read_bytes())
    k = len(data) // 2
    data[k:k + 64] = b"\xff" * 64  # inside a deflated chunk: the file opens, its values do not decode
    p = tmp / "flipped.nc"
    p.write_bytes(bytes(data))
    refused(p, r"not a readable netcdf4 file \(NetCDF: HDF error\)")


@case("importers", "NetCDF-4 with its HDF5 headers zeroed")
def _(tmp):
    data = bytearray((DATA / "weather/GFS_test.nc").read_bytes())
    data[2048:6144] = bytes(4096)
    p = tmp / "zeroed.nc"
    p.write_bytes(bytes(data))
    refused(p, "not a readable netcdf4 file")


@case("importers", "GRIB with flipped bytes")
def _(tmp):
    data = bytearray((DATA / "weather/era5_t2m_uk_2019-03-01_to_24.grib").read_bytes())
    rng = np.random.default_rng(7)
    for i in rng.integers(0, len(data), 200):
        data[i] ^= 0xFF
    p = tmp / "flipped.grib"
    p.write_bytes(bytes(data))
    try:
        reads(p)
    except InputError as e:
        assert str(p) in str(e)


@case("importers", "GRIB truncated to half its bytes")
def _(tmp):
    data = (DATA / "weather/era5_t2m_uk_2019-03-01_to_24.grib").read_bytes()
    p = tmp / "half.grib"
    p.write_bytes(data[:len(data) // 2 + 1000])
    refused(p, "the file ends inside GRIB message 289")


@case("importers", "GRIB read without ecCodes or cfgrib noise")
def _(tmp):
    d = reads(DATA / "weather/era5_t2m_uk_2019-03-01_to_24.grib")
    assert d["kind"] == "grib" and len(d["times"]) == 576


def _cityjson(tmp: Path, edit) -> Path:
    doc = json.loads((DATA / "city/delft.city.json").read_text())
    edit(doc)
    p = tmp / "city.json"
    p.write_text(json.dumps(doc))
    return p


def _first_index(doc, value) -> None:
    """Set the first vertex index of every surface geometry of every building to ``value``."""
    for obj in doc["CityObjects"].values():
        for g in obj.get("geometry", []) if obj.get("type") == "Building" else []:
            ring = {"MultiSurface": lambda b: b[0][0], "Solid": lambda b: b[0][0][0]}.get(g.get("type"))
            if ring is not None:
                ring(g["boundaries"])[0] = value


@case("importers", "CityJSON referenceSystem naming an unknown EPSG")
def _(tmp):
    refused(_cityjson(tmp, lambda d: d["metadata"].update(referenceSystem="https://www.opengis.net/def/crs/EPSG/0/999999")),
            "unknown CRS 'EPSG:999999'")


@case("importers", "CityJSON NaN vertex")
def _(tmp):
    refused(_cityjson(tmp, lambda d: d["vertices"][3].__setitem__(0, float("nan"))), r"vertices\[3\]: vertex coordinates must be finite")


@case("importers", "CityJSON inf vertex")
def _(tmp):
    refused(_cityjson(tmp, lambda d: d["vertices"][5].__setitem__(2, float("inf"))), r"vertices\[5\]")


@case("importers", "CityJSON fractional vertex index")
def _(tmp):
    refused(_cityjson(tmp, lambda d: _first_index(d, 1.5)), "vertex index must be a whole number, found 1.5")


@case("importers", "CityJSON boolean vertex index")
def _(tmp):
    refused(_cityjson(tmp, lambda d: _first_index(d, True)), "vertex index must be a whole number, found True")


@case("importers", "CSV in Latin-1")
def _(tmp):
    p = tmp / "polygon.csv"
    p.write_bytes("x,y\n0,0\n1,0\n0,1\n# Müller\n".encode("latin-1"))
    refused(p, r"byte \d+: not UTF-8 text")


def _scene(tmp: Path, edit) -> Path:
    from twin.scene import Heightfield, Scene, save_scene

    s = Scene("t", "EPSG:32633", (0.0, 0.0), (0.0, 0.0, 10.0, 10.0), Heightfield(np.zeros((10, 10)), 0.0, 0.0, 1.0, 1.0))
    p = save_scene(s, tmp / "ok.twin")
    with zipfile.ZipFile(p) as z:
        meta, npy = json.loads(z.read("scene.json")), z.read("terrain.npy")
    edit(meta)
    bad = tmp / "bad.twin"
    with zipfile.ZipFile(bad, "w") as z:
        z.writestr("scene.json", json.dumps(meta))
        z.writestr("terrain.npy", npy)
    return bad


for _name, _edit, _what in [
    ("missing terrain", lambda m: m.pop("terrain"), "terrain: missing"),
    ("unknown type", lambda m: m.update(rain={"__type__": "Evil"}), "unknown type 'Evil'"),
    ("extra field", lambda m: m.update(colour="red"), "colour: not a field of a scene"),
    ("extra field in a part", lambda m: m["boundaries"]["west"].update(zzz=1), "Boundary has no field 'zzz'"),
    ("negative dx", lambda m: m["terrain"].update(dx=-1.0), "cell size must be positive"),
    ("NaN dy", lambda m: m["terrain"].update(dy=float("nan")), "dy must be a finite number"),
]:
    case("importers", f".twin {_name}")(lambda tmp, e=_edit, w=_what: refused(_scene(tmp, e), w))

for _suffix in (".asc", ".csv", ".json", ".nc", ".grib", ".urdf", ".twin", ".tif", ".osm", ".prj", ".zip"):
    case("importers", f"FIFO given as a {_suffix} file")(lambda tmp, s=_suffix: refused(_fifo(tmp, "pipe" + s), "FIFO"))


@case("importers", "FIFO given to each reader directly (not through inspect)")
def _(tmp):
    from twin.io import read_cityjson, read_dem, read_esri_ascii, read_osm, read_polygon, read_sensor_log, read_urdf
    from twin.io.weather import read_weather
    from twin.scene import load_scene

    for reader, suffix in ((read_cityjson, ".json"), (read_dem, ".tif"), (read_esri_ascii, ".asc"), (read_osm, ".osm"),
                           (read_polygon, ".csv"), (read_sensor_log, ".log.csv"), (read_urdf, ".urdf"), (read_weather, ".nc"),
                           (load_scene, ".twin")):
        refused(_fifo(tmp, reader.__name__ + suffix), "FIFO", reader=reader)


@case("importers", "character device given as the file")
def _(tmp):
    link = tmp / "null.csv"
    link.symlink_to("/dev/null")
    refused(link, "character device")


# --- weather --------------------------------------------------------------------------------------

@case("weather", "ERA5 NetCDF with a derived variable without units")
def _(tmp):
    import xarray as xr

    p = tmp / "era5_derived.nc"
    with warnings.catch_warnings():  # the case's own xarray calls, not twin's: xarray loading its backends warns
        warnings.simplefilter("ignore")
        with xr.open_dataset(DATA / "weather/era5_t2m_uk_2019-03-01_to_24.nc", engine="netcdf4") as ds:
            ds = ds.isel(time=slice(0, 24)).load()
        ds["t2m_anomaly"] = ds["t2m"] - ds["t2m"].mean("time")
        ds["t2m_anomaly"].attrs.clear()
        ds["t2m_anomaly"].encoding.clear()
        ds.to_netcdf(p, engine="netcdf4")
    d = reads(p, warning="variable 't2m_anomaly': has no units attribute; read as unit-less")
    assert d["variables"]["t2m_anomaly"]["units"] == "" and d["variables"]["t2m"]["units"] == "K"
    from twin.io.weather import read_weather, require_units

    w = reads(p, reader=lambda q: read_weather(q, ["t2m_anomaly"]), warning="has no units")
    refused(p, "has no units, and a forecast needs them",
            reader=lambda _: require_units(w.fields["t2m_anomaly"], str(p), "a forecast"))


def _units_file(tmp: Path, units: str, values: list[float]) -> Path:
    import netCDF4

    p = tmp / "units.nc"
    with netCDF4.Dataset(p, "w") as nc:
        nc.createDimension("latitude", 2)
        nc.createDimension("longitude", 2)
        for name, u in (("latitude", "degrees_north"), ("longitude", "degrees_east")):
            v = nc.createVariable(name, "f8", (name,))
            v.units, v[:] = u, [0.0, 1.0]
        v = nc.createVariable("f", "f8", ("latitude", "longitude"))
        v.units, v[:] = units, np.array(values).reshape(2, 2)
    return p


for _units, _si, _factor, _offset in [("kelvin", "K", 1.0, 0.0), ("degree_Celsius", "K", 1.0, 273.15), ("degC", "K", 1.0, 273.15),
                                      ("m s**-1", "m s-1", 1.0, 0.0), ("km h-1", "m s-1", 1 / 3.6, 0.0), ("hPa", "Pa", 100.0, 0.0)]:
    @case("weather", f"UDUNITS spelling {_units!r}")
    def _(tmp, u=_units, si=_si, factor=_factor, offset=_offset):
        from twin.io.weather import read_weather

        values = [1.0, 2.0, 3.0, 4.0]
        f = reads(_units_file(tmp, u, values), reader=read_weather).fields["f"]
        assert f.units == si and np.allclose(f.values.ravel(), np.array(values) * factor + offset)


# --- sensor logs ----------------------------------------------------------------------------------

def _log(tmp: Path, data: bytes):
    from twin.io.sensor_log import read_sensor_log

    p = tmp / "log.csv"
    p.write_bytes(data)
    return reads(p, reader=read_sensor_log)


for _name, _text in [
    ("semicolons and decimal commas", "time;temp [degC];load\n2024-03-01 00:00:00;20,5;1\n2024-03-01 00:10:00;21,5;2\n"),
    ("tabs", "time\ttemp [degC]\tload\n2024-03-01 00:00:00\t20.5\t1\n2024-03-01 00:10:00\t21.5\t2\n"),
    ("a UTF-8 BOM", "\ufefftime,temp [degC],load\n2024-03-01 00:00:00,20.5,1\n2024-03-01 00:10:00,21.5,2\n"),
    ("CRLF line ends", "time,temp [degC],load\r\n2024-03-01 00:00:00,20.5,1\r\n2024-03-01 00:10:00,21.5,2\r\n"),
    ("timezone-aware timestamps", "time,temp [degC],load\n2024-03-01T01:00:00+01:00,20.5,1\n2024-03-01T00:10:00Z,21.5,2\n"),
]:
    @case("sensor-logs", f"log with {_name}")
    def _(tmp, text=_text):
        log = _log(tmp, text.encode("utf-8"))
        assert [str(t) for t in log.time] == ["2024-03-01T00:00:00", "2024-03-01T00:10:00"]
        assert log.channels["temp"].tolist() == [20.5, 21.5] and log.units["temp"] == "degC" and log.interval == 600.0


@case("sensor-logs", "bad value keeps its line number")
def _(tmp):
    from twin.io.sensor_log import read_sensor_log

    p = tmp / "log.csv"
    p.write_text("time;v\n2024-03-01 00:00:00;1\n\n2024-03-01 00:10:00;x\n")
    refused(p, "line 4, column v: 'x' is not a finite number", reader=read_sensor_log)


# --- URDF -----------------------------------------------------------------------------------------

def _urdf(tmp: Path, edit) -> Path:
    p = tmp / "robot.urdf"
    p.write_text(edit(UR5.read_text()))
    (tmp / "example-robot-data").symlink_to(DATA / "factory/example-robot-data")
    return p


def _inertia(text: str, link: str, values: str) -> str:
    head, tail = text.split(f'<link name="{link}"', 1)
    a = tail.index("<inertia ")
    b = tail.index("/>", a) + 2
    return head + f'<link name="{link}"' + tail[:a] + f"<inertia {values}/>" + tail[b:]


def _read_urdf(**kw):
    def reader(path):
        from twin.io.urdf import read_urdf

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return read_urdf(path, **kw)
    return reader


for _name, _edit, _what in [
    ("a joint cycle", lambda s: s.replace('<parent link="base_link"/>', '<parent link="wrist_3_link"/>', 1), "loop"),
    ("a self-parented joint", lambda s: s.replace('<parent link="upper_arm_link"/>', '<parent link="forearm_link"/>', 1),
     "forearm_link is its own parent"),
    ("NaN inertia", lambda s: _inertia(s, "shoulder_link", 'ixx="nan" ixy="0" ixz="0" iyy="1" iyz="0" izz="1"'), "finite numbers"),
    ("negative inertia", lambda s: _inertia(s, "shoulder_link", 'ixx="-1" ixy="0" ixz="0" iyy="1" iyz="0" izz="1"'),
     "positive-definite"),
    ("a package:// URI escaping with ..", lambda s: s.replace("package://example-robot-data/robots/ur_description/meshes/ur5/visual/base.dae",
                                                            "package://example-robot-data/../../../../etc/x.stl"), "must not leave its package"),
    ("a file:// URI outside the roots", lambda s: s.replace("package://example-robot-data/robots/ur_description/meshes/ur5/visual/base.dae",
                                                          "file:///etc/x.stl"), "outside the package roots"),
    ("a file that is no mesh", lambda s: s.replace("package://example-robot-data/robots/ur_description/meshes/ur5/visual/base.dae",
                                                   "file:///etc/passwd"), "format .* is not one of"),
]:
    case("urdf", f"URDF with {_name}")(lambda tmp, e=_edit, w=_what: refused(_urdf(tmp, e), w, reader=_read_urdf()))


@case("urdf", "file:// mesh in a folder the user names")
def _(tmp):
    meshes = DATA / "factory/example-robot-data/robots/ur_description/meshes/ur5/visual"
    p = _urdf(tmp, lambda s: s.replace("package://example-robot-data/robots/ur_description/meshes/ur5/visual/base.dae",
                                       (meshes / "base.dae").as_uri()))
    refused(p, "outside the package roots", reader=_read_urdf())
    assert len(reads(p, reader=_read_urdf(package_path=[meshes])).meshes) == 14


@case("urdf", "missing inertia keeps the documented default")
def _(tmp):
    from twin.io.urdf import DEFAULT_MASS

    robot = reads(_urdf(tmp, lambda s: s), reader=_read_urdf())
    world = next(link for link in robot.links if link.name == "world")
    assert world.mass == DEFAULT_MASS and not world.inertial


@case("urdf", "duplicate check linear in the number of links")
def _(tmp):
    import time

    from twin.io.urdf import read_urdf

    def robot(n):
        links = "".join(f'<link name="l{k}"/>' for k in range(n))
        joints = "".join(f'<joint name="j{k}" type="fixed"><parent link="l{k}"/><child link="l{k + 1}"/></joint>' for k in range(n - 1))
        p = tmp / f"chain{n}.urdf"
        p.write_text(f'<robot name="chain">{links}{joints}</robot>')
        best = float("inf")
        for _ in range(3):  # the best of three: the machine is shared
            t = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                read_urdf(p)
            best = min(best, time.perf_counter() - t)
        return best

    small, large = robot(2000), robot(16000)
    assert large < 24 * small + 0.5, f"8x the links took {large / small:.1f}x the time (quadratic: 64x)"


# --- geometry -------------------------------------------------------------------------------------

@case("geometry", "footprint with a spike, repeated and collinear points cleaned at import")
def _(tmp):
    from twin.io.shapes import clean_footprint

    pieces = clean_footprint(np.array([[0, 0], [1, 0], [2, 0], [2, 0], [2, 2], [1, 2], [1, 3], [1, 2], [0, 2]], float))
    assert len(pieces) == 1 and len(pieces[0][0]) == 4 and not pieces[0][1]


@case("geometry", "OSM building with a self-crossing outline")
def _(tmp):
    from twin.io.osm import read_osm

    nodes = [(1, 0.0, 0.0), (2, 0.001, 0.001), (3, 0.001, 0.0), (4, 0.0, 0.001)]  # a bow tie
    xml = "".join(f'<node id="{i}" lat="{52 + lat}" lon="{4 + lon}" version="1"/>' for i, lon, lat in nodes)
    xml += '<way id="9" version="1">' + "".join(f'<nd ref="{i}"/>' for i in (1, 2, 3, 4, 1)) + '<tag k="building" v="yes"/></way>'
    p = tmp / "bowtie.osm"
    p.write_text(f'<?xml version="1.0"?><osm version="0.6">{xml}</osm>')
    data = reads(p, reader=read_osm)
    import shapely

    assert len(data.buildings) == 2 and all(shapely.Polygon(b.footprint).is_valid for b in data.buildings)


@case("geometry", "3-D view skips a footprint GEOS cannot triangulate, with one warning")
def _(tmp):
    from types import SimpleNamespace

    from twin.viewer.actors import _prisms
    from twin.viewer.geometry import Footprint

    shapes = ([[0, 0], [2, 0], [2, 2], [1, 2], [1, 3], [1, 2], [0, 2]], [[0, 0], [1, 0], [2, 0], [3, 0]], [[0, 0], [1, 0], [1, 1], [0, 1]])
    site = SimpleNamespace(footprints=[Footprint(np.array(s, float), 0.0, 5.0) for s in shapes], meshes=[])
    actors = SimpleNamespace(to_display=lambda x, y, z: np.column_stack([x, y, z]))
    roofs, walls = reads(site, reader=lambda s: _prisms(s, actors), warning=r"^1 of 3 building footprints could not be triangulated")
    assert roofs.n_cells == 2 + 2 and walls.n_cells > 0  # the spike cleaned to a square: 2 roof triangles, the square 2


# --- safe writes ----------------------------------------------------------------------------------

@case("safe-writes", "a crash between the renames keeps the old store")
def _(tmp):
    import xarray as xr
    from twin.physics import simulation

    target = tmp / "result.zarr"
    simulation.write_zarr(xr.Dataset({"a": ("x", np.arange(3.0))}), target)
    real = Path.rename

    def crash(self, dst):
        if self.name.endswith(".partial"):
            raise OSError("power cut")
        return real(self, dst)

    Path.rename = crash
    try:
        simulation.write_zarr(xr.Dataset({"a": ("x", np.arange(5.0))}), target)
    except OSError:
        pass
    finally:
        Path.rename = real
    old = tmp / "result.zarr.old"
    with xr.open_zarr(old) as ds:
        assert ds["a"].size == 3  # the old result is whole, aside
    simulation.write_zarr(xr.Dataset({"a": ("x", np.arange(4.0))}), target)
    with xr.open_zarr(target) as ds:
        assert ds["a"].size == 4 and not old.exists() and not (tmp / "result.zarr.partial").exists()


@case("safe-writes", "text and npz writes replace whole files")
def _(tmp):
    from twin.physics.simulation import save_npz, write_text

    write_text(tmp / "summary.json", "{}")
    write_text(tmp / "summary.json", '{"a": 1}')
    save_npz(tmp / "m.npz", a=np.arange(3))
    assert (tmp / "summary.json").read_text() == '{"a": 1}' and np.load(tmp / "m.npz")["a"].tolist() == [0, 1, 2]
    assert sorted(p.name for p in tmp.iterdir()) == ["m.npz", "summary.json"]


# --- packaging ------------------------------------------------------------------------------------

@case("packaging", "pyproject: Python, lower bounds, SPDX licence")
def _(tmp):
    import tomllib

    doc = tomllib.loads((ROOT / "pyproject.toml").read_text())
    project = doc["project"]
    assert project["requires-python"] == ">=3.11"  # tomllib (twin/sweep.py)
    assert project["license"] == "Apache-2.0" and (ROOT / "LICENSE").read_text().lstrip().startswith("Apache License")
    assert "setuptools>=77" in doc["build-system"]["requires"]
    assert "xarray>=2024.10" in project["dependencies"]  # Dataset.to_zarr(zarr_format=...)
    assert any(d.startswith("hypothesis") for d in project["optional-dependencies"]["test"])


# --- running a case -------------------------------------------------------------------------------

# --- twin run and twin batch ------------------------------------------------------------------

TINY = ROOT / "tests" / "scenes"


def command(argv: list[str], code: int, *texts: str) -> str:
    """``twin ARGV``: assert its exit status and, for a refusal, one line holding every text; the line."""
    import contextlib
    import io

    from twin.app.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        got = main([str(a) for a in argv])
    lines = [ln for ln in err.getvalue().splitlines() if ln.strip() and not ln.startswith("twin: warning:")]
    assert got == code, f"exit {got}, not {code}: {lines}"
    if code != 0:
        assert len(lines) == 1, f"{len(lines)} lines: {lines}"
        assert all(t in lines[0] for t in texts), lines[0]
    return lines[0] if lines else ""


def _script(tmp: Path, body: str) -> Path:
    path = tmp / "scene.py"
    path.write_text(body)
    return path


@case("run", "a grid that cannot fit in memory (resolution 1e-3 m)")
def _(tmp):
    command(["run", TINY / "tiny_flood.py", "--set", "duration=1", "--out", tmp / "o", "--quiet"], 0)
    command(["run", ROOT / "scenes" / "merewether.py", "--set", "resolution=1e-3", "--out", tmp / "big", "--quiet"], 2,
            "GiB", "available")
    assert not (tmp / "big").exists()


@case("run", "a city terrain that cannot fit (a CityJSON spread over 1000 km)")
def _(tmp):
    from twin.io.cityjson import ground_terrain, read_cityjson

    try:
        ground_terrain(read_cityjson(DATA / "city" / "delft.city.json"), (0.0, 0.0, 1e6, 1e6), 1.0)
    except InputError as e:
        assert "GiB" in str(e)
        return
    raise AssertionError("not refused")


for _body, _where in (("import no_such_module_anywhere\n", "line 1"),
                      ("PARAMETERS = []\ndef setup(p):\n    return None\n", "setup()"),
                      ("PARAMETERS = []\ndef setup(p):\n    raise RuntimeError('oops')\n", "line 3"),
                      ("PARAMETERS = [\n", "syntax error")):
    def _bad_script(tmp, body=_body, where=_where):
        command(["run", _script(tmp, body), "--out", tmp / "o", "--quiet"], 2, "scene.py", where)
        assert not (tmp / "o").exists()

    case("run", f"a scene script that fails ({_where})")(_bad_script)


@case("run", "--out names an existing file")
def _(tmp):
    (tmp / "f").write_text("x")
    command(["run", TINY / "tiny_flood.py", "--out", tmp / "f", "--quiet"], 2, "not a folder")


@case("run", "--out under a file")
def _(tmp):
    (tmp / "f").write_text("x")
    command(["run", TINY / "tiny_flood.py", "--out", tmp / "f" / "o", "--quiet"], 2, "is a file")


@case("run", "a corrupt checkpoint")
def _(tmp):
    command(["run", TINY / "tiny_flood.py", "--out", tmp, "--quiet"], 0)
    (tmp / "run" / "checkpoint.npz").write_bytes(b"PK\x03\x04" + bytes(64))
    command(["run", TINY / "tiny_flood.py", "--resume", tmp, "--quiet"], 2, "checkpoint")


@case("run", "a flood scene without probes, buildings, friction zones or inflows")
def _(tmp):
    body = ("import numpy as np\nfrom twin.physics.swe.run import FloodRun\n"
            "from twin.scene import Heightfield, Scene\nPARAMETERS = []\n"
            "def setup(p):\n    t = Heightfield(np.zeros((8, 8)), 0.0, 0.0, 1.0, 1.0)\n"
            "    return FloodRun(Scene(name='bare', crs='EPSG:32755', origin=(0.0, 0.0), extent=t.extent, terrain=t),"
            " duration=2.0, output_interval=1.0, resolution=1.0)\n")
    command(["run", _script(tmp, body), "--out", tmp / "o", "--quiet"], 0)


@case("run", "--hot-start from a result of another grid")
def _(tmp):
    command(["run", TINY / "tiny_flood.py", "--set", "duration=10", "--out", tmp / "a", "--quiet"], 0)
    command(["run", ROOT / "scenes" / "merewether.py", "--set", "resolution=20", "--set", "duration=10",
             "--hot-start", tmp / "a", "--out", tmp / "b", "--quiet"], 2, "grid")


def _sweep(tmp: Path, vary: str) -> Path:
    path = tmp / "sweep.toml"
    path.write_text(f'scene = "{TINY / "tiny_flood.py"}"\n[vary]\n{vary}')
    return path


@case("batch", "a binary sweep file")
def _(tmp):
    (tmp / "s.toml").write_bytes(bytes(range(256)))
    command(["batch", tmp / "s.toml", "--out", tmp / "o", "--quiet"], 2, "not a UTF-8 text file")


@case("batch", "a negative seed")
def _(tmp):
    s = _sweep(tmp, 'design = "latin_hypercube"\nsamples = 2\nseed = -3\n[vary.parameters]\ninflow = [1.0, 2.0]\n')
    command(["batch", s, "--out", tmp / "o", "--quiet"], 2, "seed")


@case("batch", "samples = 1e11")
def _(tmp):
    s = _sweep(tmp, 'design = "latin_hypercube"\nsamples = 1e11\nseed = 1\n[vary.parameters]\ninflow = [1.0, 2.0]\n')
    command(["batch", s, "--out", tmp / "o", "--quiet"], 2, "samples")


@case("batch", "a grid of 10^8 combinations")
def _(tmp):
    axis = ", ".join(["1.0"] * 10_000)
    s = _sweep(tmp, f'design = "grid"\n[vary.parameters]\ninflow = [{axis}]\nduration = [{axis}]\n')
    command(["batch", s, "--out", tmp / "o", "--quiet"], 2, "100000000 runs")


@case("batch", "a scene script named relative to the sweep file")
def _(tmp):
    from twin.app.sweep import load_sweep

    (tmp / "sweeps").mkdir()
    (tmp / "scenes").mkdir()
    shutil.copy(TINY / "tiny_flood.py", tmp / "scenes" / "tiny_flood.py")
    (tmp / "sweeps" / "s.toml").write_text('scene = "../scenes/tiny_flood.py"\n[vary]\ndesign = "list"\n'
                                           '[vary.parameters]\ninflow = [1.0]\n')
    assert load_sweep(tmp / "sweeps" / "s.toml").scene == (tmp / "scenes" / "tiny_flood.py").resolve()


def _check(c: Case) -> str | None:
    """Run the case's check in a fresh folder, stderr (fd 2) captured: None or what went wrong."""
    tmp = Path(tempfile.mkdtemp(prefix="twin-hostile-"))
    saved = os.dup(2)
    err = tempfile.TemporaryFile()
    os.dup2(err.fileno(), 2)
    try:
        c.check(tmp)
        problem = None
    except AssertionError as e:
        problem = f"broke a promise: {e}"
    except Exception as e:  # noqa: BLE001 - the table reports any traceback as a failure
        problem = f"traceback: {type(e).__name__}: {e}"
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        shutil.rmtree(tmp, ignore_errors=True)
    err.seek(0)
    noise = [ln for ln in err.read().decode("utf-8", "replace").splitlines() if ln.strip() and not ln.startswith("twin: ")]
    err.close()
    if problem is None and noise:
        problem = f"{len(noise)} lines on stderr: {noise[0][:120]}"
    return problem


def run_case(c: Case, timeout_s: int = TIMEOUT_S) -> str | None:
    """Run one case in a forked process: None when twin kept its promises, else what went wrong.

    Beyond the case's own check: no exception other than the expected ones, no
    hang (the process is killed after ``timeout_s``, even inside a C library), and
    nothing on stderr but twin's own lines.
    """
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: run, report, leave without cleanup handlers
        os.close(read)
        try:
            problem = _check(c)
        except BaseException as e:  # noqa: BLE001
            problem = f"crashed: {type(e).__name__}: {e}"
        os.write(write, (problem or "").encode("utf-8", "replace")[:60000])
        os._exit(0)
    os.close(write)
    ready, _, _ = select.select([read], [], [], timeout_s)
    if not ready:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(read)
        return f"hung (over {timeout_s} s)"
    chunks = []
    while chunk := os.read(read, 65536):
        chunks.append(chunk)
    os.close(read)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return f"crashed (signal {os.WTERMSIG(status)})"
    return b"".join(chunks).decode() or None


def categories() -> list[str]:
    return list(dict.fromkeys(c.category for c in CASES))

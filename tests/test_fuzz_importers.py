"""Fuzz every importer from the shared samples: truncations, byte flips, header values, encodings, nesting.

Each generated input must be read or refused with an InputError: no other
exception, no hang (a timeout per input), nothing a library prints on stderr.
``make test`` runs a short, seeded budget (``TWIN_FUZZ_EXAMPLES``, default 12
inputs per importer, derandomised); ``make test-all`` the ``slow`` variant with 300.
"""

from __future__ import annotations

import json
import os
import signal
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shared_data import DATA, need

from twin.errors import InputError

pytestmark = pytest.mark.data  # needs ../shared/data

FUZZ_EXAMPLES = int(os.environ.get("TWIN_FUZZ_EXAMPLES", "12"))
FUZZ_RANDOM = os.environ.get("TWIN_FUZZ_RANDOM") == "1"
"""``TWIN_FUZZ_RANDOM=1``: new random inputs each run (to hunt), instead of the fixed, derandomised set."""
TIMEOUT_S = 20

ASC = b"ncols 3\nnrows 2\nxllcorner 0\nyllcorner 0\ncellsize 1\nNODATA_value -9999\n1 2 3\n4 5 6\n"
OSM = (b'<?xml version="1.0"?><osm version="0.6"><node id="1" lat="52.0" lon="4.0" version="1"/>'
       b'<node id="2" lat="52.001" lon="4.0" version="1"/><node id="3" lat="52.001" lon="4.001" version="1"/>'
       b'<way id="9" version="1"><nd ref="1"/><nd ref="2"/><nd ref="3"/><nd ref="1"/><tag k="building" v="yes"/></way></osm>')


def _city_sample(objects: int = 4) -> bytes:
    """The Delft CityJSON cut to its first few buildings and land-cover objects, vertices renumbered."""
    doc = json.loads((DATA / "city/delft.city.json").read_text())
    keep, taken = {}, {}
    for oid, obj in doc["CityObjects"].items():
        if obj["type"] in ("Building", "Road", "PlantCover") and taken.get(obj["type"], 0) < objects and not obj.get("children"):
            keep[oid] = {k: v for k, v in obj.items() if k not in ("parents", "children")}
            taken[obj["type"]] = taken.get(obj["type"], 0) + 1
    used: dict[int, int] = {}

    def renumber(node):
        return [renumber(n) for n in node] if isinstance(node, list) else used.setdefault(node, len(used))

    for obj in keep.values():
        for g in obj.get("geometry", []):
            g["boundaries"] = renumber(g["boundaries"])
    doc["vertices"] = [doc["vertices"][k] for k in sorted(used, key=used.get)]
    doc["CityObjects"] = keep
    return json.dumps(doc).encode()


def _geotiff_sample() -> bytes:
    """The Boulder Creek SRTM grid (ESRI ASCII) written as a small GeoTIFF with rasterio."""
    import tempfile

    import rasterio
    from rasterio.transform import Affine

    from twin.io.esri_ascii import read_esri_ascii

    h = read_esri_ascii(DATA / "terrain/boulder_creek_srtmgl3.asc")
    e = h.elevation[::-1][:40, :40]
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "dem.tif"
        with rasterio.open(p, "w", driver="GTiff", height=e.shape[0], width=e.shape[1], count=1, dtype="float32", crs="EPSG:4326",
                           transform=Affine(h.dx, 0.0, h.x0, 0.0, -h.dy, h.y0 + h.shape[0] * h.dy)) as ds:
            ds.write(e.astype("float32"), 1)
        return p.read_bytes()


def _small_samples() -> dict[str, bytes]:
    """Seed inputs per suffix: the shared samples (small ones whole, big ones cut at a message or row)."""
    w = DATA / "weather"
    grib = (w / "era5_t2m_uk_2019-03-01_to_24.grib").read_bytes()
    log = (DATA / "factory/machine_temperature_system_failure.csv").read_bytes()
    urdf = (DATA / "factory/example-robot-data/robots/ur_description/urdf/ur5_robot.urdf").read_bytes()
    import tempfile

    import numpy as np

    from twin.scene import Heightfield, Scene, save_scene

    with tempfile.TemporaryDirectory() as d:
        s = Scene("t", "EPSG:32633", (0.0, 0.0), (0.0, 0.0, 10.0, 10.0), Heightfield(np.zeros((4, 4)), 0.0, 0.0, 2.5, 2.5))
        scene = save_scene(s, Path(d) / "s.twin").read_bytes()
    return {
        ".asc": ASC,
        "srtm.asc": (DATA / "terrain/boulder_creek_srtmgl3.asc").read_bytes(),
        ".tif": _geotiff_sample(),
        ".prj": (DATA / "flood/merewether/topography1.prj").read_bytes(),
        ".zip": (DATA / "flood/merewether/topography1.zip").read_bytes(),
        ".json": _city_sample(),
        ".osm": OSM,
        ".csv": (DATA / "flood/merewether/extent.csv").read_bytes(),
        "log.csv": log[:4000],
        ".nc": (w / "GFS_test_netcdf3.nc").read_bytes(),
        "4.nc": (w / "era5_t2m_uk_2019-03-01_to_24.nc").read_bytes(),  # NetCDF-4, deflated chunks
        ".grib": grib[:3342 * 4],  # four whole messages
        ".urdf": urdf,
        ".twin": scene,
    }


SAMPLES: dict[str, bytes] = _small_samples() if DATA.exists() else {}


def mutations(seed: bytes):
    """Truncations, byte flips, byte runs, inserted header values, other encodings, and deep nesting of ``seed``."""
    n = max(len(seed), 1)
    pos = st.integers(0, n - 1)
    values = st.sampled_from([b"nan", b"inf", b"-inf", b"1e400", b"-1", b"0", b"1.5", b"true", b"null", b"\xff\xfe", b"\x00",
                              b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", b"\xc3\xa9", b"\r\n", b";", b"\t", b"\xef\xbb\xbf"])
    truncate = pos.map(lambda k: seed[:k])
    flip = st.lists(pos, min_size=1, max_size=16).map(lambda ks: _flip(seed, ks))
    insert = st.tuples(pos, values).map(lambda kv: seed[:kv[0]] + kv[1] + seed[kv[0]:])
    replace = st.tuples(pos, values).map(lambda kv: seed[:kv[0]] + kv[1] + seed[kv[0] + len(kv[1]):])
    encode = st.sampled_from(["latin-1", "utf-16", "cp1252"]).map(lambda e: seed.decode("utf-8", "replace").encode(e, "replace"))
    nest = st.integers(10, 5000).map(lambda d: b"[" * d + seed + b"]" * d)
    return st.one_of(truncate, flip, insert, replace, encode, nest)


def _flip(seed: bytes, ks) -> bytes:
    b = bytearray(seed)
    for k in ks:
        b[k] ^= 0xFF
    return bytes(b)


def _name(suffix: str) -> str:
    """The file name a sample is written under (its suffix tells ``twin inspect`` the kind)."""
    return "input" + {"log.csv": ".csv", "4.nc": ".nc", "srtm.asc": ".asc"}.get(suffix, suffix)


def _reader(suffix: str):
    from twin.inspect import describe

    if suffix == "log.csv":
        from twin.io.sensor_log import read_sensor_log

        return read_sensor_log
    return describe


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout


def read_or_refuse(path: Path, reader) -> None:
    """``reader(path)`` returns or raises InputError, within TIMEOUT_S."""
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(TIMEOUT_S)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reader(path)
    except InputError as e:
        assert "\n" not in str(e), f"a refusal in more than one line: {e!s}"
    except _Timeout:
        pytest.fail(f"{path.name}: no answer within {TIMEOUT_S} s")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _fuzz(suffix: str, examples: int, tmp_path_factory, capfd) -> None:
    seed = SAMPLES[suffix]
    folder = tmp_path_factory.mktemp("fuzz")
    name = _name(suffix)
    reader = _reader(suffix)

    @settings(max_examples=examples, deadline=None, derandomize=not FUZZ_RANDOM, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example])
    @given(mutations(seed))
    def check(data: bytes):
        p = folder / name
        p.write_bytes(data)
        read_or_refuse(p, reader)

    check()
    noise = [ln for ln in capfd.readouterr().err.splitlines() if ln.strip()]
    assert not noise, f"{len(noise)} lines on stderr, e.g. {noise[0][:200]}"


SUFFIXES = [".asc", "srtm.asc", ".zip", ".tif", ".prj", ".json", ".osm", ".csv", "log.csv", ".nc", "4.nc", ".grib", ".urdf", ".twin"]


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_every_seed_reads(suffix, tmp_path):
    """The fuzzing starts from inputs twin reads: each mutation is a step away from a good file."""
    need(DATA)
    p = tmp_path / _name(suffix)
    p.write_bytes(SAMPLES[suffix])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _reader(suffix)(p)


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_fuzz_importer(suffix, tmp_path_factory, capfd):
    need(DATA)
    _fuzz(suffix, FUZZ_EXAMPLES, tmp_path_factory, capfd)


@pytest.mark.slow
@pytest.mark.parametrize("suffix", SUFFIXES)
def test_fuzz_importer_long(suffix, tmp_path_factory, capfd):
    need(DATA)
    _fuzz(suffix, 300, tmp_path_factory, capfd)

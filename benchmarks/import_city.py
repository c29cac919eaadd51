"""Import time and peak memory of twin's city and terrain importers.

Each import runs in a fresh Python process (twin and its libraries imported
first), which reports

* ``seconds``: wall time of the import call alone;
* ``rss_mb``: the process's peak resident memory (``ru_maxrss``) after the call,
  and ``base_mb`` the same before it, so ``rss_mb - base_mb`` is what the
  import added at its peak;
* ``py_peak_mb``: the peak of Python and NumPy allocations during the call
  (``tracemalloc``, measured in a second run because tracing slows it down).

The samples are ``../shared/data``'s Moscow OSM extract, Delft CityJSON (with
and without its 1 m ground terrain) and Boulder Creek SRTM grid (resampled to
UTM 13N), plus a large OSM extract built here: the Moscow extract tiled
``--tiles`` times (42 by default, ~104 MB of XML) with ids and coordinates
offset per tile, written with pyosmium's writer as OSM XML and as PBF, nodes
first, then ways, then relations, as in a real extract.

    python benchmarks/import_city.py [--tiles 42] [--keep DIR] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
MOSCOW = DATA / "city" / "moscow.osm"
DELFT = DATA / "city" / "delft.city.json"
BOULDER = DATA / "terrain" / "boulder_creek_srtmgl3.asc"

ID_STEP = 10_000_000_000
"""Id offset between tiles (above every id in the extract)."""

TILE_STEP = (0.16, 0.10)
"""(lon, lat) offset between tiles [degrees]: the extract's nodes span 0.152 x 0.091."""

CHILD = r"""
import json, resource, sys, time, tracemalloc
kind, path, trace = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
from twin.io.osm import read_osm
from twin.io.cityjson import read_cityjson
from twin.io.dem import read_dem
calls = {
    "osm": lambda: read_osm(path),
    "cityjson": lambda: read_cityjson(path),
    "cityjson+terrain": lambda: read_cityjson(path, terrain_resolution=1.0),
    "dem": lambda: read_dem(path, source_crs="EPSG:4326"),
}
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
if trace:
    tracemalloc.start()
t = time.perf_counter()
out = calls[kind]()
seconds = time.perf_counter() - t
peak = tracemalloc.get_traced_memory()[1] / 2**20 if trace else None
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
counts = getattr(out, "counts", None) or {"cells": int(out.terrain.elevation.size), "voids_filled": out.voids_filled}
print(json.dumps({"seconds": seconds, "base_mb": base, "rss_mb": rss, "py_peak_mb": peak, "counts": counts}))
"""


def measure(kind: str, path: Path, *, trace: bool) -> dict:
    """One import of ``path`` in a fresh process."""
    proc = subprocess.run([sys.executable, "-c", CHILD, kind, str(path), "1" if trace else "0"], cwd=ROOT,
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def tile_osm(src: Path, dst: Path, tiles: int) -> float:
    """Write ``tiles`` offset copies of the extract ``src`` to ``dst`` (.osm or .osm.pbf); returns seconds taken."""
    import osmium

    t0 = time.perf_counter()
    cols = int(tiles ** 0.5 + 0.999)
    offsets = [(k * ID_STEP, (k % cols) * TILE_STEP[0], (k // cols) * TILE_STEP[1]) for k in range(tiles)]
    with osmium.SimpleWriter(str(dst), overwrite=True) as writer:
        for entity in (osmium.osm.NODE, osmium.osm.WAY, osmium.osm.RELATION):
            for dk, dlon, dlat in offsets:
                for obj in osmium.FileProcessor(str(src), entity):
                    if entity == osmium.osm.NODE:
                        loc = obj.location
                        writer.add_node(obj.replace(id=obj.id + dk, location=(loc.lon + dlon, loc.lat + dlat)))
                    elif entity == osmium.osm.WAY:
                        writer.add_way(obj.replace(id=obj.id + dk, nodes=[n.ref + dk for n in obj.nodes]))
                    else:
                        members = [(m.type, m.ref + dk, m.role) for m in obj.members]
                        writer.add_relation(obj.replace(id=obj.id + dk, members=members))
    return time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tiles", type=int, default=42, help="copies of the Moscow extract in the large file")
    p.add_argument("--keep", type=Path, help="folder to keep the large files in (default: a temporary one)")
    p.add_argument("--json", type=Path, help="also write the rows as JSON here")
    args = p.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="twin-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    big_xml, big_pbf = work / f"moscow_x{args.tiles}.osm", work / f"moscow_x{args.tiles}.osm.pbf"
    for dst in (big_xml, big_pbf):
        if not dst.exists():
            print(f"building {dst.name} ({args.tiles} tiles) ... ", end="", flush=True)
            print(f"{tile_osm(MOSCOW, dst, args.tiles):.1f} s, {dst.stat().st_size / 1e6:.1f} MB")
    cases = [
        ("moscow.osm", "osm", MOSCOW),
        ("delft.city.json", "cityjson", DELFT),
        ("delft.city.json + 1 m terrain", "cityjson+terrain", DELFT),
        ("boulder_creek_srtmgl3.asc -> UTM 13N", "dem", BOULDER),
        (big_xml.name, "osm", big_xml),
        (big_pbf.name, "osm", big_pbf),
    ]
    rows = []
    for label, kind, path in cases:
        m = measure(kind, path, trace=False)
        m["py_peak_mb"] = measure(kind, path, trace=True)["py_peak_mb"]
        mb = path.stat().st_size / 1e6
        c = m["counts"]
        rows.append({"file": label, "mb": mb, **m})
        buildings = c.get("buildings")
        per_kb = f"{1000 * m['seconds'] / buildings:.2f}" if buildings else "-"
        print(f"| {label} | {mb:.2f} | {buildings if buildings is not None else '-'} | {m['seconds']:.2f} | "
              f"{m['seconds'] / mb:.3f} | {per_kb} | {m['rss_mb']:.0f} | {m['rss_mb'] - m['base_mb']:.0f} | {m['py_peak_mb']:.1f} |",
              flush=True)
    print("\ncolumns: file | MB | buildings | import s | s per MB | s per 1,000 buildings | peak RSS MB | RSS added MB | "
          "Python+NumPy peak MB")
    for r in rows:
        print(r["file"], json.dumps(r["counts"]))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()

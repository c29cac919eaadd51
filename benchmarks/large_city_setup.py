"""Setting up a flood on a city whose objects spread far apart: time, peak memory, and the fill's speed-up.

The hostile case of issue 16: ``scenes/delft_cloudburst.py`` given a CityJSON whose
buildings lie over about 9 x 10 km, so that its 1 m ground terrain has 93 million cells
and its 2 m flood grid 23 million, nearly all of them under no ground surface (filled
from the neighbours). The file is ``../shared/data/city/delft.city.json`` with four
copies of its first building moved 9 km east, 10 km north, both, and half of both.

* ``setup_s``: the scene's ``setup`` (read the file, rasterise and fill the 1 m terrain,
  the canal beds), ``build_s``: the run's ``build("cpu")`` (the flood grid: resample,
  fill, buildings, land cover, the Model); ``peak_rss_gib``: the process's peak resident
  memory. Each resolution pair runs in a fresh process.
* Reference in the same process: the gap fill (:func:`twin.raster.fill_nodata`, which
  visits only the frontier of the gap) against the definition it keeps, a whole-grid
  pass per ring, on a ``--fill-size`` square grid with data in one 1 % corner.

    python benchmarks/large_city_setup.py [--pairs 2,4 1,2] [--fill-size 800] [--json FILE]
"""

from __future__ import annotations

import argparse
import copy
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # this checkout first
from fill_reference import fill_by_whole_grid_passes  # noqa: E402

DELFT = ROOT.parent / "shared" / "data" / "city" / "delft.city.json"
SCENE = ROOT / "scenes" / "delft_cloudburst.py"
OFFSETS_M = [(9000, 0), (0, 10000), (9000, 10000), (4500, 5000)]

CHILD = """
import json, resource, sys, time
from twin.script import load_script, parameters_of
scene, data, terrain, resolution = sys.argv[1:5]
script = load_script(scene)
p = parameters_of(script, scene, [f"data={data}", f"terrain_resolution={terrain}", f"resolution={resolution}"])
t0 = time.perf_counter()
run = script.setup(p)
t1 = time.perf_counter()
problem = run.build("cpu")
t2 = time.perf_counter()
print(json.dumps({"setup_s": t1 - t0, "build_s": t2 - t1,
                  "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}))
"""


def spread_city(path: Path) -> Path:
    """Delft with copies of its first building at :data:`OFFSETS_M` [m] (the geographical extent dropped)."""
    doc = json.loads(DELFT.read_text())
    scale = doc["transform"]["scale"]
    objects = doc["CityObjects"]
    first = next(k for k, v in objects.items() if v["type"] == "Building")

    def indices(b):
        return [i for x in b for i in indices(x)] if isinstance(b, list) else [b]

    def renumber(b, new):
        return [renumber(x, new) for x in b] if isinstance(b, list) else new[b]

    for k, (ox, oy) in enumerate(OFFSETS_M):
        o = copy.deepcopy(objects[first])
        used = sorted({i for g in o["geometry"] for i in indices(g["boundaries"])})
        new = {i: len(doc["vertices"]) + n for n, i in enumerate(used)}
        for i in used:
            x, y, z = doc["vertices"][i]
            doc["vertices"].append([x + round(ox / scale[0]), y + round(oy / scale[1]), z])
        for g in o["geometry"]:
            g["boundaries"] = renumber(g["boundaries"], new)
        objects[f"far_{k}"] = o
    doc["metadata"].pop("geographicalExtent", None)
    path.write_text(json.dumps(doc))
    return path


def fill_reference(size: int) -> dict:
    """The frontier fill against whole-grid passes on a ``size`` square grid with data in a 1 % corner."""
    from twin.raster import fill_nodata

    a = np.full((size, size), np.nan)
    k = max(1, size // 10)
    a[:k, :k] = np.random.default_rng(0).normal(size=(k, k))
    t0 = time.perf_counter()
    fast, _ = fill_nodata(a)
    t_fast = time.perf_counter() - t0
    t0 = time.perf_counter()
    ref = fill_by_whole_grid_passes(a)
    t_ref = time.perf_counter() - t0
    return {"cells": size * size, "frontier_fill_s": t_fast, "whole_grid_passes_s": t_ref, "speedup": t_ref / t_fast,
            "bitwise_equal": bool(np.array_equal(fast, ref))}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--pairs", nargs="+", default=["2,4", "1,2"], help="terrain,flood resolutions [m]")
    p.add_argument("--fill-size", type=int, default=800)
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    result = {"fill": fill_reference(args.fill_size), "setups": []}
    with tempfile.TemporaryDirectory(prefix="twin-city-") as d:
        city = spread_city(Path(d) / "spread.city.json")
        for pair in args.pairs:
            terrain, resolution = pair.split(",")
            out = subprocess.run([sys.executable, "-c", CHILD, str(SCENE), str(city), terrain, resolution],
                                 capture_output=True, text=True, check=True)
            row = {"terrain_resolution_m": float(terrain), "resolution_m": float(resolution),
                   **json.loads(out.stdout.strip().splitlines()[-1])}
            result["setups"].append(row)
            print(json.dumps(row), flush=True)
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()

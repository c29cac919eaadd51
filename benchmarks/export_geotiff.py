"""Seconds to export a flood Result as Cloud-Optimized GeoTIFFs (and NetCDF, GeoPackage) with twin.app.gis.

    python benchmarks/export_geotiff.py                       # runs Merewether at 1 m (~95 s on 2 cores) first
    python benchmarks/export_geotiff.py --set resolution=2    # a coarser run first
    python benchmarks/export_geotiff.py --result out/merewether   # an existing result folder

Each export is timed ``--repeat`` times into a fresh folder (the median is
reported, with the grid size and the bytes written); the run itself is not
timed. The Result is read from its zarr store once, before the timing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import xarray as xr

from twin.app.gis import export_geotiff, export_netcdf, export_vector
from twin.app.runs import execute, load_run

SCENE = Path(__file__).resolve().parents[1] / "scenes" / "merewether.py"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--result", type=Path, help="an existing `twin run` folder (else Merewether is run first)")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="Merewether parameter for the run")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="twin-bench-export-") as tmp:
        tmp = Path(tmp)
        result = args.result
        if result is None:
            run, params = load_run(SCENE, args.set)
            result = tmp / "run"
            start = time.perf_counter()
            execute(run, result, parameters=params, script=str(SCENE), progress=False)
            print(f"run: {time.perf_counter() - start:.1f} s (not part of the figures)", file=sys.stderr)
        ds = xr.open_zarr(Path(result) / "result.zarr", decode_times=False).load()
        figures = {"grid": [ds.sizes["y"], ds.sizes["x"]], "snapshots": ds.sizes["time"], "machine": platform.machine(),
                   "cpus": os.cpu_count()}
        for name, export, target in (("geotiff", export_geotiff, "tif"), ("netcdf", export_netcdf, "r.nc"),
                                     ("vector", export_vector, "flood.gpkg")):
            times = []
            for k in range(args.repeat):
                out = tmp / f"{name}{k}" / target
                start = time.perf_counter()
                export(ds, out)
                times.append(time.perf_counter() - start)
            size = sum(f.stat().st_size for f in out.parent.rglob("*") if f.is_file())
            figures[name] = {"median_s": statistics.median(times), "min_s": min(times), "bytes": size}
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(f"grid {figures['grid'][0]} x {figures['grid'][1]}, {figures['snapshots']} snapshots")
        for name in ("geotiff", "netcdf", "vector"):
            f = figures[name]
            print(f"{name:8s} {f['median_s']:.3f} s (best {f['min_s']:.3f} s), {f['bytes'] / 1e6:.2f} MB")


if __name__ == "__main__":
    main()

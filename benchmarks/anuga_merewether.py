"""ANUGA peer cross-check on the Merewether 2007 urban flood case.

Sets up the case exactly as /work/shared/data/flood/merewether/CASE.md says
(extent.csv domain, 1 m DEM, buildings +3.0 m, Manning n 0.02 on the road polygon
and 0.04 elsewhere, 19.7 m^3/s into a 10 m circle, S/W reflective, E/N
transmissive, dry start, 1000 s), runs ANUGA with its default flow algorithm and
records the peak (max over every time step) stage at the probe points and on
the 1 m grid-cell centres of the extent.

It runs only under a separate ANUGA virtualenv, not the twin one:

    python3 -m venv /work/anuga-venv && /work/anuga-venv/bin/pip install anuga==4.1
    OMP_NUM_THREADS=2 /work/anuga-venv/bin/python benchmarks/anuga_merewether.py \
        --max-area 1.0 --out benchmarks/results

Writes <out>/anuga_merewether.json and <out>/anuga_merewether_peak_stage.npz;
the .sww goes to --work (default /tmp/anuga_merewether). The probes file is
optional (skipped when missing), which allows a first coarse run such as
``--max-area 4 --out /tmp/anuga_coarse`` to find the wet streets.
"""
import argparse
import csv
import glob
import io
import json
import os
import time
import zipfile
from pathlib import Path

T0 = time.perf_counter()
os.environ.setdefault("OMP_NUM_THREADS", "2")

import anuga  # noqa: E402
import numpy as np  # noqa: E402
from anuga.operators.collect_max_stage_operator import Collect_max_stage_operator  # noqa: E402
from matplotlib.tri import Triangulation  # noqa: E402
from scipy.interpolate import RegularGridInterpolator  # noqa: E402
from scipy.ndimage import distance_transform_edt  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
HOUSE_HEIGHT = 3.0
INFLOW_Q, INFLOW_CENTRE, INFLOW_RADIUS = 19.7, (382265.0, 6354280.0), 10.0
FINAL_TIME = 1000.0
WET_DEPTH = 0.01  # grid cells with a smaller peak depth are NaN in the npz


def read_xy(path):
    return [[float(v) for v in row[:2]] for row in csv.reader(open(path)) if row]


def read_dem(zip_path):
    """ESRI ASCII grid -> bilinear interpolator; NODATA cells take the nearest value."""
    text = zipfile.ZipFile(zip_path).read("topography1.asc").decode()
    lines = text.splitlines()
    hdr = {k.lower(): float(v) for k, v in (ln.split() for ln in lines[:6])}
    z = np.loadtxt(io.StringIO("\n".join(lines[6:])))[::-1]  # row 0 = south
    bad = z == hdr["nodata_value"]
    z = z[tuple(distance_transform_edt(bad, return_distances=False, return_indices=True))]
    cs = hdr["cellsize"]
    xc = hdr["xllcorner"] + cs * (np.arange(z.shape[1]) + 0.5)
    yc = hdr["yllcorner"] + cs * (np.arange(z.shape[0]) + 0.5)
    interp = RegularGridInterpolator((yc, xc), z)

    def dem(x, y):  # clamp to the outermost cell centres (extent is ~0.2 m wider)
        return interp(np.column_stack([np.clip(y, yc[0], yc[-1]), np.clip(x, xc[0], xc[-1])]))

    return dem, int(bad.sum())


def house_files(data):
    files = sorted(glob.glob(str(data / "houses" / "house*.csv")))
    skip = {"house030.csv", "house032.csv", "house033.csv"}  # 032_033 replaces 032+033
    return [f for f in files if Path(f).name not in skip]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-area", type=float, default=1.0, help="max triangle area, m^2")
    ap.add_argument("--data", type=Path, default=Path("/work/shared/data/flood/merewether"))
    ap.add_argument("--probes", type=Path, default=REPO / "scenes" / "merewether_probes.csv")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    ap.add_argument("--work", type=Path, default=Path("/tmp/anuga_merewether"))
    ap.add_argument("--yieldstep", type=float, default=10.0, help="sww/report interval, s")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    args.work.mkdir(parents=True, exist_ok=True)
    threads = anuga.set_omp_num_threads(int(os.environ["OMP_NUM_THREADS"]), verbose=False)

    # --- mesh: extent rectangle, house footprints as breaklines -------------
    extent = read_xy(args.data / "extent.csv")  # SW, SE, NE, NW: edges bottom, right, top, left
    houses = [read_xy(f) for f in house_files(args.data)]
    domain = anuga.create_domain_from_regions(
        extent,
        boundary_tags={"bottom": [0], "right": [1], "top": [2], "left": [3]},
        maximum_triangle_area=args.max_area,
        breaklines=[h + [h[0]] for h in houses],
        use_cache=False, verbose=False)
    domain.set_name("merewether")
    domain.set_datadir(str(args.work))
    n_tri = len(domain)

    # --- quantities ---------------------------------------------------------
    dem, n_nodata = read_dem(args.data / "topography1.zip")
    vxy = domain.get_vertex_coordinates(absolute=True)  # (3N, 2)
    cxy = domain.get_centroid_coordinates(absolute=True)  # (N, 2)
    in_house = np.zeros(n_tri, bool)
    for h in houses:
        in_house[anuga.inside_polygon(cxy, h)] = True
    elev = dem(vxy[:, 0], vxy[:, 1]).reshape(n_tri, 3) + HOUSE_HEIGHT * in_house[:, None]
    domain.set_quantity("elevation", elev, location="vertices")
    on_road = np.zeros(n_tri, bool)
    on_road[anuga.inside_polygon(cxy, read_xy(args.data / "RoadPolygon.csv"))] = True
    domain.set_quantity("friction", np.where(on_road, 0.02, 0.04), location="centroids")
    domain.set_quantity("stage", expression="elevation")  # dry start

    Br, Bt = anuga.Reflective_boundary(domain), anuga.Transmissive_boundary(domain)
    domain.set_boundary({"bottom": Br, "left": Br, "right": Bt, "top": Bt})
    inlet = anuga.Region(domain, center=INFLOW_CENTRE, radius=INFLOW_RADIUS)
    anuga.Inlet_operator(domain, inlet, Q=INFLOW_Q)
    max_stage = Collect_max_stage_operator(domain).max_stage  # updated every time step

    # --- evolve -------------------------------------------------------------
    print(f"ANUGA {anuga.__version__}, {domain.get_flow_algorithm()}, {n_tri} triangles, "
          f"{threads} OpenMP threads, {len(houses)} houses, {in_house.sum()} house triangles, "
          f"{len(inlet.get_indices())} inlet triangles, {n_nodata} DEM NODATA cells filled")
    load_start = os.getloadavg()[0]  # 2-core machine is shared: record contention
    t_ev = time.perf_counter()
    for t in domain.evolve(yieldstep=args.yieldstep, finaltime=FINAL_TIME):
        if round(t) % 100 == 0:
            print(f"  t={t:6.0f} s  wall={time.perf_counter() - t_ev:7.1f} s  "
                  f"volume={domain.get_water_volume():8.1f} m3", flush=True)
    wall_evolve = time.perf_counter() - t_ev

    # --- sample peaks: piecewise constant per triangle (centroid values) ------
    zc = domain.quantities["elevation"].centroid_values
    peak = max_stage.centroid_values.copy()
    nodes = domain.get_nodes(absolute=True)
    finder = Triangulation(nodes[:, 0], nodes[:, 1], domain.triangles).get_trifinder()

    x = extent[0][0] + 0.5 + np.arange(round(extent[1][0] - extent[0][0]))
    y = extent[0][1] + 0.5 + np.arange(round(extent[2][1] - extent[1][1]))
    gx, gy = np.meshgrid(x, y)
    k = finder(gx, gy)
    grid = np.where(peak[k] - zc[k] >= WET_DEPTH, peak[k], np.nan)
    np.savez_compressed(args.out / "anuga_merewether_peak_stage.npz", x=x, y=y, peak_stage=grid)

    probes = []
    if args.probes.exists():
        for row in csv.DictReader(open(args.probes)):
            px, py = float(row["x"]), float(row["y"])
            j = int(finder(px, py))
            probes.append(dict(name=row["name"], x=px, y=py,
                               peak_stage_m=round(float(peak[j]), 4),
                               peak_depth_m=round(float(peak[j] - zc[j]), 4),
                               bed_m=round(float(zc[j]), 4)))

    result = dict(
        anuga_version=anuga.__version__, flow_algorithm=domain.get_flow_algorithm(),
        max_triangle_area_m2=args.max_area, triangles=n_tri, threads=threads,
        wall_time_evolve_s=round(wall_evolve, 2),
        wall_time_total_s=round(time.perf_counter() - T0, 2),
        final_time_s=float(domain.get_time()),
        cpu_load_1min_start_end=[round(load_start, 2), round(os.getloadavg()[0], 2)],
        sww=str(args.work / "merewether.sww"), probes=probes)
    (args.out / "anuga_merewether.json").write_text(json.dumps(result, indent=2) + "\n")

    print(f"evolve {wall_evolve:.1f} s, total {result['wall_time_total_s']:.1f} s, "
          f"wet grid cells {np.isfinite(grid).sum()}, outputs in {args.out}")
    for p in probes:
        print(f"  {p['name']:>4} ({p['x']:.2f}, {p['y']:.2f})  "
              f"peak stage {p['peak_stage_m']:8.3f} m  depth {p['peak_depth_m']:6.3f} m")


if __name__ == "__main__":
    main()

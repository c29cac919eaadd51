"""Merewether: twin against ANUGA, side by side.

    twin run scenes/merewether.py --out out/merewether            # twin, 1 m grid
    /work/anuga-venv/bin/python benchmarks/anuga_merewether.py --max-area 1.0 --out benchmarks/results
    python benchmarks/merewether_vs_anuga.py out/merewether benchmarks/results [--markdown]

Prints the wall times, cell/triangle counts and the peak stage at each probe
(twin: the maximum of the probe's stage series, sampled every probe_interval, and
the cell's max_stage, tracked every step) with the difference where both are wet,
plus the peak-stage difference over every cell wet in both models.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import xarray as xr


def compare(twin_dir: Path, anuga_dir: Path) -> dict:
    summary = json.loads((twin_dir / "summary.json").read_text())
    ds = xr.open_zarr(twin_dir / "result.zarr", decode_times=False)
    anuga = json.loads((anuga_dir / "anuga_merewether.json").read_text())
    x, y = ds["x"].values, ds["y"].values
    max_stage = ds["max_stage"].values
    rows = []
    for p in anuga["probes"]:
        i = int(np.clip(np.searchsorted(x + 0.5 * (x[1] - x[0]), p["x"]), 0, len(x) - 1))
        j = int(np.clip(np.searchsorted(y + 0.5 * (y[1] - y[0]), p["y"]), 0, len(y) - 1))
        twin_peak = float(max_stage[j, i])
        both_wet = np.isfinite(twin_peak) and p["peak_depth_m"] > 0.01
        rows.append({"name": p["name"], "x": p["x"], "y": p["y"], "anuga_peak_stage_m": p["peak_stage_m"],
                     "anuga_peak_depth_m": p["peak_depth_m"], "twin_peak_stage_m": twin_peak,
                     "twin_peak_depth_m": float(ds["max_depth"].values[j, i]),
                     "difference_m": twin_peak - p["peak_stage_m"] if both_wet else None})
    field = {}
    npz = anuga_dir / "anuga_merewether_peak_stage.npz"
    if npz.exists():
        with np.load(npz) as z:
            a = z["peak_stage"]
        if a.shape == max_stage.shape:
            d = (max_stage - a)[np.isfinite(max_stage) & np.isfinite(a)]
            field = {"cells_wet_in_both": int(d.size), "mean_difference_m": float(d.mean()),
                     "mean_abs_difference_m": float(np.abs(d).mean()), "p95_abs_difference_m": float(np.percentile(np.abs(d), 95))}
    diffs = [abs(r["difference_m"]) for r in rows if r["difference_m"] is not None]
    return {
        "twin": {"wall_time_s": summary["wall_time_s"], "cells": summary["cells"], "dx_m": summary["grid"]["dx"],
                 "steps": summary["steps"], "device": summary["device"], "dtype": summary["solver"]["dtype"]},
        "anuga": {"wall_time_s": anuga["wall_time_evolve_s"], "triangles": anuga["triangles"],
                  "max_triangle_area_m2": anuga["max_triangle_area_m2"], "version": anuga["anuga_version"],
                  "flow_algorithm": anuga["flow_algorithm"], "threads": anuga["threads"]},
        "speedup": anuga["wall_time_evolve_s"] / summary["wall_time_s"],
        "probes": rows,
        "max_abs_probe_difference_m": max(diffs) if diffs else None,
        "field": field,
    }


def markdown(c: dict) -> str:
    t, a = c["twin"], c["anuga"]
    out = [
        "| model | mesh | wall time [s] |",
        "| --- | --- | ---: |",
        f"| twin ({t['dtype']}, {t['device']}) | {t['cells']:,} cells of {t['dx_m']:.3f} m | {t['wall_time_s']:.1f} |",
        f"| ANUGA {a['version']} ({a['flow_algorithm']}, {a['threads']} threads) | {a['triangles']:,} triangles of <= {a['max_triangle_area_m2']} m² | {a['wall_time_s']:.1f} |",
        "",
        f"twin is {c['speedup']:.1f}x faster.",
        "",
        "| probe | x | y | ANUGA peak stage [m] | twin peak stage [m] | twin - ANUGA [m] |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in c["probes"]:
        d = "dry in one" if r["difference_m"] is None else f"{r['difference_m']:+.3f}"
        out.append(f"| {r['name']} | {r['x']:.1f} | {r['y']:.1f} | {r['anuga_peak_stage_m']:.3f} | {r['twin_peak_stage_m']:.3f} | {d} |")
    if c["field"]:
        f = c["field"]
        out += ["", f"Over the {f['cells_wet_in_both']:,} cells wet in both: mean difference {f['mean_difference_m']:+.3f} m, "
                f"mean |difference| {f['mean_abs_difference_m']:.3f} m, 95th percentile {f['p95_abs_difference_m']:.3f} m."]
    return "\n".join(out)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("twin_dir", type=Path)
    p.add_argument("anuga_dir", type=Path)
    p.add_argument("--markdown", action="store_true")
    args = p.parse_args(argv)
    c = compare(args.twin_dir, args.anuga_dir)
    print(markdown(c) if args.markdown else json.dumps(c, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The pictures ``make demo`` writes for a flood Result.

A flood Result is an ``xarray.Dataset`` (saved as ``result.zarr``) with

- coords ``x`` (nx,), ``y`` (ny,): cell centres [m] in the scene CRS, ascending
  (row index grows northward); ``time`` (nt,) [s] of the snapshots; ``probe``
  (np,) probe names; ``probe_time`` (nk,) [s] of the probe series;
- (time, y, x): ``depth``, ``stage`` [m], ``u``, ``v`` [m/s];
- (y, x): ``max_depth``, ``max_stage`` (NaN where never wet) [m], ``max_speed``
  [m/s], ``time_of_max_depth`` [s] (NaN where never wet), ``bed_elevation``
  (buildings included) and ``ground_elevation`` (bare DEM) [m], ``building``
  (int8, 1 inside a building);
- (probe,): ``probe_x``, ``probe_y`` [m]; (probe, probe_time): ``probe_depth``,
  ``probe_stage`` [m], ``probe_u``, ``probe_v`` [m/s];
- attrs ``crs``, ``title``, ``wet_threshold_m``.
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path

import xarray as xr
from twin.viewer.flood_maps import plot_froude, plot_hazard, plot_hydrographs, plot_peak_depth
from twin.viewer.oblique import render_oblique
from twin.viewer.sources import scene_of

from twin.errors import InputError

__all__ = ["write_flood_pictures"]

NEEDED = (
    "depth", "u", "v", "max_depth", "max_stage", "bed_elevation", "ground_elevation", "building",
    "probe_x", "probe_y", "probe_depth", "probe_stage",
)
"""Variables of a Result that the pictures read."""


def write_flood_pictures(result: xr.Dataset | str | PathLike, out_dir: str | PathLike) -> dict[str, Path]:
    """Write the flood pictures of a Result into ``out_dir``.

    Args:
        result: the Result, or the path of its ``.zarr`` store.
        out_dir: folder for the PNGs, made if missing.

    Returns:
        ``{"peak_depth", "oblique", "froude", "hydrographs"}`` (and ``"hazard"``
        when the Result has a hazard class or ``max_depth_velocity``) -> path
        of ``<name>.png`` in ``out_dir``.
    """
    scene, key = None, ""
    if isinstance(result, xr.Dataset):
        ds, source = result, "result"
    else:
        if not Path(result).exists():
            raise InputError(result, "", "no such Result store")
        ds, source = xr.open_zarr(result, decode_times=False), result
        scene, key, _ = scene_of(Path(result).parent, ds)
    missing = [name for name in NEEDED if name not in ds.variables]
    if missing:
        raise InputError(source, "", f"not a flood Result, missing {', '.join(missing)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pictures = {
        "peak_depth": plot_peak_depth(ds, out / "peak_depth.png"),
        "oblique": render_oblique(ds, out / "oblique.png", scene=scene, key=key),
        "froude": plot_froude(ds, out / "froude.png"),
        "hydrographs": plot_hydrographs(ds, out / "hydrographs.png"),
    }
    if "hazard_class" in ds or "max_depth_velocity" in ds:
        pictures["hazard"] = plot_hazard(ds, out / "hazard.png")
    return pictures

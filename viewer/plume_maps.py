"""Maps of a dispersion Result: the plume's column mass over the weather it moves in (matplotlib, Agg).

A dispersion Result (``result.zarr`` of a dispersion scene) holds
``column_mass`` (time, y, x) [kg m-2], ``concentration`` (time, z, y, x)
[kg m-3], ``particle_position`` (time, particle, xyz) [m], the mass budget over
time, and background fields (y, x) such as ``mslp`` [Pa] and ``t2m`` [K]; attrs
``crs`` and ``title``. Figures follow :mod:`twin.viewer.flood_maps` (same style,
no pyplot).
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path

import numpy as np
import xarray as xr
from matplotlib import colormaps, rc_context
from matplotlib.colors import LogNorm
from twin.viewer.flood_maps import DPI, HALO, STYLE, _extent, _figure, _save

from twin.errors import InputError

__all__ = ["plot_plume", "write_plume_pictures"]

PLUME_CMAP = colormaps["inferno_r"]


def _graticule(ax, crs: str, extent: tuple[float, float, float, float], step: float = 10.0) -> None:
    """Meridians and parallels every ``step`` degrees, drawn in the map's CRS, labelled at the edges."""
    from twin.io.crs import transform

    w, e, s, n = extent
    gx, gy = np.meshgrid(np.linspace(w, e, 60), np.linspace(s, n, 60))
    lon, lat = transform(crs, "EPSG:4326", gx, gy)
    levels_lon = np.arange(np.floor(lon.min() / step) * step, lon.max() + step, step)
    levels_lat = np.arange(np.floor(lat.min() / step) * step, lat.max() + step, step)
    for values, levels, label in ((lon, levels_lon, "{:.0f}°"), (lat, levels_lat, "{:.0f}°N")):
        cs = ax.contour(gx, gy, values, levels=levels, colors="#555555", linewidths=0.5, linestyles=":", zorder=3)
        ax.clabel(cs, fmt=lambda v, f=label: f.format(v), fontsize=7, inline=True)


def plot_plume(ds: xr.Dataset, path: str | PathLike, *, times_h: tuple[float, ...] = (12.0, 24.0, 36.0, 48.0),
               background: str | None = "mslp", size_px: tuple[int, int] = (1400, 1050), dpi: int = DPI) -> Path:
    """Column mass at (up to) four times, over ``background`` (``mslp`` in hPa contours on 2 m temperature
    shading, ``t2m`` alone, or None: no weather), with a lon/lat graticule and the release point; writes one PNG."""
    for name in ("column_mass", "airborne_kg", *([background] if background else [])):
        if name not in ds:
            raise InputError("dispersion result", name, "is missing; not a dispersion Result with that background")
    t_all = ds["time"].values / 3600.0
    picks = sorted({int(np.argmin(np.abs(t_all - t))) for t in times_h if t <= t_all[-1] + 1e-9}) or [len(t_all) - 1]
    extent = _extent(ds)
    column = ds["column_mass"].values
    positive = column[column > 0]
    norm = LogNorm(vmin=max(positive.max() * 1e-4, positive.min()), vmax=positive.max()) if positive.size else None
    crs = str(ds.attrs.get("crs", ""))
    x, y = ds["x"].values, ds["y"].values
    t2m = ds["t2m"].values - 273.15 if "t2m" in ds and background else None
    mslp = ds["mslp"].values / 100.0 if background == "mslp" else None
    with rc_context(STYLE):
        fig = _figure(size_px, dpi)
        axes = fig.subplots(2, 2, sharex=True, sharey=True).ravel() if len(picks) > 1 else [fig.add_subplot()]
        for ax, k in zip(axes, picks):
            if t2m is not None:
                ax.imshow(t2m, origin="lower", extent=extent, cmap="coolwarm", vmin=-20, vmax=30, alpha=0.45, zorder=1,
                          interpolation="nearest")
            if mslp is not None:
                cs = ax.contour(x, y, mslp, levels=np.arange(940, 1050, 4), colors="k", linewidths=0.7, zorder=2)
                ax.clabel(cs, fmt="%.0f", fontsize=7)
            c = np.ma.masked_less_equal(column[k], 0.0)
            im = ax.imshow(c, origin="lower", extent=extent, cmap=PLUME_CMAP, norm=norm, zorder=4, interpolation="nearest")
            _graticule(ax, crs, extent)
            if "release_x_m" in ds.attrs:
                ax.plot(ds.attrs["release_x_m"], ds.attrs["release_y_m"], marker="*", color="#1f77b4", markersize=11, zorder=5,
                        path_effects=HALO)
            ax.set_title(f"t = {t_all[k]:.0f} h: {float(ds['airborne_kg'][k]):.3g} kg airborne")
            ax.set_aspect("equal")
            ax.set_xlim(extent[0], extent[1])
            ax.set_ylim(extent[2], extent[3])
            ax.set_xticks([])
            ax.set_yticks([])
        fig.colorbar(im, ax=list(axes), label="column mass [kg m$^{-2}$]", shrink=0.8)
        shown = {"mslp": "MSLP [hPa] contours, 2 m temperature shading", "t2m": "2 m temperature shading"}.get(background, "")
        fig.suptitle(f"{ds.attrs.get('title', 'Plume')}\n{shown + '; ' if shown else ''}{crs}", fontsize=12)
        return _save(fig, path, dpi)


def write_plume_pictures(result: xr.Dataset | str | PathLike, out_dir: str | PathLike) -> dict[str, Path]:
    """``plume.png`` (column mass over MSLP and 2 m temperature, or what of them the Result holds) of a
    dispersion Result into ``out_dir``."""
    ds = result if isinstance(result, xr.Dataset) else xr.open_zarr(result, decode_times=False)
    out = Path(out_dir)
    background = next((name for name in ("mslp", "t2m") if name in ds), None)
    return {"plume": plot_plume(ds, out / "plume.png", background=background)}

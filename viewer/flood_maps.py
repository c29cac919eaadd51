"""Flood maps and probe hydrographs of a flood Result, drawn with matplotlib.

Figures are made with :class:`matplotlib.figure.Figure` directly (Agg, no
pyplot, no display), so drawing here never changes the caller's backend.
Every ``plot_*`` function reads a Result (an ``xarray.Dataset``, layout in
:mod:`twin.viewer.flood_report`), writes one PNG of ``size_px`` pixels and returns
its path. Maps are drawn in the scene CRS with y growing northward.
"""

from __future__ import annotations

import math
from os import PathLike
from pathlib import Path

import numpy as np
import xarray as xr
from matplotlib import colormaps, patheffects, rc_context
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.colors import ListedColormap, Normalize, TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, StrMethodFormatter

__all__ = ["froude_number", "hillshade", "plot_froude", "plot_hazard", "plot_hydrographs", "plot_peak_depth"]

G = 9.80665
"""Standard gravity [m/s^2]."""

SIZE_PX = (1200, 1000)
DPI = 120

STYLE = {
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "figure.titlesize": 13,
    "axes.titlelocation": "left",
}
"""Matplotlib settings shared by every flood picture."""

DEPTH_CMAP = ListedColormap(colormaps["Blues"](np.linspace(0.3, 1.0, 256)), name="depth")
BUILDING_FILL = "#a3a3a3"
BUILDING_EDGE = "#262626"
PROBE_COLOR = "#d62728"
HALO = [patheffects.withStroke(linewidth=2.5, foreground="white")]


def hillshade(
    elevation: np.ndarray, dx: float, dy: float, azimuth: float = 315.0, altitude: float = 45.0
) -> np.ndarray:
    """Lambertian shading of a heightfield lit by a distant sun.

    Args:
        elevation: heights [m], shape (ny, nx); the row index grows northward.
        dx, dy: cell size [m] along x (east) and y (north).
        azimuth: compass bearing the light comes from [deg], clockwise from north.
        altitude: angle of the light above the horizon [deg].

    Returns:
        Brightness, shape (ny, nx), in [0, 1]: the cosine between the surface
        normal and the light, 0 on faces turned away from it. A flat surface
        gives sin(altitude) everywhere; NaN heights give NaN around them.
    """
    z = np.asarray(elevation, dtype=np.float64)
    if z.ndim != 2:
        raise ValueError(f"elevation must be 2-D (ny, nx), got shape {z.shape}")
    dzdy = np.gradient(z, dy, axis=0) if z.shape[0] > 1 else np.zeros_like(z)
    dzdx = np.gradient(z, dx, axis=1) if z.shape[1] > 1 else np.zeros_like(z)
    az, alt = math.radians(azimuth), math.radians(altitude)
    light = (math.sin(az) * math.cos(alt), math.cos(az) * math.cos(alt), math.sin(alt))  # east, north, up
    shade = (-dzdx * light[0] - dzdy * light[1] + light[2]) / np.sqrt(1.0 + dzdx**2 + dzdy**2)
    return np.clip(shade, 0.0, 1.0)


def froude_number(depth: np.ndarray, u: np.ndarray, v: np.ndarray, wet_threshold: float) -> np.ndarray:
    """Froude number Fr = |(u, v)| / sqrt(g h) of a flow.

    Args:
        depth: water depth h [m]; u, v: x- and y-velocity [m/s]; any shapes that
            broadcast together.
        wet_threshold: depth [m] at or below which a cell is dry.

    Returns:
        Fr (dimensionless, float64) in the broadcast shape; NaN where dry.
    """
    h = np.asarray(depth, dtype=np.float64)
    speed = np.hypot(np.asarray(u, dtype=np.float64), np.asarray(v, dtype=np.float64))
    wet = h > wet_threshold
    with np.errstate(divide="ignore", invalid="ignore"):
        fr = speed / np.sqrt(G * np.where(wet, h, np.nan))
    return np.where(wet, fr, np.nan)


def plot_peak_depth(
    ds: xr.Dataset, path: str | PathLike, *, size_px: tuple[int, int] = SIZE_PX, dpi: int = DPI
) -> Path:
    """Map of the peak water depth over the hillshaded ground, with buildings and probes.

    Writes a PNG of ``size_px`` (width, height) pixels to ``path`` and returns its path.
    """
    depth = ds["max_depth"].values.astype(np.float64)
    wet = depth > wet_threshold(ds)
    shown = np.ma.masked_where(~wet, depth)
    vmax = _robust_max(depth[wet], floor=0.1)
    area_ha = wet.sum() * np.prod(_spacing(ds)) / 1e4
    with rc_context(STYLE):
        fig, ax = _map_figure(ds, size_px, dpi)
        image = ax.imshow(
            shown, cmap=DEPTH_CMAP, norm=Normalize(0.0, vmax), extent=_extent(ds),
            origin="lower", interpolation="nearest", zorder=2,
        )
        _draw_buildings(ax, ds)
        _draw_probes(ax, ds)
        extend = "max" if wet.any() and depth[wet].max() > vmax else "neither"
        fig.colorbar(image, cax=_colorbar_axes(ax), extend=extend, label="Peak water depth [m]")
        peak = f"max {depth[wet].max():.2f} m, flooded {area_ha:.2f} ha" if wet.any() else "dry everywhere"
        ax.set_title(f"Peak water depth: {peak}")
        fig.suptitle(_title(ds))
        return _save(fig, path, dpi)


def plot_froude(
    ds: xr.Dataset, path: str | PathLike, *, size_px: tuple[int, int] = SIZE_PX, dpi: int = DPI
) -> Path:
    """Map of the Froude number at the last snapshot, diverging about Fr = 1.

    Blue is subcritical (Fr < 1), red supercritical (Fr > 1); dry cells are
    left clear over the hillshaded ground. Writes a PNG of ``size_px`` (width,
    height) pixels to ``path`` and returns its path.
    """
    last = ds.isel(time=-1)
    fr = froude_number(last["depth"].values, last["u"].values, last["v"].values, wet_threshold(ds))
    wet = np.isfinite(fr)
    vmax = _robust_max(fr[wet], floor=2.0)
    with rc_context(STYLE):
        fig, ax = _map_figure(ds, size_px, dpi)
        image = ax.imshow(
            np.ma.masked_invalid(fr), cmap="RdBu_r", norm=TwoSlopeNorm(vcenter=1.0, vmin=0.0, vmax=vmax),
            extent=_extent(ds), origin="lower", interpolation="nearest", zorder=2,
        )
        _draw_buildings(ax, ds)
        extend = "max" if wet.any() and fr[wet].max() > vmax else "neither"
        bar = fig.colorbar(image, cax=_colorbar_axes(ax), extend=extend,
                           label="Froude number Fr  (< 1 subcritical, > 1 supercritical)")
        bar.set_ticks(np.unique(np.concatenate([[0.0, 0.5, 1.0], np.linspace(1.0, vmax, 5)])))
        bar.ax.axhline(1.0, color="black", linewidth=1.0)
        share = f"{100.0 * np.mean(fr[wet] > 1.0):.1f} % of wet area supercritical" if wet.any() else "dry"
        ax.set_title(f"Froude number at t = {float(last['time']):.0f} s: {share}")
        fig.suptitle(_title(ds))
        return _save(fig, path, dpi)


def plot_hazard(
    ds: xr.Dataset, path: str | PathLike, *, size_px: tuple[int, int] = SIZE_PX, dpi: int = DPI
) -> Path:
    """Map of the ARR 2019 flood hazard classes H1-H6 of the run's peaks (:mod:`twin.physics.swe.hazard`).

    Each class has its flat colour (:data:`twin.viewer.fields.HAZARD_COLOURS`); cells
    never wet are left clear over the hillshaded ground. Writes a PNG of
    ``size_px`` (width, height) pixels to ``path`` and returns its path.

    Raises:
        KeyError: the Result has neither ``hazard_class`` nor ``max_depth_velocity``.
    """
    from twin.physics.swe.hazard import ARR_LABELS, result_hazard_class
    from twin.viewer.fields import HAZARD_COLOURS

    cls = result_hazard_class(ds)
    if cls is None:
        raise KeyError("the Result has no hazard class (it needs max_depth_velocity, recorded by newer runs)")
    wet = cls > 0
    with rc_context(STYLE):
        fig, ax = _map_figure(ds, size_px, dpi)
        image = ax.imshow(np.ma.masked_where(~wet, cls), cmap=ListedColormap(HAZARD_COLOURS), vmin=0.5, vmax=6.5,
                          extent=_extent(ds), origin="lower", interpolation="nearest", zorder=2)
        _draw_buildings(ax, ds)
        bar = fig.colorbar(image, cax=_colorbar_axes(ax), label="hazard class (ARR 2019 / AIDR Guideline 7-3)")
        bar.set_ticks(np.arange(1, 7))
        bar.set_ticklabels([f"H{k}" for k in range(1, 7)])
        counts = np.bincount(cls[wet].astype(np.int64), minlength=7)
        worst = int(cls.max())
        cell = abs(float(np.diff(ds["x"].values)[0] * np.diff(ds["y"].values)[0]))
        ax.set_title(f"Flood hazard of the peaks: {counts[5:].sum() * cell:.0f} m2 in H5-H6; worst {ARR_LABELS[worst].split(' ')[0]}"
                     if worst else "Flood hazard: dry")
        fig.suptitle(_title(ds))
        return _save(fig, path, dpi)


def plot_hydrographs(
    ds: xr.Dataset, path: str | PathLike, *, size_px: tuple[int, int] = SIZE_PX, dpi: int = DPI
) -> Path:
    """Stage against time at every probe, one small panel per probe.

    Each panel shows the water surface (stage) [m] over the bed at the probe,
    the water column shaded between them, against time [s]. Writes a PNG of
    ``size_px`` (width, height) pixels to ``path`` and returns its path.
    """
    names = [str(name) for name in ds["probe"].values]
    t = ds["probe_time"].values.astype(np.float64)
    threshold = wet_threshold(ds)
    ncols = 1 if len(names) <= 3 else 2 if len(names) <= 8 else 3
    nrows = max(1, math.ceil(len(names) / ncols))
    with rc_context(STYLE):
        fig = _figure(size_px, dpi)
        axes = fig.subplots(nrows, ncols, sharex=True, squeeze=False).ravel()
        for k, ax in enumerate(axes):
            if k >= len(names):
                ax.remove()
                continue
            stage = ds["probe_stage"].isel(probe=k).values.astype(np.float64)
            depth = ds["probe_depth"].isel(probe=k).values.astype(np.float64)
            bed = _bed_at(ds, float(ds["probe_x"][k]), float(ds["probe_y"][k]))
            wet = depth > threshold
            ax.fill_between(t, bed, stage, where=wet, color="#9ecae1", alpha=0.8, linewidth=0, label="water")
            ax.plot(t, np.where(wet, stage, np.nan), color="#08519c", linewidth=1.6, label="stage")
            ax.axhline(bed, color="#7f5f3f", linestyle="--", linewidth=1.2, label="bed")
            if wet.any():
                i = int(np.argmax(np.where(wet, depth, -np.inf)))
                summary = f"peak depth {depth[i]:.2f} m at t = {t[i]:.0f} s"
                ax.set_ylim(*_padded(min(bed, np.nanmin(stage[wet])), max(bed, np.nanmax(stage[wet]))))
            else:
                summary = "dry"
                ax.set_ylim(*_padded(bed, bed))
            ax.set_title(f"{names[k]}: {summary}")
            ax.set_ylabel("Stage [m]")
            ax.grid(True, color="#dddddd", linewidth=0.6)
            if k + ncols >= len(names):
                ax.set_xlabel("Time [s]")
                ax.xaxis.set_tick_params(labelbottom=True)
            if t.size > 1:
                ax.set_xlim(t[0], t[-1])
        if names:
            fig.legend(*axes[0].get_legend_handles_labels(), loc="outside upper right", ncols=3)
        else:
            axes[0].text(0.5, 0.5, "no probes in this result", ha="center", va="center", transform=axes[0].transAxes)
        fig.suptitle(f"{_title(ds)}: probe hydrographs")
        return _save(fig, path, dpi)


def wet_threshold(ds: xr.Dataset) -> float:
    """Depth [m] at or below which the Result counts a cell as dry."""
    return float(ds.attrs.get("wet_threshold_m", 1e-3))


def _title(ds: xr.Dataset) -> str:
    return str(ds.attrs.get("title", "Flood"))


def _figure(size_px: tuple[int, int], dpi: int) -> Figure:
    return Figure(figsize=(size_px[0] / dpi, size_px[1] / dpi), dpi=dpi, layout="constrained")


def _save(fig: Figure, path: str | PathLike, dpi: int) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=dpi, format="png")
    return out


def _spacing(ds: xr.Dataset) -> tuple[float, float]:
    """Cell size (dx, dy) [m] of the regular grid."""
    return _step(ds["x"].values), _step(ds["y"].values)


def _step(centres: np.ndarray) -> float:
    return float((centres[-1] - centres[0]) / (centres.size - 1)) if centres.size > 1 else 1.0


def _extent(ds: xr.Dataset) -> tuple[float, float, float, float]:
    """Outer cell edges (west, east, south, north) [m], for ``imshow(origin="lower")``."""
    x, y = ds["x"].values, ds["y"].values
    dx, dy = _spacing(ds)
    return float(x[0] - dx / 2), float(x[-1] + dx / 2), float(y[0] - dy / 2), float(y[-1] + dy / 2)


def _map_figure(ds: xr.Dataset, size_px: tuple[int, int], dpi: int) -> tuple[Figure, Axes]:
    """A figure with one map axes in the scene CRS, the hillshaded ground drawn."""
    fig = _figure(size_px, dpi)
    ax = fig.add_subplot()
    ground = ds["ground_elevation"].values.astype(np.float64)
    ground = np.where(np.isfinite(ground), ground, np.nanmin(ground) if np.isfinite(ground).any() else 0.0)
    shade = hillshade(ground, *_spacing(ds))
    ax.imshow(shade, cmap="gray", vmin=-0.35, vmax=1.15, extent=_extent(ds), origin="lower",
              interpolation="nearest", zorder=1)
    crs = ds.attrs.get("crs", "scene CRS")
    ax.set_xlabel(f"Easting x [m] ({crs})")
    ax.set_ylabel(f"Northing y [m] ({crs})")
    ax.set_aspect("equal")
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_locator(MaxNLocator(6))
        axis.set_major_formatter(StrMethodFormatter("{x:.0f}"))
    return fig, ax


def _colorbar_axes(ax: Axes) -> Axes:
    """Axes for a colorbar right of the map ``ax``, as tall as the map."""
    return ax.inset_axes((1.03, 0.0, 0.035, 1.0))


def _draw_buildings(ax: Axes, ds: xr.Dataset) -> None:
    """Building cells filled grey, outlined dark along the cell edges."""
    inside = ds["building"].values.astype(bool)
    if not inside.any():
        return
    west, east, south, north = _extent(ds)
    ax.imshow(np.ma.masked_where(~inside, np.ones(inside.shape)), cmap=ListedColormap([BUILDING_FILL]),
              extent=(west, east, south, north), origin="lower", interpolation="nearest", zorder=3)
    xe = np.linspace(west, east, inside.shape[1] + 1)
    ye = np.linspace(south, north, inside.shape[0] + 1)
    ax.add_collection(LineCollection(_outline(inside, xe, ye), colors=BUILDING_EDGE, linewidths=0.6, zorder=3.5))


def _outline(mask: np.ndarray, xe: np.ndarray, ye: np.ndarray) -> np.ndarray:
    """Cell edges between True and False cells of ``mask`` (ny, nx): segments (n, 2, 2) [m].

    ``xe`` (nx + 1,) and ``ye`` (ny + 1,) are the cell edge coordinates.
    """
    m = np.pad(mask, 1)
    jv, iv = np.nonzero(m[1:-1, 1:] != m[1:-1, :-1])  # edge at x = xe[iv], rows jv
    jh, ih = np.nonzero(m[1:, 1:-1] != m[:-1, 1:-1])  # edge at y = ye[jh], columns ih
    vertical = np.stack([np.stack([xe[iv], ye[jv]], -1), np.stack([xe[iv], ye[jv + 1]], -1)], 1)
    horizontal = np.stack([np.stack([xe[ih], ye[jh]], -1), np.stack([xe[ih + 1], ye[jh]], -1)], 1)
    return np.concatenate([vertical, horizontal])


def _draw_probes(ax: Axes, ds: xr.Dataset) -> None:
    """Probes as red markers, labelled with their names on the side towards the map centre."""
    west, east, south, north = _extent(ds)
    for name, px, py in zip(ds["probe"].values, ds["probe_x"].values, ds["probe_y"].values):
        ax.plot(px, py, marker="o", markersize=7, color=PROBE_COLOR, markeredgecolor="white",
                markeredgewidth=1.2, zorder=4)
        right = px < west + 0.6 * (east - west)
        above = py < south + 0.85 * (north - south)
        ax.annotate(str(name), (px, py), xytext=(6 if right else -6, 6 if above else -6), textcoords="offset points",
                    ha="left" if right else "right", va="bottom" if above else "top", fontsize=9,
                    fontweight="bold", color="black", path_effects=HALO, zorder=4)


def _bed_at(ds: xr.Dataset, x: float, y: float) -> float:
    """Solver bed [m] of the cell nearest to (x, y) [m]."""
    return float(ds["bed_elevation"].sel(x=x, y=y, method="nearest"))


def _robust_max(values: np.ndarray, floor: float) -> float:
    """Colour-scale top: the 99th percentile of ``values``, at least ``floor``."""
    return max(floor, float(np.percentile(values, 99))) if values.size else floor


def _padded(low: float, high: float) -> tuple[float, float]:
    pad = max(0.1 * (high - low), 0.1)
    return low - pad, high + pad

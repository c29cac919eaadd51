"""The water a picture draws, as NumPy arrays: frames in time, fields and their colours.

Nothing here imports pyvista, so every number a 3D view shows can be checked
without a screen. A :class:`Frame` is the water at one instant on the Result
grid (arrays of shape (ny, nx), row 0 in the south); a :class:`History` holds
the snapshots of a Result and gives a Frame at any time (linear in time between
snapshots) or the peak of the run. :func:`field_values` turns a Frame into the
scalar that colours the water, :func:`water_rgba` into the colours themselves,
and :func:`water_surface` into the heights of the water mesh.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

__all__ = [
    "FIELDS",
    "HAZARD_COLOURS",
    "Field",
    "Frame",
    "History",
    "colour_table",
    "field_values",
    "fill_shore",
    "format_time",
    "water_rgba",
    "water_surface",
]

G = 9.80665
"""Standard gravity [m/s^2]."""

HAZARD_COLOURS = ("#9fd46a", "#ffff66", "#ffab33", "#ff2a2a", "#c040c8", "#5a1a6e")
"""Colours of the hazard classes H1..H6 (:mod:`twin.physics.swe.hazard`): green, yellow, orange, red, magenta, dark
purple, the sequence of flood-study hazard maps after AIDR Guideline 7-3 Figure 6 (which fixes the classes,
not colour values)."""


@dataclass(frozen=True)
class Field:
    """A scalar the water can be coloured by.

    Attributes:
        name: key (``depth``, ``speed``, ``froude``, ``arrival``).
        title: what it is, with the unit (``"Water depth [m]"``).
        short: the colour bar's title, with the unit (``"Depth [m]"``).
        colours: colour stops from the low to the high end of the range (hex).
        alpha: opacity at the low and the high end of the range, in [0, 1].
        discrete: one flat colour per class (the colours split the range evenly) instead of a gradient.
    """

    name: str
    title: str
    short: str
    colours: tuple[str, ...]
    alpha: tuple[float, float]
    discrete: bool = False


FIELDS: dict[str, Field] = {
    "depth": Field("depth", "Water depth [m]", "Depth [m]", ("#b8ecf0", "#4cb8d8", "#1a78b4", "#0b4a86", "#06264f"), (0.45, 0.93)),
    "speed": Field("speed", "Flow speed [m/s]", "Speed [m/s]", ("#2c7bb6", "#7fcdbb", "#ffffbf", "#fdae61", "#d7191c"), (0.85, 0.92)),
    "froude": Field("froude", "Froude number [-]", "Froude [-]", ("#2166ac", "#67a9cf", "#f7f7f7", "#ef8a62", "#b2182b"), (0.85, 0.92)),
    "arrival": Field("arrival", "Time of arrival [min]", "Arrival [min]", ("#fde725", "#5ec962", "#21918c", "#3b528b", "#440154"), (0.85, 0.92)),
    "hazard": Field("hazard", "Flood hazard class, ARR 2019 [H1-H6]", "Hazard [H]", HAZARD_COLOURS, (0.9, 0.9), discrete=True),
}
"""The fields, by name; ``arrival`` is shown in minutes; ``hazard`` is the class of the run's peaks (1..6) over the
water of each frame (:mod:`twin.physics.swe.hazard`), drawn over the range (0.5, 6.5)."""


def format_time(t: float) -> str:
    """``t`` [s] as ``"12 min 05 s"`` (or ``"45.0 s"`` under a minute)."""
    if t < 60.0:
        return f"{t:.1f} s"
    minutes, seconds = divmod(round(t), 60)
    return f"{minutes} min {seconds:02d} s"


@dataclass
class Frame:
    """The water at one instant (or the peak of a run).

    Attributes:
        t: time [s] (for a peak frame: the end of the run).
        depth: water depth [m], (ny, nx).
        speed: depth-averaged speed [m/s], (ny, nx).
        arrival: time [s] the cell first got wet, NaN where not yet wet, (ny, nx).
        label: what the frame shows, e.g. ``"t = 8 min 20 s"`` or ``"peak over 0-1000 s"``.
        hazard: ARR 2019 hazard class of the run's peaks, int8 (ny, nx), 0 dry; None when the Result has none.
    """

    t: float
    depth: np.ndarray
    speed: np.ndarray
    arrival: np.ndarray
    label: str
    hazard: np.ndarray | None = None

    @classmethod
    def at(cls, t: float, depth: np.ndarray, speed: np.ndarray, arrival: np.ndarray, hazard: np.ndarray | None = None) -> "Frame":
        """A frame labelled with its time ``t`` [s]."""
        return cls(float(t), depth, speed, arrival, f"t = {format_time(float(t))}", hazard)


def field_values(name: str, frame: Frame, wet_threshold: float) -> np.ndarray:
    """The scalar ``name`` of ``frame`` (float64, (ny, nx)), NaN where dry.

    ``depth`` [m], ``speed`` [m/s], ``froude`` = speed / sqrt(g depth) [-],
    ``arrival`` [min], ``hazard`` [class 1..6].
    """
    depth = np.asarray(frame.depth, dtype=np.float64)
    wet = depth > wet_threshold
    if name == "depth":
        values = depth
    elif name == "speed":
        values = np.asarray(frame.speed, dtype=np.float64)
    elif name == "froude":
        with np.errstate(divide="ignore", invalid="ignore"):
            values = np.asarray(frame.speed, dtype=np.float64) / np.sqrt(G * depth)
    elif name == "arrival":
        values = np.asarray(frame.arrival, dtype=np.float64) / 60.0
    elif name == "hazard":
        if frame.hazard is None:
            raise KeyError("the Result has no hazard class (it needs max_depth_velocity, recorded by newer runs)")
        values = np.asarray(frame.hazard, dtype=np.float64)
        wet = wet & (frame.hazard > 0)
    else:
        raise KeyError(f"unknown field {name!r}; expected one of {', '.join(FIELDS)}")
    return np.where(wet, values, np.nan)


def colour_table(name: str, n: int = 256) -> np.ndarray:
    """RGBA table (n, 4) in [0, 1] of field ``name``: colours and opacity from low to high."""
    spec = FIELDS[name]
    stops = np.array([[int(c[k : k + 2], 16) / 255.0 for k in (1, 3, 5)] for c in spec.colours])
    at = np.linspace(0.0, 1.0, n)
    if spec.discrete:
        rgb = stops[np.minimum((at * len(stops)).astype(int), len(stops) - 1)]
    else:
        where = np.linspace(0.0, 1.0, len(stops))
        rgb = np.column_stack([np.interp(at, where, stops[:, c]) for c in range(3)])
    alpha = spec.alpha[0] + (spec.alpha[1] - spec.alpha[0]) * at ** (0.6 if name == "depth" else 1.0)
    return np.column_stack([rgb, alpha])


def water_rgba(name: str, values: np.ndarray, clim: tuple[float, float], table: np.ndarray | None = None) -> np.ndarray:
    """Colours of the water, uint8 (..., 4), for ``values`` of field ``name`` over the range ``clim``.

    Values are clipped to ``clim``; NaN (dry) takes the colour of the low end.
    """
    table = colour_table(name) if table is None else table
    lo, hi = clim
    scaled = np.nan_to_num((np.asarray(values, dtype=np.float64) - lo) / max(hi - lo, 1e-12), nan=0.0)
    index = np.clip(np.rint(scaled * (len(table) - 1)), 0, len(table) - 1).astype(np.intp)
    return np.rint(table[index] * 255.0).astype(np.uint8)


def _neighbour_mean(values: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean of ``values`` over the cells where ``mask`` among each cell's 3 x 3 block, and how many there are."""
    ny, nx = mask.shape
    sums = np.zeros((ny + 2, nx + 2))
    counts = np.zeros((ny + 2, nx + 2))
    masked = np.where(mask, values, 0.0)
    for dj in range(3):
        for di in range(3):
            sums[dj : dj + ny, di : di + nx] += masked
            counts[dj : dj + ny, di : di + nx] += mask
    sums, counts = sums[1:-1, 1:-1], counts[1:-1, 1:-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / counts, counts


def water_surface(bed: np.ndarray, depth: np.ndarray, wet_threshold: float, *, ground: np.ndarray | None = None,
                  buildings: np.ndarray | None = None, film: float = 0.03, hide: float = 1.0) -> np.ndarray:
    """Heights [m] of the water mesh's points, (ny, nx), from the bed and the depth (ny, nx) [m].

    Wet points stand at ``bed + max(depth, film)``: a film keeps thin water
    visibly above the ground. A dry point beside wet ones takes the mean water
    level of its wet neighbours, but no more than ``film`` under its own bed,
    so the surface runs on flat into rising ground (which then cuts the
    shoreline) and comes down to falling ground. Inside ``buildings`` (a mask,
    (ny, nx)) the flat surface reaches two points further, so that it meets
    the walls of footprints that do not follow the grid. Other dry points sink
    ``hide`` under the ``ground`` (the bare terrain, by default the bed), out
    of sight, also inside buildings raised in the bed.
    """
    bed = np.asarray(bed, dtype=np.float64)
    depth = np.asarray(depth, dtype=np.float64)
    floor = bed if ground is None else np.minimum(np.asarray(ground, dtype=np.float64), bed)
    known = depth > wet_threshold
    z = np.where(known, bed + np.maximum(depth, film), floor - hide)
    for k in range(1 if buildings is None else 3):
        around, count = _neighbour_mean(z, known)
        reached = ~known & (count > 0) & (True if k == 0 else buildings)
        z = np.where(reached, np.minimum(around, bed - film), z)
        known = known | reached
    return z


def fill_shore(values: np.ndarray, wet: np.ndarray, *, buildings: np.ndarray | None = None) -> np.ndarray:
    """``values`` (ny, nx) carried from the ``wet`` points to the dry points :func:`water_surface` draws:
    each takes the mean of its neighbours that have one. Other dry points keep their value (NaN for a dry field)."""
    values = np.asarray(values, dtype=np.float64)
    known = np.asarray(wet, dtype=bool)
    for k in range(1 if buildings is None else 3):
        around, count = _neighbour_mean(np.where(known, values, 0.0), known)
        reached = ~known & (count > 0) & (True if k == 0 else buildings)
        values = np.where(reached, around, values)
        known = known | reached
    return values


@dataclass
class History:
    """The snapshots of a flood Result, in memory.

    Attributes:
        times: snapshot times [s], (nt,), increasing.
        depth: water depth [m], (nt, ny, nx), float32.
        speed: depth-averaged speed [m/s], (nt, ny, nx), float32.
        arrival: time [s] each cell first got wet, NaN where never wet, (ny, nx);
            the crossing of the wet threshold, linear between snapshots.
        max_depth, max_speed: peaks over the run [m], [m/s], (ny, nx).
        wet_threshold: depth [m] at or below which a cell is dry.
        hazard: ARR 2019 hazard class of the peaks, int8 (ny, nx), or None (a Result without it).
    """

    times: np.ndarray
    depth: np.ndarray
    speed: np.ndarray
    arrival: np.ndarray
    max_depth: np.ndarray
    max_speed: np.ndarray
    wet_threshold: float
    hazard: np.ndarray | None = None

    @classmethod
    def from_result(cls, ds: xr.Dataset) -> "History":
        """Read the snapshots and peaks of a flood Result (layout in :mod:`twin.viewer.flood_report`)."""
        from twin.physics.swe.hazard import result_hazard_class

        threshold = float(ds.attrs.get("wet_threshold_m", 1e-3))
        times = ds["time"].values.astype(np.float64)
        depth = np.nan_to_num(ds["depth"].values.astype(np.float32))
        speed = np.hypot(ds["u"].values, ds["v"].values).astype(np.float32)
        max_depth = np.nan_to_num(ds["max_depth"].values.astype(np.float32))
        return cls(times, depth, np.nan_to_num(speed), arrival_times(times, depth, threshold), max_depth,
                   np.nan_to_num(ds["max_speed"].values.astype(np.float32)), threshold, result_hazard_class(ds))

    @property
    def shape(self) -> tuple[int, int]:
        return self.depth.shape[1:]

    @property
    def span(self) -> tuple[float, float]:
        """First and last snapshot time [s]."""
        return float(self.times[0]), float(self.times[-1])

    def frame(self, t: float) -> Frame:
        """The water at time ``t`` [s], linear between snapshots, held outside them."""
        t = float(np.clip(t, *self.span))
        k = int(np.clip(np.searchsorted(self.times, t, side="right") - 1, 0, len(self.times) - 1))
        if k == len(self.times) - 1 or t <= self.times[k]:
            depth, speed = self.depth[k], self.speed[k]
        else:
            w = np.float32((t - self.times[k]) / (self.times[k + 1] - self.times[k]))
            depth = (1 - w) * self.depth[k] + w * self.depth[k + 1]
            speed = (1 - w) * self.speed[k] + w * self.speed[k + 1]
        return Frame.at(t, depth, speed, np.where(self.arrival <= t, self.arrival, np.nan), self.hazard)

    def peak(self) -> Frame:
        """The peak of the run: maximum depth and speed (each at its own time) and arrival."""
        t0, t1 = self.span
        return Frame(t1, self.max_depth, self.max_speed, self.arrival, f"peak of the run ({format_time(t1 - t0)})", self.hazard)

    def cell_series(self, j: int, i: int) -> dict[str, np.ndarray]:
        """Snapshot series at cell (j, i): ``time`` [s], ``depth`` [m], ``speed`` [m/s], each (nt,)."""
        return {"time": self.times, "depth": self.depth[:, j, i].astype(np.float64),
                "speed": self.speed[:, j, i].astype(np.float64)}


def arrival_times(times: np.ndarray, depth: np.ndarray, threshold: float) -> np.ndarray:
    """Time [s] each cell's depth (nt, ny, nx) first exceeds ``threshold``, (ny, nx); NaN if never.

    Linear in time between the snapshot before and the first wet one; a cell
    wet in the first snapshot arrives at ``times[0]``.
    """
    wet = depth > threshold
    ever = wet.any(axis=0)
    k = np.argmax(wet, axis=0)
    j, i = np.indices(k.shape)
    before = np.maximum(k - 1, 0)
    d0, d1 = depth[before, j, i].astype(np.float64), depth[k, j, i].astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.clip((threshold - d0) / (d1 - d0), 0.0, 1.0)
    t = np.where(k > 0, times[before] + np.nan_to_num(w, nan=1.0) * (times[k] - times[before]), times[0])
    return np.where(ever, t, np.nan)

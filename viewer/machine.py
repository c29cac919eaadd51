"""The machine kind: readings of a machine's sensor, the twin's prediction with its band, and alarms, over time.

One picture, drawn by :class:`MachineView` (a PyVista 2D chart under a title):
the readings (grey), the twin's prediction before each reading (blue) inside its
band of +- ``threshold_sigma`` standard deviations, alarms (red vertical lines)
and a cursor at the time shown. ``show(t)`` draws the log up to ``t``, so a video
grows along the log and the window's timeline moves through it::

    twin render out/machine --out twin.png [--time T]     (a still: the whole log, or the log up to T [s])
    twin render out/machine --out twin.mp4 [--frames N]   (the log growing from the first reading to the last)
    twin view out/machine                                  (the window: the chart and its timeline)
    twin run scenes/machine.py --view                      (the chart growing while the filter runs)

A scene script (``twin render tests/scenes/tiny_machine.py``) is drawn from its
readings alone, before the twin has run. ``--pictures`` writes ``twin.png``
(:func:`plot_twin`, dates on the time axis) and ``twin.mp4``. :class:`LiveMachinePlot`
is the matplotlib window of ``twin sync --view``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

import numpy as np
import xarray as xr
from twin.viewer.kindview import KindView, ResultTimes, TimelineWindow, write_still, write_video

from twin.errors import InputError

__all__ = ["LiveMachinePlot", "MachineSource", "MachineView", "MachineWindow", "live_window", "open_result",
           "open_run", "pictures", "plot_sync", "plot_twin", "render_still", "render_video", "snapshot", "window"]

READING, TWIN, BAND, ALARM, CURSOR = "#333333", "#3182bd", "#9ecae1", "#de2d26", "#7f7f7f"
NEEDED = ("reading", "predicted", "sigma", "alarm")
"""The variables of a machine Result that the viewer draws (all over ``time`` [s since the first reading])."""


@dataclass
class MachineSource(ResultTimes):
    """A machine Result (or a scene's readings, before the twin has run) to look at.

    Attributes:
        path: what was opened; ds: ``reading`` over ``time`` [s since the first reading], and, once the twin has
            run, ``predicted``, ``sigma`` [the reading's unit] and ``alarm`` (0/1); loaded.
        notes: things the user may want to know.
    """

    path: Path
    ds: xr.Dataset
    notes: list[str] = field(default_factory=list)

    @property
    def title(self) -> str:
        return str(self.ds.attrs.get("title") or self.path.stem)

    @property
    def start(self) -> np.datetime64 | None:
        """The time of the first reading (from the CF units ``seconds since START``), or None."""
        since = str(self.ds["time"].attrs.get("units", "")).partition("since")[2].strip()
        try:
            return np.datetime64(since, "s") if since else None
        except ValueError:
            return None

    @property
    def threshold(self) -> float:
        """The alarm threshold [standard deviations]: the band's half width."""
        return float(self.ds.attrs.get("threshold_sigma", 4.0))

    @property
    def unit(self) -> str:
        return str(self.ds["reading"].attrs.get("units", ""))


def open_result(folder: Path, ds: xr.Dataset) -> MachineSource:
    """A machine Result folder (its ``result.zarr`` opened as ``ds``, times not decoded)."""
    for name in NEEDED:
        if name not in ds:
            raise InputError(folder / "result.zarr", name, "missing from this machine Result")
    return MachineSource(Path(folder), ds[list(NEEDED)].load())


def open_run(path: Path, run) -> MachineSource:
    """A machine scene script's run before it has run: its readings (no prediction, no alarms)."""
    ds = xr.Dataset({"reading": ("time", run.readings, {"units": run.unit})},
                    coords={"time": ("time", run.times - run.times[0], {"units": f"seconds since {run.start}"})},
                    attrs={"twin_kind": "machine", "title": run.title, "channel": run.channel,
                           "threshold_sigma": run.threshold})
    return MachineSource(Path(path), ds, ["the readings of the scene (not run): no prediction, no alarms"])


class MachineView(KindView):
    """The chart of a machine twin under the title: readings, the prediction and its band, alarms, a cursor.

    Args:
        source: from :func:`open_result` or :func:`open_run`.
        quality, size, off_screen: as for :class:`twin.viewer.kindview.KindView`.
        bottom: part of the height (0..1) left free under the chart (for a window's timeline).

    The time axis is in hours since the first reading (days when the log is longer than four days).
    """

    MAX_ALARMS = 200
    """Most alarm lines drawn (the first ones)."""
    supersample = False

    def __init__(self, source: MachineSource, *, quality: str = "high", size: tuple[int, int] = (1280, 720),
                 off_screen: bool = True, bottom: float = 0.0):
        import pyvista as pv

        super().__init__(source.title, quality=quality, size=size, off_screen=off_screen)
        self.source = source
        t0, t1 = source.span
        self.scale, unit = (86400.0, "d") if t1 - t0 > 4 * 86400.0 else (3600.0, "h")
        since = f" since {source.start}" if source.start is not None else ""
        top = 0.965 - ((self.font_size + 9) * 1.45 + self.font_size * 1.8) / size[1] - 0.01  # under the subtitle
        self.chart = pv.Chart2D(size=(0.96, top - bottom - 0.02), loc=(0.02, bottom + 0.01),
                                x_label=f"time [{unit}{since}]", y_label=str(source.ds.attrs.get("channel", "reading"))
                                + (f" [{source.unit}]" if source.unit else ""))
        self.chart.background_color = (1.0, 1.0, 1.0, 0.9)
        self.band = self.chart.area([], [], [], color=BAND, label=f"twin +- {source.threshold:g} sigma")
        self.reading = self.chart.line([], [], color=READING, width=1.0, label="reading")
        self.predicted = self.chart.line([], [], color=TWIN, width=1.0, label="twin prediction")
        self.alarms: list = []
        self.cursor = self.chart.line([], [], color=CURSOR, width=1.0, style="--")
        self.chart.x_range = [t0 / self.scale, (t1 if t1 > t0 else t0 + 1.0) / self.scale]
        self.plotter.add_chart(self.chart)
        self.load({name: source.ds[name].values for name in source.ds.data_vars} | {"time": source.times})

    def load(self, rows: dict[str, np.ndarray]) -> None:
        """Take the rows to draw: ``time`` [s] and ``reading`` (n,); ``predicted``, ``sigma``, ``alarm`` (m,), m <= n,
        for the readings the twin has seen (none before it has run). Sets the chart's value range: every reading
        and all but the widest 0.2 % of the band (wide after a gap in the log)."""
        self.time = np.asarray(rows["time"], np.float64)
        self.values = np.asarray(rows["reading"], np.float64)
        self.twin = {k: np.asarray(rows.get(k, ()), np.float64) for k in ("predicted", "sigma", "alarm")}
        half = self.source.threshold * self.twin["sigma"]
        band = [np.quantile(self.twin["predicted"] - half, 0.001), np.quantile(self.twin["predicted"] + half, 0.999)
                ] if len(half) else []
        values = np.concatenate([self.values, band])
        lo, hi = float(values.min()), float(values.max())
        pad = 0.05 * (hi - lo or 1.0)
        self.chart.y_range = [lo - pad, hi + pad]

    def show(self, t: float) -> None:
        """The log up to ``t`` [s]: readings, the prediction and its band, alarms, the cursor at ``t``."""
        k = int(np.searchsorted(self.time, t + 1e-9, side="right"))
        m = min(k, len(self.twin["predicted"]))
        x = self.time / self.scale
        self.reading.update(x[:k], self.values[:k])
        predicted, half = self.twin["predicted"][:m], self.source.threshold * self.twin["sigma"][:m]
        self.predicted.update(x[:m], predicted)
        self.band.update(x[:m], predicted - half, predicted + half)
        alarms = x[:m][self.twin["alarm"][:m] > 0][: self.MAX_ALARMS]
        y = list(self.chart.y_range)
        for i, xa in enumerate(alarms):
            if i == len(self.alarms):
                self.alarms.append(self.chart.line([xa, xa], y, color=ALARM, width=1.5, label="" if i else "alarm"))
            self.alarms[i].update([xa, xa], y)
            self.alarms[i].visible = True
        for line in self.alarms[len(alarms):]:
            line.visible = False
        self.cursor.update([t / self.scale] * 2, y)
        self.subtitle.SetInput(f" {self.describe(t, k, m, int((self.twin['alarm'][:m] > 0).sum()))} ")
        self.plotter.render()

    def describe(self, t: float, k: int, m: int, alarms: int) -> str:
        """The subtitle at ``t`` [s]: when, the last reading (of ``k``), the twin's prediction (of ``m``), alarms."""
        start = self.source.start
        when = str(start + np.timedelta64(round(t), "s")).replace("T", " ") if start is not None else f"t = {t:g} s"
        unit = f" {self.source.unit}" if self.source.unit else ""
        text = f"{when}: reading {self.values[k - 1]:.2f}{unit}" if k else when
        if m:
            half = self.source.threshold * self.twin["sigma"][m - 1]
            text += f", twin {self.twin['predicted'][m - 1]:.2f} +- {half:.2f}, {alarms} alarm{'s' * (alarms != 1)}"
        return text

    def update(self, kind: str, t: float, fields: dict[str, np.ndarray]) -> None:
        """A live frame (see :mod:`twin.viewer.sink`): the rows the twin has seen (:func:`snapshot`), drawn up to ``t``."""
        seen = len(fields["time"])
        self.load({"time": np.concatenate([fields["time"], self.time[seen:]]),
                   "reading": np.concatenate([fields["reading"], self.values[seen:]]),
                   **{k: fields[k] for k in ("predicted", "sigma", "alarm")}})
        self.show(t)


def _check(options: dict) -> None:
    for name, value in options.items():
        if value is not None:
            raise InputError(f"--{name.replace('_', '-')}", str(value), "has no meaning for a machine twin")


def render_still(source: MachineSource, out, *, time: float | None = None, quality: str = "high", size=(1920, 1080),
                 **options) -> Path:
    """A still (PNG/JPEG) of the log up to ``time`` [s] (default: the whole log)."""
    _check(options)
    view = MachineView(source, quality=quality, size=size)
    try:
        return write_still(view, source.span[1] if time is None else time, out)
    finally:
        view.close()


def render_video(source: MachineSource, out, *, frames: int = 36, fps: float = 12.0, quality: str = "high",
                 size=(960, 540), progress: bool = True, **options) -> Path:
    """A video (MP4) of the log growing from the first reading to the last in ``frames`` frames at ``fps``."""
    _check(options)
    view = MachineView(source, quality=quality, size=size)
    try:
        return write_video(view, np.linspace(*source.span, max(frames, 1)), out, fps=fps, progress=progress)
    finally:
        view.close()


class MachineWindow(TimelineWindow):
    """The desktop window of a machine Result: the chart above a timeline that steps from reading to reading.
    It opens on the whole log."""

    def __init__(self, source: MachineSource, *, quality: str = "draft", size=(1280, 720), off_screen: bool = False):
        view = MachineView(source, quality=quality, size=size, off_screen=off_screen, bottom=0.13)
        super().__init__(view, source.times)
        self.set_time(source.span[1])


def window(source: MachineSource, *, quality: str = "draft", size=(1280, 720), **options) -> MachineWindow:
    """The desktop window of ``twin view``."""
    _check(options)
    return MachineWindow(source, quality=quality, size=size)


def pictures(result_dir: str | PathLike, out_dir: str | PathLike, *, progress: bool = True) -> dict[str, Path]:
    """``twin.png`` (:func:`plot_twin`: the whole log, dates on the time axis) and ``twin.mp4`` (the log growing,
    4 s at 12 frames/s, 960 x 540) of a machine Result."""
    folder, out = Path(result_dir), Path(out_dir)
    source = open_result(folder, xr.open_zarr(folder / "result.zarr", decode_times=False))
    ds, alarm = source.ds, source.ds["alarm"].values > 0
    start = source.start if source.start is not None else np.datetime64(0, "s")
    time = start + np.round(source.times * 1e3).astype("timedelta64[ms]")
    channel = str(ds.attrs.get("channel", "reading")) + (f" [{source.unit}]" if source.unit else "")
    n = int(alarm.sum())
    still = plot_twin(time, ds["reading"].values, ds["predicted"].values, ds["sigma"].values, alarm, out / "twin.png",
                      threshold=source.threshold, ylabel=channel,
                      title=f"{source.title}: {len(time)} readings, {n} alarm{'s' * (n != 1)} (red)")
    return {"twin": still, "video": render_video(source, out / "twin.mp4", frames=48, progress=progress)}


def snapshot(sim) -> dict[str, np.ndarray]:
    """The live fields of a machine :class:`twin.physics.simulation.Simulation`: the rows seen so far, named as in the
    Result (``time`` [s], ``reading``, ``predicted``, ``sigma``, ``z``, ``heat``, ``alarm`` (n,)), the filter's
    estimate ``state`` (T, u) (2,) and its ``covariance`` (2, 2)."""
    ds = sim.recorder.dataset([], [], sim.recorder.state_dict())
    return {"time": ds["time"].values, **{name: ds[name].values for name in ds.data_vars},
            "state": sim.state.x.copy(), "covariance": sim.state.P.copy()}


def live_window(run, sim, *, key: str = "", quality: str = "draft", size=(1024, 576), **options) -> MachineView:
    """A window that shows a machine run's live frames: the chart over the run's whole log, growing."""
    _check(options)
    view = MachineView(open_run(Path(key or "machine"), run), quality=quality, size=size, off_screen=False)
    view.plotter.show(interactive_update=True, auto_close=False)
    return view


def plot_twin(time: np.ndarray, reading: np.ndarray, predicted: np.ndarray, sigma: np.ndarray, alarm: np.ndarray,
              out: str | Path, *, threshold: float, title: str, ylabel: str,
              windows: np.ndarray | None = None) -> Path:
    """Readings, the twin's prediction +- ``threshold`` sigma, alarms (red lines) and labelled windows
    (shaded, datetime64 (m, 2)) over ``time`` (datetime64 (n,)) into a PNG, written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    band = threshold * sigma
    fig, ax = plt.subplots(figsize=(12, 4), dpi=100)
    for a, b in [] if windows is None else windows:
        ax.axvspan(a, b, color="#fdd49e", alpha=0.7, lw=0)
    ax.fill_between(time, predicted - band, predicted + band, color="#9ecae1", alpha=0.6, label=f"twin +- {threshold:g} sigma")
    ax.plot(time, reading, lw=0.6, color="#333333", label="reading")
    ax.plot(time, predicted, lw=0.6, color="#3182bd", label="twin prediction")
    for ta in time[alarm]:
        ax.axvline(ta, color="#de2d26", lw=1.2)
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.legend(loc="lower left", fontsize=8)
    fig.autofmt_xdate()
    tmp = out.with_name(out.stem + ".partial.png")
    fig.savefig(tmp)
    plt.close(fig)
    tmp.replace(out)
    return out


def plot_sync(rows: list[dict], spec, out: str | Path) -> Path:
    """A sync run (``Sync.rows``) as :func:`plot_twin` draws it."""
    col = {k: np.array([r[k] for r in rows]) for k in ("reading", "predicted", "sigma", "alarm")}
    time = np.array([np.datetime64(r["time"]) for r in rows])
    return plot_twin(time, col["reading"], col["predicted"], col["sigma"], col["alarm"].astype(bool), out,
                     threshold=spec.threshold, title=f"{spec.name}: {len(rows)} readings, {int(col['alarm'].sum())} alarms (red)",
                     ylabel=spec.channel)


class LiveMachinePlot:
    """A window following ``twin sync``: the last ``window`` readings, the prediction band, alarms.

    Call it with the sync's rows (``Sync.wait(on_tick=...)``); it redraws at most ``fps`` times a
    wall second. ``backend`` "Agg" draws off screen (tests).
    """

    def __init__(self, spec, *, window: int = 600, fps: float = 2.0, backend: str | None = None):
        import os
        import time

        import matplotlib

        if backend is None and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
            raise InputError("--view", "", "needs a display (DISPLAY is not set): run under xvfb-run, or use --out DIR for pictures")
        if backend is not None:
            matplotlib.use(backend)
        import matplotlib.pyplot as plt

        self._plt, self._clock = plt, time.monotonic
        self.spec, self.window, self.period = spec, window, 1.0 / fps
        self.fig, self.ax = plt.subplots(figsize=(10, 4))
        (self.reading,) = self.ax.plot([], [], lw=0.8, color="#333333", label="reading")
        (self.predicted,) = self.ax.plot([], [], lw=0.8, color="#3182bd", label="twin prediction")
        self.band = None
        self.alarms = self.ax.scatter([], [], color="#de2d26", zorder=3, label="alarm")
        self.ax.set_xlabel("seq")
        self.ax.set_ylabel(spec.channel)
        self.ax.legend(loc="lower left", fontsize=8)
        self._last = -1e9
        self.drawn = 0
        if backend is None:
            plt.show(block=False)

    def __call__(self, rows: list[dict]) -> None:
        if not rows or self._clock() - self._last < self.period:
            return
        self._last = self._clock()
        part = rows[-self.window:]
        seq = np.array([r["seq"] for r in part])
        y = np.array([r["reading"] for r in part])
        pred = np.array([r["predicted"] for r in part])
        band = self.spec.threshold * np.array([r["sigma"] for r in part])
        alarm = np.array([r["alarm"] for r in part], dtype=bool)
        self.reading.set_data(seq, y)
        self.predicted.set_data(seq, pred)
        if self.band is not None:
            self.band.remove()
        self.band = self.ax.fill_between(seq, pred - band, pred + band, color="#9ecae1", alpha=0.6)
        self.alarms.set_offsets(np.column_stack([seq[alarm], y[alarm]]) if alarm.any() else np.empty((0, 2)))
        self.ax.relim()
        self.ax.autoscale_view()
        self.ax.set_title(f"{self.spec.name}: {len(rows)} readings, {sum(r['alarm'] for r in rows)} alarms")
        self.fig.canvas.draw_idle()
        self._plt.pause(0.001)
        self.drawn += 1

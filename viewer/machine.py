"""Pictures of the machine twin: readings, the twin's prediction with its band, alarms, labelled windows."""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["LiveMachinePlot", "plot_sync", "plot_twin"]


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

        from twin.errors import InputError

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

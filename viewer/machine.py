"""Pictures of the machine twin: readings, the twin's prediction with its band, alarms, labelled windows."""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["plot_sync", "plot_twin"]


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

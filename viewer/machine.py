"""Pictures of the machine twin: readings, the twin's prediction with its band, alarms."""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["plot_sync"]


def plot_sync(rows: list[dict], spec, out: str | Path) -> Path:
    """Readings, prediction +- threshold sigma and alarms of a sync run (``Sync.rows``) into a PNG, written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    t = np.array([np.datetime64(r["time"]) for r in rows])
    y = np.array([r["reading"] for r in rows])
    pred = np.array([r["predicted"] for r in rows])
    band = spec.threshold * np.array([r["sigma"] for r in rows])
    alarm = np.array([r["alarm"] for r in rows])
    fig, ax = plt.subplots(figsize=(12, 4), dpi=100)
    ax.fill_between(t, pred - band, pred + band, color="#9ecae1", alpha=0.6, label=f"twin +- {spec.threshold:g} sigma")
    ax.plot(t, y, lw=0.6, color="#333333", label="reading")
    ax.plot(t, pred, lw=0.6, color="#3182bd", label="twin prediction")
    for ta in t[alarm]:
        ax.axvline(ta, color="#de2d26", lw=1.2)
    ax.set_title(f"{spec.name}: {len(rows)} readings, {int(alarm.sum())} alarms (red)")
    ax.set_ylabel(spec.channel)
    ax.legend(loc="lower left", fontsize=8)
    fig.autofmt_xdate()
    tmp = out.with_name(out.stem + ".partial.png")
    fig.savefig(tmp)
    plt.close(fig)
    tmp.replace(out)
    return out

"""The viewer's registry of twin kinds: what each kind of Result draws.

Keyed by a Result's ``attrs["twin_kind"]`` (or a Run's ``kind``), in the way
PyVista registers readers by extension: ``PICTURES[kind](result_dir, progress)``
writes the pictures ``twin run --pictures`` promises.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from twin.errors import InputError

__all__ = ["PICTURES", "live_sink", "result_kind", "write_pictures"]


def result_kind(result_dir: str | Path) -> str:
    """The ``twin_kind`` of the Result in ``result_dir`` (one-line InputError when there is none)."""
    import xarray as xr

    store = Path(result_dir) / "result.zarr"
    if not store.is_dir():
        raise InputError(result_dir, "", "no result.zarr here (a `twin run` output folder holds one)")
    try:
        kind = xr.open_zarr(store).attrs.get("twin_kind")
    except (OSError, ValueError, KeyError) as e:
        raise InputError(store, "", f"unreadable Result ({e})") from None
    if kind not in PICTURES:
        raise InputError(store, "attrs.twin_kind", f"is {kind!r}; expected one of {', '.join(PICTURES)}")
    return kind


def _flood(out: Path, progress: bool) -> dict[str, Path]:
    from viewer.flood_report import write_flood_pictures

    return write_flood_pictures(out / "result.zarr", out)


def _dispersion(out: Path, progress: bool) -> dict[str, Path]:
    from viewer.plume_maps import write_plume_pictures

    return write_plume_pictures(out / "result.zarr", out)


def _robot(out: Path, progress: bool) -> dict[str, Path]:
    import xarray as xr

    from viewer.robot import render_robot

    cycle = float(xr.open_zarr(out / "result.zarr").attrs["cycle_time_s"])
    frames = max(2, int(round(cycle * 15)))
    return {"still": render_robot(out, out / "cell.png"),
            "video": render_robot(out, out / "cell.mp4", frames=frames, fps=15.0, size=(960, 540), progress=progress)}


def _machine(out: Path, progress: bool) -> dict[str, Path]:
    import numpy as np
    import xarray as xr

    from viewer.machine import plot_twin

    ds = xr.open_zarr(out / "result.zarr", decode_times=False)
    start = np.datetime64(ds["time"].attrs["units"].removeprefix("seconds since ").strip(), "s")
    time = start + ds["time"].values.astype("timedelta64[s]")
    alarm = ds["alarm"].values.astype(bool)
    path = plot_twin(time, ds["reading"].values, ds["predicted"].values, ds["sigma"].values, alarm, out / "twin.png",
                     threshold=float(ds.attrs["threshold_sigma"]),
                     title=f"{ds.attrs['title']}: {len(time)} readings, {int(alarm.sum())} alarms (red)",
                     ylabel=f"{ds.attrs['channel']} [{ds['reading'].attrs.get('units', '')}]")
    return {"twin": path}


PICTURES: dict[str, Callable[[Path, bool], dict[str, Path]]] = {
    "flood": _flood, "dispersion": _dispersion, "robot": _robot, "machine": _machine}
"""kind -> writer of the kind's pictures into a result folder."""


def write_pictures(result_dir: str | Path, *, progress: bool = True) -> dict[str, Path]:
    """The pictures of the Result in ``result_dir``, by its kind: name -> path."""
    out = Path(result_dir)
    return PICTURES[result_kind(out)](out, progress)


def live_sink(run, *, key: str = ""):
    """The live viewer (an ``on_step`` callback) for ``run``'s kind."""
    if run.kind != "flood":
        raise InputError("--view", "", f"no live view for a {run.kind} run yet")
    from viewer.live import LiveViewer

    return LiveViewer(run.scene, key=key)

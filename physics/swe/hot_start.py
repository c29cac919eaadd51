"""Hot start: a flood run that begins from the state of an earlier run.

A flood run (:class:`twin.physics.swe.run.FloodRun`) stores the full State (h, hu, hv and
the infiltrated depth, in the run's precision) in every snapshot,
``RESULT_DIR/run/snapshot_*.npz``, beside the float32 depth and velocities that
go into ``result.zarr``. A hot start reads one of them back (the last by
default) and the run goes on from its time: with the same scene and settings,
"run to T, hot-start from T, run to 2T" is bitwise "one run to 2T".

The earlier run must be on the same grid (nx, ny, dx, dy and origin, from its
``summary.json``) in the same CRS; anything else is refused in one line.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from twin.physics.swe.model import Model, State

from twin.errors import InputError

STATE_KEYS = ("h", "hu", "hv", "infiltrated")


def parse_hot_start(text: str | Path) -> tuple[Path, float | None]:
    """``"RESULT_DIR[:TIME]"`` -> (result folder, time [s] or None for the last stored time)."""
    text = str(text)
    head, sep, tail = text.rpartition(":")
    if sep and head:
        try:
            return Path(head), float(tail)
        except ValueError:
            pass
    return Path(text), None


def _grid_of(result_dir: Path) -> dict:
    path = result_dir / "summary.json"
    try:
        grid = json.loads(path.read_text())["grid"]
    except FileNotFoundError:
        raise InputError(result_dir, "", "not a twin flood result (no summary.json)") from None
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise InputError(path, "", f"not a flood run's summary ({e})") from None
    if not isinstance(grid, dict) or not {"nx", "ny", "dx", "dy", "x0", "y0", "crs"} <= set(grid):
        raise InputError(path, "grid", "does not give the grid's size, cells, origin and CRS (a result of an older twin); rerun it")
    return grid


def _check_grid(result_dir: Path, grid: dict, model: Model, crs: str) -> None:
    """Refuse a result of another grid or CRS, naming what differs."""
    ours = {"nx": model.nx, "ny": model.ny, "dx": model.dx, "dy": model.dy, "x0": model.x0, "y0": model.y0}
    for key, value in ours.items():
        if not math.isclose(float(grid[key]), value, rel_tol=1e-12, abs_tol=1e-9):
            theirs = ", ".join(f"{k}={grid[k]}" for k in ours)
            mine = ", ".join(f"{k}={v}" for k, v in ours.items())
            raise InputError(result_dir, "summary.json: grid",
                             f"{key} is {grid[key]}, this run's is {value}: a hot start needs the same grid ({theirs} vs {mine})")
    if grid["crs"] != crs:
        raise InputError(result_dir, "summary.json: grid", f"CRS is {grid['crs']}, this run's is {crs}: a hot start needs the same CRS")


def stored_times(result_dir: str | Path) -> list[tuple[float, Path]]:
    """(time [s], snapshot file) of every stored output of a flood run, in time order."""
    result_dir = Path(result_dir)
    out = []
    for path in sorted((result_dir / "run").glob("snapshot_*.npz")):
        try:
            with np.load(path) as z:
                out.append((float(z["time"]), path))
        except (OSError, ValueError, KeyError) as e:
            raise InputError(path, "", f"unreadable snapshot ({e})") from None
    if not out:
        raise InputError(result_dir, "run/", "holds no snapshots to hot-start from")
    return sorted(out, key=lambda tp: tp[0])


def load_hot_start(result_dir: str | Path, model: Model, *, crs: str, time: float | None = None) -> tuple[State, float]:
    """The State of the flood run in ``result_dir`` at its stored time ``time`` [s] (the
    last by default), uploaded for ``model``, and that time.

    Raises:
        InputError: no such result, another grid or CRS, no output at ``time``, or
            snapshots without the full state.
    """
    result_dir = Path(result_dir)
    if not result_dir.is_dir():
        raise InputError(result_dir, "", "no such result folder to hot-start from")
    _check_grid(result_dir, _grid_of(result_dir), model, crs)
    times = stored_times(result_dir)
    if time is None:
        t, path = times[-1]
    else:
        match = [(t, p) for t, p in times if math.isclose(t, time, rel_tol=1e-12, abs_tol=1e-9)]
        if not match:
            listed = ", ".join(f"{t:g}" for t, _ in times)
            raise InputError(result_dir, f"time {time:g} s", f"is not a stored output time; stored: {listed} s")
        t, path = match[0]
    with np.load(path) as z:
        if not all(f"state_{k}" in z.files for k in STATE_KEYS):
            raise InputError(path, "", "holds no full state (written by an older twin); rerun the earlier run to hot-start from it")
        arrays = {k: z[f"state_{k}"].reshape(model.shape) for k in STATE_KEYS}
    return State.from_numpy(model, arrays["h"], arrays["hu"], arrays["hv"], arrays["infiltrated"]), t


__all__ = ["load_hot_start", "parse_hot_start", "stored_times"]

"""What ``twin render`` and ``twin view`` open: a Result folder, a scene script or a ``.twin`` scene file
(of any kind, through :mod:`twin.viewer.kinds`); the flood kind's :class:`Source`.

A RESULT_DIR is a folder holding ``result.zarr``. Its ``summary.json`` names
the scene script and the parameters the run used; when that script can still be
loaded, its Scene adds building footprints and roads to the picture, otherwise
buildings are drawn from the Result's raster.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

import xarray as xr
from twin.viewer.fields import History
from twin.viewer.geometry import Site

from twin.errors import InputError
from twin.scene import Scene

__all__ = ["Source", "open_flood_result", "open_source", "scene_of"]

NEEDED = ("depth", "u", "v", "max_depth", "max_speed", "bed_elevation", "ground_elevation", "building")
"""Variables of a flood Result that the 3D views read."""

REPO = Path(__file__).resolve().parents[1]


@dataclass
class Source:
    """A thing to look at.

    Attributes:
        path: what was opened.
        site: ground, buildings, roads and probes.
        history: the water over time (None for a scene without a Result).
        result: the Result Dataset (None for a scene).
        scene: the Scene, when known.
        notes: things the user may want to know (e.g. the scene script was not found).
    """

    path: Path
    site: Site
    history: History | None = None
    result: xr.Dataset | None = None
    scene: Scene | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def span(self) -> tuple[float, float] | None:
        """First and last time [s] of the Result; None for a scene."""
        return self.history.span if self.history is not None else None


def open_source(path: str | PathLike, *, assignments: list[str] | None = None):
    """Open a Result folder (``DIR/result.zarr``), a scene script (``.py``) or a scene file (``.twin``) of any
    kind: the source its kind's viewer draws (see :func:`twin.viewer.kinds.open_any`); a :class:`Source` for a flood.

    ``assignments`` (``name=value``) set a scene script's parameters.

    Raises:
        InputError: the path is none of these, or not readable as one.
    """
    from twin.viewer.kinds import open_any

    return open_any(path, assignments=assignments)[1]


def open_flood_result(folder: Path, ds: xr.Dataset) -> Source:
    """The Source of a flood Result folder (its ``result.zarr`` opened as ``ds``), with its scene when its
    script can be rebuilt."""
    missing = [name for name in NEEDED if name not in ds.variables]
    if missing:
        raise InputError(folder / "result.zarr", "", f"flood Result without {', '.join(missing)}")
    ds = ds.load()
    scene, key, notes = scene_of(folder, ds)
    return Source(folder, Site.from_result(ds, scene, key=key), History.from_result(ds), ds, scene, notes)


def scene_of(folder: Path, ds: xr.Dataset) -> tuple[Scene | None, str, list[str]]:
    """The Scene a Result was run on, from its summary.json, when it can be rebuilt; its script's stem; notes."""
    try:
        summary = json.loads((folder / "summary.json").read_text())
    except (OSError, ValueError):
        summary = {}
    script = str(summary.get("script") or ds.attrs.get("scene_script") or "")
    if not script:
        return None, "", []
    key = Path(script).stem
    candidates = [Path(script)] + ([REPO / script] if not Path(script).is_absolute() else [])
    found = next((c for c in candidates if c.is_file()), None)
    if found is None:
        return None, key, [f"scene script {script} not found: buildings drawn from the Result's grid"]
    from twin.params import Param
    from twin.script import load_script

    try:
        module = load_script(found)
        params = {p.name: p.default for p in module.PARAMETERS if isinstance(p, Param)}
        params.update({k: v for k, v in summary.get("parameters", {}).items() if k in params})
        return module.setup(params).scene, key, []
    except Exception as e:  # the scene only adds detail: whatever stops its script, draw from the Result
        return None, key, [f"scene {found} not rebuilt ({type(e).__name__}: {e}): buildings drawn from the Result's grid"]

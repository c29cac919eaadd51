"""The flood kind: water over a site, as :mod:`twin.viewer.render`, :mod:`twin.viewer.window` and :mod:`twin.viewer.live` draw it.

The functions of the kind protocol (:mod:`twin.viewer.kinds`) for a flood Result, a
flood scene script's run, or a ``.twin`` scene file. Options: ``field``
(default ``depth``), ``z_scale`` (default 2) and ``ground`` (default ``landuse``).
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path

import numpy as np
import xarray as xr
from twin.viewer.fields import FIELDS
from twin.viewer.geometry import Site
from twin.viewer.sources import Source, open_flood_result

from twin.errors import InputError

__all__ = ["DEFAULTS", "live_window", "open_result", "open_run", "open_scene", "pictures", "render_still",
           "render_video", "snapshot", "window"]

DEFAULTS = {"field": "depth", "z_scale": 2.0, "ground": "landuse"}
"""This kind's options and their defaults."""


def _options(field: str | None, z_scale: float | None, ground: str | None) -> dict:
    options = {"field": field or DEFAULTS["field"], "z_scale": DEFAULTS["z_scale"] if z_scale is None else z_scale,
               "ground": ground or DEFAULTS["ground"]}
    if options["field"] not in FIELDS:
        raise InputError("--field", options["field"], f"expected one of {', '.join(FIELDS)}")
    if options["ground"] not in ("landuse", "hillshade"):
        raise InputError("--ground", options["ground"], "expected landuse or hillshade")
    return options


def open_result(folder: Path, ds: xr.Dataset) -> Source:
    """A flood Result folder (its ``result.zarr`` opened as ``ds``)."""
    return open_flood_result(folder, ds)


def open_run(path: Path, run) -> Source:
    """A flood scene script's run: its scene, dry."""
    return open_scene(path, run.scene)


def open_scene(path: Path, scene) -> Source:
    """A scene (from a script or a ``.twin`` file), dry."""
    return Source(Path(path), Site.from_scene(scene, key=Path(path).stem), scene=scene)


def render_still(source: Source, out, *, time: float | None = None, quality: str = "high", size=(1920, 1080),
                 camera=None, field: str | None = None, z_scale: float | None = None,
                 ground: str | None = None) -> Path:
    """A still of the water at ``time`` [s] (default: the peak), see :func:`twin.viewer.render.render_still`."""
    from twin.viewer.render import render_still as still

    return still(source, out, time=time, quality=quality, size=size, camera=camera, **_options(field, z_scale, ground))


def render_video(source: Source, out, *, frames: int = 36, fps: float = 12.0, quality: str = "high", size=(960, 540),
                 camera=None, field: str | None = None, z_scale: float | None = None, ground: str | None = None,
                 progress: bool = True) -> Path:
    """A video through the Result's time (a turntable of a scene), see :func:`twin.viewer.render.render_video`."""
    from twin.viewer.render import render_video as video

    return video(source, out, frames=frames, fps=fps, quality=quality, size=size, camera=camera, progress=progress,
                 **_options(field, z_scale, ground))


def window(source: Source, *, quality: str = "draft", size=(1280, 800), camera=None, field: str | None = None,
           z_scale: float | None = None, ground: str | None = None):
    """The desktop window of ``twin view`` (:class:`twin.viewer.window.FloodWindow`)."""
    from twin.viewer.window import FloodWindow

    return FloodWindow(source, quality=quality, size=size, camera=camera, **_options(field, z_scale, ground))


def pictures(result_dir: str | PathLike, out_dir: str | PathLike, *, progress: bool = True) -> dict[str, Path]:
    """The flood maps and 3D pictures (:func:`twin.viewer.flood_report.write_flood_pictures`)."""
    from twin.viewer.flood_report import write_flood_pictures

    return write_flood_pictures(Path(result_dir) / "result.zarr", out_dir)


def snapshot(sim) -> dict[str, np.ndarray]:
    """The live fields of a flood Simulation: ``depth`` [m] and ``speed`` [m/s], float32 (ny, nx)."""
    from twin.viewer.view3d import WET_THRESHOLD

    model = sim.solver.model
    shape = (model.ny, model.nx)
    h = sim.state.h.numpy().astype(np.float32).reshape(shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        discharge = np.hypot(sim.state.hu.numpy(), sim.state.hv.numpy()).reshape(shape)
        speed = np.where(h > WET_THRESHOLD, discharge / h, 0.0)
    return {"depth": h, "speed": speed.astype(np.float32)}


def site_of(sim, scene=None, *, key: str = "") -> Site:
    """The Site of a running flood Simulation: its grid, bed, ground and buildings (and the scene's footprints,
    roads, probes)."""
    model = sim.solver.model
    static = sim.recorder.static
    bed = np.asarray(model.bed_elevation(), dtype=np.float64).reshape(model.ny, model.nx)
    ground = np.asarray(static.get("ground_elevation", bed), dtype=np.float64)
    building = np.asarray(static.get("building", np.zeros(bed.shape, bool)))
    attrs = getattr(sim.recorder, "attrs", {})
    return Site.from_grid(model.x_centres(), model.y_centres(), ground, bed, building,
                          title=str(attrs.get("title", scene.name if scene else "Flood")),
                          crs=str(attrs.get("crs", scene.crs if scene else "")), scene=scene, key=key)


def live_window(run, sim, *, key: str = "", quality: str = "draft", size=(1024, 576), camera=None,
                field: str | None = None, z_scale: float | None = None, ground: str | None = None):
    """A window (:class:`twin.viewer.view3d.View3D`) that shows a flood run's live frames, opened now."""
    from twin.viewer.view3d import View3D, default_clims

    clims = default_clims(None)
    clims["arrival"] = (0.0, max(1.0, sim.settings.duration / 60.0))
    view = View3D(site_of(sim, run.scene, key=key), off_screen=False, clims=clims, quality=quality, size=size,
                  camera=camera, **_options(field, z_scale, ground))
    view.plotter.show(interactive_update=True, auto_close=False)
    return view

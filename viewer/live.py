"""A running simulation, shown live: ``twin run SCENE --view``.

:class:`LiveViewer` is an ``on_step(sim)`` callback for
:func:`twin.app.runs.execute`. At most ``fps`` times per wall second it reads
the solver's state (depth and discharges, copied from the device), turns it
into a :class:`viewer.fields.Frame` (tracking each cell's time of arrival) and
hands it to a viewer (``begin_frame`` / ``log_state`` / ``end_frame``). By
default the viewer is a draft-quality desktop window, opened at the first
step; tests pass a :class:`viewer.sink.NullViewer`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import numpy as np

from twin.errors import InputError
from twin.scene import Scene
from viewer.fields import Frame
from viewer.geometry import Site
from viewer.sink import Viewer

__all__ = ["LiveViewer", "frame_of", "site_of"]

WET_THRESHOLD = 1e-3
"""Depth [m] above which a cell counts as wet (as in the flood Result)."""


def site_of(sim, scene: Scene | None = None, *, key: str = "") -> Site:
    """The Site of a running flood Simulation: its grid, bed, ground and buildings (and the scene's footprints, roads, probes)."""
    model = sim.solver.model
    static = sim.recorder.static
    bed = np.asarray(model.bed_elevation(), dtype=np.float64).reshape(model.ny, model.nx)
    ground = np.asarray(static.get("ground_elevation", bed), dtype=np.float64)
    building = np.asarray(static.get("building", np.zeros(bed.shape, bool)))
    attrs = getattr(sim.recorder, "attrs", {})
    return Site.from_grid(model.x_centres(), model.y_centres(), ground, bed, building,
                          title=str(attrs.get("title", scene.name if scene else "Flood")),
                          crs=str(attrs.get("crs", scene.crs if scene else "")), scene=scene, key=key)


def frame_of(sim, arrival: np.ndarray | None, wet_threshold: float) -> Frame:
    """The water of ``sim`` now: depth [m] and speed [m/s] (ny, nx) from its state.

    ``arrival`` (ny, nx) [s], NaN where not yet wet, is updated in place with
    the cells wet for the first time.
    """
    model = sim.solver.model
    shape = (model.ny, model.nx)
    state = sim.state
    h = state.h.numpy().astype(np.float32).reshape(shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        speed = np.where(h > wet_threshold, np.hypot(state.hu.numpy(), state.hv.numpy()).reshape(shape) / h, 0.0)
    if arrival is None:
        arrival = np.full(shape, np.nan)
    arrival[np.isnan(arrival) & (h > wet_threshold)] = sim.t
    return Frame.at(sim.t, h, speed.astype(np.float32), arrival)


class LiveViewer:
    """``on_step(sim)`` callback that shows the running simulation, throttled to ``fps`` frames per wall second.

    Args:
        scene: the Scene being run (footprints, roads, probes), or None.
        key: the scene script's stem (for its camera presets).
        viewer: where frames go; None opens a desktop window (a :class:`viewer.view3d.View3D`
            of quality ``quality``, the camera free to move) at the first step.
        fps: most frames per wall second.
        quality, size, field, camera, z_scale: for the window.
        clock: wall clock [s] (tests pass a fake one).

    Raises:
        InputError: a window is wanted (no ``viewer``) but there is no display.

    Frames are due on a fixed grid of 1/fps seconds (a late frame does not
    push the next one back), so a run that steps often enough gets ``fps``
    frames per second.

    Attributes:
        frames: frames drawn; drawing: wall seconds spent reading states and drawing.
        window: the window opened, or None.
    """

    def __init__(self, scene: Scene | None = None, *, key: str = "", viewer: Viewer | None = None, fps: float = 10.0,
                 quality: str = "draft", size: tuple[int, int] = (1024, 576), field: str = "depth",
                 camera: str | None = None, z_scale: float = 2.0, clock: Callable[[], float] = time.perf_counter):
        if viewer is None and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            raise InputError("--view", "", "no display (DISPLAY is not set); run it as: xvfb-run twin run ... --view")
        self.scene, self.key, self.viewer, self.fps = scene, key, viewer, fps
        self.options = dict(quality=quality, size=size, field=field, camera=camera, z_scale=z_scale)
        self.clock = clock
        self.frames = 0
        self.drawing = 0.0
        self.window = None
        self._due: float | None = None
        self._first: float | None = None
        self._latest: float | None = None
        self._arrival: np.ndarray | None = None
        self._sim = None

    def __call__(self, sim) -> None:
        """Draw ``sim`` when a frame is due."""
        self._sim = sim
        now = self.clock()
        if self._due is not None and now < self._due:
            return
        period = 1.0 / self.fps
        self._due = now + period if self._due is None or now - self._due >= period else self._due + period
        self._latest = now
        self.draw(sim)
        if self._first is None:  # the rate counts from the end of the first frame, which opens the window
            self._first = self.clock()

    @property
    def rate(self) -> float:
        """Frames per wall second from the end of the first frame to the start of the latest (0 before three frames)."""
        if self.frames < 3 or self._latest <= self._first:
            return 0.0
        return (self.frames - 2) / (self._latest - self._first)

    def draw(self, sim) -> None:
        """Draw ``sim`` now, whatever the time since the last frame."""
        start = time.perf_counter()
        if self.viewer is None:
            self.viewer = self._open_window(sim)
        frame = frame_of(sim, self._arrival, WET_THRESHOLD)
        self._arrival = frame.arrival
        self.viewer.begin_frame(sim.t)
        self.viewer.log_state(frame)
        self.viewer.end_frame()
        if self.window is not None:
            self.window.plotter.update()
        self.frames += 1
        self.drawing += time.perf_counter() - start

    def close(self, *, hold: bool = False) -> None:
        """Draw the last state; with ``hold``, keep the window open until the user closes it."""
        if self._sim is not None:
            self.draw(self._sim)
        if self.window is not None:
            if hold:
                self.window.plotter.iren.start()
            self.window.close()
            self.window = None

    def _open_window(self, sim):
        from viewer.view3d import View3D, default_clims

        site = site_of(sim, self.scene, key=self.key)
        clims = default_clims(None)
        clims["arrival"] = (0.0, max(1.0, sim.settings.duration / 60.0))
        view = View3D(site, off_screen=False, clims=clims, **self.options)
        view.plotter.show(interactive_update=True, auto_close=False)
        self.window = view
        return view

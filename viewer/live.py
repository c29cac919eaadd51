"""A running simulation of any kind, shown live: ``twin run SCENE --view``.

:class:`LiveViewer` is an ``on_step(sim)`` callback for a run of any kind. At
most ``fps`` times per wall second it asks the run's kind (:mod:`twin.viewer.kinds`)
for the simulation's snapshot (flood: depth and speed; dispersion:
concentration and particles; robot: link poses, joint positions, set points
and torques, copied from the device) and hands it to a sink as
``update(kind, t, fields)`` (:mod:`twin.viewer.sink`). By default the sink is the
kind's draft-quality desktop window, opened at the first step; tests pass a
:class:`twin.viewer.sink.NullSink`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from twin.viewer.kinds import kind_module, kind_of_run
from twin.viewer.sink import Sink

from twin.errors import InputError

__all__ = ["LiveViewer"]


class LiveViewer:
    """``on_step(sim)`` callback that shows the running simulation, throttled to ``fps`` frames per wall second.

    Args:
        run: the scene script's run (its ``kind`` picks the snapshot and the window).
        key: the scene script's stem (for its camera presets).
        viewer: where frames go; None opens the kind's desktop window (quality ``quality``, the camera free
            to move) at the first step.
        fps: most frames per wall second.
        quality, size, camera, field, z_scale, ground: for the window (None: the kind's default).
        clock: wall clock [s] (tests pass a fake one).

    Raises:
        InputError: a window is wanted (no ``viewer``) but there is no display; the run's kind has no viewer.

    Frames are due on a fixed grid of 1/fps seconds (a late frame does not
    push the next one back), so a run that steps often enough gets ``fps``
    frames per second. A frame that takes longer to draw than 1/fps (a large
    chart, a slow machine) puts the next one a whole 1/fps after its end, so
    that a run that steps far faster than it draws (a machine's log replayed)
    still runs between frames.

    Attributes:
        kind: the run's kind; frames: frames drawn; drawing: wall seconds spent reading states and drawing;
        window: the window opened, or None.
    """

    def __init__(self, run, *, key: str = "", viewer: Sink | None = None, fps: float = 10.0, quality: str = "draft",
                 size: tuple[int, int] = (1024, 576), camera: str | None = None, field: str | None = None,
                 z_scale: float | None = None, ground: str | None = None,
                 clock: Callable[[], float] = time.perf_counter):
        if viewer is None and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            raise InputError("--view", "", "no display (DISPLAY is not set); run it as: xvfb-run twin run ... --view")
        self.run, self.key, self.viewer, self.fps = run, key, viewer, fps
        self.kind = kind_of_run(run, key)
        self.module = kind_module(self.kind, key)
        self.options = dict(quality=quality, size=size, camera=camera, field=field, z_scale=z_scale, ground=ground)
        self.clock = clock
        self.frames = 0
        self.drawing = 0.0
        self.window = None
        self._due: float | None = None
        self._first: float | None = None
        self._latest: float | None = None
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
        drawn = self.drawing
        self.draw(sim)
        spent = self.drawing - drawn
        if spent >= period:  # a frame slower than the rate: the run gets a period of its own before the next one
            self._due = now + spent + period
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
            self.viewer = self.window = self.module.live_window(self.run, sim, key=self.key, **self.options)
        self.viewer.update(self.kind, sim.t, self.module.snapshot(sim))
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
        elif self.viewer is not None:
            self.viewer.close()

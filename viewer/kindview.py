"""What the 3D views of the robot cell and the plume share: a plotter with a title, a camera that frames a
bounding box, stills and videos through a ``show(t)``, and a desktop window with a timeline.

A kind's view subclasses :class:`KindView` and implements ``show(t)`` (draw the
Result at time ``t`` [s]), ``update(kind, t, fields)`` (draw a live frame, see
:mod:`twin.viewer.sink`) and ``bounds_points()`` (the points a fitted camera keeps in
the picture, (n, 3) in display coordinates). :class:`TimelineWindow` puts a
view in a desktop window with a time slider, play/pause, a speed slider and
Left/Right keys.
"""

from __future__ import annotations

import sys
import time
from os import PathLike
from pathlib import Path

import numpy as np
from twin.viewer.cameras import Camera, frame_points, resolve_camera
from twin.viewer.quality import QUALITIES, SKY_HORIZON, SKY_TOP
from twin.viewer.view3d import TEXT, plotter_window

from twin.errors import InputError

__all__ = ["KindView", "ResultTimes", "TimelineWindow", "write_still", "write_video"]

ACCENT = "#1a78b4"
PLAY_SECONDS = 20.0
"""Wall time [s] a whole Result takes to play at the default speed."""


class ResultTimes:
    """What every kind's source knows of its Result ``ds`` (an xarray Dataset with a ``time`` axis [s])."""

    ds: object

    @property
    def times(self) -> np.ndarray:
        return self.ds["time"].values.astype(np.float64)

    @property
    def span(self) -> tuple[float, float]:
        return float(self.times[0]), float(self.times[-1])


class KindView:
    """A PyVista plotter with a sky, a title (from the Result or scene) and a subtitle, whose camera frames
    :meth:`bounds_points`.

    Args:
        title: the picture's title (the Result's or scene's ``title``).
        quality: ``draft`` (no anti-aliasing), ``high`` or ``cinematic`` (SSAA on stills).
        size: (width, height) [px].
        camera: preset name, camera file, Camera or None for ``default_camera`` (see :mod:`twin.viewer.cameras`).
        key: the scene script's stem (for its camera presets).
        off_screen: False for a desktop window.
    """

    default_camera = Camera(225.0, 30.0)
    frame = (-0.9, 0.9, -0.88, 0.78)
    """Part of the picture (NDC x0, x1, y0, y1) a fitted camera fills; the top left is the title's."""
    supersample = True
    """Whether stills above draft quality are rendered with SSAA (VTK's 2D charts do not scale with it)."""

    def __init__(self, title: str, *, quality: str = "high", size: tuple[int, int] = (1280, 720),
                 camera: str | PathLike | Camera | None = None, key: str = "", off_screen: bool = True):
        import pyvista as pv

        if quality not in QUALITIES:
            raise InputError("--quality", quality, f"expected one of {', '.join(QUALITIES)}")
        self.size, self.quality = tuple(size), quality
        with plotter_window(off_screen):
            self.plotter = pv.Plotter(off_screen=off_screen, window_size=list(size))
        self.plotter.set_background(SKY_HORIZON, top=SKY_TOP)
        self.font_size = max(9, round(size[1] / 50))
        self.title = self.add_text(f" {title} ", (0.018, 0.965), self.font_size + 4, bold=True)
        self.subtitle = self.add_text(" ", (0.018, 0.965 - (self.font_size + 9) / size[1] * 1.45), self.font_size)
        self.camera = resolve_camera(camera, key, self.default_camera)

    @property
    def aspect(self) -> float:
        return self.size[0] / self.size[1]

    def bounds_points(self) -> np.ndarray:
        """Points (n, 3) [display units] the fitted camera keeps in the picture."""
        raise NotImplementedError

    def set_camera(self, camera: Camera | None = None) -> None:
        """Orbit ``camera`` (default: the view's camera) framing :meth:`bounds_points`."""
        self.camera = camera or self.camera
        frame_points(self.plotter, self.camera, self.bounds_points(), self.aspect, self.frame)

    def show(self, t: float) -> None:
        """Draw the Result at time ``t`` [s]."""
        raise NotImplementedError

    def image(self) -> np.ndarray:
        """The picture as rendered now, uint8 (height, width, 3)."""
        self.plotter.render()
        return np.asarray(self.plotter.screenshot(return_img=True))[..., :3]

    def close(self) -> None:
        self.plotter.close()

    def add_text(self, text: str, position: tuple[float, float], size: int, *, bold: bool = False):
        """A text overlay at ``position`` (normalized viewport x, y; its top), ``size`` [pt], on a light panel;
        returns its vtkTextActor."""
        from vtkmodules.vtkRenderingCore import vtkTextActor

        actor = vtkTextActor()
        actor.SetInput(text)
        actor.GetPositionCoordinate().SetCoordinateSystemToNormalizedViewport()
        actor.SetPosition(*position)
        prop = actor.GetTextProperty()
        prop.SetFontSize(size)
        prop.SetColor(*(int(TEXT[k : k + 2], 16) / 255.0 for k in (1, 3, 5)))
        prop.SetBold(bold)
        prop.SetVerticalJustification(2)
        prop.SetBackgroundColor(1.0, 1.0, 1.0)
        prop.SetBackgroundOpacity(0.6)
        self.plotter.add_actor(actor)
        return actor


def write_still(view: KindView, t: float, out: str | PathLike) -> Path:
    """Draw ``view`` at ``t`` [s] and write the picture (PNG/JPEG) to ``out``, atomically."""
    from PIL import Image

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if view.quality != "draft" and view.supersample:
        view.plotter.enable_anti_aliasing("ssaa")  # EGL has no FXAA; SSAA renders 5 times: stills only
    view.show(t)
    tmp = out.with_name(out.stem + ".partial" + out.suffix)
    Image.fromarray(view.image()).save(tmp, format="JPEG" if out.suffix.lower() in (".jpg", ".jpeg") else "PNG")
    tmp.replace(out)
    return out


def write_video(view: KindView, times: np.ndarray, out: str | PathLike, *, fps: float, progress: bool = True) -> Path:
    """Draw ``view`` at each of ``times`` [s] and write the frames as an H.264 MP4 at ``fps``, atomically."""
    import imageio_ffmpeg
    from tqdm import tqdm

    if len(times) < 1 or not fps > 0:
        raise InputError("--frames/--fps", "", f"need at least one frame and a positive rate, got {len(times)}, {fps}")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.stem + ".partial" + out.suffix)
    w, h = view.size[0] - view.size[0] % 2, view.size[1] - view.size[1] % 2
    writer = imageio_ffmpeg.write_frames(str(tmp), (w, h), fps=fps, codec="libx264", pix_fmt_out="yuv420p",
                                         quality=8, macro_block_size=2, ffmpeg_log_level="error")
    writer.send(None)
    try:
        for t in tqdm(times, unit="frame", file=sys.stderr, disable=not progress, desc=f"rendering {out.name}"):
            view.show(float(t))
            writer.send(np.ascontiguousarray(view.image()[:h, :w]))
    finally:
        writer.close()
    tmp.replace(out)
    return out


class TimelineWindow:
    """A desktop window on ``view`` (a view made with ``off_screen=False``: ``plotter``, ``size``, ``font_size``,
    ``show(t)``, ``image()``, ``close()``) with a timeline over ``times`` [s]: a time slider, play/pause (button
    or space), a speed slider [x real time], Left/Right to step one snapshot (no timeline when there is one
    time only). Subclasses add their own panels in ``__init__`` and redraw them in :meth:`draw`.

    It needs a display: under Linux without one, run it inside Xvfb (``xvfb-run twin view DIR``).
    """

    def __init__(self, view: KindView, times: np.ndarray, *, fps: float = 12.0):
        self.view, self.plotter, self.fps = view, view.plotter, fps
        self.times = np.asarray(times, np.float64)
        t0, t1 = float(self.times[0]), float(self.times[-1])
        self.span = (t0, t1)
        self.t = t0
        self.speed = max((t1 - t0) / PLAY_SECONDS, 1e-3)
        self.playing = False
        self._last_tick: float | None = None
        if t1 > t0:
            self._add_timeline()
        if self.plotter.iren is not None:
            self.plotter.add_key_event("space", self.toggle)
            self.plotter.add_key_event("Left", lambda: self.step(-1))
            self.plotter.add_key_event("Right", lambda: self.step(1))

    def set_time(self, t: float) -> None:
        """Show time ``t`` [s] (clipped to the span) and move the slider there."""
        self.t = float(np.clip(t, *self.span))
        self.draw(self.t)
        if hasattr(self, "_slider"):
            self._slider.GetRepresentation().SetValue(self.t)

    def draw(self, t: float) -> None:
        """Draw time ``t`` [s]: the view, and a subclass's panels."""
        self.view.show(t)

    def step(self, snapshots: int) -> None:
        """Move to the ``snapshots``-th snapshot after the current time (before it, if negative)."""
        if snapshots > 0:
            k = int(np.searchsorted(self.times, self.t + 1e-9, side="right")) + snapshots - 1
        else:
            k = int(np.searchsorted(self.times, self.t - 1e-9, side="left")) + snapshots
        self.set_time(float(self.times[int(np.clip(k, 0, len(self.times) - 1))]))

    def play(self, on: bool = True) -> None:
        """Start (or stop) playing; at the end playback starts over."""
        self.playing = bool(on) and self.span[1] > self.span[0]
        self._last_tick = None
        if hasattr(self, "_play_button"):
            self._play_button.GetRepresentation().SetState(int(self.playing))

    def toggle(self) -> None:
        self.play(not self.playing)

    def advance(self, wall_seconds: float) -> None:
        """Playback: move time on by ``speed * wall_seconds`` when playing (wrapping at the end)."""
        if self.playing:
            t0, t1 = self.span
            self.set_time(t0 if self.t >= t1 else min(self.t + self.speed * wall_seconds, t1))

    def open(self) -> None:
        """Show the window without blocking (then call :meth:`update` to process events)."""
        self.plotter.show(interactive_update=True, auto_close=False)

    def update(self) -> None:
        """Process pending window events and redraw."""
        self.plotter.update()

    def run(self) -> None:
        """Show the window and run its event loop until it is closed (``q`` or the close button)."""
        self.open()
        iren = self.plotter.iren
        iren.add_observer("TimerEvent", self._tick)
        iren.create_timer(max(1, int(1000 / self.fps)), repeating=True)
        iren.start()

    def image(self) -> np.ndarray:
        return self.view.image()

    def close(self) -> None:
        self.view.close()

    def _tick(self, *_) -> None:
        now = time.perf_counter()
        if self.playing and self._last_tick is not None:
            self.advance(now - self._last_tick)
            self.plotter.render()
        self._last_tick = now

    def _add_timeline(self) -> None:
        t0, t1 = self.span
        widget = dict(style="modern", color=ACCENT, interaction_event="always", title_height=0.022, tube_width=0.006,
                      slider_width=0.018)
        self._slider = self.plotter.add_slider_widget(lambda value: self.set_time(value), [t0, t1], value=t0,
                                                      title="time [s]", pointa=(0.25, 0.07), pointb=(0.75, 0.07),
                                                      fmt="%.1f" if t1 - t0 < 100 else "%.0f", **widget)
        self._speed = self.plotter.add_slider_widget(lambda value: setattr(self, "speed", float(value)),
                                                     [self.speed / 10, self.speed * 10], value=self.speed,
                                                     title="speed [x]", pointa=(0.8, 0.07), pointb=(0.97, 0.07),
                                                     fmt="%.2g", **widget)
        size = max(18, 2 * self.view.font_size)
        self._play_button = self.plotter.add_checkbox_button_widget(
            lambda on: self.play(bool(on)), value=False, position=(int(0.17 * self.view.size[0]), 36), size=size,
            color_on=ACCENT, color_off="#9aa5b1", background_color="white")
        label = self.view.add_text("play", (0.17 + (size + 6) / self.view.size[0], (36 + size / 2) / self.view.size[1]),
                                   self.view.font_size - 1)
        label.GetTextProperty().SetVerticalJustificationToCentered()

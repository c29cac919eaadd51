"""A 3D view of a Site and its water: the sink frames are handed to.

:class:`View3D` owns a PyVista plotter (off screen or a desktop window), the
actors of :mod:`twin.viewer.actors`, a quality preset, a camera, a colour bar in
physical units and the title and time labels. It is a sink in the sense of
:mod:`twin.viewer.sink`: ``update("flood", t, {"depth": ..., "speed": ...})`` and
``show(frame)`` rewrite the water's arrays in place and render; nothing is
rebuilt between frames.
"""

from __future__ import annotations

import math
import os
from contextlib import contextmanager
from os import PathLike
from pathlib import Path

import numpy as np
from twin.viewer.cameras import Camera, fit_view, resolve_camera
from twin.viewer.fields import FIELDS, Frame, History, colour_table
from twin.viewer.geometry import Site
from twin.viewer.quality import QUALITIES, Quality, apply_quality

__all__ = ["View3D", "default_clims", "plotter_window"]

FRAME = (-0.94, 0.76, -0.92, 0.80)
"""Part of the picture a fitted camera fills with the site, in normalized device
coordinates (x0, x1, y0, y1): the right is left to the colour bar, the top to the title."""
TEXT = "#17202a"
WET_THRESHOLD = 1e-3
"""Depth [m] above which a cell counts as wet in a live frame (as in the flood Result)."""
DEFAULT_CLIMS = {"depth": (0.0, 1.0), "speed": (0.0, 3.0), "froude": (0.0, 2.0), "arrival": (0.0, 60.0), "hazard": (0.5, 6.5)}
"""Colour ranges when no Result gives them: depth [m], speed [m/s], Froude [-], arrival [min], hazard [class]."""


def default_clims(history: History | None) -> dict[str, tuple[float, float]]:
    """Colour ranges per field: 0 to the 99th percentile of the run's peaks (at least 0.1 m, 0.5 m/s);
    Froude 0 to 2 (white at 1); arrival over the run [min]."""
    if history is None:
        return dict(DEFAULT_CLIMS)
    wet = history.max_depth > history.wet_threshold
    if not wet.any():
        return dict(DEFAULT_CLIMS)
    depth = max(0.1, float(np.percentile(history.max_depth[wet], 99)))
    speed = max(0.5, float(np.percentile(history.max_speed[wet], 99)))
    t0, t1 = history.span
    return {"depth": (0.0, round(depth, 2)), "speed": (0.0, round(speed, 1)), "froude": (0.0, 2.0),
            "arrival": (t0 / 60.0, max(t1 / 60.0, t0 / 60.0 + 1.0)), "hazard": DEFAULT_CLIMS["hazard"]}


@contextmanager
def plotter_window(off_screen: bool):
    """While open, new VTK render windows are EGL (off screen) or X (a desktop window, needs DISPLAY)."""
    key = "VTK_DEFAULT_OPENGL_WINDOW"
    before = os.environ.get(key)
    if off_screen:
        os.environ.setdefault(key, "vtkEGLRenderWindow")
    else:
        os.environ[key] = "vtkXOpenGLRenderWindow"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = before


class View3D:
    """A 3D picture of ``site`` that frames of water are drawn into.

    Args:
        site: ground, buildings, roads, probes.
        quality: a preset name or a :class:`Quality`.
        size: picture size (width, height) [px].
        camera: preset name, camera file, Camera, or None for the scene's default.
        field: what colours the water (:data:`twin.viewer.fields.FIELDS`).
        clims: colour range per field (defaults: :data:`DEFAULT_CLIMS`).
        z_scale: factor on heights.
        water: False for a scene without water (no colour bar).
        min_depth: water shallower than this [m] is not drawn.
        ground: ``landuse`` or ``hillshade``.
        off_screen: render off screen (EGL) or in a desktop window.

    Attributes:
        plotter: the PyVista plotter; actors: the :class:`twin.viewer.actors.FloodActors`.
        title, subtitle: text overlays (vtkTextActor); bar: the colour bar (None without water).
        font_size: base font size of the overlays [pt].
    """

    def __init__(self, site: Site, *, quality: str | Quality = "high", size: tuple[int, int] = (1600, 900),
                 camera: str | PathLike | Camera | None = None, field: str = "depth",
                 clims: dict[str, tuple[float, float]] | None = None, z_scale: float = 2.0, water: bool = True,
                 min_depth: float = 0.01, ground: str = "landuse", off_screen: bool = True):
        import pyvista as pv
        from twin.viewer.actors import FloodActors

        self.site = site
        self.quality = QUALITIES[quality] if isinstance(quality, str) else quality
        self.size = size
        self.field = field
        self.clims = {**DEFAULT_CLIMS, **(clims or {})}
        self.z_scale = z_scale
        self.frame: Frame | None = None
        self._t: float | None = None
        self._arrival: np.ndarray | None = None
        with plotter_window(off_screen):
            self.plotter = pv.Plotter(off_screen=off_screen, window_size=list(size), lighting="none")
        self.plotter.render_window.SetMultiSamples(self.quality.multi_samples)
        self.plotter.renderer.SetUseOIT(False)  # plain blending: the water is one layer, and OIT costs a fifth of a draft frame
        self.actors = FloodActors(self.plotter, site, self.quality, z_scale=z_scale, ground=ground, water=water,
                                  min_depth=min_depth, label_size=max(8, round(size[1] / 80)))
        scene_size = float(max(self.actors.xs[-1], self.actors.ys[-1], 1.0))
        self._passes = apply_quality(self.plotter, self.quality, scene_size=scene_size)
        self.font_size = max(9, round(size[1] / 50))
        self.title = self.add_text(f" {site.title} ", (0.018, 0.955), self.font_size + 4, bold=True, panel=True)
        self.subtitle = self.add_text("", (0.018, 0.955 - (self.font_size + 9) / size[1] * 1.45), self.font_size,
                                      panel=True)
        note = f"heights x{z_scale:g}" + (f",  {site.crs}" if site.crs else "")
        self.add_text(f" {note} ", (0.018, 0.02), max(8, self.font_size - 3), valign="bottom", panel=True)
        self.bar = self._colour_bar() if water else None
        self.set_camera(resolve_camera(camera, site.key))

    # -- the sink ----------------------------------------------------------------------
    def update(self, kind: str, t: float, fields: dict[str, np.ndarray]) -> None:
        """A frame of a running flood (see :mod:`twin.viewer.sink`): ``depth`` [m] and ``speed`` [m/s], (ny, nx).
        The time of arrival is tracked here, from the first frame on."""
        depth = np.asarray(fields["depth"])
        if self._arrival is None or self._arrival.shape != depth.shape:
            self._arrival = np.full(depth.shape, np.nan)
        self._arrival[np.isnan(self._arrival) & (depth > WET_THRESHOLD)] = t
        self.show(Frame.at(t, depth, np.asarray(fields["speed"]), self._arrival.copy()))

    def show(self, frame: Frame) -> None:
        """Draw ``frame``: rewrite the water's arrays in place, the labels, and render."""
        self._t = float(frame.t)
        self.frame = frame
        self._draw()
        self.plotter.render()

    # -- settings ----------------------------------------------------------------------
    def set_field(self, name: str) -> None:
        """Colour the water by field ``name`` (redrawn at the next frame)."""
        if name not in FIELDS:
            raise KeyError(f"unknown field {name!r}; expected one of {', '.join(FIELDS)}")
        self.field = name
        if self.bar is not None:
            self._set_bar(name)

    def set_camera(self, camera: Camera) -> None:
        """Place the camera (fitting the site in the picture when ``camera.distance`` is None)."""
        actors, site = self.actors, self.site
        if camera.focus is None:
            focus = np.array([actors.xs[-1] / 2, actors.ys[-1] / 2, float(actors.lift(site.ground).mean())])
        else:
            fx, fy = camera.focus[:2]
            fz = camera.focus[2] if len(camera.focus) == 3 else float(site.ground[site.cell_of(fx, fy)])
            focus = actors.to_display([fx], [fy], [fz])[0]
        cam = self.plotter.camera
        cam.view_angle = camera.view_angle
        cam.focal_point = tuple(focus)
        cam.position = tuple(focus + camera.direction() * (camera.distance or 1.0))
        cam.up = (0.0, 1.0, 0.0) if camera.elevation >= 89.99 else (0.0, 0.0, 1.0)
        if camera.distance is None:
            self.plotter.reset_camera()
            if camera.focus is None:
                fit_view(self.plotter, self.size[0] / self.size[1], FRAME)
            cam.zoom(camera.zoom)
        self.plotter.renderer.ResetCameraClippingRange()
        self.camera = camera

    def current_camera(self) -> Camera:
        """The camera as it is now (e.g. after the user moved it), as an orbit with an explicit distance."""
        cam = self.plotter.camera
        focus = np.array(cam.focal_point)
        d = np.array(cam.position) - focus
        dist = float(np.linalg.norm(d))
        x, y, z = self.actors.to_scene(focus)
        elevation = math.degrees(math.asin(np.clip(d[2] / dist, -1.0, 1.0)))
        azimuth = math.degrees(math.atan2(d[0], d[1])) % 360.0
        return Camera(round(azimuth, 2), round(max(elevation, 0.01), 2), (round(x, 2), round(y, 2), round(z, 2)),
                      round(dist, 2), 1.0, cam.view_angle)

    # -- output ------------------------------------------------------------------------
    def image(self) -> np.ndarray:
        """The picture as rendered now, uint8 (height, width, 3)."""
        self.plotter.render()
        return np.asarray(self.plotter.screenshot(return_img=True))[..., :3]

    def save(self, path: str | PathLike) -> Path:
        """Write the picture to a PNG."""
        from PIL import Image

        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(self.image()).save(out)
        return out

    def close(self) -> None:
        """Release the render passes and close the plotter."""
        window = self.plotter.render_window
        if window is not None:
            self.plotter.renderer.SetPass(None)
            for render_pass in reversed(self._passes):
                render_pass.ReleaseGraphicsResources(window)
        self._passes = []
        self.plotter.close()

    # -- drawing -----------------------------------------------------------------------
    def _draw(self) -> None:
        frame = self.frame
        if frame is not None:
            self.actors.show(frame, self.field, self.clims[self.field])
            label = FIELDS[self.field].title.split(" [")[0]
            self.subtitle.SetInput(f" {label},  {frame.label} ")
        elif self._t is not None:
            self.subtitle.SetInput(f" t = {self._t:.0f} s ")

    def add_text(self, text: str, position: tuple[float, float], size: int, *, bold: bool = False, valign: str = "top",
                 panel: bool = False):
        """A text overlay at ``position`` (normalized viewport x, y), ``size`` [pt], on a light ``panel`` if asked;
        returns its vtkTextActor."""
        import vtk

        actor = vtk.vtkTextActor()
        actor.SetInput(text)
        actor.GetPositionCoordinate().SetCoordinateSystemToNormalizedViewport()
        actor.SetPosition(*position)
        prop = actor.GetTextProperty()
        prop.SetFontSize(size)
        prop.SetColor(*_rgb(TEXT))
        prop.SetBold(bold)
        prop.SetShadow(False)
        prop.SetVerticalJustification({"bottom": 0, "center": 1, "top": 2}[valign])
        if panel:
            prop.SetBackgroundColor(1.0, 1.0, 1.0)
            prop.SetBackgroundOpacity(0.6)
        self.plotter.add_actor(actor)
        return actor

    def _colour_bar(self):
        import vtk

        bar = vtk.vtkScalarBarActor()
        bar.SetOrientationToVertical()
        bar.GetPositionCoordinate().SetCoordinateSystemToNormalizedViewport()
        bar.SetPosition(0.885, 0.2)
        bar.SetWidth(0.1)
        bar.SetHeight(0.6)
        bar.SetBarRatio(0.3)
        bar.SetNumberOfLabels(6)
        bar.SetTextPositionToSucceedScalarBar()
        bar.SetTextPad(4)
        bar.SetVerticalTitleSeparation(6)
        bar.UnconstrainedFontSizeOn()
        for prop, size, bold in ((bar.GetTitleTextProperty(), self.font_size, True), (bar.GetLabelTextProperty(), self.font_size - 1, False)):
            prop.SetColor(*_rgb(TEXT))
            prop.SetFontSize(size)
            prop.SetBold(bold)
            prop.SetItalic(False)
            prop.SetShadow(False)
        bar.DrawBackgroundOn()
        bar.GetBackgroundProperty().SetColor(1.0, 1.0, 1.0)
        bar.GetBackgroundProperty().SetOpacity(0.85)
        bar.DrawFrameOff()
        self.plotter.add_actor(bar)
        self._lut = vtk.vtkLookupTable()
        bar.SetLookupTable(self._lut)
        self.bar = bar
        self._set_bar(self.field)
        return bar

    def _set_bar(self, name: str) -> None:
        import vtk

        table = colour_table(name)
        lut = self._lut
        lut.SetNumberOfTableValues(len(table))
        for k, (r, g, b, _) in enumerate(table):
            lut.SetTableValue(k, r, g, b, 1.0)
        lo, hi = self.clims[name]
        lut.SetRange(lo, hi)
        lut.Modified()
        self.bar.SetTitle(FIELDS[name].short.replace(" [", "\n["))
        ticks, decimals = nice_ticks(lo, hi)
        labels = vtk.vtkDoubleArray()
        for tick in ticks:
            labels.InsertNextValue(tick)
        self.bar.SetUseCustomLabels(True)
        self.bar.SetCustomLabels(labels)
        self.bar.SetLabelFormat(f"%.{decimals}f")


def nice_ticks(lo: float, hi: float, most: int = 7) -> tuple[np.ndarray, int]:
    """Round tick values within [lo, hi] (at most ``most``, steps of 1, 2, 2.5 or 5 x 10^k) and their decimals."""
    span = max(hi - lo, 1e-12)
    for power in range(math.floor(math.log10(span / most)), math.floor(math.log10(span)) + 2):
        for mantissa in (1.0, 2.0, 5.0, 2.5):
            step = mantissa * 10.0**power
            ticks = np.arange(math.ceil(lo / step - 1e-9), math.floor(hi / step + 1e-9) + 1) * step
            if len(ticks) <= most:
                decimals = max(0, -power + (1 if mantissa == 2.5 else 0))
                return np.round(ticks, decimals), decimals
    return np.array([lo, hi]), 2


def _rgb(hex_colour: str) -> tuple[float, float, float]:
    return tuple(int(hex_colour[k : k + 2], 16) / 255.0 for k in (1, 3, 5))

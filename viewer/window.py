"""The desktop window of ``twin view``: a 3D view with a timeline, a field selector and click-to-probe.

Controls (all also callable from Python, which is how the tests drive it):

- the time slider at the bottom, play/pause (button or space), the speed slider
  [x real time], Left/Right step one snapshot;
- four buttons (or keys 1-4) colour the water by depth, speed, Froude number
  or time of arrival;
- a click (press and release without dragging) on the ground or the water
  shows the depth over time there in a chart, the current time marked; a
  click near a named probe uses that probe's own series;
- ``c`` writes the current camera to ``camera.json`` (for ``--camera``).

It needs a display: under Linux without one, run it inside Xvfb
(``xvfb-run twin view DIR``).
"""

from __future__ import annotations

import json
from os import PathLike
from pathlib import Path

import numpy as np
from twin.viewer.cameras import Camera
from twin.viewer.fields import FIELDS
from twin.viewer.kindview import ACCENT, TimelineWindow
from twin.viewer.sources import Source
from twin.viewer.view3d import View3D, default_clims

__all__ = ["FloodWindow"]

FIELD_LABELS = {"depth": "depth", "speed": "speed", "froude": "Froude", "arrival": "arrival", "hazard": "hazard"}


class FloodWindow(TimelineWindow):
    """A window on ``source``: the water at one time, and the controls to move through it.

    Args:
        source: from :func:`twin.viewer.sources.open_source`.
        quality: a preset name (``draft`` keeps playback fluid).
        size: window size (width, height) [px].
        camera, field, z_scale, ground: as for :class:`twin.viewer.view3d.View3D`.
        fps: playback frames per wall second.
        off_screen: render off screen (for a test without a display).
    """

    def __init__(self, source: Source, *, quality: str = "draft", size: tuple[int, int] = (1280, 800),
                 camera: str | PathLike | Camera | None = None, field: str = "depth", z_scale: float = 2.0,
                 ground: str = "landuse", fps: float = 12.0, off_screen: bool = False):
        self.source = source
        self.history = source.history
        view = View3D(source.site, quality=quality, size=size, camera=camera, field=field,
                      clims=default_clims(self.history), z_scale=z_scale, water=self.history is not None,
                      ground=ground, off_screen=off_screen)
        self.picked: dict | None = None
        self._down: tuple[int, int] | None = None
        self._field_buttons: dict[str, object] = {}
        super().__init__(view, self.history.times if self.history is not None else np.zeros(1), fps=fps)
        if self.history is not None:
            self.speed = max(self.speed, 1.0)
            self._add_field_buttons()
            self._add_chart()
            self.set_time(self.span[1])
            for k, name in enumerate(FIELDS):
                self.plotter.add_key_event(str(k + 1), lambda name=name: self.set_field(name))
        self._add_picking()
        if self.plotter.iren is not None:
            self.plotter.add_key_event("c", self.save_camera)
        help_text = self.view.add_text("click: depth over time   space: play   1-4: field   c: save camera   q: quit",
                                       (0.5, 0.005), max(8, self.view.font_size - 4), valign="bottom")
        help_text.GetTextProperty().SetJustificationToCentered()

    # -- time --------------------------------------------------------------------------
    def draw(self, t: float) -> None:
        """Show the water at time ``t`` [s] (and mark it in the chart of a picked point)."""
        if self.history is None:
            return
        self.view.show(self.history.frame(t))
        if self.picked is not None:
            self._marker.update([t, t], list(self._chart.y_range))

    # -- fields ------------------------------------------------------------------------
    @property
    def fields(self) -> list[str]:
        """The fields this Result can show: all but ``hazard`` when it has no hazard class."""
        return [name for name in FIELDS if name != "hazard" or (self.history is not None and self.history.hazard is not None)]

    def set_field(self, name: str) -> None:
        """Colour the water by ``name`` (one of :data:`twin.viewer.fields.FIELDS`)."""
        self.view.set_field(name)
        for other, button in self._field_buttons.items():
            button.GetRepresentation().SetState(int(other == name))
        if self.history is not None:
            self.set_time(self.t)

    # -- probing -----------------------------------------------------------------------
    def probe(self, x: float, y: float) -> dict:
        """Depth over time at the point (x, y) [m, scene CRS], shown in the chart; returned as a dict.

        Near a named probe (within three grid cells) its own series is used.
        Keys: ``name``, ``x``, ``y``, ``time`` [s] (n,), ``depth`` [m] (n,), ``ground`` [m].
        """
        site = self.source.site
        j, i = site.cell_of(x, y)
        result = {"name": f"({site.x[i]:.0f}, {site.y[j]:.0f})", "x": float(site.x[i]), "y": float(site.y[j]),
                  "ground": float(site.ground[j, i])}
        ds = self.source.result
        if len(site.probe_names):
            distance = np.hypot(site.probe_xy[:, 0] - x, site.probe_xy[:, 1] - y)
            k = int(np.argmin(distance))
            if distance[k] <= 3.0 * max(site.spacing) and ds is not None and "probe_depth" in ds:
                result.update(name=site.probe_names[k], x=float(site.probe_xy[k, 0]), y=float(site.probe_xy[k, 1]),
                              time=ds["probe_time"].values.astype(np.float64),
                              depth=np.nan_to_num(ds["probe_depth"].isel(probe=k).values.astype(np.float64)))
        if self.history is not None and "time" not in result:
            series = self.history.cell_series(j, i)
            result.update(time=series["time"], depth=series["depth"])
        self.picked = result
        self._show_pick(result)
        return result

    def pick(self, px: int, py: int) -> dict | None:
        """Probe the ground or water under the window pixel (px, py) (origin bottom left); None if nothing is there."""
        import vtk

        picker = vtk.vtkCellPicker()
        picker.SetTolerance(0.0005)
        if not picker.Pick(px, py, 0, self.plotter.renderer) or picker.GetActor() is None:
            return None
        x, y, _ = self.view.actors.to_scene(np.array(picker.GetPickPosition()))
        return self.probe(x, y)

    def display_position(self, x: float, y: float, z: float | None = None) -> tuple[int, int]:
        """Window pixel (origin bottom left) where the scene point (x, y[, z]) [m] appears."""
        site = self.source.site
        if z is None:
            z = float(site.ground[site.cell_of(x, y)])
        point = self.view.actors.to_display([x], [y], [z])[0]
        renderer = self.plotter.renderer
        renderer.SetWorldPoint(*point, 1.0)
        renderer.WorldToDisplay()
        px, py, _ = renderer.GetDisplayPoint()
        return round(px), round(py)

    # -- camera ------------------------------------------------------------------------
    def save_camera(self, path: str | PathLike = "camera.json") -> Path:
        """Write the current camera as a camera file (see :mod:`twin.viewer.cameras`)."""
        out = Path(path)
        out.write_text(json.dumps(self.view.current_camera().to_dict(), indent=2) + "\n")
        print(f"twin: camera written to {out}")
        return out

    # -- widgets -----------------------------------------------------------------------
    def _add_field_buttons(self) -> None:
        width, height = self.view.size
        size = max(16, int(1.6 * self.view.font_size))
        for k, name in enumerate(self.fields):
            y = int(0.80 * height) - k * (size + 8)
            button = self.plotter.add_checkbox_button_widget(
                lambda on, name=name: self.set_field(name) if on else self._field_buttons[name].GetRepresentation().SetState(int(self.view.field == name)),
                value=name == self.view.field, position=(int(0.018 * width), y), size=size,
                color_on=ACCENT, color_off="white", background_color="#4a5560")
            self._field_buttons[name] = button
            self.view.add_text(FIELD_LABELS[name], (0.018 + (size + 8) / width, (y + size / 2) / height),
                            self.view.font_size - 1, valign="center")

    def _add_chart(self) -> None:
        import pyvista as pv

        chart = pv.Chart2D(size=(0.36, 0.3), loc=(0.02, 0.14), x_label="time [s]", y_label="depth [m]")
        chart.background_color = (1.0, 1.0, 1.0, 1.0)
        t0, t1 = self.history.span
        self._line = chart.line([t0, t1], [0.0, 0.0], color=ACCENT, width=2.5)
        self._marker = chart.line([t1, t1], [0.0, 1.0], color="#d62728", width=1.5, style="--")
        chart.visible = False
        self.plotter.add_chart(chart)
        self._chart = chart
        self._pin = None

    def _show_pick(self, result: dict) -> None:
        import pyvista as pv

        top = self.view.actors.to_display([result["x"]], [result["y"]], [result["ground"]])[0]
        height = 0.04 * max(self.view.actors.xs[-1], self.view.actors.ys[-1])
        pin = pv.Cylinder(center=top + [0, 0, height / 2], direction=(0, 0, 1), radius=height / 16, height=height)
        pin = pin.merge(pv.Sphere(radius=height / 6, center=top + [0, 0, height]))
        self.plotter.add_mesh(pin, color="#ffcc00", name="picked", pickable=False, reset_camera=False)
        if "time" not in result:
            self.view.subtitle.SetInput(f" {result['name']}: ground {result['ground']:.2f} m ")
            self.plotter.render()
            return
        t, depth = result["time"], result["depth"]
        self._line.update(t, depth)
        top_depth = max(0.05, float(np.nanmax(depth)) * 1.1) if depth.size else 0.05
        self._chart.y_range = [0.0, top_depth]
        self._chart.x_range = [float(t[0]), float(t[-1])] if t.size > 1 else [0.0, 1.0]
        self._marker.update([self.t, self.t], [0.0, top_depth])
        peak = float(np.nanmax(depth)) if depth.size else 0.0
        self._chart.title = f"{result['name']}: depth, peak {peak:.2f} m"
        self._chart.visible = True
        self.plotter.render()

    def _add_picking(self) -> None:
        iren = self.plotter.iren
        if iren is None:
            return
        iren.add_observer("LeftButtonPressEvent", self._press)
        iren.add_observer("LeftButtonReleaseEvent", self._release)

    def _press(self, *_) -> None:
        self._down = self.plotter.iren.interactor.GetEventPosition()

    def _release(self, *_) -> None:
        if self._down is None:
            return
        x, y = self.plotter.iren.interactor.GetEventPosition()
        if abs(x - self._down[0]) <= 3 and abs(y - self._down[1]) <= 3:
            self.pick(x, y)
        self._down = None

"""The dispersion kind: the plume in 3D over the ground and the weather field, stills, videos, a window.

The ground is the Result's ``ground_elevation`` (y, x) [m] when it has one, else
flat at sea level, coloured by a background field of the Result (``--field``:
``t2m`` in degrees C by default, or ``mslp`` in hPa, ...), with the MSLP
isobars (every 4 hPa) drawn on it when the Result holds ``mslp``. The plume is
the output grid's cells whose concentration is above a thousandth of the
run's peak, as boxes coloured by log10 concentration [kg m-3]; the tracked
particles are dots; the release point is a blue pin. Heights are exaggerated
(``--z-scale``; by default so that the domain's top is 8 % of its width).
Display units are km from the domain's south-west corner. The camera frames the
plume's extent over the whole run (or the domain, before a run), or follows a
named preset; the title is the Result's ``title``.

    twin render out/gfs_plume --out plume.png [--time T]    (default: the last output)
    twin render out/gfs_plume --out plume.mp4 [--frames N]
    twin view out/gfs_plume                                  (the window, with its timeline)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

import numpy as np
import xarray as xr
from twin.viewer.cameras import Camera
from twin.viewer.kindview import KindView, ResultTimes, TimelineWindow, write_still, write_video

from twin.errors import InputError

__all__ = ["PlumeSource", "PlumeView", "PlumeWindow", "open_result", "open_run", "pictures", "render_still",
           "render_video", "snapshot", "window"]

FLOOR = 1e-3
"""Cells with a concentration above this fraction of the run's peak are drawn."""
BACKGROUND_STYLE = {"t2m": ("2 m temperature [°C]", -273.15, 1.0, "coolwarm"),
                    "mslp": ("MSLP [hPa]", 0.0, 0.01, "viridis")}
"""Background field -> (label, offset, factor, colour map): shown = (value + offset) * factor."""


@dataclass
class PlumeSource(ResultTimes):
    """A dispersion Result (or a scene's run before it has run) to look at.

    Attributes:
        path: what was opened; ds: the Result (``concentration`` (time, z, y, x) [kg m-3], background
            fields (y, x), ``particle_position`` (time, particle, 3)), loaded; key: the scene script's stem.
    """

    path: Path
    ds: xr.Dataset
    key: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def title(self) -> str:
        return str(self.ds.attrs.get("title") or "Plume")

    @property
    def backgrounds(self) -> list[str]:
        """Names of the background fields (y, x) of the Result."""
        return [n for n, v in self.ds.data_vars.items() if v.dims == ("y", "x") and n != "ground_elevation"]


def open_result(folder: Path, ds: xr.Dataset) -> PlumeSource:
    """A dispersion Result folder (its ``result.zarr`` opened as ``ds``)."""
    if "concentration" not in ds:
        raise InputError(folder / "result.zarr", "concentration", "missing from this dispersion Result")
    return PlumeSource(folder, ds.load(), Path(str(ds.attrs.get("scene_script", ""))).stem)


def open_run(path: Path, run) -> PlumeSource:
    """A dispersion scene script's run before it has run: the domain, its weather fields and the release point."""
    g = run.output_grid()
    x, y, z = g.centres(0), g.centres(1), g.centres(2)
    ds = xr.Dataset({name: (("y", "x"), np.asarray(v, np.float32), {"units": units, "long_name": long_name})
                     for name, (v, units, long_name) in run.background.items()},
                    coords={"x": x, "y": y, "z": z, "time": [0.0]},
                    attrs={"twin_kind": "dispersion", "title": run.scene.name, "crs": run.scene.crs,
                           "release_x_m": float(run.source[0]), "release_y_m": float(run.source[1]),
                           "release_z_m": float(run.source[2])})
    return PlumeSource(Path(path), ds, Path(path).stem, ["the scene before a run: no plume"])


def auto_z_scale(ds: xr.Dataset) -> float:
    """A round factor on heights that makes the domain's top 8 % of its width."""
    width = max(float(np.ptp(ds["x"].values)), float(np.ptp(ds["y"].values)), 1.0)
    top = float(ds["z"].values[-1]) + (float(np.diff(ds["z"].values[:2])[0]) / 2 if ds.sizes["z"] > 1 else 0.0)
    raw = 0.08 * width / max(top, 1.0)
    decade = 10.0 ** math.floor(math.log10(raw))
    return decade * min((1, 2, 5, 10), key=lambda m: abs(math.log(raw / (decade * m))))


class PlumeView(KindView):
    """The plume in 3D: ground, weather field, isobars, the concentration's cells, particles; a sink for
    live dispersion frames.

    Args:
        source: from :func:`open_result` or :func:`open_run`.
        field: the background field colouring the ground (default ``t2m`` when present).
        z_scale: factor on heights (None: :func:`auto_z_scale`).
        quality, size, camera, off_screen: as for :class:`twin.viewer.kindview.KindView`; a camera's ``focus`` is
            (x, y[, z]) in the scene's CRS [m].
    """

    default_camera = Camera(200.0, 35.0)

    def __init__(self, source: PlumeSource, *, field: str | None = None, z_scale: float | None = None,
                 quality: str = "high", size=(1280, 720), camera=None, off_screen: bool = True):
        import pyvista as pv

        super().__init__(source.title, quality=quality, size=size, camera=camera, key=source.key, off_screen=off_screen)
        ds = self.ds = source.ds
        self.source = source
        self.z_scale = auto_z_scale(ds) if z_scale is None else z_scale
        x, y, z = (ds[c].values.astype(np.float64) for c in ("x", "y", "z"))
        self.cell = (float(x[1] - x[0]), float(y[1] - y[0]), float(z[1] - z[0]) if len(z) > 1 else 1.0)
        self.lo = np.array([x[0] - self.cell[0] / 2, y[0] - self.cell[1] / 2, z[0] - self.cell[2] / 2])
        ground = (ds["ground_elevation"].values.astype(np.float64) if "ground_elevation" in ds
                  else np.zeros((len(y), len(x))))
        gx, gy = np.meshgrid(self.km_x(x), self.km_y(y))
        self.ground = pv.StructuredGrid()
        self.ground.points = np.c_[gx.ravel(), gy.ravel(), ground.ravel() * self.z_scale / 1e3]
        self.ground.dimensions = (len(x), len(y), 1)
        names = source.backgrounds
        if field is not None and field not in names:
            raise InputError("--field", field,
                             f"not a background field of this Result; it has: {', '.join(names) or 'none'}")
        self.field = field or ("t2m" if "t2m" in names else (names[0] if names else None))
        bar = dict(vertical=True, position_x=0.9, position_y=0.52, height=0.38, width=0.05, color="#17202a",
                   title_font_size=self.font_size, label_font_size=self.font_size - 1, fmt="%.0f")
        if self.field is not None:
            label, offset, factor, cmap = BACKGROUND_STYLE.get(self.field, (self.field, 0.0, 1.0, "viridis"))
            self.ground["background"] = ((ds[self.field].values.astype(np.float64) + offset) * factor).ravel()
            self.plotter.add_mesh(self.ground, scalars="background", cmap=cmap, opacity=1.0, lighting=False,
                                  scalar_bar_args={**bar, "title": label})
            _panel(self.plotter.scalar_bars[label])
        else:
            self.plotter.add_mesh(self.ground, color="#cfc9b8", lighting=False)
        if "mslp" in ds:
            flat = self.ground.copy()
            flat["mslp"] = (ds["mslp"].values.astype(np.float64) / 100.0).ravel()
            levels = np.arange(940.0, 1060.0, 4.0)
            isobars = flat.contour(isosurfaces=levels[(levels > flat["mslp"].min()) & (levels < flat["mslp"].max())],
                                   scalars="mslp")
            if isobars.n_points:
                isobars.points[:, 2] += 0.002 * self.width  # just over the ground [km]
                self.plotter.add_mesh(isobars, color="#222222", line_width=1.5, lighting=False)
        c = ds["concentration"].values if "concentration" in ds else np.zeros((1, len(z), len(y), len(x)), np.float32)
        peak = float(np.nanmax(c)) if c.size else 0.0
        self.peak = peak  # [kg m-3]; before a run, the live frames raise it
        self.clim = _clim(peak)
        self.bar = {**bar, "position_y": 0.08, "title": "log10 c [kg m-3]", "fmt": "%.1f"}
        self.extent = self._extent(c, peak)
        if "release_x_m" in ds.attrs:
            rx, ry, rz = (float(ds.attrs[f"release_{a}_m"]) for a in "xyz")
            top = np.array([self.km_x(rx), self.km_y(ry), rz * self.z_scale / 1e3])
            pin = pv.Line(top * [1, 1, 0], top).tube(radius=0.004 * self.width)
            self.plotter.add_mesh(pin.merge(pv.Sphere(radius=0.012 * self.width, center=top)), color="#1f77b4")
        self._note = self.add_text(f" heights x{self.z_scale:g}, {ds.attrs.get('crs', '')} ", (0.018, 0.035),
                                max(8, self.font_size - 3))
        self.set_camera(self._camera_in_km(self.camera))

    @property
    def width(self) -> float:
        """Width of the domain [km]."""
        return float(max(np.ptp(self.ground.points[:, 0]), np.ptp(self.ground.points[:, 1])))

    def km_x(self, x):
        return (np.asarray(x, np.float64) - self.lo[0]) / 1e3

    def km_y(self, y):
        return (np.asarray(y, np.float64) - self.lo[1]) / 1e3

    def _camera_in_km(self, camera: Camera) -> Camera:
        if camera.focus is None:
            return camera
        fz = camera.focus[2] if len(camera.focus) == 3 else 0.0
        focus = (float(self.km_x(camera.focus[0])), float(self.km_y(camera.focus[1])), fz * self.z_scale / 1e3)
        return Camera(camera.azimuth, camera.elevation, focus, camera.distance and camera.distance / 1e3, camera.zoom,
                      camera.view_angle)

    def _extent(self, c: np.ndarray, peak: float) -> np.ndarray:
        """Points (n, 3) [km] the camera frames: the cells the plume fills at any time, with a margin of a
        third of its size, within the domain; the whole domain when there is no plume."""
        b = np.array(self.ground.bounds).reshape(3, 2)
        if peak <= 0:
            top = (self.lo[2] + c.shape[1] * self.cell[2]) * self.z_scale / 1e3
            return np.array([[b[0, 0], b[1, 0], 0.0], [b[0, 1], b[1, 1], top]])
        k, j, i = np.nonzero((c > peak * FLOOR).any(axis=0))
        lo = np.array([i.min(), j.min(), 0]) * self.cell
        hi = (np.array([i.max(), j.max(), k.max()]) + 1) * self.cell
        pad = np.maximum((hi - lo) / 3, 3 * np.array(self.cell))
        lo, hi = (lo - pad) / 1e3, (hi + pad) / 1e3
        lo[:2], hi[:2] = np.maximum(lo[:2], b[:2, 0]), np.minimum(hi[:2], b[:2, 1])
        lo[2], hi[2] = 0.0, (self.lo[2] / 1e3 + hi[2]) * self.z_scale
        return np.array([lo, hi])

    def bounds_points(self) -> np.ndarray:
        return self.extent

    def draw(self, t: float, concentration: np.ndarray | None, particles: np.ndarray | None) -> None:
        """Draw the plume: ``concentration`` (nz, ny, nx) [kg m-3] and ``particles`` (k, 3) [m, scene CRS
        x, y and height], NaN rows not airborne; label the time ``t`` [s]."""
        import pyvista as pv

        for name in ("plume", "particles"):
            self.plotter.remove_actor(name, render=False)
        airborne = 0.0
        top = float(np.nanmax(concentration, initial=0.0)) if concentration is not None else 0.0
        if top > self.peak:
            self.peak, self.clim = top, _clim(top)
        if top > 10 ** self.clim[0]:
            nz, ny, nx = concentration.shape
            grid = pv.ImageData(dimensions=(nx + 1, ny + 1, nz + 1), spacing=(self.cell[0] / 1e3, self.cell[1] / 1e3,
                                self.cell[2] * self.z_scale / 1e3), origin=(0.0, 0.0, self.lo[2] * self.z_scale / 1e3))
            with np.errstate(divide="ignore"):
                grid.cell_data["log10 c"] = np.log10(np.asarray(concentration, np.float64)).ravel()
            cells = grid.threshold(self.clim[0], scalars="log10 c")
            self.plotter.add_mesh(cells, scalars="log10 c", cmap="inferno_r", clim=self.clim, opacity=0.75,
                                  name="plume", scalar_bar_args=self.bar, show_edges=False)
            _panel(self.plotter.scalar_bars[self.bar["title"]])
            airborne = float(np.sum(concentration)) * self.cell[0] * self.cell[1] * self.cell[2]
        if particles is not None:
            p = np.asarray(particles, np.float64)
            p = p[np.isfinite(p).all(axis=1)]
            if len(p):
                shown = np.c_[self.km_x(p[:, 0]), self.km_y(p[:, 1]), p[:, 2] * self.z_scale / 1e3]
                self.plotter.add_mesh(pv.PolyData(shown), color="#2b2b2b", point_size=2.0, opacity=0.5,
                                      render_points_as_spheres=False, name="particles")
        hours = t / 3600.0
        label = f" t = {hours:.1f} h:  {airborne:.3g} kg airborne " if t > 0 or airborne else " t = 0 h "
        self.subtitle.SetInput(label)

    def show(self, t: float) -> None:
        """The plume at the output nearest to ``t`` [s]."""
        ds = self.ds
        k = int(np.argmin(np.abs(self.source.times - t)))
        self.draw(float(self.source.times[k]), ds["concentration"].values[k] if "concentration" in ds else None,
                  ds["particle_position"].values[k] if "particle_position" in ds else None)
        self.plotter.render()

    def update(self, kind: str, t: float, fields: dict[str, np.ndarray]) -> None:
        """A live frame (see :mod:`twin.viewer.sink`): ``concentration`` (nz, ny, nx), ``particles`` (k, 3)."""
        self.draw(t, fields.get("concentration"), fields.get("particles"))
        self.plotter.render()


def _panel(bar) -> None:
    """A light panel behind a scalar bar (readable over any ground)."""
    bar.DrawBackgroundOn()
    bar.GetBackgroundProperty().SetColor(1.0, 1.0, 1.0)
    bar.GetBackgroundProperty().SetOpacity(0.8)


def _clim(peak: float) -> tuple[float, float]:
    """Colour range of log10 concentration: ``FLOOR`` of the peak to the peak [kg m-3] (placeholder before one)."""
    return (math.log10(peak * FLOOR), math.log10(peak)) if peak > 0 else (-12.0, -9.0)


def _check(ground: str | None = None) -> None:
    if ground is not None:
        raise InputError("--ground", ground, "has no meaning for a plume (the ground is coloured by --field)")


def render_still(source: PlumeSource, out, *, time: float | None = None, quality: str = "high", size=(1920, 1080),
                 camera=None, field: str | None = None, z_scale: float | None = None,
                 ground: str | None = None) -> Path:
    """A still (PNG/JPEG) of the plume at ``time`` [s] (default: the last output)."""
    _check(ground)
    view = PlumeView(source, field=field, z_scale=z_scale, quality=quality, size=size, camera=camera)
    try:
        return write_still(view, source.span[1] if time is None else time, out)
    finally:
        view.close()


def render_video(source: PlumeSource, out, *, frames: int = 36, fps: float = 12.0, quality: str = "high",
                 size=(960, 540), camera=None, field: str | None = None, z_scale: float | None = None,
                 ground: str | None = None, progress: bool = True) -> Path:
    """A video (MP4) through the Result's outputs, ``frames`` frames at ``fps``."""
    _check(ground)
    view = PlumeView(source, field=field, z_scale=z_scale, quality=quality, size=size, camera=camera)
    try:
        return write_video(view, np.linspace(*source.span, max(frames, 1)), out, fps=fps, progress=progress)
    finally:
        view.close()


class PlumeWindow(TimelineWindow):
    """The desktop window of a dispersion Result: the plume in 3D and its timeline."""

    def __init__(self, source: PlumeSource, *, quality: str = "draft", size=(1280, 800), camera=None,
                 field: str | None = None, z_scale: float | None = None, off_screen: bool = False):
        view = PlumeView(source, field=field, z_scale=z_scale, quality=quality, size=size, camera=camera,
                         off_screen=off_screen)
        super().__init__(view, source.times)
        self.set_time(self.span[1])


def window(source: PlumeSource, *, quality: str = "draft", size=(1280, 800), camera=None, field: str | None = None,
           z_scale: float | None = None, ground: str | None = None) -> PlumeWindow:
    """The desktop window of ``twin view``."""
    _check(ground)
    return PlumeWindow(source, quality=quality, size=size, camera=camera, field=field, z_scale=z_scale)


def pictures(result_dir: str | PathLike, out_dir: str | PathLike, *, progress: bool = True) -> dict[str, Path]:
    """``plume.png`` (maps of the column mass, :mod:`twin.viewer.plume_maps`), ``plume3d.png`` (the last output in
    3D, 1280 x 720) and ``plume.mp4`` (the outputs in 3D, four a second, 960 x 540) of a dispersion Result."""
    from twin.viewer.plume_maps import write_plume_pictures

    folder, out = Path(result_dir), Path(out_dir)
    source = open_result(folder, xr.open_zarr(folder / "result.zarr", decode_times=False))
    maps = write_plume_pictures(source.ds, out)
    return {**maps, "still": render_still(source, out / "plume3d.png", size=(1280, 720)),
            "video": render_video(source, out / "plume.mp4", frames=len(source.times), fps=4.0, size=(960, 540),
                                  progress=progress)}


def snapshot(sim) -> dict[str, np.ndarray]:
    """The live fields of a dispersion :class:`twin.physics.simulation.Simulation`: ``concentration`` (nz, ny, nx)
    [kg m-3] and ``particles`` (k, 3) [m, scene CRS x, y and height]."""
    snap = sim.recorder.snapshot(sim.state)
    particles = snap["particles"].astype(np.float64)
    particles[:, :2] += np.asarray(sim.solver.model.origin, np.float64)[:2]
    return {"concentration": snap["concentration"], "particles": particles}


def live_window(run, sim, *, key: str = "", quality: str = "draft", size=(1024, 576), camera=None,
                field: str | None = None, z_scale: float | None = None, ground: str | None = None) -> PlumeView:
    """A window that shows a dispersion run's live frames (the camera framed on the domain)."""
    _check(ground)
    view = PlumeView(open_run(Path(key or "plume"), run), field=field, z_scale=z_scale, quality=quality, size=size,
                     camera=camera, off_screen=False)
    view.plotter.show(interactive_update=True, auto_close=False)
    return view

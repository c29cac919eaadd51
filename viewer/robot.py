"""The robot kind: a robot cell's visual meshes posed from its link poses; stills, videos, a window with joint plots.

The visual meshes (COLLADA, STL, OBJ, ... through trimesh) are loaded once, placed
by their ``<visual><origin>`` in their link's frame, and moved every frame by a
VTK user transform from the Result's ``link_pose`` (no mesh is rebuilt). The floor
is a grid sized to the arm's reach, under a sky; the tool's path is drawn as a
line. The camera frames the bounding box of every link's meshes over the whole
cycle (or follows a named preset); the title is the Result's ``title``.

    twin render out/ur5_cell --out cell.png [--time T]      (a still; default: the cycle's middle)
    twin render out/ur5_cell --out cell.mp4 [--frames N]    (the cycle)
    twin view out/ur5_cell                                   (the window: timeline, joint plots)

A scene script (``twin render scenes/ur5_cell.py``) is shown along its set
points (forward kinematics, no dynamics) before it has run.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

import numpy as np
import xarray as xr
from twin.viewer.cameras import Camera
from twin.viewer.kindview import KindView, ResultTimes, TimelineWindow, write_still, write_video

from twin.errors import InputError

__all__ = ["RobotSource", "RobotView", "RobotWindow", "link_meshes", "open_result", "open_run", "pictures",
           "render_still", "render_video", "snapshot", "swept_points", "window"]

COLOURS = ("#3b4a5a", "#6d8fb8", "#c9ccd1", "#c9ccd1", "#6d8fb8", "#6d8fb8", "#3b4a5a")
"""Link colours along the chain (hex), repeated for longer chains."""
JOINT_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")


@dataclass
class RobotSource(ResultTimes):
    """A robot Result (or a scene's set points) to look at.

    Attributes:
        path: what was opened; ds: the Result (time, joint, link, pose), loaded.
        robot: the URDF robot; key: the scene script's stem; title: the Result's title.
        notes: things the user may want to know.
    """

    path: Path
    ds: xr.Dataset
    robot: object
    key: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def title(self) -> str:
        return str(self.ds.attrs.get("title") or self.robot.name)


def _read_robot(urdf: str, where):
    from twin.io.urdf import UrdfWarning, read_urdf

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UrdfWarning)
        try:
            return read_urdf(urdf)
        except InputError:
            raise
        except OSError as e:
            raise InputError(where, "urdf", f"{urdf} cannot be read ({e})") from None


def open_result(folder: Path, ds: xr.Dataset) -> RobotSource:
    """A robot Result folder (its ``result.zarr`` opened as ``ds``)."""
    for name in ("link_pose", "q", "q_ref", "torque", "tool_position"):
        if name not in ds:
            raise InputError(folder / "result.zarr", name, "missing from this robot Result")
    ds = ds.load()
    try:
        key = Path(json.loads((folder / "summary.json").read_text()).get("script") or "").stem
    except (OSError, ValueError):
        key = ""
    return RobotSource(folder, ds, _read_robot(str(ds.attrs.get("urdf", "")), folder / "result.zarr"), key)


def open_run(path: Path, run, frames: int = 120) -> RobotSource:
    """A robot scene script's run before it has run: the robot along its set points (forward kinematics)."""
    from twin.physics.robot.system import build_robot

    system = build_robot(run.robot, device="cpu", floor=False, kp=run.kp, kd=run.kd)
    links = sorted({m.link for m in run.robot.meshes if m.role == "visual"}, key=list(system.bodies).index)
    times = np.linspace(0.0, run.trajectory.duration, frames)
    q = np.array([run.trajectory(t)[0] for t in times])
    poses = np.array([system.link_poses(system.state(qk), [run.tool, *links]) for qk in q])
    joint = ("time", "joint")
    ds = xr.Dataset({"q": (joint, q), "q_ref": (joint, q), "torque": (joint, np.zeros_like(q)),
                     "tool_position": (("time", "xyz"), poses[:, 0, :3]),
                     "link_pose": (("time", "link", "pose"), poses[:, 1:])},
                    coords={"time": times, "joint": system.joints, "link": links},
                    attrs={"twin_kind": "robot", "title": run.name, "urdf": run.robot.source})
    note = "the set points of the scene (not run): no torques"
    return RobotSource(Path(path), ds, run.robot, Path(path).stem, [note])


def _matrix(xyz, rpy) -> np.ndarray:
    """4 x 4 transform of a URDF origin (roll-pitch-yaw about fixed x, y, z)."""
    r, p, y = rpy
    cr, sr, cp, sp, cy, sy = np.cos(r), np.sin(r), np.cos(p), np.sin(p), np.cos(y), np.sin(y)
    m = np.eye(4)
    m[:3, :3] = [[cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
                 [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
                 [-sp, cp * sr, cp * cr]]
    m[:3, 3] = xyz
    return m


def pose_matrices(poses: np.ndarray) -> np.ndarray:
    """4 x 4 transforms (..., 4, 4) of poses (..., 7): position [m] and quaternion (x, y, z, w)."""
    q = poses[..., 3:7] / np.linalg.norm(poses[..., 3:7], axis=-1, keepdims=True)
    x, y, z, w = np.moveaxis(q, -1, 0)
    m = np.zeros(poses.shape[:-1] + (4, 4))
    m[..., 0, :3] = np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], -1)
    m[..., 1, :3] = np.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], -1)
    m[..., 2, :3] = np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1)
    m[..., :3, 3] = poses[..., :3]
    m[..., 3, 3] = 1.0
    return m


def link_meshes(robot) -> dict[str, list]:
    """Each link's visual meshes as pyvista PolyData in the link's frame [m]."""
    import pyvista as pv
    import trimesh

    out: dict[str, list] = {}
    for ref in robot.meshes:
        if ref.role != "visual":
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tm = trimesh.load(str(ref.path), force="mesh")
        except Exception as e:  # trimesh raises many kinds for a broken file
            raise InputError(robot.source, f"link {ref.link}", f"mesh {ref.uri!r} cannot be read ({e})") from None
        v = np.asarray(tm.vertices, np.float64) * np.asarray(ref.scale)
        v = v @ _matrix(*ref.origin)[:3, :3].T + _matrix(*ref.origin)[:3, 3]
        f = np.hstack([np.full((len(tm.faces), 1), 3), np.asarray(tm.faces)]).ravel()
        out.setdefault(ref.link, []).append(pv.PolyData(v, f).compute_normals(auto_orient_normals=False))
    return out


def swept_points(meshes: dict[str, list], links: list[str], poses: np.ndarray, samples: int = 60) -> np.ndarray:
    """Corners of every link's mesh bounding box at ``samples`` of the poses (time, link, 7), in the world [m],
    (n, 3): what the arm sweeps through (a link without mesh counts by its origin)."""
    from twin.viewer.cameras import box_corners

    picks = poses[np.unique(np.linspace(0, len(poses) - 1, samples).round().astype(int))]
    out = [picks[:, :, :3].reshape(-1, 3)]
    for i, link in enumerate(links):
        for poly in meshes.get(link, []):
            corners = np.c_[box_corners(np.asarray(poly.points)), np.ones(8)]
            out.append(np.einsum("tij,cj->tci", pose_matrices(picks[:, i]), corners)[..., :3].reshape(-1, 3))
    return np.concatenate(out)


class RobotView(KindView):
    """The cell in 3D: the links' meshes, the floor, the tool path; a sink for live robot frames.

    Args:
        source: from :func:`open_result` or :func:`open_run`.
        quality, size, camera, off_screen: as for :class:`twin.viewer.kindview.KindView`.
    """

    default_camera = Camera(135.0, 22.0)

    def __init__(self, source: RobotSource, *, quality: str = "high", size: tuple[int, int] = (1280, 720),
                 camera=None, off_screen: bool = True):
        import pyvista as pv

        super().__init__(source.title, quality=quality, size=size, camera=camera, key=source.key, off_screen=off_screen)
        self.source, ds = source, source.ds
        self.links = [str(v) for v in ds["link"].values]
        self.poses = ds["link_pose"].values
        self.meshes = link_meshes(source.robot)
        self.swept = swept_points(self.meshes, self.links, self.poses)
        lo, hi = self.swept.min(axis=0), self.swept.max(axis=0)
        reach = float(max(hi[0] - lo[0], hi[1] - lo[1]))
        spacing = 10.0 ** np.floor(np.log10(reach / 4))  # floor tiles of 1, 10, 100 ... cm
        half = np.ceil(0.8 * reach / spacing) * spacing
        centre = np.round((lo[:2] + hi[:2]) / 2 / spacing) * spacing
        floor = pv.Plane(center=(centre[0], centre[1], min(lo[2], 0.0) - 1e-3), i_size=2 * half, j_size=2 * half,
                         i_resolution=int(2 * half / spacing), j_resolution=int(2 * half / spacing))
        self.plotter.add_mesh(floor, color="#9a9890", show_edges=True, edge_color="#7f7d76")
        self.plotter.add_mesh(pv.lines_from_points(ds["tool_position"].values), color="#e6550d", line_width=3)
        self.actors: dict[str, list] = {}
        for k, link in enumerate(self.links):
            for poly in self.meshes.get(link, []):
                actor = self.plotter.add_mesh(poly, color=COLOURS[k % len(COLOURS)], smooth_shading=True, specular=0.4,
                                              specular_power=20)
                self.actors.setdefault(link, []).append(actor)
        self.set_camera()

    def bounds_points(self) -> np.ndarray:
        return self.swept

    def pose(self, link_pose: np.ndarray, t: float) -> None:
        """Move every link to ``link_pose`` (links, 7) and label the time ``t`` [s]."""
        for link, matrix in zip(self.links, pose_matrices(np.asarray(link_pose, np.float64))):
            for actor in self.actors.get(link, []):
                actor.user_matrix = matrix
        self.subtitle.SetInput(f" t = {t:5.2f} s of {self.source.span[1]:.2f} s ")

    def show(self, t: float) -> None:
        """The cell at the recorded frame nearest to ``t`` [s]."""
        times = self.source.times
        k = int(np.argmin(np.abs(times - t)))
        self.pose(self.poses[k], float(times[k]))
        self.plotter.render()

    def update(self, kind: str, t: float, fields: dict[str, np.ndarray]) -> None:
        """A live frame (see :mod:`twin.viewer.sink`): ``link_pose`` (links, 7) in this view's link order."""
        self.pose(fields["link_pose"], t)
        self.plotter.render()


def _check(options: dict) -> None:
    for name, value in options.items():
        if value is not None:
            raise InputError(f"--{name.replace('_', '-')}", str(value), "has no meaning for a robot cell")


def render_still(source: RobotSource, out, *, time: float | None = None, quality: str = "high",
                 size=(1920, 1080), camera=None, **options) -> Path:
    """A still (PNG/JPEG) of the cell at ``time`` [s] (default: the middle of the cycle)."""
    _check(options)
    view = RobotView(source, quality=quality, size=size, camera=camera)
    try:
        return write_still(view, sum(source.span) / 2 if time is None else time, out)
    finally:
        view.close()


def render_video(source: RobotSource, out, *, frames: int = 36, fps: float = 12.0, quality: str = "high",
                 size=(960, 540), camera=None, progress: bool = True, **options) -> Path:
    """A video (MP4) of the whole cycle in ``frames`` frames at ``fps``."""
    _check(options)
    view = RobotView(source, quality=quality, size=size, camera=camera)
    try:
        return write_video(view, np.linspace(*source.span, max(frames, 1)), out, fps=fps, progress=progress)
    finally:
        view.close()


class RobotWindow(TimelineWindow):
    """The desktop window of a robot Result: the cell, its timeline, and the joint plots (q solid and q_ref
    dashed [rad], drive torques [N m], one colour per joint, named below) with a cursor at the current time."""

    def __init__(self, source: RobotSource, *, quality: str = "draft", size=(1280, 800), camera=None,
                 off_screen: bool = False):
        import pyvista as pv

        view = RobotView(source, quality=quality, size=size, camera=camera, off_screen=off_screen)
        self.charts, self.cursors = [], []  # before the timeline, whose slider draws at once
        super().__init__(view, source.times)
        ds, t = source.ds, source.times
        view.frame = (-0.95, 0.2, -0.72, 0.8)  # the right is left to the plots
        view.set_camera()
        for k, (names, label) in enumerate(((("q", "q_ref"), "joint position [rad]"), (("torque",), "torque [N m]"))):
            chart = pv.Chart2D(size=(0.36, 0.34), loc=(0.62, 0.6 - 0.36 * k), x_label="time [s]", y_label=label)
            chart.background_color = (1.0, 1.0, 1.0, 0.85)
            chart.legend_visible = False
            values = np.concatenate([ds[n].values.ravel() for n in names])
            lo, hi = float(values.min()), float(values.max())
            pad = 0.05 * (hi - lo or 1.0)
            for name in names:
                for j in range(ds.sizes["joint"]):
                    chart.line(t, ds[name].values[:, j], color=JOINT_COLOURS[j % len(JOINT_COLOURS)],
                               width=2.0 if name != "q_ref" else 1.0, style="-" if name != "q_ref" else "--")
            chart.x_range, chart.y_range = [float(t[0]), float(t[-1]) or 1.0], [lo - pad, hi + pad]
            self.cursors.append(chart.line([t[0], t[0]], chart.y_range, color="#d62728", width=1.5))
            self.plotter.add_chart(chart)
            self.charts.append(chart)
        rows = (ds.sizes["joint"] + 1) // 2
        for j, joint in enumerate(ds["joint"].values):  # the legend: joint names in their colours, q_ref dashed
            place = (0.62 + 0.18 * (j // rows), 0.225 - 0.03 * (j % rows))
            text = view.add_text(f" {joint} ", place, max(8, view.font_size - 3))
            colour = JOINT_COLOURS[j % len(JOINT_COLOURS)]
            text.GetTextProperty().SetColor(*(int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)))
        self.set_time(self.t)

    def draw(self, t: float) -> None:
        super().draw(t)
        for chart, cursor in zip(self.charts, self.cursors):
            cursor.update([t, t], list(chart.y_range))


def window(source: RobotSource, *, quality: str = "draft", size=(1280, 800), camera=None, **options) -> RobotWindow:
    """The desktop window of ``twin view``."""
    _check(options)
    return RobotWindow(source, quality=quality, size=size, camera=camera)


def pictures(result_dir: str | PathLike, out_dir: str | PathLike, *, progress: bool = True) -> dict[str, Path]:
    """``cell.png`` (mid-cycle, 1280 x 720) and ``cell.mp4`` (the cycle at 15 frames/s, 960 x 540) of a robot Result."""
    import xarray as xr

    folder, out = Path(result_dir), Path(out_dir)
    source = open_result(folder, xr.open_zarr(folder / "result.zarr", decode_times=False))
    frames = max(2, int(round((source.span[1] - source.span[0]) * 15)))
    return {"still": render_still(source, out / "cell.png", size=(1280, 720)),
            "video": render_video(source, out / "cell.mp4", frames=frames, fps=15.0, size=(960, 540),
                                  progress=progress)}


def snapshot(sim) -> dict[str, np.ndarray]:
    """The live fields of a robot :class:`twin.physics.simulation.Simulation`: ``q``, ``q_ref``, ``torque``
    (joints,), ``link_pose`` (links, 7)."""
    stepper, state = sim.solver, sim.state.newton
    return {"q": stepper.system.q(state), "q_ref": np.asarray(stepper.trajectory(sim.t)[0], np.float64),
            "torque": stepper.solver.torque, "link_pose": stepper.system.link_poses(state, sim.recorder.links)}


def live_window(run, sim, *, key: str = "", quality: str = "draft", size=(1024, 576), camera=None,
                **options) -> RobotView:
    """A window that shows a robot run's live frames (the camera framed on the run's set points)."""
    _check(options)
    view = RobotView(open_run(Path(key or "robot"), run), quality=quality, size=size, camera=camera, off_screen=False)
    view.plotter.show(interactive_update=True, auto_close=False)
    return view

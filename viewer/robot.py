"""Pictures of a robot Result: the robot's real visual meshes posed from the recorded link poses.

The visual meshes (COLLADA, STL, OBJ, ... through trimesh) are loaded once, placed
by their ``<visual><origin>`` in their link's frame, and moved every frame by a
VTK user transform from the Result's ``link_pose`` (no mesh is rebuilt). The floor
is a grid under a sky-coloured background; the tool's path is drawn as a line.

    twin render out/ur5_cell --out cell.png [--time T]      (a still; default: the cycle's middle)
    twin render out/ur5_cell --out cell.mp4 [--frames N]    (the cycle)
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np

from twin.errors import InputError

__all__ = ["cmd_render_robot", "is_robot_result", "link_meshes", "render_robot"]

COLOURS = {"base_link": "#3b4a5a", "shoulder_link": "#6d8fb8", "upper_arm_link": "#c9ccd1", "forearm_link": "#c9ccd1",
           "wrist_1_link": "#6d8fb8", "wrist_2_link": "#6d8fb8", "wrist_3_link": "#3b4a5a"}
"""Link colours (hex); any other link is light grey."""


def is_robot_result(path: str | Path) -> bool:
    """``path`` is a folder holding a robot run's ``result.zarr`` (its attrs name a URDF)."""
    import json

    meta = Path(path) / "result.zarr" / ".zattrs"
    try:
        return "urdf" in json.loads(meta.read_text())
    except (OSError, ValueError):
        return False


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


def _pose_matrix(pose: np.ndarray) -> np.ndarray:
    """4 x 4 transform of a pose (x, y, z, qx, qy, qz, qw)."""
    x, y, z, w = pose[3:7] / np.linalg.norm(pose[3:7])
    m = np.eye(4)
    m[:3, :3] = [[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                 [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                 [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]]
    m[:3, 3] = pose[:3]
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


def render_robot(result_dir: str | Path, out: str | Path, *, time: float | None = None, frames: int | None = None,
                 fps: float = 30.0, size: tuple[int, int] = (1280, 720), progress: bool = True) -> Path:
    """A still (PNG/JPEG) at ``time`` [s], or with ``frames`` a video (MP4) of the whole run, of a robot Result."""
    import pyvista as pv
    import xarray as xr

    from twin.io.urdf import UrdfWarning, read_urdf
    from viewer.quality import SKY_HORIZON, SKY_TOP
    from viewer.view3d import plotter_window

    result_dir, out = Path(result_dir), Path(out)
    with xr.open_zarr(result_dir / "result.zarr") as ds:
        ds = ds.load()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UrdfWarning)
        robot = read_urdf(ds.attrs["urdf"])
    meshes = link_meshes(robot)
    links = [str(v) for v in ds["link"].values]
    poses = ds["link_pose"].values
    times = ds["time"].values
    tool = ds["tool_position"].values
    with plotter_window(off_screen=True):
        plotter = pv.Plotter(off_screen=True, window_size=list(size))
    plotter.set_background(SKY_HORIZON, top=SKY_TOP)
    floor = pv.Plane(center=(0.2, 0, -0.001), i_size=2.4, j_size=2.4, i_resolution=24, j_resolution=24)
    plotter.add_mesh(floor, color="#9a9890", show_edges=True, edge_color="#7f7d76", lighting=True)
    plotter.add_mesh(pv.lines_from_points(tool), color="#e6550d", line_width=3)
    actors = {}
    for link in links:
        for poly in meshes.get(link, []):
            actor = plotter.add_mesh(poly, color=COLOURS.get(link, "#d9d9d9"), smooth_shading=True, specular=0.4,
                                     specular_power=20)
            actors.setdefault(link, []).append(actor)
    if frames is None:  # SSAA (EGL has no FXAA) renders 5 times: for stills only
        plotter.enable_anti_aliasing("ssaa")
    plotter.camera_position = [(1.7, -1.3, 1.0), (0.2, 0.1, 0.25), (0, 0, 1)]
    title = plotter.add_text(" ", position=(12, size[1] - 36), font_size=12, color="black")

    def show(k: int) -> None:
        for link, acts in actors.items():
            m = _pose_matrix(poses[k, links.index(link)])
            for a in acts:
                a.user_matrix = m
        title.SetInput(f" {ds.attrs.get('title', 'robot')}  t = {times[k]:5.2f} s / cycle {ds.attrs['cycle_time_s']:.2f} s ")

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.stem + ".partial" + out.suffix)
    try:
        if frames is None:
            k = int(np.argmin(np.abs(times - (0.5 * times[-1] if time is None else time))))
            show(k)
            plotter.screenshot(str(tmp))
        else:
            import imageio_ffmpeg
            from tqdm import tqdm

            w, h = size[0] - size[0] % 2, size[1] - size[1] % 2
            writer = imageio_ffmpeg.write_frames(str(tmp), (w, h), fps=fps, codec="libx264", pix_fmt_out="yuv420p",
                                                 quality=8, macro_block_size=2, ffmpeg_log_level="error")
            writer.send(None)
            try:
                for k in tqdm(np.linspace(0, len(times) - 1, frames).round().astype(int), unit="frame", file=sys.stderr,
                              disable=not progress, desc=f"rendering {out.name}"):
                    show(k)
                    plotter.render()
                    writer.send(np.ascontiguousarray(plotter.screenshot(return_img=True)[:h, :w]))
            finally:
                writer.close()
        tmp.replace(out)
    finally:
        plotter.close()
    return out


def cmd_render_robot(argv: list[str]) -> int:
    """``twin render DIR`` for a robot Result: a still at ``--time`` or a video of ``--frames``."""
    import argparse

    from viewer.cli import parse_size

    p = argparse.ArgumentParser(prog="twin render", description="Render a robot Result to a picture or a video, off screen.")
    p.add_argument("source", type=Path, help="the run's folder (holding result.zarr)")
    p.add_argument("--out", type=Path, required=True, help="FILE.png (or .jpg) for a still, FILE.mp4 for a video")
    p.add_argument("--time", type=float, help="time [s] of a still (default: the middle of the run)")
    p.add_argument("--frames", type=int, default=120, help="frames of a video (default 120)")
    p.add_argument("--fps", type=float, default=30.0, help="frames per second of a video (default 30)")
    p.add_argument("--size", default="1280x720", help="WIDTHxHEIGHT in pixels (default 1280x720)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    suffix = args.out.suffix.lower()
    if suffix not in (".png", ".jpg", ".jpeg", ".mp4"):
        raise InputError(args.out, "", "expected a .png, .jpg, .jpeg or .mp4 file")
    video = suffix == ".mp4"
    if video and args.time is not None:
        raise InputError("--time", str(args.time), "a video runs through the whole result; leave out --time")
    out = render_robot(args.source, args.out, time=args.time, frames=args.frames if video else None, fps=args.fps,
                       size=parse_size(args.size), progress=not args.quiet)
    print(f"twin: wrote {out}")
    return 0

"""Off-screen stills and videos of a Result or a scene (what ``twin render`` does).

A still of a Result shows the water at one time (or its peak); a video runs
through the Result's time, the water interpolated between snapshots, with the
time in the subtitle and the colour bar beside. A scene without a Result is
drawn dry; its video is a turntable around the site. Videos are written with
imageio-ffmpeg (H.264, yuv420p), a progress bar on stderr while they render.
"""

from __future__ import annotations

import sys
from os import PathLike
from pathlib import Path

import numpy as np
from twin.viewer.cameras import Camera, resolve_camera
from twin.viewer.sources import Source
from twin.viewer.view3d import View3D, default_clims

from twin.errors import InputError

__all__ = ["render_still", "render_video", "video_times"]


def _view(source: Source, *, quality: str, size: tuple[int, int], camera, field: str, z_scale: float,
          ground: str) -> View3D:
    view = View3D(source.site, quality=quality, size=size, camera=camera, field=field,
                  clims=default_clims(source.history), z_scale=z_scale, water=source.history is not None,
                  ground=ground)
    if source.history is None:
        view.subtitle.SetInput(f" {len(source.site.footprints)} buildings, {len(source.site.probe_names)} probes (no result) ")
    return view


def render_still(source: Source, out: str | PathLike, *, time: float | None = None, quality: str = "high",
                 size: tuple[int, int] = (1920, 1080), camera: str | PathLike | Camera | None = None,
                 field: str = "depth", z_scale: float = 2.0, ground: str = "landuse") -> Path:
    """Render one picture of ``source`` to ``out`` (PNG or JPEG).

    Args:
        source: from :func:`twin.viewer.sources.open_source`.
        out: the picture to write.
        time: simulated time [s] of a Result's water, or None for its peak.
        quality: ``draft``, ``high`` or ``cinematic``.
        size: (width, height) [px].
        camera: preset name, camera file, Camera or None (the scene's default).
        field: what colours the water.
        z_scale: factor on heights.
        ground: ``landuse`` or ``hillshade`` colours.

    Returns:
        The path written.
    """
    view = _view(source, quality=quality, size=size, camera=camera, field=field, z_scale=z_scale, ground=ground)
    try:
        if source.history is not None:
            view.show(source.history.peak() if time is None else source.history.frame(time))
        return view.save(out)
    finally:
        view.close()


def video_times(span: tuple[float, float], frames: int) -> np.ndarray:
    """``frames`` times [s] evenly over ``span`` (first and last included)."""
    return np.linspace(span[0], span[1], max(frames, 1))


def render_video(source: Source, out: str | PathLike, *, frames: int = 36, fps: float = 12.0, quality: str = "high",
                 size: tuple[int, int] = (960, 540), camera: str | PathLike | Camera | None = None,
                 field: str = "depth", z_scale: float = 2.0, ground: str = "landuse",
                 progress: bool = True) -> Path:
    """Render a video of ``source`` to ``out`` (MP4): the Result's time, or a turntable around a scene.

    ``frames`` pictures shown at ``fps`` per second; the other arguments as in
    :func:`render_still`. A width or height that is odd is rounded down to even
    (H.264 needs even sizes).
    """
    import imageio_ffmpeg
    from tqdm import tqdm

    size = (size[0] - size[0] % 2, size[1] - size[1] % 2)
    if frames < 1 or not fps > 0:
        raise InputError("--frames/--fps", "", f"need at least one frame and a positive rate, got {frames}, {fps}")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    view = _view(source, quality=quality, size=size, camera=camera, field=field, z_scale=z_scale, ground=ground)
    base = resolve_camera(camera, source.site.key)
    writer = imageio_ffmpeg.write_frames(str(out), size, fps=fps, codec="libx264", pix_fmt_out="yuv420p",
                                         quality=8, macro_block_size=2, ffmpeg_log_level="error")
    writer.send(None)
    bar = tqdm(total=frames, unit="frame", desc=f"rendering {out.name}", file=sys.stderr, disable=not progress)
    try:
        if source.history is not None:
            for t in video_times(source.history.span, frames):
                view.show(source.history.frame(t))
                writer.send(np.ascontiguousarray(view.image()))
                bar.update()
        else:
            for k in range(frames):
                view.set_camera(Camera(base.azimuth + 360.0 * k / frames, base.elevation, base.focus, base.distance,
                                       base.zoom, base.view_angle))
                writer.send(np.ascontiguousarray(view.image()))
                bar.update()
    finally:
        bar.close()
        writer.close()
        view.close()
    return out


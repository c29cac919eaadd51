"""``twin render`` and ``twin view``.

    twin render SCENE|RESULT_DIR --out FILE.png|FILE.mp4 [--time T|peak] [--quality draft|high|cinematic]
                [--camera NAME|FILE.json] [--size WxH] [--field depth|speed|froude|arrival|hazard]
                [--frames N] [--fps F] [--z-scale Z] [--ground landuse|hillshade] [--set name=value ...]
    twin view SCENE|RESULT_DIR [--quality ...] [--camera ...] [--size WxH] [--field ...] [--z-scale Z]

SCENE is a scene script (``.py``, parameters with ``--set``) or a scene file
(``.twin``); RESULT_DIR a folder holding ``result.zarr``. Bad input is one
line and exit status 2 (raised as :class:`twin.errors.InputError`).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

from twin.errors import InputError
from viewer.fields import FIELDS
from viewer.quality import QUALITIES

__all__ = ["cmd_render", "cmd_view", "parse_size", "parse_time"]


class _Parser(argparse.ArgumentParser):
    """argparse that raises InputError (one line, exit 2) instead of printing usage and exiting."""

    def error(self, message: str):
        raise InputError(self.prog, "", message)


def _common(p: argparse.ArgumentParser, *, quality: str, size: str) -> None:
    p.add_argument("source", help="scene script (.py), scene file (.twin) or result folder (with result.zarr)")
    p.add_argument("--quality", default=quality, help=f"{', '.join(QUALITIES)} (default {quality})")
    p.add_argument("--camera", help="camera preset name or camera file (.json); default: the scene's default")
    p.add_argument("--size", default=size, help=f"picture size WxH in pixels (default {size})")
    p.add_argument("--field", default="depth", help=f"what colours the water: {', '.join(FIELDS)} (default depth)")
    p.add_argument("--z-scale", type=float, default=2.0, help="factor on heights (default 2)")
    p.add_argument("--ground", default="landuse", help="ground colours: landuse or hillshade (default landuse)")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="scene script parameter")


def parse_size(text: str) -> tuple[int, int]:
    """``"1920x1080"`` -> (1920, 1080); InputError unless two positive integers up to 8192."""
    width, sep, height = text.lower().partition("x")
    try:
        size = (int(width), int(height))
    except ValueError:
        size = None
    if not sep or size is None or not all(0 < v <= 8192 for v in size):
        raise InputError("--size", text, "expected WIDTHxHEIGHT in pixels, e.g. 1920x1080")
    return size


def parse_time(text: str | None, span: tuple[float, float] | None) -> float | None:
    """``--time``: seconds within the Result's ``span`` [s], or ``peak`` (None); None when not given."""
    if text is None or text.lower() == "peak":
        return None
    if span is None:
        raise InputError("--time", text, "a scene has no time; render a result folder")
    try:
        t = float(text)
    except ValueError:
        raise InputError("--time", text, "expected seconds or 'peak'") from None
    if not (math.isfinite(t) and span[0] - 1e-9 <= t <= span[1] + 1e-9):
        raise InputError("--time", text, f"outside the result's time, {span[0]:g} to {span[1]:g} s")
    return t


def _check(args) -> None:
    if args.quality not in QUALITIES:
        raise InputError("--quality", args.quality, f"expected one of {', '.join(QUALITIES)}")
    if args.field not in FIELDS:
        raise InputError("--field", args.field, f"expected one of {', '.join(FIELDS)}")
    if args.ground not in ("landuse", "hillshade"):
        raise InputError("--ground", args.ground, "expected landuse or hillshade")
    if not (math.isfinite(args.z_scale) and args.z_scale > 0):
        raise InputError("--z-scale", str(args.z_scale), "expected a positive number")


def _check_source(args, source) -> None:
    """Refuse ``--field hazard`` for a Result without the hazard class (runs before max_depth_velocity was tracked)."""
    if args.field == "hazard" and (source.history is None or source.history.hazard is None):
        raise InputError("--field", "hazard", "this Result has no hazard class (it needs max_depth_velocity, recorded by newer runs)")


def cmd_render(argv: list[str]) -> int:
    """``twin render``: a still (PNG/JPEG) or a video (MP4) of a scene or a result, off screen."""
    from viewer.cameras import resolve_camera
    from viewer.render import STILL_SUFFIXES, VIDEO_SUFFIXES, render_still, render_video
    from viewer.robot import cmd_render_robot, is_robot_result
    from viewer.sources import open_source

    if argv and is_robot_result(argv[0]):
        return cmd_render_robot(argv)
    p = _Parser(prog="twin render", description="Render a scene or a result to a picture or a video, off screen.")
    _common(p, quality="high", size="1920x1080")
    p.add_argument("--out", type=Path, required=True, help="FILE.png (or .jpg) for a still, FILE.mp4 for a video")
    p.add_argument("--time", help="simulated time [s] of a still, or 'peak' (default: the peak of the run)")
    p.add_argument("--frames", type=int, default=36, help="frames of a video (default 36)")
    p.add_argument("--fps", type=float, default=12.0, help="frames per second of a video (default 12)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    _check(args)
    size = parse_size(args.size)
    suffix = args.out.suffix.lower()
    if suffix not in STILL_SUFFIXES + VIDEO_SUFFIXES:
        raise InputError(args.out, "", f"expected a {', '.join(STILL_SUFFIXES + VIDEO_SUFFIXES)} file")
    source = open_source(args.source, assignments=args.set)
    _check_source(args, source)
    for note in source.notes:
        print(f"twin: {note}", file=sys.stderr)
    camera = resolve_camera(args.camera, source.site.key)
    options = dict(quality=args.quality, size=size, camera=camera, field=args.field, z_scale=args.z_scale,
                   ground=args.ground)
    if suffix in VIDEO_SUFFIXES:
        if args.time is not None:
            raise InputError("--time", args.time, "a video runs through the whole result; leave out --time")
        out = render_video(source, args.out, frames=args.frames, fps=args.fps, progress=not args.quiet, **options)
    else:
        out = render_still(source, args.out, time=parse_time(args.time, source.history and source.history.span),
                           **options)
    print(f"twin: wrote {out}")
    return 0


def cmd_view(argv: list[str]) -> int:
    """``twin view``: the desktop window (needs a display; use ``xvfb-run`` on a headless machine)."""
    from viewer.cameras import resolve_camera
    from viewer.sources import open_source
    from viewer.window import FloodWindow

    p = _Parser(prog="twin view", description="Look at a scene or a result in a window with a timeline.")
    _common(p, quality="draft", size="1280x800")
    args = p.parse_args(argv)
    _check(args)
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        raise InputError("twin view", "", "no display (DISPLAY is not set); run it as: xvfb-run twin view ...")
    source = open_source(args.source, assignments=args.set)
    _check_source(args, source)
    for note in source.notes:
        print(f"twin: {note}", file=sys.stderr)
    window = FloodWindow(source, quality=args.quality, size=parse_size(args.size),
                         camera=resolve_camera(args.camera, source.site.key), field=args.field,
                         z_scale=args.z_scale, ground=args.ground)
    try:
        window.run()
    finally:
        window.close()
    return 0

"""``twin render`` and ``twin view``, for a Result or a scene of any kind.

    twin render SCENE|RESULT_DIR --out FILE.png|FILE.mp4 [--time T|peak] [--quality draft|high|cinematic]
                [--camera NAME|FILE.json] [--size WxH] [--field depth|speed|froude|arrival|hazard]
                [--frames N] [--fps F] [--z-scale Z] [--ground landuse|hillshade] [--set name=value ...]
    twin view SCENE|RESULT_DIR [--quality ...] [--camera ...] [--size WxH] [--field ...] [--z-scale Z]

SCENE is a scene script (``.py``, parameters with ``--set``) or a scene file
(``.twin``); RESULT_DIR a folder holding ``result.zarr``. What is drawn depends
on the kind (the Result's ``twin_kind``, the scene script's run's ``kind``),
through :mod:`twin.viewer.kinds`. ``--field``, ``--z-scale`` and ``--ground``
default to the kind's own choice; a kind refuses one it has no use for. Bad
input is one line and exit status 2 (raised as :class:`twin.errors.InputError`).
"""

from __future__ import annotations

import math
import os
import sys

from twin.viewer.quality import QUALITIES

from twin.errors import InputError

__all__ = ["cmd_render", "cmd_view", "options", "parse_size", "parse_time"]

STILL_SUFFIXES = (".png", ".jpg", ".jpeg")
VIDEO_SUFFIXES = (".mp4",)


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


def options(args) -> dict:
    """The drawing options every kind's functions take: quality, size, camera, and field, z_scale, ground
    (None where not given: the kind's default)."""
    if args.quality not in QUALITIES:
        raise InputError("--quality", args.quality, f"expected one of {', '.join(QUALITIES)}")
    if args.z_scale is not None and not (math.isfinite(args.z_scale) and args.z_scale > 0):
        raise InputError("--z-scale", str(args.z_scale), "expected a positive number")
    return dict(quality=args.quality, size=parse_size(args.size), camera=args.camera, field=args.field,
                z_scale=args.z_scale, ground=args.ground)


def _open(args):
    from twin.viewer.kinds import open_any

    kind, source = open_any(args.source, assignments=args.set)
    for note in source.notes:
        print(f"twin: {note}", file=sys.stderr)
    return kind, source


def cmd_render(args) -> int:
    """``twin render``: a still (PNG/JPEG) or a video (MP4) of a scene or a result of any kind, off screen
    (the options: ``twin render --help``, :func:`twin.app.cli.build_parser`)."""
    if args.out is None:
        raise InputError("twin render", "", "--out FILE.png|FILE.mp4 is required")
    opts = options(args)
    suffix = args.out.suffix.lower()
    if suffix not in STILL_SUFFIXES + VIDEO_SUFFIXES:
        raise InputError(args.out, "", f"expected a {', '.join(STILL_SUFFIXES + VIDEO_SUFFIXES)} file")
    if suffix in VIDEO_SUFFIXES and args.time is not None:
        raise InputError("--time", args.time, "a video runs through the whole result; leave out --time")
    if args.frames < 1 or not args.fps > 0:
        raise InputError("--frames/--fps", "",
                         f"need at least one frame and a positive rate, got {args.frames}, {args.fps}")
    kind, source = _open(args)
    if suffix in VIDEO_SUFFIXES:
        out = kind.render_video(source, args.out, frames=args.frames, fps=args.fps, progress=not args.quiet, **opts)
    else:
        out = kind.render_still(source, args.out, time=parse_time(args.time, source.span), **opts)
    print(f"twin: wrote {out}")
    return 0


def cmd_view(args) -> int:
    """``twin view``: the desktop window of any kind (needs a display; use ``xvfb-run`` on a headless machine)."""
    opts = options(args)
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        raise InputError("twin view", "", "no display (DISPLAY is not set); run it as: xvfb-run twin view ...")
    kind, source = _open(args)
    window = kind.window(source, **opts)
    try:
        window.run()
    finally:
        window.close()
    return 0

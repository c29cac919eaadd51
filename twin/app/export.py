"""``twin export``: a scene (and a flood result's water) to OpenUSD."""

from __future__ import annotations

import re

from twin.errors import InputError
from twin.scene import Scene
from twin.usd import EXTENSIONS, check_usd, export_usd

__all__ = ["cmd_export"]


def _load_scene(target: str, assignments: list[str]) -> Scene:
    """The Scene of a scene script (with --set values) or of a .twin file."""
    if target.lower().endswith(".twin"):
        from twin.scene import load_scene

        if assignments:
            raise InputError("twin export", "--set", "a .twin file has no parameters")
        return load_scene(target)
    from twin.app.runs import load_run

    run, _ = load_run(target, assignments)
    scene = getattr(run, "scene", None)
    if not isinstance(scene, Scene):
        raise InputError(target, "setup()", f"a {run.kind} run has no georeferenced Scene to export to USD")
    return scene


def cmd_export(args) -> int:
    """``twin export SCENE --usd FILE.usd|.usda|.usdc [--result DIR] [--set name=value ...] [--check]``."""
    if args.usd.suffix.lower() not in EXTENSIONS:
        raise InputError(args.usd, "", f"a USD file must end in {', '.join(EXTENSIONS)}")
    if args.result is not None and not args.result.exists():
        raise InputError(args.result, "", "no such result folder")
    scene = _load_scene(args.scene, args.set)
    counts = export_usd(scene, args.usd, result=args.result)
    parts = ", ".join(f"{v} {re.sub('_', ' ', k)}" for k, v in counts.items())
    print(f"twin: wrote {args.usd} ({parts}; {scene.crs}, origin {scene.origin[0]:.3f}, {scene.origin[1]:.3f})")
    if args.check:
        errors, warnings = check_usd(args.usd)
        for line in warnings + errors:
            print(f"twin: usd check: {line}")
        if errors:
            raise InputError(args.usd, "", f"fails {len(errors)} usd check(s): {errors[0]}")
        print("twin: usd check passed")
    return 0

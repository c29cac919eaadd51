"""``twin export``: a scene (and a flood result's water) to OpenUSD; a flood Result to GIS files.

    twin export SCENE --usd FILE.usd|.usda|.usdc [--result DIR] [--set name=value ...] [--check]
    twin export RESULT_DIR [--geotiff DIR] [--netcdf FILE.nc] [--vector FILE.gpkg]
"""

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
    """``twin export`` (see the module docstring): USD with ``--usd``, GIS files otherwise."""
    gis = (args.geotiff, args.netcdf, args.vector)
    if args.usd is None:
        return _export_gis(args)
    if any(v is not None for v in gis):
        raise InputError("twin export", "--usd", "writes a scene; export a Result's GIS files in a second command")
    if args.usd.suffix.lower() not in EXTENSIONS:
        raise InputError(args.usd, "", f"a USD file must end in {', '.join(EXTENSIONS)}")
    if args.result is not None and not args.result.exists():
        raise InputError(args.result, "", "no such result folder")
    scene = _load_scene(args.source, args.set)
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


def _export_gis(args) -> int:
    from twin.app.gis import export_gis

    if args.set or args.result or args.check:
        raise InputError("twin export", "", "--set, --result and --check go with --usd")
    done = export_gis(args.source, geotiff=args.geotiff, netcdf=args.netcdf, vector=args.vector)
    if "geotiff" in done:
        print(f"twin: wrote {len(done['geotiff'])} GeoTIFFs in {args.geotiff}: {', '.join(done['geotiff'])}")
    if "netcdf" in done:
        print(f"twin: wrote {done['netcdf']}")
    if "vector" in done:
        print(f"twin: wrote {args.vector} ({', '.join(f'{k}: {v}' for k, v in done['vector'].items())})")
    return 0

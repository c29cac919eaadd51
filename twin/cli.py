"""The ``twin`` command.

    twin run SCENE [--set name=value ...] --out DIR [--device cpu|cuda] [--resume DIR] [--pictures] [--view]
    twin run SCENE --surrogate MODEL [--set name=value ...] --out DIR
    twin run SCENE --help
    twin inspect FILE [--json]
    twin render SCENE|RESULT_DIR --out FILE.png|FILE.mp4 [--time T] [--quality draft|high|cinematic] [--camera NAME|FILE.json] [--size WxH]
    twin view SCENE|RESULT_DIR
    twin export SCENE --usd FILE.usd|.usda|.usdc [--result DIR]
    twin batch SWEEP.toml --out DIR [--workers N] [--scheduler tcp://HOST:PORT]
    twin surrogate train SWEEP_DIR --out MODEL
    twin replay LOG.csv --mqtt HOST:PORT --topic T [--speed 1000]
    twin sync SCENE --mqtt HOST:PORT [--topic T] [--out DIR]
    twin forecast train --data FILE.nc --out MODEL | predict --model MODEL --data FILE.nc --leads 1,6,24,48 --out PRED.nc

Bad input is one line on stderr and exit status 2; a run stopped by a guard
(NaN, negative depth) exits with 3, one interrupted by Ctrl-C with 130, after
writing the result up to its last output.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from pathlib import Path

from twin.errors import EXIT_INPUT, InputError, SimulationError, TwinError

EXIT_FAILED = 3
EXIT_INTERRUPTED = 130


def _run_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="twin run", add_help=False, description="Run a scene script and write DIR/result.zarr and DIR/summary.json.")
    p.add_argument("scene", help="path of the scene script (e.g. scenes/merewether.py)")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="set a scene parameter (repeatable)")
    p.add_argument("--out", type=Path, help="output folder")
    p.add_argument("--device", default=os.environ.get("TWIN_DEVICE"), help="cpu or cuda[:N] (default: TWIN_DEVICE, else cuda when present)")
    p.add_argument("--resume", type=Path, metavar="DIR", help="continue the run in DIR from its last checkpoint")
    p.add_argument("--pictures", action="store_true", help="also write pictures of the result into DIR")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--view", action="store_true", help="show the running simulation in a window (draft quality, 10 frames/s)")
    p.add_argument("--surrogate", type=Path, metavar="MODEL", help="predict with a surrogate (twin surrogate train) instead of solving")
    p.add_argument("-h", "--help", action="store_true", help="show the scene's parameters and exit")
    return p


def cmd_run(argv: list[str]) -> int:
    from twin.runner import load_script, parameters_of, run_flood

    parser = _run_parser()
    if not argv or argv[0] in ("-h", "--help"):
        parser.print_help()
        return 0
    args = parser.parse_args(argv)
    script = load_script(args.scene)
    if args.help:
        parser.print_help()
        print(f"\nparameters of {args.scene} (set with --set name=value):")
        for prm in script.PARAMETERS:
            print("  " + prm.describe())
        return 0
    out = args.resume or args.out
    if out is None:
        raise InputError("twin run", "", "--out DIR (or --resume DIR) is required")
    if args.resume and args.out and args.out.resolve() != args.resume.resolve():
        raise InputError("twin run", "", "--resume continues in its own folder; leave out --out or give the same one")
    params = parameters_of(script, args.scene, args.set)
    if args.surrogate:
        return _run_surrogate(args, params, out)
    run = script.setup(params)
    out.mkdir(parents=True, exist_ok=True)
    live = None
    if args.view:
        from viewer.live import LiveViewer

        live = LiveViewer(run, key=Path(args.scene).stem)  # one-line InputError when there is no display
    if hasattr(run, "run"):
        return _run_own_loop(run, args, params, out, live)
    try:
        summary = run_flood(run, out, parameters=params, script=args.scene, device=args.device,
                            resume=args.resume is not None, progress=not args.quiet, on_step=live)
    except KeyboardInterrupt:
        if live is not None:
            live.close()
        print(f"twin: interrupted; the result up to the last output is in {out}/result.zarr (continue with --resume {out})", file=sys.stderr)
        return EXIT_INTERRUPTED
    if live is not None:
        live.close(hold=sys.stdin.isatty())  # from a terminal, the window stays until closed (q)
    vb = summary["volume_balance"]
    print(f"twin: {summary['steps']} steps, {summary['simulated_time_s']:.0f} s simulated in {summary['wall_time_s']:.1f} s wall "
          f"on {summary['device']}; volume error {vb['relative_error']:.2e} of the water moved")
    print(f"twin: result {out / 'result.zarr'}, summary {out / 'summary.json'}")
    if args.pictures:
        from viewer.flood_report import write_flood_pictures

        pictures = write_flood_pictures(out / "result.zarr", out)
        for name, path in pictures.items():
            print(f"twin: picture {name}: {path}")
    return 0


def _run_surrogate(args, params: dict, out: Path) -> int:
    from physics.surrogates.flood import write_result

    if args.resume:
        raise InputError("twin run", "", "--surrogate predicts at once; there is nothing to --resume")
    if args.pictures or args.view:
        raise InputError("twin run", "--surrogate", "predicts peak depth and hydrographs only; --pictures and --view need a solver run")
    summary = write_result(args.surrogate, params, out, script=args.scene)
    print(f"twin: surrogate prediction in {summary['prediction_time_s'] * 1e3:.2f} ms; "
          f"result {out / 'result.zarr'}, summary {out / 'summary.json'}")
    return 0


def _run_own_loop(run, args, params: dict, out: Path, live) -> int:
    """A scene whose run has its own loop (a robot cell, ``physics.robot.RobotRun``; a dispersion run,
    ``twin.dispersion_run.DispersionRun``): run it (shown live by ``live``, if any), print its summary."""
    try:
        summary = run.run(out, parameters=params, script=args.scene, device=args.device, resume=args.resume is not None,
                          progress=not args.quiet, on_step=live)
    except KeyboardInterrupt:
        if live is not None:
            live.close()
        print(f"twin: interrupted; the result up to the last frame is in {out}/result.zarr", file=sys.stderr)
        return EXIT_INTERRUPTED
    if live is not None:
        live.close(hold=sys.stdin.isatty())
    print(f"twin: {summary['simulated_time_s']:.2f} s simulated in {summary['wall_time_s']:.1f} s wall on {summary['device']}")
    print(f"twin: result {out / 'result.zarr'}, summary {out / 'summary.json'}")
    if args.pictures:
        for name, path in run.pictures(out, progress=not args.quiet).items():
            print(f"twin: picture {name}: {path}")
    return 0


def cmd_inspect(argv: list[str]) -> int:
    from twin.inspect import describe, format_description

    p = argparse.ArgumentParser(prog="twin inspect", description="Say what twin's importers read from a file.")
    p.add_argument("file", type=Path)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    args = p.parse_args(argv)
    d = describe(args.file)
    print(json.dumps(d, indent=2, default=str) if args.json else format_description(d))
    return 0


def _lazy(module: str, name: str):
    """A command implemented elsewhere, imported when it runs (keeps `twin` start-up light)."""

    def command(argv: list[str]) -> int:
        import importlib

        return getattr(importlib.import_module(module), name)(argv)

    return command


COMMANDS = {
    "run": cmd_run,
    "inspect": cmd_inspect,
    "render": _lazy("viewer.cli", "cmd_render"),
    "view": _lazy("viewer.cli", "cmd_view"),
    "export": _lazy("twin.usd", "cmd_export"),
    "batch": _lazy("twin.batch", "cmd_batch"),
    "surrogate": _lazy("physics.surrogates.cli", "cmd_surrogate"),
    "replay": _lazy("twin.sync", "cmd_replay"),
    "sync": _lazy("twin.sync", "cmd_sync"),
    "forecast": _lazy("twin.forecast_cli", "cmd_forecast"),
}


def _warning_line(message, category, filename, lineno, file=None, line=None) -> None:
    """twin's own warnings (defaults applied to an input) as one line on stderr, without Python's source excerpt."""
    print(f"twin: warning: {message}", file=sys.stderr if file is None else file)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    warnings.showwarning = _warning_line
    if not argv or argv[0] not in COMMANDS:
        print(__doc__.strip(), file=sys.stderr if argv else sys.stdout)
        return 0 if not argv or argv[0] in ("-h", "--help") else EXIT_INPUT
    try:
        return COMMANDS[argv[0]](argv[1:])
    except SimulationError as e:
        print(f"twin: run stopped: {e}", file=sys.stderr)
        return EXIT_FAILED
    except TwinError as e:
        print(f"twin: {e}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("twin: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())

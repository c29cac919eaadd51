"""``twin run``: any scene script, any kind, through one path.

The run a script's ``setup(p)`` returns is built and simulated by
:func:`twin.app.runs.execute`; ``--view`` attaches the viewer's live sink of the
run's kind; ``--pictures`` writes the kind's pictures (:mod:`twin.viewer.kinds`).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from twin.errors import EXIT_INTERRUPTED, InputError, TwinError
from twin.script import load_script

__all__ = ["run"]


def _check_out(out: Path) -> None:
    """Refuse an output path that is a file, or under one, or in a folder that cannot be written."""
    if out.exists() and not out.is_dir():
        raise InputError(out, "", "exists and is not a folder; give a folder for --out")
    parent = next((p for p in (out, *out.parents) if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise InputError(out, "", f"{parent} is a file, not a folder")
    if parent is not None and not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(out, "", f"cannot write in {parent} (permission denied)")


def _print_help(args, parser_help: str) -> int:
    print(parser_help)
    if args.scene:
        script = load_script(args.scene)
        print(f"\nparameters of {args.scene} (set with --set name=value):")
        for prm in script.PARAMETERS:
            print("  " + prm.describe())
    return 0


def run(args) -> int:
    """``twin run SCENE --out DIR ...`` (see ``twin run --help``)."""
    if args.help or not args.scene:
        return _print_help(args, args.format_help())
    out = args.resume or args.out
    if out is None:
        raise InputError("twin run", "", "--out DIR (or --resume DIR) is required")
    if args.resume and args.out and args.out.resolve() != args.resume.resolve():
        raise InputError("twin run", "", "--resume continues in its own folder; leave out --out or give the same one")
    _check_out(out)
    if args.surrogate:
        return _run_surrogate(args, out)
    from twin.app.runs import execute, load_run

    run_, params = load_run(args.scene, args.set)
    if args.hot_start is not None:
        if run_.kind != "flood":
            raise InputError("--hot-start", args.hot_start, f"continues a flood run; {args.scene} is a {run_.kind} run")
        run_.hot_start = args.hot_start
    live = None
    if args.view:
        from twin.viewer.kinds import live_sink

        live = live_sink(run_, key=Path(args.scene).stem)  # one-line InputError when there is no display
    created = not out.exists()
    try:
        summary = execute(run_, out, parameters=params, script=args.scene, device=args.device,
                          resume=args.resume is not None, progress=not args.quiet, on_step=live)
    except KeyboardInterrupt:
        if live is not None:
            live.close()
        print(f"twin: interrupted; the result up to the last output is in {out}/result.zarr "
              f"(continue with --resume {out})", file=sys.stderr)
        return EXIT_INTERRUPTED
    except TwinError:
        if created and out.is_dir() and not any(out.iterdir()):
            shutil.rmtree(out, ignore_errors=True)  # a refusal leaves nothing behind
        raise
    if live is not None:
        live.close(hold=sys.stdin.isatty())  # from a terminal, the window stays until closed (q)
    print(f"twin: {run_.report(summary)}")
    print(f"twin: result {out / 'result.zarr'}, summary {out / 'summary.json'}")
    if args.pictures:
        from twin.viewer.kinds import write_pictures

        for name, path in write_pictures(out, progress=not args.quiet).items():
            print(f"twin: picture {name}: {path}")
    return 0


def _run_surrogate(args, out: Path) -> int:
    from twin.physics.surrogates.flood import write_result
    from twin.script import parameters_of

    if args.resume or args.hot_start:
        raise InputError("twin run", "", "--surrogate predicts at once; there is nothing to --resume or --hot-start")
    if args.pictures or args.view:
        raise InputError("twin run", "--surrogate", "predicts peak depth and hydrographs only; --pictures and --view need a solver run")
    script = load_script(args.scene)
    params = parameters_of(script, args.scene, args.set)
    summary = write_result(args.surrogate, params, out, script=args.scene)
    print(f"twin: surrogate prediction in {summary['prediction_time_s'] * 1e3:.2f} ms; "
          f"result {out / 'result.zarr'}, summary {out / 'summary.json'}")
    return 0

"""The ``twin`` command: one parser tree, one error boundary.

    twin run SCENE --out DIR [--set NAME=VALUE ...] [--device cpu|cuda[:N]] [--resume DIR] [--hot-start DIR[:T]]
             [--pictures] [--view]
    twin run SCENE --surrogate MODEL --out DIR
    twin inspect FILE [--json]
    twin render SCENE|RESULT_DIR --out FILE.png|FILE.mp4 [...]
    twin view SCENE|RESULT_DIR [...]
    twin export SCENE --usd FILE [--result DIR] | RESULT_DIR [--geotiff DIR] [--netcdf FILE.nc] [--vector FILE.gpkg]
    twin batch SWEEP.toml --out DIR [--workers N] [--scheduler tcp://HOST:PORT] [--ensemble N]
    twin surrogate train SWEEP_DIR --out MODEL | evaluate MODEL HOLDOUT_DIR [--json]
    twin replay LOG.csv --mqtt HOST:PORT --topic T [--username NAME --password-file FILE] [--tls --cafile FILE]
    twin sync SCENE --mqtt HOST:PORT [--username NAME --password-file FILE] [--tls --cafile FILE] [--out DIR]
    twin forecast train --data FILE.nc --out MODEL | predict --model MODEL --data FILE.nc --leads 1,6 --out PRED.nc

Every command takes ``--help``; ``twin --version`` says the version. The options
shared by several commands (``--device``, ``--quiet``, ``--out``, ``--set``,
``--json``) come from one parent parser each and mean the same everywhere.

Exit status: 0 done; 2 bad input (one line naming the file, the place and what
is wrong) or a missing optional extra (one line naming it); 3 a run stopped by
a guard (NaN, negative depth, CFL); 130 Ctrl-C (the result up to the last output
is written); 1 a bug: one line, the traceback in ``OUT/twin-error.log`` (or on
stderr with ``TWIN_DEBUG=1``).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import signal
import sys
import tempfile
import threading
import traceback
import warnings
from pathlib import Path

from twin import __version__
from twin.errors import (
    EXIT_BUG,
    EXIT_INPUT,
    EXIT_INTERRUPTED,
    EXIT_STOPPED,
    InputError,
    SimulationError,
    TwinError,
    missing_extra,
)

__all__ = ["build_parser", "main"]

if "--multiprocessing-fork" in sys.orig_argv:
    # A worker process of `twin batch` (multiprocessing's spawn runs the parent's main module, this one,
    # first). A Ctrl-C in a terminal reaches the whole process group; stopping the workers is `twin
    # batch`'s job (it stops the sweep, writes the store and closes them), not a traceback from each.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class Parser(argparse.ArgumentParser):
    """argparse that raises :class:`InputError` (one line, exit 2) instead of printing usage and exiting,
    and takes options only as spelled (no abbreviations: ``--password`` must never mean ``--password-file``)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        raise InputError(self.prog, "", message)


def _parents() -> dict[str, argparse.ArgumentParser]:
    """The shared options, one parent parser each."""
    device = Parser(add_help=False)
    device.add_argument("--device", default=os.environ.get("TWIN_DEVICE"),
                        help="cpu or cuda[:N] (default: TWIN_DEVICE, else cuda when present)")
    quiet = Parser(add_help=False)
    quiet.add_argument("--quiet", action="store_true", help="no progress bar")
    out = Parser(add_help=False)
    out.add_argument("--out", type=Path, help="where to write (a folder or a file, as the command says)")
    assign = Parser(add_help=False)
    assign.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="set a scene parameter (repeatable)")
    as_json = Parser(add_help=False)
    as_json.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    return {"device": device, "quiet": quiet, "out": out, "set": assign, "json": as_json}


def _handler(module: str, name: str):
    """A command implemented in ``module``, imported when it runs (keeps ``twin --help`` light)."""

    def handle(args) -> int:
        return getattr(importlib.import_module(module), name)(args)

    return handle


def build_parser() -> Parser:
    """The whole ``twin`` command tree."""
    p = _parents()
    root = Parser(prog="twin", description="Digital twins of real places: real data in, Warp physics, pictures out.",
                  epilog="Run 'twin COMMAND --help' for a command's options.")
    root.add_argument("--version", action="version", version=f"twin {__version__}")
    sub = root.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=Parser)

    run = sub.add_parser("run", parents=[p["out"], p["set"], p["device"], p["quiet"]], add_help=False,
                         help="run a scene script (any kind: flood, dispersion, robot, machine)",
                         description="Run a scene script and write OUT/result.zarr and OUT/summary.json.")
    run.add_argument("scene", nargs="?", help="path of the scene script (e.g. scenes/merewether.py)")
    run.add_argument("--resume", type=Path, metavar="DIR", help="continue the run in DIR from its last checkpoint")
    run.add_argument("--hot-start", metavar="RESULT_DIR[:TIME]",
                     help="a flood run: start from the state of an earlier run at its stored time TIME [s] (the last "
                     "by default), of the same grid and CRS")
    run.add_argument("--pictures", action="store_true", help="also write the kind's pictures of the result into OUT")
    run.add_argument("--view", action="store_true", help="watch the running simulation in a window")
    run.add_argument("--surrogate", type=Path, metavar="MODEL",
                     help="predict with a surrogate (twin surrogate train) instead of solving")
    run.add_argument("-h", "--help", action="store_true", help="show this help and the scene's parameters")
    run.set_defaults(handler=_handler("twin.app.run_command", "run"), format_help=run.format_help)

    inspect = sub.add_parser("inspect", parents=[p["json"]], help="say what twin's importers read from a file",
                             description="Say what twin's importers read from a file.")
    inspect.add_argument("file", type=Path)
    inspect.set_defaults(handler=_handler("twin.app.cli", "cmd_inspect"))

    export = sub.add_parser("export", parents=[p["set"]],
                            help="write a scene to OpenUSD, or a flood Result to GeoTIFF, NetCDF and GeoPackage",
                            description="Write a scene (and a flood result's water) to OpenUSD (--usd), or a flood "
                            "Result to Cloud-Optimized GeoTIFFs, one CF NetCDF-4 file and a GeoPackage.")
    export.add_argument("source", help="scene script or .twin file (with --usd), or a result folder (GIS files)")
    export.add_argument("--usd", type=Path, metavar="FILE", help="output .usd, .usda or .usdc")
    export.add_argument("--result", type=Path, metavar="DIR", help="with --usd: a `twin run` folder, the water over time")
    export.add_argument("--check", action="store_true", help="with --usd: validate the file afterwards (as usdchecker)")
    export.add_argument("--geotiff", type=Path, metavar="DIR", help="Cloud-Optimized GeoTIFFs of the peaks, hazard "
                        "and arrival, nodata where dry")
    export.add_argument("--netcdf", type=Path, metavar="FILE.nc", help="the Result as one CF-1.10 NetCDF-4 file")
    export.add_argument("--vector", type=Path, metavar="FILE.gpkg", help="the flood extent, hazard zones and probes "
                        "with their peaks, as a GeoPackage")
    export.set_defaults(handler=_handler("twin.app.export", "cmd_export"))

    batch = sub.add_parser("batch", parents=[p["out"], p["quiet"]], help="run a sweep of a scene script (any kind)",
                           description="Run a sweep of a scene script and collect it into one store.")
    batch.add_argument("sweep", type=Path, help="the sweep file (TOML)")
    batch.add_argument("--workers", type=int, help="local worker processes (default: the CPU count)")
    batch.add_argument("--scheduler", help="address of a running Dask scheduler, e.g. tcp://10.0.0.5:8786")
    batch.add_argument("--ensemble", type=int, metavar="N", help="a flood sweep: run N runs at a time as one ensemble "
                       "(one batched State in the same launches; each member bitwise its single run)")
    batch.set_defaults(handler=_handler("twin.app.batch", "cmd_batch"))

    surrogate = sub.add_parser("surrogate", help="train a surrogate on a sweep, measure it on held-out runs",
                               description="Surrogates of flood sweeps.")
    ssub = surrogate.add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=Parser)
    train = ssub.add_parser("train", parents=[p["out"]], help="learn a sweep's peak-depth field and probe hydrographs")
    train.add_argument("sweep_dir", type=Path, help="the --out folder of twin batch")
    train.add_argument("--energy", type=float, default=1 - 1e-4, help="share of the variance the reduced bases keep")
    train.add_argument("--regression", default="rbf", help="of the mode coefficients: rbf (cubic RBF interpolant, "
                       "the default) or mlp (a small network trained with Warp)")
    train.set_defaults(handler=_handler("twin.app.surrogate", "cmd_train"))
    evaluate = ssub.add_parser("evaluate", parents=[p["out"], p["json"]], help="errors and speed-up on held-out runs")
    evaluate.add_argument("model", type=Path)
    evaluate.add_argument("holdout_dir", type=Path, help="the --out folder of twin batch of runs not used in training")
    evaluate.set_defaults(handler=_handler("twin.app.surrogate", "cmd_evaluate"))

    forecast = sub.add_parser("forecast", help="train the learned 2 m temperature forecast and run it",
                              description="The learned 2 m temperature forecast.")
    fsub = forecast.add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=Parser)
    ftrain = fsub.add_parser("train", parents=[p["out"], p["device"], p["quiet"]],
                             help="train one small conv net per lead on hourly t2m")
    ftrain.add_argument("--data", type=Path, required=True, help="NetCDF or GRIB file with hourly t2m")
    ftrain.add_argument("--leads", default="1,6,24,48", help="lead times [h], comma-separated (default 1,6,24,48)")
    ftrain.add_argument("--holdout-hours", type=int, default=96,
                        help="the last hours of FILE, kept out of training and scored (default 96)")
    ftrain.add_argument("--iterations", type=int, default=600,
                        help="most Adam iterations per lead; cross-validation stops earlier and picks the count")
    ftrain.add_argument("--batch", type=int, default=16, help="start times per iteration (default 16)")
    ftrain.add_argument("--hidden", type=int, default=8, help="hidden channels (default 8)")
    ftrain.add_argument("--seed", type=int, default=0)
    ftrain.add_argument("--report", type=Path, help="also write the held-out scores and timings as JSON here")
    ftrain.set_defaults(handler=_handler("twin.app.forecast", "cmd_train"))
    fpredict = fsub.add_parser("predict", parents=[p["out"], p["device"]],
                               help="forecast t2m from every start time in FILE whose inputs it holds")
    fpredict.add_argument("--model", type=Path, required=True)
    fpredict.add_argument("--data", type=Path, required=True)
    fpredict.add_argument("--leads", required=True, help="lead times [h], comma-separated; each one the model knows")
    fpredict.set_defaults(handler=_handler("twin.app.forecast", "cmd_predict"))

    for name, quality, size in (("render", "high", "1920x1080"), ("view", "draft", "1280x800")):
        still = name == "render"
        cmd = sub.add_parser(name, parents=[p["set"]] + ([p["out"], p["quiet"]] if still else []),
                             help="render a scene or a result (any kind) to a picture or a video, off screen" if still
                             else "look at a scene or a result (any kind) in a window with a timeline",
                             description="Render a scene or a result to a picture (PNG/JPEG) or a video (MP4), off "
                             "screen." if still else "Look at a scene or a result in a window with a timeline (needs "
                             "a display: xvfb-run twin view ... on a headless machine).")
        cmd.add_argument("source", help="scene script (.py), scene file (.twin) or result folder (with result.zarr)")
        cmd.add_argument("--quality", default=quality, help=f"draft, high or cinematic (default {quality})")
        cmd.add_argument("--camera", help="camera preset name or camera file (.json); default: framing what the "
                         "scene shows")
        cmd.add_argument("--size", default=size, help=f"picture size WxH in pixels (default {size})")
        cmd.add_argument("--field", help="what colours the picture: a flood's water (depth, speed, froude, arrival, "
                         "hazard; default depth), a plume's ground (a background field of the Result; default t2m)")
        cmd.add_argument("--z-scale", type=float, help="factor on heights (default: flood 2, plume automatic)")
        cmd.add_argument("--ground", help="a flood's ground colours: landuse or hillshade (default landuse)")
        if still:
            cmd.add_argument("--time", help="simulated time [s] of a still, or 'peak' (default: the kind's moment: "
                             "a flood's peak, the middle of a robot's cycle, a plume's last output)")
            cmd.add_argument("--frames", type=int, default=36, help="frames of a video (default 36)")
            cmd.add_argument("--fps", type=float, default=12.0, help="frames per second of a video (default 12)")
        cmd.set_defaults(handler=_handler("twin.viewer.cli", f"cmd_{name}"))

    replay = sub.add_parser("replay", parents=[p["quiet"]], help="publish a sensor log as a live MQTT feed (QoS 1)",
                            description="Publish a sensor log as a live MQTT feed (QoS 1).",
                            epilog="exit status: 0 all readings acknowledged, 2 bad input or the broker refused the "
                            "login, 3 readings refused or not acknowledged")
    replay.add_argument("log", type=Path, help="the sensor log (CSV)")
    add_endpoint_arguments(replay)
    replay.add_argument("--topic", required=True, help="topic to publish the readings on")
    replay.add_argument("--speed", type=float, default=1000.0, help="times faster than the log's clock (default 1000)")
    replay.add_argument("--channel", help="which channel (default: the first)")
    replay.add_argument("--start", type=int, default=0, help="first row to send")
    replay.add_argument("--count", type=int, help="rows to send (default: to the end)")
    replay.add_argument("--timeout", type=float, default=60.0,
                        help="give up after this many seconds without an acknowledgement (default 60)")
    replay.add_argument("--confirm", action="store_true",
                        help="end to end: wait for the twin's answer on T/twin to each reading and publish again "
                             "those unanswered (nothing lost even when the broker dies without saving)")
    replay.set_defaults(handler=_handler("twin.app.sync", "cmd_replay"))

    sync = sub.add_parser("sync", parents=[p["out"], p["set"]], help="run a machine twin beside a live MQTT feed",
                          description="Run a machine twin on a live MQTT feed; publish predictions and alarms.",
                          epilog="exit status: 0 nothing lost, 2 bad input or the broker refused the login or the "
                          "subscription, 3 readings lost (a gap in seq, fewer than --count, or the broker lost the "
                          "session), 130 Ctrl-C")
    sync.add_argument("scene", help="machine scene script (e.g. scenes/machine_thermal.py)")
    add_endpoint_arguments(sync)
    sync.add_argument("--topic", help="topic of the readings, or a filter with '+' levels (default: the scene's)")
    sync.add_argument("--count", type=int, help="stop after this many readings")
    sync.add_argument("--idle", type=float, help="stop after this many seconds without a reading")
    sync.add_argument("--client-id", help="the persistent session's id (default: derived from the scene, --out and "
                      "the topic)")
    sync.add_argument("--view", action="store_true", help="watch readings, prediction and alarms in a window")
    sync.set_defaults(handler=_handler("twin.app.sync", "cmd_sync"))
    return root


def add_endpoint_arguments(p: argparse.ArgumentParser) -> None:
    """The broker and login options of ``twin sync`` and ``twin replay`` (a password never on the command line)."""
    p.add_argument("--mqtt", required=True, metavar="HOST:PORT", help="the broker")
    p.add_argument("--username", help="log in as NAME; the password comes from --password-file or TWIN_MQTT_PASSWORD")
    p.add_argument("--password-file", type=Path, metavar="FILE", help="the password: the file's first line")
    p.add_argument("--tls", action="store_true", help="connect with TLS, checking the broker's certificate")
    p.add_argument("--cafile", type=Path, metavar="FILE", help="CA certificates (PEM) for --tls (default: the system's)")
    p.add_argument("--certfile", type=Path, metavar="FILE", help="client certificate (PEM) for --tls")
    p.add_argument("--keyfile", type=Path, metavar="FILE", help="the client certificate's private key (PEM)")


def cmd_inspect(args) -> int:
    """``twin inspect FILE [--json]``."""
    from twin.inspect import describe, format_description

    d = describe(args.file)
    print(json.dumps(d, indent=2, default=str) if args.json else format_description(d))
    return 0


def _warning_line(message, category, filename, lineno, file=None, line=None) -> None:
    """twin's own warnings (defaults applied to an input) as one line on stderr, without Python's source excerpt."""
    print(f"twin: warning: {message}", file=sys.stderr if file is None else file)


def _bug_log(args, argv: list[str]) -> Path:
    """Write the traceback of the exception being handled to ``OUT/twin-error.log`` (the
    command's output folder, or the temporary folder) and return its path."""
    out = getattr(args, "out", None) or getattr(args, "resume", None)
    folder = Path(out) if out is not None and Path(out).is_dir() else Path(out).parent if out is not None else None
    if folder is None or not folder.is_dir():
        folder = Path(tempfile.gettempdir())
    path = folder / "twin-error.log"
    try:
        path.write_text(f"twin {__version__}: twin {' '.join(argv)}\n{traceback.format_exc()}")
    except OSError:
        path = Path(tempfile.gettempdir()) / f"twin-error-{os.getpid()}.log"
        path.write_text(f"twin {__version__}: twin {' '.join(argv)}\n{traceback.format_exc()}")
    return path


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` (default: the process's), run the command, and map every outcome to one
    line and an exit status (see the module docstring)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    warnings.showwarning = _warning_line
    if threading.current_thread() is threading.main_thread():  # Ctrl-C reaches a command whose launcher blocked it
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    args = None
    try:
        args = build_parser().parse_args(argv)
        return args.handler(args)
    except SimulationError as e:
        print(f"twin: run stopped: {e}", file=sys.stderr)
        return EXIT_STOPPED
    except TwinError as e:
        print(f"twin: {e}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("twin: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except ImportError as e:
        extra = missing_extra(e)
        if extra is None:
            return _bug(args, argv, e)
        print(f"twin: {extra}", file=sys.stderr)
        return EXIT_INPUT
    except Exception as e:  # noqa: BLE001 - the one place where a bug becomes one line and a log
        return _bug(args, argv, e)


def _bug(args, argv: list[str], error: Exception) -> int:
    command = getattr(args, "command", None) or (argv[0] if argv else "")
    line = " ".join(f"{type(error).__name__}: {error}".split())
    if os.environ.get("TWIN_DEBUG") == "1":
        traceback.print_exc()
        print(f"twin {command}: internal error: {line}", file=sys.stderr)
    else:
        log = _bug_log(args, argv)
        print(f"twin {command}: internal error (a bug; please report it with {log}): {line}", file=sys.stderr)
    return EXIT_BUG


if __name__ == "__main__":
    sys.exit(main())

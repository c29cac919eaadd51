"""Seconds per frame of the 3D viewer's quality presets, and frames per second of the live view.

    python benchmarks/render_frames.py out/merewether [RESULT_DIR ...] [--size 1920x1080] [--json]
    python benchmarks/render_frames.py out/merewether --live-run scenes/merewether.py --live-seconds 60

For every result folder and preset: the time to build the view (meshes,
shadows, environment), the first frame (shaders compiled, the sky's light
prefiltered) and the median of the next ``--frames`` frames, each at another
time of the run, rendered off screen at ``--size``. Then the live view: the
draft preset in a desktop window (a private Xvfb screen when there is no
DISPLAY), frames drawn as fast as it goes (water read, arrays rewritten in
place, rendered, window updated), the best of a few batches; and with
``--live-run SCENE`` a real run of the scene with :class:`twin.viewer.live.LiveViewer`
at 10 fps: frames per wall second while the simulation runs, and how much
slower the run got. The machine and its load are printed with the numbers,
since on a shared machine they decide them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import select
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from twin.viewer.cli import parse_size  # noqa: E402
from twin.viewer.quality import QUALITIES  # noqa: E402
from twin.viewer.sources import open_source  # noqa: E402
from twin.viewer.view3d import View3D, default_clims  # noqa: E402


def bench_preset(source, quality: str, size: tuple[int, int], frames: int) -> dict:
    """Build, first-frame and steady seconds per frame of one preset off screen."""
    history = source.history
    times = np.linspace(*history.span, frames + 1)
    start = time.perf_counter()
    view = View3D(source.site, quality=quality, size=size, clims=default_clims(history))
    built = time.perf_counter()
    try:
        view.show(history.frame(times[0]))
        view.image()
        first = time.perf_counter()
        steady = []
        for t in times[1:]:
            a = time.perf_counter()
            view.show(history.frame(t))
            view.image()
            steady.append(time.perf_counter() - a)
    finally:
        view.close()
    return {"quality": quality, "build_s": round(built - start, 2), "first_frame_s": round(first - built, 2),
            "frame_s": round(statistics.median(steady), 3) if steady else None, "frames": len(steady)}


def bench_window(source, size: tuple[int, int], frames: int, batches: int = 4) -> dict:
    """Draft frames per second in a desktop window: best and median batch of ``frames`` frames."""
    history = source.history
    view = View3D(source.site, quality="draft", size=size, clims=default_clims(history), off_screen=False)
    view.plotter.show(interactive_update=True, auto_close=False)
    times = np.linspace(*history.span, frames)
    rates = []
    drawn = int(view.actors.water.n_points)
    try:
        view.show(history.frame(times[0]))
        for _ in range(batches):
            start = time.perf_counter()
            for t in times:
                view.show(history.frame(t))
                view.plotter.update()
            rates.append(frames / (time.perf_counter() - start))
    finally:
        view.close()
    return {"size": f"{size[0]}x{size[1]}", "grid_points_drawn": drawn,
            "fps_best": round(max(rates), 1), "fps_median": round(statistics.median(rates), 1)}


def bench_live_run(script: str, assignments: list[str], seconds: float, size: tuple[int, int], out: Path) -> dict:
    """A real run of ``script`` for ``seconds`` simulated seconds, without and with a live window at 10 fps."""
    from twin.viewer.live import LiveViewer

    from twin.app.runs import execute
    from twin.script import load_script, parameters_of

    module = load_script(script)
    params = parameters_of(module, script, [*assignments, f"duration={seconds}"])
    walls = {}
    live = None
    for name in ("plain", "live"):
        run = module.setup(params)
        if name == "live":
            live = LiveViewer(run, key=Path(script).stem, fps=10.0, size=size)
        start = time.perf_counter()
        execute(run, out / name, parameters=params, script=script, progress=False, on_step=live)
        walls[name] = time.perf_counter() - start
    frames, rate = live.frames, live.rate
    live.close()
    return {"scene": script, "simulated_s": seconds, "wall_plain_s": round(walls["plain"], 1),
            "wall_live_s": round(walls["live"], 1), "frames": frames, "fps": round(rate, 1),
            "draw_share": round(live.drawing / walls["live"], 2)}


def xvfb() -> subprocess.Popen | None:
    """Start a private Xvfb screen and point DISPLAY at it, unless there is a display already."""
    if os.environ.get("DISPLAY"):
        return None
    read, write = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", "1920x1080x24", "-nolisten", "tcp",
                               "-noreset"],  # a reset would write the display number again, to a closed pipe
                              pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write)
    ready, _, _ = select.select([read], [], [], 20.0)
    os.environ["DISPLAY"] = ":" + (os.read(read, 64).decode().strip() if ready else "")
    os.close(read)
    return server


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("results", nargs="+", type=Path, help="result folders (with result.zarr)")
    p.add_argument("--size", default="1920x1080", help="still size WxH (default 1920x1080)")
    p.add_argument("--qualities", default=",".join(QUALITIES), help="presets to time (default all)")
    p.add_argument("--frames", type=int, default=3, help="steady frames per preset after the first (default 3)")
    p.add_argument("--live-size", default="1024x576", help="live window size WxH (default 1024x576, as the live view)")
    p.add_argument("--live-frames", type=int, default=20, help="frames per batch in the window (default 20)")
    p.add_argument("--live-run", metavar="SCENE", help="also time a real run of this scene script with the live view")
    p.add_argument("--live-seconds", type=float, default=60.0, help="simulated seconds of that run (default 60)")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="parameter of that scene")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    args = p.parse_args()
    size, live_size = parse_size(args.size), parse_size(args.live_size)
    report = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, llvmpipe (Mesa) off screen",
              "load_average": [round(v, 2) for v in os.getloadavg()], "size": args.size, "results": []}
    server = xvfb()
    try:
        for folder in args.results:
            source = open_source(folder)
            entry = {"result": str(folder), "grid": list(source.site.shape), "presets": []}
            for quality in args.qualities.split(","):
                entry["presets"].append(bench_preset(source, quality, size, args.frames))
                if not args.json:
                    print(folder, entry["presets"][-1], flush=True)
            entry["live_window"] = bench_window(source, live_size, args.live_frames)
            if not args.json:
                print(folder, "live window", entry["live_window"], flush=True)
            report["results"].append(entry)
        if args.live_run:
            import tempfile

            with tempfile.TemporaryDirectory() as tmp:
                report["live_run"] = bench_live_run(args.live_run, args.set, args.live_seconds, live_size, Path(tmp))
            if not args.json:
                print("live run", report["live_run"], flush=True)
    finally:
        if server is not None:
            server.kill()
    report["load_average_after"] = [round(v, 2) for v in os.getloadavg()]
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

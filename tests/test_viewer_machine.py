"""The machine kind in the viewer: live frames into a null sink, stills and videos of a Result and of a scene
script, ``twin run --pictures``, refused options, and the desktop window and live window under Xvfb.

The twin is tests/scenes/tiny_machine.py: two days of synthetic 5 min readings with a fault step at 36 h
(one alarm); no ../shared data.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from test_viewer_window import display  # noqa: F401 (the Xvfb fixture)

from twin.app.runs import execute

pytestmark = pytest.mark.filterwarnings("ignore:.*Zarr")

SCRIPT = Path(__file__).parent / "scenes" / "tiny_machine.py"
FAULT = 1.5 * 86400.0
"""When tiny_machine's fault steps in [s since the first reading]."""


def tiny_run():
    from twin.params import resolve
    from twin.script import load_script

    script = load_script(SCRIPT)
    params = resolve(script.PARAMETERS, [], "tiny_machine")
    return script.setup(params), params


@pytest.fixture(scope="module")
def machine(tmp_path_factory):
    """The tiny machine run, watched live by a null sink: (result folder, sink)."""
    from twin.viewer.live import LiveViewer
    from twin.viewer.sink import NullSink

    out = tmp_path_factory.mktemp("machine")
    run, params = tiny_run()
    sink = NullSink()
    live = LiveViewer(run, viewer=sink, fps=1e6)
    execute(run, out, parameters=params, script=str(SCRIPT), progress=False, on_step=live)
    live.close()
    return out, sink


def pixels(path: Path) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(path))[..., :3].astype(int)


def red(img: np.ndarray) -> int:
    """Pixels of the alarm lines' red (#de2d26)."""
    return int(((img[..., 0] > 190) & (img[..., 1] < 80) & (img[..., 2] < 80)).sum())


def test_machine_live_frames(machine):
    out, sink = machine
    steps = json.loads((out / "summary.json").read_text())["steps"]
    assert set(sink.kinds) == {"machine"} and sink.frames == steps + 1  # every step, and the last state at close
    with xr.open_zarr(out / "result.zarr", decode_times=False) as ds:
        assert ds.attrs["twin_kind"] == "machine"
        np.testing.assert_allclose(sink.times[-1], ds["time"].values[-1])
        for name in ("time", "reading", "predicted", "sigma", "z", "alarm"):
            np.testing.assert_array_equal(sink.last[name], ds[name].values, err_msg=name)
        assert ds["alarm"].values.sum() == 1 and ds["time"].values[ds["alarm"].values > 0][0] > FAULT
    assert sink.last["state"].shape == (2,) and sink.last["covariance"].shape == (2, 2)


def test_machine_render_still_and_video(machine, tmp_path):
    import imageio_ffmpeg
    from twin.viewer.kinds import open_any

    from twin.app.cli import main

    out, _ = machine
    _, source = open_any(out)
    assert source.title == "Tiny machine" and source.span == (0.0, 575 * 300.0) and source.unit == "degF"
    draft = ["--quality", "draft", "--size", "480x300"]
    whole, before = tmp_path / "whole.png", tmp_path / "before.png"
    assert main(["render", str(out), "--out", str(whole), *draft]) == 0
    assert main(["render", str(out), "--out", str(before), *draft, "--time", "100000"]) == 0
    img, early = pixels(whole), pixels(before)
    assert img.shape == (300, 480, 3)
    band = (np.abs(img - (0x9E, 0xCA, 0xE1)).max(axis=2) < 12).sum()
    assert band > 3000  # the prediction's band
    assert red(img) > 50 and red(early) == 0  # the alarm after the fault; none before it
    # the log up to 100000 s: no band right of it (under the legend)
    assert (np.abs(early - (0x9E, 0xCA, 0xE1)).max(axis=2) < 12)[160:250, 300:460].sum() == 0
    high = tmp_path / "high.png"
    assert main(["render", str(out), "--out", str(high), "--size", "480x300"]) == 0  # no SSAA on a chart
    assert (np.abs(pixels(high) - (0x9E, 0xCA, 0xE1)).max(axis=2) < 12).sum() > 3000
    video = tmp_path / "machine.mp4"
    assert main(["render", str(out), "--out", str(video), "--quality", "draft", "--size", "320x200", "--frames", "4",
                 "--quiet"]) == 0
    assert imageio_ffmpeg.count_frames_and_secs(str(video))[0] == 4


def test_machine_refused_options(machine, tmp_path, capsys):
    from twin.app.cli import main

    out, _ = machine
    still = tmp_path / "x.png"
    for option, value in (("--field", "depth"), ("--camera", "top"), ("--z-scale", "2.0"), ("--ground", "hillshade")):
        assert main(["render", str(out), "--out", str(still), option, value]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err == [f"twin: {option}: {value}: has no meaning for a machine twin"], err
    assert not still.exists()


def test_machine_scene_script_and_pictures(tmp_path, capsys):
    from twin.app.cli import main

    still = tmp_path / "scene.png"
    assert main(["render", str(SCRIPT), "--out", str(still), "--quality", "draft", "--size", "480x300",
                 "--set", "fault=0"]) == 0
    assert "the readings of the scene (not run)" in capsys.readouterr().err
    img = pixels(still)
    assert red(img) == 0 and (np.abs(img - (0x33, 0x33, 0x33)).max(axis=2) < 40).sum() > 300  # the readings only
    out = tmp_path / "run"
    assert main(["run", str(SCRIPT), "--out", str(out), "--pictures", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert f"picture twin: {out / 'twin.png'}" in printed and f"picture video: {out / 'twin.mp4'}" in printed
    assert pixels(out / "twin.png").shape == (400, 1200, 3) and red(pixels(out / "twin.png")) > 100
    assert (out / "twin.mp4").stat().st_size > 10_000


def test_machine_window_timeline(display, machine, tmp_path):  # noqa: F811
    from PIL import Image
    from twin.viewer.kinds import open_any
    from twin.viewer.machine import MachineWindow

    out, _ = machine
    _, source = open_any(out)
    window = MachineWindow(source, size=(640, 400))
    try:
        window.open()
        assert window.plotter.render_window.GetClassName() == "vtkXOpenGLRenderWindow"
        assert window.t == source.span[1]  # opens on the whole log
        assert window.view.reading.x.size == len(source.times)
        window._slider.GetRepresentation().SetValue(100000.0)
        window._slider.InvokeEvent("InteractionEvent")
        assert window.t == pytest.approx(100000.0)
        assert window.view.subtitle.GetInput().strip().startswith("2024-01-02 03:46:40: reading")
        assert window.view.reading.x.size == 334  # the readings at 0, 300, ... 99900 s
        np.testing.assert_allclose(window.view.cursor.x, [100000.0 / 3600.0] * 2)
        window.step(1)
        assert window.t == pytest.approx(100200.0)
        window.play()
        window.advance(1.0)
        assert window.t == pytest.approx(100200.0 + window.speed)
        window.update()
        image = window.image()
        assert image.std() > 10
        Image.fromarray(image).save(tmp_path / "machine_window.png")
    finally:
        window.close()


def test_machine_live_window(display, tmp_path):  # noqa: F811
    """``--view`` on the replay of a log: the window opens at the first frame; frames are throttled (10 a wall
    second), so a replay far faster than a picture is not held up by drawing every step."""
    import time

    from twin.viewer.live import LiveViewer

    run, params = tiny_run()
    live = LiveViewer(run, key="tiny_machine", size=(320, 240))
    start = time.perf_counter()
    execute(run, tmp_path, parameters=params, progress=False, on_step=live)
    view = live.window
    assert view is not None and view.plotter.render_window.GetClassName() == "vtkXOpenGLRenderWindow"
    assert 1 <= live.frames < 100 and time.perf_counter() - start < 15.0
    assert view.reading.x.size >= view.predicted.x.size >= 2 and view.image().std() > 10
    live.close()
    assert live.window is None

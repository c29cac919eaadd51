"""Every kind in the viewer: the registry, stills and videos of a plume and a robot cell, cameras that frame
what they show, titles from the Result, live frames of any kind into a null sink.

The plume is a small synthetic dispersion run (uniform wind, no ../shared data);
the robot cell needs the UR5 of ../shared/data/factory.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import xarray as xr
from shared_data import DATA, need

from twin.app.runs import execute
from twin.errors import InputError

pytestmark = pytest.mark.filterwarnings("ignore:.*Zarr")

UR5 = DATA / "factory" / "example-robot-data" / "robots" / "ur_description" / "urdf" / "ur5_robot.urdf"


def inside(view, points: np.ndarray, x1: float = 1.0) -> np.ndarray:
    """NDC (n, 2) of ``points`` through ``view``'s camera, asserting all are inside the picture (left of ``x1``)."""
    from twin.viewer.cameras import projected

    ndc = projected(view.plotter, points, view.aspect)
    assert np.all(np.abs(ndc) <= 1.0) and np.all(ndc[:, 0] <= x1), (ndc.min(axis=0), ndc.max(axis=0))
    return ndc


# -- the registry --------------------------------------------------------------------------
def test_kind_of_a_result_and_a_run(tmp_path):
    from twin.physics.dispersion.run import DispersionRun
    from twin.physics.robot.run import RobotRun
    from twin.physics.swe.run import FloodRun
    from twin.viewer.kinds import KINDS, kind_module, kind_of_result, kind_of_run, open_any

    assert (FloodRun.kind, DispersionRun.kind, RobotRun.kind) == ("flood", "dispersion", "robot")
    assert {"flood", "dispersion", "robot", "machine"} <= set(KINDS)
    for name in ("flood", "dispersion", "robot", "machine"):
        module = kind_module(name)
        for function in ("open_result", "open_run", "render_still", "render_video", "window", "pictures", "snapshot",
                         "live_window"):
            assert callable(getattr(module, function)), (name, function)
    store = tmp_path / "r" / "result.zarr"
    forecast = xr.Dataset({"a": ("time", [1.0])}, coords={"time": [0.0]}, attrs={"twin_kind": "forecast"})
    forecast.to_zarr(store, zarr_format=2)
    assert kind_of_result(store) == "forecast"
    with pytest.raises(InputError, match="no viewer for this kind"):
        open_any(store.parent)
    old = tmp_path / "old" / "result.zarr"
    xr.Dataset({"a": ("time", [1.0])}, coords={"time": [0.0]}).to_zarr(old, zarr_format=2)
    with pytest.raises(InputError, match="twin_kind: missing"):
        open_any(old.parent)
    with pytest.raises(InputError, match="declares no kind"):
        kind_of_run(object(), "x.py")


# -- the plume -----------------------------------------------------------------------------
def small_plume_run(**overrides):
    """A puff in a uniform wind (10 m/s east, 4 m/s north) over 300 x 240 km, 3 h; weather fields to draw over."""
    from twin.physics.dispersion.run import DispersionRun

    from twin.scene import Heightfield, Scene

    x0, y0 = 400_000.0, 1_800_000.0
    x = x0 + np.arange(0.0, 300e3 + 1, 20e3)
    y = y0 + np.arange(0.0, 240e3 + 1, 20e3)
    z = np.arange(0.0, 3001.0, 500.0)
    shape = (1, len(z), len(y), len(x))
    ny, nx = 240 // 20, 300 // 20
    yy, xx = np.mgrid[0:ny, 0:nx]
    mslp = 100_000.0 + 30.0 * ((xx - 10) ** 2 + (yy - 8) ** 2)
    t2m = 275.0 + 0.8 * xx
    scene = Scene(name="Synthetic puff east of a low", crs="EPSG:5070", origin=(x0 + 60e3, y0 + 60e3),
                  extent=(x[0], y[0], x[-1], y[-1]), terrain=Heightfield(np.zeros((2, 2)), x[0], y[0], 300e3, 240e3))
    options = dict(scene=scene, x=x, y=y, z=z, wind_x=np.full(shape, 10.0), wind_y=np.full(shape, 4.0),
                   source=(x0 + 60e3, y0 + 60e3, 300.0), mass=100.0, particles=3000, duration=3 * 3600.0,
                   output_interval=3600.0, dt=300.0, diffusivity=(2000.0, 2000.0, 2.0), cell=(20e3, 20e3, 500.0),
                   background={"mslp": (mslp, "Pa", "MSLP"), "t2m": (t2m, "K", "2 m temperature")})
    options.update(overrides)
    return DispersionRun(**options)


@pytest.fixture(scope="module")
def plume(tmp_path_factory):
    """The small plume run, watched live by a null sink: (result folder, sink)."""
    from twin.viewer.live import LiveViewer
    from twin.viewer.sink import NullSink

    out = tmp_path_factory.mktemp("plume")
    run = small_plume_run()
    sink = NullSink()
    live = LiveViewer(run, viewer=sink, fps=1e6)
    execute(run, out, parameters={}, progress=False, on_step=live)
    live.close()
    return out, sink


def test_plume_live_frames(plume):
    out, sink = plume
    assert set(sink.kinds) == {"dispersion"} and sink.frames >= 36  # every 300 s step of 3 h
    c = sink.last["concentration"]
    assert c.shape == (6, 12, 15) and c.max() > 0
    with xr.open_zarr(out / "result.zarr", decode_times=False) as ds:
        assert ds.attrs["twin_kind"] == "dispersion"
        np.testing.assert_allclose(c, ds["concentration"].values[-1], rtol=1e-6)
        # the particles are handed over in the scene's coordinates, as in the Result
        np.testing.assert_allclose(sink.last["particles"], ds["particle_position"].values[-1], rtol=1e-6)


def test_plume_render_still_and_video(plume, tmp_path, capsys):
    from PIL import Image

    from twin.app.cli import main

    out, _ = plume
    still = tmp_path / "plume.png"
    draft = ["--quality", "draft", "--size", "320x200"]
    assert main(["render", str(out), "--out", str(still), *draft, "--time", "7200"]) == 0
    img = np.asarray(Image.open(still))[..., :3].astype(int)
    assert img.shape == (200, 320, 3)
    plume_colours = (img[..., 0] > 200) & (img[..., 1] > 120) & (img[..., 2] < 90)  # inferno_r's yellows and oranges
    assert plume_colours.sum() > 30
    video = tmp_path / "plume.mp4"
    assert main(["render", str(out), "--out", str(video), "--quality", "draft", "--size", "240x160", "--frames", "4",
                 "--quiet"]) == 0
    assert video.stat().st_size > 1000
    assert main(["render", str(out), "--out", str(still), "--ground", "hillshade"]) == 2
    assert "--ground: hillshade: has no meaning for a plume" in capsys.readouterr().err
    assert main(["render", str(out), "--out", str(still), "--field", "rain"]) == 2
    assert "it has: mslp, t2m" in capsys.readouterr().err


def test_plume_camera_frames_the_plume_and_the_title_comes_from_the_result(plume):
    from twin.viewer.kinds import open_any
    from twin.viewer.plume3d import PlumeView

    out, _ = plume
    _, source = open_any(out)
    ds = source.ds
    ds.attrs["title"] = "A title given by the Result"
    view = PlumeView(source, quality="draft", size=(320, 200))
    try:
        assert view.title.GetInput().strip() == "A title given by the Result"
        # every cell of the plume, at every time, and the release point are in the picture
        c = source.ds["concentration"].values
        k, j, i = np.nonzero((c > c.max() * 1e-3).any(axis=0))
        cells = np.c_[(i + 0.5) * 20.0, (j + 0.5) * 20.0, (k + 0.5) * 0.5 * view.z_scale]  # km, display units
        release = [[view.km_x(ds.attrs["release_x_m"]), view.km_y(ds.attrs["release_y_m"]), 0.3 * view.z_scale]]
        ndc = inside(view, np.r_[cells, release])
        assert np.ptp(ndc[:, 0]) > 0.5  # framed, not a speck
    finally:
        view.close()


def test_plume_scene_script_and_pictures(plume, tmp_path):
    from twin.viewer.plume3d import open_run, pictures

    source = open_run(tmp_path / "small_plume.py", small_plume_run())
    assert source.span == (0.0, 0.0) and source.title == "Synthetic puff east of a low"
    from twin.viewer.plume3d import render_still

    assert render_still(source, tmp_path / "scene.png", quality="draft", size=(160, 100)).is_file()
    out, _ = plume
    written = pictures(out, tmp_path)
    assert set(written) == {"plume", "still", "video"} and all(p.is_file() for p in written.values())


# -- the robot cell ------------------------------------------------------------------------
def scaled_urdf(folder, factor: float = 2.0):
    """The UR5's URDF with every length, origin and mesh scaled by ``factor`` (a bigger arm of the same shape),
    named ``ur5_x<factor>``; masses by factor^3, inertias by factor^5."""
    text = UR5.read_text()

    def scale(match, power=1):
        values = [float(v) * factor**power for v in match.group(2).split()]
        return f'{match.group(1)}="{" ".join(f"{v:.6g}" for v in values)}"'

    text = re.sub(r'(<origin[^>]*?xyz)="([^"]*)"', scale, text)
    text = re.sub(r'(length|radius)="([^"]*)"', scale, text)
    text = re.sub(r'(<mass value)="([^"]*)"', lambda m: scale(m, 3), text)
    text = re.sub(r'(i[xyz][xyz])="([^"]*)"', lambda m: scale(m, 5), text)
    scaled = f'scale="{factor:g} {factor:g} {factor:g}"'
    text = re.sub(r'<mesh filename="([^"]*)"\s*/>', rf'<mesh filename="\1" {scaled}/>', text)
    text = text.replace('<robot name="ur5"', f'<robot name="ur5_x{factor:g}"', 1)
    path = folder / f"ur5_x{factor:g}.urdf"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def cell(tmp_path_factory):
    """A quick UR5 cycle (full speed, no dwell), watched live by a null sink: (result folder, sink)."""
    pytest.importorskip("newton")
    need(UR5)
    from twin.viewer.live import LiveViewer
    from twin.viewer.sink import NullSink

    from twin.params import resolve
    from twin.script import load_script

    out = tmp_path_factory.mktemp("cell")
    script = load_script("scenes/ur5_cell.py")
    params = resolve(script.PARAMETERS, ["dwell=0", "speed=1", "accel=8"], "ur5_cell")
    run = script.setup(params)
    sink = NullSink()
    live = LiveViewer(run, viewer=sink, fps=1e6)
    execute(run, out, parameters=params, script="scenes/ur5_cell.py", progress=False, on_step=live)
    return out, sink


def test_robot_live_frames(cell):
    out, sink = cell
    with xr.open_zarr(out / "result.zarr", decode_times=False) as ds:
        assert ds.attrs["twin_kind"] == "robot" and ds.attrs["title"] == "ur5 pick-and-place cell"
        steps = json.loads((out / "summary.json").read_text())["steps"]
        assert set(sink.kinds) == {"robot"} and sink.frames == steps  # a frame after every step (fps unbounded)
        np.testing.assert_allclose(sink.times[-1], ds["time"].values[-1])
        np.testing.assert_allclose(sink.last["link_pose"], ds["link_pose"].values[-1], atol=1e-9)
        np.testing.assert_allclose(sink.last["q"], ds["q"].values[-1])


def test_robot_render_still_video_camera_and_title(cell, tmp_path):
    from PIL import Image
    from twin.viewer.kinds import open_any
    from twin.viewer.robot import RobotView

    from twin.app.cli import main

    out, _ = cell
    still = tmp_path / "cell.png"
    draft = ["--quality", "draft", "--size", "320x180"]
    assert main(["render", str(out), "--out", str(still), *draft, "--time", "1.0"]) == 0
    img = np.asarray(Image.open(still))[..., :3].astype(int)
    sky_or_floor = (img[..., 2] - img[..., 0] > 40) | (np.abs(img - [154, 152, 144]).max(-1) < 25)
    assert (~sky_or_floor).mean() > 0.02  # the arm is in the picture
    video = tmp_path / "cell.mp4"
    assert main(["render", str(out), "--out", str(video), "--quality", "draft", "--size", "160x90", "--frames", "3",
                 "--quiet"]) == 0
    assert video.stat().st_size > 1000
    _, source = open_any(out)
    source.ds.attrs["title"] = "Cell 7, line B"
    view = RobotView(source, quality="draft", size=(320, 180))
    try:
        assert view.title.GetInput().strip() == "Cell 7, line B"
        inside(view, view.swept)  # every link's meshes, over the whole cycle
    finally:
        view.close()


def test_a_larger_arm_is_framed_and_titled_by_its_scene(tmp_path, capsys):
    """A UR5 scaled to twice its size through ``--set urdf=...``: the camera frames it, the title is its own."""
    pytest.importorskip("newton")
    need(UR5)
    from PIL import Image
    from twin.viewer.kinds import open_any
    from twin.viewer.robot import RobotView

    from twin.app.cli import main

    big = scaled_urdf(tmp_path)
    argv = ["--set", f"urdf={big}", "--set", f"package_path={DATA / 'factory'}"]
    kind, small = open_any("scenes/ur5_cell.py")
    _, large = open_any("scenes/ur5_cell.py", assignments=argv[1::2])
    assert kind.__name__ == "twin.viewer.robot" and large.title == "ur5_x2 pick-and-place cell"
    views = [RobotView(s, quality="draft", size=(320, 180)) for s in (small, large)]
    try:
        reach = [np.ptp(v.swept, axis=0) for v in views]
        np.testing.assert_allclose(reach[1], 2.0 * reach[0], rtol=0.02)  # the same motion, twice as big
        for view in views:
            ndc = inside(view, view.swept)
            assert np.ptp(ndc[:, 0]) > 1.0 or np.ptp(ndc[:, 1]) > 1.0  # it fills the picture
        assert "UR5" not in views[1].title.GetInput()
    finally:
        for view in views:
            view.close()
    still = tmp_path / "big.png"
    draft = ["--quality", "draft", "--size", "320x180"]
    assert main(["render", "scenes/ur5_cell.py", *argv, "--out", str(still), *draft]) == 0
    assert np.asarray(Image.open(still)).std() > 10

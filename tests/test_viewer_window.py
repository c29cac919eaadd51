"""The desktop window of ``twin view``, opened on a virtual X screen (Xvfb) and driven like a user would."""

from __future__ import annotations

import gc
import os
import select
import subprocess
from pathlib import Path

import numpy as np
import pytest
from test_viewer_3d import small_scene
from test_viewer_flood import make_result
from test_viewer_kinds import inside

from twin.app.runs import execute

pytestmark = pytest.mark.data  # needs ../shared/data

XVFB = Path("/usr/bin/Xvfb")


@pytest.fixture(scope="module")
def display():
    """A private Xvfb screen (Xvfb picks a free display number); DISPLAY points at it while the tests run."""
    if not XVFB.exists():
        pytest.skip(f"{XVFB} is missing (the Makefile installs the Debian package xvfb)")
    read, write = os.pipe()
    server = subprocess.Popen([str(XVFB), "-displayfd", str(write), "-screen", "0", "1280x1024x24", "-nolisten", "tcp",
                               "-noreset"], pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write)
    try:
        ready, _, _ = select.select([read], [], [], 20.0)
        number = os.read(read, 64).decode().strip() if ready else ""
        if not number:
            raise RuntimeError("Xvfb did not start")
        before = os.environ.get("DISPLAY")
        os.environ["DISPLAY"] = f":{number}"
        yield os.environ["DISPLAY"]
    finally:
        os.close(read)
        gc.collect()  # close the windows' X connections before the server goes
        server.kill()
        server.wait()
        if "before" in locals():
            if before is None:
                os.environ.pop("DISPLAY", None)
            else:
                os.environ["DISPLAY"] = before


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    from twin.viewer.fields import History
    from twin.viewer.geometry import Site
    from twin.viewer.sources import Source

    ds = make_result(nx=40, ny=30, nt=5, nk=50)
    return Source(tmp_path_factory.mktemp("view"), Site.from_result(ds), History.from_result(ds), ds)


def click(window, px: int, py: int) -> None:
    """A left click (press and release in place) at window pixel (px, py) through the VTK interactor."""
    interactor = window.plotter.iren.interactor
    interactor.SetEventInformation(px, py)
    interactor.InvokeEvent("LeftButtonPressEvent")
    interactor.InvokeEvent("LeftButtonReleaseEvent")


def test_window_timeline_fields_and_probe(display, source, tmp_path):
    from twin.viewer.window import FloodWindow

    window = FloodWindow(source, quality="draft", size=(640, 480))
    try:
        window.open()
        assert window.plotter.render_window.GetClassName() == "vtkXOpenGLRenderWindow"
        assert not window.plotter.render_window.GetOffScreenRendering()
        history = source.history
        t0, t1 = history.span
        assert window.t == t1  # opens at the end of the run

        # the timeline: move the slider as a drag would
        slider = window._slider
        slider.GetRepresentation().SetValue(150.0)
        slider.InvokeEvent("InteractionEvent")
        assert window.t == pytest.approx(150.0)
        expected = history.frame(150.0)
        z = window.view.actors.lift(np.maximum(expected.depth, 0.03) + source.site.bed)
        wet = (expected.depth > 0.01) & ~source.site.building  # drawn: deeper than 1 cm, not on roofs
        np.testing.assert_allclose(window.view.actors.water.points[:, 2].reshape(z.shape)[wet], z[wet], rtol=1e-5)
        window.step(1)
        assert window.t == pytest.approx(history.times[2])
        window.step(-1)
        assert window.t == pytest.approx(history.times[1])

        # play at the speed on the speed slider
        window._play_button.GetRepresentation().SetState(1)
        window._play_button.InvokeEvent("StateChangedEvent")
        assert window.playing
        window._speed.GetRepresentation().SetValue(40.0)
        window._speed.InvokeEvent("InteractionEvent")
        window.advance(0.5)
        assert window.t == pytest.approx(history.times[1] + 20.0)
        window.toggle()
        assert not window.playing and window._play_button.GetRepresentation().GetState() == 0

        # the field selector
        button = window._field_buttons["froude"]
        button.GetRepresentation().SetState(1)
        button.InvokeEvent("StateChangedEvent")
        assert window.view.field == "froude"
        assert [b.GetRepresentation().GetState() for b in window._field_buttons.values()] == [0, 0, 1, 0]
        assert window.view.subtitle.GetInput().strip().startswith("Froude number")

        # click the downstream probe: its own series comes up in the chart
        window.set_time(400.0)
        j, i = source.site.cell_of(*source.site.probe_xy[1])
        level = source.site.bed[j, i] + history.frame(400.0).depth[j, i]  # the water surface is what is clicked
        px, py = window.display_position(*source.site.probe_xy[1], level)
        click(window, px, py)
        picked = window.picked
        assert picked is not None and picked["name"] == "P2 downstream"
        np.testing.assert_allclose(picked["depth"], source.result["probe_depth"].values[1], rtol=1e-6)
        assert window._chart.visible and window._chart.title.startswith("P2 downstream")
        # a drag is not a click
        window.picked = None
        interactor = window.plotter.iren.interactor
        interactor.SetEventInformation(px, py)
        interactor.InvokeEvent("LeftButtonPressEvent")
        interactor.SetEventInformation(px + 40, py + 10)
        interactor.InvokeEvent("LeftButtonReleaseEvent")
        assert window.picked is None
        # a click elsewhere: the snapshot series of that cell
        x, y = source.site.x[10], source.site.y[20]
        click(window, *window.display_position(x, y, source.site.bed[20, 10] + history.frame(400.0).depth[20, 10]))
        picked = window.picked
        assert picked["time"].shape == history.times.shape
        j, i = source.site.cell_of(picked["x"], picked["y"])
        assert abs(i - 10) <= 1 and abs(j - 20) <= 1
        np.testing.assert_allclose(picked["depth"], history.depth[:, j, i], rtol=1e-6)

        window.update()
        image = window.image()
        path = tmp_path / "window.png"
        from PIL import Image

        Image.fromarray(image).save(path)
        assert image.shape == (480, 640, 3) and image.std() > 25
        chart = image[int(480 * 0.56) : int(480 * 0.84), int(640 * 0.03) : int(640 * 0.36)]
        assert (chart.min(axis=2) > 240).mean() > 0.3  # the chart's white panel
        assert window.save_camera(tmp_path / "camera.json").is_file()
    finally:
        window.close()


def test_window_of_a_scene(display, tmp_path):
    from twin.viewer.geometry import Site
    from twin.viewer.sources import Source
    from twin.viewer.window import FloodWindow

    scene = small_scene()
    window = FloodWindow(Source(tmp_path, Site.from_scene(scene), scene=scene), size=(400, 300))
    try:
        window.open()
        x, y = scene.origin[0] + 20.0, scene.origin[1] + 30.0
        click(window, *window.display_position(x, y))
        assert window.picked is not None and "time" not in window.picked
        assert window.view.subtitle.GetInput().strip().endswith(f"ground {window.picked['ground']:.2f} m")
        assert window.image().std() > 10
    finally:
        window.close()


def test_live_window_during_a_run(display, tmp_path):
    from twin.physics.swe.run import FloodRun
    from twin.viewer.live import LiveViewer

    run = FloodRun(small_scene(), duration=30.0, output_interval=10.0, resolution=4.0)
    live = LiveViewer(run, fps=50.0, size=(320, 240))
    execute(run, tmp_path, parameters={}, progress=False, on_step=live)
    window = live.window
    assert window is not None and window.plotter.render_window.GetClassName() == "vtkXOpenGLRenderWindow"
    assert live.frames >= 2
    water = window.actors.water
    assert water.n_points == 12 * 16 and water["colours"][:, 3].max() > 0  # the water drawn, in place
    assert window.image().std() > 10
    live.close()
    assert live.window is None


def test_robot_window_timeline_and_joint_plots(display, tmp_path):
    """The robot cell (the UR5 scene's set points) in a window: the timeline poses the meshes, the joint plots
    follow with their cursor."""
    pytest.importorskip("newton")
    from shared_data import DATA, need

    need(DATA / "factory" / "example-robot-data")
    from twin.viewer.kinds import open_any
    from twin.viewer.robot import RobotWindow, pose_matrices

    kind, source = open_any("scenes/ur5_cell.py")
    window = RobotWindow(source, size=(640, 400))
    try:
        window.open()
        assert window.plotter.render_window.GetClassName() == "vtkXOpenGLRenderWindow"
        assert len(window.charts) == 2 and len(window.charts[0]._plots["line"]) == 2 * source.ds.sizes["joint"] + 1
        inside(window.view, window.view.swept, x1=0.2)  # the arm left of the plots
        slider = window._slider
        slider.GetRepresentation().SetValue(2.0)
        slider.InvokeEvent("InteractionEvent")
        assert window.t == pytest.approx(2.0)
        k = int(np.argmin(np.abs(source.times - 2.0)))
        link = window.view.links[2]
        actor = window.view.actors[link][0]
        np.testing.assert_allclose(np.asarray(actor.user_matrix), pose_matrices(source.ds["link_pose"].values[k, 2]),
                                   atol=1e-12)
        for chart, cursor in zip(window.charts, window.cursors):
            np.testing.assert_allclose(cursor.x, [2.0, 2.0])
            np.testing.assert_allclose(cursor.y, chart.y_range)
        window.step(1)
        assert window.t == pytest.approx(source.times[k + 1])
        window.play()
        window.advance(1.0)
        assert window.t == pytest.approx(source.times[k + 1] + window.speed)
        window.update()
        image = window.image()
        assert image.std() > 10
        from PIL import Image

        Image.fromarray(image).save(tmp_path / "robot_window.png")
        chart = image[int(400 * 0.42) : int(400 * 0.72), int(640 * 0.66) : int(640 * 0.97)]
        assert (chart.min(axis=2) > 230).mean() > 0.3  # the torque chart's white panel
    finally:
        window.close()


def test_plume_window_timeline(display, tmp_path):
    from test_viewer_kinds import small_plume_run
    from twin.viewer.kinds import open_any
    from twin.viewer.plume3d import PlumeWindow

    execute(small_plume_run(particles=1000), tmp_path, parameters={}, progress=False)
    _, source = open_any(tmp_path)
    window = PlumeWindow(source, size=(640, 400))
    try:
        window.open()
        assert window.t == source.span[1]  # opens at the last output
        window._slider.GetRepresentation().SetValue(3600.0)
        window._slider.InvokeEvent("InteractionEvent")
        assert window.t == pytest.approx(3600.0)
        assert window.view.subtitle.GetInput().strip().startswith("t = 1.0 h")
        cells = window.plotter.actors["plume"].mapper.dataset
        assert cells.n_cells == int((source.ds["concentration"].values[1] > 10 ** window.view.clim[0]).sum())
        window.update()
        image = window.image()
        assert image.std() > 10
        from PIL import Image

        Image.fromarray(image).save(tmp_path / "plume_window.png")
    finally:
        window.close()


def test_live_windows_of_a_plume_and_a_robot(display, tmp_path):
    """``--view`` on a dispersion run and a robot run: the kind's window opens at the first frame and draws them."""
    from types import SimpleNamespace

    from test_viewer_kinds import small_plume_run
    from twin.viewer.live import LiveViewer

    run = small_plume_run(particles=500, duration=3600.0)
    live = LiveViewer(run, fps=1e6, size=(320, 240))
    execute(run, tmp_path, parameters={}, progress=False, on_step=live)
    window = live.window
    assert window is not None and window.plotter.render_window.GetClassName() == "vtkXOpenGLRenderWindow"
    assert live.frames >= 12 and "plume" in window.plotter.actors and window.image().std() > 10
    live.close()

    pytest.importorskip("newton")
    from shared_data import DATA, need

    need(DATA / "factory" / "example-robot-data")
    from twin.physics.robot.system import build_robot

    from twin.params import resolve
    from twin.script import load_script

    script = load_script("scenes/ur5_cell.py")
    robot_run = script.setup(resolve(script.PARAMETERS, [], "ur5_cell"))
    system = build_robot(robot_run.robot, floor=False, kp=robot_run.kp, kd=robot_run.kd)
    links = sorted({m.link for m in robot_run.robot.meshes if m.role == "visual"}, key=list(system.bodies).index)
    live = LiveViewer(robot_run, key="ur5_cell", fps=1e6, size=(320, 240))
    for t in (0.0, 1.5):  # the set points' forward kinematics stand in for the dynamics
        q = robot_run.trajectory(t)[0]
        sim = SimpleNamespace(t=t, state=SimpleNamespace(newton=system.state(q)), recorder=SimpleNamespace(links=links),
                              solver=SimpleNamespace(system=system, trajectory=robot_run.trajectory,
                                                     solver=SimpleNamespace(torque=np.zeros(len(q)))))
        live(sim)
    view = live.window
    assert view.plotter.render_window.GetClassName() == "vtkXOpenGLRenderWindow" and live.frames == 2
    assert view.links == links
    assert view.subtitle.GetInput().strip().startswith("t =  1.50 s")
    np.testing.assert_allclose(np.asarray(view.actors[view.links[-1]][0].user_matrix)[:3, 3],
                               system.link_poses(system.state(robot_run.trajectory(1.5)[0]), view.links[-1:])[0, :3])
    live.close()

"""The UR5 cell scene: runs through `twin run`, records torques and the cycle time, renders with its real meshes."""

from __future__ import annotations

import json

import numpy as np
import pytest
from shared_data import DATA, need

pytestmark = pytest.mark.data  # needs ../shared/data

pytest.importorskip("newton")
pytest.importorskip("pyvista")
from twin.app.cli import main  # noqa: E402

need(DATA / "factory" / "example-robot-data")


@pytest.fixture(scope="module")
def cell(tmp_path_factory):
    out = tmp_path_factory.mktemp("ur5_cell")
    assert main(["run", "scenes/ur5_cell.py", "--set", "dwell=0", "--out", str(out), "--quiet"]) == 0
    return out


def test_cell_cycle_torques_and_tracking(cell):
    import xarray as xr

    summary = json.loads((cell / "summary.json").read_text())
    with xr.open_zarr(cell / "result.zarr", decode_times=False) as ds:
        assert ds.attrs["status"] == "complete" and ds.attrs["cycle_time_s"] == summary["cycle_time_s"]
        assert set(ds["joint"].values) == {"shoulder_pan_joint", "shoulder_lift_joint", "elbow_joint", "wrist_1_joint",
                                          "wrist_2_joint", "wrist_3_joint"}
        for name in ("q", "q_ref", "qd", "torque", "tool_position", "link_pose"):
            assert np.all(np.isfinite(ds[name].values)), name
        torque = np.abs(ds["torque"].values).max(axis=0)
        # the shoulder lift carries the arm: tens of N m, within the URDF's 150 N m effort limit
        assert 10.0 < torque[1] <= 150.0 and np.all(torque[3:] <= 28.0)
        assert float(ds["tool_position"].values[:, 2].min()) > 0.05  # the tool never reaches the floor
    assert 4.0 < summary["cycle_time_s"] < 10.0
    assert max(summary["max_tracking_error_rad"].values()) < 0.05


def test_cell_renders_with_the_real_meshes(cell, tmp_path):
    import warnings

    import imageio.v3 as iio
    from twin.viewer.kinds import open_any
    from twin.viewer.robot import link_meshes, render_still, render_video

    from twin.io.urdf import UrdfWarning, read_urdf

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UrdfWarning)
        robot = read_urdf(DATA / "factory/example-robot-data/robots/ur_description/urdf/ur5_robot.urdf")
    meshes = link_meshes(robot)
    assert len(meshes) == 7 and sum(m.n_points for ms in meshes.values() for m in ms) > 10_000
    kind, source = open_any(cell)
    assert kind.__name__ == "twin.viewer.robot"
    still = render_still(source, tmp_path / "cell.png", size=(320, 180))
    img = iio.imread(still)
    assert img.shape[:2] == (180, 320)
    # the robot's blue-grey joints and light links are in the picture: many pixels far from sky and floor
    sky_or_floor = (img[..., 2].astype(int) - img[..., 0] > 40) | (np.abs(img[..., :3].astype(int) - [154, 152, 144]).max(-1) < 25)
    assert (~sky_or_floor).mean() > 0.02
    video = render_video(source, tmp_path / "cell.mp4", frames=4, size=(160, 90), progress=False)
    assert video.stat().st_size > 1000
    assert main(["render", str(cell), "--out", str(tmp_path / "t.png"), "--time", "1.0", "--size", "160x90"]) == 0


def test_speed_beyond_the_urdf_limits_is_refused(tmp_path, capsys):
    assert main(["run", "scenes/ur5_cell.py", "--set", "speed=2", "--out", str(tmp_path)]) == 2
    assert "speed: is a fraction of the URDF velocity limits: at most 1, got 2.0" in capsys.readouterr().err

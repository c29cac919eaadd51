"""A tiny robot cell: a two-link arm (box meshes written on first use), one move out and back."""

import tempfile
from pathlib import Path

import numpy as np
from twin.physics.robot import RobotRun, joint_trajectory

from twin.io.urdf import read_urdf
from twin.params import Param

PARAMETERS = [
    Param("payload", 0.5, "kg", "mass of the second link", positive=True),
    Param("solver", "mujoco", "", "Newton solver", choices=("mujoco", "featherstone", "xpbd")),
]

URDF = """<robot name="tiny_arm">
  <link name="base"><inertial><mass value="5"/><inertia ixx="0.05" iyy="0.05" izz="0.05" ixy="0" ixz="0" iyz="0"/></inertial>
    <visual><geometry><mesh filename="box.stl" scale="0.2 0.2 0.1"/></geometry></visual></link>
  <link name="upper"><inertial><origin xyz="0 0 0.25"/><mass value="1"/>
    <inertia ixx="0.02" iyy="0.02" izz="0.002" ixy="0" ixz="0" iyz="0"/></inertial>
    <visual><origin xyz="0 0 0.25"/><geometry><mesh filename="box.stl" scale="0.06 0.06 0.5"/></geometry></visual></link>
  <link name="fore"><inertial><origin xyz="0 0 0.2"/><mass value="{payload}"/>
    <inertia ixx="0.01" iyy="0.01" izz="0.001" ixy="0" ixz="0" iyz="0"/></inertial>
    <visual><origin xyz="0 0 0.2"/><geometry><mesh filename="box.stl" scale="0.05 0.05 0.4"/></geometry></visual></link>
  <link name="tool0"/>
  <joint name="shoulder" type="revolute"><parent link="base"/><child link="upper"/><origin xyz="0 0 0.1"/>
    <axis xyz="0 0 1"/><limit effort="100" velocity="2" lower="-3" upper="3"/></joint>
  <joint name="elbow" type="revolute"><parent link="upper"/><child link="fore"/><origin xyz="0 0 0.5"/>
    <axis xyz="0 1 0"/><limit effort="50" velocity="2" lower="-2.5" upper="2.5"/></joint>
  <joint name="tool" type="fixed"><parent link="fore"/><child link="tool0"/><origin xyz="0 0 0.4"/></joint>
</robot>
"""


def _files(payload: float) -> Path:
    """The URDF and its unit-box STL in a temporary folder of their own."""
    import trimesh

    folder = Path(tempfile.gettempdir()) / "twin-tiny-arm"
    folder.mkdir(exist_ok=True)
    if not (folder / "box.stl").exists():
        trimesh.creation.box((1.0, 1.0, 1.0)).export(folder / "box.stl")
    path = folder / f"tiny_arm_{payload:g}.urdf"
    path.write_text(URDF.format(payload=payload))
    return path


def setup(p):
    robot = read_urdf(_files(p["payload"]))
    waypoints = np.array([[0.0, 0.0], [1.0, 0.8], [0.0, 0.0]])
    trajectory = joint_trajectory(waypoints, np.array([1.5, 1.5]), np.array([6.0, 6.0]), dwell=0.1)
    kp = np.array([400.0, 200.0])
    return RobotRun(robot, "Tiny arm", trajectory, kp, 2.0 * np.sqrt(kp * 0.05), solver=p["solver"], floor=False)

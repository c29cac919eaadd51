"""The UR5 on Newton: URDF import checks, kinematics against yourdfpy, energy, PD tracking, floor contact."""

from __future__ import annotations

import shutil
import warnings

import numpy as np
import pytest
from shared_data import DATA, need

pytestmark = pytest.mark.data  # needs ../shared/data

pytest.importorskip("newton")
from twin.physics.device import available_devices  # noqa: E402
from twin.physics.robot import build_robot, joint_trajectory, make_solver, mechanical_energy  # noqa: E402

from twin.app.cli import main  # noqa: E402
from twin.errors import InputError  # noqa: E402
from twin.io.urdf import UrdfWarning, read_urdf  # noqa: E402

FACTORY = DATA / "factory"
UR5 = FACTORY / "example-robot-data" / "robots" / "ur_description" / "urdf" / "ur5_robot.urdf"


@pytest.fixture(scope="module")
def ur5():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UrdfWarning)
        return read_urdf(need(UR5))


@pytest.fixture(scope="module")
def system(ur5):
    return build_robot(ur5)


def test_every_mesh_is_resolved_and_becomes_a_shape(ur5, system):
    assert (ur5.name, len(ur5.links), len(ur5.joints), len(ur5.movable)) == ("ur5", 11, 10, 6)
    assert len(ur5.meshes) == 14 and all(m.path.is_file() for m in ur5.meshes)
    # 7 visual + 7 collision meshes + the ee_link's collision box: none dropped
    assert system.shapes == 15
    assert ur5.total_mass == pytest.approx(20.9939 + 0.01)  # 20.99 kg of the URDF + the default for 'world'


def test_missing_inertial_gets_the_default_with_a_warning():
    with pytest.warns(UrdfWarning, match="world"):
        read_urdf(need(UR5))


def copy_urdf(tmp_path, text=None):
    path = tmp_path / "ur5.urdf"
    path.write_text(text if text is not None else UR5.read_text())
    return path


def test_package_uris_resolve_through_the_search_path(tmp_path, monkeypatch):
    path = copy_urdf(tmp_path)  # outside the data tree: its own tree cannot help
    with pytest.raises(InputError) as e:
        read_urdf(path)
    msg = str(e.value)
    assert str(path) in msg and "link base_link" in msg and "package://example-robot-data/robots/ur_description/meshes/ur5/visual/base.dae" in msg
    assert len(read_urdf(path, package_path=[need(FACTORY)]).meshes) == 14
    monkeypatch.setenv("TWIN_PACKAGE_PATH", str(FACTORY))
    assert len(read_urdf(path).meshes) == 14


@pytest.mark.parametrize("edit, where, what", [
    (lambda s: s.replace("<robot", "<robot <", 1), "line 6", "not well-formed XML"),
    (lambda s: s.replace('<parent link="upper_arm_link"/>', '<parent link="no_such_link"/>'), "joint elbow_joint", "'no_such_link' is not a link"),
    (lambda s: s.replace("collision/base.stl", "collision/base.xyz"), "link base_link", "format .xyz"),
    (lambda s: s.replace('lower="-3.14159265359" upper="3.14159265359"', 'lower="1" upper="-1"'), "joint elbow_joint", "lower 1.0 > upper -1.0"),
])
def test_bad_urdf_is_one_line_with_the_place(tmp_path, capsys, edit, where, what):
    text = edit(UR5.read_text())
    path = copy_urdf(tmp_path, text)
    (tmp_path / "example-robot-data").symlink_to(need(FACTORY / "example-robot-data"))
    shutil.copy(FACTORY / "example-robot-data/robots/ur_description/meshes/ur5/collision/base.stl", tmp_path / "base.xyz")
    if "base.xyz" in text:
        text = text.replace("package://example-robot-data/robots/ur_description/meshes/ur5/collision/base.xyz", str(tmp_path / "base.xyz"))
        path.write_text(text)
    assert main(["inspect", str(path), "--json"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and str(path) in err and where in err and what in err


def _edit_joint(text: str, joint: str, limit: str) -> str:
    """``text`` with the <limit> of ``joint`` replaced by ``limit``."""
    head, tail = text.split(f'<joint name="{joint}"', 1)
    a = tail.index("<limit")
    b = tail.index("/>", a) + 2
    return head + f'<joint name="{joint}"' + tail[:a] + limit + tail[b:]


def test_degenerate_limits_are_handled(tmp_path):
    text = _edit_joint(UR5.read_text(), "wrist_3_joint", '<limit effort="0" lower="-1" upper="1" velocity="0"/>')
    text = _edit_joint(text, "wrist_2_joint", '<limit effort="28" lower="0.5" upper="0.5" velocity="3.2"/>')
    path = copy_urdf(tmp_path, text)
    with pytest.warns(UrdfWarning) as w:
        robot = read_urdf(path, package_path=[need(FACTORY)])
    notes = " ".join(str(x.message) for x in w)
    assert 'wrist_3_joint: effort="0" read as no effort limit' in notes and 'velocity="0" read as no velocity limit' in notes
    assert "wrist_2_joint: lower == upper (0.5), the joint cannot move: made fixed" in notes
    assert [j.name for j in robot.movable][-1] == "wrist_3_joint" and len(robot.movable) == 5
    system = build_robot(robot, kp=np.full(5, 300.0), kd=np.full(5, 30.0))
    solver = make_solver(system)
    s0, s1 = system.state(np.zeros(5)), system.state(np.zeros(5))
    control = system.model.control()
    system.set_targets(control, np.array([0, -1.5, 1.5, -1.5, 0.5]), np.zeros(5))
    for _ in range(240):
        solver.step(s0, s1, control, 1 / 240)
        s0, s1 = s1, s0
    assert np.all(np.isfinite(system.q(s0)))
    assert abs(system.q(s0)[-1] - 0.5) < 0.05  # the joint whose effort was "0" is driven, not frozen


@pytest.mark.parametrize("device", available_devices())
def test_forward_kinematics_matches_yourdfpy(ur5, device):
    """Newton's FK (float32) against yourdfpy's (float64, its own URDF parser): < 1e-6 m over random configurations."""
    yourdfpy = pytest.importorskip("yourdfpy")
    system = build_robot(ur5, device=device)
    ref = yourdfpy.URDF.load(str(UR5), load_meshes=False, build_scene_graph=True, load_collision_meshes=False)
    rng = np.random.default_rng(7)
    links = sorted({m.link for m in ur5.meshes}) + ["tool0", "ee_link"]
    worst = 0.0
    for _ in range(25):
        q = rng.uniform(-np.pi, np.pi, 6)
        state = system.state(q)
        ref.update_cfg(dict(zip(system.joints, q)))
        for link in links:
            worst = max(worst, np.abs(system.link_pose(state, link)[:3] - ref.get_transform(link, "world")[:3, 3]).max())
    assert worst < 1e-6


def test_gravity_swing_conserves_energy_to_first_order_in_dt(system):
    """Undamped, unactuated swing for 1 s. MuJoCo's Euler integrator is semi-implicit (symplectic to first order):
    its energy error is bounded by K dt with no drift, so halving dt halves the largest deviation."""
    q0 = np.array([0.3, -0.5, 0.8, -0.4, 0.6, 0.2])
    dev = {}
    for dt in (1 / 240, 1 / 480, 1 / 960):
        solver = make_solver(system)
        s0, s1 = system.state(q0), system.state(q0)
        control = system.model.control()
        e0 = sum(mechanical_energy(system, s0))
        worst = 0.0
        for _ in range(int(round(1.0 / dt))):
            solver.step(s0, s1, control, dt)
            s0, s1 = s1, s0
            worst = max(worst, abs(sum(mechanical_energy(system, s0)) - e0))
        dev[dt] = worst
    k = dev[1 / 960] * 960  # K from the finest step
    for dt, d in dev.items():
        assert d <= 1.15 * k * dt, (dt, d, k * dt)
    assert dev[1 / 240] / dev[1 / 480] == pytest.approx(2.0, rel=0.1)


def test_pd_drives_track_a_trajectory_within_the_disturbance_bound(ur5):
    """|e_j| <= D_j / kp_j + v_j dt.

    A critically or over-damped PD loop's impulse response is positive with integral 1/kp, so a
    disturbance torque bounded by D_j moves the joint by at most D_j / kp_j. D_j bounds the gravity and
    inertial load of the links beyond joint j: sum_i m_i r_ij (g + R (sum |qdd| + (sum |qd|)^2)) +
    lambda_i (sum |qdd| + (sum |qd|)^2), r_ij the distance of link i's centre of mass from joint j,
    R = 1 m >= the UR5's reach, lambda_i link i's largest principal inertia. The set point is held over
    a step, so the reference runs ahead by at most v_j dt."""
    kp = np.array([3000, 3000, 3000, 300, 300, 300.0])
    kd = 2 * np.sqrt(kp * np.array([2.0, 2.0, 1.0, 0.05, 0.05, 0.02]))
    system = build_robot(ur5, kp=kp, kd=kd)
    solver = make_solver(system)
    waypoints = np.array([[0, -1.571, 1.571, -1.571, -1.571, 0], [-0.6, -1.0, 2.05, -2.62, -1.571, -0.6]])
    vmax, amax = np.full(6, 1.5), np.full(6, 4.0)
    traj = joint_trajectory(waypoints, vmax, amax, dwell=0.3)
    s0, s1 = system.state(waypoints[0]), system.state(waypoints[0])
    control = system.model.control()
    model = system.model
    mass, com = model.body_mass.numpy(), model.body_com.numpy()
    lam = np.linalg.eigvalsh(model.body_inertia.numpy()).max(axis=1)
    parent = model.joint_parent.numpy()
    child = model.joint_child.numpy()
    labels = [lab.split("/", 1)[-1] for lab in model.joint_label]
    joint_body = [child[labels.index(j)] for j in system.joints]
    subtree = [[b for b in range(model.body_count) if _descends(b, jb, parent, child)] for jb in joint_body]
    dt = 1 / 240
    worst, bound = np.zeros(6), np.zeros(6)
    motion = amax.sum() + vmax.sum() ** 2  # bounds |angular acceleration| of any link [rad/s^2]
    for k in range(int(traj.duration / dt)):
        q_ref, qd_ref, _ = traj(k * dt)
        system.set_targets(control, q_ref, qd_ref)
        solver.step(s0, s1, control, dt)
        s0, s1 = s1, s0
        bq = s0.body_q.numpy()
        x_com = bq[:, :3] + np.array([_rot(bq[b, 3:], com[b]) for b in range(len(bq))])
        d = np.array([sum(mass[i] * np.linalg.norm(x_com[i] - bq[jb, :3]) * (9.81 + 1.0 * motion) + lam[i] * motion for i in sub)
                      for jb, sub in zip(joint_body, subtree)])
        bound = np.maximum(bound, d / kp + vmax * dt)
        worst = np.maximum(worst, np.abs(system.q(s0) - traj((k + 1) * dt)[0]))
    assert np.all(worst <= bound), (worst, bound)
    assert worst.max() < 0.05


def _descends(b: int, root: int, parent: np.ndarray, child: np.ndarray) -> bool:
    up = {int(c): int(p) for p, c in zip(parent, child)}
    while b != -1:
        if b == root:
            return True
        b = up.get(b, -1)
    return False


def _rot(q, v):
    u, w = np.asarray(q[:3], float), float(q[3])
    t = 2 * np.cross(u, v)
    return v + w * t + np.cross(u, t)


def test_the_arm_falls_onto_the_floor_and_settles(ur5):
    """Passive arm released above the floor: its links fall onto it and come to rest there, on top of it.

    Rest: every body's centre of mass slower than 1 cm/s after 3 s (a link may still spin about its own
    axis: the joints have no friction). On top: no link frame below the floor, and the tool, which the
    swing carries down, stays within a link radius (0.06 m) of the floor."""
    system = build_robot(ur5, floor=True)
    solver = make_solver(system)
    s0, s1 = system.state(np.array([0, -0.3, 0, 0, 0, 0])), system.state(np.zeros(6))
    control = system.model.control()
    for _ in range(720):
        solver.step(s0, s1, control, 1 / 240)
        s0, s1 = s1, s0
    speed = np.linalg.norm(s0.body_qd.numpy()[:, :3], axis=1)
    z = s0.body_q.numpy()[:, 2]
    assert np.all(np.isfinite(z)) and speed.max() < 0.01, speed
    assert z.min() >= -1e-3 and system.link_pose(s0, "tool0")[2] < 0.06


def test_inspect_urdf_lists_meshes_found_and_missing(tmp_path, capsys):
    import json

    assert main(["inspect", str(need(UR5)), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert (d["kind"], d["robot"], len(d["links"]), len(d["joints"])) == ("urdf", "ur5", 11, 10)
    assert len(d["meshes_found"]) == 14 and d["meshes_missing"] == []
    assert d["total_mass_kg"] == pytest.approx(21.0039) and "world" in d["warnings"][0]
    path = copy_urdf(tmp_path)
    assert main(["inspect", str(path), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert len(d["meshes_found"]) == 0 and len(d["meshes_missing"]) == 14
    assert d["meshes_missing"][0] == "base_link visual: package://example-robot-data/robots/ur_description/meshes/ur5/visual/base.dae"


def test_same_run_is_bitwise_equal(ur5):
    """Two runs of the same drive commands from the same state give bitwise equal joint states."""
    finals = []
    for _ in range(2):
        system = build_robot(ur5, floor=True, kp=np.full(6, 1000.0), kd=np.full(6, 60.0))
        solver = make_solver(system)
        s0, s1 = system.state(np.zeros(6)), system.state(np.zeros(6))
        control = system.model.control()
        system.set_targets(control, np.array([0.3, -1.2, 1.0, -1.0, -1.5, 0.2]), np.zeros(6))
        for _ in range(120):
            solver.step(s0, s1, control, 1 / 240)
            s0, s1 = s1, s0
        finals.append((s0.joint_q.numpy().copy(), s0.joint_qd.numpy().copy(), solver.torque.copy()))
    for a, b in zip(*finals):
        assert np.array_equal(a, b)

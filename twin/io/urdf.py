"""URDF robots: links, joints, meshes and inertia, checked before any solver sees them.

``package://PKG/REST`` mesh URIs are resolved through a search path, in order:

1. the folders given as ``package_path`` (``--package-path`` on the command line);
2. the folders in the ``TWIN_PACKAGE_PATH`` environment variable (``os.pathsep``-separated);
3. the URDF's own tree: each folder above the URDF, nearest first.

In each folder ``D`` the file is ``D/PKG/REST``, or ``D/REST`` when ``D`` itself
is named ``PKG``. Relative filenames are relative to the URDF's folder;
``file://`` URIs are absolute. A mesh that is found nowhere, or whose format
twin cannot load (see :data:`MESH_FORMATS`), is an :class:`InputError` naming
the URDF, the link and the URI: a shape is never dropped silently.

Checks and defaults (each default is reported as a warning naming what it applies to):

- a link without ``<inertial>`` gets :data:`DEFAULT_MASS` and :data:`DEFAULT_INERTIA`;
- ``effort="0"`` or ``velocity="0"`` (URDF's "not given") means no limit, not a
  joint that cannot move: the limit is dropped;
- a revolute or prismatic joint with ``lower == upper`` cannot move: it becomes fixed;
- ``lower > upper``, negative or non-finite numbers, a joint naming a missing
  link, a link with two parents, or no single root are errors.

:func:`resolved_urdf` writes the robot back as URDF text with absolute mesh
paths and the defaults filled in: what Newton's ``ModelBuilder.add_urdf`` reads.
"""

from __future__ import annotations

import math
import os
import warnings
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np

from twin.errors import InputError

__all__ = ["DEFAULT_INERTIA", "DEFAULT_MASS", "MESH_FORMATS", "Joint", "Link", "MeshRef", "Robot", "UrdfWarning",
           "package_search_path", "read_urdf", "resolved_urdf"]

MESH_FORMATS = (".stl", ".dae", ".obj", ".ply", ".glb", ".gltf", ".off")
"""Mesh file suffixes twin (through trimesh; COLLADA through pycollada) loads."""
DEFAULT_MASS = 0.01
"""Mass [kg] of a link without ``<inertial>``: small against any real link, but not zero (a
moving massless link makes MuJoCo's mass matrix singular)."""
DEFAULT_INERTIA = 1e-5
"""Principal moments [kg m^2] of a link without ``<inertial>`` (a 1 cm, 10 g solid, rounded up)."""
PACKAGE_PATH_ENV = "TWIN_PACKAGE_PATH"
"""Environment variable with extra folders to look for ``package://`` URIs in."""
JOINT_TYPES = ("revolute", "continuous", "prismatic", "fixed", "floating", "planar")


class UrdfWarning(UserWarning):
    """A default twin applied to a URDF (missing inertia, a degenerate limit)."""


@dataclass(frozen=True)
class MeshRef:
    """A mesh a link shows (``visual``) or collides with (``collision``).

    Attributes:
        link: the link's name; role: "visual" or "collision".
        uri: the filename as written in the URDF; path: the file found (absolute).
        scale: per-axis scale, (3,).
        origin: (xyz [m], rpy [rad]) of the mesh in the link's frame.
    """

    link: str
    role: str
    uri: str
    path: Path
    scale: tuple[float, float, float] = (1.0, 1.0, 1.0)
    origin: tuple[tuple[float, float, float], tuple[float, float, float]] = ((0.0, 0.0, 0.0), (0.0, 0.0, 0.0))


@dataclass
class Link:
    """One rigid link.

    Attributes:
        name: as in the URDF.
        mass: [kg]; inertial: False when twin applied the default.
    """

    name: str
    mass: float
    inertial: bool


@dataclass
class Joint:
    """One joint.

    Attributes:
        name, type, parent, child: as in the URDF (``type`` after the checks: a
            joint that cannot move is "fixed").
        origin: (xyz [m], rpy [rad]) of the child frame in the parent's.
        axis: unit axis, (3,).
        lower, upper: position limits [rad or m] (None: unlimited).
        effort: [N m or N]; velocity: [rad/s or m/s] (None: not limited).
    """

    name: str
    type: str
    parent: str
    child: str
    origin: tuple[tuple[float, float, float], tuple[float, float, float]]
    axis: tuple[float, float, float] = (1.0, 0.0, 0.0)
    lower: float | None = None
    upper: float | None = None
    effort: float | None = None
    velocity: float | None = None


@dataclass
class Robot:
    """A URDF robot after the checks.

    Attributes:
        name: the robot's name; source: the URDF file.
        links, joints: in file order; root: the link with no parent.
        meshes: every mesh reference, resolved.
        warnings: what twin assumed (defaults), one line each.
        tree: the parsed XML, with mesh paths and defaults filled in.
        missing: meshes not found ("link role: uri"), only when read with ``strict=False``.
    """

    name: str
    source: str
    links: list[Link]
    joints: list[Joint]
    root: str
    meshes: list[MeshRef]
    warnings: list[str]
    tree: ET.ElementTree
    missing: list[str] = field(default_factory=list)

    @property
    def total_mass(self) -> float:
        """[kg], links with the default mass included."""
        return float(sum(link.mass for link in self.links))

    @property
    def movable(self) -> list[Joint]:
        """Joints with degrees of freedom, in file order."""
        return [j for j in self.joints if j.type != "fixed"]


def package_search_path(urdf: str | Path, package_path: list[str | Path] | None = None) -> list[Path]:
    """The folders ``package://`` URIs are looked for in, in order (see the module docstring)."""
    dirs = [Path(p) for p in package_path or []]
    dirs += [Path(p) for p in os.environ.get(PACKAGE_PATH_ENV, "").split(os.pathsep) if p]
    here = Path(urdf).resolve().parent
    return dirs + [here, *here.parents]


def _resolve_uri(uri: str, urdf: Path, search: list[Path]) -> Path | None:
    """The file a mesh URI names, or None when it is not there."""
    if uri.startswith("package://"):
        package, _, rest = uri[len("package://"):].partition("/")
        for d in search:
            for candidate in (d / package / rest, d / rest if d.name == package else None):
                if candidate is not None and candidate.is_file():
                    return candidate.resolve()
        return None
    if uri.startswith("file://"):
        path = Path(unquote(urlparse(uri).path))
    else:
        path = Path(uri) if Path(uri).is_absolute() else urdf.parent / uri
    return path.resolve() if path.is_file() else None


def _floats(text: str | None, n: int, default: tuple, where: str, urdf: Path) -> tuple:
    if text is None:
        return default
    try:
        v = tuple(float(x) for x in text.split())
    except ValueError:
        v = ()
    if len(v) != n or not all(math.isfinite(x) for x in v):
        raise InputError(urdf, where, f"expected {n} finite numbers, found {text!r}")
    return v


def _origin(el: ET.Element | None, where: str, urdf: Path) -> tuple[tuple, tuple]:
    """(xyz [m], rpy [rad]) of an ``<origin>`` element (zeros when absent)."""
    zero = (0.0, 0.0, 0.0)
    return (_floats(None if el is None else el.get("xyz"), 3, zero, f"{where} xyz", urdf),
            _floats(None if el is None else el.get("rpy"), 3, zero, f"{where} rpy", urdf))


def _attr_float(el: ET.Element, name: str, where: str, urdf: Path) -> float | None:
    text = el.get(name)
    return None if text is None else _floats(text, 1, (), f"{where}, {name}", urdf)[0]


def _read_link(el: ET.Element, urdf: Path, search: list[Path], meshes: list[MeshRef], missing: list[str] | None) -> Link:
    name = el.get("name")
    where = f"link {name}"
    inertial = el.find("inertial")
    mass = DEFAULT_MASS
    if inertial is not None:
        m = inertial.find("mass")
        mass = _attr_float(m, "value", f"{where}, <mass>", urdf) if m is not None else None
        if mass is None or mass < 0:
            raise InputError(urdf, f"{where}, <inertial>", f"needs <mass value> >= 0, found {None if m is None else m.get('value')!r}")
    link = Link(name, mass, inertial is not None)
    for role in ("visual", "collision"):
        for shape in el.findall(role):
            geometry = shape.find("geometry")
            if geometry is None or len(geometry) == 0:
                raise InputError(urdf, f"{where}, <{role}>", "has no <geometry>")
            mesh = geometry.find("mesh")
            if mesh is None:
                continue
            uri = mesh.get("filename") or ""
            path = _resolve_uri(uri, urdf, search)
            if path is None and missing is not None:
                missing.append(f"{name} {role}: {uri}")
                continue
            if path is None:
                raise InputError(urdf, f"{where}, <{role}>", f"mesh {uri!r} not found (searched {', '.join(map(str, search[:4]))}"
                                 f"{', ...' if len(search) > 4 else ''}; add its package folder with --package-path or {PACKAGE_PATH_ENV})")
            suffix = path.suffix.lower()
            if suffix not in MESH_FORMATS:
                raise InputError(urdf, f"{where}, <{role}>", f"mesh {uri!r}: format {suffix or '(none)'} is not one of {', '.join(MESH_FORMATS)}")
            scale = _floats(mesh.get("scale"), 3, (1.0, 1.0, 1.0), f"{where}, <{role}> mesh scale", urdf)
            meshes.append(MeshRef(name, role, uri, path, scale, _origin(shape.find("origin"), f"{where}, <{role}> origin", urdf)))
            mesh.set("filename", str(path))
    return link


def _read_joint(el: ET.Element, urdf: Path, links: set[str], notes: list[str]) -> Joint:
    name = el.get("name")
    where = f"joint {name}"
    kind = el.get("type")
    if kind not in JOINT_TYPES:
        raise InputError(urdf, where, f"type {kind!r} is not one of {', '.join(JOINT_TYPES)}")
    ends = {}
    for end in ("parent", "child"):
        e = el.find(end)
        ends[end] = None if e is None else e.get("link")
        if ends[end] not in links:
            raise InputError(urdf, where, f"{end} link {ends[end]!r} is not a link of the robot" if ends[end] else f"has no <{end} link=...>")
    origin = _origin(el.find("origin"), f"{where}, origin", urdf)
    a = el.find("axis")
    axis = np.array(_floats(None if a is None else a.get("xyz"), 3, (1.0, 0.0, 0.0), f"{where}, axis", urdf))
    if kind != "fixed" and not np.linalg.norm(axis) > 0:
        raise InputError(urdf, f"{where}, axis", "is zero")
    axis = axis / (np.linalg.norm(axis) or 1.0)
    j = Joint(name, kind, ends["parent"], ends["child"], origin, tuple(float(x) for x in axis))
    lim = el.find("limit")
    if lim is None:
        if kind in ("revolute", "prismatic"):
            raise InputError(urdf, where, f"a {kind} joint needs <limit lower upper effort velocity>")
        return j
    for attr in ("lower", "upper", "effort", "velocity"):
        setattr(j, attr, _attr_float(lim, attr, f"{where}, <limit>", urdf))
    for attr in ("effort", "velocity"):
        v = getattr(j, attr)
        if v is not None and v < 0:
            raise InputError(urdf, f"{where}, <limit>", f"{attr} must be >= 0, found {v}")
        if v == 0:
            notes.append(f"{where}: {attr}=\"0\" read as no {attr} limit")
            setattr(j, attr, None)
            del lim.attrib[attr]
    if kind == "continuous":
        j.lower = j.upper = None
    elif kind in ("revolute", "prismatic"):
        j.lower = 0.0 if j.lower is None else j.lower
        j.upper = 0.0 if j.upper is None else j.upper
        if j.lower > j.upper:
            raise InputError(urdf, f"{where}, <limit>", f"lower {j.lower} > upper {j.upper}")
        if j.lower == j.upper:
            notes.append(f"{where}: lower == upper ({j.lower}), the joint cannot move: made fixed")
            j.type = "fixed"
            el.set("type", "fixed")
    return j


def read_urdf(path: str | Path, *, package_path: list[str | Path] | None = None, strict: bool = True) -> Robot:
    """Read and check a URDF file (see the module docstring).

    Args:
        path: the .urdf file.
        package_path: folders to look for ``package://`` URIs in, before the
            environment variable and the URDF's own tree.
        strict: a mesh not found is an error; if False it is listed in ``Robot.missing``
            (for ``twin inspect``; such a robot must not be simulated).

    Raises:
        InputError: not XML, not a <robot>, a joint naming a missing link, a
            mesh not found or in an unknown format, bad numbers (file and place).
    """
    urdf = Path(path)
    if not urdf.is_file():
        raise InputError(urdf, "", "no such file")
    try:
        tree = ET.parse(urdf)
    except ET.ParseError as e:
        line, col = e.position
        raise InputError(urdf, f"line {line}, column {col + 1}", f"not well-formed XML ({str(e).split(':')[0]})") from None
    robot_el = tree.getroot()
    if robot_el.tag != "robot":
        raise InputError(urdf, "", f"the root element is <{robot_el.tag}>, not <robot>")
    search = package_search_path(urdf, package_path)
    meshes: list[MeshRef] = []
    missing: list[str] | None = None if strict else []
    links: list[Link] = []
    for el in robot_el.findall("link"):
        if not el.get("name"):
            raise InputError(urdf, "<link>", "has no name")
        if any(link.name == el.get("name") for link in links):
            raise InputError(urdf, f"link {el.get('name')}", "is defined twice")
        links.append(_read_link(el, urdf, search, meshes, missing))
    if not links:
        raise InputError(urdf, "", "has no <link>")
    notes: list[str] = []
    names = {link.name for link in links}
    joints = [_read_joint(el, urdf, names, notes) for el in robot_el.findall("joint")]
    parent_of: dict[str, str] = {}
    for j in joints:
        if j.child in parent_of:
            raise InputError(urdf, f"joint {j.name}", f"link {j.child} already has the parent joint to {parent_of[j.child]}")
        parent_of[j.child] = j.parent
    roots = [link.name for link in links if link.name not in parent_of]
    if len(roots) != 1:
        raise InputError(urdf, "", f"needs exactly one root link (one without a parent joint), found {roots or 'none (a loop)'}")
    defaulted = [link.name for link in links if not link.inertial]
    if defaulted:
        notes.insert(0, f"links without <inertial> get {DEFAULT_MASS} kg and {DEFAULT_INERTIA} kg m^2: {', '.join(defaulted)}")
        for el in robot_el.findall("link"):
            if el.find("inertial") is None:
                inertial = ET.SubElement(el, "inertial")
                ET.SubElement(inertial, "mass", value=repr(DEFAULT_MASS))
                ET.SubElement(inertial, "inertia", ixx=repr(DEFAULT_INERTIA), iyy=repr(DEFAULT_INERTIA), izz=repr(DEFAULT_INERTIA),
                              ixy="0", ixz="0", iyz="0")
    for note in notes:
        warnings.warn(f"{urdf}: {note}", UrdfWarning, stacklevel=2)
    return Robot(robot_el.get("name") or urdf.stem, str(urdf), links, joints, roots[0], meshes, notes, tree, missing or [])


def resolved_urdf(robot: Robot) -> str:
    """The robot as URDF text: absolute mesh paths, defaults filled in (for Newton's ``add_urdf``)."""
    return ET.tostring(robot.tree.getroot(), encoding="unicode")

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

Mesh paths are confined: a ``package://PKG/...`` file must lie inside the PKG
folder it is found in (``..`` cannot leave it); a ``file://``, absolute or
relative filename must lie inside a named package folder or the URDF's folder
(or the one above it), else the URDF is refused unless the user names the
folder (:func:`mesh_roots`). The mesh format is checked from the URI before any
file is looked for.

Checks and defaults (each default is reported as a warning naming what it applies to):

- a link without ``<inertial>`` gets :data:`DEFAULT_MASS` and :data:`DEFAULT_INERTIA`;
- ``effort="0"`` or ``velocity="0"`` (URDF's "not given") means no limit, not a
  joint that cannot move: the limit is dropped;
- a revolute or prismatic joint with ``lower == upper`` cannot move: it becomes fixed;
- ``lower > upper``, negative or non-finite numbers, an ``<inertia>`` that is not
  positive-definite, a joint naming a missing link, a self-parented joint, a link
  with two parents, no single root, or a link not reachable from the root (a
  loop) are errors.

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
from twin.io.checks import regular_file

__all__ = ["DEFAULT_INERTIA", "DEFAULT_MASS", "MESH_FORMATS", "Joint", "Link", "MeshRef", "Robot", "UrdfWarning",
           "mesh_roots", "package_search_path", "read_urdf", "resolved_urdf"]

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


def _named_dirs(package_path: list[str | Path] | None) -> list[Path]:
    """The package folders the user named: ``package_path``, then ``TWIN_PACKAGE_PATH``."""
    dirs = [Path(p) for p in package_path or []]
    return dirs + [Path(p) for p in os.environ.get(PACKAGE_PATH_ENV, "").split(os.pathsep) if p]


def package_search_path(urdf: str | Path, package_path: list[str | Path] | None = None) -> list[Path]:
    """The folders ``package://`` URIs are looked for in, in order (see the module docstring)."""
    here = Path(urdf).resolve().parent
    return _named_dirs(package_path) + [here, *here.parents]


def _inside(path: Path, root: Path) -> bool:
    """Whether ``path`` (resolved: links and ``..`` followed) lies in the folder ``root``."""
    return path.resolve().is_relative_to(root.resolve())


def _resolve_uri(uri: str, urdf: Path, search: list[Path], roots: list[Path], where: str) -> Path | None:
    """The file a mesh URI names, or None when it is not there.

    A ``package://PKG/REST`` file must lie inside the PKG folder it is found in; a
    ``file://``, absolute or relative filename inside one of ``roots``. A URI that
    escapes is an InputError raised before the file is looked for, so that a URDF
    cannot tell which files exist elsewhere.
    """
    if uri.startswith("package://"):
        package, _, rest = uri[len("package://"):].partition("/")
        if not package or ".." in Path(package).parts or Path(rest).is_absolute() or ".." in Path(rest).parts:
            raise InputError(urdf, where, f"mesh {uri!r}: a package URI must not leave its package folder ('..', an absolute path)")
        for d in search:
            for top in (d / package, d if d.name == package else None):
                if top is None or not (top / rest).is_file():
                    continue
                if not _inside(top / rest, top):  # a link inside the package pointing out of it
                    raise InputError(urdf, where, f"mesh {uri!r} leads out of its package folder {top}")
                return (top / rest).resolve()
        return None
    path = Path(unquote(urlparse(uri).path)) if uri.startswith("file://") else Path(uri) if Path(uri).is_absolute() else urdf.parent / uri
    if not any(_inside(path, r) for r in roots):
        raise InputError(urdf, where, f"mesh {uri!r} lies outside the package roots ({', '.join(map(str, roots))}); "
                         f"name its folder with --package-path or {PACKAGE_PATH_ENV} to allow it")
    return path.resolve() if path.is_file() else None


def mesh_roots(urdf: str | Path, package_path: list[str | Path] | None = None) -> list[Path]:
    """The folders a ``file://``, absolute or relative mesh filename may lie in: the given
    package folders, those of ``TWIN_PACKAGE_PATH``, and the URDF's folder and the one above
    it (a package's ``urdf/`` beside its ``meshes/``)."""
    here = Path(urdf).resolve().parent
    return _named_dirs(package_path) + [here, here.parent]


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


def _read_link(el: ET.Element, urdf: Path, search: list[Path], roots: list[Path], meshes: list[MeshRef],
               missing: list[str] | None) -> Link:
    name = el.get("name")
    where = f"link {name}"
    inertial = el.find("inertial")
    mass = DEFAULT_MASS
    if inertial is not None:
        m = inertial.find("mass")
        mass = _attr_float(m, "value", f"{where}, <mass>", urdf) if m is not None else None
        if mass is None or mass < 0:
            raise InputError(urdf, f"{where}, <inertial>", f"needs <mass value> >= 0, found {None if m is None else m.get('value')!r}")
        _check_inertia(inertial.find("inertia"), mass, f"{where}, <inertia>", urdf)
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
            try:
                suffix = Path(urlparse(uri).path if uri.startswith(("package://", "file://")) else uri).suffix.lower()
            except ValueError as e:
                raise InputError(urdf, f"{where}, <{role}>", f"mesh {uri[:200]!r} is not a URI ({e})") from None
            if suffix not in MESH_FORMATS:  # told from the URI, before any file is looked for
                raise InputError(urdf, f"{where}, <{role}>", f"mesh {uri!r}: format {suffix or '(none)'} is not one of {', '.join(MESH_FORMATS)}")
            path = _resolve_uri(uri, urdf, search, roots, f"{where}, <{role}>")
            if path is None and missing is not None:
                missing.append(f"{name} {role}: {uri}")
                continue
            if path is None:
                raise InputError(urdf, f"{where}, <{role}>", f"mesh {uri!r} not found (searched {', '.join(map(str, search[:4]))}"
                                 f"{', ...' if len(search) > 4 else ''}; add its package folder with --package-path or {PACKAGE_PATH_ENV})")
            scale = _floats(mesh.get("scale"), 3, (1.0, 1.0, 1.0), f"{where}, <{role}> mesh scale", urdf)
            meshes.append(MeshRef(name, role, uri, path, scale, _origin(shape.find("origin"), f"{where}, <{role}> origin", urdf)))
            mesh.set("filename", str(path))
    return link


def _check_inertia(el: ET.Element | None, mass: float, where: str, urdf: Path) -> None:
    """An ``<inertia>`` must be finite and positive-definite; all zeros is allowed for a massless
    link (a frame, such as UR5's ``ee_link``). A missing one is left as before."""
    if el is None:
        return
    v = {k: _attr_float(el, k, where, urdf) or 0.0 for k in ("ixx", "ixy", "ixz", "iyy", "iyz", "izz")}
    inertia = np.array([[v["ixx"], v["ixy"], v["ixz"]], [v["ixy"], v["iyy"], v["iyz"]], [v["ixz"], v["iyz"], v["izz"]]])
    if mass == 0 and not inertia.any():
        return
    low = float(np.linalg.eigvalsh(inertia)[0])
    if not low > 0:
        raise InputError(urdf, where, f"the inertia matrix must be positive-definite; its smallest principal moment is {low:.6g} kg m^2")


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
    if ends["parent"] == ends["child"]:
        raise InputError(urdf, where, f"link {ends['child']} is its own parent")
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
    urdf = regular_file(path)
    try:
        tree = ET.parse(urdf)
    except ET.ParseError as e:
        line, col = e.position
        raise InputError(urdf, f"line {line}, column {col + 1}", f"not well-formed XML ({str(e).split(':')[0]})") from None
    robot_el = tree.getroot()
    if robot_el.tag != "robot":
        raise InputError(urdf, "", f"the root element is <{robot_el.tag}>, not <robot>")
    search = package_search_path(urdf, package_path)
    roots = mesh_roots(urdf, package_path)
    meshes: list[MeshRef] = []
    missing: list[str] | None = None if strict else []
    links: list[Link] = []
    seen: set[str] = set()
    for el in robot_el.findall("link"):
        if not el.get("name"):
            raise InputError(urdf, "<link>", "has no name")
        if el.get("name") in seen:
            raise InputError(urdf, f"link {el.get('name')}", "is defined twice")
        seen.add(el.get("name"))
        links.append(_read_link(el, urdf, search, roots, meshes, missing))
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
    _check_tree(urdf, roots[0], links, joints)
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


def _check_tree(urdf: Path, root: str, links: list[Link], joints: list[Joint]) -> None:
    """Every link reachable from ``root`` through the joints (so there is no loop), in O(links + joints)."""
    children: dict[str, list[str]] = {}
    for j in joints:
        children.setdefault(j.parent, []).append(j.child)
    reached, todo = {root}, [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in reached:
                reached.add(child)
                todo.append(child)
    lost = [link.name for link in links if link.name not in reached]
    if lost:
        joint = next(j.name for j in joints if j.child == lost[0])
        raise InputError(urdf, f"joint {joint}", f"links {', '.join(lost[:5])}{', ...' if len(lost) > 5 else ''} are not reachable "
                         f"from the root {root}: the joints form a loop")


def resolved_urdf(robot: Robot) -> str:
    """The robot as URDF text: absolute mesh paths, defaults filled in (for Newton's ``add_urdf``)."""
    return ET.tostring(robot.tree.getroot(), encoding="unicode")

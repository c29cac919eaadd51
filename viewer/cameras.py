"""Cameras: named presets for every scene, per-scene presets shipped as JSON, and camera files.

A camera is an orbit around a focus: the compass bearing from the focus to
the camera (``azimuth``, 0 = north, 90 = east), the angle above the horizon
(``elevation``), and either a ``distance`` [m] or, when it is left out, a
distance that fits the whole site in the picture (then scaled by ``zoom``).
A camera file is one JSON object with those keys::

    {"focus": [382400.0, 6354450.0, 25.0], "azimuth": 200, "elevation": 28,
     "distance": 260, "view_angle": 30}

``focus`` is (x, y) or (x, y, z) in the scene's CRS [m]; without z the
ground's height there is used; without ``focus`` the site's centre. Scene
presets live in ``viewer/cameras/<scene script stem>.json`` as
``{"name": camera, ...}``; ``default`` there is the scene's default camera.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from os import PathLike
from pathlib import Path

import numpy as np

from twin.errors import InputError

__all__ = ["GENERIC", "Camera", "box_corners", "camera_presets", "fit_view", "frame_points", "projected",
           "resolve_camera"]

PRESET_DIR = Path(__file__).resolve().parent / "cameras"


@dataclass(frozen=True)
class Camera:
    """An orbit camera.

    Attributes:
        azimuth: compass bearing from the focus to the camera [deg].
        elevation: angle of the view above the horizon [deg], in (0, 90].
        focus: (x, y) or (x, y, z) [m, scene CRS], or None for the site's centre.
        distance: from the focus [m] (horizontal units), or None to fit the site.
        zoom: factor on the fitted distance's magnification (> 1 is closer).
        view_angle: vertical field of view [deg].
    """

    azimuth: float = 225.0
    elevation: float = 35.0
    focus: tuple[float, ...] | None = None
    distance: float | None = None
    zoom: float = 1.0
    view_angle: float = 30.0

    @classmethod
    def from_dict(cls, d: dict, source: str) -> "Camera":
        """A Camera from a JSON object; unknown keys and bad values raise InputError naming ``source``."""
        if not isinstance(d, dict):
            raise InputError(source, "", "a camera must be a JSON object")
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(d) - known)
        if unknown:
            raise InputError(source, f"key {unknown[0]!r}", f"unknown camera key; known: {', '.join(sorted(known))}")
        try:
            values = {k: (tuple(float(v) for v in d[k]) if k == "focus" and d[k] is not None
                          else None if d[k] is None else float(d[k])) for k in d}
        except (TypeError, ValueError):
            raise InputError(source, "", "camera values must be numbers (focus: a list of 2 or 3)") from None
        camera = cls(**values)
        if not 0.0 < camera.elevation <= 90.0:
            raise InputError(source, "elevation", f"must be in (0, 90] degrees, got {camera.elevation}")
        if camera.focus is not None and len(camera.focus) not in (2, 3):
            raise InputError(source, "focus", "must be [x, y] or [x, y, z]")
        bad_distance = camera.distance is not None and camera.distance <= 0
        if bad_distance or camera.zoom <= 0 or not 0 < camera.view_angle < 180:
            raise InputError(source, "", "distance and zoom must be positive, view_angle in (0, 180)")
        return camera

    def to_dict(self) -> dict:
        """The JSON object of this camera (None values left out)."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items() if v is not None}

    def direction(self) -> np.ndarray:
        """Unit vector (east, north, up) from the focus towards the camera."""
        az, el = math.radians(self.azimuth), math.radians(self.elevation)
        return np.array([math.sin(az) * math.cos(el), math.cos(az) * math.cos(el), math.sin(el)])


GENERIC: dict[str, Camera] = {
    "oblique": Camera(225.0, 35.0),
    "low": Camera(225.0, 20.0),
    "north-east": Camera(45.0, 35.0),
    "south": Camera(180.0, 40.0),
    "top": Camera(180.0, 90.0),
}
"""Presets every scene has: the whole site from the south-west (``oblique``, the default),
lower (``low``), from the north-east, from the south, and a plan view with north up (``top``)."""


def camera_presets(key: str) -> dict[str, Camera]:
    """The cameras of the scene ``key`` (its script's stem): the generic ones and its own."""
    presets = dict(GENERIC)
    path = PRESET_DIR / f"{key}.json"
    if key and path.is_file():
        data = _read_json(path)
        if not isinstance(data, dict):
            raise InputError(path, "", "expected an object of named cameras")
        presets.update({name: Camera.from_dict(d, f"{path} camera {name!r}") for name, d in data.items()})
    return presets


def resolve_camera(spec: str | PathLike | Camera | None, key: str = "", default: Camera | None = None) -> Camera:
    """A Camera from a preset name, a camera file (``.json``) or a Camera; None is the scene's default
    (its preset ``default``, else ``default``, else ``oblique``)."""
    if isinstance(spec, Camera):
        return spec
    presets = camera_presets(key)
    if spec is None:
        return presets.get("default", default or presets["oblique"])
    text = str(spec)
    if text in presets:
        return presets[text]
    if text.endswith(".json") or Path(text).is_file():
        return Camera.from_dict(_read_json(Path(text)), text)
    raise InputError("--camera", text, f"no such camera preset or file; presets: {', '.join(sorted(presets))}")


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(path, "", "no such camera file") from None
    except json.JSONDecodeError as e:
        raise InputError(path, f"line {e.lineno}", f"not JSON: {e.msg}") from None


def box_corners(points: np.ndarray) -> np.ndarray:
    """The 8 corners (8, 3) of the axis-aligned bounding box of ``points`` (n, 3)."""
    lo, hi = np.nanmin(points, axis=0), np.nanmax(points, axis=0)
    return np.array([(x, y, z) for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])


def projected(plotter, points: np.ndarray, aspect: float) -> np.ndarray:
    """Normalized device coordinates (n, 2) of world ``points`` (n, 3) through ``plotter``'s camera
    (inside the picture: both in [-1, 1])."""
    m = plotter.camera.GetCompositeProjectionTransformMatrix(aspect, -1.0, 1.0)
    projection = np.array([[m.GetElement(i, j) for j in range(4)] for i in range(4)])
    h = np.c_[points, np.ones(len(points))] @ projection.T
    return h[:, :2] / h[:, 3:]


def fit_view(plotter, aspect: float, frame: tuple[float, float, float, float],
             points: np.ndarray | None = None) -> None:
    """Pan and zoom the camera (its direction kept) so that ``points`` (n, 3) (default: the corners of the
    plotter's bounds) fill ``frame`` (NDC x0, x1, y0, y1) of the picture."""
    camera = plotter.camera
    camera.OrthogonalizeViewUp()
    if points is None:
        b = plotter.bounds
        points = np.array([(x, y, z) for x in b[0:2] for y in b[2:4] for z in b[4:6]])
    goal = np.array([(frame[0] + frame[1]) / 2, (frame[2] + frame[3]) / 2])
    for _ in range(3):
        ndc = projected(plotter, points, aspect)
        low, high = ndc.min(axis=0), ndc.max(axis=0)
        extent = np.maximum(high - low, 1e-9)
        zoom = min((frame[1] - frame[0]) / extent[0], (frame[3] - frame[2]) / extent[1])
        shift = (low + high) / 2 - goal / zoom  # NDC, before zooming
        half = camera.distance * math.tan(math.radians(camera.view_angle) / 2)
        up = np.array(camera.up)
        right = np.cross(np.array(camera.direction), up)
        delta = shift[0] * half * aspect * right + shift[1] * half * up
        camera.position = tuple(np.array(camera.position) + delta)
        camera.focal_point = tuple(np.array(camera.focal_point) + delta)
        camera.zoom(zoom)
    plotter.renderer.ResetCameraClippingRange()


def frame_points(plotter, camera: Camera, points: np.ndarray, aspect: float,
                 frame: tuple[float, float, float, float] = (-0.9, 0.9, -0.88, 0.78)) -> None:
    """Point ``plotter``'s camera along the orbit ``camera`` (azimuth, elevation, view angle) at the bounding
    box of ``points`` (n, 3) [display units] and, unless ``camera.distance`` is set, move it so that the box
    fills ``frame`` (NDC; the top left to the title). ``camera.focus`` (x, y, z) overrides the box's centre."""
    corners = box_corners(points)
    given = camera.focus is not None and len(camera.focus) == 3
    focus = np.array(camera.focus, float) if given else corners.mean(axis=0)
    size = float(np.linalg.norm(corners[-1] - corners[0])) or 1.0
    cam = plotter.camera
    cam.view_angle = camera.view_angle
    cam.focal_point = tuple(focus)
    cam.position = tuple(focus + camera.direction() * (camera.distance or 3.0 * size))
    cam.up = (0.0, 1.0, 0.0) if camera.elevation >= 89.99 else (0.0, 0.0, 1.0)
    if camera.distance is None:
        fit_view(plotter, aspect, frame, corners)
        cam.zoom(camera.zoom)
    plotter.renderer.ResetCameraClippingRange()

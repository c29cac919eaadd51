"""Model, State and Control of the Lagrangian particle dispersion solver.

- :class:`Model`: what never changes in a run: the wind grid's geometry, the
  particle domain, the diffusivities, dry deposition, the origin and CRS.
- :class:`Control`: what drives the particles from outside: the wind (u, v, w)
  on the grid's nodes at one or more times.
- :class:`State`: what changes every step: each particle's position, airborne
  and deposited mass, status, and its release time.

Coordinates on the device are float32 metres relative to ``Model.origin``
(x east, y north in the scene CRS; z height above the ground datum).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import warp as wp
from twin.physics.dispersion.kernels import ALIVE, NOT_RELEASED

from twin.errors import InputError

__all__ = ["Control", "Model", "Release", "State", "uniform_axis"]

STATE_ARRAYS = ("pos", "mass", "status", "deposited", "release_time")


def uniform_axis(name: str, values: np.ndarray) -> tuple[float, float]:
    """(first, spacing) of an evenly spaced ascending axis; one value gives spacing 1."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise InputError(name, "", "must be a non-empty 1-D axis")
    if values.size == 1:
        return float(values[0]), 1.0
    step = np.diff(values)
    if not (np.all(step > 0) and np.allclose(step, step[0], rtol=1e-6, atol=0.0)):
        raise InputError(name, "", "must be evenly spaced and ascending")
    return float(values[0]), float(step[0])


@dataclass
class Model:
    """The static part of a dispersion run.

    Attributes:
        grid_lo: (x, y, z) of the wind grid's first node [m, relative to ``origin``].
        spacing: (dx, dy, dz) of the wind grid's nodes [m].
        shape: (nz, ny, nx) of the wind grid.
        domain_lo, domain_hi: the box particles live in [m]; they leave through
            its sides and reflect at its bottom (the ground) and top.
        diffusivity: (Kx, Ky, Kz) turbulent diffusivities [m2 s-1], constant.
        deposition_velocity: dry deposition velocity [m s-1] in the lowest
            ``surface_layer`` metres (0: no deposition).
        origin: (x, y) [m, scene CRS] of the local frame; crs: "EPSG:<code>".
        device: Warp device.
    """

    grid_lo: tuple[float, float, float]
    spacing: tuple[float, float, float]
    shape: tuple[int, int, int]
    domain_lo: tuple[float, float, float]
    domain_hi: tuple[float, float, float]
    diffusivity: tuple[float, float, float] = (0.0, 0.0, 0.0)
    deposition_velocity: float = 0.0
    surface_layer: float = 50.0
    origin: tuple[float, float] = (0.0, 0.0)
    crs: str = ""
    device: str = "cpu"

    @classmethod
    def on_grid(cls, x: np.ndarray, y: np.ndarray, z: np.ndarray, **kwargs) -> "Model":
        """A model whose wind nodes are at ``x`` (nx,), ``y`` (ny,), ``z`` (nz,) [m, local],
        the particle domain being the grid's box (unless ``domain_lo``/``domain_hi`` are given)."""
        (x0, dx), (y0, dy), (z0, dz) = uniform_axis("wind grid x", x), uniform_axis("wind grid y", y), uniform_axis("wind grid z", z)
        kwargs.setdefault("domain_lo", (x0, y0, z0))
        kwargs.setdefault("domain_hi", (float(x[-1]), float(y[-1]), float(z[-1])))
        m = cls((x0, y0, z0), (dx, dy, dz), (len(z), len(y), len(x)), **kwargs)
        if any(k < 0 for k in m.diffusivity) or m.deposition_velocity < 0 or m.surface_layer <= 0:
            raise InputError("dispersion model", "", "diffusivities and the deposition velocity must be >= 0, the surface layer > 0")
        return m

    def state(self, release: "Release") -> "State":
        """The particles of ``release``, not yet released, on the device."""
        n = release.particles
        lo, hi = np.array(self.domain_lo), np.array(self.domain_hi)
        p = np.array(release.position, dtype=np.float64)
        if np.any(p < lo) or np.any(p > hi):
            raise InputError("release", "position", f"{tuple(p)} lies outside the particle domain {tuple(lo)} .. {tuple(hi)}")
        times = release.start + release.duration * (np.arange(n) + 0.5) / n if release.duration > 0 else np.full(n, release.start)
        host = {
            "pos": np.tile(p.astype(np.float32), (n, 1)),
            "mass": np.full(n, release.mass / n, np.float32),
            "status": np.full(n, NOT_RELEASED, np.int32),
            "deposited": np.zeros(n, np.float32),
            "release_time": times.astype(np.float32),
        }
        return State.from_numpy(host, self.device)


@dataclass
class Release:
    """A source: ``mass`` [kg] carried by ``particles`` particles, all starting at
    ``position`` (x, y, z) [m, local frame], released evenly over ``duration`` [s]
    from ``start`` [s] (0: all at once, an instantaneous puff)."""

    position: tuple[float, float, float]
    mass: float
    particles: int
    start: float = 0.0
    duration: float = 0.0

    def __post_init__(self):
        if self.particles < 1 or not self.mass > 0 or self.duration < 0:
            raise InputError("release", "", "needs particles >= 1, mass > 0 and duration >= 0")


@dataclass
class State:
    """Particles on the device, each array (n,): ``pos`` vec3 [m, local],
    ``mass`` airborne mass [kg], ``status`` (0 airborne, 1 not released yet,
    2 left the domain), ``deposited`` mass deposited [kg], ``release_time`` [s]."""

    pos: wp.array
    mass: wp.array
    status: wp.array
    deposited: wp.array
    release_time: wp.array

    @classmethod
    def from_numpy(cls, host: dict[str, np.ndarray], device: str) -> "State":
        dtypes = {"pos": wp.vec3, "mass": float, "status": wp.int32, "deposited": float, "release_time": float}
        return cls(**{k: wp.array(host[k], dtype=dtypes[k], device=device) for k in STATE_ARRAYS})

    @property
    def count(self) -> int:
        return self.pos.shape[0]

    def numpy(self) -> dict[str, np.ndarray]:
        """Host copies: pos (n, 3) float32, the others (n,)."""
        return {k: getattr(self, k).numpy() for k in STATE_ARRAYS}

    def clone(self) -> "State":
        return State(*(wp.clone(getattr(self, k)) for k in STATE_ARRAYS))

    def load(self, arrays: dict[str, np.ndarray]) -> None:
        """Upload host arrays of :meth:`numpy` (a checkpoint) into this state's buffers."""
        for name, values in arrays.items():
            getattr(self, name).assign(values)

    def airborne(self) -> np.ndarray:
        """Boolean mask (n,) of the particles in the air."""
        return self.status.numpy() == ALIVE


@dataclass
class Control:
    """The wind driving the particles: ``wind`` (u, v, w) [m s-1] as vec3, shape
    (nt, nz, ny, nx) on the model's wind nodes, at times ``wind_t0 + wind_dt * n``
    [s]; linear in time between them, held beyond."""

    wind: wp.array
    wind_t0: float = 0.0
    wind_dt: float = 1.0

    @classmethod
    def from_numpy(cls, model: Model, u: np.ndarray, v: np.ndarray, w: np.ndarray | None = None,
                   times: np.ndarray | None = None) -> "Control":
        """Upload host winds (nt, nz, ny, nx) (or (nz, ny, nx) for a steady wind); ``w`` defaults to 0."""
        arrays = []
        for name, a in (("u", u), ("v", v), ("w", np.zeros_like(u) if w is None else w)):
            a = np.asarray(a, dtype=np.float32)
            a = a[None] if a.ndim == 3 else a
            if a.shape[1:] != model.shape:
                raise InputError("wind", name, f"has shape {a.shape}, the model's grid is (nt, {', '.join(map(str, model.shape))})")
            if not np.all(np.isfinite(a)):
                raise InputError("wind", name, "has NaN or infinite values")
            arrays.append(a)
        wind = np.stack(arrays, axis=-1)
        t0, dt = uniform_axis("wind times", np.zeros(1) if times is None else times)
        if times is not None and len(times) != wind.shape[0]:
            raise InputError("wind", "times", f"{len(times)} times for {wind.shape[0]} wind fields")
        return cls(wp.array(wind, dtype=wp.vec3, device=model.device), wind_t0=t0, wind_dt=dt)

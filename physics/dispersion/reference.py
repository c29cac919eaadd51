"""A NumPy reference of :func:`twin.physics.dispersion.kernels.move_particles`, vectorised over particles.

The same arithmetic as the kernel (Heun advection with trilinear-in-space,
linear-in-time wind, random walk, reflection, deposition, leaving the domain),
with NumPy's generator for the random walk: with zero diffusivity it matches the
Warp kernel to float32 rounding, and it is the baseline of
``benchmarks/dispersion_throughput.py``.
"""

from __future__ import annotations

import numpy as np
from twin.physics.dispersion.kernels import ALIVE, LEFT, NOT_RELEASED
from twin.physics.dispersion.model import Model

__all__ = ["reference_step", "reference_wind"]


def _axis(value: np.ndarray, first: float, inv_spacing: np.float32, n: int) -> tuple[np.ndarray, np.ndarray]:
    f = np.clip((value - np.float32(first)) * inv_spacing, 0.0, n - 1.0)
    i = np.minimum(np.floor(f).astype(np.int64), max(n - 2, 0))
    return i, f - i


def reference_wind(model: Model, wind: np.ndarray, wind_t0: float, wind_dt: float, p: np.ndarray, t: float) -> np.ndarray:
    """Wind [m/s] (n, 3) at points ``p`` (n, 3) [m] and time ``t`` [s]; ``wind`` (nt, nz, ny, nx, 3)."""
    nt, nz, ny, nx, _ = wind.shape
    ft = np.clip((t - wind_t0) * np.float32(1.0 / wind_dt), 0.0, nt - 1.0)
    n0 = min(int(np.floor(ft)), max(nt - 2, 0))
    wt = ft - n0
    inv = [np.float32(1.0 / d) for d in model.spacing]  # as the kernel: a product by the inverse spacing
    i, wx = _axis(p[:, 0], model.grid_lo[0], inv[0], nx)
    j, wy = _axis(p[:, 1], model.grid_lo[1], inv[1], ny)
    k, wz = _axis(p[:, 2], model.grid_lo[2], inv[2], nz)
    i1, j1, k1 = np.minimum(i + 1, nx - 1), np.minimum(j + 1, ny - 1), np.minimum(k + 1, nz - 1)
    wx, wy, wz = wx[:, None], wy[:, None], wz[:, None]

    def trilinear(a):
        c00 = a[k, j, i] * (1 - wx) + a[k, j, i1] * wx
        c01 = a[k, j1, i] * (1 - wx) + a[k, j1, i1] * wx
        c10 = a[k1, j, i] * (1 - wx) + a[k1, j, i1] * wx
        c11 = a[k1, j1, i] * (1 - wx) + a[k1, j1, i1] * wx
        return (c00 * (1 - wy) + c01 * wy) * (1 - wz) + (c10 * (1 - wy) + c11 * wy) * wz

    a = trilinear(wind[n0])
    return a if wt == 0 else a * (1 - wt) + trilinear(wind[min(n0 + 1, nt - 1)]) * wt


def reference_step(model: Model, wind: np.ndarray, wind_t0: float, wind_dt: float,
                   particles: dict[str, np.ndarray], t: float, dt: float, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One step of every particle; ``wind`` (nt, nz, ny, nx, 3) [m/s]; ``particles`` holds the
    State's arrays (see ``State.numpy``); returns new ones."""
    pos = particles["pos"].copy()
    mass = particles["mass"].copy()
    status = particles["status"].copy()
    deposited = particles["deposited"].copy()
    status[(status == NOT_RELEASED) & (particles["release_time"] <= t + dt)] = ALIVE
    a = status == ALIVE
    x = pos[a]
    k1 = reference_wind(model, wind, wind_t0, wind_dt, x, t)
    k2 = reference_wind(model, wind, wind_t0, wind_dt, x + dt * k1, t + dt)
    x = x + 0.5 * dt * (k1 + k2)
    x = x + np.sqrt(6.0 * np.asarray(model.diffusivity) * dt) * (2.0 * rng.random(x.shape, dtype=x.dtype) - 1.0)
    lo, hi = np.asarray(model.domain_lo), np.asarray(model.domain_hi)
    z = x[:, 2]
    z = np.where(z < lo[2], 2 * lo[2] - z, z)
    x[:, 2] = np.clip(np.where(z > hi[2], 2 * hi[2] - z, z), lo[2], hi[2])
    m, d = mass[a], deposited[a]
    if model.deposition_velocity > 0:
        near = x[:, 2] - lo[2] < model.surface_layer
        lost = np.where(near, m * (1 - np.exp(-model.deposition_velocity * dt / model.surface_layer)), 0).astype(m.dtype)
        m, d = m - lost, d + lost
    out_side = (x[:, 0] < lo[0]) | (x[:, 0] > hi[0]) | (x[:, 1] < lo[1]) | (x[:, 1] > hi[1])
    pos[a], mass[a], deposited[a] = x, m, d
    s = status[a]
    s[out_side] = LEFT
    status[a] = s
    return {"pos": pos, "mass": mass, "status": status, "deposited": deposited, "release_time": particles["release_time"]}

"""Warp kernels of the Lagrangian particle dispersion solver; one particle per thread.

Positions are metres relative to the model origin (float32); the wind (u, v, w)
sits as one vec3 on the nodes of a regular grid (nt, nz, ny, nx), so that one
load gathers all three components, and is interpolated trilinearly in space and
linearly in time.
"""

from __future__ import annotations

import warp as wp

ALIVE = wp.constant(0)
NOT_RELEASED = wp.constant(1)
LEFT = wp.constant(2)
"""Particle status: airborne, waiting for its release time, gone through a side of the domain."""


@wp.func
def node_coordinate(value: float, first: float, inv_spacing: float, n: int):
    """Lower node index and the weight of the upper node along one axis, clamped to the grid."""
    f = wp.clamp((value - first) * inv_spacing, 0.0, float(n - 1))
    i = wp.min(int(wp.floor(f)), wp.max(n - 2, 0))
    return i, f - float(i)


@wp.func
def trilinear(a: wp.array4d(dtype=wp.vec3), n: int, k: int, j: int, i: int, wz: float, wy: float, wx: float):
    """Trilinear interpolation of time slice ``n`` of ``a`` in the cell with lower corner (k, j, i)."""
    k1 = wp.min(k + 1, a.shape[1] - 1)
    j1 = wp.min(j + 1, a.shape[2] - 1)
    i1 = wp.min(i + 1, a.shape[3] - 1)
    c00 = a[n, k, j, i] * (1.0 - wx) + a[n, k, j, i1] * wx
    c01 = a[n, k, j1, i] * (1.0 - wx) + a[n, k, j1, i1] * wx
    c10 = a[n, k1, j, i] * (1.0 - wx) + a[n, k1, j, i1] * wx
    c11 = a[n, k1, j1, i] * (1.0 - wx) + a[n, k1, j1, i1] * wx
    return (c00 * (1.0 - wy) + c01 * wy) * (1.0 - wz) + (c10 * (1.0 - wy) + c11 * wy) * wz


@wp.func
def wind_at(wind: wp.array4d(dtype=wp.vec3), grid_lo: wp.vec3, inv_spacing: wp.vec3, wind_t0: float, inv_wind_dt: float, p: wp.vec3, t: float):
    """Wind (u, v, w) [m/s] at point p [m] and time t [s]: trilinear in space, linear in time (held beyond the ends).
    Spacings come inverted (1/dx, 1/dy, 1/dz [1/m], 1/dt [1/s]): a product instead of a division per axis."""
    nt = wind.shape[0]
    ft = wp.clamp((t - wind_t0) * inv_wind_dt, 0.0, float(nt - 1))
    n0 = wp.min(int(wp.floor(ft)), wp.max(nt - 2, 0))
    wt = ft - float(n0)
    i, wx = node_coordinate(p[0], grid_lo[0], inv_spacing[0], wind.shape[3])
    j, wy = node_coordinate(p[1], grid_lo[1], inv_spacing[1], wind.shape[2])
    k, wz = node_coordinate(p[2], grid_lo[2], inv_spacing[2], wind.shape[1])
    a = trilinear(wind, n0, k, j, i, wz, wy, wx)
    if wt == 0.0:  # on a wind time (always for a steady wind): one slice
        return a
    return a * (1.0 - wt) + trilinear(wind, wp.min(n0 + 1, nt - 1), k, j, i, wz, wy, wx) * wt


@wp.func
def reflect(z: float, bottom: float, top: float):
    """z folded back into [bottom, top] by mirror reflection at both walls."""
    if z < bottom:
        z = 2.0 * bottom - z
    if z > top:
        z = 2.0 * top - z
    return wp.clamp(z, bottom, top)


@wp.kernel
def move_particles(
    pos_in: wp.array(dtype=wp.vec3),
    mass_in: wp.array(dtype=float),
    status_in: wp.array(dtype=wp.int32),
    deposited_in: wp.array(dtype=float),
    release_time: wp.array(dtype=float),
    wind: wp.array4d(dtype=wp.vec3),
    grid_lo: wp.vec3,
    inv_spacing: wp.vec3,
    wind_t0: float,
    inv_wind_dt: float,
    domain_lo: wp.vec3,
    domain_hi: wp.vec3,
    walk: wp.vec3,
    deposition_velocity: float,
    surface_layer: float,
    t: float,
    dt: float,
    seed: int,
    first: int,
    pos_out: wp.array(dtype=wp.vec3),
    mass_out: wp.array(dtype=float),
    status_out: wp.array(dtype=wp.int32),
    deposited_out: wp.array(dtype=float),
):
    """One step of every particle: Heun (RK2) advection in space and time, a random walk
    of variance 2 K dt per axis (a uniform draw on +-sqrt(6 K dt): no logarithm or cosine,
    2.5x cheaper than Warp's Box-Muller randn; the sum over n steps tends to the Gaussian
    with excess kurtosis -1.2 / n), reflection at the ground and the top, dry deposition
    in the surface layer, and the particle leaves through a side. ``walk`` is
    sqrt(6 K dt) per axis [m], computed once per step on the host.

    A particle whose release time falls in (t, t + dt] starts this step at its
    source position and moves for the whole step. Thread k moves particle
    ``first + k`` (a launch may cover a part of the particles).
    """
    p = wp.tid() + first
    x = pos_in[p]
    m = mass_in[p]
    s = status_in[p]
    d = deposited_in[p]
    if s == NOT_RELEASED and release_time[p] <= t + dt:
        s = ALIVE
    if s == ALIVE:
        k1 = wind_at(wind, grid_lo, inv_spacing, wind_t0, inv_wind_dt, x, t)
        k2 = wind_at(wind, grid_lo, inv_spacing, wind_t0, inv_wind_dt, x + dt * k1, t + dt)
        x = x + (0.5 * dt) * (k1 + k2)
        rng = wp.rand_init(seed, p)
        x = x + wp.vec3(
            walk[0] * (2.0 * wp.randf(rng) - 1.0),
            walk[1] * (2.0 * wp.randf(rng) - 1.0),
            walk[2] * (2.0 * wp.randf(rng) - 1.0),
        )
        x = wp.vec3(x[0], x[1], reflect(x[2], domain_lo[2], domain_hi[2]))
        if deposition_velocity > 0.0 and x[2] - domain_lo[2] < surface_layer:
            lost = m * (1.0 - wp.exp(-deposition_velocity * dt / surface_layer))
            m = m - lost
            d = d + lost
        if x[0] < domain_lo[0] or x[0] > domain_hi[0] or x[1] < domain_lo[1] or x[1] > domain_hi[1]:
            s = LEFT
    pos_out[p] = x
    mass_out[p] = m
    status_out[p] = s
    deposited_out[p] = d


@wp.kernel
def bin_particle_mass(
    pos: wp.array(dtype=wp.vec3),
    mass: wp.array(dtype=float),
    status: wp.array(dtype=wp.int32),
    grid_lo: wp.vec3,
    cell: wp.vec3,
    mass_grid: wp.array3d(dtype=float),
):
    """Add each airborne particle's mass [kg] to the output cell (k, j, i) that holds it."""
    p = wp.tid()
    if status[p] != ALIVE:
        return
    x = pos[p]
    i = int(wp.floor((x[0] - grid_lo[0]) / cell[0]))
    j = int(wp.floor((x[1] - grid_lo[1]) / cell[1]))
    k = int(wp.floor((x[2] - grid_lo[2]) / cell[2]))
    if i >= 0 and i < mass_grid.shape[2] and j >= 0 and j < mass_grid.shape[1] and k >= 0 and k < mass_grid.shape[0]:
        wp.atomic_add(mass_grid, k, j, i, mass[p])

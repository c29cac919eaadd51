"""The same shallow-water scheme in vectorised NumPy: the test oracle and the
benchmark reference. It mirrors :mod:`twin.physics.swe.kernels` step for step (same
reconstruction, ghosts, HLL flux, friction, sources, Heun) on (ny, nx) arrays."""

from __future__ import annotations

import numpy as np
from twin.physics.swe.model import Control, Model, edge_value, edge_wave_rate, lowest_edge_bed

BoundarySpec = tuple[str, float]  # (kind, value): stage relative to z_ref [m] or q [m^2/s]


def _minmod(a, b):
    return np.where(a * b <= 0, 0, np.where(np.abs(a) < np.abs(b), a, b))


def _velocity(h, q, h_dry):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(h > h_dry, q / h, 0).astype(h.dtype)


def _ghost(h, u, v, z, kind, value, inward, g):
    T = h.dtype.type
    if kind == "wall":
        return h, -u, v
    if kind == "stage":
        hg = np.maximum(T(value) - z, 0)
        cg = np.sqrt(g * hg)
        ug = u + T(inward) * T(2) * (cg - np.sqrt(g * h))
        ug = np.where(T(inward) * ug > cg, T(inward) * cg, ug)
        return hg, np.where(hg > 0, ug, u).astype(h.dtype), v
    return h, u, v


def _discharge_flux(h, q, g):
    T = h.dtype.type
    hg = np.maximum(h, np.cbrt(T(q * q) / g))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(hg > 0, T(q * q) / hg + T(0.5) * g * hg * hg, 0).astype(h.dtype)


def _hll(hl, ul, vl, zl, hr, ur, vr, zr, g):
    zs = np.maximum(zl, zr)
    hsl = np.maximum(0, hl + zl - zs)
    hsr = np.maximum(0, hr + zr - zs)
    cl = np.sqrt(g * hsl)
    cr = np.sqrt(g * hsr)
    sl = np.where(hsl <= 0, ur - 2 * cr, np.minimum(ul - cl, ur - cr))
    sr = np.where(hsr <= 0, ul + 2 * cl, np.maximum(ul + cl, ur + cr))
    fhl, fhr = hsl * ul, hsr * ur
    half = hl.dtype.type(0.5)
    fnl = fhl * ul + half * g * hsl * hsl
    fnr = fhr * ur + half * g * hsr * hsr
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1 / (sr - sl)
        fh_mid = (sr * fhl - sl * fhr + sl * sr * (hsr - hsl)) * inv
        fn_mid = (sr * fnl - sl * fnr + sl * sr * (fhr - fhl)) * inv
    fh = np.where(sl >= 0, fhl, np.where(sr <= 0, fhr, fh_mid))
    fn = np.where(sl >= 0, fnl, np.where(sr <= 0, fnr, fn_mid))
    wet = (hsl > 0) | (hsr > 0)
    fh = np.where(wet, fh, 0)
    fn = np.where(wet, fn, 0)
    ft = fh * np.where(fh > 0, vl, vr)
    return fh, fn + half * g * (hl * hl - hsl * hsl), fn + half * g * (hr * hr - hsr * hsr), ft


def axis_fluxes(h, qn, qt, z, open_, order, h_dry, g, lo: BoundarySpec, hi: BoundarySpec):
    """Fluxes through the faces along the last axis: arrays (m, n) -> four (m, n + 1).

    ``qn`` is the discharge normal to those faces, ``qt`` the tangential one;
    ``lo``/``hi`` are the boundaries at index 0 and n.
    """
    dt = h.dtype.type
    u = _velocity(h, qn, h_dry)
    v = _velocity(h, qt, h_dry)
    e = h + z
    usable = np.zeros_like(open_)
    usable[:, 1:-1] = open_[:, :-2] & open_[:, 2:]
    usable &= (h > 0) & (order == 2)  # else the cell is reconstructed to first order

    def slope(a):
        s = np.zeros_like(a)
        s[:, 1:-1] = _minmod(a[:, 1:-1] - a[:, :-2], a[:, 2:] - a[:, 1:-1])
        return np.where(usable, s, 0).astype(a.dtype)

    sh, se, su, sv = slope(h), slope(e), slope(u), slope(v)
    half = dt(0.5)

    def side(sign):
        s = half * dt(sign)
        hf = h + s * sh
        zf = np.where(usable, (e + s * se) - hf, z)
        return hf, u + s * su, v + s * sv, zf, np.where(usable, h * (z - zf), 0)

    hp, up, vp, zp, cp = side(+1)  # each cell's high face
    hm, um, vm, zm, cm = side(-1)  # each cell's low face
    m, n = h.shape
    pad = lambda a: np.concatenate([np.zeros((m, 1), a.dtype), a], axis=1)  # noqa: E731
    padr = lambda a: np.concatenate([a, np.zeros((m, 1), a.dtype)], axis=1)  # noqa: E731
    has_lo, has_hi = pad(open_), padr(open_)
    hl, ul, vl, zl, cl = (pad(a) for a in (hp, up, vp, zp, cp))
    hr, ur, vr, zr, cr = (padr(a) for a in (hm, um, vm, zm, cm))
    cl = np.where(has_lo, cl, 0)
    cr = np.where(has_hi, cr, 0)
    for missing, interior_is_hi, spec, inward in ((~has_lo, True, lo, 1.0), (~has_hi, False, hi, -1.0)):
        kind = np.full(missing.shape, "wall", dtype=object)
        if interior_is_hi:
            kind[:, 0] = spec[0]
            src = (hr, ur, vr, zr)
        else:
            kind[:, -1] = spec[0]
            src = (hl, ul, vl, zl)
        gh, gu, gv = src[0].copy(), src[1].copy(), src[2].copy()
        for k in ("wall", "transmissive", "stage"):
            sel = missing & (kind == k)
            if sel.any():
                a, b, c = _ghost(src[0], src[1], src[2], src[3], k, spec[1], inward, g)
                gh, gu, gv = np.where(sel, a, gh), np.where(sel, b, gu), np.where(sel, c, gv)
        if interior_is_hi:
            hl, ul, vl, zl = np.where(missing, gh, hl), np.where(missing, gu, ul), np.where(missing, gv, vl), np.where(missing, zr, zl)
        else:
            hr, ur, vr, zr = np.where(missing, gh, hr), np.where(missing, gu, ur), np.where(missing, gv, vr), np.where(missing, zl, zr)
    fh, fn_lo, fn_hi, ft = _hll(hl, ul, vl, zl, hr, ur, vr, zr, g)
    fn_lo = fn_lo - g * cl
    fn_hi = fn_hi - g * cr
    if lo[0] == "discharge":  # the mass flux is imposed exactly
        edge = ~has_lo[:, 0]
        fn = _discharge_flux(hr[:, 0], lo[1], g)
        fh[:, 0] = np.where(edge, dt(lo[1]), fh[:, 0])
        fn_hi[:, 0] = np.where(edge, fn - g * cr[:, 0], fn_hi[:, 0])
        ft[:, 0] = np.where(edge, 0, ft[:, 0])
    if hi[0] == "discharge":
        edge = ~has_hi[:, -1]
        fn = _discharge_flux(hl[:, -1], hi[1], g)
        fh[:, -1] = np.where(edge, -dt(hi[1]), fh[:, -1])
        fn_lo[:, -1] = np.where(edge, fn - g * cl[:, -1], fn_lo[:, -1])
        ft[:, -1] = np.where(edge, 0, ft[:, -1])
    hc_lo, hc_hi = pad(h), padr(h)
    skip = (~has_lo & ~has_hi) | (has_lo & has_hi & (hc_lo <= 0) & (hc_hi <= 0))
    return tuple(np.where(skip, 0, a).astype(h.dtype) for a in (fh, fn_lo, fn_hi, ft))


class ReferenceSolver:
    """NumPy twin of :class:`twin.physics.swe.FloodSolver` (same Model, same Control).

    Works on host arrays (ny, nx) in the model's precision; ``step`` returns new arrays.
    """

    def __init__(self, model: Model, control: Control | None = None):
        self.m = model
        self.c = control or Control()
        self.dt = np.dtype(model.dtype).type
        shape = model.shape
        self.z = model.bed.numpy().reshape(shape)
        self.n = model.manning_n.numpy().reshape(shape)
        self.open = model.solid.numpy().reshape(shape) == 0
        self.g = self.dt(model.g)
        self.lowest_bed = lowest_edge_bed(model)
        self.h_dry = self.dt(model.h_dry)
        rain = self.c.rain_rate
        self.rain = None if rain is None else (np.asarray(rain, np.float64) * self.open).astype(self.dt)
        self.infil = None if self.c.infiltration_rate is None else np.asarray(self.c.infiltration_rate).astype(self.dt)
        soc = self.c.source_of_cell
        self.soc = None if soc is None else np.where(self.open, soc, -1)
        if self.soc is not None:
            self.src_cells = np.bincount(self.soc[self.soc >= 0], minlength=len(self.c.source_discharge)).astype(np.float64)

    def _edge(self, edge, t):
        return self.m.boundary_kinds[edge], edge_value(self.m, self.c, edge, t)

    def stable_dt(self, h, hu, hv, t: float = 0.0) -> float:
        """As FloodSolver.stable_dt, at time t [s]."""
        m = self.m
        wet = (h > self.h_dry) & self.open
        rate = edge_wave_rate(m, self.c, t, self.lowest_bed)
        if wet.any():
            hw = h[wet]
            c = np.sqrt(self.g * hw)
            cells = (np.abs(hu[wet] / hw) + c) / self.dt(m.dx) + (np.abs(hv[wet] / hw) + c) / self.dt(m.dy)
            rate = max(rate, float(cells.max()))
        return m.cfl / rate if rate > 0 else float("inf")

    def _stage(self, h, hu, hv, base, t, dt, w):
        m, T = self.m, self.dt
        fx = axis_fluxes(h, hu, hv, self.z, self.open, m.order, self.h_dry, self.g, self._edge("west", t), self._edge("east", t))
        fy = axis_fluxes(h.T, hv.T, hu.T, self.z.T, self.open.T, m.order, self.h_dry, self.g, self._edge("south", t), self._edge("north", t))
        fy = [a.T for a in fy]
        rdx, rdy, dtt = T(1) / T(m.dx), T(1) / T(m.dy), T(dt)
        hn = h - dtt * ((fx[0][:, 1:] - fx[0][:, :-1]) * rdx + (fy[0][1:] - fy[0][:-1]) * rdy)
        qx = hu - dtt * ((fx[1][:, 1:] - fx[2][:, :-1]) * rdx + (fy[3][1:] - fy[3][:-1]) * rdy)
        qy = hv - dtt * ((fx[3][:, 1:] - fx[3][:, :-1]) * rdx + (fy[1][1:] - fy[2][:-1]) * rdy)
        if self.rain is not None:
            hn = hn + dtt * T(self.c.rain_scale(t)) * self.rain
        if self.soc is not None:
            q = np.array([s(t) for s in self.c.source_discharge]) / (self.src_cells * m.cell_area)
            rate = np.where(self.soc >= 0, q.astype(T)[np.maximum(self.soc, 0)], 0).astype(T)
            hn = hn + np.where(self.soc >= 0, dtt * rate, 0).astype(T)
        hn = np.maximum(hn, 0)
        wet = hn > self.h_dry
        with np.errstate(divide="ignore", invalid="ignore"):
            a = dtt * self.g * self.n * self.n / (hn * hn * np.cbrt(hn))
            damp = T(2) / (T(1) + np.sqrt(T(1) + T(4) * a * np.sqrt(qx * qx + qy * qy)))
        qx = np.where(wet, qx * damp, 0)
        qy = np.where(wet, qy * damp, 0)
        keep = T(1) - T(w)
        out = [T(w) * b + keep * a for a, b in zip((hn, qx, qy), base)]
        return [np.where(self.open, a, b).astype(T) for a, b in zip(out, (h, hu, hv))]

    def step(self, h, hu, hv, dt, t, infiltrated=None):
        """Advance (h, hu, hv) by dt [s] from t [s]; returns new (h, hu, hv[, infiltrated])."""
        base = (h, hu, hv)
        if self.m.order == 1:
            h1, hu1, hv1 = self._stage(h, hu, hv, base, t, dt, 0.0)
        else:
            mid = self._stage(h, hu, hv, base, t, dt, 0.0)
            h1, hu1, hv1 = self._stage(*mid, base, t + dt, dt, 0.5)
        if self.infil is not None:
            loss = np.minimum(h1, self.infil * self.dt(dt))
            loss = np.where(loss > 0, loss, 0).astype(self.dt)
            h1 = h1 - loss
            infiltrated = (0 if infiltrated is None else infiltrated) + loss
            return h1, hu1, hv1, infiltrated
        return h1, hu1, hv1

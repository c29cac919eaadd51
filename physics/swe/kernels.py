"""Warp kernels of the shallow-water solver, one action each.

The scheme (see docs/flood-solver.md): cell-centred finite volumes on a
structured grid, hydrostatic reconstruction (Audusse et al. 2004) of a MUSCL
minmod reconstruction of (stage, depth, u, v), HLL fluxes with an upwinded
tangential momentum, a centred bed-slope term folded into the face fluxes,
fully implicit Manning friction, SSP-RK2 (Heun) in time.

Cells are flattened row-major: cell ``k = j * nx + i`` (i east, j north).
x-faces: ``f = j * (nx + 1) + i`` is the west face of cell (i, j), i in [0, nx].
y-faces: ``f = j * nx + i`` is the south face of cell (i, j), j in [0, ny].
Every face stores four fluxes: mass ``fh`` [m^2/s], the normal momentum flux as
seen by the cell on its low side ``fn_lo`` and on its high side ``fn_hi``
[m^3/s^2] (they differ by the hydrostatic and centred bed terms), and the
tangential momentum flux ``ft`` [m^3/s^2].

Kernels are built per floating-point type by :func:`kernels_for` (float32 or
float64) and cached.
"""


import functools
from types import SimpleNamespace

import warp as wp

WALL = 0
TRANSMISSIVE = 1
STAGE = 2
DISCHARGE = 3
SPANS = 4
"""Edge code: the edge's faces take their kinds and values from per-face arrays
(boundaries on spans of the edge, see FloodSolver)."""
TILE_SIZE = 8
"""Cells per side of the square tiles the flux and update kernels are launched over;
tiles with no water within one tile are skipped (see FloodSolver)."""
BOUNDARY_CODES = {"wall": WALL, "transmissive": TRANSMISSIVE, "stage": STAGE, "discharge": DISCHARGE}

# The device clock (physics/swe/clock.py): float64 fields per ensemble member, read by the
# kernels below in place of their scalar dt, time, rain scale and edge values when the
# ``clock`` array they get is not empty. Member m owns the grid rows m * member_rows ..
# m * member_rows + member_rows - 2 (the last row of each but the top member is a separator).
CLOCK_T = 0  # time [s]
CLOCK_DT = 1  # this step's dt [s] (0 for a member that waits)
CLOCK_WEIGHT_DT = 2  # this stage's share of dt [s]
CLOCK_RAIN_SCALE = 3  # rain scale of this stage
CLOCK_EDGE = 4  # 4 edge values (west, east, south, north) of this stage, as edge_value gives them
CLOCK_FIELDS = 20  # the others are the clock's own (physics/swe/clock.py)


@functools.cache
def kernels_for(real) -> SimpleNamespace:
    """The solver's kernels for ``real`` = ``wp.float32`` or ``wp.float64``."""
    zero = real(0.0)
    half = real(0.5)
    TILE = TILE_SIZE

    @wp.func
    def root(x: real):
        """sqrt(x) whose derivative is taken as 0 at x = 0 (still or dry water), where
        sqrt's is infinite, so that the reverse pass (physics/swe/adjoint.py) stays finite."""
        return wp.sqrt(x)

    @wp.func_grad(root)
    def adj_root(x: real, adj_ret: real):
        if x > zero:
            wp.adjoint[x] += adj_ret * half / wp.sqrt(x)

    @wp.func
    def minmod(a: real, b: real):
        if a * b <= zero:
            return zero
        if wp.abs(a) < wp.abs(b):
            return a
        return b

    @wp.func
    def velocity(h: real, q: real, h_dry: real):
        if h > h_dry:
            return q / h
        return zero

    @wp.func
    def tile_origin(t: int, per_tile: int, tiles: wp.array(dtype=wp.int32), ntx: int):
        """(i0, j0) of the active tile served by thread t, and t's index inside it."""
        n = t / per_tile
        tile = tiles[n]
        ty = tile / ntx
        return (tile - ty * ntx) * TILE, ty * TILE, t - n * per_tile

    @wp.func
    def tile_cell(t: int, tiles: wp.array(dtype=wp.int32), ntx: int, nx: int, ny: int):
        """Flat index of the cell served by thread t of a cell launch over ``tiles``, or -1
        where the tile overhangs the grid."""
        i0, j0, local = tile_origin(t, TILE * TILE, tiles, ntx)
        i = i0 + local % TILE
        j = j0 + local / TILE
        if i >= nx or j >= ny:
            return -1
        return j * nx + i

    @wp.func
    def cell_run_origin(t: int, run: int, tiles: wp.array(dtype=wp.int32), ntx: int):
        """(i, j) of the first cell of thread t's run of ``run`` cells along a tile row
        (``run`` divides TILE), in a cell launch over ``tiles``."""
        runs = TILE / run
        i0, j0, local = tile_origin(t, TILE * runs, tiles, ntx)
        line = local / runs
        return i0 + (local - line * runs) * run, j0 + line

    @wp.func
    def cell_faces(
        h: wp.array(dtype=real), un: wp.array(dtype=real), ut: wp.array(dtype=real), z: wp.array(dtype=real),
        k: int, stride: int, has_m: int, has_p: int, order: int,
    ):
        """Reconstructed (h, un, ut, z, bed term) of cell k on its low face, then on its high
        face (neighbours ``k -/+ stride``; ``has_m``/``has_p``: they are open cells). The
        bed term is the cell's share of the centred bed-slope term, h_c * (z_c - z_face):
        g times it is subtracted from the normal momentum flux the cell sees through that
        face (on either side), so that the two faces of a cell add up to -g h_c (z_high - z_low)."""
        hc = h[k]
        zc = z[k]
        uc = un[k]
        vc = ut[k]
        if order < 2 or hc <= zero or has_m * has_p == 0:
            return hc, uc, vc, zc, zero, hc, uc, vc, zc, zero
        km = k - stride
        kp = k + stride
        hm = h[km]
        hp = h[kp]
        ec = hc + zc
        mh = minmod(hc - hm, hp - hc)
        me = minmod(ec - (hm + z[km]), (hp + z[kp]) - ec)
        mu = minmod(uc - un[km], un[kp] - uc)
        mv = minmod(vc - ut[km], ut[kp] - vc)
        s = -half
        h_lo = hc + s * mh
        z_lo = (ec + s * me) - h_lo
        u_lo = uc + s * mu
        v_lo = vc + s * mv
        h_hi = hc + half * mh
        z_hi = (ec + half * me) - h_hi
        u_hi = uc + half * mu
        v_hi = vc + half * mv
        return h_lo, u_lo, v_lo, z_lo, hc * (zc - z_lo), h_hi, u_hi, v_hi, z_hi, hc * (zc - z_hi)

    @wp.func
    def ghost_state(hi: real, ui: real, vi: real, zi: real, kind: int, value: real, inward: real, g: real):
        """Ghost (h, un, ut) beyond a wall, transmissive or stage boundary face, from the
        interior face state; ``inward`` is +1 on the low edge, -1 on the high edge."""
        if kind == 0:  # wall
            return hi, -ui, vi
        if kind == 2:  # stage [m]: the outgoing Riemann invariant u -/+ 2c is kept, the
            hg = wp.max(value - zi, zero)  # inflow is at most critical (|u| <= c)
            ug = ui
            if hg > zero:
                cg = root(g * hg)
                ug = ui + inward * real(2.0) * (cg - root(g * hi))
                if inward * ug > cg:
                    ug = inward * cg
            return hg, ug, vi
        return hi, ui, vi  # transmissive

    @wp.func
    def discharge_flux(hi: real, q: real, g: real):
        """Normal momentum flux [m^3/s^2] of a prescribed discharge q [m^2/s] entering
        over an interior face depth hi [m]: q^2/h + g h^2/2 with h = max(hi, critical depth)."""
        hg = wp.max(hi, wp.cbrt(q * q / g))
        if hg <= zero:
            return zero
        return q * q / hg + half * g * hg * hg

    @wp.func
    def hll_flux(hl: real, ul: real, vl: real, zl: real, hr: real, ur: real, vr: real, zr: real, g: real):
        """Hydrostatic-reconstruction HLL flux: (fh, fn_lo, fn_hi, ft), pressure terms included."""
        zs = wp.max(zl, zr)
        hsl = wp.max(zero, hl + zl - zs)
        hsr = wp.max(zero, hr + zr - zs)
        fh = zero
        fn = zero
        if hsl > zero or hsr > zero:
            cl = root(g * hsl)
            cr = root(g * hsr)
            sl = wp.min(ul - cl, ur - cr)
            sr = wp.max(ul + cl, ur + cr)
            if hsl <= zero:
                sl = ur - real(2.0) * cr
            if hsr <= zero:
                sr = ul + real(2.0) * cl
            fhl = hsl * ul
            fhr = hsr * ur
            fnl = fhl * ul + half * g * hsl * hsl
            fnr = fhr * ur + half * g * hsr * hsr
            if sl >= zero:
                fh = fhl
                fn = fnl
            elif sr <= zero:
                fh = fhr
                fn = fnr
            else:
                inv = real(1.0) / (sr - sl)
                fh = (sr * fhl - sl * fhr + sl * sr * (hsr - hsl)) * inv
                fn = (sr * fnl - sl * fnr + sl * sr * (fhr - fhl)) * inv
        ft = fh * vr
        if fh > zero:
            ft = fh * vl
        fn_lo = fn + half * g * (hl * hl - hsl * hsl)
        fn_hi = fn + half * g * (hr * hr - hsr * hsr)
        return fh, fn_lo, fn_hi, ft

    @wp.func
    def is_open(solid: wp.array(dtype=wp.uint8), k: int, p: int, n_along: int):
        """1 when position p along the axis is inside the grid and cell k is not solid."""
        if p < 0 or p >= n_along:
            return 0
        if solid[k] != wp.uint8(0):
            return 0
        return 1

    @wp.func
    def face_flux(
        has_lo: int, hl: real, ul: real, vl: real, zl: real, cl: real,
        has_hi: int, hr: real, ur: real, vr: real, zr: real, cr: real,
        a: int, n_along: int, g: real, lo_kind: int, lo_value: real, hi_kind: int, hi_value: real,
    ):
        """Fluxes (fh, fn_lo, fn_hi, ft) through the face at position ``a`` along the axis
        (``n_along`` cells) from the reconstructed states of its two cells (``has_*``: the
        cell is open; a closed side takes a ghost state or an imposed discharge)."""
        if has_lo == 0 and has_hi == 0:
            return zero, zero, zero, zero
        if has_lo == 0:
            kind = WALL
            if a == 0:
                kind = lo_kind
            if kind == DISCHARGE:  # the mass flux is imposed exactly
                fn = discharge_flux(hr, lo_value, g)
                return lo_value, fn, fn - g * cr, zero
            hl, ul, vl = ghost_state(hr, ur, vr, zr, kind, lo_value, real(1.0), g)
            zl = zr
        if has_hi == 0:
            kind = WALL
            if a == n_along:
                kind = hi_kind
            if kind == DISCHARGE:
                fn = discharge_flux(hl, hi_value, g)
                return -hi_value, fn - g * cl, fn, zero
            hr, ur, vr = ghost_state(hl, ul, vl, zl, kind, hi_value, real(-1.0), g)
            zr = zl
        fh, fn_lo, fn_hi, ft = hll_flux(hl, ul, vl, zl, hr, ur, vr, zr, g)
        return fh, fn_lo - g * cl, fn_hi - g * cr, ft

    @wp.func
    def store_face(
        f: int, a: int, n_along: int,
        has_lo: int, hl: real, ul: real, vl: real, zl: real, cl: real,
        has_hi: int, hr: real, ur: real, vr: real, zr: real, cr: real,
        g: real, lo_kind: int, lo_value: real, hi_kind: int, hi_value: real,
        fh: wp.array(dtype=real), fn_lo: wp.array(dtype=real), fn_hi: wp.array(dtype=real), ft: wp.array(dtype=real),
    ):
        """Write the fluxes of face f (position a) from its cells' reconstructed states."""
        r0 = zero
        r1 = zero
        r2 = zero
        r3 = zero
        if not (has_lo * has_hi == 1 and hl <= zero and hr <= zero):  # both cells dry: no flux
            r0, r1, r2, r3 = face_flux(has_lo, hl, ul, vl, zl, cl, has_hi, hr, ur, vr, zr, cr,
                                       a, n_along, g, lo_kind, lo_value, hi_kind, hi_value)
        fh[f] = r0
        fn_lo[f] = r1
        fn_hi[f] = r2
        ft[f] = r3

    @wp.func
    def flux_run(
        h: wp.array(dtype=real), un: wp.array(dtype=real), ut: wp.array(dtype=real), z: wp.array(dtype=real),
        solid: wp.array(dtype=wp.uint8), a0: int, a1: int, n_along: int, k0: int, stride: int, f0: int, f_stride: int,
        order: int, g: real, lo_kind: int, lo_value: real, hi_kind: int, hi_value: real,
        fh: wp.array(dtype=real), fn_lo: wp.array(dtype=real), fn_hi: wp.array(dtype=real), ft: wp.array(dtype=real),
    ):
        """Fluxes through the faces at positions a0 .. a1-1 of one grid line: cell p of the
        line is ``k0 + p * stride``, face a (between cells a-1 and a) is ``f0 + a * f_stride``.
        Walking a line, each cell is reconstructed once and serves its two faces; a single
        face carries nothing from one face to the next (Warp's reverse mode needs that)."""
        has_lo = is_open(solid, k0 + (a0 - 1) * stride, a0 - 1, n_along)
        has_hi = is_open(solid, k0 + a0 * stride, a0, n_along)
        hl = zero
        ul = zero
        vl = zero
        zl = zero
        cl = zero
        if has_lo == 1:
            k = k0 + (a0 - 1) * stride
            has_m = is_open(solid, k - stride, a0 - 2, n_along)
            x0, x1, x2, x3, x4, hl, ul, vl, zl, cl = cell_faces(h, un, ut, z, k, stride, has_m, has_hi, order)
        if a1 - a0 == 1:
            hr = zero
            ur = zero
            vr = zero
            zr = zero
            cr = zero
            if has_hi == 1:
                k = k0 + a0 * stride
                has_next = is_open(solid, k + stride, a0 + 1, n_along)
                hr, ur, vr, zr, cr, x5, x6, x7, x8, x9 = cell_faces(h, un, ut, z, k, stride, has_lo, has_next, order)
            store_face(f0 + a0 * f_stride, a0, n_along, has_lo, hl, ul, vl, zl, cl, has_hi, hr, ur, vr, zr, cr,
                       g, lo_kind, lo_value, hi_kind, hi_value, fh, fn_lo, fn_hi, ft)
            return
        for a in range(a0, a1):
            k = k0 + a * stride
            has_next = is_open(solid, k + stride, a + 1, n_along)
            hr = zero
            ur = zero
            vr = zero
            zr = zero
            cr = zero
            h2 = zero
            u2 = zero
            v2 = zero
            z2 = zero
            c2 = zero
            if has_hi == 1:
                hr, ur, vr, zr, cr, h2, u2, v2, z2, c2 = cell_faces(h, un, ut, z, k, stride, has_lo, has_next, order)
            store_face(f0 + a * f_stride, a, n_along, has_lo, hl, ul, vl, zl, cl, has_hi, hr, ur, vr, zr, cr,
                       g, lo_kind, lo_value, hi_kind, hi_value, fh, fn_lo, fn_hi, ft)
            has_lo = has_hi
            has_hi = has_next
            hl = h2
            ul = u2
            vl = v2
            zl = z2
            cl = c2

    @wp.kernel(module="unique")
    def compute_velocities(
        h: wp.array(dtype=real), hu: wp.array(dtype=real), hv: wp.array(dtype=real), h_dry: real,
        tiles: wp.array(dtype=wp.int32), ntx: int, nx: int, ny: int,
        u: wp.array(dtype=real), v: wp.array(dtype=real),
    ):
        """Velocities u, v [m/s] of the cells of the active tiles, zero where h <= h_dry."""
        k = tile_cell(wp.tid(), tiles, ntx, nx, ny)
        if k < 0:
            return
        u[k] = velocity(h[k], hu[k], h_dry)
        v[k] = velocity(h[k], hv[k], h_dry)

    @wp.func
    def run_origin(t: int, run: int, tiles: wp.array(dtype=wp.int32), ntx: int):
        """For thread t of a flux launch over ``tiles`` whose threads each walk ``run``
        faces of a tile line (TILE + 1 faces, ``run`` divides it): the tile's origin
        (i0, j0), the line within the tile, and the first face of the thread's run."""
        runs = (TILE + 1) / run
        i0, j0, local = tile_origin(t, TILE * runs, tiles, ntx)
        line = local / runs
        return i0, j0, line, (local - line * runs) * run

    @wp.func
    def edge_face(kind: int, value: real, span_kind: wp.array(dtype=wp.int32), span_value: wp.array(dtype=real), f: int):
        """(kind, value) of an edge face: the edge's own, or entry f of the per-face
        arrays when the edge is of kind SPANS."""
        if kind == SPANS:
            return span_kind[f], span_value[f]
        return kind, value

    @wp.kernel(module="unique")
    def spread_span_discharge(
        h: wp.array(dtype=real), solid: wp.array(dtype=wp.uint8), z: wp.array(dtype=real),
        k0: int, stride: int, n: int, discharge: wp.float64, width: wp.float64, h_dry: real,
        offset: int, slot: int, span_value: wp.array(dtype=real), span_cells: wp.array(dtype=wp.int32),
    ):
        """One thread: spread ``discharge`` [m^3/s] over the n boundary faces of a span
        (cell c of the span is ``k0 + c * stride``, its face value goes to
        ``span_value[offset + c]``): q = discharge / (wet cells * width) [m^2/s] on the
        faces of open cells deeper than h_dry, 0 on the others; all of it through the
        lowest open cell while none is wet. The number of cells it went through goes to
        ``span_cells[slot]``."""
        wet = int(0)
        lowest = int(-1)
        z_low = zero
        for c in range(n):
            k = k0 + c * stride
            if solid[k] == wp.uint8(0):
                if h[k] > h_dry:
                    wet = wet + 1
                if lowest < 0 or z[k] < z_low:
                    lowest = c
                    z_low = z[k]
        cells = wp.max(wet, 1)
        q = real(discharge / (wp.float64(cells) * width))
        for c in range(n):
            k = k0 + c * stride
            value = zero
            if solid[k] == wp.uint8(0):
                if (wet > 0 and h[k] > h_dry) or (wet == 0 and c == lowest):
                    value = q
            span_value[offset + c] = value
        span_cells[slot] = cells

    @wp.kernel(module="unique")
    def fill_span(value: real, offset: int, span_value: wp.array(dtype=real)):
        """span_value[offset + tid] = value (a stage span's level relative to z_ref [m])."""
        span_value[offset + wp.tid()] = value

    @wp.kernel(module="unique")
    def compute_x_fluxes(
        h: wp.array(dtype=real), u: wp.array(dtype=real), v: wp.array(dtype=real),
        z: wp.array(dtype=real), solid: wp.array(dtype=wp.uint8),
        tiles: wp.array(dtype=wp.int32), ntx: int, nx: int, ny: int, run: int, order: int, g: real,
        west_kind: int, west_value: real, east_kind: int, east_value: real,
        span_kind: wp.array(dtype=wp.int32), span_value: wp.array(dtype=real), west_offset: int, east_offset: int,
        clock: wp.array(dtype=wp.float64), member_rows: int,
        fh: wp.array(dtype=real), fn_lo: wp.array(dtype=real), fn_hi: wp.array(dtype=real), ft: wp.array(dtype=real),
    ):
        """Fluxes through the x-faces of the active tiles (TILE + 1 faces a row of a tile),
        each thread walking ``run`` consecutive faces of a row. An edge of kind SPANS
        takes row j's kind and value from ``span_kind``/``span_value`` at its offset + j."""
        i0, j0, line, first = run_origin(wp.tid(), run, tiles, ntx)
        j = j0 + line
        a0 = i0 + first
        if a0 > nx or j >= ny:
            return
        if clock.shape[0] > 0:
            c = (j / member_rows) * CLOCK_FIELDS + CLOCK_EDGE
            west_value = real(clock[c])
            east_value = real(clock[c + 1])
        lo_kind, lo_value = edge_face(west_kind, west_value, span_kind, span_value, west_offset + j)
        hi_kind, hi_value = edge_face(east_kind, east_value, span_kind, span_value, east_offset + j)
        flux_run(h, u, v, z, solid, a0, wp.min(a0 + run, nx + 1), nx, j * nx, 1, j * (nx + 1), 1, order, g,
                 lo_kind, lo_value, hi_kind, hi_value, fh, fn_lo, fn_hi, ft)

    @wp.kernel(module="unique")
    def compute_y_fluxes(
        h: wp.array(dtype=real), u: wp.array(dtype=real), v: wp.array(dtype=real),
        z: wp.array(dtype=real), solid: wp.array(dtype=wp.uint8),
        tiles: wp.array(dtype=wp.int32), ntx: int, nx: int, ny: int, run: int, order: int, g: real,
        south_kind: int, south_value: real, north_kind: int, north_value: real,
        span_kind: wp.array(dtype=wp.int32), span_value: wp.array(dtype=real), south_offset: int, north_offset: int,
        clock: wp.array(dtype=wp.float64), member_rows: int,
        fh: wp.array(dtype=real), fn_lo: wp.array(dtype=real), fn_hi: wp.array(dtype=real), ft: wp.array(dtype=real),
    ):
        """Fluxes through the y-faces of the active tiles (TILE + 1 faces a column of a
        tile), each thread walking ``run`` consecutive faces of a column. Face row a
        belongs to member a / member_rows, as its row a - m * member_rows (a separator's
        faces are its neighbours' edges); a run crossing into the next member is split.
        SPANS edges as in compute_x_fluxes, column i at offset + i (one member only)."""
        i0, j0, line, first = run_origin(wp.tid(), run, tiles, ntx)
        i = i0 + line
        a0 = j0 + first
        if i >= nx or a0 > ny:
            return
        a1 = wp.min(a0 + run, ny + 1)
        m = a0 / member_rows
        split = wp.min(a1, (m + 1) * member_rows)
        for part in range(2):
            if part == 0 or split < a1:
                origin = m * member_rows
                lo = a0
                hi = split
                if part == 1:
                    origin = (m + 1) * member_rows
                    lo = split
                    hi = a1
                if clock.shape[0] > 0:
                    c = (origin / member_rows) * CLOCK_FIELDS + CLOCK_EDGE
                    south_value = real(clock[c + 2])
                    north_value = real(clock[c + 3])
                lo_kind, lo_value = edge_face(south_kind, south_value, span_kind, span_value, south_offset + i)
                hi_kind, hi_value = edge_face(north_kind, north_value, span_kind, span_value, north_offset + i)
                flux_run(h, v, u, z, solid, lo - origin, hi - origin, member_rows - 1, i + origin * nx, nx, i + origin * nx, nx,
                         order, g, lo_kind, lo_value, hi_kind, hi_value, fh, fn_lo, fn_hi, ft)

    @wp.kernel(module="unique")
    def update_cells(
        h: wp.array(dtype=real), hu: wp.array(dtype=real), hv: wp.array(dtype=real),
        h_base: wp.array(dtype=real), hu_base: wp.array(dtype=real), hv_base: wp.array(dtype=real),
        fxh: wp.array(dtype=real), fxn_lo: wp.array(dtype=real), fxn_hi: wp.array(dtype=real), fxt: wp.array(dtype=real),
        fyh: wp.array(dtype=real), fyn_lo: wp.array(dtype=real), fyn_hi: wp.array(dtype=real), fyt: wp.array(dtype=real),
        solid: wp.array(dtype=wp.uint8), manning_n: wp.array(dtype=real),
        rain_rate: wp.array(dtype=real), rain_scale: real, rain_next: wp.array(dtype=real), rain_weight: real,
        source_of_cell: wp.array(dtype=wp.int32), source_rate: wp.array(dtype=real),
        tiles: wp.array(dtype=wp.int32), ntx: int, nx: int, ny: int, run: int,
        dx: real, dy: real, dt: real, base_weight: real, h_dry: real, g: real,
        clock: wp.array(dtype=wp.float64), member_rows: int,
        h_out: wp.array(dtype=real), hu_out: wp.array(dtype=real), hv_out: wp.array(dtype=real),
    ):
        """One forward-Euler stage with implicit friction, blended with a base state, over
        the cells of the active tiles: out = w * base + (1 - w) * (U + dt * L(U));
        w = 0 (Euler), 1/2 (Heun's 2nd stage). Each thread walks ``run`` cells of a tile row.
        Rain [m/s] is rain_scale * rain_rate, or, with a rain field (``rain_next`` not
        empty), rain_scale * rain_rate + rain_weight * rain_next: the two frames that
        bracket the time, weighted linearly in time."""
        i_first, j = cell_run_origin(wp.tid(), run, tiles, ntx)
        if j >= ny:
            return
        if clock.shape[0] > 0:
            c = (j / member_rows) * CLOCK_FIELDS
            dt = real(clock[c + CLOCK_DT])
            rain_scale = real(clock[c + CLOCK_RAIN_SCALE])
        rdx = real(1.0) / dx
        rdy = real(1.0) / dy
        keep = real(1.0) - base_weight
        for i in range(i_first, wp.min(i_first + run, nx)):
            k = j * nx + i
            if solid[k] != wp.uint8(0):
                continue
            w = k + j  # west face of cell (i, j): j * (nx + 1) + i
            e = w + 1
            s = k
            n = k + nx
            hn = h[k] - dt * ((fxh[e] - fxh[w]) * rdx + (fyh[n] - fyh[s]) * rdy)
            qx = hu[k] - dt * ((fxn_lo[e] - fxn_hi[w]) * rdx + (fyt[n] - fyt[s]) * rdy)
            qy = hv[k] - dt * ((fxt[e] - fxt[w]) * rdx + (fyn_lo[n] - fyn_hi[s]) * rdy)
            if rain_rate.shape[0] > 0:
                if rain_next.shape[0] > 0:
                    hn = hn + dt * (rain_scale * rain_rate[k] + rain_weight * rain_next[k])
                else:
                    hn = hn + dt * rain_scale * rain_rate[k]
            if source_of_cell.shape[0] > 0:
                src = source_of_cell[k]
                if src >= 0:
                    hn = hn + dt * source_rate[src]
            hn = wp.max(hn, zero)
            if hn > h_dry:
                nm = manning_n[k]
                qabs = root(qx * qx + qy * qy)
                a = dt * g * nm * nm / (hn * hn * wp.cbrt(hn))  # n^2 g dt / h^(7/3)
                damp = real(2.0) / (real(1.0) + wp.sqrt(real(1.0) + real(4.0) * a * qabs))
                qx = qx * damp
                qy = qy * damp
            else:
                qx = zero
                qy = zero
            h_out[k] = base_weight * h_base[k] + keep * hn
            hu_out[k] = base_weight * hu_base[k] + keep * qx
            hv_out[k] = base_weight * hv_base[k] + keep * qy

    @wp.kernel(module="unique")
    def compute_wave_speed(
        h: wp.array(dtype=real), hu: wp.array(dtype=real), hv: wp.array(dtype=real),
        solid: wp.array(dtype=wp.uint8), tiles: wp.array(dtype=wp.int32), ntx: int, nx: int, ny: int,
        dx: real, dy: real, h_dry: real, g: real, slot: int, member_rows: int,
        max_rate: wp.array(dtype=real), first_bad: wp.array(dtype=wp.int32),
    ):
        """max over the cells of the tiles of (|u|+c)/dx + (|v|+c)/dy [1/s] into
        ``max_rate[slot]``; the first cell with a non-finite or negative value goes to
        ``first_bad[slot]`` (atomic min). One slot per concurrent launch and member
        (slot * members + member)."""
        k = tile_cell(wp.tid(), tiles, ntx, nx, ny)
        if k < 0:
            return
        slot = slot * ((ny + 1) / member_rows) + (k / nx) / member_rows
        hk = h[k]
        qx = hu[k]
        qy = hv[k]
        if not (wp.isfinite(hk) and wp.isfinite(qx) and wp.isfinite(qy)) or hk < zero:
            wp.atomic_min(first_bad, slot, k)
            return
        if hk <= h_dry or solid[k] != wp.uint8(0):
            return
        c = wp.sqrt(g * hk)
        rate = (wp.abs(qx / hk) + c) / dx + (wp.abs(qy / hk) + c) / dy
        wp.atomic_max(max_rate, slot, rate)

    @wp.kernel(module="unique")
    def accumulate_boundary_inflow(
        fxh: wp.array(dtype=real), fyh: wp.array(dtype=real), tile_active: wp.array(dtype=wp.uint8),
        ntx: int, nx: int, ny: int, dx: real, dy: real, weight_dt: real,
        clock: wp.array(dtype=wp.float64), member_rows: int, inflow: wp.array(dtype=wp.float64),
    ):
        """Volume [m^3] entering through each edge (west, east, south, north) of each
        member (``inflow[4 * member + edge]``) during ``weight_dt`` seconds of these
        fluxes; thread t walks the boundary faces of the active tiles (the others carry
        no water and hold stale fluxes)."""
        t = wp.tid()
        if t < ny:
            m = t / member_rows
            if clock.shape[0] > 0:
                weight_dt = real(clock[m * CLOCK_FIELDS + CLOCK_WEIGHT_DT])
            row = (t / TILE) * ntx
            if tile_active[row] != wp.uint8(0):
                wp.atomic_add(inflow, 4 * m, wp.float64(fxh[t * (nx + 1)] * dy * weight_dt))
            if tile_active[row + (nx - 1) / TILE] != wp.uint8(0):
                wp.atomic_add(inflow, 4 * m + 1, -wp.float64(fxh[t * (nx + 1) + nx] * dy * weight_dt))
        else:
            i = t - ny
            for m in range((ny + 1) / member_rows):
                south = m * member_rows  # the member's south and north face rows
                north = south + member_rows - 1
                if clock.shape[0] > 0:
                    weight_dt = real(clock[m * CLOCK_FIELDS + CLOCK_WEIGHT_DT])
                if tile_active[(south / TILE) * ntx + i / TILE] != wp.uint8(0):
                    wp.atomic_add(inflow, 4 * m + 2, wp.float64(fyh[south * nx + i] * dx * weight_dt))
                if tile_active[((north - 1) / TILE) * ntx + i / TILE] != wp.uint8(0):
                    wp.atomic_add(inflow, 4 * m + 3, -wp.float64(fyh[north * nx + i] * dx * weight_dt))

    @wp.kernel(module="unique")
    def mark_wet_tiles(
        h: wp.array(dtype=real), tiles: wp.array(dtype=wp.int32), ntx: int, nx: int, ny: int, wet: wp.array(dtype=wp.uint8),
    ):
        """wet[tile] = 1 for every tile of the list holding a cell with water."""
        t = wp.tid()
        k = tile_cell(t, tiles, ntx, nx, ny)
        if k < 0:
            return
        if h[k] > zero:
            wet[tiles[t / (TILE * TILE)]] = wp.uint8(1)

    @wp.kernel(module="unique")
    def apply_infiltration(
        h: wp.array(dtype=real), rate: wp.array(dtype=real), initial_loss: wp.array(dtype=real),
        continuing_rate: wp.array(dtype=real), dt: real,
        clock: wp.array(dtype=wp.float64), nx: int, member_rows: int, infiltrated: wp.array(dtype=real),
    ):
        """Remove min(h, capacity) of water [m] and add it to ``infiltrated``: the
        capacity is rate * dt [m], plus, where ARR losses are given (``initial_loss``
        not empty), what is left of the initial loss [m] (initial_loss - infiltrated)
        while any is, else continuing_rate * dt."""
        k = wp.tid()
        if clock.shape[0] > 0:
            dt = real(clock[((k / nx) / member_rows) * CLOCK_FIELDS + CLOCK_DT])
        capacity = rate[k] * dt
        if initial_loss.shape[0] > 0:
            left = initial_loss[k] - infiltrated[k]
            if left > zero:
                capacity = capacity + left
            else:
                capacity = capacity + continuing_rate[k] * dt
        loss = wp.min(h[k], capacity)
        if loss > zero:
            h[k] = h[k] - loss
            infiltrated[k] = infiltrated[k] + loss

    @wp.kernel(module="unique")
    def track_maxima(
        h: wp.array(dtype=real), hu: wp.array(dtype=real), hv: wp.array(dtype=real),
        t: wp.float64, h_dry: real, arrival_depth: real, tiles: wp.array(dtype=wp.int32), ntx: int, nx: int, ny: int,
        clock: wp.array(dtype=wp.float64), member_rows: int,
        max_depth: wp.array(dtype=real), max_speed: wp.array(dtype=real), time_of_max_depth: wp.array(dtype=wp.float64),
        max_depth_velocity: wp.array(dtype=real), arrival_time: wp.array(dtype=wp.float64),
    ):
        """Running maxima of depth [m] and speed [m/s], and when the depth peaked [s],
        over the cells of the tiles (the others are dry); when ``max_depth_velocity``
        is not empty, also the running maximum of h |u| [m^2/s] (the speed and depth
        of the same instant) and the arrival time [s]: the first t at which the depth
        exceeds ``arrival_depth`` (``arrival_time`` holds NaN until then)."""
        k = tile_cell(wp.tid(), tiles, ntx, nx, ny)
        if k < 0:
            return
        if clock.shape[0] > 0:
            t = clock[((k / nx) / member_rows) * CLOCK_FIELDS + CLOCK_T]
        hk = h[k]
        if hk > max_depth[k]:
            max_depth[k] = hk
            time_of_max_depth[k] = t
        if hk > h_dry:
            q = wp.sqrt(hu[k] * hu[k] + hv[k] * hv[k])
            speed = q / hk
            if speed > max_speed[k]:
                max_speed[k] = speed
            if max_depth_velocity.shape[0] > 0:
                if q > max_depth_velocity[k]:
                    max_depth_velocity[k] = q
        if arrival_time.shape[0] > 0:
            if hk > arrival_depth:
                if wp.isnan(arrival_time[k]):
                    arrival_time[k] = t

    return SimpleNamespace(
        compute_velocities=compute_velocities,
        spread_span_discharge=spread_span_discharge,
        fill_span=fill_span,
        compute_x_fluxes=compute_x_fluxes,
        compute_y_fluxes=compute_y_fluxes,
        update_cells=update_cells,
        compute_wave_speed=compute_wave_speed,
        mark_wet_tiles=mark_wet_tiles,
        accumulate_boundary_inflow=accumulate_boundary_inflow,
        apply_infiltration=apply_infiltration,
        track_maxima=track_maxima,
    )

"""Device-resident stepping of the flood solver: the CFL step, the time, the controls
and the guards live on the device; the host reads them only at output and probe times.

A :class:`DeviceClock` drives a :class:`~twin.physics.swe.solver.FloodSolver` through the
``clock`` array its kernels read (see ``CLOCK_*`` in :mod:`twin.physics.swe.kernels`): per
ensemble member, float64 fields for the time, this step's dt, the stage's edge values,
rain scale and source volume, the step count and a latched error. Each step is a fixed
sequence of launches with no host copy:

1. ``compute_wave_speed`` (per member) and ``begin_step``: the member's CFL step, clamped
   to the next output or probe time, exactly as :class:`twin.physics.simulation.Simulation`
   chooses it on the host; a member that has reached that time, or whose state holds a
   non-finite or negative value (latched with the cell, the time and the step), waits
   with dt = 0;
2. per stage, ``stage_controls`` (the time series of the boundaries, inflows and rain
   evaluated at the member's stage time, as ``np.interp`` does) then the flux and update
   kernels, which read dt, the rain scale and the edge values from the clock;
3. ``keep_waiting`` copies the input state of waiting members to the output, and
   ``end_step`` advances their time and step count.

The host launches steps in chunks (as many as the previous interval took) and reads the
clock once per chunk; every launch covers every tile (the dry-tile list needs a host
copy), which the kernels' dry early-outs make cheap. On the CPU the results are bitwise
those of the host-stepped loop (tests/test_gpu.py). Graph capture of a chunk
(``capture_graphs``) is off by default: not yet measured, since no GPU was available.
"""


import functools
import math
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import warp as wp
from twin.physics.swe.kernels import (
    BOUNDARY_CODES,
    CLOCK_DT,
    CLOCK_EDGE,
    CLOCK_FIELDS,
    CLOCK_RAIN_SCALE,
    CLOCK_T,
    CLOCK_WEIGHT_DT,
    DISCHARGE,
    STAGE,
)
from twin.physics.swe.model import Control, _cell_name

from twin.errors import InputError, SimulationError
from twin.scene import EDGES

CLOCK_T_NEW = 8  # the time at the end of this step [s]
CLOCK_WAIT = 9  # 1 while the member waits (reached the event, or failed)
CLOCK_STEPS = 10  # steps taken
CLOCK_VOLUME = 11  # water added by rain and inflows so far [m^3]
CLOCK_ERROR = 12  # 0, or ERROR_BAD_CELL / ERROR_FIXED_DT
CLOCK_ERROR_CELL = 13
CLOCK_ERROR_T = 14
CLOCK_ERROR_STEP = 15
CLOCK_ERROR_LIMIT = 16  # the CFL limit a fixed dt exceeded [s]
ERROR_BAD_CELL = 1
ERROR_FIXED_DT = 2
SERIES_RAIN = 4  # series slots of a member: the 4 edges, the rain scale, then the inflows
SERIES_SOURCES = 5
MAX_SOURCES = 8
"""Inflows a member may have: their discharges are summed in np.sum's order, which is a
plain left-to-right loop only up to 8 terms."""
INT_MAX = np.iinfo(np.int32).max
MAX_CHUNK = 4096
"""Most steps launched between two reads of the clock."""


@functools.cache
def clock_kernels_for(real) -> SimpleNamespace:
    """The clock's kernels for the solver's ``real`` (wp.float32 or wp.float64)."""

    @wp.func
    def interp(times: wp.array(dtype=wp.float64), values: wp.array(dtype=wp.float64), start: int, end: int, x: wp.float64):
        """np.interp(x, times[start:end], values[start:end]) with numpy's arithmetic
        (0 for an empty series)."""
        if end == start:
            return wp.float64(0.0)
        last = end - 1
        if x <= times[start]:
            return values[start]
        if x >= times[last]:
            return values[last]
        j = start
        while times[j + 1] <= x:
            j += 1
        if times[j] == x:
            return values[j]
        slope = (values[j + 1] - values[j]) / (times[j + 1] - times[j])
        return slope * (x - times[j]) + values[j]

    @wp.func
    def edge_value(m: int, e: int, t: wp.float64, kinds: wp.array(dtype=wp.int32), series_start: wp.array(dtype=wp.int32),
                   times: wp.array(dtype=wp.float64), values: wp.array(dtype=wp.float64), n_series: int,
                   z_ref: wp.float64, edge_length: wp.array(dtype=wp.float64)):
        """physics.swe.model.edge_value of member m's edge e at time t."""
        s = m * n_series + e
        if kinds[e] == STAGE:
            return interp(times, values, series_start[s], series_start[s + 1], t) - z_ref
        if kinds[e] == DISCHARGE:
            return interp(times, values, series_start[s], series_start[s + 1], t) / edge_length[e]
        return wp.float64(0.0)

    @wp.kernel(module="unique")
    def begin_step(
        max_rate: wp.array(dtype=real), first_bad: wp.array(dtype=wp.int32), slots: int, members: int, event: wp.float64,
        kinds: wp.array(dtype=wp.int32), series_start: wp.array(dtype=wp.int32), times: wp.array(dtype=wp.float64),
        values: wp.array(dtype=wp.float64), n_series: int, z_ref: wp.float64, edge_length: wp.array(dtype=wp.float64),
        lowest_bed: wp.array(dtype=wp.float64), edge_dn: wp.array(dtype=wp.float64), g: wp.float64, cfl: wp.float64,
        fixed_dt: wp.float64, max_dt: wp.float64, clock: wp.array(dtype=wp.float64),
    ):
        """Member m's step towards ``event`` [s]: FloodSolver.stable_dt and Simulation's
        choice of dt, or wait (dt = 0) when it is there or its state is bad."""
        m = wp.tid()
        c = m * CLOCK_FIELDS
        clock[c + CLOCK_DT] = wp.float64(0.0)
        clock[c + CLOCK_WAIT] = wp.float64(1.0)
        t = clock[c + CLOCK_T]
        if clock[c + CLOCK_ERROR] != wp.float64(0.0) or t >= event:
            return
        bad = wp.int32(INT_MAX)
        cells = real(0.0)
        for s in range(slots):
            bad = wp.min(bad, first_bad[s * members + m])
            cells = wp.max(cells, max_rate[s * members + m])
        if bad != wp.int32(INT_MAX):
            clock[c + CLOCK_ERROR] = wp.float64(ERROR_BAD_CELL)
            clock[c + CLOCK_ERROR_CELL] = wp.float64(bad)
            clock[c + CLOCK_ERROR_T] = t
            clock[c + CLOCK_ERROR_STEP] = clock[c + CLOCK_STEPS]
            return
        rate = wp.float64(cells)
        for e in range(4):  # physics.swe.model.edge_wave_rate
            if kinds[e] == STAGE or kinds[e] == DISCHARGE:
                v = edge_value(m, e, t, kinds, series_start, times, values, n_series, z_ref, edge_length)
                h = wp.float64(0.0)
                if kinds[e] == STAGE:
                    h = v - lowest_bed[e]
                    if wp.float64(0.0) > h:
                        h = wp.float64(0.0)
                else:
                    h = wp.pow(v * v / g, wp.float64(1.0) / wp.float64(3.0))
                r = wp.float64(2.0) * wp.pow(g * h, wp.float64(0.5)) / edge_dn[e]
                if r > rate:
                    rate = r
        limit = wp.float64(wp.inf)
        if rate > wp.float64(0.0):
            limit = cfl / rate
        dt = limit
        if fixed_dt > wp.float64(0.0):
            if fixed_dt > limit * (wp.float64(1.0) + wp.float64(1e-12)):
                clock[c + CLOCK_ERROR] = wp.float64(ERROR_FIXED_DT)
                clock[c + CLOCK_ERROR_LIMIT] = limit
                clock[c + CLOCK_ERROR_T] = t
                clock[c + CLOCK_ERROR_STEP] = clock[c + CLOCK_STEPS]
                return
            dt = fixed_dt
        elif max_dt < limit:
            dt = max_dt
        if not wp.isfinite(dt):
            dt = event - t
        t_new = t + dt
        if t_new >= event * (wp.float64(1.0) - wp.float64(1e-12)) or event - t_new < wp.float64(1e-9):
            dt = event - t
            t_new = event
        clock[c + CLOCK_DT] = dt
        clock[c + CLOCK_T_NEW] = t_new
        clock[c + CLOCK_WAIT] = wp.float64(0.0)

    @wp.kernel(module="unique")
    def stage_controls(
        second: int, step_weight: wp.float64, has_rain: int, n_sources: int,
        kinds: wp.array(dtype=wp.int32), series_start: wp.array(dtype=wp.int32), times: wp.array(dtype=wp.float64),
        values: wp.array(dtype=wp.float64), n_series: int, z_ref: wp.float64, edge_length: wp.array(dtype=wp.float64),
        rain_volume_rate: wp.array(dtype=wp.float64), source_area: wp.array(dtype=wp.float64),
        clock: wp.array(dtype=wp.float64), source_rate: wp.array(dtype=real),
    ):
        """Member m's controls at its stage time (t, or t + dt for Heun's ``second``
        stage), as FloodSolver._fluxes and _set_sources compute them on the host, and the
        stage's source volume added to the member's count."""
        m = wp.tid()
        c = m * CLOCK_FIELDS
        dt = clock[c + CLOCK_DT]
        t = clock[c + CLOCK_T]
        if second != 0:
            t = t + dt
        for e in range(4):
            clock[c + CLOCK_EDGE + e] = edge_value(m, e, t, kinds, series_start, times, values, n_series, z_ref, edge_length)
        s = m * n_series + SERIES_RAIN
        scale = interp(times, values, series_start[s], series_start[s + 1], t)
        clock[c + CLOCK_RAIN_SCALE] = scale
        rate = wp.float64(0.0)
        if has_rain != 0:
            rate = rain_volume_rate[m] * scale
        if n_sources > 0:
            total = wp.float64(0.0)
            rest = wp.float64(0.0)  # np.sum: the first term plus the others summed in order
            for i in range(n_sources):
                s = m * n_series + SERIES_SOURCES + i
                q = interp(times, values, series_start[s], series_start[s + 1], t)
                source_rate[m * n_sources + i] = real(q / source_area[m * n_sources + i])
                if i == 0:
                    total = q
                else:
                    rest = rest + q
            if n_sources > 1:
                total = total + rest
            rate = rate + total
        weight_dt = dt * step_weight
        clock[c + CLOCK_WEIGHT_DT] = weight_dt
        clock[c + CLOCK_VOLUME] = clock[c + CLOCK_VOLUME] + rate * weight_dt

    @wp.kernel(module="unique")
    def keep_waiting(
        clock: wp.array(dtype=wp.float64), nx: int, member_rows: int,
        h: wp.array(dtype=real), hu: wp.array(dtype=real), hv: wp.array(dtype=real), infiltrated: wp.array(dtype=real),
        h_out: wp.array(dtype=real), hu_out: wp.array(dtype=real), hv_out: wp.array(dtype=real), infiltrated_out: wp.array(dtype=real),
    ):
        """The output state of a waiting member is its input state, bit for bit."""
        k = wp.tid()
        if clock[((k / nx) / member_rows) * CLOCK_FIELDS + CLOCK_WAIT] != wp.float64(0.0):
            h_out[k] = h[k]
            hu_out[k] = hu[k]
            hv_out[k] = hv[k]
            infiltrated_out[k] = infiltrated[k]

    @wp.kernel(module="unique")
    def end_step(clock: wp.array(dtype=wp.float64)):
        """A member that stepped is at its new time, one step further."""
        c = wp.tid() * CLOCK_FIELDS
        if clock[c + CLOCK_WAIT] == wp.float64(0.0):
            clock[c + CLOCK_T] = clock[c + CLOCK_T_NEW]
            clock[c + CLOCK_STEPS] = clock[c + CLOCK_STEPS] + wp.float64(1.0)

    return SimpleNamespace(begin_step=begin_step, stage_controls=stage_controls, keep_waiting=keep_waiting, end_step=end_step)


@dataclass
class MemberControls:
    """What the clock needs of each member's Control, packed for the device.

    Attributes:
        controls: one Control per member (the same edges, rain and inflows are driven in each).
        rain_volume_rate: rain volume rate at scale 1 [m^3/s] per member (FloodSolver's).
        source_area: cells times cell area [m^2] of each member's inflows, (members, sources).
    """

    controls: list[Control]
    rain_volume_rate: np.ndarray
    source_area: np.ndarray


class DeviceClock:
    """Steps a FloodSolver with the time and dt on the device (see the module docstring).

    Args:
        solver: the solver; its grid holds ``members`` members of ``solver.member_rows``
            rows each (1 member: the solver's own grid).
        members: the members' controls (default: the solver's Control, one member).
        fixed_dt, max_dt: as RunSettings' [s].
        capture_graphs: record a chunk of steps as a CUDA graph and replay it (CUDA only;
            off by default: not yet measured).
    """

    T, STEPS, VOLUME = CLOCK_T, CLOCK_STEPS, CLOCK_VOLUME  # columns of :meth:`read`

    def __init__(self, solver, members: MemberControls | None = None, *, fixed_dt: float | None = None,
                 max_dt: float = math.inf, capture_graphs: bool = False):
        m = solver.model
        self.solver = solver
        if members is None:
            members = MemberControls([solver._control], np.array([solver._rain_volume_rate]),
                                     (solver._source_cells * m.cell_area)[None, :])
        self.members = len(members.controls)
        self.n_sources = members.source_area.shape[1]
        if self.n_sources > MAX_SOURCES:
            raise InputError("control.source_discharge", "", f"the device clock takes at most {MAX_SOURCES} inflows, got {self.n_sources}")
        self.k = clock_kernels_for(m.real)
        dev = m.device
        self.fixed_dt = 0.0 if fixed_dt is None else float(fixed_dt)
        self.max_dt = float(max_dt)
        self.capture_graphs = capture_graphs and wp.get_device(dev).is_cuda
        self._graphs: dict = {}
        self.clock = wp.zeros(self.members * CLOCK_FIELDS, dtype=wp.float64, device=dev)
        self._host = None  # the clock's pinned host copy, on CUDA
        if wp.get_device(dev).is_cuda:
            self._host = wp.zeros(self.members * CLOCK_FIELDS, dtype=wp.float64, device="cpu", pinned=True)
        self._tables(members, m)
        solver.clock = self.clock
        solver._max_rate = wp.zeros(solver.threads * self.members, dtype=m.real, device=dev)
        solver._first_bad = wp.zeros(solver.threads * self.members, dtype=wp.int32, device=dev)
        solver.skip_dry_tiles = False
        solver._set_tiles(solver._all_tiles)
        if self.n_sources:
            solver._source_rate = wp.zeros(self.members * self.n_sources, dtype=m.real, device=dev)
        self._last_dt = np.zeros(self.members)

    def _tables(self, members: MemberControls, m) -> None:
        """Upload the members' time series (slots: 4 edges, rain scale, inflows) and constants."""
        dev = m.device
        slots = []
        for c in members.controls:
            edges = [c.boundary_series.get(e) if m.boundary_kinds[e] in ("stage", "discharge") else None for e in EDGES]
            slots += [*edges, c.rain_scale, *c.source_discharge]
        self.n_series = SERIES_SOURCES + self.n_sources
        if len(slots) != self.members * self.n_series:
            raise InputError("ensemble", "controls", "every member must have the same number of inflows")
        times = [np.zeros(0) if s is None else s.times for s in slots]
        values = [np.zeros(0) if s is None else s.values for s in slots]
        start = np.concatenate([[0], np.cumsum([len(t) for t in times])]).astype(np.int32)
        self._times = wp.array(np.concatenate(times + [np.zeros(1)]), dtype=wp.float64, device=dev)
        self._values = wp.array(np.concatenate(values + [np.zeros(1)]), dtype=wp.float64, device=dev)
        self._start = wp.array(start, dtype=wp.int32, device=dev)
        self._kinds = wp.array([BOUNDARY_CODES[m.boundary_kinds[e]] for e in EDGES], dtype=wp.int32, device=dev)
        rows = self.solver.member_rows - 1
        self._edge_length = wp.array([rows * m.dy, rows * m.dy, m.nx * m.dx, m.nx * m.dx], dtype=wp.float64, device=dev)
        lowest = self.solver._lowest_bed
        self._lowest = wp.array([lowest[e] for e in EDGES], dtype=wp.float64, device=dev)
        self._dn = wp.array([m.dx, m.dx, m.dy, m.dy], dtype=wp.float64, device=dev)
        self._rain_volume_rate = wp.array(members.rain_volume_rate, dtype=wp.float64, device=dev)
        self._source_area = wp.array(members.source_area.ravel() if self.n_sources else np.ones(1), dtype=wp.float64, device=dev)
        self._series = [self._kinds, self._start, self._times, self._values, self.n_series, m.z_ref, self._edge_length]

    # -- host side -------------------------------------------------------------------
    def set(self, t: float, steps: int, volume) -> None:
        """Start (or resume) every member at time t [s] after ``steps`` steps, with
        ``volume`` [m^3] of sources counted (one number, or one per member)."""
        c = np.zeros((self.members, CLOCK_FIELDS))
        c[:, CLOCK_T] = t
        c[:, CLOCK_STEPS] = steps
        c[:, CLOCK_VOLUME] = np.ravel(volume)
        self.clock.assign(c.ravel())

    def read(self) -> np.ndarray:
        """The clock on the host, (members, CLOCK_FIELDS) float64 (a copy through pinned
        memory on CUDA)."""
        if self._host is None:
            return self.clock.numpy().reshape(self.members, CLOCK_FIELDS).copy()
        wp.copy(self._host, self.clock)
        wp.synchronize_device(self.solver.model.device)
        return self._host.numpy().reshape(self.members, CLOCK_FIELDS).copy()

    def step(self, state_in, state_out) -> None:
        """One step of every member that has not reached the event; no host copy."""
        s = self.solver
        m = s.model
        s.wave_speeds(state_in)
        s._launch(self.k.begin_step, self.members,
                  [s._max_rate, s._first_bad, s.threads, self.members, self._event, *self._series, self._lowest, self._dn,
                   m.g, m.cfl, self.fixed_dt, self.max_dt, self.clock])
        has_rain = int(s._rain.shape[0] > 0)

        def controls(stage: int, step_weight: float) -> None:
            s._launch(self.k.stage_controls, self.members,
                      [stage, step_weight, has_rain, self.n_sources, *self._series, self._rain_volume_rate, self._source_area,
                       self.clock, s._source_rate])

        s.stages(state_in, state_out, 0.0, 0.0, controls)
        s._launch(self.k.keep_waiting, m.nx * m.ny, [self.clock, m.nx, s.member_rows, *_fields(state_in), *_fields(state_out)])
        s._launch(self.k.end_step, self.members, [self.clock])

    def advance_to(self, state, other, event: float, recorder=None):
        """Step every member to ``event`` [s], folding each step into ``recorder``'s
        maxima; return the (state, other) buffers, the newest first, and the clock as
        :meth:`read` gives it. Reads the clock once per chunk of steps: a chunk is as many
        steps as the last dt of the slowest member needs to reach the event.

        Raises:
            SimulationError: a member's guard fired; ``.t`` and ``.step`` say when.
        """
        self._event = float(event)
        clock = self.read()
        while True:
            left = np.maximum(event - clock[:, CLOCK_T], 0.0)
            waiting = left == 0.0
            if waiting.all():
                return state, other, clock
            dt = np.where(self._last_dt > 0, self._last_dt, np.inf)
            chunk = int(min(MAX_CHUNK, max(1, np.ceil(np.max(left[~waiting] / dt[~waiting])) if np.isfinite(dt[~waiting]).all() else 1)))
            state, other = self._run(state, other, recorder, chunk)
            clock = self.read()
            volumes = clock[:, CLOCK_VOLUME]
            self.solver.volume_from_sources = float(volumes[0]) if self.members == 1 else volumes.tolist()
            self._raise_errors(clock, state)
            stepped = clock[:, CLOCK_DT] > 0
            self._last_dt[stepped] = clock[stepped, CLOCK_DT]

    def run_steps(self, state, other, steps: int, recorder=None):
        """``steps`` steps towards no event (a benchmark's steady stepping); returns the
        (state, other) buffers, the newest first."""
        self._event = math.inf
        return self._run(state, other, recorder, steps)

    def _run(self, state, other, recorder, steps: int):
        """``steps`` steps (rounded up to an even count when graphs are captured)."""
        if not self.capture_graphs:
            for _ in range(steps):
                state, other = self._step_and_record(state, other, recorder)
            return state, other
        key = (id(state), id(other))
        if key not in self._graphs:  # two steps, so that the buffers are back in place
            with wp.ScopedCapture(device=self.solver.model.device) as capture:
                self._step_and_record(*self._step_and_record(state, other, recorder), recorder)
            self._graphs[key] = capture.graph
        for _ in range((steps + 1) // 2):
            wp.capture_launch(self._graphs[key])
        return state, other

    def _step_and_record(self, state, other, recorder):
        self.step(state, other)
        if recorder is not None:
            recorder.update(other, 0.0)  # the maxima kernel reads each member's time
        return other, state

    def _raise_errors(self, clock: np.ndarray, state) -> None:
        failed = np.flatnonzero(clock[:, CLOCK_ERROR])
        if not failed.size:
            return
        member = int(failed[0])
        row = clock[member]
        m = self.solver.model
        if row[CLOCK_ERROR] == ERROR_FIXED_DT:
            message = f"fixed dt {self.fixed_dt} s exceeds the CFL limit {row[CLOCK_ERROR_LIMIT]:.4g} s"
        else:
            bad = int(row[CLOCK_ERROR_CELL])
            h, hu, hv = (a.numpy()[bad] for a in (state.h, state.hu, state.hv))
            j, i = divmod(bad, m.nx)
            j -= member * self.solver.member_rows
            x, y = m.x0 + (i + 0.5) * m.dx, m.y0 + (j + 0.5) * m.dy
            message = (f"{_cell_name(j * m.nx + i, m.nx)} at x={x:.2f} m, y={y:.2f} m: depth {h}, hu {hu}, hv {hv} "
                       "(not finite or negative)")
        if self.members > 1:
            message = f"member {member}: {message}"
        error = SimulationError(message)
        error.t, error.step = float(row[CLOCK_ERROR_T]), int(row[CLOCK_ERROR_STEP])
        raise error


def _fields(state) -> list:
    return [state.h, state.hu, state.hv, state.infiltrated]

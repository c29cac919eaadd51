"""Gradients through the flood solver with ``wp.Tape``.

The differentiable path runs the solver's own kernels (:mod:`twin.physics.swe.kernels`)
through :class:`FloodSolver`'s launch code with three restrictions that make the
reverse pass exact and cheap to reason about:

* a fixed time step (no CFL reduction on the taped path; the CFL limit is checked
  on every step of the untaped forward pass instead);
* every tile computed (``skip_dry_tiles=False``), so the launches do not depend on
  the state, one face or cell a thread (``walk_lines=False``), and plain launches;
* while recording, fresh scratch arrays for every stage (velocities, face fluxes,
  the mid-step state), so that no array a recorded launch read is overwritten
  before the reverse pass replays it (untaped passes reuse the solver's scratch). The flux and update kernels write each element from
  one thread, without atomics.

Memory is bounded by checkpointing: the forward pass keeps the state every
``segment`` steps only; the reverse pass re-runs one segment at a time under a
tape from its checkpoint, seeds the adjoint of the segment's last state with the
gradient carried back from the later segments, and runs ``tape.backward``. Peak
memory is about ``segment`` steps of scratch plus ``n_steps / segment`` states.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import warp as wp
from twin.physics.swe.model import Control, Model, State
from twin.physics.swe.recorder import gather, gather64
from twin.physics.swe.solver import FloodSolver

from twin.errors import InputError, SimulationError


class TapeableFloodSolver(FloodSolver):
    """A :class:`FloodSolver` whose every stage writes into new arrays (see the module
    docstring); its steps can be recorded on a ``wp.Tape`` and differentiated.

    ``source_scale`` multiplies every inflow's discharge; while ``recording``, the
    per-stage source-rate arrays and their derivatives with respect to it are kept
    (``stage_source_rates``) so that ``d loss / d source_scale`` can be assembled after
    the reverse pass.
    """

    def __init__(self, model: Model, control: Control | None = None):
        super().__init__(model, control, skip_dry_tiles=False, cpu_threads=1, walk_lines=False)
        self._launch = self._launch_on_tape
        self.source_scale = 1.0
        self.recording = False
        self.stage_source_rates: list[tuple[wp.array, np.ndarray]] = []

    def _launch_on_tape(self, kernel, dim: int, args: list) -> None:
        """A plain ``wp.launch`` (what a ``wp.Tape`` records), instead of the solver's
        cache of recorded launches, which is keyed by the arrays and would keep every
        fresh array alive."""
        if dim > 0:
            wp.launch(kernel, dim=dim, inputs=args, device=self.model.device)

    def _fresh(self, n: int) -> wp.array:
        """A new zeroed array of n reals, with a gradient while ``recording``."""
        return wp.zeros(n, dtype=self.model.real, device=self.model.device, requires_grad=self.recording)

    def _fluxes(self, s: State, t: float) -> None:
        if self.recording:  # an untaped pass reuses the solver's scratch
            m = self.model
            n, nfx, nfy = m.nx * m.ny, (m.nx + 1) * m.ny, m.nx * (m.ny + 1)
            self._u, self._v = self._fresh(n), self._fresh(n)
            self._fx = [self._fresh(nfx) for _ in range(4)]
            self._fy = [self._fresh(nfy) for _ in range(4)]
        super()._fluxes(s, t)

    def _set_sources(self, t: float, end_of_step: bool = False) -> tuple[float, float, float]:
        """As FloodSolver's (uniform rain only): (rain scale, 0, source volume rate [m^3/s])."""
        c = self._control
        scale = c.rain_scale(t)
        rate = self._rain_volume_rate * scale if self._rain.shape[0] else 0.0
        if len(self._source_cells):
            per_scale = np.array([s(t) for s in c.source_discharge]) / (self._source_cells * self.model.cell_area)
            self._source_rate = wp.array(self.source_scale * per_scale, dtype=self.model.real, device=self.model.device,
                                         requires_grad=self.recording)
            if self.recording:
                self.stage_source_rates.append((self._source_rate, per_scale))
            rate += self.source_scale * float(np.dot(per_scale, self._source_cells)) * self.model.cell_area
        return scale, 0.0, rate

    def new_state(self) -> State:
        """A zeroed State (its arrays carry gradients while ``recording``)."""
        n = self.model.nx * self.model.ny
        return State(*(self._fresh(n) for _ in range(4)))

    def step(self, state_in: State, state_out: State, control: Control, dt: float, t: float) -> None:
        if self.recording:
            self._stage = self.new_state()
        super().step(state_in, state_out, control, dt, t)


@dataclass
class ProbeLoss:
    """Mean squared misfit of the water depth at probe cells (equivalently of the stage:
    the bed does not change), sampled every ``every`` steps.

    Attributes:
        cells: flat cell index k = j * nx + i of each probe, (nprobes,).
        observed: observed depth [m] at sample s and probe p, (nsamples, nprobes);
            sample s is taken after step (s + 1) * every.
        every: steps between samples.
    """

    cells: np.ndarray
    observed: np.ndarray
    every: int

    def value_and_seed(self, depth: np.ndarray) -> tuple[float, np.ndarray]:
        """Loss [m^2] and its gradient with respect to the sampled depths (same shape)."""
        r = depth - self.observed
        return float(np.mean(r * r)), 2.0 * r / r.size


@dataclass
class Gradient:
    """What :func:`probe_loss_gradient` returns.

    Attributes:
        loss: the loss [m^2].
        manning_n: d loss / d n per cell [m^2 / (s m^-1/3)], (ny, nx).
        source_scale: d loss / d (inflow multiplier) [m^2].
        depth: the sampled probe depths [m], (nsamples, nprobes).
    """

    loss: float
    manning_n: np.ndarray
    source_scale: float
    depth: np.ndarray


def _gather_kernel(model: Model):
    return gather64 if model.dtype == "float64" else gather


def _advance(solver: TapeableFloodSolver, state: State, control: Control, dt: float, t: float, steps: int,
             sampling: tuple[wp.array, int], first_step: int, samples: list, check_cfl: bool) -> State:
    """Run ``steps`` fixed steps from ``state`` at time t; ``sampling`` = (probe cells,
    every): append the depth at the probes after every global step that is a multiple
    of ``every``; return the last state."""
    m = solver.model
    index, every = sampling
    for k in range(steps):
        if check_cfl:
            limit = solver.stable_dt(state, t)
            if dt > limit * (1 + 1e-12):
                raise SimulationError(f"at t={t:.3f} s: fixed dt {dt} s exceeds the CFL limit {limit:.4g} s")
        out = solver.new_state()
        solver.step(state, out, control, dt, t)
        state, t = out, t + dt
        if (first_step + k + 1) % every == 0:
            sample = solver._fresh(index.shape[0])
            wp.launch(_gather_kernel(m), dim=index.shape[0], inputs=[state.h, index], outputs=[sample], device=m.device)
            samples.append(sample)
    return state


def _check(dt: float, steps: int, every: int, segment: int) -> None:
    if not (dt > 0 and math.isfinite(dt)):
        raise InputError("dt", "", f"must be a positive number of seconds, got {dt}")
    if steps < 1 or segment < 1 or every < 1:
        raise InputError("steps", "", "steps, segment and the sampling interval must be at least 1")


def _forward(solver: TapeableFloodSolver, control: Control, initial: State, dt: float, steps: int,
             sampling: tuple[wp.array, int], segment: int) -> tuple[list[int], list[State], np.ndarray]:
    """The untaped forward pass: segment starts, the states there, probe depths (nsamples, nprobes)."""
    starts = list(range(0, steps, segment))
    checkpoints, samples = [], []
    state = initial
    for s0 in starts:
        checkpoints.append(state)
        state = _advance(solver, state, control, dt, s0 * dt, min(segment, steps - s0), sampling, s0, samples, True)
    depth = np.array([a.numpy() for a in samples], dtype=np.float64).reshape(len(samples), sampling[0].shape[0])
    return starts, checkpoints, depth


def _sampling(model: Model, cells: np.ndarray, every: int) -> tuple[wp.array, int]:
    return wp.array(np.asarray(cells).astype(np.int32), dtype=wp.int32, device=model.device), every


def probe_depths(model: Model, control: Control, initial: State, *, dt: float, steps: int, cells: np.ndarray, every: int,
                 source_scale: float = 1.0) -> np.ndarray:
    """Depth [m] at the cells ``cells`` (flat indices) after every ``every`` fixed steps of
    ``dt`` [s], (steps // every, len(cells)); the forward pass of :func:`probe_loss_gradient`."""
    _check(dt, steps, every, 1)
    solver = TapeableFloodSolver(model, control)
    solver.source_scale = source_scale
    return _forward(solver, control, initial, dt, steps, _sampling(model, cells, every), steps)[2]


def probe_loss_gradient(model: Model, control: Control, initial: State, *, dt: float, steps: int, loss: ProbeLoss,
                        source_scale: float = 1.0, segment: int = 50) -> Gradient:
    """The probe loss after ``steps`` fixed steps of ``dt`` [s] from ``initial`` and its
    gradient with respect to Manning's n of every cell and the inflow multiplier.

    ``segment`` steps are recorded on one tape at a time (checkpointing; see the
    module docstring). The gradient does not depend on ``segment``.

    Raises:
        InputError: steps, dt, segment or the observations do not fit.
        SimulationError: dt exceeds the CFL limit somewhere along the run.
    """
    _check(dt, steps, loss.every, segment)
    if loss.observed.shape != (steps // loss.every, len(loss.cells)):
        raise InputError("observed", "", f"shape {loss.observed.shape}; expected {(steps // loss.every, len(loss.cells))}")
    solver = TapeableFloodSolver(model, control)
    solver.source_scale = source_scale
    sampling = _sampling(model, loss.cells, loss.every)
    starts, checkpoints, depth = _forward(solver, control, initial, dt, steps, sampling, segment)
    value, seed = loss.value_and_seed(depth)
    # reverse pass, one taped segment at a time, from the last
    model.manning_n.requires_grad = True
    model.manning_n.grad.zero_()
    solver.recording = True
    carried: State | None = None
    d_scale = 0.0
    for s0, start in zip(reversed(starts), reversed(checkpoints)):
        first = State(*(wp.clone(a, requires_grad=True) for a in (start.h, start.hu, start.hv, start.infiltrated)))
        seg_samples: list[wp.array] = []
        solver.stage_source_rates = []
        tape = wp.Tape()
        with tape:
            last = _advance(solver, first, control, dt, s0 * dt, min(segment, steps - s0), sampling, s0, seg_samples, False)
        offset = s0 // loss.every  # index of the first sample taken inside this segment
        grads = {a: wp.array(seed[offset + i], dtype=model.real, device=model.device) for i, a in enumerate(seg_samples)}
        if carried is not None:
            for name in ("h", "hu", "hv"):
                grads[getattr(last, name)] = getattr(carried, name).grad
        tape.backward(grads=grads)
        for rate_array, per_scale in solver.stage_source_rates:
            d_scale += float(np.dot(rate_array.grad.numpy(), per_scale))
        carried = first  # (tape.reset() would also zero the parameters' gradients)
    grad_n = model.manning_n.grad.numpy().astype(np.float64).reshape(model.shape)
    model.manning_n.requires_grad = False
    return Gradient(value, grad_n, d_scale, depth)

"""The Lagrangian particle dispersion solver (what HYSPLIT and FLEXPART do, in Warp).

Each step moves every airborne particle by the wind with Heun's method (RK2:
second order in time, the wind interpolated in space and in time at both
stages), then by a random walk of variance 2 K dt per axis (constant
diffusivities K, so no drift correction is needed; uniform increments, whose
sum over many steps is the Gaussian of the diffusion equation), reflects it
at the ground and the top, takes dry deposition from it in the surface layer,
and retires it when it crosses a side of the domain.

The random numbers come from Warp's PCG generator seeded with (seed, step) on
the host and the particle index on the device: the same seed gives bitwise the
same run, and a resumed run continues the same sequence. On the CPU the
particles are split into ``cpu_threads`` contiguous parts launched from as many
Python threads (Warp's CPU backend runs one launch serially and releases the
GIL); each particle's random numbers depend only on its index, so the split
does not change the result.
"""

from __future__ import annotations

import numpy as np
import warp as wp
from twin.physics.device import cpu_launch_pool, run_parts
from twin.physics.dispersion.kernels import ALIVE, LEFT, move_particles
from twin.physics.dispersion.model import Control, Model, State

__all__ = ["DispersionSolver", "mass_budget", "step_seed"]


def step_seed(seed: int, step: int) -> int:
    """The generator seed of step ``step`` of a run seeded ``seed`` (a 31-bit int, well mixed)."""
    return int(np.random.SeedSequence([seed, step]).generate_state(1, np.uint32)[0] >> 1)


def mass_budget(host: dict[str, np.ndarray]) -> dict[str, float]:
    """Mass [kg] airborne, deposited, gone through a side, and not released yet (float64 sums)
    of a state copied to the host (:meth:`State.numpy`)."""
    mass = host["mass"].astype(np.float64)
    status = host["status"]
    return {
        "airborne_kg": float(mass[status == ALIVE].sum()),
        "deposited_kg": float(host["deposited"].astype(np.float64).sum()),
        "left_domain_kg": float(mass[status == LEFT].sum()),
        "not_released_kg": float(mass[(status != ALIVE) & (status != LEFT)].sum()),
    }


class DispersionSolver:
    """Moves particles; ``dt`` [s] is the step length, ``seed`` makes runs reproducible."""

    MIN_PARTICLES_PER_THREAD = 5000

    def __init__(self, model: Model, *, dt: float, seed: int = 0, cpu_threads: int | None = None):
        self.model = model
        self.dt = float(dt)
        self.seed = int(seed)
        self.steps = 0
        self.threads, self._pool = cpu_launch_pool(model.device, cpu_threads, [move_particles], "twin-particles")

    def stable_dt(self, state: State, t: float | None = None) -> float:
        """The configured step [s] at any time t (the Simulation shortens the last one before an output)."""
        return self.dt

    def step(self, state_in: State, state_out: State, control: Control, dt: float, t: float) -> None:
        """Advance every particle from time ``t`` to ``t + dt`` [s]; writes only ``state_out``."""
        m = self.model
        inputs = [state_in.pos, state_in.mass, state_in.status, state_in.deposited, state_in.release_time,
                  control.wind, wp.vec3(*m.grid_lo), wp.vec3(*(1.0 / d for d in m.spacing)),
                  float(control.wind_t0), 1.0 / float(control.wind_dt), wp.vec3(*m.domain_lo), wp.vec3(*m.domain_hi),
                  wp.vec3(*(np.sqrt(6.0 * k * dt) for k in m.diffusivity)), float(m.deposition_velocity), float(m.surface_layer),
                  float(t), float(dt), step_seed(self.seed, self.steps)]
        outputs = [state_out.pos, state_out.mass, state_out.status, state_out.deposited]
        n = state_in.count
        parts = 1 if self._pool is None else max(1, min(self.threads, n // self.MIN_PARTICLES_PER_THREAD))
        edges = [n * k // parts for k in range(parts + 1)]

        def launch(first, count):
            wp.launch(move_particles, dim=count, inputs=[*inputs, first], outputs=outputs, device=m.device)

        run_parts(self._pool, launch, [(edges[k], edges[k + 1] - edges[k]) for k in range(parts)])
        wp.copy(state_out.release_time, state_in.release_time)
        self.steps += 1

    def budget(self, state: State) -> dict[str, float]:
        """Mass [kg] airborne, deposited, gone through a side, and not released yet (float64 sums)."""
        return mass_budget(state.numpy())

    # -- what the Simulation loop asks of a solver ------------------------------------
    def volume(self, state: State) -> float:
        """The total mass [kg] (airborne + deposited + left + not released): conserved."""
        return sum(self.budget(state).values())

    def volume_balance(self, state: State, initial_mass: float) -> dict:
        b = self.budget(state)
        total = sum(b.values())
        return {**b, "initial_kg": initial_mass, "relative_error": abs(total - initial_mass) / initial_mass if initial_mass else 0.0}

    def accounting(self) -> dict:
        return {"steps": self.steps}

    def restore_accounting(self, acc: dict) -> None:
        self.steps = int(acc["steps"])

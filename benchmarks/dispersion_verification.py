"""The dispersion solver's verification figures and numbers (docs/weather.md).

    python benchmarks/dispersion_verification.py --out docs/images/dispersion_verification.png

1. Gaussian puff: uniform wind (5, -3, 0.2) m/s, K = (50, 80, 5) m2/s, 200 000
   particles, 1 h in 60 s steps: centre and variance per axis against x0 + U t and
   2 K t, in units of their standard errors.
2. Solid-body rotation (one turn a day, radius 100 km): the distance from the start
   after one turn for 36 .. 576 steps, against Heun's analytic error; the observed order.
3. Mass budget of a plume with deposition and outflow: the relative error.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from twin.physics.device import pick_device
from twin.physics.dispersion import Control, DispersionSolver, Model, Release


def run(solver, state, control, dt, steps):
    other = state.clone()
    for k in range(steps):
        solver.step(state, other, control, dt, k * dt)
        state, other = other, state
    return state


def grid(device, **kwargs):
    x = np.linspace(-200e3, 200e3, 21)
    return Model.on_grid(x, x.copy(), np.linspace(0.0, 10e3, 11), device=device, **kwargs), (11, 21, 21)


def puff(device, n=200_000):
    K = np.array([50.0, 80.0, 5.0])
    wind = np.array([5.0, -3.0, 0.2])
    model, shape = grid(device, diffusivity=tuple(K))
    control = Control.from_numpy(model, *(np.full(shape, c) for c in wind))
    start, t = np.array([1000.0, -2000.0, 5000.0]), 3600.0
    pos = run(DispersionSolver(model, dt=60.0, seed=7), model.state(Release(tuple(start), 1.0, n)), control, 60.0, 60).pos.numpy()
    pos = pos.astype(np.float64)
    var = 2 * K * t
    centre_z = (pos.mean(0) - (start + wind * t)) / np.sqrt(var / n)
    var_z = (pos.var(0, ddof=1) - var) / (var * np.sqrt(2.0 / (n - 1)))
    return pos - (start + wind * t), var, {"particles": n, "centre_error_in_standard_errors": centre_z.tolist(),
                                           "variance_error_in_standard_errors": var_z.tolist(),
                                           "variance_relative_error": ((pos.var(0, ddof=1) - var) / var).tolist()}


def rotation(device):
    model, (nz, ny, nx) = grid(device)
    omega, radius = 2 * np.pi / 86400.0, 100e3
    x = model.grid_lo[0] + model.spacing[0] * np.arange(nx)
    X, Y = np.meshgrid(x, x)
    control = Control.from_numpy(model, np.broadcast_to(-omega * Y, (nz, ny, nx)), np.broadcast_to(omega * X, (nz, ny, nx)))
    rows = []
    for steps in (36, 72, 144, 288, 576):
        dt = 86400.0 / steps
        p = run(DispersionSolver(model, dt=dt), model.state(Release((radius, 0.0, 2000.0), 1.0, 1)), control, dt, steps).pos.numpy()[0]
        g = 1 + 1j * omega * dt - (omega * dt) ** 2 / 2
        rows.append({"steps": steps, "dt_s": dt, "error_m": float(np.hypot(p[0] - radius, p[1])),
                     "heun_analytic_m": float(abs(radius * g**steps - radius))})
    for a, b in zip(rows, rows[1:]):
        b["observed_order"] = float(np.log2(a["error_m"] / b["error_m"]))
    return rows


def budget(device):
    x = np.linspace(-30e3, 30e3, 7)
    model = Model.on_grid(x, x.copy(), np.linspace(0, 2000.0, 5), diffusivity=(30.0, 30.0, 2.0), deposition_velocity=0.02,
                          surface_layer=100.0, device=device)
    control = Control.from_numpy(model, np.full((5, 7, 7), 6.0), np.full((5, 7, 7), 2.0))
    solver = DispersionSolver(model, dt=60.0, seed=1)
    state = run(solver, model.state(Release((0.0, 0.0, 50.0), 10.0, 100_000, duration=1800.0)), control, 60.0, 80)
    b = solver.budget(state)
    return {**b, "relative_error": abs(sum(b.values()) - 10.0) / 10.0}


def figure(errors, var, rot, path):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4), dpi=120, layout="constrained")
    axes = fig.subplots(1, 3)
    for ax, k, name in zip(axes[:2], (0, 2), ("x", "z")):
        s = np.sqrt(var[k])
        ax.hist(errors[:, k], bins=80, density=True, color="#9ecae1", label="particles")
        r = np.linspace(-4 * s, 4 * s, 200)
        ax.plot(r, np.exp(-r**2 / (2 * s * s)) / np.sqrt(2 * np.pi * s * s), "k", lw=1.2, label="analytic Gaussian")
        ax.set_title(f"puff after 1 h: {name} - ({name}0 + U t)")
        ax.set_xlabel("[m]")
        ax.legend()
    steps = np.array([r["steps"] for r in rot])
    axes[2].loglog(steps, [r["error_m"] for r in rot], "o", label="Warp solver")
    axes[2].loglog(steps, [r["heun_analytic_m"] for r in rot], "k-", lw=1, label="Heun, analytic")
    axes[2].set_xticks(steps, labels=[str(n) for n in steps])
    axes[2].minorticks_off()
    axes[2].set_xlabel("steps per turn")
    axes[2].set_ylabel("distance from start after one turn [m]")
    axes[2].set_title("solid-body rotation (r = 100 km)")
    axes[2].legend()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default=None)
    p.add_argument("--out", type=Path, help="write the figure here")
    args = p.parse_args(argv)
    device = pick_device(args.device)
    errors, var, puff_numbers = puff(device)
    rot = rotation(device)
    result = {"device": device, "puff": puff_numbers, "rotation": rot, "mass_budget": budget(device)}
    print(json.dumps(result, indent=2))
    if args.out:
        figure(errors, var, rot, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

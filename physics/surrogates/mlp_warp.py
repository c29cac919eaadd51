"""Training of :class:`twin.physics.surrogates.mlp.MLP` with Warp: the forward pass as Warp
kernels, its gradient from a ``wp.Tape``, the steps by ``warp.optim.Adam``.

The products are summed with ``wp.atomic_add`` (Warp does not differentiate a local
sum over a loop of run-time length); a CPU launch runs its threads in order, and this
module asks CUDA for ``wp.DeterministicMode.RUN_TO_RUN``, so the same data give the
same network bit for bit on one device.
"""

from __future__ import annotations

import numpy as np
import warp as wp
import warp.optim
from twin.physics.device import init_warp
from twin.physics.surrogates.mlp import layer_offsets

wp.set_module_options({"deterministic": wp.DeterministicMode.RUN_TO_RUN})


@wp.kernel
def _products(x: wp.array2d(dtype=float), theta: wp.array(dtype=float), w0: int, z: wp.array2d(dtype=float)):
    """z[i, j] += x[i, k] W[k, j], W (n_in, n_out) stored row-major at theta[w0:]."""
    i, j, k = wp.tid()
    wp.atomic_add(z, i, j, x[i, k] * theta[w0 + k * z.shape[1] + j])


@wp.kernel
def _bias_tanh(z: wp.array2d(dtype=float), theta: wp.array(dtype=float), b0: int, y: wp.array2d(dtype=float)):
    i, j = wp.tid()
    y[i, j] = wp.tanh(z[i, j] + theta[b0 + j])


@wp.kernel
def _bias(z: wp.array2d(dtype=float), theta: wp.array(dtype=float), b0: int, y: wp.array2d(dtype=float)):
    i, j = wp.tid()
    y[i, j] = z[i, j] + theta[b0 + j]


@wp.kernel
def _squared_error(y: wp.array2d(dtype=float), target: wp.array2d(dtype=float), weight: float, loss: wp.array(dtype=float)):
    i, j = wp.tid()
    e = y[i, j] - target[i, j]
    wp.atomic_add(loss, 0, weight * e * e)


def train(x: np.ndarray, target: np.ndarray, sizes: tuple[int, ...], theta0: np.ndarray, *, iterations: int,
          learning_rate: float, decay: float, device: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Full-batch Adam on the mean squared error of a tanh network from ``x`` (n, d) to
    ``target`` (n, r) of layer widths ``sizes`` (d, ..., r), from the flat weights and
    biases ``theta0`` (p,) (see :func:`layer_offsets`); the rate decays geometrically from
    ``learning_rate`` to ``learning_rate * decay``. Returns the trained vector (p,)
    float32 and the loss before each step (iterations,)."""
    init_warp()
    n = len(x)
    widths = sizes[1:]
    offsets = layer_offsets(sizes)
    with wp.ScopedDevice(device):
        inputs = wp.array(x, dtype=float)
        goal = wp.array(target, dtype=float)
        theta = wp.array(theta0, dtype=float, requires_grad=True)
        zs = [wp.zeros((n, m), dtype=float, requires_grad=True) for m in widths]
        ys = [wp.zeros((n, m), dtype=float, requires_grad=True) for m in widths]
        loss = wp.zeros(1, dtype=float, requires_grad=True)
        history = wp.zeros(iterations, dtype=float)
        adam = warp.optim.Adam([theta], lr=learning_rate)
        for step in range(iterations):
            for a in (*zs, loss):
                a.zero_()
            tape = wp.Tape()
            with tape:
                for layer, ((w0, b0), z, y) in enumerate(zip(offsets, zs, ys)):
                    before = ys[layer - 1] if layer else inputs
                    wp.launch(_products, (n, z.shape[1], before.shape[1]), inputs=[before, theta, w0, z])
                    wp.launch(_bias if layer == len(zs) - 1 else _bias_tanh, z.shape, inputs=[z, theta, b0, y])
                wp.launch(_squared_error, goal.shape, inputs=[ys[-1], goal, 1.0 / goal.size, loss])
            tape.backward(loss)
            wp.copy(history, loss, dest_offset=step, count=1)
            adam.lr = learning_rate * decay ** (step / iterations)
            adam.step([theta.grad])
            tape.zero()
        return theta.numpy(), history.numpy()

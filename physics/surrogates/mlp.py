"""A small fully-connected network for POD coefficients, trained with Warp.

The network maps parameters u in [0, 1]^d (scaled to x = 2u - 1) through ``HIDDEN``
tanh layers and one linear layer to the r mode coefficients divided by one scale
(their root mean square): the POD modes are orthonormal, so the mean squared error
of the scaled coefficients is the mean squared error of the reconstructed output
over the square of that scale, and each mode counts as much as it weighs.

Training (:mod:`twin.physics.surrogates.mlp_warp`) is full batch: ``ITERATIONS`` steps of
``warp.optim.Adam`` on the gradient a ``wp.Tape`` records through Warp kernels, from
a Glorot-uniform start drawn with NumPy's PCG64 from ``SEED`` (biases 0), the
learning rate decaying geometrically from ``LEARNING_RATE`` to
``LEARNING_RATE * DECAY``: the same data give the same network bit for bit on one
device. A trained network predicts with a few small NumPy products (no Warp).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HIDDEN = (64, 64)
ITERATIONS = 3000
LEARNING_RATE = 1e-2
DECAY = 1e-2
SEED = 0


def layer_offsets(sizes: tuple[int, ...]) -> list[tuple[int, int]]:
    """Where each layer's weights (n_in, n_out, row-major) and biases (n_out,) start
    in the flat parameter vector of a network of widths ``sizes``."""
    out, at = [], 0
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        out.append((at, at + n_in * n_out))
        at += n_in * n_out + n_out
    return out


@dataclass
class MLP:
    """A trained network: sizes (layers + 1,) int widths, theta (p,) float32 weights
    and biases, scale: the coefficients' root mean square [output units], loss
    (iterations,): the training loss (mean squared error of the scaled coefficients)
    before each step."""

    sizes: np.ndarray
    theta: np.ndarray
    scale: np.ndarray
    loss: np.ndarray

    @classmethod
    def fit(cls, unit_params: np.ndarray, coefficients: np.ndarray, *, hidden: tuple[int, ...] | None = None,
            iterations: int | None = None, device: str | None = None) -> "MLP":
        """Train on ``unit_params`` (n, d) in [0, 1]^d and ``coefficients`` (n, r) on
        the Warp ``device`` (default: Warp's); ``hidden`` and ``iterations`` default
        to :data:`HIDDEN` and :data:`ITERATIONS`."""
        from twin.physics.surrogates.mlp_warp import train

        sizes = (unit_params.shape[1], *(hidden or HIDDEN), coefficients.shape[1])
        scale = float(np.sqrt(np.mean(coefficients**2))) or 1.0
        rng = np.random.default_rng(SEED)
        offsets = layer_offsets(sizes)
        theta0 = np.zeros(offsets[-1][1] + sizes[-1], np.float32)
        for (w0, b0), n_in, n_out in zip(offsets, sizes[:-1], sizes[1:]):
            limit = np.sqrt(6.0 / (n_in + n_out))
            theta0[w0:b0] = rng.uniform(-limit, limit, n_in * n_out)
        theta, loss = train(2 * unit_params - 1, coefficients / scale, sizes, theta0, iterations=iterations or ITERATIONS,
                            learning_rate=LEARNING_RATE, decay=DECAY, device=device)
        return cls(np.array(sizes), theta, np.array(scale), loss)

    def predict(self, unit_params: np.ndarray) -> np.ndarray:
        """Coefficients (k, r) at ``unit_params`` (k, d)."""
        a = 2 * unit_params - 1
        sizes = tuple(int(s) for s in self.sizes)
        offsets = layer_offsets(sizes)
        for layer, ((w0, b0), n_in, n_out) in enumerate(zip(offsets, sizes[:-1], sizes[1:])):
            a = a @ self.theta[w0:b0].reshape(n_in, n_out) + self.theta[b0:b0 + n_out]
            if layer < len(offsets) - 1:
                a = np.tanh(a)
        return a * self.scale

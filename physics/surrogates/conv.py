"""A small convolutional network in Warp kernels, trained with ``wp.Tape`` and ``warp.optim.Adam``.

The network maps C input channels on an (H, W) grid to one output channel::

    h1 = relu(conv3x3(x,  W1) + b1)          (hidden channels)
    h2 = relu(conv3x3(h1, W2) + b2)          (hidden channels)
    y  = conv1x1(h2, W3) + conv1x1(x, S) + b3

so each output point sees a 5 x 5 neighbourhood of its inputs, plus a linear
(ridge-like) path from its own inputs. Edges replicate the nearest row or column
(no zero padding). All weights live in one flat float32 array ``theta`` (the one
parameter the optimiser updates); :class:`ConvNet` knows the offsets.
"""

from __future__ import annotations

import functools

import numpy as np
import warp as wp

__all__ = ["ConvNet"]


@functools.cache
def conv3x3_relu(channels: int):
    """Kernel: out[b, o, i, j] = relu(bias[o] + sum_c,di,dj w[o, c, di, dj] x[b, c, i+di-1, j+dj-1]),
    edges replicated, for ``channels`` input channels.

    The channel count is a compile-time constant so that Warp unrolls the loops:
    its adjoint of a value accumulated in a loop with run-time bounds is not kept.
    """

    @wp.kernel(module="unique")
    def kernel(x: wp.array4d(dtype=float), theta: wp.array(dtype=float), weights_at: int, bias_at: int, out: wp.array4d(dtype=float)):
        b, o, i, j = wp.tid()
        h = x.shape[2]
        w = x.shape[3]
        acc = theta[bias_at + o]
        for c in range(channels):
            for di in range(3):
                ii = wp.clamp(i + di - 1, 0, h - 1)
                for dj in range(3):
                    jj = wp.clamp(j + dj - 1, 0, w - 1)
                    acc += theta[weights_at + ((o * channels + c) * 3 + di) * 3 + dj] * x[b, c, ii, jj]
        out[b, o, i, j] = wp.max(acc, 0.0)

    return kernel


@functools.cache
def combine_output(hidden: int, channels: int):
    """Kernel: out[b, i, j] = b3 + sum_o W3[o] hidden[b, o, i, j] + sum_c S[c] x[b, c, i, j] (unrolled, as above)."""

    @wp.kernel(module="unique")
    def kernel(x: wp.array4d(dtype=float), h2: wp.array4d(dtype=float), theta: wp.array(dtype=float), head_at: int, skip_at: int,
               bias_at: int, out: wp.array3d(dtype=float)):
        b, i, j = wp.tid()
        acc = theta[bias_at]
        for o in range(hidden):
            acc += theta[head_at + o] * h2[b, o, i, j]
        for c in range(channels):
            acc += theta[skip_at + c] * x[b, c, i, j]
        out[b, i, j] = acc

    return kernel


@wp.kernel
def squared_error(prediction: wp.array3d(dtype=float), target: wp.array3d(dtype=float), scale: float, loss: wp.array(dtype=float)):
    """loss[0] += scale * (prediction - target)^2 over every (b, i, j)."""
    b, i, j = wp.tid()
    d = prediction[b, i, j] - target[b, i, j]
    wp.atomic_add(loss, 0, scale * d * d)


class ConvNet:
    """The network of this module for ``channels`` inputs and ``hidden`` hidden channels.

    Args:
        channels: input channels C.
        hidden: hidden channels.
        theta: the flat weights (length :meth:`size`), or None for a network whose
            convolutions are He-initialised from ``seed`` and whose head (W3) and
            linear path start at zero: it starts as a constant, and as exactly the
            linear model when the linear path is set (the head's gradient is not zero,
            so the convolutions join in from the first step).
        device: Warp device.
    """

    def __init__(self, channels: int, hidden: int, theta: np.ndarray | None = None, *, seed: int = 0, device: str = "cpu"):
        self.channels, self.hidden, self.device = int(channels), int(hidden), device
        c, k = self.channels, self.hidden
        sizes = {"w1": k * c * 9, "b1": k, "w2": k * k * 9, "b2": k, "w3": k, "skip": c, "b3": 1}
        self.at, n = {}, 0
        for name, size in sizes.items():
            self.at[name] = n
            n += size
        self.size = n
        if theta is None:
            rng = np.random.default_rng(seed)
            theta = np.zeros(n, np.float32)
            for name, fan_in in (("w1", c * 9), ("w2", k * 9)):
                theta[self.at[name]:self.at[name] + sizes[name]] = rng.normal(0.0, np.sqrt(2.0 / fan_in), sizes[name])
        theta = np.asarray(theta, np.float32)
        if theta.shape != (n,):
            raise ValueError(f"theta has shape {theta.shape}, expected ({n},)")
        self.theta = wp.array(theta, dtype=float, device=device, requires_grad=True)

    def forward(self, x: wp.array) -> wp.array:
        """Output (B, H, W) for inputs ``x`` (B, C, H, W) on the device (recorded on an active Tape)."""
        b, c, h, w = x.shape
        need_grad = self.theta.requires_grad
        h1 = wp.zeros((b, self.hidden, h, w), dtype=float, device=self.device, requires_grad=need_grad)
        h2 = wp.zeros((b, self.hidden, h, w), dtype=float, device=self.device, requires_grad=need_grad)
        y = wp.zeros((b, h, w), dtype=float, device=self.device, requires_grad=need_grad)
        wp.launch(conv3x3_relu(self.channels), dim=(b, self.hidden, h, w), inputs=[x, self.theta, self.at["w1"], self.at["b1"]],
                  outputs=[h1], device=self.device)
        wp.launch(conv3x3_relu(self.hidden), dim=(b, self.hidden, h, w), inputs=[h1, self.theta, self.at["w2"], self.at["b2"]],
                  outputs=[h2], device=self.device)
        wp.launch(combine_output(self.hidden, self.channels), dim=(b, h, w), inputs=[x, h2, self.theta, self.at["w3"], self.at["skip"], self.at["b3"]], outputs=[y], device=self.device)
        return y

    def predict(self, x: np.ndarray, *, batch: int = 64) -> np.ndarray:
        """Output (B, H, W) float32 for host inputs (B, C, H, W), without gradients."""
        self.theta.requires_grad = False
        try:
            out = [self.forward(wp.array(np.ascontiguousarray(x[s:s + batch], np.float32), dtype=float, device=self.device)).numpy()
                   for s in range(0, len(x), batch)]
        finally:
            self.theta.requires_grad = True
        return np.concatenate(out) if out else np.zeros((0, *x.shape[2:]), np.float32)

    def loss_and_grad(self, x: np.ndarray, target: np.ndarray) -> tuple[float, wp.array]:
        """Mean squared error of a batch (B, C, H, W) -> (B, H, W) and its gradient with respect to ``theta``."""
        xd = wp.array(np.ascontiguousarray(x, np.float32), dtype=float, device=self.device)
        td = wp.array(np.ascontiguousarray(target, np.float32), dtype=float, device=self.device)
        loss = wp.zeros(1, dtype=float, device=self.device, requires_grad=True)
        tape = wp.Tape()
        with tape:
            y = self.forward(xd)
            wp.launch(squared_error, dim=y.shape, inputs=[y, td, 1.0 / float(np.prod(y.shape))], outputs=[loss], device=self.device)
        tape.backward(loss=loss)
        grad = wp.clone(self.theta.grad)
        tape.zero()
        return float(loss.numpy()[0]), grad

"""A machine's lumped thermal model, run as a State that a Kalman filter corrects from readings.

The model: one heat capacity ``C`` [J/K] at temperature ``T``, heated by ``P(t)`` [W]
and losing heat through a conductance ``G`` [W/K] to the ambient ``T_amb``:

    C dT/dt = P(t) - G (T - T_amb)

Temperature alone fixes only the time constant ``tau = C / G`` [s] and the
equilibrium temperature ``u = T_amb + P / G`` (the temperature the machine settles
at under its present load), so the State is ``x = (T, u)``, and the heat input,
in units of the conductance, is ``P / G = u - T_amb``. Over a step ``dt`` with ``u``
constant the model is exact:

    T' = a T + (1 - a) u,   a = exp(-dt / tau);   u' = u + w_u

with process noise of variance ``q_T dt`` on ``T`` and ``q_u dt`` on ``u`` (the load
wanders as a random walk) and reading noise of variance ``r``. The parameters
``theta = (tau, q_T, q_u, r)`` are fitted by maximising the Gaussian likelihood of the
innovations over a training stretch (:func:`fit_thermal`). The filter's standardised
innovation ``z = (y - T_pred) / sqrt(S)`` is N(0, 1) while the machine behaves as the
model says; :mod:`twin.anomaly` raises alarms from it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from twin.errors import InputError

__all__ = ["Innovation", "ThermalModel", "ThermalState", "ThermalTwin", "fit_thermal"]


@dataclass(frozen=True)
class ThermalModel:
    """Parameters of the lumped model (see the module docstring).

    Attributes:
        tau: time constant C/G [s].
        q_T, q_u: process noise intensities of T and u [K^2/s] (K: the log's temperature unit).
        r: reading noise variance [K^2].
        ambient: ambient temperature [K units]: only used to report the heat input P/G.
    """

    tau: float
    q_T: float
    q_u: float
    r: float
    ambient: float = 0.0


@dataclass
class ThermalState:
    """What changes: the estimate ``x = (T, u)`` [K units], (2,), its covariance ``P`` (2, 2), and its time [s]."""

    x: np.ndarray
    P: np.ndarray
    t: float


@dataclass(frozen=True)
class Innovation:
    """One reading assimilated.

    Attributes:
        t: time of the reading [s]; reading: y [K units].
        predicted: the model's T before seeing it; sigma: its standard deviation sqrt(S) (reading noise included).
        z: standardised innovation (y - predicted) / sigma.
        heat: heat input per conductance P/G = u - ambient after the update [K units].
    """

    t: float
    reading: float
    predicted: float
    sigma: float
    z: float
    heat: float


class ThermalTwin:
    """The model running beside the machine: :meth:`assimilate` one reading at a time."""

    def __init__(self, model: ThermalModel, first_reading: float, t0: float = 0.0):
        self.model = model
        var = max(model.r, 1e-12)
        self.state = ThermalState(np.array([first_reading, first_reading]), np.diag([var, 100.0 * var]), t0)

    def assimilate(self, t: float, y: float) -> Innovation:
        """Predict to ``t`` [s] (a step back in time counts as zero), correct with reading ``y``.

        The 2 x 2 algebra is written out in floats (ten times faster than NumPy calls).
        """
        s, m = self.state, self.model
        dt = max(t - s.t, 0.0)
        a = math.exp(-dt / m.tau)
        (T, u), ((p00, p01), (_, p11)) = s.x, s.P
        b = 1.0 - a
        # x = F x, P = F P F^T + Q with F = [[a, b], [0, 1]]
        T = a * T + b * u
        f00 = a * a * p00 + 2 * a * b * p01 + b * b * p11 + m.q_T * dt
        f01 = a * p01 + b * p11
        f11 = p11 + m.q_u * dt
        S = f00 + m.r
        k0, k1 = f00 / S, f01 / S
        e = y - T
        s.x = np.array([T + k0 * e, u + k1 * e])
        s.P = np.array([[f00 - k0 * f00, f01 - k0 * f01], [f01 - k0 * f01, f11 - k1 * f01]])
        s.t = max(t, s.t)
        sigma = math.sqrt(S)
        return Innovation(t, y, T, sigma, e / sigma, float(s.x[1] - m.ambient))


def _neg_log_likelihood(log_theta: np.ndarray, t: np.ndarray, y: np.ndarray) -> float:
    tau, q_T, q_u, r = np.exp(log_theta)
    twin = ThermalTwin(ThermalModel(tau, q_T, q_u, r), y[0], t[0])
    nll = 0.0
    for tk, yk in zip(t[1:], y[1:]):
        i = twin.assimilate(tk, yk)
        nll += math.log(i.sigma) + 0.5 * i.z * i.z
    return nll if math.isfinite(nll) else 1e300


def fit_thermal(t: np.ndarray, y: np.ndarray, *, ambient: float = 0.0) -> ThermalModel:
    """The model whose filter best explains readings ``y`` [K units] at times ``t`` [s] (n,).

    Maximum likelihood of the innovations (Nelder-Mead on the log-parameters, from a
    start scaled to the data: tau = 1 h, noise from the variance of the differences).
    """
    from scipy.optimize import minimize

    t, y = np.asarray(t, np.float64), np.asarray(y, np.float64)
    if len(y) < 10:
        raise InputError("thermal fit", "", f"needs at least 10 readings, got {len(y)}")
    dt = float(np.median(np.diff(t)))
    v = float(np.var(np.diff(y))) or 1.0
    start = np.log([3600.0, v / dt, 0.1 * v / dt, 0.5 * v])
    res = minimize(_neg_log_likelihood, start, args=(t, y), method="Nelder-Mead",
                   options={"xatol": 1e-3, "fatol": 1e-3, "maxiter": 2000})
    tau, q_T, q_u, r = np.exp(res.x)
    return ThermalModel(float(tau), float(q_T), float(q_u), float(r), ambient)

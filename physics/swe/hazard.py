"""Flood hazard from the peaks of a run: the six ARR 2019 / AIDR hazard classes and the UK FD2320 rating.

Combined hazard curves (Australian Disaster Resilience Guideline 7-3 *Flood
Hazard*, AIDR 2017, supporting Handbook 7 *Managing the Floodplain*; Australian
Rainfall and Runoff 2019, Book 6 Chapter 7, Table 6.7.4): a cell is in the
lowest class H_k whose three limits it keeps, depth ``d <= D_k``, speed
``v <= V_k`` and ``d*v <= DV_k`` (limits inclusive), and in H6 beyond H5's:

====  =========  =========  ============  ==============================================
class D_k [m]    V_k [m/s]  DV_k [m2/s]   vulnerability
====  =========  =========  ============  ==============================================
H1    0.3        2.0        0.3           generally safe for vehicles, people and buildings
H2    0.5        2.0        0.6           unsafe for small vehicles
H3    1.2        2.0        0.6           unsafe for vehicles, children and the elderly
H4    2.0        2.0        1.0           unsafe for vehicles and people
H5    4.0        4.0        4.0           also all buildings vulnerable to structural damage
H6    -          -          -             all building types considered vulnerable to failure
====  =========  =========  ============  ==============================================

The classes are applied to the peaks of the run, as the guideline does: the
maximum depth, the maximum speed and the running maximum of ``h*|u|`` tracked
at every step (never the product of the separate maxima, which overstates it).

UK hazard rating (Defra/Environment Agency R&D FD2320/TR2, *Flood Risks to
People Phase 2*, 2006): ``HR = d (v + 0.5) + DF``, with the debris factor DF
of its Table 3.2 by land use (``DEBRIS_FACTORS``): 0 for d <= 0.25 m; for
0.25 < d <= 0.75 m 0 (pasture/arable), 0.5 (woodland), 1 (urban); for
d > 0.75 m or v > 2 m/s 0.5, 1, 1. From peaks, ``HR = max(d v) + 0.5 max(d) +
DF(max d, max v)``, an upper bound of the running maximum of HR. Bands
(``FD2320_BANDS``): < 0.75 low, 0.75-1.25 danger for some, 1.25-2.0 danger for
most, > 2.0 danger for all.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ARR_LABELS", "ARR_LIMITS", "DEBRIS_FACTORS", "FD2320_BANDS", "arr_hazard_class", "fd2320_rating", "hazard_variables",
           "result_hazard_class"]

ARR_LIMITS = np.array([
    # depth [m], speed [m/s], depth x speed [m2/s]: upper limits of H1..H5
    [0.3, 2.0, 0.3],
    [0.5, 2.0, 0.6],
    [1.2, 2.0, 0.6],
    [2.0, 2.0, 1.0],
    [4.0, 4.0, 4.0],
])
"""Limits of the hazard classes H1..H5 (rows): depth [m], speed [m/s], depth x speed [m2/s]; H6 lies beyond H5."""

ARR_LABELS = (
    "dry",
    "H1 generally safe for vehicles, people and buildings",
    "H2 unsafe for small vehicles",
    "H3 unsafe for vehicles, children and the elderly",
    "H4 unsafe for vehicles and people",
    "H5 unsafe for vehicles and people; all buildings vulnerable to structural damage",
    "H6 unsafe for vehicles and people; all building types considered vulnerable to failure",
)
"""What each value of ``hazard_class`` means (index 0 = dry)."""

DEBRIS_FACTORS = {
    # land use: DF for 0.25 < d <= 0.75 m, DF for d > 0.75 m or v > 2 m/s (0 for d <= 0.25 m)
    "pasture": (0.0, 0.5),
    "woodland": (0.5, 1.0),
    "urban": (1.0, 1.0),
}
"""FD2320/TR2 Table 3.2 debris factors by dominant land use."""

FD2320_BANDS = ((0.75, "low (caution)"), (1.25, "danger for some"), (2.0, "danger for most"), (np.inf, "danger for all"))
"""Upper bounds of the FD2320 hazard-rating bands and their names."""


def _peaks(depth, speed, depth_velocity) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The three peaks as arrays of one float type (float32 if all are, else float64), NaN as 0."""
    arrays = [np.asarray(a) for a in (depth, speed, depth_velocity)]
    dtype = np.result_type(*arrays, np.float32)
    return tuple(np.nan_to_num(a.astype(dtype)) for a in arrays)


def arr_hazard_class(depth: np.ndarray, speed: np.ndarray, depth_velocity: np.ndarray, wet_threshold: float) -> np.ndarray:
    """ARR 2019 hazard class of each cell: int8, 0 where ``depth <= wet_threshold``, else 1..6.

    Args:
        depth: peak depth [m]; speed: peak speed [m/s]; depth_velocity: peak h*|u| [m2/s];
            any matching shapes (NaN counts as 0).
        wet_threshold: depth [m] at or below which a cell is dry.
    """
    d, v, dv = _peaks(depth, speed, depth_velocity)
    limits = ARR_LIMITS.astype(d.dtype)  # a float32 peak of exactly 0.3 m is at the limit, not above it
    cls = np.full(d.shape, 6, np.int8)
    for k in range(len(limits) - 1, -1, -1):  # H5 down to H1: the lowest class kept wins
        dk, vk, dvk = limits[k]
        cls[(d <= dk) & (v <= vk) & (dv <= dvk)] = k + 1
    cls[d <= wet_threshold] = 0
    return cls


def fd2320_rating(depth: np.ndarray, speed: np.ndarray, depth_velocity: np.ndarray, wet_threshold: float,
                  debris: str | None = "urban") -> np.ndarray:
    """FD2320 hazard rating ``max(d v) + 0.5 max(d) + DF`` [-], float32, NaN where dry.

    Args:
        depth, speed, depth_velocity: as :func:`arr_hazard_class`.
        debris: land use of the debris factor (a key of :data:`DEBRIS_FACTORS`), or None for DF = 0.
    """
    d, v, dv = _peaks(depth, speed, depth_velocity)
    if debris is None:
        df = 0.0
    else:
        if debris not in DEBRIS_FACTORS:
            raise KeyError(f"unknown debris land use {debris!r}; expected one of {', '.join(DEBRIS_FACTORS)}")
        mid, high = DEBRIS_FACTORS[debris]
        df = np.where((d > d.dtype.type(0.75)) | (v > v.dtype.type(2.0)), high, np.where(d > d.dtype.type(0.25), mid, 0.0))
    return np.where(d > wet_threshold, dv + 0.5 * d + df, np.nan).astype(np.float32)


def result_hazard_class(ds) -> np.ndarray | None:
    """The hazard class (ny, nx) int8 of a flood Result (an xarray Dataset): its ``hazard_class``, else classified
    from its peaks when it has ``max_depth_velocity``, else None."""
    if "hazard_class" in ds:
        return np.asarray(ds["hazard_class"].values, np.int8)
    if "max_depth_velocity" not in ds:
        return None
    return arr_hazard_class(ds["max_depth"].values, ds["max_speed"].values, ds["max_depth_velocity"].values,
                            float(ds.attrs.get("wet_threshold_m", 1e-3)))


def hazard_variables(max_depth: np.ndarray, max_speed: np.ndarray, max_depth_velocity: np.ndarray | None,
                     wet_threshold: float, *, debris: str | None = "urban") -> dict[str, tuple]:
    """The Result variables ``hazard_class`` and ``hazard_rating_fd2320`` as xarray (dims, data, attrs) tuples over (y, x).

    Args:
        max_depth [m], max_speed [m/s], max_depth_velocity [m2/s]: peaks, (ny, nx).
        wet_threshold: depth [m] at or below which a cell is dry (class 0).
        debris: FD2320 debris land use, or None.

    Raises:
        ValueError: ``max_depth_velocity`` is None (the product of separate maxima is not a substitute).
    """
    if max_depth_velocity is None:
        raise ValueError("hazard needs the running maximum of depth x speed (max_depth_velocity); "
                         "the product of the separate maxima overstates it")
    cls = arr_hazard_class(max_depth, max_speed, max_depth_velocity, wet_threshold)
    hr = fd2320_rating(max_depth, max_speed, max_depth_velocity, wet_threshold, debris)
    return {
        "hazard_class": (("y", "x"), cls, {
            "units": "1", "long_name": "ARR 2019 / AIDR Guideline 7-3 flood hazard class (0 dry, 1..6 = H1..H6)",
            "flag_values": np.arange(7, dtype=np.int8), "flag_meanings": "dry H1 H2 H3 H4 H5 H6"}),
        "hazard_rating_fd2320": (("y", "x"), hr, {
            "units": "1", "long_name": "FD2320 flood hazard rating d(v + 0.5) + DF from the peaks (NaN where dry)",
            "debris_factor_land_use": debris or "none"}),
    }

"""GIS in and out of flood studies, and the hazard products: CF grid mapping, GeoTIFF/NetCDF/GeoPackage
export, vector layers in, ARR 2019 hazard classes and the FD2320 rating."""

from __future__ import annotations

import numpy as np
import pytest

from physics.swe.hazard import arr_hazard_class, fd2320_rating, hazard_variables

WET = 1e-3

# depth [m], speed [m/s], depth x speed [m2/s], class: at and just past every limit of ARR 2019 Table 6.7.4
HAZARD_TABLE = [
    (0.0, 0.0, 0.0, 0),      # dry
    (1e-3, 0.5, 5e-4, 0),    # at the wet threshold: dry
    (0.3, 1.0, 0.3, 1),      # H1 at all three limits
    (0.1, 2.0, 0.2, 1),      # H1 at the speed limit
    (0.31, 0.1, 0.031, 2),   # past H1's depth
    (0.2, 1.55, 0.31, 2),    # past H1's d*v
    (0.5, 1.2, 0.6, 2),      # H2 at its depth and d*v limits
    (0.51, 0.1, 0.051, 3),   # past H2's depth
    (1.2, 0.5, 0.6, 3),      # H3 at its limits
    (1.21, 0.1, 0.121, 4),   # past H3's depth
    (0.4, 1.6, 0.64, 4),     # past H2/H3's d*v
    (2.0, 0.5, 1.0, 4),      # H4 at its limits
    (2.01, 0.1, 0.201, 5),   # past H4's depth
    (0.1, 2.01, 0.201, 5),   # past H1-H4's speed
    (0.6, 1.8, 1.08, 5),     # past H4's d*v
    (4.0, 1.0, 4.0, 5),      # H5 at its depth and d*v limits
    (1.0, 4.0, 4.0, 5),      # H5 at its speed and d*v limits
    (4.01, 0.1, 0.401, 6),   # past H5's depth
    (0.5, 4.01, 2.005, 6),   # past H5's speed
    (1.5, 2.7, 4.05, 6),     # past H5's d*v
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_hazard_classes_at_every_boundary(dtype):
    d, v, dv, expected = (np.array(c) for c in zip(*HAZARD_TABLE))
    got = arr_hazard_class(d.astype(dtype), v.astype(dtype), dv.astype(dtype), WET)
    assert got.dtype == np.int8
    np.testing.assert_array_equal(got, expected)


def test_fd2320_rating_by_hand():
    d = np.array([0.0, 0.25, 0.5, 0.8, 0.1, 0.5])
    v = np.array([0.0, 1.0, 1.0, 0.5, 2.5, 1.0])
    dv = d * v
    urban = fd2320_rating(d, v, dv, WET, "urban")
    # d v + 0.5 d + DF: DF 0 up to 0.25 m, 1 (urban) above
    np.testing.assert_allclose(urban, [np.nan, 0.25 + 0.125, 0.5 + 0.25 + 1, 0.4 + 0.4 + 1, 0.25 + 0.05 + 1, 1.75], rtol=1e-6)
    pasture = fd2320_rating(d, v, dv, WET, "pasture")
    np.testing.assert_allclose(pasture[2:5], [0.75, 0.4 + 0.4 + 0.5, 0.25 + 0.05 + 0.5], rtol=1e-6)
    np.testing.assert_allclose(fd2320_rating(d, v, dv, WET, None)[2], 0.75, rtol=1e-6)


def test_hazard_refuses_without_the_running_depth_velocity_maximum():
    with pytest.raises(ValueError, match="max_depth_velocity"):
        hazard_variables(np.ones((2, 2)), np.ones((2, 2)), None, WET)

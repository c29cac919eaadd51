"""Flood pictures (package ``viewer``): the numbers first, then the PNGs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from twin.viewer.flood_maps import G, froude_number, hillshade


def make_result(nx: int = 40, ny: int = 30, dx: float = 2.0, nt: int = 3, nk: int = 25) -> xr.Dataset:
    """A synthetic flood Result of ny x nx cells in UTM 56S.

    The bed slopes down to the east with a valley along the middle row; one
    building block of 3 m stands in it. Water fills the valley, deepening with
    time and flowing east.
    """
    x = 334_000.0 + dx * (np.arange(nx) + 0.5)
    y = 6_250_000.0 + dx * (np.arange(ny) + 0.5)
    xx, yy = np.meshgrid((x - x[0]) / (x[-1] - x[0]), (y - y[0]) / (y[-1] - y[0]))
    ground = 10.0 - 4.0 * xx + 8.0 * (yy - 0.5) ** 2 + 0.2 * np.sin(12.0 * xx)
    # houses of 12 m x 10 m every 24 m x 20 m on the banks, one 3 m block in the valley
    ex, ey = np.meshgrid(dx * np.arange(nx), dx * np.arange(ny))
    houses = (ex % 24.0 >= 6.0) & (ex % 24.0 < 18.0) & (ey % 20.0 >= 5.0) & (ey % 20.0 < 15.0)
    building = (houses & (np.abs(yy - 0.5) > 0.3)).astype(np.int8)
    building[ny // 3 : ny // 3 + max(2, ny // 6), nx // 2 : nx // 2 + max(2, nx // 8)] = 1
    bed = ground + 3.0 * building

    times = np.linspace(0.0, 600.0, nt)
    surface = 10.8 - 4.0 * xx  # water surface sloping east
    depth = np.stack([np.clip(surface + 0.6 * k / max(nt - 1, 1) - bed, 0.0, None) for k in range(nt)])
    depth[depth < 1e-3] = 0.0
    wet = depth > 0.0
    u = np.where(wet, 0.3 + 3.0 * depth, 0.0)
    v = np.where(wet, 0.5 * np.sin(20.0 * yy), 0.0)
    stage = bed + depth
    peak = depth.max(axis=0)
    ever_wet = peak > 1e-3
    speed = np.hypot(u, v).max(axis=0)

    probes = ["P1 upstream", "P2 downstream"]
    probe_i = np.array([nx // 6, 5 * nx // 6])
    probe_j = np.array([ny // 2, ny // 2])
    probe_time = np.linspace(0.0, 600.0, nk)
    wave = np.sin(np.pi * probe_time / 600.0) ** 2  # a flood wave, dry at start and end
    probe_bed = bed[probe_j, probe_i]
    probe_depth = np.clip((surface - bed)[probe_j, probe_i][:, None] - 1.0 + 1.6 * wave[None, :], 0.0, None)

    f4 = np.float32
    return xr.Dataset(
        data_vars={
            "depth": (("time", "y", "x"), depth.astype(f4)),
            "stage": (("time", "y", "x"), stage.astype(f4)),
            "u": (("time", "y", "x"), u.astype(f4)),
            "v": (("time", "y", "x"), v.astype(f4)),
            "max_depth": (("y", "x"), peak.astype(f4)),
            "max_stage": (("y", "x"), np.where(ever_wet, bed + peak, np.nan).astype(f4)),
            "max_speed": (("y", "x"), speed.astype(f4)),
            "time_of_max_depth": (("y", "x"), np.where(ever_wet, times[-1], np.nan).astype(f4)),
            "bed_elevation": (("y", "x"), bed.astype(f4)),
            "ground_elevation": (("y", "x"), ground.astype(f4)),
            "building": (("y", "x"), building),
            "probe_x": (("probe",), x[probe_i]),
            "probe_y": (("probe",), y[probe_j]),
            "probe_depth": (("probe", "probe_time"), probe_depth.astype(f4)),
            "probe_stage": (("probe", "probe_time"), (probe_bed[:, None] + probe_depth).astype(f4)),
            "probe_u": (("probe", "probe_time"), (0.5 * np.sqrt(probe_depth)).astype(f4)),
            "probe_v": (("probe", "probe_time"), np.zeros_like(probe_depth, dtype=f4)),
        },
        coords={"x": x, "y": y, "time": times, "probe": probes, "probe_time": probe_time},
        attrs={"twin_kind": "flood", "crs": "EPSG:32756", "title": "Synthetic valley", "wet_threshold_m": 0.001},
    )


def png_pixels(path: Path) -> np.ndarray:
    """The PNG at ``path`` as an (h, w, channels) float array in [0, 1]."""
    from matplotlib.image import imread

    return imread(path)


def test_importing_viewer_is_light():
    code = "import sys, viewer; print('pyvista' in sys.modules, 'matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_hillshade_of_flat_bed_is_sin_altitude():
    shade = hillshade(np.full((7, 9), 42.0), 2.0, 2.0, azimuth=315.0, altitude=30.0)
    assert shade.shape == (7, 9)
    np.testing.assert_allclose(shade, 0.5)


def test_hillshade_range_and_direction():
    ds = make_result()
    shade = hillshade(ds["bed_elevation"].values, 2.0, 2.0)
    assert shade.shape == (30, 40)
    assert shade.min() >= 0.0 and shade.max() <= 1.0 and shade.std() > 0.01
    # a plane rising to the east faces west: lit by a western sun, dark under an eastern one
    xx = np.tile(np.arange(10.0), (5, 1))
    west_lit = hillshade(xx, 1.0, 1.0, azimuth=270.0, altitude=45.0)
    np.testing.assert_allclose(west_lit, np.sin(np.radians(45 + 45)), atol=1e-12)
    np.testing.assert_allclose(hillshade(xx, 1.0, 1.0, azimuth=90.0, altitude=45.0), 0.0, atol=1e-12)
    # a plane rising to the north (y grows with the row) faces south
    yy = np.tile(np.arange(5.0)[:, None], (1, 10))
    assert hillshade(yy, 1.0, 1.0, azimuth=180.0).min() > hillshade(yy, 1.0, 1.0, azimuth=0.0).max()


def test_froude_number_by_hand():
    depth = np.array([1.0, 0.25, 4.0, 0.0005, 0.0])
    u = np.array([3.0, 0.0, 0.0, 1.0, 1.0])
    v = np.array([4.0, 1.0, -6.264, 1.0, 0.0])
    fr = froude_number(depth, u, v, wet_threshold=0.001)
    expected = [5.0 / np.sqrt(G), 1.0 / np.sqrt(G * 0.25), 6.264 / np.sqrt(G * 4.0)]
    np.testing.assert_allclose(fr[:3], expected, rtol=1e-12)
    assert np.isnan(fr[3:]).all()
    assert froude_number(np.ones((2, 3)), np.zeros((2, 3)), np.zeros(3), 0.001).shape == (2, 3)


@pytest.fixture(scope="module")
def result() -> xr.Dataset:
    return make_result()


@pytest.mark.parametrize("name", ["plot_peak_depth", "plot_froude", "plot_hydrographs"])
def test_maps_are_written_at_size_and_not_blank(result, tmp_path, name):
    from twin import viewer

    path = getattr(viewer, name)(result, tmp_path / f"{name}.png", size_px=(600, 500), dpi=100)
    assert path == tmp_path / f"{name}.png" and path.is_file()
    pixels = png_pixels(path)
    assert pixels.shape[:2] == (500, 600)
    assert pixels[..., :3].std() > 0.05


def test_peak_depth_map_shows_water(result, tmp_path):
    from twin.viewer import plot_peak_depth

    pixels = png_pixels(plot_peak_depth(result, tmp_path / "depth.png", size_px=(600, 500), dpi=100))
    r, b = pixels[..., 0], pixels[..., 2]
    assert np.mean((b - r > 0.2) & (b > 0.5)) > 0.02  # a fair share of blue pixels


def test_oblique_render(result, tmp_path):
    from twin.viewer import render_oblique

    path = render_oblique(result, tmp_path / "oblique.png", window_size=(320, 240))
    pixels = png_pixels(path)
    assert pixels.shape[:2] == (240, 320)
    assert pixels[..., :3].std() > 0.05


@pytest.mark.filterwarnings("ignore:.*Zarr")  # str probe names and consolidated metadata in Zarr v3
def test_write_flood_pictures_from_zarr(result, tmp_path):
    from twin.viewer import write_flood_pictures

    store = tmp_path / "result.zarr"
    result.to_zarr(store)
    pictures = write_flood_pictures(store, tmp_path / "pictures")
    assert set(pictures) == {"peak_depth", "oblique", "froude", "hydrographs"}
    for name, path in pictures.items():
        assert path == tmp_path / "pictures" / f"{name}.png" and path.is_file()
    assert png_pixels(pictures["peak_depth"]).shape[:2] == (1000, 1200)


def test_write_flood_pictures_refuses_what_is_not_a_result(result, tmp_path):
    from twin.viewer import write_flood_pictures

    from twin.errors import InputError

    with pytest.raises(InputError, match="no such Result store"):
        write_flood_pictures(tmp_path / "missing.zarr", tmp_path / "pictures")
    with pytest.raises(InputError, match="missing max_depth, max_stage"):
        write_flood_pictures(result.drop_vars(["max_depth", "max_stage"]), tmp_path / "pictures")
    assert not (tmp_path / "pictures").exists()

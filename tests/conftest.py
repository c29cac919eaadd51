"""Shared fixtures: the devices to test on, and tiny scene scripts of every kind (no shared data needed).

Markers (strict): ``data`` needs ../shared/data; ``gpu`` needs a CUDA device; ``broker``
needs the Mosquitto binary; ``slow`` runs only under ``make test-all``. With
``TWIN_REQUIRE_DATA=1`` (``make test`` in CI) a test skipped for anything but a
missing GPU fails instead: CI must not pass by skipping.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SCENES = Path(__file__).resolve().parent / "scenes"
KINDS = {"flood": SCENES / "tiny_flood.py", "dispersion": SCENES / "tiny_plume.py",
         "robot": SCENES / "tiny_robot.py", "machine": SCENES / "tiny_machine.py"}
"""kind -> a tiny scene script of that kind."""


def _devices() -> list:
    import warp as wp

    wp.config.quiet = True
    wp.init()
    return ["cpu"] + ([pytest.param("cuda:0", marks=pytest.mark.gpu)] if wp.get_cuda_device_count() > 0 else [])


@pytest.fixture(params=_devices())
def device(request) -> str:
    """Every device the tests can use: "cpu" always, "cuda:0" when there is one."""
    return request.param


@pytest.fixture(params=list(KINDS))
def kind_script(request) -> tuple[str, Path]:
    """(kind, tiny scene script) for every kind of twin."""
    return request.param, KINDS[request.param]


def whole_and_resumed(simulation, folder: Path, t_stop: float) -> tuple[Path, Path]:
    """Run ``simulation(out, on_step)`` (a Simulation factory) whole into ``folder/whole``, and into
    ``folder/parts`` stopped by Ctrl-C past ``t_stop`` [s] then resumed; the two output folders."""
    simulation(folder / "whole").run()

    def interrupt(sim):
        if sim.t > t_stop:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        simulation(folder / "parts", interrupt).run()
    simulation(folder / "parts").run(resume=True)
    return folder / "whole", folder / "parts"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("TWIN_REQUIRE_DATA") == "1" and item.get_closest_marker("gpu") is None:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped although TWIN_REQUIRE_DATA=1 (every data file and service must be there): {reason}"

"""Where the tests find the real data: ``TWIN_DATA``, else ``../shared/data`` beside the repository
(:mod:`twin.data`). A test that needs it is marked ``data``; without the data it is skipped, and
with ``TWIN_REQUIRE_DATA=1`` (CI) that skip fails the run."""

from __future__ import annotations

from pathlib import Path

import pytest

from twin.data import data_dir

DATA = data_dir()


def need(path: Path) -> Path:
    """``path``, or skip the test when the shared data is not there."""
    if not path.exists():
        pytest.skip(f"shared data not found: {path} (the tests expect ../shared/data beside the repository)")
    return path

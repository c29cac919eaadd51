"""Where the tests find the real data: ``../shared/data`` beside the repository."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def need(path: Path) -> Path:
    """``path``, or skip the test when the shared data is not there."""
    if not path.exists():
        pytest.skip(f"shared data not found: {path} (the tests expect ../shared/data beside the repository)")
    return path

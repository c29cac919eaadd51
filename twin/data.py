"""Where scene scripts find real data: one setting, ``TWIN_DATA``.

``TWIN_DATA`` names the data folder; without it, twin uses ``../shared/data``
beside the checkout (the folder above the one holding ``twin/``). An installed
twin (a wheel in site-packages) has no checkout beside it: set ``TWIN_DATA``.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["data_dir", "data_file"]


def data_dir() -> Path:
    """The data folder: ``$TWIN_DATA``, else ``../shared/data`` beside the checkout."""
    env = os.environ.get("TWIN_DATA")
    return Path(env).expanduser() if env else Path(__file__).resolve().parents[2] / "shared" / "data"


def data_file(*parts: str) -> str:
    """The path of ``parts`` under :func:`data_dir`, as a string (a scene parameter's default)."""
    return str(data_dir().joinpath(*parts))

"""Choosing the Warp device: --device, else TWIN_DEVICE, else CUDA when present, else the CPU."""

from __future__ import annotations

import os

import warp as wp

from twin.errors import InputError


def init_warp() -> None:
    """Initialise Warp without its start-up and module-load messages."""
    wp.config.quiet = True
    wp.config.log_level = wp.LOG_WARNING
    wp.init()


def pick_device(name: str | None = None) -> str:
    """The Warp device to run on, as a string ("cpu", "cuda:0")."""
    init_warp()
    name = name or os.environ.get("TWIN_DEVICE") or ("cuda:0" if wp.is_cuda_available() else "cpu")
    if name.startswith("cuda") and not wp.is_cuda_available():
        raise InputError("device", name, "no CUDA device is available on this machine")
    try:
        return str(wp.get_device(name))
    except (ValueError, RuntimeError) as e:
        raise InputError("device", name, f"unknown device ({e})") from None


def available_devices() -> list[str]:
    """The CPU, and the first CUDA device when there is one (for parametrised tests)."""
    init_warp()
    return ["cpu"] + (["cuda:0"] if wp.is_cuda_available() else [])

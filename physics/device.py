"""Choosing the Warp device: --device, else TWIN_DEVICE, else CUDA when present, else the CPU."""

from __future__ import annotations

import os
import sys
import tempfile

import warp as wp

from twin.errors import InputError


_EXPECTED_WITHOUT_GPU = "Could not find or load the NVIDIA CUDA driver"


def init_warp() -> None:
    """Initialise Warp without its start-up and module-load messages.

    On a machine without a GPU, Warp's native library prints a driver warning to the
    process's stderr at start-up; that line is dropped (the CPU is the expected
    device then), anything else it prints is passed on.
    """
    wp.config.quiet = True
    wp.config.log_level = wp.LOG_WARNING
    if getattr(init_warp, "done", False):
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            wp.init()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        captured.seek(0)
        for line in captured.read().decode(errors="replace").splitlines():
            if _EXPECTED_WITHOUT_GPU not in line:
                print(line, file=sys.stderr)
    init_warp.done = True


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

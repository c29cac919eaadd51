"""Choosing the Warp device: --device, else TWIN_DEVICE, else CUDA when present, else the CPU."""

from __future__ import annotations

import os
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

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


def cpu_launch_pool(device: str, cpu_threads: int | None, kernels, name: str) -> tuple[int, ThreadPoolExecutor | None]:
    """How many CPU threads a solver splits its launches over and the pool that runs all
    but the caller's part: ``cpu_threads`` (default ``TWIN_CPU_THREADS``, else every
    core) on the CPU, 1 and no pool on a GPU. The ``kernels``' modules are loaded first,
    so that no pool thread compiles one."""
    if cpu_threads is None:
        cpu_threads = int(os.environ.get("TWIN_CPU_THREADS", os.cpu_count() or 1))
    threads = max(1, cpu_threads) if wp.get_device(device).is_cpu else 1
    if threads == 1:
        return 1, None
    for kernel in kernels:
        wp.load_module(kernel.module, device=device)
    return threads, ThreadPoolExecutor(threads - 1, thread_name_prefix=name)


def run_parts(pool: ThreadPoolExecutor | None, launch, parts: list[tuple]) -> None:
    """``launch(*args)`` for every ``args`` in ``parts``: the first on the calling thread, the
    others on ``pool`` (from :func:`cpu_launch_pool`; None will do for a single part);
    returns when all are done."""
    jobs = [pool.submit(launch, *args) for args in parts[1:]]
    launch(*parts[0])
    for job in jobs:
        job.result()

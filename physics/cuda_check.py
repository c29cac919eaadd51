"""Compiling every Warp module of twin for CUDA with NVRTC, with or without a GPU.

``twin_modules()`` imports the ``twin`` package (``twin.physics`` included), instantiates the kernel
factories (the flood kernels in both precisions, the forecast network's convolutions) and
returns every Warp module holding a kernel defined in twin's own source, so a new
``@wp.kernel`` is covered as soon as its module is importable. ``compile_for_cuda`` turns
them into PTX for each architecture (``wp.compile_aot_module(..., use_ptx=True)`` needs
NVRTC only, not a driver); Warp's kernel cache makes a second run take a fraction of a second.
"""

from __future__ import annotations

import importlib
import pkgutil
import tempfile
from pathlib import Path

import warp as wp
from twin.physics.device import init_warp

TWIN_PACKAGES = ("twin", "twin.physics")
"""Packages whose modules are imported (twin.physics installs from its own folder, so it is walked too)."""
"""Packages whose modules are imported to find kernels (the viewer defines none)."""
ARCHS = (80, 90)
"""sm_80 (A100) and sm_90 (H100, H200)."""


def _instantiate_factories() -> None:
    """Build the kernels made by factory functions, with the arguments twin uses."""
    from twin.physics.surrogates.conv import combine_output, conv3x3_relu
    from twin.physics.surrogates.forecast import CHANNELS
    from twin.physics.swe.clock import clock_kernels_for
    from twin.physics.swe.kernels import kernels_for

    for real in (wp.float32, wp.float64):
        kernels_for(real)
        clock_kernels_for(real)
    hidden = 8  # train_forecaster's default
    conv3x3_relu(CHANNELS)
    conv3x3_relu(hidden)
    combine_output(hidden, CHANNELS)


def twin_modules() -> dict[str, object]:
    """Module name -> Warp module, for every Warp module with a kernel defined in twin."""
    init_warp()
    for name in TWIN_PACKAGES:
        package = importlib.import_module(name)
        for info in pkgutil.walk_packages(package.__path__, name + "."):
            importlib.import_module(info.name)
    _instantiate_factories()
    from warp._src.context import user_modules

    found = {}
    for name, module in list(user_modules.items()):
        kernels = list(getattr(module, "kernels", {}).values())
        if any(k.func.__module__.split(".")[0] == "twin" for k in kernels):
            found[name] = module
    return found


def compile_for_cuda(modules: dict[str, object], archs=ARCHS, module_dir: str | Path | None = None) -> dict[str, str]:
    """Compile each module to PTX for each sm_ architecture; return name -> error for the
    modules that fail (empty when all compile). ``module_dir`` defaults to a directory
    under Warp's kernel cache, so unchanged modules are not compiled again."""
    module_dir = Path(module_dir or Path(wp.config.kernel_cache_dir or tempfile.gettempdir()) / "twin_cuda_check")
    failures = {}
    for name, module in modules.items():
        try:
            wp.compile_aot_module(module, arch=list(archs), module_dir=module_dir, use_ptx=True)
        except Exception as e:  # noqa: BLE001 - any failure is reported with the module's name
            failures[name] = f"{type(e).__name__}: {e}"
    return failures

"""The project's own errors.

Every error a user can cause by what they feed twin (a file, a parameter, a
State) is a :class:`TwinError`. The command line prints it as one line and
exits with :data:`EXIT_INPUT` (2); nothing else is ever shown as a traceback
for bad input.
"""

from __future__ import annotations

EXIT_BUG = 1
"""Exit status of the ``twin`` command for an error that is not the user's: a bug."""
EXIT_INPUT = 2
"""Exit status of the ``twin`` command for bad input (and a missing optional extra)."""
EXIT_STOPPED = 3
"""Exit status of a run stopped by a guard (NaN, negative depth, CFL)."""
EXIT_INTERRUPTED = 130
"""Exit status after Ctrl-C (the result up to the last output is written)."""

EXTRAS = {
    "pyvista": "viewer", "vtk": "viewer", "matplotlib": "viewer", "imageio": "viewer", "imageio_ffmpeg": "viewer",
    "osmium": "city", "rasterio": "city", "pxr": "city", "pyogrio": "city", "rioxarray": "city",
    "dask": "batch", "distributed": "batch", "scipy": "batch",
    "newton": "factory", "mujoco": "factory", "mujoco_warp": "factory", "trimesh": "factory", "collada": "factory",
    "paho": "factory", "yourdfpy": "factory",
    "netCDF4": "weather", "cfgrib": "weather", "eccodes": "weather", "gribapi": "weather",
}
"""Top-level module -> the optional extra of twin that installs it (pyproject.toml)."""


class TwinError(Exception):
    """Base of twin's user-facing errors: the message is one complete line."""


class InputError(TwinError, ValueError):
    """Bad input in a file or a value.

    Args:
        source: the file path, or the name of the field or parameter.
        where: the place inside it ("line 7", "row 12, column 3", "cell (i=4, j=9)"),
            or "" when the whole thing is wrong.
        what: what is wrong, in words.
    """

    def __init__(self, source: object, where: str, what: str):
        self.source = str(source)
        self.where = where
        self.what = what
        place = f"{self.source}: {where}" if where else self.source
        super().__init__(f"{place}: {what}")


class SimulationError(TwinError, RuntimeError):
    """A run that cannot go on (NaN, negative depth): says where and when."""


class MissingExtra(TwinError, ImportError):
    """An optional dependency is not installed: names the extra that brings it."""

    def __init__(self, module: str, extra: str):
        self.module, self.extra = module, extra
        super().__init__(f"this needs the optional package {module!r}: pip install 'twin[{extra}]'")


def missing_extra(error: ImportError) -> MissingExtra | None:
    """The :class:`MissingExtra` behind ``error`` (a module of an optional extra not installed), else None."""
    name = (getattr(error, "name", None) or "").split(".")[0]
    return MissingExtra(name, EXTRAS[name]) if isinstance(error, ModuleNotFoundError) and name in EXTRAS else None


class InputWarning(UserWarning):
    """Something in an input that twin read anyway (a default applied, a part skipped,
    a library's complaint): the command line prints it as one ``twin: warning:`` line."""

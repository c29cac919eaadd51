"""Scene scripts: loading them and calling their ``setup``.

A scene script is a Python file with

* ``PARAMETERS``: a list of :class:`twin.params.Param`;
* ``setup(p) -> Run``: builds the Scene from the parameter values ``p`` (a dict)
  and says what to simulate: a :class:`twin.physics.simulation.Run` (``FloodRun``,
  ``DispersionRun``, ``RobotRun``, ``MachineRun``, or a user's own).

Anything a script raises becomes one line naming the script, its line and the error.
"""

from __future__ import annotations

import importlib.util
import traceback
from pathlib import Path
from typing import Any

from twin.errors import InputError, TwinError, missing_extra
from twin.params import Param, resolve

__all__ = ["load_script", "parameters_of", "setup_run"]


def _script_error(path: Path, error: BaseException) -> TwinError:
    """``error`` raised inside the script ``path``, as one line with the script's deepest line."""
    extra = missing_extra(error) if isinstance(error, ImportError) else None
    if extra is not None:
        return extra
    if isinstance(error, TwinError):
        return error
    lines = [f.lineno for f in traceback.extract_tb(error.__traceback__) if Path(f.filename).resolve() == path.resolve()]
    message = " ".join(f"{type(error).__name__}: {error}".split())
    return InputError(path, f"line {lines[-1]}" if lines else "", message)


def load_script(path: str | Path):
    """Import a scene script from its path; it must define PARAMETERS and setup()."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "", "no such scene script")
    spec = importlib.util.spec_from_file_location(f"twin_scene_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as e:
        raise InputError(path, f"line {e.lineno}", f"syntax error: {e.msg}") from None
    except Exception as e:  # the user's script: one line, never a traceback
        raise _script_error(path, e) from None
    for name in ("PARAMETERS", "setup"):
        if not hasattr(module, name):
            raise InputError(path, "", f"a scene script must define {name}")
    if not all(isinstance(p, Param) for p in module.PARAMETERS):
        raise InputError(path, "PARAMETERS", "must be a list of twin.params.Param")
    module.__twin_path__ = path
    return module


def parameters_of(script, path: str | Path, assignments: list[str]) -> dict[str, Any]:
    """The script's parameter values: defaults overridden by ``name=value`` ``assignments``."""
    return resolve(script.PARAMETERS, assignments, str(path))


def setup_run(script, params: dict[str, Any], kinds: tuple[type, ...]):
    """``script.setup(params)``, checked to be an instance of one of ``kinds`` (the run classes)."""
    path = Path(script.__twin_path__)
    try:
        run = script.setup(params)
    except Exception as e:
        raise _script_error(path, e) from None
    if not isinstance(run, kinds):
        names = ", ".join(k.__name__ for k in kinds)
        raise InputError(path, "setup()", f"returned {type(run).__name__}, not a run ({names})")
    return run

"""The viewer's registry of kinds: what ``twin render``, ``twin view``, ``--pictures`` and ``--view`` do with each.

A Result names its kind in ``attrs["twin_kind"]``; a scene script's run names
it in its class attribute ``kind``. Each kind is a module that implements, with
these names (in the way PyVista registers a reader per file extension)::

    open_result(folder, ds) -> source        a Result to look at (ds: the opened result.zarr)
    open_run(path, run) -> source            a scene script's run, before it has run
    render_still(source, out, *, time, **options) -> Path
    render_video(source, out, *, frames, fps, progress, **options) -> Path
    window(source, **options) -> window      the desktop window (``open``, ``run``, ``close``)
    pictures(result_dir, out_dir, *, progress) -> {name: Path}    what ``twin run --pictures`` writes
    snapshot(sim) -> {name: array}           the fields of a running simulation, for a live sink
    live_window(run, **options) -> Sink      a window that shows frames of a running simulation

``options`` are those of :func:`twin.viewer.cli.options`: ``quality``, ``size``,
``camera``, ``field``, ``z_scale``, ``ground``; a kind rejects (with an
:class:`twin.errors.InputError`) an option it has no use for.
"""

from __future__ import annotations

import json
from importlib import import_module
from os import PathLike
from pathlib import Path
from types import ModuleType

from twin.errors import InputError

__all__ = ["KINDS", "kind_module", "kind_of_result", "kind_of_run", "live_sink", "open_any", "register_kind", "write_pictures"]

KINDS: dict[str, str] = {
    "flood": "twin.viewer.flood_kind",
    "dispersion": "twin.viewer.plume3d",
    "robot": "twin.viewer.robot",
    "machine": "twin.viewer.machine",
}
"""Kind name -> the module implementing it (imported when first used)."""


def register_kind(name: str, module: str) -> None:
    """Register (or replace) the module that implements kind ``name``."""
    KINDS[name] = module


def kind_module(name: str, where: str | PathLike = "") -> ModuleType:
    """The module of kind ``name``; InputError (naming ``where``) when no viewer is registered for it."""
    if name not in KINDS:
        raise InputError(where or "twin_kind", name, f"no viewer for this kind; known: {', '.join(sorted(KINDS))}")
    return import_module(KINDS[name])


def kind_of_result(store: str | PathLike) -> str:
    """``attrs["twin_kind"]`` of a ``result.zarr`` (read from its metadata only)."""
    store = Path(store)
    for meta in (store / ".zattrs", store / "zarr.json"):
        if meta.is_file():
            try:
                attrs = json.loads(meta.read_text())
            except ValueError:
                raise InputError(meta, "", "not JSON: a damaged result.zarr") from None
            attrs = attrs.get("attributes", attrs) if meta.name == "zarr.json" else attrs
            if "twin_kind" not in attrs:
                raise InputError(store, "twin_kind",
                                 "missing: not a twin Result, or written by an older twin (run it again)")
            return str(attrs["twin_kind"])
    raise InputError(store, "", "unreadable Result (no zarr metadata)")


def kind_of_run(run, script: str | PathLike = "") -> str:
    """The ``kind`` class attribute of a scene script's run."""
    kind = getattr(run, "kind", None)
    if not isinstance(kind, str):
        raise InputError(script, "setup()", f"returned a {type(run).__name__}, which declares no kind")
    return kind


def open_any(path: str | PathLike, *, assignments: list[str] | None = None) -> tuple[ModuleType, object]:
    """Open a Result folder (``DIR/result.zarr``), a scene script (``.py``) or a scene file (``.twin``):
    its kind's module and the source to hand to that module's functions.

    Raises:
        InputError: the path is none of these, or not readable as one.
    """
    import xarray as xr

    p = Path(path)
    if p.is_dir():
        store = p if p.suffix == ".zarr" else p / "result.zarr"
        if not store.is_dir():
            raise InputError(p, "", "not a result folder (no result.zarr in it) nor a scene")
        kind = kind_of_result(store)
        module = kind_module(kind, store)
        try:
            ds = xr.open_zarr(store, decode_times=False)
        except Exception as e:  # zarr raises many kinds on a damaged store
            raise InputError(store, "", f"unreadable Result ({type(e).__name__}: {e})") from None
        if ds.sizes.get("time", 0) == 0:
            raise InputError(store, "", "the Result holds no snapshot")
        return module, module.open_result(store.parent, ds)
    if not p.exists():
        raise InputError(p, "", "no such scene or result folder")
    if p.suffix == ".py":
        from twin.physics.simulation import Run

        from twin.script import load_script, parameters_of, setup_run

        script = load_script(p)
        run = setup_run(script, parameters_of(script, p, assignments or []), (Run,))
        module = kind_module(kind_of_run(run, p), p)
        return module, module.open_run(p, run)
    if p.suffix == ".twin":
        from twin.scene import load_scene

        module = kind_module("flood", p)
        return module, module.open_scene(p, load_scene(p))
    raise InputError(p, "", "expected a result folder, a scene script (.py) or a scene file (.twin)")


def write_pictures(result_dir: str | PathLike, *, progress: bool = True) -> dict[str, Path]:
    """What ``twin run --pictures`` writes: the pictures of the Result in ``result_dir``, by its kind."""
    result_dir = Path(result_dir)
    kind = kind_of_result(result_dir / "result.zarr")
    return kind_module(kind, result_dir).pictures(result_dir, result_dir, progress=progress)


def live_sink(run, *, key: str = ""):
    """The ``on_step`` callback behind ``twin run --view``: the run's kind in a live window."""
    from twin.viewer.live import LiveViewer

    return LiveViewer(run, key=key)

"""Sweep files: which scene to run, which parameters to vary and how, what to keep.

A sweep is a TOML file (read with the standard library's ``tomllib``)::

    scene = "../scenes/merewether.py"      # relative to the sweep file

    [fixed]                                # scene parameters held for every run
    resolution = 5.0
    duration = 600.0

    [vary]
    design = "latin_hypercube"             # "grid", "list" or "latin_hypercube"
    samples = 80                           # latin_hypercube only
    seed = 7                               # latin_hypercube only

    [vary.parameters]                      # grid: the values of each axis (all combinations)
    inflow = [10.0, 30.0]                  # list: one value per run, equally long lists
    manning = [0.02, 0.08]                 # latin_hypercube: [low, high]

    [keep]                                 # every key optional; the kind's summary metrics are always kept
    peak_fields = ["max_depth"]            # (y, x) Result variables: max_depth, max_stage, max_speed, ...
    probes = ["probe_depth"]               # (probe, probe_time) variables: probe_depth, probe_stage, probe_u, probe_v
    fields = ["depth"]                     # snapshots (time, y, x), coarsened ...
    field_resolution = 20.0                # ... to about this cell size [m]

The scene script may be of any kind (flood, dispersion, robot, machine): each
kind declares its summary metrics (:meth:`twin.physics.simulation.Run.sweep_metrics`),
which every run keeps; ``[keep]`` names further Result variables (a flood run
keeps ``max_depth`` and ``probe_depth`` unless told otherwise, other kinds
nothing more). ``scene`` is a path relative to the sweep file (an absolute path
works too).

Everything is checked before anything runs: unknown keys, unknown parameters,
values of the wrong type or out of the parameter's range, designs of more than
:data:`MAX_RUNS` runs (counted before any is made), each reported as one line
naming the key (:class:`twin.errors.InputError`).
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from twin.errors import InputError
from twin.params import Param

DESIGNS = ("grid", "list", "latin_hypercube")
MAX_RUNS = 100_000
"""The most runs one sweep may define (a sweep of more is refused before any run is made)."""


@dataclass
class Keep:
    """What to keep from each run besides its summary metrics (names of Result variables);
    None: the kind's default (:attr:`twin.physics.simulation.Run.sweep_keep`)."""

    peak_fields: list[str] | None = None
    probes: list[str] | None = None
    fields: list[str] = field(default_factory=list)
    field_resolution: float | None = None


@dataclass
class Sweep:
    """A checked sweep.

    Attributes:
        path: the sweep file.
        scene: the scene script.
        fixed: parameter name -> value held for every run (the scene's defaults for the others).
        varied: names of the varied parameters, in file order.
        runs: one dict of varied values per run.
        design: "grid", "list" or "latin_hypercube", with ``seed`` and ``ranges`` for the latter.
        keep: what to keep from each run.
    """

    path: Path
    scene: Path
    fixed: dict[str, Any]
    varied: list[str]
    runs: list[dict[str, Any]]
    design: dict[str, Any]
    keep: Keep
    parameters: list[Param]

    def run_parameters(self, index: int) -> dict[str, Any]:
        """Every parameter of run ``index``: defaults, overridden by fixed, then varied values."""
        values = {p.name: p.default for p in self.parameters}
        values.update(self.fixed)
        values.update(self.runs[index])
        return values

    @functools.cached_property
    def fingerprint(self) -> str:
        """SHA-256 of what defines the runs and what is kept (the same sweep gives the same text)."""
        text = json.dumps({"scene": self.scene.name, "fixed": self.fixed, "runs": self.runs, "keep": vars(self.keep)},
                          sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()


def _check_keys(table: dict, allowed: tuple[str, ...], path: Path, prefix: str) -> None:
    for key in table:
        if key not in allowed:
            raise InputError(path, f"key {prefix}{key}", f"unknown key; expected one of {', '.join(allowed)}")


def _value(param: Param, value: Any, path: Path, key: str) -> Any:
    """``value`` converted to the parameter's type and checked against its range."""
    kind = type(param.default)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if type(value) is not kind:
        raise InputError(path, f"key {key}", f"{value!r} is not a {kind.__name__} (parameter {param.name})")
    try:
        return param.check(value, str(path))
    except InputError as e:
        raise InputError(path, f"key {key}", e.what) from None


def latin_hypercube(n: int, ranges: list[tuple[float, float]], seed: int) -> np.ndarray:
    """``n`` points of a Latin hypercube over ``ranges`` (one (low, high) per dimension),
    shape (n, len(ranges)): every dimension's range cut into n equal strata, one point
    in each, uniformly placed, strata paired at random (NumPy's PCG64 with ``seed``)."""
    rng = np.random.default_rng(seed)
    unit = (np.stack([rng.permutation(n) for _ in ranges], axis=1) + rng.random((n, len(ranges)))) / n
    low = np.array([r[0] for r in ranges])
    high = np.array([r[1] for r in ranges])
    return low + unit * (high - low)


def load_sweep(path: str | Path) -> Sweep:
    """Read and check a sweep file (see the module docstring); the scene script is loaded
    to learn its parameters.

    Raises:
        InputError: one line naming the file, the key and what is wrong.
    """
    from twin.script import load_script

    path = Path(path)
    if path.exists() and not path.is_file():
        raise InputError(path, "", "not a regular file")
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(path, "", "no such sweep file") from None
    except UnicodeDecodeError as e:
        raise InputError(path, f"byte {e.start}", "not a UTF-8 text file (a sweep file is TOML)") from None
    except tomllib.TOMLDecodeError as e:
        raise InputError(path, "", f"not valid TOML ({e})") from None
    _check_keys(doc, ("scene", "fixed", "vary", "keep"), path, "")
    if not isinstance(doc.get("scene"), str):
        raise InputError(path, "key scene", "the path of a scene script is required")
    scene = (path.parent / doc["scene"]).resolve()
    params = {p.name: p for p in load_script(scene).PARAMETERS}

    fixed = {}
    for name, value in doc.get("fixed", {}).items():
        if name not in params:
            raise InputError(path, f"key fixed.{name}", f"unknown parameter of {scene.name}; known: {', '.join(params)}")
        fixed[name] = _value(params[name], value, path, f"fixed.{name}")

    vary = doc.get("vary")
    if not isinstance(vary, dict):
        raise InputError(path, "key vary", "a [vary] table with design and parameters is required")
    _check_keys(vary, ("design", "parameters", "samples", "seed"), path, "vary.")
    kind = vary.get("design")
    if kind not in DESIGNS:
        raise InputError(path, "key vary.design", f"{kind!r} is not one of {', '.join(DESIGNS)}")
    table = vary.get("parameters")
    if not isinstance(table, dict) or not table:
        raise InputError(path, "key vary.parameters", "name at least one parameter to vary")
    for name, values in table.items():
        key = f"vary.parameters.{name}"
        if name not in params:
            raise InputError(path, f"key {key}", f"unknown parameter of {scene.name}; known: {', '.join(params)}")
        if name in fixed:
            raise InputError(path, f"key {key}", "is also fixed; a parameter is either fixed or varied")
        if not isinstance(values, list) or not values:
            raise InputError(path, f"key {key}", "expected a non-empty list of values")
        for v in values:
            _value(params[name], v, path, key)
    if kind != "latin_hypercube":
        for extra in ("samples", "seed"):
            if extra in vary:
                raise InputError(path, f"key vary.{extra}", f"only a latin_hypercube design takes {extra}")
    design: dict[str, Any] = {"kind": kind}
    names = list(table)
    count = math.prod(len(v) for v in table.values()) if kind == "grid" else vary.get("samples")
    if isinstance(count, int) and not isinstance(count, bool) and count > MAX_RUNS:
        raise InputError(path, "key vary", f"defines {count} runs; a sweep may have at most {MAX_RUNS}")
    if kind == "grid":
        runs = [dict(zip(names, combo)) for combo in itertools.product(*table.values())]
    elif kind == "list":
        lengths = {len(v) for v in table.values()}
        if len(lengths) != 1:
            raise InputError(path, "key vary.parameters", "a list design needs equally long lists (one value per run)")
        runs = [dict(zip(names, combo)) for combo in zip(*table.values())]
    else:
        samples, seed = vary.get("samples"), vary.get("seed")
        if not isinstance(samples, int) or isinstance(samples, bool) or samples < 1:
            raise InputError(path, "key vary.samples", "a latin_hypercube needs a positive whole number of samples")
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise InputError(path, "key vary.seed", "a latin_hypercube needs a whole-number seed >= 0")
        ranges = []
        for name, values in table.items():
            key = f"vary.parameters.{name}"
            if type(params[name].default) is not float:
                raise InputError(path, f"key {key}", "a latin_hypercube varies float parameters only")
            if len(values) != 2 or not values[0] < values[1]:
                raise InputError(path, f"key {key}", "expected [low, high] with low < high")
            ranges.append((float(values[0]), float(values[1])))
        points = latin_hypercube(samples, ranges, seed)
        runs = [{n: float(v) for n, v in zip(names, row)} for row in points]
        design.update(seed=seed, samples=samples, ranges=dict(zip(names, ranges)))
    runs = [{n: _value(params[n], v, path, f"vary.parameters.{n}") for n, v in r.items()} for r in runs]

    keep_doc = doc.get("keep", {})
    _check_keys(keep_doc, ("peak_fields", "probes", "fields", "field_resolution"), path, "keep.")
    keep = Keep()
    for key in ("peak_fields", "probes", "fields"):
        if key in keep_doc:
            chosen = keep_doc[key]
            if not isinstance(chosen, list) or not all(isinstance(c, str) and c.isidentifier() for c in chosen):
                raise InputError(path, f"key keep.{key}", f"expected a list of Result variable names, got {chosen!r}")
            setattr(keep, key, list(chosen))
    if "field_resolution" in keep_doc:
        res = keep_doc["field_resolution"]
        if isinstance(res, bool) or not isinstance(res, (int, float)) or not res > 0:
            raise InputError(path, "key keep.field_resolution", f"expected a positive cell size [m], got {res!r}")
        keep.field_resolution = float(res)
    return Sweep(path, scene, fixed, names, runs, design, keep, list(params.values()))

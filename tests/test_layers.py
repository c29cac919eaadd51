"""The layers hold: the data layer (twin/, but twin/app) imports neither physics nor viewer;
physics does not import viewer; only twin/app (orchestration: the commands, runs, batch, sync)
imports everything. Checked on the source (every import statement, also inside functions)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

LAYERS = {
    "twin": ("physics", "viewer", "twin.app", "scenes"),
    "physics": ("viewer", "twin.app", "scenes"),
    "viewer": ("twin.app", "scenes"),
    "scenes": ("twin.app",),
}
"""layer (a top-level folder; twin/app is the orchestration layer above all) -> what it must not import."""


def _layer(path: Path) -> str | None:
    rel = path.relative_to(ROOT).parts
    if rel[:2] == ("twin", "app"):
        return None
    return rel[0] if rel[0] in LAYERS else None


def _imports(path: Path):
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module


def _forbidden(name: str, banned: tuple[str, ...]) -> bool:
    name = name.removeprefix("twin.") if name.startswith(("twin.physics", "twin.viewer", "twin.scenes")) else name
    return any(name == b or name.startswith(b + ".") for b in banned)


FILES = sorted(p for folder in LAYERS for p in (ROOT / folder).rglob("*.py") if _layer(p))


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_layer_order(path):
    banned = LAYERS[_layer(path)]
    wrong = [f"line {line}: import {name}" for line, name in _imports(path) if _forbidden(name, banned)]
    assert not wrong, f"{path.relative_to(ROOT)} ({_layer(path)} layer) imports upwards: {'; '.join(wrong)}"


def test_every_package_is_installed_under_the_twin_namespace():
    """Each folder with an __init__.py is a package of pyproject.toml, under ``twin.`` (physics/ as twin.physics ...)."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = {str(p.parent.relative_to(ROOT)) for folder in ("twin", "physics", "viewer", "scenes")
               for p in (ROOT / folder).rglob("__init__.py")}
    roots = config["package-dir"]

    def folder(name: str) -> str:
        prefix = max((k for k in roots if name == k or name.startswith(k + ".")), key=len)
        return "/".join([roots[prefix], *name[len(prefix):].split(".")[1:]])

    mapped = {folder(n) for n in config["packages"]}
    assert folders == mapped
    assert all(n == "twin" or n.startswith("twin.") for n in config["packages"])

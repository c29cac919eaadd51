"""Declared parameters of scene scripts: name, default, unit, help, checked values."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from twin.errors import InputError


@dataclass(frozen=True)
class Param:
    """One parameter of a scene script.

    Attributes:
        name: identifier used with ``--set name=value``.
        default: default value; its type (bool, int, float, str) is the parameter's type.
        unit: unit of the value ("m", "s", "m3/s", "" for none).
        help: one line saying what it does.
        choices: allowed values, or None.
        minimum: smallest allowed value for numbers (exclusive when ``positive``), or None.
        positive: the number must be > 0.
    """

    name: str
    default: Any
    unit: str = ""
    help: str = ""
    choices: tuple | None = None
    minimum: float | None = None
    positive: bool = False

    def parse(self, text: str, source: str) -> Any:
        """Convert ``text`` to the parameter's type and check it."""
        kind = type(self.default)
        try:
            if kind is bool:
                if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError
                value = text.lower() in ("true", "1", "yes")
            else:
                value = kind(text)
        except ValueError:
            raise InputError(source, f"parameter {self.name}", f"{text!r} is not a valid {kind.__name__}") from None
        return self.check(value, source)

    def check(self, value: Any, source: str) -> Any:
        if self.choices is not None and value not in self.choices:
            raise InputError(source, f"parameter {self.name}", f"{value!r} is not one of {', '.join(map(str, self.choices))}")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if value != value or value in (float("inf"), float("-inf")):
                raise InputError(source, f"parameter {self.name}", f"{value!r} is not a finite number")
            if self.positive and not value > 0:
                raise InputError(source, f"parameter {self.name}", f"must be > 0, got {value}")
            if self.minimum is not None and value < self.minimum:
                raise InputError(source, f"parameter {self.name}", f"must be >= {self.minimum}, got {value}")
        return value

    def describe(self) -> str:
        unit = f" [{self.unit}]" if self.unit else ""
        choices = f" (one of {', '.join(map(str, self.choices))})" if self.choices else ""
        return f"{self.name}{unit} = {self.default!r}: {self.help}{choices}"


def resolve(params: list[Param], assignments: list[str], source: str) -> dict[str, Any]:
    """Defaults overridden by ``name=value`` strings; unknown names and bad values raise InputError."""
    known = {p.name: p for p in params}
    values = {p.name: p.default for p in params}
    for a in assignments:
        name, sep, text = a.partition("=")
        if not sep:
            raise InputError(source, f"--set {a}", "expected name=value")
        name = name.strip()
        if name not in known:
            raise InputError(source, f"--set {a}", f"unknown parameter {name!r}; known: {', '.join(known)}")
        values[name] = known[name].parse(text.strip(), source)
    return values

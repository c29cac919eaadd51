"""The project's own errors.

Every error a user can cause by what they feed twin (a file, a parameter, a
State) is a :class:`TwinError`. The command line prints it as one line and
exits with :data:`EXIT_INPUT` (2); nothing else is ever shown as a traceback
for bad input.
"""

from __future__ import annotations

EXIT_INPUT = 2
"""Exit status of the ``twin`` command for bad input."""


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


class InputWarning(UserWarning):
    """Something in an input that twin read anyway (a default applied, a part skipped,
    a library's complaint): the command line prints it as one ``twin: warning:`` line."""

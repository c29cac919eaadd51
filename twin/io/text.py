"""Reading a small text file, with the project's one-line errors."""

from __future__ import annotations

from pathlib import Path

from twin.errors import InputError

__all__ = ["read_text"]


def read_text(path: str | Path, *, encoding: str = "utf-8") -> str:
    """The text of ``path``.

    Raises:
        InputError: no such file, a directory, or not text in ``encoding``.
    """
    path = Path(path)
    try:
        return path.read_text(encoding=encoding)
    except FileNotFoundError:
        raise InputError(path, "", "no such file") from None
    except IsADirectoryError:
        raise InputError(path, "", "is a directory, not a file") from None
    except UnicodeDecodeError:
        raise InputError(path, "", "not a text file") from None

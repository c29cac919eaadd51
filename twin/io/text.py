"""Reading a small text file, with the project's one-line errors."""

from __future__ import annotations

from pathlib import Path

from twin.errors import InputError
from twin.io.checks import library_errors, regular_file

__all__ = ["read_text"]


def read_text(path: str | Path, *, encoding: str = "utf-8") -> str:
    """The text of ``path`` (a regular file; "utf-8-sig" drops a byte-order mark), line ends made "\\n".

    Raises:
        InputError: no such file, not a regular file, or not text in ``encoding``
            (naming the first bad byte).
    """
    path = regular_file(path)
    with library_errors(path, "cannot be read"):
        data = path.read_bytes()
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as e:
        name = "UTF-8" if encoding.lower().startswith("utf") else encoding
        raise InputError(path, f"byte {e.start}", f"not {name} text (byte 0x{data[e.start]:02x}); save the file as {name}") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")  # universal newlines, as text mode reads them

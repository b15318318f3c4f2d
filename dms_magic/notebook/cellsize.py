"""A ``%%dmschat`` cell too large to send is refused before IPython works on it (issue 23 item 12).

Why an input transformer, not a check in the magic: IPython turns a cell magic into Python source
(``run_cell_magic('dmschat', line, '<the cell as a string literal>')``), then tokenizes and compiles
that source; for a 33 MB cell this took 10-46 s and 1.8 GB before the magic ran and found the cell
too large (and IPython's own cleanup transforms, dedent and prompt stripping, read it whole too). A
cleanup transformer put first in line sees the cell's lines before any of that: one that cannot fit is replaced by a
one-line ``UsageError`` (IPython prints it without a traceback), so nothing else reads it.

Every character of the prompt costs at least one byte of the form body, so a cell of more
characters than ``MAX_BODY_BYTES`` can never be sent; smaller cells go on as before (the exact
size check, on the encoded body, stays where it is).
"""
from __future__ import annotations

from dms_magic.wire.request import MAX_BODY_BYTES

MAX_CELL_CHARS = MAX_BODY_BYTES


def refuse_huge_cells(lines: list[str]) -> list[str]:
    """An IPython cleanup transformer: a ``%%dmschat`` cell over MAX_CELL_CHARS becomes a UsageError."""
    first = next((line for line in lines[:50] if line.strip()), "")  # IPython drops leading empty lines later
    if not first.lstrip().startswith("%%dmschat"):
        return lines
    size = sum(map(len, lines))
    if size <= MAX_CELL_CHARS:
        return lines
    message = (f"this %%dmschat cell has {size:,} characters, more than a request can carry "
               f"({MAX_BODY_BYTES / 1048576:.0f} MiB once encoded, at least one byte per character): it was "
               "not read; send a shorter prompt (split the text, or summarise it first)")
    return [f"raise __import__('IPython.core.error', fromlist=['UsageError']).UsageError({message!r})\n"]


def register(shell) -> None:
    transforms = getattr(shell, "input_transformers_cleanup", None)
    if transforms is not None and refuse_huge_cells not in transforms:
        transforms.insert(0, refuse_huge_cells)  # first: IPython's own cleanups read the whole cell (dedent: 3 s)


def unregister(shell) -> None:
    transforms = getattr(shell, "input_transformers_cleanup", None)
    while transforms is not None and refuse_huge_cells in transforms:
        transforms.remove(refuse_huge_cells)

"""User-given paths made absolute, and whether files can be written under a folder,
checked without writing anything.

The command line checks every output location (run folder, report folder, summary
file, dataset cache) with this before any work starts, so that a path naming a file,
lying under a file, or in a read-only place exits with one line instead of failing
after minutes of measurements.
"""

from __future__ import annotations

import os
from pathlib import Path


def absolute(path: str | os.PathLike[str]) -> Path:
    """``path`` as given by a user, absolute: a leading ``~`` is the home folder (a path
    in ``--out=~/x`` or a quoted environment variable reaches us unexpanded), and a
    relative path is taken from this process's working directory."""
    return Path(os.path.abspath(os.path.expanduser(path)))


def unwritable_reason(folder: Path) -> str | None:
    """None when this process can create files in ``folder`` (creating the folder first
    where it does not exist yet); else why not, as a phrase that follows the folder's
    name: "is a file, not a folder", "lies under /x/y, which is not a folder", "is not
    writable".

    A folder that does not exist yet is judged by its nearest existing ancestor, which
    ``mkdir(parents=True)`` would have to write into. Permissions are the effective
    user's, so root may write into a folder without write bits (as it really can); a
    read-only file system refuses everyone."""
    folder = Path(os.path.abspath(folder))
    if os.path.lexists(folder) and not os.path.isdir(folder):
        return "is a file, not a folder"
    existing = folder
    while not os.path.lexists(existing) and existing != existing.parent:
        existing = existing.parent
    if not os.path.isdir(existing):
        return f"lies under {existing}, which is not a folder"
    effective = os.access in os.supports_effective_ids
    if not os.access(existing, os.W_OK | os.X_OK, effective_ids=effective):
        where = "" if existing == folder else f" (its existing parent {existing} is read-only)"
        return f"is not writable{where}"
    return None

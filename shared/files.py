"""The one atomic file writer every result, report, chart, checkpoint and cache file goes
through: ``write_atomic``, and its forms for JSON, CSV, ``.npz`` arrays and charts.

A reader (another ``report``, a ``compare``, the runner reading a cell's record) sees the
old file or the new one, never half of one: the bytes go to a temporary file with a
unique name in the same folder, are flushed to disk, and the temporary file is renamed
over the target. Unique names let any number of writers of the same file run at once
(six ``report`` processes on one run folder); the last rename wins.

``tempfile.mkstemp`` creates its file with mode 0600 whatever the umask; the file gets
the mode a plain ``open(path, "w")`` would give it (0666 less the umask), so another
user of a shared results folder can read it.
"""

from __future__ import annotations

import csv
import errno
import io
import json
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

Content = bytes | str | Callable[[BinaryIO], Any]


def current_umask() -> int:
    """The process's umask, read without changing it where the OS allows."""
    try:
        with open("/proc/self/status") as status:  # Linux 4.7+: no window with umask 0
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomic(path: str | Path, content: Content) -> Path:
    """Write ``content`` to ``path`` atomically; returns ``path``.

    ``content``: bytes, text (written as UTF-8), or a function that writes to a binary
    file handle (``np.savez``, ``fig.savefig``). Creates the parent folder. On any error
    the temporary file is removed and the error raised; ``path`` is then untouched.
    Raises OSError when ``path`` exists but is not a regular file (a device such as
    ``/dev/null``, a FIFO, a folder): renaming over it would replace it.
    """
    path = Path(path)
    if path.exists() and not path.is_file():  # a rename would replace /dev/null itself
        raise OSError(errno.EEXIST, "exists and is not a regular file; not replaced", str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            if isinstance(content, str):
                handle.write(content.encode())
            elif isinstance(content, bytes):
                handle.write(content)
            else:
                content(handle)
            handle.flush()
            os.fchmod(handle.fileno(), 0o666 & ~current_umask())
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json_atomic(path: str | Path, data: Any) -> Path:
    """``data`` as indented JSON (NaN and inf allowed, as Python writes them)."""
    return write_atomic(path, json.dumps(data, indent=1, allow_nan=True))


def write_csv_atomic(
    path: str | Path, columns: Sequence[str], rows: Sequence[Mapping[str, Any]]
) -> Path:
    """``rows`` under ``columns`` as CSV (a missing value is written empty)."""
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=columns, restval="")
    writer.writeheader()
    writer.writerows(rows)
    return write_atomic(path, text.getvalue())


def write_npz_atomic(path: str | Path, arrays: Mapping[str, np.ndarray]) -> Path:
    """``arrays`` as an uncompressed ``.npz`` (``np.savez``: names and order kept)."""
    return write_atomic(path, lambda handle: np.savez(handle, **arrays))


def write_figure_atomic(path: str | Path, figure: Any, dpi: int, format: str = "png") -> Path:
    """A Matplotlib figure (anything with ``savefig``) as an image of ``format``."""
    return write_atomic(path, lambda handle: figure.savefig(handle, dpi=dpi, format=format))

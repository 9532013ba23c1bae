"""Live progress of a run: one status line redrawn in place, on a terminal only.

Cells report their epoch through a small file (``EpochReporter``) that the runner
reads while it waits, so a long cell shows how far it is.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path
from typing import TextIO

REPORT_EVERY_S = 0.5


class LiveStatus:
    """A status line on a terminal; nothing at all when output goes to a file or pipe."""

    def __init__(self, stream: TextIO = sys.stdout):
        self.stream = stream
        self.enabled = stream.isatty()

    def show(self, text: str) -> None:
        if self.enabled:
            width = shutil.get_terminal_size((100, 20)).columns - 1
            self.stream.write("\r\x1b[2K" + text[:width])
            self.stream.flush()

    def line(self, text: str) -> None:
        """A permanent line (e.g. a finished cell), printed above the status line."""
        if self.enabled:
            self.stream.write("\r\x1b[2K")
        print(text, file=self.stream, flush=True)


class EpochReporter:
    """Called by the cell after each epoch; writes ``epoch/epochs`` at most every 0.5 s."""

    def __init__(self, path: Path | None, epochs: int):
        self.path, self.epochs, self.last = path, epochs, 0.0

    def __call__(self, epoch: int, loss: float) -> None:
        now = time.monotonic()
        if self.path is not None and (now - self.last >= REPORT_EVERY_S or epoch == self.epochs):
            self.path.write_text(f"{epoch}/{self.epochs}")
            self.last = now


def read_epoch(path: Path) -> str:
    """The last ``epoch/epochs`` a cell reported, or '' before its first report."""
    try:
        return path.read_text().strip()
    except OSError:
        return ""

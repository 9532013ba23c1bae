"""A run's progress on stderr, the same for the serial runner and a run fanned out on
Dask (``RunProgress``): processes done of the total, what runs now (on which worker),
how many failed, and an ETA from the plan's estimates (``benchmarks.estimates``).

On a terminal (and ``CI`` not set to true) one live display drawn with ``rich``, with a
permanent line above it per finished process; elsewhere (a pipe, a file, CI) the same
permanent lines only, plain text without control characters. Cells draw nothing here:
their own output goes to their log (``runner``).

Cells report their epoch through a small file (``EpochReporter``) that the runner
reads while it waits, so a long cell shows how far it is. This module is imported by
every cell process: it imports ``rich`` only where a live display is drawn.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from benchmarks.schema import Cell

REPORT_EVERY_S = 0.5
REFRESH_PER_S = 2  # redraws of the live display
MAX_RUNNING_LINES = 12  # running processes listed by name; the rest are counted
FAILED = ("failed", "timeout")  # statuses counted as failed


def duration(seconds: float) -> str:
    """``45 s``, ``12 min 05 s``, ``2 h 03 min``."""
    whole = round(seconds)
    if whole < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"


def animated(stream: TextIO, environ: Mapping[str, str] = os.environ) -> bool:
    """Whether to draw a live display on ``stream``: a terminal, and not under CI."""
    under_ci = environ.get("CI", "").strip().lower() in ("true", "1", "yes")
    return stream.isatty() and not under_ci


@dataclass
class _Running:
    label: str
    estimate_s: float
    since: float  # clock() when it started
    where: str = ""  # the worker (host) on a cluster
    epoch: str = ""  # ``epoch/epochs`` the cell last reported


class RunProgress:
    """Counts a run's processes (``len(cells) * repeats``) and shows them.

    ``estimates``: cell file name -> estimated wall seconds of one process (None: no
    ETA). The ETA is the estimated seconds of the processes not finished (less the time
    the running ones have run, each down to 0), times the pace so far (the finished
    processes' wall seconds over their estimates; 1 before the first), divided among
    the workers (``set_workers``) when several run at once. Thread-safe: a cluster's
    start events arrive on the Dask client's thread. Use as a context manager (the live
    display is drawn between enter and exit)."""

    def __init__(
        self,
        cells: Iterable[Cell],
        repeats: int = 1,
        estimates: Mapping[str, float] | None = None,
        stream: TextIO | None = None,
        live: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        cells = list(cells)
        self.repeats, self.total = repeats, len(cells) * repeats
        self.estimates = None if estimates is None else dict(estimates)
        self.stream = sys.stderr if stream is None else stream
        self.live = animated(self.stream) if live is None else live
        self.clock, self.started_at = clock, clock()
        self.done = self.failed = 0
        self.pending_s = sum(self._estimate(cell) for cell in cells) * repeats
        self.ran_s = self.ran_estimate_s = 0.0  # finished processes: measured, estimated
        self.workers = 1
        self.running: dict[tuple[str, int], _Running] = {}
        self.finished_keys: set[tuple[str, int]] = set()
        self._lock = threading.Lock()
        self._display: Any = None  # rich's Live while it is drawn

    def __enter__(self) -> RunProgress:
        if self.live:
            from rich.console import Console
            from rich.live import Live

            self._display = Live(
                console=Console(file=self.stream),
                get_renderable=self._render,
                refresh_per_second=REFRESH_PER_S,
                transient=True,  # the permanent lines above it say it all at the end
                redirect_stdout=False,  # stdout may be a file: keep it there
                redirect_stderr=False,
            )
            self._display.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._display is not None:
            self._display.stop()
            self._display = None

    def _estimate(self, cell: Cell) -> float:
        return 0.0 if self.estimates is None else self.estimates.get(cell.file_name, 0.0)

    def _label(self, cell: Cell, repeat: int) -> str:
        rep = f" (repeat {repeat + 1}/{self.repeats})" if self.repeats > 1 else ""
        return cell.label + rep

    def set_workers(self, count: int) -> None:
        """How many processes run at once (a cluster's accepted workers), for the ETA."""
        with self._lock:
            self.workers = max(count, 1)

    def started(self, cell: Cell, repeat: int = 0, where: str = "") -> None:
        """The cell's process (its ``repeat``-th) started, on ``where`` ('': here)."""
        key = (cell.file_name, repeat)
        with self._lock:
            if key not in self.finished_keys:  # a late start event of a finished cell
                label, estimate = self._label(cell, repeat), self._estimate(cell)
                self.running[key] = _Running(label, estimate, self.clock(), where)

    def epoch(self, cell: Cell, repeat: int, epoch: str) -> None:
        """The running cell's last reported ``epoch/epochs``."""
        with self._lock:
            running = self.running.get((cell.file_name, repeat))
            if running is not None:
                running.epoch = epoch

    def dropped(self, cell: Cell) -> None:
        """A process that will not run (a repeat of a cell that did not finish ok)."""
        with self._lock:
            self.total -= 1
            self.pending_s -= self._estimate(cell)

    def finished(
        self,
        cell: Cell,
        outcome: str,
        status: str,
        wall_s: float | None,
        ran: bool = True,
        repeat: int = 0,
    ) -> None:
        """A process ended (``ran``) or its record was kept from an earlier run: counts
        it and prints its line. ``outcome``: what the line says after the label;
        ``status``: the record's (failed and timeout count as failed); ``wall_s``: the
        process's wall seconds, for the ETA's pace (None: unknown, e.g. a cell that
        never started)."""
        key = (cell.file_name, repeat)
        with self._lock:
            self.running.pop(key, None)
            self.finished_keys.add(key)
            self.done += 1
            estimate = self._estimate(cell)
            self.pending_s -= estimate
            if ran:
                self.failed += status in FAILED
                if wall_s is not None and estimate > 0:  # the pace's measure
                    self.ran_s += wall_s
                    self.ran_estimate_s += estimate
            line = (
                f"[{self.done:>{len(str(self.total))}}/{self.total}] "
                f"{self._label(cell, repeat)}: {outcome} | {self._summary()}"
            )
        self._print(line, "red" if ran and status in FAILED else None)

    def note(self, text: str) -> None:
        """A permanent line that is no cell's end (a refused worker, a retry)."""
        self._print(text, None)

    def _print(self, text: str, style: str | None) -> None:
        # Never under self._lock: printing above the live display takes rich's lock,
        # which its refresh thread holds while it calls _render (that takes ours).
        display = self._display
        if display is not None:
            display.console.print(text, style=style, markup=False, highlight=False, soft_wrap=True)
        else:
            print(text, file=self.stream, flush=True)

    def eta_s(self) -> float | None:
        """Seconds the run's processes still need by the estimates, or None without
        estimates (module docstring: how)."""
        with self._lock:
            return self._eta_s()

    def _eta_s(self) -> float | None:
        if self.estimates is None:
            return None
        now = self.clock()
        spent = sum(min(now - r.since, r.estimate_s) for r in self.running.values())
        pace = self.ran_s / self.ran_estimate_s if self.ran_estimate_s > 0 else 1.0
        at_once = max(min(self.workers, self.total - self.done), 1)
        return max(self.pending_s - spent, 0.0) * pace / at_once

    def _summary(self) -> str:
        """``3 failed, 2 running | elapsed 1 min 05 s, ETA ~ 4 min 10 s``; no ETA once
        all is done or without estimates, and ``past the estimates`` when only running
        processes are left and each has run longer than its estimate."""
        running = f", {len(self.running)} running" if len(self.running) > 1 else ""
        eta = self._eta_s()
        if eta is None or self.done >= self.total:
            eta_text = ""
        elif eta == 0:
            eta_text = ", past the estimates"
        else:
            eta_text = f", ETA ~ {duration(eta)}"
        elapsed = duration(self.clock() - self.started_at)
        return f"{self.failed} failed{running} | elapsed {elapsed}{eta_text}"

    def _render(self) -> Any:
        """The live display: a bar of processes done, the counts, one line per running
        process (its epoch, or its worker on a cluster, and how long it has run)."""
        from rich.console import Group
        from rich.progress_bar import ProgressBar
        from rich.table import Table
        from rich.text import Text

        with self._lock:
            grid = Table.grid(padding=(0, 1))
            grid.add_row(
                ProgressBar(total=max(self.total, 1), completed=self.done, width=30),
                Text(f"{self.done}/{self.total} done, {self._summary()}"),
            )
            now = self.clock()
            lines = [
                f"  running {r.label}"
                + (f" on {r.where}" if r.where else "")
                + (f", epoch {r.epoch}" if r.epoch else "")
                + f", {duration(now - r.since)}"
                for r in self.running.values()
            ]
        if len(lines) > MAX_RUNNING_LINES:  # a large cluster: the display fits a screen
            lines[MAX_RUNNING_LINES - 1 :] = [f"  and {len(lines) - MAX_RUNNING_LINES + 1} more"]
        return Group(grid, *(Text(line, no_wrap=True, overflow="ellipsis") for line in lines))


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

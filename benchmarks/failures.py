"""A failed cell's reason: the exception that ended it, not its exit status.

The cell process records its own crash (``describe_exception``, written as a failed
record by ``benchmarks.cell``); when it could not (its record could not be written,
or the interpreter died), the runner takes the final exception line of the cell's log,
else says how the process ended (``exit_reason``).
"""

from __future__ import annotations

import contextlib
import json
import signal
from pathlib import Path

MAX_REASON_CHARS = 500  # the whole traceback stays in the record's output_tail and log
LOG_TAIL_BYTES = 65536  # a deep traceback (torch.compile's) runs to tens of kB


def _one_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    line = lines[0] + (" ..." if len(lines) > 1 else "") if lines else ""
    return line if len(line) <= MAX_REASON_CHARS else line[: MAX_REASON_CHARS - 4] + " ..."


def describe_exception(error: BaseException) -> str:
    """``"Type: message"`` on one line (the message's first line), as a record's reason."""
    message = _one_line(str(error))
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


def reason_from_log(text: str) -> str | None:
    """The exception line of the last Python traceback in ``text`` (the first line after
    it that is not indented), or None when ``text`` holds no traceback."""
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("Traceback (most recent")]
    if not starts:
        return None
    for line in lines[starts[-1] + 1 :]:
        if line.strip() and not line.startswith((" ", "\t")):
            return _one_line(line)
    return None


def exit_reason(returncode: int) -> str:
    """How a process ended without saying why: its exit status or the signal it died of."""
    if returncode >= 0:
        return f"exit status {returncode}"
    try:
        name = signal.Signals(-returncode).name
    except ValueError:
        name = f"signal {-returncode}"
    hint = " (out of memory? the kernel's OOM killer sends it)" if name == "SIGKILL" else ""
    return f"killed by {name}{hint}"


def reported_reason(record_path: Path) -> str | None:
    """The reason of the failed record the cell wrote for itself, if it wrote one."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        record = json.loads(record_path.read_text())
        if record.get("status") == "failed" and record.get("reason"):
            return str(record["reason"])
    return None


def _log_tail(log_path: Path) -> str:
    try:
        with log_path.open("rb") as log:
            log.seek(max(0, log.seek(0, 2) - LOG_TAIL_BYTES))
            return log.read().decode(errors="replace")
    except OSError:
        return ""


def failure_reason(record_path: Path, log_path: Path, returncode: int) -> str:
    """Why a cell's process exited with ``returncode`` != 0: its own failed record's
    reason, else the last exception in its log, else its exit and last output line."""
    log_text = _log_tail(log_path)
    reason = reported_reason(record_path) or reason_from_log(log_text)
    if reason:
        return reason
    last = [line for line in log_text.splitlines() if line.strip()][-1:]
    how = exit_reason(returncode)
    return f"{how}; its last output: {_one_line(last[0])}" if last else how

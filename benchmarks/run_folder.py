"""A run folder's lock, its ``run.json`` and the rules for starting or resuming a run.

- One runner per folder: ``run`` holds an exclusive ``flock`` on ``<folder>/.lock``
  from before any work to its exit. The kernel drops the lock when its holder dies,
  however it died; the runner's cells and its GEMM-ceiling process inherit the lock's
  open file, so the folder stays locked until the last of them has exited too. A second
  runner is refused (exit 2) with the holder's pid; one that finds the lock held by the
  cells of a runner that is already dead waits for them (a few seconds at most: they
  die with their runner) and says so.
- ``run`` into a folder that already holds a run (a ``run.json`` or a cell record) is
  refused without ``--resume``; ``--resume`` on a folder holding no run is refused;
  ``--resume`` must plan exactly the recorded matrix (the same cells, the same
  ``--threads``), otherwise it is refused with what differs.
- ``run.json`` keeps every invocation (command line, start, end, outcome, environment,
  GEMM ceiling); its top-level fields are the first invocation's.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import stat
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from benchmarks.records import (
    RUN_INFO_NAME,
    Cell,
    new_record,
    read_run_info,
    record_files,
    scan_records,
)
from shared.files import write_json_atomic

LOCK_NAME = ".lock"
RUN_INFO_VERSION = 2  # 1: one invocation, no matrix (before invocations were kept)
LOCK_WAIT_S = 30.0  # for the cells of a dead runner to exit (they die with it)
SHOWN = 3  # cells named in a message, per side


class RefusedFolder(ValueError):
    """The run folder cannot be used as asked; the message says why and what to do."""


def _alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie, dead but not yet reaped, is not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc: trust kill(0)
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _holder(path: Path) -> dict[str, Any]:
    try:
        holder = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}  # being written, or not ours
    return holder if isinstance(holder, dict) else {}


def _describe(holder: dict[str, Any]) -> str:
    command = " ".join(holder.get("argv", [])[1:]) or "?"
    return f"started {holder.get('started', '?')} on {holder.get('host', '?')}: {command}"


def _open_lock_file(path: Path) -> int:
    """The lock file's descriptor, created where missing. Never through a symbolic link
    (the holder's pid would overwrite the file it points to); RefusedFolder, naming the
    file, for anything that is not a plain file."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o666)
    except OSError as error:
        kind = {errno.ELOOP: "a symbolic link", errno.EISDIR: "a folder"}.get(error.errno)
        if kind is None:
            raise
        raise RefusedFolder(f"{path} is {kind}, not a run's lock file: remove it") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise RefusedFolder(f"{path} is not a plain file, so not a run's lock file: remove it")
    return fd


def lock_run_folder(
    folder: Path, argv: list[str], say: Callable[[str], None] = print, wait_s: float = LOCK_WAIT_S
) -> int:
    """Take the folder's lock; returns its file descriptor (held until this process and
    every child given the descriptor have exited). Raises RefusedFolder when a live
    runner holds it, or when the cells of a dead one still hold it after ``wait_s``."""
    path = folder / LOCK_NAME
    fd = _open_lock_file(path)
    deadline, waiting = time.monotonic() + wait_s, False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            pass
        holder = _holder(path)
        pid = holder.get("pid")
        if isinstance(pid, int) and _alive(pid):
            os.close(fd)
            raise RefusedFolder(f"{folder} is locked by pid {pid} ({_describe(holder)})")
        if time.monotonic() > deadline:
            os.close(fd)
            who = f"a process of runner pid {pid}, which is gone" if pid else "an unknown process"
            raise RefusedFolder(
                f"{folder} is still locked after {wait_s:g} s, by {who} "
                f"(`fuser -v {path}` names it)"
            )
        if isinstance(pid, int) and not waiting:  # no pid yet: a runner is writing it
            say(f"waiting for the cells of the killed runner of {folder} (pid {pid}) to exit")
            waiting = True
        time.sleep(0.1)
    holder = {"pid": os.getpid(), "host": socket.gethostname(), "argv": argv}
    holder["started"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(holder).encode(), 0)
    return fd


def _names(cells: Iterable[Cell]) -> list[str]:
    return sorted(cell.file_name for cell in cells)


def _listed(names: list[str]) -> str:
    """``N cell(s) (a, b, c and M more)``."""
    shown = ", ".join(name.removesuffix(".json") for name in names[:SHOWN])
    more = f" and {len(names) - SHOWN} more" if len(names) > SHOWN else ""
    return f"{len(names)} cell(s) ({shown}{more})"


def _difference(recorded: list[str], planned: list[str]) -> str:
    only_recorded = sorted(set(recorded) - set(planned))
    only_planned = sorted(set(planned) - set(recorded))
    parts = [f"{_listed(only_recorded)} only in the recorded run"] if only_recorded else []
    parts += [f"{_listed(only_planned)} only in this command"] if only_planned else []
    return "; ".join(parts)


def check_folder(
    folder: Path,
    resume: bool,
    planned: list[str],
    threads: int | list[int],
    say: Callable[[str], None] = print,
    preset: str | None = None,
) -> dict[str, Any]:
    """Apply the start and resume rules (module docstring); returns the recorded
    ``run.json`` (``{}`` when new or absent). Raises RefusedFolder. A damaged
    ``run.json`` is renamed ``run.json.damaged`` (a resume starts a new one) and said."""
    records = record_files(folder)
    holds_run = bool(records) or (folder / RUN_INFO_NAME).exists()
    if not resume:
        if holds_run:
            raise RefusedFolder(
                f"{folder} already holds a run: finish it with --resume, or choose another --out"
            )
        _check_output_kinds(folder, planned)
        return {}
    _check_output_kinds(folder, planned)
    if not holds_run:
        raise RefusedFolder(f"--resume: {folder} holds no run to finish")
    info, problem = read_run_info(folder)
    if "matrix" in info:
        _check_matrix(info, planned, threads)
        if preset is not None and info.get("preset", preset) != preset:
            # file names leave the preset out: the recorded cells would be kept as this one's
            raise RefusedFolder(
                f"--resume: --preset {preset} here, {info['preset']} in the recorded run"
            )
    else:
        # No matrix recorded (a run.json from before matrices were, or none, or a damaged
        # one): every record there must belong to this command's matrix, preset and
        # thread count included (file names leave both out).
        found = scan_records(folder).records
        other_preset = {
            name
            for name, record in found.items()
            if preset is not None and record["preset"] != preset
        }
        _check_record_threads(found.values(), threads)
        foreign = sorted((set(records) - set(planned)) | other_preset)
        if foreign:
            raise RefusedFolder(
                f"--resume: {folder} holds records of cells this command would not run: "
                f"{_listed(foreign)}"
            )
    if problem:
        problem.path.replace(problem.path.with_name(RUN_INFO_NAME + ".damaged"))
        say(f"warning: {problem}; kept as {RUN_INFO_NAME}.damaged, its invocations are lost")
    return info


# What the runner and the report write into a run folder besides the cells' records.
OUTPUT_FOLDERS = ("logs", "plots", "repeats")
OUTPUT_FILES = (RUN_INFO_NAME, "summary.csv", "report.md", "report.html")
OUTPUT_FILES += ("search_candidates.csv", "search_episodes.csv")


def _check_output_kinds(folder: Path, planned: list[str]) -> None:
    """RefusedFolder when something the run will write is already there as the other
    kind (a folder named like a record, a file named ``logs``): found now, not after
    the ceiling and the cells before it."""
    for name in OUTPUT_FOLDERS:
        if (folder / name).exists() and not (folder / name).is_dir():
            raise RefusedFolder(f"{folder / name} is a file where the run writes a folder")
    for name in (*OUTPUT_FILES, *planned):
        if (folder / name).is_dir():
            raise RefusedFolder(f"{folder / name} is a folder where the run writes a file")


def _check_matrix(info: dict[str, Any], planned: list[str], threads: int | list[int]) -> None:
    if info["matrix"] != planned:
        command = " ".join((info.get("argv") or [])[1:])
        raise RefusedFolder(
            f"--resume: this command's matrix differs from the one in {RUN_INFO_NAME}: "
            f"{_difference(info['matrix'], planned)}; resume with the recorded command's "
            f"options: {command}"
        )
    if info.get("threads") != threads:
        raise RefusedFolder(
            f"--resume: --threads {_counts_text(threads)} here, "
            f"{_counts_text(info.get('threads'))} in the recorded run"
        )


def _check_record_threads(records: Iterable[dict[str, Any]], threads: int | list[int]) -> None:
    """RefusedFolder when a record ran at a thread count this command does not plan:
    without a recorded matrix, a record's own count (``Cell.of``) is all that says it."""
    planned = threads if isinstance(threads, list) else [threads]
    recorded = sorted({Cell.of(record).threads for record in records})
    if not set(recorded) <= set(planned):
        raise RefusedFolder(
            f"--resume: --threads {_counts_text(threads)} here, "
            f"{_counts_text(recorded)} in the recorded run's records"
        )


def _counts_text(threads: Any) -> str:
    """A ``threads`` field as ``--threads`` takes it: ``2`` or ``1,2``."""
    return ",".join(map(str, threads)) if isinstance(threads, list) else str(threads)


def remove_stale_temporaries(folder: Path) -> list[Path]:
    """Remove the temporary files (``shared.files``: ``.<name>.<random>.tmp``) of records,
    checkpoints and ``run.json`` that a killed runner or cell left; returns them. Only a
    runner and its cells write these names, and the caller holds the folder's lock."""
    stale = [
        path
        for pattern in (".*__seed*.json.*.tmp", ".*.ckpt.npz.*.tmp", f".{RUN_INFO_NAME}.*.tmp")
        for path in folder.glob(pattern)
    ]
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


# What a legacy (version 1) run.json holds about its one invocation.
INVOCATION_FIELDS = ("argv", "started", "repeats", "environment", "gemm_ceiling")


class RunDescription:
    """``run.json``: the matrix, and one entry per invocation of ``run`` on the folder
    (the first run and each ``--resume``), rewritten atomically at each change."""

    def __init__(self, folder: Path, recorded: dict[str, Any], matrix: dict[str, Any]):
        self.path = folder / RUN_INFO_NAME
        self.matrix = matrix  # preset, threads, cells, not_applicable, matrix
        invocations = recorded.get("invocations")
        if invocations is None and recorded:  # version 1: the file was one invocation
            invocations = [{key: recorded.get(key) for key in INVOCATION_FIELDS}]
        self.invocations: list[dict[str, Any]] = list(invocations or [])

    def start(self, argv: list[str], resume: bool, repeats: int, environment: dict) -> None:
        started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        self.invocations.append(
            {
                "argv": argv,
                "started": started,
                "resume": resume,
                "repeats": repeats,
                "environment": environment,
                "gemm_ceiling": None,
                "ended": None,  # stays null when the runner was killed (SIGKILL)
                "outcome": None,
            }
        )
        self._save()

    def set_ceiling(self, ceiling: list[dict[str, Any]]) -> None:
        self.invocations[-1]["gemm_ceiling"] = ceiling
        self._save()

    def end(self, outcome: str) -> None:
        self.invocations[-1].update(ended=time.strftime("%Y-%m-%dT%H:%M:%S%z"), outcome=outcome)
        self._save()

    def _save(self) -> None:
        first = self.invocations[0]
        measured = [i["gemm_ceiling"] for i in self.invocations if i.get("gemm_ceiling")]
        info = {
            "run_info_version": RUN_INFO_VERSION,
            **self.matrix,
            **{key: first.get(key) for key in INVOCATION_FIELDS},
            # The reference ceiling (GFLOP/s shares, compare): the first one measured.
            "gemm_ceiling": measured[0] if measured else [],
            "invocations": self.invocations,
        }
        write_json_atomic(self.path, info)


def threads_field(counts: list[int]) -> int | list[int]:
    """``run.json``'s ``threads`` (and its environment's): the count of a run of one, as
    it always was; the list of a run with threads as a matrix dimension."""
    return counts[0] if len(counts) == 1 else list(counts)


def matrix_fields(
    cells: list[Cell], not_applicable: list[Cell], preset: str, threads: list[int]
) -> dict[str, Any]:
    """What ``--resume`` must plan again: every cell's file name, and the thread counts."""
    return {
        "preset": preset,
        "threads": threads_field(threads),
        "cells": len(cells),
        "not_applicable": len(not_applicable),
        "matrix": _names([*cells, *not_applicable]),
    }


def open_for_run(
    folder: Path,
    options: Any,
    cells: list[Cell],
    not_applicable: list[tuple[Cell, str]],
    argv: list[str],
) -> tuple[RunDescription, int]:
    """Create and lock ``folder``, apply the start and resume rules, start this
    invocation's entry in ``run.json`` and write the not-applicable cells' records.
    ``options``: the run command's (``resume``, ``preset``, ``threads`` (the list of
    counts), ``repeats``).
    Returns ``(RunDescription, lock file descriptor)``; raises RefusedFolder."""
    from shared.metadata import environment

    skipped = [cell for cell, _ in not_applicable]
    matrix = matrix_fields(cells, skipped, options.preset, options.threads)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        lock_fd = lock_run_folder(folder, argv)
    except OSError as error:
        raise RefusedFolder(f"--out {folder}: {error.strerror or error}") from None
    try:
        recorded = check_folder(
            folder, options.resume, matrix["matrix"], matrix["threads"], preset=options.preset
        )
    except RefusedFolder:
        os.close(lock_fd)
        raise
    remove_stale_temporaries(folder)
    description = RunDescription(folder, recorded, matrix)
    description.start(argv, options.resume, options.repeats, environment(matrix["threads"]))
    for cell, reason in not_applicable:
        if not (folder / cell.file_name).exists():
            record = new_record(cell, "skipped", f"not applicable: {reason}")
            write_json_atomic(folder / cell.file_name, record)
    return description, lock_fd

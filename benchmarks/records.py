"""Cell records: one JSON file per cell, written atomically and read back checked against
the schema (``benchmarks.schema``)."""

from __future__ import annotations

import gzip
import json
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.schema import (
    FIELD_TYPES,
    RECORD_VERSION,
    STATUSES,
    Cell,
    Record,
    cell_of,
    implementation,
    new_record,
    record_problem,
)
from benchmarks.schema import number as _number
from shared.files import write_json_atomic as write_json_atomic  # the writers import it here

__all__ = [
    "FIELD_TYPES",
    "RECORD_VERSION",
    "STATUSES",
    "Cell",
    "Record",
    "implementation",
    "new_record",
    "write_json_atomic",
]

RUN_INFO_NAME = "run.json"
RUN_INFO_VERSIONS = (1, 2)  # 1: one invocation and no matrix (before 2 kept both)


class BadFile(ValueError):
    """A file that cannot be used: ``str()`` names it and says why."""

    def __init__(self, path: Path, why: str):
        super().__init__(f"{path}: {why}")
        self.path, self.why = path, why


def read_json(path: Path) -> Any:
    """The JSON value in ``path`` (gzipped when the name ends in ``.gz``); raises
    BadFile, naming the file, when it cannot be read, is empty, truncated or not JSON."""
    if path.exists() and not path.is_file():  # a FIFO's read would wait forever
        raise BadFile(path, "not a regular file")
    try:
        raw = path.read_bytes()
        if path.name.endswith(".gz"):
            raw = gzip.decompress(raw)
        text = raw.decode()
    except OSError as error:
        raise BadFile(path, f"cannot be read ({error.strerror or error})") from None
    except (EOFError, gzip.BadGzipFile, zlib.error) as error:
        raise BadFile(path, f"damaged gzip data ({type(error).__name__}: {error})") from None
    except UnicodeDecodeError:
        raise BadFile(path, "not UTF-8 text") from None
    if not text.strip():
        raise BadFile(path, "empty")
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise BadFile(path, f"not valid JSON, truncated or damaged ({error})") from None
    except (RecursionError, ValueError) as error:  # nested too deep; an integer too long
        raise BadFile(path, f"not JSON this code reads ({type(error).__name__})") from None


def read_record(path: Path, cell: Cell | None = None, default_threads: int = 1) -> Record:
    """The cell record in ``path`` (``.json`` or ``.json.gz``); raises BadFile unless it is
    a JSON object of this code's ``RECORD_VERSION`` naming ``cell`` (default: the cell
    its file is named for). A record from before the thread count was part of the cell
    gets it here (``Cell.of``; ``default_threads``: the run's count), so that every
    reader finds ``threads`` and ``threads_in_name`` in every record."""
    data = read_json(path)
    if not isinstance(data, dict):
        raise BadFile(path, f"holds a JSON {type(data).__name__}, not a cell record")
    if "record_version" not in data:
        raise BadFile(path, "not a cell record (no record_version)")
    if data["record_version"] != RECORD_VERSION:
        raise BadFile(
            path, f"record_version {data['record_version']!r}; this code reads {RECORD_VERSION}"
        )
    named = cell_of(data, default_threads)
    if named is None or data.get("status") not in STATUSES:
        raise BadFile(path, "not a cell record (its cell fields or status are missing or bad)")
    expected = cell.file_name if cell else path.name.removesuffix(".gz")
    if named.file_name != expected:
        raise BadFile(path, f"holds the record of another cell ({named.file_name})")
    problem = record_problem(data)
    if problem:
        raise BadFile(path, f"another schema: {problem}")
    data.setdefault("threads", named.threads)
    data.setdefault("threads_in_name", named.threads_in_name)
    return data


def record_files(run_dir: Path) -> dict[str, list[Path]]:
    """The record files of a run by cell file name (``X.json``): ``[X.json, X.json.gz]``
    or the one of them that exists, in that order of preference."""
    found: dict[str, list[Path]] = {}
    for pattern in ("*__seed*.json", "*__seed*.json.gz"):
        for path in sorted(run_dir.glob(pattern)):
            found.setdefault(path.name.removesuffix(".gz"), []).append(path)
    return dict(sorted(found.items()))


@dataclass
class RecordScan:
    """A run folder's readable records, one per cell, and the files left out."""

    records: dict[str, dict[str, Any]]  # by cell file name (X.json)
    problems: list[BadFile]  # damaged or foreign files, each naming its file


def scan_records(run_dir: Path) -> RecordScan:
    """Every readable record of ``run_dir``, one per cell: ``X.json`` wins over
    ``X.json.gz`` (the runner writes ``X.json``; a ``.gz`` is a compressed copy, such as
    the committed baseline's), the other is used when the winner is damaged."""
    scan = RecordScan({}, [])
    default_threads = legacy_threads(read_run_info(run_dir)[0])
    for name, paths in record_files(run_dir).items():
        for path in paths:
            try:
                scan.records[name] = read_record(path, default_threads=default_threads)
                break
            except BadFile as error:
                scan.problems.append(error)
    return scan


def read_run_info(run_dir: Path) -> tuple[dict[str, Any], BadFile | None]:
    """``run.json`` as a dict (``{}`` when absent or damaged) and the problem if damaged."""
    path = run_dir / RUN_INFO_NAME
    if not path.exists():
        return {}, None
    try:
        info = read_json(path)
    except BadFile as error:
        return {}, error
    if not isinstance(info, dict):
        return {}, BadFile(path, f"holds a JSON {type(info).__name__}, not a run description")
    version = info.get("run_info_version", 1)
    if version not in RUN_INFO_VERSIONS:
        return {}, BadFile(path, f"run_info_version {version!r}; this code reads 1 and 2")
    matrix = info.get("matrix", [])
    if not isinstance(matrix, list) or not all(isinstance(name, str) for name in matrix):
        return {}, BadFile(path, "its matrix is not a list of cell file names")
    problem = _run_info_problem(info)
    if problem:
        return {}, BadFile(path, f"another schema: {problem}")
    return info, None


def _run_info_problem(info: dict[str, Any]) -> str | None:
    """What in ``run.json`` has a shape its readers (report, compare, ``--resume``) do
    not expect, or None. Each invocation is checked like the top level."""
    invocations = info.get("invocations", [])
    if not (isinstance(invocations, list) and all(isinstance(i, dict) for i in invocations)):
        return "its 'invocations' is not a list of objects"
    for part in [info, *invocations]:
        argv, ceiling = part.get("argv") or [], part.get("gemm_ceiling") or []
        if not (isinstance(argv, list) and all(isinstance(a, str) for a in argv)):
            return "an 'argv' is not a list of strings"
        if not isinstance(part.get("environment") or {}, dict):
            return "an 'environment' is not an object"
        if not isinstance(ceiling, list) or not all(
            isinstance(c, dict) and _number(c.get("gflops_best")) for c in ceiling
        ):
            return "a 'gemm_ceiling' is not a list of measurements"
    threads = info.get("threads", 1)
    counts = threads if isinstance(threads, list) else [threads]
    if not (counts and all(_whole(count) for count in counts)):
        return "its 'threads' is not an integer or a list of integers"
    return None


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def thread_counts(info: dict[str, Any]) -> list[int]:
    """The thread counts of a run, from its ``run.json`` (``read_run_info``): ``threads``
    is one count, or the list of a run with threads as a matrix dimension; older files
    have only their environment's (1 where that is missing too)."""
    threads = info.get("threads", (info.get("environment") or {}).get("threads", 1))
    counts = threads if isinstance(threads, list) else [threads]
    return [count for count in counts if _whole(count)] or [1]


def legacy_threads(info: dict[str, Any]) -> int:
    """The thread count of a record that has none of its own (written before the count
    was part of the cell) and no environment: its run's, which had a single count."""
    return thread_counts(info)[0]


def ceiling_gflops(run_dir: Path) -> float | None:
    """Best GEMM GFLOP/s measured at the run's thread count (the largest, when the run
    measured several), if it was measured."""
    info, _ = read_run_info(run_dir)
    threads = max(thread_counts(info))
    matching = [c for c in info.get("gemm_ceiling") or [] if c.get("threads") == threads]
    return matching[0]["gflops_best"] if matching else None


@dataclass
class RunContents:
    """What ``report`` and ``compare`` read from a run folder."""

    records: list[dict[str, Any]]  # one per cell of the run, sorted by cell
    info: dict[str, Any]  # run.json ({} when absent or damaged)
    problems: list[BadFile]  # damaged or foreign files, left out


def load_run(run_dir: Path) -> RunContents:
    """The run's records and ``run.json``. Left out and listed in ``problems``: damaged
    and foreign files (``scan_records``), a damaged ``run.json``, and records of cells
    outside the matrix ``run.json`` records (files copied in from another run)."""
    scan = scan_records(run_dir)
    info, problem = read_run_info(run_dir)
    problems = [*([problem] if problem else []), *scan.problems]
    matrix = set(info.get("matrix") or scan.records)
    for name in sorted(set(scan.records) - matrix):
        problems.append(BadFile(run_dir / name, f"not a cell of this run's {RUN_INFO_NAME}"))
    # File names leave the preset out: a record copied in from a run at another preset
    # has a name of the matrix.
    preset = info.get("preset")
    for name in sorted(matrix & set(scan.records)):
        if preset is not None and scan.records[name]["preset"] != preset:
            why = f"a cell at preset {scan.records[name]['preset']}, this run's is {preset}"
            problems.append(BadFile(run_dir / name, why))
            matrix.discard(name)
    records = [record for name, record in scan.records.items() if name in matrix]
    return RunContents(records, info, problems)


def load_records(run_dir: Path) -> list[dict[str, Any]]:
    """The run's readable records (``load_run``), sorted by cell; ``.json.gz`` records are
    read too (the committed baseline keeps its records gzipped: per-epoch rows compress
    5x)."""
    return load_run(run_dir).records


def process_steady_seconds(record: dict[str, Any]) -> list[list[float]]:
    """Steady epoch seconds per process of the cell: its first process, then each
    ``--repeats`` process that finished ok (processes with no steady epoch left out)."""
    processes = [[row["seconds"] for row in record.get("epochs", [])[1:]]]
    processes += [
        list(rerun.get("steady_epoch_s", []))
        for rerun in record.get("repeats", [])
        if rerun.get("status") == "ok"
    ]
    return [p for p in processes if p]

"""The cell record's schema, shared by the writer (``new_record``) and the readers.

A record is one JSON object per cell. ``Record`` lists its top-level fields and their
types: the cell's identity (``Cell``), its status, and what the harness measured and
checked (timing, per-epoch rows, metrics, parity, environment, repeats, memory). A
workload's cell may add fields of its own (its episodes, its candidates, ...): they
are the workload's to read, and are not checked here. ``FIELD_TYPES`` (the JSON types a
reader may rely on) and ``record_problem`` (what every reader checks before it walks a
record) are derived from ``Record``; ``RECORD_VERSION`` changes only when a field's
meaning or type does.
"""

from __future__ import annotations

import math
import types
import typing
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Required, TypedDict

STATUSES = ("ok", "skipped", "diverged", "failed", "timeout")
RECORD_VERSION = 1  # checked on load: a record of another version is left out and listed


def implementation(backend: str, mode: str) -> str:
    """How every table, chart and log line names an implementation: ``backend:mode``."""
    return f"{backend}:{mode}"


@dataclass(frozen=True)
class Cell:
    """One measurement: a workload variant on one backend, mode, dtype and seed, at one
    thread count per framework."""

    workload: str
    variant: str
    backend: str
    mode: str
    dtype: str
    seed: int
    preset: str
    threads: int = 1  # threads every framework of the cell is configured with
    # The run measures several thread counts (``run --threads 1,2``): the file name and
    # the label carry the count. A run of one count keeps the names it always had, so
    # that two runs at different counts still name their files alike; the count itself
    # is always part of the cell (``key``): such cells are never paired or confused.
    threads_in_name: bool = field(default=False, compare=False)

    @property
    def file_name(self) -> str:
        threads = f"threads{self.threads}__" if self.threads_in_name else ""
        return (
            f"{self.workload}__{self.variant}__{self.backend}__{self.mode}__"
            f"{self.dtype}__{threads}seed{self.seed}.json"
        )

    @property
    def label(self) -> str:
        threads = f" threads {self.threads}" if self.threads_in_name else ""
        return (
            f"{self.workload}/{self.variant} {implementation(self.backend, self.mode)} "
            f"{self.dtype} seed {self.seed}{threads}"
        )

    @property
    def key(self) -> tuple:
        """What names the measurement, whatever the file is called: every field but
        ``threads_in_name`` (runs pair and resume cells by it)."""
        return tuple(getattr(self, f.name) for f in fields(self) if f.compare)

    @classmethod
    def of(cls, record: dict[str, Any], default_threads: int = 1) -> Cell:
        """The cell a record (or any mapping with the cell's fields) belongs to. A record
        written before the thread count was part of the cell has it in its environment
        (``record_threads``)."""
        names = [name for name in cls.__dataclass_fields__ if name not in THREAD_FIELDS]
        return cls(
            **{name: record[name] for name in names},
            threads=record_threads(record, default_threads),
            threads_in_name=record.get("threads_in_name", False),
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


THREAD_FIELDS = ("threads", "threads_in_name")  # cell fields a record may lack (older ones)


def record_threads(record: dict[str, Any], default: int = 1) -> Any:
    """A record's thread count: its ``threads``; for a record from before it had one,
    the count its environment says was asked for; without an environment (a record the
    runner wrote for a cell that failed or did not apply) ``default``, the run's."""
    if "threads" in record:
        return record["threads"]
    environment = record.get("environment")
    asked = environment.get("threads") if isinstance(environment, dict) else None
    return asked if _count(asked) else default


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


class Host(TypedDict):
    """A record's ``host``: the machine the cell ran on (``benchmarks.hosts``), with its
    fp32 GEMM ceiling measured once per host per run."""

    name: str  # its host name
    cpu: str  # CPU model
    usable_cpus: int  # logical CPUs the runner (or Dask worker) may use: sched_getaffinity
    logical_cpus: int  # logical CPUs of the machine
    memory_bytes: int  # total memory
    # One per thread count measured: threads, gflops_best, gflops_median (GFLOP/s),
    # gemm_size; empty when it could not be measured there.
    gemm_ceiling: list[dict[str, Any]]
    host_class: str  # what compare and the report pair cells within: CPU, CPUs, GiB


class Record(TypedDict, total=False):
    """A cell record's top-level fields (JSON: a float may be written as an integer)."""

    record_version: Required[int]  # RECORD_VERSION
    # The cell (``Cell``): which measurement this is.
    workload: Required[str]
    variant: Required[str]
    backend: Required[str]
    mode: Required[str]
    dtype: Required[str]
    seed: Required[int]
    preset: Required[str]
    threads: int  # absent from records written before it was part of the cell
    threads_in_name: bool  # likewise (such records' names never carry it)
    status: Required[str]  # one of STATUSES
    reason: Required[str]  # why the cell is not ok ("" or a note when it is)
    # Seconds: import_s, build_s, prepare_s, first_epoch_s, steady_median_s, ... (numbers;
    # null where not measured). An ok record always has it.
    timing: dict[str, float | None]
    epochs: list[dict[str, Any]]  # one row per epoch (or per TD row), each with "seconds"
    metrics: dict[str, Any]  # the workload's metrics; an ok record always has them
    parity: dict[str, Any]  # seed 0: the backend beside the NumPy reference
    config: dict[str, Any]  # the training configuration, summarised
    environment: dict[str, Any]  # threads, versions, machine (shared.metadata)
    # One entry per --repeats process: status, reason, steady_epoch_s (seconds), ...
    repeats: list[dict[str, Any]]
    peak_rss_mb: float | None  # the cell process's peak resident memory (MB)
    process_wall_s: float  # wall seconds of the cell's process, as the runner saw it
    diverged_at_epoch: int  # a diverged supervised cell: the first non-finite epoch
    output_tail: str  # a failed or timed-out cell: the end of its log
    # A cell run on a Dask cluster (benchmarks.cluster_run): scheduler, worker, host,
    # shared_host (other cells ran on the host at the same time), attempts.
    cluster: dict[str, Any]
    # Where the cell ran; absent from records written before it, from not-applicable
    # cells and from cells that ran nowhere (their worker lost, no worker left).
    host: Host


def _json_types(hint: Any) -> tuple[type, ...]:
    """The Python types a JSON value of annotation ``hint`` loads as."""
    if typing.is_typeddict(hint):
        return (dict,)  # its own fields are checked apart (``HOST_TYPES``)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return tuple(kind for arg in typing.get_args(hint) for kind in _json_types(arg))
    if hint is float:
        return (int, float)
    return (typing.get_origin(hint) or hint,)


IDENTITY = ("record_version", *Cell.__dataclass_fields__, "status")  # checked apart
# The JSON type of each field that readers rely on, when the field is present.
FIELD_TYPES: dict[str, tuple[type, ...]] = {
    name: _json_types(hint)
    for name, hint in typing.get_type_hints(Record).items()
    if name not in IDENTITY
}
HOST_TYPES = {name: _json_types(hint) for name, hint in typing.get_type_hints(Host).items()}


def new_record(cell: Cell, status: str, reason: str = "", **fields: Any) -> Record:
    """The record of ``cell``: its identity, ``status`` and ``reason``, then ``fields``.
    ValueError for a record its readers would refuse (``record_problem``)."""
    if status not in STATUSES:
        raise ValueError(f"status must be one of {STATUSES}, got {status!r}")
    record: Record = {
        "record_version": RECORD_VERSION,
        **cell.to_dict(),
        "status": status,
        "reason": reason,
        **fields,
    }
    problem = record_problem(record)
    if problem:
        raise ValueError(f"the record of {cell.label} does not fit the schema: {problem}")
    return record


def cell_of(data: dict[str, Any], default_threads: int = 1) -> Cell | None:
    """The cell a record names, or None when a field is missing or of the wrong type.
    A record without a thread count takes it as ``Cell.of`` does."""
    names = [name for name in Cell.__dataclass_fields__ if name not in THREAD_FIELDS]
    values = {name: data.get(name) for name in names}
    if not isinstance(values["seed"], int) or isinstance(values["seed"], bool):
        return None
    if not all(isinstance(value, str) for name, value in values.items() if name != "seed"):
        return None
    threads = record_threads(data, default_threads)
    named = data.get("threads_in_name", False)
    if not _count(threads) or not isinstance(named, bool):
        return None
    return Cell(**values, threads=threads, threads_in_name=named)


def record_problem(data: dict[str, Any]) -> str | None:
    """Why a record of this version does not fit ``Record`` (fields of other JSON types,
    another schema under the same version; an ok record without timing and metrics), or
    None. The cell and status are checked apart (``cell_of``, ``STATUSES``)."""
    for name, kinds in FIELD_TYPES.items():
        if name in data and not isinstance(data[name], kinds):
            return f"its {name!r} is a JSON {type(data[name]).__name__}"
    if data["status"] == "ok" and not ("timing" in data and "metrics" in data):
        return "an ok record without timing or metrics"
    return _nested_problem(data)


def number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _nested_problem(data: dict[str, Any]) -> str | None:
    """What in the lists and tables every reader walks has another shape, or None:
    timing values are numbers (or null), each epoch row an object with numeric seconds,
    each repeat an object with a status and a list of numeric steady seconds."""
    if not all(number(v) or v is None for v in data.get("timing", {}).values()):
        return "a 'timing' value is not a number"
    for row in data.get("epochs", []):
        if not (isinstance(row, dict) and number(row.get("seconds"))):
            return "an 'epochs' row is not an object with numeric seconds"
    for rerun in data.get("repeats", []):
        steady = rerun.get("steady_epoch_s", []) if isinstance(rerun, dict) else None
        if not (
            isinstance(steady, list)
            and isinstance(rerun.get("status"), str)
            and all(number(v) for v in steady)
        ):
            return "a 'repeats' entry is not an object with a status and steady seconds"
    return _host_problem(data["host"]) if "host" in data else None


def _host_problem(host: dict[str, Any]) -> str | None:
    """What in a ``host`` block does not fit ``Host``, or None: every field present,
    of its type; CPU counts at least 1 and memory not negative (a host class of 0 CPUs
    would split the report's tables); each ceiling an object with an integer thread
    count and a positive, finite GFLOP/s."""
    for name, kinds in HOST_TYPES.items():
        if not isinstance(host.get(name), kinds) or isinstance(host.get(name), bool):
            return f"its host's {name!r} is missing or not a JSON {kinds[0].__name__}"
    for name in ("usable_cpus", "logical_cpus"):
        if not _count(host[name]):
            return f"its host's {name!r} is not a count of at least 1"
    if host["memory_bytes"] < 0:
        return "its host's 'memory_bytes' is negative"
    for ceiling in host["gemm_ceiling"]:
        if not (
            isinstance(ceiling, dict)
            and _count(ceiling.get("threads"))
            and number(best := ceiling.get("gflops_best"))
            and math.isfinite(best)
            and best > 0
        ):
            return (
                "a host 'gemm_ceiling' entry is not an object with threads and a positive "
                "gflops_best"
            )
    return None

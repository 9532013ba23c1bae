"""The driver of a run fanned out on Dask (``benchmarks.cluster``): it submits one task
per cell to the accepted workers, at most one more than there are of them (a worker
that joins later gets cells too), and writes each record, its log and the files the
cell kept, atomically, as results arrive. Workers never write into the run folder.

``--resume`` keeps and reruns cells by the serial runner's rules
(``runner.rerun_on_resume``). A cell whose worker is lost mid-cell runs once more on
another worker, and its record says so (``cluster.retried_because``); lost a second
time, it is recorded as failed with the reason. Each record is written once, by the
driver, when its task's result arrives: nothing finished is lost or written twice.

Every record gets a ``cluster`` field: scheduler, worker, host, ``shared_host`` (the
host ran other cells at the same time: its timings are not comparable), attempts; and
a cell that ran gets its host's block (``benchmarks.hosts``), measured once per host.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import deque
from pathlib import Path
from typing import Any

from benchmarks.cluster import Fanout
from benchmarks.cluster_task import CELL_RESOURCE, STARTED_TOPIC, run_cell_task
from benchmarks.failures import describe_exception
from benchmarks.progress import RunProgress
from benchmarks.records import Cell, new_record, write_json_atomic
from benchmarks.runner import (
    KEPT,
    RunOptions,
    _earlier_records,
    _outcome_text,
    _was,
    rerun_on_resume,
)
from shared import registry
from shared.files import write_atomic

ATTEMPTS = 2  # a cell whose worker is lost runs once more


def run_on_cluster(
    cells: list[Cell],
    options: RunOptions,
    fanout: Fanout,
    estimates: dict[str, float] | None = None,
) -> list[dict]:
    """Every cell's record (the kept ones of ``--resume`` included), in ``cells``' order,
    each written into ``options.out_dir`` as it arrives; the progress on stderr
    (``estimates``: cell file name -> estimated seconds, for the ETA)."""
    found = _earlier_records(cells, options) if options.resume else {}
    with RunProgress(cells, 1, estimates) as progress:
        _follow_starts(fanout, cells, progress)
        return _run_all(cells, options, fanout, found, progress)


def _follow_starts(fanout: Fanout, cells: list[Cell], progress: RunProgress) -> None:
    """Each cell's start, and its worker, from the event its task logs as it starts
    (``cluster_task.STARTED_TOPIC``), to the progress: the scheduler alone cannot say
    which of the tasks it sent a worker that worker runs now. The subscription ends with
    the client, at the end of the run; a later run on the same client replaces it."""
    by_name = {cell.file_name: cell for cell in cells}

    def started(event: tuple[float, dict[str, str]]) -> None:  # on the client's thread
        message = event[1] if isinstance(event[1], dict) else {}
        cell = by_name.get(message.get("cell", ""))
        if cell is not None:
            progress.started(cell, where=f"{message.get('worker')} ({message.get('host')})")

    fanout.client.subscribe_topic(STARTED_TOPIC, started)


def _run_all(
    cells: list[Cell],
    options: RunOptions,
    fanout: Fanout,
    found: dict[str, dict[str, Any]],
    progress: RunProgress,
) -> list[dict]:
    """``run_on_cluster``'s records; ``found``: the run folder's earlier records."""
    from distributed import as_completed

    records: dict[str, dict[str, Any]] = {}
    queue: deque[Cell] = deque()
    for cell in cells:
        earlier = found.get(cell.file_name)
        if earlier is not None and not rerun_on_resume(earlier):
            records[cell.file_name] = earlier
            kept = KEPT + ("" if earlier["status"] == "ok" else f": {_was(earlier)}")
            progress.finished(cell, kept, earlier["status"], None, ran=False)
        else:
            queue.append(cell)
    running: dict[Any, Cell] = {}
    attempts: dict[str, list[str]] = {}  # file name -> why each earlier attempt was lost
    results = as_completed(loop=fanout.client.loop)  # no default client: set_as_default=False
    _top_up(fanout, queue, running, results, options, records, progress)
    for future in results:
        cell = running.pop(future)
        record = _collect(future, cell, attempts.setdefault(cell.file_name, []), fanout, progress)
        if record is None:
            queue.appendleft(cell)  # its worker was lost: once more, first in line
            fanout.workers(say=progress.note, force=True)
        else:
            again = found.get(cell.file_name)
            suffix = "" if again is None else f" (run again: it was {_was(again)})"
            _write(options.out_dir, cell, record)
            records[cell.file_name] = record["record"]
            where = f" on {record['where']}" if record["where"] else ""
            outcome = _outcome_text(record["record"]) + where + suffix
            status, wall_s = record["record"]["status"], record["record"].get("process_wall_s")
            progress.finished(cell, outcome, status, wall_s)
        _top_up(fanout, queue, running, results, options, records, progress)
    return [records[cell.file_name] for cell in cells]


def _top_up(fanout, queue, running, results, options, records, progress) -> None:
    """Submit queued cells while fewer than (accepted workers + 1) run. With none running
    and no worker left, wait for one (WORKER_WAIT_S), else record the rest as failed."""
    from benchmarks.cluster import WORKER_WAIT_S

    deadline = time.monotonic() + WORKER_WAIT_S
    while queue:
        workers = fanout.workers(say=progress.note, force=not running)
        if not workers and not running:
            if time.monotonic() < deadline:
                time.sleep(1.0)
                continue
            while queue:
                cell = queue.popleft()
                why = f"no worker was left to run it (refused: {len(fanout.refused)})"
                record = {"record": new_record(cell, "failed", why), "where": ""}
                record["record"]["cluster"] = {"scheduler": fanout.scheduler}
                _write(options.out_dir, cell, record)
                records[cell.file_name] = record["record"]
                progress.finished(cell, _outcome_text(record["record"]), "failed", None)
            return
        if len(running) > len(workers):
            break
        cell = queue.popleft()
        future = fanout.client.submit(
            run_cell_task,
            cell.to_dict(),
            registry.get(cell.backend),
            options.timeout_s,
            key=f"cell-{cell.file_name.removesuffix('.json')}-{uuid.uuid4().hex[:8]}",
            pure=False,
            resources={CELL_RESOURCE: 1},
            workers=workers,
            allow_other_workers=False,
        )
        running[future] = cell
        results.add(future)
    progress.set_workers(len(fanout.live))


def _collect(
    future, cell: Cell, lost: list[str], fanout: Fanout, progress: RunProgress
) -> dict | None:
    """``{"record", "log", "files", "where"}`` from a finished task, or None to run the
    cell once more (its worker was lost, for the first time). ``lost`` gathers why each
    attempt's worker was lost; the record's ``cluster`` field says where it ran."""
    from distributed.scheduler import KilledWorker

    lost_again = False
    try:
        result = future.result()
    except KilledWorker as error:
        lost.append(f"its worker was lost mid-cell ({describe_exception(error)})")
        if len(lost) < ATTEMPTS:
            progress.note(f"{cell.label}: {lost[-1]}; running it once more")
            return None
        result, lost_again = {"record": new_record(cell, "failed", "; then ".join(lost))}, True
    except (Exception, asyncio.CancelledError) as error:  # the task failed, or was cancelled
        why = f"the cluster could not run it: {describe_exception(error)}"
        result = {"record": new_record(cell, "failed", why)}
    record = result["record"]
    host = result.get("host")
    record["cluster"] = {
        "scheduler": fanout.scheduler,
        "worker": result.get("worker"),
        "host": host,
        "shared_host": fanout.shared_host(host),
        "attempts": len(lost) + (not lost_again),
        **({"retried_because": lost[0]} if lost and not lost_again else {}),
    }
    if isinstance(record.get("environment"), dict):
        record["environment"]["shared_host"] = record["cluster"]["shared_host"]
    if host in fanout.hosts:  # measured before its first cell (Fanout.measure_hosts)
        record["host"] = fanout.hosts[host]
    where = f"{result['worker']} ({host})" if "worker" in result else ""
    return {**result, "where": where}


def _write(out_dir: Path, cell: Cell, result: dict[str, Any]) -> None:
    """The cell's log and kept files, then its record (last: a record on disk means the
    rest is there too), each atomically."""
    if "log" in result:  # as the serial runner, a log for every cell that ran, empty or not
        write_atomic(out_dir / "logs" / cell.file_name.replace(".json", ".log"), result["log"])
    for name, content in result.get("files", {}).items():
        write_atomic(out_dir / Path(name).name, content)
    write_json_atomic(out_dir / cell.file_name, result["record"])

"""Hosts (benchmarks.hosts): a record's host block is checked by the schema; compare
pairs a cell only within its host class; the report ranks rows within one class; a
Dask driver measures each host once. Synthetic records and a stub Dask client: no cell
runs here (the CLI tests check that real records carry the block)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.cli import main
from benchmarks.cluster import Fanout
from benchmarks.compare import NOT_COMPARABLE, compare_runs
from benchmarks.document import Heading, Table
from benchmarks.hosts import comparable, host_block
from benchmarks.records import BadFile, Cell, new_record, read_record
from benchmarks.report.context import ReportContext
from benchmarks.report.speed import speed_blocks

GIB = 2**30


def block(name: str, cpu: str, cpus: int, gflops: float) -> dict:
    facts = dict(name=name, cpu=cpu, usable_cpus=cpus, logical_cpus=cpus, memory_bytes=8 * GIB)
    ceiling = {"threads": 1, "gflops_best": gflops, "gflops_median": gflops, "gemm_size": 64}
    return host_block(facts, [ceiling])


FAST = block("big", "Fast CPU", 8, 400.0)
SLOW = block("small", "Slow CPU", 2, 100.0)


def record(backend: str, epoch_s: float, host: dict | None, gflops: float = 50.0) -> dict:
    """An ok record of xor/momentum on ``backend`` whose steady epochs take ``epoch_s``."""
    cell = Cell("xor", "momentum", backend, "eager", "float32", 0, "quick")
    steady = [epoch_s * (1 + 0.001 * (i % 3)) for i in range(12)]
    timing = {"steady_median_s": epoch_s, "gflops": gflops}
    fields = {"host": host} if host else {"environment": {"cpu": "Slow CPU", "logical_cpus": 2}}
    epochs = [{"seconds": s} for s in [1.0, *steady]]
    return new_record(cell, "ok", timing=timing, metrics={"loss": 0.5}, epochs=epochs, **fields)


def write_run(folder: Path, records: list[dict]) -> Path:
    folder.mkdir()
    for r in records:
        (folder / Cell.of(r).file_name).write_text(json.dumps(r))
    return folder


def test_the_schema_checks_the_host_block(tmp_path):
    path = write_run(tmp_path / "run", [record("numpy", 0.1, SLOW)])
    path = next(path.glob("*.json"))
    assert read_record(path)["host"]["host_class"] == "Slow CPU, 2 CPUs, 8 GiB"
    data = json.loads(path.read_text())
    data["host"]["usable_cpus"] = "2"
    path.write_text(json.dumps(data))
    with pytest.raises(BadFile, match="host's 'usable_cpus'"):
        read_record(path)


def test_an_older_record_pairs_with_its_cpu_and_count_whatever_the_memory():
    old = record("numpy", 0.1, None)  # environment only: Slow CPU, 2 CPUs
    assert comparable(old, record("numpy", 0.1, SLOW))
    assert not comparable(old, record("numpy", 0.1, FAST))


def test_compare_across_host_classes_says_not_comparable_and_flags_nothing(tmp_path, capsys):
    base = write_run(tmp_path / "base", [record("numpy", 0.1, SLOW), record("torch", 0.1, SLOW)])
    # numpy ran 3x slower on the other class of machine; torch 3x slower on its own
    new = write_run(tmp_path / "new", [record("numpy", 0.3, FAST), record("torch", 0.3, SLOW)])
    comparison = compare_runs(base, new)
    assert [(c.cell.split()[1], c.what) for c in comparison.not_comparable] == [
        ("numpy:eager", NOT_COMPARABLE)
    ]
    assert [c.cell.split()[1] for c in comparison.changes] == ["torch:eager"]
    # the command: the cell is named, and --fail-on-change does not fail on it
    numpy_only = [
        write_run(tmp_path / name, [record("numpy", s, host)])
        for name, s, host in (("a", 0.1, SLOW), ("b", 0.3, FAST))
    ]
    capsys.readouterr()
    assert main(["compare", *map(str, numpy_only), "--fail-on-change"]) == 0
    out = capsys.readouterr().out
    assert f"(1 {NOT_COMPARABLE})" in out and "no cell moved" not in out
    assert "no cell compared: every cell in common ran on another host class" in out
    assert "Slow CPU, 2 CPUs, 8 GiB -> Fast CPU, 8 CPUs, 8 GiB" in out


def test_the_report_ranks_rows_within_each_host_class(tmp_path):
    records = [
        record("numpy", 1.0, SLOW),
        record("torch", 2.0, SLOW),
        record("numpy", 0.25, FAST),  # faster than everything on the slow class
        record("torch", 0.5, FAST),
    ]
    blocks = speed_blocks(ReportContext("xor", tmp_path, records, 1000.0), None)
    headings = [b.text for b in blocks if isinstance(b, Heading)]
    assert headings == ["Speed", "On Fast CPU, 8 CPUs, 8 GiB", "On Slow CPU, 2 CPUs, 8 GiB"]
    tables = [b for b in blocks if isinstance(b, Table)]
    ratio = tables[0].header.index("× fastest [95% CI]")
    share = tables[0].header.index("GFLOP/s (of ceiling)")
    for each in tables:  # each class has its own fastest, at 1, and torch at 2x it
        rows = {row[1]: row for row in each.rows}
        assert rows["numpy:eager"][ratio].startswith("1 ")
        assert rows["torch:eager"][ratio].startswith("2")
    # GFLOP/s against the row's own host's ceiling, never the run's (1000)
    assert tables[0].rows[0][share] == "50 (12.5%)" and tables[1].rows[0][share] == "50 (50.0%)"


class StubClient:
    """What Fanout asks of a Dask client: ``run`` (every worker's facts) and ``submit``
    (the task runs at once, in this process; on a ``failing`` worker it fails)."""

    def __init__(self, facts: dict[str, dict], failing: tuple[str, ...] = ()):
        self.facts, self.failing, self.measured_on = facts, failing, []

    def run(self, function, on_error):
        return self.facts

    def submit(self, function, *args, workers, **options):
        self.measured_on += workers
        if workers[0] in self.failing:
            return StubFuture(error=OSError("lost"))
        return StubFuture(function(*args))


class StubFuture:
    def __init__(self, value=None, error: Exception | None = None):
        self.value, self.error = value, error

    def result(self, timeout):
        if self.error:
            raise self.error
        return self.value

    def cancel(self):
        pass


def test_a_dask_driver_measures_each_host_once(monkeypatch):
    measured = {"threads": 1, "gflops_best": 9.0, "gflops_median": 8.0, "gemm_size": 64}
    monkeypatch.setattr(
        "benchmarks.ceiling.measure_in_subprocess", lambda n: {**measured, "threads": n}
    )
    machine = {k: v for k, v in SLOW.items() if k not in ("gemm_ceiling", "host_class")}
    fingerprint = {"python": "3.11", "framework-bench commit": "abc"}

    def worker(host):
        return {
            "host": host,
            "machine": machine,
            "fingerprint": fingerprint,
            "resources": {"bench_cell": 1},
        }

    facts = {
        "tcp://a1": worker("a"),
        "tcp://a2": worker("a"),
        "tcp://b1": worker("b"),
        "tcp://c1": worker("c"),
    }
    client = StubClient(facts, failing=("tcp://c1",))
    fanout = Fanout(client, "tcp://scheduler", None, fingerprint)
    said = []
    assert fanout.workers(say=said.append, force=True) == sorted(facts)
    assert client.measured_on == []  # nothing measured before the run gives its threads
    fanout.measure_hosts([1], known={**SLOW, "name": "b"})  # the driver's host: measured
    fanout.workers(say=said.append, force=True)
    assert client.measured_on == ["tcp://a1", "tcp://c1"]  # one worker per host, once
    assert fanout.hosts["a"]["gemm_ceiling"][0]["gflops_best"] == 9.0
    assert fanout.hosts["b"] is not None and fanout.hosts["c"]["gemm_ceiling"] == []


@pytest.mark.parametrize(
    ("field", "value"),
    [("usable_cpus", 0), ("logical_cpus", -2), ("memory_bytes", -5), ("gflops_best", 0.0)],
)
def test_a_host_block_of_impossible_counts_is_left_out_not_a_class_of_its_own(
    tmp_path, field, value
):
    path = write_run(tmp_path / "run", [record("numpy", 0.1, SLOW)])
    path = next(path.glob("*.json"))
    data = json.loads(path.read_text())
    if field == "gflops_best":
        data["host"]["gemm_ceiling"][0][field] = value
    else:
        data["host"][field] = value
    path.write_text(json.dumps(data))
    with pytest.raises(BadFile, match="host"):
        read_record(path)

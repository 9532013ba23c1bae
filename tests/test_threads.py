"""Threads: the default is every CPU the runner may use; ``--threads 1,2`` makes the
thread count a matrix dimension (distinct records, resume and compare by count, the
scaling chart); a bad list is refused before any work; records from before the count
was part of the cell still load, compare and report."""

from __future__ import annotations

import csv
import gzip
import json
import os
import shutil

import pytest

from benchmarks import cli
from benchmarks.compare import compare_runs
from benchmarks.records import Cell, load_run, new_record, write_json_atomic
from benchmarks.run_folder import open_for_run
from benchmarks.runner import RunOptions, _earlier_records
from shared.metadata import REPO_ROOT
from tests.cli_inprocess import assert_one_error_line, cli_main, forbid_work

SMALL_RUN = ("run", "--workload", "xor", "--variant", "momentum", "--backend", "numpy")
SMALL_RUN += ("--preset", "smoke", "--seeds", "0")
AFFINITY = len(os.sched_getaffinity(0))
BASELINE = REPO_ROOT / "results" / "baseline"


def test_the_default_is_every_usable_cpu_and_run_json_records_it(tmp_path):
    args = cli.build_parser().parse_args([*SMALL_RUN, "--out", str(tmp_path)])
    cli.check_run_options(args)
    assert args.threads == [AFFINITY]
    cells, _ = cli.plan(args)
    assert [(c.threads, c.threads_in_name) for c in cells] == [(AFFINITY, False)]
    # one count: the file name is the one it always was
    assert cells[0].file_name == "xor__momentum__numpy__eager__float32__seed0.json"
    _, lock_fd = open_for_run(tmp_path, args, cells, [], ["test"])
    os.close(lock_fd)
    info = json.loads((tmp_path / "run.json").read_text())
    assert info["threads"] == info["environment"]["threads"] == AFFINITY


@pytest.mark.parametrize("threads", ["0", "1,x", "1,,2", "", "-1", "2.5", f"1,{AFFINITY + 1}"])
def test_a_bad_thread_list_is_refused_before_any_work(threads, tmp_path, monkeypatch, capsys):
    forbid_work(monkeypatch)
    code, stderr = cli_main(capsys, *SMALL_RUN, "--threads", threads, "--out", tmp_path / "r")
    assert code == 2
    assert_one_error_line(stderr, "--threads must be a count or a comma list", "may use")
    assert not (tmp_path / "r").exists()


def test_two_thread_counts_run_apart_and_the_report_charts_them(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("benchmarks.options.usable_cpus", lambda: max(AFFINITY, 2))
    out = tmp_path / "run"
    code, stderr = cli_main(capsys, *SMALL_RUN, "--threads", "2,1", "--out", out)
    assert code == 0, stderr
    names = ["xor__momentum__numpy__eager__float32__threads1__seed0.json"]
    names.append(names[0].replace("threads1", "threads2"))
    assert sorted(path.name for path in out.glob("*__seed*.json")) == names
    for threads, name in enumerate(names, 1):
        record = json.loads((out / name).read_text())
        assert record["status"] == "ok" and record["threads"] == threads
        assert record["environment"]["threads"] == threads
        pools = record["environment"]["threads_in_effect"]["native_pools"]
        assert {p["library"]: p["threads"] for p in pools}["openblas"] == threads
    info = json.loads((out / "run.json").read_text())
    assert info["threads"] == [1, 2] and info["matrix"] == names
    report = (out / "report.md").read_text()
    assert "Steady step time against threads" in report and "numpy:eager at 2 threads" in report
    assert (out / "plots" / "xor__threads.png").stat().st_size > 0
    with (out / "summary.csv").open() as handle:
        assert [row["threads"] for row in csv.DictReader(handle)] == ["1", "2"]
    # --resume and compare pair the cells by thread count
    assert cli_main(capsys, *SMALL_RUN, "--threads", "2", "--out", out, "--resume")[0] == 2
    cells, _ = cli.plan(cli.build_parser().parse_args([*SMALL_RUN, "--threads", "1,2"]))
    assert sorted(_earlier_records(cells, RunOptions(out, resume=True))) == names
    assert compare_runs(out, out).compared == 2


def _without_thread_fields(record: dict) -> dict:
    return {
        key: value for key, value in record.items() if key not in ("threads", "threads_in_name")
    }


def test_records_from_before_the_thread_count_load_compare_and_report(tmp_path, capsys):
    """Two committed baseline records (1 thread, in their environment, and no count of
    their own), and a failed record with no environment in a 2-thread run."""
    old = tmp_path / "old"
    old.mkdir()
    shutil.copy(BASELINE / "run.json", old)
    for backend in ("numpy", "torch"):
        name = f"xor__momentum__{backend}__eager__float32__seed0.json.gz"
        assert "threads" not in json.loads(gzip.decompress((BASELINE / name).read_bytes()))
        shutil.copy(BASELINE / name, old)
    records = load_run(old).records
    assert [(r["threads"], r["threads_in_name"]) for r in records] == [(1, False)] * 2
    assert compare_runs(old, old).compared == 2
    assert cli.main(["report", str(old)]) == 0
    assert "threads per framework: 1" in (old / "report.md").read_text()
    # the same cells at 2 threads are other results: nothing to compare, and it says why
    new = tmp_path / "new"
    new.mkdir()
    for record in records:
        cell = Cell.of({**record, "threads": 2})
        write_json_atomic(new / cell.file_name, new_record(cell, "failed", "x", output_tail=""))
    code, stderr = cli_main(capsys, "compare", old, new)
    assert code == 2
    assert_one_error_line(stderr, "no cell in common", "ran at --threads 1", "at 2")
    # a record with no count and no environment takes its run's
    runner_written = _without_thread_fields(new_record(Cell.of(records[0]), "failed", "x"))
    write_json_atomic(new / Cell.of(records[0]).file_name, runner_written)
    write_json_atomic(new / "run.json", {"run_info_version": 2, "threads": 2, "argv": []})
    assert {r["threads"] for r in load_run(new).records} == {2}


def test_compare_with_no_cell_in_common_names_both_presets_and_counts(tmp_path, capsys):
    """The committed baseline (quick, 1 thread) against a smoke run at 2: say why."""
    cell = Cell("xor", "momentum", "numpy", "eager", "float32", 0, "quick", threads=1)
    runs = {"base": cell, "new": Cell.of({**cell.to_dict(), "preset": "smoke", "threads": 2})}
    for name, run_cell in runs.items():
        (tmp_path / name).mkdir()
        record = new_record(run_cell, "failed", "x", output_tail="")
        write_json_atomic(tmp_path / name / run_cell.file_name, record)
    code, stderr = cli_main(capsys, "compare", tmp_path / "base", tmp_path / "new")
    assert code == 2
    assert_one_error_line(stderr, "ran at --threads 1, preset quick;", "at 2, preset smoke")

"""Run folders: damaged or foreign files are named and left out; files are written
atomically with unique temporary names and the umask's mode; the rules for starting
and resuming a run, and the folder's lock. (Killing a runner mid-cell, end to end:
test_run_faults.py.)"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from benchmarks.cli import main
from benchmarks.records import Cell, new_record, write_json_atomic
from benchmarks.report.build import write_report

LOCK_HOLDER = """
import fcntl, json, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
os.write(fd, json.dumps({"pid": int(sys.argv[2])}).encode())
print("locked", flush=True)
time.sleep(float(sys.argv[3]))
"""


def cell(seed: int) -> Cell:
    return Cell("xor", "momentum", "numpy", "eager", "float32", seed, "smoke")


def failed(seed: int) -> dict:
    """A small record; not ok, so that a report draws no chart."""
    return new_record(cell(seed), "failed", "deliberate", output_tail="")


def xor_ok(seed: int) -> dict:
    epochs = [{"epoch": e, "loss": 1.0 / e, "seconds": 0.01} for e in range(1, 6)]
    metrics = {"final_loss": 0.2, "correct": 4, "solved": True, "epochs_to_target": 4}
    return new_record(cell(seed), "ok", epochs=epochs, metrics=metrics, timing={})


def write_run(folder: Path, seeds: range) -> Path:
    for seed in seeds:
        write_json_atomic(folder / cell(seed).file_name, failed(seed))
    return folder


def test_damaged_and_foreign_files_are_named_and_left_out(tmp_path, capsys):
    run = write_run(tmp_path / "run", range(2))
    good = (run / cell(1).file_name).read_bytes()
    (run / f"{cell(1).file_name}.gz").write_bytes(gzip.compress(good))  # the same cell twice
    damaged = {
        2: good[: len(good) // 2],  # truncated
        3: b"",  # empty
        4: b"[1, 2]",  # not an object
        5: json.dumps({**failed(5), "record_version": 99}).encode(),  # another schema
        6: b'{"hello": "world"}',  # foreign JSON
        8: json.dumps(failed(9)).encode(),  # another cell's record under this name
        10: json.dumps({**failed(10), "status": "ok"}).encode(),  # ok, but no timing
        11: json.dumps({**failed(11), "epochs": "none"}).encode(),  # a field of another type
    }
    for seed, data in damaged.items():
        (run / cell(seed).file_name).write_bytes(data)
    (run / f"{cell(7).file_name}.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")
    (run / "run.json").write_text('{"preset": "smo')
    names = [cell(seed).file_name for seed in damaged] + [f"{cell(7).file_name}.gz", "run.json"]

    assert main(["report", str(run)]) == 0
    errors = capsys.readouterr().err
    report = (run / "report.md").read_text()
    listed = report.split("Damaged or foreign files", 1)[1]
    for name in names:
        assert name in errors and name in listed
    rows = (run / "summary.csv").read_text().strip().splitlines()
    assert len(rows) == 1 + 2  # header, seeds 0 and 1 (once, though stored twice)

    shutil.copytree(run, tmp_path / "copy")
    assert main(["compare", str(run), str(tmp_path / "copy")]) == 0
    output = capsys.readouterr().out
    assert "compared 2 cells" in output and output.count("left out:") == 2 * len(names)


def test_records_outside_the_recorded_matrix_are_not_part_of_the_run(tmp_path, capsys):
    run = recorded_run(tmp_path / "run", range(2))
    write_json_atomic(run / cell(5).file_name, failed(5))  # from another matrix
    assert main(["report", str(run)]) == 0
    assert f"{cell(5).file_name}: not a cell of this run's run.json" in capsys.readouterr().err
    assert len((run / "summary.csv").read_text().strip().splitlines()) == 1 + 2
    assert "seed5" in (run / "report.md").read_text().split("Damaged or foreign files", 1)[1]


def test_a_damaged_run_json_is_kept_aside_on_resume(tmp_path):
    from benchmarks.run_folder import check_folder

    run = write_run(tmp_path, range(2))
    (run / "run.json").write_text("[")
    said: list[str] = []
    names = sorted(cell(seed).file_name for seed in range(2))
    assert check_folder(run, True, names, 1, said.append) == {}
    assert (run / "run.json.damaged").read_text() == "[" and not (run / "run.json").exists()
    assert len(said) == 1 and "run.json: not valid JSON" in said[0]


def test_six_concurrent_reports_of_one_folder_all_succeed(tmp_path):
    run = write_run(tmp_path, range(3))
    start, errors = threading.Barrier(6), []

    def report() -> None:
        start.wait()
        try:
            for _ in range(10):
                write_report(run)
        except Exception as error:  # collected: the assertion below names it
            errors.append(error)

    threads = [threading.Thread(target=report) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert not list(run.glob(".*tmp"))  # no temporary file left behind


def test_written_files_respect_the_umask(tmp_path):
    from benchmarks.workloads.dqn.loop import save_checkpoint
    from shared.cache import write_atomic as write_cache
    from shared.params import save_params

    previous = os.umask(0o027)
    try:
        run = write_run(tmp_path / "run", range(1))
        write_json_atomic(run / cell(1).file_name, xor_ok(1))  # a chart too
        write_report(run)
        save_checkpoint(tmp_path / "x.ckpt.npz", {"w": np.zeros(2)}, {}, {"step": 1})
        write_cache(tmp_path / "cache.npz", {"n": 1}, {"a": np.zeros(2)})
        save_params({"w": np.zeros(2)}, tmp_path / "params.npz")
    finally:
        os.umask(previous)
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert {p.name for p in written} >= {cell(0).file_name, "report.md", "summary.csv"}
    assert [p.suffix for p in written].count(".png") == 1
    modes = {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in written}
    assert set(modes.values()) == {oct(0o640)}, modes


def run_args(out: Path, *extra: str) -> list[str]:
    return [
        *("run", "--workload", "xor", "--variant", "momentum", "--backend", "numpy"),
        *("--preset", "smoke", "--seeds", "0-1", "--threads", "1", "--out", str(out), *extra),
    ]


def recorded_run(folder: Path, seeds: range, threads: int = 1) -> Path:
    """A folder holding a run of ``run_args`` over ``seeds`` (as run.json records it)."""
    write_run(folder, seeds)
    matrix = sorted(cell(seed).file_name for seed in seeds)
    info = {"run_info_version": 2, "matrix": matrix, "threads": threads, "argv": ["x"]}
    (folder / "run.json").write_text(json.dumps(info))
    return folder


def older_run(folder: Path, threads: int) -> Path:
    """Records from before the thread count was part of the cell (their environment has
    it) and no run.json: a run started before run.json recorded a matrix."""
    folder.mkdir()
    for seed in range(2):
        record = {k: v for k, v in failed(seed).items() if k not in ("threads", "threads_in_name")}
        write_json_atomic(
            folder / cell(seed).file_name, {**record, "environment": {"threads": threads}}
        )
    return folder


@pytest.mark.parametrize(
    ("setup", "extra", "message"),
    [
        (lambda path: None, ["--resume"], "is not a folder holding a run"),
        (lambda path: path.mkdir(), ["--resume"], "holds no run to finish"),
        (lambda path: recorded_run(path, range(2)), [], "already holds a run"),
        (lambda path: write_run(path, range(1)), [], "already holds a run"),
        (
            lambda path: recorded_run(path, range(3)),
            ["--resume"],
            "matrix differs from the one in run.json: 1 cell(s) "
            "(xor__momentum__numpy__eager__float32__seed2) only in the recorded run",
        ),
        (lambda path: recorded_run(path, range(2), 4), ["--resume"], "--threads 1 here, 4"),
        (  # no matrix recorded: the records must belong to this command's matrix
            lambda path: write_run(path, range(5, 6)),
            ["--resume"],
            "holds records of cells this command would not run: 1 cell(s)",
        ),
        (lambda path: older_run(path, 2), ["--resume"], "--threads 1 here, 2 in the recorded"),
    ],
    ids=["resume-missing", "resume-empty", "run-into-a-run", "run-into-records",
         "other-matrix", "other-threads", "foreign-records", "older-run-other-threads"],
)  # fmt: skip
def test_start_and_resume_rules_exit_2_before_any_work(tmp_path, capsys, setup, extra, message):
    out = tmp_path / "run"
    setup(out)
    before = sorted(out.rglob("*")) if out.exists() else None
    assert main(run_args(out, *extra)) == 2
    captured = capsys.readouterr()
    assert message in captured.err and "measuring" not in captured.out
    assert len(captured.err.strip().splitlines()) == 1 and captured.err.startswith("error: ")
    after = sorted(p for p in out.rglob("*") if p.name != ".lock") if out.exists() else None
    assert after == before  # nothing written, nothing started


def test_a_lock_held_by_a_dead_runners_cell_is_waited_for(tmp_path):
    from benchmarks.run_folder import lock_run_folder

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    holder = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, str(tmp_path / ".lock"), dead.stdout, "1.0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "locked"
    said: list[str] = []
    start = time.monotonic()
    fd = lock_run_folder(tmp_path, ["run"], said.append)
    assert time.monotonic() - start > 0.5  # it waited for the holder to exit
    assert said == [f"waiting for the cells of the killed runner of {tmp_path} (pid "
                    f"{int(dead.stdout)}) to exit"]  # fmt: skip
    os.close(fd)
    holder.wait()


@pytest.mark.parametrize(
    ("make_lock", "kind"),
    [
        (lambda lock, target: lock.symlink_to(target), "a symbolic link"),
        (lambda lock, target: lock.symlink_to(target.parent / "gone"), "a symbolic link"),
        (lambda lock, target: lock.mkdir(), "a folder"),
        (lambda lock, target: os.mkfifo(lock), "not a plain file"),
    ],
    ids=["symlink", "dangling-symlink", "folder", "fifo"],
)
def test_a_lock_file_that_is_not_a_plain_file_is_refused_and_named(
    tmp_path, capsys, monkeypatch, make_lock, kind
):
    """The runner writes its pid into the lock file: through a symbolic link it would
    overwrite another file (anything, as root)."""
    out, target = recorded_run(tmp_path / "run", range(2)), tmp_path / "precious.txt"
    target.write_text("not a lock")
    (out / ".lock").unlink(missing_ok=True)
    make_lock(out / ".lock", target)
    monkeypatch.setattr("benchmarks.cli.measure_ceilings", lambda *a: pytest.fail("measured"))
    assert main(run_args(out, "--resume")) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {out / '.lock'} is {kind}") and err.count("\n") == 1, err
    assert target.read_text() == "not a lock"


def _with(**fields):
    return lambda record: json.dumps({**record, **fields})


NESTED_DAMAGE = {  # a record of this version whose inner fields have other shapes
    "epoch-ints": _with(epochs=[1, 2, 3]),
    "epoch-rows-without-seconds": _with(epochs=[{"epoch": 1}] * 3),
    "timing-strings": _with(timing={"steady_median_s": "fast"}),
    "repeats-junk": _with(repeats=[1, "a"]),
    "metric-strings": _with(metrics={name: "abc" for name in xor_ok(0)["metrics"]}),
    "parity-junk": _with(parity={"within_tolerance": "maybe"}),
    "nested-too-deep": lambda record: "[" * 100_000 + "]" * 100_000,
    "integer-too-long": lambda record: '{"record_version": 1' + "0" * 5000 + "}",
}


@pytest.mark.parametrize("damage", NESTED_DAMAGE.values(), ids=NESTED_DAMAGE.keys())
def test_a_record_damaged_inside_is_named_and_left_out(tmp_path, capsys, damage):
    run = write_run(tmp_path / "run", range(1, 2))
    bad = run / cell(0).file_name
    bad.write_text(damage(xor_ok(0)))
    assert main(["report", str(run)]) == 0
    assert f"left out: {bad}" in capsys.readouterr().err
    assert len((run / "summary.csv").read_text().strip().splitlines()) == 1 + 1
    assert bad.name in (run / "report.md").read_text().split("Damaged or foreign files", 1)[1]
    shutil.copytree(run, tmp_path / "copy")
    assert main(["compare", str(run), str(tmp_path / "copy")]) == 0


RUN_INFO_DAMAGE = {
    "invocations-string": {"invocations": "abc"},
    "environment-list": {"environment": [1]},
    "ceiling-junk": {"gemm_ceiling": [1, "x"]},
    "threads-string": {"threads": "1"},
    "argv-number": {"argv": 5},
}


@pytest.mark.parametrize("fields", RUN_INFO_DAMAGE.values(), ids=RUN_INFO_DAMAGE.keys())
def test_a_run_json_damaged_inside_is_named_and_set_aside(tmp_path, capsys, fields):
    run = recorded_run(tmp_path / "run", range(2))
    info = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**info, **fields}))
    assert main(["report", str(run)]) == 0
    assert f"left out: {run / 'run.json'}: another schema" in capsys.readouterr().err
    shutil.copytree(run, tmp_path / "copy")
    assert main(["compare", str(run), str(tmp_path / "copy")]) == 0


@pytest.mark.parametrize(
    ("name", "make", "kind"),
    [
        (cell(0).file_name, Path.mkdir, "a folder where the run writes a file"),
        ("report.md", Path.mkdir, "a folder where the run writes a file"),
        ("logs", Path.touch, "a file where the run writes a folder"),
        ("plots", Path.touch, "a file where the run writes a folder"),
    ],
    ids=["record-folder", "report-folder", "logs-file", "plots-file"],
)
def test_an_output_of_the_other_kind_is_refused_before_any_work(
    tmp_path, capsys, monkeypatch, name, make, kind
):
    """Found after the ceiling and the cells before it, it stopped the run midway."""
    out = recorded_run(tmp_path / "run", range(2))
    (out / name).unlink(missing_ok=True)
    make(out / name)
    monkeypatch.setattr("benchmarks.cli.measure_ceilings", lambda *a: pytest.fail("measured"))
    assert main(run_args(out, "--resume")) == 2
    err = capsys.readouterr().err
    assert err == f"error: {out / name} is {kind}\n"


@pytest.mark.parametrize("with_run_json", [True, False], ids=["run.json", "records-only"])
def test_resume_with_another_preset_is_refused(tmp_path, capsys, monkeypatch, with_run_json):
    """Cell file names leave the preset out: a --resume at another preset kept the smoke
    records as the quick run's results."""
    out = recorded_run(tmp_path / "run", range(2))  # smoke records
    info = json.loads((out / "run.json").read_text())
    (out / "run.json").write_text(json.dumps({**info, "preset": "smoke"}))
    if not with_run_json:
        (out / "run.json").unlink()
    monkeypatch.setattr("benchmarks.cli.measure_ceilings", lambda *a: pytest.fail("measured"))
    args = [arg if arg != "smoke" else "quick" for arg in run_args(out, "--resume")]
    assert main(args) == 2
    err = capsys.readouterr().err
    expected = "--preset quick here, smoke" if with_run_json else "would not run: 2 cell(s)"
    assert err.startswith("error: ") and expected in err and err.count("\n") == 1


def test_a_fifo_named_like_a_record_or_run_json_is_left_out_not_waited_on(tmp_path, capsys):
    """Reading a FIFO waits for a writer that never comes: report hung forever."""
    run = write_run(tmp_path / "run", range(1, 2))
    for name in (cell(0).file_name, "run.json"):
        os.mkfifo(run / name)
    reader = threading.Thread(target=main, args=(["report", str(run)],), daemon=True)
    reader.start()
    reader.join(timeout=30)
    assert not reader.is_alive(), "report waited on a FIFO"
    err = capsys.readouterr().err
    for name in (cell(0).file_name, "run.json"):
        assert f"left out: {run / name}: not a regular file" in err


def test_a_record_of_another_preset_copied_into_a_run_is_left_out(tmp_path, capsys):
    """Cell file names leave the preset out: the report mixed the two presets' results."""
    run = recorded_run(tmp_path / "run", range(2))  # smoke records
    info = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**info, "preset": "quick"}))
    write_json_atomic(run / cell(1).file_name, {**failed(1), "preset": "quick"})
    assert main(["report", str(run)]) == 0
    err = capsys.readouterr().err
    assert f"{cell(0).file_name}: a cell at preset smoke, this run's is quick" in err
    assert len((run / "summary.csv").read_text().strip().splitlines()) == 1 + 1


def test_resume_counts_kept_rerun_damaged_and_missing_cells_apart(tmp_path, capsys):
    from benchmarks.runner import RunOptions, _earlier_records

    run = tmp_path / "run"
    write_json_atomic(run / cell(0).file_name, xor_ok(0))
    write_json_atomic(run / cell(1).file_name, failed(1))
    (run / cell(2).file_name).write_text("")  # damaged: runs again, counted as damaged
    found = _earlier_records([cell(seed) for seed in range(4)], RunOptions(run))
    assert sorted(found) == [cell(0).file_name, cell(1).file_name]
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line == (
        "resume: keeping 1 (1 ok); running again 1 (1 failed) and 1 damaged; not run yet 1"
    )

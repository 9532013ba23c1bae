"""Paths and output locations: relative paths mean the caller's directory, every output
location is checked before any work, and a write that fails midway (a full disk) ends
with one line, a non-zero status and no temporary file left behind."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from benchmarks.records import Cell, new_record
from shared.metadata import REPO_ROOT
from tests.cli_inprocess import assert_one_error_line, cli_main, forbid_work, write_checkpoint

SMALL_RUN = ("run", "--workload", "xor", "--variant", "momentum", "--backend", "numpy")
SMALL_RUN += ("--preset", "smoke")


@pytest.fixture
def read_only(monkeypatch: pytest.MonkeyPatch):
    """Makes a folder read-only, and refused by ``os.access`` as it is for any user but
    root (who may write into it, so the permission bits alone prove nothing there)."""
    locked: list[Path] = []
    real_access = os.access

    def access(path, mode, **kwargs):
        inside = any(Path(os.path.abspath(path)).is_relative_to(f) for f in locked)
        return False if inside and mode & os.W_OK else real_access(path, mode, **kwargs)

    def lock(folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o555)
        locked.append(folder)
        return folder

    monkeypatch.setattr(os, "access", access)
    yield lock
    for folder in locked:
        folder.chmod(0o755)  # so that pytest can remove it


@pytest.fixture
def a_file(tmp_path: Path) -> Path:
    path = tmp_path / "a-file"
    path.write_text("not a folder\n")
    return path


def test_relative_paths_mean_the_callers_directory(tmp_path):
    """From another directory: --out, BENCH_CACHE_DIR and compare's folders are the
    caller's; nothing lands in the repository (names unique, removed if it does)."""
    run, cache = f"relrun-{uuid.uuid4().hex[:8]}", f"relcache-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "BENCH_CACHE_DIR": cache}

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "benchmarks", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    try:
        result = cli(
            *("run", "--workload", "nbody", "--variant", "two-body", "--backend", "numpy"),
            *("--preset", "smoke", "--threads", "1", "--out", run),
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert not (REPO_ROOT / run).exists() and not (REPO_ROOT / cache).exists()
        (record,) = [json.loads(p.read_text()) for p in (tmp_path / run).glob("*__seed*.json")]
        assert record["status"] == "ok"
        assert list((tmp_path / cache).glob("nbody-*.npz"))
        # what BLAS really ran with, read back in the cell (the runner asked for 1)
        pools = record["environment"]["threads_in_effect"]["native_pools"]
        assert {p["library"]: p["threads"] for p in pools}["openblas"] == 1
        compared = cli("compare", run, run)
        assert compared.returncode == 0 and "compared 1 cells" in compared.stdout
    finally:
        for name in (run, cache):
            shutil.rmtree(REPO_ROOT / name, ignore_errors=True)


def test_a_leading_tilde_is_the_home_folder_in_path_options_and_the_cache(tmp_path, monkeypatch):
    """``--out=~/x`` and ``BENCH_CACHE_DIR="~/c"`` reach the program unexpanded; they
    must not create a folder named ``~`` in the caller's directory."""
    from benchmarks.cli import absolute_paths, build_parser
    from shared.cache import cache_dir

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    args = build_parser().parse_args(["compare", "~/base", "~"])
    absolute_paths(args)
    assert (args.base, args.new) == (tmp_path / "home" / "base", tmp_path / "home")
    monkeypatch.setenv("BENCH_CACHE_DIR", "~/cache dir")
    assert cache_dir() == tmp_path / "home" / "cache dir"


@pytest.mark.parametrize("where", ["a file", "under a file", "read-only"])
def test_run_checks_its_folder_before_any_work(
    where, a_file, read_only, tmp_path, monkeypatch, capsys
):
    out = {
        "a file": a_file,
        "under a file": a_file / "run",
        "read-only": read_only(tmp_path / "locked") / "run",
    }[where]
    forbid_work(monkeypatch)
    code, stderr = cli_main(capsys, *SMALL_RUN, "--out", out)
    assert code == 2
    assert_one_error_line(stderr, f"--out {out}")


@pytest.mark.parametrize(
    "where", ["a folder", "under a file", "read-only", "a FIFO", "a name too long"]
)
def test_evaluate_checks_its_out_before_playing(
    where, a_file, read_only, tmp_path, monkeypatch, capsys
):
    checkpoint = write_checkpoint(tmp_path / "agent.ckpt.npz")
    if where == "a FIFO":  # like /dev/null: the summary's rename would replace it
        os.mkfifo(tmp_path / "fifo")
    out = {
        "a folder": tmp_path,
        "under a file": a_file / "eval.json",
        "read-only": read_only(tmp_path / "locked") / "eval.json",
        "a FIFO": tmp_path / "fifo",
        # 255 bytes fit a name; its temporary file's (14 more) do not
        "a name too long": tmp_path / ("e" * 250 + ".json"),
    }[where]
    forbid_work(monkeypatch)
    code, stderr = cli_main(capsys, "evaluate", checkpoint, "--episodes", "1", "--out", out)
    assert code == 2
    assert_one_error_line(stderr, f"--out {out}")


def test_report_checks_its_folder_before_writing(read_only, tmp_path, monkeypatch, capsys):
    run = tmp_path / "run"
    run.mkdir()
    cell = Cell("xor", "momentum", "numpy", "eager", "float32", 0, "smoke")
    (run / cell.file_name).write_text(json.dumps(new_record(cell, "failed", "for the test")))
    read_only(run)
    forbid_work(monkeypatch)
    code, stderr = cli_main(capsys, "report", run)
    assert code == 2
    assert_one_error_line(stderr, f"{run} is not writable")


@pytest.mark.parametrize("where", ["under a file", "read-only"])
def test_an_unwritable_dataset_cache_is_refused_before_the_matrix(
    where, a_file, read_only, tmp_path, monkeypatch, capsys
):
    cache = {
        "under a file": a_file / "cache",
        "read-only": read_only(tmp_path / "locked") / "cache",
    }[where]
    monkeypatch.setenv("BENCH_CACHE_DIR", str(cache))
    forbid_work(monkeypatch)
    args = ("run", "--workload", "nbody", "--backend", "numpy", "--preset", "smoke")
    code, stderr = cli_main(capsys, *args, "--out", tmp_path / "run")
    assert code == 2
    assert_one_error_line(stderr, f"the dataset cache {cache}", "BENCH_CACHE_DIR")


def no_space_on_fsync(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every file written through ``write_json_atomic`` fails as on a full disk, after its
    data went to the temporary file (the moment a torn file would be left)."""

    def fsync(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", fsync)


def leftovers(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.endswith(".tmp") or ".tmp." in p.name]


def test_a_full_disk_during_a_run_ends_with_one_line_and_no_temporary_file(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setattr("benchmarks.cli.measure_ceilings", lambda *args: [])
    no_space_on_fsync(monkeypatch)
    out = tmp_path / "run"
    code, stderr = cli_main(capsys, *SMALL_RUN, "--out", out)
    assert code == 1
    assert_one_error_line(stderr, "No space left on device", str(out))
    assert leftovers(tmp_path) == []
    assert not (out / "run.json").exists()  # never a torn file under the real name


def test_a_full_disk_after_evaluate_played_keeps_the_printed_scores(tmp_path, monkeypatch, capsys):
    """The episodes themselves are not what is tested: one short fake episode."""
    checkpoint = write_checkpoint(tmp_path / "agent.ckpt.npz")
    episode = {"score": 5.0, "agent_steps": 100, "frames": 425, "truncated": False}
    monkeypatch.setattr("benchmarks.workloads.dqn.evaluate.evaluate", lambda *args: [episode])
    no_space_on_fsync(monkeypatch)
    out = tmp_path / "eval.json"
    capsys.readouterr()
    from benchmarks.cli import main

    code = main(["evaluate", str(checkpoint), "--episodes", "1", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 1
    assert "episode 1: score" in captured.out and "score " in captured.out
    assert_one_error_line(captured.err, "No space left on device", "printed above")
    assert not out.exists() and leftovers(tmp_path) == []


def test_the_atomic_writer_never_replaces_what_is_not_a_regular_file(tmp_path):
    """``--out /dev/null`` as root had /dev/null replaced by a regular file: the writer
    renames its temporary file over the target. A FIFO stands in for the device."""
    from shared.files import write_atomic

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="not a regular file"):
        write_atomic(fifo, "summary")
    assert fifo.is_fifo() and os.listdir(tmp_path) == ["fifo"]  # no temporary file left


@pytest.mark.parametrize(
    "args",
    [
        (*SMALL_RUN, "--out", ""),
        (*SMALL_RUN, "--out", "x", "--compare", " "),
        ("report", ""),
        ("compare", "", "x"),
        ("evaluate", "x.npz", "--out", ""),
    ],
    ids=["run --out", "run --compare", "report", "compare", "evaluate --out"],
)
def test_an_empty_path_is_refused_not_taken_as_the_current_folder(
    args, tmp_path, monkeypatch, capsys
):
    """``--out "$UNSET"`` ran the whole matrix into the current folder."""
    from benchmarks.cli import main

    monkeypatch.chdir(tmp_path)
    forbid_work(monkeypatch)
    with pytest.raises(SystemExit) as exit_:
        main(list(args))
    assert exit_.value.code == 2
    assert "an empty path" in capsys.readouterr().err and os.listdir(tmp_path) == []

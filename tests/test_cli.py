"""Bad input exits with status 2 and the valid names, before any framework is imported."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from shared.metadata import REPO_ROOT

FRAMEWORKS = ("torch", "jax", "tensorflow", "keras", "flax", "optax")
# Runs the CLI in a fresh interpreter, then reports its exit status and which
# frameworks ended up imported.
PROBE = """
import runpy, sys
sys.argv = ["benchmarks", *sys.argv[1:]]
try:
    runpy.run_module("benchmarks", run_name="__main__")
    code = 0
except SystemExit as exit_:
    code = exit_.code
imported = [m for m in {frameworks!r} if m in sys.modules]
print("EXIT", code, "IMPORTED", ",".join(imported) or "-")
"""


def run_cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, list[str], str]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(frameworks=FRAMEWORKS), *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )
    last = result.stdout.strip().splitlines()[-1].split()
    imported = [] if last[3] == "-" else last[3].split(",")
    return int(last[1]), imported, result.stderr


@pytest.mark.parametrize(
    ("args", "valid_names"),
    [
        (["run", "--workload", "mnist"], ["copynet", "xor", "nbody"]),
        (["run", "--backend", "numpy,caffe"], ["numpy", "torch", "jax", "keras"]),
        (["run", "--backend", "torch", "--mode", "turbo"], ["eager", "compile"]),
        (["run", "--dtype", "float16"], ["float32", "float64"]),
        (["run", "--preset", "huge"], ["smoke", "quick", "full"]),
        (["run", "--workload", "xor", "--variant", "nonsense"], ["momentum", "online"]),
        (["run", "--workload", "nbody", "--variant", "four-body"], ["two-body", "breen"]),
    ],
)
def test_unknown_name_exits_2_with_valid_names_and_imports_nothing(args, valid_names):
    code, imported, stderr = run_cli(*args)
    assert code == 2
    assert imported == []
    for name in valid_names:
        assert name in stderr


@pytest.mark.parametrize(
    "args",
    [
        ["run", "--seeds", "a-b"],
        ["run", "--threads", "0"],
        ["run", "--timeout", "-1"],
        ["run", "--resume"],
        ["run", "--backend", "python", "--workload", "xor"],
        ["report", "/nonexistent/run"],
    ],
)
def test_bad_options_exit_2_before_any_work(args):
    code, imported, stderr = run_cli(*args)
    assert code == 2
    assert imported == []
    assert stderr.startswith("error:")


def test_list_names_everything_without_importing_frameworks():
    code, imported, _ = run_cli("list")
    assert code == 0
    assert imported == []


def test_a_dataset_that_would_not_fit_in_memory_exits_2_before_any_work(tmp_path):
    out = tmp_path / "run"
    code, imported, stderr = run_cli(
        "run", "--workload", "nbody", "--preset", "smoke", "--out", str(out),
        env={"BENCH_MEMORY_BYTES": "100000"},
    )  # fmt: skip
    assert code == 2
    assert imported == []
    assert "nbody/two-body at preset smoke" in stderr and "would not fit in memory" in stderr
    assert not out.exists()


def test_output_into_a_closed_pipe_is_one_error_line_and_exit_1():
    """`list | head` once head has quit: one line, no traceback, no exit-time flush error."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # closed before the child writes: its first write fails (EPIPE)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "benchmarks", "list"],
            cwd=REPO_ROOT,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    finally:
        os.close(write_end)
    assert result.returncode == 1
    assert result.stderr == "error: the output could not be written: [Errno 32] Broken pipe\n"


def test_list_names_the_default_preset(capsys):
    from benchmarks.cli import main

    assert main(["list"]) == 0
    assert "presets: smoke, brief (the default), quick, full\n" in capsys.readouterr().out

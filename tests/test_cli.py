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


# --------------------------------------------------------------- long-run presets


def main_output(capsys, *args: object) -> tuple[int, str, str]:
    """``(exit status, stdout, stderr)`` of the command line run in this process."""
    from benchmarks.cli import main

    capsys.readouterr()
    code = main([str(arg) for arg in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_long_run_preset_with_every_workload_plans_only_the_dqn_cells(
    tmp_path, monkeypatch, capsys
):
    """``--workload all`` (the default) at ``learn``: the workloads that define it, each
    backend once, in its default mode (``--mode auto``)."""
    from shared import registry
    from tests.cli_inprocess import forbid_work

    forbid_work(monkeypatch)
    out = tmp_path / "run"
    code, stdout, stderr = main_output(
        capsys, "run", "--preset", "learn", "--dry-run", "--out", out
    )
    assert code == 0, stderr
    assert not out.exists() and "at preset learn" in stdout
    cells = [line.split() for line in stdout.splitlines() if " seed " in line]
    names = [next(word for word in words if "/" in word and ":" not in word) for words in cells]
    labels = [words[words.index(name) + 1] for words, name in zip(cells, names, strict=True)]
    assert names and all(name == "dqn/space-invaders" for name in names)
    backends = [label.split(":")[0] for label in labels]
    assert len(backends) == len(set(backends)) and "numpy" in backends
    for label in labels:
        backend, mode = label.split(":")
        assert mode == registry.get(backend).default_mode, label


@pytest.mark.parametrize("workloads", ["xor", "dqn,xor"])
def test_a_workload_without_the_preset_is_refused_naming_its_presets(
    workloads, monkeypatch, capsys
):
    from benchmarks.workloads import get_workload
    from tests.cli_inprocess import assert_one_error_line, forbid_work

    forbid_work(monkeypatch)
    code, _, stderr = main_output(capsys, "run", "--workload", workloads, "--preset", "learn")
    assert code == 2
    presets = ", ".join(get_workload("xor").presets)
    assert_one_error_line(stderr, "workload xor has no preset 'learn'", f"(its presets: {presets})")


def test_an_unknown_preset_is_refused_naming_the_long_run_ones(monkeypatch, capsys):
    from tests.cli_inprocess import assert_one_error_line, forbid_work

    forbid_work(monkeypatch)
    code, _, stderr = main_output(capsys, "run", "--preset", "nosuch", "--dry-run")
    assert code == 2
    assert_one_error_line(stderr, "unknown preset 'nosuch'", "smoke", "learn")


def test_list_names_each_long_run_preset_and_its_workloads(capsys):
    from benchmarks.workloads import PRESETS, all_presets, workloads

    code, stdout, _ = main_output(capsys, "list")
    assert code == 0
    long_runs = [preset for preset in all_presets() if preset not in PRESETS]
    assert "learn" in long_runs
    for preset in long_runs:
        line = next(line for line in stdout.splitlines() if line.startswith(f"  {preset}: "))
        owners = sorted(w.name for w in workloads().values() if preset in w.presets)
        assert sorted(line.split(": ")[-1].split(", ")) == owners, line
    assert "dqn" in next(line for line in stdout.splitlines() if line.startswith("  learn: "))

"""`benchmarks compare` flags a slowdown or a changed result, and nothing else."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from shared.metadata import REPO_ROOT


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "benchmarks", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def base_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("base")
    result = cli(
        "run",
        "--workload",
        "copynet,xor",
        "--variant",
        "reward,momentum",
        "--backend",
        "numpy",
        "--preset",
        "smoke",
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def edited_copy(base, target, edit):
    shutil.copytree(base, target)
    for path in target.glob("xor__*.json"):
        record = json.loads(path.read_text())
        edit(record)
        path.write_text(json.dumps(record))
    return target


def test_identical_runs_are_quiet(base_run, tmp_path):
    same = edited_copy(base_run, tmp_path / "same", lambda record: None)
    result = cli("compare", str(base_run), str(same), "--fail-on-change")
    assert result.returncode == 0, result.stdout
    assert "no cell moved" in result.stdout


def test_an_injected_slowdown_is_flagged(base_run, tmp_path):
    def slow_down(record):
        for row in record["epochs"]:
            row["seconds"] *= 1.5

    slow = edited_copy(base_run, tmp_path / "slow", slow_down)
    result = cli("compare", str(base_run), str(slow), "--fail-on-change")
    assert result.returncode == 1
    assert "xor/momentum numpy:eager" in result.stdout and "slower" in result.stdout
    assert "copynet" not in result.stdout.split("\n", 1)[1]  # untouched cells stay quiet
    assert cli("compare", str(base_run), str(slow)).returncode == 0  # reports, no failure


def test_a_changed_result_is_flagged(base_run, tmp_path):
    def worse(record):
        record["metrics"]["final_loss"] *= 1.01
        record["metrics"]["solved"] = not record["metrics"]["solved"]

    changed = edited_copy(base_run, tmp_path / "changed", worse)
    result = cli("compare", str(base_run), str(changed))
    assert "metric final_loss" in result.stdout and "metric solved" in result.stdout


def test_bad_run_folders_exit_2(tmp_path):
    assert cli("compare", str(tmp_path), str(tmp_path)).returncode == 2

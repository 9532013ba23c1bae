"""A sixth workload added from the tests folder by its package and one registration line
(``BENCH_WORKLOADS``), run through ``python -m benchmarks run`` and ``report`` on numpy,
torch, jax and keras: every cell ok, parity within tolerance, and its own report section."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.records import load_records
from tests.toy_workload.workload import SECTION_TITLE

REPO = Path(__file__).resolve().parent.parent
BACKENDS = ("numpy", "torch", "jax", "keras")
REGISTRATION = {"BENCH_WORKLOADS": "tests.toy_workload"}  # the one registration line


def bench(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "benchmarks", *args],
        cwd=REPO,
        env={**os.environ, **(env or REGISTRATION)},
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("toy") / "run"
    ran = bench(
        "run",
        "--workload",
        "toy-linear",
        "--backend",
        ",".join(BACKENDS),
        "--preset",
        "smoke",
        "--threads",
        "1",
        "--out",
        str(out),
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    return out


def test_every_cell_of_the_toy_workload_runs_with_parity(toy_run: Path) -> None:
    records = load_records(toy_run)
    assert sorted(r["backend"] for r in records) == sorted(BACKENDS)
    for record in records:
        assert record["status"] == "ok", (record["backend"], record["reason"])
        assert record["metrics"]["max_weight_error"] < 0.5
        parity = record["parity"]
        if record["backend"] == "numpy":
            assert parity == {"reference": True}
        else:
            assert parity["within_tolerance"], (record["backend"], parity)


def test_the_report_holds_the_toy_workloads_own_section(toy_run: Path) -> None:
    reported = bench("report", str(toy_run))
    assert reported.returncode == 0, reported.stderr
    assert SECTION_TITLE in (toy_run / "report.md").read_text()


def test_a_bad_registration_is_one_line_and_exit_2() -> None:
    for value in ("tests.no_such_package", "json"):
        listed = bench("list", env={"BENCH_WORKLOADS": value})
        assert listed.returncode == 2
        assert listed.stderr.count("\n") == 1 and value in listed.stderr, listed.stderr


def test_without_the_registration_the_toy_is_unknown() -> None:
    ran = bench("list", env={"BENCH_WORKLOADS": ""})
    assert ran.returncode == 0 and "toy-linear" not in ran.stdout
    assert "toy-linear" in bench("list").stdout

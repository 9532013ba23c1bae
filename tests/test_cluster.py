"""A run fanned out on Dask distributed (benchmarks.cluster): a LocalCluster of 2 workers
gives the serial run's statuses and float64 metrics, survives a worker killed mid-cell,
listens on the loopback only; bad cluster options are refused before any work.

One serial and one cluster run serve the first test's three checks (one test, so that
pytest-xdist never runs them twice): smoke cells of the NumPy backend and of the fake one.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from benchmarks.runner import RunOptions, run_cells
from benchmarks.schema import Cell
from tests.cli_inprocess import assert_one_error_line, cli_main, forbid_work
from tests.test_runner import launch

pytest.importorskip("distributed")
psutil = pytest.importorskip("psutil")

MATRIX = ("--workload", "copynet,xor", "--variant", "supervised,momentum", "--dtype", "float64")
SMOKE = (*MATRIX, "--preset", "smoke", "--threads", "1")
# The fake backend's slow mode: 200 XOR epochs of 10 ms, long enough to be killed in.
SLOW = {"FAKE_SLOW_EPOCH_S": "0.01"}
KILLED = ('"workload": "xor"', '"mode": "slow"')  # the cell whose worker the test kills
SERIAL = [
    Cell("copynet", "supervised", "numpy", "eager", "float64", 0, "smoke"),
    Cell("xor", "momentum", "numpy", "eager", "float64", 0, "smoke"),
]


def _records(out: Path) -> dict[tuple[str, str, str], dict]:
    found = {}
    for path in out.glob("*__seed*.json"):
        record = json.loads(path.read_text())
        found[(record["workload"], record["backend"], record["mode"])] = record
    return found


def _worker_running(marks: tuple[str, ...]) -> int | None:
    """The pid of the Dask worker whose cell process has every one of ``marks`` in its
    command line (the cell names its runner, the worker, in BENCH_RUNNER_PID)."""
    for process in psutil.process_iter(["cmdline", "environ"]):
        command = " ".join(process.info["cmdline"] or [])
        if "benchmarks.cell" in command and all(mark in command for mark in marks):
            runner = (process.info["environ"] or {}).get("BENCH_RUNNER_PID")
            if runner:
                return int(runner)
    return None


def _listening(root: int) -> list[str]:
    """Every address that ``root`` and its descendants listen on (TCP), as ip:port."""
    tree = psutil.Process(root)
    addresses = []
    for process in [tree, *tree.children(recursive=True)]:
        for connection in process.net_connections(kind="inet"):
            if connection.status == psutil.CONN_LISTEN:
                addresses.append(f"{connection.laddr.ip}:{connection.laddr.port}")
    return addresses


def _run_both(tmp_path: Path):
    """The serial run's folder, the cluster run's, what the cluster run printed, what its
    processes listened on, and the records on disk (path -> (mtime, text)) when the test
    killed the worker. The serial reference runs its cells here, without the CLI's
    ceiling and report, while the cluster run finishes."""
    serial, spread = tmp_path / "serial", tmp_path / "cluster"
    cluster_args = ("--backend", "numpy,fake", "--mode", "eager,slow", "--local-cluster", "2")
    process = launch("run", *SMOKE, *cluster_args, "--out", str(spread), env=SLOW)
    deadline, worker = time.monotonic() + 120, None
    while worker is None and time.monotonic() < deadline and process.poll() is None:
        worker = _worker_running(KILLED)
        time.sleep(0.05)
    assert worker is not None, process.communicate(timeout=60)[0]
    listening = _listening(process.pid)
    before = {p: (p.stat().st_mtime_ns, p.read_text()) for p in spread.glob("*__seed*.json")}
    os.kill(worker, signal.SIGKILL)
    serial.mkdir()
    run_cells(SERIAL, RunOptions(serial))
    output, _ = process.communicate(timeout=180)
    assert process.returncode == 0, output
    return serial, spread, output, listening, before


def test_local_cluster_matches_the_serial_run_survives_a_killed_worker_on_loopback(tmp_path):
    serial, spread, output, listening, before = _run_both(tmp_path)
    _same_as_serial(serial, spread, output)
    _killed_cell_ran_again(spread, output, before)
    _loopback_only(spread, listening)


def _same_as_serial(serial: Path, spread: Path, output: str) -> None:
    alone, fanned = _records(serial), _records(spread)
    for key in (("copynet", "numpy", "eager"), ("xor", "numpy", "eager")):
        assert fanned[key]["status"] == alone[key]["status"] == "ok"
        assert fanned[key]["metrics"] == alone[key]["metrics"]  # float64, bit for bit
        cluster = fanned[key]["cluster"]
        assert cluster["shared_host"] is True and cluster["attempts"] == 1
        assert fanned[key]["environment"]["shared_host"] is True
        assert fanned[key]["environment"]["host"] == cluster["host"]
        # the driver's host block: measured once, by the driver, on the host it shares
        assert fanned[key]["host"]["name"] == cluster["host"]
        assert fanned[key]["host"]["gemm_ceiling"]
        # the cell's thread variables are the run's, not the ones Dask sets in workers
        assert "MALLOC_TRIM_THRESHOLD_" not in fanned[key]["environment"]["thread_env"]
    assert "shared host: not comparable" in (spread / "report.md").read_text()
    lines = [line for line in output.splitlines() if line.startswith("[")]
    assert len(lines) == 4 and all(" on tcp://127.0.0.1:" in line for line in lines), output


def _killed_cell_ran_again(spread: Path, output: str, before: dict) -> None:
    """A worker killed mid-cell: every finished record stays as it was, and the cell
    runs once more (its record says so)."""
    killed = _records(spread)[("xor", "fake", "slow")]
    assert killed["status"] == "ok", killed
    assert killed["cluster"]["attempts"] == 2
    assert "worker was lost" in killed["cluster"]["retried_because"]
    assert "running it once more" in output
    for path, (mtime, text) in before.items():  # kept, and never written again
        assert path.stat().st_mtime_ns == mtime and path.read_text() == text
    ran = [r for r in _records(spread).values() if "cluster" in r]
    assert len(ran) == 4 and all(r["status"] == "ok" for r in ran)


def _loopback_only(spread: Path, listening: list[str]) -> None:
    assert listening  # the scheduler, the nannies and the workers
    assert all(address.startswith("127.0.0.1:") for address in listening), listening
    for record in _records(spread).values():
        if "cluster" not in record:
            continue  # not applicable: written by the driver, never sent
        assert record["cluster"]["scheduler"].startswith("tcp://127.0.0.1:")
        assert record["cluster"]["worker"].startswith("tcp://127.0.0.1:")


@pytest.mark.parametrize(
    ("options", "phrase"),
    [
        (("--local-cluster", "0"), "--local-cluster must be between 1 and"),
        (("--local-cluster", "1", "--scheduler", "tcp://127.0.0.1:1"), "exclude each other"),
        (("--scheduler", "127.0.0.1:8786"), "must look like tcp://HOST:PORT"),
        (("--scheduler", "tcp://127.0.0.1:1"), "no Dask scheduler answered"),
        (("--tls-cert", "c.pem"), "go with --scheduler tls://"),
        (("--scheduler", "tls://127.0.0.1:1"), "no certificates"),
    ],
)
def test_bad_cluster_options_are_refused_before_any_work(
    options, phrase, capsys, monkeypatch, tmp_path
):
    forbid_work(monkeypatch)
    monkeypatch.setattr("benchmarks.cluster.CONNECT_TIMEOUT_S", 1.0)
    out = tmp_path / "run"
    code, stderr = cli_main(capsys, "run", *SMOKE, "--backend", "numpy", "--out", out, *options)
    assert code == 2
    assert_one_error_line(stderr, phrase)
    assert not (out / "run.json").exists()


def test_a_worker_with_other_versions_or_no_cell_resource_is_refused():
    from benchmarks.cluster import refusal

    driver = {"python": "3.11.9", "numpy": "2.4.6", "framework-bench commit": "abc"}
    fits = {"host": "h", "fingerprint": dict(driver), "resources": {"bench_cell": 1}}
    assert refusal(fits, driver) is None
    older = {**fits, "fingerprint": {**driver, "numpy": "2.4.5"}}
    assert refusal(older, driver) == (
        "versions differ from the driver's: numpy 2.4.6 here, 2.4.5 there"
    )
    assert "no bench_cell resource" in refusal({**fits, "resources": {}}, driver)


def test_local_cluster_workers_start_ignoring_ctrl_c(monkeypatch):
    """The terminal sends Ctrl-C to the whole foreground group: the workers started
    meanwhile inherit SIGINT ignored, the driver alone handles it and closes them."""
    import distributed

    from benchmarks import cluster

    seen = []

    def fake_cluster(**kwargs):
        seen.append(signal.getsignal(signal.SIGINT))
        raise RuntimeError("no cluster in this test")

    monkeypatch.setattr(distributed, "LocalCluster", fake_cluster)
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(RuntimeError, match="no cluster"):
        cluster.start_local_cluster(2)
    assert seen == [signal.SIG_IGN] and signal.getsignal(signal.SIGINT) is before

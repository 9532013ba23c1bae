"""End to end: a runner killed mid-cell (SIGKILL, SIGTERM) leaves no cell behind, a
second runner on the same folder is refused, and ``--resume`` finishes the run without
touching a record finished before the kill. Also: the GEMM-ceiling process dies with
its runner whatever signal the runner got.

The matrix is the fake backend's (tests/fake_backend.py), so that the cell running at
the kill is certain to be alive for longer than the 5 s the test watches it; the small
``BENCH_GEMM_SIZE`` of tests/conftest.py keeps each run's ceiling measurement short.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.test_runner import launch, run

pytestmark = pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs /proc")

CELL = "copynet__supervised__fake__{}__float32__seed0.json"
SURVIVAL_WINDOW_S = 5.0
MEASURING_RSS_MB = 70  # NumPy and three float32 matrices of at least 2048x2048


def matrix(out: Path, modes: str) -> tuple[str, ...]:
    # Cells run in the order of ``modes``; each test ends it with the slow cell it kills.
    return (
        *("run", "--workload", "copynet", "--variant", "supervised", "--backend", "fake"),
        *("--mode", modes, "--preset", "smoke", "--threads", "1", "--out", str(out)),
    )


def processes(*needles: str) -> dict[int, list[str]]:
    """Live processes whose command line contains every one of ``needles``."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue  # exited meanwhile
        if all(any(needle in arg for arg in argv) for needle in needles):
            found[int(entry.name)] = argv
    return found


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        return bool(Path(f"/proc/{pid}/cmdline").read_bytes())  # empty: a zombie
    except OSError:
        return False


def gone_within(pids: list[int], seconds: float) -> list[int]:
    """The pids still alive after ``seconds`` (returns as soon as none is)."""
    deadline = time.monotonic() + seconds
    alive = [pid for pid in pids if _alive(pid)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.05)
        alive = [pid for pid in alive if _alive(pid)]
    return alive


def records(out: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in out.glob("*__seed*.json")}


def start_and_wait_for_the_slow_cell(args: tuple[str, ...], out: Path) -> subprocess.Popen:
    """The runner, once its slow cell (1 s an epoch, 20 epochs) is training."""
    runner = launch(*args, env={"FAKE_SLOW_EPOCH_S": "1"})
    slow_cell = str(out / CELL.format("slow"))
    wait_for(
        lambda: processes("benchmarks.cell", slow_cell) and (out / ".cell-progress").exists(),
        120,
        "the slow cell to train",
    )
    return runner


def kill_and_check_no_cell_survives(runner: subprocess.Popen, kill: int, out: Path) -> str:
    cells = list(processes("benchmarks.cell", str(out)))
    assert cells
    runner.send_signal(kill)
    output, _ = runner.communicate(timeout=60)
    assert gone_within(cells, SURVIVAL_WINDOW_S) == [], "a cell outlived its runner"
    assert not processes("benchmarks.cell", str(out))
    return output


def resume(args: tuple[str, ...]) -> tuple[int, str]:
    return run(*args, "--resume", env={"FAKE_SLOW_EPOCH_S": "0"})


def test_sigkill_mid_cell_then_resume_keeps_every_finished_record(tmp_path):
    out = tmp_path / "run"
    args = matrix(out, "ok,nan,crash,slow")  # ok, diverged, failed, then killed
    runner = start_and_wait_for_the_slow_cell(args, out)
    before = records(out)
    kill_and_check_no_cell_survives(runner, signal.SIGKILL, out)
    assert runner.returncode == -signal.SIGKILL
    assert set(before) == {CELL.format(mode) for mode in ("ok", "nan", "crash")}
    assert records(out) == before  # the killed cell wrote nothing
    crash = out / CELL.format("crash")
    crash.write_text(before[crash.name].decode()[:50])  # damaged: left out, run again

    code, output = resume(args)  # at once: the lock is free as soon as the cell is dead
    assert code == 1, output  # the crash cell ran again and failed again
    assert f"left out: {crash}: not valid JSON" in output
    assert "kept from the earlier run: diverged (loss not finite at epoch 3)" in output
    after = records(out)
    for mode in ("ok", "nan"):  # finished before the kill: untouched
        assert after[CELL.format(mode)] == before[CELL.format(mode)]
    assert json.loads(after[CELL.format("slow")])["status"] == "ok"
    assert json.loads(after[crash.name])["status"] == "failed"
    info = json.loads((out / "run.json").read_text())
    first, second = info["invocations"]
    assert info["started"] == first["started"] and second["resume"] is True
    assert first["outcome"] is None and first["gemm_ceiling"]  # killed: no end recorded
    assert second["outcome"] == "finished" and second["gemm_ceiling"]


def test_sigterm_mid_cell_and_a_second_runner_is_refused(tmp_path):
    out = tmp_path / "run"
    args = matrix(out, "ok,slow")
    runner = start_and_wait_for_the_slow_cell(args, out)
    code, output = run(*args)
    assert code == 2, output
    assert f"is locked by pid {runner.pid}" in output and "measuring" not in output
    before = records(out)
    output = kill_and_check_no_cell_survives(runner, signal.SIGTERM, out)
    assert runner.returncode == 128 + signal.SIGTERM, output
    assert "interrupted by SIGTERM" in output and f"--resume --out {out}" in output
    assert records(out) == before == {CELL.format("ok"): before[CELL.format("ok")]}
    assert not (out / ".cell-progress").exists()  # the killed cell's live epoch count

    code, output = resume(args)
    assert code == 0, output
    assert records(out)[CELL.format("ok")] == before[CELL.format("ok")]
    assert json.loads(records(out)[CELL.format("slow")])["status"] == "ok"
    first, _ = json.loads((out / "run.json").read_text())["invocations"]
    assert first["outcome"] == "interrupted by SIGTERM"


def test_a_process_a_cell_started_dies_with_a_killed_runner(tmp_path):
    """The kernel kills the cell of a runner killed by SIGKILL; what the cell started
    (a framework's compile worker) must die with it, not live on with parent 1."""
    out, tag = tmp_path / "run", f"fake-worker-{tmp_path.name}"
    env = {"FAKE_SLOW_EPOCH_S": "1", "FAKE_WORKER_TAG": tag}
    runner = launch(*matrix(out, "slow"), env=env)
    wait_for(lambda: processes(tag), 120, "the cell's worker to start")
    workers = list(processes(tag))
    runner.send_signal(signal.SIGKILL)
    runner.communicate(timeout=60)
    assert gone_within(workers, SURVIVAL_WINDOW_S) == [], "the cell's worker outlived it"
    assert not processes("benchmarks.cell", str(out))


@pytest.mark.parametrize("kill", [signal.SIGKILL, signal.SIGHUP], ids=["SIGKILL", "SIGHUP"])
def test_the_ceiling_measurement_dies_with_its_runner(tmp_path, kill):
    out = tmp_path / "run"
    # 3000x3000: seconds of matmuls, so that the measurement would outlive the window.
    runner = launch(*matrix(out, "ok"), env={"BENCH_GEMM_SIZE": "3000"})
    ceiling: list[int] = []

    def measuring() -> bool:  # its matrices allocated: well past its start
        ceiling[:] = [
            pid
            for pid in processes("benchmarks.ceiling")
            if _parent(pid) == runner.pid and _rss_mb(pid) > MEASURING_RSS_MB
        ]
        return bool(ceiling)

    wait_for(measuring, 60, "the ceiling measurement")
    runner.send_signal(kill)
    output, _ = runner.communicate(timeout=60)
    assert gone_within(ceiling, 0.5) == [], "the measurement outlived its runner"
    if kill == signal.SIGHUP:
        assert runner.returncode == 128 + signal.SIGHUP, output
        assert "interrupted by SIGHUP" in output


def _parent(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def _rss_mb(pid: int) -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    rss = [line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")]
    return int(rss[0]) / 1024 if rss else 0.0

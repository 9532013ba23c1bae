"""``run --dry-run``, the table of measured cell times behind it, its refresh command and
the runner's longest-first order. No cell runs: tables and run folders are written by
hand into tmp_path, and the runner's work is replaced by tripwires or recorders."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import cell_times, cli
from benchmarks.cell_times import Measurement, Table, cell_key, read_table
from benchmarks.estimates import Ceiling, estimate_cell, estimate_run
from benchmarks.records import Cell, new_record, write_json_atomic
from benchmarks.workloads import get_workload
from tests.cli_inprocess import assert_one_error_line, forbid_work
from tests.test_cli import run_cli

XOR_SMOKE = ("run", "--workload", "xor", "--backend", "numpy", "--preset", "smoke")
# Seconds per variant in the hand-made table: a run lists and runs them longest first.
VARIANT_S = {"momentum": 10.0, "online": 20.0, "single-layer": 5.0}
OVERHEAD_S = 7.0


def xor_cell(variant: str, preset: str = "smoke", seed: int = 0) -> Cell:
    return Cell("xor", variant, "numpy", "eager", "float32", seed, preset)


def measurement(wall_s: float, **fields) -> Measurement:
    values = dict(threads=1, fixed_s=1.0, steps=None, ceiling_share=None, processes=1, run="r")
    return Measurement(wall_s=wall_s, **{**values, **fields})


@pytest.fixture
def table_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A table of every xor smoke variant on numpy (``VARIANT_S``) in the committed
    table's place; no run folder under the results folder (no ceiling known here)."""
    rows = {cell_key(xor_cell(variant)): [measurement(s)] for variant, s in VARIANT_S.items()}
    path = tmp_path / "cell_times.json"
    write_json_atomic(path, Table({"r": {"overhead_s": OVERHEAD_S}}, rows).to_json())
    monkeypatch.setattr(cell_times, "TABLE_PATH", path)
    monkeypatch.setattr(cli, "RESULTS_DIR", tmp_path / "results")
    return path


def run_main(capsys: pytest.CaptureFixture, *args: object) -> tuple[int, str, str]:
    """``(exit status, stdout, stderr)`` of ``python -m benchmarks ARGS`` in this process."""
    capsys.readouterr()
    code = cli.main([str(arg) for arg in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_dry_run_lists_every_cell_longest_first_with_the_total_and_writes_nothing(
    table_path, tmp_path, monkeypatch, capsys
):
    forbid_work(monkeypatch)
    out = tmp_path / "run"
    code, stdout, stderr = run_main(capsys, *XOR_SMOKE, "--out", out, "--dry-run")
    assert code == 0, stderr
    assert not out.exists()
    listed = [line for line in stdout.splitlines() if " xor/" in line]
    variants = [line.split("xor/")[1].split()[0] for line in listed]
    assert variants == sorted(VARIANT_S, key=lambda v: -VARIANT_S[v])  # one seed each
    assert all("measured" in line and "UNMEASURED" not in line for line in listed)
    total = sum(VARIANT_S.values()) + OVERHEAD_S
    assert f"estimated total: 42 s ({total:.0f} s)" in stdout


def test_dry_run_imports_no_framework_and_creates_no_folder(tmp_path):
    """In a fresh interpreter, with the committed table: exit 0, nothing imported."""
    out = tmp_path / "run"
    args = ("--workload", "xor,copynet", "--backend", "torch,jax", "--preset", "smoke")
    code, imported, stderr = run_cli("run", *args, "--out", str(out), "--dry-run")
    assert (code, imported) == (0, []), stderr
    assert not out.exists()


@pytest.mark.parametrize(
    ("options", "phrase"),
    [
        (("--threads", "0"), "--threads"),
        (("--ceiling", "-3"), "--ceiling"),
        (("--timeout", "-1"), "--timeout"),
        (("--resume",), "--resume needs --out"),
    ],
)
def test_dry_run_refuses_bad_options_as_a_run_does(
    table_path, options, phrase, monkeypatch, capsys
):
    forbid_work(monkeypatch)
    code, _, stderr = run_main(capsys, *XOR_SMOKE, *options, "--dry-run")
    assert code == 2
    assert_one_error_line(stderr, phrase)


def test_dry_run_refuses_a_folder_holding_a_run_without_resume(
    table_path, tmp_path, monkeypatch, capsys
):
    forbid_work(monkeypatch)
    out = tmp_path / "run"
    out.mkdir()
    write_json_atomic(
        out / xor_cell("momentum").file_name, new_record(xor_cell("momentum"), "failed")
    )
    code, _, stderr = run_main(capsys, *XOR_SMOKE, "--out", out, "--dry-run")
    assert code == 2
    assert_one_error_line(stderr, "already holds a run")


def test_a_compute_bound_cell_scales_by_the_ratio_of_the_ceilings():
    """wall 10 s, fixed 2 s, measured where the ceiling was 100 GFLOP/s; here 50."""
    cell = xor_cell("momentum")
    here = Ceiling(50.0, "test")
    runs = {"r": {"gemm_gflops": 100.0}}

    def seconds(share, ceiling):
        table = Table(runs, {cell_key(cell): [measurement(10.0, fixed_s=2.0, ceiling_share=share)]})
        return estimate_cell(cell, table, 1, ceiling, 600.0, None).seconds

    assert seconds(0.5, here) == pytest.approx(2.0 + 8.0 * 100.0 / 50.0)
    assert seconds(0.05, here) == pytest.approx(10.0)  # dispatch-bound: the ceiling is moot
    assert seconds(0.5, None) == pytest.approx(10.0)  # no ceiling known here


def test_an_unmeasured_cell_comes_from_another_preset_or_its_timeout_and_says_so():
    """Measured at quick only: smoke is scaled by the steps; nothing measured at all: the
    timeout, an upper bound."""
    xor = get_workload("xor")
    quick_steps, smoke_steps = (xor.training_steps("momentum", p) for p in ("quick", "smoke"))
    row = measurement(40.0, fixed_s=4.0, steps=quick_steps)
    table = Table({}, {cell_key(xor_cell("momentum", "quick")): [row]})
    cells = [xor_cell("momentum"), xor_cell("online")]
    estimates = dict(estimate_run(cells, table).cells)

    scaled = estimates[cells[0]]
    assert scaled.seconds == pytest.approx(4.0 + 36.0 * smoke_steps / quick_steps)
    assert not scaled.measured and scaled.basis.startswith("UNMEASURED: from preset quick")
    bound = estimates[cells[1]]
    assert bound.seconds == xor.timeout_s("smoke") and bound.upper_bound
    assert bound.basis.startswith("UNMEASURED")


def _write_run(folder: Path, walls: dict[int, float], repeat_wall: float) -> None:
    """A finished run of xor momentum on numpy at smoke, seeds ``walls`` (seed -> process
    wall seconds; seed 0 also ran a second process of ``repeat_wall``), plus a failed
    online cell; the GEMM ceiling was 100 GFLOP/s and the run took 60 s."""
    ceiling = [{"threads": 1, "gemm_size": 64, "gflops_best": 100.0, "gflops_median": 90.0}]
    environment = {"cpu": "test CPU", "logical_cpus": 2, "threads": 1}
    timing = {"import_s": 1.0, "build_s": 0.5, "prepare_s": 0.5, "gflops": 40.0}
    for seed, wall in walls.items():
        timing = {**timing, "train_total_s": wall - 2.0}  # 2 s outside the loop
        repeats = [{"status": "ok", "process_wall_s": repeat_wall, "steady_epoch_s": []}]
        record = new_record(
            xor_cell("momentum", seed=seed),
            "ok",
            timing=timing,
            metrics={},
            process_wall_s=wall,
            repeats=repeats if seed == 0 else [],
        )
        write_json_atomic(folder / record_name(record), record)
    failed = new_record(xor_cell("online"), "failed", process_wall_s=3.0)
    write_json_atomic(folder / record_name(failed), failed)
    invocation = {
        "argv": [],
        "started": "2026-11-29T10:00:00+0000",
        "ended": "2026-11-29T10:01:00+0000",
        "outcome": "finished",
        "environment": environment,
        "gemm_ceiling": ceiling,
    }
    info = {"run_info_version": 2, "preset": "smoke", "threads": 1, **invocation}
    write_json_atomic(folder / "run.json", {**info, "invocations": [invocation]})


def record_name(record: dict) -> str:
    return Cell.of(record).file_name


def test_the_refresh_command_builds_the_table_from_run_folders(tmp_path, capsys):
    first, second, table = tmp_path / "first", tmp_path / "second", tmp_path / "t.json"
    _write_run(first, {0: 10.0, 1: 14.0}, repeat_wall=12.0)
    _write_run(second, {0: 30.0}, repeat_wall=30.0)
    code, _, stderr = run_main(capsys, "estimates", "--from", first, "--table", table)
    assert code == 0, stderr

    built = read_table(table)
    (key,) = built.cells  # the failed online cell is no measurement
    (row,) = built.cells[key]
    assert key == cell_key(xor_cell("momentum"))
    assert (row.wall_s, row.fixed_s, row.processes) == (12.0, 2.0, 3)  # median of 10, 12, 14
    assert row.ceiling_share == pytest.approx(0.4)
    assert row.steps == get_workload("xor").training_steps("momentum", "smoke")
    assert built.runs["first"]["overhead_s"] == pytest.approx(60.0 - 36.0 - 3.0)
    assert built.runs["first"]["gemm_gflops"] == 100.0

    # A later run's cell replaces the earlier one's, and the earlier run is dropped.
    assert run_main(capsys, "estimates", "--from", second, "--table", table)[0] == 0
    refreshed = read_table(table)
    assert [m.wall_s for m in refreshed.cells[key]] == [30.0] and list(refreshed.runs) == ["second"]


def test_the_refresh_command_refuses_a_folder_without_a_run(tmp_path, capsys):
    code, _, stderr = run_main(capsys, "estimates", "--from", tmp_path / "nowhere")
    assert code == 2
    assert_one_error_line(stderr, "nowhere")


def test_the_runner_runs_the_longest_cells_first(table_path, tmp_path, monkeypatch, capsys):
    """The real run command, its cells recorded instead of run: the order of the dry
    run, longest first, and their estimates passed on for the progress's ETA."""
    ran: list[Cell] = []
    passed: dict[str, float] = {}

    def run_cells(cells, options, estimates):
        ran.extend(cells)
        passed.update(estimates)
        return []

    monkeypatch.setattr(cli, "measure_ceilings", lambda *args: [])
    monkeypatch.setattr("benchmarks.runner.run_cells", run_cells)
    monkeypatch.setattr("benchmarks.report.build.write_report", lambda *args: tmp_path / "r.md")
    code, _, stderr = run_main(capsys, *XOR_SMOKE, "--out", tmp_path / "run")
    assert code == 0, stderr
    assert [cell.variant for cell in ran] == sorted(VARIANT_S, key=lambda v: -VARIANT_S[v])
    assert passed == {xor_cell(v).file_name: s for v, s in VARIANT_S.items()}


def test_the_refresh_command_keeps_each_thread_count_of_a_threads_matrix_run(tmp_path, capsys):
    run, table = tmp_path / "scaling", tmp_path / "t.json"
    run.mkdir()
    for threads, wall in ((1, 10.0), (2, 6.0)):
        cell = Cell("xor", "momentum", "numpy", "eager", "float32", 0, "smoke", threads, True)
        record = new_record(cell, "ok", timing={}, metrics={}, process_wall_s=wall)
        write_json_atomic(run / record_name(record), record)
    write_json_atomic(
        run / "run.json", {"run_info_version": 2, "preset": "smoke", "threads": [1, 2]}
    )
    code, _, stderr = run_main(capsys, "estimates", "--from", run, "--table", table)
    assert code == 0, stderr
    rows = read_table(table).cells[cell_key(xor_cell("momentum"))]
    assert [(m.threads, m.wall_s) for m in rows] == [(1, 10.0), (2, 6.0)]


def test_a_cell_resumed_from_a_checkpoint_is_no_measurement_of_the_whole_cell(tmp_path):
    """Its process timed only the steps after the checkpoint: a DQN smoke cell resumed at
    step 200 of 300 ran 15 s of the 56 s a whole one takes."""
    _write_run(tmp_path, {}, repeat_wall=0.0)
    for seed, wall, resumed in ((0, 15.0, 200), (1, 56.0, None)):
        cell = Cell("dqn", "space-invaders", "numpy", "eager", "float32", seed, "smoke")
        timing = {"play_total_s": wall - 10.0, "first_epoch_s": float("nan")}
        record = new_record(cell, "ok", timing=timing, metrics={}, process_wall_s=wall)
        record["resumed_from_step"] = resumed
        write_json_atomic(tmp_path / record_name(record), record)
    measured = cell_times.measure_run(tmp_path)[1]
    (row,) = measured.values()
    assert (row.wall_s, row.processes) == (56.0, 1)


def test_dry_run_resumes_a_run_of_one_thread_count(table_path, tmp_path, monkeypatch, capsys):
    """run.json records one count as an int: the dry run compared it with the list
    ``[1]`` and refused every such resume ("--threads 1 here, 1 in the recorded run")."""
    from benchmarks.run_folder import matrix_fields

    forbid_work(monkeypatch)
    out = tmp_path / "run"
    out.mkdir()
    matrix = matrix_fields([xor_cell(v) for v in VARIANT_S], [], "smoke", [1])
    write_json_atomic(out / "run.json", {"run_info_version": 2, **matrix, "invocations": []})
    args = (*XOR_SMOKE, "--out", out, "--resume", "--dry-run", "--threads")
    code, stdout, stderr = run_main(capsys, *args, "1")
    assert code == 0, stderr
    assert "estimated total" in stdout
    code, _, stderr = run_main(capsys, *args, "2")  # another count: refused
    assert code == 2
    assert_one_error_line(stderr, "--threads 2 here, 1 in the recorded run")

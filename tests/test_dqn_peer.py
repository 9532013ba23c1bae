"""``python -m benchmarks dqn-peer``: Stable-Baselines3's DQN (the sb3 extra, in the
suite's environment) plays the smoke preset into a run folder, and the report's DQN
table shows it as a reference row; bad input exits with status 2 before any work."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.cli import main
from benchmarks.document import to_markdown
from benchmarks.report.context import ReportContext
from benchmarks.workloads.dqn import peer
from benchmarks.workloads.dqn.cell import steady_agent_steps_per_s
from benchmarks.workloads.dqn.report import dqn_sections, peer_mismatch
from shared.metadata import REPO_ROOT
from tests.cli_inprocess import WorkStarted

SMOKE = ("--preset", "smoke", "--threads", "1")


def dqn_table(run_dir: Path) -> str:
    return to_markdown(dqn_sections(ReportContext("dqn", run_dir, [], None)))


def test_smoke_peer_writes_its_record_and_the_report_shows_it(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    assert "dqn-peer --out RUN_DIR" in dqn_table(run_dir)  # absent: how to add it
    scratch = tmp_path / "tmp"  # its TMPDIR: SB3's default logger made a folder there
    scratch.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", "dqn-peer", "--out", str(run_dir), *SMOKE],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TMPDIR": str(scratch)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert not list(scratch.glob("SB3-*"))  # no log folder of SB3 left in /tmp
    record = json.loads((run_dir / peer.PEER_FILE).read_text())
    timing = record["timing"]
    assert record["versions"]["stable-baselines3"] == "2.9.2"
    assert record["threads"] == 1
    assert record["threads_in_effect"]["frameworks"]["torch"]["intra_op"] == 1
    assert record["agent_steps"] == 300 and record["emulator_frames"] >= 1200
    assert timing["learning_agent_steps"] == 200 and record["td_steps"] == 50
    assert 0 < timing["learning_first_calls_s"] < timing["learning_s"]
    assert record["parameters"] == 1_816_998  # our Nature network's count for 6 actions
    assert record["sb3_settings"]["learning_starts"] == 100
    # sb3_settings' schedule gives our epsilon (ours decays from the end of the random steps)
    assert set(record["epsilon_at"]) == {"100", "200", "299"}
    for step, epsilon in record["epsilon_at"].items():
        assert epsilon == pytest.approx(record["epsilon_ours"][step], abs=1e-9)
    speed = steady_agent_steps_per_s(timing)
    assert speed is not None and speed > 0
    table = dqn_table(run_dir)
    row = next(line for line in table.splitlines() if peer.PEER_LABEL in line)
    assert f"| {speed:.3g} |" in row
    assert "is no backend of this suite" in table
    (run_dir / peer.PEER_FILE).write_text('{"peer_version": 1, "timing": [1]}')
    assert "reference row is left out" in dqn_table(run_dir)  # damaged: said, not shown


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--out", "{missing}"], "does not exist"),
        (["--out", "{xor run}"], "holds a run with no dqn cell, so its report would not"),
        (["--out", "{run}", "--preset", "huge"], "no preset 'huge'"),
        (["--out", "{run}", "--threads", "0"], "--threads must be between 1"),
        (["--out", "{run}", "--seed", "-1"], "--seed must be between"),
        (
            ["--out", "{run}", "--sb3-missing"],
            "stable_baselines3 not installed: pip install -e '.[sb3]' (the sb3 extra)",
        ),
    ],
)
def test_bad_input_exits_2_before_any_work(
    args: list[str],
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def tripwire(*args: object, **kwargs: object) -> None:
        raise WorkStarted("SB3 started before the input was refused")

    monkeypatch.setattr(peer, "measure_peer", tripwire)
    monkeypatch.setattr(peer, "lock_run_folder", tripwire)
    if "--sb3-missing" in args:
        args = [arg for arg in args if arg != "--sb3-missing"]
        monkeypatch.setattr(peer, "_installed", lambda name: name != "stable_baselines3")
    (tmp_path / "run").mkdir()
    (tmp_path / "xor").mkdir()
    matrix = ["xor__momentum__numpy__eager__float32__seed0.json"]
    (tmp_path / "xor" / "run.json").write_text(json.dumps({"preset": "smoke", "matrix": matrix}))
    paths = {"{missing}": str(tmp_path / "missing"), "{run}": str(tmp_path / "run")}
    paths["{xor run}"] = str(tmp_path / "xor")
    assert main(["dqn-peer", *(paths.get(arg, arg) for arg in args)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and message in error and error.count("\n") == 1


# A hand-edited peer file of the right version: each field the report reads, of another
# JSON type (or a learning time no longer than its first calls).
GOOD_TIMING = {"learning_agent_steps": 200, "learning_s": 2.0, "learning_first_calls_s": 0.5}


@pytest.mark.parametrize(
    "edit",
    [
        {"timing": {**GOOD_TIMING, "learning_agent_steps": "200"}},
        {"timing": {**GOOD_TIMING, "steady_median_s": "fast"}},
        {"timing": {**GOOD_TIMING, "learning_first_calls_s": 2.0}},
        {"environment": ["vm"]},
        {"versions": "2.9.2"},
        {"peak_rss_mb": "412"},
        {"threads": "2"},
    ],
)
def test_a_hand_edited_peer_file_is_left_out_with_the_reason(tmp_path: Path, edit: dict) -> None:
    good = {"peer_version": 1, "timing": GOOD_TIMING, "metrics": {"episodes": 1}}
    (tmp_path / peer.PEER_FILE).write_text(json.dumps(good))
    assert peer.PEER_LABEL in dqn_table(tmp_path)  # the unedited file is shown
    (tmp_path / peer.PEER_FILE).write_text(json.dumps({**good, **edit}))
    assert "The reference row is left out" in dqn_table(tmp_path)


def test_a_peer_of_another_preset_or_thread_count_is_not_shown_beside_the_cells() -> None:
    cells = [{"workload": "dqn", "preset": "brief", "threads": 2}]
    played = {"preset": "brief", "threads": 2}
    assert peer_mismatch(played, cells) is None
    assert peer_mismatch(played, []) is None  # no cells: nothing to differ from
    for other in ({"preset": "smoke"}, {"threads": 1}):
        why = peer_mismatch({**played, **other}, cells)
        assert why is not None and "this run's DQN cells: preset brief at 2 thread(s)" in why


def test_a_damaged_run_json_is_refused_not_read_as_the_brief_preset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def tripwire(*args: object, **kwargs: object) -> None:
        raise WorkStarted("SB3 started before the input was refused")

    monkeypatch.setattr(peer, "measure_peer", tripwire)
    monkeypatch.setattr(peer, "lock_run_folder", tripwire)
    (tmp_path / "run.json").write_text('{"preset": "smo')  # a run of unknown preset
    assert main(["dqn-peer", "--out", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert "run.json" in error and "give --preset and --threads" in error
    with pytest.raises(WorkStarted):  # both given: nothing left to read from it
        main(["dqn-peer", "--out", str(tmp_path), "--preset", "smoke", "--threads", "1"])


def test_an_interrupted_peer_does_not_tell_to_resume_a_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(peer, "measure_peer", interrupted)  # Ctrl-C while SB3 plays
    assert main(["dqn-peer", "--out", str(tmp_path), "--preset", "smoke"]) == 130
    error = capsys.readouterr().err
    assert error.startswith("interrupted") and "--resume" not in error
    assert not (tmp_path / peer.PEER_FILE).exists()

"""Figures of a resumed DQN cell: its per-step means divide this process's seconds by this
process's steps, not by the whole cell's (a run resumed at step 200 of 300 reported a game
step 3x too fast), and a process that played nothing reports no mean, not 0 s."""

from __future__ import annotations

import pytest

from benchmarks.workloads.dqn.cell import dqn_timing
from benchmarks.workloads.dqn.loop import DQNHistory
from benchmarks.workloads.dqn.workload import DQN


@pytest.fixture(scope="module")
def config():
    return DQN().dqn_config("space-invaders", "smoke")


def test_a_resumed_run_means_its_own_game_steps(config) -> None:
    history = DQNHistory(agent_steps=300, first_step=200, game_seconds=1.0)
    timing = dqn_timing(history, config)
    assert timing["game_step_mean_s"] == pytest.approx(0.01)  # 1 s over 100 steps, not 300


def test_a_run_resumed_at_its_last_step_reports_no_means(config) -> None:
    timing = dqn_timing(DQNHistory(agent_steps=300, first_step=300), config)
    assert timing["game_step_mean_s"] is None
    assert timing["replay_sample_mean_s"] is None
    assert timing["td_steps"] == 0


@pytest.mark.parametrize("preset", ["brief", "smoke"])
def test_only_presets_with_periodic_checkpoints_resume(preset, tmp_path) -> None:
    """A brief cell rerun after it failed past its final checkpoint starts over: resumed
    at its last step it would record ok with no TD step timed."""
    from benchmarks.records import Cell
    from benchmarks.workloads.dqn.checkpoint import BadCheckpoint

    cell = Cell("dqn", "space-invaders", "numpy", "eager", "float32", 0, preset)
    record = tmp_path / cell.file_name
    run = DQN().start(cell, record)
    run.path.write_bytes(b"not read unless the cell resumes")
    if preset == "brief":
        run.prepare({})
        assert run.first_step == 0
    else:
        with pytest.raises(BadCheckpoint):
            run.prepare({})

"""No steady or throughput figure of any workload includes a first call into the
framework (tracing and compiling): each workload's real loop runs at a tiny size with
every compiled-looking function slow on its first call only (tests/fake_backend.py),
and its figures are checked against a bound that the sleep would break or against the
same run without the sleep; the first-call fields carry the sleep."""

from __future__ import annotations

import dataclasses
import time

import pytest

from benchmarks.cell import run_cell
from benchmarks.document import Table
from benchmarks.dqn import play
from benchmarks.dqn_cell import dqn_timing, steady_agent_steps_per_s
from benchmarks.records import Cell
from benchmarks.report import dqn_blocks
from benchmarks.search import run_search
from benchmarks.search_cell import search_timing
from benchmarks.timing import CallClock
from shared.digits import split_digits
from shared.metaqnn import EpsilonSchedule
from shared.workloads.search import Search
from tests import fake_backend
from tests.fake_backend import SlowFirstCalls
from tests.test_dqn_driver import CONFIG, ScriptedAgent

AGENT_FUNCTIONS = ("q_values", "td_step", "sync_target")
# Learning starts at agent step 40, inside the first episode (50 agent steps: 200
# frames); the first target sync (step 60) falls in the second, so every agent
# function's first call lies in the agent steps counted with learning on.
DQN_CONFIG = dataclasses.replace(
    CONFIG,
    agent_steps=140,
    random_steps=40,
    epsilon_steps=20,
    target_every=60,
    atari=dataclasses.replace(CONFIG.atari, max_episode_frames=200),
)


def test_call_clock_keeps_each_first_call_apart() -> None:
    clock = CallClock()
    before = time.perf_counter()
    assert clock.call("f", lambda x: x + 1, 1) == 2
    clock.call("g", time.sleep, 0.02)
    between = time.perf_counter()
    clock.call("f", time.sleep, 0.0)
    assert len(clock.all_s("f")) == 2 and clock.steady_s("f") == clock.all_s("f")[1:]
    assert clock.first_s("g") >= 0.02 and clock.steady_s("g") == [] and clock.first_s("h") is None
    assert clock.first_calls_s(before) == pytest.approx(clock.first_s("f") + clock.first_s("g"))
    assert clock.first_calls_s(between) == 0.0  # f's second call is no first call
    assert set(clock.first_fields()) == {"first_f_s", "first_g_s"}


@pytest.fixture(scope="module")
def dqn_clean():
    """The DQN loop's timing and episodes with no slow first call, and the sleep the
    slow runs use: three times the clean run's learning time, so that a first call
    folded into a speed would cut it to a quarter or less."""
    history = play(ScriptedAgent(6), DQN_CONFIG, seed=0)
    sleep = max(0.3, 3 * history.learning_seconds)
    return dqn_timing(history, DQN_CONFIG), history.episodes, sleep


@pytest.mark.parametrize("slow", AGENT_FUNCTIONS)
def test_dqn_figures_leave_a_slow_first_call_out(dqn_clean, slow: str) -> None:
    clean, clean_episodes, sleep = dqn_clean
    agent = SlowFirstCalls(ScriptedAgent(6), (slow,), sleep)
    history = play(agent, DQN_CONFIG, seed=0)
    timing = dqn_timing(history, DQN_CONFIG)
    # generous against a loaded machine: a folded-in first call gives 0.25 or less
    assert timing["agent_steps_per_s"] > 0.5 * clean["agent_steps_per_s"], (slow, sleep)
    assert len(history.episodes) == len(clean_episodes) == 2
    for row, clean_row in zip(history.episodes, clean_episodes, strict=True):
        assert row["agent_steps_per_s"] > 0.4 * clean_row["agent_steps_per_s"], (slow, row)
    for steady in ("act_median_s", "steady_median_s"):
        assert timing[steady] < sleep / 2, steady
    assert timing["samples_per_s"] > DQN_CONFIG.batch_size / (sleep / 2)
    assert timing[f"first_{slow}_s"] >= sleep
    assert timing["learning_first_calls_s"] >= sleep
    assert {f"first_{name}_s" for name in AGENT_FUNCTIONS} <= set(timing)
    if slow == "td_step":
        assert timing["first_epoch_s"] == timing["first_td_step_s"]


@pytest.mark.parametrize(
    ("workload", "variant"),
    [("copynet", "supervised"), ("copynet", "reward"), ("xor", "momentum")],
)
def test_supervised_figures_leave_a_slow_first_call_out(
    monkeypatch: pytest.MonkeyPatch, workload: str, variant: str
) -> None:
    # seed 1: no parity check after the timed loop (it would build the model again)
    cell = Cell(workload, variant, "fake", "ok", "float64", 1, "smoke")
    clean = run_cell(cell, 1, fake_backend.__name__)
    # four times the clean run's slowest epoch: a folded-in first call breaks the bounds
    sleep = max(0.3, 4 * max(row["seconds"] for row in clean["epochs"]))
    monkeypatch.setattr(fake_backend, "FIRST_CALL_S", sleep)
    record = run_cell(dataclasses.replace(cell, mode="slow-first"), 1, fake_backend.__name__)
    assert record["status"] == "ok", record.get("reason")
    timing = record["timing"]
    for steady in ("steady_median_s", "steady_min_s", "step_median_s"):
        assert timing[steady] < sleep / 2, steady
    assert timing["samples_per_s"] > timing["steps_per_epoch"] / (sleep / 2)
    assert timing["first_epoch_s"] >= sleep
    assert all(row["seconds"] < sleep / 2 for row in record["epochs"][1:])


def test_search_figures_leave_a_slow_first_call_out(monkeypatch: pytest.MonkeyPatch) -> None:
    workload = Search()
    config = dataclasses.replace(  # one episode per agent: up to three candidates
        workload.search_config("digits", "smoke"), schedule=EpsilonSchedule(((1.0, 1),))
    )
    data = workload.training_data("digits", "smoke", 0)
    validation = split_digits(config.split, 0)
    clean = run_search(fake_backend, config, data, validation, "float64", "ok", 0)
    slowest = max(
        max(row["first_epoch_s"], row["first_eval_s"]) for row in clean.candidates.values()
    )
    sleep = max(0.3, 4 * slowest)  # a folded-in first call breaks the bounds below
    monkeypatch.setattr(fake_backend, "FIRST_CALL_S", sleep)
    history = run_search(fake_backend, config, data, validation, "float64", "slow-first", 0)
    assert list(history.candidates) == list(clean.candidates)
    for row in history.candidates.values():  # every candidate is a new model: compiled anew
        assert row["steady_epoch_median_s"] < sleep / 2, row["key"]
        assert row["steady_eval_s"] < sleep / 2, row["key"]
        assert row["first_epoch_s"] >= sleep and row["first_eval_s"] >= sleep
    timing = search_timing(history)
    assert timing["median_steady_epoch_s"] < sleep / 2
    assert timing["median_steady_eval_s"] < sleep / 2
    assert timing["mean_first_eval_s"] >= sleep


def test_report_agent_steps_per_s_leave_every_first_call_out() -> None:
    """The report computes agent steps/s from the record's fields: every first call
    inside the learning time left out, or for an older record (no
    ``learning_first_calls_s``) the first TD step, as before."""
    timing = {
        "learning_agent_steps": 400,
        "learning_s": 70.0,
        "first_epoch_s": 50.0,
        "first_td_step_s": 50.0,
        "first_q_values_s": 15.0,
        "learning_first_calls_s": 65.0,
        "act_median_s": 0.002,
    }
    record = {
        **dataclasses.asdict(
            Cell("dqn", "space-invaders", "torch", "compile", "float32", 0, "smoke")
        ),
        "status": "ok",
        "timing": timing,
        "metrics": {},
    }
    [table] = [block for block in dqn_blocks([record], None) if isinstance(block, Table)]
    row = dict(zip(table.header, table.rows[0], strict=True))
    assert row["agent steps/s, learning on"] == "80"  # 400 / (70 - 65)
    assert row["first greedy action"] == "15 s" and row["first TD step"] == "50 s"
    older = {key: timing[key] for key in ("learning_agent_steps", "learning_s", "first_epoch_s")}
    assert steady_agent_steps_per_s(older) == pytest.approx(20.0)  # 400 / (70 - 50)

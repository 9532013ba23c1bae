"""No steady or throughput figure of any workload includes a first call into the
framework (tracing and compiling): each workload's real loop runs at a tiny size with
every compiled-looking function slow on its first call only (tests/fake_backend.py),
and its figures must equal those of the same run without the slow first call; the
first-call fields carry it.

The loops run on a virtual clock (``virtual_clock``): ``time.perf_counter`` advances a
fixed tick per reading and ``time.sleep`` advances it without sleeping. Every figure is
then a deterministic function of the code path, whatever else loads the machine, and a
first call of 1,000 virtual seconds folded into a figure moves it by orders of
magnitude, where leaving it out leaves it unchanged.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest

from benchmarks.cell import run_cell
from benchmarks.document import Table
from benchmarks.records import Cell
from benchmarks.report.context import ReportContext
from benchmarks.timing import CallClock
from benchmarks.workloads.dqn.cell import dqn_timing, steady_agent_steps_per_s
from benchmarks.workloads.dqn.loop import play
from benchmarks.workloads.dqn.report import dqn_sections
from benchmarks.workloads.search.cell import search_timing
from benchmarks.workloads.search.digits import split_digits
from benchmarks.workloads.search.loop import run_search
from benchmarks.workloads.search.metaqnn import EpsilonSchedule
from benchmarks.workloads.search.workload import Search
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


TICK_S = 1e-4  # virtual seconds per perf_counter reading
FIRST_CALL_S = 1000.0  # virtual seconds a slow first call takes


class VirtualClock:
    """``perf_counter`` and ``sleep`` for the ``time`` module: reading the clock advances
    it by TICK_S, sleeping advances it by the seconds asked, and no real time passes."""

    def __init__(self) -> None:
        self.now = 0.0

    def perf_counter(self) -> float:
        self.now += TICK_S
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def virtual_clock(monkeypatch: pytest.MonkeyPatch) -> VirtualClock:
    clock = VirtualClock()
    monkeypatch.setattr(time, "perf_counter", clock.perf_counter)
    monkeypatch.setattr(time, "sleep", clock.sleep)
    return clock


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


def play_timed(agent, config=DQN_CONFIG) -> tuple[dict, list[dict]]:
    history = play(agent, config, seed=0)
    return dqn_timing(history, config), history.episodes


SPEEDS = ("agent_steps_per_s", "act_median_s", "steady_median_s", "samples_per_s")


@pytest.mark.parametrize("slow", AGENT_FUNCTIONS)
def test_dqn_figures_leave_a_slow_first_call_out(virtual_clock, slow: str) -> None:
    clean, clean_episodes = play_timed(ScriptedAgent(6))
    timing, episodes = play_timed(SlowFirstCalls(ScriptedAgent(6), (slow,), FIRST_CALL_S))
    for figure in SPEEDS:
        assert timing[figure] == pytest.approx(clean[figure], rel=1e-6), (slow, figure)
    assert len(episodes) == len(clean_episodes) == 2
    for row, clean_row in zip(episodes, clean_episodes, strict=True):
        assert row["agent_steps_per_s"] == pytest.approx(clean_row["agent_steps_per_s"], 1e-6)
    assert timing[f"first_{slow}_s"] == pytest.approx(clean[f"first_{slow}_s"] + FIRST_CALL_S)
    assert timing["learning_first_calls_s"] >= FIRST_CALL_S
    assert {f"first_{name}_s" for name in AGENT_FUNCTIONS} <= set(timing)
    if slow == "td_step":
        assert timing["first_epoch_s"] == timing["first_td_step_s"]


@pytest.mark.parametrize(
    ("workload", "variant"),
    [("copynet", "supervised"), ("copynet", "reward"), ("xor", "momentum")],
)
def test_supervised_figures_leave_a_slow_first_call_out(
    virtual_clock, monkeypatch: pytest.MonkeyPatch, workload: str, variant: str
) -> None:
    # seed 1: no parity check after the timed loop (it would build the model again)
    cell = Cell(workload, variant, "fake", "ok", "float64", 1, "smoke")
    clean = run_cell(cell, 1, fake_backend.__name__)["timing"]
    monkeypatch.setattr(fake_backend, "FIRST_CALL_S", FIRST_CALL_S)
    record = run_cell(dataclasses.replace(cell, mode="slow-first"), 1, fake_backend.__name__)
    assert record["status"] == "ok", record.get("reason")
    timing = record["timing"]
    for steady in ("steady_median_s", "steady_min_s", "step_median_s", "samples_per_s"):
        assert timing[steady] == pytest.approx(clean[steady], rel=1e-6), steady
    assert timing["first_epoch_s"] >= FIRST_CALL_S


def test_search_figures_leave_a_slow_first_call_out(
    virtual_clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    workload = Search()
    config = dataclasses.replace(  # one episode per agent: up to three candidates
        workload.search_config("digits", "smoke"), schedule=EpsilonSchedule(((1.0, 1),))
    )
    data = workload.training_data("digits", "smoke", 0)
    validation = split_digits(config.split, 0)
    clean = run_search(fake_backend, config, data, validation, "float64", "ok", 0)
    monkeypatch.setattr(fake_backend, "FIRST_CALL_S", FIRST_CALL_S)
    history = run_search(fake_backend, config, data, validation, "float64", "slow-first", 0)
    assert list(history.candidates) == list(clean.candidates)
    for key, row in history.candidates.items():  # every candidate is a new model
        clean_row = clean.candidates[key]
        for steady in ("steady_epoch_median_s", "steady_eval_s"):
            assert row[steady] == pytest.approx(clean_row[steady], rel=1e-6), (key, steady)
        assert row["first_epoch_s"] >= FIRST_CALL_S and row["first_eval_s"] >= FIRST_CALL_S
    timing, clean_timing = search_timing(history), search_timing(clean)
    for steady in ("median_steady_epoch_s", "median_steady_eval_s"):
        assert timing[steady] == pytest.approx(clean_timing[steady], rel=1e-6), steady
    assert timing["mean_first_eval_s"] >= FIRST_CALL_S


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
    context = ReportContext("dqn", Path(), [record], None)
    [table] = [block for block in dqn_sections(context) if isinstance(block, Table)]
    row = dict(zip(table.header, table.rows[0], strict=True))
    assert row["agent steps/s, learning on"] == "80"  # 400 / (70 - 65)
    assert row["first greedy action"] == "15 s" and row["first TD step"] == "50 s"
    older = {key: timing[key] for key in ("learning_agent_steps", "learning_s", "first_epoch_s")}
    assert steady_agent_steps_per_s(older) == pytest.approx(20.0)  # 400 / (70 - 50)

"""RSS over a cell's run: the growth rule (benchmarks.memory), and where a growing cell
shows (the report's "Memory growth" section, summary.csv)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from benchmarks.memory import (
    GROWTH_FLAG_MB,
    collect_due_garbage,
    current_rss_mb,
    growth_summary,
    record_growth,
)
from benchmarks.records import Cell, new_record
from benchmarks.report.build import write_report


def supervised(variant: str, rss: list[float]) -> dict:
    cell = Cell("xor", variant, "numpy", "eager", "float32", 0, "smoke")
    epochs = [
        {"epoch": e, "loss": 1.0, "seconds": 0.01, "rss_mb": mb} for e, mb in enumerate(rss, 1)
    ]
    metrics = {"final_loss": 1.0, "correct": 4, "solved": True, "epochs_to_target": 4}
    return new_record(cell, "ok", epochs=epochs, metrics=metrics, timing={})


def dqn(rss: list[float], replay: list[float]) -> dict:
    cell = Cell("dqn", "space-invaders", "numpy", "eager", "float32", 0, "smoke")
    episodes = [
        {"episode": i + 1, "agent_steps": 100 * (i + 1), "rss_mb": mb, "replay_mb": r}
        for i, (mb, r) in enumerate(zip(rss, replay, strict=True))
    ]
    return new_record(cell, "ok", episodes=episodes, epochs=[], metrics={}, timing={})


def test_a_steady_rise_is_measured_and_flagged() -> None:
    x = np.arange(1, 201)
    growth = growth_summary(x, 500.0 + 2.0 * x)  # 2 MB an epoch, after any warm-up
    assert growth["rss_growth_mb_per_1k"] == pytest.approx(2000.0)
    assert growth["rss_growth_mb"] == pytest.approx(2.0 * 99)  # epochs 101..200
    assert growth["rss_growing"]


def test_warm_up_then_flat_is_not_flagged() -> None:
    x = np.arange(1, 201)
    rss = np.where(x < 60, 300.0 + 10.0 * x, 900.0)  # compiles and caches, then flat
    rss = rss + np.random.default_rng(0).normal(0.0, 3.0, x.size)  # allocator noise
    growth = growth_summary(x, rss)
    assert abs(growth["rss_growth_mb"]) < 10 and not growth["rss_growing"]


def test_small_rise_on_a_large_process_is_not_flagged() -> None:
    x = np.arange(1, 101)
    growth = growth_summary(x, 4000.0 + 1.5 * x)  # 75 MB: past 64 MB, under 10 %
    assert growth["rss_growth_mb"] > GROWTH_FLAG_MB and not growth["rss_growing"]


def test_too_few_samples_give_no_verdict() -> None:
    assert growth_summary([1, 2, 3, 4], [1.0, 2.0, 3.0, 4.0]) is None  # 2 in the second half
    assert growth_summary([], []) is None
    assert (
        record_growth(
            new_record(
                Cell("xor", "momentum", "numpy", "eager", "float32", 0, "smoke"), "failed", "x"
            )
        )
        is None
    )


def test_dqn_growth_is_net_of_the_replay_memory_filling() -> None:
    steps = 40
    replay = [7.0 * i for i in range(steps)]  # the memory fills: 7 MB an episode
    record = dqn([600.0 + r for r in replay], replay)
    growth = record_growth(record)
    assert growth["rss_unit"] == "agent steps" and not growth["rss_growing"]
    leaking = record_growth(dqn([600.0 + 2 * r for r in replay], replay))
    assert leaking["rss_growing"] and leaking["rss_growth_mb_per_1k"] == pytest.approx(70.0)


def test_report_and_summary_show_the_growing_cell(tmp_path: Path) -> None:
    records = [
        supervised("momentum", [800.0] * 50),
        supervised("online", [800.0 + 5 * e for e in range(50)]),
    ]
    for record in records:
        name = Cell.of(record).file_name
        (tmp_path / name).write_text(json.dumps(record))
    write_report(tmp_path)
    report = (tmp_path / "report.md").read_text()
    section = report[report.index("## Memory growth") :]
    assert "| xor | online | numpy:eager |" in section and "| xor | momentum |" not in section
    with (tmp_path / "summary.csv").open() as handle:
        rows = {row["variant"]: row for row in csv.DictReader(handle)}
    assert rows["online"]["rss_growing"] == "True" and rows["momentum"]["rss_growing"] == "False"
    assert float(rows["online"]["rss_growth_mb_per_1k"]) == pytest.approx(5000.0)
    assert rows["online"]["rss_unit"] == "epochs"


def test_rss_is_read_and_garbage_collection_can_be_due() -> None:
    assert current_rss_mb() > 1.0
    collect_due_garbage()  # nothing to check but that it runs with the collector on too

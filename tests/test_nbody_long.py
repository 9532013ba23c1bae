"""The N-body ``long`` preset's rollouts during training: a smoke cell that rolls out every
two epochs keeps each evaluation in its record, and the report built from such records
draws the rollout error against training time beside the no-motion baseline."""

from __future__ import annotations

import copy
import re
from dataclasses import replace

import numpy as np
import pytest

from benchmarks.cell import run_cell
from benchmarks.records import Cell, write_json_atomic
from benchmarks.report.build import write_report
from benchmarks.workloads import get_workload
from benchmarks.workloads.nbody import workload as nbody_workload
from shared import cache, registry


@pytest.fixture(autouse=True)
def cache_in_tmp(tmp_path_factory, monkeypatch):
    monkeypatch.setenv(cache.CACHE_DIR_ENV, str(tmp_path_factory.getbasetemp() / "nbody-cache"))


def test_the_long_preset_is_the_sources_two_body_run_with_rollouts() -> None:
    nbody = get_workload("nbody")
    assert nbody.default_variants("long") == ("two-body",)
    config = nbody.config("two-body", "long")
    assert repr(config.loss) == "Ratio()" and config.schedule.gamma < 1
    assert nbody.preset("long").rollout_every > 0


def test_rollouts_during_training_are_recorded_and_charted(tmp_path, monkeypatch) -> None:
    smoke = nbody_workload.PRESETS["smoke"]
    monkeypatch.setitem(nbody_workload.PRESETS, "smoke", replace(smoke, rollout_every=2))
    cell = Cell("nbody", "two-body", "numpy", "eager", "float32", 0, "smoke")
    record = run_cell(cell, 1, registry.get("numpy").module)
    assert record["status"] == "ok", record.get("reason")
    rows = record["rollout_evaluations"]
    assert [row["epoch"] for row in rows] == [2, 3]  # every 2 epochs and the last
    trained = np.cumsum([epoch["seconds"] for epoch in record["epochs"]])
    assert [row["train_s"] for row in rows] == pytest.approx(trained[[1, 2]].tolist())
    metrics = record["metrics"]  # the last evaluation is the trained model's rollout
    assert rows[-1]["rollout_position_error"] == metrics["rollout_position_error"]
    assert rows[-1]["rollout_vs_no_motion"] == pytest.approx(
        metrics["rollout_position_error"] / metrics["no_motion_position_error"]
    )
    assert record["timing"]["rollout_evaluations_s"] > 0

    run = tmp_path / "run"
    for seed, scale in ((0, 1.0), (1, 1.5), (2, 0.5)):  # three seeds: an interval
        item = copy.deepcopy(record)
        item["seed"] = seed
        for row in item["rollout_evaluations"]:
            row["rollout_position_error"] *= scale
        write_json_atomic(run / Cell.of(item).file_name, item)
    write_report(run)
    markdown = (run / "report.md").read_text()
    for name in ("rollout_training", "rollout_error"):
        assert f"(plots/nbody__two-body__{name}.png)" in markdown
    html = (run / "report.html").read_text()
    assert "numpy:eager float32 (median of 3 seeds)" in html
    assert len(re.findall(r"no motion \(every body held at its start\)", html)) >= 2

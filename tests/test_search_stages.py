"""The search's stages (benchmarks/workloads/search/stages.py and stage_report.py): mean
accuracy and size per epsilon stage with bootstrap intervals, over episodes or over
seeds, and their chart, last-stage table and answer figures in a report built from
hand-made records at the long preset."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from benchmarks.workloads.search.stages import across_seeds, mean_interval, stage_summary
from tests.test_search_report import search_record, table_rows, write_run

# The hand-made records' last stage (epsilon 0.5, episodes 3-4; test_search_report.py):
# random P2s2 (0.25, 100 parameters) and C8k1-C8k3 (0.75, 900); Q-learning C8k1-C8k3
# twice; with the penalty C8k1-C8k3 and P2s2.


def long_record(backend: str, seed: int = 0, better: float = 0.0) -> dict:
    """search_record at the long preset, Q-learning's accuracies raised by ``better``."""
    record = search_record("digits", backend, "eager")
    record.update(preset="long", seed=seed)
    for row in record["search_episodes"]:
        if row["agent"] == "qlearning":
            row["accuracy"] += better
    return record


def test_stage_summary_by_hand():
    stages = stage_summary(long_record("numpy")["search_episodes"], [[1.0, 2], [0.5, 2]])
    assert [row["epsilon"] for row in stages["random"]] == [1.0, 0.5]  # Q-learning's stages
    last = stages["random"][-1]
    assert (last["first_episode"], last["last_episode"], last["episodes"]) == (3, 4, 2)
    assert last["mean_accuracy"] == 0.5 and last["mean_params"] == 500
    # Two values: resampled means are 0.25, 0.5 or 0.75, so the interval is the extremes.
    assert (last["accuracy_low"], last["accuracy_high"]) == (0.25, 0.75)
    assert stages["qlearning"][-1]["accuracy_low"] == stages["qlearning"][-1]["mean_accuracy"]


def test_across_seeds_is_over_the_seeds_stage_means():
    summaries = [
        stage_summary(long_record("numpy", seed, better)["search_episodes"], [[1, 2], [0.5, 2]])
        for seed, better in ((0, 0.0), (1, 0.1))
    ]
    last = across_seeds(summaries)["qlearning"][-1]
    assert last["seeds"] == 2 and last["episodes"] == 4
    assert last["mean_accuracy"] == pytest.approx(0.8)
    assert (last["accuracy_low"], last["accuracy_high"]) == pytest.approx((0.75, 0.85))
    assert mean_interval([2.0]) == (2.0, 2.0, 2.0)
    with pytest.raises(ValueError):
        mean_interval([])


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    records = [
        long_record("numpy", 0),
        long_record("numpy", 1, better=0.1),
        {**long_record("torch", 0), "resumed_from_episode": 2},
        search_record("digits", "jax", "jit"),  # smoke: no stage view
    ]
    return write_run(tmp_path_factory.mktemp("run"), copy.deepcopy(records))


def test_stage_chart_and_last_stage_table(run):
    markdown = (run / "report.md").read_text()
    assert "Accuracy and size by epsilon stage" in markdown
    for backend in ("numpy", "torch"):
        chart = run / "plots" / f"search__digits__{backend}__float64__stages.png"
        assert chart.stat().st_size > 1000
    assert not (run / "plots" / "search__digits__jax__float64__stages.png").exists()
    numpy_row = table_rows(markdown, "digits | numpy:eager | float64 | 2 |")
    torch_row = table_rows(markdown, "digits | torch:eager | float64 | 1 |")
    assert numpy_row == [
        [
            *("digits", "numpy:eager", "float64", "2", "ε=0.5, episodes 3–4"),
            *("0.800 [0.750–0.850]", "0.500 [0.500–0.500]", "900 [900–900]"),
            *("500 [500–500]", "1.8×"),
        ]
    ]
    # One seed: intervals over the stage's two episodes.
    assert torch_row[0][5:9] == [
        *("0.750 [0.750–0.750]", "0.500 [0.250–0.750]"),
        *("900 [900–900]", "500 [100–900]"),
    ]
    html = (run / "report.html").read_text()
    # The three charts of every search, and a stage chart per configuration, interactive
    assert html.count('class="report-chart"') == 5
    assert "the designs of each epsilon stage (95% intervals)" in html


def test_the_cost_table_says_a_cell_was_resumed(run):
    markdown = (run / "report.md").read_text()
    assert "| 4 of 4 (resumed after episode 2) |" in markdown
    assert "| 4 of 4 |" in markdown  # the others


def test_the_answer_gives_the_last_stage_for_the_long_preset(run):
    markdown = (run / "report.md").read_text()
    assert "digits: last-stage accuracy, Q-learning vs random search" in markdown
    assert "0.800 [0.750–0.850] vs 0.500 [0.500–0.500] (numpy:eager float64, 2 seed(s)" in (
        markdown
    )
    assert "900 [900–900] → 500 [500–500], 1.8× smaller" in markdown

"""DQN's long-run report sections, built from records alone (no training): the learning
curves (drawn in the browser test, ``check-report``) and the long-run table of learning
runs, the answer's figure for them, and a run without any (the default run's brief
cells, records without ``evaluations``) that reports as before.

The learning records are a default-run DQN record with made-up progress in the real
field layout of ``episodes`` and ``evaluations`` rows (``loop.EpisodeLog``,
``loop.evaluate_now``)."""

from __future__ import annotations

import copy
import gzip
import json
import re
from pathlib import Path

import numpy as np
import pytest

from benchmarks.cli import main
from benchmarks.records import Cell, write_json_atomic
from benchmarks.report.build import write_report
from benchmarks.report.context import ReportContext
from benchmarks.workloads.dqn.charts import learning_figures
from benchmarks.workloads.dqn.learning import is_learning_run, median_curve, seed_band
from benchmarks.workloads.dqn.report import source_figures

DEFAULT_RUN = Path(__file__).resolve().parents[1] / "results" / "default-run"
TORCH = "dqn__space-invaders__torch__eager__float32__seed0.json.gz"
JAX = "dqn__space-invaders__jax__jit__float32__seed0.json.gz"
EVAL_EVERY = 2_000


def default_record(name: str) -> dict:
    with gzip.open(DEFAULT_RUN / name, "rt") as file:
        return json.load(file)


def learned(name: str, seed: int, episodes: int = 120, gain: float = 1.0) -> dict:
    """A default-run record as a ``learn`` cell of ``seed``: ``episodes`` episodes of
    about 400 agent steps whose scores climb from about 150 by ``gain`` a episode, an
    evaluation every ``EVAL_EVERY`` agent steps, resumed from a checkpoint for seed 1."""
    record = copy.deepcopy(default_record(name))
    rng = np.random.default_rng(seed)
    scores = 150 + gain * np.arange(episodes) + rng.normal(0, 30, episodes).round()
    rows, steps, wall = [], 0, 0.0
    for index, score in enumerate(scores):
        steps += int(rng.integers(350, 450))
        wall += steps / 1e4
        window = scores[max(0, index - 99) : index + 1]
        rows.append({"episode": index + 1, "agent_steps": steps, "frames": 4 * steps + 7,
                     "score": float(score), "running_mean": float(window.mean()),
                     "running_max": float(window.max()), "epsilon": 0.1,
                     "wall_s": wall})  # fmt: skip
    evaluations = [
        {
            "agent_steps": at,
            "frames": 4 * at,
            "wall_s": at / 100,
            "epsilon": 0.05,
            "scores": [200.0 + at / 100, 260.0 + at / 100],
            "mean_score": 230.0 + at / 100,
            "episode_agent_steps": [500, 600],
            "seconds": 3.0,
        }
        for at in range(EVAL_EVERY, steps, EVAL_EVERY)
    ]
    record.update(preset="learn", seed=seed, episodes=rows, evaluations=evaluations)
    record["resumed_from_step"] = 25_000 if seed == 1 else None
    record["metrics"].update(
        episodes=episodes, agent_steps=steps, emulator_frames=4 * steps + 7,
        final_running_mean=rows[-1]["running_mean"],
        best_running_mean=max(row["running_mean"] for row in rows),
        final_eval_mean=evaluations[-1]["mean_score"],
        best_eval_mean=max(e["mean_score"] for e in evaluations), play_wall_s=wall,
    )  # fmt: skip
    return record


def report(run: Path, records: list[dict]) -> tuple[str, str, int]:
    """(report.md, report.html, the declared chart count) of a run of ``records``."""
    for record in records:
        write_json_atomic(run / Cell.of(record).file_name, record)
    write_report(run)
    html = (run / "report.html").read_text()
    charts = int(re.search(r'<meta name="report-charts" content="(\d+)">', html)[1])
    return (run / "report.md").read_text(), html, charts


@pytest.fixture(scope="module")
def learning_report(tmp_path_factory) -> tuple[Path, str, str, int]:
    """A run of three torch seeds (seed 1 resumed) and one jax seed, all learning."""
    run = tmp_path_factory.mktemp("learn")
    records = [learned(TORCH, seed) for seed in range(3)] + [learned(JAX, 0, gain=0.5)]
    return (run, *report(run, records))


def test_learning_runs_get_their_curves_and_table(learning_report):
    run, markdown, html, charts = learning_report
    assert "### Learning curves of the long runs" in markdown
    assert "(plots/dqn__space-invaders__learning.png)" in markdown
    assert (run / "plots" / "dqn__space-invaders__learning.png").is_file()
    # the speed overview, loss curves and the learning curves (no score curves: the
    # learning curves draw them, seeds apart)
    assert charts == 3 == html.count('class="report-chart"')
    assert "### Score curves" not in markdown
    table = markdown[markdown.index("### DQN long runs") :].split("\n\n")[1]
    lines = [line for line in table.splitlines() if line.startswith("| space-invaders")]
    assert len(lines) == 4  # a row per seed
    assert "from agent step 25,000" in table and "× random" not in table.splitlines()[2]
    torch_seed0 = next(line for line in lines if "torch:eager" in line and "| 0 |" in line)
    final = learned(TORCH, 0)["metrics"]["final_running_mean"]
    assert f"{final:.4g}" in torch_seed0 and f"{final / 148:.3g}×" in torch_seed0
    finals = [learned(TORCH, seed)["metrics"]["final_running_mean"] for seed in range(3)]
    assert f"median final running mean {np.median(finals):.4g} over 3 seeds" in markdown
    assert "jax:jit float32 (space-invaders): median" not in markdown  # one seed


def test_the_learning_curves_draw_in_a_browser(learning_report, capsys):
    run = learning_report[0]
    assert main(["check-report", str(run)]) == 0, capsys.readouterr().out
    assert capsys.readouterr().out.startswith("ok: charts: 3 drawn of 3 declared; 0 script")


def test_the_answer_compares_learning_runs_with_random_play_and_dqn(learning_report):
    _, markdown, _, _ = learning_report
    answer = markdown[: markdown.index("## dqn")]
    assert "running mean score (last 100 episodes) of the learning runs" in answer
    assert "× random play" in answer and "× published DQN" in answer
    assert "no: learn preset" not in answer  # no longer "too short"


def test_several_seeds_draw_a_median_with_its_band_and_every_seed(learning_report):
    run = learning_report[0]
    records = [learned(TORCH, seed) for seed in range(3)]
    (figure,) = learning_figures(ReportContext("dqn", run, records, None))
    assert len(figure.panels) == 6  # (mean, max) against steps, frames, wall hours
    names = [series.name for series in figure.panels[0].series]
    median = "torch:eager float32: median of 3 seeds"
    assert names[:3] == [median, f"{median}: band low", f"{median}: band high"]
    assert {f"torch:eager float32 seed {seed}" for seed in range(3)} <= set(names)
    assert f"{median}: evaluation mean" in names
    assert {"random play 148", "published DQN 1976 (50 M frames)"} <= set(names)
    low, high = figure.panels[0].series[1].y, figure.panels[0].series[2].y
    assert all(a <= m <= b for a, m, b in zip(low, figure.panels[0].series[0].y, high, strict=True))


def test_a_band_is_the_range_under_five_seeds_and_a_bootstrap_interval_from_five():
    values = np.array([[1.0, 10.0], [2.0, 20.0], [4.0, 40.0]])
    median, low, high = seed_band(values)
    assert median.tolist() == [2.0, 20.0] and low.tolist() == [1.0, 10.0]
    assert high.tolist() == [4.0, 40.0]
    many = np.arange(1.0, 21.0)[:, None]  # 20 seeds, one point
    _, low, high = seed_band(many)
    assert 1.0 < low[0] < 10.5 < high[0] < 20.0  # narrower than the range
    x, median, _, _ = median_curve([([0, 10], [0, 10]), ([5, 20], [5, 20])])
    assert x[0] == 5 and x[-1] == 10 and np.allclose(median, x)  # the shared span only
    with pytest.raises(ValueError, match="share no span"):
        median_curve([([0, 10], [0, 10]), ([11, 20], [5, 20])])


def test_seeds_that_share_no_span_are_drawn_each_alone(tmp_path):
    short = learned(TORCH, 1, episodes=10)
    for row in short["episodes"]:  # a seed that stopped early, far past the others' end
        row["agent_steps"] += 10**6
    records = [learned(TORCH, 0), short]
    (figure,) = learning_figures(ReportContext("dqn", tmp_path, records, None))
    names = {series.name for series in figure.panels[0].series}
    assert {"torch:eager float32 seed 0", "torch:eager float32 seed 1"} <= names
    assert not any("median" in name for name in names)


def test_old_records_report_as_before(tmp_path):
    records = [default_record(TORCH), default_record(JAX)]
    assert not any(is_learning_run(record) for record in records)
    markdown, _, charts = report(tmp_path, records)
    assert charts == 3  # the speed overview, loss curves and score curves, as before
    assert "Learning curves" not in markdown and "DQN long runs" not in markdown
    assert "no: brief preset, 2,000 frames (agent steps)" in markdown
    (figure,) = source_figures(ReportContext("dqn", tmp_path, records, None))
    assert figure.quantity == "running mean score (last 100 episodes)"

"""The long runs' reports, opened in a real browser.

``results/long-runs/`` holds the records of the runs made to reproduce the sources
(issue 16; README "Reproducing the sources"): DQN's ``learn`` preset, N-body's and the
search's ``long`` presets, each a run folder of its own. Each report is rebuilt here
from those records by the code under test and opened in headless Chromium
(``check-report``): the long-run sections (DQN's learning curves and long-run table,
N-body's rollout error against training time, the search's epsilon stages) must be
there and every chart drawn, with no script error and no request leaving the file.
"""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest

from benchmarks.cli import main
from benchmarks.report.build import write_report

ROOT = Path(__file__).resolve().parents[1]
LONG_RUNS = ROOT / "results" / "long-runs"
# run folder -> (a chart of its long-run section, a heading of it in report.md)
SECTIONS = {
    "dqn-learn": ("dqn__space-invaders__learning", "DQN long runs: what each cell learned"),
    "nbody-long": ("nbody__two-body__rollout_training", "rollout ÷ no-motion error"),
    "search-long": (
        "search__digits__numpy__float32__stages",
        "The last epsilon stage: Q-learning against random search",
    ),
}


@pytest.fixture(scope="module", params=sorted(SECTIONS))
def rebuilt(request, tmp_path_factory) -> tuple[str, Path]:
    """A copy of one long run with its report rebuilt by this code."""
    run = tmp_path_factory.mktemp(request.param)
    shutil.copytree(LONG_RUNS / request.param, run, dirs_exist_ok=True)
    write_report(run)
    return request.param, run


def test_the_long_run_sections_are_in_the_report(rebuilt: tuple[str, Path]) -> None:
    name, run = rebuilt
    chart, heading = SECTIONS[name]
    assert (run / "plots" / f"{chart}.png").stat().st_size > 0
    assert heading in (run / "report.md").read_text()
    html = (run / "report.html").read_text()
    assert heading in html and html.count('class="report-chart"') >= 2


def test_the_long_run_report_draws_every_chart_offline(rebuilt: tuple[str, Path], capsys) -> None:
    _, run = rebuilt
    assert main(["check-report", str(run)]) == 0, capsys.readouterr().out
    line = capsys.readouterr().out
    assert line.startswith("ok: charts: ") and " 0 script error(s)" in line


def _record(folder: str) -> dict:
    (path,) = (LONG_RUNS / folder).glob("*__seed*.json.gz")
    return json.loads(gzip.decompress(path.read_bytes()))


def test_the_committed_learn_cell_resumed_and_played_the_whole_schedule() -> None:
    """The learn cell was killed (-9) at its 150,000-step checkpoint and resumed: it
    ends with the preset's 250,000 agent steps, its episode log and evaluations whole."""
    record = _record("dqn-learn")
    assert record["status"] == "ok" and record["preset"] == "learn"
    assert record["resumed_from_step"] == 150_000
    assert record["metrics"]["agent_steps"] == 250_000
    steps = [row["agent_steps"] for row in record["evaluations"]]
    assert steps == list(range(25_000, 250_001, 25_000))
    episodes = [row["episode"] for row in record["episodes"]]
    assert episodes == list(range(1, len(episodes) + 1))

"""The default run's report, opened in a real browser.

``results/default-run/`` holds the records of a real ``nox -s bench`` (the brief preset:
all five workloads on every backend, 50 cells) on the project's 2-core machine. Its
report is rebuilt here from those records, by the code under test, and opened from disk
in headless Chromium (``check-report``): every chart it declares must be drawn, with no
script error and no request leaving the file, within the size budget, and the
screenshot of its first screen is kept beside it. This is also the browser test of every
section the report has: a section that breaks its chart's script fails here.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from benchmarks.browser_check import SCREENSHOT_NAME
from benchmarks.cli import main
from benchmarks.report.build import write_report

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_RUN = ROOT / "results" / "default-run"
SIZE_BUDGET_BYTES = 10 * 2**20  # issue 15: at most 10 MB for the default run's report.html
WORKLOADS = ("copynet", "dqn", "nbody", "search", "xor")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory) -> Path:
    """A copy of the default run with its report rebuilt by this code."""
    run = tmp_path_factory.mktemp("default-run")
    shutil.copytree(DEFAULT_RUN, run, dirs_exist_ok=True)
    write_report(run)
    return run


def test_the_copy_is_the_whole_default_run(rebuilt: Path) -> None:
    records = list(rebuilt.glob("*__seed*.json.gz"))
    assert len(records) == 56  # 50 cells run, 6 not applicable (python beyond copy-net)
    html = (rebuilt / "report.html").read_text()
    for workload in WORKLOADS:
        assert f"<h2>{workload}</h2>" in html


def test_the_default_report_draws_every_chart_offline(rebuilt: Path, capsys) -> None:
    html_path = rebuilt / "report.html"
    html = html_path.read_text()
    assert html_path.stat().st_size <= SIZE_BUDGET_BYTES
    # every workload has at least its speed overview and one more chart
    assert html.count('class="report-chart"') >= 2 * len(WORKLOADS)
    assert main(["check-report", str(rebuilt)]) == 0, capsys.readouterr().out
    line = capsys.readouterr().out
    assert line.startswith("ok: charts: ") and " 0 script error(s)" in line
    assert (rebuilt / SCREENSHOT_NAME).read_bytes().startswith(PNG_SIGNATURE)


def test_the_answer_comes_before_the_workload_sections(rebuilt: Path) -> None:
    html = (rebuilt / "report.html").read_text()
    answer = html.index("<h2>The answer")
    assert all(answer < html.index(f"<h2>{workload}</h2>") for workload in WORKLOADS)

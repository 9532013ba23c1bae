"""``check-report``: a report opened in headless Chromium passes only when every declared
chart is drawn, no script throws and nothing is fetched from outside the file.

The pages follow the report's contract (``benchmarks.browser_check``): the passing one
with the real plotly.js inlined, the failing ones with a stand-in that draws as Plotly
does (parsing the real one costs ~1 CPU-second a page). One browser serves the module
(a launch is ~2 CPU-seconds).
"""

from __future__ import annotations

import contextlib
import json

import plotly.graph_objects as go
import plotly.offline
import pytest

from benchmarks.browser_check import SCREENSHOT_NAME, check_report, chromium
from benchmarks.cli import main

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def browser():
    with chromium() as launched:
        yield launched


# What Plotly.newPlot leaves that the check counts: the class and an svg.main-svg.
STAND_IN = """window.Plotly = {newPlot(id) {
  const div = document.getElementById(id);
  div.classList.add('js-plotly-plot');
  div.innerHTML = '<svg class="main-svg" width="300" height="200"></svg>';
  return Promise.resolve(div);
}};"""


@pytest.fixture(scope="module")
def plotly_js() -> str:
    return plotly.offline.get_plotlyjs()


def chart(k: int, broken: bool = False) -> str:
    """Chart ``k`` as the report writes one; ``broken``: its script throws first."""
    figure = go.Figure(go.Scatter(x=[1, 2, 3], y=[k, 2, 1], name=f"series {k}")).to_json()
    throw = "throw new TypeError('chart script broke');" if broken else ""
    return (
        f'<div class="report-chart" id="chart-{k}"></div><script>{throw}'
        f"const figure{k} = {figure}; "
        f"Plotly.newPlot('chart-{k}', figure{k}.data, figure{k}.layout);</script>"
    )


def page(js: str, declared: int, charts: list[str], extra: str = "") -> str:
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        f'<meta name="report-charts" content="{declared}"><script>{js}</script></head>'
        f"<body><h1>report</h1>{''.join(charts)}{extra}</body></html>"
    )


def test_a_self_contained_report_passes_and_its_cli_keeps_a_screenshot(
    browser, plotly_js, tmp_path, capsys, monkeypatch
):
    # the module's browser: a second launch would add its CPU-seconds for nothing
    monkeypatch.setattr(
        "benchmarks.browser_check.chromium", lambda: contextlib.nullcontext(browser)
    )
    (tmp_path / "report.html").write_text(page(plotly_js, 2, [chart(0), chart(1)]))
    assert main(["check-report", str(tmp_path)]) == 0
    line = capsys.readouterr().out
    assert line.startswith("ok: charts: 2 drawn of 2 declared; 0 script error(s); 0 request")
    shot = (tmp_path / SCREENSHOT_NAME).read_bytes()
    assert shot.startswith(PNG_SIGNATURE) and len(shot) > 5000  # a drawn screen, not a blank


def test_a_chart_whose_script_throws_fails_naming_the_error(browser, tmp_path):
    report = tmp_path / "report.html"
    report.write_text(page(STAND_IN, 2, [chart(0), chart(1, broken=True)]))
    check, _ = check_report(browser, report)
    assert not check.passed and (check.declared, check.drawn) == (2, 1)
    assert check.errors == ["TypeError: chart script broke"]
    assert "first error: TypeError: chart script broke" in check.line()


def test_a_request_leaving_the_file_fails_and_is_named(browser, tmp_path):
    report = tmp_path / "report.html"
    image = '<img src="http://example.invalid/x.png" alt="from the network">'
    report.write_text(page(STAND_IN, 1, [chart(0)], extra=image))
    check, _ = check_report(browser, report)
    assert not check.passed and check.drawn == 1
    assert check.outside == ["http://example.invalid/x.png"]
    assert check.errors == []  # the blocked load is the request, not a second failure
    assert "first request: http://example.invalid/x.png" in check.line()


def test_a_declared_chart_that_is_never_drawn_fails(browser, tmp_path):
    report = tmp_path / "report.html"
    report.write_text(page(STAND_IN, 3, [chart(0), chart(1)]))
    check, _ = check_report(browser, report, timeout_s=2)
    assert not check.passed and (check.declared, check.drawn) == (3, 2) and not check.errors
    assert check.line().startswith("FAILED: charts: 2 drawn of 3 declared")


def test_a_page_that_declares_no_count_fails(browser, tmp_path):
    report = tmp_path / "report.html"
    report.write_text("<!DOCTYPE html><html><head></head><body>no charts</body></html>")
    check, png = check_report(browser, report, timeout_s=2)
    assert check.declared is None and not check.passed and png.startswith(PNG_SIGNATURE)
    assert "no count declared" in check.line()


@pytest.mark.parametrize("content", [None, "folder"])
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, content):
    target = tmp_path / "run"
    if content:
        target.mkdir()  # a folder without report.html
    assert main(["check-report", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ")
    assert ("does not exist" if content is None else "holds no report.html") in err


def test_a_missing_browser_exits_2(tmp_path, capsys, monkeypatch):
    (tmp_path / "report.html").write_text(json.dumps("not html, never opened"))
    monkeypatch.setattr("benchmarks.browser_check.CHROMIUM", tmp_path / "no-chromium")
    assert main(["check-report", str(tmp_path)]) == 2
    assert "no-chromium not found" in capsys.readouterr().err
    assert not (tmp_path / SCREENSHOT_NAME).exists()


def test_a_screenshot_that_cannot_be_written_still_says_the_verdict(tmp_path, capsys, monkeypatch):
    # No browser needed: the check's outcome is given, the screenshot's place is taken.
    from benchmarks import browser_check

    (tmp_path / "report.html").write_text("<html></html>")
    (tmp_path / SCREENSHOT_NAME).mkdir()  # a folder where the PNG goes
    seen = browser_check.ReportCheck(declared=2, drawn=1)
    monkeypatch.setattr(browser_check, "chromium", lambda: contextlib.nullcontext(None))
    monkeypatch.setattr(browser_check, "check_report", lambda *_: (seen, PNG_SIGNATURE))
    assert main(["check-report", str(tmp_path)]) == 1
    out, err = capsys.readouterr()
    assert out.startswith("FAILED: charts: 1 drawn of 2 declared") and "no screenshot" in out
    assert err.startswith("error: the screenshot of ") and err.count("\n") == 1

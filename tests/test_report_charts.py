"""The report's charts: one description (benchmarks/report/figure.py) drawn to a PNG for
report.md and to a Plotly chart for report.html, and the HTML's contract with a browser
test (a declared chart count, one div and one Plotly.newPlot per chart, plotly.js once,
nothing from the network). Reports are built from hand-made records: no run."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from plotly.offline import get_plotlyjs

from benchmarks.document import Heading, to_html, to_markdown
from benchmarks.records import Cell, new_record, write_json_atomic
from benchmarks.report.build import write_report
from benchmarks.report.charts import chart_block
from benchmarks.report.figure import Figure, Panel, Series, spans_decades, thin
from benchmarks.report.render_plotly import to_plotly


def figure(name: str = "toy__loss") -> Figure:
    decades = Series("a", [1, 2, 3], [1.0, 0.1, 0.001])
    bars = Series("b", ["x", "y"], [2.0, 3.0], kind="bar", error_low=[0.5, 0.5],
                  error_high=[1.0, 1.0])  # fmt: skip
    panels = (
        Panel((decades,), x_title="epoch", y_log=spans_decades(decades.y)),
        Panel((bars,), y_log=spans_decades(bars.y)),
    )
    return Figure(name, "toy", "toy chart", panels, width=6.0, panel_height=2.0)


def test_a_figure_is_drawn_in_both_formats(tmp_path):
    chart = chart_block(figure(), tmp_path)
    assert chart.path == "plots/toy__loss.png"
    assert (tmp_path / chart.path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    plotly = to_plotly(figure())
    assert [trace.name for trace in plotly.data] == ["a", "b"]
    assert [trace.type for trace in plotly.data] == ["scatter", "bar"]
    assert plotly.layout.xaxis.title.text == "epoch"
    assert plotly.layout.yaxis.type == "log"  # three decades
    assert plotly.layout.yaxis2.type is None  # 2 to 3: linear
    assert list(plotly.data[1].error_y.arrayminus) == [0.5, 0.5]
    assert "</" not in chart.plotly and '"showEditInChartStudio": false' in chart.config


@pytest.mark.parametrize(
    ("values", "log"),
    [([1.0, 100.0], True), ([0.002, 0.01, 0.03], True), ([1.0, 5.0], False),
     ([0.0, 100.0], False), ([None, float("nan")], False)],
)  # fmt: skip
def test_a_log_axis_where_the_values_span_a_decade(values, log):
    assert spans_decades(values) is log


def test_thinning_keeps_the_ends_and_the_spikes():
    y = np.ones(10_000)
    y[4321] = 50.0
    y[7000] = -3.0
    xs, ys = thin(range(10_000), y.tolist(), limit=200)
    assert len(xs) <= 202 and xs[0] == 0 and xs[-1] == 9_999
    assert 4321 in xs and 7000 in xs and xs == sorted(xs)
    assert max(ys) == 50.0 and min(ys) == -3.0
    assert thin([1, 2], [3, 4]) == ([1, 2], [3, 4])


def record(backend: str, mode: str, dtype: str, status: str = "ok") -> dict:
    cell = Cell("xor", "momentum", backend, mode, dtype, 0, "smoke")
    if status != "ok":
        return new_record(cell, status, "deliberate", output_tail="")
    epochs = [{"epoch": e, "loss": 1.0 / e**2, "seconds": 0.01 * e} for e in range(1, 9)]
    metrics = {"final_loss": 0.02, "correct": 4, "solved": True, "epochs_to_target": 4}
    return new_record(cell, "ok", epochs=epochs, metrics=metrics, timing={"first_epoch_s": 0.5})


def report_html(run: Path, records: list[dict]) -> str:
    for item in records:
        write_json_atomic(run / Cell.of(item).file_name, item)
    write_report(run)
    return (run / "report.html").read_text()


def test_the_html_declares_and_draws_every_chart_offline(tmp_path):
    html = report_html(tmp_path, [record("numpy", "eager", "float32"),
                                  record("python", "eager", "float64")])  # fmt: skip
    declared = int(re.search(r'<meta name="report-charts" content="(\d+)">', html)[1])
    divs = re.findall(r'<div class="report-chart" id="chart-(\d+)"></div>', html)
    drawn = re.findall(r'Plotly\.newPlot\("chart-(\d+)"', html)
    assert declared == 2  # xor's speed overview and loss curves
    assert divs == drawn == [str(k) for k in range(declared)]
    plotly_js = get_plotlyjs()
    assert html.count(plotly_js) == 1
    assert html.index(plotly_js) < html.index('Plotly.newPlot("chart-0"')
    ours = html.replace(plotly_js, "")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", ours, re.I)
    assert "<script src" not in ours and "<link" not in ours
    # report.md keeps the static images
    markdown = (tmp_path / "report.md").read_text()
    for name in ("xor__speed.png", "xor__momentum__loss.png"):
        assert f"(plots/{name})" in markdown and (tmp_path / "plots" / name).is_file()


def test_a_report_without_charts_loads_no_plotly(tmp_path):
    html = report_html(tmp_path, [record("numpy", "eager", "float32", status="failed")])
    assert '<meta name="report-charts" content="0">' in html
    assert "Plotly" not in html and 'report-chart"' not in html and len(html) < 100_000


def test_markdown_and_html_render_a_chart_block(tmp_path):
    blocks = [Heading(3, "x"), chart_block(figure("one"), tmp_path)]
    assert "![toy chart](plots/one.png)" in to_markdown(blocks)
    assert to_html(blocks, "t").count('Plotly.newPlot("chart-0"') == 1


def test_one_row_has_no_speed_overview(tmp_path):
    html = report_html(tmp_path, [record("numpy", "eager", "float32")])
    assert '<meta name="report-charts" content="1">' in html  # the loss curves alone
    assert not (tmp_path / "plots" / "xor__speed.png").exists()

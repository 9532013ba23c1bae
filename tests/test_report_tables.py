"""The report's tables through pandas: the summary frame and summary.csv, rows grouped by
groupby, numbers that carry their values, and report.html tables that sort by value.
Records are built here; nothing runs."""

from __future__ import annotations

import math
import pickle
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.browser_check import chromium
from benchmarks.document import SORT_SCRIPT, Heading, Number, Table, to_html, to_markdown
from benchmarks.records import Cell, new_record
from benchmarks.report.csvs import CELL_COLUMNS
from benchmarks.report.format import fmt, gflops, interval, megabytes, percent, seconds, times
from benchmarks.report.groups import groups, median_of, timing, timing_medians
from benchmarks.report.summary import summary_frame, write_summary_csv


def record(backend: str, seed: int, steady_s: float | None, status: str = "ok") -> dict:
    cell = Cell("xor", "momentum", backend, "eager", "float32", seed, "smoke")
    if status != "ok":
        return new_record(cell, status, "it broke")
    timing = {"steady_median_s": steady_s, "steady_count": 3, "import_s": 1.25}
    metrics = {"final_loss": 0.125, "correct": 4, "solved": seed % 2 == 0}
    return new_record(cell, "ok", epochs=[], metrics=metrics, timing=timing)


RECORDS = [record("numpy", 0, 0.5), record("torch", 1, 0.25), record("torch", 2, None, "failed")]


def test_summary_frame_holds_typed_values() -> None:
    frame = summary_frame(RECORDS)
    assert tuple(frame.columns[: len(CELL_COLUMNS)]) == CELL_COLUMNS
    assert list(frame["backend"]) == ["numpy", "torch", "torch"]
    assert frame["seed"].dtype == "int64" and list(frame["seed"]) == [0, 1, 2]
    assert frame["steady_median_s"].dtype == "float64"
    assert list(frame["steady_median_s"][:2]) == [0.5, 0.25]
    assert math.isnan(frame["steady_median_s"][2])  # the failed cell has none
    assert frame["metric_correct"].dtype == "float64"  # numbers with a gap: float, NaN
    assert list(frame["metric_solved"][:2]) == [True, False]
    assert pd.isna(frame["reason"][0]) and frame["reason"][2] == "it broke"


def test_summary_csv_reads_back_as_the_frame(tmp_path: Path) -> None:
    write_summary_csv(tmp_path, RECORDS)
    read = pd.read_csv(tmp_path / "summary.csv")
    pd.testing.assert_frame_equal(read, summary_frame(RECORDS), check_exact=True)


def test_rows_are_grouped_and_their_medians_taken_by_groupby() -> None:
    records = [record("torch", 1, 0.25), record("numpy", 0, 0.5), record("torch", 0, 0.75)]
    rows = groups(records)
    assert [(g.backend, [r["seed"] for r in g.records]) for g in rows] == [
        ("numpy", [0]),
        ("torch", [1, 0]),  # the run's order within a row
    ]
    medians = timing_medians(rows, ["steady_median_s", "build_s"])
    assert list(medians["steady_median_s"]) == [0.5, 0.5]
    assert medians["steady_median_s"][1] == median_of(rows[1].records, timing("steady_median_s"))
    assert medians["build_s"].isna().all()  # no record has it


def test_numbers_carry_their_values_and_keep_their_text() -> None:
    assert (seconds(0.0012), seconds(0.0012).value) == ("1.2 ms", 0.0012)
    assert seconds(2.5) == "2.5 s" and megabytes(812.4) == "812 MB"
    assert gflops(12.345, 1000.0) == "12.3 (1.2%)" and gflops(12.345).value == 12.345
    assert percent(0.125) == "12.5%" and times(2.0) == "2×"
    assert interval(1.5, 1.25, 1.75) == "1.5 [1.25, 1.75]"
    assert fmt(3).value == 3.0 and fmt(True) == "yes" and fmt("text") == "text"
    for missing in (seconds(None), seconds(float("nan")), fmt(None), gflops(0.0)):
        assert missing == "–" and missing.value is None
    assert pickle.loads(pickle.dumps(seconds(2.0))).value == 2.0  # copies keep the value


def sortable() -> str:
    rows = (("numpy", seconds(2.0)), ("torch", seconds(None)), ("jax", seconds(0.9)))
    blocks = [Heading(1, "t"), Table(("backend", "per step"), rows), Table(("a",), (("1",),))]
    return to_html(blocks, "t")


def test_html_cells_carry_values_and_the_page_the_sort_script_once(tmp_path: Path) -> None:
    page = sortable()
    assert '<td>numpy</td><td data-value="2.0">2 s</td>' in page
    assert '<td data-value="">–</td>' in page  # no value: sorts last (SORT_SCRIPT)
    assert page.count('<table class="sortable">') == 2
    assert page.count("<script>") == 1 and SORT_SCRIPT in page
    assert "<script>" not in to_html([Heading(1, "no table")], "t")
    table = Table(("backend", "per step"), (("numpy", seconds(0.0012)),))
    assert "| numpy | 1.2 ms |" in to_markdown([table])  # markdown: the text alone
    assert isinstance(Number("1", 1.0), str) and np.isclose(Number("1", 1.0).value, 1.0)


def test_a_click_sorts_by_value_with_missing_last(tmp_path: Path) -> None:
    """In headless Chromium (Debian's, as check-report: .ci/run installs it)."""
    (tmp_path / "t.html").write_text(sortable(), encoding="utf-8")
    with chromium() as browser:
        page = browser.new_page()
        page.goto((tmp_path / "t.html").as_uri())
        header, column = page.locator("th", has_text="per step"), page.locator("tr td:nth-child(2)")
        header.click()
        ascending = column.all_text_contents()
        header.click()
        descending = column.all_text_contents()
        plain = _sorted_plain_text(browser, tmp_path)
    assert ascending == ["900 ms", "2 s", "–"]  # by value, not text ("2 s" < "900 ms")
    assert descending == ["2 s", "900 ms", "–"]  # missing last either way
    # plain text that starts with a number sorts by that number: decimals, exponents and
    # thousands separators as numbers, not as runs of digits ("1.45" < "1.5")
    assert plain == ["0.00095", "0.0039", "1.45×", "1.5×", "2", "1.4e+02", "1,000", "n/a"]


def _sorted_plain_text(browser, folder: Path) -> list[str]:
    """A column of plain text cells (no ``Number``), as one click sorts it."""
    cells = ("1.5×", "1,000", "0.0039", "n/a", "1.4e+02", "2", "1.45×", "0.00095")
    table = Table(("value",), tuple((cell,) for cell in cells))
    (folder / "plain.html").write_text(to_html([table], "t"), encoding="utf-8")
    page = browser.new_page()
    page.goto((folder / "plain.html").as_uri())
    page.locator("th", has_text="value").click()
    return page.locator("tr td").all_text_contents()

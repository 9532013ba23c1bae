"""The report's opening: a single run's command and time, and what a smoke run is."""

from __future__ import annotations

from pathlib import Path

from benchmarks.report.environment import environment_blocks, invocation_items


def test_the_report_opens_with_a_single_runs_command_and_time():
    run = {"argv": ["/x/benchmarks/__main__.py", "run", "--preset", "smoke"]}
    run |= {"started": "2026-11-29T17:39:19+0000", "ended": "2026-11-29T17:40:08+0000"}
    assert invocation_items({"invocations": [run]}) == [
        "command: `python -m benchmarks run --preset smoke`; "
        "started 2026-11-29T17:39:19+0000, took 49 s"
    ]
    del run["ended"]  # still running, or killed
    assert invocation_items({"invocations": [run]})[0].endswith(
        "; started 2026-11-29T17:39:19+0000"
    )


def test_a_smoke_reports_opening_says_it_answers_nothing():
    blocks = environment_blocks(Path("run"), [{"preset": "smoke"}], {"preset": "smoke"})
    assert "preset: smoke (checks that every cell runs: too short" in blocks[1].items[0]

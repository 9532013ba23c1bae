"""The report's answer first (benchmarks/report/answer.py): the fastest backend against
the next, every backend's parity verdict, and the source's figures beside the run's.

Built from records alone: seven real copy-net records of a default (brief) run, copied
into tests/data, and small records made here. Nothing is trained."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from benchmarks.document import Bullets, Table, to_markdown
from benchmarks.records import read_record
from benchmarks.report.answer import SourceFigure, WorkloadAnswer, answer_blocks, epoch_pace
from benchmarks.report.build import workload_answer
from benchmarks.report.context import ReportContext

DEFAULT_RUN = Path(__file__).resolve().parents[1] / "results" / "default-run"
PASSED = {"within_tolerance": True, "loss_error_over_tolerance": 0.1}
PASSED |= {"params_error_over_tolerance": 0.2}


def record(backend: str, mode: str, steady: float, **fields) -> dict:
    """An ok record of workload "toy": a 2 s first epoch, then 20 epochs near ``steady``."""
    rng = np.random.default_rng(len(backend))
    seconds = steady * (1 + 0.01 * rng.standard_normal(20))
    base = dict(workload="toy", variant="main", backend=backend, mode=mode, dtype="float32")
    return {
        **base,
        **dict(seed=0, preset="smoke", status="ok", reason=""),
        "epochs": [{"seconds": 2.0}] + [{"seconds": float(s)} for s in seconds],
        "timing": {"first_epoch_s": 2.0, "steady_median_s": float(np.median(seconds))},
        "parity": PASSED,
        **fields,
    }


def answer(records: list[dict], figures: list[SourceFigure] | None = None) -> WorkloadAnswer:
    return WorkloadAnswer(
        ReportContext("toy", Path("run"), records, None), epoch_pace, figures or []
    )


def speed_row(blocks) -> dict[str, str]:
    """The first row of the answer's speed table, by header."""
    speed = next(b for b in blocks if isinstance(b, Table))
    return dict(zip(speed.header, speed.rows[0], strict=True))


def verdicts(blocks) -> list[str]:
    return list(next(b for b in blocks if isinstance(b, Bullets)).items)


def test_the_fastest_and_the_next_are_named_with_their_ratio():
    blocks = answer_blocks(
        [
            answer(
                [
                    record("slow", "jit", 0.3),
                    record("fast", "eager", 0.1),
                    record("mid", "jit", 0.2),
                ]
            )
        ]
    )
    row = speed_row(blocks)
    assert row["fastest: steady time [95% CI]"].startswith("fast:eager (float32): 100 ms [")
    assert row["next fastest"].startswith("mid:jit (float32): ")
    ratio, low, high = map(float, re.findall(r"[\d.]+", row["next ÷ fastest [95% CI]"]))
    assert 1.9 < low <= ratio <= high < 2.1
    # tracing and compiling: the modes that have one, not the eager one
    assert row["first call − steady (tracing, compiling)"] == "mid:jit 1.8 s, slow:jit 1.7 s"
    assert verdicts(blocks)[0].startswith("toy main: fast:eager (float32) is the fastest, ")
    assert "ahead of mid:jit (float32); every checked backend agrees" in verdicts(blocks)[0]


def test_a_failed_parity_check_reads_as_a_failure():
    failed = {"within_tolerance": False, "loss_error_over_tolerance": 3.0}
    failed |= {"params_error_over_tolerance": 40.0}
    rounding = {"multiple": 10, "within_rounding": True}
    rounding |= {"params": {"error": 40.0, "envelope": 80.0, "bound": 800.0, "within": True}}
    records = [
        record("good", "eager", 0.1),
        record("broken", "jit", 0.2, parity=failed),
        record("rounded", "jit", 0.3, parity=failed | {"rounding": rounding}),
        record("numpy", "eager", 0.4, parity={"reference": True}),
        record("late", "eager", 0.1, status="timeout", parity=None),
    ]
    blocks = answer_blocks([answer(records)])
    parity = speed_row(blocks)["parity with the NumPy reference"]
    assert parity.startswith("NO: broken:jit; did not finish ok: late:eager: timeout;")
    assert (
        "within rounding (errors up to 0.5× the measured float32 envelope): rounded:jit" in parity
    )
    assert "yes: good:eager" in parity and parity.endswith("reference: numpy:eager")
    assert verdicts(blocks)[0].endswith(
        "; 1 of 5 disagree with the reference; 1 did not finish ok."
    )


def test_a_parity_check_that_crashed_is_not_counted_as_disagreeing():
    records = [
        record("good", "eager", 0.1),
        record("crashed", "jit", 0.2, parity={"error": "RuntimeError: no kernel"}),
        record("numpy", "eager", 0.4, parity={"reference": True}),
    ]
    line = verdicts(answer_blocks([answer(records)]))[0]
    assert line.endswith(
        "; every checked backend agrees with the reference; the parity check of 1 crashed."
    )


def test_a_workload_of_one_backend_has_nothing_to_compare():
    blocks = answer_blocks([answer([record("only", "eager", 0.1)])])
    row = speed_row(blocks)
    assert row["next fastest"] == "only one backend: nothing to compare"
    assert row["next ÷ fastest [95% CI]"] == "–"
    assert "nothing to compare it with" in verdicts(blocks)[0]
    assert answer_blocks([answer([])]) == []  # no workload ran: no section


def test_source_figures_sit_beside_the_runs_and_say_when_they_cannot_compare():
    figure = SourceFigure("success rate", "2 of 3", "most seeds (the source)", "no: smoke preset")
    markdown = to_markdown(answer_blocks([answer([record("a", "eager", 0.1)], [figure])]))
    assert (
        "| toy | success rate | 2 of 3 | most seeds (the source) | no: smoke preset |" in markdown
    )


def test_the_brief_runs_copynet_answer():
    """The real default run's copy-net reward cells: the framework-free loop first."""
    paths = sorted(DEFAULT_RUN.glob("copynet__reward__*.json.gz"))
    records = [read_record(path) for path in paths]
    context = ReportContext("copynet", Path("run"), records, None)
    blocks = answer_blocks([workload_answer(context)])
    row = speed_row(blocks)
    assert row["fastest: steady time [95% CI]"].startswith("python:eager (float64): 3.68 ms [")
    assert row["next fastest"].startswith("jax:jit (float32): 34.6 ms [")
    assert row["next ÷ fastest [95% CI]"].startswith("9.4 [")
    assert row["parity with the NumPy reference"].endswith("reference: numpy:eager (float32)")
    markdown = to_markdown(blocks)
    assert "f(123) 122.996; f(123123123123) 1.2312e+11" in markdown  # the source's
    assert "f(123) 122.914–123.081" in markdown  # ours, over the 7 cells
    assert "no: brief preset, 5,000 steps against the source's 25,000" in markdown


def cells(workload: str, variant: str, backends: tuple[str, ...], seeds: int = 1, **fields):
    """Ok brief records of ``workload`` holding only ``fields`` beside the cell's name."""
    base = dict(workload=workload, variant=variant, mode="eager", dtype="float32")
    base |= dict(preset="brief", status="ok", reason="", **fields)
    return [{**base, "backend": b, "seed": seed} for b in backends for seed in range(seeds)]


def _penalty(params: float, accuracy: float) -> dict:
    return {"last_quarter_mean_params": params, "last_quarter_mean_accuracy": accuracy}


SOLVED = {"correct": 4, "solved": True}
GAME = {"final_running_mean": 150.0, "agent_steps": 2000, "emulator_frames": 8000, "episodes": 4}
CANDIDATE = {"first_epoch_s": 1.0, "steady_epoch_median_s": 0.1}
CANDIDATE |= {"epoch_losses": [{"seconds": s} for s in (1.0, 0.1, 0.1, 0.1)]}
SEARCH = {
    "best": {"qlearning": _penalty(28_000, 0.9), "qlearning-penalty": _penalty(280, 0.89)},
    "metrics": {"episodes_per_agent_done": 14},
    "candidates": [CANDIDATE] * 3,
}
# workload -> (its records, what its answer must say)
SOURCE_CASES = {
    "xor": (
        cells("xor", "momentum", ("numpy", "torch"), 2, config={"epochs": 2001}, metrics=SOLVED)
        + cells("xor", "single-layer", ("numpy",), config={"epochs": 20}, metrics={"correct": 3}),
        ("| 2 of 2 seeds solved on each of 2 backends |", "some seeds fail", "roughly: 2 seeds"),
    ),
    "dqn": (
        cells("dqn", "space-invaders", ("numpy",), metrics=GAME),
        ("| 150: mean of 4 episodes in 2,000 agent steps", "random play 148, published DQN 1976"),
    ),
    "nbody": (
        cells("nbody", "two-body", ("numpy",), metrics={"val_ratio": 0.0113}, timing={}),
        ("| 0.0113 |", "losses of 1e-6 to 1e-8", "no: brief preset, 0.0 s of training"),
    ),
    "search": (
        cells("search", "digits", ("torch", "numpy"), **SEARCH),
        ("28,000 → 280 (1e+02× smaller) (numpy:eager", "two orders of magnitude", "2,700"),
    ),
}


@pytest.mark.parametrize("workload", sorted(SOURCE_CASES))
def test_each_workload_sets_the_sources_figure_beside_its_own(workload):
    records, said = SOURCE_CASES[workload]
    context = ReportContext(workload, Path("run"), records, None)
    markdown = to_markdown(answer_blocks([workload_answer(context)]))
    for text in said:
        assert text in markdown, text


def test_a_search_is_ranked_by_its_candidates_epochs():
    records = cells("search", "digits", ("numpy",), **SEARCH)
    context = ReportContext("search", Path("run"), records, None)
    row = speed_row(answer_blocks([workload_answer(context)]))
    assert row["fastest: steady time [95% CI]"].startswith("numpy:eager (float32): 100 ms [")
    assert row["fastest: steady time [95% CI]"].endswith("per candidate epoch")


def test_a_zero_rounding_envelope_is_no_division_by_zero():
    # NumPy float32 and float64 can agree exactly on a quantity (a loss of 0, say): the
    # check is then within its bound by the tolerance floor, and the answer must still
    # be written, its share taken from the quantities with an envelope.
    failed = {"within_tolerance": False, "loss_error_over_tolerance": 0.0}
    failed |= {"params_error_over_tolerance": 40.0}
    rounding = {"multiple": 10, "within_rounding": True}
    rounding |= {"loss": {"error": 0.0, "envelope": 0.0, "bound": 1.0, "within": True}}
    rounding |= {"grads": {"error": 0.5, "envelope": 0.0, "bound": 1.0, "within": True}}
    rounding |= {"params": {"error": 40.0, "envelope": 80.0, "bound": 800.0, "within": True}}
    records = [record("rounded", "jit", 0.3, parity=failed | {"rounding": rounding})]
    records.append(record("numpy", "eager", 0.4, parity={"reference": True}))
    parity = speed_row(answer_blocks([answer(records)]))["parity with the NumPy reference"]
    assert "within rounding (errors up to 0.5× the measured float32 envelope)" in parity

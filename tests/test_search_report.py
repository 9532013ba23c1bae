"""The search workload's part of the report, from hand-made records: the cost and
best-design tables, the three charts, the two CSVs and summary.csv."""

from __future__ import annotations

import copy
import csv
import json
from pathlib import Path

import pytest

from benchmarks.records import Cell, new_record
from benchmarks.report.build import write_report
from benchmarks.workloads.search.cell import search_metrics, search_timing
from benchmarks.workloads.search.loop import SearchHistory, best_by_agent
from benchmarks.workloads.search.report import _agreement, candidate_costs

# key -> (n_params, accuracy, build, prepare, first epoch, [later epochs], first eval),
# seconds; each steady evaluation is a fifth of the first
DESIGNS = {
    "C4k3-D16": (2_000, 0.5, 0.01, 0.001, 0.5, [0.1, 0.1], 0.04),
    "P2s2": (100, 0.25, 0.03, 0.003, 0.7, [0.3, 0.3], 0.06),
    "C8k1-C8k3": (900, 0.75, 0.02, 0.002, 0.6, [0.2, 0.2], 0.05),
}
# By hand, numpy: overhead = build + (first - steady) + first eval per candidate
# (0.45, 0.49, 0.47), mean 0.47 s; totals 0.751, 1.393, 1.072, mean 1.072 s: 44%.
EPISODES = {  # agent -> the design of each episode
    "random": ["P2s2", "C4k3-D16", "P2s2", "C8k1-C8k3"],
    "qlearning": ["C4k3-D16", "C8k1-C8k3", "C8k1-C8k3", "C8k1-C8k3"],
    "qlearning-penalty": ["P2s2", "P2s2", "C8k1-C8k3", "P2s2"],
}
EPSILONS = [1.0, 1.0, 0.5, 0.5]
EPISODES_DONE = "4 of 4"


def search_record(
    variant: str, backend: str, mode: str, dtype: str = "float64", slower: float = 1.0
) -> dict:
    """An ok search record, shaped by benchmarks/workloads/search/cell.py's own functions;
    every second multiplied by ``slower``."""
    history = SearchHistory()
    for agent, keys in EPISODES.items():
        for episode, (key, epsilon) in enumerate(zip(keys, EPSILONS, strict=True), start=1):
            n_params, accuracy, build, prepare, first, later, evaluate = DESIGNS[key]
            cached = key in history.candidates
            if not cached:
                history.candidates[key] = {
                    "key": key,
                    "layers": [{"kind": "dense", "units": 16}],
                    "depth": key.count("-") + 1,
                    "n_params": n_params,
                    "accuracy": accuracy,
                    "final_loss": 1.0 - accuracy,
                    "diverged": False,
                    "build_s": build * slower,
                    "prepare_s": prepare * slower,
                    "first_epoch_s": first * slower,
                    "later_epochs_s": sum(later) * slower,
                    "steady_epoch_median_s": later[0] * slower,
                    "first_eval_s": evaluate * slower,
                    "steady_eval_s": evaluate / 5 * slower,
                    "epoch_losses": [{"epoch": 1, "loss": 1.0, "seconds": first}],
                    "train_flops_per_step": 10 * n_params,
                    "order": len(history.candidates),
                    "proposed_by": agent,
                }
            history.episodes.append(
                {
                    "agent": agent,
                    "episode": episode,
                    "epsilon": 1.0 if agent == "random" else epsilon,
                    "key": key,
                    "accuracy": accuracy,
                    "n_params": n_params,
                    "reward": accuracy,
                    "cached": cached,
                }
            )
    timing = {"import_s": 0.5 * slower, "search_total_s": 20.0 * slower}
    timing.update(search_timing(history))
    parity = (
        {"reference": True}
        if backend == "numpy"
        else {
            "candidate": "C4k3-D16",
            "within_tolerance": True,
            "loss_error_over_tolerance": 0.1,
            "params_error_over_tolerance": 0.2,
        }
    )
    cell = Cell("search", variant, backend, mode, dtype, 0, "smoke")
    return new_record(
        cell,
        "ok",
        timing=timing,
        candidates=list(history.candidates.values()),
        search_episodes=history.episodes,
        metrics=search_metrics(history, best_by_agent(history)),
        best=best_by_agent(history),
        config={"episodes_per_agent": 4, "schedule": [[1.0, 2], [0.5, 2]], "epochs": 3},
        parity=parity,
    )


def xor_record() -> dict:
    """A small ok supervised record (not a search)."""
    cell = Cell("xor", "momentum", "numpy", "eager", "float32", 0, "smoke")
    epochs = [{"epoch": e, "loss": 1.0 / e, "seconds": 0.01} for e in range(1, 6)]
    metrics = {"final_loss": 0.2, "correct": 4, "solved": True, "epochs_to_target": 4}
    return new_record(cell, "ok", epochs=epochs, metrics=metrics, timing={"import_s": 0.1})


def write_run(run_dir: Path, records: list[dict]) -> Path:
    for record in records:
        name = Cell.of(record).file_name
        (run_dir / name).write_text(json.dumps(record))
    write_report(run_dir)
    return run_dir


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    records = [
        search_record("digits", "numpy", "eager"),
        search_record("digits", "torch", "eager", slower=2.0),
        search_record("digits", "torch", "eager", "float32", slower=1.5),
        xor_record(),
    ]
    return write_run(tmp_path_factory.mktemp("run"), records)


def stopped_by_budget(record: dict) -> dict:
    """The record as if the time budget had run out after 2 of the 4 episodes."""
    record["metrics"].update(complete=False, episodes_per_agent_done=2)
    record["reason"] = "search budget of 600 s spent after 2 of 4 episodes per agent"
    return record


def table_rows(report: str, first_cells: str) -> list[list[str]]:
    """The cells of the Markdown table rows that start with ``first_cells``."""
    return [
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in report.splitlines()
        if line.startswith(f"| {first_cells}")
    ]


def test_cost_table_has_the_overhead_by_hand(run):
    report = (run / "report.md").read_text()
    assert "What a candidate costs" in report
    [numpy] = [row for row in table_rows(report, "digits | numpy:eager") if len(row) == 18]
    # episodes per agent, candidates, build, first build, prepare, first, steady, later,
    # first eval, steady eval, total, overhead, overhead share, search wall time, × fastest
    assert numpy[3:] == [
        EPISODES_DONE,
        "3",
        "20 ms",
        "30 ms",
        "2 ms",
        "600 ms",
        "200 ms",
        "400 ms",
        "50 ms",
        "10 ms",
        "1.07 s",
        "470 ms",
        "44%",
        "20 s",
        "1",
    ]
    [torch] = [r for r in table_rows(report, "digits | torch:eager | float64") if len(r) == 18]
    assert torch[13:] == ["2.14 s", "940 ms", "44%", "40 s", "2"]
    [torch32] = [r for r in table_rows(report, "digits | torch:eager | float32") if len(r) == 18]
    assert torch32[-1] == "1.5"
    assert candidate_costs(json.loads(next(run.glob("search__digits__numpy*")).read_text()))[
        "overhead_s"
    ] == pytest.approx(0.47)


def test_cost_table_says_where_the_budget_stopped_a_search(tmp_path):
    stopped = stopped_by_budget(search_record("digits-few", "torch", "compile"))
    report = (write_run(tmp_path, [stopped]) / "report.md").read_text()
    [row] = [r for r in table_rows(report, "digits-few | torch:compile") if len(r) == 18]
    assert row[3] == "2 of 4 (budget spent)"


def test_generic_speed_table_is_left_out_for_search(run):
    report = (run / "report.md").read_text()
    search = report[report.index("## search") : report.index("## xor")]
    assert "### Speed" not in search and "Loss against epoch" not in search
    assert report.count("### Speed") == 1  # xor's


def test_best_designs_and_their_agreement(run):
    report = (run / "report.md").read_text()
    rows = table_rows(report, "digits | numpy:eager | float64 | 0 | qlearning |")
    best = ["0.75", "C8k1-C8k3", "900", "2 of 4", "0.75", "900", "2"]
    assert rows == [["digits", "numpy:eager", "float64", "0", "qlearning", *best]]
    assert (
        "digits, float64, seed 0 (numpy:eager, torch:eager): the same design in every "
        "episode of every agent, so the same best designs; identical accuracies." in report
    )


def test_agreement_says_where_the_designs_part():
    numpy = search_record("digits", "numpy", "eager")
    torch = copy.deepcopy(numpy) | {"backend": "torch"}
    torch["search_episodes"][5]["key"] = "P2s2"  # qlearning, episode 2
    torch["best"]["qlearning"]["best_key"] = "C4k3-D16"
    assert _agreement([numpy, torch]) == [
        "digits, float64, seed 0 (numpy:eager, torch:eager): the designs part at qlearning "
        "episode 2; the best designs differ for qlearning."
    ]


def test_parity_names_the_candidate(run):
    report = (run / "report.md").read_text()
    assert "| digits (C4k3-D16) | torch:eager | float64 | 0.1 | 0.2 | yes |" in report


def test_search_charts_are_written_and_embedded(run):
    html = (run / "report.html").read_text()
    for chart in ("accuracy", "params", "phases"):
        assert (run / "plots" / f"search__digits__{chart}.png").stat().st_size > 1000
    markdown = (run / "report.md").read_text()
    alt = "search/digits accuracy against episode, numpy:eager float64 seed 0"
    assert f"![{alt}](plots/search__digits__accuracy.png)" in markdown
    assert "digits: where a candidate" in html  # the phases chart's title ("/" is escaped)
    # 3 search charts and xor's losses (one row: no speed overview), interactive
    assert html.count('class="report-chart"') == 4
    assert "<img " not in html


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def test_candidate_and_episode_csvs(run):
    cell = ["workload", "variant", "backend", "mode", "dtype", "seed", "preset"]
    columns, rows = read_csv(run / "search_candidates.csv")
    assert len(rows) == 3 * 3  # 3 designs in each of 3 cells; xor has none
    assert columns[:7] == cell and "layers" not in columns and "epoch_losses" not in columns
    assert {"key", "n_params", "accuracy", "build_s", "first_eval_s", "proposed_by"} <= set(columns)
    torch = [
        r for r in rows if (r["backend"], r["dtype"], r["key"]) == ("torch", "float64", "P2s2")
    ]
    assert float(torch[0]["first_epoch_s"]) == pytest.approx(1.4)
    columns, rows = read_csv(run / "search_episodes.csv")
    assert len(rows) == 3 * 12  # 3 agents x 4 episodes in each of 3 cells
    episode = ["agent", "episode", "epsilon", "key", "accuracy", "n_params", "reward", "cached"]
    assert columns == [*cell, *episode]


def test_summary_has_the_search_metrics(run):
    _, rows = read_csv(run / "summary.csv")
    assert len(rows) == 4
    numpy = next(r for r in rows if r["workload"] == "search" and r["backend"] == "numpy")
    assert numpy["metric_best_key[qlearning]"] == "C8k1-C8k3"
    assert float(numpy["metric_best_accuracy[random]"]) == 0.75
    assert float(numpy["search_total_s"]) == 20.0
    assert float(numpy["mean_candidate_s"]) == pytest.approx(1.072)


def test_a_run_without_search_writes_no_search_csvs(tmp_path):
    write_run(tmp_path, [xor_record()])
    assert (tmp_path / "report.md").exists() and (tmp_path / "summary.csv").exists()
    assert not list(tmp_path.glob("search_*.csv"))
    assert "What a candidate costs" not in (tmp_path / "report.md").read_text()


def test_agreement_compares_a_budget_stopped_search_over_the_episodes_it_ran():
    full = search_record("digits", "numpy", "eager")
    stopped = stopped_by_budget(search_record("digits", "torch", "compile"))
    stopped["search_episodes"] = stopped["search_episodes"][: 2 * len(EPISODES)]
    [line] = _agreement([full, stopped])
    assert "the same design in each of the first 2 episodes of every agent" in line
    assert "torch:compile ran before its time budget ran out" in line

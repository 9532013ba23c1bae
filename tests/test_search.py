"""The architecture-search loop (benchmarks/workloads/search/loop.py): the same seed gives the same
designs and, in float64, the same rewards on every backend; the cache trains a design
once; each candidate's phases are timed. The CLI's smoke cell runs end to end."""

from __future__ import annotations

import dataclasses
import functools
import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.workloads.search.cell import PHASES
from benchmarks.workloads.search.digits import split_digits
from benchmarks.workloads.search.loop import SearchHistory, best_by_agent, run_search
from benchmarks.workloads.search.metaqnn import EpsilonSchedule
from benchmarks.workloads.search.workload import Search
from shared import registry
from tests.parity import backends_to_test

ROOT = Path(__file__).resolve().parents[1]
VARIANT = "digits-few"  # 10 steps an epoch: the smallest candidates to train
WORKLOAD = Search()
SMOKE = WORKLOAD.search_config(VARIANT, "smoke")
# Shorter than the smoke preset (about 6 candidates, as many compilations per backend),
# still with a greedy stage that follows what Q-learning learned.
CONFIG = dataclasses.replace(SMOKE, schedule=EpsilonSchedule(((1.0, 2), (0.2, 1))))
OTHERS = backends_to_test(("torch", "jax", "keras", "keras-jax", "keras-torch"))


def search(backend: str, dtype: str = "float64", seed: int = 0) -> SearchHistory:
    # No configure(): the process's other tests have set the frameworks' thread pools
    # already (TensorFlow's can be set once), and nothing here draws from their seeds.
    module = registry.load(backend)
    return run_search(
        module,
        CONFIG,
        WORKLOAD.training_data(VARIANT, "smoke", seed),
        split_digits(CONFIG.split, seed),
        dtype,
        registry.get(backend).default_mode,
        seed,
    )


@functools.cache
def reference() -> SearchHistory:
    return search("numpy")


def test_the_reference_search_is_deterministic_and_caches_designs():
    history = reference()
    again = search("numpy")
    assert history.episodes == again.episodes
    episodes = CONFIG.schedule.episodes
    # The agents take turns: episode 1 of each, then episode 2, ...
    assert [(row["episode"], row["agent"]) for row in history.episodes] == [
        (episode, agent) for episode in range(1, episodes + 1) for agent in CONFIG.agents
    ]
    keys = [row["key"] for row in history.episodes]
    assert set(keys) == set(history.candidates)  # every design proposed was trained once
    assert sum(row["cached"] for row in history.episodes) == len(keys) - len(set(keys))
    for row in history.candidates.values():
        for phase in (*PHASES, "steady_eval_s"):
            assert row[phase] > 0, (row["key"], phase)
        assert 0 <= row["accuracy"] <= 1 and not row["diverged"]
        assert row["rss_mb"] > 0  # the process's RSS once the candidate was done
    for row in history.episodes:
        if row["agent"] == "qlearning-penalty":
            assert row["reward"] == pytest.approx(
                row["accuracy"] - CONFIG.penalty(row["n_params"]), abs=1e-15
            )
        else:
            assert row["reward"] == row["accuracy"]
    best = best_by_agent(history)
    assert set(best) == set(CONFIG.agents)
    assert best["random"]["best_accuracy"] == max(
        row["accuracy"] for row in history.episodes if row["agent"] == "random"
    )
    # Another seed: another split, other initial weights, other walks.
    assert [row["key"] for row in search("numpy", seed=1).episodes] != keys


@pytest.mark.parametrize("backend", OTHERS)
def test_same_designs_and_float64_rewards_on_every_backend(backend: str):
    """Accuracies are counts of right answers: in float64 they, and so every reward and
    every later Q-learning choice, are exactly the reference's."""
    history = search(backend)
    expected = reference()
    assert [row["key"] for row in history.episodes] == [row["key"] for row in expected.episodes]
    assert [row["accuracy"] for row in history.episodes] == [
        row["accuracy"] for row in expected.episodes
    ]
    assert [row["reward"] for row in history.episodes] == [
        row["reward"] for row in expected.episodes
    ]
    for key, row in history.candidates.items():
        assert row["final_loss"] == pytest.approx(
            expected.candidates[key]["final_loss"], rel=1e-9
        ), key


def test_smoke_cell_through_the_cli(tmp_path: Path):
    out = tmp_path / "run"
    command = [sys.executable, "-m", "benchmarks", "run", "--workload", "search"]
    command += ["--variant", VARIANT, "--backend", "numpy", "--preset", "smoke", "--threads", "1"]
    command += ["--out", str(out)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    (path,) = out.glob("search__*.json")
    record = json.loads(path.read_text())
    assert record["status"] == "ok", record.get("reason")
    assert record["parity"] == {"reference": True}
    assert record["timing"]["candidates"] == len(record["candidates"]) >= 3
    assert len(record["search_episodes"]) == 3 * SMOKE.schedule.episodes
    assert set(record["metrics"]["best_accuracy"]) == set(SMOKE.agents)
    report = (out / "report.md").read_text()
    assert "search" in report

"""A search cut short resumes from its last save (benchmarks/workloads/search/persist.py)
and ends as the uninterrupted search does; a damaged or foreign save is refused, naming
the file. NumPy in float64 on the smoke space: every rerun of a design is bit-identical."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from benchmarks.records import Cell
from benchmarks.workloads.search.digits import split_digits
from benchmarks.workloads.search.loop import (
    CANDIDATE_FIELDS,
    EPISODE_FIELDS,
    Agents,
    SearchHistory,
    run_search,
)
from benchmarks.workloads.search.metaqnn import EpsilonSchedule
from benchmarks.workloads.search.persist import BadSave, load_search, save_path, save_search
from benchmarks.workloads.search.workload import PRESETS, Search
from shared import registry
from shared.files import write_npz_atomic

VARIANT = "digits-few"  # 10 steps an epoch: the smallest candidates to train
WORKLOAD = Search()
# Saves after episodes 2 and 4 of each agent, and at the end (6); greedy stages at the
# end, so the restored Q-tables decide what is proposed after the save.
CONFIG = dataclasses.replace(
    WORKLOAD.search_config(VARIANT, "smoke"),
    schedule=EpsilonSchedule(((1.0, 3), (0.2, 3))),
    checkpoint_every=2,
    budget_s=None,
)
CELL = Cell("search", VARIANT, "numpy", "eager", "float64", 0, "smoke")


class Killed(Exception):
    """Stands for the runner's kill -9 in the middle of an episode."""


def search(path: Path, kill_after: int | None = None, resume=None) -> SearchHistory:
    """The search, saving to ``path``; raises Killed once ``kill_after`` episodes (of
    all agents together) are done."""
    history = resume.history if resume else SearchHistory()

    def on_episode(done: int) -> None:
        if kill_after is not None and done >= kill_after:
            raise Killed

    def on_save(episodes: int, agents: Agents, wall_s: float) -> None:
        save_search(path, CELL, CONFIG, history, agents, episodes, wall_s)

    return run_search(
        registry.load("numpy"),
        CONFIG,
        WORKLOAD.training_data(VARIANT, "smoke", 0),
        split_digits(CONFIG.split, 0),
        "float64",
        "eager",
        0,
        on_episode=on_episode,
        resume=(history, resume.agents if resume else {}),
        on_save=on_save,
    )


def uninterrupted(tmp: Path) -> SearchHistory:
    return search(tmp / "whole.ckpt.npz")


def test_a_killed_search_resumes_from_its_last_save_to_the_same_end(tmp_path):
    path = save_path(tmp_path / "cell.json")
    assert path.name == "cell.ckpt.npz"
    with pytest.raises(Killed):
        search(path, kill_after=3 * len(CONFIG.agents) + 1)  # mid-episode 4, after a save at 2
    resume = load_search(path, CELL, CONFIG)
    assert resume.history.resumed_from == 2 and resume.history.episodes_done == 2
    assert resume.history.wall_offset_s > 0
    resumed = search(path, resume=resume)
    whole = uninterrupted(tmp_path)
    assert len(resumed.episodes) == len(whole.episodes) == 6 * len(CONFIG.agents)
    # The same designs, rewards and cache hits, episode by episode: Q-tables, memories
    # and generators came back as they were (the candidates trained after the save and
    # lost with the kill are trained again, bit-identical in float64).
    assert resumed.episodes == whole.episodes
    assert resumed.candidates.keys() == whole.candidates.keys()
    assert load_search(path, CELL, CONFIG).history.episodes_done == 6  # the final save


def _saved(tmp_path: Path) -> Path:
    path = tmp_path / "cell.ckpt.npz"
    with pytest.raises(Killed):
        search(path, kill_after=2 * len(CONFIG.agents) + 1)
    return path


def _edit_save(path: Path, edit) -> None:
    """Rewrite the save with ``edit`` applied to its JSON (a hand-edited save)."""
    with np.load(path) as data:
        meta = json.loads(data["meta"].tobytes().decode())
    edit(meta)
    write_npz_atomic(path, {"meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)})


# Hand edits that leave a well-formed save whose rows a resumed search would trip on.
EDITS = {
    "an episode without its number": lambda meta: meta["episodes"][-1].pop("episode"),
    "a candidate without its accuracy": lambda meta: meta["candidates"][0].pop("accuracy"),
    "episodes out of turn": lambda meta: meta["episodes"].reverse(),
    "an accuracy as text": lambda meta: meta["episodes"][0].update(accuracy="0.9"),
    "a row that is not an object": lambda meta: meta["candidates"].__setitem__(0, 7),
}


@pytest.mark.parametrize(
    "damage", ["garbage", "truncated", "another cell", "another space", *EDITS]
)
def test_a_damaged_or_foreign_save_is_refused_naming_it(tmp_path, damage):
    path, cell, config = _saved(tmp_path), CELL, CONFIG
    load_search(path, cell, config)  # whole before the damage
    if damage == "garbage":
        path.write_bytes(b"not a save at all")
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:200])
    elif damage == "another cell":
        cell = dataclasses.replace(CELL, seed=1)
    elif damage == "another space":
        config = dataclasses.replace(CONFIG, space=dataclasses.replace(CONFIG.space, max_depth=2))
    else:
        _edit_save(path, EDITS[damage])
    with pytest.raises(BadSave, match="delete it to run the cell from its start") as error:
        load_search(path, cell, config)
    assert str(path) in str(error.value)


def test_the_saved_row_fields_are_the_rows_a_search_writes(tmp_path):
    history = load_search(_saved(tmp_path), CELL, CONFIG).history
    assert {frozenset(row) for row in history.episodes} == {EPISODE_FIELDS}
    assert {frozenset(row) for row in history.candidates.values()} == {CANDIDATE_FIELDS}


def test_the_long_preset_runs_metaqnns_whole_schedule_with_saves():
    long, full = PRESETS["long"], PRESETS["full"]
    assert long.schedule == full.schedule and long.schedule.episodes == 2700
    assert long.budget_s is None and long.checkpoint_every == 50
    config = WORKLOAD.search_config("digits", "long")
    assert config.checkpoint_every == 50 and config.budget_s is None

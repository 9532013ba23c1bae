"""Saving a search cell's progress and resuming from it (presets with ``checkpoint_every``).

The save, ``<cell>.ckpt.npz`` beside the cell's record (the name the runner cleans the
temporaries of), is one ``.npz`` holding one array, ``meta``: JSON of everything the
loop needs to carry on as if never stopped: the candidate cache (every trained design's
row: accuracy, parameters, its seconds), the episode log, and per agent its generator's
state, and for Q-learning its Q-table and replay memory. The episodes done and the wall
seconds spent so far (over every process of the cell) come with them.

Q-table keys are written as text: a state as ``[depth, last layer's key or null, side,
dense layers]``, an action as its layer's key (``space.design_key``) or ``"END"``.
Restored, every entry must be an action the cell's space allows in that state, so a
save made for another space is refused rather than silently used.
"""

from __future__ import annotations

import json
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.records import Cell
from benchmarks.schema import cell_of
from benchmarks.workloads.search.config import SearchConfig
from benchmarks.workloads.search.loop import (
    CANDIDATE_FIELDS,
    EPISODE_FIELDS,
    SearchHistory,
    make_agent,
)
from benchmarks.workloads.search.metaqnn import QLearning, RandomSearch
from benchmarks.workloads.search.space import (
    TERMINATE,
    Action,
    DesignState,
    SearchSpace,
    design_from_key,
    design_key,
)
from shared.files import write_npz_atomic
from shared.specs import SpecError

KIND = "metaqnn-search-save"
VERSION = 1
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # how an .npz (an empty one) starts
# What reading a damaged file raises (see the DQN checkpoint's list for why each).
READ_ERRORS = (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error)
READ_ERRORS += (AttributeError, RecursionError, MemoryError, UnicodeDecodeError)
# What restoring a well-formed file with wrong contents raises.
RESTORE_ERRORS = (SpecError, KeyError, TypeError, ValueError, IndexError, AttributeError)

Agent = QLearning | RandomSearch


class BadSave(ValueError):
    """A search save that cannot be resumed from; the message names the file and why."""


@dataclass
class Resume:
    """What a save restores: the history so far (its ``wall_offset_s`` the seconds spent
    before, ``resumed_from`` the episodes per agent done) and the agents as they were."""

    history: SearchHistory
    agents: dict[str, Agent]


def save_path(record_path: Path) -> Path:
    """``<cell>.ckpt.npz`` beside the cell's ``<cell>.json`` record."""
    return record_path.with_name(record_path.name.removesuffix(".json") + ".ckpt.npz")


def fingerprint(config: SearchConfig) -> dict[str, Any]:
    """What must match for a save to continue this cell's search (reprs of the specs)."""
    return {
        "space": repr(config.space),
        "split": repr(config.split),
        "schedule": [list(stage) for stage in config.schedule.stages],
        "qlearning": repr(config.qlearning),
        "penalty": [config.penalty_beta, config.penalty_delta],
        "agents": list(config.agents),
        "training": [repr(config.init), repr(config.loss), repr(config.optimizer)],
        "epochs": config.epochs,
        "batch_size": config.batch_size,
    }


def _action_name(action: Action) -> str:
    return "END" if action is TERMINATE else design_key((action,))


def _action_of(name: str) -> Action:
    return TERMINATE if name == "END" else design_from_key(name)[0]


def _state_row(where: DesignState) -> list[Any]:
    last = None if where.last is None else _action_name(where.last)
    return [where.depth, last, where.side, where.dense]


def agent_state(agent: Agent) -> dict[str, Any]:
    """The agent as JSON: its generator's state; Q-learning's table and memory too."""
    state: dict[str, Any] = {"rng": agent.rng.bit_generator.state}
    if isinstance(agent, QLearning):
        state["q"] = [
            [*_state_row(where), _action_name(action), value]
            for (where, action), value in agent.q.items()
        ]
        state["memory"] = [[design_key(design), reward] for design, reward in agent.memory]
    return state


def restore_agent(agent: Agent, state: dict[str, Any], space: SearchSpace) -> None:
    """Put ``agent_state``'s JSON back into ``agent``; raises SpecError (or KeyError,
    TypeError, ValueError) for a state that does not fit ``space``."""
    agent.rng.bit_generator.state = state["rng"]
    if not isinstance(agent, QLearning):
        return
    table: dict[tuple[DesignState, Action], float] = {}
    for depth, last, side, dense, action_name, value in state["q"]:
        where = DesignState(int(depth), None if last is None else _action_of(last), side, dense)
        action = _action_of(action_name)
        if action not in space.valid_actions(where):
            raise SpecError(f"Q-table entry {action!r} in {where} is not in this search space")
        table[(where, action)] = float(value)
    memory = []
    for key, reward in state["memory"]:
        design = design_from_key(key)
        space.states_of(design)  # SpecError for a design the space cannot make
        memory.append((design, float(reward)))
    agent.q, agent.memory = table, memory


def save_search(
    path: Path,
    cell: Cell,
    config: SearchConfig,
    history: SearchHistory,
    agents: dict[str, Agent],
    episodes_done: int,
    wall_s: float,
) -> None:
    """Write the cell's progress after ``episodes_done`` episodes per agent, atomically
    (a temporary file renamed: a kill mid-write leaves the previous save whole)."""
    meta = {
        "kind": KIND,
        "version": VERSION,
        "cell": cell.to_dict(),
        "config": fingerprint(config),
        "episodes_done": episodes_done,
        "wall_s": wall_s,
        "candidates": list(history.candidates.values()),
        "episodes": history.episodes,
        "agents": {name: agent_state(agent) for name, agent in agents.items()},
    }
    write_npz_atomic(path, {"meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)})


def _read_meta(path: Path) -> Any:
    if path.exists() and not path.is_file():  # a FIFO's read would wait forever
        raise BadSave(f"{path} is not a search save: not a regular file")
    try:
        with open(path, "rb") as handle:
            if handle.read(4) not in ZIP_MAGIC:
                raise BadSave(f"{path} is not a search save: not an .npz (zip) file")
        with np.load(path, allow_pickle=False) as data:
            if "meta" not in data.files:
                raise BadSave(f"{path} is not a search save: it has no 'meta' array")
            return json.loads(data["meta"].tobytes().decode())
    except READ_ERRORS as error:
        if isinstance(error, BadSave):
            raise
        raise BadSave(
            f"{path} is not a search save: damaged or truncated ({type(error).__name__}: {error})"
        ) from None


def _check_meta(path: Path, meta: Any, cell: Cell, config: SearchConfig) -> None:
    """Raise BadSave unless ``meta`` is a save of this cell and configuration."""
    if not isinstance(meta, dict) or meta.get("kind") != KIND or meta.get("version") != VERSION:
        raise BadSave(f"{path} is not a search save (version {VERSION})")
    saved = meta.get("cell")
    if not isinstance(saved, dict) or cell_of(saved) != cell:
        raise BadSave(f"{path} belongs to another cell: {saved!r}")
    if meta.get("config") != fingerprint(config):
        raise BadSave(f"{path} was saved with another search configuration")
    done, episodes = meta.get("episodes_done"), meta.get("episodes")
    total = config.schedule.episodes
    if not (isinstance(done, int) and 0 <= done <= total):
        raise BadSave(f"{path} records {done!r} episodes per agent of {total}")
    if not isinstance(episodes, list) or len(episodes) != done * len(config.agents):
        raise BadSave(f"{path}: its episode log does not hold {done} episodes of each agent")
    if set(meta.get("agents") or ()) != set(config.agents):
        raise BadSave(f"{path} holds other agents: {sorted(meta.get('agents') or ())}")
    wall = meta.get("wall_s")
    if not (isinstance(wall, int | float) and wall >= 0):
        raise BadSave(f"{path} records {wall!r} seconds of search")


def _missing(row: Any, fields: frozenset[str], what: str) -> None:
    if not isinstance(row, dict):
        raise SpecError(f"{what} is not an object: {row!r:.80}")
    if not fields <= row.keys():
        raise SpecError(f"{what} has no {', '.join(sorted(fields - row.keys()))}")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _candidate_cache(rows: Any, config: SearchConfig) -> dict[str, dict[str, Any]]:
    """The saved candidate rows by key; raises SpecError (or TypeError) for a row that
    lacks a field or holds a design ``config``'s space cannot make."""
    candidates = {}
    for index, row in enumerate(rows):
        _missing(row, CANDIDATE_FIELDS, f"candidate {index + 1}")
        design = design_from_key(row["key"])
        config.space.states_of(design)  # SpecError for a design the space cannot make
        if not (_is_number(row["accuracy"]) and isinstance(row["n_params"], int)):
            raise SpecError(f"candidate {row['key']}: accuracy or parameter count not a number")
        candidates[row["key"]] = row
    return candidates


def _check_episode_log(episodes: list, candidates: dict[str, Any], config: SearchConfig) -> None:
    """Raise SpecError unless every episode row has its fields and is the turn the loop
    takes there (episode 1 of each agent, then 2, ...) with a design of the cache."""
    for index, row in enumerate(episodes):
        _missing(row, EPISODE_FIELDS, f"episode row {index + 1}")
        turn = (index // len(config.agents) + 1, config.agents[index % len(config.agents)])
        if (row["episode"], row["agent"]) != turn:
            raise SpecError(f"episode row {index + 1} is not episode {turn[0]} of agent {turn[1]}")
        if row["key"] not in candidates:
            raise SpecError(f"episode row {index + 1}'s design is not in the candidate cache")
        if not all(_is_number(row[field]) for field in ("epsilon", "accuracy", "reward")):
            raise SpecError(f"episode row {index + 1}: epsilon, accuracy or reward not a number")


def load_search(path: Path, cell: Cell, config: SearchConfig) -> Resume:
    """The progress saved in ``path`` for this cell. Raises BadSave, naming the file, for
    one that is damaged, foreign (another cell, configuration or search space) or
    inconsistent: resuming from it would report a search that never happened."""
    try:
        meta = _read_meta(path)
        _check_meta(path, meta, cell, config)
        try:
            candidates = _candidate_cache(meta["candidates"], config)
        except RESTORE_ERRORS as error:
            raise BadSave(f"{path}: damaged candidate cache ({error})") from None
        try:
            _check_episode_log(meta["episodes"], candidates, config)
        except RESTORE_ERRORS as error:
            raise BadSave(f"{path}: damaged episode log ({error})") from None
        agents = {name: make_agent(name, config, cell.seed) for name in config.agents}
        for name, agent in agents.items():
            try:
                restore_agent(agent, meta["agents"][name], config.space)
            except RESTORE_ERRORS as error:
                raise BadSave(f"{path}: damaged state of agent {name} ({error})") from None
    except BadSave as error:
        raise BadSave(f"{error}; delete it to run the cell from its start") from None
    history = SearchHistory(candidates=candidates, episodes=meta["episodes"])
    history.wall_offset_s = float(meta["wall_s"])
    history.resumed_from = meta["episodes_done"]
    return Resume(history, agents)

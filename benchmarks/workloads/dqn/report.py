"""DQN's part of the report: agent steps per second with learning on, the TD step,
acting, the game and the replay memory, memory, and the scores reached; for long runs
(learning.py ``is_learning_run``) a table of what each one learned."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from benchmarks.document import Block, Heading, Number, Paragraph, Table
from benchmarks.hosts import record_ceiling
from benchmarks.report.answer import SourceFigure, too_short, value_range
from benchmarks.report.context import ReportContext
from benchmarks.report.format import fmt, megabytes, seconds, times
from benchmarks.report.groups import Group, groups, ok_groups
from benchmarks.report.tables import Column, at_threads, identity, record_identity, table
from benchmarks.schema import record_threads
from benchmarks.workloads.dqn.cell import steady_agent_steps_per_s
from benchmarks.workloads.dqn.learning import (
    PUBLISHED_DQN,
    PUBLISHED_DQN_SPREAD,
    PUBLISHED_FRAMES,
    RANDOM_PLAY,
    learning_records,
    wall_seconds,
)
from benchmarks.workloads.dqn.peer import PEER_FILE, PEER_LABEL, read_peer

Record = dict[str, Any]


def _time(header: str, name: str) -> Column[Group]:
    return Column(header, lambda group: seconds(group.first["timing"].get(name)))


def _metric(header: str, name: str, digits: int = 4) -> Column[Group]:
    return Column(header, lambda group: fmt(group.first["metrics"].get(name), digits))


def columns(ceiling: float | None) -> tuple[Column[Group], ...]:
    def gflops(group: Group) -> str:
        value = group.first["timing"].get("gflops")
        own = record_ceiling(group.first, ceiling)  # the host it ran on
        share = f" ({value / own:.0%})" if value and own else ""
        return f"{fmt(value, 3)}{share}"

    return (
        *identity("backend"),
        Column(
            "agent steps/s, learning on",
            lambda group: fmt(steady_agent_steps_per_s(group.first["timing"]), 3),
        ),
        _time("first TD step", "first_epoch_s"),
        _time("TD step (batch 32)", "steady_median_s"),
        Column("GFLOP/s (of ceiling)", gflops),
        _time("first greedy action", "first_q_values_s"),
        _time("greedy action (batch 1)", "act_median_s"),
        _time("game step", "game_step_mean_s"),
        _time("replay sample", "replay_sample_mean_s"),
        _metric("replay bytes / transition", "replay_bytes_per_transition", 5),
        Column("peak RSS", lambda group: megabytes(group.first.get("peak_rss_mb"))),
        _metric("episodes", "episodes"),
        _metric("running mean score", "final_running_mean"),
        _metric("best score", "best_score"),
    )


ABOUT = (
    "In the speed table above, an epoch of a DQN cell is one TD step on a batch of 32 "
    "(target forward, online forward and backward, Adam). Agent steps/s: agent steps "
    "played with learning on over their wall time, everything included (acting, the "
    "game, the replay memory, a TD step every 4 agent steps) but the first call of "
    "each agent function (tracing and compiling: the first TD step and the first "
    "greedy action, in their own columns, and the first target sync); each agent step "
    "is 4 emulator frames. Greedy action: the median q_values call on one observation "
    "after the first; "
    "game step: the emulator's mean time per agent step; replay sample: rebuilding "
    "32 frame stacks and their next states. Scores are raw game scores (the agent "
    "learns from rewards clipped to [-1, 1]); running mean and max are over the last "
    "100 episodes. Measured before on this project's 2-core machine class (2 threads, "
    "November 2026): CleanRL's single-file PyTorch DQN (dqn_atari.py) ran 98 agent "
    "steps/s with learning on; the Stable-Baselines3 row below, when there is one, "
    "is that comparison made in this run. Published DQN (Mnih et al. 2015) reaches "
    f"{PUBLISHED_DQN:.0f} on Space Invaders after 50 M frames, random play {RANDOM_PLAY:.0f}."
)


@dataclass(frozen=True)
class PeerRow:
    """The peer record as a table row: what ``columns`` read of a ``Group``."""

    variant: str
    implementation: str
    dtype: str
    first: dict[str, Any]
    threads: int | None = None


def peer_mismatch(peer: dict[str, Any], records: list[dict[str, Any]]) -> str | None:
    """Why the peer record is no reference for this run's DQN cells, or None: it played
    another preset (another game length) or at a thread count none of them ran at
    (``dqn-peer --preset``/``--threads`` given, or another run's file copied in)."""
    presets = sorted({record["preset"] for record in records})
    threads = sorted({record_threads(record) for record in records})
    if not records or (peer.get("preset") in presets and peer.get("threads") in threads):
        return None
    counts = ", ".join(map(str, threads))
    return (
        f"{PEER_FILE} played preset {peer.get('preset')} at {peer.get('threads')} thread(s), "
        f"this run's DQN cells: preset {', '.join(presets)} at {counts} thread(s) "
        f"(`python -m benchmarks dqn-peer --out RUN_DIR` without --preset or --threads "
        f"plays the run's)"
    )


def peer_blocks(context: ReportContext, table_block: Table) -> tuple[Table, str]:
    """``table_block`` with the ``dqn-peer`` reference row added when the run folder has
    its file, and the sentence that says what the row is (or how to add it)."""
    peer = read_peer(context.run_dir)
    if peer is None:
        return table_block, (
            " `python -m benchmarks dqn-peer --out RUN_DIR` (this run's folder) adds "
            "Stable-Baselines3's DQN on the same game and settings as a reference row "
            "(the sb3 extra)."
        )
    problem = peer.get("problem") or peer_mismatch(peer, context.records)
    if problem:
        return table_block, f" The reference row is left out: {problem}."
    several = any(record.get("threads_in_name") for record in context.records)
    row = PeerRow(
        peer.get("variant", "?"),
        PEER_LABEL,
        peer.get("dtype", "?"),
        peer,
        peer.get("threads") if several else None,
    )
    cells = tuple(column.value(row) for column in columns(context.ceiling_gflops))
    versions = peer.get("versions", {})
    note = (
        f" The last row, {PEER_LABEL}, is no backend of this suite but a peer for "
        f"reference: stable-baselines3 {versions.get('stable-baselines3', '?')} on torch "
        f"{versions.get('torch', '?')}, measured by `python -m benchmarks dqn-peer` "
        f"({PEER_FILE}) at preset {peer.get('preset')}, {peer.get('threads')} torch "
        f"thread(s), on {peer.get('environment', {}).get('host', '?')} at "
        f"{peer.get('started', '?')}; what differs from our cells is listed in its file."
    )
    return Table(table_block.header, (*table_block.rows, cells)), note


def dqn_sections(context: ReportContext) -> list[Block]:
    """Per backend and mode (seed 0 of each row): throughput, memory and scores."""
    ceiling, records = context.ceiling_gflops, context.records
    flops = next((r["timing"].get("train_flops_per_step") for r in records if "timing" in r), None)
    floor = (
        f" At this run's measured GEMM ceiling ({ceiling:.0f} GFLOP/s) a TD step of "
        f"{flops / 1e9:.3g} GFLOP cannot take less than {seconds(flops / (ceiling * 1e9))}."
        if flops and ceiling
        else ""
    )
    speeds, peer_note = peer_blocks(context, table(columns(ceiling), ok_groups(records)))
    return [
        Heading(3, "DQN: throughput, memory and scores (seed 0 of each row)"),
        speeds,
        Paragraph(ABOUT + floor + peer_note),
        *long_run_blocks(context),
    ]


def _learned(name: str) -> Column[Record]:
    return Column(name.replace("_", " "), lambda r: fmt(r["metrics"].get(name), 4))


def _count(value: int | None) -> str:
    """A count with thousands separated ("250,000"); carries the count."""
    return fmt(value) if value is None else Number(f"{value:,}", float(value))


def _over_random(record: Record) -> str:
    final = record["metrics"].get("final_running_mean")
    return times(final / RANDOM_PLAY if final is not None else None)


def _wall(record: Record) -> str:
    """The cell's play time in hours from an hour on ("2.35 h"), else as ``seconds``;
    carries the seconds."""
    wall = wall_seconds(record)
    if wall is None or wall < 3600:
        return seconds(wall)
    return Number(f"{wall / 3600:.3g} h", float(wall))


def _resumed(record: Record) -> str:
    step = record.get("resumed_from_step")
    return f"from agent step {step:,}" if step else "no"


LONG_RUN_COLUMNS: tuple[Column[Record], ...] = (
    *record_identity("variant", "backend", "dtype", "seed"),
    Column("status", lambda r: r["status"]),
    Column("agent steps", lambda r: _count(r["metrics"].get("agent_steps"))),
    Column("emulator frames", lambda r: _count(r["metrics"].get("emulator_frames"))),
    Column("wall time", _wall),
    Column("episodes", lambda r: _count(r["metrics"].get("episodes"))),
    _learned("final_running_mean"),
    Column(f"÷ random play ({RANDOM_PLAY:.0f})", _over_random),
    _learned("best_running_mean"),
    _learned("final_eval_mean"),
    _learned("best_eval_mean"),
    Column("resumed", _resumed),
)
LONG_RUN_ABOUT = (
    "One row per cell that learns (the learn, long and full presets, or any cell with "
    "evaluations or 100 episodes or more). Wall time: play and evaluations, every "
    "process of a resumed cell summed (not its imports and building). Running means are "
    "over the last 100 training episodes (raw game scores, at the training epsilon); "
    "best running mean: the highest it reached. Evaluation means: the mean score of the "
    "evaluation episodes at epsilon 0.05, played every eval_every agent steps without "
    f"learning; final and best. Random play scores {RANDOM_PLAY:.0f}, published DQN "
    f"{PUBLISHED_DQN:.0f} (± {PUBLISHED_DQN_SPREAD:.0f}) after 50 M frames. Resumed: "
    "the agent step the cell's last process started from (its checkpoint)."
)


def seed_medians(records: list[Record]) -> str:
    """A sentence per backend:mode with several seeds: the median of their final
    running means and their range; "" when no row has several."""
    sentences = []
    for group in groups(records):
        finals = [r["metrics"].get("final_running_mean") for r in group.records]
        finals = [v for v in finals if v is not None]
        if len(finals) > 1:
            sentences.append(
                f" {at_threads(group.implementation, group.threads)} {group.dtype} "
                f"({group.variant}): median final running mean {np.median(finals):.4g} over "
                f"{len(finals)} seeds ({min(finals):.4g}–{max(finals):.4g}), "
                f"{np.median(finals) / RANDOM_PLAY:.3g}× random play."
            )
    return "".join(sentences)


def long_run_blocks(context: ReportContext) -> list[Block]:
    """The long-run table (``LONG_RUN_COLUMNS``, a row per learning record), how to read
    it and the median over seeds of each row that has several; nothing when the run has
    no learning record."""
    records = learning_records(context.records)
    if not records:
        return []
    return [
        Heading(3, "DQN long runs: what each cell learned"),
        table(LONG_RUN_COLUMNS, records),
        Paragraph(LONG_RUN_ABOUT + seed_medians(records)),
    ]


def _ratio(values: list[float], reference: float) -> str:
    """``values`` over ``reference``: "1.52×", or "1.48–1.61×" for several."""
    low, high = f"{min(values) / reference:.3g}", f"{max(values) / reference:.3g}"
    return f"{low}×" if low == high else f"{low}–{high}×"


def _learning_figure(records: list[Record]) -> SourceFigure:
    """The answer's DQN figure for learning runs: their final running means against
    random play and the published DQN, and how much of its training they played."""
    finals = [r["metrics"].get("final_running_mean") for r in records]
    numbers = [v for v in finals if v is not None]
    steps = min(r["metrics"].get("agent_steps", 0) for r in records)
    against = (
        f": {_ratio(numbers, RANDOM_PLAY)} random play, {_ratio(numbers, PUBLISHED_DQN)} "
        "published DQN"
        if numbers
        else ""
    )
    played = (
        f"against published DQN after {100 * steps / PUBLISHED_FRAMES:.2g}% of its 50 M frames "
        "(agent steps)"
        if steps < PUBLISHED_FRAMES
        else "against published DQN at its length"
    )
    return SourceFigure(
        "running mean score (last 100 episodes) of the learning runs",
        f"{value_range(finals)} after {steps:,} agent steps{against}",
        f"random play {RANDOM_PLAY:.0f}, published DQN {PUBLISHED_DQN:.0f} "
        f"(± {PUBLISHED_DQN_SPREAD:.0f}) after 50 M frames (Mnih et al. 2015); the "
        "source's Keras run never really passed 400 in 10 M frames (shared/reference.md 3)",
        f"yes against random play; {played}",
    )


def source_figures(context: ReportContext) -> list[SourceFigure]:
    """The running mean score this run's agents reached, beside random play and the
    published DQN, and how much of the published training it played; for learning runs
    (learning.py ``is_learning_run``) their own figure, the rest's as before."""
    learning = [r for r in learning_records(context.records) if r["status"] == "ok"]
    taken = {id(r) for r in learning}
    records = [
        r
        for r in context.records
        if r["status"] == "ok" and r.get("metrics") and id(r) not in taken
    ]
    figures = [_learning_figure(learning)] if learning else []
    if not records:
        return figures
    metrics = [r["metrics"] for r in records]
    steps = min(m.get("agent_steps", 0) for m in metrics)
    frames = min(m.get("emulator_frames", 0) for m in metrics)
    episodes = value_range([float(m.get("episodes", 0)) for m in metrics], count=False)
    ours = (
        f"{value_range([m.get('final_running_mean') for m in metrics])}: mean of "
        f"{episodes} episodes in {steps:,} agent steps ({frames:,} emulator frames)"
    )
    return [
        *figures,
        SourceFigure(
            "running mean score (last 100 episodes)",
            ours,
            f"random play {RANDOM_PLAY:.0f}, published DQN {PUBLISHED_DQN:.0f} "
            f"(± {PUBLISHED_DQN_SPREAD:.0f}) after 50 M frames (Mnih et al. "
            "2015); the source's Keras run never really passed 400 in 10 M frames "
            "(shared/reference.md 3)",
            too_short(
                records[0]["preset"],
                steps,
                PUBLISHED_FRAMES,
                "frames (agent steps)",
                "published DQN",
            ),
        ),
    ]

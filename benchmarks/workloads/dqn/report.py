"""DQN's part of the report: agent steps per second with learning on, the TD step,
acting, the game and the replay memory, memory, and the scores reached."""

from __future__ import annotations

from benchmarks.document import Block, Heading, Paragraph
from benchmarks.hosts import record_ceiling
from benchmarks.report.context import ReportContext
from benchmarks.report.format import fmt, megabytes, seconds
from benchmarks.report.groups import Group, ok_groups
from benchmarks.report.tables import Column, identity, table
from benchmarks.workloads.dqn.cell import steady_agent_steps_per_s


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
    "100 episodes. reference.md: a widely used single-file PyTorch DQN runs about 80 "
    "agent steps/s with learning on on this machine class; published DQN reaches "
    "1976 on Space Invaders after 50 M frames, random play 148."
)


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
    return [
        Heading(3, "DQN: throughput, memory and scores (seed 0 of each row)"),
        table(columns(ceiling), ok_groups(records)),
        Paragraph(ABOUT + floor),
    ]

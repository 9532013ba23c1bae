"""Architecture search by reinforcement learning, MetaQNN-style (reference.md section 5).

Agents design CNNs for scikit-learn's 8x8 digits layer by layer (the MDP of
``benchmarks.workloads.search.space``); a backend builds and trains each design for a short, fixed
budget, and the design's validation accuracy is its reward. Three agents run in every
cell, on one cache of trained designs (a design is trained once per cell, whoever
proposes it: its accuracy depends only on the design, the seed and the backend):

- ``random``: random search, the baseline;
- ``qlearning``: MetaQNN's tabular Q-learning, reward = accuracy;
- ``qlearning-penalty``: the same with reward = accuracy - P, the source's size
  penalty ``P = beta * (delta * params + log(params))``, delta = 1e-8.

What the cell measures is what a search costs in each framework: per candidate the
build, the first epoch (tracing and compiling included), the later epochs and the
validation pass. The loop is loop.py.

Every candidate trains from the seed's initialisation (torch_default) with Adam
(lr 1e-3, eps 1e-8) on softmax cross-entropy, the same shuffled batches for every
candidate of a cell.

Variants: ``digits`` (30% of every class validates, the rest trains: 1,257 / 540
images) and ``digits-few``, the harder split (the same validation set, 15 training
images per class).

Presets:
- ``smoke``: a small space (2 filter counts, kernels 1 and 3, one dense width, depth
  3), 5 episodes per agent, 2 epochs: a handful of tiny candidates, seconds (minutes
  in the compile modes; a 300 s budget).
- ``brief`` (the bench default): the full space, 4 epochs per candidate, and no
  episode starts after 30 s of search: a few candidates per agent, what each costs.
- ``quick``: the full space, 40 episodes per agent (20 at
  epsilon 1, then 0.7, 0.5, 0.3 and 0.1 for 5 each), 4 epochs per candidate, and a
  budget: no episode starts after 300 s of search (the record says how far it got).
- ``full``: MetaQNN's schedule (1,500 episodes at epsilon 1, then 100 to 150 at each
  of 0.9 .. 0.1: 2,700 episodes), 20 epochs per candidate.
- ``long`` (a long-run preset, never in the default run): ``full``'s schedule with 2
  epochs per candidate, sized so that NumPy at one thread finishes in about an hour on
  the 2-core machine (0.4-0.7 s a candidate measured; the agents share one cache, so
  some 3,000 of the 8,100 episodes train a design). No budget: the schedule completes.
  The progress is saved every 50 episodes per agent (persist.py), so a cell cut short
  resumes with ``--resume``.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.document import Block
from benchmarks.records import Cell
from benchmarks.report.answer import Pace, SourceFigure
from benchmarks.report.context import ReportContext
from benchmarks.workloads.base import EpochData, Preset, preset_named
from benchmarks.workloads.kinds import MultiModelWorkload
from benchmarks.workloads.search.cell import SearchRun
from benchmarks.workloads.search.charts import search_chart_sections
from benchmarks.workloads.search.config import AGENTS, PENALTY_DELTA, SearchConfig
from benchmarks.workloads.search.digits import (
    DigitsSplit,
    load_digits,
    split_digits,
    training_batches,
)
from benchmarks.workloads.search.exports import write_search_csvs
from benchmarks.workloads.search.metaqnn import EpsilonSchedule, QLearningSpec
from benchmarks.workloads.search.report import (
    best_sections,
    candidate_pace,
    cost_sections,
    source_figures,
)
from benchmarks.workloads.search.report import parity_note as search_parity_note
from benchmarks.workloads.search.space import SearchSpace
from benchmarks.workloads.search.stage_report import stage_sections, stage_source_figures
from shared.losses import SoftmaxCrossEntropy
from shared.optim import Adam
from shared.params import InitScheme
from shared.specs import Network, SpecError

__all__ = ["AGENTS", "PENALTY_DELTA", "PRESETS", "SMOKE_SPACE", "Search", "SearchConfig"]

SPLITS = {"digits": DigitsSplit(0.3), "digits-few": DigitsSplit(0.3, train_per_class=15)}
BATCH_SIZE = {"digits": 32, "digits-few": 15}  # digits-few: 10 steps an epoch
SMOKE_SPACE = SearchSpace(
    conv_filters=(4, 8), conv_kernels=(1, 3), dense_units=(16,), max_depth=3, max_dense=1
)
# Scales P to the accuracy range: 0.01 * log(x) grows by 0.023 per tenfold parameters,
# so a design 100 times larger must be about 5 points more accurate to be preferred.
PENALTY_BETA = 0.01


@dataclass(frozen=True)
class SearchPreset(Preset):
    """The sizes of one preset, and ``timeout_s`` (Preset's): the budget, plus the
    candidate under way when it runs out and the parity check."""

    space: SearchSpace
    """The designs the agents choose from."""
    schedule: EpsilonSchedule
    """Q-learning's epsilon schedule (random search runs as many episodes)."""
    epochs: int
    """Epochs each candidate trains."""
    budget_s: float | None
    """Seconds of search after which no episode starts (None: the whole schedule): under
    torch.compile every candidate compiles anew (~13 s each here, Keras on PyTorch's
    compile mode more)."""
    checkpoint_every: int = 0
    """Episodes per agent between saves of the search's progress (0: never saved)."""


# MetaQNN's episode schedule: 2,700 episodes per agent.
METAQNN_SCHEDULE = EpsilonSchedule(
    (
        *((1.0, 1500), (0.9, 100), (0.8, 100), (0.7, 100), (0.6, 150), (0.5, 150)),
        *((0.4, 150), (0.3, 150), (0.2, 150), (0.1, 150)),
    )
)

# Presets at MetaQNN's schedule: the report shows their searches stage by stage.
STAGE_PRESETS = ("full", "long")

PRESETS = {
    "smoke": SearchPreset(
        SMOKE_SPACE, EpsilonSchedule(((1.0, 3), (0.5, 2))), 2, 300.0, timeout_s=900.0
    ),
    "brief": SearchPreset(
        SearchSpace(),
        EpsilonSchedule(((1.0, 10), (0.5, 5), (0.1, 5))),
        4,
        30.0,
        timeout_s=300.0,
    ),
    "quick": SearchPreset(
        SearchSpace(),
        EpsilonSchedule(((1.0, 20), (0.7, 5), (0.5, 5), (0.3, 5), (0.1, 5))),
        4,
        300.0,
        timeout_s=900.0,
    ),
    "full": SearchPreset(SearchSpace(), METAQNN_SCHEDULE, 20, None, timeout_s=7 * 86400.0),
    # The cell's timeout stops a stuck run; a cell it cuts short resumes from its save.
    "long": SearchPreset(
        SearchSpace(), METAQNN_SCHEDULE, 2, None, timeout_s=6 * 3600.0, checkpoint_every=50
    ),
}


class Search(MultiModelWorkload):
    """Many models per cell: its cell (cell.py) runs loop.py with ``search_config``."""

    name = "search"
    description = "MetaQNN architecture search on 8x8 digits: Q-learning vs random search"
    variants = tuple(SPLITS)
    main_variants = ("digits",)
    loop_seconds_field = "search_total_s"
    resumed_field = "resumed_from_episode"
    presets = PRESETS
    # The timing of a cell that trains many models instead of epochs.
    summary_timing = (
        "search_total_s",
        "mean_candidate_s",
        "mean_build_s",
        "mean_prepare_s",
        "mean_first_epoch_s",
        "mean_later_epochs_s",
        "mean_first_eval_s",
        "median_steady_epoch_s",
        "median_steady_eval_s",
    )

    def seeds(self, variant: str, preset: str) -> Sequence[int]:
        return (0,)

    def default_variants(self, preset: str) -> tuple[str, ...]:
        """The main variant alone at ``brief`` and at ``long``, an hour's search; every
        variant otherwise (``--variant digits-few`` runs the other)."""
        return self.main_variants if preset == "long" else super().default_variants(preset)

    def check(self, variant: str, preset: str) -> None:
        load_digits()  # SpecError, before any cell starts, when scikit-learn is missing

    def report_speed(self, context: ReportContext) -> list[Block]:
        """Not epochs of one model: what a candidate costs, phase by phase."""
        return cost_sections(context)

    def report_sections(self, context: ReportContext) -> list[Block]:
        return best_sections(context) + stage_sections(context, STAGE_PRESETS)

    def report_pace(self, record: dict[str, Any]) -> Pace:
        return candidate_pace(record)

    def report_source(self, context: ReportContext) -> list[SourceFigure]:
        """The last epsilon stage's figures for searches at MetaQNN's schedule; the last
        quarter's, with how much shorter the search was, for the others."""
        others = [r for r in context.records if r["preset"] not in STAGE_PRESETS]
        shorter = dataclasses.replace(context, records=others)
        return stage_source_figures(context, STAGE_PRESETS) + source_figures(
            shorter, self.preset("full").schedule.episodes
        )

    def parity_note(self, context: ReportContext) -> str:
        return search_parity_note(context)

    def report_charts(self, context: ReportContext) -> list[Block]:
        return search_chart_sections(context)

    def write_exports(self, run_dir: Path, records: list[dict[str, Any]]) -> list[Path]:
        return write_search_csvs(run_dir, records)

    def networks(self) -> Iterable[Network]:
        """The designs of one layer of every preset's space."""
        for space in (preset.space for preset in PRESETS.values()):
            for action in space.valid_actions(space.start):
                with contextlib.suppress(SpecError):  # a layer that cannot end a design
                    yield space.to_network((action,))

    def start(self, cell: Cell, record_path: Path | None) -> SearchRun:
        return SearchRun(self, cell, record_path)

    def search_config(self, variant: str, preset: str) -> SearchConfig:
        sizes = preset_named(PRESETS, preset, self.name)
        return SearchConfig(
            space=sizes.space,
            split=SPLITS[variant],
            schedule=sizes.schedule,
            qlearning=QLearningSpec(lr=0.01, discount=1.0, replay=30, q_init=0.5),
            penalty_beta=PENALTY_BETA,
            init=InitScheme("torch_default"),
            loss=SoftmaxCrossEntropy(),
            optimizer=Adam(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8),
            epochs=sizes.epochs,
            batch_size=BATCH_SIZE[variant],
            budget_s=sizes.budget_s,
            checkpoint_every=sizes.checkpoint_every,
        )

    def training_data(self, variant: str, preset: str, seed: int) -> EpochData:
        """Every candidate's batches: ``(epochs, steps, batch, 1, 8, 8)`` and one-hot
        ``(epochs, steps, batch, 10)``."""
        config = self.search_config(variant, preset)
        data = split_digits(config.split, seed)
        xs, ys = training_batches(data, config.epochs, config.batch_size, seed)
        return EpochData(xs, ys, per_epoch=True)

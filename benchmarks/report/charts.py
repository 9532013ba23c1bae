"""Charts: the generic loss curves, and what every chart of the report uses (the
workloads' own charts live in their packages, ``charts.py``)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.document import Block, Heading, Image
from benchmarks.records import implementation
from benchmarks.report.context import ReportContext
from benchmarks.report.groups import named_threads
from benchmarks.report.tables import at_threads
from shared.files import write_figure_atomic

Record = dict[str, Any]
Chart = tuple[str, str]  # (path relative to the run folder, alt text)


def pyplot():
    """matplotlib.pyplot on the Agg backend (no display), imported on first use."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_chart(fig, run_dir: Path, name: str) -> str:
    """Write ``fig`` as ``plots/<name>`` (PNG) and close it; returns the relative path."""
    # Atomic: several `report`s of one run may draw the same chart at once.
    path = Path("plots") / name
    write_figure_atomic(run_dir / path, fig, dpi=90, format="png")
    pyplot().close(fig)
    return str(path)


def series_label(record: Record) -> str:
    """A record's line in a legend: ``backend:mode dtype`` (at N threads, where the run
    has several counts)."""
    name = f"{implementation(record['backend'], record['mode'])} {record['dtype']}"
    return at_threads(name, named_threads(record))


def chart_section(heading: str, charts: list[Chart]) -> list[Block]:
    """A heading and its charts; nothing when there is no chart."""
    return [Heading(3, heading), *(Image(path, alt) for path, alt in charts)] if charts else []


def _curve(record: Record) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(epoch, cumulative training seconds, loss) of a record; a missing loss is NaN."""
    rows = record["epochs"]
    epochs = np.array([row["epoch"] for row in rows])
    wall = np.cumsum([row["seconds"] for row in rows])
    losses = np.array([np.nan if row["loss"] is None else row["loss"] for row in rows])
    return epochs, wall, losses


def plot_losses(context: ReportContext) -> list[Chart]:
    """One PNG per variant of the records with epochs (lowest seed of each row)."""
    by_variant: dict[str, list[Record]] = defaultdict(list)
    for record in context.records:
        if record["status"] in ("ok", "diverged") and record.get("epochs"):
            by_variant[record["variant"]].append(record)
    if not by_variant:
        return []
    plt = pyplot()
    workload, images = context.workload, []
    for variant, group in sorted(by_variant.items()):
        seed = min(r["seed"] for r in group)
        fig, (by_epoch, by_time) = plt.subplots(1, 2, figsize=(11, 3.6))
        for record in sorted(group, key=lambda r: (r["backend"], r["mode"], r["dtype"])):
            if record["seed"] != seed:
                continue
            epochs, wall, losses = _curve(record)
            by_epoch.plot(epochs, losses, label=series_label(record), linewidth=1)
            by_time.plot(wall, losses, label=series_label(record), linewidth=1)
        all_losses = np.concatenate([_curve(r)[2] for r in group])
        scale = "log" if np.nanmin(all_losses) > 0 else "linear"
        by_epoch.set(xlabel="epoch", ylabel="loss", yscale=scale)
        by_time.set(xlabel="training seconds (first epoch included)", yscale=scale, xscale="log")
        by_epoch.legend(fontsize=7)
        fig.suptitle(f"{workload}/{variant}, seed {seed}")
        fig.tight_layout()
        path = save_chart(fig, context.run_dir, f"{workload}__{variant}__loss.png")
        images.append((path, f"{workload}/{variant} loss"))
    return images


def loss_sections(context: ReportContext) -> list[Block]:
    return chart_section("Loss against epoch and against wall time", plot_losses(context))

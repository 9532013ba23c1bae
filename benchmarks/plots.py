"""Convergence charts: loss against epoch and against wall time, every backend on one."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

Record = dict[str, Any]


def _curve(record: Record) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(epoch, cumulative training seconds, loss) of a record; a missing loss is NaN."""
    rows = record["epochs"]
    epochs = np.array([row["epoch"] for row in rows])
    wall = np.cumsum([row["seconds"] for row in rows])
    losses = np.array([np.nan if row["loss"] is None else row["loss"] for row in rows])
    return epochs, wall, losses


def plot_losses(run_dir: Path, workload: str, records: list[Record]) -> list[tuple[str, str]]:
    """One PNG per variant (lowest seed of each row); returns ``(relative path, alt)``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_variant: dict[str, list[Record]] = defaultdict(list)
    for record in records:
        if record["status"] in ("ok", "diverged") and record.get("epochs"):
            by_variant[record["variant"]].append(record)
    images = []
    for variant, group in sorted(by_variant.items()):
        seed = min(r["seed"] for r in group)
        fig, (by_epoch, by_time) = plt.subplots(1, 2, figsize=(11, 3.6))
        for record in sorted(group, key=lambda r: (r["backend"], r["mode"], r["dtype"])):
            if record["seed"] != seed:
                continue
            epochs, wall, losses = _curve(record)
            label = f"{record['backend']}:{record['mode']} {record['dtype']}"
            by_epoch.plot(epochs, losses, label=label, linewidth=1)
            by_time.plot(wall, losses, label=label, linewidth=1)
        all_losses = np.concatenate([_curve(r)[2] for r in group])
        scale = "log" if np.nanmin(all_losses) > 0 else "linear"
        by_epoch.set(xlabel="epoch", ylabel="loss", yscale=scale)
        by_time.set(xlabel="training seconds (first epoch included)", yscale=scale, xscale="log")
        by_epoch.legend(fontsize=7)
        fig.suptitle(f"{workload}/{variant}, seed {seed}")
        fig.tight_layout()
        path = Path("plots") / f"{workload}__{variant}__loss.png"
        (run_dir / path.parent).mkdir(exist_ok=True)
        fig.savefig(run_dir / path, dpi=90)
        plt.close(fig)
        images.append((str(path), f"{workload}/{variant} loss"))
    return images

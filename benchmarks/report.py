"""report.md (with loss-curve plots) and summary.csv, rebuilt from a run's records alone."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.records import load_records, write_summary_csv
from shared.workloads.copynet import SOURCE_RESULTS, SOURCE_STEP_SECONDS

Record = dict[str, Any]
GroupKey = tuple[str, str, str, str]  # variant, backend, mode, dtype


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None or value == "":
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return str(value)
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def _seconds(value: float | None) -> str:
    """Seconds with a unit that keeps 3 significant digits readable."""
    if value is None or not np.isfinite(value):
        return "–"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if abs(value) >= scale or unit == "µs":
            return f"{value / scale:.3g} {unit}"
    return "–"


def _table(header: list[str], rows: Iterable[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += [
        "| " + " | ".join(_fmt(c) if not isinstance(c, str) else c for c in row) + " |"
        for row in rows
    ]
    return [*lines, ""]


def _groups(records: list[Record]) -> dict[GroupKey, list[Record]]:
    groups: dict[GroupKey, list[Record]] = defaultdict(list)
    for record in records:
        groups[(record["variant"], record["backend"], record["mode"], record["dtype"])].append(
            record
        )
    return dict(groups)


def _median(records: list[Record], getter: Callable[[Record], Any]) -> float | None:
    values = [getter(r) for r in records]
    values = [v for v in values if isinstance(v, (int, float)) and v is not None]
    return float(np.median(values)) if values else None


def _timing(name: str) -> Callable[[Record], Any]:
    return lambda record: record.get("timing", {}).get(name)


def _environment_section(run_dir: Path, records: list[Record]) -> list[str]:
    info_path = run_dir / "run.json"
    info = json.loads(info_path.read_text()) if info_path.exists() else {}
    env = info.get("environment") or next(
        (r["environment"] for r in records if "environment" in r), {}
    )
    versions = ", ".join(f"{k} {v}" for k, v in env.get("versions", {}).items())
    return [
        f"# Benchmark report: {run_dir.name}",
        "",
        f"- preset: {info.get('preset', records[0]['preset'])}; cells: {len(records)}",
        f"- CPU: {env.get('cpu', '?')} ({env.get('logical_cpus', '?')} logical CPUs); "
        f"threads per framework: {env.get('threads', '?')}",
        f"- Python {env.get('python', '?')} on {env.get('platform', '?')}",
        f"- versions: {versions}",
        f"- commit: {env.get('git_commit', '?')}",
        "- times: import, build and first epoch once per cell; steady = the median over "
        "the epochs after the first (IQR beside it); medians over seeds where a row has "
        "several.",
        "",
    ]


def _speed_table(records: list[Record]) -> list[str]:
    rows = []
    for (variant, backend, mode, dtype), group in sorted(_groups(records).items()):
        ok = [r for r in group if r["status"] in ("ok", "diverged")]
        if not ok:
            continue
        rows.append(
            [
                variant,
                backend,
                mode,
                dtype,
                str(len(ok)),
                _seconds(_median(ok, _timing("import_s"))),
                _seconds(_median(ok, _timing("build_s"))),
                _seconds(_median(ok, _timing("first_epoch_s"))),
                _seconds(_median(ok, _timing("steady_median_s"))),
                _seconds(_median(ok, _timing("steady_iqr_s"))),
                _seconds(_median(ok, _timing("step_median_s"))),
                _seconds(_median(ok, _timing("train_total_s"))),
            ]
        )
    header = [
        "variant",
        "backend",
        "mode",
        "dtype",
        "cells",
        "import",
        "build",
        "first epoch",
        "steady epoch",
        "IQR",
        "per step",
        "train total",
    ]
    return ["### Speed", "", *_table(header, rows)]


def _copynet_section(records: list[Record]) -> list[str]:
    probes = ("1", "9", "123", "1.23123e+11")
    rows = []
    for (variant, backend, mode, dtype), group in sorted(_groups(records).items()):
        ok = [r for r in group if r["status"] == "ok"]
        if not ok:
            continue
        metrics = ok[0]["metrics"]
        rows.append(
            [
                variant,
                f"{backend}:{mode}",
                dtype,
                metrics["final_loss"],
                metrics["w"],
                metrics["b"],
                *(metrics["probes"][p] for p in probes),
                metrics["probe_rel_errors"]["1.23123e+11"],
            ]
        )
    for variant, (source, loss, outputs) in SOURCE_RESULTS.items():
        rows.append(
            [
                variant,
                f"source ({source})",
                "float32",
                loss,
                None,
                None,
                *(outputs.get(p) for p in probes),
                None,
            ]
        )
    header = [
        "variant",
        "backend",
        "dtype",
        "final loss",
        "w",
        "b",
        "f(1)",
        "f(9)",
        "f(123)",
        "f(123123123123)",
        "rel. err. of f(123123123123)",
    ]
    steps = []
    for (variant, backend, mode, dtype), group in sorted(_groups(records).items()):
        if variant in ("supervised", "reward") and any(r["status"] == "ok" for r in group):
            step = _median([r for r in group if r["status"] == "ok"], _timing("step_median_s"))
            steps.append(
                [
                    variant,
                    f"{backend}:{mode}",
                    dtype,
                    _seconds(step),
                    _seconds(step * 25_000) if variant == "reward" and step else "–",
                ]
            )
    for name, (what, seconds) in SOURCE_STEP_SECONDS.items():
        steps.append(
            [
                name,
                f"source: {what}",
                "float32",
                _seconds(seconds),
                _seconds(seconds * 25_000) if name.startswith("reward") else "–",
            ]
        )
    return [
        "### Results (seed 0 of each row) next to the source's",
        "",
        *_table(header, rows),
        "### Time per optimizer step next to the source's",
        "",
        *_table(["variant", "backend", "dtype", "per step", "25,000 steps"], steps),
    ]


def _xor_section(records: list[Record]) -> list[str]:
    rows = []
    for (variant, backend, mode, dtype), group in sorted(_groups(records).items()):
        ok = [r for r in group if r["status"] == "ok"]
        if not ok:
            continue
        solved = [r for r in ok if r["metrics"]["solved"]]
        to_target = [
            r["metrics"]["epochs_to_target"]
            for r in ok
            if r["metrics"]["epochs_to_target"] is not None
        ]
        spread = (
            f"{int(np.median(to_target))} ({min(to_target)}–{max(to_target)})"
            if to_target
            else "never"
        )
        rows.append(
            [
                variant,
                f"{backend}:{mode}",
                dtype,
                f"{len(solved)}/{len(ok)}",
                f"{len(solved) / len(ok):.0%}",
                spread,
                _median(ok, lambda r: r["metrics"]["final_loss"]),
                f"{min(r['metrics']['correct'] for r in ok)}–"
                f"{max(r['metrics']['correct'] for r in ok)} of 4",
            ]
        )
    header = [
        "variant",
        "backend",
        "dtype",
        "solved",
        "success rate",
        "epochs to loss < target: median (min–max)",
        "median final loss",
        "points right",
    ]
    return [
        "### Convergence over seeds",
        "",
        *_table(header, rows),
        "A seed is solved when all four outputs are within 0.5 of their targets. "
        "`single-layer` is the negative control: a single layer can get at most 3 of 4.",
        "",
    ]


def _plot_losses(run_dir: Path, workload: str, records: list[Record]) -> list[str]:
    """One log-scale loss-against-epoch chart per variant, every backend on it (seed 0)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lines = []
    by_variant: dict[str, list[Record]] = defaultdict(list)
    for record in records:
        if record["status"] in ("ok", "diverged") and record.get("epochs"):
            by_variant[record["variant"]].append(record)
    for variant, group in sorted(by_variant.items()):
        first_seed = min(r["seed"] for r in group)
        fig, ax = plt.subplots(figsize=(7, 3.6))
        for record in sorted(group, key=lambda r: (r["backend"], r["mode"], r["dtype"])):
            if record["seed"] != first_seed:
                continue
            epochs = [row["epoch"] for row in record["epochs"]]
            losses = [
                row["loss"] if row["loss"] is not None else np.nan for row in record["epochs"]
            ]
            shifted = np.asarray(losses, dtype=float)
            ax.plot(
                epochs,
                shifted,
                label=f"{record['backend']}:{record['mode']} {record['dtype']}",
                linewidth=1,
            )
        positive = all(row["loss"] is None or row["loss"] > 0 for r in group for row in r["epochs"])
        ax.set_yscale("log" if positive else "linear")
        ax.set(xlabel="epoch", ylabel="loss", title=f"{workload}/{variant}, seed {first_seed}")
        ax.legend(fontsize=7)
        fig.tight_layout()
        path = run_dir / "plots" / f"{workload}__{variant}__loss.png"
        path.parent.mkdir(exist_ok=True)
        fig.savefig(path, dpi=90)
        plt.close(fig)
        lines.append(f"![{workload}/{variant} loss](plots/{path.name})")
    return ["### Loss curves", "", *lines, ""] if lines else []


def _status_section(records: list[Record]) -> list[str]:
    not_ok = [r for r in records if r["status"] != "ok"]
    if not not_ok:
        return ["## Cells not ok", "", "None: every cell finished with status ok.", ""]
    rows = [
        [
            r["workload"],
            r["variant"],
            f"{r['backend']}:{r['mode']}",
            r["dtype"],
            str(r["seed"]),
            r["status"],
            r.get("reason", "").replace("|", "/"),
        ]
        for r in not_ok
    ]
    return [
        "## Cells not ok",
        "",
        *_table(["workload", "variant", "backend", "dtype", "seed", "status", "reason"], rows),
    ]


SECTIONS = {"copynet": _copynet_section, "xor": _xor_section}


def write_report(run_dir: Path) -> Path:
    """Write summary.csv and report.md (plus plots/) for the records in ``run_dir``."""
    records = load_records(run_dir)
    write_summary_csv(run_dir, records)
    lines = _environment_section(run_dir, records) if records else ["# Empty run", ""]
    for workload in sorted({r["workload"] for r in records}):
        ran = [
            r
            for r in records
            if r["workload"] == workload and not r.get("reason", "").startswith("not applicable")
        ]
        lines += [f"## {workload}", "", *_speed_table(ran)]
        if workload in SECTIONS:
            lines += SECTIONS[workload](ran)
        lines += _plot_losses(run_dir, workload, ran)
    lines += _status_section(records)
    path = run_dir / "report.md"
    tmp = run_dir / ".report.md.tmp"
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(path)
    return path

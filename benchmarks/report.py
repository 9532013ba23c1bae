"""report.md, report.html (plots embedded) and summary.csv, rebuilt from records alone."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.document import (
    Block,
    Bullets,
    Heading,
    Image,
    Paragraph,
    Table,
    to_html,
    to_markdown,
)
from benchmarks.dqn_cell import steady_agent_steps_per_s
from benchmarks.plots import plot_losses, plot_rollouts, plot_scores
from benchmarks.records import (
    ceiling_gflops,
    load_records,
    process_steady_seconds,
    write_summary_csv,
)
from benchmarks.stats import bootstrap_ratio, center
from shared.workloads.copynet import SOURCE_RESULTS, SOURCE_STEP_SECONDS

Record = dict[str, Any]
GroupKey = tuple[str, str, str, str]  # variant, backend, mode, dtype
# The framework-free loop each dispatch-bound workload's step time is compared with.
FRAMEWORK_FREE = {"copynet": "python", "xor": "numpy", "nbody": "numpy"}


def fmt(value: Any, digits: int = 4) -> str:
    if value is None or value == "":
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return str(value)
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def seconds(value: float | None) -> str:
    """Seconds in s, ms or µs, three significant digits."""
    if value is None or not np.isfinite(value):
        return "–"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if abs(value) >= scale or unit == "µs":
            return f"{value / scale:.3g} {unit}"
    return "–"


def groups(records: list[Record]) -> dict[GroupKey, list[Record]]:
    """Records by (variant, backend, mode, dtype): one group per row, seeds pooled."""
    grouped: dict[GroupKey, list[Record]] = defaultdict(list)
    for record in records:
        key = (record["variant"], record["backend"], record["mode"], record["dtype"])
        grouped[key].append(record)
    return dict(sorted(grouped.items()))


def median_of(records: list[Record], getter: Callable[[Record], Any]) -> float | None:
    values = [getter(r) for r in records]
    values = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    return float(np.median(values)) if values else None


def timing(name: str) -> Callable[[Record], Any]:
    return lambda record: record.get("timing", {}).get(name)


def steady_processes(records: list[Record]) -> list[list[float]]:
    """Steady epoch seconds of every process of every seed (see stats.py on why the
    process is the unit)."""
    return [process for r in records for process in process_steady_seconds(r)]


def environment_blocks(run_dir: Path, records: list[Record]) -> list[Block]:
    info_path = run_dir / "run.json"
    info = json.loads(info_path.read_text()) if info_path.exists() else {}
    env = info.get("environment") or next(
        (r["environment"] for r in records if "environment" in r), {}
    )
    versions = ", ".join(f"{k} {v}" for k, v in env.get("versions", {}).items())
    items = [
        f"preset: {info.get('preset', records[0]['preset'])}; cells: {len(records)}",
        f"CPU: {env.get('cpu', '?')} ({env.get('logical_cpus', '?')} logical CPUs); "
        f"threads per framework: {env.get('threads', '?')}",
        f"Python {env.get('python', '?')} on {env.get('platform', '?')}",
        f"versions: {versions}",
        f"commit: {env.get('git_commit', '?')}",
    ]
    for ceiling in info.get("gemm_ceiling", []):
        items.append(
            f"measured fp32 GEMM ceiling ({ceiling['gemm_size']}² NumPy matmul, "
            f"{ceiling['threads']} thread(s)): {ceiling['gflops_best']:.1f} GFLOP/s "
            f"best, {ceiling['gflops_median']:.1f} median"
        )
    return [
        Heading(1, f"Benchmark report: {run_dir.name}"),
        Bullets(tuple(items)),
        Paragraph(
            "Import, build and first epoch are timed once per cell; the first epoch includes "
            "tracing and compiling. Steady = median over the later epochs (IQR beside it), with "
            "the garbage collector off; per step = steady epoch / optimizer steps per epoch. "
            "Every seed, and every repeat of a cell (--repeats), is a process of its own; a "
            "row's steady time is the median over its processes of each one's median epoch. "
            "Ratios are to the fastest row of the same variant, with a bootstrap 95% interval "
            "that resamples processes, then epochs inside each (processes of the same code "
            "differ far more than epochs of one process). Other columns: medians over seeds."
        ),
    ]


def _fastest_by_variant(grouped: dict[GroupKey, list[Record]]) -> dict[str, list[list[float]]]:
    """For each variant, the steady processes of its fastest row."""
    fastest: dict[str, tuple[float, list[list[float]]]] = {}
    for (variant, *_), records in grouped.items():
        sample = steady_processes(records)
        if sample and (variant not in fastest or center(sample) < fastest[variant][0]):
            fastest[variant] = (center(sample), sample)
    return {variant: sample for variant, (_, sample) in fastest.items()}


def _framework_free_steps(workload: str, grouped: dict[GroupKey, list[Record]]) -> dict[str, float]:
    """variant -> per-step seconds of the framework-free loop, where it ran."""
    reference = FRAMEWORK_FREE.get(workload)
    return {
        variant: step
        for (variant, backend, _, _), records in grouped.items()
        if backend == reference
        and (step := median_of(records, timing("step_median_s"))) is not None
    }


def speed_blocks(workload: str, records: list[Record], ceiling: float | None) -> list[Block]:
    grouped = {
        k: [r for r in v if r["status"] in ("ok", "diverged")] for k, v in groups(records).items()
    }
    grouped = {k: v for k, v in grouped.items() if v}
    fastest = _fastest_by_variant(grouped)
    free = _framework_free_steps(workload, grouped)
    rows = []
    for (variant, backend, mode, dtype), ok in grouped.items():
        sample = steady_processes(ok)
        ratio = "–"
        if sample and variant in fastest:
            value, low, high = bootstrap_ratio(sample, fastest[variant])
            ratio = f"{value:.3g} [{low:.3g}, {high:.3g}]"
        step = median_of(ok, timing("step_median_s"))
        versus_free = f"{step / free[variant]:.3g}×" if step and variant in free else "–"
        gflops = median_of(ok, timing("gflops"))
        efficiency = (
            f"{gflops:.3g}" + (f" ({gflops / ceiling:.1%})" if ceiling else "") if gflops else "–"
        )
        rows.append(
            (
                variant,
                f"{backend}:{mode}",
                dtype,
                f"{len(ok)}, {len(sample)}",
                seconds(median_of(ok, timing("import_s"))),
                seconds(median_of(ok, timing("build_s"))),
                seconds(median_of(ok, timing("first_epoch_s"))),
                f"{seconds(center(sample) if sample else None)} "
                f"± {seconds(median_of(ok, timing('steady_iqr_s')))}",
                seconds(step),
                ratio,
                versus_free,
                efficiency,
                _target_text(ok),
            )
        )
    header = (
        "variant",
        "backend:mode",
        "dtype",
        "seeds, processes",
        "import",
        "build",
        "first epoch",
        "steady epoch ± IQR",
        "per step",
        "× fastest [95% CI]",
        f"× framework-free ({FRAMEWORK_FREE.get(workload, '–')})",
        "GFLOP/s (of ceiling)",
        "to target: epochs, s (first epoch incl.)",
    )
    return [Heading(3, "Speed"), Table(header, tuple(rows))]


def _target_text(records: list[Record]) -> str:
    reached = [r for r in records if r.get("timing", {}).get("target_epochs")]
    if not any("target_loss" in r.get("timing", {}) for r in records):
        return "–"
    if not reached:
        return f"never (0/{len(records)})"
    epochs = median_of(reached, timing("target_epochs"))
    total = median_of(reached, timing("target_s"))
    return f"{epochs:.0f} ep, {seconds(total)} ({len(reached)}/{len(records)})"


def _ok_groups(records: list[Record]) -> dict[GroupKey, list[Record]]:
    grouped = {k: [r for r in v if r["status"] == "ok"] for k, v in groups(records).items()}
    return {k: v for k, v in grouped.items() if v}


def copynet_blocks(records: list[Record]) -> list[Block]:
    probes = ("1", "9", "123", "1.23123e+11")
    rows = []
    for (variant, backend, mode, dtype), ok in _ok_groups(records).items():
        m = ok[0]["metrics"]
        rows.append(
            (
                variant,
                f"{backend}:{mode}",
                dtype,
                fmt(m["final_loss"]),
                fmt(m["w"]),
                fmt(m["b"]),
                *(fmt(m["probes"][p], 12) for p in probes),
                fmt(m["probe_rel_errors"]["1.23123e+11"], 3),
            )
        )
    for variant, (source, loss, outputs) in SOURCE_RESULTS.items():
        rows.append(
            (
                variant,
                f"source ({source})",
                "float32",
                fmt(loss),
                "–",
                "–",
                *(fmt(outputs.get(p), 12) for p in probes),
                "–",
            )
        )
    header = (
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
        "rel. error of f(123123123123)",
    )
    steps = []
    for (variant, backend, mode, dtype), ok in _ok_groups(records).items():
        if variant in ("supervised", "reward"):
            step = median_of(ok, timing("step_median_s"))
            run = seconds(step * 25_000) if variant == "reward" and step else "–"
            steps.append((variant, f"{backend}:{mode}", dtype, seconds(step), run))
    for name, (what, per_step) in SOURCE_STEP_SECONDS.items():
        run = seconds(per_step * 25_000) if name.startswith("reward") else "–"
        steps.append((name, f"source: {what}", "float32", seconds(per_step), run))
    return [
        Heading(3, "Results (seed 0 of each row) next to the source's"),
        Table(header, tuple(rows)),
        Heading(3, "Time per optimizer step next to the source's"),
        Paragraph(
            "The 25,000-step column is the steady step time × 25,000 (the source's "
            "run length); the first (compiling) epoch is in the speed table."
        ),
        Table(("variant", "backend", "dtype", "per step", "25,000 steps"), tuple(steps)),
    ]


def xor_blocks(records: list[Record]) -> list[Block]:
    rows = []
    for (variant, backend, mode, dtype), ok in _ok_groups(records).items():
        solved = sum(bool(r["metrics"]["solved"]) for r in ok)
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
        correct = [r["metrics"]["correct"] for r in ok]
        rows.append(
            (
                variant,
                f"{backend}:{mode}",
                dtype,
                f"{solved}/{len(ok)}",
                f"{solved / len(ok):.0%}",
                spread,
                fmt(median_of(ok, lambda r: r["metrics"]["final_loss"])),
                f"{min(correct)}–{max(correct)} of 4",
            )
        )
    header = (
        "variant",
        "backend",
        "dtype",
        "solved",
        "success rate",
        "epochs to loss < target: median (min–max)",
        "median final loss",
        "points right",
    )
    return [
        Heading(3, "Convergence over seeds"),
        Table(header, tuple(rows)),
        Paragraph(
            "A seed is solved when all four outputs are within 0.5 of their targets. "
            "`single-layer` is the negative control: one layer can get at most 3 of the 4."
        ),
    ]


def status_blocks(records: list[Record]) -> list[Block]:
    not_applicable = [r for r in records if r.get("reason", "").startswith("not applicable")]
    not_ok = [r for r in records if r["status"] != "ok" and r not in not_applicable]
    blocks: list[Block] = [Heading(2, "Cells not ok")]
    if not not_ok:
        blocks.append(Paragraph("None: every cell that applies finished with status ok."))
    else:
        rows = tuple(
            (
                r["workload"],
                r["variant"],
                f"{r['backend']}:{r['mode']}",
                r["dtype"],
                str(r["seed"]),
                r["status"],
                r.get("reason", ""),
            )
            for r in not_ok
        )
        blocks.append(
            Table(("workload", "variant", "backend", "dtype", "seed", "status", "reason"), rows)
        )
    if not_applicable:
        reasons: dict[str, int] = defaultdict(int)
        for r in not_applicable:
            reasons[f"{r['workload']}: {r['reason']}"] += 1
        blocks += [
            Heading(3, "Not applicable (not run)"),
            Bullets(
                tuple(f"{reason} ({count} cells)" for reason, count in sorted(reasons.items()))
            ),
        ]
    return blocks


def _rerun_verdict(parity: dict[str, Any]) -> str:
    if "error" in parity:
        return f"error: {parity['error']}"
    worst = max(parity["loss_error_over_tolerance"], parity["params_error_over_tolerance"])
    return f"{'yes' if parity['within_tolerance'] else 'NO'} ({worst:.2g})"


def parity_blocks(records: list[Record]) -> list[Block]:
    """Each configuration's own check against the NumPy reference (seed-0 cells)."""
    rows = []
    for record in records:
        parity = record.get("parity")
        if not parity or parity.get("reference"):
            continue
        if "error" in parity:
            verdict, loss, params = f"error: {parity['error']}", "–", "–"
        else:
            verdict = "yes" if parity["within_tolerance"] else "NO"
            loss = f"{parity['loss_error_over_tolerance']:.2g}"
            params = f"{parity['params_error_over_tolerance']:.2g}"
            again = parity.get("float64")
            if again is not None:
                verdict += f"; float64: {_rerun_verdict(again)}"
        rows.append(
            (
                record["variant"],
                f"{record['backend']}:{record['mode']}",
                record["dtype"],
                loss,
                params,
                verdict,
            )
        )
    if not rows:
        return []
    return [
        Heading(3, "Parity with the NumPy reference"),
        Paragraph(
            "The first 10 optimizer steps of each seed-0 cell, repeated in its backend and in "
            "NumPy from the same start on the same batches. Errors are in units of the "
            "tolerance (float64: 1e-9 relative, float32: 1e-4 relative): at most 1 passes. "
            "A float32 check that fails is repeated in float64: when that passes, the float32 "
            "difference is rounding amplified by training (Adam scales tiny gradients up, "
            "ReLU units switch), not a difference in what the frameworks compute."
        ),
        Table(
            (
                "variant",
                "backend:mode",
                "dtype",
                "loss error",
                "parameter error",
                "within tolerance",
            ),
            tuple(sorted(rows)),
        ),
    ]


def nbody_blocks(records: list[Record], ceiling: float | None) -> list[Block]:
    rows = []
    for (variant, backend, mode, dtype), ok in _ok_groups(records).items():
        m, timing_ = ok[0]["metrics"], ok[0].get("timing", {})
        rows.append(
            (
                variant,
                f"{backend}:{mode}",
                dtype,
                fmt(m["final_loss"]),
                fmt(m["val_loss"]),
                fmt(m["val_ratio"]),
                fmt(m["one_step_rel_error"], 3),
                fmt(m.get("one_step_error_vs_persistence"), 3),
                f"{fmt(m['rollout_position_error'], 3)} ({m['rollout_steps']})",
                fmt(m["rollout_energy_drift"], 3),
                fmt(m["simulator_energy_drift"], 2),
                fmt(timing_.get("samples_per_s"), 3),
            )
        )
    header = (
        "variant",
        "backend",
        "dtype",
        "final train loss",
        "val loss",
        "val ratio loss",
        "one-step rel. error",
        "÷ no-motion error",
        "rollout position error (steps)",
        "rollout energy drift",
        "simulator energy drift",
        "samples/s",
    )
    blocks: list[Block] = [
        Heading(3, "Accuracy on held-out trajectories (seed 0 of each row)"),
        Table(header, tuple(rows)),
        Paragraph(
            "val loss: the variant's own loss over every validation sample (the curriculum "
            "at q = 1); val ratio loss: mean |pred - target| / (1 + |target|) for every "
            "variant alike. One-step rel. error: mean |pred - target| / |target|; ÷ "
            "no-motion error: the model's mean one-step error over that of predicting the "
            "input unchanged (below 1 beats standing still). Rollouts feed the model its "
            "own predictions for every step of each validation trajectory: position error "
            "(RMS over bodies, mean over systems) and median relative energy drift at the "
            "last step, next to the simulator's own drift (Breen: velocities by central "
            "differences, so that column shows the differencing error). reference.md: good "
            "rollouts needed losses around 1e-6 to 1e-8 in the source, after hours."
        ),
    ]
    flops = next((r["timing"].get("train_flops_per_step") for r in records if "timing" in r), None)
    if flops and ceiling:
        blocks.append(
            Paragraph(
                f"One training step is {flops / 1e9:.3g} GFLOP (counted from the spec); at "
                f"this run's measured GEMM ceiling ({ceiling:.0f} GFLOP/s) it cannot take "
                f"less than {seconds(flops / (ceiling * 1e9))}. reference.md: ~27 ms on the 2-core "
                "machine class at its 177 GFLOP/s two-thread ceiling, <= 40 ms a fair "
                "target for the best framework."
            )
        )
    return blocks


def _megabytes(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f} MB"


def dqn_blocks(records: list[Record], ceiling: float | None) -> list[Block]:
    """Per backend and mode: agent steps per second with learning on, the batch-32 TD
    step, acting, game and replay shares, memory, and the scores reached."""
    rows = []
    for (variant, backend, mode, dtype), ok in _ok_groups(records).items():
        t, m = ok[0]["timing"], ok[0]["metrics"]
        gflops = t.get("gflops")
        share = f" ({gflops / ceiling:.0%})" if gflops and ceiling else ""
        rows.append(
            (
                variant,
                f"{backend}:{mode}",
                dtype,
                fmt(steady_agent_steps_per_s(t), 3),
                seconds(t.get("first_epoch_s")),
                seconds(t.get("steady_median_s")),
                f"{fmt(gflops, 3)}{share}",
                seconds(t.get("act_median_s")),
                seconds(t.get("game_step_mean_s")),
                seconds(t.get("replay_sample_mean_s")),
                fmt(m.get("replay_bytes_per_transition"), 5),
                _megabytes(ok[0].get("peak_rss_mb")),
                fmt(m.get("episodes")),
                fmt(m.get("final_running_mean"), 4),
                fmt(m.get("best_score"), 4),
            )
        )
    header = (
        "variant",
        "backend",
        "dtype",
        "agent steps/s, learning on",
        "first TD step",
        "TD step (batch 32)",
        "GFLOP/s (of ceiling)",
        "greedy action (batch 1)",
        "game step",
        "replay sample",
        "replay bytes / transition",
        "peak RSS",
        "episodes",
        "running mean score",
        "best score",
    )
    flops = next((r["timing"].get("train_flops_per_step") for r in records if "timing" in r), None)
    floor = (
        f" At this run's measured GEMM ceiling ({ceiling:.0f} GFLOP/s) a TD step of "
        f"{flops / 1e9:.3g} GFLOP cannot take less than {seconds(flops / (ceiling * 1e9))}."
        if flops and ceiling
        else ""
    )
    return [
        Heading(3, "DQN: throughput, memory and scores (seed 0 of each row)"),
        Table(header, tuple(rows)),
        Paragraph(
            "In the speed table above, an epoch of a DQN cell is one TD step on a batch of 32 "
            "(target forward, online forward and backward, Adam). Agent steps/s: agent steps "
            "played with learning on over their wall time, everything included (acting, the "
            "game, the replay memory, a TD step every 4 agent steps) but the first TD step "
            "(tracing and compiling, in its own column); each agent step is 4 "
            "emulator frames. Greedy action: the median q_values call on one observation; "
            "game step: the emulator's mean time per agent step; replay sample: rebuilding "
            "32 frame stacks and their next states. Scores are raw game scores (the agent "
            "learns from rewards clipped to [-1, 1]); running mean and max are over the last "
            "100 episodes. reference.md: a widely used single-file PyTorch DQN runs about 80 "
            "agent steps/s with learning on on this machine class; published DQN reaches "
            "1976 on Space Invaders after 50 M frames, random play 148." + floor
        ),
    ]


WORKLOAD_BLOCKS = {
    "copynet": lambda records, _: copynet_blocks(records),
    "xor": lambda records, _: xor_blocks(records),
    "nbody": nbody_blocks,
    "dqn": dqn_blocks,
}


def report_blocks(run_dir: Path, records: list[Record]) -> list[Block]:
    blocks = environment_blocks(run_dir, records)
    ceiling = ceiling_gflops(run_dir)
    for workload in sorted({r["workload"] for r in records}):
        ran = [
            r
            for r in records
            if r["workload"] == workload and not r.get("reason", "").startswith("not applicable")
        ]
        blocks += [Heading(2, workload), *speed_blocks(workload, ran, ceiling)]
        blocks += WORKLOAD_BLOCKS.get(workload, lambda *_: [])(ran, ceiling)
        blocks += parity_blocks(ran)
        images = plot_losses(run_dir, workload, ran)
        if images:
            blocks += [
                Heading(3, "Loss against epoch and against wall time"),
                *(Image(path, alt) for path, alt in images),
            ]
        scores = plot_scores(run_dir, workload, ran)
        if scores:
            blocks += [
                Heading(3, "Score curves: running mean and max of the last 100 episodes"),
                *(Image(path, alt) for path, alt in scores),
            ]
        rollouts = plot_rollouts(run_dir, workload, ran)
        if rollouts:
            blocks += [
                Heading(3, "Rollouts: true against predicted trajectories"),
                *(Image(path, alt) for path, alt in rollouts),
            ]
    return blocks + status_blocks(records)


def write_report(run_dir: Path) -> Path:
    """Write summary.csv, report.md, report.html and plots/ for the records in ``run_dir``."""
    records = load_records(run_dir)
    write_summary_csv(run_dir, records)
    blocks = report_blocks(run_dir, records) if records else [Heading(1, "Empty run")]
    for name, text in (
        ("report.md", to_markdown(blocks)),
        ("report.html", to_html(blocks, run_dir, f"Benchmark {run_dir.name}")),
    ):
        tmp = run_dir / f".{name}.tmp"
        tmp.write_text(text)
        tmp.replace(run_dir / name)
    return run_dir / "report.md"

"""report.md, report.html (plots embedded) and summary.csv, rebuilt from records alone."""

from __future__ import annotations

import sys
import tempfile
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
from benchmarks.failures import describe_exception
from benchmarks.memory import growth_blocks
from benchmarks.plots import (
    plot_losses,
    plot_rollouts,
    plot_scores,
    plot_search_accuracy,
    plot_search_params,
    plot_search_phases,
)
from benchmarks.records import (
    BadFile,
    Cell,
    RunContents,
    ceiling_gflops,
    load_run,
    process_steady_seconds,
    summary_row,
    write_search_csvs,
    write_summary_csv,
)
from benchmarks.stats import bootstrap_ratio, center
from benchmarks.workloads.copynet.workload import SOURCE_RESULTS, SOURCE_STEP_SECONDS
from benchmarks.workloads.dqn.cell import steady_agent_steps_per_s
from benchmarks.workloads.search.cell import PHASES as SEARCH_PHASES
from shared.files import write_atomic

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


def environment_blocks(run_dir: Path, records: list[Record], info: dict[str, Any]) -> list[Block]:
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
    items += invocation_items(info)
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


def invocation_items(info: dict[str, Any]) -> list[str]:
    """Each invocation of ``run`` on the folder (the first run, each ``--resume``) with
    its GEMM ceiling; a run.json from before invocations were kept is one invocation."""
    invocations = info.get("invocations") or [info]
    items = []
    for number, invocation in enumerate(invocations, 1):
        prefix = ""
        if len(invocations) > 1:
            kind = "--resume" if invocation.get("resume") else "first run"
            outcome = invocation.get("outcome") or (
                "killed: no end recorded" if "outcome" in invocation else "end not recorded"
            )  # no outcome field: a run.json from before invocations were kept
            commit = (invocation.get("environment") or {}).get("git_commit", "?")
            items.append(
                f"invocation {number} ({kind}): started {invocation.get('started', '?')}, "
                f"{outcome}; commit {commit}"
            )
            prefix = f"invocation {number}: "
        for ceiling in invocation.get("gemm_ceiling") or []:
            items.append(
                f"{prefix}measured fp32 GEMM ceiling ({ceiling['gemm_size']}² NumPy matmul, "
                f"{ceiling['threads']} thread(s)): {ceiling['gflops_best']:.1f} GFLOP/s "
                f"best, {ceiling['gflops_median']:.1f} median"
            )
    return items


def problem_blocks(problems: list[BadFile]) -> list[Block]:
    """The files the report left out: damaged, of another schema, or not of this run."""
    if not problems:
        return []
    return [
        Heading(2, "Damaged or foreign files (left out)"),
        Bullets(tuple(f"{problem.path.name}: {problem.why}" for problem in problems)),
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
    worst = max(value for key, value in parity.items() if key.endswith("_over_tolerance"))
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
            for key, what in (("float64", "float64"), ("float32_gradients", "equal weights")):
                if parity.get(key) is not None:
                    verdict += f"; {what}: {_rerun_verdict(parity[key])}"
        # a search cell checks one of its many models: name it
        candidate = f" ({parity['candidate']})" if "candidate" in parity else ""
        rows.append(
            (
                record["variant"] + candidate,
                f"{record['backend']}:{record['mode']}",
                record["dtype"],
                loss,
                params,
                verdict,
            )
        )
    if not rows:
        return []
    searched = any("candidate" in (r.get("parity") or {}) for r in records)
    return [
        Heading(3, "Parity with the NumPy reference"),
        Paragraph(
            "The first 10 optimizer steps of each seed-0 cell, repeated in its backend and in "
            "NumPy from the same start on the same batches. Errors are in units of the "
            "tolerance (float64: 1e-9 relative, float32: 1e-4 relative): at most 1 passes. "
            "A float32 check that fails is repeated in float64, and in float32 at equal weights "
            "(before each step, the gradients at the reference's weights: nothing is "
            "amplified). Only when both pass is the float32 difference rounding amplified by "
            "training (Adam scales tiny gradients up, ReLU units switch); a float64 pass alone "
            "is no proof, since float32 can put a value exactly on a kink that float64 never "
            "reaches (a saturated sigmoid on the cross-entropy's clip bound)."
            + (
                " A search cell checks the first design with a convolution that it trained (in "
                "brackets after the variant)."
                if searched
                else ""
            )
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
                seconds(t.get("first_q_values_s")),
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
        "first greedy action",
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
            "1976 on Space Invaders after 50 M frames, random play 148." + floor
        ),
    ]


def candidate_costs(record: Record) -> dict[str, Any]:
    """A search cell's mean candidate: each phase's mean seconds (``timing``), the
    median steady epoch and steady evaluation, the mean total, and the mean overhead,
    build + (first epoch - steady epoch) + first evaluation, each candidate's first epoch
    against its own steady one."""
    t = record.get("timing", {})
    costs = {key: t.get(f"mean_{key}") for key in (*SEARCH_PHASES, "candidate_s")}
    if costs["first_eval_s"] is None:  # older records: one evaluation, its first call
        costs["first_eval_s"] = t.get("mean_eval_s")
    costs["steady_s"] = t.get("median_steady_epoch_s")
    costs["steady_eval_s"] = t.get("median_steady_eval_s")
    costs["search_s"] = t.get("search_total_s")
    overheads = [
        c["build_s"]
        + (c["first_epoch_s"] - c["steady_epoch_median_s"])
        + c.get("first_eval_s", c.get("eval_s"))
        for c in record.get("candidates", [])
        if c.get("steady_epoch_median_s") is not None  # one epoch: no steady epoch to compare
    ]
    costs["overhead_s"] = float(np.mean(overheads)) if overheads else None
    # the first build also pays the framework's one-time warm-up (seconds in torch)
    first = min(record.get("candidates", []), key=lambda c: c.get("order", 0), default={})
    costs["first_build_s"] = first.get("build_s")
    return costs


def _median_cost(records: list[Record], name: str) -> float | None:
    return median_of(records, lambda r: candidate_costs(r).get(name))


def search_cost_blocks(records: list[Record]) -> list[Block]:
    """Per backend and mode: what one candidate of the search costs, phase by phase."""
    grouped = _ok_groups(records)
    fastest: dict[str, float] = {}
    for (variant, *_), ok in grouped.items():
        total = _median_cost(ok, "candidate_s")
        if total and total < fastest.get(variant, np.inf):
            fastest[variant] = total
    rows = []
    for (variant, backend, mode, dtype), ok in grouped.items():
        total = _median_cost(ok, "candidate_s")
        overhead = _median_cost(ok, "overhead_s")
        rows.append(
            (
                variant,
                f"{backend}:{mode}",
                dtype,
                _episodes_done(ok),
                fmt(median_of(ok, timing("candidates"))),
                *(seconds(_median_cost(ok, key)) for key in ("build_s", "first_build_s")),
                seconds(_median_cost(ok, "prepare_s")),
                seconds(_median_cost(ok, "first_epoch_s")),
                seconds(_median_cost(ok, "steady_s")),
                *(
                    seconds(_median_cost(ok, key))
                    for key in ("later_epochs_s", "first_eval_s", "steady_eval_s")
                ),
                seconds(total),
                seconds(overhead),
                f"{overhead / total:.0%}" if overhead is not None and total else "–",
                seconds(_median_cost(ok, "search_s")),
                f"{total / fastest[variant]:.3g}" if total and variant in fastest else "–",
            )
        )
    if not rows:
        return []
    header = (
        "variant",
        "backend:mode",
        "dtype",
        "episodes per agent",
        "candidates",
        "build",
        "first build",
        "prepare",
        "first epoch",
        "steady epoch",
        "later epochs",
        "first evaluation",
        "steady evaluation",
        "per candidate",
        "overhead",
        "overhead share",
        "search wall time",
        "× fastest",
    )
    return [
        Heading(3, "What a candidate costs: build, first call, training"),
        Table(header, tuple(rows)),
        Paragraph(
            "Episodes per agent: of the preset's schedule; a search stops starting episodes "
            "when its time budget is spent (the compile modes, which compile every design "
            "anew, may), and then compares fewer designs. "
            "Every design a cell trains (a design proposed again is not trained again) is built, "
            "trained for the preset's epochs and evaluated once; the columns are means over the "
            "candidates a cell trained, medians over seeds. Build: `build_model`; first build: "
            "the first candidate's, which also pays the framework's one-time warm-up (the build "
            "mean includes it, so a search of few candidates looks dearer); prepare: moving the "
            "batches to the framework; first epoch: tracing and compiling included; steady epoch:"
            " the median over candidates of each one's median later epoch; later epochs: all "
            "epochs after the first, summed; first evaluation: predicting the validation set the "
            "first time (compiling the predict path included); steady evaluation: the median "
            "over candidates of the same prediction repeated (a second pass for this column, "
            "in no other). Overhead: what a candidate costs beyond training at "
            "steady speed, build + (first epoch - steady epoch) + first evaluation, each "
            "candidate's "
            "first epoch against its own steady epoch; its share is of the candidate's total. "
            "Search wall time: the whole search loop, agents included. × fastest: the per-"
            "candidate total over the fastest row of the variant; agents that took other paths "
            "trained other designs, so rows of different dtypes (or backends, in float32) may "
            "average over different designs."
        ),
    ]


def _episodes_done(records: list[Record]) -> str:
    """Episodes per agent done of those planned, marked where the time budget ran out."""
    done = median_of(records, lambda r: r.get("metrics", {}).get("episodes_per_agent_done"))
    planned = median_of(records, lambda r: r.get("config", {}).get("episodes_per_agent"))
    if done is None or planned is None:
        return "–"
    stopped = any(not r.get("metrics", {}).get("complete", True) for r in records)
    return f"{done:.0f} of {planned:.0f}" + (" (budget spent)" if stopped else "")


def search_best_blocks(records: list[Record]) -> list[Block]:
    """Per cell and agent: the best design found, when, and what the agent proposed at
    the end; then whether the rows of a variant found the same designs."""
    rows = []
    for (variant, backend, mode, dtype), ok in _ok_groups(records).items():
        for record in sorted(ok, key=lambda r: r["seed"]):
            for agent, best in record.get("best", {}).items():
                rows.append(
                    (
                        variant,
                        f"{backend}:{mode}",
                        dtype,
                        str(record["seed"]),
                        agent,
                        fmt(best["best_accuracy"]),
                        best["best_key"],
                        f"{best['best_n_params']:,}",
                        f"{best['best_episode']} of {best['episodes']}",
                        fmt(best["last_quarter_mean_accuracy"]),
                        f"{best['last_quarter_mean_params']:,.0f}",
                        fmt(best["distinct_designs"]),
                    )
                )
    if not rows:
        return []
    header = (
        "variant",
        "backend:mode",
        "dtype",
        "seed",
        "agent",
        "best accuracy",
        "best design",
        "parameters",
        "found at episode",
        "last-quarter mean accuracy",
        "last-quarter mean parameters",
        "distinct designs",
    )
    return [
        Heading(3, "Best design per agent"),
        Table(header, tuple(rows)),
        Paragraph(
            "Accuracy on the validation split after the preset's epochs. Last quarter: the "
            "mean over each agent's last quarter of episodes, where the Q-learning agents "
            "explore least. Designs read layer by layer: C16k3 = 16 3x3 convolutions, P2s2 "
            "= 2x2 max pooling with stride 2, D64 = 64 dense units; the softmax layer is "
            "implied."
        ),
        Bullets(tuple(_agreement(records))),
    ]


def _agreement(records: list[Record]) -> list[str]:
    """Per variant, dtype and seed run by more than one backend:mode: whether every
    agent proposed the same designs, and if not, where the first one parted."""
    cells: dict[tuple[str, str, int], list[Record]] = defaultdict(list)
    for record in records:
        if record["status"] == "ok" and record.get("search_episodes"):
            cells[(record["variant"], record["dtype"], record["seed"])].append(record)
    lines = []
    for (variant, dtype, seed), group in sorted(cells.items()):
        if len(group) < 2:
            continue
        names = ", ".join(f"{r['backend']}:{r['mode']}" for r in group)
        where = f"{variant}, {dtype}, seed {seed} ({names})"
        # zip stops at the shortest: a search its time budget stopped is compared over
        # the episodes it ran
        episodes = list(zip(*(r["search_episodes"] for r in group), strict=False))
        parted = next((rows for rows in episodes if len({row["key"] for row in rows}) > 1), None)
        lengths = {len(r["search_episodes"]) for r in group}
        if parted is None and len(lengths) > 1:
            shortest = min(group, key=lambda r: len(r["search_episodes"]))
            lines.append(
                f"{where}: the same design in each of the first "
                f"{shortest['search_episodes'][-1]['episode']} episodes of every agent, all that "
                f"{shortest['backend']}:{shortest['mode']} ran before its time budget ran out."
            )
            continue
        if parted is None:
            spread = max(
                max(row["accuracy"] for row in rows) - min(row["accuracy"] for row in rows)
                for rows in episodes
            )
            lines.append(
                f"{where}: the same design in every episode of every agent, so the same best "
                "designs; "
                + (
                    f"accuracies differ by at most {spread:.2g}."
                    if spread
                    else "identical accuracies."
                )
            )
            continue
        best = [r.get("best", {}) for r in group]
        differ = [
            agent
            for agent in best[0]
            if len({str(b.get(agent, {}).get("best_key")) for b in best}) > 1
        ]
        lines.append(
            where
            + (
                f": the designs part at {parted[0]['agent']} episode {parted[0]['episode']}"
                if parted
                else ": different numbers of episodes"
            )
            + (
                f"; the best designs differ for {', '.join(differ)}."
                if differ
                else "; the best designs still agree."
            )
        )
    return lines or ["No variant, dtype and seed ran on more than one backend:mode."]


def search_blocks(records: list[Record], ceiling: float | None) -> list[Block]:
    """The cost of architecture search per framework, then what the agents found."""
    return search_cost_blocks(records) + search_best_blocks(records)


WORKLOAD_BLOCKS = {
    "copynet": lambda records, _: copynet_blocks(records),
    "xor": lambda records, _: xor_blocks(records),
    "nbody": nbody_blocks,
    "dqn": dqn_blocks,
    "search": search_blocks,
}

# A workload's section of the report: each part a function of (run folder, workload,
# records that ran, GEMM ceiling); parts with nothing to show return no blocks.
Part = Callable[[Path, str, list[Record], float | None], list[Block]]


def _images(heading: str, images: list[tuple[str, str]]) -> list[Block]:
    return [Heading(3, heading), *(Image(path, alt) for path, alt in images)] if images else []


def _speed_part(
    run_dir: Path, workload: str, records: list[Record], ceiling: float | None
) -> list[Block]:
    return speed_blocks(workload, records, ceiling)


def _own_part(
    run_dir: Path, workload: str, records: list[Record], ceiling: float | None
) -> list[Block]:
    return WORKLOAD_BLOCKS.get(workload, lambda *_: [])(records, ceiling)


def _parity_part(
    run_dir: Path, workload: str, records: list[Record], ceiling: float | None
) -> list[Block]:
    return parity_blocks(records)


def _curves_part(
    run_dir: Path, workload: str, records: list[Record], ceiling: float | None
) -> list[Block]:
    """Loss, score and rollout charts, of the workloads whose records hold them."""
    return (
        _images("Loss against epoch and against wall time", plot_losses(run_dir, workload, records))
        + _images(
            "Score curves: running mean and max of the last 100 episodes",
            plot_scores(run_dir, workload, records),
        )
        + _images(
            "Rollouts: true against predicted trajectories",
            plot_rollouts(run_dir, workload, records),
        )
    )


def _search_plots_part(
    run_dir: Path, workload: str, records: list[Record], ceiling: float | None
) -> list[Block]:
    return (
        _images(
            "Accuracy against episode (one cell per variant: NumPy where it ran, lowest seed)",
            plot_search_accuracy(run_dir, records),
        )
        + _images(
            "Accuracy against parameters, without and with the size penalty (the same cell)",
            plot_search_params(run_dir, records),
        )
        + _images("Seconds per candidate by phase", plot_search_phases(run_dir, records))
    )


TRAINING_PARTS: tuple[Part, ...] = (_speed_part, _own_part, _parity_part, _curves_part)
# Workloads whose cells are not one model trained epoch by epoch: the speed table and
# the curves do not apply to them.
WORKLOAD_PARTS: dict[str, tuple[Part, ...]] = {
    "search": (_own_part, _parity_part, _search_plots_part),
}


def report_blocks(run_dir: Path, contents: RunContents) -> list[Block]:
    records = contents.records
    blocks = environment_blocks(run_dir, records, contents.info)
    ceiling = ceiling_gflops(run_dir)
    for workload in sorted({r["workload"] for r in records}):
        ran = [
            r
            for r in records
            if r["workload"] == workload and not r.get("reason", "").startswith("not applicable")
        ]
        blocks.append(Heading(2, workload))
        for part in WORKLOAD_PARTS.get(workload, TRAINING_PARTS):
            blocks += part(run_dir, workload, ran, ceiling)
    return (
        blocks + growth_blocks(records) + status_blocks(records) + problem_blocks(contents.problems)
    )


# What a reader of a record of another schema raises (a field of the wrong type or shape
# deeper than records.read_record checks); never OSError, which is a write error.
READER_ERRORS = (TypeError, KeyError, ValueError, AttributeError, IndexError, ZeroDivisionError)


def write_report(run_dir: Path, contents: RunContents | None = None) -> Path:
    """Write summary.csv, the search CSVs (when the run searched), report.md, report.html
    and plots/ for the records in ``run_dir`` (``contents``: as ``load_run`` read them).
    Every file is written atomically, so reports of one run may be written at once.
    A record the report cannot read (another schema) is left out, named on stderr and
    in the report, like a damaged file."""
    contents = contents or load_run(run_dir)
    try:
        return _write_report_files(run_dir, contents)
    except READER_ERRORS:
        readable = _readable_by_report(run_dir, contents)
        if readable is contents:
            raise  # no record alone breaks it: a fault of the report itself
        for problem in readable.problems[len(contents.problems) :]:
            print(f"warning: left out: {problem}", file=sys.stderr)
        return _write_report_files(run_dir, readable)


def _readable_by_report(run_dir: Path, contents: RunContents) -> RunContents:
    """``contents`` less each record the report cannot read on its own, each named in
    ``problems``; ``contents`` itself when every record can be read."""
    kept, problems = [], list(contents.problems)
    with tempfile.TemporaryDirectory() as scratch:  # the probes' plots land there
        for record in contents.records:
            try:
                summary_row(record)
                report_blocks(Path(scratch), RunContents([record], contents.info, []))
            except READER_ERRORS as error:
                name = Cell(**{key: record[key] for key in Cell.__dataclass_fields__}).file_name
                why = f"another schema: the report cannot read it ({describe_exception(error)})"
                problems.append(BadFile(run_dir / name, why))
            else:
                kept.append(record)
    return (
        contents
        if len(kept) == len(contents.records)
        else RunContents(kept, contents.info, problems)
    )


def _write_report_files(run_dir: Path, contents: RunContents) -> Path:
    records = contents.records
    write_summary_csv(run_dir, records)
    write_search_csvs(run_dir, records)
    if records:
        blocks = report_blocks(run_dir, contents)
    else:
        blocks = [Heading(1, "Empty run"), *problem_blocks(contents.problems)]
    write_atomic(run_dir / "report.md", to_markdown(blocks))
    write_atomic(run_dir / "report.html", to_html(blocks, run_dir, f"Benchmark {run_dir.name}"))
    return run_dir / "report.md"

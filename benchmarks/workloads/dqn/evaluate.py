"""``python -m benchmarks evaluate``: a checkpoint's online network plays whole episodes
on any backend (the canonical layout makes every checkpoint load everywhere)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.drivers import build_agent
from benchmarks.options import (
    MAX_EPISODES,
    BadInput,
    WriteFailed,
    check_count,
    check_output_file,
    check_probability,
    check_seed,
    check_threads,
    path_option,
    usable_cpus,
)
from benchmarks.records import implementation, write_json_atomic
from benchmarks.workloads import get_workload, workloads
from benchmarks.workloads.dqn.config import DQNConfig
from benchmarks.workloads.dqn.loop import (
    BadCheckpoint,
    check_checkpoint_params,
    evaluate,
    load_checkpoint,
)
from benchmarks.workloads.kinds import AgentWorkload
from shared import registry
from shared.params import Params, cast_params
from shared.registry import UnknownName


def trained_config(path: Path, trained: Any) -> DQNConfig:
    """The DQN settings of the cell a checkpoint's meta names; BadCheckpoint when it
    names no DQN cell this suite knows."""
    if not isinstance(trained, dict):
        raise BadCheckpoint(f"{path}: its meta names no trained cell")
    name, variant, preset = (trained.get(key) for key in ("workload", "variant", "preset"))
    workload = workloads().get(name) if isinstance(name, str) else None
    if not isinstance(workload, AgentWorkload):
        raise BadCheckpoint(f"{path}: trained on {name!r}, which is not a DQN workload")
    if variant not in workload.variants or preset not in workload.presets:
        raise BadCheckpoint(
            f"{path}: its cell names variant {variant!r} at preset {preset!r}, which "
            f"{workload.name} does not have"
        )
    return workload.agent_config(variant, preset)


def read_checkpoint(path: Path) -> tuple[Params, dict[str, Any]]:
    """``(online weights, trained cell)`` of a checkpoint ``evaluate`` can play; raises
    BadCheckpoint, naming the file and the fault, for anything else."""
    online, _, meta = load_checkpoint(path)
    trained = meta.get("cell")
    check_checkpoint_params(path, trained_config(path, trained).network, online, {})
    return online, trained


def evaluate_checkpoint(
    online: Params,
    trained: dict[str, Any],
    backend: str,
    mode: str,
    dtype: str,
    episodes: int,
    epsilon: float | None,
    seed: int,
    threads: int,
) -> dict[str, Any]:
    """Score mean and spread of ``episodes`` episodes; prints one line per episode.

    ``trained`` is the checkpoint's cell (its workload, variant and preset give the game
    and the network)."""
    config = get_workload(trained["workload"]).agent_config(trained["variant"], trained["preset"])
    epsilon = config.eval_epsilon if epsilon is None else epsilon
    module = registry.load(backend)
    module.configure(threads, seed)
    agent = build_agent(module, config, cast_params(online, dtype), dtype, mode)
    writer = implementation(trained.get("backend"), trained.get("mode"))
    print(
        f"evaluating {writer}'s checkpoint on {implementation(backend, mode)} {dtype}: "
        f"{episodes} episode{'s' if episodes != 1 else ''}, epsilon {epsilon}, seed {seed}",
        flush=True,
    )
    results = evaluate(agent, config, episodes, epsilon, seed)
    for index, result in enumerate(results, start=1):
        print(
            f"  episode {index}: score {result['score']:g} ({result['agent_steps']} agent steps, "
            f"{result['frames']} frames)",
            flush=True,
        )
    scores = np.array([r["score"] for r in results])
    summary = {
        "trained": trained,
        "backend": backend,
        "mode": mode,
        "dtype": dtype,
        "epsilon": epsilon,
        "seed": seed,
        "episodes": results,
        "score_mean": float(scores.mean()),
        "score_std": float(scores.std(ddof=1)) if len(scores) > 1 else 0.0,
        "score_min": float(scores.min()),
        "score_max": float(scores.max()),
    }
    print(
        f"score {summary['score_mean']:.1f} +- {summary['score_std']:.1f} "
        f"(min {summary['score_min']:g}, max {summary['score_max']:g})"
    )
    return summary


def check_evaluate_options(args: argparse.Namespace) -> str:
    """Every option of ``evaluate``, checked; returns the mode to play in."""
    if not args.checkpoint.is_file():
        what = "is not a file" if args.checkpoint.exists() else "no such checkpoint file"
        raise BadInput(f"{args.checkpoint}: {what}")
    check_count(args.episodes, "--episodes", MAX_EPISODES)
    if args.epsilon is not None:
        check_probability(args.epsilon, "--epsilon")
    check_seed(args.seed)
    check_threads(args.threads)
    info, workload = registry.get(args.backend), get_workload("dqn")
    if not info.runs(workload):
        raise BadInput(f"{info.name} does not run the dqn workload")
    modes = info.modes_for(workload)
    mode = args.mode or modes[0]
    if mode not in modes:
        raise UnknownName(f"mode of {info.name} for dqn", mode, modes)
    if args.dtype not in info.dtypes:
        raise UnknownName(f"dtype of {info.name}", args.dtype, info.dtypes)
    missing = registry.missing_packages(info.name)
    if missing:
        raise BadInput(f"{info.name} needs {', '.join(missing)}, not installed")
    if args.out is not None:
        check_output_file(args.out, "--out")
        if args.out.resolve() == args.checkpoint.resolve():
            raise BadInput(f"--out {args.out} is the checkpoint itself")
    return mode


def evaluate_command(args: argparse.Namespace) -> int:
    """``python -m benchmarks evaluate``: options checked (BadInput), the checkpoint read
    (BadInput naming the file and the fault), the episodes played and the summary
    written to ``--out`` (WriteFailed when it cannot be)."""
    mode = check_evaluate_options(args)
    try:
        online, trained = read_checkpoint(args.checkpoint)
    except BadCheckpoint as error:
        raise BadInput(str(error)) from None
    summary = evaluate_checkpoint(
        online,
        trained,
        registry.get(args.backend).name,
        mode,
        args.dtype,
        args.episodes,
        args.epsilon,
        args.seed,
        args.threads,
    )
    summary["checkpoint"] = str(args.checkpoint)
    if args.out is not None:
        try:
            write_json_atomic(args.out, summary)
        except OSError as error:
            raise WriteFailed(f"the summary (printed above) was not written: {error}") from None
        print(f"written: {args.out}")
    return 0


def add_evaluate_command(
    commands: argparse._SubParsersAction,
) -> dict[str, Callable[[argparse.Namespace], int]]:
    """``evaluate``'s parser, added to the command line's (``Workload.add_commands``)."""
    evaluate = commands.add_parser(
        "evaluate", help="play episodes with a DQN checkpoint (<cell>.ckpt.npz of a run)"
    )
    evaluate.add_argument("checkpoint", type=path_option)
    evaluate.add_argument("--backend", default="numpy", help="any backend that runs dqn")
    evaluate.add_argument("--mode", help="default: the backend's first mode for dqn")
    evaluate.add_argument("--dtype", default="float32", help="float32 (default) or float64")
    evaluate.add_argument("--episodes", type=int, default=10, help="whole episodes (default 10)")
    evaluate.add_argument(
        "--epsilon", type=float, help="exploration while playing (default: the workload's 0.05)"
    )
    evaluate.add_argument("--seed", type=int, default=1000, help="the game's and acting seed")
    evaluate.add_argument(
        "--threads",
        type=int,
        default=usable_cpus(),
        help="threads for the framework (default: the CPUs this process may use, as `run`)",
    )
    evaluate.add_argument("--out", type=path_option, help="also write the summary as JSON here")
    return {"evaluate": evaluate_command}

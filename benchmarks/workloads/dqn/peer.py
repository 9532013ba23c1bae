"""``python -m benchmarks dqn-peer``: Stable-Baselines3's ``DQN``, a DQN that users would
pick instead of this suite's, on our DQN cell's game and settings, measured on this
machine into a run folder; the report's DQN table shows it as a reference row.

SB3 is the ``sb3`` extra (``pip install -e '.[sb3]'``; the suite's environment has it).
The peer plays the same preset as the run (its ``run.json``; default ``brief``) at the
same thread count, and its agent steps/s with learning on are defined as ours
(loop.py): agent steps after the random steps over their wall time, the first TD step
left out. sb3_peer.py plays it; ``SETTINGS_NOTE`` and ``DIFFERENCES`` say what matches
and what cannot.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.memory import peak_rss_mb
from benchmarks.options import (
    BadInput,
    WriteFailed,
    check_output_file,
    check_seed,
    check_threads,
    path_option,
    usable_cpus,
)
from benchmarks.records import BadFile, read_json, read_run_info, thread_counts
from benchmarks.run_folder import lock_run_folder
from benchmarks.schema import number
from benchmarks.workloads.base import BRIEF
from benchmarks.workloads.dqn.config import DQNConfig
from benchmarks.workloads.kinds import AgentWorkload
from shared.files import write_json_atomic
from shared.metadata import available_memory_bytes, distribution_versions, environment

PEER_FILE = "dqn_peer_sb3.json"  # in the run folder
PEER_LABEL = "stable-baselines3 DQN (torch, reference)"
PEER_VERSION = 1
VARIANT = "space-invaders"
EXTRA = "pip install -e '.[sb3]' (the sb3 extra)"
VERSIONS = ("stable-baselines3", "torch", "gymnasium", "ale-py", "numpy", "cloudpickle")
DIFFERENCES = (
    "the game is ale-py's AtariVectorEnv (our cells' C++ preprocessing) as an SB3 VecEnv, "
    "not SB3's AtariWrapper, whose resizing needs OpenCV",
    "SB3's VecFrameStack starts an episode's stack with zero frames (ours repeats the first frame)",
    "SB3's replay buffer stores whole 4-frame observations, 28,224 bytes a transition "
    "(ours one frame, 7,063)",
    "SB3 initialises the network orthogonally (ours Glorot uniform); no effect on speed",
    "SB3 trains after each 4-step rollout that ends past the random steps: its first "
    "TD step comes up to 3 agent steps after ours, the count is the same",
    "the garbage collector runs as Python schedules it (our loop collects between steps)",
    "the first greedy action is made and timed before training; the first target sync "
    "is not timed apart (a weight copy in eager torch)",
)


def sb3_settings(config: DQNConfig) -> dict[str, Any]:
    """SB3 ``DQN``'s keyword arguments for our DQN cell's ``config`` (agent-step units).

    SB3's epsilon decays linearly from step 0 over ``exploration_fraction`` of the
    training; ours from the end of the random steps over ``epsilon_steps``. Starting
    SB3's line above 1, where it crosses 1 at the end of the random steps (SB3 acts at
    random until then anyway), gives ours exactly."""
    random, decay = config.random_steps, config.epsilon_steps
    slope = (config.epsilon_start - config.epsilon_end) / decay  # per agent step
    return {
        "learning_rate": config.optimizer.lr,
        "buffer_size": config.memory,
        "learning_starts": random,
        "batch_size": config.batch_size,
        "tau": 1.0,  # a copy at each sync
        "gamma": config.td.discount,
        "train_freq": config.train_every,
        "gradient_steps": 1,
        "target_update_interval": config.target_every,
        "exploration_initial_eps": config.epsilon_start + slope * random,
        "exploration_final_eps": config.epsilon_end,
        "exploration_fraction": min(1.0, (random + decay) / config.agent_steps),
        "max_grad_norm": config.optimizer.clip_global_norm,
        # ours stores frames once; SB3's cheapest form stores each observation once
        "optimize_memory_usage": True,
        "replay_buffer_kwargs": {"handle_timeout_termination": False},
        # NatureCNN (3 convolutions, 512 units) then our 256-unit layer: our network
        "policy_kwargs": {
            "net_arch": [256],
            "optimizer_kwargs": {"eps": config.optimizer.eps},
        },
    }


def _installed(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def peer_defaults(run_dir: Path) -> tuple[str, int]:
    """``(preset, threads)`` of the run in ``run_dir`` (its ``run.json``): its preset
    (``brief`` when it has none) and its thread count (the CPUs this process may use when
    the run has several or none)."""
    info, _ = read_run_info(run_dir)
    counts = thread_counts(info) if info else []
    preset = info.get("preset")
    return (
        preset if isinstance(preset, str) else BRIEF,
        counts[0] if len(counts) == 1 else usable_cpus(),
    )


def check_peer_options(args: argparse.Namespace, workload: AgentWorkload) -> DQNConfig:
    """Every option of ``dqn-peer``, checked (BadInput, one line), before any work;
    fills ``args.peer_preset`` and ``args.threads`` from the run; returns ``workload``'s
    settings of its Space Invaders cell at that preset."""
    if not args.out.is_dir():
        raise BadInput(f"{args.out} {'is not a folder' if args.out.exists() else 'does not exist'}")
    info, damaged = read_run_info(args.out)
    if damaged and (args.peer_preset is None or args.threads is None):
        # not brief by default: the peer would sit beside cells of another preset
        raise BadInput(
            f"{damaged}: the run's preset and threads are unknown; give --preset and --threads"
        )
    matrix = info.get("matrix")
    if matrix and not any(name.startswith(f"{workload.name}__") for name in matrix):
        raise BadInput(  # its report would have no DQN table to show the peer in
            f"{args.out} holds a run with no {workload.name} cell, so its report would not "
            f"show the peer: give the folder of a run with one (run --workload {workload.name})"
        )
    preset, threads = peer_defaults(args.out)
    args.peer_preset = preset if args.peer_preset is None else args.peer_preset
    args.threads = threads if args.threads is None else args.threads
    if args.peer_preset not in workload.presets:
        known = ", ".join(workload.presets)
        raise BadInput(f"--preset: {workload.name} has no preset {args.peer_preset!r} ({known})")
    check_threads(args.threads)
    check_seed(args.seed)
    check_output_file(args.out / PEER_FILE, "--out")
    missing = [name for name in ("stable_baselines3", "torch") if not _installed(name)]
    if missing:
        raise BadInput(f"{', '.join(missing)} not installed: {EXTRA}")
    config = workload.agent_config(VARIANT, args.peer_preset)
    needed = config.memory * config.atari.stack * config.atari.screen**2  # uint8 observations
    if needed > 0.9 * available_memory_bytes():
        raise BadInput(
            f"SB3's replay memory of {config.memory:,} observations needs {needed / 1e9:.1f} "
            f"GB; this machine has {available_memory_bytes() / 1e9:.1f} GB"
        )
    return config


def measure_peer(config: DQNConfig, preset: str, threads: int, seed: int) -> dict[str, Any]:
    """Play SB3's DQN for the preset's agent steps; its record (``PEER_FILE``'s fields)."""
    import torch
    from threadpoolctl import threadpool_limits

    from backends.common import torch_threads
    from benchmarks.workloads.dqn import sb3_peer
    from shared.metadata import threads_in_effect

    torch_threads(torch, threads)
    settings = sb3_settings(config)
    # epsilon read back where ours starts to decay, halfway, and where it ends
    random, decay = config.random_steps, config.epsilon_steps
    watched = {min(step, config.agent_steps - 1) for step in (random, random + decay // 2)}
    watched.add(min(random + decay, config.agent_steps - 1))
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    # our cells start with OMP/OPENBLAS_NUM_THREADS set; this process imported NumPy
    # long ago, so its BLAS pool is capped here instead (threadpoolctl, scikit-learn's)
    with threadpool_limits(limits=threads):
        result = sb3_peer.play(settings, config.atari, config.agent_steps, seed, watched)
        in_effect = threads_in_effect()
    return {
        "peer_version": PEER_VERSION,
        "peer": PEER_LABEL,
        "argv": sys.argv,
        "started": started,
        "workload": "dqn",
        "variant": VARIANT,
        "preset": preset,
        "seed": seed,
        "dtype": "float32",
        "threads": threads,
        "threads_in_effect": in_effect,
        "versions": distribution_versions(VERSIONS),
        "environment": environment(threads),
        "sb3_settings": settings,
        "game": dataclasses.asdict(config.atari),
        "differences": list(DIFFERENCES),
        "timing": result.pop("timing"),
        "metrics": {
            "replay_bytes_per_transition": result.pop("replay_bytes_per_transition"),
            "episodes": result["episodes"],
        },
        "peak_rss_mb": peak_rss_mb(),
        **result,
        "epsilon_ours": {step: config.epsilon(step) for step in sorted(watched)},
    }


def peer_command(args: argparse.Namespace, workload: AgentWorkload) -> int:
    """``python -m benchmarks dqn-peer``: options checked, the run folder locked (no run
    may share the CPUs), SB3's DQN played, its record written atomically."""
    from benchmarks.workloads.dqn.cell import steady_agent_steps_per_s

    config = check_peer_options(args, workload)
    lock = lock_run_folder(args.out, sys.argv)  # RefusedFolder: exit 2, one line
    try:
        print(
            f"stable-baselines3 DQN: {config.agent_steps:,} agent steps ({args.peer_preset}) at "
            f"{args.threads} thread{'s' if args.threads != 1 else ''} -> {args.out / PEER_FILE}",
            flush=True,
        )
        record = measure_peer(config, args.peer_preset, args.threads, args.seed)
        try:
            write_json_atomic(args.out / PEER_FILE, record)
        except OSError as error:
            raise WriteFailed(f"{args.out / PEER_FILE} was not written: {error}") from None
    finally:
        os.close(lock)
    speed = steady_agent_steps_per_s(record["timing"])
    print(f"agent steps/s with learning on: {speed:.1f} (`report {args.out}` shows it)")
    return 0


def read_peer(run_dir: Path) -> dict[str, Any] | None:
    """The peer record in ``run_dir``, or None when there is none; a damaged one is
    returned as ``{"problem": why}``."""
    path = run_dir / PEER_FILE
    if not path.exists():
        return None
    try:
        record = read_json(path)
    except BadFile as error:
        return {"problem": str(error)}
    if not isinstance(record, dict) or record.get("peer_version") != PEER_VERSION:
        return {"problem": f"{path}: not a dqn-peer record of version {PEER_VERSION}"}
    problem = peer_problem(record)
    return {"problem": f"{path}: {problem}"} if problem else record


def peer_problem(record: dict[str, Any]) -> str | None:
    """What in a peer record of this version the report cannot read, or None: the file
    may have been edited by hand, and a table cell must never crash the report."""
    if not all(isinstance(record.get(key), dict) for key in ("timing", "metrics")):
        return "its timing or metrics are not JSON objects"
    if not all(number(v) or v is None for v in record["timing"].values()):
        return "a timing value is not a number"
    timing = record["timing"]
    learning = timing.get("learning_s"), timing.get("learning_first_calls_s")
    if None not in learning and learning[0] <= learning[1]:
        return "its learning time is not longer than its first calls"
    for key, kind, name in (("environment", dict, "object"), ("versions", dict, "object")):
        if key in record and not isinstance(record[key], kind):
            return f"its {key!r} is not a JSON {name}"
    if "threads" in record and not (number(record["threads"]) and record["threads"] >= 1):
        return "its 'threads' is not a count"
    if not (number(record.get("peak_rss_mb")) or record.get("peak_rss_mb") is None):
        return "its peak_rss_mb is not a number"
    return None


def add_peer_command(
    commands: argparse._SubParsersAction, workload: AgentWorkload
) -> dict[str, Callable[[argparse.Namespace], int]]:
    """``dqn-peer``'s parser, added to the command line's (``Workload.add_commands`` of
    ``workload``, the DQN workload: its presets and settings)."""
    peer = commands.add_parser(
        "dqn-peer",
        help="time Stable-Baselines3's DQN on the DQN cells' game and settings into a run "
        "folder (a reference row of the report's DQN table; needs the sb3 extra)",
    )
    peer.add_argument("--out", type=path_option, required=True, help="the run folder")
    # not "preset": the command line's generic check would refuse an unset one
    peer.add_argument(
        "--preset", dest="peer_preset", help="default: the run's preset (brief without run.json)"
    )
    peer.add_argument(
        "--threads",
        type=int,
        help="torch threads (default: the run's count, else the CPUs this process may use)",
    )
    peer.add_argument("--seed", type=int, default=0, help="the game's and SB3's seed")
    return {"dqn-peer": lambda args: peer_command(args, workload)}

"""Memory over the real DQN loop (benchmarks/workloads/dqn/loop.py's ``play``, as a cell runs it) on
every backend and mode that runs the DQN: the process's RSS must stop growing.

The loop keeps Python's cyclic collector off around its timed spans; a framework that
leaves its batches in reference cycles (Keras on torch, eagerly: every batch of the
run, about 10 MB a TD step at the cell's size) then grows without bound unless the loop
collects between steps. The loop runs at the game's real 84x84 frames with a tiny
Q-network, one TD step per agent step, so the batches cost memory and the steps little
time. keras-jax and keras-torch run this file in their own processes
(tests/test_keras_multibackend.py).
"""

from __future__ import annotations

import gc
import os
import weakref
from dataclasses import replace
from typing import ClassVar

import numpy as np
import pytest

from benchmarks.drivers import train
from benchmarks.memory import current_rss_mb, growth_summary
from benchmarks.workloads import get_workload
from benchmarks.workloads.dqn.loop import DQNHistory, play
from benchmarks.workloads.dqn.workload import DQN
from shared import registry
from shared.params import init_params
from shared.protocol import AgentSpec
from shared.specs import Conv2D, Dense, Flatten, Network
from shared.td import TDBatch
from tests.parity import OTHER_BACKENDS, backends_to_test

SMOKE = DQN().dqn_config("space-invaders", "smoke")
N_ACTIONS = 6  # Space Invaders' minimal action set
BATCH = 16
TD_STEPS = 100
RANDOM_STEPS = 32
CONFIG = replace(
    SMOKE,
    # (4, 84, 84) -> (2, 10, 10) -> 6: the batch's frames dominate what a step allocates
    network=Network(
        SMOKE.atari.observation_shape,
        (Conv2D(2, 8, stride=8, activation="relu"), Flatten(), Dense(N_ACTIONS, "linear")),
    ),
    batch_size=BATCH,
    train_every=1,
    random_steps=RANDOM_STEPS,
    agent_steps=RANDOM_STEPS + TD_STEPS,
    epsilon_start=0.5,  # half the steps act greedily: q_values runs ~50 times
    epsilon_end=0.5,
    target_every=50,
)
# The uint8 frames of one batch (observations and next observations), in MiB.
BATCH_MB = 2 * BATCH * np.prod(SMOKE.atari.observation_shape) / 2**20
# Growth allowed over the second half of the run, per TD step: half of one batch's
# frames. A loop that keeps every batch alive is 10 times past it (Keras on torch kept the
# frames and their float32 copies), one that keeps only the uint8 frames twice. Under it:
# allocator noise (under 0.02 MiB a step here), and keras-jax:eager's 0.05 to 0.2 MiB a
# step while JAX's LRU caches (2,048 entries) fill, which they do at ~800 TD steps.
MAX_MB_PER_TD_STEP = 0.5 * BATCH_MB
# Stop a leaking run early, so that a failing test does not take the machine down.
ABORT_AFTER_MB = 600.0


class RunawayMemory(Exception):
    pass


# Keras's torch.compile plays this run in ~60 s at one thread, the suite's costliest
# memory case; its retrace tests already catch the recompiling that would leak, and
# BENCH_FULL_PARITY=1 runs it here too.
SLOW_MEMORY_MODES = {("keras-torch", "compile")}


def memory_modes(backend: str) -> list[str]:
    """The DQN modes of ``backend`` this test runs (SLOW_MEMORY_MODES on request)."""
    full = os.environ.get("BENCH_FULL_PARITY") == "1"
    modes = registry.get(backend).modes_for(get_workload("dqn"))
    return [mode for mode in modes if full or (backend, mode) not in SLOW_MEMORY_MODES]


def dqn_combos():
    for backend in backends_to_test(("numpy", *OTHER_BACKENDS)):
        if registry.get(backend).runs(get_workload("dqn")):
            for mode in memory_modes(backend):
                yield pytest.param(backend, mode, id=f"{backend}-{mode}")


def rss_by_td_step(agent) -> tuple[np.ndarray, np.ndarray, DQNHistory]:
    """Play CONFIG's run: the RSS (MiB) after each agent step of it, by TD steps done,
    and the loop's history."""
    history = DQNHistory()
    samples: list[tuple[int, float]] = []
    settled: list[float] = []  # the RSS once the first TD steps (compiling) are done

    def on_step(step: int) -> None:
        td_steps, rss = len(history.td_seconds), current_rss_mb()
        samples.append((td_steps, rss))
        if td_steps == 10 and not settled:
            settled.append(rss)
        if settled and rss - settled[0] > ABORT_AFTER_MB:
            raise RunawayMemory(f"RSS grew by {rss - settled[0]:.0f} MiB in {td_steps} TD steps")

    play(agent, CONFIG, seed=0, history=history, on_step=on_step)
    assert len(history.td_seconds) == TD_STEPS
    td_steps, rss = np.array(samples).T
    return td_steps, rss, history


@pytest.mark.parametrize(("backend", "mode"), list(dqn_combos()))
def test_dqn_loop_memory_stays_flat(backend: str, mode: str) -> None:
    if current_rss_mb() is None:
        pytest.skip("no way to read this process's RSS on this OS")
    params = init_params(CONFIG.network, CONFIG.init, 0, "float32")
    agent = registry.load(backend).build_agent(
        AgentSpec(CONFIG.network, params, CONFIG.loss, CONFIG.optimizer, "float32", mode, CONFIG.td)
    )
    try:
        td_steps, rss, history = rss_by_td_step(agent)
    except RunawayMemory as error:
        pytest.fail(f"{backend}:{mode}: {error}")
    growth = growth_summary(td_steps, rss)
    assert growth is not None
    per_step = growth["rss_growth_mb_per_1k"] / 1000.0
    assert per_step < MAX_MB_PER_TD_STEP, (
        f"{backend}:{mode}: RSS grows {per_step:.3f} MiB per TD step over the second half "
        f"(a batch's frames are {BATCH_MB:.2f} MiB; from {rss[0]:.0f} to {rss[-1]:.0f} MiB)"
    )
    # what the cell's record keeps: the RSS at each episode's end
    assert history.episodes and all(row["rss_mb"] > 0 for row in history.episodes)


class Cycle:
    """What a Keras-on-torch step leaves behind: a batch in a reference cycle, with a few
    hundred small objects (Python counts those to decide when a collection is due)."""

    alive: ClassVar[weakref.WeakSet] = weakref.WeakSet()

    def __init__(self, batch) -> None:
        self.batch, self.parts, self.me = batch, [[] for _ in range(300)], self
        Cycle.alive.add(self)


class CyclicAgent:
    """The QAgent protocol on nothing: each TD step leaves its batch in a ``Cycle``."""

    def __init__(self) -> None:
        self.most_alive = 0

    def q_values(self, obs: np.ndarray) -> np.ndarray:
        return np.zeros((1, N_ACTIONS), np.float32)

    def td_step(self, batch: TDBatch) -> float:
        Cycle(batch)
        self.most_alive = max(self.most_alive, len(Cycle.alive))
        return 0.0

    def sync_target(self) -> None:
        pass


def test_the_dqn_loop_collects_cycles_between_steps() -> None:
    """With the collector off for the whole loop, every batch of the run stays alive to
    its end; collected between steps, a few at a time are."""
    agent = CyclicAgent()
    gc.collect()
    play(agent, replace(CONFIG, agent_steps=RANDOM_STEPS + 60), seed=0)
    assert 0 < agent.most_alive <= 20, agent.most_alive


class CyclicModel:
    """The Model protocol's ``train_epoch`` alone: each epoch leaves a ``Cycle``."""

    def __init__(self) -> None:
        self.most_alive = 0

    def train_epoch(self, batches) -> float:
        Cycle(batches)
        self.most_alive = max(self.most_alive, len(Cycle.alive))
        return 0.5


def test_the_training_loop_collects_cycles_between_epochs() -> None:
    config = replace(get_workload("xor").config("momentum", "smoke"), epochs=60)
    model = CyclicModel()
    gc.collect()
    history = train(model, config, [None])
    assert 0 < model.most_alive <= 20, model.most_alive
    assert len(history.rss_mb) == 60 and all(rss > 0 for rss in history.rss_mb)
    assert [row["rss_mb"] for row in history.rows()] == history.rss_mb

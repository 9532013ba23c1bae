"""A DQN checkpoint written by any backend loads in every other with the same Q-values.

Each backend under test trains its agent one TD step (so the weights are its own), writes
the checkpoint file ``python -m benchmarks evaluate`` reads, and every backend that loads
in this process builds an agent from it: Q-values agree to the float64 tolerance."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.workloads import get_workload
from benchmarks.workloads.dqn.loop import load_checkpoint, save_checkpoint
from shared import registry
from shared.protocol import AgentSpec
from tests.parity import assert_close, backends_to_test, loads_in_process
from tests.test_dqn_parity import CASES, LOSS, Q_NETWORK, TD, batches, build_agent

DQN_BACKENDS = tuple(
    name for name, info in registry.BACKENDS.items() if info.runs(get_workload("dqn"))
)


def readers() -> list[str]:
    return [name for name in DQN_BACKENDS if loads_in_process(name)]


@pytest.mark.parametrize("writer", backends_to_test(DQN_BACKENDS))
def test_checkpoint_loads_everywhere_with_identical_q_values(writer: str, tmp_path) -> None:
    agent = build_agent(writer, CASES["adam-clip"], "float64")
    agent.td_step(batches()[0])
    path = tmp_path / "agent.ckpt.npz"
    save_checkpoint(path, agent.get_params(), agent.get_target_params(), {"writer": writer})
    online, target, meta = load_checkpoint(path)
    assert meta == {"writer": writer}
    for name, value in agent.get_target_params().items():
        np.testing.assert_array_equal(target[name], value)
    obs = batches()[1].obs
    expected = np.asarray(agent.q_values(obs))
    for reader in readers():
        module = registry.load(reader)
        info = registry.get(reader)
        loaded = module.build_agent(
            AgentSpec(
                Q_NETWORK,
                online,
                LOSS,
                CASES["adam-clip"].optimizer,
                "float64",
                info.modes_for(get_workload("dqn"))[0],
                TD,
            )
        )
        assert_close(loaded.q_values(obs), expected, "float64", f"{writer} -> {reader}")

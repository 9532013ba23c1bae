"""No DQN agent: the Python backend runs copy-net's single Dense(1 -> 1) layer only
(its registry line lists the workloads it runs)."""

from __future__ import annotations

from shared.protocol import AgentSpec, NotSupported


def build_agent(spec: AgentSpec):
    raise NotSupported("python backend has no agent (it builds a single Dense 1 -> 1 layer only)")

"""Each cell's own check against the NumPy reference, reported next to its timings.

From the cell's canonical start, the cell's backend and the NumPy reference each take
the first ``PARITY_STEPS`` optimizer steps of the cell's data; the record keeps the
largest deviation of the losses and parameters and whether it is within the stated
tolerance. The tests assert this for every backend; the report shows it for the exact
configuration that was timed.

A float32 check that fails gets two re-checks (the cells call them): the same steps in
float64, and, in float32, the gradients at the reference's own weights before each step
(``check_gradients_at_reference``). A float64 pass alone does not make the float32
difference rounding: float32 can put a value exactly on a kink that float64 never
reaches (a saturated sigmoid on BCE's clip bound), where a backend with another
derivative differs only in float32. At equal weights nothing is amplified by training,
so rounding passes there and a different derivative does not.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from backends.numpy import model as numpy_reference
from benchmarks.workloads import EpochData, TrainingConfig
from benchmarks.workloads.dqn.workload import DQNConfig
from shared.params import Params
from shared.protocol import AgentSpec, ModelSpec
from shared.td import TDBatch
from shared.tolerances import PARITY_STEPS, TD_PARITY_STEPS, TD_SYNC_AFTER, TOLERANCES

REFERENCE_MODULE = numpy_reference.__name__


def first_steps(config: TrainingConfig, data: EpochData) -> list[tuple[np.ndarray, np.ndarray]]:
    """The first ``PARITY_STEPS`` batches the cell trains on, in order."""
    batches: list[tuple[np.ndarray, np.ndarray]] = []
    epoch = 0
    while len(batches) < PARITY_STEPS and epoch < config.epochs:
        xs, ys = data.epoch(epoch)
        batches += list(zip(xs, ys, strict=True))
        epoch += 1
    return batches[:PARITY_STEPS]


def _relative_excess(actual: np.ndarray, expected: np.ndarray, dtype: str) -> float:
    """max |a - e| / (atol + rtol |e|): at most 1 means within the tolerance."""
    tol = TOLERANCES[dtype]
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    return float(np.max(np.abs(actual - expected) / (tol["atol"] + tol["rtol"] * np.abs(expected))))


def _params_excess(actual: Params, expected: Params, dtype: str) -> float:
    """The largest ``_relative_excess`` over every canonical parameter."""
    return max(_relative_excess(actual[name], expected[name], dtype) for name in expected)


def _models_beside_reference(
    backend: ModuleType, config: TrainingConfig, params: Params, dtype: str, mode: str
) -> list:
    """``[the backend's model, the NumPy reference's]``, both from ``params``."""
    return [
        module.build_model(
            ModelSpec(config.network, params, config.loss, config.optimizer, dtype, module_mode)
        )
        for module, module_mode in ((backend, mode), (numpy_reference, "eager"))
    ]


def _agents_beside_reference(
    backend: ModuleType, config: DQNConfig, params: Params, dtype: str, mode: str
) -> list:
    """``[the backend's DQN agent, the NumPy reference's]``, both from ``params``."""
    return [
        module.build_agent(
            AgentSpec(
                config.network, params, config.loss, config.optimizer, dtype, module_mode, config.td
            )
        )
        for module, module_mode in ((backend, mode), (numpy_reference, "eager"))
    ]


def _step_summary(steps: int, dtype: str, worst_loss: float, worst_params: float) -> dict:
    """The record's parity summary of steps run in both: the worst loss and parameter
    deviations, each in units of the dtype's tolerance."""
    return {
        "steps": steps,
        "tolerance": TOLERANCES[dtype],
        "loss_error_over_tolerance": worst_loss,
        "params_error_over_tolerance": worst_params,
        "within_tolerance": bool(worst_loss <= 1 and worst_params <= 1),
    }


def check_against_reference(
    backend: ModuleType,
    config: TrainingConfig,
    data: EpochData,
    params: Params,
    dtype: str,
    mode: str,
) -> dict[str, Any]:
    """Run the first steps in both and return the deviation summary for the record."""
    models = _models_beside_reference(backend, config, params, dtype, mode)
    worst_loss = worst_params = 0.0
    for x, y in first_steps(config, data):
        loss, expected_loss = (model.train_step(x, y) for model in models)
        worst_loss = max(worst_loss, _relative_excess(loss, expected_loss, dtype))
        actual, expected = (model.get_params() for model in models)
        worst_params = max(worst_params, _params_excess(actual, expected, dtype))
    return _step_summary(len(first_steps(config, data)), dtype, worst_loss, worst_params)


def check_gradients_at_reference(
    backend: ModuleType,
    config: TrainingConfig,
    data: EpochData,
    params: Params,
    dtype: str,
    mode: str,
) -> dict[str, Any]:
    """Before each of the first steps of the reference, the backend's gradients at the
    reference's weights (set into a second model of the backend) against the
    reference's own; the deviation in the summary's form."""
    probe, reference = _models_beside_reference(backend, config, params, dtype, mode)
    worst = 0.0
    for x, y in first_steps(config, data):
        probe.set_params(reference.get_params())
        actual, expected = (model.loss_and_grads(x, y)[1] for model in (probe, reference))
        worst = max(worst, _params_excess(actual, expected, dtype))
        reference.train_step(x, y)
    return _gradient_summary(len(first_steps(config, data)), dtype, worst)


def _gradient_summary(steps: int, dtype: str, worst: float) -> dict[str, Any]:
    return {
        "steps": steps,
        "tolerance": TOLERANCES[dtype],
        "grads_error_over_tolerance": worst,
        "within_tolerance": bool(worst <= 1),
    }


def check_agent_against_reference(
    backend: ModuleType,
    config: DQNConfig,
    batches: list[TDBatch],
    params: Params,
    dtype: str,
    mode: str,
) -> dict[str, Any]:
    """The DQN cell's check: ``TD_PARITY_STEPS`` TD steps on ``batches`` (sampled from the
    cell's own replay memory) from the cell's start, with a target sync after step
    ``TD_SYNC_AFTER``, in the cell's backend and in the NumPy agent; the deviation of the
    losses, online and target weights, in the summary's form."""
    agents = _agents_beside_reference(backend, config, params, dtype, mode)
    worst_loss = worst_params = 0.0
    for step, batch in enumerate(batches[:TD_PARITY_STEPS], start=1):
        loss, expected_loss = (agent.td_step(batch) for agent in agents)
        worst_loss = max(worst_loss, _relative_excess(loss, expected_loss, dtype))
        if step == TD_SYNC_AFTER:
            for agent in agents:
                agent.sync_target()
        for getter in ("get_params", "get_target_params"):
            actual, expected = (getattr(agent, getter)() for agent in agents)
            worst_params = max(worst_params, _params_excess(actual, expected, dtype))
    return _step_summary(min(len(batches), TD_PARITY_STEPS), dtype, worst_loss, worst_params)


def check_agent_gradients_at_reference(
    backend: ModuleType,
    config: DQNConfig,
    batches: list[TDBatch],
    params: Params,
    dtype: str,
    mode: str,
) -> dict[str, Any]:
    """The DQN cell's ``check_gradients_at_reference``: before each of the first TD steps
    of the NumPy agent, the backend agent's TD gradients at its online weights (both
    target networks keep the start: nothing is synced)."""
    probe, reference = _agents_beside_reference(backend, config, params, dtype, mode)
    worst = 0.0
    for batch in batches[:TD_PARITY_STEPS]:
        probe.set_params(reference.get_params())
        actual, expected = (agent.td_loss_and_grads(batch)[1] for agent in (probe, reference))
        worst = max(worst, _params_excess(actual, expected, dtype))
        reference.td_step(batch)
    return _gradient_summary(min(len(batches), TD_PARITY_STEPS), dtype, worst)

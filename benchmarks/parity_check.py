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

from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np

from backends.numpy import model as numpy_reference
from benchmarks.drivers import build_agent, build_model
from benchmarks.workloads.base import AgentConfig, EpochData, TrainingConfig
from shared.params import Params
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
        build_model(module, config, params, dtype, module_mode)
        for module, module_mode in ((backend, mode), (numpy_reference, "eager"))
    ]


def _agents_beside_reference(
    backend: ModuleType, config: AgentConfig, params: Params, dtype: str, mode: str
) -> list:
    """``[the backend's agent, the NumPy reference's]``, both from ``params``."""
    return [
        build_agent(module, config, params, dtype, module_mode)
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
    config: AgentConfig,
    batches: list[TDBatch],
    params: Params,
    dtype: str,
    mode: str,
) -> dict[str, Any]:
    """An agent cell's check: ``TD_PARITY_STEPS`` TD steps on ``batches`` (sampled from the
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
    config: AgentConfig,
    batches: list[TDBatch],
    params: Params,
    dtype: str,
    mode: str,
) -> dict[str, Any]:
    """An agent cell's ``check_gradients_at_reference``: before each of the first TD steps
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


Check = Callable[..., dict[str, Any]]


def rechecked(dtype: str, check: Callable[[str, Check], dict[str, Any]], pair: tuple) -> dict:
    """``check(dtype, against)``, as the record keeps it; a float32 check that fails is
    repeated in float64 (under ``"float64"``) and, in float32, at the reference's weights
    step by step (``"float32_gradients"``): only when both pass is the float32 difference
    rounding that training amplified (Adam scales tiny gradients up, ReLU units flip),
    not a difference in what is computed. ``pair``: ``(against, gradients)``, the checks
    of one kind of cell; an error in a check is recorded, never raised."""
    against, gradients = pair

    def guarded(in_dtype: str, how: Check) -> dict[str, Any]:
        try:
            return check(in_dtype, how)
        except Exception as error:
            return {"error": f"{type(error).__name__}: {error}"}

    summary = guarded(dtype, against)
    if not summary.get("within_tolerance", True) and dtype == "float32":
        summary["float64"] = guarded("float64", against)
        summary["float32_gradients"] = guarded("float32", gradients)
    return summary


SUPERVISED = (check_against_reference, check_gradients_at_reference)
AGENT = (check_agent_against_reference, check_agent_gradients_at_reference)


def supervised_parity(
    backend: ModuleType,
    config: TrainingConfig,
    data: EpochData,
    params_in: Callable[[str], Params],
    dtype: str,
    mode: str,
) -> dict[str, Any]:
    """A supervised model's parity summary for the record (``rechecked``);
    ``params_in(dtype)``: the cell's start in that dtype."""
    return rechecked(
        dtype, lambda d, how: how(backend, config, data, params_in(d), d, mode), SUPERVISED
    )


def agent_parity(
    backend: ModuleType,
    config: AgentConfig,
    batches: list[TDBatch],
    params_in: Callable[[str], Params],
    dtype: str,
    mode: str,
) -> dict[str, Any]:
    """An agent's parity summary for the record (``rechecked``), on ``batches``."""
    return rechecked(
        dtype, lambda d, how: how(backend, config, batches, params_in(d), d, mode), AGENT
    )

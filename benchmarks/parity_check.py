"""Each cell's own check against the NumPy reference, reported next to its timings.

From the cell's canonical start, the cell's backend and the NumPy reference each take
the first ``PARITY_STEPS`` optimizer steps of the cell's data; the record keeps the
largest deviation of the losses and parameters and whether it is within the stated
tolerance. The tests assert this for every backend; the report shows it for the exact
configuration that was timed.

A float32 check beyond the tolerance is judged against the reference's own float32
rounding, measured on the same start and steps (benchmarks.parity_envelope): its loss
and weights against the reference's envelope, and, in float32, the gradients at the
reference's own weights before each step (``check_gradients_at_reference``) against
theirs. At equal weights nothing is amplified by training, so a gradient computed
differently shows there even when Adam hides it from the weights. A check beyond rounding
too is repeated in float64, as a diagnosis: float32 can put a value exactly on a kink
that float64 never reaches (a saturated sigmoid on BCE's clip bound), where a backend
with another derivative differs only in float32.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np

from backends.numpy import model as numpy_reference
from benchmarks.drivers import build_agent, build_model
from benchmarks.parity_envelope import (
    agent_envelope,
    gradient_envelope,
    norm_errors,
    params_excess,
    relative_excess,
    reversed_batch,
    reversed_rows,
    rounding_verdict,
    training_envelope,
    typical_gradients,
)
from benchmarks.workloads.base import AgentConfig, EpochData, TrainingConfig
from shared.params import Params, cast_params
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
        worst_loss = max(worst_loss, relative_excess(loss, expected_loss, dtype))
        actual, expected = (model.get_params() for model in models)
        worst_params = max(worst_params, params_excess(actual, expected, dtype))
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
    reference's own; the deviation in the summary's form. In float32 also the
    reference's own rounding of those gradients (benchmarks.parity_envelope)."""
    probe, reference = _models_beside_reference(backend, config, params, dtype, mode)
    rounding = {
        d: build_model(numpy_reference, config, cast_params(params, d), d, "eager")
        for d in _ENVELOPE_DTYPES[dtype]
    }
    deviation = _GradientDeviation(dtype)
    for x, y in first_steps(config, data):
        weights = reference.get_params()
        probe.set_params(weights)
        actual, expected = (model.loss_and_grads(x, y)[1] for model in (probe, reference))

        def grads_of(in_dtype: str, flip: bool, x=x, y=y, weights=weights) -> Params:
            rounding[in_dtype].set_params(weights)
            return rounding[in_dtype].loss_and_grads(*(reversed_rows(x, y) if flip else (x, y)))[1]

        deviation.add(actual, expected, grads_of if rounding else None)
        reference.train_step(x, y)
    return deviation.summary()


# The reference models that measure the gradients' rounding, by the checked dtype: only
# float32 is judged against it (float64 keeps its fixed 1e-9).
_ENVELOPE_DTYPES = {"float32": ("float32", "float64"), "float64": ()}


class _GradientDeviation:
    """How far a backend's gradients lie from the reference's over the steps it is
    shown: the worst in the dtype's tolerance units (elementwise), and per step and
    tensor norm-wise, with (given the reference's other gradients, ``grads_of``) their
    norm-wise envelope; ``summary`` judges those by their median (``typical_gradients``)."""

    def __init__(self, dtype: str):
        self.dtype, self.worst = dtype, 0.0
        self.errors: list[dict[str, float]] = []  # per step and tensor, norm-wise
        self.envelopes: list[dict[str, float]] = []

    def add(self, actual: Params, expected: Params, grads_of=None) -> None:
        self.worst = max(self.worst, params_excess(actual, expected, self.dtype))
        self.errors.append(norm_errors(actual, expected))
        if grads_of is not None:
            self.envelopes.append(gradient_envelope(grads_of, expected))

    def summary(self) -> dict[str, Any]:
        return {
            "steps": len(self.errors),
            "tolerance": TOLERANCES[self.dtype],
            "grads_error_over_tolerance": self.worst,
            "within_tolerance": bool(self.worst <= 1),
            **typical_gradients(self.errors, self.envelopes if self.envelopes else None),
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
        worst_loss = max(worst_loss, relative_excess(loss, expected_loss, dtype))
        if step == TD_SYNC_AFTER:
            for agent in agents:
                agent.sync_target()
        for getter in ("get_params", "get_target_params"):
            actual, expected = (getattr(agent, getter)() for agent in agents)
            worst_params = max(worst_params, params_excess(actual, expected, dtype))
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
    rounding = {
        d: build_agent(numpy_reference, config, cast_params(params, d), d, "eager")
        for d in _ENVELOPE_DTYPES[dtype]
    }
    deviation = _GradientDeviation(dtype)
    for batch in batches[:TD_PARITY_STEPS]:
        weights = reference.get_params()
        probe.set_params(weights)
        actual, expected = (agent.td_loss_and_grads(batch)[1] for agent in (probe, reference))

        def grads_of(in_dtype: str, flip: bool, batch=batch, weights=weights) -> Params:
            rounding[in_dtype].set_params(weights)
            return rounding[in_dtype].td_loss_and_grads(reversed_batch(batch) if flip else batch)[1]

        deviation.add(actual, expected, grads_of if rounding else None)
        reference.td_step(batch)
    return deviation.summary()


def reference_envelope(
    backend: ModuleType,
    config: TrainingConfig,
    data: EpochData,
    params: Params,
    dtype: str,
    mode: str,
) -> dict[str, Any]:
    """The reference's float32 rounding on the cell's first steps (``training_envelope``);
    a check's signature, though only the reference runs."""
    del backend, dtype, mode
    return training_envelope(config, first_steps(config, data), params)


def agent_reference_envelope(
    backend: ModuleType,
    config: AgentConfig,
    batches: list[TDBatch],
    params: Params,
    dtype: str,
    mode: str,
) -> dict[str, Any]:
    """The reference's float32 rounding on the agent check's TD steps (``agent_envelope``)."""
    del backend, dtype, mode
    return agent_envelope(config, batches[:TD_PARITY_STEPS], params)


Check = Callable[..., dict[str, Any]]


def rechecked(dtype: str, check: Callable[[str, Check], dict[str, Any]], checks: tuple) -> dict:
    """``check(dtype, against)``, as the record keeps it. A float32 check beyond the fixed
    tolerance is judged against the reference's own rounding: the backend's gradients at
    the reference's weights step by step (``"float32_gradients"``, with their envelope),
    the reference's envelope on the same steps (``"envelope"``) and the verdict
    (``"rounding"``, benchmarks.parity_envelope). Only when that fails too is the check
    repeated in float64 (``"float64"``): whether the difference is float32's alone.
    ``checks``: ``(against, gradients, envelope)``, the checks of one kind of cell; an
    error in a check is recorded, never raised (and fails the rounding verdict)."""
    against, gradients, envelope = checks

    def guarded(in_dtype: str, how: Check) -> dict[str, Any]:
        try:
            return check(in_dtype, how)
        except Exception as error:
            return {"error": f"{type(error).__name__}: {error}"}

    summary = guarded(dtype, against)
    if summary.get("within_tolerance", True) or dtype != "float32":
        return summary
    summary["float32_gradients"] = guarded("float32", gradients)
    summary["envelope"] = guarded("float32", envelope)
    try:
        summary["rounding"] = rounding_verdict(summary)
    except KeyError:  # a check's error, recorded under its own key
        summary["rounding"] = {"within_rounding": False}
    if not summary["rounding"]["within_rounding"]:
        summary["float64"] = guarded("float64", against)
    return summary


SUPERVISED = (check_against_reference, check_gradients_at_reference, reference_envelope)
AGENT = (
    check_agent_against_reference,
    check_agent_gradients_at_reference,
    agent_reference_envelope,
)


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

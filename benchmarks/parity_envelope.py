"""The NumPy reference's own float32 rounding, measured on a cell's parity steps.

A fixed 1e-4 relative tolerance cannot judge float32 parameters after a few Adam steps:
Adam divides each gradient by its own running magnitude, so a gradient that is nearly
zero moves its weight by about the learning rate whatever its sign, and rounding that
flips such a sign moves the weight far beyond 1e-4. How far depends on the network and
the data, so it is measured here, from the reference alone, on the cell's own start and
batches: NumPy in float32 against NumPy in float64 (the same steps from the same start,
so only float32 arithmetic differs), and NumPy in float32 with the batch rows reversed
(the same arithmetic summed in another order, as a framework's kernels do). The larger
of the two deviations, per quantity, is the envelope (``training_envelope``,
``agent_envelope``); the gradients' is measured beside the backend's at equal weights
(benchmarks.parity_check).

``rounding_verdict`` judges a float32 backend's errors against ``ROUNDING_MULTIPLE``
times the envelope, never tighter than the fixed tolerance. The gradients at equal
weights are judged by their norm-wise relative error (per tensor, ``||a - e|| / ||e||``):
float32 rounding leaves them ~1e-7 apart, where one gradient scaled by 1.001 (a real
bug that Adam's per-weight scaling hides from the weights) is 1e-3 apart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

import numpy as np

from backends.numpy import model as numpy_reference
from benchmarks.drivers import build_agent, build_model
from benchmarks.workloads.base import AgentConfig, TrainingConfig
from shared.params import Params, cast_params
from shared.td import TDBatch
from shared.tolerances import ROUNDING_MULTIPLE, TD_SYNC_AFTER, TOLERANCES

Step = tuple[float, list[Params]]  # a step's loss and the weights after it


def reversed_rows(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One batch, ``(B, ...)`` each, with its rows in reverse order: the same mean loss and
    gradients, summed in another order."""
    return np.ascontiguousarray(x[::-1]), np.ascontiguousarray(y[::-1])


def reversed_batch(batch: TDBatch) -> TDBatch:
    """A TD batch with its ``B`` transitions in reverse order."""
    fields = ("obs", "actions", "rewards", "next_obs", "dones")
    return replace(
        batch, **{name: np.ascontiguousarray(getattr(batch, name)[::-1]) for name in fields}
    )


def relative_excess(actual: np.ndarray, expected: np.ndarray, dtype: str) -> float:
    """max |a - e| / (atol + rtol |e|), the dtype's tolerance: at most 1 is within it."""
    tol = TOLERANCES[dtype]
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    return float(np.max(np.abs(actual - expected) / (tol["atol"] + tol["rtol"] * np.abs(expected))))


def params_excess(actual: Params, expected: Params, dtype: str) -> float:
    """The largest ``relative_excess`` over every canonical parameter."""
    return max(relative_excess(actual[name], expected[name], dtype) for name in expected)


def norm_errors(actual: Params, expected: Params) -> dict[str, float]:
    """Each tensor's norm-wise relative error ``||a - e|| / ||e||`` (a tensor that is
    exactly zero in ``expected``: its absolute error)."""
    errors = {}
    for name, value in expected.items():
        exact = np.asarray(value, np.float64)
        gap = float(np.linalg.norm(np.asarray(actual[name], np.float64) - exact))
        size = float(np.linalg.norm(exact))
        errors[name] = gap / size if size > 0 else gap
    return errors


def _deviation(runs: list[list[Step]]) -> dict[str, float]:
    """How far the later runs' steps lie from the first's (float32 tolerance units)."""
    loss = params = 0.0
    for other in runs[1:]:
        for (expected_loss, expected), (actual_loss, actual) in zip(runs[0], other, strict=True):
            loss = max(loss, relative_excess(actual_loss, expected_loss, "float32"))
            params = max(
                params,
                *(params_excess(a, e, "float32") for a, e in zip(actual, expected, strict=True)),
            )
    return {"loss_error_over_tolerance": loss, "params_error_over_tolerance": params}


def _supervised_run(
    config: TrainingConfig,
    batches: Iterable[tuple[np.ndarray, np.ndarray]],
    params: Params,
    dtype: str,
) -> list[Step]:
    model = build_model(numpy_reference, config, cast_params(params, dtype), dtype, "eager")
    return [(model.train_step(x, y), [model.get_params()]) for x, y in batches]


def training_envelope(
    config: TrainingConfig, batches: list[tuple[np.ndarray, np.ndarray]], params: Params
) -> dict[str, Any]:
    """The reference's float32 rounding on ``batches`` from ``params`` (float32): the
    larger deviation of its losses and weights, step by step, from NumPy in float64 and
    from NumPy in float32 on the rows reversed; in float32 tolerance units."""
    reordered = [reversed_rows(x, y) for x, y in batches]
    runs = [
        _supervised_run(config, batches, params, "float32"),
        _supervised_run(config, batches, params, "float64"),
        _supervised_run(config, reordered, params, "float32"),
    ]
    return {"steps": len(batches), **_deviation(runs)}


def _agent_run(
    config: AgentConfig, batches: list[TDBatch], params: Params, dtype: str
) -> list[Step]:
    agent = build_agent(numpy_reference, config, cast_params(params, dtype), dtype, "eager")
    steps: list[Step] = []
    for step, batch in enumerate(batches, start=1):
        loss = agent.td_step(batch)
        if step == TD_SYNC_AFTER:
            agent.sync_target()
        steps.append((loss, [agent.get_params(), agent.get_target_params()]))
    return steps


def agent_envelope(config: AgentConfig, batches: list[TDBatch], params: Params) -> dict[str, Any]:
    """``training_envelope`` for TD steps (the target synced after ``TD_SYNC_AFTER``):
    losses, online and target weights."""
    runs = [
        _agent_run(config, batches, params, "float32"),
        _agent_run(config, batches, params, "float64"),
        _agent_run(config, [reversed_batch(b) for b in batches], params, "float32"),
    ]
    return {"steps": len(batches), **_deviation(runs)}


def gradient_envelope(grads_of: Callable[[str, bool], Params], expected: Params) -> dict:
    """The reference's float32 rounding of one step's gradients, per tensor: the larger
    norm-wise error against ``expected`` (the reference's float32 gradients) of the
    reference in float64 and in float32 on the rows reversed; ``grads_of(dtype, reversed)``."""
    probes = [norm_errors(grads_of(d, flip), expected) for d, flip in GRADIENT_PROBES]
    return {name: max(probe[name] for probe in probes) for name in expected}


GRADIENT_PROBES = (("float64", False), ("float32", True))


def typical_gradients(errors: list[dict], envelopes: list[dict] | None) -> dict[str, Any]:
    """The gradients' norm-wise errors over the steps (``errors``, per step and tensor)
    judged per tensor by their median over the steps: a wrong gradient is wrong at every
    step, where float32 can switch a ReLU unit that sits on its kink at one step (the
    reference against itself: 1e-2 once, ~2e-7 otherwise on N-body). The tensor furthest
    beyond its bound (``envelopes``' median, as ``rounding_verdict`` bounds it; without
    envelopes, the largest error): ``grads_norm_error``, ``grads_norm_envelope``
    (without envelopes: absent) and ``grads_norm_tensor``."""
    names = list(errors[0]) if errors else []
    error = {name: float(np.median([step[name] for step in errors])) for name in names}
    if envelopes is None:
        worst = max(names, key=lambda name: error[name], default=None)
        return {"grads_norm_error": error.get(worst, 0.0), "grads_norm_tensor": worst}
    envelope = {name: float(np.median([step[name] for step in envelopes])) for name in names}
    floor = TOLERANCES["float32"]["rtol"]
    worst = max(names, key=lambda n: error[n] / max(floor, ROUNDING_MULTIPLE * envelope[n]))
    return {
        "grads_norm_error": error[worst],
        "grads_norm_envelope": envelope[worst],
        "grads_norm_tensor": worst,
    }


def _judged(error: float, envelope: float, floor: float) -> dict[str, Any]:
    bound = max(floor, ROUNDING_MULTIPLE * envelope)
    return {"error": error, "envelope": envelope, "bound": bound, "within": bool(error <= bound)}


def rounding_verdict(summary: dict[str, Any]) -> dict[str, Any]:
    """A float32 summary's errors against ``ROUNDING_MULTIPLE`` times the envelope, per
    quantity: the loss and weights (tolerance units, bound at least 1) from
    ``summary["envelope"]``, the gradients at equal weights (norm-wise, bound at least
    float32's rtol) from ``summary["float32_gradients"]``. KeyError when one is missing
    (an error in a check): the caller records that as an error."""
    envelope, grads = summary["envelope"], summary["float32_gradients"]
    quantities = {
        name: _judged(summary[key], envelope[key], 1.0)
        for name, key in (
            ("loss", "loss_error_over_tolerance"),
            ("params", "params_error_over_tolerance"),
        )
    }
    rtol = TOLERANCES["float32"]["rtol"]
    quantities["grads"] = _judged(grads["grads_norm_error"], grads["grads_norm_envelope"], rtol)
    quantities["grads"]["tensor"] = grads.get("grads_norm_tensor")  # the furthest out
    within = all(q["within"] for q in quantities.values())
    return {"multiple": ROUNDING_MULTIPLE, **quantities, "within_rounding": within}

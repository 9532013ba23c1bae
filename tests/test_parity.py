"""Every backend and mode against the NumPy reference, from the same start and data.

Forward outputs, per-parameter gradients, and the loss and parameters after each of
the first PARITY_STEPS optimizer steps; then the same steps through prepare and
train_epoch (the path the benchmark times, fused into one compiled loop in some modes).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from shared import registry
from tests.parity import (
    OTHER_BACKENDS,
    PARITY_STEPS,
    Case,
    assert_close,
    assert_params_close,
    assert_traces_close,
    backends_to_test,
    build,
    cases,
    reference_trace,
    runs_case,
    trace,
)

BACKENDS = backends_to_test(OTHER_BACKENDS)
# Some (backend, mode[, dtype]) pairs cost seconds a case for what another pair already
# shows, so by default they run the cases that cover the benchmark's batch-1 hot path and
# every loss, optimizer, clipping and rate-change path; every case with
# BENCH_FULL_PARITY=1 (many minutes more on the 2-core machine):
# - Keras's torch.compile mode traces Keras's whole train step anew for every model
#   (~10-30 s each at one thread);
# - Keras on JAX run eagerly dispatches every op from Python (~5-15 s a case); its jit
#   mode runs every case through the same Keras layers;
# - a compiling mode in float64 (torch.compile, Keras on JAX's jit)
#   compiles every case anew (~3-20 s each, against ~1-2 s in float32, which runs every
#   case): float64 there checks that the dtype reaches the compiled program, which the
#   linear, sigmoid and ReLU MLP cases and the batch-1 path show (float64 CNNs run in
#   the same backends' other modes).
FLOAT64_COMPILED_CASES = (
    "copynet-reward",
    "copynet-reward-linear",
    "xor-single-layer",
    "nbody-loss-ratio",
)
SLOW_MODE_CASES = {
    # Keras's torch.compile: ~10-30 s a case at one thread, the costliest mode of the
    # suite: the batch-1 path and SGD with momentum, clipping and a changing rate in
    # float32 (its eager mode runs every case, float64 included, through the same layers;
    # the compiled graph is the same code in either dtype).
    ("keras-torch", "compile", "float32"): ("copynet-reward", "mlp-sgd-momentum-decay"),
    ("keras-torch", "compile", "float64"): (),
    ("keras-jax", "eager"): ("copynet-reward", "xor-single-layer", "mlp-sgd-momentum-decay"),
    ("torch", "compile", "float64"): FLOAT64_COMPILED_CASES,
    # Keras's function mode runs every case through the same train step that XLA
    # compiles here (~5-12 s a CNN case): one case per network family, CNN included.
    ("keras", "xla"): (*FLOAT64_COMPILED_CASES, "mlp-sgd-momentum-decay", "cnn-digits-ce"),
    ("keras-jax", "jit", "float64"): FLOAT64_COMPILED_CASES,
}


# Modes whose step path (train_step, loss_and_grads) is another mode's own code, that
# differ only in train_epoch: their epoch test runs, their step test would repeat the
# other mode's. JAX's scan mode is jit's model with the epoch in one lax.scan
# (backends/jax/model.py: ScanModel and JitModel share JaxModel's step).
STEP_PATH_OF = {("jax", "scan"): "jit"}


def _runs(backend: str, mode: str, dtype: str, case: Case) -> bool:
    subset = SLOW_MODE_CASES.get((backend, mode), SLOW_MODE_CASES.get((backend, mode, dtype)))
    if subset is not None and os.environ.get("BENCH_FULL_PARITY") != "1":
        return case.name in subset and runs_case(backend, case)
    return runs_case(backend, case)


def combos(backends: list[str], epoch_path: bool = False):
    """``(backend, mode, dtype, case name)`` params: every mode, dtype and case each runs."""
    for backend in backends:
        info = registry.get(backend)
        for mode in info.modes:
            for dtype in info.dtypes:
                for case in cases().values():
                    if epoch_path and case.schedule is not None and case.quantiles is None:
                        continue  # the rate changes between steps: covered step by step
                    if not case.every_mode and (epoch_path or mode != info.default_mode):
                        continue
                    if not epoch_path and (backend, mode) in STEP_PATH_OF:
                        continue
                    if dtype in case.dtypes and _runs(backend, mode, dtype, case):
                        yield pytest.param(
                            backend,
                            mode,
                            dtype,
                            case.name,
                            id=f"{backend}-{mode}-{dtype}-{case.name}",
                        )


@pytest.mark.parametrize(("backend", "mode", "dtype", "case_name"), list(combos(BACKENDS)))
def test_steps_match_numpy(backend: str, mode: str, dtype: str, case_name: str) -> None:
    case = cases()[case_name]
    actual = trace(build(backend, case, dtype, mode), case)
    assert_traces_close(actual, reference_trace(case_name, dtype), dtype)


def _epoch_reference(case: Case, dtype: str) -> tuple[float, dict]:
    if case.quantiles is None:
        ref = reference_trace(case.name, dtype)
        return float(np.mean(ref.step_losses)), ref.step_params[-1]
    reference = _with_fixed_quantile(build("numpy", case, dtype), case)
    return reference.train_epoch(reference.prepare(case.xs, case.ys)), reference.get_params()


def _with_fixed_quantile(model, case: Case):
    """For a curriculum case: the epoch runs at one quantile, set before it (as the
    driver does), and at the initial rate."""
    if case.quantiles is not None:
        model.set_loss_quantile(case.quantiles[PARITY_STEPS // 2])
    return model


@pytest.mark.parametrize(("backend", "mode", "dtype", "case_name"), list(combos(BACKENDS, True)))
def test_epoch_matches_numpy(backend: str, mode: str, dtype: str, case_name: str) -> None:
    case = cases()[case_name]
    model = _with_fixed_quantile(build(backend, case, dtype, mode), case)
    mean_loss = model.train_epoch(model.prepare(case.xs, case.ys))
    expected_loss, expected_params = _epoch_reference(case, dtype)
    assert isinstance(mean_loss, float)
    assert_close(mean_loss, expected_loss, dtype, f"mean loss of {PARITY_STEPS} steps")
    assert_params_close(model.get_params(), expected_params, dtype, "params after the epoch")

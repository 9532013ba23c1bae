"""Parameters move between frameworks unchanged: save in one, load in every other."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from shared import registry
from shared.params import load_params, save_params
from tests.parity import assert_close, backend_under_test, build, cases, loads_in_process, runs_case

CASE = "mlp-adam-clip-decay"  # tanh, relu and linear layers
BACKENDS = [
    name for name in registry.BACKENDS if runs_case(name, cases()[CASE]) and loads_in_process(name)
]
PAIRS = [
    (a, b, dtype)
    for a, b in itertools.permutations(BACKENDS, 2)
    # With a backend under test (a subprocess of test_keras_multibackend.py): its pairs.
    if backend_under_test() in (None, a, b)
    for dtype in ("float32", "float64")
]


def trained_params(backend: str, dtype: str):
    """Params after 3 steps in ``backend``: no longer the shared starting point."""
    case = cases()[CASE]
    model = build(backend, case, dtype)
    for step in range(3):
        model.train_step(case.xs[step], case.ys[step])
    return model


@pytest.mark.parametrize(
    ("source", "target", "dtype"), PAIRS, ids=[f"{a}-to-{b}-{d}" for a, b, d in PAIRS]
)
def test_saved_params_load_with_identical_outputs(tmp_path, source, target, dtype):
    case = cases()[CASE]
    trained = trained_params(source, dtype)
    save_params(trained.get_params(), tmp_path / "params.npz")
    loaded = load_params(tmp_path / "params.npz")
    receiver = build(target, case, dtype)
    receiver.set_params(loaded)
    for name, value in receiver.get_params().items():  # bit for bit, same dtype
        assert value.dtype == np.dtype(dtype), name
        np.testing.assert_array_equal(value, loaded[name], err_msg=name)
    x = case.xs[-1]
    assert_close(receiver.predict(x), trained.predict(x), dtype, f"{source} -> {target}")

"""The parity assertions themselves fail on a perturbation as small as 0.1%."""

from __future__ import annotations

import pytest

from tests.parity import assert_traces_close, cases, reference_trace


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case_name", ["xor-momentum", "copynet-reward"])
def test_a_gradient_scaled_by_1_001_is_caught(case_name, dtype):
    reference = reference_trace(case_name, dtype)
    perturbed = reference_trace(case_name, dtype)
    perturbed = type(perturbed)(**{**perturbed.__dict__, "grads": dict(perturbed.grads)})
    name = next(iter(perturbed.grads))
    perturbed.grads[name] = perturbed.grads[name] * 1.001
    with pytest.raises(AssertionError, match="gradients"):
        assert_traces_close(perturbed, reference, dtype)


def test_reference_agrees_with_itself():
    case = next(iter(cases()))
    assert_traces_close(
        reference_trace(case, "float64"), reference_trace(case, "float64"), "float64"
    )


def test_every_case_moves_every_parameter():
    """A case whose gradients vanish would compare nothing: each parameter must move."""
    for name in cases():
        ref = reference_trace(name, "float64")
        start = cases()[name].params("float64")
        for param in ref.grads:
            moved = ref.step_params[-1][param] - start[param]
            assert abs(moved).max() > 0, f"{name}: {param} never changes"

"""The N-body simulator: conservation, an analytic orbit, symmetry, and bad input.

Tolerances stated here: over 10 time units at dt = 1e-3 the relative energy error of a
system without close encounters stays below 1e-5 and its momentum changes by less than
1e-12; a circular two-body orbit returns to its start after one analytic period to
1e-5 of its separation with 4,000 steps (leapfrog's phase error is ~5e-6 there).
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.workloads.nbody import simulator as nbody
from shared.specs import SpecError

MASSES = np.array([1.0, 0.1, 0.05])
SOFTENING = 0.01


def _hierarchical_system() -> tuple[np.ndarray, np.ndarray]:
    """A heavy body with two lighter ones on near-circular orbits at radii 1 and 2,
    momentum-free: no close encounter within 10 time units."""
    positions = np.array([[[0.0, 0.0], [1.0, 0.0], [0.0, -2.0]]])
    velocities = np.array([[[0.0, 0.0], [0.0, 1.0], [np.sqrt(0.5), 0.0]]])
    velocities -= nbody.momentum(velocities, MASSES)[:, None, :] / MASSES.sum()
    return positions, velocities


def _random_systems(count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, (count, 3, 2)), rng.normal(0, 0.3, (count, 3, 2))


def test_energy_and_momentum_are_conserved_over_a_long_run() -> None:
    x0, v0 = _hierarchical_system()
    xs, vs = nbody.leapfrog(x0, v0, MASSES, SOFTENING, 1e-3, 10_000, save_every=100)
    flat_x, flat_v = xs.reshape(-1, 3, 2), vs.reshape(-1, 3, 2)
    energy = nbody.total_energy(flat_x, flat_v, MASSES, SOFTENING)
    assert np.max(np.abs(energy - energy[0])) / abs(energy[0]) < 1e-5
    drift = nbody.momentum(flat_v, MASSES) - nbody.momentum(flat_v[:1], MASSES)
    assert np.max(np.abs(drift)) < 1e-12
    # and the run went somewhere: the inner body covered more than a full orbit
    assert np.ptp(np.unwrap(np.arctan2(xs[0, :, 1, 1], xs[0, :, 1, 0]))) > 2 * np.pi


@pytest.mark.parametrize(("masses", "softening"), [((1.0, 0.5), 0.05), ((1.0, 1.0), 0.01)])
def test_circular_two_body_orbit_returns_after_one_analytic_period(masses, softening) -> None:
    x0, v0, period = nbody.circular_two_body(masses, separation=1.0, softening=softening)
    steps = 4_000
    xs, vs = nbody.leapfrog(x0, v0, np.array(masses), softening, period / steps, steps, 2_000)
    np.testing.assert_allclose(xs[:, -1], x0, rtol=0, atol=1e-5)
    np.testing.assert_allclose(vs[:, -1], v0, rtol=0, atol=1e-5)
    # half a period later every body is on the opposite side
    np.testing.assert_allclose(xs[:, 1], -x0, rtol=0, atol=1e-5)


def test_time_reversal_returns_to_the_start() -> None:
    """Leapfrog is time-reversible: run forward, flip the velocities, run back."""
    x0, v0 = _random_systems(16)
    xs, vs = nbody.leapfrog(x0, v0, MASSES, 0.1, 1e-3, 500, save_every=500)
    back_x, back_v = nbody.leapfrog(xs[:, -1], -vs[:, -1], MASSES, 0.1, 1e-3, 500, 500)
    np.testing.assert_allclose(back_x[:, -1], x0, rtol=0, atol=1e-9)
    np.testing.assert_allclose(-back_v[:, -1], v0, rtol=0, atol=1e-9)


def test_results_do_not_depend_on_body_order_or_batch() -> None:
    x0, v0 = _random_systems(8)
    xs, vs = nbody.leapfrog(x0, v0, MASSES, SOFTENING, 1e-3, 200, save_every=50)
    order = [2, 0, 1]
    px, pv = nbody.leapfrog(x0[:, order], v0[:, order], MASSES[order], SOFTENING, 1e-3, 200, 50)
    np.testing.assert_allclose(px, xs[:, :, order], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(pv, vs[:, :, order], rtol=1e-10, atol=1e-12)
    # one system alone evolves exactly as it does inside the batch
    alone_x, _ = nbody.leapfrog(x0[3:4], v0[3:4], MASSES, SOFTENING, 1e-3, 200, 50)
    np.testing.assert_array_equal(alone_x[0], xs[3])


def test_force_law_is_the_sources() -> None:
    """Two unit masses at distance r attract with 1 / (r^2 + eps^2); the potential
    matches the force (its derivative along the line of centres)."""
    r, eps = 0.3, 0.1
    x = np.array([[[0.0, 0.0], [r, 0.0]]])
    acc = nbody.accelerations(x, np.ones(2), eps)
    np.testing.assert_allclose(acc[0], [[1 / (r**2 + eps**2), 0], [-1 / (r**2 + eps**2), 0]])
    h = 1e-6
    energies = [
        nbody.potential_energy(np.array([[[0.0, 0.0], [d, 0.0]]]), np.ones(2), eps)[0]
        for d in (r - h, r + h)
    ]
    assert (energies[1] - energies[0]) / (2 * h) == pytest.approx(1 / (r**2 + eps**2), rel=1e-8)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda x, v: nbody.leapfrog(x, v, [1.0, 0.0, 1.0], 0.01, 1e-3, 10), "positive"),
        (lambda x, v: nbody.leapfrog(x, v, [1.0, -2.0, 1.0], 0.01, 1e-3, 10), "positive"),
        (lambda x, v: nbody.leapfrog(x[:, :1], v[:, :1], [1.0], 0.01, 1e-3, 10), "two bodies"),
        (lambda x, v: nbody.leapfrog(x, v, MASSES, 0.01, 0.0, 10), "dt"),
        (lambda x, v: nbody.leapfrog(x, v, MASSES, 0.01, -1e-3, 10), "dt"),
        (lambda x, v: nbody.leapfrog(x, v, MASSES, 0.0, 1e-3, 10), "softening"),
        (lambda x, v: nbody.leapfrog(x, v, MASSES, float("nan"), 1e-3, 10), "softening"),
        (lambda x, v: nbody.leapfrog(x, v, MASSES[:2], 0.01, 1e-3, 10), "masses"),
        (lambda x, v: nbody.leapfrog(x, v, MASSES, 0.01, 1e-3, 0), "steps"),
        (lambda x, v: nbody.accelerations(x, [1.0, 1.0, np.inf], 0.01), "positive"),
    ],
)
def test_bad_input_is_rejected_before_integrating(call, message) -> None:
    x0, v0 = _random_systems(2)
    with pytest.raises(SpecError, match=message):
        call(x0, v0)

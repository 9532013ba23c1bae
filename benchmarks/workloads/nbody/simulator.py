"""Newtonian gravity in the plane, integrated by leapfrog (reference.md section 4).

G = 1. Bodies i and j at distance r attract each other with the softened force
``m_i m_j / (r**2 + eps**2)`` along the line joining them, the law the source uses; its
potential is ``-m_i m_j * arctan(eps / r) / eps``, which tends to ``-m_i m_j / r`` as
eps -> 0 and stays finite at r = 0 (coincident bodies exert no force on each other).

The integrator is leapfrog in kick-drift-kick form (velocity Verlet) with a fixed step:
symplectic and time-reversible, so energy errors stay bounded instead of drifting, and
momentum is conserved to rounding (every pair's forces are equal and opposite).

Everything is vectorised over many independent systems at once. Shapes:
``positions``, ``velocities``: ``(systems, bodies, 2)``; ``masses``: ``(bodies,)``, the same
for every system, or ``(systems, bodies)``. Every function checks its input first and
raises ``SpecError`` before computing anything.
"""

from __future__ import annotations

import math

import numpy as np

from shared.specs import SpecError

G = 1.0


def check_masses(masses: np.ndarray) -> np.ndarray:
    """``masses`` as float64, after checking there are at least two and all are positive."""
    masses = np.asarray(masses, dtype=np.float64)
    if masses.ndim not in (1, 2):
        raise SpecError(f"masses must be (bodies,) or (systems, bodies), got shape {masses.shape}")
    if masses.shape[-1] < 2:
        raise SpecError(f"an N-body system needs at least two bodies, got {masses.shape[-1]}")
    if not np.all(np.isfinite(masses)) or not np.all(masses > 0):
        raise SpecError(f"every mass must be positive and finite, got {masses.min():g} among them")
    return masses


def check_positive(value: float, what: str) -> float:
    """``value`` as a float, after checking it is finite and > 0."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating):
        raise SpecError(f"{what} must be a number, got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise SpecError(f"{what} must be positive and finite, got {value!r}")
    return float(value)


def _check_state(positions: np.ndarray, masses: np.ndarray) -> None:
    if positions.ndim != 3 or positions.shape[-1] != 2:
        raise SpecError(f"states must be (systems, bodies, 2), got shape {positions.shape}")
    if positions.shape[1] != masses.shape[-1]:
        raise SpecError(f"{positions.shape[1]} bodies in the state but {masses.shape[-1]} masses")
    if masses.ndim == 2 and masses.shape[0] != positions.shape[0]:
        raise SpecError(
            f"{positions.shape[0]} systems in the state but {masses.shape[0]} rows of masses"
        )


def _pairs(bodies: int) -> list[tuple[int, int]]:
    return [(i, j) for i in range(bodies) for j in range(i + 1, bodies)]


def _mass(masses: np.ndarray, body: int) -> np.ndarray | float:
    """Mass of ``body``, shaped to broadcast against ``(systems,)`` arrays."""
    return masses[..., body]


def accelerations(positions: np.ndarray, masses: np.ndarray, softening: float) -> np.ndarray:
    """``(systems, bodies, 2)`` accelerations at ``positions``, G = 1.

    A loop over the ``bodies * (bodies - 1) / 2`` pairs, each vectorised over the systems:
    for the 2 and 3 bodies of the workloads this is a few times faster than broadcasting
    an all-pairs ``(systems, bodies, bodies, 2)`` array.
    """
    masses = check_masses(masses)
    eps2 = check_positive(softening, "softening") ** 2
    positions = np.asarray(positions, dtype=np.float64)
    _check_state(positions, masses)
    acc = np.zeros_like(positions)
    for i, j in _pairs(positions.shape[1]):
        delta = positions[:, j] - positions[:, i]  # (systems, 2), from i towards j
        r2 = delta[:, 0] ** 2 + delta[:, 1] ** 2
        r = np.sqrt(r2)
        # force per unit mass product, divided by r to turn delta into a unit vector
        scale = np.divide(1.0, r * (r2 + eps2), out=np.zeros_like(r), where=r > 0)
        pull = delta * scale[:, None]
        acc[:, i] += np.asarray(_mass(masses, j))[..., None] * pull
        acc[:, j] -= np.asarray(_mass(masses, i))[..., None] * pull
    return G * acc


def kinetic_energy(velocities: np.ndarray, masses: np.ndarray) -> np.ndarray:
    """``(systems,)``: sum of m v^2 / 2."""
    masses = check_masses(masses)
    velocities = np.asarray(velocities, dtype=np.float64)
    _check_state(velocities, masses)
    return 0.5 * np.sum(masses * np.sum(velocities**2, axis=-1), axis=-1)


def potential_energy(positions: np.ndarray, masses: np.ndarray, softening: float) -> np.ndarray:
    """``(systems,)``: sum over pairs of ``-m_i m_j arctan(eps / r) / eps``."""
    masses = check_masses(masses)
    eps = check_positive(softening, "softening")
    positions = np.asarray(positions, dtype=np.float64)
    _check_state(positions, masses)
    energy = np.zeros(positions.shape[0])
    for i, j in _pairs(positions.shape[1]):
        r = np.linalg.norm(positions[:, j] - positions[:, i], axis=-1)
        energy -= _mass(masses, i) * _mass(masses, j) * np.arctan2(eps, r) / eps
    return G * energy


def total_energy(
    positions: np.ndarray, velocities: np.ndarray, masses: np.ndarray, softening: float
) -> np.ndarray:
    """``(systems,)``: kinetic plus potential energy."""
    return kinetic_energy(velocities, masses) + potential_energy(positions, masses, softening)


def momentum(velocities: np.ndarray, masses: np.ndarray) -> np.ndarray:
    """``(systems, 2)``: total linear momentum."""
    masses = check_masses(masses)
    velocities = np.asarray(velocities, dtype=np.float64)
    _check_state(velocities, masses)
    return np.sum(np.broadcast_to(masses, velocities.shape[:2])[..., None] * velocities, axis=1)


def leapfrog(
    positions: np.ndarray,
    velocities: np.ndarray,
    masses: np.ndarray,
    softening: float,
    dt: float,
    steps: int,
    save_every: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Integrate ``steps`` steps of ``dt``; returns the states every ``save_every`` steps.

    Kick-drift-kick: ``v += a dt/2; x += v dt; v += a(x) dt/2``, one force evaluation
    per step (the last one is reused by the next step's first kick).

    Returns ``(positions, velocities)``, each ``(systems, steps // save_every + 1,
    bodies, 2)``; index 0 is the initial state.
    """
    masses = check_masses(masses)
    check_positive(softening, "softening")
    dt = check_positive(dt, "the time step dt")
    for value, what in ((steps, "steps"), (save_every, "save_every")):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise SpecError(f"{what} must be a positive integer, got {value!r}")
    if steps % save_every:
        raise SpecError(f"steps ({steps}) must be a multiple of save_every ({save_every})")
    x = np.array(positions, dtype=np.float64)
    v = np.array(velocities, dtype=np.float64)
    _check_state(x, masses)
    _check_state(v, masses)
    if v.shape != x.shape:
        raise SpecError(f"positions {x.shape} and velocities {v.shape} differ in shape")
    saved = steps // save_every + 1
    xs = np.empty((x.shape[0], saved, *x.shape[1:]))
    vs = np.empty_like(xs)
    xs[:, 0], vs[:, 0] = x, v
    acc = accelerations(x, masses, softening)
    half = 0.5 * dt
    for step in range(1, steps + 1):
        v += half * acc
        x += dt * v
        acc = accelerations(x, masses, softening)
        v += half * acc
        if step % save_every == 0:
            xs[:, step // save_every], vs[:, step // save_every] = x, v
    return xs, vs


def circular_two_body(
    masses: tuple[float, float], separation: float, softening: float
) -> tuple[np.ndarray, np.ndarray, float]:
    """A two-body circular orbit about the centre of mass at the origin, under the softened
    law above: ``(positions (1, 2, 2), velocities (1, 2, 2), period)``.

    The relative acceleration is ``M / (d**2 + eps**2)`` towards the partner, so the angular
    rate is ``sqrt(M / (d * (d**2 + eps**2)))`` for total mass M and separation d.
    """
    m1, m2 = check_masses(np.asarray(masses))
    d = check_positive(separation, "separation")
    eps = check_positive(softening, "softening")
    total = m1 + m2
    omega = math.sqrt(G * total / (d * (d * d + eps * eps)))
    positions = np.array([[[-m2 / total * d, 0.0], [m1 / total * d, 0.0]]])
    velocities = np.array([[[0.0, -m2 / total * d * omega], [0.0, m1 / total * d * omega]]])
    return positions, velocities, 2 * math.pi / omega

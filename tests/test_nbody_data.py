"""The N-body datasets: what they hold, their on-disk cache, and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.workloads import get_workload
from benchmarks.workloads.nbody import data as nbody_data
from benchmarks.workloads.nbody import simulator as nbody
from benchmarks.workloads.nbody.data import BreenDataset, StepDataset
from shared import cache, metadata
from shared.specs import SpecError

TWO_BODY = StepDataset((1.0, 1.0), trajectories=6, steps=12)
BREEN = BreenDataset(trajectories=4, times=9, interval=0.05, substeps=50, softening=0.05)


@pytest.fixture(autouse=True)
def cache_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.CACHE_DIR_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


def _counting(monkeypatch) -> list[int]:
    """Counts the generator's runs (each miss of the cache is one)."""
    calls: list[int] = []
    generate = nbody_data._screened_trajectories

    def counted(*args):
        calls.append(1)
        return generate(*args)

    monkeypatch.setattr(nbody_data, "_screened_trajectories", counted)
    return calls


def test_step_samples_follow_the_simulator() -> None:
    data = nbody_data.trajectories(TWO_BODY, seed=0, split="train")
    assert data["positions"].shape == (6, 13, 2, 2)
    assert np.all(data["energy_error"] <= TWO_BODY.energy_tolerance)
    x, y = nbody_data.samples(TWO_BODY, data)
    assert x.shape == y.shape == (6 * 12, 8)
    first = x.reshape(6, 12, 8)
    np.testing.assert_array_equal(first[:, 1:], y.reshape(6, 12, 8)[:, :-1])  # y_k = x_k+1
    # one model step of the simulator from x_0 gives y_0
    pos, vel = nbody_data.split_state(first[:, 0], 2)
    xs, vs = nbody.leapfrog(pos, vel, np.ones(2), 0.01, 0.001, 10, save_every=10)
    np.testing.assert_allclose(nbody_data.states(xs[:, -1], vs[:, -1]), y.reshape(6, 12, 8)[:, 0])
    # centre-of-mass frame, bound
    np.testing.assert_allclose(nbody.momentum(vel, np.ones(2)), 0, atol=1e-12)
    assert np.all(nbody.total_energy(pos, vel, np.ones(2), 0.01) < 0)
    identity = StepDataset((1.0, 1.0), 6, 12, identity=True)
    ix, iy = nbody_data.samples(identity, nbody_data.trajectories(identity, 0, "train"))
    np.testing.assert_array_equal(ix, x)
    np.testing.assert_array_equal(iy, x)


def test_breen_samples() -> None:
    data = nbody_data.trajectories(BREEN, seed=0, split="train")
    x, y = nbody_data.samples(BREEN, data)
    assert x.shape == (4 * 9, 3) and y.shape == (4 * 9, 4)
    x, y = x.reshape(4, 9, 3), y.reshape(4, 9, 4)
    np.testing.assert_allclose(x[0, :, 0], np.arange(9) * 0.05)
    np.testing.assert_array_equal(x[:, :, 1:], np.broadcast_to(y[:, :1, 2:], (4, 9, 2)))
    np.testing.assert_array_equal(y[:, 0, :2], np.broadcast_to([1.0, 0.0], (4, 2)))
    start = y[:, 0, 2:]  # x2 in the quarter disc
    assert np.all(np.linalg.norm(start, axis=-1) <= 1) and np.all(start[:, 0] <= 0)
    assert np.all(start[:, 1] >= 0)
    # three equal masses from rest, centre of mass at the origin: x3 = -x1 - x2 throughout
    positions = data["positions"]
    np.testing.assert_allclose(positions.sum(axis=2), 0, atol=1e-12)
    np.testing.assert_array_equal(data["velocities"][:, 0], 0)


def test_generation_is_deterministic_and_split_by_seed_and_split(cache_in_tmp) -> None:
    a = nbody_data.trajectories(TWO_BODY, 0, "train")
    for path in cache_in_tmp.iterdir():
        path.unlink()
    again = nbody_data.trajectories(TWO_BODY, 0, "train")
    np.testing.assert_array_equal(a["positions"], again["positions"])
    other_seed = nbody_data.trajectories(TWO_BODY, 1, "train")["positions"]
    validation = nbody_data.trajectories(TWO_BODY, 0, "validation")["positions"]
    assert not np.array_equal(a["positions"], other_seed)
    assert not np.array_equal(a["positions"], validation)


def test_cache_is_used_then_keyed_by_parameters(monkeypatch, cache_in_tmp) -> None:
    calls = _counting(monkeypatch)
    first = nbody_data.trajectories(TWO_BODY, 0, "train")
    second = nbody_data.trajectories(TWO_BODY, 0, "train")
    assert len(calls) == 1
    for name in first:
        np.testing.assert_array_equal(first[name], second[name])
    nbody_data.trajectories(StepDataset((1.0, 1.0), 6, 12, softening=0.02), 0, "train")
    assert len(calls) == 2 and len(list(cache_in_tmp.glob("*.npz"))) == 2
    # identity uses the same trajectories, so the same file
    nbody_data.trajectories(StepDataset((1.0, 1.0), 6, 12, identity=True), 0, "train")
    assert len(calls) == 2


def _damage_truncate(path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _damage_flip(path) -> None:
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # inside the positions array's data
    path.write_bytes(bytes(raw))


def _damage_other_key(path) -> None:
    other = cache.cache_path("x", {"other": 1})
    cache.write_atomic(other, {"other": 1}, {"positions": np.zeros(3)})
    other.replace(path)


@pytest.mark.parametrize("damage", [_damage_truncate, _damage_flip, _damage_other_key])
def test_a_damaged_cache_file_is_detected_and_regenerated(
    damage, monkeypatch, capsys, cache_in_tmp
) -> None:
    calls = _counting(monkeypatch)
    good = nbody_data.trajectories(TWO_BODY, 0, "train")
    (path,) = cache_in_tmp.glob("*.npz")
    damage(path)
    again = nbody_data.trajectories(TWO_BODY, 0, "train")
    assert len(calls) == 2
    assert "not usable" in capsys.readouterr().err
    for name in good:
        np.testing.assert_array_equal(again[name], good[name])
    nbody_data.trajectories(TWO_BODY, 0, "train")  # the rewritten file is sound again
    assert len(calls) == 2


def test_checksums_are_verified(tmp_path, monkeypatch) -> None:
    """A file whose content does not match its stored checksum (a bug, or damage the zip
    container's own CRC misses) is refused."""
    key = {"what": "test"}
    path = tmp_path / "arrays.npz"
    real = cache.array_checksum
    monkeypatch.setattr(cache, "array_checksum", lambda a: "0" * 64)
    cache.write_atomic(path, key, {"positions": np.arange(4.0)})
    monkeypatch.setattr(cache, "array_checksum", real)
    with pytest.raises(cache.CorruptCache, match="fails its checksum"):
        cache.load_verified(path, key)


def test_no_partial_file_is_left_by_a_failed_write(monkeypatch, cache_in_tmp, capsys) -> None:
    """The arrays are still used (only later cells lose the shortcut), and said so."""

    def broken_savez(*args, **kwargs):
        raise OSError("disk full")

    with monkeypatch.context() as patch:
        patch.setattr(np, "savez", broken_savez)
        arrays = nbody_data.trajectories(TWO_BODY, 0, "train")
    assert list(cache_in_tmp.iterdir()) == []
    assert "could not be written (disk full); not cached" in capsys.readouterr().err
    expected = nbody_data.trajectories(TWO_BODY, 0, "train")  # generated again, cached
    assert expected.keys() == arrays.keys()
    for name, value in expected.items():
        np.testing.assert_array_equal(arrays[name], value)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: StepDataset((1.0, 0.0), 4, 4), "positive"),
        (lambda: StepDataset((1.0, -1.0, 1.0), 4, 4), "positive"),
        (lambda: StepDataset((1.0,), 4, 4), "two bodies"),
        (lambda: StepDataset((1.0, 1.0), 4, 4, dt=0.0), "dt"),
        (lambda: StepDataset((1.0, 1.0), 4, 4, dt=-0.01), "dt"),
        (lambda: StepDataset((1.0, 1.0), 4, 4, softening=0.0), "softening"),
        (lambda: StepDataset((1.0, 1.0), 0, 4), "trajectories"),
        (lambda: BreenDataset(4, 4, interval=0.1, substeps=10, softening=-0.1), "softening"),
    ],
)
def test_bad_dataset_parameters_are_rejected_when_specified(build, message) -> None:
    with pytest.raises(SpecError, match=message):
        build()


def test_a_dataset_too_big_for_memory_fails_before_generating(monkeypatch, cache_in_tmp) -> None:
    calls = _counting(monkeypatch)
    monkeypatch.setenv(metadata.MEMORY_ENV, "1000000")  # 1 MB
    big = StepDataset((1.0, 1.0), trajectories=10_000, steps=100)
    with pytest.raises(SpecError, match="would not fit in memory"):
        nbody_data.trajectories(big, 0, "train")
    assert calls == [] and not cache_in_tmp.exists()
    with pytest.raises(SpecError, match="would not fit in memory"):
        get_workload("nbody").check("two-body", "full")
    # the source's full scale is estimated, not generated, on the machine itself
    monkeypatch.delenv(metadata.MEMORY_ENV)
    assert nbody_data.estimated_bytes(get_workload("nbody").datasets("two-body", "full")[0]) > 2**30

"""scikit-learn's bundled 8x8 digits (1,797 images, 10 classes; no download), split for
the architecture search: a fixed stratified train/validation split from the seed.

Images are ``(N, 1, 8, 8)`` float64 in [0, 1] (the 0..16 pixel counts / 16), channels
first like every image in the suite; training targets are one-hot ``(N, 10)``.
The data is the file scikit-learn ships (``sklearn/datasets/data/digits.csv.gz``: 64
pixels then the label per row), read directly: ``import sklearn`` imports SciPy's
statistics and takes seconds, which every search cell and test would pay.
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from shared.params import DATA_STREAM, SHUFFLE_STREAM, rng_for
from shared.specs import SpecError

N_CLASSES = 10
PIXEL_MAX = 16.0  # the dataset's pixels are counts 0..16
DIGITS_FILE = Path("datasets", "data", "digits.csv.gz")


@functools.cache
def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """``(images (1797, 1, 8, 8) float64 in [0, 1], labels (1797,) int64)``."""
    spec = importlib.util.find_spec("sklearn")  # finds the package without importing it
    if spec is None or spec.origin is None:
        raise SpecError("the search workload needs scikit-learn's digits: pip install scikit-learn")
    rows = np.loadtxt(Path(spec.origin).parent / DIGITS_FILE, delimiter=",")
    images = (rows[:, :-1] / PIXEL_MAX).reshape(-1, 1, 8, 8)
    return images, rows[:, -1].astype(np.int64)


@dataclass(frozen=True)
class DigitsSplit:
    """How a variant splits the data: ``validation_fraction`` of every class held out;
    of the rest, at most ``train_per_class`` examples per class (None: all) train."""

    validation_fraction: float = 0.3
    train_per_class: int | None = None

    def __post_init__(self) -> None:
        if not 0 < self.validation_fraction < 1:
            raise SpecError("validation_fraction must be in (0, 1)")
        if self.train_per_class is not None and self.train_per_class < 1:
            raise SpecError("train_per_class must be >= 1")


@dataclass(frozen=True)
class DigitsData:
    """Train images ``(n, 1, 8, 8)`` and labels ``(n,)``; the same for validation."""

    train_x: np.ndarray
    train_labels: np.ndarray
    val_x: np.ndarray
    val_labels: np.ndarray


def split_digits(split: DigitsSplit, seed: int) -> DigitsData:
    """The stratified split of ``seed``: each class's examples are shuffled by the seed's
    data stream, the first ``round(fraction * count)`` validate and the next (up to
    ``train_per_class``) train; both sets sorted back into dataset order."""
    images, labels = load_digits()
    rng = rng_for(seed, DATA_STREAM)
    train, validation = [], []
    for label in range(N_CLASSES):
        members = rng.permutation(np.flatnonzero(labels == label))
        held_out = round(split.validation_fraction * members.size)
        validation.append(members[:held_out])
        train.append(members[held_out:][: split.train_per_class])
    train_index, val_index = np.sort(np.concatenate(train)), np.sort(np.concatenate(validation))
    return DigitsData(
        images[train_index], labels[train_index], images[val_index], labels[val_index]
    )


def one_hot(labels: np.ndarray, n_classes: int = N_CLASSES) -> np.ndarray:
    """``(...)`` int labels -> ``(..., n_classes)`` float64 one-hot rows. SpecError for
    labels that are not integers in ``[0, n_classes)`` (indexing would take -1 as the
    last class)."""
    labels = np.asarray(labels)
    _check_labels(labels, n_classes)
    return np.eye(n_classes)[labels]


def _check_labels(labels: np.ndarray, n_classes: int) -> None:
    if not np.issubdtype(labels.dtype, np.integer):
        raise SpecError(f"class labels must be integers, got {labels.dtype}")
    if labels.size and not (labels.min() >= 0 and labels.max() < n_classes):
        raise SpecError(
            f"class labels must be in [0, {n_classes}), got {labels.min()} to {labels.max()}"
        )


def training_batches(
    data: DigitsData, epochs: int, batch_size: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Every epoch's batches, ``xs (epochs, steps, batch, 1, 8, 8)`` and one-hot ``ys
    (epochs, steps, batch, 10)``: a fresh shuffle of the training set per epoch from the
    seed's shuffle stream; the last ``n % batch_size`` examples of a shuffle sit out."""
    n = data.train_labels.size
    steps = n // batch_size
    if steps < 1:
        raise SpecError(f"batch size {batch_size} is larger than the {n} training examples")
    rng = rng_for(seed, SHUFFLE_STREAM)
    order = np.stack([rng.permutation(n)[: steps * batch_size] for _ in range(epochs)])
    xs = data.train_x[order].reshape(epochs, steps, batch_size, *data.train_x.shape[1:])
    ys = one_hot(data.train_labels[order]).reshape(epochs, steps, batch_size, N_CLASSES)
    return xs, ys


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Share of rows of ``logits (n, classes)`` whose largest entry is the label; a row
    with a NaN counts as wrong."""
    logits, labels = np.asarray(logits, dtype=np.float64), np.asarray(labels)
    if logits.ndim != 2 or labels.shape != logits.shape[:1]:
        # (n, 1) labels would broadcast against (n,) predictions into an (n, n) table
        raise SpecError(
            f"accuracy needs logits (n, classes) and labels (n,), got "
            f"{logits.shape} and {labels.shape}"
        )
    _check_labels(labels, logits.shape[1])
    correct = (np.argmax(logits, axis=1) == labels) & np.all(np.isfinite(logits), axis=1)
    return float(np.mean(correct))

"""An on-disk cache of generated arrays (the N-body datasets), keyed by their parameters.

One ``.npz`` file per key under ``results/.cache/`` (ignored by git; ``BENCH_CACHE_DIR``
moves it), named by a hash of the key. Each file stores the key itself and a SHA-256
checksum of every array (dtype, shape and bytes). A file that cannot be read, holds
another key, or fails a checksum is reported on stderr and regenerated, never used.
Files are written to a temporary name and renamed, so a crash mid-write leaves no
partial file under the real name; a file that cannot be written at all (full disk) is
reported and the arrays used uncached. ``run`` refuses an unwritable cache folder
before it starts (``check_writable``).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from shared import files
from shared.metadata import REPO_ROOT
from shared.paths import absolute, unwritable_reason
from shared.specs import SpecError

CACHE_DIR_ENV = "BENCH_CACHE_DIR"
FORMAT_VERSION = 1
META = "__cache_meta__"
Arrays = dict[str, np.ndarray]


def cache_dir() -> Path:
    """The cache folder, absolute: a relative ``BENCH_CACHE_DIR`` is taken from the
    working directory of the process that reads it first (the runner passes the
    absolute path on to its cells, which run in the repository); a leading ``~`` is the
    home folder (a quoted or ``.env`` value reaches us unexpanded)."""
    return absolute(os.environ.get(CACHE_DIR_ENV) or REPO_ROOT / "results" / ".cache")


def check_writable() -> None:
    """Raise SpecError unless new cache files can be written (checked before a run
    whose cells use the cache; nothing is created)."""
    reason = unwritable_reason(cache_dir())
    if reason:
        raise SpecError(
            f"the dataset cache {cache_dir()} {reason}; set {CACHE_DIR_ENV} to a writable folder"
        )


def canonical_key(key: Mapping[str, Any]) -> str:
    """The key as sorted JSON (tuples become lists, floats keep their repr)."""
    return json.dumps({"format": FORMAT_VERSION, **key}, sort_keys=True)


def cache_path(kind: str, key: Mapping[str, Any]) -> Path:
    digest = hashlib.sha256(canonical_key(key).encode()).hexdigest()[:24]
    return cache_dir() / f"{kind}-{digest}.npz"


def array_checksum(array: np.ndarray) -> str:
    digest = hashlib.sha256(f"{array.dtype.str}{array.shape}".encode())
    digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


class CorruptCache(Exception):
    """A cache file that must not be used; the message says why."""


def load_verified(path: Path, key: Mapping[str, Any]) -> Arrays:
    """The arrays stored at ``path`` for ``key``; raises CorruptCache unless the file is
    complete, holds this key and every checksum matches."""
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data[META]))
            arrays = {name: data[name] for name in data.files if name != META}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        raise CorruptCache(f"unreadable ({type(error).__name__}: {error})") from error
    if meta.get("key") != canonical_key(key):
        raise CorruptCache("it holds another dataset's key")
    if sorted(meta.get("checksums", {})) != sorted(arrays):
        raise CorruptCache("its arrays are not the ones its checksums name")
    for name, array in arrays.items():
        if array_checksum(array) != meta["checksums"][name]:
            raise CorruptCache(f"array {name!r} fails its checksum")
    return arrays


def write_atomic(path: Path, key: Mapping[str, Any], arrays: Arrays) -> None:
    meta = {
        "key": canonical_key(key),
        "checksums": {name: array_checksum(a) for name, a in arrays.items()},
    }
    stored = {META: np.array(json.dumps(meta)), **arrays}
    files.write_npz_atomic(path, stored)


def cached_arrays(kind: str, key: Mapping[str, Any], build: Callable[[], Arrays]) -> Arrays:
    """The arrays for ``key``: from the cache when a verified file exists, else from
    ``build()``, then stored. ``key`` must hold every parameter the arrays depend on."""
    path = cache_path(kind, key)
    if path.exists() and not path.is_file():  # a FIFO's read would wait forever
        print(f"dataset cache {path} is not a regular file; not used", file=sys.stderr)
    elif path.exists():
        try:
            return load_verified(path, key)
        except CorruptCache as reason:
            print(f"dataset cache {path} is not usable ({reason}); regenerating", file=sys.stderr)
    arrays = build()
    try:
        write_atomic(path, key, arrays)
    except OSError as error:  # the arrays are right; only later cells lose the shortcut
        print(f"dataset cache {path} could not be written ({error}); not cached", file=sys.stderr)
    return arrays

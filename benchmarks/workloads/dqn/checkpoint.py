"""DQN checkpoints: the online and target weights and a JSON ``meta`` in one ``.npz``
(loop.py says what a resumed run keeps). Framework-free: a backend's agent is loaded
through the protocol (``restore``)."""

from __future__ import annotations

import json
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from shared.files import write_npz_atomic
from shared.params import Params, check_params
from shared.protocol import QAgent
from shared.specs import Network, SpecError


def save_checkpoint(path: Path, online: Params, target: Params, meta: dict[str, Any]) -> None:
    """Online and target weights (canonical layout) and ``meta`` (JSON) in one ``.npz``,
    written to a temporary file and renamed, so a crash never leaves half a checkpoint."""
    arrays = {f"online/{name}": value for name, value in online.items()}
    arrays.update({f"target/{name}": value for name, value in target.items()})
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    write_npz_atomic(path, arrays)


class BadCheckpoint(ValueError):
    """A checkpoint file that cannot be used; the message names the file and the fault."""


ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # how an .npz (an empty one) starts
# What reading a damaged .npz raises: a member that is not an array (AttributeError: np.load
# gives its bytes), a meta nested too deep (RecursionError), an array header claiming more
# memory than there is (MemoryError, raised before anything is allocated).
CHECKPOINT_READ_ERRORS = (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error)
CHECKPOINT_READ_ERRORS += (AttributeError, RecursionError, MemoryError)


def load_checkpoint(
    path: Path, network: Network | None = None
) -> tuple[Params, Params, dict[str, Any]]:
    """``(online, target, meta)`` from ``save_checkpoint``'s file (``target`` may be
    empty: presets without periodic checkpoints keep the online weights alone).

    Raises BadCheckpoint, naming ``path``, for a file that is not one: not an ``.npz``,
    truncated or corrupt, without its ``meta`` (JSON object) or online weights, or, when
    ``network`` is given, with weights whose names or shapes are not the network's."""
    if path.exists() and not path.is_file():  # a FIFO's read would wait forever
        raise BadCheckpoint(f"{path} is not a DQN checkpoint: not a regular file")
    try:
        with open(path, "rb") as handle:
            start = handle.read(4)
        if start not in ZIP_MAGIC:  # else np.load's complaint is about pickles
            raise BadCheckpoint(f"{path} is not a DQN checkpoint: not an .npz (zip) file")
        with np.load(path, allow_pickle=False) as data:
            if "meta" not in data.files:
                raise BadCheckpoint(f"{path} is not a DQN checkpoint: it has no 'meta' array")
            meta = json.loads(data["meta"].tobytes().decode())
            weights = {key: data[key].copy() for key in data.files if key != "meta"}
    except CHECKPOINT_READ_ERRORS as error:
        if isinstance(error, BadCheckpoint):
            raise
        raise BadCheckpoint(
            f"{path} is not a DQN checkpoint: damaged or truncated "
            f"({type(error).__name__}: {error})"
        ) from None
    online = {k.split("/", 1)[1]: v for k, v in weights.items() if k.startswith("online/")}
    target = {k.split("/", 1)[1]: v for k, v in weights.items() if k.startswith("target/")}
    if not isinstance(meta, dict):
        raise BadCheckpoint(f"{path}: its 'meta' is not a JSON object")
    if not online:
        raise BadCheckpoint(f"{path} holds no online weights (arrays: {', '.join(weights)})")
    if network is not None:
        check_checkpoint_params(path, network, online, target)
    return online, target, meta


def check_checkpoint_params(path: Path, network: Network, online: Params, target: Params) -> None:
    """Raise BadCheckpoint unless both networks' weights have ``network``'s names and shapes
    (an empty ``target``, not saved, passes)."""
    for which, params in (("online", online), ("target", target)):
        if which == "target" and not params:
            continue
        try:
            check_params(network, params)  # names, shapes and float dtypes
            for name, value in params.items():
                if not np.isfinite(value).all():  # a network that acts on NaN scores nothing
                    raise SpecError(f"{name} holds NaN or infinite values (diverged training?)")
        except SpecError as error:
            raise BadCheckpoint(
                f"{path}: its {which} weights do not fit the network: {error}"
            ) from None


def restore(agent: QAgent, online: Params, target: Params) -> None:
    """Load both networks through the protocol: the target first, via a sync."""
    agent.set_params(target)
    agent.sync_target()
    agent.set_params(online)

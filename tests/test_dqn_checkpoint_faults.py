"""A damaged or foreign checkpoint: ``evaluate`` exits with status 2 and one line naming
the file and the fault, before playing; a cell resuming from one fails with that
reason instead of a traceback or a run that never happened."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from benchmarks.cell import main as cell_main
from tests.cli_inprocess import (
    DQN_CELL,
    assert_one_error_line,
    checkpoint_arrays,
    cli_main,
    forbid_work,
    write_checkpoint,
)


def truncated(path: Path) -> None:
    write_checkpoint(path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def with_arrays(edit):
    def damage(path: Path) -> None:
        arrays = checkpoint_arrays()
        edit(arrays)
        write_checkpoint(path, arrays)

    return damage


def with_meta(meta):
    return lambda path: write_checkpoint(path, {**checkpoint_arrays(), "meta": meta})


def zip_member(name: str, data: bytes):
    """A checkpoint with one more zip member ``name`` (replacing one of that name)."""

    def damage(path: Path) -> None:
        write_checkpoint(path)
        with zipfile.ZipFile(path) as source:
            members = {n: source.read(n) for n in source.namelist() if n != name}
        with zipfile.ZipFile(path, "w") as target:
            for member, content in {**members, name: data}.items():
                target.writestr(member, content)

    return damage


def npy_header(shape: str) -> bytes:
    """An .npy file's header claiming ``shape`` float32, with no data after it."""
    header = f"{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}".encode()
    header = header.ljust(117) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header


def meta_bytes(value) -> np.ndarray:
    return np.frombuffer(json.dumps(value).encode(), dtype=np.uint8)


FAULTS = {
    "truncated": (truncated, "damaged or truncated"),
    "not a zip": (lambda p: p.write_text("hello\n"), "not an .npz"),
    "empty": (lambda p: p.write_bytes(b""), "not an .npz"),
    "wrong shape": (
        with_arrays(lambda a: a.update({"online/layer6.kernel": np.zeros((256, 7), "f4")})),
        "layer6.kernel has shape (256, 7)",
    ),
    "missing array": (with_arrays(lambda a: a.pop("online/layer0.bias")), "parameter names"),
    "text weights": (
        with_arrays(lambda a: a.update({"online/layer6.bias": np.array(["x"] * 6)})),
        "must be a float NumPy array",
    ),
    "foreign npz": (lambda p: np.savez(p, weights=np.zeros(3)), "no 'meta' array"),
    "meta not JSON": (with_meta(np.frombuffer(b"\xff{", dtype=np.uint8)), "damaged"),
    "meta a list": (with_meta(meta_bytes([1, 2])), "not a JSON object"),
    "no cell": (with_meta(meta_bytes({"agent_steps": 3})), "names no trained cell"),
    "foreign workload": (
        with_meta(meta_bytes({"cell": {**DQN_CELL.to_dict(), "workload": "xor"}})),
        "not a DQN workload",
    ),
    "unknown variant": (
        with_meta(meta_bytes({"cell": {**DQN_CELL.to_dict(), "variant": "pong"}})),
        "variant 'pong'",
    ),
    "NaN weights": (  # it played, acting on NaN, and reported a score
        with_arrays(lambda a: a.update({"online/layer6.bias": np.full(6, np.nan, "f4")})),
        "layer6.bias holds NaN or infinite values",
    ),
    "meta nested too deep": (
        with_meta(np.frombuffer(b"[" * 100_000 + b"]" * 100_000, dtype=np.uint8)),
        "RecursionError",
    ),
    "meta not an array": (zip_member("meta.npy", b"not an array"), "damaged"),
    "header claims terabytes": (
        zip_member("online/layer9.kernel.npy", npy_header("(1000000, 1000000, 100)")),
        "MemoryError",
    ),
    "a folder": (lambda p: p.mkdir(), "is not a file"),
}


@pytest.mark.parametrize("fault", FAULTS)
def test_evaluate_names_the_checkpoint_and_its_fault(fault, tmp_path, monkeypatch, capsys):
    damage, phrase = FAULTS[fault]
    path = tmp_path / "agent.ckpt.npz"
    damage(path)
    forbid_work(monkeypatch)
    code, stderr = cli_main(capsys, "evaluate", path, "--episodes", "1")
    assert code == 2
    assert_one_error_line(stderr, str(path), phrase)


@pytest.mark.parametrize("fault", ["truncated", "wrong shape", "foreign workload"])
def test_a_cell_resuming_from_a_bad_checkpoint_fails_with_the_reason(fault, tmp_path, capsys):
    record_path = tmp_path / DQN_CELL.file_name
    checkpoint = tmp_path / DQN_CELL.file_name.replace(".json", ".ckpt.npz")
    FAULTS[fault][0](checkpoint)
    args = ("--cell", json.dumps(DQN_CELL.to_dict()), "--out", record_path, "--threads", 1)
    code = cell_main([*map(str, args), "--backend-module", "backends.numpy.model"])
    assert code == 1
    record = json.loads(record_path.read_text())
    assert record["status"] == "failed"
    assert record["reason"].startswith(f"BadCheckpoint: {checkpoint}")
    assert record["reason"].endswith("delete it to run the cell from its start")
    assert "Traceback" in capsys.readouterr().err  # the log keeps the whole story


def test_a_checkpoint_that_is_a_fifo_is_refused_not_waited_on(tmp_path):
    """A resuming cell opened it and waited for a writer until its timeout."""
    import os
    import threading

    from benchmarks.workloads.dqn.loop import BadCheckpoint, load_checkpoint

    fifo = tmp_path / "agent.ckpt.npz"
    os.mkfifo(fifo)
    raised: list[BaseException] = []

    def load() -> None:
        try:
            load_checkpoint(fifo)
        except BadCheckpoint as error:
            raised.append(error)

    reader = threading.Thread(target=load, daemon=True)
    reader.start()
    reader.join(timeout=30)
    assert not reader.is_alive(), "load_checkpoint waited on a FIFO"
    assert "not a regular file" in str(raised[0])

"""A repeat of a cell is one whole process: a checkpoint left in ``repeats/`` by a repeat
that was cut short (kill -9 of the runner) is removed before the repeat runs again, or
the repeat would resume from it and time only the rest of the cell as a whole process."""

from __future__ import annotations

from types import SimpleNamespace

from benchmarks import runner
from benchmarks.records import Cell, new_record
from benchmarks.runner import RunOptions


def test_a_repeat_never_resumes_from_a_checkpoint_left_by_one_cut_short(tmp_path, monkeypatch):
    cell = Cell("dqn", "space-invaders", "numpy", "eager", "float32", 0, "smoke")
    left = tmp_path / "repeats" / f"{cell.file_name[:-5]}__repeat1.ckpt.npz"
    left.parent.mkdir()
    left.write_bytes(b"a checkpoint at step 200 of 300")
    seen = []

    def process(cell, options, on_tick, record_path):
        seen.append(left.exists())
        left.write_bytes(b"the repeat's own checkpoint")  # as the cell leaves one
        epochs = [{"epoch": i, "loss": 1.0, "seconds": 0.1} for i in (1, 2, 3)]
        return new_record(
            cell, "ok", epochs=epochs, timing={"import_s": 1.0}, metrics={}, process_wall_s=5.0
        )

    monkeypatch.setattr(runner, "run_cell_isolated", process)
    epochs = [{"epoch": i, "loss": 1.0, "seconds": 0.1} for i in (1, 2, 3)]
    first = new_record(
        cell, "ok", epochs=epochs, timing={"import_s": 1.0}, metrics={}, process_wall_s=5.0
    )
    progress = SimpleNamespace(started=lambda cell, repeat: None)
    record, _, _ = runner._repeat_process(cell, first, 1, RunOptions(tmp_path), progress)
    assert seen == [False]
    assert len(record["repeats"]) == 1
    assert not (tmp_path / "repeats").exists()  # its checkpoint went with its record

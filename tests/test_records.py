"""One record type and one reader: a block in memory, a capture folder and ``distributed.gather``
give the same ``Record`` fields in the same order, and select / by_path / stack behave (and fail)
alike in memory and on disk."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import anycapture
from anycapture import Record, StoredRecord, capture, distributed, open_captures

np = pytest.importorskip("numpy")
pytest.importorskip("safetensors")

MEMORY = ("key", "name", "value", "function", "path", "call", "thread", "order", "line", "site", "assignment")


def scores(x: Any) -> Any:
    attn = x * 2
    other = x + 1
    return attn + other


def run(sink: Path | None = None) -> anycapture.Capture:
    with capture(scores, "attn", "other", sink=sink) as cap:
        for i in range(3):
            scores(np.full((2, 3), float(i), dtype=np.float32))
    return cap


def test_a_record_in_memory_keeps_its_first_fields_in_order(backend: str) -> None:
    """A block's record unpacks as before (key, name, value, ... first); the fields of disk and ranks follow, None."""
    (record, *_) = run().select(name="attn")
    key, name, value, *rest = record
    assert (key, name) == ("scores.attn", "attn")
    np.testing.assert_array_equal(value, np.zeros((2, 3)))
    assert Record._fields[: len(MEMORY)] == MEMORY
    assert Record._fields[len(MEMORY) :] == ("rank", "block", "number", "shape", "dtype", "shard", "tensor")
    assert all(getattr(record, field) is None for field in Record._fields[len(MEMORY) :])


def test_a_folders_records_are_records_without_their_value(tmp_path: Path, backend: str) -> None:
    """A capture folder gives StoredRecords: Records (same fields, same order) whose value is None until loaded."""
    run(tmp_path / "c")
    folder = open_captures(tmp_path / "c")
    stored = folder.select(name="attn")
    memory = run().select(name="attn")
    assert [type(record) for record in stored] == [StoredRecord] * 3
    assert all(isinstance(record, Record) and record.value is None for record in stored)
    assert StoredRecord._fields == Record._fields
    same = ("key", "name", "function", "path", "call", "order")
    assert [tuple(getattr(r, f) for f in same) for r in stored] == [tuple(getattr(r, f) for f in same) for r in memory]
    assert [(r.number, r.shape, r.dtype) for r in stored] == [
        (0, (2, 3), "float32"),
        (2, (2, 3), "float32"),
        (4, (2, 3), "float32"),
    ]
    np.testing.assert_array_equal(folder.load(stored[1]), memory[1].value)


def test_gather_gives_records_with_their_rank(monkeypatch: pytest.MonkeyPatch, backend: str) -> None:
    """gather() in one process gives RankedRecords: the block's records, every field in place, the rank set."""
    monkeypatch.setenv("RANK", "3")
    cap = run()
    ranked = distributed.gather(cap)
    assert ranked is not None
    assert [type(record) for record in ranked] == [distributed.RankedRecord] * 6
    assert [record._replace(rank=None)[:11] for record in ranked] == [record[:11] for record in cap.records]
    assert {record.rank for record in ranked} == {3}


def test_gather_refuses_a_folders_records(tmp_path: Path, backend: str) -> None:
    """A folder's records hold no values: gather() refuses them, as it refuses a block with sink=."""
    run(tmp_path / "c")
    with pytest.raises(TypeError, match="got 'StoredRecord'"):
        distributed.gather(open_captures(tmp_path / "c").records)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda reader: reader.select(name="nope"), KeyError, "nothing was captured as 'nope'"),
        (lambda reader: reader.select("attn"), ValueError, "is a captured variable, and no module path matches it"),
        (lambda reader: reader.stack(), ValueError, "stack\\(\\) needs name= when several variables were captured"),
        (lambda reader: reader.by_path("attn"), ValueError, "the records selected have no module path"),
    ],
)
def test_memory_and_folder_readers_fail_alike(tmp_path: Path, backend: str, call: Any, error: type, match: str) -> None:
    """The same mistake raises the same error from a block in memory, a block with sink= and an opened folder."""
    for reader in (run(), run(tmp_path / "a"), open_captures(tmp_path / "a")):
        with pytest.raises(error, match=match):
            call(reader)


def test_memory_and_folder_readers_stack_alike(tmp_path: Path, backend: str) -> None:
    """stack() gives the same array from a block in memory, a block with sink= and an opened folder."""
    readers = (run(), run(tmp_path / "a"), open_captures(tmp_path / "a"))
    stacked = [reader.stack("attn") for reader in readers]
    for array in stacked:
        assert array.shape == (3, 2, 3)
        np.testing.assert_array_equal(array, stacked[0])

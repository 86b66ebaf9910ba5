"""Captures on disk: the background Writer, its failure rules, and the lazy reader of its folders."""

from __future__ import annotations

import errno
import json
import os
import pickle
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from anycapture import CaptureError, CaptureWarning
from anycapture import _disk as disk
from anycapture._disk import CaptureFileError, CaptureWriteError, StoredRecord, Writer, open_captures
from anycapture._disk import _writer_thread as writing  # where the writer thread looks up what tests replace

np = pytest.importorskip("numpy")
safetensors = pytest.importorskip("safetensors")

KEY = "Attention.forward.attn"
SRC = str(Path(__file__).resolve().parents[1] / "src")
FORKED = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
# Forking a process that runs threads (pytest's, the writer's) is what the fork tests do on purpose.
QUIET_FORK = pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")


@pytest.fixture(autouse=True)
def single_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Writers here write into the folder given, even if the tests themselves run under torchrun."""
    for name in ("RANK", "WORLD_SIZE", "TORCHELASTIC_RUN_ID"):
        monkeypatch.delenv(name, raising=False)


def meta(
    order: int, key: str = "Attention.forward.attn", path: str | None = "blocks.0.attn", **extra: Any
) -> dict[str, Any]:
    """The metadata capture() gives each record."""
    return {
        "key": key,
        "name": key.rsplit(".", 1)[-1],
        "function": "model:" + key.rsplit(".", 1)[0],
        "path": path,
        "call": order // 12,
        "thread": 7,
        "order": order,
        **extra,
    }


def shard_files(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.glob("shard-*.safetensors"))


def index_of(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "index.json").read_text())


def write_index(folder: Path, index: dict[str, Any]) -> None:
    (folder / "index.json").write_text(json.dumps(index))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "captures"


@pytest.fixture
def small_capture(folder: Path) -> Path:
    """A closed capture of 24 float32 maps over two shards."""
    with Writer(folder, shard_bytes=12 * 64) as writer:
        for i in range(24):
            writer.write(meta(i, path=f"blocks.{i % 12}.attn"), np.full((4, 4), i, dtype=np.float32))
    return folder


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[threading.Event, threading.Event]]:
    """Hold every shard write until ``release`` is set; ``entered`` is set when one is waiting."""
    entered, release = threading.Event(), threading.Event()
    real = writing._write_shard

    def held(*args: Any) -> None:
        entered.set()
        release.wait()
        real(*args)

    monkeypatch.setattr(writing, "_write_shard", held)
    yield entered, release
    release.set()


def wait_for(condition: Any, what: str) -> None:
    """Poll until ``condition()`` holds (a deadlock guard, not a timing assertion)."""
    deadline = time.monotonic() + 30
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.005)


# -- round trip ----------------------------------------------------------------------------------


def test_round_trip_keeps_every_value_dtype_and_field(folder: Path) -> None:
    """Arrays of several dtypes, a 0-d array, numpy and Python scalars come back as written, with their metadata."""
    values: list[Any] = [
        np.arange(12, dtype=np.float32).reshape(3, 4),
        np.arange(6, dtype=np.float64).reshape(2, 3)[:, ::2],  # not contiguous
        np.array([1, -2, 3], dtype=np.int64),
        np.array([True, False]),
        np.arange(5, dtype=np.uint8),
        np.ones((2, 2), dtype=np.float16),
        np.array(3.5, dtype=np.float32),
        np.float32(2.5),
        7,
        0.25,
        True,
        None,
        "a label",
    ]
    with Writer(folder) as writer:
        for i, value in enumerate(values):
            writer.write(meta(i, path=f"blocks.{i}.attn", line=10 + i, site=i % 2, assignment=None, note="kept"), value)
    assert writer.written == len(values)
    captures = open_captures(folder)
    assert captures.complete
    assert list(captures) == ["Attention.forward.attn"]
    got = captures["Attention.forward.attn"]
    for value, back in zip(values, got, strict=True):
        if isinstance(value, np.ndarray | np.generic):
            assert isinstance(back, np.ndarray)
            assert back.dtype == np.asarray(value).dtype
            np.testing.assert_array_equal(back, value)
        else:
            assert back == value
            assert type(back) is type(value)
    records = captures.records
    assert [record.number for record in records] == list(range(len(values)))
    first = records[0]
    assert first == StoredRecord(
        number=0,
        key="Attention.forward.attn",
        name="attn",
        value=None,  # read by captures.load(first)
        function="model:Attention.forward",
        path="blocks.0.attn",
        call=0,
        thread=7,
        order=0,
        line=10,
        site=0,
        assignment=None,
        shape=(3, 4),
        dtype="float32",
        shard="shard-00000.safetensors",
        tensor="0",
    )
    assert records[6].shape == ()
    assert records[8].shape is None
    assert records[8].dtype is None
    assert records[8].tensor is None


def test_torch_tensors_keep_their_dtype_including_bfloat16(folder: Path) -> None:
    """Tensors (bfloat16 too) are stored in their dtype; values='tensor' gives them back exactly."""
    torch = pytest.importorskip("torch")
    source = torch.randn(2, 3, 5, 5, requires_grad=True)
    tensors = [source * 2, source.to(torch.bfloat16), torch.arange(6, dtype=torch.int32).reshape(2, 3).t()]
    with Writer(folder) as writer:
        for i, tensor in enumerate(tensors):
            writer.write(meta(i), tensor)
        writer.write(meta(3, key="f.other"), np.arange(3.0))  # numpy and torch in one shard
    stored = open_captures(folder, values="tensor")
    back = stored["Attention.forward.attn"]
    assert [t.dtype for t in back] == [torch.float32, torch.bfloat16, torch.int32]
    for tensor, got in zip(tensors, back, strict=True):
        assert torch.equal(got, tensor.detach())
    assert [record.dtype for record in stored.records] == ["float32", "bfloat16", "int32", "float64"]
    as_numpy = open_captures(folder)["Attention.forward.attn"]
    assert as_numpy[1].dtype == np.float32  # numpy has no bfloat16: upcast, as capture(values="numpy") does
    np.testing.assert_array_equal(as_numpy[1], tensors[1].float().detach().numpy())
    np.testing.assert_array_equal(open_captures(folder)["f.other"][0], np.arange(3.0))


def test_tensors_sharing_memory_are_written_apart(folder: Path) -> None:
    """One tensor written twice, views of one buffer (q, k, v of a qkv split) and empty tensors all round-trip."""
    torch = pytest.importorskip("torch")
    qkv = torch.arange(24.0).reshape(3, 2, 4)
    q, k, v = qkv.unbind(0)
    values = [qkv, qkv, q, k, v, qkv[0].t(), torch.empty(0), torch.empty(0, 3), torch.tensor(5)]
    with Writer(folder) as writer:
        for i, value in enumerate(values):
            writer.write(meta(i), value)
    back = open_captures(folder, values="tensor")[KEY]
    assert [tuple(t.shape) for t in back] == [tuple(t.shape) for t in values]
    for value, got in zip(values, back, strict=True):
        assert torch.equal(got, value)


def test_bfloat16_reads_as_float32_without_torch(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where torch is not installed, a bfloat16 map is still read (as float32) from its bytes."""
    torch = pytest.importorskip("torch")
    value = torch.randn(3, 4).to(torch.bfloat16)
    with Writer(folder) as writer:
        writer.write(meta(0), value)
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now fails
    (got,) = open_captures(folder)["Attention.forward.attn"]
    np.testing.assert_array_equal(got, value.float().numpy())


def test_select_stack_and_by_path_follow_capture(small_capture: Path) -> None:
    """select() globs module paths like Capture.select; stack() and by_path() read only what is selected."""
    captures = open_captures(small_capture)
    chosen = captures.select("blocks.1*.attn", "attn")
    assert [record.path for record in chosen] == ["blocks.1.attn", "blocks.10.attn", "blocks.11.attn"] * 2
    with pytest.raises(KeyError, match="nothing was captured as 'nothing'"):
        captures.select("*", "nothing")  # a name never captured: an error, as Capture.select gives
    with pytest.raises(ValueError, match=r"use select\(name='attn'\)"):
        captures.select("attn")  # the pattern comes first
    assert captures.select("head.*", "attn") == []  # no layer matches: nothing, rightly
    stacked = captures.stack("attn", "blocks.1*.attn")
    assert stacked.shape == (6, 4, 4)
    assert [int(value[0, 0]) for value in stacked] == [1, 10, 11, 13, 22, 23]
    by_path = captures.by_path("attn", "blocks.2.*")
    assert list(by_path) == ["blocks.2.attn"]
    assert [int(value[0, 0]) for value in by_path["blocks.2.attn"]] == [2, 14]
    with pytest.raises(KeyError, match="no values stored"):
        captures.stack("attn", "head.*")


def test_stack_refuses_mixed_shapes_before_reading(folder: Path) -> None:
    """stack() of different shapes names each record's layer and shape (from the headers)."""
    with Writer(folder) as writer:
        writer.write(meta(0, path="blocks.0.attn"), np.zeros((2, 2)))
        writer.write(meta(1, path="blocks.1.attn"), np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"blocks\.0\.attn call 0: \(2, 2\); blocks\.1\.attn call 0: \(3, 3\)"):
        open_captures(folder).stack("attn")


def test_values_are_read_only_when_asked(small_capture: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Opening, listing and selecting read headers only; a key or a record reads just its own tensors."""
    reads: list[str] = []
    real_open = safetensors.safe_open

    class Counting:
        def __init__(self, path: str, framework: str) -> None:
            self.file = real_open(path, framework=framework)

        def __enter__(self) -> Counting:
            self.file.__enter__()
            return self

        def __exit__(self, *exc: object) -> None:
            self.file.__exit__(*exc)

        def __getattr__(self, name: str) -> Any:
            return getattr(self.file, name)

        def get_tensor(self, name: str) -> Any:
            reads.append(name)
            return self.file.get_tensor(name)

    monkeypatch.setattr(safetensors, "safe_open", Counting)
    captures = open_captures(small_capture)
    records = captures.select("blocks.3.attn")
    assert [record.shape for record in captures.records] == [(4, 4)] * 24
    assert reads == []
    value = captures.load(records[1])
    assert int(value[0, 0]) == 15
    assert reads == [records[1].tensor]
    captures.stack("attn", "blocks.3.attn")
    assert reads == [records[1].tensor, records[0].tensor, records[1].tensor]


# -- the writer ----------------------------------------------------------------------------------


def test_back_pressure_blocks_the_producer_and_drops_nothing(folder: Path, gate: Any) -> None:
    """With the disk held up, write() blocks once the queue is full; every record is written after."""
    entered, release = gate
    done = []
    total = 40
    writer = Writer(folder, shard_bytes=1, queue_size=3)  # one record a shard: the first write holds the thread

    def produce() -> None:
        for i in range(total):
            writer.write(meta(i), np.full(2, i, dtype=np.int64))
            done.append(i)

    producer = threading.Thread(target=produce)
    producer.start()
    entered.wait()
    # One record is being written, three wait in the queue, and the fifth write() cannot return.
    wait_for(lambda: writer._queue.full() and len(done) == 4, "the queue to fill")
    time.sleep(0.05)
    assert len(done) == 4
    assert producer.is_alive()
    release.set()
    producer.join()
    writer.close()
    captures = open_captures(folder)
    assert len(captures.records) == total == writer.written
    assert [int(value[0]) for value in captures["Attention.forward.attn"]] == list(range(total))


def test_small_shard_bytes_make_many_shards(folder: Path) -> None:
    """Shards are cut at shard_bytes; the index lists each with its record count and size."""
    with Writer(folder, shard_bytes=1000) as writer:
        for i in range(50):
            writer.write(meta(i), np.zeros(50, dtype=np.float32))  # 200 bytes: five records a shard
    index = index_of(folder)
    assert index["records"] == 50
    assert index["complete"] is True
    assert (
        [shard["file"] for shard in index["shards"]]
        == shard_files(folder)
        == [f"shard-{i:05d}.safetensors" for i in range(10)]
    )
    assert [shard["records"] for shard in index["shards"]] == [5] * 10
    assert all(shard["bytes"] == (folder / shard["file"]).stat().st_size for shard in index["shards"])
    assert len(open_captures(folder)["Attention.forward.attn"]) == 50


def test_many_scalars_are_cut_into_shards_by_count(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Scalars add no tensor bytes, so a shard is also cut at a record count (its header stays small)."""
    monkeypatch.setattr(writing, "_SHARD_RECORDS", 10)
    with Writer(folder) as writer:
        for i in range(35):
            writer.write(meta(i), i)
    assert [shard["records"] for shard in index_of(folder)["shards"]] == [10, 10, 10, 5]
    assert open_captures(folder)[KEY] == list(range(35))


def test_big_endian_arrays_round_trip(folder: Path) -> None:
    """Arrays in big-endian byte order are stored little-endian, with the same values, beside torch tensors too."""
    torch = pytest.importorskip("torch")
    value = np.arange(6, dtype=">f4").reshape(2, 3)
    with Writer(folder) as writer:
        writer.write(meta(0), value)
        writer.write(meta(1), torch.ones(2))
    got = open_captures(folder)[KEY][0]
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, value)


def test_flush_then_more_writes_then_close(folder: Path) -> None:
    """After flush() the folder is readable (not complete); close() adds the rest and marks it complete."""
    writer = Writer(folder)
    for i in range(5):
        writer.write(meta(i), np.full(3, i))
    writer.flush()
    middle = open_captures(folder)
    assert not middle.complete
    assert len(middle.records) == 5
    assert "not closed" in repr(middle)
    for i in range(5, 8):
        writer.write(meta(i), np.full(3, i))
    writer.close()
    writer.close()  # idempotent
    final = open_captures(folder)
    assert final.complete
    assert [int(value[0]) for value in final["Attention.forward.attn"]] == list(range(8))
    with pytest.raises(CaptureError, match="is closed"):
        writer.write(meta(9), np.zeros(1))


def test_new_writer_leaves_an_empty_readable_capture(folder: Path) -> None:
    """A writer's folder is a capture from the start: an index with no records."""
    writer = Writer(folder)
    captures = open_captures(folder)
    assert len(captures) == 0
    assert captures.records == []
    assert not captures.complete
    writer.close()
    assert open_captures(folder).complete


CRASH = """
import os, sys
import numpy as np
from anycapture._disk import Writer
writer = Writer(sys.argv[1], shard_bytes=400)
for i in range(30):
    writer.write({"key": "f.x", "name": "x", "function": "m:f", "path": None, "call": i, "thread": 1,
                  "order": i}, np.full(25, i, dtype=np.float32))
writer.flush()
for i in range(30, 300):
    writer.write({"key": "f.x", "name": "x", "function": "m:f", "path": None, "call": i, "thread": 1,
                  "order": i}, np.full(25, i, dtype=np.float32))
if sys.argv[2] == "crash":
    os._exit(3)
"""


@pytest.mark.parametrize("ending", ["crash", "exit"])
def test_a_dead_job_leaves_complete_readable_shards(folder: Path, ending: str) -> None:
    """Killed without close(): every listed shard is complete; a normal exit closes the writer (atexit)."""
    result = subprocess.run(
        [sys.executable, "-c", CRASH, str(folder), ending],
        env={**os.environ, "PYTHONPATH": SRC},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == (3 if ending == "crash" else 0), result.stderr
    captures = open_captures(folder)
    values = captures["f.x"]
    assert [int(value[0]) for value in values] == list(range(len(values)))
    if ending == "crash":
        assert not captures.complete
        assert 30 <= len(values) <= 300
    else:
        assert captures.complete
        assert len(values) == 300


def test_several_threads_write_at_once(folder: Path) -> None:
    """Records from several producer threads are all kept, each thread's in its own order."""
    threads, each = 4, 150

    def produce(t: int) -> None:
        for i in range(each):
            writer.write(meta(i, key=f"f.t{t}", thread=t), np.full(4, i, dtype=np.int32))

    with Writer(folder, shard_bytes=2000, queue_size=8) as writer:
        workers = [threading.Thread(target=produce, args=(t,)) for t in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    captures = open_captures(folder)
    assert len(captures.records) == threads * each
    assert sorted(record.number for record in captures.records) == list(range(threads * each))
    for t in range(threads):
        assert [int(value[0]) for value in captures[f"f.t{t}"]] == list(range(each))


def test_values_that_cannot_be_stored_are_skipped_with_one_warning(folder: Path) -> None:
    """Objects, complex arrays and long strings are skipped (never pickled), warned once per key and type."""
    with pytest.warns(CaptureWarning) as caught:
        with Writer(folder) as writer:
            for i in range(3):
                writer.write(meta(i, key="f.obj"), object())
            writer.write(meta(3, key="f.cplx"), np.ones(2, dtype=np.complex64))
            writer.write(meta(4, key="f.text"), "x" * 10_000)
            writer.write(meta(5), np.ones(2))
    warned = [w for w in caught if issubclass(w.category, CaptureWarning)]
    messages = sorted(str(w.message) for w in warned)
    assert len(messages) == 3
    assert "'f.cplx' is a numpy.ndarray of dtype complex64" in messages[0]
    assert "'f.obj' is a builtins.object" in messages[1]
    assert "skipped" in messages[1]
    assert "'f.text' is a builtins.str" in messages[2]
    # Told from their type and dtype in the writing thread: the warning points at the code that wrote them.
    assert {w.filename for w in warned} == {__file__}
    assert writer.skipped == 5
    assert writer.written == 1
    assert index_of(folder)["skipped"] == 5
    assert list(open_captures(folder)) == ["Attention.forward.attn"]


def test_writer_arguments_are_checked(folder: Path) -> None:
    """shard_bytes and queue_size must be positive ints (an unbounded queue could not push back)."""
    with pytest.raises(ValueError, match="shard_bytes must be a positive int; got 0"):
        Writer(folder, shard_bytes=0)
    with pytest.raises(ValueError, match="queue_size must be a positive int"):
        Writer(folder, queue_size=0)


# -- failures while writing ------------------------------------------------------------------------


def no_space(*args: Any) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_failing_disk_never_raises_in_write(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the disk full, write() returns, one CaptureWarning tells, close() raises with the count lost."""
    monkeypatch.setattr(writing, "_write_shard", no_space)
    writer = Writer(folder, shard_bytes=1, queue_size=2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for i in range(20):
            writer.write(meta(i), np.zeros(8))
        with pytest.raises(CaptureWriteError) as raised:
            writer.close()
    failures = [w for w in caught if issubclass(w.category, CaptureWarning)]
    assert len(failures) == 1
    assert "No space left on device" in str(failures[0].message)
    assert "shard-00000.safetensors" in str(failures[0].message)
    assert raised.value.lost == 20 == writer.lost
    assert str(raised.value).startswith(f"20 record(s) could not be written to {str(folder)!r} (OSError:")
    assert "No space left on device" in str(raised.value)
    assert isinstance(raised.value.__cause__, OSError)
    writer.close()  # reported once
    captures = open_captures(folder)  # the index from before the failure is intact
    assert captures.records == []
    assert [path.name for path in folder.iterdir()] == ["index.json"]  # no half-written shard


def test_records_before_a_failure_stay_readable(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Shards written before the disk filled are listed and readable; flush() raises with the exact count."""
    real = writing._write_shard
    calls = []

    def third_fails(*args: Any) -> None:
        calls.append(1)
        if len(calls) >= 3:
            no_space()
        real(*args)

    monkeypatch.setattr(writing, "_write_shard", third_fails)
    writer = Writer(folder, shard_bytes=1)
    for i in range(10):
        writer.write(meta(i), np.full(2, i))
    with pytest.raises(CaptureWriteError, match="8 record") as raised:
        writer.flush()
    assert raised.value.lost == 8
    # A write after the failure is told, once, in the writing thread at the caller's line.
    with pytest.warns(CaptureWarning, match="could not write captures.*Free space") as warned:
        writer.write(meta(10), np.full(2, 10))
        writer.write(meta(11), np.full(2, 11))
    assert len(warned) == 1
    assert warned[0].filename == __file__
    with pytest.raises(CaptureWriteError, match="10 record"):
        writer.close()
    assert [int(value[0]) for value in open_captures(folder)["Attention.forward.attn"]] == [0, 1]


# -- refusing folders ------------------------------------------------------------------------------


def test_writer_refuses_a_folder_with_other_files(folder: Path) -> None:
    """A non-empty folder is refused, naming what it holds; nothing in it is touched."""
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(CaptureFileError, match=r"is not empty \(it holds 'notes.txt'\)"):
        Writer(folder)
    assert [path.name for path in folder.iterdir()] == ["notes.txt"]


def test_writer_refuses_an_existing_capture(small_capture: Path) -> None:
    """A folder that holds a capture is never overwritten."""
    before = index_of(small_capture)
    with pytest.raises(CaptureFileError, match=r"already holds a capture \(index.json\)"):
        Writer(small_capture)
    assert index_of(small_capture) == before


def test_writer_takes_new_or_empty_folders_only(tmp_path: Path) -> None:
    """A missing folder is created (with its parents), an empty one is used, a file is refused."""
    Writer(tmp_path / "a" / "b").close()
    (tmp_path / "empty").mkdir()
    Writer(tmp_path / "empty").close()
    assert open_captures(tmp_path / "a" / "b").complete
    assert open_captures(tmp_path / "empty").complete
    (tmp_path / "file").write_text("")
    with pytest.raises(CaptureFileError, match="exists and is not a folder"):
        Writer(tmp_path / "file")


# -- refusing bad files ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not valid JSON"),
        ('{"format": "zarr", "version": 1}', "is not an anycapture index \\(format 'zarr'"),
        ("[1, 2]", "is not an anycapture index \\(format 'list'"),
        ('{"format": "anycapture.captures", "version": 99, "shards": [], "records": 0}', "format version 99"),
        ('{"format": "anycapture.captures", "version": 1}', "lacks its shard list"),
        (
            '{"format": "anycapture.captures", "version": 1, "records": 0, "shards": [{"file": "../x.safetensors"}]}',
            "lists a shard named '../x.safetensors'",
        ),
    ],
)
def test_malformed_index_names_the_file(small_capture: Path, content: str, message: str) -> None:
    """A malformed, foreign or newer index raises CaptureFileError naming index.json."""
    (small_capture / "index.json").write_text(content)
    with pytest.raises(CaptureFileError, match=message) as raised:
        open_captures(small_capture)
    assert repr(str(small_capture / "index.json")) in str(raised.value)


def test_missing_index_or_folder(tmp_path: Path) -> None:
    """A folder without an index, or no folder, is not a capture."""
    (tmp_path / "x.npy").write_text("")
    with pytest.raises(CaptureFileError, match=r"index.json' does not exist: .* \(it holds \['x.npy'\]\)"):
        open_captures(tmp_path)
    with pytest.raises(CaptureFileError, match="nowhere' does not exist"):
        open_captures(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CaptureFileError, match=r"empty' is empty: nothing was captured there yet"):
        open_captures(tmp_path / "empty")
    with pytest.raises(CaptureFileError, match=r"x\.npy' is not a folder"):
        open_captures(tmp_path / "x.npy")
    with pytest.raises(ValueError, match="values='raw' is not a value mode for reading"):
        open_captures(tmp_path, values="raw")  # type: ignore[arg-type]


def test_missing_shard_names_it(small_capture: Path) -> None:
    """A shard the index lists but the folder lacks is named."""
    (small_capture / "shard-00001.safetensors").unlink()
    with pytest.raises(CaptureFileError, match=r"shard-00001.safetensors' is listed in .* but does not exist"):
        open_captures(small_capture)


def test_truncated_shard_names_it(small_capture: Path) -> None:
    """A truncated shard is caught by its size in the index, and by safetensors where the index agrees."""
    shard = small_capture / "shard-00000.safetensors"
    data = shard.read_bytes()
    shard.write_bytes(data[:-10])
    with pytest.raises(CaptureFileError, match=r"shard-00000.safetensors' holds \d+ bytes but .* truncated"):
        open_captures(small_capture)
    index = index_of(small_capture)
    index["shards"][0]["bytes"] = len(data) - 10
    write_index(small_capture, index)
    with pytest.raises(CaptureFileError, match=r"shard-00000.safetensors' is not a readable safetensors file"):
        open_captures(small_capture)


class Exploit:
    """A pickle that, if ever unpickled, creates a marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.marker,))


@pytest.mark.parametrize("kind", ["pickle", "random"])
def test_foreign_shard_is_refused_and_never_executed(small_capture: Path, tmp_path: Path, kind: str) -> None:
    """A pickle or random bytes renamed to a shard is refused by name; nothing in it runs."""
    marker = tmp_path / "executed"
    content = pickle.dumps(Exploit(marker)) if kind == "pickle" else os.urandom(4096)
    shard = small_capture / "shard-00000.safetensors"
    shard.write_bytes(content)
    index = index_of(small_capture)
    index["shards"][0]["bytes"] = len(content)
    write_index(small_capture, index)
    with pytest.raises(CaptureFileError, match=r"shard-00000.safetensors' is not a readable safetensors file"):
        open_captures(small_capture)
    assert not marker.exists()


def test_foreign_safetensors_file_is_refused(small_capture: Path) -> None:
    """A safetensors file without anycapture's records (a model checkpoint, say) is named as foreign."""
    from safetensors.numpy import save_file

    shard = small_capture / "shard-00001.safetensors"
    save_file({"weight": np.zeros(3)}, str(shard))
    index = index_of(small_capture)
    index["shards"][1]["bytes"] = shard.stat().st_size
    write_index(small_capture, index)
    with pytest.raises(CaptureFileError, match=r"shard-00001.safetensors' .* holds no anycapture records"):
        open_captures(small_capture)


@pytest.mark.parametrize(
    ("tensors", "records", "message"),
    [
        ({"0": [1.0]}, [{"n": 0, "tensor": "5", "meta": {"key": "k"}}], "record 0 names tensor '5', which the file"),
        ({"0": [1.0], "1": [2.0]}, [{"n": 0, "tensor": "0", "meta": {"key": "k"}}], "tensors no record describes"),
        ({}, [{"n": 0, "meta": {}}], "malformed record"),
        ({}, "[not json", "malformed record metadata"),
    ],
)
def test_metadata_that_does_not_match_the_tensors(folder: Path, tensors: Any, records: Any, message: str) -> None:
    """Records naming missing tensors, tensors no record names, or broken record JSON are refused by file."""
    from safetensors.numpy import save_file

    folder.mkdir()
    shard = folder / "shard-00000.safetensors"
    text = records if isinstance(records, str) else json.dumps({"format": disk.FORMAT, "records": records})
    save_file({name: np.array(value) for name, value in tensors.items()}, str(shard), metadata={"anycapture": text})
    count = 0 if isinstance(records, str) else len(records)
    write_index(
        folder,
        {"format": disk.FORMAT, "version": 1, "records": count, "shards": [{"file": shard.name, "records": count}]},
    )
    with pytest.raises(CaptureFileError, match=message) as raised:
        open_captures(folder)
    assert "shard-00000.safetensors" in str(raised.value)


def test_record_count_must_match_the_index(small_capture: Path) -> None:
    """An index that counts more records than its shards hold is refused."""
    index = index_of(small_capture)
    index["records"] = 25
    write_index(small_capture, index)
    with pytest.raises(CaptureFileError, match="says 25 record"):
        open_captures(small_capture)


def test_import_pulls_in_no_heavy_module() -> None:
    """Importing the disk module imports neither numpy, safetensors nor torch."""
    code = textwrap.dedent(
        """
        import sys
        import anycapture._disk
        print(sorted({"numpy", "safetensors", "torch"} & set(sys.modules)))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": SRC}, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


# -- many processes --------------------------------------------------------------------------------


def test_ranks_write_their_own_folders_read_as_one(folder: Path) -> None:
    """Writers of ranks 0 and 1 share a folder, never a file; open_captures reads both, records tagged by rank."""
    with Writer(folder, rank=1, shard_bytes=16) as second, Writer(folder, rank=0) as first:
        for i in range(3):
            first.write(meta(i), np.full(4, i, dtype=np.float32))
            second.write(meta(i), np.full(4, 10 + i, dtype=np.float32))
        first.write(meta(3, key="f.note"), "rank 0")
        second.write(meta(3, key="f.note"), "rank 1")
    assert (first.folder, first.rank, second.folder) == (folder / "rank-0", 0, folder / "rank-1")
    assert sorted(path.name for path in folder.iterdir()) == ["rank-0", "rank-1"]
    captures = open_captures(folder)
    assert (captures.ranks, captures.complete) == ([0, 1], True)
    assert [(r.rank, r.number) for r in captures.records] == [(rank, n) for rank in (0, 1) for n in range(4)]
    assert [int(value[0]) for value in captures[KEY]] == [0, 1, 2, 10, 11, 12]
    assert captures["f.note"] == ["rank 0", "rank 1"]  # the same record number in both ranks, each its own value
    assert captures.stack("attn", rank=1)[:, 0].tolist() == [10, 11, 12]
    assert [r.shard for r in captures.select(name="attn", rank=1)] == [
        f"rank-1/shard-0000{i}.safetensors" for i in range(3)
    ]
    assert list(captures.by_path("attn", rank=0)) == ["blocks.0.attn"]
    alone = open_captures(folder / "rank-1")
    assert {record.rank for record in alone.records} == {1}
    assert [int(value[0]) for value in alone[KEY]] == [10, 11, 12]


def test_a_folder_of_ranks_is_complete_once_every_rank_closed(folder: Path) -> None:
    """A rank still writing (or killed) leaves the whole folder incomplete, and readable."""
    first, second = Writer(folder, rank=0), Writer(folder, rank=1)
    first.close()
    assert not open_captures(folder).complete
    second.close()
    assert open_captures(folder).complete


def test_rank_and_job_come_from_torchrun_variables(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under torchrun (RANK set) a writer picks rank-<RANK>/ and records the rank, world size and run id."""
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "job-a")
    with Writer(folder) as writer:
        writer.write(meta(0), np.zeros(2))
    assert (writer.folder, writer.rank) == (folder / "rank-3", 3)
    index = index_of(folder / "rank-3")
    assert (index["rank"], index["world_size"], index["run"]) == (3, 4, "job-a")
    assert [record.rank for record in open_captures(folder).records] == [3]
    with Writer(tmp_path / "plain", rank=None) as plain:  # rank=None: the folder itself, as in one process
        pass
    assert plain.folder == tmp_path / "plain"
    assert "rank" not in index_of(tmp_path / "plain")
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "none")  # torchrun's default --rdzv-id: no id at all
    Writer(tmp_path / "unnamed").close()
    assert index_of(tmp_path / "unnamed" / "rank-3")["run"] is None


def test_a_folder_of_ranks_holds_one_job(folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rank folders of another job (another run id or world size) are refused by writers and by the reader."""
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "old")
    Writer(folder, rank=0).close()
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "new")
    with pytest.raises(CaptureFileError, match=r"rank-0.*another job \(torchrun run id 'old', not 'new'\)"):
        Writer(folder, rank=1)
    monkeypatch.setenv("WORLD_SIZE", "3")
    with pytest.raises(CaptureFileError, match=r"world size 2, not 3"):
        Writer(folder, rank=1)
    assert sorted(path.name for path in folder.iterdir()) == ["rank-0"]
    Writer(tmp_path / "elsewhere", rank=1).close()  # a rank of the new job, moved in by hand
    (tmp_path / "elsewhere" / "rank-1").rename(folder / "rank-1")
    with pytest.raises(CaptureFileError, match=r"rank-1.*another job than rank-0 \(world size 3, not 2\)"):
        open_captures(folder)
    (folder / "rank-1").rename(folder / "rank-7")
    (folder / "rank-0").rename(tmp_path / "old-rank-0")
    with pytest.raises(CaptureFileError, match=r"says rank 1, not the 7 of its folder"):
        open_captures(folder)


def test_rank_folders_go_to_new_folders_only(small_capture: Path, tmp_path: Path) -> None:
    """A folder that receives rank folders holds nothing else: no single-process capture, no other file."""
    with pytest.raises(CaptureFileError, match="single-process capture"):
        Writer(small_capture, rank=0)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    with pytest.raises(CaptureFileError, match=r"'notes\.txt', besides rank folders"):
        Writer(busy, rank=0)
    (tmp_path / "file").write_text("")
    with pytest.raises(CaptureFileError, match="not a folder"):
        Writer(tmp_path / "file", rank=0)
    Writer(tmp_path / "run", rank=0).close()
    with pytest.raises(CaptureFileError, match=r"rank-0.*already holds a capture"):
        Writer(tmp_path / "run", rank=0)
    for bad in (-1, "0", True, 1.0):
        with pytest.raises(ValueError, match="rank must be"):
            Writer(tmp_path / "bad", rank=bad)  # type: ignore[arg-type]
    assert not (tmp_path / "bad").exists()


@FORKED
@QUIET_FORK
def test_a_forked_child_never_blocks_nor_writes(folder: Path, gate: Any) -> None:
    """Forked while the queue is full: the child's write() drops at once (one warning), the parent goes on."""
    import signal

    entered, release = gate
    writer = Writer(folder, shard_bytes=1, queue_size=2)
    writer.write(meta(0), np.zeros(2))  # held in the writer thread
    entered.wait()
    writer.write(meta(1), np.zeros(2))
    writer.write(meta(2), np.zeros(2))
    wait_for(writer._queue.full, "the queue to fill")
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child: its exit code is the result
        code = 1
        try:
            signal.alarm(20)  # a deadlock kills the child instead of hanging the test
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                for i in range(5):
                    writer.write(meta(100 + i), np.ones(2))
                writer.flush()
                writer.close()
            code = 0 if writer.lost == 5 and len(caught) == 1 and "forked" in str(caught[0].message) else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    release.set()
    for i in range(3, 6):
        writer.write(meta(i), np.zeros(2))
    writer.close()
    assert writer.lost == 0
    captures = open_captures(folder)
    assert [record.order for record in captures.records] == list(range(6))
    assert sorted(path.name for path in folder.iterdir()) == ["index.json"] + [
        f"shard-0000{i}.safetensors" for i in range(6)
    ]


# -- capture(..., sink=folder) ---------------------------------------------------------------------


class _Block:
    """A method to capture from, with a module-like first argument for layer paths."""

    def forward(self, x: Any) -> Any:
        attn = x * 2
        return attn + 1


class _Other:
    def forward(self, x: Any) -> Any:
        z = x
        return z


def test_capture_streams_to_a_folder(tmp_path: Path, backend: str) -> None:
    """capture(sink=folder): the same values and metadata as in memory, read back lazily from disk."""
    import anycapture

    arrays = [np.arange(6, dtype=np.float32).reshape(2, 3) + i for i in range(5)]
    with anycapture.capture(_Block.forward, "attn", values="raw") as in_memory:
        for array in arrays:
            _Block().forward(array)
    with anycapture.capture(_Block.forward, "attn", values="raw", sink=tmp_path / "run") as streamed:
        for array in arrays:
            _Block().forward(array)
        assert len(streamed.stored().records) == 5  # readable inside the block (flushed first)
    assert list(streamed) == ["_Block.forward.attn"]
    for got, expected in zip(streamed["_Block.forward.attn"], in_memory["_Block.forward.attn"], strict=True):
        np.testing.assert_array_equal(got, expected)
    assert [r.call for r in streamed.records] == [0, 1, 2, 3, 4]
    assert streamed.stack("attn").shape == (5, 2, 3)
    assert "streamed to" in repr(streamed)
    assert open_captures(tmp_path / "run").complete
    with pytest.raises(TypeError, match="on disk"):
        streamed.clear()


def test_a_sink_block_selects_as_an_in_memory_one(tmp_path: Path, backend: str) -> None:
    """A variable asked for but never bound selects nothing, in memory and on disk; a typo raises."""
    import anycapture

    def attend(x: Any) -> Any:
        if x is None:
            mask = x
        attn = x * 2
        return attn

    for sink in (None, tmp_path / "run"):
        with pytest.warns(CaptureWarning, match="'mask' .* was never bound"):
            with anycapture.capture(attend, "attn", "mask", values="raw", sink=sink) as cap:
                attend(np.ones(2))
        assert cap.select("*", "mask") == []
        with pytest.raises(KeyError, match="nothing was captured as 'masks'"):
            cap.select("*", "masks")
        assert len(cap.select("*", "attn")) == 1


def test_capture_sink_each_records_keep_their_tags(tmp_path: Path, backend: str) -> None:
    import anycapture

    if backend != "bytecode":
        pytest.skip("when='each' needs the bytecode backend")
    with anycapture.capture(_Block.forward, "attn", when="each", values="raw", sink=tmp_path / "each") as cap:
        _Block().forward(np.ones(3))
    (record,) = cap.records
    assert (record.site, record.assignment, record.line) == (
        0,
        0,
        anycapture.assignments(_Block.forward, "attn")[0].line,
    )


def test_capture_sink_refusals(tmp_path: Path) -> None:
    """Bad combinations and folders fail before anything is instrumented."""
    import anycapture

    with pytest.raises(TypeError, match="max_size"):
        anycapture.capture(_Block.forward, "attn", sink=tmp_path / "x", max_size=3)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    original = _Block.forward.__code__
    with pytest.raises(CaptureFileError, match=r"notes\.txt"), anycapture.capture(_Block.forward, "attn", sink=busy):
        pass
    assert _Block.forward.__code__ is original


def test_capture_sink_under_torchrun_writes_its_rank_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, backend: str
) -> None:
    """capture(sink=) on rank 1 writes run/rank-1/ and reads back its own records, tagged with the rank."""
    import anycapture

    monkeypatch.setenv("RANK", "1")
    with anycapture.capture(_Block.forward, "attn", values="raw", sink=tmp_path / "run") as cap:
        _Block().forward(np.ones(2))
    assert (tmp_path / "run" / "rank-1" / "index.json").is_file()
    assert [record.rank for record in cap.records] == [1]
    assert open_captures(tmp_path / "run").ranks == [1]


def test_one_writer_serves_several_blocks(tmp_path: Path) -> None:
    """A Writer given as sink= is flushed at each block's end and left open for the next block."""
    import anycapture

    writer = Writer(tmp_path / "shared", rank=None)
    blocks = []
    for i in range(3):
        with anycapture.capture(_Block.forward, "attn", values="raw", sink=writer) as cap:
            _Block().forward(np.full(2, float(i)))
            assert len(cap.records) == 1  # inside the block: its own records, flushed first
        assert writer.written == i + 1  # the block's end flushed the folder
        blocks.append(cap)
    with anycapture.capture(_Other.forward, "z", sink=writer) as other:
        _Other().forward(3)
    # Each block reads its own records from the shared folder (their `block` tells them apart).
    for i, cap in enumerate(blocks):
        assert [(r.block, r.call, r.order) for r in cap.records] == [(i, 0, 0)]
        assert [float(v[0]) for v in cap["_Block.forward.attn"]] == [2.0 * i]
        assert cap.stack().shape == (1, 2)  # one variable in this block: no name= needed
    assert list(other) == ["_Other.forward.z"]
    assert other["_Other.forward.z"] == [3]
    writer.close()
    stored = open_captures(tmp_path / "shared")
    assert stored.complete
    assert [float(v[0]) for v in stored["_Block.forward.attn"]] == [0.0, 2.0, 4.0]
    assert [r.block for r in stored.records] == [0, 1, 2, 3]


# -- what the writer is handed, and what a block reads back ----------------------------------------


def test_write_checks_and_copies_its_metadata(folder: Path) -> None:
    """Metadata a reader could not read is refused in write(), naming the field; numpy ints become ints."""
    with Writer(folder) as writer:
        for bad, error, message in [
            ("attn", TypeError, "must be a dict"),
            ({"name": "attn"}, ValueError, "needs 'key'"),
            ({"key": 3}, ValueError, "needs 'key'"),
            ({**meta(0), "path": 3}, TypeError, "'path' must be a str or None; got 3"),
            ({**meta(0), "call": 1.5}, TypeError, "'call' must be an int or None; got 1.5"),
            ({**meta(0), "call": True}, TypeError, "'call' must be an int or None; got True"),
        ]:
            with pytest.raises(error, match=message):
                writer.write(bad, np.zeros(2))  # type: ignore[arg-type]
        reused = meta(0)
        for i in range(3):
            reused.update(order=i, call=np.int64(i))
            writer.write(reused, np.full(2, i))  # the caller may reuse its dict: each record is copied
    records = open_captures(folder).records
    assert [(r.order, r.call) for r in records] == [(0, 0), (1, 1), (2, 2)]
    assert all(type(r.call) is int for r in records)


def test_many_long_strings_cut_the_shard_before_its_header_overflows(folder: Path) -> None:
    """Scalars' JSON counts toward a shard: 2,500 strings of 4,096 non-ASCII characters (over safetensors'
    100 MB header limit in one shard) are all written and read back."""
    text = "é" * 4096
    with Writer(folder) as writer:
        for i in range(2500):
            writer.write(meta(i), text)
    captures = open_captures(folder)
    assert len(shard_files(folder)) > 1
    assert captures[KEY] == [text] * 2500


def test_a_negated_view_is_written_with_its_values(folder: Path) -> None:
    """A tensor with torch's lazy negation bit is stored as the values it shows."""
    torch = pytest.importorskip("torch")
    with Writer(folder) as writer:
        writer.write(meta(0), torch._neg_view(torch.arange(3.0)))
    assert open_captures(folder)[KEY][0].tolist() == [-0.0, -1.0, -2.0]


def test_a_block_reads_back_what_values_kept(tmp_path: Path) -> None:
    """values='tensor' reads tensors back, of the dtype captured; the default reads numpy arrays."""
    torch = pytest.importorskip("torch")
    import anycapture

    half = torch.ones(2, dtype=torch.bfloat16)
    key = "_Block.forward.attn"
    with anycapture.capture(_Block.forward, "attn", values="tensor", sink=tmp_path / "t") as as_tensors:
        _Block().forward(half)
        assert isinstance(as_tensors[key][0], torch.Tensor)  # inside the block too
    with anycapture.capture(_Block.forward, "attn", sink=tmp_path / "n") as as_arrays:
        _Block().forward(half)
    (tensor,) = as_tensors[key]
    assert isinstance(tensor, torch.Tensor)
    assert tensor.dtype == torch.bfloat16
    assert as_tensors.stack("attn").dtype == torch.bfloat16
    (array,) = as_arrays[key]
    assert isinstance(array, np.ndarray)
    assert array.dtype == np.float32


def test_reading_inside_a_block_reads_only_the_new_shards(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each read inside a sink block flushes; the shards read before are not parsed again."""
    import anycapture

    parsed: list[str] = []
    real = disk.CaptureFolder._read_shard

    def counting(self: Any, index_path: Path, prefix: str, rank: Any, shard: Any, *found: Any) -> Any:
        parsed.append(shard["file"])
        return real(self, index_path, prefix, rank, shard, *found)

    monkeypatch.setattr(disk.CaptureFolder, "_read_shard", counting)
    with anycapture.capture(_Block.forward, "attn", values="raw", sink=tmp_path / "run") as cap:
        for i in range(5):
            _Block().forward(np.full(2, float(i)))
            assert len(cap.records) == i + 1
    assert parsed == [f"shard-{i:05d}.safetensors" for i in range(5)]  # each once
    assert [float(v[0]) for v in cap["_Block.forward.attn"]] == [0.0, 2.0, 4.0, 6.0, 8.0]


def test_a_read_inside_the_block_does_not_hide_what_its_end_wrote(tmp_path: Path) -> None:
    """Read inside the block, then after it: the records written since and the closed state are there."""
    import anycapture

    with anycapture.capture(_Block.forward, "attn", values="raw", sink=tmp_path / "run") as cap:
        _Block().forward(np.full(2, 0.0))
        assert len(cap.records) == 1
        assert not cap.stored().complete
        _Block().forward(np.full(2, 1.0))  # still in the writer's shard when the block ends
    assert cap.stored().complete
    assert [float(v[0]) for v in cap["_Block.forward.attn"]] == [0.0, 2.0]


def test_sink_must_be_a_folder_or_an_open_writer(tmp_path: Path) -> None:
    """A sink= of another type is refused by capture(); a closed Writer when the block begins."""
    import anycapture

    for bad in (True, 3, [tmp_path]):
        with pytest.raises(TypeError, match=r"sink= takes a folder \(a str or path\) or an anycapture.Writer"):
            anycapture.capture(_Block.forward, "attn", sink=bad)
    with pytest.raises(ValueError, match="sink='' is not a folder"):
        anycapture.capture(_Block.forward, "attn", sink="")
    writer = Writer(tmp_path / "done", rank=None)
    writer.close()
    original = _Block.forward.__code__
    with pytest.raises(CaptureError, match="is closed; give an open Writer"):
        with anycapture.capture(_Block.forward, "attn", sink=writer):
            pass
    assert _Block.forward.__code__ is original


@pytest.mark.parametrize("raised", [ValueError, KeyboardInterrupt])
def test_a_failed_write_never_hides_the_blocks_own_exception(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, raised: type[BaseException]
) -> None:
    """The body's exception propagates as it was; the lost records are told in a warning instead."""
    import anycapture

    monkeypatch.setattr(writing, "_write_shard", no_space)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(raised) as seen:
            with anycapture.capture(_Block.forward, "attn", values="raw", sink=tmp_path / "full"):
                _Block().forward(np.zeros(2))
                raise raised("the user's own")
    assert str(seen.value) == "the user's own"
    assert seen.value.__context__ is None
    (told,) = [str(w.message) for w in caught if issubclass(w.category, CaptureWarning)]
    assert "1 record(s) could not be written" in told
    assert "the block's own exception follows" in told
    assert _Block.forward.__code__ is _Block.__dict__["forward"].__code__  # restored
    with anycapture.capture(_Block.forward, "attn") as again:  # nothing left attached
        _Block().forward(np.zeros(2))
    assert len(again.records) == 1


def test_reader_refuses_listed_twice_and_mistyped_fields(small_capture: Path) -> None:
    """Hand-damaged indexes and records are named, never read as something else."""
    index = index_of(small_capture)
    write_index(small_capture, {**index, "shards": [index["shards"][0]] * 2})
    with pytest.raises(CaptureFileError, match=r"lists the shard 'shard-00000\.safetensors' twice"):
        open_captures(small_capture)
    write_index(small_capture, {**index, "skipped": "lots"})
    with pytest.raises(CaptureFileError, match="says 'skipped' is 'lots', not a int"):
        open_captures(small_capture)
    write_index(small_capture, index)
    open_captures(small_capture)  # the original is fine


def test_reader_refuses_a_record_whose_fields_have_other_types(folder: Path) -> None:
    """A record whose path is not a string (written by hand) is refused when the folder opens."""
    folder.mkdir()
    from safetensors.numpy import save_file

    records = {"format": disk.FORMAT, "version": 1, "records": [{"meta": {"key": "k", "path": 7}, "n": 0, "value": 1}]}
    save_file({}, str(folder / "shard-00000.safetensors"), metadata={"anycapture": json.dumps(records)})
    shards = [{"file": "shard-00000.safetensors"}]
    write_index(folder, {"format": disk.FORMAT, "version": 1, "records": 1, "shards": shards})
    with pytest.raises(CaptureFileError, match="malformed record 0: its 'path' is 7, not a str"):
        open_captures(folder)

"""Records streamed in row parts (Writer.write_rows, capture_attention(sink=...)): format, reader, checks."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from anycapture import CaptureError
from anycapture import _disk as disk
from anycapture._disk import CaptureFileError, Writer, open_captures
from anycapture._disk import _writer_thread as writing  # where the writer thread looks up what tests replace

np = pytest.importorskip("numpy")
pytest.importorskip("safetensors")


@pytest.fixture(autouse=True)
def single_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Writers here write into the folder given, even if the tests themselves run under torchrun."""
    for name in ("RANK", "WORLD_SIZE", "TORCHELASTIC_RUN_ID"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "captures"


def chunks(value: Any, step: int, axis: int = -2) -> Iterator[Any]:
    """``value`` in parts of ``step`` rows along ``axis``, as a capture streams a map."""
    for start in range(0, value.shape[axis], step):
        index = [slice(None)] * value.ndim
        index[axis] = slice(start, start + step)
        yield value[tuple(index)]


def full_map() -> Any:
    return np.random.default_rng(0).random((2, 3, 10, 7)).astype("float32")


@pytest.fixture
def streamed(folder: Path) -> Path:
    """A folder with a whole record, a map of 10 rows in 4 parts over several shards, and another whole record."""
    with Writer(folder, shard_bytes=500, rank=None) as writer:
        writer.write({"key": "small"}, np.ones(3))
        writer.write_rows({"key": "map", "path": "layers.0"}, chunks(full_map(), 3), rows=10)
        writer.write({"key": "small"}, np.zeros(3))
    return folder


def index_of(folder: Path) -> Any:
    return json.loads((folder / "index.json").read_text())


def test_parts_join_back_into_the_value(streamed: Path) -> None:
    """A record written in row parts reads back whole and equal, by key, by load and by stack, in write order."""
    captures = open_captures(streamed)
    assert [record.key for record in captures.records] == ["small", "map", "small"]
    record = captures.records[1]
    assert (record.shape, record.dtype, record.path) == ((2, 3, 10, 7), "float32", "layers.0")
    np.testing.assert_array_equal(captures["map"][0], full_map())
    np.testing.assert_array_equal(captures.load(record), full_map())
    np.testing.assert_array_equal(captures.stack("map"), full_map()[None])
    np.testing.assert_array_equal(captures["small"][1], np.zeros(3))


def test_folder_with_parts_says_version_2_and_counts_records(streamed: Path) -> None:
    """The index says version 2 and counts records, not parts; each shard's count is its entries."""
    index = index_of(streamed)
    assert (index["version"], index["records"], index["complete"]) == (2, 3, True)
    assert sum(shard["records"] for shard in index["shards"]) == 2 + 4
    assert len(index["shards"]) > 1  # the parts of the map lie in several shards


def test_folder_without_parts_stays_version_1(folder: Path) -> None:
    """A capture of whole records is written as version 1, which earlier anycapture versions read."""
    with Writer(folder, rank=None) as writer:
        writer.write({"key": "a"}, np.ones(3))
    assert index_of(folder)["version"] == 1
    from safetensors import safe_open

    with safe_open(str(folder / "shard-00000.safetensors"), framework="np") as file:
        assert json.loads(file.metadata()["anycapture"])["version"] == 1


@pytest.mark.parametrize(
    "rows",
    [slice(-1, None), slice(0, 1), slice(2, 8), slice(3, 6), slice(None), slice(5, 5), slice(8, 100), slice(-4, -1)],
)
def test_load_reads_a_row_range(streamed: Path, rows: slice) -> None:
    """load(record, rows=slice) gives exactly those rows of the joined value, across part boundaries."""
    captures = open_captures(streamed)
    np.testing.assert_array_equal(captures.load(captures.records[1], rows=rows), full_map()[:, :, rows])


def test_row_reads_open_only_the_parts_they_need(streamed: Path) -> None:
    """Reading the last row touches only the shard of the last part: the others may be gone."""
    captures = open_captures(streamed)
    record = captures.records[1]
    last_shard = sorted(streamed.glob("shard-*.safetensors"))[-1]
    for path in streamed.glob("shard-*.safetensors"):
        if path != last_shard:
            path.write_bytes(b"")  # any read of these would fail now
    np.testing.assert_array_equal(captures.load(record, rows=slice(-1, None)), full_map()[:, :, -1:])
    with pytest.raises(CaptureFileError, match="could not be read"):
        captures.load(record)


def test_rows_of_a_whole_record(folder: Path) -> None:
    """rows= on a record written whole slices its second to last axis."""
    value = full_map()
    with Writer(folder, rank=None) as writer:
        writer.write({"key": "map"}, value)
    captures = open_captures(folder)
    np.testing.assert_array_equal(captures.load(captures.records[0], rows=slice(4, 6)), value[:, :, 4:6])


def test_rows_argument_is_checked(streamed: Path) -> None:
    """rows= refuses a step, a non-slice, and a value with fewer than two axes, saying what it takes."""
    captures = open_captures(streamed)
    with pytest.raises(TypeError, match=r"slice of consecutive rows .* got slice\(0, 4, 2\)"):
        captures.load(captures.records[1], rows=slice(0, 4, 2))
    with pytest.raises(TypeError, match="got 3"):
        captures.load(captures.records[1], rows=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"two axes or more; record 0 of 'small' has shape \(3,\)"):
        captures.load(captures.records[0], rows=slice(0, 1))


def test_parts_along_another_axis(folder: Path) -> None:
    """Parts joined along axis 1 (a head mean's rows) read back whole, and by rows along that axis."""
    value = np.arange(2 * 9 * 4, dtype="float64").reshape(2, 9, 4)
    with Writer(folder, rank=None) as writer:
        writer.write_rows({"key": "mean"}, chunks(value, 4, axis=1), rows=9, axis=1)
    captures = open_captures(folder)
    np.testing.assert_array_equal(captures["mean"][0], value)
    np.testing.assert_array_equal(captures.load(captures.records[0], rows=slice(3, 7)), value[:, 3:7])


def test_parts_as_tensors_and_bfloat16(folder: Path) -> None:
    """Tensor parts keep their dtype with values='tensor'; bfloat16 comes back as float32 numpy by default."""
    torch = pytest.importorskip("torch")
    value = torch.randn(2, 8, 5).to(torch.bfloat16)
    with Writer(folder, shard_bytes=64, rank=None) as writer:
        writer.write_rows({"key": "m"}, chunks(value, 3), rows=8)
    as_tensors = open_captures(folder, values="tensor")
    assert torch.equal(as_tensors["m"][0], value)
    assert torch.equal(as_tensors.load(as_tensors.records[0], rows=slice(2, 5)), value[:, 2:5])
    as_numpy = open_captures(folder)["m"][0]
    assert as_numpy.dtype == np.float32
    np.testing.assert_array_equal(as_numpy, value.float().numpy())


def test_bfloat16_parts_read_without_torch(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where torch is not installed, bfloat16 parts still read back whole and by rows, as float32."""
    torch = pytest.importorskip("torch")
    value = torch.randn(2, 8, 5).to(torch.bfloat16)
    with Writer(folder, shard_bytes=64, rank=None) as writer:
        writer.write_rows({"key": "m"}, chunks(value, 3), rows=8)
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now fails
    captures = open_captures(folder)
    np.testing.assert_array_equal(captures["m"][0], value.float().numpy())
    np.testing.assert_array_equal(captures.load(captures.records[0], rows=slice(2, 7)), value[:, 2:7].float().numpy())


def test_stack_reads_only_the_rows_asked_for(folder: Path) -> None:
    """stack(rows=) stacks one row range of every selected record, parts or whole."""
    value = full_map()
    with Writer(folder, shard_bytes=500, rank=None) as writer:
        writer.write_rows({"key": "attn", "path": "layers.0"}, chunks(value, 3), rows=10)
        writer.write({"key": "attn", "path": "layers.1"}, value * 2)
    stacked = open_captures(folder).stack("attn", rows=slice(-1, None))
    np.testing.assert_array_equal(stacked, np.stack([value[:, :, -1:], 2 * value[:, :, -1:]]))


def test_a_stream_that_fails_is_abandoned(folder: Path) -> None:
    """Parts that stop with an error: the error propagates, the record is listed as abandoned and left out."""

    def failing() -> Iterator[Any]:
        yield np.ones((2, 3, 4))
        raise RuntimeError("the model broke")

    with Writer(folder, shard_bytes=16, rank=None) as writer:
        writer.write({"key": "before"}, np.ones(1))
        with pytest.raises(RuntimeError, match="the model broke"):
            writer.write_rows({"key": "map"}, failing(), rows=10)
        writer.write({"key": "after"}, np.ones(1))
    assert index_of(folder)["abandoned"] == [1]
    captures = open_captures(folder)
    assert [record.key for record in captures.records] == ["before", "after"]
    assert captures.complete


@pytest.mark.parametrize("first", [np.ones((2, 2, 3), dtype=complex), np.ones((2, 2, 3))])
def test_a_stream_with_an_unstorable_part_is_skipped(folder: Path, first: Any) -> None:
    """A part no capture folder can hold (complex) skips its record with one warning; later records are kept."""
    from anycapture import CaptureWarning

    with Writer(folder, shard_bytes=16, rank=None) as writer:
        with pytest.warns(CaptureWarning, match="complex128.* it was skipped"):
            writer.write_rows({"key": "map"}, iter([first, np.ones((2, 2, 3), dtype=complex)]), rows=4, axis=1)
            writer.flush()
        writer.write({"key": "after"}, np.ones(1))
    assert writer.skipped == 1
    assert writer._open == {}
    captures = open_captures(folder)
    assert [record.key for record in captures.records] == ["after"]


def test_a_stream_cut_by_close_is_abandoned(folder: Path) -> None:
    """A writer closed while a record is being streamed lists it as abandoned; the folder reads as complete."""
    writer = Writer(folder, rank=None)

    def cut() -> Iterator[Any]:
        yield np.ones((2, 3, 4))
        writer.close()  # another thread closing the block, say
        yield np.ones((2, 3, 4))

    with pytest.raises(CaptureError, match="is closed"):
        writer.write_rows({"key": "map"}, cut(), rows=6)
    assert index_of(folder)["abandoned"] == [0]
    captures = open_captures(folder)
    assert (captures.records, captures.complete) == ([], True)


def test_parts_must_give_the_rows_announced(folder: Path) -> None:
    """Fewer or more rows than rows=, or parts that do not join, raise ValueError; the record is abandoned."""
    with Writer(folder, rank=None) as writer:
        with pytest.raises(ValueError, match="told rows=10 but its parts gave 6"):
            writer.write_rows({"key": "few"}, chunks(full_map()[:, :, :6], 3), rows=10)
        with pytest.raises(ValueError, match="more than the rows=4"):
            writer.write_rows({"key": "many"}, chunks(full_map(), 3), rows=4)
        with pytest.raises(ValueError, match="do not join along axis 2"):
            writer.write_rows({"key": "odd"}, iter([np.ones((2, 3, 2, 7)), np.ones((2, 3, 2, 6))]), rows=4)
        with pytest.raises(ValueError, match="rows must be"):
            writer.write_rows({"key": "none"}, iter([]), rows=0)
    assert open_captures(folder).records == []


def test_parts_waiting_hold_at_most_queue_bytes(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """write_rows() waits while earlier parts fill queue_bytes: the writer never sees more than that waiting."""
    part = np.ones((1000,), dtype="float64")  # 8,000 bytes
    seen = []
    writer = Writer(folder, rank=None, queue_bytes=2 * part.nbytes)
    store = writing._to_storable

    def watching(value: Any, storages: set[int]) -> Any:
        seen.append(writer._part_bytes)  # bytes queued, the part being stored included
        return store(value, storages)

    monkeypatch.setattr(writing, "_to_storable", watching)
    with writer:
        writer.write_rows({"key": "m"}, (part[None] for _ in range(50)), rows=50, axis=0)
    assert max(seen, default=0) == 2 * part.nbytes
    assert open_captures(folder)["m"][0].shape == (50, 1000)


# -- crafted folders -----------------------------------------------------------------------------


def craft(folder: Path, parts: list[tuple[dict[str, Any], Any]], *, complete: bool = True, **index: Any) -> None:
    """A folder whose one shard holds ``parts``: (entry, tensor) pairs, as a crafted file would."""
    from safetensors.numpy import save_file

    folder.mkdir()
    shard = folder / "shard-00000.safetensors"
    entries = [entry for entry, _ in parts]
    tensors = {entry["tensor"]: value for entry, value in parts}
    text = json.dumps({"format": disk.FORMAT, "version": 2, "records": entries})
    save_file(tensors, str(shard), metadata={"anycapture": text})
    finished = index.pop("records", 1)
    content = {"format": disk.FORMAT, "version": 2, "complete": complete, "records": finished, **index}
    content["shards"] = [{"file": shard.name, "records": len(entries)}]
    (folder / "index.json").write_text(json.dumps(content))


def part(start: int, stop: int, of: int = 6, *, n: int = 0, axis: int = 1, key: str = "m", width: int = 4) -> Any:
    entry = {"n": n, "meta": {"key": key}, "tensor": f"{n}.{start}", "rows": [start, stop], "of": of, "axis": axis}
    return entry, np.full((2, stop - start, width), float(start), dtype="float32")


def test_crafted_parts_that_tile_the_rows_are_read(folder: Path) -> None:
    """Parts stored out of order but covering every row once join back in row order."""
    craft(folder, [part(3, 6), part(0, 3)])
    value = open_captures(folder)["m"][0]
    assert value.shape == (2, 6, 4)
    np.testing.assert_array_equal(value[:, :, 0], [[0, 0, 0, 3, 3, 3]] * 2)


@pytest.mark.parametrize(
    ("parts", "complete", "message"),
    [
        ([part(0, 4), part(3, 6)], True, r"row parts that overlap: rows \[3, 6\)"),
        ([part(0, 2), part(4, 6)], True, r"row parts that leave a gap: rows \[4, 6\)"),
        ([part(0, 2), part(4, 6)], False, r"row parts that leave a gap"),
        ([part(0, 3)], True, r"rows \[0, 3\) of its 6 in a folder whose writer closed"),
        ([part(0, 3), part(3, 6, width=5)], True, "has parts that disagree"),
        ([part(0, 3), part(3, 6, of=7)], True, "has parts that disagree"),
        ([part(0, 3), part(3, 6, key="other")], True, "has parts that disagree"),
        ([part(0, 3, axis=5)], True, r"its axis 5 should hold 3 row\(s\)"),
        ([({**part(0, 3)[0], "rows": [3, 0]}, part(0, 3)[1])], True, "is a row part with rows"),
        ([({**part(0, 3)[0], "rows": [0, 9]}, part(0, 3)[1])], True, "is a row part with rows"),
        ([({**part(0, 3)[0], "rows": "0:3"}, part(0, 3)[1])], True, "is a row part with rows"),
        ([({**part(0, 3)[0], "axis": -1}, part(0, 3)[1])], True, "is a row part with rows"),
        ([({**part(0, 3)[0], "tensor": "0"}, part(0, 3)[1])], True, "its tensor is named '0.0'"),
    ],
)
def test_crafted_part_metadata_is_refused(folder: Path, parts: Any, complete: bool, message: str) -> None:
    """Overlapping, gapped, short, mismatched or malformed row parts raise CaptureFileError naming the file."""
    craft(folder, parts, complete=complete)
    with pytest.raises(CaptureFileError, match=message) as raised:
        open_captures(folder)
    assert "index.json" in str(raised.value) or "shard-00000.safetensors" in str(raised.value)


def test_unfinished_record_of_an_open_folder_is_left_out(folder: Path) -> None:
    """In a folder whose writer has not closed, a record missing its last rows is one still being written."""
    whole = ({"n": 1, "meta": {"key": "k"}, "tensor": "1"}, np.ones(2))
    craft(folder, [part(0, 3), whole], complete=False)
    captures = open_captures(folder)
    assert [record.key for record in captures.records] == ["k"]


def test_abandoned_must_be_a_list_of_numbers(folder: Path) -> None:
    """An index whose 'abandoned' is not a list of record numbers is refused."""
    craft(folder, [part(0, 6)], abandoned="0")
    with pytest.raises(CaptureFileError, match=r"index.json' says 'abandoned' is '0'"):
        open_captures(folder)


def test_newer_version_is_refused(folder: Path) -> None:
    """An index of a version newer than 2 asks for an upgrade."""
    craft(folder, [part(0, 6)])
    index = index_of(folder)
    index["version"] = 3
    (folder / "index.json").write_text(json.dumps(index))
    with pytest.raises(CaptureFileError, match="format version 3; this anycapture reads version 2"):
        open_captures(folder)


# -- capture_attention(sink=...) -----------------------------------------------------------------


def test_capture_attention_streams_a_map_of_several_chunks(folder: Path) -> None:
    """A map bigger than one chunk goes to the sink in row parts and reads back equal to the in-memory map."""
    torch = pytest.importorskip("torch")
    from anycapture import capture_attention

    torch.manual_seed(0)
    q, k, v = torch.randn(2, 4, 37, 8), torch.randn(2, 2, 37, 8), torch.randn(2, 2, 37, 8)
    mask = torch.rand(2, 1, 37, 37) > 0.2

    def forward() -> Any:
        return torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask, enable_gqa=True)

    with capture_attention() as memory:
        expected = forward()
    with capture_attention(chunk=5, sink=folder) as cap:
        got = forward()
    assert torch.equal(got, expected)  # the model's output is untouched
    stored = cap.stored()
    assert index_of(folder)["version"] == 2
    reference = memory["scaled_dot_product_attention.attn"][0]
    np.testing.assert_allclose(cap["scaled_dot_product_attention.attn"][0], reference, atol=1e-6)
    record = stored.records[0]
    np.testing.assert_allclose(stored.load(record, rows=slice(-1, None)), reference[..., -1:, :], atol=1e-6)


def test_capture_attention_streams_rowwise_reduce_and_query_rows(folder: Path, tmp_path: Path) -> None:
    """A row-wise head mean and a list of query rows stream too, equal to their in-memory records."""
    torch = pytest.importorskip("torch")
    from anycapture import capture_attention, rowwise

    torch.manual_seed(1)
    q, k, v = torch.randn(1, 4, 30, 8), torch.randn(1, 4, 30, 8), torch.randn(1, 4, 30, 8)

    def forward() -> Any:
        return torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)

    mean = rowwise(lambda p: p.mean(1))
    rows = [0, 3, 7, 11, 29, 2, 5]
    for options in ({"reduce": mean, "values": "tensor"}, {"queries": rows}):
        with capture_attention(**options) as memory:  # type: ignore[arg-type]
            forward()
        sink = tmp_path / f"sink-{len(list(tmp_path.iterdir()))}"
        with capture_attention(chunk=3, sink=sink, **options) as streamed:  # type: ignore[arg-type]
            forward()
        expected = memory["scaled_dot_product_attention.attn"][0]
        got = streamed["scaled_dot_product_attention.attn"][0]
        assert type(got) is type(expected)
        np.testing.assert_allclose(np.asarray(got), np.asarray(expected), atol=1e-6)
        assert index_of(sink)["version"] == 2


def test_capture_attention_writes_a_map_of_one_chunk_whole(folder: Path) -> None:
    """A map that fits in one chunk is one whole record: the folder stays version 1."""
    torch = pytest.importorskip("torch")
    from anycapture import capture_attention

    q = torch.randn(1, 2, 6, 4)
    with capture_attention(sink=folder) as cap:
        torch.nn.functional.scaled_dot_product_attention(q, q, q)
    assert index_of(folder)["version"] == 1
    assert cap["scaled_dot_product_attention.attn"][0].shape == (1, 2, 6, 6)


def test_llama_maps_streamed_to_a_sink_equal_the_maps_in_memory(folder: Path) -> None:
    """A tiny Llama's maps (left padding), streamed in chunks of 4 rows, equal the in-memory maps and eager's."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from anycapture import capture_attention

    config = transformers.LlamaConfig(
        vocab_size=100, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=64,
    )  # fmt: skip
    torch.manual_seed(0)
    model = transformers.LlamaModel(config).eval()
    ids = torch.randint(1, 100, (2, 17))
    mask = torch.ones(2, 17, dtype=torch.long)
    mask[1, :3] = 0
    model.set_attn_implementation("eager")
    with torch.no_grad():
        eager = model(input_ids=ids, attention_mask=mask, output_attentions=True).attentions
    model.set_attn_implementation("sdpa")
    with torch.no_grad(), capture_attention(model=model) as memory:
        model(input_ids=ids, attention_mask=mask)
    with torch.no_grad(), capture_attention(model=model, chunk=4, sink=folder) as cap:
        model(input_ids=ids, attention_mask=mask)
    stored = cap.stored()
    assert [record.path for record in stored.records] == ["layers.0.self_attn", "layers.1.self_attn"]
    np.testing.assert_array_equal(cap.stack("attn"), memory.stack("attn"))
    for layer, record in enumerate(stored.records):
        # The padded sequence's padding rows are zeros here, uniform in eager (docs/capture.md): row 0 only.
        np.testing.assert_allclose(stored.load(record)[0], eager[layer][0].numpy(), atol=1e-5)
        np.testing.assert_allclose(stored.load(record, rows=slice(-1, None)), eager[layer][..., -1:, :], atol=1e-5)

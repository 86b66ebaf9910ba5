"""Capture folders against hostile conditions: full disks, tensors safetensors cannot write,
crafted folders (deep JSON, odd types, duplicate record numbers), non-finite scalars, FIFOs and
links leading out of the folder."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
import threading
import warnings
from pathlib import Path
from typing import Any

import pytest

import anycapture
from anycapture import CaptureWarning
from anycapture import _disk as disk
from anycapture._disk import CaptureFileError, CaptureWriteError, Writer, open_captures
from anycapture._disk import _writer_thread as writing  # where the writer thread looks up what tests replace

np = pytest.importorskip("numpy")
pytest.importorskip("safetensors")

KEY = "Attention.forward.attn"
SRC = str(Path(__file__).resolve().parents[1] / "src")
POSIX = pytest.mark.skipif(sys.platform == "win32", reason="needs POSIX files and limits")


@pytest.fixture(autouse=True)
def single_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Writers here write into the folder given, even if the tests themselves run under torchrun."""
    for name in ("RANK", "WORLD_SIZE", "TORCHELASTIC_RUN_ID"):
        monkeypatch.delenv(name, raising=False)


def meta(order: int, key: str = KEY) -> dict[str, Any]:
    """The metadata capture() gives each record."""
    return {"key": key, "name": "attn", "function": "m:Attention.forward", "path": "blocks.0.attn", "call": order,
            "thread": 1, "order": order}  # fmt: skip


def anycapture_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, CaptureWarning)]


# -- 4. a full disk is called a full disk ------------------------------------------------------------


def test_safetensors_io_errors_are_os_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """safetensors' SafetensorError "... (os error 2)" is reported as the OSError it is, with an OSError's advice."""
    torch = pytest.importorskip("torch")  # safetensors.torch writes in Rust, whose errors are SafetensorError
    real = writing._write_shard

    def into_a_missing_folder(path: Path, *args: Any) -> None:
        real(tmp_path / "gone" / path.name, *args)  # the real library, failing as it does on a full disk

    monkeypatch.setattr(writing, "_write_shard", into_a_missing_folder)
    writer = Writer(tmp_path / "run", shard_bytes=1)
    writer.write(meta(0), torch.zeros(4))
    with pytest.raises(CaptureWriteError) as raised:
        writer.close()
    message = str(raised.value)
    assert "(FileNotFoundError: [Errno 2] No such file or directory, while writing shard-00000.safetensors)" in message
    assert "Free space or choose another folder" in message
    assert "bug in anycapture" not in message
    assert isinstance(raised.value.__cause__, OSError)
    assert type(raised.value.__cause__.__cause__).__name__ == "SafetensorError"  # the library's own error, kept


FULL_DISK_JOB = """
import resource, signal, sys, warnings
import numpy as np
import anycapture

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead of killing
resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))

def layer(x):
    attn = x * 2.0
    return attn.sum()

outputs = []
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    try:
        with anycapture.capture(layer, "attn", sink=anycapture.Writer(sys.argv[1] + "/run", shard_bytes=4096)):
            for i in range(40):
                outputs.append(float(layer(np.full(256, i, dtype=np.float32))))
            outputs.append(float(layer(np.full(100_000, 40, dtype=np.float32))))  # a shard past the limit
            for i in range(41, 50):
                outputs.append(float(layer(np.full(256, i, dtype=np.float32))))
    except anycapture.CaptureWriteError as exc:
        print("RAISED", exc)
expected = [float((np.full(256 if i != 40 else 100_000, i, dtype=np.float32) * 2.0).sum()) for i in range(50)]
print("OUTPUTS", outputs == expected)
print("WARNINGS", sum(issubclass(w.category, anycapture.CaptureWarning) for w in caught))
captures = anycapture.open_captures(sys.argv[1] + "/run")
print("READABLE", [int(v[0]) // 2 for v in captures["layer.attn"]] == list(range(len(captures.records))))
print("RECORDS", len(captures.records))
"""


@POSIX
def test_a_full_disk_in_a_real_process_gives_the_right_advice(tmp_path: Path) -> None:
    """Under RLIMIT_FSIZE: outputs unchanged, the failure named as an OSError with its advice, earlier records kept."""
    pytest.importorskip("resource")
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(FULL_DISK_JOB), str(tmp_path)],
        env={**os.environ, "PYTHONPATH": SRC},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(" ", 1) for line in result.stdout.splitlines())
    assert "OSError: [Errno 27] File too large" in lines["RAISED"], lines
    assert "Free space or choose another folder" in lines["RAISED"]
    assert "bug in anycapture" not in lines["RAISED"]
    assert lines["OUTPUTS"] == "True"
    assert int(lines["WARNINGS"]) <= 1  # told once, unless flush() at the block's end raised first
    assert int(lines["RECORDS"]) >= 30  # every shard before the large record was written
    assert lines["READABLE"] == "True"


@POSIX
def test_a_full_tmpfs_gives_the_right_advice(tmp_path: Path) -> None:
    """On a 2 MiB tmpfs (root only), the failure says "No space left on device" and earlier records are readable."""
    mount = tmp_path / "small"
    mount.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)]).returncode:
        pytest.skip("needs root to mount a small tmpfs")
    try:
        writer = Writer(mount / "run", shard_bytes=64 << 10)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for i in range(200):
                writer.write(meta(i), np.full(8192, i, dtype=np.float32))  # 32 KiB each, 6 MiB in all
            with pytest.raises(CaptureWriteError) as raised:
                writer.close()
        assert "OSError: [Errno 28] No space left on device" in str(raised.value)
        assert "Free space or choose another folder" in str(raised.value)
        assert len(anycapture_warnings(caught)) == 1
        captures = open_captures(mount / "run")
        assert 0 < len(captures.records) < 200
        assert [int(value[0]) for value in captures[KEY]] == list(range(len(captures.records)))
    finally:
        subprocess.run(["umount", str(mount)], check=True)


# -- 6. tensors safetensors cannot write cost their own record only ----------------------------------


def encoder_layer_inputs(tmp_path: Path) -> tuple[Any, list[str]]:
    """Capture TransformerEncoderLayer's src through the fast path (nested tensors) and a dense call."""
    torch = pytest.importorskip("torch")
    nn = torch.nn
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(8, 2, 16, batch_first=True)
    encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=True).eval()
    x = torch.randn(2, 5, 8)
    mask = torch.tensor([[False] * 5, [False] * 3 + [True] * 2])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with torch.no_grad():
            expected = (encoder(x, src_key_padding_mask=mask), encoder(x))
            sink = tmp_path / "run"
            with anycapture.capture(nn.TransformerEncoderLayer.forward, "src", values="tensor", sink=sink) as cap:
                got = (encoder(x, src_key_padding_mask=mask), encoder(x))
    for one, other in zip(got, expected, strict=True):
        torch.testing.assert_close(one, other, rtol=0, atol=0)
    return cap, anycapture_warnings(caught)


def test_nested_tensors_cost_their_own_records_only(tmp_path: Path) -> None:
    """TransformerEncoder's fast path gives nested tensors: skipped with one warning, the dense records kept."""
    cap, told = encoder_layer_inputs(tmp_path)
    assert len(told) == 1
    assert "nested torch.Tensor" in told[0]
    assert "cannot be held by a capture folder" in told[0]
    assert [record.shape for record in cap.records] == [(2, 5, 8), (2, 5, 8)]  # the dense call's two layers
    assert open_captures(tmp_path / "run").skipped == 2
    assert open_captures(tmp_path / "run").complete


def odd_tensors() -> list[tuple[str, Any]]:
    torch = pytest.importorskip("torch")
    dense = torch.arange(6.0).reshape(2, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # prototype / beta / deprecated APIs of torch
        cases = [
            ("nested", torch.nested.nested_tensor([torch.ones(2, 3), torch.ones(1, 3)])),
            ("jagged", torch.nested.nested_tensor([torch.ones(2, 3), torch.ones(1, 3)], layout=torch.jagged)),
            ("sparse coo", dense.to_sparse()),
            ("sparse csr", dense.to_sparse_csr()),
            ("quantized", torch.quantize_per_tensor(dense, 0.1, 0, torch.qint8)),
            ("meta", torch.empty(2, 3, device="meta")),
        ]
    try:
        from torch.testing._internal.two_tensor import TwoTensor
    except ImportError:
        pass
    else:
        cases.append(("wrapper subclass", TwoTensor(dense.clone(), dense.clone())))
    return cases


@pytest.mark.parametrize("case", range(7))
def test_tensors_safetensors_cannot_write_are_skipped_alone(tmp_path: Path, case: int) -> None:
    """A nested, sparse, quantized, meta or wrapper-subclass tensor is skipped with one warning; the others stay."""
    torch = pytest.importorskip("torch")
    cases = odd_tensors()
    if case >= len(cases):
        pytest.skip("torch.testing's TwoTensor is not available")
    what, odd = cases[case]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with Writer(tmp_path / "run", shard_bytes=1 << 20) as writer:
            writer.write(meta(0), torch.zeros(3))
            writer.write(meta(1), odd)
            writer.write(meta(2), odd)
            writer.write(meta(3), torch.ones(3))
    told = anycapture_warnings(caught)
    assert len(told) == 1, (what, told)
    assert "it was skipped" in told[0]
    captures = open_captures(tmp_path / "run", values="tensor")
    assert [record.order for record in captures.records] == [0, 3]
    assert [value.tolist() for value in captures[KEY]] == [[0.0] * 3, [1.0] * 3]
    assert captures.skipped == 2
    assert captures.complete


def test_subclasses_and_views_are_written_as_their_values(tmp_path: Path) -> None:
    """A plain tensor subclass, a Parameter and non-contiguous views (transposed, strided, offset) keep their values."""
    torch = pytest.importorskip("torch")

    class Tagged(torch.Tensor):
        pass

    base = torch.arange(24.0).reshape(4, 6)
    values = [
        base.as_subclass(Tagged),
        torch.nn.Parameter(base.clone()),
        base.t(),
        base[:, ::2],
        base[2:],
        base.expand(2, 4, 6),
        torch.arange(3.0).neg().conj(),
    ]
    with Writer(tmp_path / "run") as writer:
        for i, value in enumerate(values):
            writer.write(meta(i), value)
    loaded = open_captures(tmp_path / "run", values="tensor")[KEY]
    assert [type(value) for value in loaded] == [torch.Tensor] * len(values)
    for got, value in zip(loaded, values, strict=True):
        torch.testing.assert_close(got, value.detach().as_subclass(torch.Tensor), rtol=0, atol=0)


def test_a_tensor_the_checks_miss_costs_its_record_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Should safetensors refuse a tensor the checks let through, that record alone is skipped and the shard written."""
    torch = pytest.importorskip("torch")
    real = writing._to_storable

    def lets_a_view_through(value: Any, storages: set[int]) -> Any:
        if isinstance(value, torch.Tensor) and not value.is_contiguous():
            return value, value.numel() * value.element_size(), True  # safetensors refuses non-contiguous tensors
        return real(value, storages)

    monkeypatch.setattr(writing, "_to_storable", lets_a_view_through)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with Writer(tmp_path / "run", shard_bytes=1 << 20) as writer:
            for i in range(6):
                writer.write(meta(i), torch.full((2, 3), float(i)).t() if i == 2 else torch.full((3,), float(i)))
    told = anycapture_warnings(caught)
    assert len(told) == 1
    assert "could not be written (ValueError" in told[0]
    captures = open_captures(tmp_path / "run")
    assert [int(value[0]) for value in captures[KEY]] == [0, 1, 3, 4, 5]
    assert captures.skipped == 1
    assert len(captures.records) == 5


# -- 7. crafted folders -------------------------------------------------------------------------------


def write_shard(folder: Path, content: Any, tensors: dict[str, Any] | None = None, **shard: Any) -> None:
    """A shard and an index as a crafted folder might have them."""
    from safetensors.numpy import save_file

    folder.mkdir(exist_ok=True)
    path = folder / "shard-00000.safetensors"
    header = {"format": disk.FORMAT, "version": 1, "records": content}
    text = content if isinstance(content, str) else json.dumps(header)
    save_file(tensors or {}, str(path), metadata={"anycapture": text})
    count = 0 if isinstance(content, str) else len(content)
    index = {"format": disk.FORMAT, "version": 1, "records": count, "complete": True,
             "shards": [{"file": path.name, "records": count, "bytes": path.stat().st_size, **shard}]}  # fmt: skip
    (folder / "index.json").write_text(json.dumps(index))


def test_an_index_nested_deeply_is_refused_by_name(tmp_path: Path) -> None:
    """index.json nested 100,000 levels deep raises CaptureFileError naming it, not RecursionError."""
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "index.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(CaptureFileError, match=r"index.json' is not valid JSON"):
        open_captures(folder)
    (folder / "index.json").write_text('{"format": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(CaptureFileError, match=r"index.json' is not valid JSON"):
        open_captures(folder)


def test_shard_metadata_nested_deeply_is_refused_by_name(tmp_path: Path) -> None:
    """A shard's records JSON nested 100,000 levels deep raises CaptureFileError naming the shard."""
    write_shard(tmp_path / "run", "[" * 100_000 + "]" * 100_000)
    with pytest.raises(CaptureFileError, match=r"shard-00000.safetensors' has malformed record metadata"):
        open_captures(tmp_path / "run")
    deep = json.loads("[" * 500 + "]" * 500)  # deep enough to matter to repr, not to json
    write_shard(tmp_path / "again", [{"n": 0, "meta": deep}])
    with pytest.raises(CaptureFileError, match=r"shard-00000.safetensors' has a malformed record"):
        open_captures(tmp_path / "again")


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"bytes": [1]}, r"says shard 'shard-00000.safetensors' has 'bytes' \[1\], not an int"),
        ({"records": 2.0}, r"has 'records' 2.0, not an int"),
        ({"file": ["shard-00000.safetensors"]}, r"lists a shard as \{.*'file': \['shard-00000.safetensors'\]"),
        ({"file": {"x": 1}}, r"lists a shard as"),
    ],
)
def test_index_entries_of_the_wrong_type_are_refused_by_name(tmp_path: Path, entry: Any, message: str) -> None:
    """A shard entry whose bytes, records or file has the wrong type raises CaptureFileError, never TypeError."""
    write_shard(tmp_path / "run", [], **entry)
    with pytest.raises(CaptureFileError, match=message) as raised:
        open_captures(tmp_path / "run")
    assert "index.json" in str(raised.value)


def test_records_sharing_a_number_are_refused(tmp_path: Path) -> None:
    """Records all numbered 0, each naming its own tensor, are refused instead of all reading the last tensor."""
    tensors = {str(i): np.full(2, i, dtype=np.float32) for i in range(3)}
    records = [{"n": 0, "tensor": str(i), "meta": {"key": KEY}} for i in range(3)]
    write_shard(tmp_path / "run", records, tensors)
    with pytest.raises(CaptureFileError, match=r"shard-00000.safetensors': record 0 names tensor '1'; its tensor"):
        open_captures(tmp_path / "run")
    scalars = [{"n": 0, "value": i, "meta": {"key": KEY}} for i in range(3)]
    write_shard(tmp_path / "scalars", scalars)
    with pytest.raises(CaptureFileError, match=r"index.json': record number 0 is used twice"):
        open_captures(tmp_path / "scalars")
    odd = [{"n": 0, "tensor": ["0"], "meta": {"key": KEY}}, {"n": True, "meta": {"key": KEY}}]
    write_shard(tmp_path / "bool", [])
    index = json.loads((tmp_path / "bool" / "index.json").read_text())
    (tmp_path / "bool" / "index.json").write_text(json.dumps({**index, "records": False}))
    with pytest.raises(CaptureFileError, match=r"index.json' lacks its shard list or record count"):
        open_captures(tmp_path / "bool")
    for i, entry in enumerate(odd):
        write_shard(tmp_path / f"odd{i}", [entry], {"0": np.zeros(1)} if i == 0 else {})
        with pytest.raises(CaptureFileError, match=r"shard-00000.safetensors' has a malformed record"):
            open_captures(tmp_path / f"odd{i}")


def test_numbers_repeated_across_shards_are_refused(tmp_path: Path) -> None:
    """Two shards of one writer whose records share a number are refused, naming both shards."""
    folder = tmp_path / "run"
    with Writer(folder, shard_bytes=1) as writer:
        writer.write(meta(0), 5)
        writer.write(meta(1), np.zeros(2))
        writer.write(meta(2), np.zeros(2))
    from safetensors import safe_open
    from safetensors.numpy import save_file

    second = folder / "shard-00001.safetensors"
    with safe_open(str(second), framework="np") as file:
        content = json.loads(file.metadata()["anycapture"])
        tensors = {name: file.get_tensor(name) for name in file.keys()}  # noqa: SIM118
    content["records"][0]["n"] = 0
    content["records"][0]["tensor"] = "0"
    save_file({"0": tensors["2"]}, str(second), metadata={"anycapture": json.dumps(content)})
    index = json.loads((folder / "index.json").read_text())
    index["shards"][1]["bytes"] = second.stat().st_size
    (folder / "index.json").write_text(json.dumps(index))
    with pytest.raises(CaptureFileError, match=r"record number 0 is used twice \(in shard-00000.*shard-00001"):
        open_captures(folder)


# -- 8. non-finite scalars are valid JSON ------------------------------------------------------------


def strict_json(text: str) -> Any:
    """Parse as serde_json or JSON.parse would: NaN and Infinity are errors."""

    def refuse(constant: str) -> Any:
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def test_non_finite_scalars_round_trip_as_strict_json(tmp_path: Path) -> None:
    """NaN, inf and -inf scalars (and in extra metadata) are written as strict JSON and read back as those floats."""
    from safetensors import safe_open

    values = [math.nan, math.inf, -math.inf, 1.5, {"float": "nan"}]
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")  # the dict is skipped, as every object is
        with Writer(tmp_path / "run") as writer:
            for i, value in enumerate(values):
                writer.write({**meta(i), "loss": value if isinstance(value, float) else 0.0}, value)
    with safe_open(str(tmp_path / "run" / "shard-00000.safetensors"), framework="np") as file:
        content = strict_json(file.metadata()["anycapture"])
    assert [record["value"] for record in content["records"]] == [{"float": "nan"}, {"float": "inf"},
                                                                   {"float": "-inf"}, 1.5]  # fmt: skip
    assert content["records"][0]["meta"]["loss"] == {"float": "nan"}
    got = open_captures(tmp_path / "run")[KEY]
    assert math.isnan(got[0])
    assert got[1:] == [math.inf, -math.inf, 1.5]


def test_non_finite_scalars_from_a_capture_block(tmp_path: Path, backend: str) -> None:
    """A captured NaN loss reads back as NaN from a sink, as it does in memory."""

    def step(x: float) -> float:
        loss = x * math.inf if x else math.nan
        return 0.0

    with anycapture.capture(step, "loss", sink=tmp_path / "run") as cap:
        step(0.0)
        step(1.0)
        step(-1.0)
    values = [cap.stored().load(record) for record in cap.records]
    assert math.isnan(values[0])
    assert values[1:] == [math.inf, -math.inf]


# -- 9. FIFOs, devices and links are never opened as capture files -----------------------------------


def in_a_thread(action: Any) -> BaseException | None:
    """Run ``action`` with a deadline: a hang (opening a FIFO) fails the test instead of blocking it."""
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            action()
        except BaseException as exc:
            outcome.append(exc)
        else:
            outcome.append(None)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(60)
    if thread.is_alive():
        raise AssertionError("it hung (a FIFO was opened?)")
    return outcome[0]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs os.mkfifo")
def test_a_sibling_index_that_is_a_fifo_is_refused_not_opened(tmp_path: Path) -> None:
    """Writer(rank=1) beside a rank-0 folder whose index.json is a FIFO raises CaptureFileError naming it."""
    (tmp_path / "job" / "rank-0").mkdir(parents=True)
    os.mkfifo(tmp_path / "job" / "rank-0" / "index.json")
    raised = in_a_thread(lambda: Writer(tmp_path / "job", rank=1))
    assert isinstance(raised, CaptureFileError)
    assert "rank-0/index.json' is a FIFO (named pipe), not an index file" in str(raised)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs os.mkfifo")
def test_an_index_that_is_a_fifo_or_a_device_is_called_what_it_is(tmp_path: Path) -> None:
    """open_captures on a folder whose index.json is a FIFO or a device says so, and never opens it."""
    (tmp_path / "fifo").mkdir()
    os.mkfifo(tmp_path / "fifo" / "index.json")
    raised = in_a_thread(lambda: open_captures(tmp_path / "fifo"))
    assert isinstance(raised, CaptureFileError)
    assert "index.json' is a FIFO (named pipe), not an index file" in str(raised)
    (tmp_path / "ranks" / "rank-0").mkdir(parents=True)
    os.mkfifo(tmp_path / "ranks" / "rank-0" / "index.json")
    raised = in_a_thread(lambda: open_captures(tmp_path / "ranks"))
    assert isinstance(raised, CaptureFileError)
    assert "is a FIFO (named pipe)" in str(raised)
    if Path("/dev/zero").exists():
        (tmp_path / "device").mkdir()
        (tmp_path / "device" / "index.json").symlink_to("/dev/zero")
        raised = in_a_thread(lambda: open_captures(tmp_path / "device", follow_links=True))
        assert isinstance(raised, CaptureFileError)
        assert "index.json' is a character device, not an index file" in str(raised)


# -- links out of the folder ---------------------------------------------------------------------------


def two_captures(tmp_path: Path) -> tuple[Path, Path]:
    for name in ("run", "elsewhere"):
        with Writer(tmp_path / name, shard_bytes=1) as writer:
            writer.write(meta(0), np.zeros(2, dtype=np.float32) + (name == "elsewhere"))
    return tmp_path / "run", tmp_path / "elsewhere"


def test_a_shard_linked_from_outside_is_refused(tmp_path: Path) -> None:
    """A shard that is a symbolic link out of the folder is refused unless follow_links=True."""
    run, elsewhere = two_captures(tmp_path)
    shard = run / "shard-00000.safetensors"
    shard.unlink()
    shard.symlink_to(elsewhere / "shard-00000.safetensors")
    with pytest.raises(CaptureFileError, match=r"shard-00000.safetensors' is a link to .*elsewhere.*follow_links=True"):
        open_captures(run)
    assert open_captures(run, follow_links=True)[KEY][0].tolist() == [1.0, 1.0]
    with pytest.raises(TypeError, match="follow_links must be True or False; got 'yes'"):
        open_captures(run, follow_links="yes")  # type: ignore[arg-type]


def test_an_index_or_rank_folder_linked_from_outside_is_refused(tmp_path: Path) -> None:
    """An index.json or a rank-N folder that is a link out of the folder is refused unless follow_links=True."""
    run, elsewhere = two_captures(tmp_path)
    (run / "index.json").unlink()
    (run / "index.json").symlink_to(elsewhere / "index.json")
    with pytest.raises(CaptureFileError, match=r"index.json' is a link to"):
        open_captures(run)
    ranks = tmp_path / "ranks"
    with Writer(ranks, rank=0) as writer:
        writer.write(meta(0), np.zeros(2, dtype=np.float32))
    (ranks / "rank-1").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(CaptureFileError, match=r"rank-1' is a link to"):
        open_captures(ranks)
    assert len(open_captures(ranks, follow_links=True).records) == 2
    inside = tmp_path / "inside"
    inside.mkdir()
    (inside / "run").symlink_to(elsewhere, target_is_directory=True)  # the folder opened may itself be a link
    assert len(open_captures(inside / "run").records) == 1


# -- values="raw" reads each value back as the type it was ----------------------------------------


def make_values(kind: str) -> Any:
    value: Any
    if kind == "array":
        value = np.arange(6, dtype=np.float32).reshape(2, 3)
    elif kind == "numpy scalar":
        value = np.float64(2.5)
    elif kind == "bfloat16 tensor":
        import torch

        value = torch.arange(4.0, dtype=torch.bfloat16)
    else:
        import torch

        value = torch.arange(4.0)
    return value


@pytest.mark.parametrize("with_torch", [False, True])
def test_raw_values_from_a_sink_keep_their_types(tmp_path: Path, backend: str, with_torch: bool) -> None:
    """With values="raw" a sink gives numpy arrays, numpy scalars and tensors back as those types, as in memory."""
    kinds = ["array", "numpy scalar"]
    if with_torch:
        torch = pytest.importorskip("torch")
        kinds += ["tensor", "bfloat16 tensor"]

    for sink in (None, tmp_path / "run"):
        with anycapture.capture(make_values, "value", values="raw", sink=sink) as cap:
            for kind in kinds:
                make_values(kind)
        got = cap["make_values.value"]
        assert [type(value) for value in got] == [type(make_values(kind)) for kind in kinds], sink
        for value, kind in zip(got, kinds, strict=True):
            expected = make_values(kind)
            if with_torch and isinstance(expected, torch.Tensor):
                assert value.dtype == expected.dtype
                torch.testing.assert_close(value, expected)
            else:
                np.testing.assert_array_equal(value, expected)
    with anycapture.capture(make_values, "value", values="raw", sink=tmp_path / "stack") as cap:
        make_values("array")
        make_values("array")
    assert type(cap.stack("value")) is np.ndarray

"""Reading a block: its Record type, values converted on the asynchronous copy path, and reads of
bounded stores and of records while other threads capture.

The asynchronous copy tests run CPU tensors through the path CUDA tensors take (``_copies``). Two
bugs an adversarial review found here (reads of a bounded deque racing with appends) are fixed,
and these tests keep them fixed.
"""

from __future__ import annotations

import sys
import threading
from collections import namedtuple
from typing import Any

import pytest

import anycapture
from anycapture import capture, get_local

# -- records ----------------------------------------------------------------------------------


def layer_fn(x: int) -> int:
    h = x * 3
    return h


def test_records_are_records(backend: str) -> None:
    """A block's records are anycapture.Record named tuples, with no line, site or assignment for a return capture and
    the calling thread's id."""
    with capture(layer_fn, "h", values="raw") as cap:
        layer_fn(2)
    (rec,) = cap.records
    assert type(rec) is anycapture.Record
    assert rec._asdict()["value"] == 6
    assert rec.line is None
    assert rec.site is None
    assert rec.assignment is None
    assert rec.thread == threading.get_ident()
    assert rec._replace(value=1).value == 1


def maybe(flag: bool) -> int:
    if flag:
        y = 7
    return 0


def test_thread_records_while_block_is_open(backend: str) -> None:
    """Every call four threads make while a block is open is recorded, each record with its own order number."""
    with capture(maybe, "y", values="raw") as cap:
        threads = [threading.Thread(target=lambda: [maybe(True) for _ in range(200)]) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert cap["maybe.y"] == [7] * 800
    assert len({r.order for r in cap.records}) == 800


# -- asynchronous copies (run on CPU tensors through the CUDA path) ------------------------------


Pair = namedtuple("Pair", "left right")


def nested(x: Any) -> Any:
    out = {"a": x * 2, "l": [x + 1, (x - 1, "s")], "p": Pair(x, 3)}
    return out


def _check_nested(value: Any, x: Any) -> None:
    import numpy

    assert type(value) is dict
    numpy.testing.assert_array_equal(value["a"], (x * 2).numpy())
    assert type(value["l"]) is list
    assert type(value["l"][1]) is tuple
    numpy.testing.assert_array_equal(value["l"][0], (x + 1).numpy())
    numpy.testing.assert_array_equal(value["l"][1][0], (x - 1).numpy())
    assert value["l"][1][1] == "s"
    assert type(value["p"]) is Pair
    numpy.testing.assert_array_equal(value["p"].left, x.numpy())
    assert value["p"].right == 3


def test_nested_containers_resolved_everywhere(async_cpu: None) -> None:
    """Tensors nested in dicts, lists, tuples and named tuples arrive as arrays in the same containers, through
    get_local, a block's keys, its records and distributed.gather."""
    import torch

    get_local("out")(nested)
    get_local.activate()
    xs = [torch.arange(3.0) + i for i in range(3)]
    with capture(nested, "out") as cap:
        for x in xs:
            nested(x)
    for value, x in zip(get_local.cache["nested.out"], xs, strict=False):
        _check_nested(value, x)
    for value, x in zip(cap["nested.out"], xs, strict=False):
        _check_nested(value, x)
    for rec, x in zip(cap.records, xs, strict=False):
        _check_nested(rec.value, x)
    assert type(anycapture.distributed.gather(cap)) is list  # single process: records as they are
    for rec, x in zip(anycapture.distributed.gather(cap), xs, strict=False):
        _check_nested(rec.value, x)


def test_clear_then_new_values_and_resizes(async_cpu: None) -> None:
    """get_local values copied without blocking are arrays after clear(), and after the store is bounded and unbounded
    again."""
    import numpy
    import torch

    get_local("y")(layer_t)
    get_local.activate()
    for i in range(3):
        layer_t(torch.full((2,), float(i)))
    assert [v.tolist() for v in get_local.cache["layer_t.y"]] == [[0, 0], [3, 3], [6, 6]]
    get_local.clear()
    layer_t(torch.full((2,), 10.0))
    got = get_local.cache["layer_t.y"]
    assert len(got) == 1
    assert isinstance(got[0], numpy.ndarray)
    assert got[0].tolist() == [30, 30]
    get_local.set_size(2)
    for i in range(3):
        layer_t(torch.full((2,), float(i)))
    assert [v.tolist() for v in get_local.cache["layer_t.y"]] == [[3, 3], [6, 6]]
    get_local.set_size(None)
    layer_t(torch.full((2,), 5.0))
    got = get_local.cache["layer_t.y"]
    assert all(isinstance(v, numpy.ndarray) for v in got)
    assert [v.tolist() for v in got] == [[3, 3], [6, 6], [15, 15]]
    assert {k: [v.tolist() for v in vs] for k, vs in get_local.cache.items()} == {
        "layer_t.y": [[3, 3], [6, 6], [15, 15]]
    }


def layer_t(x: Any) -> Any:
    y = x * 3
    return y


def test_values_tensor_device_cpu_and_collate(async_cpu: None) -> None:
    """values='tensor' with device='cpu' gives detached host tensors, and a collate function sees the tensor itself."""
    import torch

    get_local("y")(layer_t)
    get_local.activate(values="tensor", device="cpu")
    layer_t(torch.ones(2, requires_grad=True))
    (v,) = get_local.cache["layer_t.y"]
    assert isinstance(v, torch.Tensor)
    assert not v.requires_grad
    assert v.tolist() == [3.0, 3.0]
    get_local.clear()
    get_local.set_collate_fn(lambda t: t.sum().item())
    layer_t(torch.ones(2))
    assert get_local.cache["layer_t.y"] == [6.0]


def test_capture_select_by_path_stack_with_pending(async_cpu: None) -> None:
    """A block's select, by_path and stack wait for the copies still in flight and give arrays of the right layers."""
    import torch

    class Block(torch.nn.Module):
        def forward(self, x: Any) -> Any:
            attn = x.softmax(-1)
            return attn

    model = torch.nn.Sequential(Block(), Block())
    x = torch.randn(2, 3)
    with capture(Block.forward, "attn", model=model) as cap:
        model(x)
    stacked = cap.stack("attn")
    assert stacked.shape == (2, 2, 3)
    import numpy

    numpy.testing.assert_allclose(stacked[1], x.softmax(-1).softmax(-1).numpy(), rtol=1e-6)
    assert list(cap.by_path("attn")) == ["0", "1"]
    assert [r.path for r in cap.select("1")] == ["1"]
    assert isinstance(cap.select("1")[0].value, numpy.ndarray)


def test_sink_with_numpy_pending(async_cpu: None, tmp_path: Any) -> None:
    """A block streaming to a sink writes values copied without blocking, and reads them back equal."""
    pytest.importorskip("safetensors")
    import numpy
    import torch

    with capture(layer_t, "y", sink=tmp_path / "c") as cap:
        for i in range(3):
            layer_t(torch.full((2, 2), float(i)))
    got = cap["layer_t.y"]
    assert [numpy.asarray(v).tolist() for v in got] == [[[3.0 * i] * 2] * 2 for i in range(3)]


def _read_while_another_thread_captures(read: Any, capture_once: Any) -> list[BaseException]:
    """Call ``read()`` 300 times while another thread keeps calling ``capture_once()``, with the
    interpreter switching threads as often as it can; the RuntimeErrors ``read`` raised."""
    stop = threading.Event()

    def produce() -> None:
        while not stop.is_set():
            capture_once()

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    thread = threading.Thread(target=produce)
    thread.start()
    errors: list[BaseException] = []
    try:
        for _ in range(300):
            try:
                read()
            except RuntimeError as exc:
                errors.append(exc)
                break
    finally:
        stop.set()
        thread.join()
        sys.setswitchinterval(old)
    return errors


def test_bounded_cache_read_while_another_thread_captures(async_cpu: None) -> None:
    """get_local.cache[key] of a bounded (deque) store is read while values keep coming."""
    import torch

    get_local("y")(layer_t)
    get_local.activate(max_size=5000)
    x = torch.ones(1)
    for _ in range(5000):
        layer_t(x)

    def read() -> None:
        assert len(get_local.cache["layer_t.y"]) == 5000

    assert _read_while_another_thread_captures(read, lambda: layer_t(x)) == []


def test_bounded_capture_read_while_another_thread_captures(backend: str) -> None:
    """cap[key] of a block with max_size= (a deque) is read while another thread captures."""
    with capture(layer_fn, "h", values="raw", max_size=5000) as cap:
        for i in range(5000):
            layer_fn(i)

        def read() -> None:
            assert len(cap["layer_fn.h"]) == 5000

        assert _read_while_another_thread_captures(read, lambda: layer_fn(1)) == []

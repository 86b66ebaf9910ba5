"""Edge cases of collectors, guarded loads, capture blocks, asynchronous copies and decoration-time rewriting.

Written by an adversarial review; the four bugs it found (an IndexError from the unbound hook when capture
ended during a call, a false failure warning from the frame-read hooks then, and two reads of a bounded
deque racing with appends) are fixed, and these tests keep them fixed.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import warnings
from collections import namedtuple
from typing import Any

import pytest

import anycapture
from anycapture import CaptureWarning, EmptyCaptureError, _engine, capture, get_local

# -- functions under test ------------------------------------------------------------------------


def many_returns(n: int) -> int:
    if n == 0:
        a = 0
        return a
    if n == 1:
        b = 1
        return b
    try:
        a = 2
        if n == 2:
            return a
        b = 3
    except ValueError:
        return -1
    finally:
        c = 4
    if n == 3:
        del a
        return b
    return a + b + c


def expected_many(n: int) -> dict[str, Any]:
    """The values of a, b, c at the return taken by many_returns(n)."""
    return {
        0: {"a": 0},
        1: {"b": 1},
        2: {"a": 2, "c": 4},
        3: {"b": 3, "c": 4},
        4: {"a": 2, "b": 3, "c": 4},
    }[n]


def with_return(n: int) -> int:
    import contextlib

    with contextlib.nullcontext():
        if n:
            x = n * 2
            return x
    y = 5
    return y


def except_as(n: int) -> int:
    try:
        if n:
            raise ValueError(n)
        e = "bound"
    except ValueError as e:
        r = 1
        return r
    r = 0
    return r


def closure_cells(n: int) -> Any:
    cell = n + 1

    def inner() -> int:
        return cell

    if n < 0:
        del cell
        return None
    return inner()


def comprehension_same_name(xs: list[int]) -> Any:
    total = sum([x for x in xs])
    if xs:
        x = xs[-1]
    return total


def recursive(n: int) -> int:
    depth = n
    if n == 0:
        return 0
    return recursive(n - 1) + depth


def gen(n: int) -> Any:
    acc = 0
    for i in range(n):
        acc += i
        yield i
    if n > 2:
        extra = acc * 10
        return extra
    return acc


async def coro(n: int) -> int:
    await asyncio.sleep(0)
    val = n + 100
    return val


async def agen(n: int) -> Any:
    last = None
    for i in range(n):
        last = i
        yield i


def maybe(flag: bool) -> int:
    if flag:
        y = 7
    return 0


# -- 1. engine: collectors and guarded loads, both blocks and get_local at once --------------


def test_many_returns_capture_block(backend: str) -> None:
    with capture(many_returns, "a", "b", "c") as cap:
        outs = [many_returns(n) for n in range(5)]
    assert outs == [0, 1, 2, 3, 9]
    got: dict[int, dict[str, Any]] = {}
    for rec in cap.records:
        got.setdefault(rec.call, {})[rec.name] = rec.value
    assert got == {n: expected_many(n) for n in range(5)}


def test_many_returns_get_local_and_block_at_once(backend: str) -> None:
    get_local("a", "b", "c")(many_returns)
    get_local.activate(values="raw")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CaptureWarning)
        with capture(many_returns, "c", "b") as cap:
            outs = [many_returns(n) for n in range(5)]
    assert outs == [0, 1, 2, 3, 9]
    exp = [expected_many(n) for n in range(5)]
    for name in "abc":
        assert get_local.cache.get(f"many_returns.{name}", []) == [e[name] for e in exp if name in e]
        if name != "a":
            assert cap.get(f"many_returns.{name}", []) == [e[name] for e in exp if name in e]


def test_with_return_and_except_as(backend: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CaptureWarning)
        with capture({with_return: ("x", "y"), except_as: ("e", "r")}) as cap:
            assert [with_return(n) for n in (0, 3)] == [5, 6]
            assert [except_as(n) for n in (0, 1)] == [0, 1]
    assert cap["with_return.x"] == [6]
    assert cap["with_return.y"] == [5]
    assert cap["except_as.r"] == [0, 1]
    # `e` is deleted at the end of the except clause: only the first call had it bound
    assert cap["except_as.e"] == ["bound"]


def test_closure_cells_and_del(backend: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CaptureWarning)
        with capture(closure_cells, "cell", "n") as cap:
            assert closure_cells(1) == 2
            assert closure_cells(-5) is None
    assert cap["closure_cells.cell"] == [2]
    assert cap["closure_cells.n"] == [1, -5]


def test_comprehension_same_name(backend: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CaptureWarning)
        with capture(comprehension_same_name, "x", "total") as cap:
            assert comprehension_same_name([]) == 0
            assert comprehension_same_name([1, 2]) == 3
        get_local("x")(comprehension_same_name)
        get_local.activate(values="raw")
        comprehension_same_name([])
        comprehension_same_name([4])
    assert cap["comprehension_same_name.x"] == [2]
    assert cap["comprehension_same_name.total"] == [0, 3]
    assert get_local.cache["comprehension_same_name.x"] == [4]


def test_recursion_records_each_level(backend: str) -> None:
    with capture(recursive, "depth") as cap:
        assert recursive(3) == 6
    assert cap["recursive.depth"] == [0, 1, 2, 3]
    assert [r.call for r in cap.records] == [0, 1, 2, 3]


def test_generators_coroutines_async_generators(backend: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CaptureWarning)
        with capture({gen: ("acc", "extra"), coro: "val", agen: "last"}) as cap:
            assert list(gen(2)) == [0, 1]
            assert list(gen(4)) == [0, 1, 2, 3]
            assert asyncio.run(coro(1)) == 101

            async def drain() -> list[int]:
                return [i async for i in agen(3)]

            assert asyncio.run(drain()) == [0, 1, 2]
    assert cap["gen.acc"] == [1, 6]
    assert cap["gen.extra"] == [60]
    assert cap["coro.val"] == [101]
    assert cap["agen.last"] == [2]


def test_unbound_gives_one_warning_not_a_record(backend: str) -> None:
    def fresh(flag: bool) -> int:
        if flag:
            y = 7
        return 0

    get_local("y")(fresh)
    get_local.activate(values="raw")
    with pytest.warns(CaptureWarning, match="'y' was not bound"):
        fresh(False)
    fresh(True)
    assert list(get_local.cache.values()) == [[7]]


# -- KeyboardInterrupt from sinks / collectors must propagate, never be taken for unbound ----


class Boom(KeyboardInterrupt):
    pass


def _raise_boom(value: Any) -> Any:
    raise Boom


@pytest.mark.parametrize("flag", [True, False])
def test_keyboard_interrupt_from_get_local_collate_propagates(backend: str, flag: bool) -> None:
    get_local("y")(maybe)
    get_local.set_collate_fn(_raise_boom)
    get_local.activate()
    if flag:
        with pytest.raises(Boom):
            maybe(True)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CaptureWarning)
            assert maybe(False) == 0  # unbound: nothing collated, nothing raised


@pytest.mark.parametrize("n", range(5))
def test_keyboard_interrupt_from_block_reduce_propagates(backend: str, n: int) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CaptureWarning)
        with pytest.raises(Boom), capture(many_returns, "a", "b", "c", reduce=_raise_boom):
            many_returns(n)


def test_keyboard_interrupt_in_generator_return(backend: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CaptureWarning)
        with pytest.raises(Boom), capture(gen, "extra", reduce=_raise_boom):
            list(gen(4))


# -- a call in flight when capture ends -------------------------------------------------------


def deactivating(flag: bool) -> int:
    """Turns get_local off before it returns, as another thread could at that moment."""
    if flag:
        y = 1
    get_local.deactivate()
    return 5


def test_unbound_hook_after_deactivate_in_flight(backend: str) -> None:
    get_local("y")(deactivating)
    get_local.activate(values="raw")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CaptureWarning)
        assert deactivating(False) == 5  # must never raise


def in_flight_thread(go: threading.Event, done: threading.Event, flag: bool) -> int:
    if flag:
        y = 3
    done.set()
    go.wait(5)
    return 1


def test_unbound_hook_in_another_thread_while_deactivating(backend: str) -> None:
    get_local("y")(in_flight_thread)
    get_local.activate(values="raw")
    go, started = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", CaptureWarning)
                in_flight_thread(go, started, False)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    started.wait(5)
    get_local.deactivate()
    go.set()
    thread.join(5)
    assert errors == []


def test_block_exit_during_call_on_frame_read_path_is_quiet(backend: str) -> None:
    holder: dict[str, Any] = {}

    def closing(flag: bool) -> int:
        if flag:
            z = 1
        holder["cap"].close(report=False)  # as another thread's block exit could, at this moment
        return 5

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with capture(closing, "z") as cap:
            holder["cap"] = cap
            assert closing(False) == 5
    assert cap.records == []
    assert [str(w.message) for w in caught if "failed" in str(w.message)] == []


def test_get_local_deactivate_during_generator_return_is_quiet(backend: str) -> None:
    """On 3.12+ a generator's body runs inside a try region, so its returns read the frame."""

    def in_try(flag: bool) -> Any:
        if flag:
            y = 1
        get_local.deactivate()
        return 0  # `y` may be unbound
        yield

    get_local("y")(in_try)
    get_local.activate(values="raw")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert list(in_try(True)) == []
    assert [str(w.message) for w in caught if "failed" in str(w.message)] == []


# -- 2. capture blocks: re-entry, when="each", strict, model= ----------------------------------


def layer_fn(x: int) -> int:
    h = x * 3
    return h


def test_reentering_the_same_capture_object(backend: str) -> None:
    block = capture(layer_fn, "h", values="raw")
    with block as cap:
        layer_fn(1)
    assert cap["layer_fn.h"] == [3]
    layer_fn(2)  # outside: not recorded
    with block as cap2:
        layer_fn(4)
    assert cap2 is block
    assert block["layer_fn.h"] == [3, 12]
    assert [r.call for r in block.records] == [0, 1]


def test_reentering_after_strict_failure(backend: str) -> None:
    block = capture(layer_fn, "h", strict=True)
    with pytest.raises(EmptyCaptureError):
        with block:
            pass
    with block:
        layer_fn(5)
    assert block["layer_fn.h"] == [15]


def test_two_blocks_and_nested_blocks(backend: str) -> None:
    with capture(layer_fn, "h", values="raw") as outer:
        layer_fn(1)
        with capture(layer_fn, "h", "x", values="raw") as inner:
            layer_fn(2)
        layer_fn(3)
    assert outer["layer_fn.h"] == [3, 6, 9]
    assert inner["layer_fn.h"] == [6]
    assert inner["layer_fn.x"] == [2]


def each_fn(n: int) -> int:
    v = 1
    for i in range(n):
        v = v + i
    if n > 5:
        w = 2
    return v


def test_when_each_with_frame_read_return_block(backend: str) -> None:
    if backend != "bytecode":
        pytest.skip("when='each' needs bytecode")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CaptureWarning)
        with capture(each_fn, "v", when="each", values="raw") as each, capture(each_fn, "w", "v", values="raw") as ret:
            for n in (0, 3, 7):
                each_fn(n)
    vs = [r for r in each.records if r.name == "v"]
    assert [(r.call, r.assignment, r.value) for r in vs][:4] == [(0, 0, 1), (1, 0, 1), (1, 1, 1), (1, 2, 2)]
    assert sorted({r.call for r in vs}) == [0, 1, 2]
    assert ret["each_fn.v"] == [each_fn(0), each_fn(3), each_fn(7)]
    assert ret["each_fn.w"] == [2]
    # every call left the dispatcher's table of running calls at its return
    from anycapture._capture import _dispatchers

    assert not _dispatchers[id(each_fn)][1]._calls


def test_records_are_records(backend: str) -> None:
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


def test_thread_records_while_block_is_open(backend: str) -> None:
    with capture(maybe, "y", values="raw") as cap:
        threads = [threading.Thread(target=lambda: [maybe(True) for _ in range(200)]) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert cap["maybe.y"] == [7] * 800
    assert len({r.order for r in cap.records}) == 800


# -- 4. get_local prepares at decoration ----------------------------------------------------------


def test_decorating_with_invalid_backend_does_not_raise(monkeypatch: pytest.MonkeyPatch) -> None:
    def f1(x: int) -> int:
        y = x + 1
        return y

    monkeypatch.setenv("ANYCAPTURE_BACKEND", "nonsense")
    assert get_local("y")(f1) is f1
    assert f1(1) == 2
    with pytest.raises(anycapture.BackendUnavailableError):
        get_local.activate()
    monkeypatch.delenv("ANYCAPTURE_BACKEND")
    try:
        get_local.activate(values="raw")
        f1(4)
        assert get_local.cache["test_decorating_with_invalid_backend_does_not_raise.<locals>.f1.y"] == [5]
    finally:
        get_local.deactivate()
        get_local.clear()


def test_code_replaced_between_decoration_and_activation(backend: str) -> None:
    def f2(x: int) -> int:
        y = x + 1
        return y

    def other(x: int) -> int:
        y = x * 100
        return y

    get_local("y")(f2)
    f2.__code__ = other.__code__
    get_local.activate(values="raw")
    assert f2(2) == 200
    assert list(get_local.cache.values()) == [[200]]
    get_local.deactivate()
    assert f2.__code__ is other.__code__


def test_decorating_twice_with_different_names(backend: str) -> None:
    def f3(x: int) -> int:
        a = x + 1
        b = a * 2
        return b

    get_local("a")(f3)
    get_local("b")(f3)
    get_local.activate(values="raw")
    f3(1)
    prefix = "test_decorating_twice_with_different_names.<locals>.f3."
    assert get_local.cache[prefix + "a"] == [2]
    assert get_local.cache[prefix + "b"] == [4]


def test_decorating_while_a_block_is_active(backend: str) -> None:
    def f4(x: int) -> int:
        a = x + 1
        return a

    with capture(f4, "a", values="raw") as cap:
        get_local("a")(f4)
        f4(1)
    get_local.activate(values="raw")
    f4(2)
    assert cap.values()
    assert list(cap.values()) == [[2]]
    assert list(get_local.cache.values()) == [[3]]


# -- 3. asynchronous copies (run on CPU tensors through the CUDA path) ---------------------------


@pytest.fixture
def async_cpu(monkeypatch: pytest.MonkeyPatch) -> Any:
    pytest.importorskip("torch")
    pytest.importorskip("numpy")
    from anycapture import _copies

    monkeypatch.setitem(_copies.ASYNC_DEVICE_TYPES, "cpu", "cpu")
    yield
    get_local.deactivate()
    get_local.clear()
    get_local.set_size(None)
    get_local.set_collate_fn(None)


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


# -- a loop of blocks: each block after the first reinstalls the plan the last one left -----------


def test_block_after_code_replaced_between_blocks(backend: str) -> None:
    def f3(x: int) -> int:
        y = x + 1
        return y

    def other(x: int) -> int:
        y = x * 100
        return y

    with capture(f3, "y", values="raw") as first:
        f3(1)
    f3.__code__ = other.__code__  # someone else's new code: the next block captures from it
    with capture(f3, "y", values="raw") as second:
        assert f3(2) == 200
    assert first["test_block_after_code_replaced_between_blocks.<locals>.f3.y"] == [2]
    assert second["test_block_after_code_replaced_between_blocks.<locals>.f3.y"] == [200]
    assert f3.__code__ is other.__code__


def test_blocks_alternating_names_and_subscribers(backend: str) -> None:
    for round_ in range(3):
        with capture(layer_fn, "h", values="raw") as one:
            layer_fn(1)
        with capture(layer_fn, "x", "h", values="raw") as two:
            layer_fn(2)
        get_local("h")(layer_fn)  # another subscriber between blocks
        get_local.activate(values="raw")
        with capture(layer_fn, "h", values="raw") as three:
            layer_fn(3)
        get_local.deactivate()
        assert one["layer_fn.h"] == [3]
        assert two["layer_fn.x"] == [2]
        assert two["layer_fn.h"] == [6]
        assert three["layer_fn.h"] == [9]
        assert get_local.cache["layer_fn.h"] == [9] * (round_ + 1)
    assert _engine.attached_backend(layer_fn) is None
    assert layer_fn.__code__ is _engine.original_code(layer_fn)


@pytest.mark.skipif("monitoring" not in anycapture.backends(), reason="sys.monitoring needs Python 3.12+")
def test_block_after_backend_forced_between_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANYCAPTURE_BACKEND", "bytecode")
    with capture(layer_fn, "h", values="raw") as first:
        assert _engine.attached_backend(layer_fn) == "bytecode"
        layer_fn(1)
    monkeypatch.setenv("ANYCAPTURE_BACKEND", "monitoring")
    with capture(layer_fn, "h", values="raw") as second:
        assert _engine.attached_backend(layer_fn) == "monitoring"
        layer_fn(2)
    assert first["layer_fn.h"] == [3]
    assert second["layer_fn.h"] == [6]


@pytest.mark.skipif("monitoring" not in anycapture.backends(), reason="sys.monitoring needs Python 3.12+")
def test_backend_forced_while_a_block_is_open_holds_for_the_next_block(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANYCAPTURE_BACKEND", raising=False)
    chosen = []
    with capture(layer_fn, "h", values="raw"):
        chosen.append(_engine.attached_backend(layer_fn))
        layer_fn(0)
        monkeypatch.setenv("ANYCAPTURE_BACKEND", "monitoring")  # too late for this block, not for the next
    with capture(layer_fn, "h", values="raw") as cap:
        chosen.append(_engine.attached_backend(layer_fn))
        monkeypatch.delenv("ANYCAPTURE_BACKEND")
        layer_fn(1)
    with capture(layer_fn, "h", values="raw"):
        chosen.append(_engine.attached_backend(layer_fn))
        layer_fn(2)
    assert chosen == ["bytecode", "monitoring", "bytecode"]
    assert cap["layer_fn.h"] == [3]


def test_keys_follow_a_function_renamed_between_blocks(backend: str) -> None:
    def renamed(x: int) -> int:
        y = x + 1
        return y

    with capture(renamed, "y", values="raw") as first:
        renamed(1)
    renamed.__qualname__, renamed.__module__ = "Other.renamed", "pkg.mod"
    with capture(renamed, "y", values="raw") as second:
        renamed(2)
    with capture(renamed, "y", values="raw", key_style="module") as third:
        renamed(3)
    assert list(first) == ["test_keys_follow_a_function_renamed_between_blocks.<locals>.renamed.y"]
    assert list(second) == ["Other.renamed.y"]
    assert [r.function for r in second.records] == ["pkg.mod:Other.renamed"]
    assert list(third) == ["pkg.mod:Other.renamed.y"]

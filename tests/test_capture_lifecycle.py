"""The life of a capture block: calls in flight as capture ends, blocks re-entered and nested, a loop
of blocks, and get_local preparing a function at decoration.

Written by an adversarial review; two bugs it found (an IndexError from the unbound hook when capture
ended during a call, and a false failure warning from the frame-read hooks then) are fixed, and these
tests keep them fixed.
"""

from __future__ import annotations

import threading
import warnings
from typing import Any

import pytest

import anycapture
from anycapture import CaptureWarning, EmptyCaptureError, _engine, capture, get_local

# -- a call in flight when capture ends -------------------------------------------------------


def deactivating(flag: bool) -> int:
    """Turns get_local off before it returns, as another thread could at that moment."""
    if flag:
        y = 1
    get_local.deactivate()
    return 5


def test_unbound_hook_after_deactivate_in_flight(backend: str) -> None:
    """A call that turns get_local off before returning with its variable unbound returns normally."""
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
    """A call in another thread returning with its variable unbound just after get_local was turned off raises
    nothing."""
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
    """A block closed while its call runs records nothing for that call and gives no 'failed' warning."""
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


# -- blocks re-entered and nested, and when='each' beside a return block -------------------------


def layer_fn(x: int) -> int:
    h = x * 3
    return h


def test_reentering_the_same_capture_object(backend: str) -> None:
    """A capture object entered a second time is the same object, and continues its values and call numbers."""
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
    """A strict block that raised EmptyCaptureError at its exit can be entered again and captures then."""
    block = capture(layer_fn, "h", strict=True)
    with pytest.raises(EmptyCaptureError):
        with block:
            pass
    with block:
        layer_fn(5)
    assert block["layer_fn.h"] == [15]


def test_two_blocks_and_nested_blocks(backend: str) -> None:
    """A block nested in another on the same function gets only the calls made inside it, and the outer block gets them
    all."""
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
    """A when='each' block and a return block on one function each record their own way, and every call leaves the
    dispatcher's table of running calls."""
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
    from anycapture._dispatch import _dispatchers

    assert not _dispatchers[id(each_fn)][1]._calls


# -- get_local prepares a function at decoration -------------------------------------------------


def test_decorating_with_invalid_backend_does_not_raise(monkeypatch: pytest.MonkeyPatch) -> None:
    """Decorating with get_local under an unknown ANYCAPTURE_BACKEND leaves the function working; activate() raises
    then, and works once the setting is removed."""

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
    """A function whose code was replaced after get_local decorated it is captured from its new code, which deactivate()
    leaves in place."""

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
    """A function decorated twice by get_local with different names captures both names."""

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
    """Decorating a function with get_local while a block captures it keeps the block's value and get_local's later ones
    apart."""

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


# -- a loop of blocks: each block after the first reinstalls the plan the last one left -----------


def test_block_after_code_replaced_between_blocks(backend: str) -> None:
    """A block after someone replaced the function's code captures from the new code, and leaves that code in place."""

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
    """A loop of blocks with changing names, with get_local joining between them, gives each block its own values and
    leaves the original code."""
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
    """A backend forced through ANYCAPTURE_BACKEND between two blocks is the one the next block attaches."""
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
    """A backend forced while a block is open is not that block's but the next one's, and the block after that one,
    opened once the setting is removed, is back on the default backend."""
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
    """A function renamed between blocks gets keys and a function name from its new __qualname__ and __module__."""

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


def test_entering_a_block_under_a_backend_that_cannot_run_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    """Entering a capture block while ANYCAPTURE_BACKEND forces a backend that cannot run raises there,
    naming it, and leaves the function as it was; once the setting is removed, blocks capture."""

    def forward(x: int) -> int:
        attn = x * 2
        return attn

    code = forward.__code__
    for _ in range(2):  # the second block is made from capture()'s remembered plan
        with capture(forward, "attn", values="raw") as cap:
            forward(1)
        assert list(cap.values()) == [[2]]
    monkeypatch.setenv("ANYCAPTURE_BACKEND", "nonsense")
    block = capture(forward, "attn", values="raw")
    with pytest.raises(anycapture.BackendUnavailableError, match="'nonsense' cannot be used"):
        block.__enter__()
    assert forward.__code__ is code
    monkeypatch.delenv("ANYCAPTURE_BACKEND")
    with capture(forward, "attn", values="raw") as cap:
        forward(2)
    assert list(cap.values()) == [[4]]


def test_second_close_reports_after_an_interrupt_while_making_records(
    backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C while a block's end makes the records its report needs leaves the block open: a second
    close() makes them and reports the target that never ran."""
    import anycapture._capture

    def y_of(x: int) -> int:
        y = x * 2
        return y

    def z_of(x: int) -> int:
        z = x + 1
        return z

    made = anycapture._capture.make_records
    interrupted: list[bool] = []

    def make_once(intake: Any, recorders: Any) -> None:
        if not interrupted:
            interrupted.append(True)
            raise KeyboardInterrupt
        made(intake, recorders)

    monkeypatch.setattr(anycapture._capture, "make_records", make_once)
    cap = capture({y_of: "y", z_of: "z"}, values="raw")
    cap.__enter__()
    y_of(1)
    with pytest.raises(KeyboardInterrupt):
        cap.close()
    with pytest.warns(CaptureWarning, match="z_of never ran"):
        cap.close()
    assert [record.value for record in cap.records] == [2]

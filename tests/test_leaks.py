"""Nothing anycapture holds keeps a captured value, a frame or a function alive longer than asked."""

from __future__ import annotations

import gc
import weakref
from typing import Any

import pytest

import anycapture
from anycapture import capture, edit, get_local


class Value:
    """A captured value that can be weakly referenced."""


def make_function() -> Any:
    def work(flag: bool) -> Value:
        held = Value()
        held = Value() if flag else held
        return held

    return work


def _dead(ref: weakref.ref[Any]) -> bool:
    gc.collect()
    return ref() is None


def test_get_local_clear_releases_values(active: str) -> None:
    """get_local.clear() lets the values the cache held be freed."""
    func = make_function()
    get_local("held")(func)
    value_ref = weakref.ref(func(True))
    assert not _dead(value_ref)  # kept by the cache
    get_local.clear()
    assert _dead(value_ref)


def test_capture_block_keeps_values_only_in_its_result(backend: str) -> None:
    """After the block, values live in the result alone; dropping the result frees them."""
    func = make_function()
    with capture(func, "held", values="raw") as cap:
        value_ref = weakref.ref(func(True))
    assert not _dead(value_ref)
    del cap
    assert _dead(value_ref)


@pytest.mark.parametrize("when", ["return", "each"])
def test_dropping_a_block_frees_its_values_without_the_garbage_collector(backend: str, when: str) -> None:
    """No reference cycle holds a block: its values die as soon as the result is dropped, not at the
    next collection (a block per forward would otherwise keep every batch's maps for a while)."""
    if when == "each" and backend != "bytecode":
        pytest.skip("when='each' needs the bytecode backend")
    func = make_function()
    gc.collect()
    gc.disable()
    try:
        with capture(func, "held", values="raw", when=when) as cap:  # type: ignore[arg-type]
            value_ref = weakref.ref(func(True))
        assert value_ref() is not None
        del cap
        assert value_ref() is None
    finally:
        gc.enable()


def test_capture_clear_releases_values(backend: str) -> None:
    """A block's clear() lets the values it held be freed."""
    func = make_function()
    with capture(func, "held", values="raw") as cap:
        value_ref = weakref.ref(func(False))
    cap.clear()
    assert _dead(value_ref)


def test_each_mode_keeps_no_frame_after_the_block(backend: str) -> None:
    """when='each' follows calls by frame; frames of calls that raised are let go at the block's end."""
    if backend != "bytecode":
        pytest.skip("when='each' needs the bytecode backend")
    refs: list[weakref.ref[Any]] = []

    def raises(n: int) -> None:
        local = Value()
        refs.append(weakref.ref(local))
        raise ValueError(n)

    with capture(raises, "local", when="each", values="raw") as cap:
        for i in range(3):
            with pytest.raises(ValueError, match=str(i)):
                raises(i)
    del cap
    assert all(_dead(ref) for ref in refs)
    assert not anycapture._dispatch._dispatcher(raises)._calls


def test_functions_captured_by_blocks_can_be_collected(backend: str) -> None:
    """A function captured, edited and then dropped is garbage collected with its code."""
    func = make_function()
    with capture(func, "held"):
        func(True)
    if backend == "bytecode":
        with edit(func, "held", lambda v: v, at=0):
            func(True)
    func_ref = weakref.ref(func)
    del func
    assert _dead(func_ref)


def test_function_registries_forget_collected_functions(backend: str) -> None:
    """The engine's and the blocks' records of a function (kept between blocks) go when it does."""
    func = make_function()
    key = id(func)
    for _ in range(2):
        with capture(func, "held", values="raw"):
            func(True)
    assert key in anycapture._engine._targets
    assert key in anycapture._dispatch._dispatchers
    del func
    gc.collect()
    assert key not in anycapture._engine._targets
    assert key not in anycapture._dispatch._dispatchers


def test_registry_callbacks_survive_module_teardown(backend: str) -> None:
    """At interpreter exit, module globals become None before the last functions die: the weak
    reference callbacks that keep the registries must not look their registry up as a global."""
    import sys

    func = make_function()
    with capture(func, "held", values="raw"):
        func(True)
    errors: list[Any] = []
    with pytest.MonkeyPatch.context() as patch:  # undone before the backend fixture's teardown
        patch.setattr(sys, "unraisablehook", errors.append)
        patch.setattr(anycapture._engine, "_targets", None)
        patch.setattr(anycapture._dispatch, "_dispatchers", None)
        del func
        gc.collect()
    assert errors == []


def test_edit_block_releases_fn_and_its_captures(backend: str) -> None:
    """The edit's fn (and what it closes over) is dropped when the block ends."""
    if backend != "bytecode":
        pytest.skip("edit needs the bytecode backend")
    func = make_function()
    big = Value()

    def fn(value: Any, keep: Any = big) -> Any:
        return value

    with edit(func, "held", fn, at=0):
        func(True)
    big_ref = weakref.ref(big)
    del big, fn
    assert _dead(big_ref)
    assert func(False) is not None


def test_module_functions_captured_with_torch_loaded_can_be_collected(backend: str) -> None:
    """With torch imported, the torch.compile guard keeps nothing that holds the function: a function
    whose globals hold it (any module-level function) is freed with its module."""
    pytest.importorskip("torch")
    import types

    module = types.ModuleType("short_lived")
    exec("def forward(x):\n    attn = x + 1\n    return attn\n", module.__dict__)
    with capture(module.forward, "attn") as cap:
        module.forward(1)
    assert cap["forward.attn"] == [2]
    func_ref = weakref.ref(module.forward)
    del module, cap
    assert _dead(func_ref)

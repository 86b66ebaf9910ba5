"""Capture never changes the dict ``locals()`` returned: on 3.11 and 3.12 a read of ``frame.f_locals``
refreshes that very dict, so the bytecode backend never reads it at a return (cells and free
variables included); the one backend that must (``monitoring`` on 3.12) is the documented limit."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable
from typing import Any

import pytest

import anycapture

# sys.monitoring on 3.12 can read a returning frame's variables only through frame.f_locals.
REFRESHES = sys.version_info[:2] == (3, 12)


def snapshot(flag: bool) -> dict[str, Any]:
    if flag:
        a = 1
    read_a = lambda: a  # noqa: E731 - makes `a` a cell variable, maybe unbound at the return
    d = locals()
    return d


def plain(flag: bool) -> dict[str, Any]:
    if flag:
        b = 1
    d = locals()
    return d


def in_try(flag: bool) -> dict[str, Any] | None:
    try:
        if flag:
            c = 1
        d = locals()
        return d
    except ValueError:
        return None


def outer() -> Callable[[bool], dict[str, Any]]:
    z = 5

    def inner(flag: bool) -> dict[str, Any]:
        if flag:
            w = z
        d = locals()
        return d

    return inner


def deletes_its_cell() -> int:
    x = 1

    def forget() -> None:
        nonlocal x
        del x

    forget()
    return 0


def plain_values(found: dict[str, Any]) -> dict[str, Any]:
    """The values that are not functions (each call makes its own lambda)."""
    return {key: value for key, value in found.items() if not callable(value)}


CASES = [
    (snapshot, ("a",)),
    (snapshot, ("a", "d")),
    (snapshot, ("read_a",)),
    (plain, ("b",)),
    (plain, ("b", "d")),
    (in_try, ("c",)),
    (in_try, ("c", "d")),
    (outer(), ("z",)),
    (outer(), ("z", "w", "d")),
]


@pytest.mark.parametrize(("func", "names"), CASES)
def test_the_dict_locals_returned_is_unchanged(backend: str, func: Any, names: tuple[str, ...]) -> None:
    """A function returning locals() returns the same keys captured, with variables unbound, cells and free ones."""
    for flag in (True, False):
        expected = func(flag)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", anycapture.CaptureWarning)  # a variable unbound at the return
            with anycapture.capture(func, *names) as cap:
                got = func(flag)
        if backend == "monitoring" and REFRESHES:
            # The documented limit (docs/guarantees.md): the read at the return refreshes the dict,
            # which then holds `d` too.
            assert got.keys() == expected.keys() | {"d"}
            continue
        assert got.keys() == expected.keys()
        assert plain_values(got) == plain_values(expected)
        bound = [name for name in names if name in expected or name == "d"]
        assert sorted(key.rsplit(".", 1)[1] for key in cap) == sorted(bound)


def test_a_cell_an_inner_function_deleted_is_not_read_as_bound(backend: str) -> None:
    """A cell deleted through nonlocal before the return records nothing, and the function returns normally."""
    with pytest.warns(anycapture.CaptureWarning, match="'x' of .*deletes_its_cell was never bound"):
        with anycapture.capture(deletes_its_cell, "x") as cap:
            assert deletes_its_cell() == 0
    assert dict(cap) == {}


def test_captured_values_are_those_of_the_return(backend: str) -> None:
    """Cells, free variables and maybe-unbound locals read under guards give the values the return sees."""
    inner = outer()
    with anycapture.capture(snapshot, "a") as first, anycapture.capture(inner, "z", "w") as second:
        snapshot(True)
        inner(True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", anycapture.CaptureWarning)
            inner(False)
    assert first["snapshot.a"] == [1]
    assert second["outer.<locals>.inner.z"] == [5, 5]
    assert second["outer.<locals>.inner.w"] == [5]


def holds_its_locals(x: int) -> dict[str, Any]:
    d = locals()
    y = x + 1
    return d


def test_each_assignment_leaves_the_dict_alone(backend: str) -> None:
    """when="each" (which reads a call's first argument for layer paths) does not refresh the dict locals() gave."""
    if backend != "bytecode":
        pytest.skip("when='each' needs the bytecode backend")
    expected = holds_its_locals(1)
    with anycapture.capture(holds_its_locals, "y", when="each") as cap:
        got = holds_its_locals(1)
    assert got == expected == {"x": 1}
    assert cap["holds_its_locals.y"] == [2]


def test_layer_paths_leave_the_callers_dict_alone(backend: str) -> None:
    """With model=, finding a plain function's layer from its callers does not refresh a caller's locals() dict."""
    torch = pytest.importorskip("torch")

    def scale(t: Any) -> Any:
        scaled = t * 2
        return scaled

    class Layer(torch.nn.Module):
        def forward(self, t: Any) -> Any:
            seen = locals()
            out = scale(t)
            return out, seen

    class Model(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layer = Layer()

        def forward(self, t: Any) -> Any:
            return self.layer(t)

    model = Model()
    _, expected = model(torch.ones(2))
    with anycapture.capture(scale, "scaled", model=model) as cap:
        _, got = model(torch.ones(2))
    assert got.keys() == expected.keys() == {"self", "t", "scale"}
    (record,) = cap.records
    assert record.path == "layer"

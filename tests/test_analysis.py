"""The definite-assignment pass that decides where a variable can be loaded directly."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from bytecode import Bytecode

from anycapture._analysis import bound_at_returns


def _bound(func: Callable[..., Any], *names: str) -> list[frozenset[str]]:
    code = Bytecode.from_code(func.__code__)
    args = code.argnames[: code.argcount]
    return list(bound_at_returns(code, list(names), args).values())


def straight(x: int) -> int:
    y = x
    return y


def branch(x: int) -> int:
    if x:
        y = 1
    return x


def both_branches(x: int) -> int:
    if x:  # noqa: SIM108 - two stores on two paths are the point
        y = 1
    else:
        y = 2
    return y


def deleted(x: int) -> int:
    y = x
    del y
    return x


def loop(n: int) -> int:
    for i in range(n):
        last = i
    return n


def handler(x: int) -> int:
    try:
        y = 1 // x
        z = 2
    except ZeroDivisionError:
        return -1
    return y + z


def except_as(x: int) -> int:
    try:
        raise ValueError
    except ValueError as err:
        pass
    return x


@pytest.mark.parametrize(
    ("func", "names", "expected"),
    [
        (straight, ("y", "x"), [{"x", "y"}]),
        (branch, ("y",), [set()]),
        (both_branches, ("y",), [{"y"}]),
        (deleted, ("y",), [set()]),
        (loop, ("last", "i"), [set()]),
        (handler, ("y", "z"), [set(), {"y", "z"}]),
        (except_as, ("err",), [set()]),
    ],
)
def test_bound_sets(func: Callable[..., Any], names: tuple[str, ...], expected: list[set[str]]) -> None:
    """Each reachable return gets exactly the names bound on every path to it.

    Compared as sets: 3.12+ duplicates a return into each branch that reaches it.
    """
    assert set(_bound(func, *names)) == {frozenset(e) for e in expected}

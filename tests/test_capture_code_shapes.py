"""Every shape of function body is captured as its frame holds it at the return.

Many returns, with-blocks, ``except ... as``, closures and ``del``, comprehensions that reuse a name,
recursion, generators, coroutines and asynchronous generators, through capture blocks and get_local
at once; and a KeyboardInterrupt raised by the user's reduce= or collate function at any of these
returns propagates, never taken for an unbound variable.
"""

from __future__ import annotations

import asyncio
import warnings
from typing import Any

import pytest

from anycapture import CaptureWarning, capture, get_local

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


# -- the values at every kind of return, through blocks and get_local at once -------------------


def test_many_returns_capture_block(backend: str) -> None:
    """A block captures, at each of a function's many returns (inside try/finally and after a del), exactly the names
    bound there."""
    with capture(many_returns, "a", "b", "c") as cap:
        outs = [many_returns(n) for n in range(5)]
    assert outs == [0, 1, 2, 3, 9]
    got: dict[int, dict[str, Any]] = {}
    for rec in cap.records:
        got.setdefault(rec.call, {})[rec.name] = rec.value
    assert got == {n: expected_many(n) for n in range(5)}


def test_many_returns_get_local_and_block_at_once(backend: str) -> None:
    """get_local and a block on the same many-return function each keep the values bound at every return, the block only
    for its own names."""
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
    """A return inside a with-block is captured, and an except-as name, deleted at the end of its clause, only where it
    was still bound."""
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
    """A variable that a closure reads (a cell) is captured like any other, and is missing from a call that deleted
    it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CaptureWarning)
        with capture(closure_cells, "cell", "n") as cap:
            assert closure_cells(1) == 2
            assert closure_cells(-5) is None
    assert cap["closure_cells.cell"] == [2]
    assert cap["closure_cells.n"] == [1, -5]


def test_comprehension_same_name(backend: str) -> None:
    """A comprehension's variable of the same name as a local is not the local: only the function's own binding is
    captured, by blocks and get_local."""
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
    """Each level of a recursion is its own call, the innermost returning and recorded first."""
    with capture(recursive, "depth") as cap:
        assert recursive(3) == 6
    assert cap["recursive.depth"] == [0, 1, 2, 3]
    assert [r.call for r in cap.records] == [0, 1, 2, 3]


def test_generators_coroutines_async_generators(backend: str) -> None:
    """Generators, coroutines and asynchronous generators are captured at the return that ends them, once per run."""
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
    """A variable unbound at get_local's return gives one CaptureWarning and no value; a later call that binds it gives
    its value."""

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


# -- a KeyboardInterrupt from reduce= or collate propagates, never taken for unbound --------------


class Boom(KeyboardInterrupt):
    pass


def _raise_boom(value: Any) -> Any:
    raise Boom


@pytest.mark.parametrize("flag", [True, False])
def test_keyboard_interrupt_from_get_local_collate_propagates(backend: str, flag: bool) -> None:
    """A KeyboardInterrupt raised by get_local's collate function reaches the caller, and an unbound variable calls no
    collate at all."""
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
    """A KeyboardInterrupt raised by a block's reduce= at any of the function's returns reaches the caller."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CaptureWarning)
        with pytest.raises(Boom), capture(many_returns, "a", "b", "c", reduce=_raise_boom):
            many_returns(n)


def test_keyboard_interrupt_in_generator_return(backend: str) -> None:
    """A KeyboardInterrupt raised by reduce= at a generator's return reaches the code iterating it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CaptureWarning)
        with pytest.raises(Boom), capture(gen, "extra", reduce=_raise_boom):
            list(gen(4))

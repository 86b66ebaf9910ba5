"""when="each" and edit() on assignment kinds and control flow the main tests do not reach."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import inspect
import sys
import threading
import traceback
import types
import warnings
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

import anycapture
from anycapture import CaptureWarning, assignments, capture, edit


@pytest.fixture
def rewriting(backend: str) -> str:
    """Only the bytecode backend can capture each assignment or edit."""
    if backend != "bytecode":
        pytest.skip("when='each' and edit() need the bytecode backend")
    return backend


def _each(func: Any, name: str, *args: Any) -> tuple[Any, list[tuple[int | None, Any]]]:
    """The function's result and the (site, value) of every assignment to ``name``."""
    with capture(func, name, when="each", values="raw") as cap:
        result = func(*args)
    return result, [(record.site, record.value) for record in cap.records]


@dataclasses.dataclass
class Point:
    x: int
    y: int


def matcher(subject: Any) -> Any:
    r = None
    match subject:
        case [r, _]:
            pass
        case {"k": r}:
            pass
        case Point(x=r):
            pass
        case [1, *r]:
            pass
        case (str() as r) | (bytes() as r):
            pass
        case _ as r:
            pass
    return r


@pytest.mark.parametrize(
    ("subject", "site", "value"),
    [
        ([1, 2], 1, 1),
        ({"k": 3}, 2, 3),
        (Point(4, 5), 3, 4),
        ([1, 2, 3], 4, [2, 3]),
        ("s", 5, "s"),
        (b"b", 5, b"b"),
        (7, 6, 7),
    ],
)
def test_match_capture_patterns_are_sites(rewriting: str, subject: Any, site: int, value: Any) -> None:
    """Each capture pattern of a match statement is one site; an or-pattern binding one name is one site."""
    assert [s.source for s in assignments(matcher, "r")][1:] == [
        "case [r, _]:",
        'case {"k": r}:',
        "case Point(x=r):",
        "case [1, *r]:",
        "case (str() as r) | (bytes() as r):",
        "case _ as r:",
    ]
    result, seen = _each(matcher, "r", subject)
    assert result == value
    assert seen == [(0, None), (site, value)]


def unpacker(xs: list[int]) -> Any:
    a, *rest = xs
    (a, (b, rest)), c = (xs[0], xs[1:3]), 3
    [a, *rest] = rest = a = [9, 8]
    return a, rest, b, c


def test_star_nested_and_chained_unpacking(rewriting: str) -> None:
    """Starred, nested and chained targets are each a site, assigned left to right."""
    sites = assignments(unpacker, "a")
    assert len(sites) == 4
    assert sites[2].line == sites[3].line  # one line, two targets
    assert sites[2].column < sites[3].column
    _, seen_a = _each(unpacker, "a", [1, 2, 3])
    _, seen_rest = _each(unpacker, "rest", [1, 2, 3])
    assert seen_a == [(0, 1), (1, 1), (2, 9), (3, [9, 8])]
    assert seen_rest == [(0, [2, 3]), (1, 3), (2, [8]), (3, [9, 8])]


class _Pair:
    def __enter__(self) -> tuple[int, int]:
        return (1, 2)

    def __exit__(self, *exc: object) -> bool:
        return False


def with_targets() -> Any:
    with _Pair() as (x, y):
        pass
    with _Pair() as x, _Pair() as y:
        pass
    return x, y


def importer() -> Any:
    import os.path as c  # noqa: I001 - three imports binding one name, in this order
    from os import sep as c  # noqa: F811
    import json as c  # noqa: F811

    return c


def star_handler() -> int:
    try:
        raise ExceptionGroup("g", [ValueError(1), KeyError(2)])
    except* ValueError as e:
        pass
    except* KeyError as e:
        pass
    return 1


def test_with_import_and_except_star_targets(rewriting: str) -> None:
    """`with ... as (x, y)`, `import a.b as c`, `from x import y as c` and `except* ... as e` are sites."""
    import json
    import os

    assert _each(with_targets, "y")[1] == [(0, 2), (1, (1, 2))]
    assert _each(importer, "c")[1] == [(0, os.path), (1, os.sep), (2, json)]
    sites = assignments(star_handler, "e")
    assert len(sites) == 2  # the compiler's `e = None; del e` cleanups are not sites
    _, seen = _each(star_handler, "e")
    assert [(site, type(value), [type(v) for v in value.exceptions]) for site, value in seen] == [
        (0, ExceptionGroup, [ValueError]),
        (1, ExceptionGroup, [KeyError]),
    ]


def for_else(xs: list[int]) -> Any:
    for i in xs:  # noqa: B007 - a for target
        pass
    else:
        i = -1
    return i


def finally_twice(flag: bool) -> int:
    try:
        if flag:
            return 1
    finally:
        z = 10
    z = 11
    return z


def test_for_else_and_finally_copies(rewriting: str) -> None:
    """A for target counts each iteration; a finally body compiled twice is one site, run once per path."""
    assert _each(for_else, "i", [1, 2]) == (-1, [(0, 1), (0, 2), (1, -1)])
    assert len(assignments(finally_twice, "z")) == 2
    assert _each(finally_twice, "z", True) == (1, [(0, 10)])
    assert _each(finally_twice, "z", False) == (11, [(0, 10), (1, 11)])


async def _numbers() -> AsyncIterator[int]:
    for i in range(2):
        yield i


class _Async:
    async def __aenter__(self) -> int:
        return 5

    async def __aexit__(self, *exc: object) -> bool:
        return False


async def coroutine() -> int:
    async with _Async() as q:
        pass
    async for q in _numbers():  # noqa: B007 - an async for target
        pass
    return q


def receiver() -> Iterator[int]:
    g = 0
    while True:
        g = yield g
        if g is None:
            return


def test_async_targets_and_generator_send(rewriting: str) -> None:
    """`async with`/`async for` targets in a coroutine, and `x = yield` in a generator, are sites."""
    with capture(coroutine, "q", when="each", values="raw") as cap:
        assert asyncio.run(coroutine()) == 1
    assert [(r.site, r.value, r.assignment, r.call) for r in cap.records] == [
        (0, 5, 0, 0),
        (1, 0, 1, 0),
        (1, 1, 2, 0),
    ]
    with capture(receiver, "g", when="each", values="raw") as cap:
        it = receiver()
        next(it)
        it.send(3)
        it.send(4)
        with pytest.raises(StopIteration):
            it.send(None)
    assert [(r.site, r.value) for r in cap.records] == [(0, 0), (1, 3), (1, 4), (1, None)]


def shadowed(data: list[int]) -> Any:
    x = 1
    fs = [lambda: x for x in data]  # noqa: B023 - the comprehension's own cell `x`
    x = 2
    with contextlib.suppress(ZeroDivisionError):
        _ = [1 / x for x in data]  # raises inside the comprehension
    return x, [f() for f in fs]


def unbound_before(data: list[int]) -> int:
    _ = [x for x in data]  # x is unbound outside before and after the comprehension
    with contextlib.suppress(ZeroDivisionError):
        _ = [1 / x for x in data]
    x = 5
    return x


def test_comprehension_variables_are_not_the_functions(rewriting: str) -> None:
    """A comprehension's variable (a cell, or raising, or restoring an unbound name) is never a site."""
    assert _each(shadowed, "x", [5, 0]) == ((2, [0, 0]), [(0, 1), (1, 2)])
    assert _each(unbound_before, "x", [5, 0]) == (5, [(0, 5)])
    with edit(shadowed, "x", lambda v: v * 10, at=1) as done:
        assert shadowed([5, 0]) == (20, [0, 0])
    assert done.applied == 1


@pytest.mark.skipif(sys.version_info < (3, 12), reason="3.12+ runs list comprehensions in the function's frame")
def test_walrus_in_a_comprehension_binds_the_functions_name(rewriting: str) -> None:
    """On 3.12+ `[(y := v) for v in data]` assigns the function's y: a site, editable."""

    def last(data: list[int]) -> int:
        y = 0
        _ = [(y := v) for v in data]
        return y

    assert [s.position for s in assignments(last, "y")] == [0, 1]
    assert _each(last, "y", [1, 7]) == (7, [(0, 0), (1, 1), (1, 7)])
    with edit(last, "y", lambda v: v * 100, at=1):
        assert last([3, 4]) == 400


def deep(x: int) -> Any:
    def g(*a: int, **k: int) -> int:
        return sum(a) + sum(k.values())

    r = g(1, 2, g(3, g(4, (y := x + 1), g(6, (y := y * 2), k=(y := y + 3))), z=g(y, (y := 11))))
    return r, y


def test_walrus_deep_inside_calls(rewriting: str) -> None:
    """Stores in the middle of deeply nested calls, with many values on the stack, keep the result."""
    expected = deep(1)
    with capture(deep, "y", when="each", values="raw") as cap, edit(deep, "y", lambda v: v, at=2):
        assert deep(1) == expected
    assert [r.value for r in cap.records] == [2, 4, 7, 11]


# -- edit() --------------------------------------------------------------------------------------


def looper(n: int) -> list[int]:
    acc = []
    for i in range(n):
        acc.append(i)
    return acc


def in_try(x: int) -> Any:
    y = x + 1
    try:
        y = y * 2
        raise ValueError(y)
    except ValueError as e:
        return y, e.args


def make_counter() -> tuple[Any, Any]:
    z = 0

    def bump(x: int) -> int:
        nonlocal z
        z = x + 1
        return z

    return bump, lambda: z


def test_edit_loop_variable_try_and_closures(rewriting: str) -> None:
    """Editing a for target keeps the loop going; inside try the edit stays; closures see edited cells."""
    with edit(looper, "i", lambda v: v * 10) as done:
        assert looper(4) == [0, 10, 20, 30]
    assert done.applied == 4
    with edit(in_try, "y", lambda v: -v, at=1):
        assert in_try(1) == (-4, (-4,))

    def cell(x: int) -> Any:
        y = x
        return (lambda: y)()

    with edit(cell, "y", lambda v: "edited"):
        assert cell(1) == "edited"
    bump, read = make_counter()
    with edit(bump, "z", lambda v: v * 100) as done:
        assert bump(1) == 200
    assert read() == 200  # the enclosing function's variable was edited through nonlocal
    with capture(bump, "z", when="each", values="raw") as cap:
        bump(5)
    assert [r.value for r in cap.records] == [6]


def swap(a: int, b: int) -> tuple[int, int, int]:
    a, b = b, a
    c = a
    return a, b, c


def test_edit_one_half_of_a_swap(rewriting: str) -> None:
    """`a, b = b, a` (one fused store on 3.13) edits only the chosen name."""
    with edit(swap, "a", lambda v: v * 100, at=0):
        assert swap(1, 2) == (200, 1, 200)
    with edit(swap, "b", lambda v: v * 100, at=0):
        assert swap(1, 2) == (2, 100, 2)


def recurse(n: int) -> list[int]:
    m = n
    if n > 0:
        return [m, *recurse(n - 1)]
    return [m]


def produce(n: int) -> Iterator[int]:
    for k in range(n):
        v = k
        yield v


def test_edit_recursion_generators_types_and_nesting(rewriting: str) -> None:
    """Edits apply in every recursive frame, in generators, may change the type, and nest in order."""
    with edit(recurse, "m", lambda v: v * 2) as done:
        assert recurse(3) == [6, 4, 2, 0]
    assert done.applied == 4
    with capture(recurse, "m", when="each", values="raw") as cap:
        recurse(3)
    assert [(r.value, r.call, r.assignment) for r in cap.records] == [(3, 0, 0), (2, 1, 0), (1, 2, 0), (0, 3, 0)]
    with edit(produce, "v", lambda v: v + 100):
        assert list(produce(3)) == [100, 101, 102]

    def twice(x: Any) -> Any:
        y = x
        return y + y

    with edit(twice, "y", str):
        assert twice(3) == "33"
    with edit(twice, "y", lambda v: v + 1) as outer:
        with edit(twice, "y", lambda v: v * 10) as inner:
            assert twice(1) == 40  # the outer block's edit first
        assert twice(1) == 4
    assert twice(1) == 2
    assert (outer.applied, inner.applied) == (2, 1)


def test_edit_from_many_threads(rewriting: str) -> None:
    """Every call in every thread is edited and counted."""

    def ident(x: int) -> int:
        y = x
        return y

    out: list[int] = []
    with edit(ident, "y", lambda v: v * 2) as done:
        threads = [threading.Thread(target=lambda i=i: [out.append(ident(i)) for _ in range(500)]) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sorted(set(out)) == [0, 2, 4, 6, 8, 10, 12, 14]
    assert done.applied == 4000


# -- what the user's code can observe ----------------------------------------------------------------


def observed(xs: list[int]) -> Any:
    y = 0
    lines = []
    for y in xs:
        lines.append(inspect.currentframe().f_lineno)  # type: ignore[union-attr]
        y = (y +
             1)  # fmt: skip
        try:
            y = 1 // (y - 3)
        finally:
            y = -1 if y else 2
    y = xs[
        10]  # fmt: skip
    return y


def _run_traced(xs: list[int]) -> tuple[list[tuple[str, int]], list[str]]:
    events: list[tuple[str, int]] = []

    def tracer(frame: types.FrameType, event: str, arg: object) -> Any:
        if frame.f_code.co_name == "observed":
            events.append((event, frame.f_lineno))
        return tracer

    old = sys.gettrace()
    sys.settrace(tracer)
    try:
        observed(xs)
    except Exception as exc:
        shown = traceback.format_exception(exc)
    else:
        shown = []
    finally:
        sys.settrace(old)
    return events, shown


def _positions(xs: list[int]) -> list[Any]:
    try:
        observed(xs)
    except Exception as exc:
        return [(f.lineno, getattr(f, "colno", None)) for f in traceback.extract_tb(exc.__traceback__)[1:]]
    return []


def test_tracebacks_line_events_and_f_lineno_are_unchanged(rewriting: str) -> None:
    """Captured and edited code gives the same line events, f_lineno and traceback positions."""
    plain = _run_traced([1, 4]), _positions([1, 4]), _positions([1, 2])
    with capture(observed, "y", when="each", values="raw") as cap, edit(observed, "y", lambda v: v, at=2):
        instrumented = _run_traced([1, 4]), _positions([1, 4]), _positions([1, 2])
    assert instrumented == plain
    assert plain[0][1]  # both raise, and each shows where
    assert plain[1]
    assert plain[2]
    assert cap.records


@pytest.mark.skipif(sys.version_info < (3, 12), reason="sys.monitoring is 3.12+")
def test_another_tools_line_events_are_unchanged(rewriting: str) -> None:
    """A sys.monitoring tool listening to the function's lines sees the same lines while it is captured."""
    monitoring = sys.monitoring
    tool = next(t for t in range(6) if monitoring.get_tool(t) is None)
    seen: list[int] = []

    def counted(x: int) -> int:
        y = x
        for i in range(2):
            y = y + i
        return y

    monitoring.use_tool_id(tool, "anycapture-tests")
    monitoring.register_callback(tool, monitoring.events.LINE, lambda code, line: seen.append(line))
    monitoring.set_local_events(tool, counted.__code__, monitoring.events.LINE)
    try:
        counted(1)
        plain, seen[:] = list(seen), []
        with capture(counted, "y", when="each", values="raw"), edit(counted, "i", lambda v: v, at=0):
            assert counted(1) == 2
        assert seen == plain
        seen.clear()
        counted(1)
        assert seen == plain
    finally:
        monitoring.set_local_events(tool, counted.__code__, 0)
        monitoring.register_callback(tool, monitoring.events.LINE, None)
        monitoring.free_tool_id(tool)


# -- options together --------------------------------------------------------------------------------


def three(x: int) -> int:
    y = x
    y = y + 1
    y = y * 2
    return y


def test_each_with_module_keys_max_size_and_a_return_block(rewriting: str) -> None:
    """key_style='module' and max_size work with each; an each block and a return block share a function."""
    with capture(three, "y", when="each", values="raw", key_style="module", max_size=2) as cap:
        three(1)
        three(2)
    key = f"{__name__}:three.y"
    assert dict(cap) == {key: [3, 6]}
    with capture(three, "y", when="each", values="raw", at=-1) as each, capture(three, "y", values="raw") as final:
        three(1)
        three(5)
    assert [(r.value, r.site) for r in each.records] == [(4, 2), (12, 2)]
    assert [(r.value, r.call) for r in final.records] == [(4, 0), (12, 1)]


def test_identity_edits_everywhere_keep_results_of_odd_control_flow(rewriting: str) -> None:
    """Identity edits at every site of every name, with each capture on, change no result or exception."""
    functions = [matcher, unpacker, with_targets, importer, star_handler, for_else, finally_twice, in_try, swap]
    arguments: dict[Any, list[tuple[Any, ...]]] = {
        matcher: [([1, 2],), ({"k": 3},), (7,)],
        unpacker: [([1, 2, 3],), ([1],)],
        with_targets: [()],
        importer: [()],
        star_handler: [()],
        for_else: [([1, 2],), ([],)],
        finally_twice: [(True,), (False,)],
        in_try: [(1,), (3,)],
        swap: [(1, 2)],
    }

    def outcomes(func: Any) -> list[Any]:
        out = []
        for args in arguments[func]:
            try:
                out.append(repr(func(*args)))
            except Exception as exc:
                out.append((type(exc), exc.args))
        return out

    for func in functions:
        code = func.__code__
        names = [n for n in code.co_varnames + code.co_cellvars if assignments(func, n)] if code.co_varnames else []
        expected = outcomes(func)
        with contextlib.ExitStack() as stack:
            stack.enter_context(warnings.catch_warnings())
            warnings.simplefilter("ignore", CaptureWarning)  # sites the chosen arguments never reach
            stack.enter_context(capture(func, *names, when="each", values="raw"))
            for name in names:
                for site in assignments(func, name):
                    stack.enter_context(edit(func, name, lambda v: v, at=site.position))
            assert outcomes(func) == expected, func.__name__
        assert func.__code__ is anycapture._engine.original_code(func)

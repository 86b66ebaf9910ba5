"""Every way a block files its calls gives the same records, as the per-call way does.

The short way: a block that alone captures a function, keeps its values in memory without a bound and has one target
files each call on the block's ``_pending`` list and makes the records later (``Capture._settle``).
``max_size=`` forces the per-call way, which each test here takes as the reference. The last tests
are regressions for differences an adversarial review found in the first version of the short way.

Every test runs twice: once as blocks run (the short way of a block keeping values as they are,
with no model or on a method of a module class, is filing directly: the function's code appends
each call's values to a list itself, ``_Dispatcher._refresh``), and once with filing
directly turned off, so that the short way through ``_Dispatcher.record`` is checked too.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import linecache
import subprocess
import sys
import textwrap
import threading
import time
import warnings
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import anycapture._dispatch
from anycapture import Capture, CaptureWarning, EmptyCaptureError, capture, get_local


@pytest.fixture(autouse=True, params=["direct", "through-record"])
def filing(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test with filing directly allowed (as blocks run), and without it."""
    monkeypatch.setattr(anycapture._dispatch, "_FILE_DIRECTLY", request.param == "direct")
    return str(request.param)


SHORT: dict[str, Any] = {}
PER_CALL: dict[str, Any] = {"max_size": 10**9}
MODES = (SHORT, PER_CALL)


# -- functions under test ------------------------------------------------------------------------


def branches(n: int) -> int:
    """a, b and c bound on some returns only; early returns."""
    if n == 0:
        a = 0
        return a
    if n == 1:
        b = 10
        return b
    a = n
    if n == 2:
        return a
    c = n * 100
    if n == 3:
        del a
        return c
    b = n * 10
    return a + b + c


def expected_branches(n: int) -> dict[str, int]:
    return {0: {"a": 0}, 1: {"b": 10}, 2: {"a": 2}, 3: {"c": 300}}.get(n, {"a": n, "b": n * 10, "c": n * 100})


def risky(n: int) -> int:
    a = n
    if n % 3 == 0:
        raise ValueError(n)
    b = n * 2
    return b


def gen(n: int) -> Any:
    for i in range(n):
        item = i * 2
        yield item
    total = n
    return total


async def coro(n: int) -> int:
    value = n + 1
    await asyncio.sleep(0)
    value *= 2
    return value


def rec(n: int) -> int:
    depth = n
    if n:
        rec(n - 1)
    return depth


def plain(x: int) -> int:
    y = x * 2
    return y


def summary(cap: Capture) -> list[tuple[Any, ...]]:
    """Every field of every record but the thread (checked apart), in record order."""
    return [
        (r.key, r.name, r.value, r.function, r.path, r.call, r.order, r.line, r.site, r.assignment) for r in cap.records
    ]


def report_of(body: Callable[[], Capture]) -> tuple[Capture, list[str]]:
    """Run ``body`` (which runs a block and returns it), with the CaptureWarnings it gave."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cap = body()
    return cap, [str(w.message) for w in caught if issubclass(w.category, CaptureWarning)]


def test_short_way_is_taken_and_records_are_made_when_read(backend: str, filing: str) -> None:
    """Sanity: the 'short' mode of these tests really files calls on pending, or onto the list its
    code appends to when filing directly (and the other does not)."""
    with capture(plain, "y", values="raw") as cap:
        plain(1)
        plain(2)
        direct = cap._recorders[0].direct
        if filing == "direct":
            assert (len(direct), len(cap._pending)) == (2, 0)
        else:
            assert (len(direct), len(cap._pending)) == (0, 2)
        assert cap["plain.y"] == [2, 4]
        assert direct == []
        # A key read takes the values of the calls waiting on the block's list, making no records;
        # calls filed directly are moved onto that list first, as records are made of them.
        assert len(cap._pending) == (0 if filing == "direct" else 2)
        assert [record.value for record in cap.records] == [2, 4]
        assert cap._pending == []
    with capture(plain, "y", values="raw", **PER_CALL) as cap2:
        plain(1)
        assert cap2._pending == []
        assert cap2["plain.y"] == [2]


def test_block_end_leaves_records_to_the_first_read(backend: str, filing: str) -> None:
    """A block's end makes no records of the calls filed the short way: a key read gives their values
    from the block's list, and the records made at a later read are numbered as if made at the end."""
    with capture(plain, "y", values="raw") as cap:
        plain(1)
        plain(2)
        plain(3)
    assert len(cap._pending) == 3  # moved onto the block's list (those filed directly too), not made
    assert cap["plain.y"] == [2, 4, 6]
    assert len(cap._pending) == 3
    records = cap.records
    assert [(record.value, record.call, record.order) for record in records] == [(2, 0, 0), (4, 1, 1), (6, 2, 2)]
    assert cap._pending == []
    assert cap["plain.y"] == [2, 4, 6]  # now from the records
    plain(4)  # after the block: nothing more
    assert cap["plain.y"] == [2, 4, 6]


def test_key_read_racing_another_threads_settle_gets_every_value(backend: str) -> None:
    """A key read that finds no records made yet, while another thread makes them and a new call
    comes, still gives every value in order (it reads the records, not only the newest call)."""
    paused, go = threading.Event(), threading.Event()

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        if frame.f_code.co_name != "_waiting_values":
            return None

        def local(frame: Any, event: str, arg: Any) -> Any:
            # Just before the list is copied: the other thread makes the records, then files a call.
            if (
                event == "line"
                and not paused.is_set()
                and "self._pending[:]" in linecache.getline(frame.f_code.co_filename, frame.f_lineno)
            ):
                paused.set()
                go.wait(10)
            return local

        return local

    read: list[Any] = []

    def reader() -> None:
        sys.settrace(tracer)
        try:
            read.append(cap["plain.y"])
        finally:
            sys.settrace(None)

    def settler() -> None:
        len(cap)  # makes the records of the two calls
        plain(3)

    with capture(plain, "y", values="numpy") as cap:  # converting: filed through record(), onto the list
        plain(1)
        plain(2)
        first = threading.Thread(target=reader)
        first.start()
        assert paused.wait(10)
        second = threading.Thread(target=settler)
        second.start()
        second.join()
        go.set()
        first.join()
    assert [int(value) for value in read[0]] == [2, 4, 6]


# -- the same records both ways ------------------------------------------------------------------


@pytest.mark.parametrize("read_during", [False, True])
def test_unbound_variables_and_early_returns_match(backend: str, read_during: bool) -> None:
    """Several variables, some unbound at some returns: same calls, orders and keys both ways."""
    results = []
    for mode in MODES:

        def body(mode: dict[str, Any] = mode) -> Capture:
            with capture(branches, "a", "b", "c", values="raw", **mode) as cap:
                for n in [4, 0, 1, 2, 3, 5]:
                    branches(n)
                    if read_during:
                        len(cap)
            return cap

        cap, messages = report_of(body)
        results.append((summary(cap), {k: cap[k] for k in cap}, messages))
    assert results[0] == results[1]
    records, values, messages = results[0]
    assert messages == []
    expected = []
    order = 0
    for call, n in enumerate([4, 0, 1, 2, 3, 5]):
        for name in "abc":
            if name in expected_branches(n):
                expected.append((name, expected_branches(n)[name], call, order))
                order += 1
    assert [(r[1], r[2], r[5], r[6]) for r in records] == expected
    assert values == {"branches.a": [4, 0, 2, 5], "branches.b": [40, 10, 50], "branches.c": [400, 300, 500]}


@pytest.mark.parametrize("strict", [False, True])
def test_never_bound_report_matches(backend: str, strict: bool) -> None:
    """'c' never bound, and a target that never ran: the same report both ways, with reads or not."""
    for read_during in (False, True):
        outcomes = []
        for mode in MODES:
            cap = capture(branches, "a", "c", values="raw", strict=strict, **mode)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    with cap:
                        branches(0)
                        if read_during:
                            assert cap["branches.a"] == [0]
                        branches(2)
                    outcome = "ok"
                except EmptyCaptureError as exc:
                    outcome = str(exc)
            outcomes.append((outcome, [str(w.message) for w in caught], cap._recorders[0].calls))
        assert outcomes[0] == outcomes[1]
        message = f"nothing captured for: 'c' of {__name__}:branches was never bound in its 2 call(s)."
        assert outcomes[0] == ((message, [], 2) if strict else ("ok", [message], 2))
    for mode in MODES:
        with pytest.warns(CaptureWarning, match="never ran inside the capture block"):
            with capture(branches, "a", values="raw", **mode):
                pass


def test_exceptions_inside_the_target_match(backend: str) -> None:
    """Calls that raise are not returns: the same records (and call numbers) both ways."""
    results = []
    for mode in MODES:
        with capture(risky, "a", "b", values="raw", **mode) as cap:
            for n in range(7):
                with contextlib.suppress(ValueError):
                    risky(n)
        results.append((summary(cap), cap._recorders[0].calls, cap._recorders[0].bound))
    assert results[0] == results[1]
    assert [(r[1], r[2], r[5]) for r in results[0][0]] == [
        ("a", 1, 0),
        ("b", 2, 0),
        ("a", 2, 1),
        ("b", 4, 1),
        ("a", 4, 2),
        ("b", 8, 2),
        ("a", 5, 3),
        ("b", 10, 3),
    ]


def test_generators_and_coroutines_match(backend: str) -> None:
    """Generator and coroutine targets (and one abandoned half-way): same records both ways."""
    results = []
    for mode in MODES:
        with capture(gen, "item", "total", values="raw", **mode) as cap:
            assert list(gen(3)) == [0, 2, 4]
            half = gen(5)
            next(half)
            next(half)
            del half
        with capture(coro, "value", values="raw", **mode) as cap2:
            assert asyncio.run(coro(3)) == 8
            assert asyncio.run(coro(5)) == 12
        results.append((summary(cap), summary(cap2)))
    assert results[0] == results[1]
    assert [r[2] for r in results[0][1]] == [8, 12]
    assert [r[5] for r in results[0][1]] == [0, 1]
    assert ("gen.total", "total", 3) in [r[:3] for r in results[0][0]]


def test_recursion_matches(backend: str) -> None:
    """The innermost call returns first, and is call 0, both ways."""
    results = []
    for mode in MODES:
        with capture(rec, "depth", values="raw", **mode) as cap:
            rec(3)
            rec(1)
        results.append(summary(cap))
    assert results[0] == results[1]
    assert [(r[2], r[5], r[6]) for r in results[0]] == [
        (0, 0, 0),
        (1, 1, 1),
        (2, 2, 2),
        (3, 3, 3),
        (0, 4, 4),
        (1, 5, 5),
    ]


_holder: list[Capture] = []


def reads_itself(n: int) -> int:
    seen = len(_holder[0].records)
    keys = len(_holder[0])
    both = (seen, keys)
    return n


def test_reading_the_block_from_inside_the_target(backend: str) -> None:
    """The target reads its own block (re-entrancy): it sees every earlier call, both ways."""
    results = []
    for mode in MODES:
        with capture(reads_itself, "both", values="raw", **mode) as cap:
            _holder[:] = [cap]
            for n in range(4):
                reads_itself(n)
            _holder.clear()
        results.append(summary(cap))
    assert results[0] == results[1]
    assert [r[2] for r in results[0]] == [(0, 0), (1, 1), (2, 1), (3, 1)]


def test_clear_mid_block_matches(backend: str) -> None:
    """clear() forgets records, not the counts the report uses, nor call and order numbers."""
    results = []
    for mode in MODES:

        def body(mode: dict[str, Any] = mode) -> Capture:
            with capture(branches, "a", "b", values="raw", **mode) as cap:
                branches(1)  # the only call binding b
                branches(2)
                cap.clear()
                assert len(cap) == 0
                branches(0)
                branches(2)
            return cap

        cap, messages = report_of(body)
        results.append((summary(cap), messages, list(cap)))
    assert results[0] == results[1]
    assert results[0][1:] == ([], ["branches.a"])
    assert [(r[2], r[5], r[6]) for r in results[0][0]] == [(0, 2, 2), (2, 3, 3)]


def test_reduce_that_raises_keeps_raw_value_and_warns_once(backend: str) -> None:
    """reduce= raising for one value: the raw value kept, one warning pointing at the target's code."""
    results = []
    for mode in MODES:

        def reduce(value: int) -> int:
            if value == 4:
                raise ArithmeticError("no")
            return value * 10

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with capture(plain, "y", values="raw", reduce=reduce, **mode) as cap:
                for x in range(4):
                    plain(x)
                plain(2)
        found = [(str(w.message), Path(w.filename).name) for w in caught if issubclass(w.category, CaptureWarning)]
        results.append((cap["plain.y"], found))
    assert results[0] == results[1]
    values, found = results[0]
    assert values == [0, 20, 4, 60, 4]
    assert len(found) == 1
    assert "ArithmeticError: no" in found[0][0]
    assert found[0][1] == Path(__file__).name


def make_array(n: int) -> Any:
    import numpy as np

    arr = np.arange(n)
    listed = [n, n]
    return arr


def test_values_numpy_matches() -> None:
    """values='numpy': the same values, calls and orders both ways, an array changed after the return included."""
    np = pytest.importorskip("numpy")
    results = []
    for mode in MODES:
        with capture(make_array, "arr", "listed", **mode) as cap:
            first = make_array(3)
            first[:] = -1  # the caller changes the array after the return
            make_array(2)
        results.append([(r[2].tolist() if isinstance(r[2], np.ndarray) else r[2], r[5], r[6]) for r in summary(cap)])
    assert results[0] == results[1]
    # numpy arrays are kept as they are (not copied), so the caller's change shows, both ways
    assert results[0] == [([-1, -1, -1], 0, 0), ([3, 3], 0, 1), ([0, 1], 1, 2), ([2, 2], 1, 3)]


class _Model:
    """Anything with ``named_modules()`` serves as ``model=``."""

    def __init__(self, *layers: object) -> None:
        self.layers = list(layers)

    def named_modules(self) -> list[tuple[str, object]]:
        return [("", self), *((f"layers.{i}", layer) for i, layer in enumerate(self.layers))]

    def forward(self, x: int) -> int:
        for layer in self.layers:
            x = layer.forward(x)  # type: ignore[attr-defined]
        return x


class _Layer:
    def named_modules(self) -> list[tuple[str, object]]:
        return [("", self)]

    def forward(self, x: int) -> int:
        out = scale(x)
        return out


def scale(x: int) -> int:
    score = x + 1
    return score


def test_model_paths_match(backend: str) -> None:
    """Paths from self, from callers' first arguments, and for a layer added during the block."""
    results = []
    for mode in MODES:
        model = _Model(_Layer(), _Layer())
        with capture(_Layer.forward, "out", model=model, values="raw", **mode) as cap:
            model.forward(0)
            model.layers.append(_Layer())
            model.forward(1)
            _Layer().forward(5)  # not a layer of the model
        with capture(scale, "score", model=model, values="raw", **mode) as cap2:
            model.forward(0)
            scale(9)
        results.append((summary(cap), summary(cap2)))
    assert results[0] == results[1]
    assert [(r[2], r[4], r[5]) for r in results[0][0]] == [
        (1, "layers.0", 0),
        (2, "layers.1", 1),
        (2, "layers.0", 2),
        (3, "layers.1", 3),
        (4, "layers.2", 4),
        (6, None, 5),
    ]
    assert [(r[2], r[4]) for r in results[0][1]] == [(1, "layers.0"), (2, "layers.1"), (3, "layers.2"), (10, None)]


def test_nested_and_overlapping_blocks_on_one_function(backend: str) -> None:
    """Blocks entered and left in either order: each keeps its calls in order, both ways for the outer."""
    results = []
    for mode in MODES:
        outer = capture(plain, "y", values="raw", **mode)
        inner = capture(plain, "y", values="raw")
        outer.__enter__()
        plain(1)
        inner.__enter__()  # both now on the per-call way
        plain(2)
        outer.close()  # inner alone again: the short way
        plain(3)
        inner.close()
        plain(4)
        late = capture(plain, "y", values="raw", **mode)
        with late:
            plain(5)
            with capture(plain, "y", values="raw") as nested:
                plain(6)
            plain(7)
        results.append((summary(outer), summary(inner), summary(late), summary(nested)))
    assert results[0] == results[1]
    outer_r, inner_r, late_r, nested_r = results[0]
    assert [(r[2], r[5], r[6]) for r in outer_r] == [(2, 0, 0), (4, 1, 1)]
    assert [(r[2], r[5], r[6]) for r in inner_r] == [(4, 0, 0), (6, 1, 1)]
    assert [(r[2], r[5], r[6]) for r in late_r] == [(10, 0, 0), (12, 1, 1), (14, 2, 2)]
    assert [(r[2], r[5], r[6]) for r in nested_r] == [(12, 0, 0)]


def test_same_block_entered_again_after_it_closed(backend: str) -> None:
    """A Capture re-entered after it closed continues its call and order numbers, both ways."""
    results = []
    for mode in MODES:
        cap = capture(plain, "y", values="raw", **mode)
        with cap:
            plain(1)
        plain(100)  # between the blocks: not captured
        with cap:
            plain(2)
            assert cap["plain.y"] == [2, 4]
            plain(3)
        results.append(summary(cap))
    assert results[0] == results[1]
    assert [(r[2], r[5], r[6]) for r in results[0]] == [(2, 0, 0), (4, 1, 1), (6, 2, 2)]


def test_each_block_mixed_with_a_return_block(backend: str) -> None:
    """A when='each' block on the function for a while: the return block keeps its calls in order."""
    if backend != "bytecode":
        pytest.skip("when='each' needs the bytecode backend")
    results = []
    for mode in MODES:
        with capture(branches, "a", values="raw", **mode) as cap:
            branches(2)
            with capture(branches, "c", values="raw", when="each") as each:
                branches(4)
                branches(2)
            branches(5)
        results.append((summary(cap), summary(each)))
    assert results[0] == results[1]
    assert [(r[2], r[5], r[6]) for r in results[0][0]] == [(2, 0, 0), (4, 1, 1), (2, 2, 2), (5, 3, 3)]
    assert [(r[2], r[5], r[9]) for r in results[0][1]] == [(400, 0, 0)]


def decorated(x: int) -> int:
    y = x + 1
    return y


def test_get_local_decorated_function_also_captured(backend: str) -> None:
    """get_local and a block on the same function each keep every call."""
    get_local("y")(decorated)
    get_local.activate(values="raw")
    results = []
    for mode in MODES:
        get_local.clear()
        with capture(decorated, "y", values="raw", **mode) as cap:
            decorated(1)
            decorated(2)
        decorated(3)
        results.append((summary(cap), list(get_local.cache["decorated.y"])))
    assert results[0] == results[1]
    assert [(r[2], r[5]) for r in results[0][0]] == [(2, 0), (3, 1)]
    assert results[0][1] == [2, 3, 4]


class _Big:
    def __init__(self, n: int) -> None:
        self.n = n


def wraps_big(n: int) -> Any:
    big = _Big(n)
    return big


def test_no_leak_after_the_block_is_dropped(backend: str) -> None:
    """With gc disabled, captured values die with the block result, read or not, both ways."""
    gc.collect()
    gc.disable()
    try:
        for mode in MODES:
            for read in (False, True):
                with capture(wraps_big, "big", values="raw", **mode) as cap:
                    wraps_big(1)
                    wraps_big(2)
                if read:
                    assert [b.n for b in cap["wraps_big.big"]] == [1, 2]
                refs = [weakref.ref(r.value) for r in cap.records]
                assert len(refs) == 2
                del cap
                assert [r() for r in refs] == [None, None]
    finally:
        gc.enable()


def test_threads_call_while_another_reads(backend: str) -> None:
    """Four threads call while a fifth reads: every call once, each thread's calls in order."""
    per_thread = 1500
    with capture(plain, "y", values="raw") as cap:
        stop = threading.Event()
        counts: list[int] = []

        def read() -> None:
            while not stop.is_set():
                counts.append(len(cap.get("plain.y", [])))
                len(cap.records)
                len(cap)

        def work(base: int) -> None:
            for i in range(per_thread):
                plain(base + i)

        reader = threading.Thread(target=read)
        reader.start()
        workers = [threading.Thread(target=work, args=(b * 10**6,)) for b in range(4)]
        for t in workers:
            t.start()
        for t in workers:
            t.join()
        stop.set()
        reader.join()
    records = cap.records
    assert len(records) == 4 * per_thread
    assert sorted(r.call for r in records) == list(range(4 * per_thread))
    assert [r.order for r in records] == list(range(4 * per_thread))
    assert counts == sorted(counts)
    for b in range(4):
        mine = [r for r in records if r.value // (2 * 10**6) == b]
        assert [r.value for r in mine] == [2 * (b * 10**6 + i) for i in range(per_thread)]
        assert [r.call for r in mine] == sorted(r.call for r in mine)
        assert len({r.thread for r in mine}) == 1


# -- regressions: differences the review found in the first short way, fixed ------------------


def test_first_argument_is_not_kept_alive_by_pending(backend: str) -> None:
    """A call waiting to become a record keeps only the captured values, not its other arguments."""
    alive = []
    for mode in MODES:

        def first_arg(box: _Big) -> int:
            y = box.n * 2
            return y

        with capture(first_arg, "y", values="raw", **mode) as cap:
            box = _Big(3)
            ref = weakref.ref(box)
            first_arg(box)
            del box
            alive.append(ref() is not None)
            assert cap[f"{first_arg.__qualname__}.y"] == [6]
    assert alive == [False, False]


def counted(i: int) -> int:
    z = i
    return z


def test_reader_sees_every_call_that_returned_before_it_read(backend: str, filing: str) -> None:
    """A reader waits for a settle running in another thread: it sees every call that returned before it read."""
    calls = 300_000
    with capture(counted, "z", values="raw") as cap:
        for i in range(calls):
            counted(i)
        # what the other thread empties first: the list filed directly onto, else the block's own
        pending = cap._recorders[0].direct if filing == "direct" else cap._pending
        assert len(pending) == calls
        other = threading.Thread(target=len, args=(cap,))  # settles the 300 000 calls
        other.start()
        deadline = time.monotonic() + 10
        while pending and time.monotonic() < deadline:
            time.sleep(0)
        try:
            seen = len(cap.get("counted.z", []))  # every call had returned before this read
        finally:
            other.join()
        assert seen == calls


def toggled(i: Any) -> Any:
    z = i
    return z


def test_blocks_starting_on_the_function_keep_each_threads_calls_in_order(backend: str) -> None:
    """Blocks starting and ending on the function while threads call it: each thread's calls stay in order."""
    stop = threading.Event()
    with capture(toggled, "z", values="raw") as cap:

        def work(k: int) -> None:
            j = 0
            while not stop.is_set():
                toggled((k, j))
                j += 1

        workers = [threading.Thread(target=work, args=(k,)) for k in range(2)]
        for t in workers:
            t.start()
        try:
            for _ in range(10):
                time.sleep(0.02)
                with capture(toggled, "z", values="raw"):
                    time.sleep(0.002)
        finally:
            stop.set()
            for t in workers:
                t.join()
    records = cap.records
    for k in range(2):
        mine = [r.value[1] for r in records if r.value[0] == k]
        assert mine == list(range(len(mine)))


def test_block_ending_while_a_call_is_in_flight(backend: str) -> None:
    """A call whose value is being reduced as the block ends: kept, and never reported as "never ran"."""
    outcomes = []
    for mode in MODES:
        started, release = threading.Event(), threading.Event()

        def slow(value: int, started: threading.Event = started, release: threading.Event = release) -> int:
            started.set()
            release.wait(10)
            return value

        def in_flight(x: int) -> int:
            y = x + 1
            return y

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with capture(in_flight, "y", values="raw", reduce=slow, **mode) as cap:
                caller = threading.Thread(target=in_flight, args=(1,))
                caller.start()
                assert started.wait(10)  # the call has returned: its value is being reduced
        release.set()
        caller.join()
        messages = [str(w.message) for w in caught if "never ran" in str(w.message)]
        outcomes.append((messages, cap.get(f"{in_flight.__qualname__}.y")))
    assert outcomes[0] == outcomes[1]


_DEADLOCK = """
import gc, sys, threading
from anycapture import capture

def target(i):
    z = i
    return z

with capture(target, "z", values="raw", **MODE) as cap:
    class Finalized:
        def __del__(self):
            target(-1)  # a finalizer that calls the target and reads the block
            len(cap)
    for i in range(5000):
        target(i)
    gc.collect()
    cycle = Finalized()
    cycle.me = cycle
    del cycle
    print(len(cap["target.z"]))  # gc runs inside settle's loop (5000 records)
print("done")
"""


def test_finalizer_reading_the_block_during_settle_does_not_deadlock() -> None:
    """A finalizer that calls the target and reads the block while it settles does not deadlock."""
    src = str(Path(__file__).resolve().parents[1] / "src")
    finished = []
    for mode in ("{}", "{'max_size': 10**9}"):
        script = textwrap.dedent(_DEADLOCK).replace("MODE", mode)
        try:
            done = subprocess.run(
                [sys.executable, "-c", script], env={"PYTHONPATH": src}, capture_output=True, text=True, timeout=60
            )  # a deadlock never ends; a loaded machine may still take some seconds to start Python
            finished.append(done.stdout.split()[-1:] == ["done"])
        except subprocess.TimeoutExpired:
            finished.append(False)
    assert finished == [True, True]


# -- regressions: calls in flight while the way of filing changes (review of filing directly) --------


def suspended(n: Any) -> Any:
    a = b = c = n
    yield 1
    return c


def test_call_of_an_earlier_layout_returning_later_is_filed_by_name(backend: str) -> None:
    """A generator suspended in code for one set of names returns after blocks came and went and
    the function files another way: its value is filed by name, and the function never raises."""
    first = capture(suspended, "c", values="raw", max_size=10)
    first.__enter__()
    gen = suspended(5)
    next(gen)  # suspended in code handing over (n, c)
    second = capture(suspended, "a", "b", values="raw", max_size=10)
    second.__enter__()
    first.close(report=False)
    held = capture(suspended, "c", values="raw")
    held.__enter__()
    second.close(report=False)  # held alone now (filing directly, when allowed)
    assert list(gen) == []  # returns now; raises nothing
    held.close(report=False)
    assert [(r.key, r.value, r.call) for r in held.records] == [(f"{suspended.__qualname__}.c", 5, 0)]


def test_call_in_flight_when_a_second_block_joins_reaches_both(backend: str) -> None:
    """A call that began while one block was alone and returns after a second joined is filed in
    both, as a call returning while two blocks are open always is."""

    def gen(n: str) -> Any:
        a = n
        yield
        return a

    first = capture(gen, "a", values="raw")
    first.__enter__()
    g = gen("in flight")
    next(g)
    second = capture(gen, "a", values="raw")
    second.__enter__()
    list(g)
    list(gen("after"))
    second.close()
    first.close()
    key = f"{gen.__qualname__}.a"
    assert first[key] == ["in flight", "after"]
    assert second[key] == ["in flight", "after"]


def test_call_in_flight_with_a_name_unbound_is_kept_when_the_way_changes(backend: str) -> None:
    """A call that returns, with one of its names unbound, after a second block joined (the code
    reads the frame there) is kept for both blocks."""
    started, release = threading.Event(), threading.Event()

    def f(n: int) -> int:
        a = n
        if n == 1:
            started.set()
            release.wait(10)
            return a  # b is unbound on this return
        b = n
        return a + b

    first = capture(f, "a", "b", values="raw")
    first.__enter__()
    caller = threading.Thread(target=f, args=(1,))
    caller.start()
    assert started.wait(10)
    second = capture(f, "a", "b", values="raw")
    second.__enter__()
    release.set()
    caller.join()
    f(2)
    second.close(report=False)
    first.close(report=False)
    expected = [("a", 1, 0), ("a", 2, 1), ("b", 2, 1)]
    assert [(r.name, r.value, r.call) for r in first.records] == expected
    assert [(r.name, r.value, r.call) for r in second.records] == expected


def test_call_returning_after_its_block_ended_keeps_nothing_alive(backend: str) -> None:
    """A suspended call that returns after its block ended and was dropped leaves no value alive."""

    def gen() -> Any:
        x = _Big(1)
        yield weakref.ref(x)
        return 1

    with capture(gen, "x", values="raw") as cap:
        g = gen()
        ref = next(g)
    del cap
    assert list(g) == []  # returns now, with no block on the function
    del g
    gc.collect()
    assert ref() is None


def many_names(n: Any) -> Any:
    x = n
    n0 = n1 = n2 = n3 = n4 = n5 = n6 = n7 = n8 = n9 = n
    n10 = n11 = n12 = n13 = n14 = n15 = n16 = n17 = n18 = n19 = n
    n20 = n21 = n22 = n23 = n24 = n25 = n26 = n27 = n28 = n29 = n
    n30 = n31 = n32 = n33 = n34 = n35 = n36 = n37 = n38 = n39 = n
    n40 = n41 = n42 = n43 = n44 = n45 = n46 = n47 = n48 = n49 = n
    n50 = n51 = n52 = n53 = n54 = n55 = n56 = n57 = n58 = n59 = n
    n60 = n61 = n62 = n63 = n64 = n65 = n66 = n67 = n68 = n69 = n
    yield weakref.ref(x) if isinstance(x, _Big) else None
    return x


def _many_layouts() -> None:
    """Capture ``many_names`` in more blocks, each watching another name, than layouts are remembered."""
    for i in range(anycapture._dispatch._MAX_LAYOUTS + 2):
        with capture(many_names, f"n{i}", values="raw") as cap:
            list(many_names(i))
        assert cap[f"{many_names.__qualname__}.n{i}"] == [i]


def test_call_returning_after_its_block_ended_keeps_nothing_alive_beyond_the_layouts_remembered(
    backend: str,
) -> None:
    """With more sets of watched names than are remembered, a call returning after its block ended
    and was dropped still leaves no value alive."""
    _many_layouts()
    with capture(many_names, "x", values="raw") as cap:
        g = many_names(_Big(1))
        ref = next(g)
    del cap
    assert list(g) == []  # returns now, with no block on the function
    del g
    gc.collect()
    assert ref is not None
    assert ref() is None


def test_call_in_flight_at_a_block_end_beyond_the_layouts_remembered_is_filed_by_the_next_block(
    backend: str,
) -> None:
    """With more sets of watched names than are remembered, a call in flight when its block ends
    is filed as blocks file when it returns: in the block open then, not the ended one."""
    _many_layouts()
    with capture(many_names, "x", values="raw") as first:
        g = many_names("in flight")
        next(g)
    with capture(many_names, "x", values="raw") as second:
        assert list(g) == []
        list(many_names("after"))
    key = f"{many_names.__qualname__}.x"
    assert first.get(key, []) == []
    assert second[key] == ["in flight", "after"]


_LATE_DEADLOCK = """
import sys, threading, time
import anycapture._dispatch
from anycapture import capture

anycapture._dispatch._FILE_DIRECTLY = FILE_DIRECTLY_VALUE
go, inside, in_reduce = threading.Event(), threading.Event(), threading.Event()

def f(x):
    a = x
    inside.set()
    go.wait()
    return a

def g(x):
    b = x
    return b

other = capture(g, "b", values="raw").__enter__()
g(1)  # a call of g waiting to become a record

def reduce(v):
    in_reduce.set()
    time.sleep(0.3)
    return (v, len(other))  # reads another block

held = capture(f, "a", values="raw").__enter__()
caller = threading.Thread(target=f, args=(1,))
caller.start()
inside.wait()
late = capture(f, "a", values="raw", reduce=reduce).__enter__()  # the call in flight now files late
go.set()
in_reduce.wait()
print(len(other))  # read while the late call's reduce reads it too
caller.join()
late.close()
held.close()
other.close()
print([r.value for r in late.records], "done")
"""


def test_call_filed_late_whose_reduce_reads_a_block_does_not_deadlock(filing: str) -> None:
    """A call in flight filed late into a block whose reduce= reads another block, while another
    thread reads that block: no lock is held while the user's reduce runs."""
    src = str(Path(__file__).resolve().parents[1] / "src")
    script = textwrap.dedent(_LATE_DEADLOCK).replace("FILE_DIRECTLY_VALUE", str(filing == "direct"))
    try:
        done = subprocess.run(
            [sys.executable, "-c", script], env={"PYTHONPATH": src}, capture_output=True, text=True, timeout=60
        )  # a deadlock never ends
    except subprocess.TimeoutExpired:
        pytest.fail("deadlock: the script did not finish in 60 s")
    assert done.stdout.split()[-3:] == ["[(1,", "1)]", "done"], done.stdout + done.stderr

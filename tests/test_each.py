"""when="each": the value after every assignment, tagged with its line, site and index in the call."""

from __future__ import annotations

import inspect
import sys
import threading
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

import anycapture
from anycapture import BackendUnavailableError, CaptureWarning, assignments, capture, get_local


def _line(func: Any, text: str) -> int:
    """The absolute line number of the first source line of ``func`` containing ``text``."""
    lines, first = inspect.getsourcelines(func)
    return first + next(i for i, line in enumerate(lines) if text in line)


def _values(cap: anycapture.Capture, name: str) -> list[Any]:
    return [record.value for record in cap.select(name=name)]


def attention(q: float, k: float) -> float:
    attn = q * k
    attn = attn + 1.0
    attn = attn / 2.0
    return attn * 3


def every_kind(xs: list[int], path: str) -> Any:
    a, b = xs  # tuple unpacking: a and b
    total = 0
    total += a  # augmented
    for total in xs:  # noqa: B007 - a for target
        pass
    with open(path) as total:  # a with target
        pass
    if (total := len(xs)) > 1:  # walrus
        pass
    try:
        raise KeyError(b)
    except KeyError as total:  # an except target (its compiler-made cleanup is not an assignment)
        pass
    total = [total for total in range(2)]  # a comprehension's own `total` is not the function's
    return total


def test_assignments_lists_sites_in_source_order() -> None:
    """assignments() lists what at= counts: position, line, column, source text."""
    sites = assignments(attention, "attn")
    assert [site.position for site in sites] == [0, 1, 2]
    assert [site.source for site in sites] == ["attn = q * k", "attn = attn + 1.0", "attn = attn / 2.0"]
    assert sites[0].line == _line(attention, "attn = q * k")
    assert sites[0].column == 4


def test_every_kind_of_assignment_counts(backend: str, tmp_path: Any) -> None:
    """Unpacking, +=, for, with, :=, except-as and plain assignment count; compiler stores do not."""
    sites = assignments(every_kind, "total")
    assert [site.source.split("#")[0].strip() for site in sites] == [
        "total = 0",
        "total += a",
        "for total in xs:",
        "with open(path) as total:",
        "if (total := len(xs)) > 1:",
        "except KeyError as total:",
        "total = [total for total in range(2)]",
    ]
    if backend != "bytecode":
        pytest.skip("when='each' needs the bytecode backend")
    path = tmp_path / "f.txt"
    path.write_text("x")
    with capture(every_kind, "total", "a", "b", when="each", values="raw") as cap:
        assert every_kind([5, 6], str(path)) == [0, 1]
    records = cap.select(name="total")
    values = [record.value for record in records]
    assert values[:5] == [0, 5, 5, 6, values[4]]
    assert values[4].name == str(path)  # the file object bound by `with ... as total`
    assert values[5] == 2
    assert isinstance(values[6], KeyError)
    assert values[7] == [0, 1]
    assert len(values) == 8
    assert [record.site for record in records] == [0, 1, 2, 2, 3, 4, 5, 6]
    assert [record.assignment for record in records] == list(range(8))
    assert [record.line for record in records] == [sites[s].line for s in [0, 1, 2, 2, 3, 4, 5, 6]]
    assert cap["every_kind.a"] == [5]
    assert cap["every_kind.b"] == [6]


def test_capture_each_records_every_value_with_tags(backend: str) -> None:
    """The raw scores, the shifted and the scaled value, each with its line, site and index."""
    if backend != "bytecode":
        pytest.skip("when='each' needs the bytecode backend")
    with capture(attention, "attn", when="each") as cap:
        assert attention(2.0, 3.0) == 10.5
        assert attention(1.0, 1.0) == 3.0
    assert cap["attention.attn"] == [6.0, 7.0, 3.5, 1.0, 2.0, 1.0]
    records = cap.records
    assert [r.call for r in records] == [0, 0, 0, 1, 1, 1]
    assert [r.site for r in records] == [0, 1, 2, 0, 1, 2]
    assert [r.assignment for r in records] == [0, 1, 2, 0, 1, 2]
    assert records[1].line == _line(attention, "attn = attn + 1.0")
    assert attention.__code__ is anycapture._engine.original_code(attention)


def test_at_and_line_choose_one_assignment(backend: str) -> None:
    """at= counts sites in source order (negative from the end); line= names a source line."""
    if backend != "bytecode":
        pytest.skip("when='each' needs the bytecode backend")
    with capture(attention, "attn", when="each", at=1) as second:
        attention(2.0, 3.0)
    with capture(attention, "attn", when="each", at=-1) as last:
        attention(2.0, 3.0)
    with capture(attention, "attn", when="each", line=_line(attention, "attn = q * k")) as first:
        attention(2.0, 3.0)
    assert second["attention.attn"] == [7.0]
    assert last["attention.attn"] == [3.5]
    assert first["attention.attn"] == [6.0]
    assert second.records[0].site == 1
    assert second.records[0].assignment == 1  # the call's second assignment to attn, kept alone


def test_get_local_each(backend: str) -> None:
    """get_local(..., when='each') puts every assigned value under the usual key, in order."""

    def scores(n: int) -> int:
        s = 0
        for i in range(n):
            s += i
        return s

    def shifted(q: float) -> float:
        attn = q * 2
        attn = attn + 1
        return attn

    if backend != "bytecode":
        get_local("s", when="each")(scores)
        get_local("i")(scores)
        with pytest.warns(CaptureWarning, match="needs the 'bytecode' backend.*Its values are not captured"):
            get_local.activate()  # the other functions, and final values, are still captured
        scores(3)
        assert get_local.cache["test_get_local_each.<locals>.scores.i"] == [2]
        assert "test_get_local_each.<locals>.scores.s" not in get_local.cache
        return
    assert get_local("s", when="each")(scores) is scores
    assert get_local("attn", when="each", at=0)(shifted) is shifted
    get_local.activate()
    scores(4)
    shifted(3.0)
    assert get_local.cache["test_get_local_each.<locals>.scores.s"] == [0, 0, 1, 3, 6]
    assert get_local.cache["test_get_local_each.<locals>.shifted.attn"] == [6.0]
    get_local.deactivate()
    assert scores.__code__ is anycapture._engine.original_code(scores)


def test_clear_errors() -> None:
    """Bad at=/line=/when=, never-assigned names and mixed modes are errors that list the sites."""
    with pytest.raises(IndexError, match=r"'attn' has 3 assignment\(s\).*at=0 \(line \d+: attn = q \* k\)"):
        capture(attention, "attn", when="each", at=3)
    with pytest.raises(ValueError, match="no assignment to 'attn' there"):
        capture(attention, "attn", when="each", line=1)
    with pytest.raises(ValueError, match=r"'q' is an argument of .* never assigns"):
        capture(attention, "q", when="each")
    with pytest.raises(TypeError, match="need when='each'"):
        capture(attention, "attn", at=0)
    with pytest.raises(ValueError, match="when='sometimes' is not a capture moment"):
        capture(attention, "attn", when="sometimes")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not both"):
        capture(attention, "attn", when="each", at=0, line=3)
    with pytest.raises(TypeError, match="at= is the position"):
        capture(attention, "attn", when="each", at="first")  # type: ignore[arg-type]


def test_mixed_modes_on_one_variable_are_refused(backend: str) -> None:
    """Decorating a variable already captured with when='return' again with when='each' raises a ValueError saying
    so."""

    def f(x: int) -> int:
        y = x
        return y

    get_local("y")(f)
    with pytest.raises(ValueError, match="already captured with when='return'"):
        get_local("y", when="each")(f)


def test_monitoring_refuses_each_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    """With sys.monitoring forced, asking for every assignment is an error, not a silent no-op."""
    monkeypatch.setenv("ANYCAPTURE_BACKEND", "monitoring")
    if "monitoring" not in anycapture.backends():
        pytest.skip("sys.monitoring needs Python 3.12+")
    with pytest.raises(BackendUnavailableError, match="needs the 'bytecode' backend"):
        capture(attention, "attn", when="each")
    assert attention.__code__ is anycapture._engine.original_code(attention)


def test_each_and_return_blocks_side_by_side(backend: str) -> None:
    """A when='each' block nested in a final-value block: each gets what it asked for."""
    if backend != "bytecode":
        pytest.skip("when='each' needs the bytecode backend")
    original = attention.__code__
    with capture(attention, "attn") as final:
        with capture(attention, "attn", when="each") as each:
            attention(2.0, 3.0)
        attention(1.0, 1.0)
    assert each["attention.attn"] == [6.0, 7.0, 3.5]
    assert final["attention.attn"] == [3.5, 1.0]
    assert attention.__code__ is original


def test_recursion_generators_and_raising_calls(backend: str) -> None:
    """Calls are told apart by frame: recursion, generators resumed later, calls that raise."""
    if backend != "bytecode":
        pytest.skip("when='each' needs the bytecode backend")

    def down(n: int) -> int:
        y = n
        if n:
            down(n - 1)
        y = -n
        return y

    def gen(n: int) -> Iterator[int]:
        z = n
        yield z
        z = n + 1
        yield z

    def fails(n: int) -> int:
        w = n
        w = 1 / (n - n)
        return int(w)

    with capture({down: "y", gen: "z", fails: "w"}, when="each", values="raw") as cap:
        down(2)
        g1, g2 = gen(10), gen(20)
        next(g1), next(g2), next(g1), next(g2)
        list(g1), list(g2)
        with pytest.raises(ZeroDivisionError):
            fails(5)
    ys = [(r.value, r.call, r.assignment) for r in cap.select(name="y")]
    assert ys == [(2, 0, 0), (1, 1, 0), (0, 2, 0), (0, 2, 1), (-1, 1, 1), (-2, 0, 1)]
    zs = [(r.value, r.call, r.assignment) for r in cap.select(name="z")]
    assert zs == [(10, 0, 0), (20, 1, 0), (11, 0, 1), (21, 1, 1)]
    assert _values(cap, "w") == [5]  # what was assigned before the raise is kept
    assert not anycapture._dispatch._dispatcher(down)._calls  # nothing kept after the block


def test_threads_count_their_own_assignments(backend: str) -> None:
    """Eight threads assigning at once: every value recorded, indices per call right."""
    if backend != "bytecode":
        pytest.skip("when='each' needs the bytecode backend")

    def work(n: int) -> int:
        acc = 0
        for i in range(n):
            acc += i
        return acc

    with capture(work, "acc", when="each", values="raw") as cap:
        threads = [threading.Thread(target=lambda: [work(5) for _ in range(200)]) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    records = cap.select(name="acc")
    assert len(records) == 8 * 200 * 6
    by_call: dict[int, list[int]] = {}
    for record in records:
        by_call.setdefault(record.call, []).append(record.assignment)  # type: ignore[arg-type]
    assert len(by_call) == 1600
    assert all(indices == list(range(6)) for indices in by_call.values())


def test_many_raising_calls_do_not_pile_up(backend: str) -> None:
    """Calls that raise leave no state behind for long: the sweep forgets them."""
    if backend != "bytecode":
        pytest.skip("when='each' needs the bytecode backend")

    def boom(n: int) -> None:
        v = n
        raise ValueError(v)

    with capture(boom, "v", when="each", values="raw") as cap:
        for i in range(500):
            with pytest.raises(ValueError, match=str(i)):
                boom(i)
        assert len(anycapture._dispatch._dispatcher(boom)._calls) <= 40
    assert _values(cap, "v") == list(range(500))
    assert [r.call for r in cap.records] == list(range(500))


def test_cells_and_free_variables(backend: str) -> None:
    """A variable an inner function reads (a cell) and one it assigns via nonlocal (free there)."""
    if backend != "bytecode":
        pytest.skip("when='each' needs the bytecode backend")

    def outer() -> int:
        c = 1
        c = c + 1

        def inner() -> int:
            nonlocal c
            c = c * 10
            return c

        inner()
        return c

    inner_code = next(k for k in outer.__code__.co_consts if inspect.iscode(k))
    assert [s.source for s in anycapture._analysis.assignment_sites(inner_code, "c")] == ["c = c * 10"]
    with capture(outer, "c", when="each") as cap:
        assert outer() == 20
    assert _values(cap, "c") == [1, 2]


def test_edit_and_each_together(backend: str) -> None:
    """At one site the edit runs first, so the recorded value is the edited one."""
    if backend != "bytecode":
        pytest.skip("edit needs the bytecode backend")
    with anycapture.edit(attention, "attn", lambda v: v * 100, at=0):
        with capture(attention, "attn", when="each") as cap:
            assert attention(2.0, 3.0) == (600.0 + 1) / 2 * 3
    assert cap["attention.attn"] == [600.0, 601.0, 300.5]


def test_failing_sink_leaves_the_function_alone(backend: str) -> None:
    """A reduce= that raises: one warning, raw value kept, the function's result unchanged."""
    if backend != "bytecode":
        pytest.skip("when='each' needs the bytecode backend")

    def bad(value: Any) -> Any:
        raise RuntimeError("no")

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with capture(attention, "attn", when="each", reduce=bad) as cap:
            assert attention(2.0, 3.0) == 10.5
    assert cap["attention.attn"] == [6.0, 7.0, 3.5]
    assert sum(issubclass(w.category, CaptureWarning) for w in caught) == 1


@pytest.mark.skipif(sys.version_info < (3, 12), reason="comprehensions are inlined from 3.12")
def test_inlined_comprehension_variable_is_not_the_functions(backend: str) -> None:
    """3.12+ runs [x for x in ...] in the function's frame; its x is still not the function's x."""
    if backend != "bytecode":
        pytest.skip("when='each' needs the bytecode backend")

    def comp(xs: list[int]) -> tuple[int, list[int]]:
        x = -1
        ys = [x * 2 for x in xs]
        x = len(ys)
        return x, ys

    with capture(comp, "x", when="each") as cap:
        assert comp([1, 2, 3]) == (3, [2, 4, 6])
    assert _values(cap, "x") == [-1, 3]


def test_get_local_and_a_block_on_one_variable(backend: str) -> None:
    """get_local at one site and a when='each' block at all sites, on one function, at once."""
    if backend != "bytecode":
        pytest.skip("when='each' needs the bytecode backend")

    def running(n: int) -> int:
        x = 0
        for i in range(n):
            x += i
        return x

    get_local("x", when="each", at=1)(running)
    get_local.activate()
    with capture(running, "x", when="each") as cap:
        running(3)
    running(2)
    assert get_local.cache["test_get_local_and_a_block_on_one_variable.<locals>.running.x"] == [0, 1, 3, 0, 1]
    assert _values(cap, "x") == [0, 0, 1, 3]


def test_a_new_block_does_not_split_a_call_in_progress(backend: str) -> None:
    """Opening another when='each' block on the same function leaves a running call one call."""
    if backend != "bytecode":
        pytest.skip("when='each' needs the bytecode backend")

    def gen() -> Iterator[int]:
        y = z = 0
        for i in range(3):
            y = i
            z = i
            yield y + z

    with capture(gen, "y", when="each", values="raw") as cap_y:
        g = gen()
        next(g)
        never = r"no assignment to 'z' .* \(it never ran, or never reached them\)"
        with pytest.warns(CaptureWarning, match=never), capture(gen, "z", when="each"):
            pass
        list(g)
    assert [(r.value, r.call, r.assignment) for r in cap_y.records] == [(0, 0, 0), (0, 0, 1), (1, 0, 2), (2, 0, 3)]


def test_abandoned_generators_do_not_pile_up(backend: str) -> None:
    """Generators started and dropped: the call table stays bounded and cheap to sweep."""
    if backend != "bytecode":
        pytest.skip("when='each' needs the bytecode backend")

    def gen(n: int) -> Iterator[int]:
        y = n
        yield y

    with capture(gen, "y", when="each", values="raw") as cap:
        for i in range(2000):
            next(gen(i))
        assert len(anycapture._dispatch._dispatcher(gen)._calls) < 130
    assert len(cap.records) == 2000
    assert not anycapture._dispatch._dispatcher(gen)._calls


def test_numbers_do_not_depend_on_other_blocks(backend: str) -> None:
    """call and assignment mean the same in a block alone and beside another block (found in review)."""
    if backend != "bytecode":
        pytest.skip("when='each' needs the bytecode backend")

    def f(x: int) -> int:
        y = x
        y = y + 1
        y = y * 2
        return y

    def numbers(cap: anycapture.Capture) -> list[tuple[int, int | None]]:
        return [(r.call, r.assignment) for r in cap.records]

    with capture(f, "y", when="each", at=2) as alone:
        f(1), f(2)
    with capture(f, "y", when="each") as every, capture(f, "y", when="each", at=2) as beside:
        f(1), f(2)
    assert numbers(alone) == numbers(beside) == [(0, 2), (1, 2)]
    assert numbers(every) == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]

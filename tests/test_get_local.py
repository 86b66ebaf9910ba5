"""get_local: the seed's API and every way a function can be entered and left."""

from __future__ import annotations

import asyncio
import functools
import sys
import traceback
import types
import warnings
from typing import Any

import pytest

from anycapture import CaptureWarning, UnknownVariableError, capture, get_local
from anycapture._engine import attached_backend


def test_decorator_returns_the_same_function(backend: str) -> None:
    """The decorator hands back the very object it was given, active or not."""

    def f(x: int) -> int:
        y = x + 1
        return y

    assert get_local("y")(f) is f
    get_local.activate()
    assert get_local("y")(f) is f


def test_inactive_function_runs_its_original_code(backend: str) -> None:
    """While capture is off the function's code object is the untouched original."""

    def f(x: int) -> int:
        y = x + 1
        return y

    original = f.__code__
    get_local("y")(f)
    assert f.__code__ is original
    get_local.activate()
    get_local.deactivate()
    assert f.__code__ is original
    assert f(1) == 2
    assert len(get_local.cache) == 0


def test_seed_readme_example(backend: str) -> None:
    """The seed's README, as written: several names, a method, keys, clear()."""

    @get_local("attention_map")
    def your_attention_function(*args: int, **kwargs: int) -> int:
        attention_map = sum(args)
        return attention_map * 2

    @get_local("attention_map", "query", "key", "value")
    def another(*args: int, **kwargs: int) -> str:
        query, key, value = args
        attention_map = query * key
        return "done"

    class Attention:
        @get_local("attn_map", "scores")
        def forward(self, x: int) -> int:
            scores = x * 3
            attn_map = scores - 1
            return attn_map

    get_local.activate()
    your_attention_function(1, 2)
    another(2, 3, 4)
    model = Attention()
    for x in range(12):
        model.forward(x)
    cache = get_local.cache
    prefix = "test_seed_readme_example.<locals>."
    assert cache[prefix + "your_attention_function.attention_map"] == [3]
    assert cache[prefix + "another.attention_map"] == [6]
    assert cache[prefix + "another.query"] == [2]
    assert cache[prefix + "another.value"] == [4]
    assert cache[prefix + "Attention.forward.attn_map"] == [3 * x - 1 for x in range(12)]
    assert len(cache[prefix + "Attention.forward.scores"]) == 12
    get_local.clear()
    assert len(get_local.cache) == 0


def test_the_cache_saves_and_copies_as_the_seed_dict(backend: str) -> None:
    """get_local.cache was a plain dict in AnyCapture 0.1.4: it pickles (torch.save), copies and
    clears as one, as a dict of lists; it cannot be edited in place; is_activate and max_size read."""
    import copy
    import pickle

    @get_local("y")
    def double(x: int) -> int:
        y = 2 * x
        return y

    key = "test_the_cache_saves_and_copies_as_the_seed_dict.<locals>.double.y"
    assert get_local.is_activate is False
    get_local.activate(max_size=5)
    assert get_local.is_activate is True
    assert get_local.max_size == 5
    double(1)
    double(2)
    for saved in (pickle.loads(pickle.dumps(get_local.cache)), copy.deepcopy(get_local.cache), get_local.cache.copy()):
        assert type(saved) is dict
        assert saved == {key: [2, 4]}
    snapshot = get_local.cache.copy()
    double(3)
    assert snapshot[key] == [2, 4]  # a copy: later captures do not reach it
    with pytest.raises(TypeError, match=r"filled by capture only; copy it \(get_local.cache.copy\(\)"):
        get_local.cache[key] = []  # type: ignore[index]
    with pytest.raises(TypeError, match="filled by capture only"):
        get_local.cache.pop(key)  # type: ignore[attr-defined]
    get_local.cache.clear()  # the seed's way to empty it
    assert len(get_local.cache) == 0
    get_local.deactivate()
    assert get_local.is_activate is False
    with pytest.raises(AttributeError):
        get_local.is_activate = True  # type: ignore[misc]


def test_a_decorated_nested_def_is_rewritten_once_while_capture_is_off(
    backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A def inside a function makes a new function per call: while capture is off, only the first is
    rewritten ahead (later ones cost a registration), and every one of them captures once it is on."""
    import weakref

    from anycapture import _engine

    monkeypatch.setattr(get_local, "_prepared", weakref.WeakSet())  # the def's code is shared by parametrized runs
    prepared = []
    real = _engine.prepare
    monkeypatch.setattr(_engine, "prepare", lambda func, *args: (prepared.append(func), real(func, *args)))

    def outer(x: int) -> Any:
        @get_local("y")
        def inner(v: int) -> int:
            y = v * 2
            return y

        inner(x)
        return inner

    kept = [outer(i) for i in range(5)]
    assert len(prepared) == 1
    get_local.activate()
    for i, inner in enumerate(kept):
        inner(i)
    assert get_local.cache[
        "test_a_decorated_nested_def_is_rewritten_once_while_capture_is_off.<locals>.outer.<locals>.inner.y"
    ] == [0, 2, 4, 6, 8]


def test_activate_after_import_and_any_number_of_times(backend: str) -> None:
    """No import-order rule: decorate before or after activate(), toggle freely."""

    def early(x: int) -> int:
        y = x
        return y

    get_local("y")(early)
    get_local.activate()

    def late(x: int) -> int:
        z = x
        return z

    get_local("z")(late)
    for _ in range(3):
        early(1)
        late(2)
        get_local.deactivate()
        early(10)
        late(20)
        get_local.activate()
    p = "test_activate_after_import_and_any_number_of_times.<locals>."
    assert get_local.cache[p + "early.y"] == [1, 1, 1]
    assert get_local.cache[p + "late.z"] == [2, 2, 2]


def test_every_reference_sees_capture(active: str) -> None:
    """Aliases, registries and bound methods made before decoration are all captured."""

    class Model:
        def forward(self, x: int) -> int:
            h = x * 2
            return h

    def g(x: int) -> int:
        h = x + 100
        return h

    alias = g
    registry = {"g": g}
    bound = Model().forward
    get_local("h")(g)
    get_local("h")(Model.forward)
    alias(1)
    registry["g"](2)
    bound(3)
    p = "test_every_reference_sees_capture.<locals>."
    assert get_local.cache[p + "g.h"] == [101, 102]
    assert get_local.cache[p + "Model.forward.h"] == [6]


def test_every_way_out_is_seen(active: str) -> None:
    """Early returns, returns in with/try/finally and falling off the end all record."""

    class Ctx:
        def __enter__(self) -> Ctx:
            return self

        def __exit__(self, *exc: object) -> bool:
            return True  # swallows exceptions: one more way out

    @get_local("y")
    def f(x: int) -> int | None:
        y = x
        if x == 0:
            return -1
        with Ctx():
            if x == 1:
                return y
        try:
            if x == 3:
                y = 33
                return y
        finally:
            y = y * 10
        if x == 4:
            y = 44
            return None
        y = 55

    @get_local("y")
    def g(x: int) -> int | None:
        y = x
        with Ctx():
            if x == 2:
                y = 22
                raise ValueError  # swallowed by __exit__: the function falls out of the with
            return y

    assert [f(i) for i in range(6)] == [-1, 1, None, 33, None, None]
    assert [g(1), g(2)] == [1, None]
    p = "test_every_way_out_is_seen.<locals>."
    assert get_local.cache[p + "f.y"] == [0, 1, 55, 330, 44, 55]
    assert get_local.cache[p + "g.y"] == [1, 22]


def test_final_value_is_recorded(active: str) -> None:
    """The value at the return, not an earlier one, even when reassigned in a loop."""

    @get_local("attn")
    def f(n: int) -> int:
        attn = 0
        for i in range(n):
            attn = attn + i
        attn = attn * 2
        return 7

    f(4)
    assert get_local.cache["test_final_value_is_recorded.<locals>.f.attn"] == [12]


def test_generators_coroutines_and_async_generators(active: str) -> None:
    """Generators and async generators record when they finish; coroutines when they return."""

    @get_local("total")
    def gen(n: int) -> types.GeneratorType[int, None, int]:  # type: ignore[name-defined]
        total = 0
        for i in range(n):
            total += i
            yield i
        return total

    @get_local("value")
    async def coro(x: int) -> int:
        await asyncio.sleep(0)
        value = x * 3
        return value

    @get_local("seen")
    async def agen(n: int):  # type: ignore[no-untyped-def]
        seen = []
        for i in range(n):
            seen.append(i)
            yield i

    assert list(gen(4)) == [0, 1, 2, 3]
    abandoned = gen(10)
    next(abandoned)
    abandoned.close()  # closed half way: never returned, nothing recorded
    assert asyncio.run(coro(5)) == 15

    async def drain() -> list[int]:
        return [i async for i in agen(3)]

    assert asyncio.run(drain()) == [0, 1, 2]
    p = "test_generators_coroutines_and_async_generators.<locals>."
    assert get_local.cache[p + "gen.total"] == [6]
    assert get_local.cache[p + "coro.value"] == [15]
    assert get_local.cache[p + "agen.seen"] == [[0, 1, 2]]


def test_recursion_records_each_level(active: str) -> None:
    """Each level of a recursive call records its own value, innermost first."""

    @get_local("depth")
    def fact(n: int) -> int:
        depth = n
        if n <= 1:
            return 1
        return n * fact(n - 1)

    assert fact(5) == 120
    assert get_local.cache["test_recursion_records_each_level.<locals>.fact.depth"] == [1, 2, 3, 4, 5]


def test_arguments_cells_and_free_variables(active: str) -> None:
    """Arguments, variables captured by inner functions, and closure variables are all readable."""

    def outer(a: int) -> int:
        cell = a * 2

        def inner(b: int) -> int:
            total = b + cell
            return total

        get_local("cell", "total", "b")(inner)
        result = inner(1)
        return result + cell

    get_local("a", "cell")(outer)
    assert outer(5) == 21
    p = "test_arguments_cells_and_free_variables.<locals>.outer."
    assert get_local.cache[p + "a"] == [5]
    assert get_local.cache[p + "cell"] == [10]
    assert get_local.cache[p + "<locals>.inner.total"] == [11]
    assert get_local.cache[p + "<locals>.inner.cell"] == [10]
    assert get_local.cache[p + "<locals>.inner.b"] == [1]


def test_stacks_with_staticmethod_classmethod_and_wraps(active: str) -> None:
    """Descriptor objects and functools.wraps wrappers are unwrapped to the function with the locals."""

    def logged(func):  # type: ignore[no-untyped-def]
        @functools.wraps(func)
        def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
            return func(*args, **kwargs)

        return wrapper

    class M:
        @get_local("s")
        @staticmethod
        def stat(x: int) -> int:
            s = x + 1
            return s

        @classmethod
        @get_local("c")
        def klass(cls, x: int) -> int:
            c = x + 2
            return c

        @get_local("w")
        @logged
        def outer_wrapped(self, x: int) -> int:
            w = x + 3
            return w

        @logged
        @get_local("v")
        def inner_wrapped(self, x: int) -> int:
            v = x + 4
            return v

    assert isinstance(M.__dict__["stat"], staticmethod)
    assert isinstance(M.__dict__["klass"], classmethod)
    assert M.stat(1) == 2
    assert M.klass(1) == 3
    assert M().outer_wrapped(1) == 4
    assert M().inner_wrapped(1) == 5
    p = "test_stacks_with_staticmethod_classmethod_and_wraps.<locals>.M."
    assert get_local.cache[p + "stat.s"] == [2]
    assert get_local.cache[p + "klass.c"] == [3]
    assert get_local.cache[p + "outer_wrapped.w"] == [4]
    assert get_local.cache[p + "inner_wrapped.v"] == [5]


def test_unknown_name_is_an_error_with_suggestions(backend: str) -> None:
    """A name that is not a local fails at decoration time, naming the function and close matches."""

    def f(x: int) -> int:
        attn = x
        return attn + len([])

    with pytest.raises(UnknownVariableError, match=r"'atn' is not a local variable of .*f; did you mean 'attn'"):
        get_local("atn")(f)
    with pytest.raises(UnknownVariableError, match="'len' is a global, builtin or attribute name"):
        get_local("len")(f)


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        (int, "cannot capture from the class int"),
        (len, "implemented in C"),
        (3, "got 3"),
        (functools.partial(print), "implemented in C"),
        (property(lambda self: 0), r"got the property .*: capture from its getter, Class\.<name>\.fget"),
        (functools.cached_property(lambda self: 0), r"got the cached_property .*getter, Class\.<name>\.func"),
    ],
)
def test_things_that_are_not_python_functions_are_type_errors(obj: object, message: str) -> None:
    """Classes, builtins and non-callables give a TypeError that says what to do."""
    with pytest.raises(TypeError, match=message):
        get_local("x")(obj)


def test_callable_object_points_at_its_method() -> None:
    """A callable instance (an nn.Module, say) is refused with a hint to decorate its method."""

    class Layer:
        def __call__(self, x: int) -> int:
            return x

    with pytest.raises(TypeError, match=r"e\.g\. get_local\('attn'\)\(.*Layer\.__call__\)$"):
        get_local("x")(Layer())

    class Module:  # an nn.Module's __call__ runs its forward
        def __call__(self, x: int) -> int:
            return self.forward(x)

        def forward(self, x: int) -> int:
            return x

    with pytest.raises(TypeError, match=r"e\.g\. capture\(.*Module\.forward, 'attn'\)$"):
        capture(Module(), "x")
    with pytest.raises(TypeError, match=r"class .*Module; name one of its methods instead, e.g. capture\(.*Module\.fo"):
        capture(Module, "x")
    with pytest.raises(TypeError, match=r"at least one local variable, e\.g\. capture\(Attention\.forward, 'attn'\)"):
        capture(Module.forward)


@pytest.mark.parametrize("bad", [(), (1,), ("not a name",)])
def test_bad_variable_names(bad: tuple[object, ...]) -> None:
    """Variable names must be given, be strings and be identifiers."""
    with pytest.raises((TypeError, ValueError)):
        get_local(*bad)  # type: ignore[arg-type]


def test_unbound_variable_is_skipped_with_one_warning(active: str) -> None:
    """A variable unbound on the path taken records nothing, warns once, and never raises."""

    @get_local("maybe", "always")
    def f(flag: bool) -> str:
        always = 1
        if flag:
            maybe = "set"
        return "ok"

    with pytest.warns(CaptureWarning, match="'maybe' was not bound when .*f returned"):
        assert f(False) == "ok"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert f(False) == "ok"  # the second time: silent
        assert f(True) == "ok"
    p = "test_unbound_variable_is_skipped_with_one_warning.<locals>.f."
    assert get_local.cache[p + "maybe"] == ["set"]
    assert get_local.cache[p + "always"] == [1, 1, 1]


def test_deleted_and_exception_names_are_safe(active: str) -> None:
    """``del`` and ``except ... as e`` unbind names; capturing them never breaks the function."""

    @get_local("tmp", "err", "y")
    def f(x: int) -> int:
        tmp = x
        y = tmp
        del tmp
        try:
            raise KeyError(x)
        except KeyError as err:
            y += 1
        return y

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CaptureWarning)
        assert f(1) == 2
    p = "test_deleted_and_exception_names_are_safe.<locals>.f."
    assert get_local.cache[p + "y"] == [2]
    assert p + "tmp" not in get_local.cache
    assert p + "err" not in get_local.cache


def test_comprehension_variable_with_same_name(active: str) -> None:
    """3.12+ inlined comprehensions clear and restore a same-named local; capture stays correct."""

    @get_local("i")
    def f(flag: bool) -> list[int]:
        squares = [i * i for i in range(3)]
        if flag:
            i = 7
        return squares

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CaptureWarning)
        assert f(False) == [0, 1, 4]
        assert f(True) == [0, 1, 4]
    assert get_local.cache["test_comprehension_variable_with_same_name.<locals>.f.i"] == [7]


def test_exception_reaches_caller_unchanged(active: str) -> None:
    """A raising function raises the same exception with the same traceback; nothing is kept."""

    def f(x: int) -> int:
        y = x * 2
        if y > 2:
            raise ValueError(f"too big: {y}")
        return y

    get_local.deactivate()
    with pytest.raises(ValueError, match="too big: 4") as plain:
        f(2)
    plain_lines = [(fs.name, fs.lineno, fs.line) for fs in traceback.extract_tb(plain.value.__traceback__)][1:]
    get_local("y")(f)
    get_local.activate()
    with pytest.raises(ValueError, match="too big: 4") as captured:
        f(2)
    captured_lines = [(fs.name, fs.lineno, fs.line) for fs in traceback.extract_tb(captured.value.__traceback__)][1:]
    assert captured_lines == plain_lines
    assert "test_exception_reaches_caller_unchanged.<locals>.f.y" not in get_local.cache
    assert f(1) == 2


def test_max_size_keeps_newest(backend: str) -> None:
    """max_size keeps only the newest N values per key; set_size trims what is there."""

    @get_local("y")
    def f(x: int) -> int:
        y = x
        return y

    key = "test_max_size_keeps_newest.<locals>.f.y"
    get_local.activate(max_size=3)
    for i in range(10):
        f(i)
    assert get_local.cache[key] == [7, 8, 9]
    assert get_local.set_size(2) == 2
    assert get_local.cache[key] == [8, 9]
    f(10)
    assert get_local.cache[key] == [9, 10]
    assert get_local.set_size(None) is None
    f(11)
    assert get_local.cache[key] == [9, 10, 11]
    with pytest.raises(TypeError, match="max_size must be an int"):
        get_local.set_size("10")  # type: ignore[arg-type]


def test_same_qualname_in_two_modules(backend: str) -> None:
    """Two functions with one qualified name warn once; key_style='module' keeps them apart."""
    mods = []
    for name in ("fake_a", "fake_b"):
        mod = types.ModuleType(name)
        exec("def forward(x):\n    attn = x\n    return attn\n", mod.__dict__)
        mods.append(mod)
        get_local("attn")(mod.forward)
    with pytest.warns(CaptureWarning, match="fake_a:forward and fake_b:forward both record under the key") as told:
        get_local.activate()
    assert told[0].filename == __file__  # the user's activate() line
    get_local.deactivate()
    third = types.ModuleType("fake_c")
    exec("def forward(x):\n    attn = x\n    return attn\n", third.__dict__)
    with pytest.warns(CaptureWarning, match="fake_a:forward and fake_b:forward"):  # told again at each activate()
        get_local.activate()
    with pytest.warns(CaptureWarning, match="fake_a:forward and fake_c:forward both record") as told:
        get_local("attn")(third.forward)  # decorated while capture is on
    assert told[0].filename == __file__
    mods[0].forward(1)
    mods[1].forward(2)
    assert get_local.cache["forward.attn"] == [1, 2]
    get_local.clear()
    get_local.activate(key_style="module")
    mods[0].forward(1)
    mods[1].forward(2)
    assert get_local.cache["fake_a:forward.attn"] == [1]
    assert get_local.cache["fake_b:forward.attn"] == [2]


def test_collate_fn_and_its_failure(active: str) -> None:
    """A custom collate function is applied; when it raises, the raw value is kept and one warning given."""

    @get_local("y")
    def f(x: int) -> int:
        y = x
        return y

    key = "test_collate_fn_and_its_failure.<locals>.f.y"
    assert get_local.set_collate_fn(lambda v: v * 100) is not None
    f(2)
    assert get_local.cache[key] == [200]

    def broken(value: object) -> object:
        raise RuntimeError("collate bug")

    get_local.set_collate_fn(broken)
    with pytest.warns(CaptureWarning, match="RuntimeError: collate bug"):
        assert f(3) == 3
    assert get_local.cache[key] == [200, 3]
    with pytest.raises(TypeError, match="collate_fn must be callable"):
        get_local.set_collate_fn(5)  # type: ignore[arg-type]


def test_warning_filters_set_to_error_never_break_the_function(active: str) -> None:
    """Even with warnings turned into errors, capture problems do not reach the user's code."""

    @get_local("late")
    def f() -> int:
        if False:
            late = 1
        return 5

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert f() == 5


def test_cache_is_a_live_mapping(active: str) -> None:
    """get_local.cache and get_cache() are the same live view; assigning {} empties it."""

    @get_local("y")
    def f(x: int) -> int:
        y = x
        return y

    view = get_local.cache
    f(1)
    assert dict(view) == {"test_cache_is_a_live_mapping.<locals>.f.y": [1]}
    assert get_local.get_cache() is view
    get_local.cache = {}  # type: ignore[misc]
    assert len(view) == 0
    with pytest.raises(AttributeError, match=r"use get_local\.clear"):
        get_local.cache = {"x": []}  # type: ignore[misc]


def test_is_activated(backend: str) -> None:
    """is_activated follows activate/deactivate."""
    assert not get_local.is_activated()
    get_local.activate()
    assert get_local.is_activated()
    get_local.deactivate()
    assert not get_local.is_activated()


def test_uses_the_forced_backend(active: str) -> None:
    """ANYCAPTURE_BACKEND decides which backend captures."""

    @get_local("y")
    def f(x: int) -> int:
        y = x
        return y

    assert attached_backend(f) == active


def test_bad_activate_arguments_change_nothing(backend: str) -> None:
    """Invalid options are rejected before any state changes."""
    with pytest.raises(ValueError, match="values='bogus' is not a value mode"):
        get_local.activate(values="bogus")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="key_style='x'"):
        get_local.activate(key_style="x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="device='cpu' only applies with values='tensor'"):
        get_local.activate(device="cpu")
    assert not get_local.is_activated()


@pytest.mark.skipif(sys.version_info < (3, 12), reason="sys.monitoring is 3.12+")
def test_no_monitoring_tool_or_trace_function_left_behind(backend: str) -> None:
    """Deactivation leaves no sys.monitoring tool, trace or profile function behind."""

    @get_local("y")
    def f(x: int) -> int:
        y = x
        return y

    before = [sys.monitoring.get_tool(i) for i in range(6)]
    get_local.activate()
    f(1)
    get_local.deactivate()
    assert [sys.monitoring.get_tool(i) for i in range(6)] == before
    assert sys.gettrace() is None
    assert sys.getprofile() is None


def test_an_installed_trace_function_keeps_working(backend: str) -> None:
    """A tracer installed before capture (a debugger, coverage) stays installed and sees the calls."""

    @get_local("y")
    def f(x: int) -> int:
        y = x + 1
        return y

    seen: list[str] = []

    def tracer(frame: types.FrameType, event: str, arg: object) -> object:
        if frame.f_code.co_name == "f":
            seen.append(event)
        return tracer

    old = sys.gettrace()
    sys.settrace(tracer)
    try:
        get_local.activate()
        assert f(1) == 2
        get_local.deactivate()
        assert sys.gettrace() is tracer
    finally:
        sys.settrace(old)
    assert seen[0] == "call"
    assert seen[-1] == "return"
    assert "line" in seen
    assert get_local.cache["test_an_installed_trace_function_keeps_working.<locals>.f.y"] == [2]


def test_activation_is_cheap_for_many_functions(backend: str) -> None:
    """Activating swaps prepared code: many functions toggle without rebuilding anything."""
    funcs = []
    for i in range(20):
        namespace: dict[str, object] = {}
        exec(f"def f{i}(x):\n    y = x + {i}\n    return y\n", namespace)
        funcs.append(get_local("y")(namespace[f"f{i}"]))
    for _ in range(3):
        get_local.activate()
        assert [f(1) for f in funcs] == [1 + i for i in range(20)]  # type: ignore[operator]
        get_local.deactivate()
    assert sum(len(get_local.cache[f"f{i}.y"]) for i in range(20)) == 60


def test_decorating_rewrites_ahead_so_activation_only_swaps_code(backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The code is rewritten when the function is decorated; activate() builds nothing."""
    if backend != "bytecode":
        pytest.skip("only the rewriting backend builds code")
    from anycapture._backends import _bytecode

    @get_local("y")
    def f(x: int) -> int:
        y = x + 1
        return y

    @get_local("z", when="each")
    def g(x: int) -> int:
        z = x
        z = z * 2
        return z

    original = f.__code__
    built: list[object] = []
    real = _bytecode._Template.__init__

    def counting(self: object, target: object) -> None:
        built.append(target)
        real(self, target)  # type: ignore[arg-type]

    monkeypatch.setattr(_bytecode._Template, "__init__", counting)
    get_local.activate()
    assert (f(1), g(3)) == (2, 6)
    get_local.deactivate()
    assert built == []
    assert f.__code__ is original  # inactive: the original code object, untouched
    prefix = "test_decorating_rewrites_ahead_so_activation_only_swaps_code.<locals>"
    assert get_local.cache[f"{prefix}.f.y"] == [2]
    assert get_local.cache[f"{prefix}.g.z"] == [3, 6]


def test_function_that_cannot_be_rewritten_is_reported_at_activation(
    backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rewrite that fails at decoration is silent there; activation says so and the function runs."""
    if backend != "bytecode":
        pytest.skip("only the rewriting backend builds code")
    from anycapture._backends import _bytecode

    def refuse(self: object, *args: object) -> None:
        raise _bytecode.InstallError("cannot rewrite this one (test)")

    monkeypatch.setattr(_bytecode._Template, "__init__", refuse)

    @get_local("y")
    def f(x: int) -> int:
        y = x + 1
        return y

    monkeypatch.setenv("ANYCAPTURE_BACKEND", "bytecode")
    with pytest.warns(CaptureWarning, match="cannot capture from .*f.*cannot rewrite this one"):
        get_local.activate()
    assert f(1) == 2
    get_local.deactivate()


def test_code_replaced_while_inactive_becomes_the_original(backend: str) -> None:
    """If the function gets new code while capture is off, capture uses and restores the new code."""

    @get_local("y")
    def f(x: int) -> int:
        y = x + 1
        return y

    get_local.activate()
    f(1)
    get_local.deactivate()

    def replacement(x: int) -> int:
        y = x + 100
        return y

    f.__code__ = replacement.__code__
    get_local.activate()
    assert f(1) == 101
    get_local.deactivate()
    assert f.__code__ is replacement.__code__
    assert get_local.cache["test_code_replaced_while_inactive_becomes_the_original.<locals>.f.y"] == [2, 101]


@pytest.mark.skipif(sys.version_info < (3, 12), reason="sys.monitoring is 3.12+")
def test_monitoring_tool_already_in_use_is_left_alone(backend: str) -> None:
    """Another sys.monitoring tool keeps its id and its events; capture takes a free id."""
    monitoring = sys.monitoring
    taken = next(i for i in (4, 3) if monitoring.get_tool(i) is None)
    monitoring.use_tool_id(taken, "someone-else")
    calls: list[object] = []
    monitoring.register_callback(taken, monitoring.events.PY_START, lambda code, offset: calls.append(code))

    @get_local("y")
    def f(x: int) -> int:
        y = x
        return y

    try:
        monitoring.set_local_events(taken, f.__code__, monitoring.events.PY_START)
        get_local.activate()
        f(1)
        get_local.deactivate()
        assert monitoring.get_tool(taken) == "someone-else"
        f(2)
        assert len(calls) == 2
        assert get_local.cache["test_monitoring_tool_already_in_use_is_left_alone.<locals>.f.y"] == [1]
    finally:
        monitoring.set_local_events(taken, f.__code__, 0)
        monitoring.register_callback(taken, monitoring.events.PY_START, None)
        monitoring.free_tool_id(taken)


def test_decorated_functions_can_be_garbage_collected(active: str) -> None:
    """Neither the registry nor the engine keeps a decorated function alive."""
    import gc
    import weakref

    def f(x: int) -> int:
        y = x
        return y

    get_local("y")(f)
    f(1)
    ref = weakref.ref(f)
    del f
    gc.collect()
    assert ref() is None


def test_maybe_unbound_local_is_loaded_under_a_guard(active: str) -> None:
    """A local bound on one branch only is captured when bound and skipped when not, without raising."""

    @get_local("attn")
    def forward(x: int, fused: bool) -> int:
        if fused:
            out = x * 2
        else:
            attn = x + 1
            out = attn * 2
        return out

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CaptureWarning)
        assert [forward(1, False), forward(2, True), forward(3, False)] == [4, 4, 8]
    assert get_local.cache["test_maybe_unbound_local_is_loaded_under_a_guard.<locals>.forward.attn"] == [2, 4]
    if active == "bytecode":
        readers = [c for c in forward.__code__.co_consts if getattr(c, "__name__", "") == "read_frame"]
        assert readers == []  # no frame read: the cheap guarded load is used

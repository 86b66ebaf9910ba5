"""capture(): scoped capture of functions you do not own, on every backend."""

from __future__ import annotations

import re
import sys
import threading
import warnings

import pytest

import anycapture
from anycapture import CaptureWarning, EmptyCaptureError, UnknownVariableError, capture, get_local, recipes


class Layer:
    """Stands in for a library class whose source we do not edit."""

    def forward(self, x: int) -> int:
        attn = x * 10
        if x < 0:
            return -1
        hidden = attn + 1
        return hidden


def helper(x: int) -> int:
    scores = x + 0.5
    return int(scores)


def sometimes(x: int) -> int:
    """Binds `scores` only for a positive x (as a fused path never binds the map)."""
    if x > 0:
        scores = x
        return scores
    return x


def test_capture_restores_the_original_code(backend: str) -> None:
    """Inside the block the method is captured; after it, its original code object is back."""
    original = Layer.forward.__code__
    layer = Layer()
    with capture(Layer.forward, "attn", "hidden") as cap:
        assert Layer.forward.__code__ is not original or backend == "monitoring"
        assert [layer.forward(i) for i in range(3)] == [1, 11, 21]
    assert Layer.forward.__code__ is original
    assert cap["Layer.forward.attn"] == [0, 10, 20]
    assert cap["Layer.forward.hidden"] == [1, 11, 21]
    assert layer.forward(5) == 51
    assert cap["Layer.forward.attn"] == [0, 10, 20]  # nothing recorded after the block


def test_capture_restores_even_when_the_block_raises(backend: str) -> None:
    """An exception in the block propagates and the code is restored."""
    original = Layer.forward.__code__
    with pytest.raises(ZeroDivisionError), capture(Layer.forward, "attn"):
        Layer().forward(1)
        1 / 0
    assert Layer.forward.__code__ is original


def test_string_targets(backend: str) -> None:
    """'module:Qualified.name' and dotted paths name the target without importing it yourself."""
    with capture(f"{__name__}:Layer.forward", "attn") as cap:
        Layer().forward(2)
    assert cap["Layer.forward.attn"] == [20]
    with capture(f"{__name__}.helper", "scores") as cap2:
        helper(1)
    assert cap2["helper.scores"] == [1.5]


def test_a_string_target_follows_the_attribute_it_names(backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A string or recipe names an attribute, not the function first found there: a block after
    the attribute was replaced (or its code) captures the new function."""
    spec = f"{__name__}:Layer.forward"
    with capture(spec, "attn") as first:
        Layer().forward(1)
    assert first["Layer.forward.attn"] == [10]

    def forward(self: Layer, x: int) -> int:
        attn = x * 100
        return attn

    forward.__qualname__ = "Layer.forward"
    monkeypatch.setattr(Layer, "forward", forward)
    with capture(spec, "attn") as second:
        Layer().forward(1)
    assert second["Layer.forward.attn"] == [100]

    def forward_code(self: Layer, x: int) -> int:
        attn = x * 1000
        return attn

    monkeypatch.setattr(forward, "__code__", forward_code.__code__)
    with capture(spec, "attn") as third:
        Layer().forward(1)
    assert third["Layer.forward.attn"] == [1000]
    monkeypatch.undo()
    with capture(spec, "attn") as fourth:
        Layer().forward(1)
    assert fourth["Layer.forward.attn"] == [10]


def test_bad_string_target_is_clear() -> None:
    """A string that names nothing says what was missing."""
    with pytest.raises(AttributeError, match=r"has no attribute path 'Layer\.nope' \(stopped at 'nope'\)\. Name a"):
        capture(f"{__name__}:Layer.nope", "x")
    with pytest.raises(AttributeError, match=r"\(stopped at 'forwad'\); did you mean 'forward'\?"):
        capture(f"{__name__}:Layer.forwad", "attn")
    with pytest.raises(ImportError, match="cannot import a module"):
        capture("no_such_package_xyz.f", "x")
    for spec in ("", ":", "os:", ":f", "os", "os:path.", "os..path"):
        with pytest.raises(ValueError, match=rf"^{re.escape(repr(spec))} does not name a function: give a module"):
            capture(spec, "x")


def test_bad_mappings_and_flags_are_named() -> None:
    """capture({}), a mapping to a non-name, and non-bool clone/strict/grads raise naming the value."""
    with pytest.raises(ValueError, match=r"capture\(\{\}\) names no function to capture"):
        capture({})
    for names in (3, None):
        with pytest.raises(TypeError, match=rf"capture\(\) maps <function helper .*> to {names!r}; map each"):
            capture({helper: names})  # type: ignore[dict-item]
    for option in ("clone", "strict", "grads"):
        with pytest.raises(TypeError, match=rf"^{option} must be True or False; got 'yes'$"):
            capture(helper, "scores", **{option: "yes"})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^strict must be True or False; got 'x'$"):
        anycapture.capture_attention(strict="x")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^strict must be True or False; got 'x'$"):
        anycapture.edit(helper, "scores", abs, strict="x")  # type: ignore[arg-type]


def test_mapping_of_targets_and_nesting(backend: str) -> None:
    """Several targets at once, nested blocks, and get_local on the same function stay apart."""
    get_local("attn")(Layer.forward)
    get_local.activate()
    layer = Layer()
    with capture({Layer.forward: "hidden", helper: ["scores"]}) as outer:
        layer.forward(1)
        with capture(Layer.forward, "attn") as inner:
            layer.forward(2)
            helper(3)
        layer.forward(3)
    layer.forward(4)
    assert outer["Layer.forward.hidden"] == [11, 21, 31]
    assert outer["helper.scores"] == [3.5]
    assert "Layer.forward.attn" not in outer
    assert inner["Layer.forward.attn"] == [20]
    assert get_local.cache["Layer.forward.attn"] == [10, 20, 30, 40]
    assert "Layer.forward.hidden" not in get_local.cache


@pytest.mark.parametrize("values", ["numpy", "raw"])
def test_records_know_call_and_thread(backend: str, values: str) -> None:
    """Each record carries its call index and thread; nothing is lost across threads (values='raw'
    files calls the short way, records made when the block is read)."""
    barrier = threading.Barrier(4)  # all alive at once, so their ids differ

    def work(base: int) -> None:
        barrier.wait()
        for i in range(500):
            helper(base * 1000 + i)
        barrier.wait()

    with capture(helper, "scores", values=values) as cap:  # type: ignore[call-overload]
        threads = [threading.Thread(target=work, args=(b,)) for b in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    records = cap.records
    assert len(records) == 2000
    assert sorted(r.call for r in records) == list(range(2000))
    assert len({r.thread for r in records}) == 4
    assert sorted(r.value for r in records) == sorted(b * 1000 + i + 0.5 for b in range(4) for i in range(500))


class _Model:
    """Anything with ``named_modules()`` serves as ``model=``; these layers are plain objects."""

    def __init__(self, *layers: object) -> None:
        self.layers = layers

    def named_modules(self) -> list[tuple[str, object]]:
        return [("", self), *((f"layers.{i}", layer) for i, layer in enumerate(self.layers))]


def step(owner: object, x: int) -> int:
    scores = x * 2
    return scores


def test_raw_records_made_later_equal_those_made_in_the_call(backend: str) -> None:
    """values='raw' (no max_size) files each call with one append and makes its records when the
    block is read; they are the records the per-call way makes (which max_size= takes)."""
    model = _Model(Layer(), Layer())

    def run(**options: object) -> list[object]:
        with capture(Layer.forward, "attn", "hidden", model=model, values="raw", **options) as cap:  # type: ignore[call-overload]
            for i in range(6):
                model.layers[i % 2].forward(i - 1)  # type: ignore[attr-defined]
        return cap.records

    records = run()
    assert records == run(max_size=100)
    assert [(r.name, r.value, r.path, r.call) for r in records[:4]] == [
        ("attn", -10, "layers.0", 0),  # x=-1 returns before `hidden` is bound: no record of it
        ("attn", 0, "layers.1", 1),
        ("hidden", 1, "layers.1", 1),
        ("attn", 10, "layers.0", 2),
    ]


def test_layers_found_on_the_stack_with_raw_values(backend: str) -> None:
    """A call whose first argument is no module of the model gets its layer from its callers."""

    class Block:
        def forward(self, x: int) -> int:
            return step(None, x)

    block = Block()
    model = _Model(Layer(), block)
    with capture(step, "scores", model=model, values="raw") as cap:
        step(model.layers[0], 1)
        step(None, 2)
        block.forward(3)
    assert [(r.value, r.path, r.call) for r in cap.records] == [(2, "layers.0", 0), (4, None, 1), (6, "layers.1", 2)]
    assert cap["step.scores"] == [2, 4, 6]


def test_a_second_block_on_the_function_keeps_the_first_in_order(backend: str) -> None:
    """While a second block captures the same function, the first files the per-call way; its
    records stay in call order across the switch, and reading mid-block sees every call so far."""
    with capture(helper, "scores", values="raw") as outer:
        helper(0)
        helper(1)
        with capture(helper, "scores", values="raw") as inner:
            helper(2)
        helper(3)
        assert outer["helper.scores"] == [0.5, 1.5, 2.5, 3.5]
        helper(4)
    assert [r.call for r in outer.records] == [0, 1, 2, 3, 4]
    assert outer["helper.scores"] == [0.5, 1.5, 2.5, 3.5, 4.5]
    assert inner["helper.scores"] == [2.5]
    assert len(outer) == 1
    assert list(outer) == ["helper.scores"]


def test_reduce_and_max_size(backend: str) -> None:
    """reduce= runs on each value at capture time; max_size keeps the newest."""
    with capture(Layer.forward, "attn", reduce=lambda v: -v, max_size=2) as cap:
        for i in range(5):
            Layer().forward(i)
    assert cap["Layer.forward.attn"] == [-30, -40]


def test_failing_reduce_keeps_raw_value_and_warns_once(backend: str) -> None:
    """A reduce that raises never reaches the function; the raw value is kept, one warning given."""

    def bad(value: int) -> int:
        raise RuntimeError("bad reduce")

    with (
        pytest.warns(CaptureWarning, match="RuntimeError: bad reduce"),
        capture(Layer.forward, "attn", reduce=bad) as cap,
    ):
        assert Layer().forward(1) == 11
        assert Layer().forward(2) == 21
    assert cap["Layer.forward.attn"] == [10, 20]


def _twin_in_another_module() -> tuple[object, object]:
    def forward(x: int) -> int:
        attn = x * 2
        return attn

    def other(x: int) -> int:
        attn = x * 3
        return attn

    other.__qualname__, other.__module__ = forward.__qualname__, "elsewhere"
    return forward, other


def test_two_targets_sharing_a_key_warn_at_the_capture_call(backend: str) -> None:
    """Functions of one qualified name in two modules would share a key, as get_local warns too."""
    forward, other = _twin_in_another_module()
    with pytest.warns(CaptureWarning, match="both record under the key .*key_style='module'") as caught:
        block = capture({forward: "attn", other: "attn"})
    assert caught[0].filename == __file__
    with block as cap:
        forward(1), other(1)  # type: ignore[operator]
    assert list(cap.values()) == [[2, 3]]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with capture({forward: "attn", other: "attn"}, key_style="module") as cap:
            forward(1), other(1)  # type: ignore[operator]
    assert sorted(cap.values()) == [[2], [3]]


def test_target_that_never_ran_is_reported(backend: str) -> None:
    """Ending a block whose target never ran warns, naming it."""
    with pytest.warns(CaptureWarning, match="Layer.forward never ran inside the capture block"):
        with capture(Layer.forward, "attn"):
            helper(1)


def test_variable_never_bound_is_reported_with_the_recipe_hint(backend: str) -> None:
    """A variable that no call bound is reported; a recipe adds its hint; strict raises."""

    def attention(x: int, fused: bool = True) -> int:
        if not fused:
            attn = x
            return attn
        return x

    recipe = recipes.Recipe(
        "demo", f"{__name__}:sometimes", ("scores",), notes="", hint="turn fused off", if_not_run="another model?"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CaptureWarning)  # the per-call 'not bound' warning
        with pytest.raises(EmptyCaptureError, match=r"'attn' of .*attention was never bound in its 2 call\(s\)"):
            with capture(attention, "attn", strict=True):
                attention(1)
                attention(2)
    # Each case gets its own hint: a fused path when the variable is never bound, another model when
    # the function never ran (telling a model that never called it to turn fusion off misleads).
    with pytest.warns(CaptureWarning, match=r"never ran inside the capture block.*Hint: another model\?$"):
        with capture(recipe):
            pass
    never_bound = r"'scores' of .*sometimes was never bound in its 1 call\(s\)\. Hint: turn fused off$"
    with pytest.warns(CaptureWarning, match=never_bound), capture(recipe):
        sometimes(0)


def test_block_cannot_be_entered_twice(backend: str) -> None:
    """A capture block is single use while active."""
    cap = capture(helper, "scores")
    with cap:
        with pytest.raises(RuntimeError, match="already active"):
            cap.__enter__()
        helper(1)
    assert cap["helper.scores"] == [1.5]


def test_select_by_path_and_stack_errors(backend: str) -> None:
    """Without a model there are no paths; stacking non-arrays, a name never captured and the
    pattern and name swapped are clear errors, not silently empty results."""
    with capture(helper, "scores") as cap:
        helper(1)
    assert cap.select(name="scores")[0].path is None
    no_paths = r"by_path\(\): the records selected have no module path: give capture\(\.\.\., model="
    with pytest.raises(ValueError, match=no_paths):
        cap.by_path("scores")
    with pytest.raises(TypeError, match="stack\\(\\) needs arrays or tensors; got float"):
        cap.stack("scores")
    never = r"nothing was captured as 'nope'; the variables and keys captured: \['helper.scores', 'scores'\]"
    with pytest.raises(KeyError, match=never):
        cap.stack("nope")
    with pytest.raises(KeyError, match="nothing was captured as '0'"):
        cap.by_path("0")  # a path given as the name
    with pytest.raises(ValueError, match=r"'scores' is a captured variable, .* use select\(name='scores'\)"):
        cap.select("scores")  # select takes the pattern first
    assert cap.select("blocks.*") == []  # a pattern that matches no layer: nothing, rightly
    with pytest.warns(CaptureWarning, match="never ran"), capture(helper, "scores") as empty:
        pass
    # Nothing captured (the block said so): a variable it asked for selects nothing; mistakes still raise.
    assert empty.select("*", "scores") == []
    assert empty.by_path("scores") == {}
    with pytest.raises(KeyError, match="nothing was captured as 'typo'"):
        empty.select("*", "typo")
    with pytest.raises(ValueError, match=r"use select\(name='scores'\)"):
        empty.select("scores")


def test_bad_options_are_rejected() -> None:
    """Invalid options fail before anything is instrumented."""
    with pytest.raises(ValueError, match="values='x'"):
        capture(helper, "scores", values="x")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="reduce must be callable"):
        capture(helper, "scores", reduce=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="either in the mapping or as arguments"):
        capture({helper: "scores"}, "x")
    with pytest.raises(TypeError, match=r"model= must be a torch nn\.Module"):
        with capture(helper, "scores", model=object()):
            pass
    assert helper.__code__.co_name == "helper"


class _Payload:
    """A value that can be weakly referenced."""


def test_values_die_with_the_block_result(backend: str) -> None:
    """After a block ends and its result is dropped, nothing of anycapture keeps its values alive."""
    import gc
    import weakref

    def make(x: int) -> int:
        payload = _Payload()
        return x

    with capture(make, "payload", values="raw") as cap:
        make(1)
    ref = weakref.ref(cap["test_values_die_with_the_block_result.<locals>.make.payload"][0])
    del cap
    gc.collect()
    assert ref() is None


def test_repeated_blocks_reuse_one_instrumented_code(backend: str) -> None:
    """A loop of blocks on one function reuses its instrumented code instead of rebuilding it."""
    seen = set()
    for _ in range(3):
        with capture(helper, "scores") as cap:
            seen.add(id(helper.__code__))
            helper(1)
        assert cap["helper.scores"] == [1.5]
    assert len(seen) == 1


def test_messages_name_exec_made_functions_by_their_file(backend: str) -> None:
    """A function made by exec without a module is named by its file name, not 'None'."""
    namespace: dict[str, object] = {}
    exec(compile("def f(x):\n    y = x\n    return y\n", "<generated>", "exec"), namespace)
    with pytest.warns(CaptureWarning, match="<generated>:f never ran"), capture(namespace["f"], "y"):
        pass


class Counted:
    @classmethod
    def make(cls, x: int) -> int:
        made = x + 1
        return made


class Sub(Counted):
    pass


@pytest.mark.parametrize("options", [{}, {"max_size": 100}, {"when": "each"}])
def test_a_bound_method_captures_only_its_own_objects_calls(backend: str, options: dict[str, object]) -> None:
    """``capture(model.blocks[3].attn.forward, ...)`` is about that layer: other objects' calls are left out."""
    if options.get("when") == "each" and backend != "bytecode":
        pytest.skip("when='each' needs the rewriting backend")
    first, second, third = Layer(), Layer(), Layer()
    with capture(second.forward, "attn", **options) as cap:  # type: ignore[arg-type]
        first.forward(1), second.forward(2), third.forward(3), second.forward(4)
    assert cap["Layer.forward.attn"] == [20, 40]
    assert [record.call for record in cap.records] == [0, 1]
    with capture({second.forward: "attn", third.forward: "attn"}, **options) as cap:  # type: ignore[arg-type]
        first.forward(1), second.forward(2), third.forward(3)
    assert cap["Layer.forward.attn"] == [20, 30]
    with capture({second.forward: "attn", Layer.forward: "attn"}, **options) as cap:  # type: ignore[arg-type]
        first.forward(1), second.forward(2)  # the function itself too: every call
    assert cap["Layer.forward.attn"] == [10, 20]


def test_a_classmethod_bound_to_its_class_captures_every_call(backend: str) -> None:
    """A classmethod given bound to its class captures its calls through that class and through subclasses."""
    with capture(Counted.make, "made") as cap:
        Counted.make(1), Sub.make(2)
    assert cap["Counted.make.made"] == [2, 3]


def test_a_bound_method_whose_object_never_called_it_is_reported(backend: str) -> None:
    """A bound method whose own object never called it is reported as never run, even though another object's call
    ran."""
    first, second = Layer(), Layer()
    with pytest.warns(CaptureWarning, match=r"Layer\.forward \(bound to 1 Layer object\) never ran"):
        with capture(second.forward, "attn") as cap:
            first.forward(1)
    assert cap.records == []


@pytest.mark.skipif(sys.version_info < (3, 12), reason="3.11 keeps a comprehension's variable in its own code")
def test_a_comprehension_variable_is_explained_when_never_bound(backend: str) -> None:
    """From 3.12 a comprehension's variable is one of the function's locals, but no return sees it."""

    def _squares(xs: list[int]) -> list[int]:  # a new function each time: get_local warns once per function
        squares = [i * i for i in xs]
        return squares

    with pytest.warns(CaptureWarning, match=r"'i' of .*never bound in its 1 call\(s\)\. 'i' is only the variable of a"):
        with capture(_squares, "i"):
            _squares([1, 2])
    get_local("i")(_squares)
    get_local.activate()
    with pytest.warns(CaptureWarning, match=r"'i' was not bound .* \('i' is only the variable of a comprehension"):
        _squares([3])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with capture(_squares, "squares") as cap:  # a variable of the function's own: no note
            _squares([3])
    assert cap[f"{_squares.__qualname__}.squares"] == [[9]]


def test_a_name_local_to_a_nested_function_is_explained() -> None:
    """A lambda's or nested function's local is not the outer function's: the error says where it is."""

    def outer(x: int) -> int:
        def inner(z: int) -> int:
            w = z + 1
            return w

        return inner(x)

    with pytest.raises(UnknownVariableError, match=r"not a local .*; it is a local of the nested function inner\(\)"):
        capture(outer, "w")


def test_a_variable_asked_for_but_unbound_in_every_call_so_far_selects_nothing(backend: str) -> None:
    """Over batches, an optional variable may be missing from one: reading it gives nothing, not an error."""

    def attend(x: int, masked: bool) -> int:
        attn = x + 1
        if masked:
            mask = x > 0
        return attn

    with capture(attend, "attn", "mask", values="raw") as cap:
        attend(1, True)
        assert [r.value for r in cap.select("*", "mask")] == [True]
        cap.clear()
        attend(1, False)
        assert cap.select("*", "mask") == []
        assert cap.by_path("mask") == {}
        with pytest.raises(KeyError, match="nothing was captured as 'masks'"):
            cap.select("*", "masks")


class Odd:
    def star(*args: int) -> int:
        total = sum(args[1:])
        return total

    def rebinds(self, x: int) -> int:
        kept = x
        self = None  # the first parameter reassigned
        return kept


def test_a_bound_method_whose_calls_cannot_be_told_apart_is_refused() -> None:
    """The object is read from the first parameter: a method without one, or assigning it, is a clear error."""
    odd = Odd()
    with pytest.raises(TypeError, match=r"Odd\.star takes no positional parameter, so its calls cannot be told"):
        capture(odd.star, "total")
    with pytest.raises(TypeError, match=r"Odd\.rebinds assigns its first parameter 'self'"):
        capture(odd.rebinds, "kept")
    with capture(Odd.rebinds, "kept") as cap:  # the function itself: every call
        odd.rebinds(1)
    assert cap["Odd.rebinds.kept"] == [1]


def test_a_result_does_not_keep_the_bound_object_alive(backend: str) -> None:
    """A block's result keeps the values of a bound method's calls but not the object the method was bound to."""
    import gc
    import weakref

    layer = Layer()
    with capture(layer.forward, "attn") as cap:
        layer.forward(1)
    ref = weakref.ref(layer)
    del layer
    gc.collect()
    assert ref() is None
    assert cap["Layer.forward.attn"] == [10]


def test_bound_methods_of_one_function_with_other_names_are_refused() -> None:
    """One function given bound to two objects, or bound and unbound, with different variable names is refused with a
    TypeError; with the same names it captures both objects."""
    first, second = Layer(), Layer()
    with pytest.raises(TypeError, match=r"bound to an object and again .* with other variable names \(attn / hidden\)"):
        capture({first.forward: "attn", second.forward: "hidden"})
    with pytest.raises(TypeError, match="with other variable names"):
        capture({first.forward: "attn", Layer.forward: "hidden"})
    with capture({first.forward: "attn", second.forward: "attn"}) as cap:  # the same names: both objects
        first.forward(1), second.forward(2), Layer().forward(3)
    assert cap["Layer.forward.attn"] == [10, 20]


def _never_called(x: int) -> int:
    y = x + 1
    return y


def test_stack_of_an_empty_block_says_why_and_points_at_capture_attention(backend: str) -> None:
    """stack() on a block that captured nothing repeats the end-of-block reason and names capture_attention."""
    with pytest.warns(CaptureWarning, match="never ran"):
        with capture(_never_called, "y") as cap:
            pass
    with pytest.raises(KeyError, match=r"captured keys: \[\]\. Nothing at all was captured in this block: .*never ran"):
        cap.stack("y")
    with pytest.raises(KeyError, match=r"capture_attention\(model=\.\.\.\)"):
        cap.stack("y")


def test_a_recipes_function_given_by_name_gets_the_recipes_hints() -> None:
    """recipe_hints() finds the recipe whose target a function is, however it was given; others get none."""
    from anycapture.recipes import recipe_hints

    class Fake:
        __module__ = "timm.models.vision_transformer"
        __qualname__ = "Attention.forward"

    assert recipe_hints(Fake) == (recipes.TIMM_VIT.hint, recipes.TIMM_VIT.if_not_run)
    assert recipe_hints(_never_called) == ("", "")


def test_the_same_arguments_again_are_checked_again(backend: str) -> None:
    """capture() called again with the same arguments (a block per forward) sees what changed since:
    a flag of another type, a function's new code, a function wrapping another, a new reduce."""

    def forward(x: int) -> int:
        attn = x * 2
        return attn

    def other(x: int) -> int:
        hidden = x
        return hidden

    for _ in range(2):
        with capture(forward, "attn", values="raw") as cap:
            forward(1)
        assert cap["test_the_same_arguments_again_are_checked_again.<locals>.forward.attn"] == [2]
    with pytest.raises(TypeError, match=r"^strict must be True or False; got 0$"):
        capture(forward, "attn", values="raw", strict=0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^clone must be True or False; got 1$"):
        capture(forward, "attn", values="raw", clone=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="max_size must be an int"):
        capture(forward, "attn", values="raw", max_size=True)  # type: ignore[arg-type]

    def halve(value: int) -> float:
        return value / 2

    for reduce in (halve, lambda value: value + 1):
        for _ in range(2):
            with capture(forward, "attn", values="raw", reduce=reduce) as cap:
                forward(1)
            assert list(cap.values()) == [[reduce(2)]]
    code = forward.__code__
    forward.__code__ = other.__code__
    try:
        with pytest.raises(UnknownVariableError, match="'attn' is not a local variable"):
            capture(forward, "attn", values="raw")
    finally:
        forward.__code__ = code

    def inner(x: int) -> int:
        attn = x * 3
        hidden = attn
        return hidden

    forward.__wrapped__ = inner  # type: ignore[attr-defined]  # as functools.wraps would leave it
    with capture(forward, "attn", values="raw") as cap:
        inner(1)
    assert list(cap.values()) == [[3]]


def test_a_plan_keeps_no_reduce_alive(backend: str) -> None:
    """A reduce= given to capture() before is not kept alive by what capture() remembers of it."""
    import gc
    import weakref

    def reduce(value: object) -> object:
        return value

    for _ in range(2):
        with capture(helper, "scores", values="raw", reduce=reduce):
            helper(1)
    ref = weakref.ref(reduce)
    del reduce
    gc.collect()
    assert ref() is None


def test_blocks_of_one_plan_open_at_once_keep_their_own_records(backend: str) -> None:
    """Blocks made from the same arguments (capture()'s remembered plan), open at once, each keep their own records."""
    for _ in range(2):  # the first call makes the plan, the next ones use it
        with capture(helper, "scores", values="raw"):
            helper(0)
    with capture(helper, "scores", values="raw") as outer:
        helper(1)
        with capture(helper, "scores", values="raw") as inner:
            helper(2)
        helper(3)
    assert outer["helper.scores"] == [1.5, 2.5, 3.5]
    assert inner["helper.scores"] == [2.5]
    assert [r.call for r in outer.records] == [0, 1, 2]
    assert [r.call for r in inner.records] == [0]


def test_a_plan_gives_a_collate_fn_only_to_the_blocks_given_it(backend: str) -> None:
    """A collate_fn= given with the same other arguments converts that block's values only; the next
    block without it converts as values= says, and the collate_fn is not kept alive."""
    import gc
    import weakref

    def tag(value: object) -> object:
        return ("tagged", value)

    for _ in range(2):
        with capture(helper, "scores", values="raw", collate_fn=tag) as cap:
            helper(1)
        assert cap["helper.scores"] == [("tagged", 1.5)]
        with capture(helper, "scores", values="raw") as cap:
            helper(1)
        assert cap["helper.scores"] == [1.5]
    ref = weakref.ref(tag)
    del tag
    gc.collect()
    assert ref() is None


def test_a_plan_follows_a_function_renamed_between_blocks(backend: str) -> None:
    """A block made from remembered arguments keys its values by the function's qualified name now."""

    def forward(x: int) -> int:
        attn = x * 2
        return attn

    for name in ("Attention.forward", "Attention.forward", "Renamed.forward", "Renamed.forward"):
        forward.__qualname__ = name
        with capture(forward, "attn", values="raw") as cap:
            forward(1)
        assert list(cap) == [f"{name}.attn"]

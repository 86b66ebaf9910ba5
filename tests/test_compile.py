"""Capture beside ``torch.compile`` (issue #5): what it does, and where the goal cannot be met.

The goal: under ``torch.compile`` capture either returns the values eager mode gives, or gives one
clear warning and leaves the compiled model's outputs untouched; never a wrong or silently missing
value. Two shapes of model are compiled with each dynamo backend: ``Attn`` itself (dynamo compiles
the frame of ``Attn.forward``), and ``Block``, whose compiled frame inlines ``Attn.forward``.

Dynamo cannot trace the rewritten code (its ``LOAD_CONST`` refuses the sink functions), so while
capture is on (``anycapture._compile``, torch 2.13):

- a frame running the rewritten code is skipped by dynamo and runs eagerly: "top" records eager's
  values, whether capture began before or after compiling;
- a compiling caller graph-breaks at the call (the function is marked like a
  ``torch.compiler.disable``d one), which runs eagerly and records: "inlined, before";
- under ``fullgraph=True`` a graph break is an error, so dynamo inlines the original code instead:
  no value, one warning naming torch.compile, outputs untouched;
- a Block compiled before capture began ("inlined, after") guards only on ``type(self.attn)``,
  never on ``Attn.forward.__code__``, and keeps running its old graph: no value, and one warning at
  the start of capture naming torch.compile;
- "top" with ``fullgraph=True``: the skipped frame is the only one torch.compile would compile, and
  torch 2.13 raises "found no compiled frames" from such a call; the rewritten code's hook counts
  the eager frame as the call's frame, so the call returns eager's outputs and records eager's
  values, with one warning naming torch.compile per block.

When capture ends the function has its code back and none of the attributes set for dynamo, and a
model compiled meanwhile recompiles and returns the uncompiled model's outputs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from anycapture import CaptureWarning, capture, get_local

torch = pytest.importorskip("torch")
dynamo = pytest.importorskip("torch._dynamo")
nn = torch.nn

KEY = "Attn.forward.attn"
BACKENDS = ["eager", "aot_eager", "inductor"]


class Attn(nn.Module):
    """The attention core: ``attn`` is the local everyone wants."""

    def forward(self, q: Any, k: Any, v: Any) -> Any:
        attn = (q @ k.transpose(-2, -1) * 0.5).softmax(-1)
        return attn @ v


class Block(nn.Module):
    """A layer around ``Attn``: compiling it inlines ``Attn.forward`` into the block's graph."""

    def __init__(self) -> None:
        super().__init__()
        self.attn = Attn()
        self.proj = nn.Linear(4, 4)

    def forward(self, x: Any) -> Any:
        return self.proj(self.attn(x, x, x)) + 1


class CompiledModelError(Exception):
    """The compiled model's call raised while capture was on (the goal forbids it)."""


def _model(shape: str) -> tuple[nn.Module, tuple[Any, ...]]:
    torch.manual_seed(0)
    x = torch.randn(1, 2, 3, 4)
    if shape == "inlined":
        return Block().eval(), (x,)
    return Attn().eval(), (x, x * 2, x * 3)


@pytest.fixture(autouse=True)
def _fresh_dynamo() -> Iterator[None]:
    """Each test compiles from scratch, and leaves no compiled code behind."""
    dynamo.reset()
    yield
    dynamo.reset()


@pytest.fixture(scope="module")
def inductor_works() -> None:
    """Inductor needs a working C++ compiler; compile something tiny once to find out."""
    try:
        dynamo.reset()
        compiled = torch.compile(lambda x: x * 2 + 1, backend="inductor")
        torch.testing.assert_close(compiled(torch.ones(3)), torch.full((3,), 3.0))
    except Exception as exc:
        pytest.skip(f"torch.compile(backend='inductor') does not work here: {type(exc).__name__}: {exc}")
    finally:
        dynamo.reset()


@pytest.fixture(params=BACKENDS)
def compiler(request: pytest.FixtureRequest) -> str:
    """A dynamo backend; inductor only where it can compile."""
    if request.param == "inductor":
        request.getfixturevalue("inductor_works")
    return request.param


def _eager(model: nn.Module, args: tuple[Any, ...]) -> tuple[Any, Any]:
    """The uncompiled model's output, and ``attn`` as eager-mode capture records it."""
    with torch.no_grad():
        out = model(*args)
        with capture(Attn.forward, "attn", values="tensor") as cap:
            model(*args)
    return out, cap[KEY][0]


def _run_captured(
    api: str, compiled: Callable[..., Any], args: tuple[Any, ...], calls: int
) -> tuple[list[Any], list[Any], list[str]]:
    """Call ``compiled`` ``calls`` times under capture: (outputs, values captured, capture warnings)."""
    outputs: list[Any] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with torch.no_grad():
                if api == "capture":
                    with capture(Attn.forward, "attn", values="tensor") as cap:
                        outputs += [compiled(*args) for _ in range(calls)]
                    values = list(cap.get(KEY, []))
                else:
                    get_local("attn")(Attn.forward)
                    get_local.activate(values="tensor")
                    try:
                        outputs += [compiled(*args) for _ in range(calls)]
                    finally:
                        get_local.deactivate()
                    values = list(get_local.cache.get(KEY, []))
        except Exception as exc:
            # from None: pytest renders every frame of a chained dynamo traceback, ~0.5 s per test
            raise CompiledModelError(f"{type(exc).__name__}: {str(exc).splitlines()[0]}") from None
    messages = [str(w.message) for w in caught if issubclass(w.category, CaptureWarning)]
    return outputs, values, messages


def _compile(
    shape: str, compiler: str, fullgraph: bool, when: str
) -> tuple[Callable[..., Any], tuple[Any, ...], Any, Any]:
    model, args = _model(shape)
    expected_out, expected_attn = _eager(model, args)
    compiled = torch.compile(model, backend=compiler, fullgraph=fullgraph)
    if when == "after":  # compiled and run once before capture starts
        with torch.no_grad():
            torch.testing.assert_close(compiled(*args), expected_out)
    return compiled, args, expected_out, expected_attn


def _assert_goal(outputs: list[Any], values: list[Any], messages: list[str], expected_out: Any, attn: Any) -> None:
    """Outputs untouched; and either every call's eager value, or none and one warning naming compile."""
    for out in outputs:
        torch.testing.assert_close(out, expected_out)
    if values:
        assert len(values) == len(outputs), f"{len(values)} values for {len(outputs)} calls"
        for value in values:
            torch.testing.assert_close(value, attn)
    else:
        # get_local.activate() captures every function decorated in this process (other test modules'
        # too), and each may warn for itself: count Attn.forward's warnings
        about_compile = [m for m in messages if "torch.compile" in m and "Attn.forward" in m]
        assert len(about_compile) == 1, f"no value, and no single warning naming torch.compile: {messages}"


# -- the goal, per case -------------------------------------------------------------------------


def _case(shape: str, when: str, fullgraph: bool) -> Any:
    ids = f"{shape}-{when}-{'fullgraph' if fullgraph else 'graph-breaks-ok'}"
    return pytest.param(shape, when, fullgraph, id=ids)


@pytest.mark.parametrize("api", ["capture", "get_local"])
@pytest.mark.parametrize(
    ("shape", "when", "fullgraph"),
    [_case(s, w, f) for s in ("top", "inlined") for w in ("before", "after") for f in (False, True)],
)
def test_goal(backend: str, compiler: str, shape: str, when: str, api: str, fullgraph: bool) -> None:
    """Under torch.compile, capture gives eager's values, or one warning naming compile; outputs untouched."""
    compiled, args, expected_out, attn = _compile(shape, compiler, fullgraph, when)
    outputs, values, messages = _run_captured(api, compiled, args, calls=2)
    _assert_goal(outputs, values, messages, expected_out, attn)


# -- the details --------------------------------------------------------------------------------


@pytest.mark.parametrize("api", ["capture", "get_local"])
@pytest.mark.parametrize("shape", ["top", "inlined"])
def test_no_wrong_value_and_compiled_model_intact_afterwards(backend: str, shape: str, api: str) -> None:
    """Whatever dynamo does under capture, no recorded value is wrong, and after capture ends the
    function has its own code back and the compiled model returns the uncompiled model's outputs."""
    original = Attn.forward.__code__
    for when in ("before", "after"):
        dynamo.reset()
        compiled, args, expected_out, attn = _compile(shape, "eager", False, when)
        _, values, _ = _run_captured(api, compiled, args, calls=2)
        for value in values:
            torch.testing.assert_close(value, attn)
        assert Attn.forward.__code__ is original
        with torch.no_grad():
            torch.testing.assert_close(compiled(*args), expected_out)
            torch.testing.assert_close(compiled(*args), expected_out)


@pytest.mark.parametrize("api", ["capture", "get_local"])
def test_top_frame_under_fullgraph_runs_eagerly_and_warns(backend: str, api: str) -> None:
    """torch.compile(Attn, fullgraph=True) while capturing: Attn.forward runs eagerly and records
    eager's value at every call, torch does not raise, and one warning per block says the model ran
    uncompiled; after capture the compiled model works again, with the uncompiled model's outputs."""
    model, args = _model("top")
    expected_out, attn = _eager(model, args)
    compiled = torch.compile(model, backend="eager", fullgraph=True)
    for _ in range(2):
        outputs, values, messages = _run_captured(api, compiled, args, calls=2)
        get_local.clear()
        assert len(values) == 2
        for value, out in zip(values, outputs, strict=True):
            torch.testing.assert_close(value, attn)
            torch.testing.assert_close(out, expected_out)
        messages = [m for m in messages if "Attn.forward" in m]
        assert len(messages) == 1
        assert "torch.compile(fullgraph=True)" in messages[0]
        assert "uncompiled" in messages[0]
        assert "_torchdynamo_disable" not in vars(Attn.forward)
    with torch.no_grad():
        torch.testing.assert_close(compiled(*args), expected_out)


def test_fullgraph_check_still_raises_for_frames_anycapture_did_not_skip(backend: str) -> None:
    """The hook counts only a frame of the captured function: a fullgraph call that ran nothing
    compiled for another reason still raises torch's error while capture is on."""

    def other(x: Any) -> Any:
        return x * 2

    dynamo.eval_frame.skip_code(other.__code__)
    compiled = torch.compile(other, backend="eager", fullgraph=True)
    model, args = _model("top")
    with torch.no_grad(), capture(Attn.forward, "attn", values="tensor") as cap:
        model(*args)
        with pytest.raises(RuntimeError, match="fullgraph=True found no compiled frames"):
            compiled(torch.ones(2))
    assert len(cap[KEY]) == 1


def test_code_restored_when_the_compiled_call_raises(backend: str) -> None:
    """A capture block left by an exception from the compiled model still gives the function its
    original code back, without the attributes set for dynamo, and get_local is off again."""
    original = Attn.forward.__code__
    compiled, args, _, _ = _compile("top", "eager", True, "before")
    bad_args = (*args[:2], torch.ones(5, 7))  # attn @ v cannot multiply these shapes
    for api in ("capture", "get_local"):
        with pytest.raises(CompiledModelError):
            _run_captured(api, compiled, bad_args, calls=1)
        assert Attn.forward.__code__ is original
        assert vars(Attn.forward) == {}
    assert not get_local.is_activated()


def test_inlined_after_compile_capture_block_warns(backend: str) -> None:
    """A Block compiled before the block runs its old graph, and capture is not silent about it:
    one warning, as capture begins, names torch.compile; capture() adds that Attn.forward never ran."""
    compiled, args, expected_out, _ = _compile("inlined", "eager", False, "after")
    outputs, values, messages = _run_captured("capture", compiled, args, calls=2)
    assert values == []
    assert len(messages) == 2
    assert "torch.compile" in messages[0]
    assert "Attn.forward" in messages[0]
    assert "torch._dynamo.reset()" in messages[0]
    assert "never ran" in messages[1]
    for out in outputs:
        torch.testing.assert_close(out, expected_out)


def test_reset_after_capture_begins_records_from_a_model_compiled_before(backend: str) -> None:
    """What the warning advises works: torch._dynamo.reset() once capture is on, and the Block
    compiled before records eager's value at every call."""
    compiled, args, expected_out, attn = _compile("inlined", "eager", False, "after")
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", CaptureWarning)
        with capture(Attn.forward, "attn", values="tensor") as cap:
            dynamo.reset()
            outputs = [compiled(*args) for _ in range(2)]
    assert len(cap[KEY]) == 2
    for value, out in zip(cap[KEY], outputs, strict=True):
        torch.testing.assert_close(value, attn)
        torch.testing.assert_close(out, expected_out)


def test_fullgraph_inlined_warns_once_per_capture_block(backend: str) -> None:
    """Under fullgraph=True the inlined function records nothing, and says so once in each block,
    whether or not the graph is compiled anew there."""
    compiled, args, expected_out, _ = _compile("inlined", "eager", True, "before")
    for _ in range(2):
        outputs, values, messages = _run_captured("get_local", compiled, args, calls=2)
        get_local.clear()
        assert values == []
        messages = [m for m in messages if "Attn.forward" in m]  # get_local may hold other tests' functions
        assert len(messages) == 1
        assert "torch.compile" in messages[0]
        for out in outputs:
            torch.testing.assert_close(out, expected_out)


def test_attributes_removed_and_model_recompiled_after_capture(backend: str) -> None:
    """Capture marks the function for dynamo only while it is on: afterwards its ``__dict__`` is as
    before, and a Block compiled during capture (with a graph break at the call) recompiles into one
    graph that returns the uncompiled model's outputs."""
    counter = dynamo.testing.CompileCounter()
    model, args = _model("inlined")
    expected_out, _ = _eager(model, args)
    compiled = torch.compile(model, backend=counter)
    with torch.no_grad():
        with capture(Attn.forward, "attn") as cap:
            marks = {"_torchdynamo_disable", "_torchdynamo_disable_msg", "_torchdynamo_inline"}
            assert set(vars(Attn.forward)) == marks
            torch.testing.assert_close(compiled(*args), expected_out)
        assert len(cap[KEY]) == 1
        assert vars(Attn.forward) == {}
        frames = counter.frame_count
        for _ in range(2):
            torch.testing.assert_close(compiled(*args), expected_out)
        assert counter.frame_count == frames + 1  # one recompilation, then the new graph is reused


def test_dynamo_settings_of_the_function_are_left_alone(backend: str) -> None:
    """A function the user marked for dynamo keeps exactly its own settings, during capture and after."""

    def forward(x: Any) -> Any:
        y = x * 2
        return y + 1

    marker = object()
    forward._torchdynamo_disable = marker  # type: ignore[attr-defined]
    compiled = torch.compile(lambda x: forward(x) - 1, backend="eager")
    with torch.no_grad(), capture(forward, "y", values="tensor") as cap:
        assert vars(forward) == {"_torchdynamo_disable": marker}
        torch.testing.assert_close(compiled(torch.ones(2)), torch.full((2,), 2.0))
    assert vars(forward) == {"_torchdynamo_disable": marker}
    [values] = cap.values()
    torch.testing.assert_close(values[0], torch.full((2,), 2.0))


def test_private_dynamo_api_missing_degrades_to_one_warning(backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """On a torch without the dynamo internals used, capture still begins and records uncompiled
    calls, with one warning that names torch.compile, and never an exception."""
    from anycapture import _engine
    from anycapture._backends import _compile

    model, args = _model("top")
    expected_out, attn = _eager(model, args)
    monkeypatch.setattr(_compile, "_failures", set())  # the warning is given once per process
    target = _engine.target_of(Attn.forward)
    if target is not None and "bytecode" in target.kept:  # code marked by earlier tests: mark it again
        monkeypatch.setattr(target.kept["bytecode"].guard, "skipped_code", None)
    monkeypatch.delattr(torch._C._dynamo.eval_frame, "set_code_exec_strategy")
    warned = []
    for _ in range(2):
        outputs, values, messages = _run_captured("capture", model, args, calls=1)
        torch.testing.assert_close(values[0], attn)
        torch.testing.assert_close(outputs[0], expected_out)
        warned.append(messages)
    assert len(warned[0]) == 1
    assert "torch.compile" in warned[0][0]
    assert "AttributeError" in warned[0][0]
    assert warned[1] == []


def test_capture_does_not_import_dynamo() -> None:
    """With torch imported but torch.compile never used, capture leaves torch._dynamo unimported
    (importing it takes about a second)."""
    code = (
        "import sys, torch\n"
        "from anycapture import capture\n"
        "def f(x):\n    y = x + 1\n    return y\n"
        "with capture(f, 'y') as cap:\n    f(torch.ones(1))\n"
        "assert len(cap['f.y']) == 1\n"
        "assert 'torch._dynamo' not in sys.modules, 'torch._dynamo imported'\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=120)


def test_eager_capture_of_the_same_models(backend: str) -> None:
    """The reference: uncompiled, both APIs record one eager value per call, for both shapes."""
    for shape in ("top", "inlined"):
        model, args = _model(shape)
        expected_out, attn = _eager(model, args)
        for api in ("capture", "get_local"):
            outputs, values, messages = _run_captured(api, model, args, calls=2)
            get_local.clear()
            assert messages == []
            assert len(values) == 2
            for value in values:
                torch.testing.assert_close(value, attn)
            for out in outputs:
                torch.testing.assert_close(out, expected_out)

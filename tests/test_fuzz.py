"""Differential fuzzing: generated functions, captured values against a tracing ground truth.

Functions with random branches, loops, try/except/finally, with-blocks, early returns, deletes and
closures are generated as source; each is run with capture on and compared with what
``sys.settrace`` sees in the frame at each return: the same final values, the same unbound names,
and the same return value as the plain function.
"""

from __future__ import annotations

import os
import sys
import types
import warnings
from typing import Any

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from anycapture import CaptureWarning, capture, get_local  # noqa: E402

NAMES = ("a", "b", "c")


class Ctx:
    """A context manager that swallows ValueError, so code after a raise inside it runs on."""

    def __enter__(self) -> Ctx:
        return self

    def __exit__(self, kind: object, value: object, tb: object) -> bool:
        return kind is ValueError

    def __eq__(self, other: object) -> bool:  # the same in a traced run and a captured one
        return isinstance(other, Ctx)

    __hash__ = object.__hash__


# ANYCAPTURE_FUZZ_EXAMPLES=N runs N examples per test instead (a longer run than CI's).
RETURN_EXAMPLES = int(os.environ.get("ANYCAPTURE_FUZZ_EXAMPLES", "60"))
EACH_EXAMPLES = int(os.environ.get("ANYCAPTURE_FUZZ_EXAMPLES", "40"))


def _expr(draw: Any) -> str:
    return str(draw(st.sampled_from(["x", "x + 1", "len(NAMES)", "7", "x * 2", "[x]"])))


def _fresh(draw: Any) -> str:
    """An expression that makes a new object each time, so a tracer sees every assignment."""
    return str(draw(st.sampled_from(["[x]", "[x + 1]", "(x, 7)", "[len(NAMES)]", "Box(x)"])))


class Box:
    """A fresh object per assignment, compared by content."""

    def __init__(self, value: int) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Box) and other.value == self.value

    __hash__ = None  # type: ignore[assignment]


@st.composite
def programs(draw: Any, each: bool, depth: int = 0) -> list[str]:
    """A list of source lines (indented relatively) forming a block over the names a, b and c.

    ``each=False`` draws values from a few plain expressions, for the captures at returns.
    ``each=True`` makes every assignment bind a new object, so that an opcode tracer sees it, and
    adds augmented, unpacking and walrus assignments, while loops and ``with ... as`` targets.
    """
    value = _fresh if each else _expr
    lines: list[str] = []
    for _ in range(draw(st.integers(1, 3))):
        kinds = ["assign", "assign", "return", "del"]
        if each:
            kinds += ["aug", "unpack", "walrus"]
        if depth < 2:
            kinds += ["if", "for", "try", "with", "closure"]
            if each:
                kinds.append("while")
        kind = draw(st.sampled_from(kinds))
        name, other = draw(st.permutations(NAMES))[:2]

        def inner() -> list[str]:
            return ["    " + line for line in draw(programs(each, depth + 1))]

        if kind == "assign":
            lines.append(f"{name} = {value(draw)}")
        elif kind == "aug":
            lines.append(f"{name} = (x,); {name} += (1,)")
        elif kind == "unpack":
            lines.append(f"{name}, {other} = {value(draw)}, {value(draw)}")
        elif kind == "walrus":
            lines.append(f"if ({name} := {value(draw)}): pass")
        elif kind == "return":
            lines.append(f"if x % {draw(st.integers(2, 4))} == 0: return {draw(st.sampled_from(['x', '-1']))}")
        elif kind == "del":
            lines.append(f"{name} = {'[0]' if each else '0'}; del {name}")
        elif kind == "if":
            lines.append(f"if x > {draw(st.integers(0, 4))}:")
            lines += inner()
            lines.append("else:")
            lines += inner()
        elif kind == "for":
            lines.append(f"for {name} in {'map(Box, range(x % 3))' if each else 'range(x % 3)'}:")
            lines += inner()
        elif kind == "while":
            lines += ["n = 0", "while n < x % 3:", "    n += 1"]
            lines += inner()
        elif kind == "try":
            lines.append("try:")
            lines += inner()
            lines.append(f"    if x == {draw(st.integers(0, 5))}: raise KeyError(x)")
            lines.append(f"except KeyError as {name}:")
            lines += inner()
            lines.append("finally:")
            lines += inner()
        elif kind == "with":
            lines.append(f"with Ctx() as {name}:" if each else "with Ctx():")
            lines += inner()
            lines.append(f"    if x == {draw(st.integers(0, 5))}: raise ValueError(x)")
        else:  # a closure reading a variable makes it a cell variable
            lines.append(f"{name} = {value(draw) if each else 'x'}")
            lines.append(f"inner = lambda: {name}")
    return lines


def _ground_truth(func: types.FunctionType, x: int) -> tuple[Any, dict[str, Any]]:
    """The return value, and the named locals bound in the frame when it returned (via settrace)."""
    seen: dict[str, Any] = {}

    def tracer(frame: types.FrameType, event: str, arg: object) -> Any:
        if frame.f_code is not func.__code__:
            return None
        if event == "return":
            seen.clear()
            seen.update({n: frame.f_locals[n] for n in NAMES if n in frame.f_locals})
        return tracer

    old = sys.gettrace()
    sys.settrace(tracer)
    try:
        result = func(x)
    finally:
        sys.settrace(old)
    return result, seen


@pytest.mark.parametrize("how", ["get_local", "capture", "both"])
@settings(max_examples=RETURN_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=programs(each=False))
def test_generated_functions_capture_what_the_frame_holds(backend: str, how: str, body: list[str]) -> None:
    """For generated functions, the captured final values equal the frame's at every return:
    through get_local (a sink per variable), a capture block (all of a call's values in one
    collector call, checked first where a variable may be unbound), or both at once."""
    source = "def f(x):\n    a = b = c = None\n    del a, b, c\n" + "".join(f"    {line}\n" for line in body)
    source += "    return (x, 'end')\n"
    namespace: dict[str, Any] = {"Ctx": Ctx, "NAMES": NAMES}
    exec(compile(source, "<generated>", "exec"), namespace)
    func = namespace["f"]
    expected = [_ground_truth(func, x) for x in range(6)]
    if how != "capture":
        get_local(*NAMES)(func)
        get_local.clear()
        get_local.activate()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CaptureWarning)
            if how == "get_local":
                results = [func(x) for x in range(6)]
            else:
                with capture(func, *NAMES, values="raw") as cap:
                    results = [func(x) for x in range(6)]
    finally:
        get_local.deactivate()
    assert results == [result for result, _ in expected], source
    if how != "capture":
        for name in NAMES:
            captured = list(get_local.cache.get(f"f.{name}", []))
            truth = [values[name] for _, values in expected if name in values]
            assert captured == truth, (name, source)
        get_local.clear()
    if how != "get_local":
        by_call = [{r.name: r.value for r in cap.records if r.call == call} for call in range(6)]
        assert by_call == [values for _, values in expected], source


# -- when="each": every assignment, against an opcode-tracing ground truth ---------------------

_UNSET = object()


def _comparable(value: Any) -> Any:
    """Exceptions compare by identity; a traced run and a captured one raise equal, not the same."""
    return (type(value), value.args) if isinstance(value, BaseException) else value


def _assignments_traced(func: types.FunctionType, x: int) -> tuple[Any, list[tuple[str, Any, int]]]:
    """The return value and every (name, new value, line of the store) an opcode tracer sees.

    A store shows as a new object in the frame at the next instruction; the line is that of the
    instruction before it, the store itself. The compiler's own ``name = None`` before deleting
    an ``except ... as name`` target is not an assignment the source makes, so it is left out.
    """
    seen: list[tuple[str, Any, int]] = []
    last: dict[str, Any] = {}
    previous_line: list[Any] = [0]

    def tracer(frame: types.FrameType, event: str, arg: object) -> Any:
        if frame.f_code is not func.__code__:
            return None
        frame.f_trace_opcodes = True
        if event in ("opcode", "return"):
            current = {n: frame.f_locals.get(n, _UNSET) for n in NAMES}
            for name in NAMES:
                value = current[name]
                if value is not last.get(name, _UNSET) and value is not _UNSET:
                    seen.append((name, value, previous_line[0]))
                if value is _UNSET and seen and seen[-1][0] == name and seen[-1][1] is None:
                    seen.pop()  # the except-as cleanup: None, then deleted at once
            last.clear()
            last.update(current)
            previous_line[0] = frame.f_lineno
        return tracer

    tracer.seen = seen  # type: ignore[attr-defined]

    if sys.version_info >= (3, 12):
        # 3.12.1's settrace often gives no opcode events; sys.monitoring's INSTRUCTION events do.
        return _assignments_monitored(func, x, tracer)
    old = sys.gettrace()
    sys.settrace(tracer)
    try:
        result = func(x)
    finally:
        sys.settrace(old)
    return result, seen


def _assignments_monitored(func: types.FunctionType, x: int, tracer: Any) -> tuple[Any, list[tuple[str, Any, int]]]:
    """Run ``tracer``'s observation at every instruction and return, fed by sys.monitoring."""
    monitoring = sys.monitoring
    tool = next(t for t in range(6) if monitoring.get_tool(t) is None)
    code = func.__code__
    lines = {offset: line for start, end, line in code.co_lines() for offset in range(start, end, 2)}

    class Frame:  # what the tracer reads: the frame's locals and the line of the instruction
        def __init__(self, frame: types.FrameType, offset: int) -> None:
            self.f_code, self.f_locals, self.f_lineno = code, frame.f_locals, lines.get(offset)
            self.f_trace_opcodes = True

    def on_instruction(_code: types.CodeType, offset: int) -> None:
        tracer(Frame(sys._getframe(1), offset), "opcode", None)

    def on_return(_code: types.CodeType, offset: int, _value: object) -> None:
        tracer(Frame(sys._getframe(1), offset), "return", None)

    monitoring.use_tool_id(tool, "anycapture-tests")
    events = monitoring.events
    monitoring.register_callback(tool, events.INSTRUCTION, on_instruction)
    monitoring.register_callback(tool, events.PY_RETURN, on_return)
    monitoring.set_local_events(tool, code, events.INSTRUCTION | events.PY_RETURN)
    try:
        result = func(x)
    finally:
        monitoring.set_local_events(tool, code, 0)
        monitoring.register_callback(tool, events.INSTRUCTION, None)
        monitoring.register_callback(tool, events.PY_RETURN, None)
        monitoring.free_tool_id(tool)
    return result, tracer.seen  # type: ignore[attr-defined]


def _in_line_order(assigned: list[tuple[str, Any, int | None]]) -> list[tuple[str, Any, int | None]]:
    """Order names assigned by one statement by name (``a, b = ...`` may store b first on 3.13, in
    one instruction a tracer cannot split); each name's own assignments keep their order."""
    out: list[tuple[str, Any, int | None]] = []
    run: list[tuple[str, Any, int | None]] = []
    for item in [*assigned, None]:
        if item is None or (run and item[2] != run[-1][2]):
            out += sorted(run, key=lambda entry: entry[0])
            run = []
        if item is not None:
            run.append(item)
    return out


@settings(max_examples=EACH_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=programs(each=True))
def test_each_assignment_is_captured_as_a_tracer_sees_it(backend: str, body: list[str]) -> None:
    """when='each' records exactly the assignments an opcode tracer sees, with their lines."""
    if backend != "bytecode":
        pytest.skip("when='each' needs the bytecode backend")
    source = "def f(x):\n" + "".join(f"    {line}\n" for line in body) + "    return (x, 'end')\n"
    namespace: dict[str, Any] = {"Ctx": Ctx, "NAMES": NAMES, "Box": Box}
    exec(compile(source, "<generated-each>", "exec"), namespace)
    func = namespace["f"]
    assigned = [name for name in NAMES if name in func.__code__.co_varnames + func.__code__.co_cellvars]
    if not assigned:
        return
    expected = [_assignments_traced(func, x) for x in range(6)]
    with (
        warnings.catch_warnings(),
        capture(func, *assigned, when="each", values="raw") as cap,
    ):
        warnings.simplefilter("ignore", CaptureWarning)
        results = []
        for x in range(6):
            try:
                results.append(func(x))
            except Exception as exc:  # the same exception must come out
                results.append(type(exc))
    assert results == [result for result, _ in expected], source
    by_call: dict[int, list[tuple[str, Any, int | None]]] = {}
    for record in cap.records:
        by_call.setdefault(record.call, []).append((record.name, _comparable(record.value), record.line))
    calls_with_values = [
        _in_line_order([(n, _comparable(v), line) for n, v, line in seen]) for _, seen in expected if seen
    ]
    assert [_in_line_order(by_call[call]) for call in sorted(by_call)] == calls_with_values, source

"""Differential fuzzing: generated functions, captured values against a tracing ground truth.

Functions with random branches, loops, try/except/finally, with-blocks, early returns, deletes and
closures are generated as source; each is run with capture on and compared with what
``sys.settrace`` sees in the frame at each return: the same final values, the same unbound names,
and the same return value as the plain function.
"""

from __future__ import annotations

import sys
import types
import warnings
from typing import Any

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from anycapture import CaptureWarning, get_local  # noqa: E402

NAMES = ("a", "b", "c")


class Ctx:
    """A context manager that swallows ValueError, so code after a raise inside it runs on."""

    def __enter__(self) -> Ctx:
        return self

    def __exit__(self, kind: object, value: object, tb: object) -> bool:
        return kind is ValueError


def _expr(draw: Any) -> str:
    return str(draw(st.sampled_from(["x", "x + 1", "len(NAMES)", "7", "x * 2", "[x]"])))


@st.composite
def blocks(draw: Any, depth: int = 0) -> list[str]:
    """A list of source lines (indented relatively) forming a block."""
    lines: list[str] = []
    for _ in range(draw(st.integers(1, 3))):
        kinds = ["assign", "assign", "return", "del"]
        if depth < 2:
            kinds += ["if", "for", "try", "with", "closure"]
        kind = draw(st.sampled_from(kinds))
        name = draw(st.sampled_from(NAMES))
        if kind == "assign":
            lines.append(f"{name} = {_expr(draw)}")
        elif kind == "return":
            lines.append(f"if x % {draw(st.integers(2, 4))} == 0: return {draw(st.sampled_from(['x', '-1']))}")
        elif kind == "del":
            lines.append(f"{name} = 0; del {name}")
        elif kind == "if":
            lines.append(f"if x > {draw(st.integers(0, 4))}:")
            lines += ["    " + line for line in draw(blocks(depth + 1))]
            lines.append("else:")
            lines += ["    " + line for line in draw(blocks(depth + 1))]
        elif kind == "for":
            lines.append(f"for {name} in range(x % 3):")
            lines += ["    " + line for line in draw(blocks(depth + 1))]
        elif kind == "try":
            lines.append("try:")
            lines += ["    " + line for line in draw(blocks(depth + 1))]
            lines.append(f"    if x == {draw(st.integers(0, 5))}: raise KeyError(x)")
            lines.append(f"except KeyError as {name}:")
            lines += ["    " + line for line in draw(blocks(depth + 1))]
            lines.append("finally:")
            lines += ["    " + line for line in draw(blocks(depth + 1))]
        elif kind == "with":
            lines.append("with Ctx():")
            lines += ["    " + line for line in draw(blocks(depth + 1))]
            lines.append(f"    if x == {draw(st.integers(0, 5))}: raise ValueError(x)")
        else:  # a closure reading a variable makes it a cell variable
            lines.append(f"{name} = x")
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


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=blocks())
def test_generated_functions_capture_what_the_frame_holds(backend: str, body: list[str]) -> None:
    """For generated functions, the captured final values equal the frame's at every return."""
    source = "def f(x):\n    a = b = c = None\n    del a, b, c\n" + "".join(f"    {line}\n" for line in body)
    source += "    return (x, 'end')\n"
    namespace: dict[str, Any] = {"Ctx": Ctx, "NAMES": NAMES}
    exec(compile(source, "<generated>", "exec"), namespace)
    func = namespace["f"]
    expected = [_ground_truth(func, x) for x in range(6)]
    get_local(*NAMES)(func)
    get_local.clear()
    get_local.activate()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CaptureWarning)
            results = [func(x) for x in range(6)]
    finally:
        get_local.deactivate()
    assert results == [result for result, _ in expected], source
    for name in NAMES:
        captured = list(get_local.cache.get(f"f.{name}", []))
        truth = [values[name] for _, values in expected if name in values]
        assert captured == truth, (name, source)
    get_local.clear()

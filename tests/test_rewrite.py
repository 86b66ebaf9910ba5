"""Capture on real code: every function of a few standard-library modules, all their locals."""

from __future__ import annotations

import dis
import importlib
import inspect
import json
import sys
import textwrap
import types
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from anycapture import CaptureWarning
from anycapture._backends._base import MISSING
from anycapture._backends._bytecode import _Template, _Unbound
from anycapture._engine import Target, attach, detach

MODULES = ["json.decoder", "json.encoder", "argparse", "textwrap", "difflib", "contextlib", "dataclasses", "tarfile"]


def functions(module_name: str) -> Iterator[types.FunctionType]:
    """Python functions defined in a module, including methods of its classes."""
    module = importlib.import_module(module_name)
    for obj in vars(module).values():
        if isinstance(obj, types.FunctionType) and obj.__module__ == module.__name__:
            yield obj
        elif inspect.isclass(obj) and obj.__module__ == module.__name__:
            for member in vars(obj).values():
                member = getattr(member, "__func__", member)
                if isinstance(member, types.FunctionType):
                    yield member


def _is_guard(code: types.CodeType, target: int) -> bool:
    """Whether the handler at ``target`` is one anycapture added around a guarded load."""
    following = [i for i in dis.get_instructions(code) if i.offset >= target][:3]
    return following[0].opname == "POP_TOP" and any(
        isinstance(i.argval, _Unbound) or i.argval is MISSING for i in following[1:]
    )


@pytest.mark.parametrize("module_name", MODULES)
def test_rewritten_code_keeps_cpythons_exception_table(module_name: str) -> None:
    """The rewritten code keeps every handler's stack depth and lasti exactly as CPython compiled them."""
    checked = 0
    for func in functions(module_name):
        names = func.__code__.co_varnames + func.__code__.co_cellvars
        if not names:
            continue
        target = Target(func)
        target.varnames, target.filers = names, tuple(print for _ in names)
        code = _Template(target).code
        original = [(e.depth, e.lasti) for e in dis._parse_exception_table(func.__code__)]  # type: ignore[attr-defined]
        rewritten: list[Any] = []  # (target, depth, lasti, end)
        guard_start = None  # where the guard right after the last entry kept begins
        for e in dis._parse_exception_table(code):  # type: ignore[attr-defined]
            if _is_guard(code, e.target):
                guard_start = e.start if guard_start is None else guard_start
                continue
            # A guard inside a try region splits its entry in two around it: one handler, one entry.
            split = rewritten and rewritten[-1][3] == guard_start and rewritten[-1][:3] == (e.target, e.depth, e.lasti)
            if split:
                rewritten[-1] = (e.target, e.depth, e.lasti, e.end)
            else:
                rewritten.append((e.target, e.depth, e.lasti, e.end))
            guard_start = None
        assert [entry[1:3] for entry in rewritten] == original, func.__qualname__
        checked += 1
    assert checked > 5


class _Owner:
    """A subscriber of its own, so these captures never reach get_local."""


def test_capturing_every_local_of_json_and_textwrap_changes_nothing(backend: str) -> None:
    """Capturing all locals of every function in json and textwrap leaves their results unchanged."""
    document = {"a": [1, 2.5, None, True], "b": {"c": "text \u00e9\n", "d": [[], {}]}, "e": -3}
    long_text = "The quick brown fox jumps over the lazy dog. " * 20

    def workload() -> tuple[Any, ...]:
        encoded = json.dumps(document, indent=2, sort_keys=True)
        return (
            encoded,
            json.loads(encoded),
            json.dumps(document, separators=(",", ":")),
            textwrap.fill(long_text, width=37),
            textwrap.dedent("    a\n      b\n    c"),
            textwrap.shorten(long_text, 50),
        )

    expected = workload()
    owner = _Owner()
    records: list[Any] = []
    targets = [f for m in ("json.decoder", "json.encoder", "json", "textwrap") for f in functions(m)]
    targets = [f for f in targets if f.__code__.co_varnames]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CaptureWarning)  # names unbound on some paths
        for func in targets:
            attach(func, owner, {name: records.append for name in func.__code__.co_varnames})
        try:
            got = workload()
        finally:
            for func in targets:
                detach(func, owner)
    assert got == expected
    assert len(records) > 50
    assert all(f.__code__.co_filename.endswith(".py") for f in targets)
    assert sys.gettrace() is None


def test_an_interrupt_in_a_sink_of_a_maybe_unbound_variable_is_not_swallowed() -> None:
    """The guard around a maybe-unbound variable catches only the load: a KeyboardInterrupt that
    arrives while its sink runs reaches the caller, and is not taken for an unbound variable."""

    def f(flag: bool) -> int:
        if flag:
            y = 1
        return 0

    def interrupted(value: Any) -> None:
        raise KeyboardInterrupt

    owner = _Owner()
    attach(f, owner, {"y": interrupted})
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with pytest.raises(KeyboardInterrupt):
                f(True)
        assert caught == []  # not taken for an unbound variable
        with pytest.warns(CaptureWarning, match="'y' was not bound"):
            assert f(False) == 0  # the guard itself still works
    finally:
        detach(f, owner)

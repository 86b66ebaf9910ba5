"""The engine's kept plan: a subscriber that comes back wanting the same is installed without planning anew."""

from __future__ import annotations

from typing import Any

import pytest

from anycapture import _engine, capture
from anycapture._backends import _bytecode


def layer(x: int) -> int:
    y = x * 2
    z = y + 1
    return z


class _Owner:
    """A subscriber of its own, as a capture block's dispatcher is."""


def _plans(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """A list that gets one entry each time the rewriting backend plans (binds) code for a target."""
    planned: list[object] = []
    real = _bytecode.BytecodeBackend._prepare

    def counting(self: Any, target: Any, kept: Any) -> Any:
        planned.append(target)
        return real(self, target, kept)

    monkeypatch.setattr(_bytecode.BytecodeBackend, "_prepare", counting)
    return planned


def test_a_loop_of_blocks_plans_once(backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks that want the same of a function reinstall the first block's code, unplanned, and record every call."""
    planned = _plans(monkeypatch)
    codes = set()
    for i in range(4):
        with capture(layer, "y") as cap:
            codes.add(layer.__code__)
            layer(i)
        assert cap["layer.y"] == [2 * i]
        assert layer.__code__ is _engine.original_code(layer)
    if backend == "bytecode":
        assert len(planned) == 1
        assert len(codes) == 1


def test_kept_plan_yields_to_another_subscriber(backend: str) -> None:
    """A subscriber that came and went between two blocks leaves the next block recording its own names only."""
    for names in (("y",), ("y", "z"), ("y",)):
        with capture(layer, *names) as cap:
            layer(3)
        assert {key: values for key, values in cap.items()} == {
            f"layer.{name}": [{"y": 6, "z": 7}[name]] for name in names
        }
    with capture(layer, "y") as first:
        with capture(layer, "z") as second:
            layer(1)
        layer(2)
    assert first["layer.y"] == [2, 4]
    assert second["layer.z"] == [3]


def test_plan_is_not_kept_after_an_interrupted_change(backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A detach that finishes one an interrupt cut short drops the plan: the next attach plans anew."""
    planned = _plans(monkeypatch)
    owner, seen = _Owner(), []
    _engine.attach(layer, owner, {}, (("y",), seen.append))
    _engine.detach(layer, owner)
    target = _engine.target_of(layer)
    assert target is not None
    assert target.parked is not None
    _engine.attach(layer, owner, {}, (("y",), seen.append))
    target.changing = True  # as an attach cut short by Ctrl-C leaves it
    _engine.detach(layer, owner)
    assert target.parked is None
    _engine.attach(layer, owner, {}, (("y",), seen.append))
    try:
        layer(5)
    finally:
        _engine.detach(layer, owner)
    assert seen == [10]
    assert layer.__code__ is _engine.original_code(layer)
    if backend == "bytecode":
        assert len(planned) == 2  # the first attach, and the one after the interrupted change


def test_kept_code_is_rebuilt_when_torch_was_imported_meanwhile(backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The rewriting backend plans again when torch's import state differs from the kept code's (its compile hook)."""
    if backend != "bytecode":
        pytest.skip("only the rewriting backend builds code")
    planned = _plans(monkeypatch)
    owner, seen = _Owner(), []
    _engine.attach(layer, owner, {}, (("z",), seen.append))
    _engine.detach(layer, owner)
    target = _engine.target_of(layer)
    assert target is not None
    kept = target.kept["bytecode"]
    code, torch = kept.last
    kept.last = (code, not torch)  # as if torch had been imported (or not) since
    _engine.attach(layer, owner, {}, (("z",), seen.append))
    try:
        layer(1)
    finally:
        _engine.detach(layer, owner)
    assert seen == [3]
    assert len(planned) == 2

"""Attach capture to functions in place, for any number of subscribers, on the chosen backend.

A subscriber (``get_local``, later ``capture`` blocks) attaches a mapping ``{variable: sink}`` to a
function under an owner token. The engine keeps one :class:`Target` per function, merges what all
its subscribers want, and asks a backend to capture exactly that; with no subscribers left, the
function's original code object is back and nothing of anycapture runs when it is called.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import warnings
import weakref
from collections.abc import Callable, Mapping
from types import CodeType, FunctionType
from typing import Any

from ._backends import Backend, InstallError, Sink, get_backend, preferred
from ._errors import CaptureWarning

__all__ = ["Target", "attach", "attached_backend", "detach", "warn_once"]

_MISSING = object()
_lock = threading.RLock()
_targets: weakref.WeakKeyDictionary[FunctionType, Target] = weakref.WeakKeyDictionary()


def warn_once(seen: set[object], key: object, message: str, stacklevel: int = 2) -> None:
    """Warn unless ``key`` is in ``seen`` already; never raises, even under ``simplefilter('error')``.

    Capture code runs inside the user's function, where an escaping warning-turned-error would
    change what the function does.
    """
    if key in seen:
        return
    seen.add(key)
    with contextlib.suppress(Exception):  # best effort: the user's code must not fail
        warnings.warn(message, CaptureWarning, stacklevel=stacklevel + 1)


def label_of(func: FunctionType) -> str:
    """``module:qualname``, the name anycapture uses for a function in messages."""
    return f"{func.__module__}:{func.__qualname__}"


class Target:
    """One function being captured: its original code and what its subscribers want."""

    def __init__(self, func: FunctionType) -> None:
        self._ref = weakref.ref(func, self._on_collected)
        self.original_code: CodeType = func.__code__
        self.label = label_of(func)
        self.subscriptions: dict[object, tuple[dict[str, Sink], Callable[[], None] | None]] = {}
        self.varnames: tuple[str, ...] = ()
        self.sinks: tuple[Sink, ...] = ()
        # Called with no argument at each return, after every variable's sink.
        self.after: tuple[Callable[[], None], ...] = ()
        # Names only subscribers with an ``after`` hook want: they report unbound names themselves.
        self.quiet: frozenset[str] = frozenset()
        # (index, name, sink) per variable, replaced whole: one read gives a consistent view.
        self.entries: tuple[tuple[int, str, Sink], ...] = ()
        self.backend: Backend | None = None
        self.installed_code: CodeType | None = None
        # Per backend, per tuple of names: whatever the backend built once and reuses.
        self.templates: dict[Any, Any] = {}
        self.warned: set[object] = set()

    def function(self) -> FunctionType | None:
        return self._ref()

    def _on_collected(self, _ref: object) -> None:
        backend, self.backend = self.backend, None
        if backend is not None:
            backend.uninstall(self)

    # -- called from inside the captured function: must never raise ------------------------
    def missing(self, index: int) -> None:
        name = self.varnames[index]
        if name in self.quiet:
            return
        warn_once(
            self.warned,
            ("unbound", name),
            f"{name!r} was not bound when {self.label} returned, so that call recorded no value for it "
            "(this warning is shown once per function and variable)",
            stacklevel=3,
        )

    def failed(self, exc: BaseException) -> None:
        warn_once(
            self.warned,
            "failed",
            f"capturing from {self.label} failed ({type(exc).__name__}: {exc}); the function itself ran "
            "unchanged (this warning is shown once per function)",
            stacklevel=3,
        )

    def frame_reader(self, index: int) -> Callable[[], None]:
        """A hook that reads variable ``index`` from the calling frame, if it is bound there.

        Used by the rewriting backend at returns where the variable may be unbound.
        """
        name = self.varnames[index]
        target = self

        def read_frame() -> None:
            try:
                value = sys._getframe(1).f_locals.get(name, _MISSING)
                if value is _MISSING:
                    target.missing(index)
                else:
                    target.sinks[index](value)
            except Exception as exc:
                target.failed(exc)

        return read_frame


def _fan_out(sinks: list[Sink]) -> Sink:
    if len(sinks) == 1:
        return sinks[0]
    all_sinks = tuple(sinks)

    def fan_out(value: Any) -> None:
        for sink in all_sinks:
            sink(value)

    return fan_out


def _refresh(target: Target) -> None:
    """Make the function capture exactly what its subscribers now want."""
    names: list[str] = []
    for wanted, _ in target.subscriptions.values():
        names += [name for name in wanted if name not in names]
    if not names:
        backend, target.backend = target.backend, None
        if backend is not None:
            backend.uninstall(target)
        target.varnames, target.sinks, target.entries, target.after = (), (), (), ()
        return
    sinks = tuple(_fan_out([w[n] for w, _ in target.subscriptions.values() if n in w]) for n in names)
    target.varnames, target.sinks = tuple(names), sinks
    target.after = tuple(after for _, after in target.subscriptions.values() if after is not None)
    target.quiet = frozenset(names) - {
        n for wanted, after in target.subscriptions.values() if after is None for n in wanted
    }
    target.entries = tuple(zip(range(len(names)), names, sinks, strict=True))
    func = target.function()
    if target.backend is None and func is not None and func.__code__ is not target.original_code:
        # Someone gave the function new code while nothing was attached: that is the original now.
        target.original_code, target.templates = func.__code__, {}
    if target.backend is not None:
        try:
            target.backend.install(target)
            return
        except InstallError:
            target.backend.uninstall(target)
            target.backend = None
    reasons = []
    for name in preferred():
        backend = get_backend(name)
        try:
            backend.install(target)
        except InstallError as exc:
            reasons.append(f"{name}: {exc}")
            continue
        target.backend = backend
        return
    warn_once(
        target.warned,
        "uninstallable",
        f"cannot capture from {target.label}; it runs unchanged. " + "; ".join(reasons),
        stacklevel=4,
    )


def attach(
    func: FunctionType, owner: object, sinks: Mapping[str, Sink], after: Callable[[], None] | None = None
) -> None:
    """Start (or change) capture of ``sinks``' variables of ``func`` for ``owner``.

    At each return, each variable's sink gets its value (none for a variable unbound there), in
    one thread, one return at a time; then ``after()`` is called, so that a subscriber can group
    the values of one call. Neither may raise.
    """
    with _lock:
        target = _targets.get(func)
        if target is None:
            target = _targets[func] = Target(func)
        target.subscriptions[owner] = (dict(sinks), after)
        _refresh(target)


def detach(func: FunctionType, owner: object) -> None:
    """Stop capture for ``owner``; the original code returns once no one else captures."""
    with _lock:
        target = _targets.get(func)
        if target is not None and target.subscriptions.pop(owner, None) is not None:
            _refresh(target)


def attached_backend(func: FunctionType) -> str | None:
    """Name of the backend capturing ``func`` now, or ``None``."""
    target = _targets.get(func)
    return target.backend.name if target is not None and target.backend is not None else None

"""Capture with ``sys.monitoring`` (3.12+): a ``PY_RETURN`` event on the target code objects only.

The function's code is never touched, so debuggers and coverage see exactly the original. Events
are enabled with ``set_local_events`` on each target's code object, so nothing else slows down.
The callback reads the returning frame's locals, which makes this slower per call than rewriting.

Events belong to a code object, not a function: closures made by one ``def`` share their code, so
decorating one of them captures calls of all of them, recorded as the most recently attached one
asks (it cannot tell which of them returned).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from types import CodeType
from typing import Any, ClassVar

from ._base import MISSING, InstallError, Target

__all__ = ["MonitoringBackend"]

_TOOL_NAME = "anycapture"
# 0-2 and 5 are reserved by CPython for debuggers, coverage, profilers and optimizers.
_TOOL_IDS = (4, 3)


class MonitoringBackend:
    """Capture through ``sys.monitoring`` ``PY_RETURN`` events; needs Python 3.12 or newer."""

    name: ClassVar[str] = "monitoring"

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._tool: int | None = None
        # Keyed by id(): equal code objects (same source compiled twice) compare equal, but events
        # belong to one object. Tuples, replaced whole, so the callback never sees one changing.
        self._by_code: dict[int, tuple[Target, ...]] = {}
        # What the callback does for each code object, flattened for it (see _plan_of).
        self._plans: dict[int, _Plan] = {}
        self._callback = self._make_callback()

    # -- tool id ---------------------------------------------------------------------------
    def _acquire(self) -> int:
        monitoring = sys.monitoring
        if self._tool is not None and monitoring.get_tool(self._tool) == _TOOL_NAME:  # not freed by a release cut short
            return self._tool
        for tool in _TOOL_IDS:
            name = monitoring.get_tool(tool)
            if name is None or name == _TOOL_NAME:  # ours already: an acquire an interrupt cut short
                if name is None:
                    monitoring.use_tool_id(tool, _TOOL_NAME)
                monitoring.register_callback(tool, monitoring.events.PY_RETURN, self._callback)
                self._tool = tool
                return tool
        taken = {tool: monitoring.get_tool(tool) for tool in _TOOL_IDS}
        raise InstallError(f"every sys.monitoring tool id anycapture may use is taken: {taken}")

    def _release(self) -> None:
        """Give the tool id back; safe to run again after an interrupt (Ctrl-C) cut it, or an acquire, short."""
        monitoring = sys.monitoring
        for tool in _TOOL_IDS:  # the one in use, or one an acquire cut short took before saying so
            if monitoring.get_tool(tool) == _TOOL_NAME:
                # On 3.12/3.13 free_tool_id neither unregisters callbacks nor clears events: do both.
                monitoring.register_callback(tool, monitoring.events.PY_RETURN, None)
                monitoring.set_events(tool, 0)
                monitoring.free_tool_id(tool)
        self._tool = None  # only now: a release cut short is run again by the next uninstall

    # -- Backend ---------------------------------------------------------------------------
    def prepare(self, target: Target) -> None:
        """Nothing to build ahead: events are set on the original code when capture starts."""

    def install(self, target: Target, again: bool = False) -> None:
        if target.each_plan or target.edit_plan:
            raise InstallError("sys.monitoring sees returns only; capturing every assignment or editing needs bytecode")
        with self._lock:
            tool = self._acquire()
            code = target.original_code
            targets = self._by_code.get(id(code), ())
            if target not in targets:
                targets = self._by_code[id(code)] = (*targets, target)
            # Code objects cannot tell which closure returned: the latest attached one records.
            self._plans[id(code)] = _plan_of(targets[-1])
            sys.monitoring.set_local_events(tool, code, sys.monitoring.events.PY_RETURN)

    def uninstall(self, target: Target) -> None:
        """Events off and the tool id free once no target is left; safe to run again after an interrupt."""
        with self._lock:
            code = target.original_code
            targets = tuple(t for t in self._by_code.get(id(code), ()) if t is not target)
            if targets:
                self._by_code[id(code)] = targets
                self._plans[id(code)] = _plan_of(targets[-1])
            else:
                self._by_code.pop(id(code), None)
                self._plans.pop(id(code), None)
                tool = self._tool
                if tool is not None and sys.monitoring.get_tool(tool) == _TOOL_NAME:  # (see _acquire)
                    sys.monitoring.set_local_events(tool, code, 0)
            if not self._by_code:
                self._release()

    # -- hot path --------------------------------------------------------------------------
    def _make_callback(self) -> Callable[[CodeType, int, object], None]:
        """The ``PY_RETURN`` callback: a closure, so each name it uses is a fast local read."""
        plans = self._plans
        getframe = sys._getframe

        def on_return(code: CodeType, offset: int, retval: object) -> None:
            # Never return sys.monitoring.DISABLE: it would silence this return for good.
            plan = plans.get(id(code))
            if plan is None:
                return
            target, pairs, collectors = plan
            try:
                local_vars = getframe(1).f_locals
                for name, filer in pairs:
                    # Indexing with a KeyError for the rare unbound name is faster than .get().
                    try:
                        value = local_vars[name]
                    except KeyError:
                        target.missing(name)
                    else:
                        filer(value)
                for names, collect in collectors:
                    collect(*[local_vars.get(name, MISSING) for name in names])
            except Exception as exc:  # an error here must never reach the user's function
                target.failed(exc)

        return on_return


# (target, ((name, filer), ...), ((names, collect), ...)): all the callback reads, in one tuple.
_Plan = tuple[
    "Target", tuple[tuple[str, Callable[..., object]], ...], tuple[tuple[tuple[str, ...], Callable[..., None]], ...]
]


def _plan_of(target: Target) -> _Plan:
    names = target.varnames
    pairs = tuple((name, filer) for name, filer in zip(names, target.filers, strict=True) if filer is not None)
    collectors = tuple(
        (tuple(names[i] for i in indices), _packing(collect) if packed else collect)
        for indices, collect, packed in target.collectors
    )
    return (target, pairs, collectors)


def _packing(collect: Any) -> Callable[..., None]:
    """A packed collector called as a plain one: ``collect.append((*values, thread id))``."""

    def packing(*values: object) -> None:
        collect.append((*values, threading.get_ident()))

    return packing

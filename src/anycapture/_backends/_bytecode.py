"""Rewrite the function's code object so that each return hands the requested locals to filers.

Before every return instruction we insert, per variable, ``filer(variable)`` and drop the result.
The filers are constants of the new code object: the bound ``append`` of a store when values are
kept as they are (a C call, as cheap as a hand-written ``list.append``), or a Python function when
they are converted. A template is rewritten once per set of names; changing filers afterwards only
swaps constants (``CodeType.replace``), which keeps ``activate()``/``deactivate()`` in microseconds.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from threading import get_ident
from types import CodeType
from typing import Any, ClassVar

from bytecode import Bytecode
from bytecode.instr import CellVar, FreeVar, Instr, Label, TryBegin, TryEnd

from .._analysis import (
    assignment_stores,
    bound_at_returns,
    is_return,
    site_positions,
    split_superinstructions,
)
from . import _compile
from ._base import MISSING, InstallError, Target

__all__ = ["BytecodeBackend"]

_ARG_FLAGS = (0x04, 0x08)  # CO_VARARGS, CO_VARKEYWORDS
# At most an inserted call's filer, NULL and two arguments sit above what the code had there; a
# collector's call holds its values, and a packed one NULL and get_ident while the tuple is built.
_EXTRA_STACK = 4


class _Slot:
    """Placeholder constant for the filer of variable ``index``; replaced when binding."""

    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index


def _call(func: object, args: list[Any], location: Any, count: int | None = None) -> list[Any]:
    """``func(*args)`` with the result dropped, in this interpreter's calling sequence. ``count``:
    how many values ``args`` pushes, when it is not one instruction each."""
    if sys.version_info >= (3, 13):
        seq = [Instr("LOAD_CONST", func, location=location), Instr("PUSH_NULL", location=location)]
    else:
        seq = [Instr("PUSH_NULL", location=location), Instr("LOAD_CONST", func, location=location)]
    return [*seq, *args, *_called(len(args) if count is None else count, location)]


def _packed_call(filer: object, args: list[Any], location: Any, count: int | None = None) -> list[Any]:
    """``filer.append((*args, get_ident()))`` with the result dropped: the tuple is built here, so
    a C ``append`` (a list's) files a call with no Python frame at all. ``append`` is looked up at
    each call: its owner may point it elsewhere while code using it still runs."""
    thread_id = _call(get_ident, [], location)[:-1]  # its result is the tuple's last item
    packed = [*args, *thread_id, Instr("BUILD_TUPLE", (len(args) if count is None else count) + 1, location=location)]
    if sys.version_info >= (3, 12):
        method = Instr("LOAD_ATTR", (True, "append"), location=location)
    else:
        method = Instr("LOAD_METHOD", "append", location=location)
    return [Instr("LOAD_CONST", filer, location=location), method, *packed, *_called(1, location)]


def _called(count: int, location: Any) -> list[Instr]:
    """The call of what the stack holds below ``count`` arguments, its result dropped."""
    seq = [Instr("PRECALL", count, location=location)] if sys.version_info < (3, 12) else []
    return [*seq, Instr("CALL", count, location=location), Instr("POP_TOP", location=location)]


def _load(name: str, code: Bytecode, location: Any) -> Instr:
    if name in code.cellvars:
        return Instr("LOAD_DEREF", CellVar(name), location=location)
    if name in code.freevars:
        return Instr("LOAD_DEREF", FreeVar(name), location=location)
    return _load_fast(name, location)


class _Region:
    """The function's own ``try`` region around a return (or none): a guard's exception-table
    entry is carved out of it, since entries cannot nest, and the region goes on after the guard.

    ``leave()`` ends the region before a guard, ``resume()`` opens a copy of it after; the
    region's own ``TryEnd`` later closes the copy (``end()``). A region left before it holds an
    instruction is dropped instead: an empty exception-table entry would be malformed.
    """

    def __init__(self) -> None:
        self.entry: TryBegin | None = None  # as the original code has it
        self.current: TryBegin | None = None  # the copy open now

    def begin(self, entry: TryBegin) -> None:
        self.entry = self.current = entry

    def end(self, item: TryEnd) -> TryEnd:
        current, self.entry, self.current = self.current, None, None
        return item if current is None or current is item.entry else TryEnd(current)

    def leave(self, out: list[Any]) -> list[Any]:
        """What ends the region, given ``out``, the code up to here."""
        if self.current is None:
            return []
        if out and out[-1] is self.current:  # nothing in it yet
            out.pop()
            return []
        return [TryEnd(self.current)]

    def resume(self) -> list[Any]:
        if self.current is None:
            return []
        self.current = self.current.copy()
        return [self.current]


class _Unbound:
    """The handler's hook when a guarded load finds its variable unbound: one warning, no record.

    It keeps the name itself: the target's names may have changed (capture ending) while the
    call ran."""

    __slots__ = ("name", "target")

    def __init__(self, target: Target, name: str) -> None:
        self.target, self.name = target, name

    def __call__(self) -> None:
        self.target.missing(self.name)


def _if_bound(
    name: str,
    code: Bytecode,
    depth: int,
    region: _Region,
    before: list[Any],
    location: Any,
    then: list[Any],
    otherwise: list[Any],
) -> list[Any]:
    """``then`` if ``name`` is bound here, else ``otherwise``: a load of ``name`` and a POP_TOP in
    an exception-table entry of their own check first; if the load raises UnboundLocalError, the
    handler drops it and runs ``otherwise``.

    Far cheaper than reading the frame's locals when the variable is bound (the usual case), and
    as cheap when it is not. Only the check is guarded, never what ``then`` does with the value:
    anything raised while a filer runs (a KeyboardInterrupt) goes on to the caller, and on 3.13 an
    exception raised inside a call is looked up in the exception table at the instruction before
    the CALL, which must not be guarded. ``depth`` is the stack depth here (at a return, 1 under
    RETURN_VALUE, 0 under RETURN_CONST: CPython returns with nothing else on the stack); ``before``
    is the code up to here (see :meth:`_Region.leave`). A cell or free variable is checked the same
    way, by its ``LOAD_DEREF``: never through ``frame.f_locals``, whose read on 3.11 and 3.12
    refreshes the dict ``locals()`` returned, which the function may hold (or return).
    """
    handler, done = Label(), Label()
    entry = TryBegin(handler, False, depth)
    return [
        *region.leave(before),
        entry,
        _load(name, code, location),
        Instr("POP_TOP", location=location),
        TryEnd(entry),
        *region.resume(),
        *then,
        Instr("JUMP_FORWARD", done, location=location),
        handler,
        Instr("POP_TOP", location=location),
        *otherwise,
        done,
    ]


def _guarded(
    filer: object, name: str, code: Bytecode, hook: _Unbound, depth: int, region: _Region, out: list[Any], location: Any
) -> list[Any]:
    """``filer(name)`` if ``name`` is bound, else ``hook()`` (see :func:`_if_bound`)."""
    then = _call(filer, [_load(name, code, location)], location)
    return _if_bound(name, code, depth, region, out, location, then, _call(hook, [], location))


def _value_or_missing(name: str, code: Bytecode, depth: int, region: _Region, location: Any) -> list[Any]:
    """Push ``name``'s value, or ``MISSING`` if it is unbound (see :func:`_if_bound`); the value
    is loaded again after the check. The call's first instructions precede it: the region left is
    never empty."""
    missing = [Instr("LOAD_CONST", MISSING, location=location)]
    return _if_bound(name, code, depth, region, [None], location, [_load(name, code, location)], missing)


def _after_store(store: Instr, location: Any) -> tuple[Instr, Instr]:
    """A load and a store of the variable ``store`` has just bound (which is bound for sure)."""
    if store.name == "STORE_DEREF":
        return Instr("LOAD_DEREF", store.arg, location=location), Instr("STORE_DEREF", store.arg, location=location)
    return Instr("LOAD_FAST", store.arg, location=location), Instr("STORE_FAST", store.arg, location=location)


def _edit(editor: object, load: Instr, store: Instr, location: Any) -> list[Instr]:
    """``name = editor(name)``."""
    call = _call(editor, [load], location)
    return [*call[:-1], store]  # the result is stored instead of dropped


def _load_fast(name: str, location: Any) -> Instr:
    # LOAD_FAST_CHECK on 3.12+: should the analysis ever be wrong, an UnboundLocalError is
    # still far better than the crash a plain LOAD_FAST of an unbound local causes there.
    return Instr("LOAD_FAST_CHECK" if sys.version_info >= (3, 12) else "LOAD_FAST", name, location=location)


def _arguments(code: Bytecode) -> list[str]:
    count = code.argcount + code.kwonlyargcount + sum(1 for flag in _ARG_FLAGS if code.flags & flag)
    return list(code.argnames[:count])


def _guarded_hook(guard: object, hook: object, location: Any) -> list[Any]:
    """``if guard() is not None: hook()``: one C call when ``guard`` is one, and ``hook`` only when
    it says so (see :func:`._compile.frame_hook`)."""
    done = Label()
    jump = "POP_JUMP_IF_NONE" if sys.version_info >= (3, 12) else "POP_JUMP_FORWARD_IF_NONE"
    check = _call(guard, [], location)[:-1]  # its result is tested, not dropped
    return [*check, Instr(jump, done, location=location), *_call(hook, [], location), done]


class _Template:
    """The rewritten code with placeholder filers, and how to bind real ones.

    With a ``compile_hook`` (``(guard, hook)``, while the program has imported torch), each return
    first runs ``if guard() is not None: hook()``, the hook bound in the last slot."""

    def __init__(self, target: Target, compile_hook: tuple[object, object] | None = None) -> None:
        original = target.original_code
        try:
            # Keep the exception table's stack depths: the inserted calls sit above them and never
            # cross a try boundary, so they stay right, and bytecode's costly passes to recompute
            # them (and the stack size, bounded below) can be skipped.
            code = Bytecode.from_code(original, conserve_exception_block_stackdepth=True)
            each_plan, edit_plan = target.each_plan, target.edit_plan
            if each_plan or edit_plan:
                code[:] = split_superinstructions(list(code))
            tracked = list(target.varnames)
            bound = bound_at_returns(code, tracked, _arguments(code))
            # Slots, in the order bind() gets them: the per-variable filers, the collectors, the
            # filers after assignments, the editors.
            filed = [i for i, filer in enumerate(target.filers) if filer is not None]
            collectors = [(indices, packed) for indices, _, packed in target.collectors]
            n_slots = len(filed) + len(collectors) + len(each_plan) + len(edit_plan)
            slots = [_Slot(i) for i in range(n_slots + (compile_hook is not None))]
            filer_slot = {i: slots[k] for k, i in enumerate(filed)}
            collector_slots = slots[len(filed) : len(filed) + len(collectors)]
            first_each = len(filed) + len(collectors)
            each_slot = {
                name: (slots[first_each + i], sites, takes_site)
                for i, (name, sites, takes_site) in enumerate(each_plan)
            }
            first_editor = first_each + len(each_plan)
            edit_slot = {spot: slots[first_editor + i] for i, spot in enumerate(edit_plan)}
            extra_stack = max([_EXTRA_STACK, *(4 + len(indices) for indices, _ in collectors)])
            items = list(code)
            stores = assignment_stores(items, {*each_slot, *(name for name, _ in edit_plan)})
            positions = site_positions(items, stores)
            # A variable that may be unbound at a return is loaded under a guard (plain locals,
            # cells and free variables alike). Two kinds are not: a name that is no variable of
            # the function (never bound: MISSING at once), and a cell of a comprehension 3.12
            # inlines, whose slot holds no cell outside it (LOAD_DEREF would crash): read from the
            # frame, the one read of frame.f_locals left at a return.
            cleared = {i.arg for i in code if isinstance(i, Instr) and i.name == "LOAD_FAST_AND_CLEAR"}
            variables = {*original.co_varnames, *code.cellvars, *code.freevars}
            from_frame = {name for name in tracked if name in code.cellvars and name in cleared}
            # A cell is never taken for bound: an inner function may delete it (nonlocal; del).
            cells = {*code.cellvars, *code.freevars}
            out: list[Any] = []
            region = _Region()
            for index, item in enumerate(items):
                if isinstance(item, TryBegin):
                    region.begin(item)
                elif isinstance(item, TryEnd):
                    item = region.end(item)
                if is_return(item):
                    location = item.location
                    ready = bound.get(index, frozenset()) - cells
                    depth = 1 if item.name == "RETURN_VALUE" else 0
                    if compile_hook is not None:
                        out += _guarded_hook(compile_hook[0], slots[n_slots], location)
                    for i, slot in filer_slot.items():
                        name = tracked[i]
                        if name in ready:
                            out += _call(slot, [_load(name, code, location)], location)
                        elif name not in variables:
                            out += _call(_Unbound(target, name), [], location)
                        elif name not in from_frame:
                            out += _guarded(slot, name, code, _Unbound(target, name), depth, region, out, location)
                        else:
                            out += _call(target.frame_reader(i), [], location)
                    for position, ((indices, packed), slot) in enumerate(zip(collectors, collector_slots, strict=True)):
                        names = [tracked[i] for i in indices]
                        if from_frame.intersection(names):
                            out += _call(target.frame_collector(position), [], location)
                            continue
                        loads: list[Any] = []
                        for k, name in enumerate(names):
                            if name in ready:
                                loads.append(_load(name, code, location))
                            elif name not in variables:
                                loads.append(Instr("LOAD_CONST", MISSING, location=location))
                            else:  # the filer (and NULL or self) and the values before it are on the stack
                                loads += _value_or_missing(name, code, depth + 2 + k, region, location)
                        out += (_packed_call if packed else _call)(slot, loads, location, len(names))
                out.append(item)
                if index in stores and isinstance(item, Instr):
                    name, position, location = stores[index], positions[index], item.location
                    load, store = _after_store(item, location)
                    editor = edit_slot.get((name, position))
                    if editor is not None:
                        out += _edit(editor, load, store, location)
                    wanted = each_slot.get(name)
                    if wanted is not None and (wanted[1] is None or position in wanted[1]):
                        args = [load, Instr("LOAD_CONST", position, location=location)] if wanted[2] else [load]
                        out += _call(wanted[0], args, location)
            code[:] = out
            self.code = code.to_code(
                stacksize=original.co_stacksize + extra_stack, compute_exception_stack_depths=False
            )
        except Exception as exc:  # bytecode cannot handle this function: let the engine fall back
            raise InstallError(f"cannot rewrite {target.label}: {type(exc).__name__}: {exc}") from exc
        if self.code.co_freevars != original.co_freevars or self.code.co_cellvars != original.co_cellvars:
            raise InstallError(f"rewriting {target.label} changed its closure layout")
        consts = self.code.co_consts
        self._slots = {i: c.index for i, c in enumerate(consts) if type(c) is _Slot}
        self._bound: tuple[tuple[Callable[..., Any], ...], CodeType] | None = None

    def bind(self, filers: tuple[Callable[..., Any], ...]) -> CodeType:
        """The code with these filers; the same code object again while the filers are the same."""
        if self._bound is not None and self._bound[0] == filers:
            return self._bound[1]
        consts = list(self.code.co_consts)
        for position, index in self._slots.items():
            consts[position] = filers[index]
        code = self.code.replace(co_consts=tuple(consts))
        self._bound = (filers, code)
        return code


def _carry_local_events(source: CodeType, dest: CodeType) -> None:
    """Give ``dest`` the ``sys.monitoring`` local events other tools set on ``source``.

    A tool (coverage, a debugger) that enabled events on the original code object keeps
    receiving them while the instrumented copy runs, and again after it is swapped back.
    """
    if sys.version_info >= (3, 12):
        monitoring = sys.monitoring
        names = list(map(monitoring.get_tool, _TOOL_IDS))  # one C loop: this runs at every swap
        if names == _NO_TOOLS:
            return
        for tool, name in enumerate(names):
            if name is None or name == "anycapture":
                continue
            events = monitoring.get_local_events(tool, source)
            if events:
                monitoring.set_local_events(tool, dest, monitoring.get_local_events(tool, dest) | events)


_MONITORING = sys.version_info >= (3, 12)  # other tools' local events exist (else nothing to carry)
_TOOL_IDS = range(6)
_NO_TOOLS = [None] * 6


class _Kept:
    """What the backend keeps for one target (``target.kept["bytecode"]``): the templates built
    once per shape (reused block after block), the code installed now and the code last installed
    (with whether torch was imported then), and what the torch.compile guard did."""

    __slots__ = ("guard", "installed_code", "last", "templates")

    def __init__(self) -> None:
        self.templates: dict[Any, _Template] = {}
        # Recorded in the statement that installs it: uninstall() tells it from someone else's code.
        self.installed_code: CodeType | None = None
        # (code, whether the program had imported torch): install(again=True) puts it back as it is
        # when torch's state is the same (the compile hook is built into the code only with torch).
        self.last: tuple[CodeType, bool] | None = None
        self.guard = _compile.Guard()


class BytecodeBackend:
    """Capture by swapping in a rewritten ``__code__``; the fastest backend on 3.11-3.13."""

    name: ClassVar[str] = "bytecode"

    def _kept(self, target: Target) -> _Kept:
        kept: _Kept | None = target.kept.get("bytecode")
        if kept is None:
            kept = target.kept["bytecode"] = _Kept()
        return kept

    def prepare(self, target: Target) -> CodeType:
        """The code for what ``target`` now describes: its template (built once, kept with the
        target) bound to its filers (the same code object again while they stay the same)."""
        return self._prepare(target, self._kept(target))

    def _prepare(self, target: Target, kept: _Kept) -> CodeType:
        shape = target.shape
        compile_hook = _compile.frame_hook(kept.guard, target)  # None unless the program has imported torch
        key = shape if compile_hook is None else (shape, "compile hook")
        template = kept.templates.get(key)
        if template is None:
            template = kept.templates[key] = _Template(target, compile_hook)
        bound = []  # a loop, not comprehensions: this runs at every capture block's start
        for filer in target.filers:
            if filer is not None:
                bound.append(filer)
        for _, collect, _ in target.collectors:
            bound.append(collect)
        if compile_hook is not None:
            return template.bind((*bound, *target.each_filers, *target.editors, compile_hook[1]))
        return template.bind((*bound, *target.each_filers, *target.editors))

    def install(self, target: Target, again: bool = False) -> None:
        func = target.ref()
        if func is None:
            return
        kept: _Kept | None = target.kept.get("bytecode")
        if kept is None:
            kept = target.kept["bytecode"] = _Kept()
        # A block per forward resumes the plan its last block had: the same code object, unplanned.
        last = kept.last
        torch = "torch" in sys.modules
        code = last[0] if again and last is not None and last[1] is torch else self._prepare(target, kept)
        current = func.__code__
        if current is not target.original_code and current is not kept.installed_code:
            raise InstallError(
                f"{target.label}.__code__ was replaced by someone else while anycapture was attached; "
                "not overwriting it"
            )
        if _MONITORING:
            _carry_local_events(current, code)
        # One statement: no interrupt (Ctrl-C) can come between the swap and its record, which
        # uninstall() needs to tell the code it put there from someone else's.
        func.__code__ = kept.installed_code = code
        kept.last = (code, torch)
        if torch:  # keeps torch.compile from tracing the rewritten code
            _compile.installed(kept.guard, target, func, code)

    def uninstall(self, target: Target) -> None:
        """The original code back; safe to run again after an interrupt cut it (or install) short."""
        kept: _Kept | None = target.kept.get("bytecode")
        if kept is None:  # nothing was ever installed
            return
        func = target.ref()
        installed = kept.installed_code
        if func is not None and installed is not None and func.__code__ is installed:
            if _MONITORING:
                _carry_local_events(installed, target.original_code)
            func.__code__ = target.original_code
        kept.installed_code = None
        if kept.guard.dynamo_attributes is not None:
            _compile.removed(kept.guard, func)

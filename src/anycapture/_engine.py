"""Attach capture to functions in place, for any number of subscribers, on the chosen backend.

A subscriber (``get_local``, ``capture`` and ``edit`` blocks) attaches what it wants from a function
under an owner token: values at each return (``{variable: filer}``, or all of a call's values in one
``collect(*values)``), values after each assignment (``each``), or edits of a variable where it is
assigned (``edits``). A *filer* is the callable that stores one value ("sink" is only ever the
user's ``sink=`` folder). The engine keeps one
:class:`Target` per function, merges what all its subscribers want, and asks a backend to capture
exactly that; with no subscribers left, the function's original code object is back and nothing
of anycapture runs when it is called.
"""

from __future__ import annotations

import functools
import sys
import threading
import weakref
from collections.abc import Callable, Mapping
from types import CodeType, FrameType, FunctionType
from typing import Any, TypeVar

from ._backends import Filer, InstallError, forced_backend, get_backend, preferred
from ._backends._base import MISSING, EachFiler, Editor, Target, Wants
from ._errors import warn_once
from ._functions import label_of

__all__ = [
    "MISSING",
    "EachFiler",
    "Editor",
    "Target",
    "attach",
    "attached_backend",
    "caller_frame",
    "detach",
    "label_of",
    "original_code",
    "prepare",
    "read_local",
    "warn_once",
]

_V = TypeVar("_V")


class WeakIdMap(dict[int, tuple["weakref.ref[Any]", _V]]):
    """``id(obj) -> (a weak reference to obj, value)``, each entry taken out when its object dies.

    Not a ``WeakKeyDictionary``, whose ``get()`` runs Python code: this is a plain dict, so a path
    that runs at every capture block looks an object up with C calls only, as :meth:`find` does:
    ``entry = registry.get(id(obj))``, then ``entry[1]`` if ``entry[0]() is obj``. The callback
    that takes an entry out holds the map itself, not a module global (globals are None while the
    interpreter tears modules down, when the last objects may die).
    """

    def find(self, obj: object) -> _V | None:
        entry = self.get(id(obj))
        return entry[1] if entry is not None and entry[0]() is obj else None

    def put(self, obj: object, value: _V) -> _V:
        """Remember ``value`` for ``obj`` while it lives (TypeError if it cannot be weakly referenced)."""
        key = id(obj)

        def forget(ref: weakref.ref[Any], registry: WeakIdMap[_V] = self) -> None:
            entry = registry.get(key)
            if entry is not None and entry[0] is ref:
                del registry[key]

        self[key] = (weakref.ref(obj, forget), value)
        return value


_lock = threading.RLock()
_targets: WeakIdMap[Target] = WeakIdMap()  # each function's Target, while the function lives


def target_of(func: FunctionType) -> Target | None:
    """The engine's record of ``func``, if it has one."""
    return _targets.find(func)


def _target_for(func: FunctionType) -> Target:
    """``func``'s Target, made if need be; call with the lock held."""
    entry = _targets.get(id(func))  # _targets.find, inlined: this runs at every capture block
    if entry is not None and entry[0]() is func:
        return entry[1]
    return _targets.put(func, Target(func))


def _fan_out(filers: list[Filer]) -> Filer:
    """One filer that hands a value to each of ``filers``."""
    return filers[0] if len(filers) == 1 else functools.partial(_to_each, tuple(filers))


def _to_each(filers: tuple[Filer, ...], value: Any) -> None:
    for filer in filers:
        filer(value)


class _EditSpot:
    """The editor the code calls at one spot: whatever its target's subscribers edit there now."""

    __slots__ = ("spot", "target")

    def __init__(self, target: Target, spot: tuple[str, int]) -> None:
        self.target, self.spot = target, spot

    def __call__(self, value: Any) -> Any:
        editor = self.target.edit_functions.get(self.spot)
        return value if editor is None else editor(value)


def _each_fan_out(parts: list[tuple[frozenset[int] | None, Callable[..., Any], bool]]) -> EachFiler:
    if len(parts) == 1 and parts[0][0] is None and parts[0][2]:
        return parts[0][1]
    all_parts = tuple(parts)

    def each_fan_out(value: Any, site: int) -> None:
        for sites, filer, takes_site in all_parts:
            if sites is None or site in sites:
                if takes_site:
                    filer(value, site)
                else:
                    filer(value)

    return each_fan_out


def _compose(editors: list[Editor]) -> Editor:
    """One editor that runs ``editors`` in turn, each on what the one before returned."""
    return editors[0] if len(editors) == 1 else functools.partial(_in_turn, tuple(editors))


def _in_turn(editors: tuple[Editor, ...], value: Any) -> Any:
    for editor in editors:
        value = editor(value)
    return value


def _refresh(target: Target) -> None:
    """Make the function capture exactly what its subscribers now want."""
    if _plan(target, list(target.subscriptions.values())):
        _install(target)
    else:
        _release(target)


def _plan(target: Target, wants: list[Wants]) -> bool:
    """Set ``target``'s merged view of ``wants`` (names, filers, sites, editors); false if nothing is wanted."""
    if not wants:
        return False
    if len(wants) == 1 and not wants[0].each and not wants[0].edits and (wants[0].returns or wants[0].collect):
        # The common cases (one get_local, or one capture block, values at returns), kept short:
        # activating and deactivating many functions runs this for each (100 functions: about
        # 1.0 ms a cycle instead of 1.15 ms through the general path below, 3.13).
        want = wants[0]
        if want.collect is None:
            names_only = tuple(want.returns)
            filers_only: tuple[Filer | None, ...] = tuple(want.returns.values())
            target.collectors = ()
            shape: tuple[Any, ...] = (names_only, tuple(range(len(names_only))), (), (), ())
        elif not want.returns:
            names_only = want.collect[0]
            filers_only = (None,) * len(names_only)
            everything = tuple(range(len(names_only)))
            target.collectors = ((everything, want.collect[1], want.collect[2]),)
            shape = (names_only, (), ((everything, want.collect[2]),), (), ())
        else:
            return _plan_all(target, wants)
        target.varnames, target.filers, target.shape = names_only, filers_only, shape
        target.each_plan, target.each_filers, target.edit_plan, target.editors = (), (), (), ()
        target.edit_functions = {}
        return True
    return _plan_all(target, wants)


def _set_shape(target: Target) -> None:
    with_filers = tuple(i for i, filer in enumerate(target.filers) if filer is not None)
    collected = tuple((indices, packed) for indices, _, packed in target.collectors)
    target.shape = (target.varnames, with_filers, collected, target.each_plan, target.edit_plan)


def _plan_all(target: Target, wants: list[Wants]) -> bool:
    names: list[str] = []
    for want in wants:
        names += [name for name in want.returns if name not in names]
    with_filers = len(names)
    for want in wants:
        if want.collect is not None:
            names += [name for name in want.collect[0] if name not in names]
    each_names: list[str] = []
    for want in wants:
        each_names += [name for name in want.each if name not in each_names]
    edit_plan: list[tuple[str, int]] = []
    for want in wants:
        edit_plan += [spot for spot in want.edits if spot not in edit_plan]
    collecting = [want.collect for want in wants if want.collect is not None]
    if not names and not collecting and not each_names and not edit_plan:
        return False
    filers = tuple(_fan_out([w.returns[n] for w in wants if n in w.returns]) for n in names[:with_filers])
    target.varnames, target.filers = tuple(names), (*filers, *(None,) * (len(names) - with_filers))
    index = {name: i for i, name in enumerate(names)}
    target.collectors = tuple(
        (tuple(index[n] for n in wanted), collect, packed) for wanted, collect, packed in collecting
    )
    each_plan: list[tuple[str, tuple[int, ...] | None, bool]] = []
    each_filers: list[Callable[..., Any]] = []
    for name in each_names:
        parts = [w.each[name] for w in wants if name in w.each]
        everywhere = any(sites is None for sites, _, _ in parts)
        merged = None if everywhere else tuple(sorted(frozenset().union(*(sites or () for sites, _, _ in parts))))
        if len(parts) == 1 and not parts[0][2]:
            # One subscriber that wants the value alone, at exactly the sites instrumented: the code
            # calls its filer directly (a C append when values are kept as they are).
            each_plan.append((name, merged, False))
            each_filers.append(parts[0][1])
            continue
        each_plan.append((name, merged, True))
        each_filers.append(_each_fan_out(parts))
    target.each_plan, target.each_filers = tuple(each_plan), tuple(each_filers)
    target.edit_plan = tuple(edit_plan)
    target.edit_functions = {spot: _compose([w.edits[spot] for w in wants if spot in w.edits]) for spot in edit_plan}
    target.editors = tuple(target.edit_spots.setdefault(spot, _EditSpot(target, spot)) for spot in edit_plan)
    _set_shape(target)
    return True


def _release(target: Target) -> None:
    """Nothing is wanted any more: the original code back, and nothing of anycapture left."""
    backend = target.backend
    if backend is not None:
        backend.uninstall(target)
        target.backend = None  # only now: an uninstall cut short is run again by the next detach
    _forget_plan(target)


def _forget_plan(target: Target) -> None:
    target.parked = None
    target.varnames, target.filers, target.collectors, target.shape = (), (), (), ()
    target.each_plan, target.each_filers, target.edit_plan, target.editors = (), (), (), ()
    target.edit_functions = {}


def _adopt_current_code(target: Target, func: FunctionType) -> None:
    """Call only while nothing is attached: if someone gave the function new code meanwhile, that
    is its original now, and what backends built from the old one is dropped."""
    if func.__code__ is not target.original_code:
        target.original_code = func.__code__
        target.kept.clear()


def _install(target: Target) -> None:
    """Have a backend capture what ``target`` now describes: the one installed, else the first that can."""
    func = target.ref()
    if target.backend is None and func is not None:
        _adopt_current_code(target, func)
    backend = target.backend
    if backend is not None:
        try:
            backend.install(target)
            return
        except InstallError:
            backend.uninstall(target)
            target.backend = None
    reasons = []
    forced = forced_backend()
    for name in preferred():
        backend = get_backend(name)
        # Named before it installs anything, so that an install an interrupt cut short is undone by
        # the uninstall of the next detach (an InstallError comes before any change).
        target.backend, target.chosen_under = backend, forced
        try:
            backend.install(target)
        except InstallError as exc:
            target.backend = None
            reasons.append(f"{name}: {exc}")
            continue
        return
    warn_once(
        target.warned,
        "uninstallable",
        f"cannot capture from {target.label}; it runs unchanged. " + "; ".join(reasons),
        stacklevel=5,
    )


def attach(
    func: FunctionType,
    owner: object,
    filers: Mapping[str, Filer],
    collect: tuple[tuple[str, ...], Any] | None = None,
    *,
    packed: bool = False,
    each: Mapping[str, tuple[frozenset[int] | None, Callable[..., Any], bool]] | None = None,
    edits: Mapping[tuple[str, int], Editor] | None = None,
) -> str | None:
    """Start (or change) capture of ``filers``' variables of ``func`` for ``owner``.

    At each return, each variable's filer gets its value (none for a variable unbound there, and
    one warning per function and name), in one thread, one return at a time. ``collect=(names,
    fn)`` asks for all of one call's values at once: after the filers, ``fn(*values)``, in the
    order of ``names``, :data:`MISSING` standing for a variable unbound there (no warning: the
    subscriber reports it). Neither may raise. With ``packed=True``, ``fn`` is an object whose
    ``append`` gets one tuple instead, ``fn.append((*values, threading.get_ident()))``, looked up
    at each call: a list's C ``append`` there files a call with no Python frame at all (the
    rewriting backend builds the tuple in the function's own code), and pointing ``append``
    elsewhere redirects calls of code already running.

    ``each`` asks for values right after assignments: ``{name: (site positions or None, filer,
    takes_site)}``, the filer called as ``filer(value, site)``, or ``filer(value)`` when
    ``takes_site`` is false. ``edits`` replaces a variable's value right after
    one assignment site: ``{(name, site): editor}``, the variable then holding ``editor(value)``;
    editors never raise, and run before the ``each`` filers of that site. Sites are numbered as
    :func:`assignment_sites` lists them. Returns the name of the backend now capturing, if any.
    """
    with _lock:
        entry = _targets.get(id(func))  # _target_for, inlined: this runs at every capture block's start
        target = entry[1] if entry is not None and entry[0]() is func else _targets.put(func, Target(func))
        collecting = None if collect is None else (tuple(collect[0]), collect[1], packed)
        # tuple.__new__: Wants(...) would run a Python __new__
        wants: Wants = tuple.__new__(Wants, (dict(filers), collecting, dict(each or {}), dict(edits or {})))
        parked, target.parked = target.parked, None
        target.changing = True
        if parked is not None and not target.subscriptions and parked[0] is owner and parked[1] == wants:
            if parked[3] == forced_backend() and func.__code__ is target.original_code:
                # The backend that had it installs the same again, without planning anew (it may
                # reuse the very code object: nothing about the function or the plan changed).
                target.subscriptions[owner] = wants
                backend = target.backend = parked[2]  # before it installs anything (see _install)
                try:
                    backend.install(target, True)
                except InstallError:
                    backend.uninstall(target)
                    target.backend = None
                    del target.subscriptions[owner]
                else:
                    target.changing = False
                    return backend.name
            _forget_plan(target)
        target.subscriptions[owner] = wants
        _refresh(target)
        target.changing = False
        return target.backend.name if target.backend is not None else None


def prepare(
    func: FunctionType,
    filers: Mapping[str, Filer],
    each: Mapping[str, tuple[frozenset[int] | None, Callable[..., Any], bool]] | None = None,
) -> None:
    """Build now what attaching ``filers`` (and ``each``, as :func:`attach` takes them) alone would.

    The rewriting backend builds code once per function and set of names (about 0.2 ms a
    function) and binds it to the filers; a decorator calls this so that the cost is paid when the
    function is defined, and a later ``attach`` with the same filers only swaps code objects.
    Best effort: nothing happens while the function is attached, or when it cannot be rewritten
    (attaching says why, later).
    """
    with _lock:
        target = target_of(func)
        if target is not None and target.subscriptions:
            return
        try:
            backend = get_backend(preferred()[0])
        except Exception:  # a forced backend that cannot run is reported when capture starts
            return
        if target is None:
            target = _target_for(func)
        _adopt_current_code(target, func)
        try:
            if _plan(target, [Wants(dict(filers), None, dict(each or {}), {})]):
                backend.prepare(target)
        except InstallError:
            pass
        finally:
            _forget_plan(target)


def detach(func: FunctionType, owner: object) -> None:
    """Stop capture for ``owner``; the original code returns once no one else captures.

    Safe to run again: an attach or detach that an interrupt (Ctrl-C) cut short is finished here,
    whatever owner the call names.
    """
    with _lock:
        entry = _targets.get(id(func))  # _targets.find, inlined: this runs at every capture block's end
        if entry is None or entry[0]() is not func:
            return
        target = entry[1]
        finishing = target.changing  # an attach or detach an interrupt cut short
        if owner not in target.subscriptions and not finishing:
            return
        target.changing = True  # before the change, so that a detach cut short is finished by the next
        wants = target.subscriptions.pop(owner, None)
        if target.subscriptions or target.backend is None:
            _refresh(target)
        else:
            # The last subscriber left: the original code back. A capture block's plan is kept for
            # the next block (see parked); it holds nothing of the function's. Other plans are
            # dropped: their filers and editors may hold the user's objects, and so is a plan after
            # an interrupt, which may have left the backend's last install of it unfinished.
            backend = target.backend
            backend.uninstall(target)
            target.backend = None  # only now (see _release)
            if (
                wants is not None
                and wants.collect is not None
                and not wants.returns
                and not wants.edits
                and not finishing
            ):
                target.parked = (owner, wants, backend, target.chosen_under)
            else:
                _forget_plan(target)
        target.changing = False


def attached_backend(func: FunctionType) -> str | None:
    """Name of the backend capturing ``func`` now, or ``None``."""
    target = target_of(func)
    return target.backend.name if target is not None and target.backend is not None else None


def original_code(func: FunctionType) -> CodeType:
    """The code ``func`` runs when nothing captures from it."""
    target = target_of(func)
    if target is not None and target.backend is not None:
        return target.original_code
    return func.__code__


# Names through which a function can get hold of the dict locals() returns (or have eval/exec use it).
_LOCALS_NAMES = frozenset({"locals", "vars", "eval", "exec", "dir", "f_locals"})


def read_local(frame: FrameType, name: str) -> Any:
    """The value of ``name`` in the running ``frame``, or ``MISSING``, read without changing the function.

    On 3.11 and 3.12 a read of ``frame.f_locals`` writes every variable of the frame into the dict
    that ``locals()`` returns in that call: a function that may hold that dict (it calls
    ``locals()``, ``vars()``, ``eval()``, ``exec()``, ``dir()`` or reads ``f_locals`` itself) would
    see it change, so its frame is not read (``MISSING``). 3.13 reads through a proxy, which writes
    nothing.
    """
    if sys.version_info < (3, 13) and not _LOCALS_NAMES.isdisjoint(frame.f_code.co_names):
        return MISSING
    return frame.f_locals.get(name, MISSING)


def caller_frame(depth: int = 1) -> FrameType:
    """The frame ``depth`` levels above the caller, skipping the engine's own (``1``: the caller's caller)."""
    frame = sys._getframe(depth + 1)
    while frame.f_back is not None and frame.f_globals.get("__name__") == __name__:
        frame = frame.f_back
    return frame

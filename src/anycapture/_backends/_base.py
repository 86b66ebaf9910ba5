"""The small interface every capture mechanism implements."""

from __future__ import annotations

import contextlib
import sys
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from types import CodeType, FunctionType
from typing import Any, ClassVar, Literal, NamedTuple, Protocol

from .._errors import warn_once
from .._functions import label_of

__all__ = [
    "MISSING",
    "Backend",
    "BackendKind",
    "Capability",
    "EachFiler",
    "Editor",
    "InstallError",
    "Filer",
    "Target",
    "Wants",
]

# Called with a variable's value at a return. Filers never raise: they are the bound ``append``
# of a store (a C call, the fast path) or a Python function that catches its own errors.
Filer = Callable[[Any], Any]
# Called with a variable's value and the position of the assignment site just run; never raises.
EachFiler = Callable[[Any, int], Any]
# Called with a variable's value right after an assignment; returns the value the variable gets.
Editor = Callable[[Any], Any]


class _Missing:
    """What a collector gets for a variable unbound at the return."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<unbound>"


MISSING: Any = _Missing()


class InstallError(Exception):
    """A backend cannot capture this particular function; the engine tries the next backend."""


class Backend(Protocol):
    """Begins and ends capture on one function, in place.

    ``install`` is called again whenever ``target.varnames`` or ``target.filers`` change; it must
    leave the function capturing exactly those. ``again=True`` says that ``target`` describes
    exactly what it did at this backend's last install on it (the engine resumes a plan it kept,
    see ``Target.parked``): a backend may reuse what it built then instead of planning anew.
    ``uninstall`` restores the function exactly.
    ``prepare`` builds ahead of time whatever ``install`` would build for what ``target`` now
    describes, without changing the function (a decorator calls it, so that activation is quick).
    """

    name: ClassVar[str]

    def prepare(self, target: Target) -> object: ...

    def install(self, target: Target, again: bool = False) -> None: ...

    def uninstall(self, target: Target) -> None: ...


# What a backend may be asked for beyond values at returns, by the name of its flag on BackendKind.
Capability = Literal["sees_assignments", "can_edit"]


@dataclass(frozen=True)
class BackendKind:
    """One backend as the selector knows it before importing it (its module may need packages this
    Python lacks): its name, what it can do, whether it can run here, and how to make it.

    A new backend is a module with a :class:`Backend` and one of these in the selector's table
    (``KINDS`` in ``_backends/__init__.py``); nothing else names backends.
    """

    name: str
    sees_assignments: bool  # reports values after each assignment (when="each")
    can_edit: bool  # changes a local variable where it is assigned (edit())
    # Empty when this backend can run on this Python, else the reason it cannot.
    why_not: Callable[[], str]
    # A new instance of the backend (imports its module); only once ``why_not()`` is empty.
    create: Callable[[], Backend]
    # Said where a capability is missing: "needs the 'x' backend, which <does>"; "<limits>." of the others.
    does: str = ""
    limits: str = ""


class Wants(NamedTuple):
    """What one subscriber wants from a function."""

    returns: dict[str, Filer]
    # (names, collect, packed): at each return, collect(*values of names), MISSING for an unbound
    # one; packed: collect.append((*values, threading.get_ident())), one tuple (see attach)
    collect: tuple[tuple[str, ...], Any, bool] | None  # a callable, or an object with append
    # name -> (positions of the assignment sites wanted, or None for all; filer; whether the filer
    # takes the site's position as a second argument, or the value alone)
    each: dict[str, tuple[frozenset[int] | None, Callable[..., Any], bool]]
    # (name, site position) -> editor
    edits: dict[tuple[str, int], Editor]


class Target:
    """One function being captured: its original code and what its subscribers want."""

    def __init__(self, func: FunctionType) -> None:
        self.ref = weakref.ref(func, self._on_collected)  # the function, while it lives
        self.original_code: CodeType = func.__code__
        self.label = label_of(func)
        self.subscriptions: dict[object, Wants] = {}
        # Every variable read at returns, and its filer there (None: only collectors want it).
        self.varnames: tuple[str, ...] = ()
        self.filers: tuple[Filer | None, ...] = ()
        # At each return, after the filers: collect(*values) per collector, its variables given
        # by index into varnames (packed: collect.append((*values, thread id))). Collectors
        # report unbound variables themselves.
        self.collectors: tuple[tuple[tuple[int, ...], Any, bool], ...] = ()
        # What the instrumented code's layout depends on (not the filers themselves): a backend
        # builds code once per shape and reuses it.
        self.shape: tuple[Any, ...] = ()
        # After assignments: ((name, site positions or None for all, whether the filer takes the
        # site), ...) and one filer for each.
        self.each_plan: tuple[tuple[str, tuple[int, ...] | None, bool], ...] = ()
        self.each_filers: tuple[Callable[..., Any], ...] = ()
        # Edits: ((name, site position), ...) and one editor for each.
        self.edit_plan: tuple[tuple[str, int], ...] = ()
        self.editors: tuple[Editor, ...] = ()
        # What each edit spot does now: read through a stable _engine._EditSpot (an Editor), so
        # instrumented code the backend keeps for reuse never holds an edit block (or its fn, or
        # the function itself).
        self.edit_functions: dict[tuple[str, int], Editor] = {}
        self.edit_spots: dict[tuple[str, int], Editor] = {}
        self.backend: Backend | None = None
        # What each backend keeps for this function, by backend name: the code it built, what it
        # changed and must undo. The backend's own (opaque to the engine), emptied only while none
        # is installed and the function's code was replaced by someone else (see _engine).
        self.kept: dict[str, Any] = {}
        self.warned: set[object] = set()
        # When the last subscriber left: (it, what it wanted, the backend, and ANYCAPTURE_BACKEND
        # as it was when that backend was chosen).
        # The plan is kept, so that the same subscriber wanting the same again (a loop of capture
        # blocks) has the backend install it at once, without planning it anew.
        self.parked: tuple[object, Wants, Backend, str] | None = None
        self.chosen_under = ""  # ANYCAPTURE_BACKEND when the backend installed now was chosen
        # True while attach() or detach() changes what is installed: one that an interrupt (Ctrl-C)
        # cut short is finished by the next detach(), even one for an owner already gone.
        self.changing = False

    def _on_collected(self, _ref: object, _finalizing: Callable[[], bool] = sys.is_finalizing) -> None:
        backend = self.backend
        if backend is not None:
            try:
                backend.uninstall(self)
            except Exception:
                # At interpreter exit, modules' globals may be gone already (None): the
                # function is going away with everything else; nothing is left to undo.
                if not _finalizing():
                    raise
            except BaseException:
                # An interrupt (Ctrl-C) here is lost (Python ignores a callback's exceptions), and
                # no detach will follow for a dead function: finish now (uninstall is idempotent).
                with contextlib.suppress(Exception):
                    backend.uninstall(self)
                raise
            self.backend = None

    # -- called from inside the captured function: must never raise ------------------------
    def missing(self, name: str) -> None:
        if ("unbound", name) in self.warned:
            return
        why = ""
        with contextlib.suppress(Exception):  # only to explain: it must not fail
            from .._analysis import comprehension_only

            why = comprehension_only(self.original_code, name)
        warn_once(
            self.warned,
            ("unbound", name),
            f"{name!r} was not bound when {self.label} returned, so that call recorded no value for it "
            f"{f'({why}; ' if why else '('}this warning is shown once per function and variable)",
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

        Used by the rewriting backend at returns where the variable may be unbound. A call that
        returns after capture changed (or ended) under it is dropped: the filers are the current
        plan's, which need not be the one the running code was built for.
        """
        name, shape, target = self.varnames[index], self.shape, self

        def read_frame() -> None:
            try:
                if target.shape != shape:
                    return
                value = sys._getframe(1).f_locals.get(name, MISSING)
                filer = target.filers[index]
                if value is MISSING:
                    target.missing(name)
                elif filer is not None:
                    filer(value)
            except Exception as exc:
                target.failed(exc)

        return read_frame

    def frame_collector(self, position: int) -> Callable[[], None]:
        """A hook that calls collector ``position`` with its variables read from the calling frame.

        Used by the rewriting backend at returns where one of them may be unbound. A call that
        returns after capture changed under it goes to the collector the code was built with, as
        the code's own calls of it do (collectors handle calls of code they no longer use).
        """
        shape, target = self.shape, self
        built = (self.varnames, self.collectors[position])

        def collect_from_frame() -> None:
            try:
                names, (indices, collect, packed) = (
                    (target.varnames, target.collectors[position]) if target.shape == shape else built
                )
                local_vars = sys._getframe(1).f_locals
                values = [local_vars.get(names[i], MISSING) for i in indices]
                if packed:
                    collect.append((*values, threading.get_ident()))
                else:
                    collect(*values)
            except Exception as exc:
                target.failed(exc)

        return collect_from_frame

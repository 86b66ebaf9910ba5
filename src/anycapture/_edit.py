"""``edit()``: change a local variable right where it is assigned, for the duration of a block."""

from __future__ import annotations

import contextlib
import fnmatch
import types
import warnings
from collections.abc import Callable
from typing import Any

from . import _engine
from ._backends import can, require
from ._errors import CaptureError, CaptureWarning
from ._functions import (
    Site,
    bound_object,
    check_varnames,
    describe_sites,
    import_target,
    resolve_function,
    select_sites,
)
from ._layers import LayerIndex
from ._options import check_flag
from ._targets import TargetSpec, reference

__all__ = ["Edit", "Site", "assignments", "edit"]


class Edit:
    """The context manager :func:`edit` returns; after the block it tells what happened.

    ``applied`` counts the values ``fn`` replaced, ``skipped`` the assignments left alone because
    their layer did not match ``path=`` (or, given a bound method, they ran for another object), and
    ``failed`` the calls of ``fn`` that raised (the
    value was then left as the function computed it).
    """

    def __init__(
        self,
        func: types.FunctionType,
        name: str,
        fn: Callable[[Any], Any],
        positions: frozenset[int],
        *,
        model: Any,
        path: str | None,
        strict: bool,
        bound_to: Any = None,
    ) -> None:
        self.function = func
        self.name = name
        self.fn = fn
        self.positions = positions
        self.path = path
        self.strict = strict
        self.label = _engine.label_of(func)
        self.applied = 0
        self.skipped = 0
        self.failed = 0
        # Finds the layer a call ran for, as capture(model=...) does.
        self._layers = LayerIndex(model)
        code = _engine.original_code(func)
        self._first = code.co_varnames[0] if code.co_argcount else None
        # Given a bound method (layer.forward): only that object's calls are edited.
        self._bound = None if bound_to is None else reference(bound_to)
        self._warned: set[object] = set()
        self._active = False

    def __repr__(self) -> str:
        return (
            f"<Edit {self.label} {self.name!r} at {sorted(self.positions)}: applied={self.applied} "
            f"skipped={self.skipped} failed={self.failed}>"
        )

    def __enter__(self) -> Edit:
        if self._active:
            raise RuntimeError("this edit block is already active; create a new one instead")
        require("can_edit", "edit()")
        self._layers.begin()
        editors = {(self.name, position): self._edit for position in self.positions}
        try:
            backend = _engine.attach(self.function, self, {}, None, edits=editors)
            if can(backend, "can_edit"):
                self._active = True
                return self
        except BaseException:  # cut short by an interrupt (Ctrl-C), up to the return: the function as it was
            self._active = False
            _engine.detach(self.function, self)
            raise
        _engine.detach(self.function, self)
        raise CaptureError(
            f"cannot edit {self.name!r} in {self.label}: its code could not be rewritten (see the "
            "CaptureWarning just given), and no other backend can change a local variable"
        )

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:  # from the first line: an interrupt (Ctrl-C) landing anywhere here is caught
            if not self._active:
                return
            _engine.detach(self.function, self)
        except BaseException:
            with contextlib.suppress(Exception):  # idempotent: finishes a detach cut short
                _engine.detach(self.function, self)
            raise
        self._active = False
        if exc_type is None and self.applied == 0 and self.failed == 0:
            where = f" in layers matching {self.path!r}" if self.path is not None else ""
            if self._bound is not None:
                where += " for the object its method was bound to"
            message = (
                f"the edit of {self.name!r} in {self.label} never ran{where}: the chosen assignment was not "
                f"executed inside the block ({self.skipped} in other layers or objects)"
            )
            if self.strict:
                raise CaptureError(message)
            warnings.warn(message, CaptureWarning, stacklevel=2)

    def _wanted(self, frame: types.FrameType) -> bool:
        """Whether the call running in ``frame`` is one to edit: of the object a bound method was
        given for, and in a layer matching ``path=`` (its first argument read once: on 3.11 and
        3.12 each ``f_locals`` read copies the frame's locals)."""
        first = _engine.read_local(frame, self._first) if self._first is not None else None
        first = None if first is _engine.MISSING else first
        if self._bound is not None and (first is None or first is not self._bound()):
            return False
        if self.path is None:
            return True
        layers = self._layers
        found = layers.path_of(first) if self._first is not None else None
        if found is None:
            found = layers.path_from_stack(frame.f_back)
        return found is not None and fnmatch.fnmatchcase(found, self.path)

    def _edit(self, value: Any) -> Any:
        """Runs inside the user's function, right after the assignment: never raises."""
        try:
            if (self._bound is not None or self.path is not None) and not self._wanted(_engine.caller_frame(1)):
                self.skipped += 1
                return value
            result = self.fn(value)
        except Exception as exc:
            self.failed += 1
            _engine.warn_once(
                self._warned,
                "failed",
                f"the edit of {self.name!r} in {self.label} raised {type(exc).__name__}: {exc}; the value was left "
                "as the function computed it (this warning is shown once per edit block)",
                stacklevel=None,
            )
            return value
        self.applied += 1
        return result


def edit(
    target: TargetSpec,
    name: str,
    fn: Callable[[Any], Any],
    *,
    at: int | None = None,
    line: int | None = None,
    model: Any = None,
    path: str | None = None,
    strict: bool = False,
) -> Edit:
    """Replace local ``name`` of ``target`` by ``fn(value)`` right after an assignment, in a block.

    The rest of the function then uses the edited value: ablate a head, patch an activation,
    scale a score, inside library code you do not own. The target's original code is back when
    the block ends, even if it raises. ``fn`` runs once per execution of the chosen assignment;
    if it raises, the value is left as the function computed it and one warning is given.

    Args:
        target: a function or method, a ``"package.module:Qualified.name"`` string or a recipe. A
            method bound to one object (``vit.blocks[5].attn.forward``) edits that object's calls only.
        at: the assignment's position in source order (0 for the first, -1 for the last), as
            :func:`anycapture.assignments` lists them. May be left out when there is only one.
        line: the assignment's source line, instead of ``at``.
        model, path: edit only in the layers whose module path in ``model`` matches the glob
            ``path`` (e.g. ``"blocks.3.attn"``).
        strict: raise instead of warning when the edit never ran in the block.

    Needs the ``bytecode`` backend (sys.monitoring cannot change a variable): a clear error
    otherwise.

    >>> import anycapture
    >>> def f(x):
    ...     y = x + 1
    ...     return y * 10
    >>> with anycapture.edit(f, "y", lambda y: -y) as done:
    ...     f(1)
    -20
    >>> done.applied, f(1)
    (1, 20)
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable (it gets the value and returns the new one); got {fn!r}")
    if path is not None and model is None:
        raise TypeError("path= selects layers by their module path in model=; give model= as well")
    if path is not None and not isinstance(path, str):
        raise TypeError(f"path= is a glob over module paths such as 'blocks.3.attn'; got {path!r}")
    func, checked = _resolve(target, name, "edit")
    bound_to = bound_object(target, func, _engine.original_code(func), "edit")
    code = _engine.original_code(func)
    chosen = select_sites(func, code, checked, at, line, "edit()")
    if chosen is None:
        from ._analysis import assignment_sites

        sites = assignment_sites(code, checked)
        if len(sites) > 1:
            raise TypeError(
                f"{checked!r} is assigned {len(sites)} times in {_engine.label_of(func)}; choose one with at= or "
                f"line=: {describe_sites(sites)}"
            )
        chosen = frozenset({sites[0].position})
    require("can_edit", "edit()")
    check_flag("strict", strict)
    return Edit(func, checked, fn, chosen, model=model, path=path, strict=strict, bound_to=bound_to)


def _resolve(target: TargetSpec, name: str, who: str) -> tuple[types.FunctionType, str]:
    from .recipes import Recipe

    (checked,) = check_varnames([name], who)
    spec = target.target if isinstance(target, Recipe) else target
    obj = import_target(spec) if isinstance(spec, str) else spec
    return resolve_function(obj, (checked,), who), checked


def assignments(target: TargetSpec, name: str) -> list[Site]:
    """Where local ``name`` of ``target`` is assigned, in source order: what ``at=`` counts.

    Each :class:`Site` has its ``position`` (the ``at=`` value), ``line``, ``column`` and the
    line of ``source``. Compiler-made stores (a comprehension's own variable, the cleanup of
    ``except ... as name``) are not assignments; ``for`` and ``with ... as`` targets, tuple
    unpacking, augmented assignments and ``:=`` are.

    >>> import anycapture
    >>> def f(x):
    ...     y = x + 1
    ...     y *= 2
    ...     return y
    >>> [(site.position, site.source) for site in anycapture.assignments(f, "y")]
    [(0, 'y = x + 1'), (1, 'y *= 2')]
    """
    from ._analysis import assignment_sites

    func, checked = _resolve(target, name, "assignments")
    return assignment_sites(_engine.original_code(func), checked)

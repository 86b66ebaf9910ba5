"""The small interface every capture mechanism implements."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

if TYPE_CHECKING:
    from .._engine import Target

__all__ = ["MISSING", "Backend", "InstallError", "Sink"]

# Called with a variable's value at a return. Sinks never raise: they are the bound ``append``
# of a store (a C call, the fast path) or a Python function that catches its own errors.
Sink = Callable[[Any], Any]


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

    ``install`` is called again whenever ``target.varnames`` or ``target.sinks`` change; it must
    leave the function capturing exactly those. ``uninstall`` restores the function exactly.
    ``prepare`` builds ahead of time whatever ``install`` would build for what ``target`` now
    describes, without changing the function (a decorator calls it, so that activation is quick).
    """

    name: ClassVar[str]

    def prepare(self, target: Target) -> object: ...

    def install(self, target: Target) -> None: ...

    def uninstall(self, target: Target) -> None: ...

"""Choose the capture mechanism, and say why the others were not chosen.

Backends, fastest first (see ``benchmarks/bench_overhead.py``), in the table ``KINDS``:

- ``bytecode``: rewrites the function's code object (3.11-3.13, via the ``bytecode`` package);
- ``monitoring``: ``sys.monitoring`` ``PY_RETURN`` events on the target code objects (3.12+).

Each declares what it can do (``sees_assignments``, ``can_edit``) and ``why_not()`` it cannot run
here; callers ask :func:`can` and :func:`require`, never a backend's name.
``ANYCAPTURE_BACKEND=<name>`` forces one.
"""

from __future__ import annotations

import functools
import os
import sys
from dataclasses import dataclass

from .._errors import BackendUnavailableError
from ._base import Backend, BackendKind, Capability, Filer, InstallError

__all__ = [
    "ENV_VAR",
    "Backend",
    "BackendInfo",
    "BackendKind",
    "Capability",
    "InstallError",
    "KINDS",
    "Filer",
    "backend_info",
    "backends",
    "can",
    "forced_backend",
    "get_backend",
    "preferred",
    "require",
]

ENV_VAR = "ANYCAPTURE_BACKEND"


def _bytecode_why_not() -> str:
    if sys.version_info >= (3, 14):
        return "anycapture's code rewriting is written and tested for CPython 3.11-3.13"
    if sys.implementation.name != "cpython":
        return f"code rewriting needs CPython, not {sys.implementation.name}"
    try:
        import bytecode  # noqa: F401
    except ImportError as exc:
        return f"the 'bytecode' package cannot be imported ({exc})"
    return ""


def _new_bytecode() -> Backend:
    from ._bytecode import BytecodeBackend

    return BytecodeBackend()


def _monitoring_why_not() -> str:
    if sys.version_info >= (3, 12):
        return ""
    return f"sys.monitoring needs Python 3.12 or newer; this is {sys.version.split()[0]}"


def _new_monitoring() -> Backend:
    from ._monitoring import MonitoringBackend

    return MonitoringBackend()


# Every backend by name, fastest first (the order of preference). A new backend is one line here
# and its module.
KINDS: dict[str, BackendKind] = {
    kind.name: kind
    for kind in (
        BackendKind(  # rewrites the function's code object (3.11-3.13, via the ``bytecode`` package)
            "bytecode",
            sees_assignments=True,
            can_edit=True,
            why_not=_bytecode_why_not,
            create=_new_bytecode,
            does="rewrites the function's code",
        ),
        BackendKind(  # ``sys.monitoring`` ``PY_RETURN`` events on the target code objects (3.12+)
            "monitoring",
            sees_assignments=False,
            can_edit=False,
            why_not=_monitoring_why_not,
            create=_new_monitoring,
            limits="sys.monitoring only sees returns",
        ),
    )
}
_instances: dict[str, Backend] = {}


@dataclass(frozen=True)
class BackendInfo:
    """Whether a backend can run on this Python, and if not, why."""

    name: str
    available: bool
    reason: str


@functools.cache
def _why_not(name: str) -> str:
    """Empty when ``name`` can run here, else the reason it cannot (fixed for the process's life)."""
    kind = KINDS.get(name)
    if kind is None:
        return f"no backend is called {name!r}; known: {', '.join(KINDS)}"
    return kind.why_not()


def backend_info() -> list[BackendInfo]:
    """Every known backend, in order of preference, with the reason any is unavailable.

    >>> [info.name for info in backend_info()]
    ['bytecode', 'monitoring']
    """
    return [BackendInfo(name, not _why_not(name), _why_not(name)) for name in KINDS]


@functools.cache
def backends() -> tuple[str, ...]:
    """Names of the backends that can run on this Python, fastest first."""
    return tuple(name for name in KINDS if not _why_not(name))


def get_backend(name: str) -> Backend:
    """The backend called ``name``; :class:`BackendUnavailableError` says why if it cannot run."""
    reason = _why_not(name)
    if reason:
        raise BackendUnavailableError(f"backend {name!r} cannot be used: {reason}")
    backend = _instances.get(name)
    if backend is None:
        backend = _instances[name] = KINDS[name].create()
    return backend


def can(name: str | None, capability: Capability) -> bool:
    """Whether the backend called ``name`` (``None``: none attached) has ``capability``."""
    kind = KINDS.get(name) if name is not None else None
    return kind is not None and getattr(kind, capability)


# os.environ.get runs four Python calls; capture blocks read the variable twice each. Where
# os.environ keeps its bytes mapping (POSIX), one C lookup reads the same value.
_environ_bytes: dict[bytes, bytes] | None = getattr(os.environ, "_data", None) if os.name == "posix" else None
_ENV_KEY = ENV_VAR.encode()


def forced_backend() -> str:
    """The backend ``ANYCAPTURE_BACKEND`` forces, or ``""``."""
    if _environ_bytes is not None:
        value = _environ_bytes.get(_ENV_KEY)
        return "" if value is None else os.fsdecode(value).strip()
    return os.environ.get(ENV_VAR, "").strip()


def preferred() -> list[str]:
    """Backends to try for a new target, in order: the forced one alone, or all available ones."""
    forced = forced_backend()
    if forced:
        reason = _why_not(forced)
        if reason:
            raise BackendUnavailableError(f"{ENV_VAR}={forced!r} cannot be used: {reason}")
        return [forced]
    return list(backends())


def require(capability: Capability, what: str) -> None:
    """Raise unless a backend with ``capability`` may be used: ``what`` needs it (no other can)."""
    names = preferred()
    if any(can(name, capability) for name in names):
        return
    able = [kind for kind in KINDS.values() if getattr(kind, capability)]
    unable = "; ".join(kind.limits for kind in KINDS.values() if kind.limits and not getattr(kind, capability))
    first = able[0]
    why = _why_not(first.name) or f"{ENV_VAR}={forced_backend()!r} forces another backend"
    raise BackendUnavailableError(
        f"{what} needs the {first.name!r} backend, which {first.does}; it cannot be used here: {why}. {unable}."
    )

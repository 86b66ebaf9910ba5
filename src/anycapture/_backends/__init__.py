"""Choose the capture mechanism, and say why the others were not chosen.

Backends, fastest first (see ``benchmarks/bench_overhead.py``):

- ``bytecode``: rewrites the function's code object (3.11-3.13, via the ``bytecode`` package);
- ``monitoring``: ``sys.monitoring`` ``PY_RETURN`` events on the target code objects (3.12+).

``ANYCAPTURE_BACKEND=<name>`` forces one.
"""

from __future__ import annotations

import functools
import os
import sys
from dataclasses import dataclass

from .._errors import BackendUnavailableError
from ._base import Backend, InstallError, Sink

__all__ = [
    "ENV_VAR",
    "Backend",
    "BackendInfo",
    "InstallError",
    "Sink",
    "backend_info",
    "backends",
    "get_backend",
    "preferred",
    "require_rewriting",
]

ENV_VAR = "ANYCAPTURE_BACKEND"
_ORDER = ("bytecode", "monitoring")
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
    if name == "bytecode":
        if sys.version_info >= (3, 14):
            return "anycapture's code rewriting is written and tested for CPython 3.11-3.13"
        if sys.implementation.name != "cpython":
            return f"code rewriting needs CPython, not {sys.implementation.name}"
        try:
            import bytecode  # noqa: F401
        except ImportError as exc:
            return f"the 'bytecode' package cannot be imported ({exc})"
        return ""
    if name == "monitoring":
        if sys.version_info >= (3, 12):
            return ""
        return f"sys.monitoring needs Python 3.12 or newer; this is {sys.version.split()[0]}"
    return f"no backend is called {name!r}; known: {', '.join(_ORDER)}"


def backend_info() -> list[BackendInfo]:
    """Every known backend, in order of preference, with the reason any is unavailable.

    >>> [info.name for info in backend_info()]
    ['bytecode', 'monitoring']
    """
    return [BackendInfo(name, not _why_not(name), _why_not(name)) for name in _ORDER]


@functools.cache
def backends() -> tuple[str, ...]:
    """Names of the backends that can run on this Python, fastest first."""
    return tuple(name for name in _ORDER if not _why_not(name))


def get_backend(name: str) -> Backend:
    """The backend called ``name``; :class:`BackendUnavailableError` says why if it cannot run."""
    reason = _why_not(name)
    if reason:
        raise BackendUnavailableError(f"backend {name!r} cannot be used: {reason}")
    backend = _instances.get(name)
    if backend is None:
        if name == "bytecode":
            from ._bytecode import BytecodeBackend

            backend = BytecodeBackend()
        else:
            from ._monitoring import MonitoringBackend

            backend = MonitoringBackend()
        _instances[name] = backend
    return backend


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


def require_rewriting(what: str) -> None:
    """Raise unless the code-rewriting backend may be used: ``what`` needs it (no other can)."""
    names = preferred()
    if "bytecode" not in names:
        why = _why_not("bytecode") or f"{ENV_VAR}={forced_backend()!r} forces another backend"
        raise BackendUnavailableError(
            f"{what} needs the 'bytecode' backend, which rewrites the function's code; it cannot be used "
            f"here: {why}. sys.monitoring only sees returns."
        )

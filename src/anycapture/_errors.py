"""Exceptions and warnings raised by anycapture."""

from __future__ import annotations

__all__ = ["BackendUnavailableError", "CaptureError", "CaptureWarning", "UnknownVariableError"]


class CaptureError(Exception):
    """Base class of every error anycapture raises on purpose."""


class UnknownVariableError(CaptureError, ValueError):
    """A requested name is not a local, argument, cell or free variable of the function."""


class BackendUnavailableError(CaptureError, RuntimeError):
    """The backend asked for (argument or ``ANYCAPTURE_BACKEND``) cannot run on this Python."""


class CaptureWarning(UserWarning):
    """Something was not captured as asked; the user's code ran unchanged."""

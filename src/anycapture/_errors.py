"""Exceptions and warnings raised by anycapture."""

from __future__ import annotations

import contextlib
import os
import sys
import warnings

__all__ = ["BackendUnavailableError", "CaptureError", "CaptureWarning", "UnknownVariableError"]


class CaptureError(Exception):
    """Base class of every error anycapture raises on purpose."""


class UnknownVariableError(CaptureError, ValueError):
    """A requested name is not a local, argument, cell or free variable of the function."""


class BackendUnavailableError(CaptureError, RuntimeError):
    """The backend asked for (argument or ``ANYCAPTURE_BACKEND``) cannot run on this Python."""


class CaptureWarning(UserWarning):
    """Something was not captured as asked; the user's code ran unchanged."""


# Every module of the package lies here: frames whose code is from this folder are anycapture's own.
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def warn_once(seen: set[object], key: object, message: str, stacklevel: int | None = 2) -> None:
    """Warn unless ``key`` is in ``seen`` already; never raises, even under ``simplefilter('error')``.

    Capture code runs inside the user's function, where an escaping warning-turned-error would
    change what the function does. ``stacklevel=None`` points the warning at the nearest caller
    outside anycapture, however many of its frames are in between.
    """
    if key in seen:
        return
    seen.add(key)
    with contextlib.suppress(Exception):  # best effort: the user's code must not fail
        if stacklevel is None:
            stacklevel, frame = 2, sys._getframe(1)
            while frame.f_back is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
                stacklevel, frame = stacklevel + 1, frame.f_back
            stacklevel -= 1
        warnings.warn(message, CaptureWarning, stacklevel=stacklevel + 1)

"""The value options every front door takes (``values=``, ``collate_fn=``, ``max_size=``...), checked once."""

from __future__ import annotations

import os
from typing import Any

from ._store import check_max_size
from ._values import make_converter

__all__ = ["check_flag", "check_sink", "value_options"]

_MAX_PLAIN = 64  # plain option sets remembered: a loop of blocks uses one or two


def value_options(
    values: str, device: Any, clone: bool, collate_fn: Any, reduce: Any, max_size: Any, sink: Any = None
) -> dict[str, Any]:
    """Validate the value options shared by the capture blocks; the keywords :class:`Capture` takes."""
    # The plain options (no callables, no sink) are checked once: a loop of blocks then shares one
    # converter, which also remembers what it learnt about the first tensor.
    plain = collate_fn is None and reduce is None and sink is None and type(values) is str and type(clone) is bool
    key = None
    if plain and (device is None or type(device) is str) and (max_size is None or type(max_size) is int):
        key = (values, device, clone, max_size)
        found = _plain_options.get(key)
        if found is not None:
            return found
    check_flag("clone", clone)
    if sink is not None:
        check_sink(sink)
        if max_size is not None:
            raise TypeError("max_size= keeps the newest values in memory; with sink= every value goes to disk")
    if collate_fn is not None and not callable(collate_fn):
        raise TypeError(f"collate_fn must be callable or None; got {collate_fn!r}")
    if reduce is not None and not callable(reduce):
        raise TypeError(f"reduce must be callable or None; got {reduce!r}")
    convert = make_converter(values, device=device, clone=clone) if collate_fn is None else collate_fn
    options = {
        "convert": convert,
        "custom": collate_fn is not None,
        "reduce": reduce,
        "max_size": check_max_size(max_size),
        "sink": sink,
        # How a sink's records are read back: as the values were kept (values="raw": each as the
        # type it had, a torch tensor or a numpy array).
        "read_as": values if values in ("tensor", "raw") else "numpy",
    }
    if key is not None and len(_plain_options) < _MAX_PLAIN:
        _plain_options[key] = options
    return options


_plain_options: dict[tuple[Any, ...], dict[str, Any]] = {}


def check_flag(name: str, value: object) -> None:
    """``value`` of the option ``name`` is a bool (``strict='no'`` would read as true)."""
    if type(value) is not bool:
        raise TypeError(f"{name} must be True or False; got {value!r}")


def check_sink(sink: Any) -> None:
    """``sink=`` is a folder (a str or path) or an open or closed :class:`anycapture.Writer`."""
    if isinstance(sink, str | os.PathLike):
        if not str(sink):
            raise ValueError("sink='' is not a folder; give the folder to write the records to")
        return
    from ._disk import Writer

    if not isinstance(sink, Writer):
        raise TypeError(f"sink= takes a folder (a str or path) or an anycapture.Writer; got {sink!r}")

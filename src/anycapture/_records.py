"""What a capture records, and how records are chosen: shared by memory (``Capture``) and disk
(``CaptureFolder``), below both, so that neither imports the other to read its records."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

__all__ = ["Record", "Site", "check_selection", "selects"]


class Record(NamedTuple):
    """One captured value and where it came from (a named tuple: cheap to make at every call).

    ``path`` is the module path of the ``nn.Module`` the function ran for (its ``self``, or a module
    passed as its first argument) inside the ``model=`` given to :func:`capture`, e.g.
    ``"blocks.3.attn"``; ``None`` when there is no such module or no model.

    With ``when="each"``, ``line`` is the source line of the assignment, ``site`` its position
    among the variable's assignments in source order (as :func:`anycapture.assignments` lists
    them) and ``assignment`` how many assignments to the variable that call had made before
    (0 for its first); all three are ``None`` for values captured at returns.
    """

    key: str
    name: str
    value: Any
    function: str
    path: str | None
    call: int
    thread: int
    order: int
    line: int | None = None
    site: int | None = None
    assignment: int | None = None


# Record(...) runs a Python __new__; tuple.__new__(Record, fields) makes the same record in C.
_make_record: Any = tuple.__new__


class Site(NamedTuple):
    """One place in a function's source where a variable is assigned."""

    position: int  # 0 for the first assignment in source order, 1 for the next, ...
    line: int | None
    column: int | None
    source: str  # that line of source, stripped ("" where the source is not available)


def selects(record: Any, pattern: str, name: str | None) -> bool:
    """Whether ``record`` (in memory or on disk) has variable or key ``name`` and a module path
    matching the glob ``pattern`` (``"*"`` also keeps records without a path)."""
    return (name is None or name in (record.name, record.key)) and (
        pattern == "*" or (record.path is not None and fnmatch.fnmatchcase(record.path, pattern))
    )


def _no_paths(model: Any = ..., api: str = "capture") -> str:
    """Why ``by_path()`` found no module path among the records it selected (``model``: the
    block's ``model=``; left out for a folder, which does not say whether one was given)."""
    if model is ...:
        return (
            "by_path(): the records selected have no module path: the capture had no model=, or these calls "
            "ran for no module of it; read them by key (folder[key], folder.records)"
        )
    if model is None:
        return (
            f"by_path(): the records selected have no module path: give {api}(..., model=<the root nn.Module>) "
            "so that each record knows its layer (or read them by key: cap[key], cap.records)"
        )
    return (
        "by_path(): none of the calls selected ran for a module of the model= given (their records have no "
        "module path); read them by key (cap[key], cap.records), or give the model that holds those modules"
    )


def check_selection(records: Sequence[Any], pattern: str, name: str | None, known: Iterable[str] | None = None) -> None:
    """Raise when no record in ``records`` was selected because of a mistake: a ``name`` that is
    none of the ``known`` variables and keys (those a block asked for; by default, those of the
    records), or a variable name given as the pattern (``select`` takes the pattern first)."""
    if known is None:
        if not records:
            return
        names = {record.name for record in records} | {record.key for record in records}
    else:
        names = set(known)
    if name is not None and name not in names:
        raise KeyError(f"nothing was captured as {name!r}; the variables and keys captured: {sorted(names)}")
    if name is None and pattern in names:
        raise ValueError(
            f"{pattern!r} is a captured variable, and no module path matches it: select(pattern, name) takes the "
            f"module path pattern first; use select(name={pattern!r}) or select('*', {pattern!r})"
        )

"""Which requested variables are certainly bound at each return of a function.

Loading an unbound local from inserted code either raises ``UnboundLocalError`` inside the
user's function (3.11, and ``LOAD_FAST_CHECK`` on 3.12+) or crashes the interpreter (a plain
``LOAD_FAST`` on 3.12+). So the rewriting backend loads a variable directly only at the returns
where this definite-assignment pass proves it bound on every path; elsewhere it reads the frame.

The pass is a forward "must" dataflow over the linear instruction list of a
:class:`bytecode.Bytecode`: the state is the set of tracked names certainly bound, joined by
intersection. Exception edges run from every instruction inside a ``TryBegin``/``TryEnd`` range
to its handler, carrying the state *before* that instruction, which is sound because stores
cannot raise after they have bound the name.
"""

from __future__ import annotations

import linecache
from collections.abc import Iterable, Mapping, Sequence
from types import CodeType
from typing import Any, TypeGuard

from bytecode import Bytecode
from bytecode.instr import CellVar, FreeVar, Instr, Label, TryBegin, TryEnd

from ._records import Site

__all__ = [
    "Site",
    "assignment_sites",
    "assignment_stores",
    "bound_at_returns",
    "comprehension_only",
    "is_return",
    "site_positions",
    "split_superinstructions",
]

_RETURNS = frozenset({"RETURN_VALUE", "RETURN_CONST"})
_STORES = frozenset({"STORE_FAST", "STORE_DEREF", "STORE_FAST_MAYBE_NULL"})
_DELETES = frozenset({"DELETE_FAST", "DELETE_DEREF"})
# 3.12+ inlined comprehensions save a local with LOAD_FAST_AND_CLEAR and restore it later with
# a plain STORE_FAST of a value that may be NULL; such a store does not prove the name bound.
_CLEARS = "LOAD_FAST_AND_CLEAR"


def is_return(instr: object) -> TypeGuard[Instr]:
    """Whether ``instr`` leaves the function by returning (not by raising or yielding)."""
    return isinstance(instr, Instr) and instr.name in _RETURNS


def _names(arg: object) -> Iterable[str]:
    """Local names an instruction argument refers to (superinstructions carry a pair)."""
    if isinstance(arg, str):
        yield arg
    elif isinstance(arg, (CellVar, FreeVar)):
        yield arg.name
    elif isinstance(arg, tuple):
        for item in arg:
            yield from _names(item)


def _stored(instr: Instr) -> Iterable[str]:
    """Names an instruction binds."""
    if instr.name in _STORES or instr.name == "STORE_FAST_STORE_FAST":
        return _names(instr.arg)
    if instr.name == "STORE_FAST_LOAD_FAST" and isinstance(instr.arg, tuple):
        return _names(instr.arg[0])
    return ()


def bound_at_returns(code: Bytecode, tracked: Sequence[str], arguments: Iterable[str]) -> dict[int, frozenset[str]]:
    """Map the index in ``code`` of each reachable return to the tracked names bound there.

    ``arguments`` are bound on entry. A tracked name that any ``LOAD_FAST_AND_CLEAR`` touches, or
    that is a free variable, is never reported bound: its value is read under a guard instead.
    """
    items = list(code)
    bit = {name: 1 << i for i, name in enumerate(tracked)}
    never = 0
    for item in items:
        if isinstance(item, Instr) and item.name == _CLEARS:
            never |= sum(bit.get(n, 0) for n in _names(item.arg))
    for name in tracked:
        if name in code.freevars:
            never |= bit[name]

    # Positions of labels and, lexically, the handler guarding each instruction.
    label_at: dict[Label, int] = {}
    handler: dict[int, Label] = {}
    active: TryBegin | None = None
    for index, item in enumerate(items):
        if isinstance(item, Label):
            label_at[item] = index
        elif isinstance(item, TryBegin):
            active = item
        elif isinstance(item, TryEnd):
            active = None
        elif isinstance(item, Instr) and active is not None and isinstance(active.target, Label):
            handler[index] = active.target

    entry = sum(bit.get(name, 0) for name in arguments) & ~never
    state_in: dict[int, int] = {0: entry}
    work = [0]
    while work:
        index = work.pop()
        state = state_in[index]
        item = items[index]
        successors: list[tuple[int, int]] = []
        if isinstance(item, Instr):
            if index in handler:
                successors.append((label_at[handler[index]], state))
            after = state
            for name in _stored(item):
                after |= bit.get(name, 0)
            if item.name in _DELETES or item.name == _CLEARS:
                for name in _names(item.arg):
                    after &= ~bit.get(name, 0)
            after &= ~never
            if item.has_jump() and isinstance(item.arg, Label):
                successors.append((label_at[item.arg], after))
            if not item.is_final() and index + 1 < len(items):
                successors.append((index + 1, after))
        elif index + 1 < len(items):
            successors.append((index + 1, state))
        for target, incoming in successors:
            known = state_in.get(target)
            merged = incoming if known is None else known & incoming
            if merged != known:
                state_in[target] = merged
                work.append(target)

    result: dict[int, frozenset[str]] = {}
    for index, item in enumerate(items):
        if is_return(item) and index in state_in:
            mask = state_in[index]
            result[index] = frozenset(name for name in tracked if mask & bit[name])
    return result


# -- assignments (``when="each"`` and ``edit``) -----------------------------------------------

SiteKey = tuple[int, int]  # (line, column) of an assignment's target in the source; -1 when unknown
_SUPERSTORES = frozenset({"STORE_FAST_STORE_FAST", "STORE_FAST_LOAD_FAST"})


def site_key(instr: Instr) -> SiteKey:
    """Where in the source a store instruction assigns: one site per assignment target.

    A ``finally`` body compiled twice gives two stores with one key, so they count as one site.
    """
    location = instr.location
    line = location.lineno if location is not None else None
    column = location.col_offset if location is not None else None
    return (line if line is not None else -1, column if column is not None else -1)


def split_superinstructions(items: list[Any]) -> list[Any]:
    """3.13's ``STORE_FAST_STORE_FAST`` / ``STORE_FAST_LOAD_FAST`` as their two plain halves.

    Code can then be inserted after each store. The halves run exactly what the pair ran.
    """
    out: list[Any] = []
    for item in items:
        if isinstance(item, Instr) and item.name in _SUPERSTORES and isinstance(item.arg, tuple):
            first, second = item.arg
            second_name = "STORE_FAST" if item.name == "STORE_FAST_STORE_FAST" else "LOAD_FAST"
            out += [
                Instr("STORE_FAST", first, location=item.location),
                Instr(second_name, second, location=item.location),
            ]
        else:
            out.append(item)
    return out


def assignment_stores(items: Sequence[Any], names: Iterable[str]) -> dict[int, str]:
    """Index -> name of each store in ``items`` that is an assignment the source makes to ``names``.

    ``items`` must have no superinstructions (see :func:`split_superinstructions`). Left out are the
    stores the compiler adds on its own: the ``e = None; del e`` that ends ``except ... as e``
    (a store and a delete at one location), and, on 3.12+, a comprehension's own variable that
    shares a name with the function's (from its ``LOAD_FAST_AND_CLEAR`` to the store that puts
    the function's value back, which has the clear's location) and that restore itself.
    """
    wanted = set(names)
    cleared: dict[str, set[Any]] = {}
    for item in items:
        if isinstance(item, Instr) and item.name == _CLEARS and isinstance(item.arg, str) and item.arg in wanted:
            cleared.setdefault(item.arg, set()).add(_where(item))
    found: dict[int, str] = {}
    inside: dict[str, list[Any]] = {}  # name -> locations of the comprehensions open now
    for index, item in enumerate(items):
        if not isinstance(item, Instr):
            continue
        if item.name == _CLEARS and isinstance(item.arg, str) and item.arg in wanted:
            inside.setdefault(item.arg, []).append(_where(item))
            continue
        if item.name not in _STORES or item.name == "STORE_FAST_MAYBE_NULL":
            continue
        name = next(iter(_names(item.arg)), None)
        if name not in wanted:
            continue
        assert name is not None
        where = _where(item)
        if where in cleared.get(name, ()):
            opened = inside.get(name)
            if opened and opened[-1] == where:
                opened.pop()
            continue  # the comprehension puts the function's own value back
        if inside.get(name):
            continue  # the comprehension's variable, not the function's
        following = items[index + 1] if index + 1 < len(items) else None
        if (
            isinstance(following, Instr)
            and following.name in _DELETES
            and name in set(_names(following.arg))
            and _where(following) == where
        ):
            continue  # ``except ... as name`` cleaning up
        found[index] = name
    return found


def _where(instr: Instr) -> Any:
    location = instr.location
    if location is None:
        return None
    return (location.lineno, location.end_lineno, location.col_offset, location.end_col_offset)


def site_positions(items: Sequence[Any], stores: Mapping[int, str]) -> dict[int, int]:
    """Index of each store in ``stores`` -> the position of its site among its name's sites.

    Sites are numbered from 0 in source order (line, then column); stores without a location
    come last.
    """
    keys: dict[str, set[SiteKey]] = {}
    for index, name in stores.items():
        keys.setdefault(name, set()).add(site_key(items[index]))
    order = {name: {key: i for i, key in enumerate(sorted(found, key=_source_order))} for name, found in keys.items()}
    return {index: order[name][site_key(items[index])] for index, name in stores.items()}


def _source_order(key: SiteKey) -> tuple[bool, SiteKey]:
    return (key[0] < 0, key)


def assignment_sites(code: CodeType, name: str) -> list[Site]:
    """Every assignment site of local ``name`` in ``code``, in source order."""
    items = split_superinstructions(list(Bytecode.from_code(code)))
    stores = assignment_stores(items, [name])
    positions = site_positions(items, stores)
    sites: dict[int, Site] = {}
    for index, position in positions.items():
        line, column = site_key(items[index])
        source = linecache.getline(code.co_filename, line).strip() if line > 0 else ""
        sites[position] = Site(position, line if line > 0 else None, column if column >= 0 else None, source)
    return [sites[position] for position in sorted(sites)]


def comprehension_only(code: CodeType, name: str) -> str:
    """A hint when ``name`` is only the variable of comprehensions in ``code`` (empty otherwise).

    From 3.12 a comprehension runs in its function's frame, so its variable is one of the
    function's locals (``capture`` accepts it), but it is put back as it was when the
    comprehension ends: no return sees it, and it is no assignment of the function's own.
    Computed only to explain a variable never bound (it decodes the code).
    """
    if name in code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]:
        return ""
    items = list(Bytecode.from_code(code))
    if not any(isinstance(i, Instr) and i.name == _CLEARS and i.arg == name for i in items):
        return ""
    if assignment_stores(split_superinstructions(items), [name]):
        return ""
    return (
        f"{name!r} is only the variable of a comprehension: it exists while the comprehension runs and is "
        "gone when it ends, so no return sees it; capture what the comprehension builds instead"
    )

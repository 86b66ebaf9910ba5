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

from collections.abc import Iterable, Sequence
from typing import TypeGuard

from bytecode import Bytecode
from bytecode.instr import CellVar, FreeVar, Instr, Label, TryBegin, TryEnd

__all__ = ["bound_at_returns", "is_return"]

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
    that is a free variable, is never reported bound: its value is read from the frame instead.
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

"""What ``capture()`` was asked to capture: functions, methods, ``"module:Qual.name"`` strings, recipes."""

from __future__ import annotations

import operator
import sys
import types
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from . import _engine
from ._functions import bound_object, check_varnames, locate_target, resolve_function
from ._options import ValueOptions
from .recipes import Recipe, recipe_hints

__all__ = [
    "PLANS_MAX",
    "PLANS_PER_TARGET",
    "Plan",
    "Resolved",
    "TargetSpec",
    "Targets",
    "normalise_targets",
    "plans",
    "reference",
    "weakly",
]

TargetSpec = Any  # a function, method, "module:Qual.name" string, or Recipe


def reference(obj: Any) -> Callable[[], Any]:
    """A weak reference to ``obj`` where it takes one (a result must not keep a layer alive)."""
    try:
        return weakref.ref(obj)
    except TypeError:
        return lambda: obj


Targets = list[tuple[types.FunctionType, tuple[str, ...], tuple[str, str], tuple[Callable[[], Any], ...] | None]]


class Resolved:
    """One target given alone (a function, a recipe or a ``"module:Qual.name"`` string) as it
    resolved, with what to check that it still resolves so: a loop of blocks then skips the search
    through wrappers and the checks of the names.

    What could change between two calls, and is checked: the object given is still alive (it is
    held weakly: a cache must not keep a function alive), the module attribute a string or recipe
    names is still the object found there, and each function of the chain followed (the object,
    then its ``functools.wraps`` ``__wrapped__``, as :func:`resolve_function` follows it) still has
    its code (uncaptured: another block may capture it now) and its ``__wrapped__``. Whatever
    else :func:`resolve_function` reads follows from those.
    """

    __slots__ = ("code", "func", "getter", "hints", "links", "module", "names", "spec")

    def __init__(
        self,
        spec: Any,
        location: tuple[str, tuple[str, ...], object] | None,
        links: tuple[tuple[weakref.ref[types.FunctionType], types.CodeType], ...],
        func: types.FunctionType,
        names: tuple[str, ...],
        hints: tuple[str, str],
    ) -> None:
        self.spec = None if type(spec) is str else weakref.ref(spec)  # a str is the cache's key itself
        # Where a string or recipe found the object: the module's name, and the attribute path as a
        # getter (one C call, where a loop of getattr() costs several microseconds in a block per forward).
        self.module = "" if location is None else location[0]
        self.getter = None if location is None else operator.attrgetter(".".join(location[1]))
        # The chain followed; when it is the function alone (the usual case), its code, checked inline.
        self.links = links
        self.code = links[0][1] if len(links) == 1 else None
        self.func = weakref.ref(func)
        self.names = names
        self.hints = hints

    def now(self, target: Any) -> Targets | None:
        """The targets of ``target`` when it still resolves as it did; None: normalise it anew.

        It runs at every block of a loop, right after a forward emptied the CPU caches, where each
        step costs: the usual case (a function alone, given or named) is kept to a few lookups.
        """
        func = self.func()
        spec = self.spec
        if func is None or (spec is not None and spec() is not target):  # dead, or another at its id
            return None
        getter = self.getter
        if getter is not None:
            try:
                found = getter(sys.modules[self.module])
            except Exception:  # the module or an attribute is gone: the long way says which
                return None
            if found is not (func if self.code is not None else self.links[0][0]()):
                return None
        code = self.code
        if code is None:
            if not self._chain_holds():
                return None
        elif (func.__code__ is not code and _engine.original_code(func) is not code) or "__wrapped__" in func.__dict__:
            return None
        return [(func, self.names, self.hints, None)]

    def _chain_holds(self) -> bool:
        """Whether each function of a chain of several still has its code and wraps the same one."""
        inner = None
        for ref, code in reversed(self.links):  # innermost first: its __wrapped__ is None
            func = ref()
            if func is None or func.__dict__.get("__wrapped__") is not inner:
                return False
            if func.__code__ is not code and _engine.original_code(func) is not code:
                return False
            inner = func
        return True


def _links(obj: object) -> tuple[tuple[weakref.ref[types.FunctionType], types.CodeType], ...] | None:
    """The chain :func:`resolve_function` follows from ``obj``, when it is plain functions alone (a
    function and the ones it wraps): each weakly, with its uncaptured code; None for anything else."""
    links: list[tuple[weakref.ref[types.FunctionType], types.CodeType]] = []
    seen: list[object] = []
    current: object = obj
    while current is not None:
        if type(current) is not types.FunctionType or any(current is other for other in seen):
            return None
        seen.append(current)
        links.append((weakref.ref(current), _engine.original_code(current)))
        current = current.__dict__.get("__wrapped__")
    return tuple(links)


def normalise_targets(
    target: TargetSpec | Mapping[TargetSpec, str | Iterable[str]], varnames: tuple[str, ...]
) -> tuple[Targets, Resolved | None]:
    """[(function, names, a recipe's hints, objects)] from whatever :func:`capture` was given; ``objects`` are
    those of the bound methods given (``model.blocks[3].attn.forward``), whose calls alone are kept
    (None: every call, when the function itself was given). With them, the :class:`Resolved` that
    tells whether the same arguments still give the same (None where that is not kept: a mapping,
    a bound method, a wrapper that is not a function)."""
    key = (target if type(target) is str else id(target), varnames)
    try:
        known = _resolved.get(key)
    except TypeError:  # an unhashable name: check_varnames below says what is wrong
        known = None
    if known is not None:
        found = known.now(target)
        if found is not None:
            return found, known
    if isinstance(target, Mapping):
        if varnames:
            raise TypeError("give variable names either in the mapping or as arguments, not both")
        if not target:
            raise ValueError(
                "capture({}) names no function to capture; map each function to its variable names, "
                "e.g. capture({Attention.forward: 'attn', Block.forward: ['x', 'y']})"
            )
        pairs = [(spec, _mapped_names(spec, names)) for spec, names in target.items()]
    else:
        pairs = [(target, varnames)]
    merged: dict[types.FunctionType, tuple[tuple[str, ...], tuple[str, str], tuple[Any, ...] | None]] = {}
    location = obj = None
    for spec, names in pairs:
        hints = ("", "")
        if isinstance(spec, Recipe):
            names = names or spec.varnames
            hints = (spec.hint, spec.if_not_run)
            spec = spec.target
        names = check_varnames(names, "capture")
        if isinstance(spec, str):
            location = locate_target(spec)
            obj = location[2]
        else:
            obj = spec
        func = resolve_function(obj, names, "capture")
        if not any(hints):  # the function a recipe names, given by name or object: the recipe's hints too
            hints = recipe_hints(func)
        # a method bound to one object: its calls alone
        bound_to = bound_object(obj, func, _engine.original_code(func), "capture")
        objects = None if bound_to is None else (bound_to,)
        if func in merged:
            known_names, known_hints, known_objects = merged[func]
            if (objects is not None or known_objects is not None) and set(names) != set(known_names):
                raise TypeError(
                    f"capture() was given {_engine.label_of(func)} bound to an object and again (bound to another, "
                    f"or unbound) with other variable names ({', '.join(known_names)} / {', '.join(names)}): a "
                    "block files one function's calls one way, so give each the same names, or use a block for each"
                )
            names = known_names + tuple(n for n in names if n not in known_names)
            hints = known_hints if any(known_hints) else hints
            if objects is None or known_objects is None:
                objects = None  # the function itself was given too: every call
            else:
                objects = known_objects + tuple(o for o in objects if not any(o is k for k in known_objects))
        merged[func] = (names, hints, objects)
    result = [
        (func, names, hints, None if objects is None else tuple(map(reference, objects)))
        for func, (names, hints, objects) in merged.items()
    ]
    resolved = None
    if len(pairs) == 1 and result[0][3] is None and (type(target) in (str, Recipe, types.FunctionType)):
        links = _links(obj)
        if links is not None:
            func, names, hints, _ = result[0]
            resolved = Resolved(target, location, links, func, names, hints)
            if len(_resolved) >= _RESOLVED_MAX:
                _resolved.clear()
            _resolved[key] = resolved
    return result, resolved


def _mapped_names(spec: object, names: object) -> tuple[object, ...]:
    """The variable names a mapping given to capture() has for ``spec``: a str or an iterable of them."""
    if isinstance(names, str):
        return (names,)
    if not isinstance(names, Iterable):
        raise TypeError(
            f"capture() maps {spec!r} to {names!r}; map each function to a variable name or a list of them, "
            "e.g. {Attention.forward: 'attn'}"
        )
    return tuple(names)


def weakly(obj: object) -> bool:
    """Whether ``obj`` is None or takes a weak reference (a plan may refer to it)."""
    if obj is None:
        return True
    try:
        weakref.ref(obj)
    except TypeError:
        return False
    return True


class Plan:
    """What :func:`capture` made of one set of arguments (see there): a callable among them weakly,
    the target as it resolved, and what else the block takes."""

    __slots__ = (
        "at",
        "clone",
        "collate_fn",
        "device",
        "grads",
        "key_style",
        "line",
        "max_size",
        "options",
        "reduce",
        "resolved",
        "sites",
        "strict",
        "values",
        "varnames",
        "when",
    )

    def __init__(
        self,
        varnames: tuple[str, ...],
        values: str,
        device: str | None,
        clone: bool,
        max_size: int | None,
        key_style: str,
        strict: bool,
        when: str,
        at: int | None,
        line: int | None,
        grads: bool,
        resolved: Resolved,
        options: ValueOptions,
        sites: Sequence[Mapping[str, frozenset[int] | None] | None] | None,
    ) -> None:
        self.varnames, self.values, self.device, self.clone, self.max_size = varnames, values, device, clone, max_size
        self.key_style, self.strict, self.when, self.at, self.line = key_style, strict, when, at, line
        self.grads = grads
        self.resolved = resolved  # the target as it resolved, and how to check it still does
        self.reduce: weakref.ref[Any] | None = None
        self.collate_fn: weakref.ref[Any] | None = None
        # The options checked, without the user's callables (reduce=None, collate_fn=None, and the
        # values= converter, None where a collate_fn replaced it), and when="each"'s sites.
        self.options = options
        self.sites = sites


# capture()'s plans, by the target (a str) or its id: the last plain arguments each was given.
plans: dict[object, tuple[Plan, ...]] = {}
PLANS_MAX = 256
PLANS_PER_TARGET = 4


# Targets given alone before, as they resolved (see Resolved), by the target (a str) or its id, and
# the names given.
_resolved: dict[tuple[object, tuple[str, ...]], Resolved] = {}
_RESOLVED_MAX = 256

"""What ``capture()`` was asked to capture: functions, methods, ``"module:Qual.name"`` strings, recipes."""

from __future__ import annotations

import sys
import types
import weakref
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from . import _engine
from ._functions import bound_object, check_varnames, locate_target, resolve_function
from .recipes import Recipe, recipe_hints

__all__ = ["TargetSpec", "normalise_targets", "reference"]

TargetSpec = Any  # a function, method, "module:Qual.name" string, or Recipe


def reference(obj: Any) -> Callable[[], Any]:
    """A weak reference to ``obj`` where it takes one (a result must not keep a layer alive)."""
    try:
        return weakref.ref(obj)
    except TypeError:
        return lambda: obj


def normalise_targets(
    target: TargetSpec | Mapping[TargetSpec, str | Iterable[str]], varnames: tuple[str, ...]
) -> list[tuple[types.FunctionType, tuple[str, ...], tuple[str, str], tuple[Callable[[], Any], ...] | None]]:
    """[(function, names, a recipe's hints, objects)] from whatever :func:`capture` was given; ``objects`` are
    those of the bound methods given (``model.blocks[3].attn.forward``), whose calls alone are kept
    (None: every call, when the function itself was given)."""
    named = type(target) is str or type(target) is Recipe
    key = (target if type(target) is str else id(target), varnames)
    if named:  # a recipe or "module:Qual.name" seen before: check that it still names the same function
        cached = _located.get(key)
        if cached is not None and cached[0] is target:
            _, module_name, parts, obj, result, code = cached
            found: Any = sys.modules.get(module_name)
            for part in parts:
                found = getattr(found, part, None)
            if found is obj and result[0].__code__ is code:
                return [result]
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
    location = None
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
            known, known_hints, known_objects = merged[func]
            if (objects is not None or known_objects is not None) and set(names) != set(known):
                raise TypeError(
                    f"capture() was given {_engine.label_of(func)} bound to an object and again (bound to another, "
                    f"or unbound) with other variable names ({', '.join(known)} / {', '.join(names)}): a block "
                    "files one function's calls one way, so give each the same names, or use a block for each"
                )
            names = known + tuple(n for n in names if n not in known)
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
    if named and location is not None:
        if len(_located) >= _LOCATED_MAX:
            _located.clear()
        _located[key] = (target, *location, result[0], result[0][0].__code__)
    return result


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


# Recipes and "module:Qual.name" strings given to capture() before, with what they resolved to and
# how to check that they still do (the module, the attribute path, the function's code): a loop of
# blocks then skips the search through wrappers and the checks of the names. (The target itself
# is kept: an id key stays its own while the entry lives.)
_located: dict[tuple[object, tuple[str, ...]], tuple[Any, str, tuple[str, ...], object, Any, Any]] = {}
_LOCATED_MAX = 256

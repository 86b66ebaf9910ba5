"""Find the Python function whose locals a decorator or ``capture`` target names.

Decorators and wrappers stack: ``staticmethod``/``classmethod`` keep the function in ``__func__``,
bound methods too, and ``functools.wraps`` wrappers (``torch.no_grad()``, ``lru_cache``...) in
``__wrapped__``. We follow all of them and choose the innermost function that owns every
requested name.
"""

from __future__ import annotations

import difflib
import functools
import inspect
import sys
import types
from collections.abc import Sequence
from typing import Any

from ._errors import UnknownVariableError
from ._records import Site

__all__ = [
    "Site",
    "bound_object",
    "check_varnames",
    "check_when",
    "describe_sites",
    "import_target",
    "key_for",
    "label_of",
    "local_names",
    "locate_target",
    "resolve_function",
    "select_sites",
]


def label_of(func: types.FunctionType) -> str:
    """``module:qualname``; a function made by ``exec`` without a module is named by its file."""
    module = func.__module__ if func.__module__ is not None else func.__code__.co_filename
    return f"{module}:{func.__qualname__}"


def local_names(code: types.CodeType) -> tuple[str, ...]:
    """Arguments, locals, cell and free variables of ``code``, in that order."""
    return code.co_varnames + code.co_cellvars + code.co_freevars


def check_varnames(varnames: Sequence[object], who: str) -> tuple[str, ...]:
    """Validate the requested names: at least one, each a str that is a Python identifier."""
    if not varnames:
        raise TypeError(f"{who} needs the name of at least one local variable, e.g. {_usage(who, 'Attention.forward')}")
    names: list[str] = []
    for name in varnames:
        if not isinstance(name, str):
            raise TypeError(f"{who} takes variable names as strings; got {name!r} ({type(name).__name__})")
        if not name.isidentifier():
            raise ValueError(f"{name!r} is not a Python variable name; {who} takes names such as 'attn'")
        if name not in names:
            names.append(name)
    return tuple(names)


def _usage(who: str, target: str) -> str:
    """How ``who`` is called on ``target``, for error messages."""
    if who == "get_local":
        return f"get_local('attn')({target})"
    if who == "edit":
        return f"edit({target}, 'attn', fn)"
    return f"{who}({target}, 'attn')"


def _describe(obj: object, who: str) -> str:
    if inspect.isclass(obj):
        method = "forward" if hasattr(obj, "forward") else "__call__"
        return (
            f"{who} cannot capture from the class {obj.__qualname__}; name one of its methods "
            f"instead, e.g. {_usage(who, f'{obj.__qualname__}.{method}')}"
        )
    if isinstance(
        obj,
        (
            types.BuiltinFunctionType,
            types.BuiltinMethodType,
            types.MethodWrapperType,
            types.WrapperDescriptorType,
            types.MethodDescriptorType,
        ),
    ):
        return f"{obj!r} is implemented in C: it has no Python local variables to capture"
    if isinstance(obj, property | functools.cached_property):
        part = "fget" if isinstance(obj, property) else "func"
        return (
            f"{who} captures from Python functions; got the {type(obj).__name__} {obj!r}: capture from its "
            f"getter, Class.<name>.{part} (the property keeps calling that very function)"
        )
    if callable(obj):
        kind = type(obj).__qualname__
        method = "forward" if hasattr(type(obj), "forward") else "__call__"  # an nn.Module runs forward
        return (
            f"{obj!r} is a callable {kind} object, not a function; capture from its method instead, "
            f"e.g. {_usage(who, f'{kind}.{method}')}"
        )
    return f"{who} captures from Python functions; got {obj!r} ({type(obj).__name__})"


def _chain(obj: object) -> tuple[list[types.FunctionType], object]:
    """Python functions reachable from ``obj``, outermost first, and the innermost object reached."""
    found: list[types.FunctionType] = []
    seen: set[int] = set()
    current: object = obj
    last = obj
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        last = current
        if isinstance(current, (staticmethod, classmethod, types.MethodType)):
            current = current.__func__
            continue
        if isinstance(current, functools.partial):
            current = current.func
            continue
        if isinstance(current, types.FunctionType):
            found.append(current)
            current = current.__dict__.get("__wrapped__")  # where functools.wraps puts it
            continue
        try:
            # getattr_static: no __getattr__ of arbitrary objects (mocks, proxies) runs here.
            current = inspect.getattr_static(current, "__wrapped__", None)
        except Exception:
            current = None
    return found, last


def resolve_function(obj: object, varnames: tuple[str, ...], who: str) -> types.FunctionType:
    """The innermost function reachable from ``obj`` that has every name in ``varnames``."""
    chain, innermost = _chain(obj)
    if not chain:
        raise TypeError(_describe(innermost, who))
    for func in reversed(chain):
        if all(name in local_names(func.__code__) for name in varnames):
            return func
    func = chain[-1]
    owned = local_names(func.__code__)
    name = next(name for name in varnames if name not in owned)
    where = label_of(func)
    hint = "."
    inner = _inner_owner(func.__code__, name)
    close = difflib.get_close_matches(name, owned, n=3)
    if inner is not None:  # exactly a name of nested code: said before any near miss
        hint = (
            f"; it is a local of {inner} inside it, which runs in a frame of its own: capture a variable "
            f"of {where} that holds what it makes."
        )
    elif close:
        hint = f"; did you mean {' or '.join(map(repr, close))}?"
    elif name in func.__code__.co_names:
        hint = f"; there {name!r} is a global, builtin or attribute name, not a local."
    listing = ", ".join(owned) if owned else "(none)"
    raise UnknownVariableError(f"{name!r} is not a local variable of {where}{hint} Its locals are: {listing}.")


def _inner_owner(code: types.CodeType, name: str) -> str | None:
    """The comprehension, lambda or nested function defined in ``code`` that has local ``name``."""
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            if name in local_names(constant):
                kind = constant.co_name.strip("<>")
                return f"the {kind}" if constant.co_name.startswith("<") else f"the nested function {kind}()"
            found = _inner_owner(constant, name)
            if found is not None:
                return found
    return None


def bound_object(obj: object, func: types.FunctionType, code: types.CodeType, who: str) -> Any:
    """The object a bound method ``obj`` (``vit.blocks[3].attn.forward``) is bound to, whose calls of
    ``func`` alone are wanted; None for anything else (a function, a method bound to a class).
    ``code`` is the code ``func`` runs uncaptured (``_engine.original_code``), not the rewritten code
    of a block capturing it now.

    Its calls are told apart by ``func``'s first parameter, read at returns and assignments: a
    function without one, or that assigns it, is refused.
    """
    if not isinstance(obj, types.MethodType) or isinstance(obj.__self__, type):
        return None
    label = label_of(func)
    instead = "capture the function itself, with model=, and select its records by module path"
    if not code.co_argcount:
        raise TypeError(
            f"{who}() was given a method bound to one object, but {label} takes no positional parameter, so "
            f"its calls cannot be told apart by object; {instead}"
        )
    first = code.co_varnames[0]
    if _assigns(code, first):
        raise TypeError(
            f"{who}() was given a method bound to one object, but {label} assigns its first parameter "
            f"{first!r}, so its calls cannot be told apart by object; {instead}"
        )
    return obj.__self__


@functools.lru_cache(maxsize=256)
def _assigns(code: types.CodeType, name: str) -> bool:
    """Whether ``code`` assigns local ``name`` anywhere (a parameter being reassigned)."""
    from ._analysis import assignment_sites

    return bool(assignment_sites(code, name))


def key_for(func: types.FunctionType, name: str, style: str) -> str:
    """The cache key of variable ``name`` of ``func``: ``Qual.name.var`` or ``module:Qual.name.var``."""
    if style == "module":
        return f"{label_of(func)}.{name}"
    return f"{func.__qualname__}.{name}"


def import_target(spec: str) -> object:
    """The object a ``"package.module:Qualified.name"`` string names (imported if need be).

    Without a colon, the longest importable module prefix is used: ``"json.decoder.JSONDecoder.decode"``.
    """
    return locate_target(spec)[2]


def locate_target(spec: str) -> tuple[str, tuple[str, ...], object]:
    """:func:`import_target`, and where it found the object: the module's name and the attribute path."""
    import importlib

    if ":" in spec:
        module_name, _, qualname = spec.partition(":")
        candidates = [(module_name, qualname)] if module_name and qualname else []
    else:
        dotted = spec.split(".")
        candidates = [(".".join(dotted[:i]), ".".join(dotted[i:])) for i in range(len(dotted) - 1, 0, -1)]
    if not candidates or any(not part for module_name, qualname in candidates for part in qualname.split(".")):
        raise ValueError(
            f"{spec!r} does not name a function: give a module and the function's qualified name, "
            "'package.module:Qualified.name' (e.g. 'timm.models.vision_transformer:Attention.forward')"
        )
    errors = []
    for module_name, qualname in candidates:
        try:
            # A module imported already is taken as it is: import_module's own checks cost more than
            # the rest of a capture block's start (recipes name their targets by string).
            obj: object = sys.modules.get(module_name) or importlib.import_module(module_name)
        except ImportError as exc:
            errors.append(f"{module_name}: {exc}")
            continue
        parts = tuple(qualname.split("."))
        for part in parts:
            if part == "<locals>" or not hasattr(obj, part):
                close = difflib.get_close_matches(part, [name for name in dir(obj) if not name.startswith("__")], n=3)
                maybe = f"; did you mean {' or '.join(map(repr, close))}?" if close else "."
                raise AttributeError(
                    f"{spec!r}: {module_name} has no attribute path {qualname!r} (stopped at {part!r}){maybe} "
                    "Name a module-level function or a class method, e.g. "
                    "'timm.models.vision_transformer:Attention.forward'"
                )
            obj = getattr(obj, part)
        return module_name, parts, obj
    raise ImportError(f"cannot import a module for target {spec!r}: " + "; ".join(errors))


WHEN = ("return", "each")


def check_when(when: object, at: object, line: object, who: str) -> None:
    """Validate ``when=``, and that ``at=``/``line=`` come only with ``when="each"``."""
    if when not in WHEN:
        raise ValueError(
            f"when={when!r} is not a capture moment; use 'return' (the final value, the default) or "
            "'each' (the value after every assignment)"
        )
    if when == "return" and (at is not None or line is not None):
        raise TypeError(f"{who}: at= and line= choose assignments, so they need when='each'")


def describe_sites(sites: list[Site]) -> str:
    """``at=0 (line 12: attn = q @ k); at=1 (...)``: the sites to choose from, for error messages."""
    return "; ".join(f"at={site.position} (line {site.line}: {site.source or '?'})" for site in sites)


def select_sites(
    func: types.FunctionType, code: types.CodeType, name: str, at: Any, line: Any, who: str
) -> frozenset[int] | None:
    """Positions of the assignment sites of ``name`` that ``at=`` or ``line=`` choose (``None``: all).

    ``at`` is a position in source order as :func:`anycapture.assignments` lists them (negative
    counts from the last, as for lists); ``line`` a source line number. An error names the
    function and lists its assignment sites when the choice matches none, or when ``name`` is
    never assigned (only an argument, say).
    """
    from ._analysis import assignment_sites  # imports bytecode, which `import anycapture` must not need

    where = label_of(func)
    sites = assignment_sites(code, name)
    if not sites:
        kind = "an argument" if name in code.co_varnames[: code.co_argcount + code.co_kwonlyargcount] else "a name"
        raise ValueError(
            f"{name!r} is {kind} of {where} that its body never assigns, so {who} has no assignment to "
            "act on; capture its value at the return instead (when='return')"
        )
    if at is not None and line is not None:
        raise TypeError(f"{who}: give at= (an assignment's position) or line= (a source line), not both")
    if at is None and line is None:
        return None
    if at is not None:
        if isinstance(at, bool) or not isinstance(at, int):
            raise TypeError(f"at= is the position of an assignment (an int, e.g. at=0 for the first); got {at!r}")
        if not -len(sites) <= at < len(sites):
            raise IndexError(f"at={at}: {name!r} has {len(sites)} assignment(s) in {where}: {describe_sites(sites)}")
        return frozenset({sites[at].position})
    if isinstance(line, bool) or not isinstance(line, int):
        raise TypeError(f"line= is a source line number (an int); got {line!r}")
    chosen = frozenset(site.position for site in sites if site.line == line)
    if not chosen:
        raise ValueError(
            f"line={line}: no assignment to {name!r} there in {where}; its assignments: {describe_sites(sites)}"
        )
    return chosen

"""``get_local``: the seed's decorator API, capturing in place with no import-order rule."""

from __future__ import annotations

import contextlib
import threading
import types
import weakref
from collections.abc import Callable
from typing import Any, ClassVar, Literal, TypeVar

from . import _engine
from ._backends import Filer, preferred, require
from ._errors import BackendUnavailableError
from ._functions import check_varnames, check_when, key_for, resolve_function, select_sites
from ._options import KeyStyle, ValueOptions, shared_keys, value_options
from ._store import CacheView, Store, check_max_size
from ._values import PLAIN_TYPES, Converter, kept_raw

__all__ = ["get_local"]

F = TypeVar("F")


def make_filer(container: Any, convert: Converter | None, label: str, *, custom: bool = False) -> Filer:
    """The callable that stores one value: the container's C ``append`` when nothing converts.

    A ``custom`` (user's collate) function sees every value; built-in conversions skip plain ones.
    """
    append: Filer = container.append
    if convert is None:
        return append
    warned: set[object] = set()

    def filer(value: Any) -> None:
        if not custom and type(value) in PLAIN_TYPES:  # ints, strings...: nothing to convert, save a call
            append(value)
            return
        try:
            append(convert(value))
        except Exception as exc:
            _engine.warn_once(warned, "convert", kept_raw(label, exc, "convert"), stacklevel=3)
            with contextlib.suppress(Exception):  # nothing may escape into the user's function
                append(value)

    return filer


class _GetLocalMeta(type):
    """Makes ``get_local.cache`` a live view that cannot be replaced by accident."""

    _store: Store
    _active: bool

    @property
    def cache(cls) -> CacheView:
        """Captured values: ``{'<qualname>.<variable>': [value per call, ...]}`` (live view)."""
        return cls._store.view

    @cache.setter
    def cache(cls, value: object) -> None:
        if isinstance(value, dict) and not value:
            cls._store.clear()  # `get_local.cache = {}`, an old way to empty it
            return
        raise AttributeError("get_local.cache is a live view of captured values; use get_local.clear() to empty it")

    @property
    def is_activate(cls) -> bool:
        """Whether capture is on (AnyCapture 0.1.4's name; read-only: use activate() / deactivate())."""
        return cls._active

    @property
    def max_size(cls) -> int | None:
        """The newest values kept per key, ``None`` for all (read-only: use activate(max_size=) / set_size())."""
        return cls._store.max_size


class get_local(metaclass=_GetLocalMeta):  # noqa: N801 - the seed's public name
    """Capture local variables of a function each time it returns, with no change to its code.

    ``@get_local('attn')`` returns the very function it was given; while capture is on, every
    return of the function records the final value of ``attn`` under ``'<qualname>.attn'``::

        >>> from anycapture import get_local
        >>> @get_local("y")
        ... def f(x):
        ...     y = x * 2
        ...     return y + 1
        >>> get_local.activate()
        >>> f(3)
        7
        >>> get_local.cache["f.y"]
        [6]
        >>> get_local.clear(); get_local.deactivate()
    """

    _lock = threading.RLock()
    _store = Store()
    _active = False
    _options: ValueOptions = value_options()
    # function -> {name: ("return", None), or ("each", site positions or None for all)}
    _registry: ClassVar[weakref.WeakKeyDictionary[types.FunctionType, dict[str, tuple[str, frozenset[int] | None]]]] = (
        weakref.WeakKeyDictionary()
    )
    _key_owners: ClassVar[dict[str, tuple[object, str]]] = {}  # key -> its first function's label (as owner, as label)
    _warned: ClassVar[set[object]] = set()  # warnings already given since the last activate()
    # Filers by key, reused across activate() calls while options and containers stay the same,
    # so that re-activation reuses the instrumented code already bound to them.
    _filers: ClassVar[dict[str, Filer]] = {}
    # Code objects whose functions were rewritten ahead when decorated (see __call__).
    _prepared: ClassVar[weakref.WeakSet[types.CodeType]] = weakref.WeakSet()

    def __init__(
        self, *varnames: str, when: Literal["return", "each"] = "return", at: int | None = None, line: int | None = None
    ) -> None:
        self.varnames = check_varnames(varnames, "get_local")
        check_when(when, at, line, "get_local")
        self.when, self.at, self.line = when, at, line

    def __call__(self, obj: F) -> F:
        func = resolve_function(obj, self.varnames, "get_local")
        cls = type(self)
        wanted: dict[str, tuple[str, frozenset[int] | None]] = {}
        if self.when == "each":
            code = _engine.original_code(func)
            for name in self.varnames:
                wanted[name] = ("each", select_sites(func, code, name, self.at, self.line, "get_local(when='each')"))
        else:
            wanted = dict.fromkeys(self.varnames, ("return", None))
        with cls._lock:
            known = dict(cls._registry.get(func, {}))
            for name, (when, sites) in wanted.items():
                old = known.get(name)
                if old is not None and old[0] != when:
                    raise ValueError(
                        f"{name!r} of {_engine.label_of(func)} is already captured with when={old[0]!r}; "
                        f"one variable is captured either at the return or at each assignment, not both"
                    )
                if old is not None and when == "each":
                    sites = None if old[1] is None or sites is None else old[1] | sites
                known[name] = (when, sites)
            try:
                cls._registry[func] = known
                if cls._active:
                    cls._install(func, cls._converter())
                elif func.__code__ not in cls._prepared:
                    # Rewrite now, while the module is being imported, with the filers activate() will
                    # use unless its options differ: then activate() only swaps code objects. Once per
                    # code object: a decorated def inside a function makes a new function at each
                    # call, which must not pay for a rewrite while capture is off.
                    cls._prepared.add(func.__code__)
                    filers, each, _ = cls._wants(func, cls._converter())
                    _engine.prepare(func, filers, each)
            except BaseException:
                # Cut short (Ctrl-C) while capture is on: finished here, so that a function
                # registered is a function captured.
                if cls._active and func in cls._registry:
                    with contextlib.suppress(Exception):
                        cls._install(func, cls._converter())
                raise
        return obj

    # -- internals ---------------------------------------------------------------------------
    @classmethod
    def _converter(cls) -> Converter | None:
        return cls._options.convert

    @classmethod
    def _reset_filers(cls) -> None:
        cls._filers = {}

    @classmethod
    def _wants(
        cls, func: types.FunctionType, convert: Converter | None
    ) -> tuple[dict[str, Filer], dict[str, tuple[frozenset[int] | None, Filer, bool]], list[str]]:
        """The filers of ``func``'s registered names under the current options, made if need be, and their keys."""
        filers: dict[str, Filer] = {}
        each: dict[str, tuple[frozenset[int] | None, Filer, bool]] = {}
        keys = []
        for name, (when, sites) in cls._registry[func].items():
            key = key_for(func, name, cls._options.key_style)
            keys.append(key)
            filer = cls._filers.get(key)
            if filer is None:
                custom = cls._options.custom
                filer = cls._filers[key] = make_filer(cls._store.container(key), convert, key, custom=custom)
            if when == "each":
                each[name] = (sites, filer, False)  # only the chosen sites are instrumented
            else:
                filers[name] = filer
        return filers, each, keys

    @classmethod
    def _install(cls, func: types.FunctionType, convert: Converter | None) -> None:
        label = _engine.label_of(func)
        filers, each, keys = cls._wants(func, convert)
        fix = "get_local.activate(key_style='module')"
        for key, owner, message in shared_keys(cls._key_owners, label, label, keys, fix):
            # stacklevel=None: the user's line, a decorator or activate()
            _engine.warn_once(cls._warned, ("key", key, owner, label), message, stacklevel=None)
        if each:
            try:
                require("sees_assignments", "get_local(..., when='each')")
            except BackendUnavailableError as exc:
                # One function that cannot be captured this way must not stop activate() for all.
                _engine.warn_once(cls._warned, ("each", label), f"{label}: {exc} Its values are not captured.", None)
                each = {}
        _engine.attach(func, cls, filers, each=each)

    @classmethod
    def _install_all(cls) -> None:
        convert = cls._converter()
        for func in list(cls._registry.keys()):
            cls._install(func, convert)

    # -- the seed's and AnyCapture 0.1.4's API -------------------------------------------------
    @classmethod
    def activate(
        cls,
        max_size: int | None = None,
        *,
        values: Literal["numpy", "tensor", "raw"] = "numpy",
        device: Any = None,
        clone: bool = False,
        key_style: KeyStyle = "qualname",
    ) -> None:
        """Turn capture on for every decorated function, whenever it was decorated or imported.

        Args:
            max_size: keep only the newest ``max_size`` values per key (``None``, 0 or negative:
                no limit). As in AnyCapture 0.1.4, each call sets it anew.
            values: how values are stored. ``"numpy"`` (the seed's default): torch tensors become
                ``tensor.detach().cpu().numpy()`` (dtypes numpy lacks are upcast to float32;
                dicts, lists and tuples converted item by item), anything else is kept as it is.
                ``"tensor"``: tensors are kept, detached. ``"raw"``: every value is kept exactly
                as it is (not detached), the fastest mode.
            device: with ``values="tensor"``, move tensors there (e.g. ``"cpu"``).
            clone: copy each tensor/array, so later in-place changes do not reach the record.
            key_style: ``"qualname"`` (the seed's ``Attention.forward.attn``) or ``"module"``
                (``timm.models.vision_transformer:Attention.forward.attn``) to keep functions
                with the same qualified name in different modules apart.

        >>> get_local.activate(max_size=100); get_local.is_activated()
        True
        >>> get_local.deactivate()
        """
        # Checked before anything changes; the collate function set_collate_fn() gave stays.
        options = value_options(values, device, clone, cls._options.collate_fn, None, max_size, key_style=key_style)
        preferred()  # a forced ANYCAPTURE_BACKEND that cannot run is an error now, not later
        with cls._lock:
            if options.collate_fn is not cls._options.collate_fn:  # set_collate_fn() ran meanwhile
                collate_fn = cls._options.collate_fn
                options = value_options(values, device, clone, collate_fn, None, max_size, key_style=key_style)
            if cls._store.resize(options.max_size) or not options.asks_same(cls._options):
                cls._reset_filers()
            cls._options = options
            cls._warned = set()
            try:
                cls._active = True
                cls._install_all()
            except BaseException:
                # Cut short (Ctrl-C) or failed: capture is left off, every function with its own code,
                # rather than half on; the exception goes on. The filers are made anew next time (some
                # may be bound to the lists a resize above replaced).
                cls._active = False
                cls._reset_filers()
                with contextlib.suppress(Exception):
                    cls._detach_all()
                raise

    @classmethod
    def deactivate(cls) -> None:
        """Turn capture off: every decorated function runs its original code again.

        Captured values stay in the cache until :meth:`clear`. Safe to call again: one that an
        interrupt (Ctrl-C) cut short finishes before the interrupt goes on, or at the next call.
        """
        try:  # from the first line: an interrupt landing anywhere below is caught
            with cls._lock:
                cls._active = False
                cls._detach_all()
        except BaseException:
            with cls._lock:
                cls._active = False
                with contextlib.suppress(Exception):  # idempotent: finishes a detach cut short
                    cls._detach_all()
            raise

    @classmethod
    def _detach_all(cls) -> None:
        for func in list(cls._registry.keys()):
            _engine.detach(func, cls)

    @classmethod
    def is_activated(cls) -> bool:
        """Whether capture is on."""
        return cls._active

    @classmethod
    def set_size(cls, max_size: int | None) -> int | None:
        """Keep only the newest ``max_size`` values per key (``None``, 0 or negative: no limit).

        Values already captured beyond the new limit are dropped, oldest first. Returns the
        normalised size.

        >>> get_local.set_size(0) is None
        True
        """
        size = check_max_size(max_size)

        def resize() -> bool:
            if not cls._store.resize(size):
                return False
            cls._options = cls._options._replace(max_size=size)
            return True

        cls._switch(resize)
        return size

    @classmethod
    def _switch(cls, change: Callable[[], bool]) -> None:
        """Change a setting while capture may be on: ``change()`` says whether the filers must be made
        anew (the lists or the conversion changed), and then every function records with new ones."""
        with cls._lock:
            try:
                if change():
                    cls._reset_filers()
                    if cls._active:
                        cls._install_all()
            except BaseException:
                cls._finish_switch()
                raise

    @classmethod
    def _finish_switch(cls) -> None:
        """A change of settings cut short (Ctrl-C): finish it, so that every function records into
        the lists now in the cache, once, before the exception goes on."""
        cls._reset_filers()
        if cls._active:
            with contextlib.suppress(Exception):
                cls._install_all()

    @classmethod
    def set_collate_fn(cls, collate_fn: Callable[[Any], Any] | None = None) -> Callable[[Any], Any] | None:
        """Store ``collate_fn(value)`` instead of the converted value; ``None`` restores the default.

        If ``collate_fn`` raises, the raw value is kept and one warning is given; the captured
        function is never affected. Returns the collate function now in use.
        """
        with cls._lock:
            options = cls._options
            chosen = value_options(
                options.values,
                options.device,
                options.clone,
                collate_fn,
                None,
                options.max_size,
                key_style=options.key_style,
            )  # checked before anything changes

            def use() -> bool:
                cls._options = chosen
                return True

            cls._switch(use)
        return collate_fn

    @classmethod
    def get_cache(cls) -> CacheView:
        """The cache, as :attr:`get_local.cache`."""
        return cls._store.view

    @classmethod
    def clear(cls) -> None:
        """Forget every captured value; ``len(get_local.cache) == 0`` afterwards."""
        cls._store.clear()

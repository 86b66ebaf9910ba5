"""The value options every front door takes (``values=``, ``collate_fn=``, ``max_size=``...), checked once.

``get_local.activate``, ``capture`` and ``capture_attention`` take the same options for what happens
to a value once captured; :func:`value_options` checks them in one order, with one message for each
mistake, and gives one frozen :class:`ValueOptions`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any, Literal, NamedTuple

from ._store import check_max_size
from ._values import Converter, make_converter

__all__ = ["KEY_STYLES", "KeyStyle", "ValueOptions", "check_flag", "check_sink", "shared_keys", "value_options"]

KeyStyle = Literal["qualname", "module"]
KEY_STYLES = ("qualname", "module")
_MAX_PLAIN = 64  # plain option sets remembered: a loop of blocks uses one or two


class ValueOptions(NamedTuple):
    """What a front door does with each value it captures, checked (make one with :func:`value_options`).

    Immutable, and a tuple rather than a frozen dataclass: a block per forward makes one each time
    it is given a ``reduce=`` or ``collate_fn=`` (not kept: a cache would keep them alive), right
    after a forward emptied the CPU caches, where a frozen dataclass's ``__init__`` (a
    ``object.__setattr__`` a field) costs about 7 us more.

    ``convert`` is what ``values=`` (or ``collate_fn=``, which replaces it) makes of each value,
    None to keep it as it is; :meth:`asks_same` leaves it out: two option sets that ask for the same
    ask the same, whichever converter each made.

    ``Intake`` and ``Capture`` unpack it by position, once per block: a new field goes last.
    """

    values: str = "numpy"
    device: Any = None
    clone: bool = False
    collate_fn: Callable[[Any], Any] | None = None
    reduce: Callable[[Any], Any] | None = None
    max_size: int | None = None
    key_style: str = "qualname"
    sink: Any = None
    grads: bool = False
    convert: Converter | None = None

    def asks_same(self, other: ValueOptions) -> bool:
        """Whether ``other`` asks for the same as these options (their converters aside)."""
        return self[:-1] == other[:-1]

    @property
    def custom(self) -> bool:
        """Whether the user's ``collate_fn`` converts: it sees every value, plain ones too."""
        return self.collate_fn is not None

    @property
    def read_as(self) -> Literal["numpy", "tensor", "raw"]:
        """How a sink's records are read back: as the values were kept (``values="raw"``: each as
        the type it had, a torch tensor or a numpy array)."""
        values = self.values
        return "tensor" if values == "tensor" else "raw" if values == "raw" else "numpy"


def value_options(
    values: Any = "numpy",
    device: Any = None,
    clone: Any = False,
    collate_fn: Any = None,
    reduce: Any = None,
    max_size: Any = None,
    sink: Any = None,
    *,
    key_style: Any = "qualname",
    grads: Any = False,
) -> ValueOptions:
    """The options checked, as one :class:`ValueOptions`; a mistake raises, naming the value and the fix.

    ``grads=True`` (``capture`` only) keeps values as they are, in the autograd graph: it refuses
    the options that would replace them, and ``sink=``.
    """
    # The plain options (no callables, no sink) are checked once: a loop of blocks then shares one
    # converter, which also remembers what it learnt about the first tensor.
    plain = (
        collate_fn is None
        and reduce is None
        and sink is None
        and type(values) is str
        and type(clone) is bool
        and type(grads) is bool
        and type(key_style) is str
    )
    key = None
    if plain and (device is None or type(device) is str) and (max_size is None or type(max_size) is int):
        key = (values, device, clone, max_size, key_style, grads)
        found = _plain_options.get(key)
        if found is not None:
            return found
    if key_style not in KEY_STYLES:
        raise ValueError(f"key_style={key_style!r} is not a key style; use 'qualname' or 'module'")
    check_flag("grads", grads)
    if grads:
        if values not in ("numpy", "raw") or device is not None or clone or collate_fn is not None:
            raise TypeError(
                "grads=True keeps each tensor as it is, in the autograd graph; values=, device=, clone= and "
                "collate_fn= would replace it (reduce= may still derive what is kept)"
            )
        if sink is not None:
            raise TypeError("grads=True keeps tensors in the autograd graph, in memory; it cannot go with sink=")
        values = "raw"
    check_flag("clone", clone)
    if sink is not None:
        check_sink(sink)
        if max_size is not None:
            raise TypeError("max_size= keeps the newest values in memory; with sink= every value goes to disk")
    if collate_fn is not None and not callable(collate_fn):
        raise TypeError(f"collate_fn must be callable or None; got {collate_fn!r}")
    if reduce is not None and not callable(reduce):
        raise TypeError(f"reduce must be callable or None; got {reduce!r}")
    # values=, device= and clone= are checked even when collate_fn= replaces what they would make.
    convert = make_converter(values, device=device, clone=clone)
    if collate_fn is not None:
        convert = collate_fn
    options = ValueOptions(
        values, device, clone, collate_fn, reduce, check_max_size(max_size), key_style, sink, grads, convert
    )
    if key is not None and len(_plain_options) < _MAX_PLAIN:
        _plain_options[key] = options
    return options


_plain_options: dict[tuple[Any, ...], ValueOptions] = {}


def check_flag(name: str, value: object) -> None:
    """``value`` of the option ``name`` is a bool (``strict='no'`` would read as true)."""
    if type(value) is not bool:
        raise TypeError(f"{name} must be True or False; got {value!r}")


def check_sink(sink: Any) -> None:
    """``sink=`` is a folder (a str or path) or an :class:`anycapture.Writer`."""
    if isinstance(sink, str | os.PathLike):
        if not str(sink):
            raise ValueError("sink='' is not a folder; give the folder to write the records to")
        return
    from ._disk import Writer

    if not isinstance(sink, Writer):
        raise TypeError(f"sink= takes a folder (a str or path) or an anycapture.Writer; got {sink!r}")


def shared_keys(
    owners: dict[str, tuple[object, str]], owner: object, label: str, keys: Iterable[str], fix: str, scope: str = ""
) -> list[tuple[str, str, str]]:
    """Note in ``owners`` (key -> the first owner and its label) that ``owner``, named ``label``, records
    under ``keys``; for each key another owner took first: ``(key, that owner's label, the warning)``.

    Functions of one qualified name in two modules have the same keys in the default key style,
    so their values would share one list: the warning says so, and ``fix`` keeps them apart.
    """
    shared = []
    for key in keys:
        first, first_label = owners.setdefault(key, (owner, label))
        if first != owner:
            shared.append(
                (
                    key,
                    first_label,
                    f"{first_label} and {label} both record under the key {key!r}, so their values share one "
                    f"list{scope}; use {fix} to keep them apart",
                )
            )
    return shared

"""What a capture records, and how records are chosen: shared by memory (``Capture``) and disk
(``CaptureFolder``), below both, so that neither imports the other to read its records."""

from __future__ import annotations

import fnmatch
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, TypeVar

__all__ = ["RankedRecord", "Record", "RecordReader", "Site", "StoredRecord", "check_selection", "selects"]


class Record(NamedTuple):
    """One captured value and where it came from (a named tuple: cheap to make at every call).

    The one record type of anycapture: a block in memory, a capture folder on disk
    (:class:`StoredRecord`) and :func:`anycapture.distributed.gather` (``RankedRecord``) give records
    with these fields, in this order; a field that does not apply is ``None``.

    ``path`` is the module path of the ``nn.Module`` the function ran for (its ``self``, or a module
    passed as its first argument) inside the ``model=`` given to :func:`capture`, e.g.
    ``"blocks.3.attn"``; ``None`` when there is no such module or no model.

    With ``when="each"``, ``line`` is the source line of the assignment, ``site`` its position
    among the variable's assignments in source order (as :func:`anycapture.assignments` lists
    them) and ``assignment`` how many assignments to the variable that call had made before
    (0 for its first); all three are ``None`` for values captured at returns.

    ``rank`` is the torchrun rank that captured the record (``gather()``, or a folder of ranks),
    ``block`` the number of the capture block among those that shared one :class:`anycapture.Writer`.
    The last five describe a record of a capture folder (``None`` in memory): ``number`` counts the
    records one writer wrote, ``shape`` and ``dtype`` (``"float32"``, ``"bfloat16"``, ...) are the
    stored value's (``None`` for a scalar held in the metadata), ``shard`` is the file holding it,
    ``tensor`` the value's name in that file.
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
    rank: int | None = None
    block: int | None = None
    number: int | None = None
    shape: tuple[int, ...] | None = None
    dtype: str | None = None
    shard: str | None = None
    tensor: str | None = None


class StoredRecord(Record):
    """A :class:`Record` of a capture folder: where it came from, its shape and dtype, and where it is.

    Its ``value`` is ``None``: the value itself is read by :meth:`anycapture.CaptureFolder.load`.
    ``shape`` and ``dtype`` are ``None`` for a scalar stored in the metadata. ``shard`` is the
    file's path inside the folder opened (``"rank-1/shard-00000.safetensors"`` in a folder of
    ranks); ``rank`` is the torchrun rank that wrote it, ``None`` for a single-process capture.
    ``number`` counts the records of one rank. ``block`` numbers the capture blocks that shared one
    :class:`anycapture.Writer` (0 for the first), ``None`` when a block wrote its own folder.
    """

    __slots__ = ()
    if TYPE_CHECKING:  # what a folder's records always have (Record's fields, narrowed for type checkers)
        number: int
        shard: str


class RankedRecord(Record):
    """A :class:`Record` of one rank, as :func:`anycapture.distributed.gather` returns it, its ``rank`` set.

    A torch tensor ``value`` arrives on the CPU, with its dtype.
    """

    __slots__ = ()


# Record(...) runs a Python __new__; tuple.__new__(Record, fields) makes the same record in C, from
# all eighteen of its fields: the hot paths in _recorder give the eleven a record in memory has (key ..
# assignment) + _NOT_IN_MEMORY (one tuple concatenation, in C).
_new_record: Any = tuple.__new__
_NOT_IN_MEMORY = (None,) * (len(Record._fields) - 11)


R = TypeVar("R", bound=Record)  # the records a reader gives


def _label(record: Record) -> str:
    """Which record it is, in an error message: ``"blocks.3.attn call 2"`` (``"rank 1 ..."`` with a rank)."""
    rank = "" if record.rank is None else f"rank {record.rank} "
    return f"{rank}{record.path or record.function} call {record.call}"


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


def _stack(values: Sequence[Any], labels: Sequence[str]) -> Any:
    """``values`` stacked on a new first axis (torch tensors by torch, else by numpy), their shapes checked."""
    shapes = [getattr(value, "shape", None) for value in values]
    if any(shape is None for shape in shapes):
        kinds = sorted({type(value).__name__ for value, shape in zip(values, shapes, strict=True) if shape is None})
        raise TypeError(f"stack() needs arrays or tensors; got {', '.join(kinds)}")
    if len(set(map(tuple, shapes))) > 1:  # type: ignore[arg-type]
        listing = "; ".join(f"{label}: {tuple(shape)}" for label, shape in zip(labels, shapes, strict=True))  # type: ignore[arg-type]
        raise ValueError(f"cannot stack values of different shapes: {listing}")
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(values[0], torch.Tensor):
        return torch.stack(list(values))
    import numpy

    return numpy.stack(list(values))


class RecordReader(Generic[R]):
    """Reading records, written once for memory (``Capture``) and disk (``CaptureFolder``).

    ``records``, ``select``, ``by_path`` and ``stack`` stand on two primitives a reader gives:
    ``_all_records()`` (every record, in order) and ``_values_of(records)`` (their values, in that
    order). The messages for nothing found come from ``_names_asked``, ``_no_paths_message`` and
    ``_nothing_for``. Readers with more to choose by (a folder's ``rank=``) select with
    ``_chosen`` and pass the records on to ``_by_path`` and ``_stacked``.
    """

    __slots__ = ()

    def _all_records(self) -> list[R]:
        raise NotImplementedError

    def _values_of(self, records: list[R]) -> list[Any]:
        raise NotImplementedError

    def _names_asked(self) -> Iterable[str] | None:
        """The variables and keys asked for (one may be unbound in every call); ``None``: those recorded."""
        return None

    def _no_paths_message(self) -> str:
        return _no_paths()

    def _nothing_for(self, name: str | None, pattern: str) -> str:
        return f"no values for name={name!r}, pattern={pattern!r}"

    def _check_stackable(self, records: list[R]) -> None:
        """Refuse, before any value is read, records that cannot be stacked (a reader that knows their shapes)."""

    @property
    def records(self) -> list[R]:
        """Every record, in the order values were captured (in a folder: read from its index, no value read)."""
        return self._all_records()

    def select(self, pattern: str = "*", name: str | None = None) -> list[R]:
        """Records whose module path matches the glob ``pattern`` (and variable ``name`` or key).

        Nothing selected because of a mistake raises: a ``name`` the block did not ask for
        (``KeyError``), or a variable's name given as the pattern (``ValueError``). No value is read.

        >>> # cap.select("blocks.1*.attn", "attn")  -> the records of blocks 10 and 11
        """
        return self._chosen(self._all_records(), pattern, name)

    def by_path(self, name: str | None = None, pattern: str = "*") -> dict[str, list[Any]]:
        """``{module path: [values in call order]}`` for variable ``name`` (or key)."""
        return self._by_path(self.select(pattern, name))

    def stack(self, name: str | None = None, pattern: str = "*") -> Any:
        """The selected values stacked on a new first axis (layers), as one array or tensor.

        With 12 attention maps of shape ``[batch, heads, q, k]`` this gives ``[12, batch, heads, q, k]``.
        """
        return self._stacked(self.select(pattern, name), name, pattern)

    def _chosen(self, records: list[R], pattern: str, name: str | None) -> list[R]:
        selected = [record for record in records if selects(record, pattern, name)]
        if not selected:
            check_selection(records, pattern, name, self._names_asked())
        return selected

    def _by_path(self, selected: list[R]) -> dict[str, list[Any]]:
        records = [record for record in selected if record.path is not None]
        if selected and not records:
            raise ValueError(self._no_paths_message())
        result: dict[str, list[Any]] = {}
        for record, value in zip(records, self._values_of(records), strict=True):
            result.setdefault(record.path, []).append(value)  # type: ignore[arg-type]  # kept: it has a path
        return result

    def _stacked(
        self,
        records: list[R],
        name: str | None,
        pattern: str,
        values: Callable[[list[R]], list[Any]] | None = None,
    ) -> Any:
        if not records:
            raise KeyError(self._nothing_for(name, pattern))
        keys = {record.key for record in records}
        if name is None and len(keys) > 1:
            raise ValueError(f"stack() needs name= when several variables were captured: {sorted(keys)}")
        self._check_stackable(records)
        loaded = (values or self._values_of)(records)
        return _stack(loaded, [_label(record) for record in records])

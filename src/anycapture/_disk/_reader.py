"""The lazy reader of a capture folder: records at once from the headers, values when asked."""

from __future__ import annotations

import copy
import json
import os
import struct
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

from .._errors import CaptureError
from .._records import RecordReader, StoredRecord, _label
from ._format import (
    _DTYPE_NAMES,
    _FIELD_TYPES,
    _META_INT,
    _META_TEXT,
    _METADATA_KEY,
    _NUMPY_DTYPES,
    FORMAT,
    INDEX,
    CaptureFileError,
    _check_listed,
    _decoded,
    _not_a_file,
    _parts,
    _row_part,
    _shown,
)

# The fields of a record's metadata the reader reads.
_KNOWN_META = frozenset(("key", *_META_TEXT, *_META_INT))


class CaptureFolder(Mapping[str, list[Any]], RecordReader[StoredRecord]):
    """A capture folder opened by :func:`open_captures`: records at once, values when asked.

    A mapping from key to the values of that key in record order, like :class:`~anycapture.Capture`;
    each lookup reads those values from disk.

    A folder of ranks (``rank-0/``, ``rank-1/``, ... written under torchrun) opens as one capture:
    the records of rank 0 in their order, then those of rank 1, ..., each with its ``rank``.
    ``ranks`` lists the ranks found; ``complete`` is true when every one of them was closed.
    """

    def __init__(
        self,
        folder: Path,
        values: Literal["numpy", "tensor", "raw"],
        *,
        earlier: CaptureFolder | None = None,
        follow_links: bool = False,
    ) -> None:
        self.folder = folder
        self.value_mode = values
        self.follow_links = follow_links
        self._scalars: dict[tuple[str, int], Any] = {}
        self._kinds: dict[tuple[str, int], str] = {}  # what tensor records were written from (see _kind_of)
        # Each shard's records, by (prefix, name, bytes): a folder opened again while its writer
        # goes on (earlier=, see Capture.stored) reads only the shards written since.
        self._shards: dict[tuple[str, str, Any], tuple[list[StoredRecord], dict[tuple[str, int], Any], Any, Any]] = {}
        # A record stored in row parts (Writer.write_rows), by (shard of its first part, number):
        # its row axis and its parts, (start, stop, shard, tensor) in row order.
        self._pieces: dict[tuple[str, int], tuple[int, list[tuple[int, int, str, str]]]] = {}
        reuse = earlier._shards if earlier is not None and earlier.folder == folder else {}
        parts = _parts(folder, self._check_inside)
        records: list[StoredRecord] = []
        for prefix, rank, index in parts:
            index_path = folder / prefix / INDEX
            found = []
            all_parts: dict[tuple[str, str], tuple[int, int, int, int]] = {}
            listed: set[Any] = set()
            for shard in index["shards"]:
                _check_listed(index_path, shard)
                name = shard["file"]
                if name in listed:
                    raise CaptureFileError(f"{str(index_path)!r} lists the shard {name!r} twice")
                listed.add(name)
                known = (prefix, name, shard.get("bytes"))
                if known in reuse:
                    shard_records, scalars, kinds, row_parts = reuse[known]
                else:
                    scalars, kinds, row_parts = {}, {}, {}
                    shard_records = self._read_shard(index_path, prefix, rank, shard, scalars, kinds, row_parts)
                self._shards[known] = (shard_records, scalars, kinds, row_parts)
                self._scalars.update(scalars)
                self._kinds.update(kinds)
                all_parts.update(row_parts)
                found += shard_records
            if all_parts:
                found = self._join_parts(index_path, index, found, all_parts)
            _check_numbers(index_path, found)
            if len(found) != index["records"]:
                raise CaptureFileError(
                    f"{str(index_path)!r} says {index['records']} record(s) but its shards hold {len(found)}"
                )
            records += found
        self.ranks: list[int] = [rank for _, rank, _ in parts if rank is not None]
        self.complete: bool = all(index.get("complete") for _, _, index in parts)
        self.skipped: int = sum(int(index.get("skipped", 0)) for _, _, index in parts)
        self._records = records
        self._by_key: dict[str, list[StoredRecord]] = {}
        for record in records:
            self._by_key.setdefault(record.key, []).append(record)
        # The variables and keys asked for, when the block that wrote the folder says (see
        # Capture.stored): one unbound in every call then selects nothing instead of raising.
        self._asked: set[str] | None = None

    def _check_inside(self, path: Path) -> None:
        """Refuse a file or rank folder that is a link leading out of the folder, unless ``follow_links``."""
        if self.follow_links:
            return
        target, root = path.resolve(), self.folder.resolve()
        if target != root and not target.is_relative_to(root):
            raise CaptureFileError(
                f"{str(path)!r} is a link to {str(target)!r}, outside {str(self.folder)!r}: a capture folder's files "
                "are read only inside it (a crafted folder could point anywhere); if you linked it there yourself, "
                "open_captures(..., follow_links=True) reads it"
            )

    def only_block(self, block: int | None, *, known: Iterable[str] | None = None) -> CaptureFolder:
        """The records of one capture block, for ``Capture.stored()`` (internal: not public API).

        ``block``: the block's number among those that shared one :class:`Writer` (a view of this
        folder with its records); ``None``: the block wrote the folder alone (this folder itself).
        ``known``: the variables and keys the block asked for, so that one unbound in every call
        selects nothing instead of raising.
        """
        view = self
        if block is not None:
            view = copy.copy(self)
            view._records = [record for record in self._records if record.block == block]
            view._by_key = {}
            for record in view._records:
                view._by_key.setdefault(record.key, []).append(record)
        view._asked = None if known is None else set(known)
        return view

    def _read_shard(
        self,
        index_path: Path,
        prefix: str,
        rank: int | None,
        shard: Any,
        scalars: dict[tuple[str, int], Any],
        kinds: dict[tuple[str, int], str],
        parts: dict[tuple[str, str], tuple[int, int, int, int]],
    ) -> list[StoredRecord]:
        """The records of one shard the index lists; the values of its scalars go into ``scalars``,
        what its tensors were written from into ``kinds``, its row parts into ``parts``."""
        name = shard["file"]
        path = self.folder / prefix / name
        if not path.is_file():
            kind = _not_a_file(path)
            if kind is not None:
                raise CaptureFileError(f"{str(path)!r}, listed in {str(index_path)!r}, is {kind}, not a shard file")
            raise CaptureFileError(f"{str(path)!r} is listed in {str(index_path)!r} but does not exist")
        self._check_inside(path)
        size = path.stat().st_size
        if isinstance(shard.get("bytes"), int) and size != shard["bytes"]:
            raise CaptureFileError(
                f"{str(path)!r} holds {size} bytes but {INDEX} says {shard['bytes']}: "
                f"the file was {'truncated' if size < shard['bytes'] else 'changed'} after it was written"
            )
        from safetensors import safe_open

        try:
            with safe_open(str(path), framework="np") as file:
                metadata = file.metadata() or {}
                names = file.keys()  # safe_open is not a mapping: it cannot be iterated
                tensors = {key: (file.get_slice(key).get_shape(), file.get_slice(key).get_dtype()) for key in names}
        except Exception as exc:
            raise CaptureFileError(f"{str(path)!r} is not a readable safetensors file: {exc}") from exc
        if _METADATA_KEY not in metadata:
            raise CaptureFileError(
                f"{str(path)!r} is a safetensors file but holds no anycapture records (a foreign file?)"
            )
        try:
            content = json.loads(metadata[_METADATA_KEY])
        except (ValueError, RecursionError) as exc:
            raise CaptureFileError(f"{str(path)!r} has malformed record metadata: {exc}") from exc
        if (
            not isinstance(content, dict)
            or content.get("format") != FORMAT
            or not isinstance(content.get("records"), list)
        ):
            raise CaptureFileError(f"{str(path)!r} has record metadata that is not in the {FORMAT!r} format")
        if isinstance(shard.get("records"), int) and len(content["records"]) != shard["records"]:
            raise CaptureFileError(
                f"{str(path)!r} holds {len(content['records'])} record(s) but {INDEX} says {shard['records']}"
            )
        records = []
        used: set[str] = set()
        for entry in content["records"]:
            records.append(self._record(path, prefix + name, rank, entry, tensors, scalars, kinds, parts))
            if records[-1].tensor is not None:
                used.add(records[-1].tensor)
        extra = sorted(set(tensors) - used)
        if extra:
            raise CaptureFileError(f"{str(path)!r} holds tensors no record describes: {extra[:5]}")
        return records

    @staticmethod
    def _record(
        path: Path,
        shard: str,
        rank: int | None,
        entry: Any,
        tensors: dict[str, tuple[list[int], str]],
        scalars: dict[tuple[str, int], Any],
        kinds: dict[tuple[str, int], str],
        parts: dict[tuple[str, str], tuple[int, int, int, int]],
    ) -> StoredRecord:
        try:
            meta = entry["meta"]
            number = entry["n"]
            tensor = entry.get("tensor")
            key = meta["key"]
            if type(number) is not int or not isinstance(key, str):
                raise TypeError("record number and key must be an int and a string")
            if tensor is not None and not isinstance(tensor, str):
                raise TypeError("a record's tensor must be a string (its name in the file)")
        except (KeyError, TypeError) as exc:
            raise CaptureFileError(f"{str(path)!r} has a malformed record {_shown(entry)}: {exc!r}") from exc
        shape: tuple[int, ...] | None = None
        dtype: str | None = None
        if tensor is not None:
            if tensor not in tensors:
                raise CaptureFileError(
                    f"{str(path)!r}: record {number} names tensor {_shown(tensor)}, which the file lacks"
                )
            part = _row_part(path, number, entry) if isinstance(entry, dict) and "rows" in entry else None
            expected = str(number) if part is None else f"{number}.{part[0]}"
            if tensor != expected:
                # The writer names each tensor by its record's number (and a part's first row); a
                # record that names another's tensor would read that record's value.
                raise CaptureFileError(
                    f"{str(path)!r}: record {number} names tensor {_shown(tensor)}; its tensor is named {expected!r}"
                )
            dims, code = tensors[tensor]
            shape, dtype = tuple(dims), _DTYPE_NAMES.get(code, code)
            if part is not None:
                start, stop, of, axis = part
                if axis >= len(shape) or shape[axis] != stop - start:
                    raise CaptureFileError(
                        f"{str(path)!r}: record {number}'s part, rows [{start}, {stop}) along axis {axis}, has a "
                        f"tensor of shape {list(shape)}; its axis {axis} should hold {stop - start} row(s)"
                    )
                shape = (*shape[:axis], of, *shape[axis + 1 :])  # the whole record's
                parts[shard, tensor] = part
            kind = entry.get("type")
            if kind in ("torch", "numpy.generic"):
                kinds[shard, number] = kind
        else:
            scalars[shard, number] = _decoded(entry.get("value"))
        fields = {field: meta.get(field) for field in _KNOWN_META}
        for field, kind in _FIELD_TYPES:
            value = fields[field]
            if value is not None and type(value) is not kind:
                raise CaptureFileError(
                    f"{str(path)!r} has a malformed record {number}: its {field!r} is {_shown(value)}, "
                    f"not a {kind.__name__}"
                )
        if fields["name"] is None:
            fields["name"] = key
        return StoredRecord(
            value=None, number=number, shape=shape, dtype=dtype, shard=shard, tensor=tensor, rank=rank, **fields
        )

    def _join_parts(
        self,
        index_path: Path,
        index: dict[str, Any],
        found: list[StoredRecord],
        parts: dict[tuple[str, str], tuple[int, int, int, int]],
    ) -> list[StoredRecord]:
        """``found`` with each record stored in row parts as one record, where its first part was.

        The parts of a record must agree (key, shape, dtype, axis) and tile its rows with neither
        gap nor overlap. A record whose last rows are missing is one a running or killed writer
        had not finished: left out of a folder not ``complete``, an error in one that is. A record
        the index lists as ``abandoned`` (its stream stopped) is left out.
        """
        abandoned = set(index.get("abandoned", ()))
        groups: dict[int, list[StoredRecord]] = {}
        joined: list[StoredRecord | list[StoredRecord]] = []
        for record in found:
            if record.tensor is None or (record.shard, record.tensor) not in parts:
                joined.append(record)
                continue
            group = groups.get(record.number)
            if group is None:
                group = groups[record.number] = []
                joined.append(group)
            group.append(record)
        result = []
        for item in joined:
            if isinstance(item, StoredRecord):
                result.append(item)
                continue
            first = item[0]
            if first.number in abandoned:
                continue
            pieces = sorted(((parts[record.shard, record.tensor or ""], record) for record in item), key=_first)
            axis = pieces[0][0][3]
            done = 0
            where = f"{str(index_path)!r}: record {first.number} ({first.key!r})"
            for (start, stop, of, part_axis), record in pieces:
                if (record.key, record.shape, record.dtype, part_axis) != (first.key, first.shape, first.dtype, axis):
                    raise CaptureFileError(
                        f"{where} has parts that disagree: {_shown(first.key)} {first.shape} {first.dtype} along axis "
                        f"{axis} in {first.shard}, {_shown(record.key)} {record.shape} {record.dtype} along axis "
                        f"{part_axis} in {record.shard}; a record's parts are rows of one value"
                    )
                if start != done:
                    problem = "overlap" if start < done else "leave a gap"
                    raise CaptureFileError(
                        f"{where} has row parts that {problem}: rows [{start}, {stop}) in {record.shard} after rows "
                        f"up to {done}; a record's parts cover its {of} rows once each, in order"
                    )
                done = stop
            of = pieces[0][0][2]
            if done != of:
                if not index.get("complete"):
                    continue  # being written when the folder was read, or when its writer was killed
                raise CaptureFileError(
                    f"{where} has rows [0, {done}) of its {of} in a folder whose writer closed: the parts of rows "
                    f"[{done}, {of}) are missing (a shard was removed or changed?)"
                )
            self._pieces[first.shard, first.number] = (
                axis,
                [(start, stop, record.shard, record.tensor) for (start, stop, _, _), record in pieces],  # type: ignore[misc]
            )
            result.append(first)
        return result

    # -- mapping -------------------------------------------------------------------------------
    def __getitem__(self, key: str) -> list[Any]:
        records = self._by_key.get(key)
        if not records:
            raise KeyError(key)
        return self._load_many(records)

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_key)

    def __len__(self) -> int:
        return len(self._by_key)

    def __repr__(self) -> str:
        counts = ", ".join(f"{key!r}: {len(records)} value(s)" for key, records in self._by_key.items())
        state = "" if self.complete else " (not closed: a running or interrupted capture)"
        return f"<CaptureFolder {str(self.folder)!r}{state} {{{counts}}}>"

    # -- reading (see RecordReader) -------------------------------------------------------------
    def _all_records(self) -> list[StoredRecord]:
        return list(self._records)

    def _values_of(self, records: list[StoredRecord]) -> list[Any]:
        return self._load_many(records)

    def _names_asked(self) -> set[str] | None:
        return self._asked

    def _nothing_for(self, name: str | None, pattern: str) -> str:
        return f"no values stored for name={name!r}, pattern={pattern!r}; stored keys: {list(self)}"

    def _check_stackable(self, records: list[StoredRecord]) -> None:
        """Shapes from the headers, checked before any value is read."""
        scalars = [record for record in records if record.shape is None]
        if scalars:
            raise TypeError(
                f"stack() needs arrays or tensors; record {scalars[0].number} of {scalars[0].key} is a scalar"
            )
        if len({record.shape for record in records}) > 1:
            listing = "; ".join(f"{_label(record)}: {record.shape}" for record in records)
            raise ValueError(f"cannot stack values of different shapes: {listing}")

    def _of_rank(self, rank: int | None) -> list[StoredRecord]:
        return self._records if rank is None else [record for record in self._records if record.rank == rank]

    def select(self, pattern: str = "*", name: str | None = None, *, rank: int | None = None) -> list[StoredRecord]:
        """Records whose module path matches the glob ``pattern`` (and variable ``name`` or key).

        The same rules as :meth:`anycapture.Capture.select`; no value is read. ``rank`` keeps the
        records of one rank of a folder of ranks.
        """
        return self._chosen(self._of_rank(rank), pattern, name)

    def load(self, record: StoredRecord, *, rows: slice | None = None) -> Any:
        """The value of one record, read from disk now; with ``rows=``, only those rows.

        ``rows`` is a slice along the record's row axis: the axis its row parts were joined along
        (a map streamed by ``capture_attention(sink=...)``: the query axis), the second to last
        for a record written whole. Only the bytes of those rows are read (``rows=slice(-1,
        None)``: the last token's row of a map bigger than memory).
        """
        if rows is None:
            return self._load_many([record])[0]
        if not isinstance(rows, slice) or rows.step not in (None, 1):
            raise TypeError(f"rows= takes a slice of consecutive rows (slice(start, stop)); got {rows!r}")
        if record.shape is None or ((record.shard, record.number) not in self._pieces and len(record.shape) < 2):
            raise TypeError(
                f"rows= reads rows of an array or tensor of two axes or more; record {record.number} of "
                f"{record.key!r} has shape {record.shape}"
            )
        return self._load_rows(record, rows)

    def by_path(self, name: str | None = None, pattern: str = "*", *, rank: int | None = None) -> dict[str, list[Any]]:
        """``{module path: [values in record order]}`` for variable ``name`` (or key), of one ``rank`` or all."""
        return self._by_path(self.select(pattern, name, rank=rank))

    def stack(
        self, name: str | None = None, pattern: str = "*", *, rank: int | None = None, rows: slice | None = None
    ) -> Any:
        """The selected values stacked on a new first axis, as one numpy array (or tensor).

        Shapes are checked from the headers before any value is read. In a folder of ranks, the
        values of every rank are stacked (rank 0's first) unless ``rank`` picks one. ``rows=`` stacks
        only those rows of each value, reading nothing else (see :meth:`load`):
        ``stack("attn", rows=slice(-1, None))`` is what the last token reads in every layer.
        """
        records = self.select(pattern, name, rank=rank)
        if rows is None:
            return self._stacked(records, name, pattern)
        return self._stacked(records, name, pattern, lambda chosen: [self.load(record, rows=rows) for record in chosen])

    # -- values --------------------------------------------------------------------------------
    def _load_many(self, records: list[StoredRecord]) -> list[Any]:
        """Values of ``records``, opening each shard once."""
        values: dict[tuple[str, int], Any] = {}
        by_shard: dict[str, list[StoredRecord]] = {}
        for record in records:
            if record.tensor is None:
                values[record.shard, record.number] = self._scalars.get((record.shard, record.number))
            elif (record.shard, record.number) in self._pieces:
                values[record.shard, record.number] = self._load_rows(record, None)
            else:
                by_shard.setdefault(record.shard, []).append(record)
        for shard, wanted in by_shard.items():
            if self.value_mode == "raw":  # each as the type it was written from
                as_tensors = [r for r in wanted if self._kinds.get((shard, r.number)) == "torch"]
                as_arrays = [r for r in wanted if self._kinds.get((shard, r.number)) != "torch"]
                loaded = {**self._load_shard(self.folder / shard, as_tensors, True)}
                for number, value in self._load_shard(self.folder / shard, as_arrays, False).items():
                    loaded[number] = value[()] if self._kinds.get((shard, number)) == "numpy.generic" else value
            else:
                loaded = self._load_shard(self.folder / shard, wanted, self.value_mode == "tensor")
            values.update(((shard, number), value) for number, value in loaded.items())
        return [values[record.shard, record.number] for record in records]

    def _load_rows(self, record: StoredRecord, rows: slice | None) -> Any:
        """Rows of one record (all of them for ``None``), reading only the parts (and bytes) they lie in."""
        shape, tensor = record.shape or (), record.tensor or ""  # a record of an array or tensor (see load)
        whole = (len(shape) - 2, [(0, shape[-2] if len(shape) >= 2 else 0, record.shard, tensor)])
        axis, pieces = self._pieces.get((record.shard, record.number), whole)
        start, stop, _ = (rows or slice(None)).indices(shape[axis])
        stop = max(start, stop)
        kind = self._kinds.get((record.shard, record.number))
        tensor_mode = self.value_mode == "tensor" or (self.value_mode == "raw" and kind == "torch")
        # The parts that hold a wanted row; with none wanted, an empty read of the first gives the shape.
        wanted = [piece for piece in pieces if max(piece[0], start) < min(piece[1], stop)] or pieces[:1]
        out: Any = None
        for first, last, shard, tensor in wanted:
            low, high = max(first, start), min(last, stop)
            low, high = (low, high) if low < high else (first, first)
            try:
                piece = _read_rows(
                    self.folder / shard, tensor, record.dtype, tensor_mode, axis, low - first, high - first
                )
            except (CaptureError, ImportError):
                raise
            except Exception as exc:
                raise CaptureFileError(
                    f"{str(self.folder / shard)!r} could not be read (changed since it was opened?): {exc}"
                ) from exc
            if len(wanted) == 1:
                return piece  # one part holds every row asked for
            if out is None:
                shape = (*piece.shape[:axis], stop - start, *piece.shape[axis + 1 :])
                if tensor_mode:
                    import torch

                    out = torch.empty(shape, dtype=piece.dtype)
                else:
                    import numpy

                    out = numpy.empty(shape, dtype=piece.dtype)
            out[(slice(None),) * axis + (slice(low - start, high - start),)] = piece
            del piece  # before the next part is read
        return out

    def _load_shard(self, path: Path, records: list[StoredRecord], tensor_mode: bool) -> dict[int, Any]:
        from safetensors import safe_open

        native = [r for r in records if tensor_mode or r.dtype in _NUMPY_DTYPES]
        other = [r for r in records if not (tensor_mode or r.dtype in _NUMPY_DTYPES)]
        values: dict[int, Any] = {}
        try:
            if native:
                with safe_open(str(path), framework="pt" if tensor_mode else "np") as file:
                    for record in native:
                        values[record.number] = file.get_tensor(record.tensor)
            if other:
                values.update(_load_upcast(path, other))
        except CaptureError:
            raise
        except ImportError:
            raise
        except Exception as exc:
            raise CaptureFileError(f"{str(path)!r} could not be read (changed since it was opened?): {exc}") from exc
        return values


def _load_upcast(path: Path, records: list[StoredRecord]) -> dict[int, Any]:
    """numpy arrays of dtypes numpy lacks (bfloat16, float8), as float32, like ``values="numpy"`` does."""
    try:
        import torch  # noqa: F401
    except ImportError:
        torch_missing = True
    else:
        torch_missing = False
    values: dict[int, Any] = {}
    if not torch_missing:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as file:
            for record in records:
                values[record.number] = file.get_tensor(record.tensor).float().numpy()
        return values
    for record in records:
        if record.dtype != "bfloat16":
            raise ImportError(
                f"record {record.number} of {str(path)!r} is {record.dtype}, which numpy cannot hold: install torch "
                "to read it"
            )
        values[record.number] = _read_bfloat16(path, record.tensor)  # type: ignore[arg-type]
    return values


def _read_rows(path: Path, tensor: str, dtype: str | None, tensor_mode: bool, axis: int, start: int, stop: int) -> Any:
    """Rows ``start:stop`` along ``axis`` of one tensor of a shard, reading only their bytes where it can.

    As ``_load_shard`` gives values: the stored dtype for tensors, float32 numpy arrays for dtypes
    numpy lacks."""
    from safetensors import safe_open

    where = (slice(None),) * axis + (slice(start, stop),)
    if tensor_mode or dtype in _NUMPY_DTYPES:
        with safe_open(str(path), framework="pt" if tensor_mode else "np") as file:
            return file.get_slice(tensor)[where]
    try:
        import torch  # noqa: F401
    except ImportError:
        if dtype != "bfloat16":
            message = f"{tensor!r} of {str(path)!r} is {dtype}, which numpy cannot hold: install torch to read it"
            raise ImportError(message) from None
        return _read_bfloat16(path, tensor)[where]
    with safe_open(str(path), framework="pt") as file:
        return file.get_slice(tensor)[where].float().numpy()


def _read_bfloat16(path: Path, tensor: str) -> Any:
    """A bfloat16 tensor as a float32 numpy array, without torch: its bytes are a float32's top half."""
    import numpy

    with open(path, "rb") as file:
        (size,) = struct.unpack("<Q", file.read(8))
        header = json.loads(file.read(size))
    start, end = header[tensor]["data_offsets"]
    raw = numpy.fromfile(path, dtype="<u2", count=(end - start) // 2, offset=8 + size + start)
    return (raw.astype("<u4") << 16).view("<f4").reshape(header[tensor]["shape"])


def _first(item: tuple[tuple[int, int, int, int], StoredRecord]) -> int:
    return item[0][0]


def _check_numbers(index_path: Path, records: list[StoredRecord]) -> None:
    """The records of one writer (one rank) have distinct numbers: each names one value."""
    seen: dict[int, str] = {}
    for record in records:
        if record.number in seen:
            raise CaptureFileError(
                f"{str(index_path)!r}: record number {record.number} is used twice (in {seen[record.number]} and "
                f"{record.shard}); each record of a capture folder has a number of its own"
            )
        seen[record.number] = record.shard


def open_captures(
    folder: str | os.PathLike[str], *, values: Literal["numpy", "tensor"] = "numpy", follow_links: bool = False
) -> CaptureFolder:
    """Open a capture folder a :class:`Writer` wrote; values are read only when asked for.

    ``values="numpy"`` gives numpy arrays (bfloat16 and float8 upcast to float32, as
    ``capture(values="numpy")`` does); ``values="tensor"`` gives torch tensors of the stored dtype.
    Raises :class:`CaptureFileError`, naming the file, for a missing, malformed, truncated or foreign
    file. A folder whose writer did not close (``.complete`` is ``False``) is read up to its last
    complete shard. A folder of ranks (``rank-0/``, ``rank-1/``, ... as torchrun jobs write them)
    is read as one capture whose records carry their ``rank``. A shard, index or rank folder that
    is a symbolic link leading out of ``folder`` is refused (:class:`CaptureFileError`) unless
    ``follow_links=True`` (rank folders of one job linked together by hand, say).

    Example::

        captures = open_captures("captures/")
        [record.path for record in captures.select("blocks.1*", "attn")]
        captures.stack("attn", "blocks.*")        # one array: [layers x calls, ...]
    """
    if values not in ("numpy", "tensor"):
        raise ValueError(f"values={values!r} is not a value mode for reading; use 'numpy' or 'tensor'")
    if not isinstance(follow_links, bool):
        raise TypeError(f"follow_links must be True or False; got {follow_links!r}")
    return CaptureFolder(Path(folder), values, follow_links=follow_links)

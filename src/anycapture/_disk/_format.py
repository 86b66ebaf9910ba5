"""The capture folder's format: its names, dtypes, errors, the JSON of records and the checks of an index.

Below the writer and the reader, which both follow it (see the package's docstring and docs/scale.md)."""

from __future__ import annotations

import json
import math
import operator
import os
import re
import reprlib
import stat
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .._errors import CaptureError

FORMAT = "anycapture.captures"
VERSION = 2  # the newest format version this reads; a folder without row parts is written as version 1
_PLAIN_VERSION = 1  # a folder whose records are all whole (see Writer.write_rows)
INDEX = "index.json"
_METADATA_KEY = "anycapture"
_SHARD_NAME = re.compile(r"shard-\d{5,}\.safetensors")
_RANK_NAME = re.compile(r"rank-(\d+)")
_SCALARS = (bool, int, float, str, type(None))
# Records a shard holds at most, whatever their size: their JSON is the shard's header, which
# safetensors limits to 100 MB (scalars add no tensor bytes, so shard_bytes alone would not cut).
_SHARD_RECORDS = 20_000
# The records' JSON a shard holds at most: written into the safetensors header as a JSON string,
# where escaping can double it, beside the tensors' own entries (about 100 bytes per record).
_SHARD_JSON = 40_000_000
_STR_LIMIT = 4096  # longer strings are not "small scalars": skipped, as other objects are

# The dtypes every safetensors reader understands, by the name numpy / torch give them, and the
# safetensors code each is written as. Others (complex, object, strings) are skipped with a warning.
_NUMPY_DTYPES = {
    "bool": "BOOL",
    "uint8": "U8",
    "int8": "I8",
    "uint16": "U16",
    "int16": "I16",
    "uint32": "U32",
    "int32": "I32",
    "uint64": "U64",
    "int64": "I64",
    "float16": "F16",
    "float32": "F32",
    "float64": "F64",
}
_TORCH_DTYPES = {**_NUMPY_DTYPES, "bfloat16": "BF16", "float8_e4m3fn": "F8_E4M3", "float8_e5m2": "F8_E5M2"}
_DTYPE_NAMES = {code: name for name, code in _TORCH_DTYPES.items()}


class CaptureFileError(CaptureError):
    """A capture folder or one of its files is missing, malformed, truncated or not anycapture's.

    The message names the file and what is wrong with it.
    """


class CaptureWriteError(CaptureError):
    """Records could not be written (a full disk, a failing write); raised by ``flush()`` / ``close()``.

    ``lost`` is how many records are not on disk; the original error is the ``__cause__``.
    """

    def __init__(self, message: str, lost: int) -> None:
        super().__init__(message)
        self.lost = lost


def _sync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _replace_json(path: Path, content: dict[str, Any]) -> None:
    """Write ``content`` to ``path`` atomically: a reader sees the old file or the new one, never half."""
    temporary = path.with_name(f".{path.name}.tmp")
    with open(temporary, "w", encoding="utf-8") as file:
        json.dump(content, file, indent=1)
        file.write("\n")
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)


def _environment_int(name: str) -> int | None:
    value = os.environ.get(name, "")
    return int(value) if value.isdigit() else None


def launch() -> tuple[int | None, int | None, str | None]:
    """``(rank, world size, run id)`` of this process under torchrun; ``None`` for what is not known.

    ``torch.distributed``, when initialised, has the last word; otherwise the ``RANK``,
    ``WORLD_SIZE`` and ``TORCHELASTIC_RUN_ID`` variables that torchrun (and accelerate, deepspeed)
    set. torch is never imported here: a process group exists only if the program imported it.
    """
    run = os.environ.get("TORCHELASTIC_RUN_ID")
    run = None if run in (None, "", "none") else run  # "none" is torchrun's default --rdzv-id: no id
    dist = sys.modules.get("torch.distributed")
    if dist is not None and dist.is_available() and dist.is_initialized():
        return int(dist.get_rank()), int(dist.get_world_size()), run
    return _environment_int("RANK"), _environment_int("WORLD_SIZE"), run


def _conflict(one: Mapping[str, Any], other: Mapping[str, Any]) -> str | None:
    """Why two rank folders' indexes cannot be from one job (world sizes or run ids differ), or ``None``."""
    for field, what in (("world_size", "world size"), ("run", "torchrun run id")):
        mine, theirs = one.get(field), other.get(field)
        if mine is not None and theirs is not None and mine != theirs:
            return f"{what} {reprlib.repr(theirs)}, not {reprlib.repr(mine)}"
    return None


def _not_a_file(path: Path) -> str | None:
    """What ``path`` is when it exists and is not a regular file (``'a FIFO (named pipe)'``), else ``None``."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    for test, what in (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return what
    return None if stat.S_ISREG(mode) else "not a regular file"


def _non_finite(item: Any) -> Any:
    """``item`` with each NaN or infinite float replaced by ``{"float": "nan" | "inf" | "-inf"}``."""
    if isinstance(item, float) and not math.isfinite(item):
        return {"float": "nan" if item != item else ("inf" if item > 0 else "-inf")}
    if isinstance(item, dict):
        return {key: _non_finite(value) for key, value in item.items()}
    if isinstance(item, list | tuple):
        return [_non_finite(value) for value in item]
    return item


_FLOATS = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def _record_json(entry: dict[str, Any]) -> str:
    """A record's JSON, strict (no bare ``NaN``/``Infinity``, which Rust and JavaScript reject)."""
    try:
        return json.dumps(entry, default=repr, allow_nan=False)
    except ValueError:  # a NaN or infinite float somewhere (rare): encoded as an object
        return json.dumps(_non_finite(entry), default=repr, allow_nan=False)


# The fields of a record's metadata a reader understands, and the types each may have (or None).
_META_TEXT = ("name", "function", "path")
_META_INT = ("call", "thread", "order", "line", "site", "assignment", "block")


def _checked_meta(meta: Any) -> dict[str, Any]:
    """A copy of ``meta`` for ``Writer.write``, its known fields checked (numpy ints become ints)."""
    if not isinstance(meta, Mapping):
        raise TypeError(f"a record's metadata must be a dict (key, name, function, path, call, ...); got {meta!r}")
    checked = dict(meta)
    key = checked.get("key")
    if not isinstance(key, str) or not key:
        raise ValueError(f"a record's metadata needs 'key', a non-empty str (the record's name); got {meta!r}")
    for field in _META_TEXT:
        value = checked.get(field)
        if value is not None and not isinstance(value, str):
            raise TypeError(f"a record's {field!r} must be a str or None; got {value!r} in {meta!r}")
    for field in _META_INT:
        value = checked.get(field)
        if value is not None and type(value) is not int:
            try:
                if isinstance(value, bool):
                    raise TypeError
                checked[field] = operator.index(value)
            except TypeError:
                raise TypeError(f"a record's {field!r} must be an int or None; got {value!r} in {meta!r}") from None
    return checked


_FIELD_TYPES = tuple((field, str) for field in _META_TEXT) + tuple((field, int) for field in _META_INT)


def _check_listed(index_path: Path, shard: Any) -> None:
    """A shard entry of an index: ``{"file": "shard-NNNNN.safetensors", "records": int, "bytes": int}``."""
    if not isinstance(shard, dict) or not isinstance(shard.get("file"), str):
        raise CaptureFileError(
            f"{str(index_path)!r} lists a shard as {_shown(shard)}; expected {{'file': ..., 'records': ..., ...}}"
        )
    if not _SHARD_NAME.fullmatch(shard["file"]):
        raise CaptureFileError(
            f"{str(index_path)!r} lists a shard named {_shown(shard['file'])}; expected 'shard-NNNNN.safetensors'"
        )
    for field in ("records", "bytes"):
        if field in shard and type(shard[field]) is not int:
            raise CaptureFileError(
                f"{str(index_path)!r} says shard {shard['file']!r} has {field!r} {_shown(shard[field])}, not an int"
            )


def _row_part(path: Path, number: int, entry: dict[str, Any]) -> tuple[int, int, int, int]:
    """``(start, stop, of, axis)`` of a row part's entry (see ``Writer.write_rows``), checked."""
    rows, of, axis = entry.get("rows"), entry.get("of"), entry.get("axis")
    if (
        type(rows) is not list
        or len(rows) != 2
        or not all(type(row) is int for row in rows)
        or type(of) is not int
        or type(axis) is not int
        or not 0 <= rows[0] < rows[1] <= of
        or axis < 0
    ):
        raise CaptureFileError(
            f"{str(path)!r}: record {number} is a row part with rows {_shown(rows)}, of {_shown(of)}, axis "
            f"{_shown(axis)}; expected rows [start, stop] with 0 <= start < stop <= of, and an axis >= 0"
        )
    return rows[0], rows[1], of, axis


def _shown(value: Any) -> str:
    """``repr(value)``, shortened (a crafted file may hold anything, nested however deep)."""
    return reprlib.repr(value)


def _decoded(value: Any) -> Any:
    """A scalar as stored: ``{"float": "nan"}`` (and ``"inf"``, ``"-inf"``) is that float."""
    if type(value) is dict and len(value) == 1 and value.get("float") in _FLOATS:
        return _FLOATS[value["float"]]
    return value


def _parts(folder: Path, check: Callable[[Path], None]) -> list[tuple[str, int | None, dict[str, Any]]]:
    """``[(path prefix, rank, index)]``: the folder itself, or its ``rank-<r>/`` folders in rank order.

    ``check`` refuses a path (a rank folder, an index) that is a link out of the folder."""
    if folder.is_dir() and not (folder / INDEX).exists():
        ranks = sorted(
            (int(match.group(1)), entry.name)
            for entry in folder.iterdir()
            if entry.is_dir() and (match := _RANK_NAME.fullmatch(entry.name))
        )
        if ranks:
            parts: list[tuple[str, int | None, dict[str, Any]]] = []
            for rank, name in ranks:
                check(folder / name)
                check(folder / name / INDEX)
                index = _read_index(folder / name, folder / name / INDEX)
                if type(index.get("rank", rank)) is not int or index.get("rank", rank) != rank:
                    raise CaptureFileError(
                        f"{str(folder / name / INDEX)!r} says rank {_shown(index.get('rank'))}, "
                        f"not the {rank} of its folder"
                    )
                for _, other_rank, other in parts:
                    why = _conflict(other, index)
                    if why is not None:
                        raise CaptureFileError(
                            f"{str(folder / name)!r} was written by another job than rank-{other_rank} ({why}); "
                            "a folder of ranks holds the ranks of one job only: move the stale rank folder away"
                        )
                parts.append((f"{name}/", rank, index))
            return parts
    if (folder / INDEX).exists():
        check(folder / INDEX)
    index = _read_index(folder, folder / INDEX)
    own = index.get("rank")
    return [("", own if type(own) is int else None, index)]


def _read_index(folder: Path, path: Path) -> dict[str, Any]:
    if not folder.exists():
        raise CaptureFileError(f"{str(folder)!r} does not exist; open_captures() takes a folder a Writer wrote")
    if not folder.is_dir():
        raise CaptureFileError(f"{str(folder)!r} is not a folder; open_captures() takes a folder a Writer wrote")
    if not path.is_file():
        what = _not_a_file(path)
        if what is not None:
            raise CaptureFileError(f"{str(path)!r} is {what}, not an index file: not a capture folder's index")
        names = sorted(entry.name for entry in folder.iterdir())[:5]
        if not names:  # also a Writer's folder in the instant between its mkdir and its first index
            raise CaptureFileError(
                f"{str(folder)!r} is empty: nothing was captured there yet (a Writer just starting there "
                f"writes {INDEX} at once: open it again)"
            )
        raise CaptureFileError(
            f"{str(path)!r} does not exist: {str(folder)!r} is not a capture folder, nor a folder of rank-<r> "
            f"capture folders (it holds {names})"
        )
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise CaptureFileError(f"{str(path)!r} is not valid JSON: {exc}") from exc
    if not isinstance(index, dict) or index.get("format") != FORMAT:
        found = index.get("format") if isinstance(index, dict) else type(index).__name__
        raise CaptureFileError(
            f"{str(path)!r} is not an anycapture index (format {_shown(found)}, expected {FORMAT!r})"
        )
    version = index.get("version")
    if not isinstance(version, int) or version > VERSION or version < 1:
        raise CaptureFileError(
            f"{str(path)!r} has format version {_shown(version)}; this anycapture reads version {VERSION} "
            "(a newer anycapture wrote it? upgrade to read it)"
        )
    if not isinstance(index.get("shards"), list) or type(index.get("records")) is not int:
        raise CaptureFileError(f"{str(path)!r} lacks its shard list or record count")
    for field, kind in (("skipped", int), ("complete", bool)):
        if field in index and type(index[field]) is not kind:
            raise CaptureFileError(f"{str(path)!r} says {field!r} is {_shown(index[field])}, not a {kind.__name__}")
    abandoned = index.get("abandoned", [])
    if type(abandoned) is not list or not all(type(number) is int for number in abandoned):
        raise CaptureFileError(f"{str(path)!r} says 'abandoned' is {_shown(abandoned)}, not a list of record numbers")
    return index

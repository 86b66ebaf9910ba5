"""The writer thread's side of :class:`Writer`: taking records from the queue, filling shards and
writing them, with the index that lists them."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
from pathlib import Path
from typing import Any

from .._errors import warn_once
from ._format import (
    _METADATA_KEY,
    _PLAIN_VERSION,
    _SCALARS,
    _SHARD_JSON,
    _SHARD_RECORDS,
    _STR_LIMIT,
    FORMAT,
    INDEX,
    VERSION,
    _record_json,
    _replace_json,
    _sync,
)
from ._shards import (
    _ABORT,
    _advice,
    _Flush,
    _io_error,
    _Part,
    _Queue,
    _Shard,
    _write_shard,
)
from ._storable import (
    _UNSTORABLE,
    _UNSTORABLE_WHY,
    _described,
    _kind_of,
    _serialise,
    _to_storable,
)


class _WriterThread:
    """What the writer thread does with the records :class:`Writer` queues (a base class: its state
    is made by ``Writer.__init__`` and owned by that thread)."""

    folder: Path
    shard_bytes: int
    _queue: _Queue
    _shard: _Shard
    _shards: list[dict[str, Any]]
    _numbers: itertools.count[int]
    _received: int
    _indexed: int
    _skipped: int
    _failure: tuple[BaseException, str] | None
    _warned: set[object]
    _open: dict[int, int | None]
    _abandoned: list[int]
    _version: int
    _part_bytes: int
    _bytes_lock: Any
    _launch: dict[str, Any]
    _finished: bool

    def _run(self) -> None:
        get = self._queue.get
        while True:
            item = get()
            if isinstance(item, _Flush):
                if item.final and item.write:
                    self._abandon_open()
                if self._failure is None and item.write:
                    try:
                        if self._shard.entries:
                            self._write_current()
                        if self._failure is None:
                            self._write_index(complete=item.final)
                    except Exception as exc:
                        self._fail(exc, f"while writing {INDEX}")
                if item.final:
                    self._finished = item.write
                    item.done.release()
                    return
                item.done.release()
                continue
            if isinstance(item, _Part):
                self._take_part(item)
                continue
            meta, value = item
            del item  # a record's value must not outlive its turn in the queue
            if self._failure is not None:
                self._received += 1  # lost: dropped at once, so memory stays bounded
                continue
            try:
                self._add(meta, value)
            except Exception as exc:
                self._fail(exc, "while storing a record")
            del meta, value

    def _take_part(self, part: _Part) -> None:
        try:
            if self._failure is not None:
                if part.start == 0:
                    self._received += 1  # lost: dropped at once, so memory stays bounded
                return
            try:
                self._add_part(part)
            except Exception as exc:
                self._fail(exc, "while storing a record")
        finally:
            part.value = None  # stored in the shard, or dropped: no longer waiting
            with self._bytes_lock:
                self._part_bytes -= part.nbytes
            self._queue.wake()

    def _abandon_open(self) -> None:
        """At close: records still being streamed (their writer stopped mid-way) will not end."""
        for number in self._open.values():
            if number is not None:
                self._abandoned.append(number)
                self._received -= 1
        self._open.clear()

    def _add_part(self, part: _Part) -> None:
        """Store one row part of a streamed record in the shard being filled."""
        if part.value is _ABORT:
            stopped = self._open.pop(part.stream, None)
            if stopped is not None:  # some parts are stored: the reader must know to leave them out
                self._abandoned.append(stopped)
                self._received -= 1
            return
        number = next(self._numbers) if part.start == 0 else self._open.get(part.stream)
        if part.start == 0:
            self._received += 1
            self._open[part.stream] = number
        if number is None:
            if part.stop == part.rows:
                self._open.pop(part.stream, None)
            return  # an earlier part was skipped: so is the record
        try:
            stored = _to_storable(part.value, self._shard.storages)
            why = _UNSTORABLE_WHY
        except Exception as exc:
            stored, why = None, f"could not be copied ({type(exc).__name__}: {exc})"
        if stored is None:
            self._skip(part.meta, part.value, why)
            self._received -= 1
            self._open[part.stream] = None
            if part.start:
                self._abandoned.append(number)
            if part.stop == part.rows:
                del self._open[part.stream]
            return
        tensor, nbytes, is_torch = stored
        name = f"{number}.{part.start}"
        entry: dict[str, Any] = {"meta": part.meta, "n": number, "tensor": name}
        entry.update(rows=[part.start, part.stop], of=part.rows, axis=part.axis)
        kind = _kind_of(part.value, is_torch)
        if kind is not None:
            entry["type"] = kind
        shard = self._shard
        shard.tensors[name] = tensor
        shard.nbytes += nbytes
        shard.torch = shard.torch or is_torch
        shard.parts = True
        self._version = VERSION
        text = _record_json(entry)
        shard.entries.append(text)
        shard.json += len(text)
        if part.stop == part.rows:
            del self._open[part.stream]
            shard.finished += 1
        if shard.nbytes >= self.shard_bytes or len(shard.entries) >= _SHARD_RECORDS or shard.json >= _SHARD_JSON:
            self._write_current()

    def _add(self, meta: dict[str, Any], value: Any) -> None:
        if value is _UNSTORABLE:  # refused (and warned about) by write()
            self._skipped += 1
            return
        entry: dict[str, Any] = {"meta": meta}
        try:
            stored = _to_storable(value, self._shard.storages)
        except Exception as exc:  # a tensor that cannot be copied to the CPU: this record only
            self._skip(meta, value, f"could not be copied ({type(exc).__name__}: {exc})")
            return
        if stored is None:
            if type(value) in _SCALARS and not (type(value) is str and len(value) > _STR_LIMIT):
                entry["value"] = value
            else:
                self._skip(meta, value, _UNSTORABLE_WHY)
                return
        number = next(self._numbers)
        entry["n"] = number
        self._received += 1
        shard = self._shard
        if stored is not None:
            tensor, nbytes, is_torch = stored
            name = str(number)
            entry["tensor"] = name
            kind = _kind_of(value, is_torch)
            if kind is not None:
                entry["type"] = kind
            shard.tensors[name] = tensor
            shard.nbytes += nbytes
            shard.torch = shard.torch or is_torch
        text = _record_json(entry)
        if stored is not None:
            shard.sources[name] = (len(shard.entries), meta, _described(value))
        shard.entries.append(text)
        shard.finished += 1
        shard.json += len(text)
        if shard.nbytes >= self.shard_bytes or len(shard.entries) >= _SHARD_RECORDS or shard.json >= _SHARD_JSON:
            self._write_current()

    def _skip(self, meta: dict[str, Any], value: Any, why: str, described: str | None = None) -> None:
        self._skipped += 1
        self._warn_skipped(meta, value, why, described)

    def _warn_skipped(self, meta: dict[str, Any], value: Any, why: str, described: str | None = None) -> None:
        key = meta.get("key")
        described = _described(value) if described is None else described
        warn_once(
            self._warned,
            ("skipped", key, described),
            f"a value captured as {key!r} is a {described}, which {why}: it was skipped "
            "(this warning is shown once per key and type)",
            stacklevel=None,  # the user's code that made the value, not this line
        )

    def _write_current(self) -> None:
        shard, self._shard = self._shard, _Shard()
        name = f"shard-{len(self._shards):05d}.safetensors"
        path = self.folder / name
        temporary = self.folder / f".{name}.tmp"
        try:
            try:
                self._write_file(temporary, shard)
            except Exception as exc:
                if _io_error(exc) is not None or not self._drop_unwritable(shard):
                    raise
                self._write_file(temporary, shard)  # without the tensors the library refused
            _sync(temporary)  # on disk before the index lists it, so a listed shard survives a crash of the machine
            os.replace(temporary, path)
        except Exception as exc:
            with contextlib.suppress(OSError):
                temporary.unlink()
            self._fail(_io_error(exc) or exc, f"while writing {name}")
            return
        self._shards.append({"file": name, "records": len(shard.entries), "bytes": path.stat().st_size})
        try:
            self._write_index(complete=False, pending=shard.finished)
        except Exception as exc:
            self._shards.pop()
            self._fail(exc, f"while writing {INDEX}")

    @staticmethod
    def _write_file(path: Path, shard: _Shard) -> None:
        version = VERSION if shard.parts else _PLAIN_VERSION
        records = f'{{"format": {json.dumps(FORMAT)}, "version": {version}, "records": [{", ".join(shard.entries)}]}}'
        _write_shard(path, shard.tensors, {_METADATA_KEY: records}, shard.torch)

    def _drop_unwritable(self, shard: _Shard) -> bool:
        """Take out of ``shard`` the records whose tensor the writing library refuses (one warning
        per key and type), so that they alone are lost; whether any was found.

        The checks in ``write()`` refuse what is known to fail (nested, sparse, quantized, meta
        tensors); this finds the rest (a tensor subclass without memory of its own, say), by
        writing each tensor alone to memory, only after a shard failed.
        """
        refused = {}
        for name, tensor in shard.tensors.items():
            try:
                _serialise(tensor)
            except Exception as exc:
                if _io_error(exc) is None:
                    refused[name] = f"could not be written ({type(exc).__name__}: {exc})"
        if not refused:
            return False
        dropped = set()
        for name, why in refused.items():
            position, meta, described = shard.sources[name]
            dropped.add(position)
            del shard.tensors[name]
            self._skip(meta, None, why, described)
        shard.entries = [entry for position, entry in enumerate(shard.entries) if position not in dropped]
        self._received -= len(dropped)
        shard.finished -= len(dropped)  # whole records only: row parts are never in sources
        return True

    def _write_index(self, complete: bool, pending: int = 0) -> None:
        indexed = self._indexed + pending
        _replace_json(
            self.folder / INDEX,
            {
                "format": FORMAT,
                "version": self._version,
                **self._launch,
                "complete": complete,
                "records": indexed,
                "skipped": self._skipped,
                "shards": self._shards,
                **({"abandoned": self._abandoned} if self._abandoned else {}),
            },
        )
        self._indexed = indexed

    def _fail(self, exc: BaseException, where: str) -> None:
        if self._failure is not None:
            return
        self._failure = (exc, where)
        self._shard = _Shard()  # its records are lost; free their memory now
        # Told by the next write() (in the user's thread, at the user's line), or by flush() / close().

    def _warn_failed(self) -> None:
        exc, where = self._failure  # type: ignore[misc]
        warn_once(
            self._warned,
            "failed",
            f"anycapture could not write captures to {str(self.folder)!r} ({type(exc).__name__}: {exc}, {where}). "
            "The model keeps running; later records are not saved, and flush() / close() will raise with the count "
            f"({_advice(exc)})",
            stacklevel=None,
        )

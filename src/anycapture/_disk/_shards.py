"""The writer's parts below its class: the queue built on C primitives, shards waiting in memory, the
folder checks made before writing, and what a failed write means."""

from __future__ import annotations

import _thread
import contextlib
import json
import os
import queue
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ._format import (
    _RANK_NAME,
    INDEX,
    CaptureFileError,
    _conflict,
    _not_a_file,
)


class _Flush:
    """A marker in the queue: the writer thread releases ``done`` once everything before it is on
    disk (a C lock, not a ``threading.Event``: see :class:`_Queue`). ``final``: the thread then
    stops; ``write``: whether it writes the index (not when a ``Writer()`` cut short is undone)."""

    def __init__(self, final: bool, write: bool = True) -> None:
        self.final = final
        self.write = write
        self.done = _thread.allocate_lock()
        self.done.acquire()


class _Queue:
    """``queue.Queue(maxsize)`` built only on C primitives, so that no interrupt can leave it locked.

    ``queue.Queue`` guards itself with a ``threading.Condition``, whose ``__exit__`` is Python code:
    a Ctrl-C landing there leaves its lock held, and every later ``put`` / ``get`` (the writer's
    ``write()``, ``flush()``, ``close()``, its close at exit) hangs for good. Here the records go
    through a ``queue.SimpleQueue`` (C: one put or get is atomic, and a blocking one interrupted
    takes nothing), and ``put`` waits for room on a second one, into which ``get`` drops a token
    after each record it takes; the wait also wakes every 0.1 s to check again, so a token lost to
    an interrupt costs at most that, and a writer thread that died cannot hang the caller.
    """

    def __init__(self, size: int) -> None:
        self._items: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._room: queue.SimpleQueue[None] = queue.SimpleQueue()
        self._size = size

    def put(self, item: Any, alive: Callable[[], bool]) -> None:
        """Add ``item``, first waiting while ``size`` items wait (unless ``alive()`` says the taker stopped)."""
        items, room = self._items, self._room
        while items.qsize() >= self._size and alive():
            with contextlib.suppress(queue.Empty):
                room.get(timeout=0.1)
        items.put(item)

    def full(self) -> bool:
        return self._items.qsize() >= self._size

    def get(self) -> Any:
        item = self._items.get()
        self.wake()
        return item

    def wake(self) -> None:
        """Wake a caller waiting for room (in put(), or wait_room())."""
        if not self._room.qsize():
            self._room.put(None)

    def wait_room(self) -> None:
        """Wait until wake() (or at most 0.1 s: the caller checks again)."""
        with contextlib.suppress(queue.Empty):
            self._room.get(timeout=0.1)


class _Part:
    """A queue item: rows ``start:stop`` (of ``rows``, along ``axis``) of the record streamed as ``stream``.

    ``value`` is ``_ABORT`` when the stream ended before its last rows (see ``Writer.put_rows``).
    """

    __slots__ = ("axis", "meta", "nbytes", "rows", "start", "stop", "stream", "value")

    def __init__(
        self, stream: int, meta: dict[str, Any], start: int, stop: int, rows: int, axis: int, value: Any, nbytes: int
    ) -> None:
        self.stream, self.meta, self.start, self.stop = stream, meta, start, stop
        self.rows, self.axis, self.value, self.nbytes = rows, axis, value, nbytes


_ABORT = object()


class _Shard:
    """Records waiting in memory for the next shard."""

    def __init__(self) -> None:
        self.tensors: dict[str, Any] = {}
        self.entries: list[str] = []  # each record's JSON (or a row part's: see Writer.write_rows)
        self.finished = 0  # records whose last entry is in this shard: what the index counts once it is listed
        self.parts = False  # whether it holds row parts (then the file says format version 2)
        self.json = 0  # their length
        self.nbytes = 0
        self.torch = False  # whether any tensor is a torch tensor (then the shard is written by torch)
        self.storages: set[int] = set()  # memory of its torch tensors (see _to_storable)
        # Per tensor name: its record's position in entries, metadata and value's description, to
        # drop that record alone should the writing library refuse its tensor (see _write_current).
        self.sources: dict[str, tuple[int, dict[str, Any], str]] = {}


def _write_shard(path: Path, tensors: dict[str, Any], metadata: dict[str, str], use_torch: bool) -> None:
    """Write one safetensors file (a module function, so tests can make it fail)."""
    if use_torch:
        import numpy
        import torch
        from safetensors.torch import save_file

        # A copy, so that two records of one array never share memory (safetensors.torch refuses that).
        converted = {
            name: torch.from_numpy(numpy.array(value, copy=True)) if isinstance(value, numpy.ndarray) else value
            for name, value in tensors.items()
        }
        save_file(converted, str(path), metadata=metadata)
    else:
        from safetensors.numpy import save_file as save_numpy

        save_numpy(tensors, str(path), metadata=metadata)


def _check_new_folder(folder: Path) -> None:
    if folder.exists() and not folder.is_dir():
        raise CaptureFileError(f"{str(folder)!r} exists and is not a folder; give a new or empty folder as the sink")
    if not folder.exists():
        return
    names = sorted(entry.name for entry in folder.iterdir())
    if not names:
        return
    if INDEX in names:
        raise CaptureFileError(
            f"{str(folder)!r} already holds a capture ({INDEX}); give a new or empty folder, or delete the old capture"
        )
    shown = ", ".join(map(repr, names[:5])) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    raise CaptureFileError(
        f"{str(folder)!r} is not empty (it holds {shown}); captures are written only to a new or empty folder"
    )


def _check_rank_parent(parent: Path, own: Mapping[str, Any]) -> None:
    """A folder that receives ``rank-<r>/`` folders holds only those, all of this job."""
    if parent.exists() and not parent.is_dir():
        raise CaptureFileError(f"{str(parent)!r} exists and is not a folder; give a new or empty folder as the sink")
    if not parent.exists():
        return
    foreign = sorted(
        entry.name for entry in parent.iterdir() if not (entry.is_dir() and _RANK_NAME.fullmatch(entry.name))
    )
    if INDEX in foreign:
        raise CaptureFileError(
            f"{str(parent)!r} already holds a single-process capture ({INDEX}); ranks write their rank-<r> folders "
            "only to a new folder, or one that holds the rank folders of the same job"
        )
    if foreign:
        shown = ", ".join(map(repr, foreign[:5])) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise CaptureFileError(
            f"{str(parent)!r} holds {shown}, besides rank folders; ranks write their rank-<r> folders only to a new "
            "folder, or one that holds the rank folders of the same job"
        )
    for sibling in sorted(parent.iterdir()):
        path = sibling / INDEX
        kind = _not_a_file(path)
        if kind is not None:  # opening a FIFO would wait forever for a writer
            raise CaptureFileError(f"{str(path)!r} is {kind}, not an index file; give a new folder")
        try:
            index = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError):
            continue  # another rank of this job, just starting: its index is not there yet
        why = _conflict(own, index) if isinstance(index, dict) else None
        if why is not None:
            raise CaptureFileError(
                f"{str(sibling)!r} was written by another job ({why}); give a new folder, or delete the old capture"
            )


def _advice(exc: BaseException) -> str:
    """What to do about a failed write."""
    if isinstance(exc, OSError):
        return "Free space or choose another folder, then run again"
    return "This is a bug in anycapture: please report it, with the error above"


_OS_ERROR = re.compile(r"\(os error (\d+)\)")


def _io_error(exc: BaseException) -> OSError | None:
    """``exc`` as the ``OSError`` it is, or ``None`` if it is no I/O error.

    safetensors reports a failed write as ``SafetensorError("... I/O error: No space left on
    device (os error 28)")``, not as an ``OSError``: the errno is read back from its message, and
    the original error is kept as the ``__cause__``.
    """
    if isinstance(exc, OSError):
        return exc
    text = str(exc)
    found = _OS_ERROR.search(text)
    if found is None and "I/O error" not in text:
        return None
    error = OSError(int(found.group(1)), os.strerror(int(found.group(1)))) if found else OSError(text)
    error.__cause__ = exc
    return error

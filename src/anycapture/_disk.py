"""Captures on disk: a background writer of safetensors shards, and a lazy reader of them.

A capture folder holds ``index.json`` and shards ``shard-00000.safetensors``, ``shard-00001...``.
Each shard is an ordinary safetensors file: its tensors are named by record number (``"17"``) and
its ``__metadata__`` holds one entry, ``"anycapture"``, the JSON of its records (key, variable,
function, module path, call, thread, order, ...; small scalars are stored there as values). A
record too big to hold is stored in row parts, tensors ``"17.0"``, ``"17.512"``, ... whose entries
say their ``rows: [start, stop]`` (format version 2), which the reader joins back. The index lists
the complete shards; it is replaced atomically whenever a shard is written and at every flush, so
a job that dies leaves a folder whose listed shards are all complete and readable.

Under torchrun (a rank known from ``torch.distributed`` or the ``RANK`` variable), each rank's
writer uses ``<folder>/rank-<r>/``, whose index records the rank, so ranks never share a file; the
reader opens such a folder as one capture whose records know their rank. A process forked from the
one that opened a writer (a DataLoader worker) never touches the folder: its records are dropped
with one warning, so nothing is written twice or half.

Nothing is ever unpickled: the reader parses JSON and safetensors headers only, and a file that
is not what the index says raises :class:`CaptureFileError` naming it.

numpy, safetensors and torch are imported inside the functions that need them.
"""

from __future__ import annotations

import _thread
import contextlib
import copy
import itertools
import json
import math
import operator
import os
import queue
import re
import reprlib
import stat
import struct
import sys
import threading
import warnings
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal, NamedTuple

from ._copies import Pending, copy_to_host
from ._errors import CaptureError, CaptureWarning, warn_once
from ._records import _no_paths, check_selection, selects

__all__ = [
    "FORMAT",
    "VERSION",
    "CaptureFileError",
    "CaptureFolder",
    "CaptureWriteError",
    "StoredRecord",
    "Writer",
    "open_captures",
]

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


# -- writing -----------------------------------------------------------------------------------


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

    ``value`` is ``_ABORT`` when the stream ended before its last rows (see ``Writer._put_rows``).
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


# -- many processes ----------------------------------------------------------------------------


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


_writers: weakref.WeakSet[Writer] = weakref.WeakSet()  # writers open in this process


def _after_fork_in_child() -> None:
    """In a forked child (a DataLoader worker): the writers' threads did not follow; they must not be used."""
    for writer in list(_writers):
        writer._forked = True


if sys.platform != "win32":  # no fork there
    os.register_at_fork(after_in_child=_after_fork_in_child)


class Writer:
    """Write captured records to a folder as they come, off the caller's thread.

    ``write()`` puts a record on a bounded queue and returns; a daemon thread converts values and
    writes shards of about ``shard_bytes``. When ``queue_size`` records wait, ``write()`` blocks
    until the thread catches up (back-pressure: nothing is dropped). ``write_rows()`` writes a value
    given in parts along one axis (a map bigger than memory, a chunk of rows at a time), at most
    ``queue_bytes`` of its parts waiting. ``flush()`` returns when every
    record written so far is on disk; ``close()`` flushes and stops the thread (it also runs at
    interpreter exit for a writer left open).

    A failing write (a full disk) never raises in ``write()``: one :class:`CaptureWarning` says
    what happened, later records are counted as lost, and ``flush()`` / ``close()`` raise
    :class:`CaptureWriteError` with the count. Values that are neither arrays, tensors nor small
    scalars are skipped with one warning per key and type, never pickled.

    ``rank``: under torchrun (``rank="auto"``, the default, finds the rank in ``torch.distributed``
    or the ``RANK`` variable), or with a rank given, the writer uses ``folder/rank-<rank>/`` and
    records the rank (and world size, run id) in its index, so every rank of a job writes its own
    shards into one folder; ``rank=None`` writes into ``folder`` itself. ``.folder`` is the folder
    written to. A process forked from this one (a DataLoader worker) cannot use the writer: its
    ``write()`` drops the record (one :class:`CaptureWarning`, counted in ``lost`` there) and its
    ``flush()`` / ``close()`` do nothing, so the folder is only ever written by this process.

    Example::

        with Writer("captures/") as writer:
            writer.write({"key": "Attention.forward.attn", "name": "attn", "function": "m:Attention.forward",
                          "path": "blocks.0.attn", "call": 0, "thread": 1, "order": 0}, attn)
        open_captures("captures/")["Attention.forward.attn"]   # [array(...)]
    """

    def __init__(
        self,
        folder: str | os.PathLike[str],
        *,
        shard_bytes: int = 256 << 20,
        queue_size: int = 64,
        rank: int | Literal["auto"] | None = "auto",
        queue_bytes: int = 128 << 20,
    ) -> None:
        if isinstance(shard_bytes, bool) or not isinstance(shard_bytes, int) or shard_bytes < 1:
            raise ValueError(f"shard_bytes must be a positive int; got {shard_bytes!r}")
        if isinstance(queue_bytes, bool) or not isinstance(queue_bytes, int) or queue_bytes < 1:
            raise ValueError(f"queue_bytes must be a positive int (bytes of row parts waiting); got {queue_bytes!r}")
        if isinstance(queue_size, bool) or not isinstance(queue_size, int) or queue_size < 1:
            raise ValueError(
                f"queue_size must be a positive int (unbounded queues cannot push back); got {queue_size!r}"
            )
        if rank != "auto" and rank is not None and (isinstance(rank, bool) or not isinstance(rank, int) or rank < 0):
            raise ValueError(f"rank must be 'auto', None or a rank (an int >= 0); got {rank!r}")
        found, world_size, run = launch()
        self.rank: int | None = found if rank == "auto" else rank
        # Written into the index: which rank of which job this folder is.
        self._launch = {} if self.rank is None else {"rank": self.rank, "world_size": world_size, "run": run}
        self.folder = Path(folder)
        if self.rank is not None:
            _check_rank_parent(self.folder, self._launch)
            self.folder = self.folder / f"rank-{self.rank}"
        self.shard_bytes = shard_bytes
        self.queue_bytes = queue_bytes
        _check_new_folder(self.folder)
        made = not self.folder.exists()
        self.folder.mkdir(parents=True, exist_ok=True)
        self._queue = _Queue(queue_size)
        # close() began (write() refuses records from then on); it finished: every record on disk or
        # counted as lost, the thread stopped. An interrupt (Ctrl-C) between the two leaves the
        # at-exit close armed, and a second close() finishes.
        self._closing = False
        self._closed = False
        self._finished = False  # the writer thread wrote the final index and stopped
        self._close_lock = threading.Lock()
        # Owned by the writer thread from here on.
        self._shard = _Shard()
        self._shards: list[dict[str, Any]] = []
        self._numbers = itertools.count()
        self._received = 0  # records taken (not skipped), written or not
        self._indexed = 0  # records in shards the index lists
        self._skipped = 0
        self._failure: tuple[BaseException, str] | None = None
        self._warned: set[object] = set()
        self._reported = False
        self._forked = False  # set in a forked child, where the thread does not exist (see _after_fork_in_child)
        self._dropped = 0  # records written in such a child, dropped there
        # Row parts (write_rows): the bytes of those queued and not yet stored (the queue counts
        # items, and a part may be large); a C lock, see _Queue. Counted once a part is queued, so an
        # interrupt between the two can only undercount (a little more waits), never block for good.
        self._part_bytes = 0
        self._bytes_lock = _thread.allocate_lock()
        self._streams = itertools.count()
        # Owned by the writer thread: each record being streamed, by stream, with its number
        # (None once it was skipped); numbers of records whose stream stopped before its end.
        self._open: dict[int, int | None] = {}
        self._abandoned: list[int] = []
        self._version = _PLAIN_VERSION
        self._blocks = itertools.count()  # capture blocks that wrote here (see Capture.__enter__)
        # Held while the writer thread runs (it releases it as it ends): is_alive() and join() with a
        # C lock, where threading.Thread.start() waits on an Event an interrupt can leave locked.
        self._running = _thread.allocate_lock()
        self._running.acquire()
        try:
            self._write_index(complete=False)  # the folder is recognisable as a capture from the start
            _thread.start_new_thread(self._run_thread, ())
            _writers.add(self)
            # Closed at the exit of the process that made it: multiprocessing's finalizers run at the
            # interpreter's exit (atexit) and at the end of a multiprocessing child (a DataLoader
            # worker), which ends with os._exit, where atexit never runs. A forked child starts with
            # none of its parent's.
            from multiprocessing.util import Finalize

            self._finalizer = Finalize(self, self._at_exit, exitpriority=10)
            self._opened = True
        except BaseException:
            # Cut short (Ctrl-C) or failed: nothing is left running, and the folder is left as it was
            # found (so the same Writer() can be tried again).
            self._undo(made)
            raise

    _opened = False  # the constructor finished: close() has something to close

    def _undo(self, made: bool) -> None:
        """A constructor cut short: stop the thread if it started, remove what was written."""
        self._closing = self._closed = True
        _writers.discard(self)
        finalizer = getattr(self, "_finalizer", None)
        if finalizer is not None:
            finalizer.cancel()
        # Stops the thread, whether or not it started, without writing (one that did not start
        # leaves the marker in a queue no one reads); it is not waited for: it has nothing to do.
        self._queue.put(_Flush(final=True, write=False), lambda: False)
        for name in (INDEX, f".{INDEX}.tmp"):
            with contextlib.suppress(OSError):
                (self.folder / name).unlink()
        if made:
            with contextlib.suppress(OSError):
                self.folder.rmdir()

    def _run_thread(self) -> None:
        try:
            self._run()
        finally:
            self._running.release()

    # -- the caller's side ---------------------------------------------------------------------
    def write(self, meta: Mapping[str, Any], value: Any) -> None:
        """Queue one record: ``meta`` (key, name, function, path, call, thread, order, ...) and its value.

        ``meta`` needs ``key`` (a non-empty str); ``name``, ``function`` and ``path`` are strings or
        ``None``, ``call``, ``thread``, ``order``, ``line``, ``site`` and ``assignment`` ints or
        ``None`` (a :class:`TypeError` or :class:`ValueError` here says which is not); other
        entries are kept as JSON. It is copied: the caller may reuse it. Blocks while the queue is
        full. Never raises because of the disk; raises :class:`CaptureError` only if the writer was
        closed. A tensor is read when the writer thread gets to it, so a value the model changes in
        place later should be copied (``reduce=``/``clone=``) before it is written.
        """
        self._put(_checked_meta(meta), value)

    def _put(self, meta: dict[str, Any], value: Any) -> None:
        """``write()`` for metadata made by anycapture (a capture block): valid, and never reused."""
        if self._failure is not None and "failed" not in self._warned:
            self._warn_failed()  # here, in a thread of the user's, at the line that captured
        if self._closing:
            raise CaptureError(f"the writer for {str(self.folder)!r} is closed; records can no longer be written")
        if self._forked:
            self._drop_in_child()
            return
        torch = sys.modules.get("torch")
        if not _may_store(value, torch):
            # Told here, in the thread that captured it (the warning points at the user's code); the
            # writer thread counts it, in order with the records around it.
            self._warn_skipped(meta, value, _UNSTORABLE_WHY)
            value = _UNSTORABLE
        elif torch is not None and isinstance(value, torch.Tensor):
            # A device tensor's copy to host memory starts now, without stalling the device; the
            # writer thread waits for it. If it cannot start, the writer thread copies it as it is.
            value = copy_to_host(value, numpy=False) or value
        self._queue.put((meta, value), self._running.locked)

    def write_rows(self, meta: Mapping[str, Any], parts: Iterable[Any], rows: int, axis: int = -2) -> None:
        """Write one record whose value comes in parts along ``axis``, without ever holding it whole.

        ``parts`` yields arrays or tensors that, joined along ``axis`` in order, make the value (a
        map of ``rows`` query rows, a chunk of rows at a time); each is queued as it comes and
        stored as a row part of the record (``rows: [start, stop]`` in the folder: see
        docs/scale.md). Readers join the parts back: the record reads as one value, and
        ``CaptureFolder.load(record, rows=slice(...))`` reads only the parts it needs. Parts
        waiting in the queue hold at most ``queue_bytes`` (one part always passes): this call
        blocks until the writer thread has stored earlier ones. ``meta`` is as for :meth:`write`.
        If ``parts`` raises, or gives other than ``rows`` rows, the record is dropped (the folder
        lists it as abandoned) and the error propagates.

        Example::

            with Writer("captures/") as writer:
                writer.write_rows({"key": "big"}, (numpy.ones((2, 1000, 8)) for _ in range(3)), rows=3000)
            open_captures("captures/").load(open_captures("captures/").records[0], rows=slice(-1, None))
        """
        if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:
            raise ValueError(f"rows must be the record's number of rows along axis, an int >= 1; got {rows!r}")
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise TypeError(f"axis must be an int (the axis the parts are joined along); got {axis!r}")
        self._put_rows(_checked_meta(meta), parts, rows, axis)

    def _put_rows(self, meta: dict[str, Any], parts: Iterable[Any], rows: int, axis: int) -> None:
        """``write_rows()`` for metadata made by anycapture (a capture block)."""
        stream = next(self._streams)
        start = 0
        shape: tuple[int, ...] | None = None
        torch = sys.modules.get("torch")
        try:
            for value in parts:
                if self._failure is not None and "failed" not in self._warned:
                    self._warn_failed()
                if self._closed:
                    raise CaptureError(
                        f"the writer for {str(self.folder)!r} is closed; records can no longer be written"
                    )
                if self._forked:
                    if start == 0:
                        self._drop_in_child()
                    start = rows
                    continue
                dims = tuple(getattr(value, "shape", ()))
                if shape is None:
                    if not -len(dims) <= axis < len(dims):
                        raise ValueError(
                            f"write_rows() got a part of shape {dims}, which has no axis {axis}; give parts with "
                            "that axis, or axis= the axis they are joined along"
                        )
                    axis %= len(dims)
                    shape = dims[:axis] + dims[axis + 1 :]
                if dims[:axis] + dims[axis + 1 :] != shape or len(dims) != len(shape) + 1:
                    raise ValueError(
                        f"write_rows() got parts of shapes that do not join along axis {axis}: {dims} after "
                        f"parts of {shape[:axis]} x rows x {shape[axis:]}"
                    )
                count = dims[axis]
                if start + count > rows:
                    raise ValueError(f"write_rows() got more than the rows={rows} it was told along axis {axis}")
                if count == 0:
                    continue
                nbytes = int(getattr(value, "nbytes", 0))
                if torch is not None and isinstance(value, torch.Tensor):
                    nbytes = value.numel() * value.element_size()
                    value = copy_to_host(value, numpy=False) or value
                # Back-pressure in bytes: a part waits while earlier ones hold queue_bytes.
                while self._part_bytes > 0 and self._part_bytes + nbytes > self.queue_bytes and self._running.locked():
                    self._queue.wait_room()
                self._queue.put(
                    _Part(stream, meta, start, start + count, rows, axis, value, nbytes), self._running.locked
                )
                with self._bytes_lock:
                    self._part_bytes += nbytes
                del value  # the queue holds the part; this frame must not keep it alive
                start += count
            if start != rows:
                raise ValueError(f"write_rows() was told rows={rows} but its parts gave {start} along axis {axis}")
        except BaseException:
            if start and not self._forked and not self._closed:
                self._queue.put(_Part(stream, meta, start, start, rows, axis, _ABORT, 0), self._running.locked)
            raise

    def flush(self) -> None:
        """Return once every record written so far is on disk and listed in the index.

        Raises :class:`CaptureWriteError` if records were lost.
        """
        if self._forked:
            return  # the writer belongs to the parent process; its queue must not be touched here
        if self._closed:
            self._raise_failure()
            return
        self._wait(_Flush(final=False))
        self._raise_failure()

    def close(self) -> None:
        """Flush, mark the capture complete and stop the writer thread. Idempotent.

        Raises :class:`CaptureWriteError` (once) if records were lost. The writer counts as closed
        only once its records are on disk: an interrupt (Ctrl-C) during the flush leaves it
        closing, refusing new records, while its thread goes on writing; a second ``close()``
        finishes (and so does the interpreter's exit).
        """
        with self._close_lock:
            closed, self._closing = self._closed, True
        if closed:
            self._raise_failure()  # quiet once raised (a close that an interrupt cut short did not)
            self._finalizer.cancel()
            return
        if self._forked:  # the parent closes the folder; a child (at its exit) leaves it alone
            self._closed = True
            self._finalizer.cancel()
            _writers.discard(self)
            return
        if not self._finished:
            self._wait(_Flush(final=True))  # after one a close cut short queued: waits for the thread to end
        with self._running:  # once the thread has ended (an interrupt here leaves the lock free)
            self._closed = True
        _writers.discard(self)
        self._raise_failure()
        self._finalizer.cancel()  # (raising, _raise_failure cancels it)

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<Writer {str(self.folder)!r} {state}: {self._indexed} record(s) on disk>"

    @property
    def written(self) -> int:
        """Records on disk and listed in the index (so far)."""
        return self._indexed

    @property
    def skipped(self) -> int:
        """Values skipped because they are neither arrays, tensors nor small scalars."""
        return self._skipped

    @property
    def lost(self) -> int:
        """Records taken but not on disk because writing failed (0 while all is well).

        In a forked child (a DataLoader worker): the records it wrote, all dropped.
        """
        if self._forked:
            return self._dropped
        return self._received - self._indexed if self._failure is not None else 0

    def _drop_in_child(self) -> None:
        self._dropped += 1
        warn_once(
            self._warned,
            "forked",
            f"a value was captured in process {os.getpid()}, forked (a DataLoader worker?) from the process that "
            f"opened the writer for {str(self.folder)!r}: only that process writes that folder, so the block "
            "inherited from it does not save values captured here (a capture block opened in this process, with a "
            "folder of its own, saves its own records; this warning is shown once per process)",
            stacklevel=None,
        )

    def _wait(self, marker: _Flush) -> None:
        self._queue.put(marker, self._running.locked)
        # A writer thread that died (it should not) must not hang the caller.
        while not marker.done.acquire(timeout=0.1):
            if not self._running.locked():
                # Stopped by a final flush (this close's, or another's), which wrote everything; otherwise it died.
                if not self._finished and self._failure is None:
                    self._failure = (RuntimeError("the writer thread stopped"), "while waiting for a flush")
                return

    def _raise_failure(self) -> None:
        failure = self._failure
        if failure is None or self._reported:
            return
        if self._closed:
            self._reported = True  # close() reports once; a second close() is quiet
            self._finalizer.cancel()  # reported: the at-exit close has nothing left to do
        exc, where = failure
        lost = self._received - self._indexed
        raise CaptureWriteError(
            f"{lost} record(s) could not be written to {str(self.folder)!r} ({type(exc).__name__}: {exc}, {where}); "
            f"the {self._indexed} record(s) listed in {INDEX} are complete and readable. {_advice(exc)}",
            lost,
        ) from exc

    def _at_exit(self) -> None:
        try:
            self.close()
        except CaptureError as exc:
            warnings.warn(str(exc), CaptureWarning, stacklevel=1)

    # -- the writer thread ---------------------------------------------------------------------
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


def _described(value: Any) -> str:
    """A value's type (and dtype) for a warning: ``'torch.Tensor of dtype torch.complex64'``."""
    kind = type(value)
    described = f"{kind.__module__}.{kind.__qualname__}"
    dtype = getattr(value, "dtype", None)
    if dtype is not None:
        described += f" of dtype {dtype}"
    if getattr(value, "is_nested", False) is True:
        described = "nested " + described
    return described


def _serialise(tensor: Any) -> None:
    """Write one tensor to memory as a shard would (raises what the library raises)."""
    numpy = sys.modules.get("numpy")
    if numpy is not None and isinstance(tensor, numpy.ndarray):
        from safetensors.numpy import save as save_numpy

        save_numpy({"0": tensor})
    else:
        from safetensors.torch import save

        save({"0": tensor})


def _kind_of(value: Any, is_torch: bool) -> str | None:
    """What a tensor record was written from, when not a numpy array: ``"torch"`` (a tensor) or
    ``"numpy.generic"`` (a numpy scalar, stored as a 0-d array). A block with ``values="raw"``
    reads each back as the type it was."""
    if is_torch:
        return "torch"
    numpy = sys.modules.get("numpy")
    if numpy is not None and isinstance(value, numpy.generic):
        return "numpy.generic"
    return None


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


# A value write() refused; the writer thread counts it as skipped.
_UNSTORABLE = object()
_UNSTORABLE_WHY = (
    "cannot be held by a capture folder (dense arrays and tensors of common dtypes and small scalars only; "
    "nothing is pickled)"
)


def _may_store(value: Any, torch: Any) -> bool:
    """Whether ``value`` can be stored (a tensor or an array of a dtype safetensors has, or a small
    scalar): told in the capturing thread, from its type and dtype; the writer thread copies it."""
    kind = type(value)
    if kind in _SCALARS:
        return kind is not str or len(value) <= _STR_LIMIT
    if kind is Pending:
        return True
    if torch is not None and isinstance(value, torch.Tensor):
        return _storable_tensor(value, torch)
    numpy = sys.modules.get("numpy")
    return numpy is not None and isinstance(value, numpy.ndarray | numpy.generic) and value.dtype.name in _NUMPY_DTYPES


def _storable_tensor(tensor: Any, torch: Any) -> bool:
    """Whether a capture folder can hold ``tensor``: a dtype safetensors has, dense (not sparse,
    nested or quantized) and with data (not on the ``meta`` device). A tensor subclass passes
    here; the writer thread finds out whether it has memory of its own (see _to_storable)."""
    return (
        str(tensor.dtype).removeprefix("torch.") in _TORCH_DTYPES
        and tensor.layout == torch.strided
        and not tensor.is_nested
        and tensor.device.type != "meta"
    )


def _to_storable(value: Any, storages: set[int]) -> tuple[Any, int, bool] | None:
    """``(contiguous CPU array or tensor, bytes, is torch)`` for an array or tensor; ``None`` otherwise.

    An array or tensor of a dtype a capture folder cannot hold (complex, object, ...) gives ``None``.
    ``storages`` holds the memory of the torch tensors already in the shard: a tensor that shares it
    is copied, as safetensors refuses to write two tensors over one memory.
    """
    if type(value) is Pending:
        value = value.result()  # a copy from a device: wait for it here, in the writer thread
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor):
        if not _storable_tensor(value, torch):
            return None
        tensor = value.detach()
        if type(tensor) is not torch.Tensor:
            # A subclass: its data as a plain tensor. One without memory of its own (a wrapper
            # such as a DTensor) raises here, and that record alone is skipped.
            tensor = tensor.as_subclass(torch.Tensor)
            tensor.untyped_storage().data_ptr()
        if tensor.is_neg():  # a lazily negated view (torch._neg_view): its memory holds the opposite values
            tensor = tensor.resolve_neg()
        nbytes = tensor.numel() * tensor.element_size()
        if tensor.device.type != "cpu":
            tensor = tensor.to("cpu", memory_format=torch.contiguous_format)
        elif not (
            tensor.is_contiguous()
            and tensor.storage_offset() == 0
            and tensor.untyped_storage().nbytes() == nbytes
            and tensor.untyped_storage().data_ptr() not in storages
        ):
            # A view, or a tensor written twice: one compact copy. A tensor that owns its memory
            # (most activations) is written as it is, without a copy.
            tensor = tensor.clone(memory_format=torch.contiguous_format)
        if nbytes:
            storages.add(tensor.untyped_storage().data_ptr())
        return tensor, nbytes, True
    numpy = sys.modules.get("numpy")
    if numpy is not None and isinstance(value, numpy.ndarray | numpy.generic):
        array = numpy.asarray(value, order="C")  # not ascontiguousarray: it makes 0-d arrays 1-d
        if array.dtype.name not in _NUMPY_DTYPES:
            return None
        if not array.dtype.isnative:  # big-endian data: safetensors is little-endian, torch.from_numpy refuses it
            array = array.astype(array.dtype.newbyteorder("="))
        return array, array.nbytes, False
    return None


# -- reading -----------------------------------------------------------------------------------


class StoredRecord(NamedTuple):
    """One record of a capture folder: where it came from, its shape and dtype, and where it is.

    The value itself is read by :meth:`CaptureFolder.load`. ``shape`` and ``dtype`` (``"float32"``,
    ``"bfloat16"``, ...) are ``None`` for a scalar stored in the metadata. ``shard`` is the file's
    path inside the folder opened (``"rank-1/shard-00000.safetensors"`` in a folder of ranks);
    ``rank`` is the torchrun rank that wrote it, ``None`` for a single-process capture. ``number``
    counts the records of one rank. ``block`` numbers the capture blocks that shared one
    :class:`Writer` (0 for the first), ``None`` when a block wrote its own folder.
    """

    number: int
    key: str
    name: str
    function: str
    path: str | None
    call: int
    thread: int
    order: int
    line: int | None
    site: int | None
    assignment: int | None
    shape: tuple[int, ...] | None
    dtype: str | None
    shard: str
    tensor: str | None
    rank: int | None = None
    block: int | None = None


_KNOWN_META = frozenset(StoredRecord._fields) - {"number", "shape", "dtype", "shard", "tensor", "rank"}
assert set(_META_TEXT + _META_INT) | {"key"} == _KNOWN_META


class CaptureFolder(Mapping[str, list[Any]]):
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
        self._known: set[str] | None = None

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

    def _only(self, keep: Callable[[StoredRecord], bool]) -> CaptureFolder:
        """This folder with the records ``keep`` accepts (those of one capture block: see Capture.stored)."""
        view = copy.copy(self)
        view._records = [record for record in self._records if keep(record)]
        view._by_key = {}
        for record in view._records:
            view._by_key.setdefault(record.key, []).append(record)
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
        return StoredRecord(number=number, shape=shape, dtype=dtype, shard=shard, tensor=tensor, rank=rank, **fields)

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

    @property
    def records(self) -> list[StoredRecord]:
        """Every record, in the order they were written (no value is read)."""
        return list(self._records)

    def select(self, pattern: str = "*", name: str | None = None, *, rank: int | None = None) -> list[StoredRecord]:
        """Records whose module path matches the glob ``pattern`` (and variable ``name`` or key).

        The same rules as :meth:`anycapture.Capture.select`; no value is read. ``rank`` keeps the
        records of one rank of a folder of ranks.
        """
        records = self._records if rank is None else [record for record in self._records if record.rank == rank]
        selected = [record for record in records if selects(record, pattern, name)]
        if not selected:
            check_selection(records, pattern, name, self._known)
        return selected

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
        selected = self.select(pattern, name, rank=rank)
        records = [record for record in selected if record.path is not None]
        if selected and not records:
            raise ValueError(_no_paths())
        values = self._load_many(records)
        result: dict[str, list[Any]] = {}
        for record, value in zip(records, values, strict=True):
            result.setdefault(record.path, []).append(value)  # type: ignore[arg-type]
        return result

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
        if not records:
            raise KeyError(f"no values stored for name={name!r}, pattern={pattern!r}; stored keys: {list(self)}")
        keys = {record.key for record in records}
        if name is None and len(keys) > 1:
            raise ValueError(f"stack() needs name= when several variables were captured: {sorted(keys)}")
        scalars = [record for record in records if record.shape is None]
        if scalars:
            raise TypeError(
                f"stack() needs arrays or tensors; record {scalars[0].number} of {scalars[0].key} is a scalar"
            )
        if len({record.shape for record in records}) > 1:
            listing = "; ".join(f"{_describe(record)}: {record.shape}" for record in records)
            raise ValueError(f"cannot stack values of different shapes: {listing}")
        values = self._load_many(records) if rows is None else [self.load(record, rows=rows) for record in records]
        loaded = sys.modules.get("torch")
        if self.value_mode == "tensor" or (loaded is not None and isinstance(values[0], loaded.Tensor)):
            import torch

            return torch.stack(values)
        import numpy

        return numpy.stack(values)

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


def _first(item: tuple[tuple[int, int, int, int], StoredRecord]) -> int:
    return item[0][0]


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


def _shown(value: Any) -> str:
    """``repr(value)``, shortened (a crafted file may hold anything, nested however deep)."""
    return reprlib.repr(value)


def _decoded(value: Any) -> Any:
    """A scalar as stored: ``{"float": "nan"}`` (and ``"inf"``, ``"-inf"``) is that float."""
    if type(value) is dict and len(value) == 1 and value.get("float") in _FLOATS:
        return _FLOATS[value["float"]]
    return value


def _describe(record: StoredRecord) -> str:
    rank = "" if record.rank is None else f"rank {record.rank} "
    return f"{rank}{record.path or record.function} call {record.call}"


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

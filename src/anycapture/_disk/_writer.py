"""The background writer of a capture folder: records queued by the caller, shards written by its thread."""

from __future__ import annotations

import _thread
import contextlib
import itertools
import os
import sys
import threading
import warnings
import weakref
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from .._copies import copy_to_host
from .._errors import CaptureError, CaptureWarning, warn_once
from ._format import (
    _PLAIN_VERSION,
    INDEX,
    CaptureWriteError,
    _checked_meta,
    launch,
)
from ._shards import (
    _ABORT,
    _advice,
    _check_new_folder,
    _check_rank_parent,
    _Flush,
    _Part,
    _Queue,
    _Shard,
)
from ._storable import (
    _UNSTORABLE,
    _UNSTORABLE_WHY,
    _may_store,
)
from ._writer_thread import _WriterThread

_writers: weakref.WeakSet[Writer] = weakref.WeakSet()  # writers open in this process


def _after_fork_in_child() -> None:
    """In a forked child (a DataLoader worker): the writers' threads did not follow; they must not be used."""
    for writer in list(_writers):
        writer._forked = True


if sys.platform != "win32":  # no fork there
    os.register_at_fork(after_in_child=_after_fork_in_child)


class Writer(_WriterThread):
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
        self.put(_checked_meta(meta), value)

    # -- what a capture block uses (internal: not public API; see Capture) --------------------
    @property
    def closing(self) -> bool:
        """Whether ``close()`` began: records are refused from then on (internal)."""
        return self._closing

    def new_block(self) -> int:
        """The number of the next capture block writing here, stored in its records' ``block`` (internal)."""
        return next(self._blocks)

    @property
    def opened(self) -> bool:
        """Whether the constructor finished, so that ``close()`` has something to close (internal)."""
        return self._opened

    def put(self, meta: dict[str, Any], value: Any) -> None:
        """``write()`` without its checks, for metadata made by anycapture (a capture block): valid,
        and never reused (internal: users call :meth:`write`)."""
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
        self.put_rows(_checked_meta(meta), parts, rows, axis)

    def put_rows(self, meta: dict[str, Any], parts: Iterable[Any], rows: int, axis: int) -> None:
        """``write_rows()`` without its checks, for metadata made by anycapture (a capture block; internal)."""
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

"""One block's value pipeline: order, reduce, convert, gradients, then memory or the sink's writer.

The recorders of a block (``_recorder``, ``_dispatch``) see the block only through its
:class:`Intake`: its layers, how it files, its list of calls waiting to become records, and
:meth:`Intake.file`. Where records go is a store behind one face (``put``, ``put_rows``,
``flush``, ``close``): :class:`MemoryStore` (the block's mapping) or :class:`WriterStore` (a
``sink=`` folder, or a shared :class:`anycapture.Writer`).
"""

from __future__ import annotations

import itertools
import sys
from collections import deque
from threading import get_ident
from typing import Any

from . import _engine
from ._errors import CaptureError
from ._layers import LayerIndex
from ._options import ValueOptions
from ._records import Record
from ._values import PLAIN_TYPES, compact, kept_raw

__all__ = ["Intake", "MemoryStore", "WriterStore"]


class MemoryStore:
    """Records kept in memory, one ``deque`` a key (``max_size=`` bounds each)."""

    __slots__ = ("gradients",)
    writer: Any = None
    block: int | None = None
    gradients: dict[int, list[Any]]  # the block's (see Intake): a record max_size drops drops its own

    def open(self) -> None:
        """Nothing to open: memory is there."""

    def put(self, records: deque[Record], record: Record) -> None:
        gradients = self.gradients
        if gradients:
            slot = gradients.get(record.order)
            if slot is not None:
                slot[1] = id(record.value)  # the value the record keeps (reduce= may derive it)
            if records.maxlen is not None and len(records) == records.maxlen:
                gradients.pop(records[0].order, None)  # the record max_size drops, and its gradient
        records.append(record)

    def put_rows(self, record: Record, parts: Any, rows: int, axis: int) -> None:
        raise TypeError("values in parts go to a sink= only (see Intake.streams_rows)")

    def flush(self) -> None:
        """Nothing to flush: every record is in memory as it comes."""

    def close(self, raising: bool) -> Exception | None:
        return None

    def abandon(self) -> None:
        """Nothing was opened."""


class WriterStore:
    """Records sent to the writer of a ``sink=``: one the block opens on the folder and closes at
    its end, or an :class:`anycapture.Writer` the user made, shared with other blocks (flushed at
    the block's end, closed by its owner), in which this block's records carry its number."""

    __slots__ = ("block", "sink", "warned", "writer")

    def __init__(self, sink: Any, warned: set[object]) -> None:
        self.sink = sink
        self.warned = warned
        self.writer: Any = None
        self.block: int | None = None

    def open(self) -> None:
        from ._disk import Writer

        sink = self.sink
        if isinstance(sink, Writer):
            if sink.closing:
                raise CaptureError(
                    f"sink={sink!r} is closed; give an open Writer, or a folder (the block then "
                    "opens and closes its own writer)"
                )
            self.writer = sink
            self.block = sink.new_block()
        else:
            # Held before it is built: an interrupt (Ctrl-C) as Writer() returns finds it here, to
            # close (one cut short inside undid itself, and is not _opened).
            self.writer = Writer.__new__(Writer)
            self.writer.__init__(sink)

    def meta(self, record: Record) -> dict[str, Any]:
        """A record's metadata as the writer stores it."""
        meta = {
            "key": record.key,
            "name": record.name,
            "function": record.function,
            "path": record.path,
            "call": record.call,
            "thread": record.thread,
        }
        meta.update(order=record.order, line=record.line, site=record.site, assignment=record.assignment)
        if self.block is not None:
            meta["block"] = self.block
        return meta

    def put(self, records: deque[Record], record: Record) -> None:
        self.writer.put(self.meta(record), record.value)

    def put_rows(self, record: Record, parts: Any, rows: int, axis: int) -> None:
        self.writer.put_rows(self.meta(record), parts, rows, axis)

    def flush(self) -> None:
        self.writer.flush()

    def close(self, raising: bool) -> Exception | None:
        """Everything on disk; a write that failed is returned, to raise, or warned about while
        another error propagates."""
        from ._disk import CaptureWriteError

        try:
            # A Writer the user made may serve several blocks: it is flushed, and closing it is
            # left to its owner.
            if self.writer is self.sink:
                self.writer.flush()
            else:
                self.writer.close()
        except CaptureWriteError as exc:
            if raising:
                return exc
            _engine.warn_once(self.warned, "write", f"{exc} (the block's own exception follows)", stacklevel=None)
        return None

    def abandon(self) -> None:
        """The block did not start: close the writer it opened (one it was given stays open)."""
        writer = self.writer
        if writer is not None and writer is not self.sink and writer.opened:
            writer.close()


class Intake:
    """One block as its recorders see it: the layers, how it files, and where values go."""

    __slots__ = (
        "convert",
        "custom",
        "gradients",
        "grads",
        "layers",
        "max_size",
        "order",
        "pending",
        "plain",
        "processing",
        "records",
        "reduce",
        "short",
        "store",
        "targets",
        "unresolved",
        "warned",
    )

    def __init__(self, layers: LayerIndex | None, options: ValueOptions, warned: set[object]) -> None:
        # The options read once, into slots (the recorders read them at every call), in one unpacking:
        # each field read by name is a descriptor call, on an object of its own, cold after a forward.
        _, _, _, collate_fn, reduce, max_size, _, sink, grads, convert = options
        self.layers = layers  # None without model=
        self.convert = convert
        self.custom = collate_fn is not None
        self.reduce = reduce
        self.grads = grads
        self.warned = warned
        self.processing = reduce is not None or convert is not None
        # Values kept as they are, in memory: records are made on the spot (see _Recorder.file).
        self.plain = not self.processing and not grads and sink is None
        # A block keeping its values in memory, unbounded, outside autograd files each call the
        # short way: one tuple on ``pending``, made into records when the block is read (settle).
        self.short = sink is None and not grads and max_size is None
        self.max_size = max_size
        self.records: dict[str, deque[Record]] = {}
        self.order = itertools.count()
        # grads=True: the gradient that reaches each value, in a slot [gradient, id(record's
        # value)] by record order (see _watch_gradient).
        self.gradients: dict[int, list[Any]] = {}
        self.store: MemoryStore | WriterStore
        if sink is None:  # made with C calls only: a block per forward pays ~1 us a Python call
            self.store = store = MemoryStore.__new__(MemoryStore)
            store.gradients = self.gradients
        else:
            self.store = WriterStore(sink, warned)
        # Calls filed the short way, waiting to become records: (recorder, values, path, thread),
        # the value alone when the recorder has one variable, the path a str, None or Unresolved.
        self.pending: list[tuple[Any, Any, Any, int]] = []
        self.unresolved = False  # some pending entry has a path to look up (see _layers.Unresolved)
        self.targets = 0  # how many functions the block captures (one alone may file directly)

    def records_of(self, key: str) -> deque[Record]:
        records = self.records.get(key)
        if records is None:
            records = self.records[key] = deque(maxlen=self.max_size)
        return records

    def process(self, key: str, value: Any) -> Any:
        """``value`` reduced and converted as the block asks; the raw value if that fails."""
        raw = value
        try:
            if self.reduce is not None:
                value = compact(self.reduce(value))  # a slice would keep the whole value alive
            if self.convert is not None and (self.custom or type(value) not in PLAIN_TYPES):
                value = self.convert(value)
        except Exception as exc:
            _engine.warn_once(self.warned, ("convert", key), kept_raw(key, exc, "reduce or convert"), stacklevel=None)
            return raw
        return value

    def file(
        self,
        records: deque[Record],
        key: str,
        name: str,
        value: Any,
        label: str,
        path: str | None,
        call: int,
        line: int | None = None,
        site: int | None = None,
        assignment: int | None = None,
    ) -> None:
        """Process one captured value and store its record. Runs inside the user's code."""
        order = next(self.order)
        if self.grads:
            self._watch_gradient(key, value, order)
        if self.processing:
            value = self.process(key, value)
        record = Record(key, name, value, label, path, call, get_ident(), order, line, site, assignment)
        self.store.put(records, record)

    @property
    def streams_rows(self) -> bool:
        """Whether a value made in parts along one axis can go to the sink a part at a time: a sink,
        and nothing that needs the whole value (a reduce, a collate_fn, gradients)."""
        return self.store.writer is not None and self.reduce is None and not self.custom and not self.grads

    def file_rows(
        self, key: str, name: str, parts: Any, rows: int, axis: int, label: str, path: str | None, call: int
    ) -> None:
        """File one record whose value comes in ``parts`` along ``axis`` straight to the sink, each part
        converted (``values=``) on its own: the whole value is never held (see ``Writer.write_rows``)."""
        record = Record(key, name, None, label, path, call, get_ident(), next(self.order), None, None, None)
        convert = self.convert
        converted = parts if convert is None else (convert(part) for part in parts)
        self.store.put_rows(record, converted, rows, axis)

    def _watch_gradient(self, key: str, value: Any, order: int) -> None:
        """Keep the gradient that reaches ``value`` in backward, under its record's order."""
        torch = sys.modules.get("torch")
        if torch is None or not isinstance(value, torch.Tensor) or not value.requires_grad:
            return
        # The hook holds the slot alone: once the record is cleared or dropped (max_size), the slot
        # lives only as long as the graph does, and a gradient that comes later goes nowhere.
        slot: list[Any] = [None, id(value)]

        def keep(grad: Any) -> None:
            grad = grad.detach()
            slot[0] = grad if slot[0] is None else slot[0] + grad  # several backward passes add up

        try:
            value.register_hook(keep)
        except Exception as exc:
            _engine.warn_once(self.warned, ("grad", key), f"cannot follow the gradient of {key}: {exc!r}", 5)
            return
        self.gradients[order] = slot

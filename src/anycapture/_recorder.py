"""One block's interest in one function (``_Recorder``), and the making of its records.

A recorder knows which variables its block keeps of the function, under which keys, and counts
the calls and bound values for the end-of-block report; it files values through its block's
:class:`~anycapture._intake.Intake`, the only part of the block it sees.
"""

from __future__ import annotations

import itertools
import types
from collections import deque
from collections.abc import Callable, Mapping
from threading import get_ident
from typing import Any, Protocol

from . import _engine
from ._intake import Intake
from ._layers import Unresolved
from ._records import _NOT_IN_MEMORY, Record, _new_record

__all__ = ["Call", "Routes", "_Recorder", "make_records"]

_MISSING = _engine.MISSING
_GENERATOR_FLAGS = 0x20 | 0x80 | 0x200  # CO_GENERATOR, CO_COROUTINE, CO_ASYNC_GENERATOR


class Routes(Protocol):
    """What a recorder asks of its function's dispatcher (``_dispatch._Dispatcher``)."""

    module_method: bool

    def naming(self, names: tuple[str, ...], key_style: str) -> tuple[str, tuple[str, ...]]: ...


class _Recorder:
    """One block's interest in one function: which names it keeps, and its records."""

    # Slots: a block made per forward stores all of these right after the forward, where each
    # step costs (a dict would grow three times).
    __slots__ = (
        "_counter",
        "_numbers",
        "base",
        "bound",
        "calls",
        "direct",
        "direct_layout",
        "dispatcher",
        "draining",
        "func",
        "hint",
        "intake",
        "keys",
        "label",
        "lines",
        "method",
        "names",
        "objects",
        "ran",
        "short",
        "sites",
        "slots",
        "slots_by_name",
        "uncapturable",
        "unrun_hint",
    )

    def __init__(
        self,
        intake: Intake,
        func: types.FunctionType,
        dispatcher: Any,
        names: tuple[str, ...],
        hints: tuple[str, str],
        key_style: str,
        sites: Mapping[str, frozenset[int] | None] | None = None,
        objects: tuple[Callable[[], Any], ...] | None = None,
    ) -> None:
        # The block as recorders see it; None once it has ended, which breaks the cycle block ->
        # recorder -> block so that a block's records (and the tensors in them) die with it,
        # without waiting for gc.
        self.intake: Intake | None = intake
        self.func = func
        self.dispatcher = dispatcher  # the function's _Dispatcher, which routes its calls here
        routes: Routes = dispatcher
        self.names = names
        self.uncapturable = False  # set when the block begins (see Capture._start)
        # A recipe's hints: when a variable is never bound, and when the function never runs.
        self.hint, self.unrun_hint = hints
        # With when="each": name -> the positions of the assignment sites kept (None: all).
        self.sites = sites
        # Given bound methods (layer.forward): only calls whose first argument is one of these
        # objects (weakly referenced where they can be) are kept; None: every call.
        self.objects = objects
        self.label, self.keys = routes.naming(names, key_style)
        self.method = routes.module_method
        self.calls = 0
        self.bound = [0] * len(names)
        # (index, key, name, records of that key) per requested variable
        slots = []
        records, max_size = intake.records, intake.max_size
        for i, key in enumerate(self.keys):
            kept = records.get(key)  # intake.records_of, inlined
            if kept is None:
                kept = records[key] = deque(maxlen=max_size)
            slots.append((i, key, names[i], kept))
        self.slots = tuple(slots)
        # Filing the short way (see Intake.short) is fixed for the block's life, so a recorder never
        # switches ways.
        self.short = intake.short
        self.ran = False  # a call reached the block (its records may still be waiting)
        # Filing directly: the calls' tuples, appended by the function's code (see _Dispatcher),
        # where they hold the values (all, the one alone) and the layer's module, and whether they
        # are being made entries of the block's list now (see _drain).
        self.direct: list[tuple[Any, ...]] = []
        self.direct_layout: tuple[tuple[int, ...], int | None, int | None] = ((), None, None)
        self.draining = False
        if not self.short:
            self._counter = itertools.count()
        if sites is not None:
            from ._analysis import assignment_sites

            code = _engine.original_code(func)
            self.lines: dict[tuple[str, int], int | None] = {
                (name, site.position): site.line for name in names for site in assignment_sites(code, name)
            }
            self.slots_by_name = {slot[2]: slot for slot in self.slots}
            self.base = 0  # the dispatcher's call serials from here on began after this block did
            self._numbers: dict[int, int] = {}  # call serial -> this block's call number

    def file(self, pending: tuple[Any, ...], index_of: Mapping[str, int], context: int | None) -> None:
        """File one call's values (``pending``, in the dispatcher's order) as this block's records."""
        if self.objects is not None and not _among(pending[context] if context is not None else None, self.objects):
            return
        call = next(self._counter)
        self.calls = call + 1
        intake = self.intake
        if intake is None:  # a call that returned while its block was ending
            return
        layers = intake.layers
        path = None
        if layers is not None:
            path = layers.find_layer(pending[context] if context is not None else None, 2, self.method)
        plain, label, bound = intake.plain, self.label, self.bound
        for index, key, name, records in self.slots:
            value = pending[index_of[name]]
            if value is _MISSING:
                continue
            bound[index] += 1
            if plain:  # kept as it is, in memory: the record is made here, in C calls only
                fields = (key, name, value, label, path, call, get_ident(), next(intake.order), None, None, None)
                records.append(_new_record(Record, fields + _NOT_IN_MEMORY))
            else:
                intake.file(records, key, name, value, label, path, call)

    def file_each(self, name: str, value: Any, site: int, call: Call) -> None:
        """File the value just assigned to ``name`` at ``site``, if this block wants it."""
        sites = self.sites
        assert sites is not None
        slot = self.slots_by_name.get(name)
        if slot is None:
            return
        position, key, name, records = slot
        wanted = sites[name]
        if wanted is not None and site not in wanted:
            return
        if call.serial < self.base:
            return  # a call that began before this block
        if self.objects is not None and not _among(call.context, self.objects):
            return
        numbers = self._numbers
        number = numbers.get(call.serial)
        if number is None:
            number = numbers[call.serial] = len(numbers)
            self.calls = number + 1
        self.bound[position] += 1
        intake = self.intake
        if intake is None:
            return
        layers = intake.layers
        path = None
        if layers is not None:
            path = layers.path_of(call.context) if call.context is not _MISSING else None
            if path is None and not self.method:
                path = layers.path_from_stack(call.frame.f_back)
        line = self.lines.get((name, site))
        intake.file(records, key, name, value, self.label, path, number, line, site, call.counts[name] - 1)


class Call:
    """One running call of a function captured with ``when="each"``: which call, how many assignments."""

    __slots__ = ("context", "counts", "frame", "generator", "serial", "thread")

    def __init__(self, frame: types.FrameType, serial: int, first: str | None) -> None:
        self.frame = frame
        self.serial = serial
        self.counts: dict[str, int] = {}  # assignments so far, by variable name
        self.thread = get_ident()
        self.generator = bool(frame.f_code.co_flags & _GENERATOR_FLAGS)
        self.context = _engine.read_local(frame, first) if first is not None else _MISSING


def make_records(intake: Intake, recorders: list[_Recorder]) -> None:
    """Make the records of the calls filed the short way so far (``intake.pending``), in the order
    they returned: numbered here (call, order), which is the block's own order since all its
    targets file the same way onto one list. Undone whole if an interrupt (Ctrl-C) cuts it short."""
    pending = intake.pending
    if not pending:
        return
    if intake.unresolved:
        _resolve(intake)
    count = len(pending)  # other threads may append meanwhile: take exactly these
    taken = pending[:count]
    order = intake.order
    if len(recorders) == 1 and len(recorders[0].slots) == 1:
        # One target, one variable (an attention map): the records made in one tight loop (not a
        # comprehension, which is a frame of its own on 3.11: a block per forward pays for each).
        recorder = recorders[0]
        ((_, key, name, records),) = recorder.slots
        label, first, bound = recorder.label, recorder.calls, recorder.bound[0]
        made: list[Record] = []
        keep = made.append
        for call, (_, value, path, thread) in enumerate(taken, first):
            if value is not _MISSING:
                fields = (key, name, value, label, path, call, thread, next(order), None, None, None)
                keep(_new_record(Record, fields + _NOT_IN_MEMORY))
        length = len(records)
        try:
            del pending[:count]
            recorder.calls = first + count
            recorder.bound[0] = bound + len(made)
            records.extend(made)
        except BaseException:
            _unmake(pending, [(recorder, first, [bound], [length])], taken)
            raise
        return
    before = [(r, r.calls, list(r.bound), [len(slot[3]) for slot in r.slots]) for r in recorders]
    try:
        del pending[:count]
        for recorder, values, path, thread in taken:
            label, bound_counts, slots = recorder.label, recorder.bound, recorder.slots
            if len(slots) == 1:  # filed alone (see _Dispatcher.record)
                values = (values,)
            call = recorder.calls
            recorder.calls = call + 1
            for (index, key, name, records), value in zip(slots, values, strict=True):
                if value is not _MISSING:
                    bound_counts[index] += 1
                    fields = (key, name, value, label, path, call, thread, next(order), None, None, None)
                    records.append(_new_record(Record, fields + _NOT_IN_MEMORY))
    except BaseException:
        _unmake(pending, before, taken)
        raise


def _unmake(pending: list[Any], before: list[tuple[Any, ...]], taken: list[tuple[Any, ...]]) -> None:
    """Undo a make_records that an interrupt (Ctrl-C) cut short: each recorder's calls, bound counts
    and records as they were (``before``), and the calls ``taken`` back first in the list (unless
    they never left it), so that the next one makes each record exactly once."""
    for recorder, calls, bound, lengths in before:
        for (_, _, _, records), length in zip(recorder.slots, lengths, strict=True):
            while len(records) > length:
                records.pop()
        recorder.calls = calls
        recorder.bound[: len(bound)] = bound
    if not (pending and pending[0] is taken[0]):
        pending[:0] = taken


def _resolve(intake: Intake) -> None:
    """Look up the paths _drain left unresolved (see Unresolved); runs in make_records."""
    intake.unresolved = False
    pending, layers = intake.pending, intake.layers
    assert layers is not None  # only a block with a model leaves paths to look up
    for i in range(len(pending)):  # other threads may append meanwhile, never replace
        entry = pending[i]
        if type(entry[2]) is Unresolved:
            pending[i] = (entry[0], entry[1], layers.path_of(entry[2].module), entry[3])


def _bound_to(objects: tuple[Callable[[], Any], ...] | None) -> str:
    """How a report names the objects a block's bound methods were bound to (nothing for none)."""
    if objects is None:
        return ""
    kinds = sorted({type(obj).__name__ for obj in (ref() for ref in objects) if obj is not None} or {"collected"})
    return f" (bound to {len(objects)} {'/'.join(kinds)} object{'s' if len(objects) > 1 else ''})"


def _among(obj: Any, objects: tuple[Callable[[], Any], ...]) -> bool:
    """Whether ``obj`` is one of the objects referenced (by identity: modules may define ``__eq__``)."""
    if len(objects) == 1:  # the usual case, without a generator: it runs at every call
        return obj is not None and obj is objects[0]()
    return obj is not None and any(obj is ref() for ref in objects)

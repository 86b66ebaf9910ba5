"""``capture()``: capture locals of code you do not own, for one block, labelled by layer."""

from __future__ import annotations

import contextlib
import functools
import inspect
import itertools
import sys
import threading
import types
import warnings
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from threading import get_ident
from typing import Any, Literal

from . import _engine
from ._backends import can, preferred, require
from ._copies import any_pending, resolve
from ._errors import _PACKAGE_DIR, CaptureError, CaptureWarning
from ._functions import check_when, key_for, select_sites
from ._options import check_flag as check_flag  # re-exported: _edit imports it from here
from ._options import shared_keys, value_options
from ._records import Record, RecordReader, _label, _make_record, _no_paths, _stack
from ._targets import PLANS_MAX, PLANS_PER_TARGET, Plan, normalise_targets, plans, weakly
from ._values import PLAIN_TYPES, Converter, compact

__all__ = ["Capture", "EmptyCaptureError", "Record", "capture"]

_MISSING = _engine.MISSING
_STACK_DEPTH = 24  # callers searched for the layer a plain function ran in


class EmptyCaptureError(CaptureError):
    """With ``strict=True``: a target never ran in the block, or a variable was never bound."""


class _Recorder:
    """One block's interest in one function: which names it keeps, and its records."""

    def __init__(
        self,
        owner: Capture,
        func: types.FunctionType,
        names: tuple[str, ...],
        hints: tuple[str, str],
        sites: Mapping[str, frozenset[int] | None] | None = None,
        objects: tuple[Callable[[], Any], ...] | None = None,
    ) -> None:
        # The block; None once it has ended, which breaks the cycle block -> recorder -> block so
        # that a block's records (and the tensors in them) die with it, without waiting for gc.
        self.owner: Capture | None = owner
        self.func = func
        self.dispatcher = dispatcher = _dispatcher(func)
        self.names = names
        self.uncapturable = False  # set when the block begins (see Capture._start)
        # A recipe's hints: when a variable is never bound, and when the function never runs.
        self.hint, self.unrun_hint = hints
        # With when="each": name -> the positions of the assignment sites kept (None: all).
        self.sites = sites
        # Given bound methods (layer.forward): only calls whose first argument is one of these
        # objects (weakly referenced where they can be) are kept; None: every call.
        self.objects = objects
        self.label, self.keys = dispatcher.naming(names, owner.key_style)
        self.calls = 0
        self.bound = [0] * len(names)
        # (index, key, name, records of that key) per requested variable
        slots = []
        for i, key in enumerate(self.keys):
            slots.append((i, key, names[i], owner._records_of(key)))
        self.slots = tuple(slots)
        # A block keeping its values in memory, unbounded, outside autograd files each call the
        # short way: one tuple on the block's list, made into records when the block is read
        # (Capture._settle). Fixed for the block's life, so a recorder never switches ways.
        self.short = owner._sink is None and not owner._track_grads and owner._max_size is None
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
        owner = self.owner
        if owner is None:  # a call that returned while its block was ending
            return
        path = None
        if owner.model is not None:
            module = pending[context] if context is not None else None
            entry = owner._paths.get(id(module))  # _path_of's lookup, inlined: it runs per call
            if entry is not None and entry[0]() is module:
                path = entry[1]
            else:
                path = owner._find_layer(module, 2, self.dispatcher.module_method)
        plain, label, bound = owner._plain, self.label, self.bound
        for index, key, name, records in self.slots:
            value = pending[index_of[name]]
            if value is _MISSING:
                continue
            bound[index] += 1
            if plain:  # kept as it is, in memory: the record is made here, in C calls only
                fields = (key, name, value, label, path, call, get_ident(), next(owner._order), None, None, None)
                records.append(_make_record(Record, fields))
            else:
                owner._file(records, key, name, value, label, path, call)

    def file_each(self, name: str, value: Any, site: int, call: _Call) -> None:
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
        owner = self.owner
        if owner is None:
            return
        path = None
        if owner.model is not None:
            path = owner._path_of(call.context) if call.context is not _MISSING else None
            if path is None and not self.dispatcher.module_method:
                path = owner._path_from_stack(call.frame.f_back)
        line = self.lines.get((name, site))
        owner._file(records, key, name, value, self.label, path, number, line, site, call.counts[name] - 1)


class _Call:
    """One running call of a function captured with ``when="each"``: which call, how many assignments."""

    __slots__ = ("context", "counts", "frame", "generator", "serial", "thread")

    def __init__(self, frame: types.FrameType, serial: int, first: str | None) -> None:
        self.frame = frame
        self.serial = serial
        self.counts: dict[str, int] = {}  # assignments so far, by variable name
        self.thread = get_ident()
        self.generator = bool(frame.f_code.co_flags & _GENERATOR_FLAGS)
        self.context = _engine.read_local(frame, first) if first is not None else _MISSING


_GENERATOR_FLAGS = 0x20 | 0x80 | 0x200  # CO_GENERATOR, CO_COROUTINE, CO_ASYNC_GENERATOR
_SWEEP_AT = 32  # calls open at once before those that raised are looked for (doubles as needed)
# Suspended generators cannot be told from abandoned ones; beyond this many, the oldest are
# forgotten (a generator resumed after that counts as a new call), so frames never pile up.
_MAX_GENERATOR_CALLS = 64
_MAX_LAYOUTS = 64  # name sets (and value options) remembered: a loop of blocks uses one or two
# Held while a block makes its records (Capture._settle), so that a reader in another thread waits
# for them; one for all blocks, since it is held only for a loop that takes no other lock.
_settling = threading.RLock()


class _Dispatcher:
    """Every active block's interest in one function, behind sinks that stay the same.

    Blocks come and go, but the sinks handed to the engine depend only on the names watched, so a
    loop of blocks reuses one instrumented code object (no rebuild, no re-specialisation by the
    interpreter), and nothing the engine caches refers to a block or its values.
    """

    def __init__(self, func: types.FunctionType) -> None:
        self._func = weakref.ref(func)
        code = func.__code__
        # The first argument (``self``, or transformers' ``module``) tells which layer ran.
        self.first = code.co_varnames[0] if code.co_argcount else None
        self.label = _engine.label_of(func)
        self.recorders: tuple[_Recorder, ...] = ()
        self.each_recorders: tuple[_Recorder, ...] = ()
        self.watched: tuple[str, ...] = ()
        # when="each": the names watched, one stable sink per name, the calls running now (by
        # frame id; a call leaves at its return, or when a sweep finds it raised), and their serials.
        self.each_watched: tuple[str, ...] = ()
        self._each_sinks: dict[str, _engine.EachSink] = {}
        self._calls: dict[int, _Call] = {}
        self._sweep_at = _SWEEP_AT
        self._serial = itertools.count()
        self._index_of: dict[str, int] = {}
        self._context: int | None = None
        # Blocks filing the short way (each with the positions of its names among the values, the
        # position when it has one name, and its block's list's append), and those filing record
        # by record.
        self._shorts: tuple[tuple[_Recorder, tuple[int, ...], int | None, Callable[[Any], None]], ...] = ()
        self._filed: tuple[_Recorder, ...] = ()
        # What the instrumented code calls, one per layout of the values it hands over (watched)
        # for the dispatcher's life, so that a loop of blocks reuses one code object, and so that a
        # call still running code of an earlier layout (a thread, a suspended generator, while
        # blocks came and went) says which layout its values are in (see _file_late):
        # record(watched, *values) through a functools.partial, or, when filing directly (see
        # _files_directly), a _Sink whose ``append`` the code calls with one tuple per call.
        self._collectors: dict[tuple[str, ...], Callable[..., None]] = {}
        self._sinks: dict[tuple[str, ...], _Sink] = {}
        # The recorder filed directly now, if any, and the last one while its block is on: a call
        # filing another way first has that one's calls made entries of its block's list (a call
        # of its code may append one more as the way changes), so each thread's calls stay in order.
        self._direct_recorder: _Recorder | None = None
        self._backlog: _Recorder | None = None
        # A method of an nn.Module class: its first argument is its layer, or it has none in the
        # model (the callers are not searched, as they are for a plain function that takes a module).
        self.module_method = _method_of_module(func)
        self._warned: set[object] = set()
        # Computed once per set of names, not at every block: (names, key style, the function's
        # qualname and module) -> (label, keys), and the names of each recorder -> (watched,
        # index_of, each recorder's positions).
        self._naming: dict[tuple[tuple[str, ...], str, str, str | None], tuple[str, tuple[str, ...]]] = {}
        self._layouts: dict[tuple[tuple[str, ...], ...], tuple[Any, ...]] = {}

    def naming(self, names: tuple[str, ...], key_style: str) -> tuple[str, tuple[str, ...]]:
        """The function's label and the keys of ``names`` (in ``key_style``), under its names now."""
        func = self._func()
        assert func is not None  # the caller holds it
        key = (names, key_style, func.__qualname__, func.__module__)
        found = self._naming.get(key)
        if found is None:
            found = (_engine.label_of(func), tuple([key_for(func, name, key_style) for name in names]))
            if len(self._naming) < _MAX_LAYOUTS:
                self._naming[key] = found
        return found

    def _layout(self, key: tuple[tuple[str, ...], ...]) -> tuple[Any, ...]:
        """What the recorders asking for the names in ``key`` need: (the names read at returns,
        the first argument first; name -> index among them; each recorder's indices)."""
        found = self._layouts.get(key)
        if found is None:
            names = [self.first] if self.first is not None else []
            for wanted in key:
                names += [name for name in wanted if name not in names]
            index_of = {name: i for i, name in enumerate(names)}
            found = (tuple(names), index_of, tuple([tuple([index_of[n] for n in wanted]) for wanted in key]))
            if len(self._layouts) < _MAX_LAYOUTS:
                self._layouts[key] = found
        return found

    def _each_sink(self, name: str) -> _engine.EachSink:
        """The sink of ``name``'s assignments, one per name for the dispatcher's life."""
        sink = self._each_sinks.get(name)
        if sink is None:
            sink = self._each_sinks[name] = self._make_each(name)
        return sink

    def _make_each(self, name: str) -> _engine.EachSink:
        calls, serial, first, dispatcher = self._calls, self._serial, self.first, self

        def each(value: Any, site: int) -> None:
            try:
                frame = sys._getframe(1)
                call = calls.get(id(frame))
                if call is None or call.frame is not frame:
                    if len(calls) >= dispatcher._sweep_at:
                        dispatcher._sweep()
                    call = calls[id(frame)] = _Call(frame, next(serial), first)
                counts = call.counts
                counts[name] = counts.get(name, 0) + 1
                for recorder in dispatcher.each_recorders:
                    recorder.file_each(name, value, site, call)
            except Exception as exc:
                _engine.warn_once(dispatcher._warned, "each", f"capture from {dispatcher.label} failed: {exc!r}", 3)

        return each

    def _sweep(self) -> None:
        """Forget calls of this thread that raised (not generators, and no longer on its stack), and
        the oldest generators beyond :data:`_MAX_GENERATOR_CALLS`. The next sweep waits until the
        table has doubled, so sweeping stays O(1) per call however many calls stay open."""
        live = set()
        frame: types.FrameType | None = sys._getframe(2)
        while frame is not None:
            live.add(id(frame))
            frame = frame.f_back
        thread = get_ident()
        calls = self._calls
        for key, call in list(calls.items()):
            if call.thread == thread and key not in live and not call.generator:
                calls.pop(key, None)
        generators = [key for key, call in list(calls.items()) if call.generator]
        for key in generators[: max(0, len(generators) - _MAX_GENERATOR_CALLS)]:  # oldest first
            calls.pop(key, None)
        self._sweep_at = max(_SWEEP_AT, 2 * len(calls))

    def _refresh(self) -> None:
        func = self._func()
        if func is None:
            self._shorts, self._filed = (), ()
            return
        recorders = self.recorders
        if len(recorders) == 1 and not self.each_recorders and self._files_directly(recorders[0]):
            self._start_direct(func, recorders[0])
            return
        self._stop_direct()
        if not recorders and not self.each_recorders:
            _engine.detach(func, self)
            self._shorts, self._filed = (), ()
            self._calls.clear()
            self._sweep_at = _SWEEP_AT
            return
        if recorders:
            names = (recorders[0].names,) if len(recorders) == 1 else tuple([r.names for r in recorders])
            watched, self._index_of, positions = self._layout(names)
            self._context = 0 if self.first is not None else None
        else:
            watched, self._index_of, positions, self._context = (), {}, (), None
        self.watched = watched
        shorts = []
        filed = []
        for recorder, places in zip(recorders, positions, strict=True):
            if not recorder.short:
                filed.append(recorder)
            elif recorder.owner is not None:
                single = places[0] if len(places) == 1 else None
                shorts.append((recorder, places, single, recorder.owner._pending.append))
        self._shorts, self._filed = tuple(shorts), tuple(filed)
        each_names: list[str] = []
        for recorder in self.each_recorders:
            each_names += [name for name in recorder.names if name not in each_names]
        self.each_watched = tuple(each_names)
        # Every site of a watched name is instrumented, whatever sites the blocks chose (they filter
        # in file_each), so that ``assignment`` counts all of the call's assignments to the name.
        each = {name: (None, self._each_sink(name), True) for name in each_names} if each_names else None
        backend = _engine.attach(func, self, {}, (watched, self._collector(watched)), each=each)
        if each and not can(backend, "sees_assignments"):
            _engine.detach(func, self)
            raise CaptureError(
                f"capturing every assignment in {self.label} needs the 'bytecode' backend, which could not "
                f"rewrite it (backend now: {backend}); see the CaptureWarning just given"
            )

    def _files_directly(self, recorder: _Recorder) -> bool:
        """Whether ``recorder``'s calls can be filed with no Python call: it is the only one, of a
        block with no other target (whose calls it would have to be ordered with), filing the short
        way, keeping values as they are, and its layers can be told after the call from the first
        argument alone (no model, or a method of an ``nn.Module`` class)."""
        owner = recorder.owner
        if owner is None or not recorder.short or owner._processing or len(owner._recorders) != 1:
            return False
        if recorder.objects is not None:  # calls are told apart by their first argument, at the call
            return False
        # A plain function's layer may be found in its callers' frames, there only while it runs.
        return _FILE_DIRECTLY and (owner.model is None or self.module_method)

    def _collector(self, watched: tuple[str, ...]) -> Callable[..., None]:
        """What the code hands a call's values of ``watched`` to: ``record(watched, *values)``."""
        collector = self._collectors.get(watched)
        if collector is None:
            collector = functools.partial(self.record, watched)
            if len(self._collectors) < _MAX_LAYOUTS:
                self._collectors[watched] = collector
        return collector

    def _sink(self, watched: tuple[str, ...]) -> _Sink:
        """The _Sink of the code filing directly values of ``watched``; it files late when made."""
        sink = self._sinks.get(watched)
        if sink is None:
            sink = _Sink(functools.partial(self._file_packed, watched))
            if len(self._sinks) < _MAX_LAYOUTS:
                self._sinks[watched] = sink
        return sink

    def _start_direct(self, func: types.FunctionType, recorder: _Recorder) -> None:
        """Have the function's code append ``(first argument?, *values, thread id)`` to the
        recorder's list itself at each return: a C call, no Python frame (see _drain)."""
        owner = recorder.owner
        assert owner is not None
        if owner.model is None:
            watched, positions, context = recorder.names, tuple(range(len(recorder.names))), None
        else:
            watched, _, (positions,) = self._layout((recorder.names,))
            context = 0
        if recorder is not self._direct_recorder:
            self._stop_direct()
            recorder.direct_layout = (positions, positions[0] if len(positions) == 1 else None, context)
            self._direct_recorder = recorder
        sink = self._sink(watched)
        sink.append = recorder.direct.append
        self._shorts, self._filed, self.each_watched = (), (), ()
        self.watched = watched
        _engine.attach(func, self, {}, (watched, sink), packed=True)

    def _stop_direct(self) -> None:
        """Code filing directly files late from now on, and the calls it filed so far go to their
        block before any call files another way (``record`` waits for the backlog)."""
        for sink in self._sinks.values():  # first: run again after an interrupt, this is what matters
            sink.append = sink.late
        recorder, self._direct_recorder = self._direct_recorder, None
        if recorder is not None:
            self._backlog = recorder
            _drain(recorder)
        if self._backlog is not None and self._backlog not in self.recorders:
            self._backlog = None  # its block has ended (and it holds that block's records)

    def _file_packed(self, watched: tuple[str, ...], item: tuple[Any, ...]) -> None:
        """A call of code that filed directly, returning after that way ended (``item`` is
        ``(*values of watched, thread id)``): filed as blocks file now."""
        self._file_late(watched, item[:-1], item[-1])

    def _file_late(self, watched: tuple[str, ...], values: tuple[Any, ...], thread: int) -> None:
        """A call of code for another layout or way than the one in place now (it was running while
        blocks came and went): its values matched by name, filed as blocks file now. Never raises."""
        try:
            index = {name: i for i, name in enumerate(watched)}
            with _dispatch_lock:  # waits for blocks being started or ended, and their lists drained
                recorder = self._direct_recorder
                layout = self.watched
                values = tuple([values[index[n]] if n in index else _MISSING for n in layout])
                if recorder is not None:
                    recorder.direct.append((*values, thread))
                    return
            # Filed as record() files, outside the lock: blocks reduce and convert values (the
            # user's code), which may read a block (and wait for another thread's settle).
            if self.recorders and layout:
                self.record(layout, *values)
        except Exception as exc:
            _engine.warn_once(self._warned, "file", f"capture from {self.label} failed: {exc!r}", 3)

    def add(self, recorder: _Recorder) -> None:
        with _dispatch_lock:
            if recorder.sites is None:
                self.recorders = (*self.recorders, recorder)
            else:
                recorder.base = next(self._serial)  # calls begun from now on get later serials
                self.each_recorders = (*self.each_recorders, recorder)
            try:
                self._refresh()
            except BaseException:
                self.recorders = tuple(r for r in self.recorders if r is not recorder)
                self.each_recorders = tuple(r for r in self.each_recorders if r is not recorder)
                self._refresh()
                raise

    def remove(self, recorder: _Recorder) -> None:
        with _dispatch_lock:
            if recorder.sites is None:
                self.recorders = _without(self.recorders, recorder)
            else:
                self.each_recorders = _without(self.each_recorders, recorder)
            self._refresh()

    def record(self, watched: tuple[str, ...], *values: Any) -> None:
        """A call returns with these values (of ``watched``): every active block files them.
        Runs inside the user's function, called by its instrumented code."""
        backlog = self._backlog
        if backlog is not None and backlog.direct:  # calls the last block filed directly: theirs first
            with _dispatch_lock:
                _drain(backlog)
        if self._direct_recorder is not None or (watched is not self.watched and watched != self.watched):
            self._file_late(watched, values, get_ident())  # code of an earlier layout or way
            return
        if self._calls:  # when="each": the call has ended
            frame = sys._getframe(1)
            if frame.f_code.co_filename.startswith(_PACKAGE_DIR):  # read from the frame by a hook
                frame = frame.f_back  # type: ignore[assignment]
            self._calls.pop(id(frame), None)
        context = self._context
        for recorder, positions, single, append in self._shorts:
            # The short way: the values (reduced and converted now, as they are at the return) and
            # the layer go on the block's list with one C append; records are made when it is read.
            owner = recorder.owner
            if owner is None:  # a call that returned while its block was ending
                continue
            objects = recorder.objects
            if objects is not None and not _among(values[context] if context is not None else None, objects):
                continue  # another object's call
            try:
                recorder.ran = True
                path = None
                if owner.model is not None:
                    module = values[context] if context is not None else None
                    entry = owner._paths.get(id(module))  # _path_of's lookup, inlined: it runs per call
                    if entry is not None and entry[0]() is module:
                        path = entry[1]
                    else:
                        path = owner._find_layer(module, 1, self.module_method)
                if single is not None:  # one variable: its value alone, not in a tuple of its own
                    picked: Any = values[single]
                    if owner._processing and picked is not _MISSING:
                        picked = owner._process(recorder.keys[0], picked)
                else:
                    picked = tuple([values[p] for p in positions])
                    if owner._processing:
                        keys = recorder.keys
                        picked = tuple(
                            [v if v is _MISSING else owner._process(keys[i], v) for i, v in enumerate(picked)]
                        )
                append((recorder, picked, path, get_ident()))
            except Exception as exc:
                _engine.warn_once(self._warned, "file", f"capture from {self.label} failed: {exc!r}", 3)
        recorders = self._filed
        if not recorders:
            return
        index_of = self._index_of
        for recorder in recorders:
            try:
                recorder.file(values, index_of, context)
            except Exception as exc:
                _engine.warn_once(self._warned, "file", f"capture from {self.label} failed: {exc!r}", 3)


def _bound_to(objects: tuple[Callable[[], Any], ...] | None) -> str:
    """How a report names the objects a block's bound methods were bound to (nothing for none)."""
    if objects is None:
        return ""
    kinds = sorted({type(obj).__name__ for obj in (ref() for ref in objects) if obj is not None} or {"collected"})
    return f" (bound to {len(objects)} {'/'.join(kinds)} object{'s' if len(objects) > 1 else ''})"


def _reference(obj: Any) -> Callable[[], Any]:
    """A weak reference to ``obj`` where it takes one (a result must not keep a layer alive)."""
    try:
        return weakref.ref(obj)
    except TypeError:
        return lambda: obj


def _among(obj: Any, objects: tuple[Callable[[], Any], ...]) -> bool:
    """Whether ``obj`` is one of the objects referenced (by identity: modules may define ``__eq__``)."""
    if len(objects) == 1:  # the usual case, without a generator: it runs at every call
        return obj is not None and obj is objects[0]()
    return obj is not None and any(obj is ref() for ref in objects)


def _without(recorders: tuple[_Recorder, ...], recorder: _Recorder) -> tuple[_Recorder, ...]:
    if len(recorders) == 1:  # the usual case: one block at a time
        return () if recorders[0] is recorder else recorders
    return tuple([r for r in recorders if r is not recorder])


class _Sink:
    """What code filing directly calls at each return: ``append((*values, thread id))``, the list
    of the recorder filed directly, or ``late`` (see _Dispatcher._file_packed) once that ended."""

    __slots__ = ("append", "late")

    def __init__(self, late: Callable[[tuple[Any, ...]], None]) -> None:
        self.late = self.append = late


class _Unresolved:
    """A module not found in the model's index when the calls filed directly were drained, or no
    longer at its path there: its path is looked up when the block makes its records (indexing
    the model again runs the user's ``named_modules``, never run while ``_dispatch_lock`` is held)."""

    __slots__ = ("module",)

    def __init__(self, module: Any) -> None:
        self.module = module


_END = sys.maxsize  # list[_END:] = items appends them (a slice past the end)


def _drain(recorder: _Recorder) -> None:
    """Make the calls ``recorder`` filed directly entries of its block's short way
    (``Capture._pending``), their layers looked up in the model's index now (a module not there,
    later: see _Unresolved). Call with ``_dispatch_lock`` held: nothing here runs the user's code."""
    direct, owner = recorder.direct, recorder.owner
    if not direct or recorder.draining:  # nothing, or a finalizer run while draining: as it is
        return
    count = len(direct)  # threads may append meanwhile: take exactly these
    if owner is None:  # the block has ended
        del direct[:count]
        return
    try:
        recorder.draining = True  # in the try: an interrupt (Ctrl-C) must not leave it set
        recorder.ran = True
        positions, single, context = recorder.direct_layout
        filed = []
        paths = owner._paths
        for item in direct[:count]:
            path: str | _Unresolved | None = None
            if context is not None:
                module = item[context]
                entry = paths.get(id(module))  # Capture._checked's first lookup, inlined: it runs per call
                if entry is not None and entry[0]() is module:
                    path = entry[1]
                elif module is not None and module is not _MISSING:
                    found = owner._checked(module)  # runs none of the user's code
                    if type(found) is str:
                        path = found
                    else:  # not in the index, or moved: indexing again runs the user's code, later
                        path = _Unresolved(module)
                        owner._unresolved = True
            picked = item[single] if single is not None else tuple([item[p] for p in positions])
            filed.append((recorder, picked, path, item[-1]))
        # In one statement, which no interrupt (Ctrl-C) can split: the calls move to the block's list
        # (at its end, whatever other threads appended) and leave this one, neither twice nor lost.
        # Only now: a call waiting to file another way (see _Dispatcher.record) goes after these.
        owner._pending[_END:], direct[:count] = filed, ()
    finally:
        recorder.draining = False


def _still_at(model: Any, parts: tuple[str, ...], module: Any) -> bool | None:
    """Whether ``module`` is still the submodule at the path of ``parts`` in ``model`` (read from
    the modules' ``_modules``, as ``named_modules`` reads them: no ``__getattr__``, no user code);
    None when that cannot be told (not a torch module tree: its paths are taken as indexed)."""
    node = model
    try:  # a loop of dict lookups: it runs for each layer a block first meets
        for part in parts:
            node = node._modules.get(part)  # a dict, or the OrderedDict some containers make
            if node is None:
                return False
    except AttributeError:
        return None
    return node is module


def _method_of_module(func: types.FunctionType | None) -> bool:
    """Whether ``func`` is found as an attribute of an ``nn.Module`` class under its qualified name."""
    if func is None or not func.__code__.co_argcount:
        return False
    torch = sys.modules.get("torch")
    parts = func.__qualname__.split(".")
    if torch is None or len(parts) < 2 or "<locals>" in parts:
        return False
    try:  # the lookups may run a class's own code (a metaclass __getattr__)
        owner: Any = func.__globals__.get(parts[0])
        for part in parts[1:-1]:
            owner = getattr(owner, part, None)
        return (
            isinstance(owner, type)
            and issubclass(owner, torch.nn.Module)
            and inspect.getattr_static(owner, parts[-1], None) is func
        )
    except Exception:  # a torch without nn, a class that cannot be inspected: not sure, so no
        return False


# Whether a block alone on its function may file directly (see _Dispatcher._files_directly);
# tests turn it off to compare that way with the others.
_FILE_DIRECTLY = True
_dispatch_lock = threading.RLock()
_dispatchers: _engine.WeakIdMap[_Dispatcher] = _engine.WeakIdMap()  # each function's, while it lives


def _dispatcher(func: types.FunctionType) -> _Dispatcher:
    entry = _dispatchers.get(id(func))  # _dispatchers.find, inlined: this runs at every capture block
    if entry is not None and entry[0]() is func:
        return entry[1]
    with _dispatch_lock:
        found = _dispatchers.find(func)
        return found if found is not None else _dispatchers.put(func, _Dispatcher(func))


# Module paths of each model seen: id(module) -> (weak reference to it, path, the path's parts). Kept
# between blocks, since walking named_modules() of a large model costs more than a whole block of
# captures (each block checks the paths it uses: see Capture._begin_paths).
_Entry = tuple[weakref.ref[Any], str, tuple[str, ...]]
_module_paths: _engine.WeakIdMap[dict[int, _Entry]] = _engine.WeakIdMap()


TargetSpec = Any  # a function, method, "module:Qual.name" string, or Recipe


class Capture(Mapping[str, list[Any]], RecordReader[Record]):
    """The result of :func:`capture`, and the context manager that fills it.

    A mapping from ``'<qualname>.<variable>'`` (the keys of ``get_local.cache``) to the values
    captured in call order, plus :attr:`records` that know their layer, call and thread.
    """

    def __init__(
        self,
        targets: list[
            tuple[types.FunctionType, tuple[str, ...], tuple[str, str], tuple[Callable[[], Any], ...] | None]
        ],
        *,
        model: Any,
        convert: Converter | None,
        custom: bool,
        reduce: Callable[[Any], Any] | None,
        max_size: int | None,
        key_style: str,
        strict: bool,
        sites: Sequence[Mapping[str, frozenset[int] | None] | None] | None = None,
        sink: Any = None,
        read_as: Literal["numpy", "tensor", "raw"] = "numpy",
        grads: bool = False,
    ) -> None:
        self.model = model
        # grads=True: values stay in the autograd graph; the gradient that reaches each, in a slot
        # [gradient, id(record's value)] by record order (see _watch_gradient).
        self._track_grads = grads
        self._gradients: dict[int, list[Any]] = {}
        # sink=: records go to a Writer (a folder) as they come, and are read back from disk, as
        # numpy arrays or tensors (read_as: what values= gives in memory). A Writer the user made
        # may serve several blocks: the records of this one say its number there (block).
        self._sink = sink
        self._read_as = read_as
        self._writer: Any = None
        self._block: int | None = None
        self._on_disk: Any = None
        self.key_style = key_style
        self.strict = strict
        self._convert = convert
        self._custom = custom
        self._reduce = reduce
        self._processing = reduce is not None or convert is not None
        # Values kept as they are, in memory: records are made on the spot (see _Recorder.file).
        self._plain = not self._processing and not grads and sink is None
        self._max_size = max_size
        self._records: dict[str, deque[Record]] = {}
        self._order = itertools.count()
        # Calls filed the short way, waiting to become records: (recorder, values, path, thread),
        # the value alone when the recorder has one variable, the path a str, None or _Unresolved.
        self._pending: list[tuple[_Recorder, tuple[Any, ...], Any, int]] = []
        self._in_settle = False
        self._unresolved = False  # some _pending entry has a path to look up (see _Unresolved)
        recorders = []
        for i, (func, names, hints, objects) in enumerate(targets):
            recorders.append(_Recorder(self, func, names, hints, sites[i] if sites is not None else None, objects))
        self._recorders = recorders
        if len(recorders) > 1:
            _warn_shared_keys(recorders)
        # Which layer a module is (see _begin_paths): the model's paths (kept between blocks: see
        # _module_paths), and those this block has used since it began or was last cleared, each
        # checked against the model when first used.
        self._index: dict[int, _Entry] = {}
        self._paths: dict[int, _Entry] = {}
        self._reindexed = False
        # Modules found outside the model when it was last indexed (see _path_of).
        self._outside: dict[int, weakref.ref[Any]] = {}
        self._warned: set[object] = set()
        self._active = False

    _api = "capture"  # the call that made the block, as error messages show it

    # -- context manager -------------------------------------------------------------------
    def __enter__(self) -> Capture:
        if self._active:
            raise RuntimeError("this capture block is already active; create a new block instead")
        self._begin_paths()
        try:
            if self._sink is not None:
                from ._disk import Writer

                if isinstance(self._sink, Writer):
                    if self._sink._closing:
                        raise CaptureError(
                            f"sink={self._sink!r} is closed; give an open Writer, or a folder (the block then "
                            "opens and closes its own writer)"
                        )
                    self._writer = self._sink
                    self._block = next(self._sink._blocks)
                else:
                    # Held before it is built: an interrupt (Ctrl-C) as Writer() returns finds it
                    # here, to close (one cut short inside undid itself, and is not _opened).
                    self._writer = Writer.__new__(Writer)
                    self._writer.__init__(self._sink)
                self._on_disk = None
            self._start()
            self._active = True
            return self
        except BaseException:
            # Failed, or cut short by an interrupt (Ctrl-C), up to the return: nothing stays attached
            # (removing is idempotent), since no __exit__ will follow.
            self._active = False
            with contextlib.suppress(Exception):
                self._stop()
            if self._writer is not None and self._writer is not self._sink and self._writer._opened:
                self._writer.close()
            raise

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:  # from the first line: an interrupt landing as close() begins is caught too
            self.close(report=exc_type is None)
        except BaseException:
            self._unhook()
            raise

    def close(self, *, report: bool = True) -> None:
        """End the block: every target gets its original code back. Reports empty targets.

        ``report=False`` (the block's body raised): nothing is reported, and a write to the sink
        that failed is a warning, so that the body's own exception is the one that propagates.

        An interrupt (Ctrl-C) or any other exception that cuts the end short still leaves every
        target with its original code and the block receiving nothing, then goes on; the block
        stays open, and a second ``close()`` finishes its end (the sink's flush, the report).
        """
        try:  # from the first line: an interrupt landing anywhere below is caught
            if not self._active:
                return
            self._stop()
            self._settle()
            failed = self._end_writer(raising=report) if self._writer is not None else None
        except BaseException:
            self._unhook()
            raise
        self._active = False
        try:
            if failed is not None:
                raise failed
            if report:
                self._report()
        finally:
            for recorder in self._recorders:
                recorder.owner = None

    def _unhook(self) -> None:
        """After an exception cut the end short: finish restoring the functions (``_stop`` is
        idempotent), so that the block receives nothing more; its end is left to a second close()."""
        if self._active:
            with contextlib.suppress(Exception):
                self._stop()

    def _end_writer(self, raising: bool) -> Exception | None:
        """Everything on disk; a write that failed is returned, to raise, or warned about while
        another error propagates."""
        from ._disk import CaptureWriteError

        try:
            # A Writer the user made may serve several blocks: it is flushed, and closing it is
            # left to its owner.
            if self._writer is self._sink:
                self._writer.flush()
            else:
                self._writer.close()
        except CaptureWriteError as exc:
            if raising:
                return exc
            _engine.warn_once(self._warned, "write", f"{exc} (the block's own exception follows)", stacklevel=None)
        return None

    def _start(self) -> None:
        preferred()  # a forced ANYCAPTURE_BACKEND that cannot run is an error here, not later
        try:
            for recorder in self._recorders:
                recorder.owner = self
                recorder.dispatcher.add(recorder)
                target = _engine.target_of(recorder.func)
                # No backend could capture it (a CaptureWarning said why): the report says so,
                # not that it never ran.
                recorder.uncapturable = target is None or target.backend is None
        except BaseException:
            # Every one, added or not (removing is idempotent): one an interrupt (Ctrl-C) cut
            # short half way through add() is undone too.
            for recorder in self._recorders:
                recorder.dispatcher.remove(recorder)
            raise

    def _stop(self) -> None:
        for recorder in self._recorders:
            recorder.dispatcher.remove(recorder)

    def _settle(self) -> None:
        """Make the records of the calls filed the short way so far, in the order they returned.

        Every reader runs this first. Records are numbered here (call, order), which is the
        block's own order since all its targets file the same way onto one list.
        """
        with _settling:  # readers wait for a settle running in another thread
            if self._in_settle:  # a finalizer reading the block while it settles: as it is
                return
            try:  # not a finally: an interrupt (Ctrl-C) landing on it would leave the flag set
                self._in_settle = True
                self._settle_now()
                self._in_settle = False
            except BaseException:
                self._in_settle = False
                raise

    def _settle_now(self) -> None:
        for recorder in self._recorders:
            if recorder.direct:
                with _dispatch_lock:
                    _drain(recorder)
        pending = self._pending
        if not pending:
            return
        if self._unresolved:
            self._resolve(pending)
        count = len(pending)  # other threads may append meanwhile: take exactly these
        taken = pending[:count]
        order, recorders = self._order, self._recorders
        if len(recorders) == 1 and len(recorders[0].slots) == 1:
            # One target, one variable (an attention map): the records made in one comprehension.
            recorder = recorders[0]
            ((_, key, name, records),) = recorder.slots
            label, first, bound = recorder.label, recorder.calls, recorder.bound[0]
            made = [
                _make_record(Record, (key, name, value, label, path, call, thread, next(order), None, None, None))
                for call, (_, value, path, thread) in enumerate(taken, first)
                if value is not _MISSING
            ]
            length = len(records)
            try:
                del pending[:count]
                recorder.calls = first + count
                recorder.bound[0] = bound + len(made)
                records.extend(made)
            except BaseException:
                self._unsettle([(recorder, first, [bound], [length])], taken)
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
                        records.append(_make_record(Record, fields))
        except BaseException:
            self._unsettle(before, taken)
            raise

    def _unsettle(self, before: list[tuple[Any, ...]], taken: list[tuple[Any, ...]]) -> None:
        """Undo a settle that an interrupt (Ctrl-C) cut short: each recorder's calls, bound counts and
        records as they were (``before``), and the calls ``taken`` back first in the list (unless
        they never left it), so that the next settle makes each record exactly once."""
        for recorder, calls, bound, lengths in before:
            for (_, _, _, records), length in zip(recorder.slots, lengths, strict=True):
                while len(records) > length:
                    records.pop()
            recorder.calls = calls
            recorder.bound[: len(bound)] = bound
        pending = self._pending
        if not (pending and pending[0] is taken[0]):
            pending[:0] = taken

    def _resolve(self, pending: list[tuple[Any, ...]]) -> None:
        """Look up the paths _drain left unresolved (see _Unresolved); runs in ``_settle``."""
        self._unresolved = False
        for i in range(len(pending)):  # other threads may append meanwhile, never replace
            entry = pending[i]
            if type(entry[2]) is _Unresolved:
                pending[i] = (entry[0], entry[1], self._path_of(entry[2].module), entry[3])

    def _report(self) -> None:
        problems = self._problems()
        if not problems:
            return
        message = "nothing captured for: " + " ".join(problems)
        if self.strict:
            raise EmptyCaptureError(message)
        warnings.warn(message, CaptureWarning, stacklevel=4)

    def _problems(self) -> list[str]:
        problems = []
        for recorder in self._recorders:
            hint = f" Hint: {recorder.hint}" if recorder.hint else ""
            if recorder.calls == 0 and recorder.uncapturable:
                problems.append(f"{recorder.label} could not be captured (the CaptureWarning above says why)")
                continue
            if recorder.calls == 0:
                unrun = f" Hint: {recorder.unrun_hint}" if recorder.unrun_hint else ""
                if recorder.sites is not None:  # when="each": calls are counted at the assignments kept
                    listed = ", ".join(map(repr, recorder.names))
                    problems.append(
                        f"no assignment to {listed} that the block keeps ran in {recorder.label}"
                        f"{_bound_to(recorder.objects)} inside the capture block (it never ran, or never "
                        f"reached them).{hint if recorder.ran else unrun}"
                    )
                elif not recorder.ran:  # else its one call returned as the block ended: too late to tell
                    problems.append(
                        f"{recorder.label}{_bound_to(recorder.objects)} never ran inside the capture block, or "
                        f"every call of it raised (values are captured at returns).{unrun}"
                    )
                continue
            if 0 not in recorder.bound:  # every variable bound (the usual case)
                continue
            never = [name for name, count in zip(recorder.names, recorder.bound, strict=True) if count == 0]
            if never:
                from ._analysis import comprehension_only

                listed = ", ".join(map(repr, never))
                code = _engine.original_code(recorder.func)
                why = ""
                with contextlib.suppress(Exception):  # only to explain: the report must still be given
                    why = "".join(f" {note}." for note in (comprehension_only(code, name) for name in never) if note)
                problems.append(
                    f"{listed} of {recorder.label} {'was' if len(never) == 1 else 'were'} never bound "
                    f"in its {recorder.calls} call(s).{why}{hint}"
                )
        return problems

    # -- which layer -------------------------------------------------------------------------
    def _begin_paths(self, clearing: bool = False) -> None:
        """Start a block's paths (``clearing``: after ``clear()``): each is checked again when next used.

        The model's index is kept between blocks, and layers may have been removed, swapped or
        moved since it was made: a path is checked against the model (``_still_at``) when first
        used after the block begins or is cleared, then kept until the next clear. A call filed
        one by one uses it as the call returns; calls filed directly, when the block is read.
        """
        if not clearing:
            self._index_model()
        self._paths, self._reindexed = {}, False

    def _index_model(self, fresh: bool = False) -> None:
        """Take the model's index kept between blocks (``fresh``: index it again, now)."""
        model = self.model
        if model is None:
            return
        named = getattr(model, "named_modules", None)
        if named is None:
            raise TypeError(f"model= must be a torch nn.Module (anything with named_modules()); got {model!r}")
        paths = None if fresh else _module_paths.find(model)
        if paths is None:
            paths = {
                id(module): (weakref.ref(module), name, tuple(name.split(".")) if name else ())
                for name, module in named()
            }
            with contextlib.suppress(TypeError):  # a model that cannot be weakly referenced: no cache
                _module_paths.put(model, paths)
        self._index = paths
        if fresh:  # the model changed, or has a module it had not: every path is checked again
            self._paths, self._outside, self._reindexed = {}, {}, True

    def _checked(self, obj: Any) -> str | bool:
        """``obj``'s path, from those this block has used or, checked against the model first
        (see _begin_paths), from the index; False when it is not in the index, True when it is but
        no longer at that path. Runs none of the user's code."""
        entry = self._paths.get(id(obj))
        if entry is not None and entry[0]() is obj:
            return entry[1]
        entry = self._index.get(id(obj))
        if entry is None or entry[0]() is not obj:
            return False
        # Once the model was indexed again since the block began or was cleared, the index is as
        # named_modules() names the modules (a model whose names are not its _modules tree always
        # fails the check).
        if not self._reindexed and _still_at(self.model, entry[2], obj) is False:
            return True
        self._paths[id(obj)] = entry
        return entry[1]

    def _lookup(self, obj: Any) -> str | None:
        found = self._checked(obj)
        if found is True:  # the model changed: index it as it is now
            self._index_model(fresh=True)
            found = self._checked(obj)
        return found if type(found) is str else None

    def _path_of(self, obj: Any) -> str | None:
        if obj is None or self.model is None or type(obj) in PLAIN_TYPES:
            return None
        path = self._lookup(obj)
        if path is not None or not hasattr(obj, "named_modules"):
            return path
        # A module not in the index: added to the model since it was indexed (index the model
        # once more, once since the block began or was cleared), or outside the model (remembered
        # until the model is next indexed, so that a module called outside the model, batch
        # after batch, does not walk the model each time).
        outside = self._outside.get(id(obj))
        if outside is not None and outside() is obj:
            return None
        if not self._reindexed:
            self._index_model(fresh=True)
            path = self._lookup(obj)
            if path is not None:
                return path
        with contextlib.suppress(TypeError):  # not weakly referable: looked for again next time
            self._outside[id(obj)] = weakref.ref(obj)
        return None

    def _find_layer(self, module: Any, depth: int, method: bool) -> str | None:
        """The layer of a call whose first argument is not in the model's index: a module added
        since (found by indexing again), else, for a plain function (F.multi_head_attention_forward),
        the nearest caller's; none for a method of a module outside the model (``method``).
        ``depth`` is the captured function's frame, counted from the caller."""
        path = self._path_of(module)
        if path is not None or method:
            return path
        return self._path_from_stack(sys._getframe(depth + 1))

    def _path_from_stack(self, frame: types.FrameType | None) -> str | None:
        """The path of the nearest module of the model among the callers' first arguments."""
        for _ in range(_STACK_DEPTH):
            if frame is None:
                return None
            code = frame.f_code
            if code.co_argcount:
                first = _engine.read_local(frame, code.co_varnames[0])
                path = self._lookup(None if first is _MISSING else first)
                if path is not None:
                    return path
            frame = frame.f_back
        return None

    def _process(self, key: str, value: Any) -> Any:
        raw = value
        try:
            if self._reduce is not None:
                value = compact(self._reduce(value))  # a slice would keep the whole value alive
            if self._convert is not None and (self._custom or type(value) not in PLAIN_TYPES):
                value = self._convert(value)
        except Exception as exc:
            _engine.warn_once(
                self._warned,
                ("convert", key),
                f"could not reduce or convert a value captured as {key} ({type(exc).__name__}: {exc}); "
                "the raw value was kept (this warning is shown once per key)",
                stacklevel=None,
            )
            return raw
        return value

    def _file(
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
        """Process one captured value and append its record. Runs inside the user's code."""
        order = next(self._order)
        if self._track_grads:
            self._watch_gradient(key, value, order)
        if self._processing:
            value = self._process(key, value)
        if self._writer is not None:
            self._writer._put(self._meta(key, name, label, path, call, order, line, site, assignment), value)
            return
        slot = self._gradients.get(order) if self._track_grads else None
        if slot is not None:
            slot[1] = id(value)  # the value the record keeps (reduce= may derive it)
        if records.maxlen is not None and len(records) == records.maxlen and self._gradients:
            self._gradients.pop(records[0].order, None)  # the record max_size drops, and its gradient
        records.append(Record(key, name, value, label, path, call, get_ident(), order, line, site, assignment))

    def _meta(
        self,
        key: str,
        name: str,
        label: str,
        path: str | None,
        call: int,
        order: int,
        line: int | None = None,
        site: int | None = None,
        assignment: int | None = None,
    ) -> dict[str, Any]:
        """A record's metadata as the writer of ``sink=`` stores it."""
        meta = {"key": key, "name": name, "function": label, "path": path, "call": call, "thread": get_ident()}
        meta.update(order=order, line=line, site=site, assignment=assignment)
        if self._block is not None:
            meta["block"] = self._block
        return meta

    @property
    def _streams_rows(self) -> bool:
        """Whether a value made in parts along one axis can go to the sink a part at a time: a sink,
        and nothing that needs the whole value (a reduce, a collate_fn, gradients)."""
        return self._writer is not None and self._reduce is None and not self._custom and not self._track_grads

    def _file_rows(
        self, key: str, name: str, parts: Any, rows: int, axis: int, label: str, path: str | None, call: int
    ) -> None:
        """File one record whose value comes in ``parts`` along ``axis`` straight to the sink, each part
        converted (``values=``) on its own: the whole value is never held (see ``Writer.write_rows``)."""
        meta = self._meta(key, name, label, path, call, next(self._order))
        convert = self._convert
        converted = parts if convert is None else (convert(part) for part in parts)
        self._writer._put_rows(meta, converted, rows, axis)

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
            _engine.warn_once(self._warned, ("grad", key), f"cannot follow the gradient of {key}: {exc!r}", 5)
            return
        self._gradients[order] = slot

    def _records_of(self, key: str) -> deque[Record]:
        records = self._records.get(key)
        if records is None:
            records = self._records[key] = deque(maxlen=self._max_size)
        return records

    # -- reading ---------------------------------------------------------------------------
    @property
    def sink(self) -> Any:
        """The folder (or :class:`anycapture.Writer`) this block streams to; ``None`` in memory."""
        return self._sink

    @property
    def reduced(self) -> bool:
        """Whether the block keeps what ``reduce=`` made of each value rather than the value itself."""
        return self._reduce is not None

    def stored(self) -> Any:
        """With ``sink=``: the folder's records, read lazily (an :class:`anycapture.CaptureFolder`).

        Inside the block, what was captured so far is flushed to disk first.
        """
        if self._sink is None:
            raise TypeError("this capture block keeps its records in memory (no sink= was given)")
        from ._disk import CaptureFolder

        writer = self._writer
        if writer is None:
            raise RuntimeError("this capture block has not run yet: its records are read after `with` begins")
        growing = self._active or writer is self._sink
        if growing:
            writer.flush()
        # Read again while the folder may grow, and once after the block's end closed it (a read
        # inside the block saw it unfinished); the shards read before are kept, not parsed again.
        if growing or self._on_disk is None or not self._on_disk.complete:
            self._on_disk = CaptureFolder(writer.folder, self._read_as, earlier=self._on_disk)
        # With a Writer shared between blocks, this block's records.
        return self._on_disk.only_block(self._block, known=self._known())

    def grad(self, record: Record) -> Any:
        """With ``grads=True``: the gradient that reached ``record``'s value in backward, or ``None``.

        ``None`` when backward has not run, did not reach the value, or the value was captured
        without autograd (under ``torch.no_grad()``, or a tensor that does not require grad).
        Gradients pair with their record (layer and call), whatever order backward ran in.
        """
        self._require_grads()
        found = self._grad_of(record)
        if found is None and not any(kept is record for kept in self._records.get(record.key, ())):
            raise ValueError(f"{_label(record)} is not a record of this capture block (or was cleared)")
        return found

    def _grad_of(self, record: Record) -> Any:
        """The gradient kept for one of this block's records (None if none)."""
        slot = self._gradients.get(record.order)
        return slot[0] if slot is not None and slot[1] == id(record.value) else None

    def _require_grads(self) -> None:
        if not self._track_grads:
            raise TypeError("this capture block does not follow gradients; use capture(..., grads=True)")

    def grads(self, name: str | None = None, pattern: str = "*") -> list[Any]:
        """The gradients of :meth:`select`'s records (``None`` where there is none), in their order."""
        self._require_grads()
        return [self._grad_of(record) for record in self.select(pattern, name)]

    def __getitem__(self, key: str) -> list[Any]:
        if self._sink is not None:
            return self.stored()[key]  # type: ignore[no-any-return]
        self._settle()
        records = self._records.get(key)
        if not records:
            raise KeyError(self._missing(key))
        taken = list(records)  # one C call: other threads may be appending to the deque
        if any_pending():  # values still being copied from a device: wait for them now
            return [resolve(record.value) for record in taken]
        return [record.value for record in taken]

    def _missing(self, key: str) -> str:
        """What a lookup of ``key`` that found nothing says: a variable's name is not a key."""
        keys = [k for k, records in self._records.items() if records]
        if any(k.rsplit(".", 1)[-1] == key for k in keys):
            return (
                f"{key!r} is a variable's name; keys are '<function>.<variable>': {keys}. "
                f"cap.stack({key!r}), cap.select(name={key!r}) and cap.by_path({key!r}) take the name"
            )
        return key

    def __iter__(self) -> Iterator[str]:
        if self._sink is not None:
            return iter(self.stored())
        self._settle()
        return iter([key for key, records in self._records.items() if records])

    def __len__(self) -> int:
        if self._sink is not None:
            return len(self.stored())
        self._settle()
        return sum(1 for records in self._records.values() if records)

    def __repr__(self) -> str:
        if self._sink is not None:
            return f"<Capture streamed to {str(getattr(self._writer, 'folder', self._sink))!r}>"
        counts = ", ".join(f"{key!r}: {len(self._records[key])} value(s)" for key in self)
        return f"<Capture {{{counts}}}>"

    # The primitives RecordReader's records, select, by_path and stack stand on.
    def _all_records(self) -> list[Record]:
        if self._sink is not None:
            return self.stored().records  # type: ignore[no-any-return]
        self._settle()
        merged = [record for records in list(self._records.values()) for record in list(records)]
        if any_pending():  # values still being copied from a device: wait for them now
            merged = [_ready(record) for record in merged]
        return sorted(merged, key=lambda record: record.order)

    def _values_of(self, records: list[Record]) -> list[Any]:
        return [record.value for record in records]

    def _names_asked(self) -> set[str]:
        return self._known()

    def _no_paths_message(self) -> str:
        return _no_paths(self.model, self._api)

    def _known(self) -> set[str]:
        """The variables and keys this block asked for (a variable may be unbound in every call)."""
        return {name for recorder in self._recorders for name in (*recorder.names, *recorder.keys)}

    def by_path(self, name: str | None = None, pattern: str = "*") -> dict[str, list[Any]]:
        """``{module path: [values in call order]}`` for variable ``name`` (or key)."""
        if self._sink is not None:
            return self.stored().by_path(name, pattern)  # type: ignore[no-any-return]
        return super().by_path(name, pattern)

    def stack(self, name: str | None = None, pattern: str = "*", *, grad: bool = False) -> Any:
        """The selected values stacked on a new first axis (layers), as one array or tensor.

        With 12 attention maps of shape ``[batch, heads, q, k]`` this gives ``[12, batch, heads, q, k]``.
        ``grad=True`` (with ``grads=True``) stacks their gradients instead, in the same order.
        """
        if self._sink is not None:
            if grad:
                raise TypeError("gradients are not written to sinks; capture with grads=True and no sink=")
            return self.stored().stack(name, pattern)
        records = self.select(pattern, name)
        if grad and records:
            self._require_grads()
            gradients = [self._grad_of(record) for record in records]
            missing = [_label(r) for r, g in zip(records, gradients, strict=True) if g is None]
            if missing:
                raise ValueError(
                    f"no gradient reached {', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}: run "
                    "backward first, outside torch.no_grad(), on an output that depends on them"
                )
            return _stack(gradients, [_label(record) for record in records])
        return self._stacked(records, name, pattern)

    def _nothing_for(self, name: str | None, pattern: str) -> str:
        """Why ``stack()`` has nothing to stack: what was captured instead, or why nothing was (the
        end-of-block report, with a recipe's hint), and where to look next."""
        captured = list(self)
        message = f"no values captured for name={name!r}, pattern={pattern!r}; captured keys: {captured}"
        if captured:
            return message
        problems = [] if self._active else self._problems()
        why = (": " + " ".join(problems)) if problems else "."
        if "capture_attention" not in why:  # a recipe's hint may have said it already
            why += (
                " For attention maps of a model that uses fused attention (transformers' default 'sdpa', timm's "
                "fused_attn), anycapture.capture_attention(model=...) captures them without changing how the model "
                "is loaded"
            )
        return f"{message}. Nothing at all was captured in this block{why}"

    def clear(self) -> None:
        """Forget every record captured so far (and, with ``grads=True``, their gradients)."""
        if self._sink is not None:
            raise TypeError(
                f"this block's records are on disk in {str(self._sink)!r}; delete the folder to forget them"
            )
        self._settle()  # the counts of calls and bound variables, for the end-of-block report
        for records in self._records.values():
            records.clear()
        self._gradients.clear()
        self._begin_paths(clearing=True)  # the model may change between batches (layers pruned, swapped)


def _warn_shared_keys(recorders: list[_Recorder]) -> None:
    """Two targets of one block whose keys are the same (functions of one qualified name in two
    modules) would share a list: say so, as get_local does, at the user's ``capture()`` call."""
    owners: dict[str, tuple[object, str]] = {}
    for recorder in recorders:
        fix = "capture(..., key_style='module')"
        for _, _, message in shared_keys(owners, recorder, recorder.label, recorder.keys, fix, " in this block"):
            warnings.warn(message, CaptureWarning, stacklevel=4)


def _ready(record: Record) -> Record:
    """``record`` with its value's copies from a device finished (the same record if there are none)."""
    value = resolve(record.value)
    return record if value is record.value else record._replace(value=value)


def capture(
    target: TargetSpec | Mapping[TargetSpec, str | Iterable[str]],
    *varnames: str,
    model: Any = None,
    values: Literal["numpy", "tensor", "raw"] = "numpy",
    device: Any = None,
    clone: bool = False,
    collate_fn: Callable[[Any], Any] | None = None,
    reduce: Callable[[Any], Any] | None = None,
    max_size: int | None = None,
    key_style: Literal["qualname", "module"] = "qualname",
    strict: bool = False,
    when: Literal["return", "each"] = "return",
    at: int | None = None,
    line: int | None = None,
    sink: Any = None,
    grads: bool = False,
) -> Capture:
    """Capture locals of ``target`` for the duration of a ``with`` block, in place.

    ``target`` is a function or method object, a ``"package.module:Qualified.name"`` string, a
    :class:`~anycapture.recipes.Recipe`, or a mapping of such targets to variable names. A method
    bound to one object (``vit.blocks[3].attn.forward``) keeps that object's calls only. Nothing in
    the model changes: the target's code is instrumented on entry and restored exactly on exit,
    even if the block raises, and references to it held anywhere see the capture.

    Args:
        model: the root ``nn.Module``; records then carry the module path (``blocks.3.attn``) of
            the layer each value came from.
        values, device, clone, collate_fn, max_size, key_style: as for ``get_local.activate``.
        reduce: applied to each raw value at capture time (before conversion), e.g.
            ``lambda attn: attn.mean(1)`` to keep only the head average.
        strict: raise :class:`EmptyCaptureError` instead of warning when a target never ran or a
            variable was never bound in the block.
        when: ``"return"`` (the default) records each variable's final value at every return;
            ``"each"`` records its value right after every assignment, each record tagged with the
            source ``line``, the assignment ``site`` and its index within the call
            (``assignment``). Needs the ``bytecode`` backend.
        sink: a folder to stream records to as they are captured, as safetensors shards written
            by a background thread, so memory stays flat over long runs; reading the result
            (``cap[key]``, ``records``, ``stack``...) reads the folder lazily. The block's end
            closes that writer. An :class:`anycapture.Writer` may be given instead, to share one
            folder between blocks: the block's end flushes it, and its owner closes it.
            See docs/scale.md.
        at, line: with ``when="each"``, keep only one assignment site: ``at`` is its position in
            source order (0 for the first, -1 for the last; :func:`anycapture.assignments`
            lists them), ``line`` its source line.
        grads: keep tensors as they are, in the autograd graph (not detached), and keep the
            gradient that reaches each one in backward: ``cap.grad(record)``, ``cap.grads(name)``,
            ``cap.stack(name, grad=True)`` (gradient x attention relevance, Chefer et al. 2021).

    >>> import difflib
    >>> from anycapture import capture
    >>> with capture(difflib.SequenceMatcher.ratio, "matches") as cap:
    ...     _ = difflib.SequenceMatcher(None, "abcd", "bcde").ratio()
    >>> cap["SequenceMatcher.ratio.matches"]
    [3]
    """
    # A block per forward calls this with the same arguments each time: what they gave (checked
    # options, normalised targets, their sites) is kept, a few plans per target (a str, or the id of
    # an object), and the target checked to resolve the same (see _targets.Resolved). Plain
    # arguments only (no callables or sink, which a cache would keep alive), compared by identity
    # (True == 1, and only one of them is a flag), without a tuple or hash: this runs with the CPU
    # caches a forward left behind, where every object touched costs.
    for plan in plans.get(target if type(target) is str else id(target), ()):
        if (
            plan.values is values
            and plan.device is device
            and plan.clone is clone
            and plan.max_size is max_size
            and plan.key_style is key_style
            and plan.strict is strict
            and plan.when is when
            and plan.at is at
            and plan.line is line
            and plan.grads is grads
            and sink is None
            and (reduce is None if plan.reduce is None else reduce is not None and plan.reduce() is reduce)
            and (
                collate_fn is None
                if plan.collate_fn is None
                else collate_fn is not None and plan.collate_fn() is collate_fn
            )
            and plan.varnames == varnames
        ):
            targets = plan.resolved.now(target)
            if targets is None:
                break
            if when != "return":  # the backend forced may have changed since
                require("sees_assignments", "capture(..., when='each')")
            convert = plan.convert if collate_fn is None else collate_fn
            return Capture(targets, model=model, reduce=reduce, convert=convert, **plan.keywords)
    check_flag("strict", strict)
    options = value_options(values, device, clone, collate_fn, reduce, max_size, sink, key_style=key_style, grads=grads)
    if when != "return" or at is not None or line is not None:
        check_when(when, at, line, "capture")
    targets, resolved = normalise_targets(target, varnames)
    sites = None
    if when == "each":
        require("sees_assignments", "capture(..., when='each')")
        sites = [
            {
                name: select_sites(func, _engine.original_code(func), name, at, line, "capture(when='each')")
                for name in names
            }
            for func, names, _, _ in targets
        ]
    # Capture.__init__ takes the options one by one for now (the lead's merge passes ValueOptions whole).
    keywords = {"key_style": key_style, "strict": strict, "sites": sites, "grads": grads, **options.block_keywords()}
    # Nothing of the user's is kept: a callable weakly, or not at all where it takes no weak reference.
    kept = sink is None and (device is None or type(device) is str) and weakly(reduce) and weakly(collate_fn)
    if resolved is not None and kept:
        if len(plans) >= PLANS_MAX:
            plans.clear()
        plan = Plan(varnames, values, device, clone, max_size, key_style, strict, when, at, line, grads, resolved)
        plan.reduce = None if reduce is None else weakref.ref(reduce)
        plan.collate_fn = None if collate_fn is None else weakref.ref(collate_fn)
        plan.convert = None if collate_fn is not None else options.convert
        plan.keywords = {name: value for name, value in keywords.items() if name not in ("reduce", "convert")}
        # The newest first, beside the few others kept (a loop may alternate values= modes); the
        # others' targets were resolved before, and are checked again when used.
        plan_key = target if type(target) is str else id(target)
        plans[plan_key] = (plan, *plans.get(plan_key, ())[: PLANS_PER_TARGET - 1])
    return Capture(targets, model=model, **keywords)

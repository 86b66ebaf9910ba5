"""Routing each call of a captured function to the blocks that want it: one ``_Dispatcher`` a function.

The dispatcher hands the engine filers that depend only on the names watched, so a loop of blocks
reuses one instrumented code object; each call's values go to the active blocks' recorders
(``_recorder``), which file them through their block's intake (``_intake``). A block alone on its
function may have the function's code file its calls itself, with no Python call (a
``_DirectFiler``); ``_drain`` makes those calls entries of the block's list.
"""

from __future__ import annotations

import functools
import inspect
import itertools
import sys
import threading
import types
import weakref
from collections.abc import Callable
from threading import get_ident
from typing import Any

from . import _engine
from ._backends import can
from ._errors import _PACKAGE_DIR, CaptureError
from ._functions import key_for
from ._layers import Unresolved
from ._recorder import Call, _among, _Recorder

__all__ = ["_Dispatcher", "_dispatcher", "drain_all"]

_MISSING = _engine.MISSING

_SWEEP_AT = 32  # calls open at once before those that raised are looked for (doubles as needed)
# Suspended generators cannot be told from abandoned ones; beyond this many, the oldest are
# forgotten (a generator resumed after that counts as a new call), so frames never pile up.
_MAX_GENERATOR_CALLS = 64
_MAX_LAYOUTS = 64  # name sets (and value options) remembered: a loop of blocks uses one or two


class _Dispatcher:
    """Every active block's interest in one function, behind filers that stay the same.

    Blocks come and go, but the filers handed to the engine depend only on the names watched, so a
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
        # when="each": the names watched, one stable filer per name, the calls running now (by
        # frame id; a call leaves at its return, or when a sweep finds it raised), and their serials.
        self.each_watched: tuple[str, ...] = ()
        self._each_filers: dict[str, _engine.EachFiler] = {}
        self._calls: dict[int, Call] = {}
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
        # _refresh), a _DirectFiler whose ``append`` the code calls with one tuple per call.
        self._collectors: dict[tuple[str, ...], Callable[..., None]] = {}
        self._filers: dict[tuple[str, ...], _DirectFiler] = {}
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
        # Filing directly: (names, whether layers are told) -> (watched, the recorder's
        # direct_layout, the filer), so that the same block as last time starts with no planning.
        self._direct_plans: dict[tuple[tuple[str, ...], bool], tuple[Any, ...]] = {}

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

    def _each_filer(self, name: str) -> _engine.EachFiler:
        """The filer of ``name``'s assignments, one per name for the dispatcher's life."""
        filer = self._each_filers.get(name)
        if filer is None:
            filer = self._each_filers[name] = self._make_each(name)
        return filer

    def _make_each(self, name: str) -> _engine.EachFiler:
        calls, serial, first, dispatcher = self._calls, self._serial, self.first, self

        def each(value: Any, site: int) -> None:
            try:
                frame = sys._getframe(1)
                call = calls.get(id(frame))
                if call is None or call.frame is not frame:
                    if len(calls) >= dispatcher._sweep_at:
                        dispatcher._sweep()
                    call = calls[id(frame)] = Call(frame, next(serial), first)
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

    def _refresh(self) -> str | None:
        """Hand the engine what the recorders now want; returns the backend capturing now (None: none)."""
        func = self._func()
        if func is None:
            self._shorts, self._filed = (), ()
            return None
        recorders = self.recorders
        if len(recorders) == 1 and not self.each_recorders:
            # Whether its calls can be filed with no Python call: it is the only one, of a block with
            # no other target (whose calls it would have to be ordered with), filing the short way,
            # keeping values as they are, its calls not told apart by their first argument, and its
            # layers can be told after the call from the first argument alone (no model, or a method
            # of an ``nn.Module`` class: a plain function's layer may be found in its callers'
            # frames, there only while it runs). Inline, not a method: each Python call costs about
            # 3 us at a block's start, right after a forward (3.11).
            recorder = recorders[0]
            intake = recorder.intake
            if (
                _FILE_DIRECTLY
                and intake is not None
                and recorder.short
                and not intake.processing
                and intake.targets == 1
                and recorder.objects is None
                and (intake.layers is None or self.module_method)
            ):
                return self._start_direct(func, recorder)
        self._stop_direct()
        if not recorders and not self.each_recorders:
            _engine.detach(func, self)
            self._shorts, self._filed = (), ()
            self._calls.clear()
            self._sweep_at = _SWEEP_AT
            return None
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
            elif recorder.intake is not None:
                single = places[0] if len(places) == 1 else None
                shorts.append((recorder, places, single, recorder.intake.pending.append))
        self._shorts, self._filed = tuple(shorts), tuple(filed)
        each_names: list[str] = []
        for recorder in self.each_recorders:
            each_names += [name for name in recorder.names if name not in each_names]
        self.each_watched = tuple(each_names)
        # Every site of a watched name is instrumented, whatever sites the blocks chose (they filter
        # in file_each), so that ``assignment`` counts all of the call's assignments to the name.
        each = {name: (None, self._each_filer(name), True) for name in each_names} if each_names else None
        backend = _engine.attach(func, self, {}, (watched, self._collector(watched)), each=each)
        if each and not can(backend, "sees_assignments"):
            _engine.detach(func, self)
            raise CaptureError(
                f"capturing every assignment in {self.label} needs the 'bytecode' backend, which could not "
                f"rewrite it (backend now: {backend}); see the CaptureWarning just given"
            )
        return backend

    def _collector(self, watched: tuple[str, ...]) -> Callable[..., None]:
        """What the code hands a call's values of ``watched`` to: ``record(watched, *values)``."""
        collector = self._collectors.get(watched)
        if collector is None:
            collector = functools.partial(self.record, watched)
            if len(self._collectors) < _MAX_LAYOUTS:
                self._collectors[watched] = collector
        return collector

    def _filer(self, watched: tuple[str, ...]) -> _DirectFiler:
        """The _DirectFiler of the code filing directly values of ``watched``; it files late when made.

        Every filer handed out is kept until it is evicted, so that ``_stop_direct`` can point it
        back at ``late`` when its block ends: one left pointing at a block's list would keep
        appending there (holding values alive, and filing them in an ended block). Beyond
        :data:`_MAX_LAYOUTS`, the oldest is evicted, and files late for good (code built for it may
        still run), and so are the plans that hand it out.
        """
        filers = self._filers
        filer = filers.get(watched)
        if filer is None:
            if len(filers) >= _MAX_LAYOUTS:
                evicted = filers.pop(next(iter(filers)))
                evicted.append = evicted.late
                for key in [key for key, plan in self._direct_plans.items() if plan[2] is evicted]:
                    del self._direct_plans[key]
            filer = filers[watched] = _DirectFiler(functools.partial(self._file_packed, watched))
        return filer

    def _start_direct(self, func: types.FunctionType, recorder: _Recorder) -> str | None:
        """Have the function's code append ``(first argument?, *values, thread id)`` to the
        recorder's list itself at each return: a C call, no Python frame (see _drain)."""
        intake = recorder.intake
        assert intake is not None
        key = (recorder.names, intake.layers is not None)
        plan = self._direct_plans.get(key)  # the same block as last time: planned then
        if plan is None:
            if intake.layers is None:
                watched, positions, context = recorder.names, tuple(range(len(recorder.names))), None
            else:
                watched, _, (positions,) = self._layout((recorder.names,))
                context = 0
            plan = (watched, (positions, positions[0] if len(positions) == 1 else None, context), self._filer(watched))
            if len(self._direct_plans) < _MAX_LAYOUTS:
                self._direct_plans[key] = plan
        watched, layout, filer = plan
        if recorder is not self._direct_recorder:
            # With no recorder filing directly, every filer files late already (_stop_direct sets
            # them before it forgets the recorder), and a backlog is what remains to stop.
            if self._direct_recorder is not None or self._backlog is not None:
                self._stop_direct()
            recorder.direct_layout = layout
            self._direct_recorder = recorder
        filer.append = recorder.direct.append
        self._shorts, self._filed, self.each_watched = (), (), ()
        self.watched = watched
        return _engine.attach(func, self, {}, (watched, filer), packed=True)

    def _stop_direct(self) -> None:
        """Code filing directly files late from now on, and the calls it filed so far go to their
        block before any call files another way (``record`` waits for the backlog)."""
        for filer in self._filers.values():  # first: run again after an interrupt, this is what matters
            filer.append = filer.late
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

    def add(self, recorder: _Recorder) -> str | None:
        """Route the function's calls to ``recorder`` too; returns the backend capturing it (None: none can)."""
        with _dispatch_lock:
            if recorder.sites is None:
                self.recorders = (*self.recorders, recorder)
            else:
                recorder.base = next(self._serial)  # calls begun from now on get later serials
                self.each_recorders = (*self.each_recorders, recorder)
            try:
                return self._refresh()
            except BaseException:
                self.recorders = tuple(r for r in self.recorders if r is not recorder)
                self.each_recorders = tuple(r for r in self.each_recorders if r is not recorder)
                self._refresh()
                raise

    def remove(self, recorder: _Recorder) -> None:
        with _dispatch_lock:
            recorders = self.recorders
            if len(recorders) == 1 and recorders[0] is recorder:  # the usual case, with no call
                self.recorders = ()
            elif recorder.sites is None:
                self.recorders = _without(recorders, recorder)
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
            intake = recorder.intake
            if intake is None:  # a call that returned while its block was ending
                continue
            objects = recorder.objects
            if objects is not None and not _among(values[context] if context is not None else None, objects):
                continue  # another object's call
            try:
                recorder.ran = True
                layers = intake.layers
                path = None
                if layers is not None:
                    path = layers.find_layer(values[context] if context is not None else None, 1, self.module_method)
                if single is not None:  # one variable: its value alone, not in a tuple of its own
                    picked: Any = values[single]
                    if intake.processing and picked is not _MISSING:
                        picked = intake.process(recorder.keys[0], picked)
                else:
                    picked = tuple([values[p] for p in positions])
                    if intake.processing:
                        keys = recorder.keys
                        picked = tuple(
                            [v if v is _MISSING else intake.process(keys[i], v) for i, v in enumerate(picked)]
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


def _without(recorders: tuple[_Recorder, ...], recorder: _Recorder) -> tuple[_Recorder, ...]:
    return tuple([r for r in recorders if r is not recorder])


class _DirectFiler:
    """What code filing directly calls at each return: ``append((*values, thread id))``, the list
    of the recorder filed directly, or ``late`` (see _Dispatcher._file_packed) once that ended."""

    __slots__ = ("append", "late")

    def __init__(self, late: Callable[[tuple[Any, ...]], None]) -> None:
        self.late = self.append = late


_END = sys.maxsize  # list[_END:] = items appends them (a slice past the end)


def _drain(recorder: _Recorder) -> None:
    """Make the calls ``recorder`` filed directly entries of its block's short way
    (``Intake.pending``), their layers looked up in the model's index now (a module not there,
    later: see Unresolved). Call with ``_dispatch_lock`` held: nothing here runs the user's code."""
    direct, intake = recorder.direct, recorder.intake
    if not direct or recorder.draining:  # nothing, or a finalizer run while draining: as it is
        return
    count = len(direct)  # threads may append meanwhile: take exactly these
    if intake is None:  # the block has ended
        del direct[:count]
        return
    try:
        recorder.draining = True  # in the try: an interrupt (Ctrl-C) must not leave it set
        recorder.ran = True
        positions, single, context = recorder.direct_layout
        taken = direct[:count]
        paths: list[str | Unresolved | None]
        if context is None:
            paths = [None] * count
        else:
            layers = intake.layers
            assert layers is not None  # context: the calls' first argument, with model= only

            def missing(module: Any, moved: bool) -> Unresolved | None:
                # Not in the index, or moved: indexing again runs the user's code, later.
                if module is None or module is _MISSING:
                    return None
                intake.unresolved = True
                return Unresolved(module)

            paths = layers.check(taken, context, missing)
        filed: list[tuple[Any, ...]] = []
        append = filed.append
        for i, item in enumerate(taken):  # a loop, not a comprehension: no frame of its own on 3.11
            picked = item[single] if single is not None else tuple([item[p] for p in positions])
            append((recorder, picked, paths[i], item[-1]))
        # In one statement, which no interrupt (Ctrl-C) can split: the calls move to the block's list
        # (at its end, whatever other threads appended) and leave this one, neither twice nor lost.
        # Only now: a call waiting to file another way (see _Dispatcher.record) goes after these.
        intake.pending[_END:], direct[:count] = filed, ()
    finally:
        recorder.draining = False


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


# Whether a block alone on its function may file directly (see _Dispatcher._refresh);
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


def drain_all(recorders: list[_Recorder]) -> None:
    """Make the calls each of ``recorders`` filed directly entries of its block's list (see _drain)."""
    for recorder in recorders:
        if recorder.direct:
            with _dispatch_lock:
                _drain(recorder)

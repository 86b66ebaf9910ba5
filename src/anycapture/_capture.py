"""``capture()``: capture locals of code you do not own, for one block, labelled by layer."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import types
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Literal

from . import _engine
from ._backends import preferred, require
from ._copies import any_pending, resolve
from ._dispatch import _MAX_LAYOUTS, _dispatcher, drain_all
from ._errors import CaptureError, CaptureWarning
from ._functions import (
    bound_object,
    check_varnames,
    check_when,
    locate_target,
    resolve_function,
    select_sites,
)
from ._intake import Intake
from ._layers import LayerIndex
from ._recorder import _bound_to, _Recorder, _reference, make_records
from ._records import Record, _no_paths, check_selection, selects
from ._store import check_max_size
from ._values import Converter, make_converter
from .recipes import Recipe, recipe_hints

__all__ = ["Capture", "EmptyCaptureError", "Record", "capture"]

# Held while a block makes its records (Capture._settle), so that a reader in another thread waits
# for them; one for all blocks, since it is held only for a loop that takes no other lock.
_settling = threading.RLock()


class EmptyCaptureError(CaptureError):
    """With ``strict=True``: a target never ran in the block, or a variable was never bound."""


TargetSpec = Any  # a function, method, "module:Qual.name" string, or Recipe


class Capture(Mapping[str, list[Any]]):
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
        self.key_style = key_style
        self.strict = strict
        self._warned: set[object] = set()
        # Which layer a module is (see LayerIndex); None without model=.
        self._layers = LayerIndex(model) if model is not None else None
        # What happens to a value (reduce, convert, gradients), and where it goes: memory, or with
        # sink= the writer of a folder, read back from disk as numpy arrays or tensors (read_as:
        # what values= gives in memory). The recorders see the block through it alone.
        self._intake = intake = Intake(self._layers, convert, custom, reduce, max_size, grads, sink, self._warned)
        # The intake's, under the names the reading methods use.
        self._records = intake.records
        self._gradients = intake.gradients
        self._pending = intake.pending
        self._track_grads = grads
        self._reduce = reduce
        self._sink = sink
        self._read_as = read_as
        # With sink=: the writer, this block's number in it (a Writer the user made may serve
        # several blocks), and the folder as last read.
        self._writer: Any = None
        self._block: int | None = None
        self._on_disk: Any = None
        self._in_settle = False
        recorders = []
        for i, (func, names, hints, objects) in enumerate(targets):
            site = sites[i] if sites is not None else None
            recorders.append(_Recorder(intake, func, _dispatcher(func), names, hints, key_style, site, objects))
        self._recorders = recorders
        intake.targets = len(recorders)
        if len(recorders) > 1:
            _warn_shared_keys(recorders)
        self._active = False

    _api = "capture"  # the call that made the block, as error messages show it

    # -- context manager -------------------------------------------------------------------
    def __enter__(self) -> Capture:
        if self._active:
            raise RuntimeError("this capture block is already active; create a new block instead")
        if self._layers is not None:
            self._layers.begin()
        store = self._intake.store
        try:
            if self._sink is not None:
                store.open()
                self._writer, self._block, self._on_disk = store.writer, store.block, None
            self._start()
            self._active = True
            return self
        except BaseException:
            # Failed, or cut short by an interrupt (Ctrl-C), up to the return: nothing stays attached
            # (removing is idempotent), since no __exit__ will follow.
            self._active = False
            with contextlib.suppress(Exception):
                self._stop()
            store.abandon()
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
            failed = self._intake.store.close(raising=report)
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
                recorder.intake = None

    def _unhook(self) -> None:
        """After an exception cut the end short: finish restoring the functions (``_stop`` is
        idempotent), so that the block receives nothing more; its end is left to a second close()."""
        if self._active:
            with contextlib.suppress(Exception):
                self._stop()

    def _start(self) -> None:
        preferred()  # a forced ANYCAPTURE_BACKEND that cannot run is an error here, not later
        try:
            for recorder in self._recorders:
                recorder.intake = self._intake
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
        recorders = self._recorders
        direct = False
        for recorder in recorders:
            if recorder.direct:
                direct = True
                break
        # Nothing waits (the usual read after a block): no lock. In this order, since a settle in
        # another thread raises its flag before it takes the calls filed directly, then the list.
        if not direct and not self._pending and not self._in_settle:
            return
        with _settling:  # readers wait for a settle running in another thread
            if self._in_settle:  # a finalizer reading the block while it settles: as it is
                return
            try:  # not a finally: an interrupt (Ctrl-C) landing on it would leave the flag set
                self._in_settle = True
                if direct:
                    drain_all(recorders)
                make_records(self._intake, recorders)
                self._in_settle = False
            except BaseException:
                self._in_settle = False
                raise

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
            if recorder.calls and 0 not in recorder.bound:  # ran, every variable bound: the usual case
                continue
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

    # -- what recorders and capture_attention file through (see Intake) ---------------------
    def _begin_paths(self, clearing: bool = False) -> None:
        if self._layers is not None:
            self._layers.begin(clearing)

    def _records_of(self, key: str) -> Any:
        return self._intake.records_of(key)

    def _file(self, *args: Any) -> None:
        self._intake.file(*args)

    @property
    def _streams_rows(self) -> bool:
        return self._intake.streams_rows

    def _file_rows(self, *args: Any) -> None:
        self._intake.file_rows(*args)

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
        folder = self._on_disk
        if self._block is not None:  # a Writer shared between blocks: this block's records
            block = self._block
            folder = folder._only(lambda record: record.block == block)
        folder._known = self._known()
        return folder

    def grad(self, record: Record) -> Any:
        """With ``grads=True``: the gradient that reached ``record``'s value in backward, or ``None``.

        ``None`` when backward has not run, did not reach the value, or the value was captured
        without autograd (under ``torch.no_grad()``, or a tensor that does not require grad).
        Gradients pair with their record (layer and call), whatever order backward ran in.
        """
        self._require_grads()
        found = self._grad_of(record)
        if found is None and not any(kept is record for kept in self._records.get(record.key, ())):
            raise ValueError(f"{_describe(record)} is not a record of this capture block (or was cleared)")
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

    @property
    def records(self) -> list[Record]:
        """Every record, in the order values were captured."""
        if self._sink is not None:
            return self.stored().records  # type: ignore[no-any-return]
        self._settle()
        merged = [record for records in list(self._records.values()) for record in list(records)]
        if any_pending():  # values still being copied from a device: wait for them now
            merged = [_ready(record) for record in merged]
        return sorted(merged, key=lambda record: record.order)

    def select(self, pattern: str = "*", name: str | None = None) -> list[Record]:
        """Records whose module path matches the glob ``pattern`` (and variable ``name`` or key).

        Nothing selected because of a mistake raises: a ``name`` the block did not ask for
        (``KeyError``), or a variable's name given as the pattern (``ValueError``).

        >>> # cap.select("blocks.1*.attn", "attn")  -> the records of blocks 10 and 11
        """
        records = self.records  # on disk: read from the folder's index
        selected = [record for record in records if selects(record, pattern, name)]
        if not selected:
            check_selection(records, pattern, name, self._known())
        return selected

    def _known(self) -> set[str]:
        """The variables and keys this block asked for (a variable may be unbound in every call)."""
        return {name for recorder in self._recorders for name in (*recorder.names, *recorder.keys)}

    def by_path(self, name: str | None = None, pattern: str = "*") -> dict[str, list[Any]]:
        """``{module path: [values in call order]}`` for variable ``name`` (or key)."""
        if self._sink is not None:
            return self.stored().by_path(name, pattern)  # type: ignore[no-any-return]
        result: dict[str, list[Any]] = {}
        selected = self.select(pattern, name)
        for record in selected:
            if record.path is not None:
                result.setdefault(record.path, []).append(record.value)
        if selected and not result:
            raise ValueError(_no_paths(self.model, self._api))
        return result

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
            missing = [_describe(r) for r, g in zip(records, gradients, strict=True) if g is None]
            if missing:
                raise ValueError(
                    f"no gradient reached {', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}: run "
                    "backward first, outside torch.no_grad(), on an output that depends on them"
                )
            return _stack(gradients, [_describe(record) for record in records])
        if not records:
            raise KeyError(self._nothing_for(name, pattern))
        keys = {record.key for record in records}
        if name is None and len(keys) > 1:
            raise ValueError(f"stack() needs name= when several variables were captured: {sorted(keys)}")
        return _stack([record.value for record in records], [_describe(record) for record in records])

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
    owners: dict[str, _Recorder] = {}
    for recorder in recorders:
        for key in recorder.keys:
            other = owners.setdefault(key, recorder)
            if other is not recorder:
                warnings.warn(
                    f"{other.label} and {recorder.label} both record under the key {key!r}, so their values "
                    "share one list in this block; use capture(..., key_style='module') to keep them apart",
                    CaptureWarning,
                    stacklevel=4,
                )


def _ready(record: Record) -> Record:
    """``record`` with its value's copies from a device finished (the same record if there are none)."""
    value = resolve(record.value)
    return record if value is record.value else record._replace(value=value)


def _describe(record: Record) -> str:
    return f"{record.path or record.function} call {record.call}"


def _stack(values: Sequence[Any], labels: Sequence[str]) -> Any:
    shapes = [getattr(value, "shape", None) for value in values]
    if any(shape is None for shape in shapes):
        kinds = sorted({type(value).__name__ for value, shape in zip(values, shapes, strict=True) if shape is None})
        raise TypeError(f"stack() needs arrays or tensors; got {', '.join(kinds)}")
    if len(set(map(tuple, shapes))) > 1:  # type: ignore[arg-type]
        listing = "; ".join(f"{label}: {tuple(shape)}" for label, shape in zip(labels, shapes, strict=True))  # type: ignore[arg-type]
        raise ValueError(f"cannot stack values of different shapes: {listing}")
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(values[0], torch.Tensor):
        return torch.stack(list(values))
    import numpy

    return numpy.stack(list(values))


def _normalise_targets(
    target: TargetSpec | Mapping[TargetSpec, str | Iterable[str]], varnames: tuple[str, ...]
) -> list[tuple[types.FunctionType, tuple[str, ...], tuple[str, str], tuple[Callable[[], Any], ...] | None]]:
    """[(function, names, a recipe's hints, objects)] from whatever :func:`capture` was given; ``objects`` are
    those of the bound methods given (``model.blocks[3].attn.forward``), whose calls alone are kept
    (None: every call, when the function itself was given)."""
    named = type(target) is str or type(target) is Recipe
    key = (target if type(target) is str else id(target), varnames)
    if named:  # a recipe or "module:Qual.name" seen before: check that it still names the same function
        cached = _located.get(key)
        if cached is not None and cached[0] is target:
            _, module_name, parts, obj, result, code = cached
            found: Any = sys.modules.get(module_name)
            for part in parts:
                found = getattr(found, part, None)
            if found is obj and result[0].__code__ is code:
                return [result]
    if isinstance(target, Mapping):
        if varnames:
            raise TypeError("give variable names either in the mapping or as arguments, not both")
        if not target:
            raise ValueError(
                "capture({}) names no function to capture; map each function to its variable names, "
                "e.g. capture({Attention.forward: 'attn', Block.forward: ['x', 'y']})"
            )
        pairs = [(spec, _mapped_names(spec, names)) for spec, names in target.items()]
    else:
        pairs = [(target, varnames)]
    merged: dict[types.FunctionType, tuple[tuple[str, ...], tuple[str, str], tuple[Any, ...] | None]] = {}
    location = None
    for spec, names in pairs:
        hints = ("", "")
        if isinstance(spec, Recipe):
            names = names or spec.varnames
            hints = (spec.hint, spec.if_not_run)
            spec = spec.target
        names = check_varnames(names, "capture")
        if isinstance(spec, str):
            location = locate_target(spec)
            obj = location[2]
        else:
            obj = spec
        func = resolve_function(obj, names, "capture")
        if not any(hints):  # the function a recipe names, given by name or object: the recipe's hints too
            hints = recipe_hints(func)
        # a method bound to one object: its calls alone
        bound_to = bound_object(obj, func, _engine.original_code(func), "capture")
        objects = None if bound_to is None else (bound_to,)
        if func in merged:
            known, known_hints, known_objects = merged[func]
            if (objects is not None or known_objects is not None) and set(names) != set(known):
                raise TypeError(
                    f"capture() was given {_engine.label_of(func)} bound to an object and again (bound to another, "
                    f"or unbound) with other variable names ({', '.join(known)} / {', '.join(names)}): a block "
                    "files one function's calls one way, so give each the same names, or use a block for each"
                )
            names = known + tuple(n for n in names if n not in known)
            hints = known_hints if any(known_hints) else hints
            if objects is None or known_objects is None:
                objects = None  # the function itself was given too: every call
            else:
                objects = known_objects + tuple(o for o in objects if not any(o is k for k in known_objects))
        merged[func] = (names, hints, objects)
    result = [
        (func, names, hints, None if objects is None else tuple(map(_reference, objects)))
        for func, (names, hints, objects) in merged.items()
    ]
    if named and location is not None:
        if len(_located) >= _LOCATED_MAX:
            _located.clear()
        _located[key] = (target, *location, result[0], result[0][0].__code__)
    return result


def _mapped_names(spec: object, names: object) -> tuple[object, ...]:
    """The variable names a mapping given to capture() has for ``spec``: a str or an iterable of them."""
    if isinstance(names, str):
        return (names,)
    if not isinstance(names, Iterable):
        raise TypeError(
            f"capture() maps {spec!r} to {names!r}; map each function to a variable name or a list of them, "
            "e.g. {Attention.forward: 'attn'}"
        )
    return tuple(names)


# Recipes and "module:Qual.name" strings given to capture() before, with what they resolved to and
# how to check that they still do (the module, the attribute path, the function's code): a loop of
# blocks then skips the search through wrappers and the checks of the names. (The target itself
# is kept: an id key stays its own while the entry lives.)
_located: dict[tuple[object, tuple[str, ...]], tuple[Any, str, tuple[str, ...], object, Any, Any]] = {}
_LOCATED_MAX = 256


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
    if key_style not in ("qualname", "module"):
        raise ValueError(f"key_style={key_style!r} is not a key style; use 'qualname' or 'module'")
    check_flag("strict", strict)
    check_flag("grads", grads)
    if when != "return" or at is not None or line is not None:
        check_when(when, at, line, "capture")
    if grads:
        if values not in ("numpy", "raw") or device is not None or clone or collate_fn is not None:
            raise TypeError(
                "grads=True keeps each tensor as it is, in the autograd graph; values=, device=, clone= and "
                "collate_fn= would replace it (reduce= may still derive what is kept)"
            )
        if sink is not None:
            raise TypeError("grads=True keeps tensors in the autograd graph, in memory; it cannot go with sink=")
        values = "raw"
    options = value_options(values, device, clone, collate_fn, reduce, max_size, sink)
    targets = _normalise_targets(target, varnames)
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
    return Capture(targets, model=model, key_style=key_style, strict=strict, sites=sites, grads=grads, **options)


def value_options(
    values: str, device: Any, clone: bool, collate_fn: Any, reduce: Any, max_size: Any, sink: Any = None
) -> dict[str, Any]:
    """Validate the value options shared by the capture blocks; the keywords :class:`Capture` takes."""
    # The plain options (no callables, no sink) are checked once: a loop of blocks then shares one
    # converter, which also remembers what it learnt about the first tensor.
    plain = collate_fn is None and reduce is None and sink is None and type(values) is str and type(clone) is bool
    key = None
    if plain and (device is None or type(device) is str) and (max_size is None or type(max_size) is int):
        key = (values, device, clone, max_size)
        found = _plain_options.get(key)
        if found is not None:
            return found
    check_flag("clone", clone)
    if sink is not None:
        _check_sink(sink)
        if max_size is not None:
            raise TypeError("max_size= keeps the newest values in memory; with sink= every value goes to disk")
    if collate_fn is not None and not callable(collate_fn):
        raise TypeError(f"collate_fn must be callable or None; got {collate_fn!r}")
    if reduce is not None and not callable(reduce):
        raise TypeError(f"reduce must be callable or None; got {reduce!r}")
    convert = make_converter(values, device=device, clone=clone) if collate_fn is None else collate_fn
    options = {
        "convert": convert,
        "custom": collate_fn is not None,
        "reduce": reduce,
        "max_size": check_max_size(max_size),
        "sink": sink,
        # How a sink's records are read back: as the values were kept (values="raw": each as the
        # type it had, a torch tensor or a numpy array).
        "read_as": values if values in ("tensor", "raw") else "numpy",
    }
    if key is not None and len(_plain_options) < _MAX_LAYOUTS:
        _plain_options[key] = options
    return options


_plain_options: dict[tuple[Any, ...], dict[str, Any]] = {}


def check_flag(name: str, value: object) -> None:
    """``value`` of the option ``name`` is a bool (``strict='no'`` would read as true)."""
    if type(value) is not bool:
        raise TypeError(f"{name} must be True or False; got {value!r}")


def _check_sink(sink: Any) -> None:
    if isinstance(sink, str | os.PathLike):
        if not str(sink):
            raise ValueError("sink='' is not a folder; give the folder to write the records to")
        return
    from ._disk import Writer

    if not isinstance(sink, Writer):
        raise TypeError(f"sink= takes a folder (a str or path) or an anycapture.Writer; got {sink!r}")

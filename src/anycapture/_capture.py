"""``capture()``: capture locals of code you do not own, for one block, labelled by layer."""

from __future__ import annotations

import contextlib
import threading
import warnings
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Literal

from . import _engine
from ._backends import forced_backend, preferred, require
from ._copies import any_pending, resolve
from ._dispatch import _dispatcher, drain_all
from ._errors import CaptureError, CaptureWarning
from ._functions import check_when, select_sites
from ._intake import Intake
from ._layers import LayerIndex
from ._options import ValueOptions, check_flag, shared_keys, value_options
from ._recorder import _bound_to, _Recorder, make_records
from ._records import Record, RecordReader, _label, _no_paths, _stack
from ._targets import PLANS_MAX, PLANS_PER_TARGET, Plan, Targets, TargetSpec, normalise_targets, plans, weakly

__all__ = ["Capture", "EmptyCaptureError", "Record", "capture"]

_MISSING = _engine.MISSING

# Held while a block makes its records (Capture._settle), so that a reader in another thread waits
# for them; one for all blocks, since it is held only for a loop that takes no other lock.
_settling = threading.RLock()


class EmptyCaptureError(CaptureError):
    """With ``strict=True``: a target never ran in the block, or a variable was never bound."""


class Capture(Mapping[str, list[Any]], RecordReader[Record]):
    """The result of :func:`capture`, and the context manager that fills it.

    A mapping from ``'<qualname>.<variable>'`` (the keys of ``get_local.cache``) to the values
    captured in call order, plus :attr:`records` that know their layer, call and thread.
    """

    def __init__(
        self,
        targets: Targets,
        *,
        model: Any,
        options: ValueOptions,
        strict: bool,
        sites: Sequence[Mapping[str, frozenset[int] | None] | None] | None = None,
    ) -> None:
        # Unpacked, not read by name (see Intake.__init__).
        _, _, _, _, _, _, key_style, sink, _, _ = options
        self.model = model
        self.key_style = key_style
        self.strict = strict
        # What happens to a value (values=, reduce=, grads=...), and where it goes: memory, or with
        # sink= the writer of a folder, read back as values= gives them in memory (read_as).
        self._options = options
        self._warned: set[object] = set()
        # Which layer a module is (see LayerIndex); None without model=.
        self._layers = LayerIndex(model) if model is not None else None
        # The options at work: the recorders see the block through the intake alone.
        self._intake = intake = Intake(self._layers, options, self._warned)
        # The intake's, under the names the reading methods use.
        self._records = intake.records
        self._gradients = intake.gradients
        self._pending = intake.pending
        self._sink = sink
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
            # The records are left to the first read that needs them, unless the report needs their
            # counts, or a layer's path is still to look up (a module not in the model's index, or
            # moved: looked up as the model is now, and not held). Made while the block is still
            # active, so that a second close() after an interrupt here finishes them and reports.
            settle = self._intake.unresolved or (report and not self._nothing_to_report())
            if settle:
                self._settle()
            failed = self._intake.store.close(raising=report)
        except BaseException:
            self._unhook()
            raise
        self._active = False
        try:
            if failed is not None:
                raise failed
            if report and settle:
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
        # A forced ANYCAPTURE_BACKEND that cannot run is an error here, not later (unforced, there
        # is nothing to check: not asking preferred() spares a block the list of every backend).
        if forced_backend():
            preferred()
        try:
            for recorder in self._recorders:
                recorder.intake = self._intake
                # None: no backend could capture it (a CaptureWarning said why); the report says
                # so, not that it never ran.
                recorder.uncapturable = recorder.dispatcher.add(recorder) is None
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

    def _nothing_to_report(self) -> bool:
        """Whether the block's one target ran and bound its one variable, told without making the
        records: those of the calls filed the short way are made when the block is first read (a
        block per forward read with ``cap[key]`` makes none). Other blocks: see _problems."""
        recorders = self._recorders
        if len(recorders) != 1 or len(recorders[0].slots) != 1:
            return False
        recorder = recorders[0]
        if recorder.calls and recorder.bound[0]:  # records made already (filed one by one, or read)
            return True
        # (recorder, the value alone, path, thread); a loop, not any(): a generator is a frame of its
        # own, and this runs at a block per forward's end
        for _, value, _, _ in self._pending:  # noqa: SIM110
            if value is not _MISSING:
                return True
        return False

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

    # -- reading ---------------------------------------------------------------------------
    @property
    def sink(self) -> Any:
        """The folder (or :class:`anycapture.Writer`) this block streams to; ``None`` in memory."""
        return self._sink

    @property
    def reduced(self) -> bool:
        """Whether the block keeps what ``reduce=`` made of each value rather than the value itself."""
        return self._options.reduce is not None

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
            self._on_disk = CaptureFolder(writer.folder, self._options.read_as, earlier=self._on_disk)
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
        if not self._options.grads:
            raise TypeError("this capture block does not follow gradients; use capture(..., grads=True)")

    def grads(self, name: str | None = None, pattern: str = "*") -> list[Any]:
        """The gradients of :meth:`select`'s records (``None`` where there is none), in their order."""
        self._require_grads()
        return [self._grad_of(record) for record in self.select(pattern, name)]

    def __getitem__(self, key: str) -> list[Any]:
        if self._sink is not None:
            return self.stored()[key]  # type: ignore[no-any-return]
        waiting = self._waiting_values(key)
        if waiting:
            return waiting
        self._settle()
        records = self._records.get(key)
        if not records:
            raise KeyError(self._missing(key))
        taken = list(records)  # one C call: other threads may be appending to the deque
        if any_pending():  # values still being copied from a device: wait for them now
            return [resolve(record.value) for record in taken]
        return [record.value for record in taken]

    def _waiting_values(self, key: str) -> list[Any] | None:
        """``key``'s values read straight from the calls waiting on the block's list, when they are
        all it has: one target with one variable, filed the short way, none of its records made
        yet (see _nothing_to_report). Making records of them is left to the readers that need them."""
        recorders = self._recorders
        if len(recorders) != 1 or not self._pending or self._in_settle:
            return None
        recorder = recorders[0]
        slots = recorder.slots
        if len(slots) != 1 or slots[0][1] != key or slots[0][3] or recorder.direct:
            return None
        taken = self._pending[:]  # one C call: other threads may be appending
        if self._in_settle or slots[0][3]:  # another thread began making the records meanwhile
            return None
        values = []
        for _, value, _, _ in taken:
            if value is not _MISSING:
                values.append(value)
        if any_pending():  # values still being copied from a device: wait for them now
            return [resolve(value) for value in values]
        return values

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
        if self._layers is not None:  # the model may change between batches (layers pruned, swapped)
            self._layers.begin(clearing=True)


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
            options = plan.options
            if reduce is not None or collate_fn is not None:  # the user's callables: never in the plan
                convert = options.convert if collate_fn is None else collate_fn
                options = options._replace(collate_fn=collate_fn, reduce=reduce, convert=convert)
            return Capture(targets, model=model, options=options, strict=strict, sites=plan.sites)
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
    # Nothing of the user's is kept: a callable weakly, or not at all where it takes no weak reference.
    kept = sink is None and (device is None or type(device) is str) and weakly(reduce) and weakly(collate_fn)
    if resolved is not None and kept:
        if len(plans) >= PLANS_MAX:
            plans.clear()
        held = options
        if reduce is not None or collate_fn is not None:
            convert = None if collate_fn is not None else options.convert
            held = options._replace(collate_fn=None, reduce=None, convert=convert)
        plan = Plan(
            varnames, values, device, clone, max_size, key_style, strict, when, at, line, grads, resolved, held, sites
        )
        plan.reduce = None if reduce is None else weakref.ref(reduce)
        plan.collate_fn = None if collate_fn is None else weakref.ref(collate_fn)
        # The newest first, beside the few others kept (a loop may alternate values= modes); the
        # others' targets were resolved before, and are checked again when used.
        plan_key = target if type(target) is str else id(target)
        plans[plan_key] = (plan, *plans.get(plan_key, ())[: PLANS_PER_TARGET - 1])
    return Capture(targets, model=model, options=options, strict=strict, sites=sites)

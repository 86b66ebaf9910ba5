"""What capturing the 12 attention maps of a timm ViT-S/16 forward costs, side by side with the other ways to get them.

What it measures, all in one process, on the CPU, in eval mode under ``torch.no_grad()``, with timm's fused attention
off (``fused_attn = False`` on every module that has the attribute, so that ``attn`` exists at all):

* ``timm.create_model("vit_small_patch16_224", pretrained=False)`` (random weights) at batch 1 and batch 8, and
* the same ``VisionTransformer`` class at a tiny size (``img_size=32, patch_size=8, embed_dim=48, depth=12,
  num_heads=3``: 17 tokens, so a forward is almost all Python overhead) at batch 1, for the fixed cost per forward.

Each way to get the maps is a row, and every row runs its own deep copy of one model (the same weights):

1. the uncaptured forward: the reference, 1.00x;
2. a hand-written floor: timm's ``Attention.forward``, copied from the installed source with one line added after
   ``attn = self.attn_drop(attn)``: ``_FLOOR.append(attn)``. It is compiled in a copy of timm's module namespace (so
   its globals resolve as the original's do) and installed on its own model by swapping each attention module's class
   for a subclass, so the timm class and the other models are untouched;
3. a forward hook on each block's ``attn_drop`` module, appending the output to a list;
4. ``timm.utils.AttentionExtract(model, method="fx")`` and ``(method="hook")``, timing its ``__call__``;
5. anycapture: ``with anycapture.capture(recipes.TIMM_VIT, model=model, values=...) as cap: model(x)``, one block
   per forward, with ``values`` ``"numpy"`` (the default), ``"tensor"`` and ``"raw"``; and
   ``get_local("attn")(Attention.forward)`` with ``get_local.activate(values="raw")`` (activated around each batch);
   and one ``capture(..., values="raw")`` block held open around a whole batch (entered and left untimed, as the
   hooks are registered once; ``len(cap)`` after each forward, so that the records are made within the timed
   forward): the pattern docs/capture.md gives for a data loader, and capture's cost per call without the cost of
   entering and leaving a block;
6. AnyCapture 0.1.4 from PyPI (same import name: installed with ``pip install --no-deps --target`` into
   ``benchmarks/.cache/anycapture-0.1.4`` and loaded as ``anycapture014`` by ``bench_overhead.load_old_anycapture``).
   Its decorator rewrites the code of the function it gets and returns a wrapper, so it gets a *copy* of
   ``Attention.forward`` (``types.FunctionType`` over the same code, globals, defaults and closure) and the wrapper is
   the ``forward`` of an ``Attention`` subclass used only by its own model. Raw (``set_collate_fn(lambda v: v)``) and
   its default collate (numpy);
7. where they import: torchlens (``torchlens.trace(model, x, save=tl.func("softmax"))``, which saves the 12 softmax
   outputs; ``log_forward_pass(layers_to_save=...)`` is its pre-2.0 spelling, and its ``fastlog.record`` with the
   same predicate) and nnsight (``NNsight(model)``, a ``model.trace(x)`` block saving each ``attn_drop`` output: it
   sees module outputs only). torchlens wraps every torch function on its first trace and leaves them wrapped; this
   script wraps torch before each torchlens batch and unwraps it after (untimed), checks that torch is exactly as it
   was (every attribute of ``torch``, ``torch.Tensor``, ``torch.nn.functional``, ``nn.Module``), and shows what its
   wrappers alone cost an uncaptured forward in a row of their own. A row that cannot run says why.

How it is timed. Rows are interleaved: each round runs one batch of every row, in an order rotated each round, so
drift on this shared machine hits all rows alike. A batch is one forward at ViT-S size and about ``--tiny-batch-ms``
of forwards at the tiny size; the garbage collector is off while a batch is timed (as in ``timeit``) and everything
outside the forwards (activating, checking, freeing) is untimed. A row shows the median ms per forward over rounds,
its interquartile range, the median of its per-round ratios to the uncaptured forward of the same round (with their
IQR), the median of its per-round differences in ms per forward, and its minor page faults per forward. Keeping
12 maps alive means fresh memory for the next ones (11 MiB a forward at batch 1, 89 MiB at batch 8), which glibc
often serves with new pages: those faults cost every row that keeps the maps (the floor too) a few percent at ViT-S
size, and how many a row takes depends on what the allocator was left with. ``--steady-malloc`` makes glibc reuse
freed memory instead, to compare the capture mechanisms without that noise. torchlens rows are slow, so they run in only
``--slow-rounds`` evenly spaced rounds (their ratios are to the reference of those rounds). Threads: torch's intra-op
and inter-op pools are set to ``--threads`` (default 1: on this shared 2-core machine two threads make a ViT-S batch-8
forward vary by +-20% from one run to the next, one thread by about 1%).

Sanity checks. At start-up every row's maps from one batch-1 forward are compared with the floor's
(``torch.allclose``), at both sizes. After every timed batch each row must have captured exactly 12 maps per forward,
each of shape ``[batch, heads, tokens, tokens]`` and of the type its mode stores (numpy rows: ``ndarray``; capture
rows: from ``blocks.0.attn`` to ``blocks.11.attn``); then what the row holds is cleared and checked to be empty, so
memory does not grow from batch to batch. Weak references to the maps tell whether they really died with it: a table
lists the rows whose maps outlived the clearing (held by the library itself), and whether ``gc.collect()`` (run for
them only) freed them.

The targets it reports against for anycapture's rows: a fixed cost of at most +0.05 ms per forward (tiny model),
within 1% of the hand-written floor at batch 1 and 8 (median of per-round ratios to the floor), and never slower than
the forward-hook baseline.

Run from the repository root with timm installed (the script says so and exits 0 where timm is missing)::

    PYTHONPATH=src python benchmarks/bench_vit.py            # about 5 minutes on a 2-core machine
    PYTHONPATH=src python benchmarks/bench_vit.py --quick    # a smoke test: a few rounds, about 1.5 minutes
    bash benchmarks/run_vit.sh [--quick]                      # the same in a venv with timm, torchlens and nnsight

It prints markdown on stdout and its progress on stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import gc
import inspect
import os
import platform
import statistics
import sys
import textwrap
import time
import types
import warnings
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anycapture
from anycapture import get_local, recipes

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_overhead import DEFAULT_CACHE, OLD_VERSION, attached_backend, load_old_anycapture

LAYERS = 12
KEY = "Attention.forward.attn"  # the key of timm's attention maps, for anycapture and AnyCapture 0.1.4 alike
ANCHOR = "attn = self.attn_drop(attn)"  # the floor appends `attn` right after this line of Attention.forward
REFERENCE = "uncaptured forward"
FLOOR = "hand-written floor: Attention.forward copy with `_FLOOR.append(attn)`"
HOOK = "forward hook on each `attn_drop` appending the output"
PATHS = [f"blocks.{i}.attn" for i in range(LAYERS)]
TINY = {"img_size": 32, "patch_size": 8, "embed_dim": 48, "depth": 12, "num_heads": 3, "num_classes": 10}
FIXED_COST_TARGET_MS = 0.05
FLOOR_TARGET = 1.01
HOOK_TARGET = 1.00


def _noop(*_args: object) -> None:
    pass


def progress(message: str) -> None:
    print(f"[bench_vit {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def chunks(values: Sequence[Any]) -> list[list[Any]]:
    """A flat list of maps, 12 per forward, as one list per forward (a short last one fails the check)."""
    return [list(values[i : i + LAYERS]) for i in range(0, len(values), LAYERS)]


def minor_faults() -> int:
    """Minor page faults of this process so far (first touches of fresh memory), or 0 where unknown."""
    try:
        import resource
    except ImportError:  # not on Windows
        return 0
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def steady_malloc() -> str:
    """glibc only: serve large blocks from the heap and never trim it, so freed memory is reused without new page
    faults. Removes the allocator's page-fault noise between rows (not what a default process does)."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if not name:
        return "no C library found: --steady-malloc ignored"
    libc = ctypes.CDLL(name)
    m_trim_threshold, m_mmap_threshold = -1, -3
    if not hasattr(libc, "mallopt") or not (
        libc.mallopt(m_mmap_threshold, 32 * 2**20) and libc.mallopt(m_trim_threshold, 2**31 - 1)
    ):
        return "mallopt refused: --steady-malloc ignored"
    return "glibc mallopt: M_MMAP_THRESHOLD 32 MiB, M_TRIM_THRESHOLD 2 GiB (--steady-malloc)"


def rss_mb() -> float:
    """Resident memory of this process in MiB (Linux), or NaN elsewhere."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return float("nan")
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


# -- rows -----------------------------------------------------------------------------------------------------------
@dataclass
class Variant:
    """One row: one forward with capture (``run``), and how to read, check and free what a batch captured.

    ``maps(results)`` turns the ``run`` results of one batch (plus whatever the row keeps elsewhere) into one list
    of maps per forward; after ``free()`` it must return ``[]``.
    """

    label: str
    run: Callable[[Any], Any]
    maps: Callable[[list[Any]], list[list[Any]]] = lambda _results: []
    free: Callable[[], None] = _noop
    enter: Callable[[], None] = _noop  # before a batch, untimed: switch this row's capture on
    leave: Callable[[], None] = _noop  # after a batch, untimed: switch it off again
    check: Callable[[list[Any]], None] = _noop  # more checks on a batch's results
    kind: str = "other"  # reference, floor, hook, anycapture, third-party
    captures: bool = True
    value_type: Any = None  # the type every captured map must have (numpy rows: ndarray), if one is required
    slow: bool = False  # runs in --slow-rounds rounds only
    error: str | None = None  # why this row has no numbers
    number: int = 1  # forwards per batch
    samples: dict[str, dict[int, float]] = field(default_factory=dict)  # config -> round -> seconds per forward
    faults: dict[str, list[float]] = field(default_factory=dict)  # config -> minor page faults per forward, by round
    last_faults: float = 0.0
    outlived_free: int = 0  # batches whose maps were still alive after free()
    outlived_gc: int = 0  # ... and still after gc.collect()
    batches: int = 0

    def batch(self, x: Any, number: int, shape: tuple[int, ...]) -> float:
        """Seconds per forward over ``number`` forwards, after which the capture is checked and freed."""
        results: list[Any] = []
        append, run = results.append, self.run
        self.enter()
        try:
            gc.disable()
            try:
                faults = minor_faults()
                start = time.perf_counter()
                for _ in range(number):
                    append(run(x))
                elapsed = time.perf_counter() - start
                self.last_faults = (minor_faults() - faults) / number
            finally:
                gc.enable()
        finally:
            self.leave()
        refs: list[weakref.ref[Any]] = []
        try:
            refs = self.verify(results, number, shape)
        finally:
            results.clear()
            self.free()
        left = self.maps([])
        if left:
            raise RuntimeError(f"{self.label}: the maps of {len(left)} forwards are still held after free()")
        self.count_survivors(refs)
        self.batches += 1
        return elapsed / number

    def count_survivors(self, refs: list[weakref.ref[Any]]) -> None:
        """Whether the maps of this batch really died with free(); if not, collect cycles and look again.

        A map still alive after free() is held by something the row does not own (a library's cache, a reference
        cycle); it keeps its memory from the rows that run next. Counted per batch, and freed where gc can.
        """
        if not any(ref() is not None for ref in refs):
            return
        self.outlived_free += 1
        gc.collect()
        if any(ref() is not None for ref in refs):
            self.outlived_gc += 1

    def verify(self, results: list[Any], number: int, shape: tuple[int, ...]) -> list[weakref.ref[Any]]:
        """Check a batch's maps; returns weak references to them (where they can have any)."""
        per_forward = self.maps(results)
        expected = number if self.captures else 0
        if len(per_forward) != expected:
            raise RuntimeError(f"{self.label}: {number} forwards gave maps for {len(per_forward)}, expected {expected}")
        for index, maps in enumerate(per_forward):
            shapes = [tuple(value.shape) for value in maps]
            if len(maps) != LAYERS or any(found != shape for found in shapes):
                raise RuntimeError(
                    f"{self.label}: forward {index} captured {len(maps)} maps of shapes {sorted(set(shapes))}; "
                    f"expected {LAYERS} of shape {shape}"
                )
            if self.value_type is not None and not all(type(value) is self.value_type for value in maps):
                kinds = sorted({type(value).__name__ for value in maps})
                raise RuntimeError(f"{self.label}: maps of types {kinds}, expected {self.value_type.__name__}")
        self.check(results)
        refs = []
        for maps in per_forward:
            for value in maps:
                with contextlib.suppress(TypeError):
                    refs.append(weakref.ref(value))
        return refs

    def capture_once(self, x: Any) -> list[Any]:
        """The maps of one forward, as torch tensors (for the start-up comparison)."""
        import torch

        self.enter()
        try:
            results = [self.run(x)]
        finally:
            self.leave()
        try:
            maps = self.maps(results)
            if len(maps) != 1 or len(maps[0]) != LAYERS:
                raise RuntimeError(f"one forward gave {[len(m) for m in maps]} maps, expected [{LAYERS}]")
            return [torch.as_tensor(value).clone() for value in maps[0]]
        finally:
            results.clear()
            self.free()


def fail(variant: Variant, exc: BaseException, where: str) -> None:
    variant.error = f"failed {where}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:300]
    progress(f"{variant.label}: {variant.error}")


# -- the models -----------------------------------------------------------------------------------------------------
def unfuse(model: Any) -> Any:
    """Eval mode, and timm's unfused attention path everywhere (else ``attn`` is never computed)."""
    model.eval()
    count = 0
    for module in model.modules():
        if hasattr(module, "fused_attn"):
            module.fused_attn = False
            count += 1
    if count != LAYERS:
        raise RuntimeError(f"expected {LAYERS} modules with fused_attn, found {count}")
    return model


def swap_attention_class(model: Any, old: type, new: type) -> Any:
    """Give each of the model's ``old`` attention modules the class ``new`` (a subclass): this instance only."""
    swapped = 0
    for module in model.modules():
        if type(module) is old:
            module.__class__ = new
            swapped += 1
    if swapped != LAYERS:
        raise RuntimeError(f"expected {LAYERS} {old.__qualname__} modules, swapped {swapped}")
    return model


def floor_forward(attention_type: type, sink: list[Any]) -> Callable[..., Any]:
    """timm's installed ``Attention.forward`` source, plus ``_FLOOR.append(attn)`` after the attention dropout.

    Compiled in a copy of the namespace of timm's module, so its globals (``F``, ``maybe_add_mask``, ...) are
    looked up exactly as the original's are; ``_FLOOR`` is ``sink``.
    """
    original = attention_type.forward
    lines = textwrap.dedent(inspect.getsource(original)).splitlines()
    hits = [i for i, line in enumerate(lines) if line.strip() == ANCHOR]
    if len(hits) != 1:
        raise RuntimeError(f"{original.__qualname__} has {len(hits)} lines `{ANCHOR}`; this script expects one")
    line = lines[hits[0]]
    lines.insert(hits[0] + 1, line[: len(line) - len(line.lstrip())] + "_FLOOR.append(attn)")
    namespace = dict(vars(sys.modules[original.__module__]))
    namespace["_FLOOR"] = sink
    exec(
        compile("\n".join(lines) + "\n", f"<floor copy of {original.__module__}.{original.__qualname__}>", "exec"),
        namespace,
    )
    forward = namespace[original.__name__]
    forward.__qualname__ = f"FloorAttention.{original.__name__}"
    return forward


def function_copy(func: types.FunctionType) -> types.FunctionType:
    """A new function object over the same code, globals, defaults and closure (for AnyCapture 0.1.4 to rewrite)."""
    new = types.FunctionType(func.__code__, func.__globals__, func.__name__, func.__defaults__, func.__closure__)
    new.__kwdefaults__ = copy.copy(func.__kwdefaults__)
    new.__qualname__ = func.__qualname__
    new.__module__ = func.__module__
    new.__dict__.update(func.__dict__)
    return new


# -- third-party libraries ------------------------------------------------------------------------------------------
TORCH_NAMESPACES = ("torch", "torch.Tensor", "torch.nn.functional", "torch.nn.Module", "torch.nn.Linear")


def torch_snapshot() -> dict[tuple[str, str], int]:
    """``id`` of every attribute of torch's main namespaces, to check that a library left torch as it found it."""
    import torch

    spaces = {
        "torch": torch,
        "torch.Tensor": torch.Tensor,
        "torch.nn.functional": torch.nn.functional,
        "torch.nn.Module": torch.nn.Module,
        "torch.nn.Linear": torch.nn.Linear,
    }
    return {(space, name): id(value) for space, obj in spaces.items() for name, value in list(vars(obj).items())}


@dataclass
class Extras:
    """torchlens and nnsight, or why not; and torch as it was before either touched it."""

    torchlens: Any = None
    torchlens_why: str = ""
    wrap_torch: Callable[[], None] = _noop
    unwrap_torch: Callable[[], None] = _noop
    nnsight: Any = None
    nnsight_why: str = ""
    clean: dict[tuple[str, str], int] = field(default_factory=dict)

    def assert_torch_clean(self, who: str) -> None:
        now = torch_snapshot()
        changed = sorted(
            f"{space}.{name}" for key, ident in self.clean.items() if now.get(key) != ident for space, name in [key]
        )
        if changed:
            raise RuntimeError(
                f"after {who}, torch is not as it was: {len(changed)} attributes differ, e.g. {changed[:5]}"
            )


def load_extras(skip: bool) -> Extras:
    extras = Extras()
    if skip:
        extras.torchlens_why = extras.nnsight_why = "skipped (--no-extras)"
    else:
        try:
            import torchlens
            from torchlens.backends.torch.wrappers import unwrap_torch, wrap_torch

            extras.torchlens, extras.wrap_torch, extras.unwrap_torch = torchlens, wrap_torch, unwrap_torch
        except Exception as exc:
            extras.torchlens_why = f"not importable here ({type(exc).__name__}: {exc})"
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                import nnsight  # patches torch at import (Tensor.backward); imported before the snapshot below

            extras.nnsight = nnsight
        except Exception as exc:
            extras.nnsight_why = f"not importable here ({type(exc).__name__}: {exc})"
    extras.clean = torch_snapshot()
    return extras


def version_of(module: Any) -> str:
    return getattr(module, "__version__", "?") if module is not None else "-"


# -- building the rows ----------------------------------------------------------------------------------------------
def build_variants(reference: Any, old: types.ModuleType | str, extras: Extras) -> list[Variant]:
    """Every row for one model; each row gets its own deep copy of ``reference`` (the uncaptured row's model)."""
    from timm.layers.attention import Attention
    from timm.utils import AttentionExtract

    def model_copy() -> Any:
        return copy.deepcopy(reference)

    variants = [Variant(REFERENCE, reference, kind="reference", captures=False)]

    # The hand-written floor, on a subclass used by its own model only.
    floor: list[Any] = []
    floor_type = type("FloorAttention", (Attention,), {"forward": floor_forward(Attention, floor)})
    floor_model = swap_attention_class(model_copy(), Attention, floor_type)
    variants.append(Variant(FLOOR, floor_model, lambda _r: chunks(floor), floor.clear, kind="floor"))

    # A forward hook on each attn_drop.
    hooked: list[Any] = []
    hook_model = model_copy()
    for block in hook_model.blocks:
        block.attn.attn_drop.register_forward_hook(lambda _module, _args, output: hooked.append(output))
    variants.append(Variant(HOOK, hook_model, lambda _r: chunks(hooked), hooked.clear, kind="hook"))

    # timm's own extractor, both methods.
    for method in ("fx", "hook"):
        label = f"timm `AttentionExtract(model, method={method!r})`"
        try:
            extractor = AttentionExtract(model_copy(), method=method)
            if len(extractor.names) != LAYERS:
                raise RuntimeError(f"it matched {len(extractor.names)} names: {extractor.names}")
        except Exception as exc:
            row = Variant(label, _noop)
            fail(row, exc, "to build")
        else:
            row = Variant(label, extractor, lambda results: [list(r.values()) for r in results])
        variants.append(row)

    # anycapture: capture() blocks, one per forward.
    for values in ("numpy", "tensor", "raw"):
        variants.append(capture_variant(model_copy(), values))

    variants.append(open_block_variant(model_copy()))

    # anycapture: get_local on timm's Attention.forward, activated around each batch.
    get_local("attn")(Attention.forward)
    variants.append(get_local_variant(model_copy(), Attention.forward))

    # AnyCapture 0.1.4 on a copy of Attention.forward, as the forward of a subclass used by its own models only.
    label = f"AnyCapture {OLD_VERSION}"
    if isinstance(old, str):
        variants.append(Variant(f"{label}: not measured", _noop, error=old, kind="third-party"))
    else:
        original_code = Attention.forward.__code__
        wrapper = old.get_local("attn")(function_copy(Attention.forward))
        if Attention.forward.__code__ is not original_code:
            raise RuntimeError(f"{label} changed timm's Attention.forward itself")
        old_type = type("Old014Attention", (Attention,), {"forward": wrapper})
        for raw in (True, False):
            model = swap_attention_class(model_copy(), Attention, old_type)
            variants.append(old_variant(old, model, raw))

    variants += torchlens_variants(reference, model_copy, extras)
    variants.append(nnsight_variant(model_copy, extras))
    for variant in variants:
        variant.kind = "third-party" if variant.kind == "other" else variant.kind
    return variants


def value_types() -> dict[str, type]:
    """The type of a stored map in each of anycapture's value modes."""
    import numpy
    import torch

    return {"numpy": numpy.ndarray, "tensor": torch.Tensor, "raw": torch.Tensor}


def capture_variant(model: Any, values: str) -> Variant:
    recipe = recipes.TIMM_VIT

    def run(x: Any) -> Any:
        with anycapture.capture(recipe, model=model, values=values) as cap:
            model(x)
        return cap

    def check(results: list[Any]) -> None:
        for cap in results:
            paths = [record.path for record in cap.records]
            if paths != PATHS:
                raise RuntimeError(f"capture(values={values!r}): records came from {paths}, expected {PATHS}")

    label = f"anycapture `capture(TIMM_VIT, model=model, values={values!r})`, one block per forward"

    def maps(results: list[Any]) -> list[list[Any]]:
        return [cap.get(KEY, []) for cap in results]

    return Variant(label, run, maps, check=check, kind="anycapture", value_type=value_types()[values])


def open_block_variant(model: Any) -> Variant:
    """One capture block opened before a batch and closed after it (untimed): what capture costs per forward
    without the cost of entering and leaving a block, as docs/capture.md recommends over a data loader.

    A block files each call with one append and makes its records when it is read; ``len(cap)`` after each
    forward reads it, so that the row pays for making every forward's records, as a loop that reads them does.
    """
    state: dict[str, Any] = {}

    def run(x: Any) -> Any:
        out = model(x)
        len(state["cap"])
        return out

    def enter() -> None:
        state["cap"] = cap = anycapture.capture(recipes.TIMM_VIT, model=model, values="raw")
        cap.__enter__()

    def leave() -> None:
        state["cap"].__exit__(None, None, None)

    def maps(_results: list[Any]) -> list[list[Any]]:
        return chunks(state["cap"].get(KEY, [])) if "cap" in state else []

    label = "anycapture `capture(..., values='raw')`, one block held open around each batch, read after each forward"
    return Variant(label, run, maps, state.clear, enter, leave, kind="anycapture")


def get_local_variant(model: Any, target: types.FunctionType) -> Variant:
    def enter() -> None:
        get_local.activate(values="raw")
        used = attached_backend(target)
        if used not in (anycapture.backends()[0], "?"):
            get_local.deactivate()
            raise RuntimeError(f"get_local: expected backend {anycapture.backends()[0]!r}, got {used!r}")

    def maps(_results: list[Any]) -> list[list[Any]]:
        return chunks(get_local.cache.get(KEY, []))

    label = "anycapture `get_local('attn')(Attention.forward)`, `activate(values='raw')`"
    row = Variant(label, model, maps, get_local.clear, enter, get_local.deactivate, kind="anycapture")
    row.value_type = value_types()["raw"]
    return row


def old_variant(old: types.ModuleType, model: Any, raw: bool) -> Variant:
    old_get_local = old.get_local

    def enter() -> None:
        old_get_local.set_collate_fn((lambda value: value) if raw else None)
        old_get_local.activate()

    def leave() -> None:
        old_get_local.deactivate()
        old_get_local.set_collate_fn(None)

    def maps(_results: list[Any]) -> list[list[Any]]:
        return chunks(old_get_local.cache.get(KEY, []))

    label = f"AnyCapture {OLD_VERSION}, " + (
        "raw (`set_collate_fn(lambda v: v)`)" if raw else "default collate (numpy)"
    )
    return Variant(label, model, maps, old_get_local.clear, enter, leave, kind="third-party")


def torchlens_variants(reference: Any, model_copy: Callable[[], Any], extras: Extras) -> list[Variant]:
    tl = extras.torchlens
    names = ("torchlens `trace(model, x, save=tl.func('softmax'))`", "torchlens `fastlog.record(model, x, save=...)`")
    wrapped_label = "uncaptured forward, torch wrapped by torchlens (as `trace()` leaves it)"
    if tl is None:
        return [Variant(name, _noop, error=extras.torchlens_why) for name in names]

    def enter() -> None:
        extras.wrap_torch()

    def leave() -> None:
        extras.unwrap_torch()
        extras.assert_torch_clean("torchlens")

    save = tl.func("softmax")
    trace_model, record_model = model_copy(), model_copy()

    def run_trace(x: Any) -> Any:
        return tl.trace(trace_model, x, save=save)

    def run_record(x: Any) -> Any:
        return tl.fastlog.record(record_model, x, save=save)

    def trace_maps(results: list[Any]) -> list[list[Any]]:
        return [[layer.out for layer in trace.layer_list if layer.has_saved_activation] for trace in results]

    def record_maps(results: list[Any]) -> list[list[Any]]:
        return [[record.ram_payload for record in recording.records] for recording in results]

    return [
        Variant(wrapped_label, model_copy(), enter=enter, leave=leave, captures=False),
        Variant(names[0], run_trace, trace_maps, enter=enter, leave=leave, slow=True),
        Variant(names[1], run_record, record_maps, enter=enter, leave=leave, slow=True),
    ]


def nnsight_variant(model_copy: Callable[[], Any], extras: Extras) -> Variant:
    label = "nnsight `NNsight(model).trace(x)` saving each `attn_drop` output"
    if extras.nnsight is None:
        return Variant(label, _noop, error=extras.nnsight_why)
    envoy = extras.nnsight.NNsight(model_copy())  # wraps the forward of every module of its own model

    def run(x: Any) -> Any:
        with envoy.trace(x):
            maps = list().save()  # nnsight mounts .save() on every object; the saved list is what comes back
            for block in envoy.blocks:
                maps.append(block.attn.attn_drop.output)
        return maps

    def leave() -> None:
        extras.assert_torch_clean("nnsight")

    return Variant(label, run, lambda results: [list(maps) for maps in results], leave=leave)


# -- timing ---------------------------------------------------------------------------------------------------------
@dataclass
class Config:
    key: str
    title: str
    model: str  # "vit_s" or "tiny"
    batch: int
    rounds: int
    batch_ms: float | None  # None: one forward per batch
    shape: tuple[int, ...] = ()


def compare_with_floor(variants: list[Variant], x: Any, title: str) -> list[str]:
    """Each row's maps of one forward against the floor's; returns notes (failures mark the row)."""
    import torch

    floor = next(v for v in variants if v.kind == "floor")
    expected = floor.capture_once(x)
    worst = 0.0
    for variant in variants:
        if variant.error is not None or not variant.captures or variant is floor:
            continue
        try:
            got = variant.capture_once(x)
            for index, (mine, theirs) in enumerate(zip(got, expected, strict=True)):
                if mine.shape != theirs.shape or not torch.allclose(mine, theirs, rtol=1e-4, atol=1e-6):
                    raise RuntimeError(f"map {index} differs from the floor's")
                worst = max(worst, float((mine - theirs).abs().max()))
        except Exception as exc:
            fail(variant, exc, f"the start-up comparison ({title})")
    return [f"{title}: every measured row's 12 maps match the floor's (largest difference {worst:.1e})"]


def calibrate(variant: Variant, x: Any, shape: tuple[int, ...], batch_ms: float | None) -> None:
    """Forwards per batch for this row, after an untimed warm-up batch."""
    variant.batch(x, 1, shape)
    if batch_ms is None or variant.slow:
        variant.number = 1
        return
    estimate = variant.batch(x, 3, shape)
    variant.number = max(1, min(500, round(batch_ms / 1000 / estimate)))
    variant.batch(x, variant.number, shape)


def time_config(variants: list[Variant], config: Config, x: Any, slow_rounds: int) -> None:
    live = [v for v in variants if v.error is None]
    for variant in live:
        try:
            calibrate(variant, x, config.shape, config.batch_ms)
        except Exception as exc:
            fail(variant, exc, f"to warm up ({config.title})")
    slow_count = min(slow_rounds, config.rounds)
    slow_set = {round(i * config.rounds / slow_count) for i in range(slow_count)}
    started = time.perf_counter()
    for round_index in range(config.rounds):
        live = [v for v in variants if v.error is None and (not v.slow or round_index in slow_set)]
        start = round_index % len(live)
        for variant in live[start:] + live[:start]:
            try:
                seconds = variant.batch(x, variant.number, config.shape)
            except Exception as exc:
                if variant.kind != "third-party":
                    raise
                fail(variant, exc, f"in round {round_index} ({config.title})")
                continue
            variant.samples.setdefault(config.key, {})[round_index] = seconds
            variant.faults.setdefault(config.key, []).append(variant.last_faults)
        if round_index in (0, config.rounds - 1) or time.perf_counter() - started > 20:
            progress(f"{config.title}: round {round_index + 1}/{config.rounds} done, RSS {rss_mb():.0f} MiB")
            started = time.perf_counter()


@dataclass
class Stats:
    ms: float
    ms_q: tuple[float, float]
    ratio: float
    ratio_q: tuple[float, float]
    extra_ms: float
    extra_q: tuple[float, float]
    rounds: int


def quartiles(values: list[float]) -> tuple[float, float]:
    if len(values) < 2:
        return values[0], values[0]
    q1, _, q3 = statistics.quantiles(values, n=4)
    return q1, q3


def stats(variant: Variant, against: Variant, key: str) -> Stats | None:
    mine, theirs = variant.samples.get(key, {}), against.samples.get(key, {})
    rounds = sorted(set(mine) & set(theirs))
    if not rounds:
        return None
    ms = [mine[r] * 1e3 for r in rounds]
    ratios = [mine[r] / theirs[r] for r in rounds]
    extra = [(mine[r] - theirs[r]) * 1e3 for r in rounds]
    return Stats(
        statistics.median(ms),
        quartiles(ms),
        statistics.median(ratios),
        quartiles(ratios),
        statistics.median(extra),
        quartiles(extra),
        len(rounds),
    )


def config_table(variants: list[Variant], config: Config) -> list[str]:
    reference = next(v for v in variants if v.kind == "reference")
    lines = [
        "| variant | ms/forward (median) | IQR ms | ratio to uncaptured (median of rounds) | IQR ratio "
        "| extra ms/forward (median of rounds) | IQR extra ms | page faults/forward | rounds x forwards |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for variant in variants:
        found = stats(variant, reference, config.key) if variant.error is None else None
        if found is None:
            why = variant.error or "no samples"
            lines.append(f"| {variant.label} | - | - | {why} | | | | | |")
            continue
        lines.append(
            f"| {variant.label} | {found.ms:.3f} | {found.ms_q[0]:.3f}-{found.ms_q[1]:.3f} | {found.ratio:.3f}x "
            f"| {found.ratio_q[0]:.3f}-{found.ratio_q[1]:.3f} | {found.extra_ms:+.3f} "
            f"| {found.extra_q[0]:+.3f} to {found.extra_q[1]:+.3f} "
            f"| {statistics.median(variant.faults[config.key]):.0f} | {found.rounds} x {variant.number} |"
        )
    return lines


def verdict(median: float, low: float, high: float, target: float) -> str:
    """Whether the median meets the target; "(within noise)" where the interquartile range straddles it."""
    word = "yes" if median <= target else "**NO**"
    return f"{word} (within noise)" if low <= target <= high else word


def targets_table(suites: dict[str, list[Variant]], configs: list[Config]) -> list[str]:
    """One row per anycapture row: each target, the measured median (and IQR), and whether it meets it."""

    def find(model: str, kind: str, label: str | None = None) -> Variant | None:
        return next((v for v in suites[model] if v.kind == kind and label in (None, v.label)), None)

    # (config, row to compare with, "extra" or "ratio", target)
    columns: list[tuple[Config, str, str, float]] = []
    columns += [(c, "reference", "extra", FIXED_COST_TARGET_MS) for c in configs if c.model == "tiny"]
    columns += [(c, "floor", "ratio", FLOOR_TARGET) for c in configs if c.model == "vit_s"]
    columns += [(c, "hook", "ratio", HOOK_TARGET) for c in configs]
    names = {"reference": "fixed cost (extra ms/forward)", "floor": "vs floor", "hook": "vs forward hook"}
    header = ["anycapture row"] + [
        f"{names[kind]}, {config.title}; target <= " + (f"+{target:.2f} ms" if metric == "extra" else f"{target:.2f}x")
        for config, kind, metric, target in columns
    ]
    lines = ["| " + " | ".join(header) + " |", "|---" + "|---:" * len(columns) + "|"]
    for row in suites["vit_s"]:
        if row.kind != "anycapture":
            continue
        cells = [row.label]
        for config, kind, metric, target in columns:
            mine, against = find(config.model, "anycapture", row.label), find(config.model, kind)
            found = stats(mine, against, config.key) if mine is not None and against is not None else None
            if found is None:
                cells.append("-")
            elif metric == "extra":
                low, high = found.extra_q
                mark = verdict(round(found.extra_ms, 3), low, high, target)  # as printed
                cells.append(f"{found.extra_ms:+.3f} (IQR {low:+.3f} to {high:+.3f}) {mark}")
            else:
                low, high = found.ratio_q
                cells.append(
                    f"{found.ratio:.4f}x (IQR {low:.4f}-{high:.4f}) {verdict(round(found.ratio, 4), low, high, target)}"
                )
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def survivors_table(suites: dict[str, list[Variant]]) -> list[str]:
    """Rows whose maps outlived the clearing of everything the row itself holds (weak references tell)."""
    lines = [
        "Every batch's maps are weakly referenced, the row's own lists are cleared, and the references checked: "
        "a map still alive is held by the library itself. Rows not listed freed every batch's maps at once.",
        "",
        "| model | variant | batches | maps alive after the row's lists were cleared | alive after gc.collect() |",
        "|---|---|---:|---:|---:|",
    ]
    for model, suite in suites.items():
        for row in suite:
            if row.outlived_free:
                lines.append(f"| {model} | {row.label} | {row.batches} | {row.outlived_free} | {row.outlived_gc} |")
    if len(lines) == 4:
        lines.append("| - | none | | | |")
    return lines


# -- main -----------------------------------------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds-b1", type=int, default=30, help="rounds at ViT-S/16 batch 1 (default 30)")
    parser.add_argument("--rounds-b8", type=int, default=12, help="rounds at ViT-S/16 batch 8 (default 12)")
    parser.add_argument("--rounds-tiny", type=int, default=80, help="rounds on the tiny ViT (default 80)")
    parser.add_argument("--slow-rounds", type=int, default=3, help="rounds for the slow torchlens rows (default 3)")
    parser.add_argument("--tiny-batch-ms", type=float, default=40.0, help="ms per batch on the tiny ViT (default 40)")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1; inter-op: 1)")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE, help=f"where AnyCapture {OLD_VERSION} lives")
    parser.add_argument("--no-install", action="store_true", help=f"never pip install AnyCapture {OLD_VERSION}")
    parser.add_argument("--no-extras", action="store_true", help="skip torchlens and nnsight even if they import")
    parser.add_argument(
        "--steady-malloc", action="store_true", help="glibc: reuse freed memory without page faults (see steady_malloc)"
    )
    parser.add_argument("--quick", action="store_true", help="a smoke test: 3/2/8 rounds, 2 slow, 10 ms tiny batches")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds_b1, args.rounds_b8, args.rounds_tiny, args.slow_rounds, args.tiny_batch_ms = 3, 2, 8, 2, 10.0
    if min(args.rounds_b1, args.rounds_b8, args.rounds_tiny, args.slow_rounds) < 2 or args.tiny_batch_ms <= 0:
        parser.error("every --rounds-* and --slow-rounds must be at least 2, --tiny-batch-ms positive")
    if args.threads < 1:
        parser.error("--threads must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        import timm
        import torch
        from timm.models.vision_transformer import VisionTransformer
    except ImportError as exc:
        print(f"bench_vit: skipped, timm (with torch) is not importable here: {exc}")
        return 0

    began = time.perf_counter()
    torch.set_num_threads(args.threads)
    with contextlib.suppress(RuntimeError):  # only settable before the first parallel work
        torch.set_num_interop_threads(1)
    notes: list[str] = []
    if args.steady_malloc:
        notes.append(steady_malloc())
    extras = load_extras(args.no_extras)
    old = load_old_anycapture(args.cache_dir, install=not args.no_install)
    configs = [
        Config("b1", "ViT-S/16, batch 1", "vit_s", 1, args.rounds_b1, None),
        Config("b8", "ViT-S/16, batch 8", "vit_s", 8, args.rounds_b8, None),
        Config(
            "tiny",
            "tiny ViT (32 px, 17 tokens, dim 48, 12 blocks), batch 1",
            "tiny",
            1,
            args.rounds_tiny,
            args.tiny_batch_ms,
        ),
    ]

    suites: dict[str, list[Variant]] = {}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # third-party deprecation chatter; anycapture's own warnings would fail checks
        torch.manual_seed(0)
        models = {
            "vit_s": unfuse(timm.create_model("vit_small_patch16_224", pretrained=False)),
            "tiny": unfuse(VisionTransformer(**TINY)),
        }
        # [heads, tokens, tokens] of each map, and the input's side in pixels, from the models themselves.
        maps = {
            name: (m.blocks[0].attn.num_heads, *[m.patch_embed.num_patches + m.num_prefix_tokens] * 2)
            for name, m in models.items()
        }
        sizes = {name: m.patch_embed.img_size[0] for name, m in models.items()}
        for name, model in models.items():
            progress(f"building the rows for {name}")
            suites[name] = build_variants(model, old, extras)
            x1 = torch.randn(1, 3, sizes[name], sizes[name])
            notes += compare_with_floor(suites[name], x1, "ViT-S/16" if name == "vit_s" else "tiny ViT")
        for config in configs:
            config.shape = (config.batch, *maps[config.model])
            x = torch.randn(config.batch, 3, sizes[config.model], sizes[config.model])
            gc.collect()
            gc.freeze()  # everything built so far: out of the collector's way while timing
            before = rss_mb()
            progress(f"{config.title}: {config.rounds} rounds")
            time_config(suites[config.model], config, x, args.slow_rounds)
            notes.append(f"{config.title}: RSS {before:.0f} MiB before its rounds, {rss_mb():.0f} MiB after")
    elapsed = time.perf_counter() - began

    print(
        f"# Capturing the 12 attention maps of a timm ViT forward: anycapture {anycapture.__version__} "
        f"(backend {anycapture.backends()[0]}) on {platform.python_implementation()} {platform.python_version()}"
    )
    print()
    print(
        f"- torch {torch.__version__} on the CPU ({platform.machine()}, {os.cpu_count()} cores), "
        f"`torch.set_num_threads({args.threads})`, inter-op threads {torch.get_num_interop_threads()}; timm "
        f"{timm.__version__}; torchlens {version_of(extras.torchlens)}; nnsight {version_of(extras.nnsight)}; "
        f"AnyCapture {OLD_VERSION}: {'loaded' if not isinstance(old, str) else old}"
    )
    print(
        f"- eval mode, `torch.no_grad()`, `fused_attn=False` on every attention module; random weights; every row "
        f"runs its own copy of the model; rounds: {args.rounds_b1} (batch 1), {args.rounds_b8} (batch 8), "
        f"{args.rounds_tiny} (tiny), torchlens rows {args.slow_rounds}; the whole run took {elapsed:.0f} s"
    )
    for note in notes:
        print(f"- {note}")
    for config in configs:
        print()
        print(f"## {config.title}")
        print()
        print("\n".join(config_table(suites[config.model], config)))
    print()
    print("## Were the maps freed between batches?")
    print()
    print("\n".join(survivors_table(suites)))
    print()
    print("## Targets for anycapture")
    print()
    print("\n".join(targets_table(suites, configs)))
    print()
    print(
        "A verdict compares the median with the target; *(within noise)*: the target lies inside the interquartile "
        "range of the per-round values, so this run cannot tell them apart."
    )
    failed = [v.label for suite in suites.values() for v in suite if v.error and v.kind != "third-party"]
    if failed:
        print(f"\nrows of anycapture or the baselines failed: {failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

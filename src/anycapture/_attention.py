"""``capture_attention()``: the attention probabilities of fused ``scaled_dot_product_attention``.

The fused kernel never materialises the attention matrix, so no local variable holds it. Inside a
``capture_attention`` block, ``torch.nn.functional.scaled_dot_product_attention`` is replaced by a
wrapper that first calls the original kernel (so the model's output is bit-identical) and then
computes ``softmax(q @ k^T * scale + mask)`` with the exact semantics of that call: boolean and
additive masks with broadcasting, ``is_causal``, ``scale``, ``enable_gqa``. Dropout is not applied:
the probabilities are those before dropout. The original function is back when the last block ends,
even on error.

The probabilities are computed a chunk of query rows at a time (``attention_chunks``), and only for
the rows a block asks for (``queries=``): at long context, one layer's full map can be larger than
memory, while the rows studied (the last token's) are a sliver of it. A ``rowwise`` reduce runs on
each chunk, so the full map is never held.

Code that imported the function by name before the block (``from torch.nn.functional import
scaled_dot_product_attention``) keeps the original and is not seen; timm, transformers,
torchvision and ``nn.MultiheadAttention`` all look it up on ``torch.nn.functional`` at call time.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import operator
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any, Literal, NamedTuple

from . import _engine
from ._capture import Capture
from ._options import ValueOptions, check_flag, value_options
from ._values import compact

__all__ = [
    "AttentionCapture",
    "RowwiseReduce",
    "attention_chunks",
    "attention_probabilities",
    "capture_attention",
    "rowwise",
]

KEY = "scaled_dot_product_attention.attn"
_LABEL = "torch.nn.functional:scaled_dot_product_attention"
_lock = threading.RLock()
_blocks: tuple[AttentionCapture, ...] = ()
_original: Callable[..., Any] | None = None
_wrapper: Callable[..., Any] | None = None


def _bind(
    query: Any,
    key: Any,
    value: Any,
    attn_mask: Any = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
    enable_gqa: bool = False,
) -> _Call:
    """The arguments of one ``scaled_dot_product_attention`` call that shape its probabilities."""
    return _Call(query, key, attn_mask, is_causal, scale, enable_gqa)


class _Call(NamedTuple):
    query: Any
    key: Any
    attn_mask: Any
    is_causal: bool
    scale: float | None
    enable_gqa: bool


# One chunk of query rows holds at most this many bytes of float32 scores (when chunk= is not given).
CHUNK_BYTES = 64 << 20
# A chunk larger than this is turned into probabilities in place (one chunk in memory, not two).
_IN_PLACE_BYTES = 8 << 20


class RowwiseReduce:
    """A ``reduce=`` that works row by row: see :func:`rowwise`."""

    __slots__ = ("dim", "fn")

    def __init__(self, fn: Callable[[Any], Any], dim: int) -> None:
        self.fn = fn
        self.dim = dim

    def __call__(self, probs: Any) -> Any:
        return self.fn(probs)

    def __repr__(self) -> str:
        return f"rowwise({self.fn!r}, dim={self.dim})"


def rowwise(fn: Callable[[Any], Any], dim: int = -2) -> RowwiseReduce:
    """Declare a ``reduce=`` of :func:`capture_attention` row-wise, so that it runs on chunks of rows.

    ``fn`` must treat each query row on its own (a head mean, the entropy of each row, the weight on
    token 0), and its result keeps the rows along axis ``dim`` (``-2`` for ``p.mean(1)``, which gives
    ``[batch, rows, keys]``; ``-1`` for ``p[..., 0]``, which gives ``[batch, heads, rows]``).
    ``capture_attention`` then never builds the whole map: it computes the probabilities a chunk of
    query rows at a time (``[batch, heads, rows in the chunk, keys]``), hands each chunk to ``fn``
    and concatenates the results along ``dim``. The record is what ``fn`` would give on the whole
    map. Called on a whole map (in :func:`anycapture.capture`, say), it is ``fn``.

    >>> import torch
    >>> from anycapture import capture_attention, rowwise
    >>> q = torch.randn(1, 2, 6, 4)
    >>> with capture_attention(reduce=rowwise(lambda p: p.mean(1)), chunk=4, values="tensor") as cap:
    ...     out = torch.nn.functional.scaled_dot_product_attention(q, q, q, is_causal=True)
    >>> cap.stack("attn").shape                 # one record: [calls, batch, rows, keys]
    torch.Size([1, 1, 6, 6])
    """
    if not callable(fn):
        raise TypeError(f"rowwise() takes the function that reduces a chunk of rows; got {fn!r}")
    if type(dim) is not int:
        raise TypeError(f"dim={dim!r} is not an axis; give the int axis of fn's result along which the rows lie")
    return RowwiseReduce(fn, dim)


def _check_queries(queries: Any) -> Any:
    """``queries=`` as given, checked: None, an int, a slice of ints, or a sequence of ints."""
    if queries is None or (type(queries) is int):
        return queries
    if type(queries) is not bool and not isinstance(queries, slice):
        with contextlib.suppress(TypeError):
            return operator.index(queries)  # a numpy or torch integer scalar
    if isinstance(queries, slice):
        for part in (queries.start, queries.stop, queries.step):
            if part is not None and type(part) is not int:
                raise TypeError(f"queries={queries!r}: a slice of query rows takes ints or None")
        if queries.step == 0:
            raise ValueError(f"queries={queries!r}: a slice step cannot be zero")
        return queries
    if isinstance(queries, str | bytes) or not hasattr(queries, "__iter__"):
        raise TypeError(
            f"queries={queries!r} is not query rows; give an int (-1: the last token), a slice or a list of ints"
        )
    rows = tuple(int(r) if type(r) is not bool and hasattr(r, "__index__") else r for r in queries)
    if not rows or not all(type(r) is int for r in rows):
        raise TypeError(f"queries={queries!r}: give a non-empty sequence of ints (row numbers on the query axis)")
    return rows


def _rows(queries: Any, length: int) -> range | list[int]:
    """The query rows ``queries=`` picks in a call with ``length`` rows, counted from 0."""
    if queries is None:
        return range(length)
    if isinstance(queries, slice):
        return range(length)[queries]
    picked = (queries,) if type(queries) is int else queries
    rows = []
    for row in picked:
        if not -length <= row < length:
            raise IndexError(
                f"queries={queries!r} is out of range for a call with {length} query row(s) (a decode step of "
                "generate() has 1: queries=-1 picks the last row of every call)"
            )
        rows.append(row % length)
    return range(rows[0], rows[0] + 1) if type(queries) is int else rows


def _chunk_rows(call: _Call, chunk: int | None) -> int:
    """How many query rows one chunk holds: ``chunk=``, or as many as fit in ``CHUNK_BYTES``."""
    if chunk is not None:
        return chunk
    query, key = call.query, call.key
    per_row = 4 * int(key.size(-2))  # float32 scores of one row, for every batch item and head
    for size in query.shape[:-2]:
        per_row *= int(size)
    return max(1, CHUNK_BYTES // max(1, per_row))


def attention_chunks(call: _Call, queries: Any = None, chunk: int | None = None) -> Any:
    """Yield the probabilities of the rows ``queries`` picks, ``[..., rows in chunk, keys]``, in order.

    Each chunk is computed on its own from ``query[rows] @ key^T``, so no more than one chunk of the
    map exists at a time; its memory (float32) is the chunk's only large allocation.
    """
    import torch

    query, key, mask = call.query, call.key, call.attn_mask
    rows = _rows(queries, query.size(-2))
    step = _chunk_rows(call, chunk)
    with torch.no_grad(), _without_autocast(torch, query.device.type):
        if query.dtype in (torch.float16, torch.bfloat16):
            key = key.float()
        groups = 1
        if call.enable_gqa and key.dim() >= 3 and key.size(-3) != query.size(-3):
            groups = query.size(-3) // key.size(-3)
        keys_t = key.transpose(-2, -1)
        factor = 1 / math.sqrt(query.size(-1)) if call.scale is None else call.scale
        source = key.size(-2)
        for start in range(0, len(rows), step):
            part = rows[start : start + step]
            if isinstance(part, range) and part.step == 1:
                pick: Any = slice(part.start, part.stop)
                q = query[..., pick, :]
            else:
                pick = torch.tensor(list(part), dtype=torch.long, device=query.device)
                q = query.index_select(-2, pick)
            q = q.float() if q.dtype in (torch.float16, torch.bfloat16) else q
            if groups > 1:
                # Each key head serves `groups` consecutive query heads: fold them into the rows, so
                # the key is never repeated, and unfold the scores.
                count = q.size(-2)
                shape = q.shape
                q = q.reshape(*shape[:-3], key.size(-3), groups * count, shape[-1])
                scores = torch.matmul(q, keys_t).reshape(*shape[:-1], source)
            else:
                scores = torch.matmul(q, keys_t)
            scores.mul_(factor)
            if call.is_causal:
                at = torch.arange(part[0], part[-1] + 1, device=query.device) if isinstance(pick, slice) else pick
                allowed = at[:, None] >= torch.arange(source, device=query.device)[None, :]
                scores.masked_fill_(~allowed, float("-inf"))
            if mask is not None:
                m = mask
                if m.dim() >= 2 and m.size(-2) != 1:
                    m = m[..., pick, :] if isinstance(pick, slice) else m.index_select(-2, pick)
                if m.dtype == torch.bool:
                    m = ~m
                    scores = _into(scores, m, lambda s, mm: s.masked_fill_(mm, float("-inf")))
                else:
                    m = m.to(scores.dtype)  # a half-precision mask on float32 scores
                    scores = _into(scores, m, lambda s, mm: s.add_(mm))
            if scores.numel() * 4 > _IN_PLACE_BYTES:
                _softmax_(scores)
            else:
                # Small: torch's fused softmax is faster than the passes in place, and a second
                # chunk of this size costs nothing. Only a mask can leave a row with no key.
                dead = scores.amax(-1, keepdim=True) == float("-inf") if mask is not None else None
                scores = torch.softmax(scores, -1)
                if dead is not None:
                    scores.masked_fill_(dead, 0.0)
            yield scores
            # Dropped before the next chunk is made: two chunks would be in flight otherwise.
            del scores, q


def _into(scores: Any, other: Any, apply: Callable[[Any, Any], Any]) -> Any:
    """``apply(scores, other)`` in place, on ``scores`` broadcast first when ``other`` is wider."""
    import torch

    shape = torch.broadcast_shapes(scores.shape, other.shape)  # type: ignore[no-untyped-call, unused-ignore]  # typed only where torch is installed
    if shape != scores.shape:
        scores = scores.expand(shape).clone()
    return apply(scores, other)


def _softmax_(scores: Any) -> None:
    """Softmax over the last axis, in place (one chunk of memory, not two). A row whose keys are all
    masked (-inf) becomes zeros: what PyTorch's kernels output for it, so ``probs @ v`` stays equal
    to the kernel's output."""
    top = scores.amax(-1, keepdim=True)
    top.masked_fill_(top == float("-inf"), 0.0)
    scores.sub_(top).exp_()
    total = scores.sum(-1, keepdim=True)
    total.masked_fill_(total == 0, 1.0)  # only a fully masked row sums to 0: the largest term is exp(0)
    scores.div_(total)


def attention_probabilities(
    query: Any,
    key: Any,
    attn_mask: Any = None,
    is_causal: bool = False,
    scale: float | None = None,
    enable_gqa: bool = False,
    *,
    queries: Any = None,
    chunk: int | None = None,
) -> Any:
    """``softmax(query @ key^T * scale + mask)`` as ``scaled_dot_product_attention`` defines it.

    Half-precision inputs are computed in float32, also under ``torch.autocast`` (which is turned
    off here: it would compute the scores in half precision again). A row whose keys are all
    masked out is zeros, as PyTorch's kernels give (so ``probs @ value`` is their output).
    ``queries=`` keeps some query rows only (an int, a slice or a list of ints, negative from the
    end): ``[..., len(rows), keys]``. The rows are computed ``chunk`` at a time (by default as many
    as fit in 64 MiB of float32 scores), so the memory in flight is the result and one chunk.

    >>> import torch
    >>> q = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])
    >>> attention_probabilities(q, q, is_causal=True)
    tensor([[[1.0000, 0.0000],
             [0.3302, 0.6698]]])
    >>> attention_probabilities(q, q, is_causal=True, queries=-1)
    tensor([[[0.3302, 0.6698]]])
    """
    call = _Call(query, key, attn_mask, is_causal, scale, enable_gqa)
    return _assemble(call, _check_queries(queries), _check_chunk(chunk))


def _assemble(call: _Call, queries: Any, chunk: int | None) -> Any:
    """The chunks of :func:`attention_chunks` as one tensor, each written once into its place."""
    import torch

    out = None
    done = 0
    total = len(_rows(queries, call.query.size(-2)))
    for part in attention_chunks(call, queries, chunk):
        if out is None:
            if part.size(-2) == total:
                return part
            out = part.new_empty((*part.shape[:-2], total, part.size(-1)))
        count = part.size(-2)
        out[..., done : done + count, :] = part
        done += count
        del part  # before the next chunk is made
    if out is None:  # no rows: an empty query axis
        query = call.query
        return torch.zeros((*query.shape[:-2], 0, call.key.size(-2)), dtype=torch.float32, device=query.device)
    return out


def _check_chunk(chunk: Any) -> int | None:
    if chunk is None:
        return None
    if type(chunk) is not int or chunk < 1:
        raise ValueError(f"chunk={chunk!r} is not a number of query rows; give an int >= 1, or None (64 MiB chunks)")
    return chunk


def _without_autocast(torch: Any, device_type: str) -> Any:
    """A context that turns autocast off for ``device_type``; none for a device autocast does not know
    (a ``meta`` tensor), where it cannot be on."""
    try:
        return torch.autocast(device_type, enabled=False)
    except RuntimeError:
        return contextlib.nullcontext()


def _make_wrapper(original: Callable[..., Any]) -> Callable[..., Any]:
    def scaled_dot_product_attention(*args: Any, **kwargs: Any) -> Any:
        output = original(*args, **kwargs)
        blocks = _blocks
        # Not in backward: activation checkpointing runs the forward again there, and these
        # probabilities were captured when the forward ran first.
        if blocks and sys.modules["torch"]._C._current_autograd_node() is None:
            try:
                caller = sys._getframe(1)
                call = _unpacked(_bind(*args, **kwargs), caller)
                shared: list[tuple[Any, Any]] = []  # maps computed for this call, by (queries, chunk)
                for block in blocks:
                    block._observe(call, caller, shared)
            except Exception as exc:  # whatever happens here, the model gets its output
                for block in blocks:
                    with contextlib.suppress(Exception):
                        block._failed(exc)
        return output

    scaled_dot_product_attention.__wrapped__ = original  # type: ignore[attr-defined]
    scaled_dot_product_attention.__doc__ = original.__doc__
    return scaled_dot_product_attention


_SDPA_MODULE = "transformers.integrations.sdpa_attention"


def _unpacked(call: _Call, caller: Any) -> _Call:
    """The call in the model's layout when transformers packed the query heads into the query axis.

    For a one-token decode step with a mask, ``sdpa_attention_forward`` reshapes the query
    ``[batch, heads, 1, dim]`` to ``[batch, key heads, group, dim]`` (``pack_gqa``), so that each key
    head attends for its group of query heads as if they were rows. Its local ``q_length`` (the
    true number of query rows) tells the packing apart: the query is unpacked again and its heads
    grouped (``enable_gqa``), which gives the same numbers in ``[batch, heads, 1, keys]``.
    """
    code = caller.f_code
    if code.co_name != "sdpa_attention_forward" or caller.f_globals.get("__name__") != _SDPA_MODULE:
        return call
    length = caller.f_locals.get("q_length")
    query = call.query
    if type(length) is not int or length < 1 or query.dim() != 4:
        return call
    packed = query.size(-2)
    if packed == length or packed % length:
        return call
    query = query.reshape(query.size(0), -1, length, query.size(-1))
    mask = call.attn_mask
    if mask is not None and mask.dim() == 4 and mask.size(-2) == packed:
        mask = mask.reshape(mask.size(0), -1, length, mask.size(-1))
    return call._replace(query=query, attn_mask=mask, enable_gqa=True)


def _register(block: AttentionCapture) -> None:
    global _blocks, _original, _wrapper
    import torch.nn.functional as F  # noqa: N812 - the conventional name

    with _lock:
        if not _blocks:
            _original = F.scaled_dot_product_attention
            _wrapper = _make_wrapper(_original)
            F.scaled_dot_product_attention = _wrapper
        _blocks = (*_blocks, block)


def _unregister(block: AttentionCapture) -> None:
    global _blocks, _original, _wrapper
    import torch.nn.functional as F  # noqa: N812

    with _lock:
        _blocks = tuple(b for b in _blocks if b is not block)
        if _blocks or _original is None:
            return
        if F.scaled_dot_product_attention is _wrapper:
            F.scaled_dot_product_attention = _original
        elif F.scaled_dot_product_attention is not _original:  # (_original: an unregister cut short, run again)
            _engine.warn_once(
                block._warned,
                "replaced",
                "torch.nn.functional.scaled_dot_product_attention was replaced by someone else during the "
                "capture_attention block; leaving their replacement in place",
            )
        _original = _wrapper = None


class AttentionCapture(Capture):
    """The result of :func:`capture_attention`: a :class:`~anycapture.Capture` with one key,
    ``'scaled_dot_product_attention.attn'``, whose records carry the calling layer's path."""

    _api = "capture_attention"

    def __init__(
        self, *, model: Any, options: ValueOptions, strict: bool, queries: Any = None, chunk: int | None = None
    ) -> None:
        reduce = options.reduce
        # A row-wise reduce runs here, on each chunk of rows; the block files what it gives.
        self._rowwise = reduce if isinstance(reduce, RowwiseReduce) else None
        if self._rowwise is not None:
            options = options._replace(reduce=None)
        super().__init__([], model=model, options=options, strict=strict)
        self._queries = queries
        self._chunk = chunk
        self._calls = itertools.count()
        self._seen = 0

    def _start(self) -> None:
        import torch  # noqa: F401 - fail here, clearly, when torch is missing

        self._attention_records = self._intake.records_of(KEY)
        try:
            _register(self)
        except BaseException:  # an interrupt (Ctrl-C) cut it short: the kernel as it was
            _unregister(self)
            raise

    def _stop(self) -> None:
        _unregister(self)

    def _known(self) -> set[str]:
        return {"attn", KEY}

    def _problems(self) -> list[str]:
        if self._seen:
            return []
        return [
            "torch.nn.functional.scaled_dot_product_attention was never called inside the block. Hint: the "
            "model computes attention another way: an eager path (capture its variable with anycapture.capture "
            "and a recipe), nn.MultiheadAttention's fast path (taken in eval mode under no_grad: run with "
            "gradients enabled), or a kernel it imported by name before the block."
        ]

    def _observe(self, call: _Call, caller: Any, shared: list[tuple[Any, Any]]) -> None:
        """One call of the kernel: file its probabilities. Runs inside the model's forward."""
        try:
            number = next(self._calls)
            self._seen = number + 1
            path = self._layers.path_from_stack(caller) if self._layers is not None else None
            if self._intake.streams_rows and self._stream(call, path, number):
                return
            value = self._probabilities(call, shared)
            self._intake.file(self._attention_records, KEY, "attn", value, _LABEL, path, number)
        except Exception as exc:
            self._failed(exc)

    def _probabilities(self, call: _Call, shared: list[tuple[Any, Any]]) -> Any:
        """What this block records for one call: the rows it asked for, or their row-wise reduction."""
        if self._rowwise is not None:
            return self._reduce_rows(call, self._rowwise)
        wanted = (self._queries, self._chunk)
        for made, probs in shared:  # another block active now asked for the same rows
            if made == wanted:
                return probs
        probs = _assemble(call, self._queries, self._chunk)
        shared.append((wanted, probs))
        return probs

    def _stream(self, call: _Call, path: str | None, number: int) -> bool:
        """With ``sink=``: send a map of more than one chunk of rows to the writer a chunk at a time
        (``Writer.write_rows``), so the whole map is never held; whether it was sent that way."""
        total = len(_rows(self._queries, call.query.size(-2)))
        if total <= _chunk_rows(call, self._chunk):
            return False  # one chunk: written whole, as a record of one tensor
        reduce = self._rowwise
        if reduce is None:
            parts, axis = attention_chunks(call, self._queries, self._chunk), -2
        else:
            parts, axis = (compact(part) for _, part in self._reduced_chunks(call, reduce)), reduce.dim
        self._intake.file_rows(KEY, "attn", parts, total, axis, _LABEL, path, number)
        return True

    def _reduced_chunks(self, call: _Call, reduce: RowwiseReduce) -> Any:
        """``(axis, reduce(chunk))`` for each chunk of rows, checked to keep the chunk's rows on that axis."""
        import torch

        for chunk in attention_chunks(call, self._queries, self._chunk):
            part = reduce.fn(chunk)
            rows = chunk.size(-2)
            if not isinstance(part, torch.Tensor):
                raise TypeError(f"{reduce!r} returned {type(part).__name__}; a row-wise reduce returns a tensor")
            axis = reduce.dim if reduce.dim >= 0 else part.dim() + reduce.dim
            if not 0 <= axis < part.dim() or part.size(axis) != rows:
                raise ValueError(
                    f"{reduce!r} turned a chunk of shape {tuple(chunk.shape)} into {tuple(part.shape)}, which "
                    f"does not keep the chunk's {rows} query row(s) along dim={reduce.dim}; give "
                    "rowwise(fn, dim=<the axis of the rows in fn's result>)"
                )
            del chunk  # the part may be a view of it; the chunk itself is not needed
            yield axis, part
            del part  # before the next chunk is made

    def _reduce_rows(self, call: _Call, reduce: RowwiseReduce) -> Any:
        """The row-wise reduce applied chunk by chunk, its results joined along its row axis."""
        out = None
        done = total = 0
        for axis, part in self._reduced_chunks(call, reduce):
            rows = part.size(axis)
            if out is None:
                total = len(_rows(self._queries, call.query.size(-2)))
                if rows == total:
                    return compact(part)  # a view of the chunk would keep the chunk alive
                # Each part is written into its place: joining them at the end would hold them twice.
                out = part.new_empty((*part.shape[:axis], total, *part.shape[axis + 1 :]))
            out.narrow(axis, done, rows).copy_(part)
            done += rows
            del part  # before the next chunk is made
        return reduce.fn(_assemble(call, self._queries, self._chunk)) if out is None else out

    def _failed(self, exc: BaseException) -> None:
        _engine.warn_once(
            self._warned,
            "failed",
            f"capture_attention could not record a call ({type(exc).__name__}: {exc}); the model ran unchanged",
            stacklevel=4,
        )


def capture_attention(
    model: Any = None,
    *,
    queries: int | slice | Sequence[int] | None = None,
    chunk: int | None = None,
    values: Literal["numpy", "tensor", "raw"] = "numpy",
    device: Any = None,
    clone: bool = False,
    collate_fn: Callable[[Any], Any] | None = None,
    reduce: Callable[[Any], Any] | None = None,
    max_size: int | None = None,
    strict: bool = False,
    sink: Any = None,
) -> AttentionCapture:
    """Record the attention probabilities of every ``scaled_dot_product_attention`` call in a block.

    Works on models that use PyTorch's fused attention (timm's default ``fused_attn``,
    transformers' default ``sdpa``, torchvision's ViT, ``nn.MultiheadAttention`` without weights),
    where no variable ever holds the attention matrix. The kernel still computes the model's output,
    so outputs are bit-identical; the probabilities are computed beside it (before dropout). With
    ``model=``, each record carries the path of the module that called the kernel. Other options
    are those of :func:`anycapture.capture`; ``sink="folder/"`` streams the maps to disk as
    :func:`anycapture.capture` does (docs/scale.md), a map of more than one chunk of rows a chunk at
    a time (row parts of one record: it is never held whole). Several blocks may be active at once: each
    receives every call made while it is active.

    Long sequences (docs/capture.md, "Decoder LLMs"): ``queries=`` keeps only some query rows (an
    int, a slice or a list of ints, negative from the end: ``queries=-1`` is what the last token
    reads), computed directly from those rows of the query, so the whole map never exists; a
    record is ``[batch, heads, rows, keys]``. The probabilities are computed ``chunk`` query rows at
    a time (by default as many as fit in 64 MiB of float32 scores). ``reduce=`` receives the whole
    map (of the chosen rows), as before, unless declared row-wise with :func:`anycapture.rowwise`:
    it then runs on each chunk, and the whole map is never held (a head mean, an entropy per row).

    >>> import torch
    >>> from anycapture import capture_attention
    >>> q = k = v = torch.randn(1, 2, 3, 4)
    >>> with capture_attention(values="tensor") as cap:
    ...     out = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
    >>> cap.stack("attn").shape
    torch.Size([1, 1, 2, 3, 3])
    >>> with capture_attention(values="tensor", queries=-1) as cap:
    ...     out = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
    >>> cap.stack("attn").shape                 # the last query row only
    torch.Size([1, 1, 2, 1, 3])
    """
    check_flag("strict", strict)
    queries = _check_queries(queries)
    chunk = _check_chunk(chunk)
    options = value_options(values, device, clone, collate_fn, reduce, max_size, sink)
    return AttentionCapture(model=model, options=options, strict=strict, queries=queries, chunk=chunk)

"""``capture_attention()``: the attention probabilities of fused ``scaled_dot_product_attention``.

The fused kernel never materialises the attention matrix, so no local variable holds it. Inside a
``capture_attention`` block, ``torch.nn.functional.scaled_dot_product_attention`` is replaced by a
wrapper that first calls the original kernel (so the model's output is bit-identical) and then
computes ``softmax(q @ k^T * scale + mask)`` with the exact semantics of that call: boolean and
additive masks with broadcasting, ``is_causal``, ``scale``, ``enable_gqa``. Dropout is not applied:
the probabilities are those before dropout. The original function is back when the last block ends,
even on error.

Code that imported the function by name before the block (``from torch.nn.functional import
scaled_dot_product_attention``) keeps the original and is not seen; timm, transformers,
torchvision and ``nn.MultiheadAttention`` all look it up on ``torch.nn.functional`` at call time.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import sys
import threading
from collections.abc import Callable
from typing import Any, Literal

from . import _engine
from ._capture import Capture, value_options

__all__ = ["AttentionCapture", "attention_probabilities", "capture_attention"]

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
) -> tuple[Any, Any, Any, bool, float | None, bool]:
    """The arguments of one ``scaled_dot_product_attention`` call that shape its probabilities."""
    return query, key, attn_mask, is_causal, scale, enable_gqa


def attention_probabilities(
    query: Any,
    key: Any,
    attn_mask: Any = None,
    is_causal: bool = False,
    scale: float | None = None,
    enable_gqa: bool = False,
) -> Any:
    """``softmax(query @ key^T * scale + mask)`` as ``scaled_dot_product_attention`` defines it.

    Half-precision inputs are computed in float32, also under ``torch.autocast`` (which is turned
    off here: it would compute the scores in half precision again). A row whose keys are all
    masked out is NaN, as in PyTorch's reference implementation.

    >>> import torch
    >>> q = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])
    >>> attention_probabilities(q, q, is_causal=True)
    tensor([[[1.0000, 0.0000],
             [0.3302, 0.6698]]])
    """
    import torch

    with torch.no_grad(), _without_autocast(torch, query.device.type):
        if query.dtype in (torch.float16, torch.bfloat16):
            query, key = query.float(), key.float()
            if attn_mask is not None and attn_mask.dtype != torch.bool:
                attn_mask = attn_mask.float()
        if enable_gqa and key.dim() >= 3 and key.size(-3) != query.size(-3):
            key = key.repeat_interleave(query.size(-3) // key.size(-3), dim=-3)
        factor = 1 / math.sqrt(query.size(-1)) if scale is None else scale
        scores = torch.matmul(query, key.transpose(-2, -1)) * factor
        length, source = query.size(-2), key.size(-2)
        if is_causal:
            allowed = torch.ones(length, source, dtype=torch.bool, device=query.device).tril()
            scores = scores.masked_fill(~allowed, float("-inf"))
        if attn_mask is not None:
            if attn_mask.dtype == torch.bool:
                scores = scores.masked_fill(~attn_mask, float("-inf"))
            else:
                scores = scores + attn_mask
        return torch.softmax(scores, dim=-1)


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
                probs = attention_probabilities(*_bind(*args, **kwargs))
                caller = sys._getframe(1)
                for block in blocks:
                    block._observe(probs, caller)
            except Exception as exc:  # whatever happens here, the model gets its output
                for block in blocks:
                    with contextlib.suppress(Exception):
                        block._failed(exc)
        return output

    scaled_dot_product_attention.__wrapped__ = original  # type: ignore[attr-defined]
    scaled_dot_product_attention.__doc__ = original.__doc__
    return scaled_dot_product_attention


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

    def __init__(self, **options: Any) -> None:
        super().__init__([], **options)
        self._calls = itertools.count()
        self._seen = 0

    def _start(self) -> None:
        import torch  # noqa: F401 - fail here, clearly, when torch is missing

        self._attention_records = self._records_of(KEY)
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

    def _observe(self, probs: Any, caller: Any) -> None:
        """One call of the kernel: file its probabilities. Runs inside the model's forward."""
        try:
            call = next(self._calls)
            self._seen = call + 1
            path = self._path_from_stack(caller) if self.model is not None else None
            self._file(self._attention_records, KEY, "attn", probs, _LABEL, path, call)
        except Exception as exc:
            self._failed(exc)

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
    are those of :func:`anycapture.capture`; ``reduce=`` (e.g. ``lambda p: p[..., -1, :]`` for the
    last query row) keeps memory small on long sequences; ``sink="folder/"`` streams the maps to disk
    as :func:`anycapture.capture` does (docs/scale.md). Several blocks may be active at once: each
    receives every call made while it is active.

    >>> import torch
    >>> from anycapture import capture_attention
    >>> q = k = v = torch.randn(1, 2, 3, 4)
    >>> with capture_attention(values="tensor") as cap:
    ...     out = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
    >>> cap.stack("attn").shape
    torch.Size([1, 1, 2, 3, 3])
    """
    options = value_options(values, device, clone, collate_fn, reduce, max_size, sink)
    return AttentionCapture(model=model, key_style="qualname", strict=strict, **options)

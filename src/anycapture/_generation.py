"""``generation_map()``: one layer's attention over a generated sequence, from its generate() steps."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["generation_map"]


def generation_map(steps: Sequence[Any], *, head: int | None = None, batch: int | None = None) -> Any:
    """Join the attention maps of one layer's ``generate()`` steps into the sequence's attention matrix.

    ``steps`` are the maps :func:`anycapture.capture_attention` recorded for one layer during
    ``model.generate()`` with its KV cache, in call order: the prompt's ``[batch, heads, prompt,
    prompt]`` first, then one ``[batch, heads, 1, keys]`` row per new token, each with one key more
    (``cap.by_path("attn")["model.layers.3.self_attn"]``). The result is ``[batch, heads, n, n]``,
    ``n`` the tokens that went through the model (the last generated token never does): row ``i``
    is what token ``i`` attended to, and the entries to its right, keys that did not exist yet, are
    the causal zeros. ``head=`` and ``batch=`` keep one head or one sequence (``[n, n]`` with both).
    Numpy arrays give a numpy array, tensors a tensor. The steps must hold every query row and
    every key: a capture with ``queries=``, or a cache that drops keys (a sliding-window cache),
    gives steps that cannot be joined, and a ``ValueError`` says which.

    >>> import numpy as np
    >>> prompt = np.array([[[[1.0, 0.0], [0.5, 0.5]]]])      # [batch 1, head 1, 2 rows, 2 keys]
    >>> step = np.array([[[[0.2, 0.3, 0.5]]]])                # the first new token: 1 row, 3 keys
    >>> generation_map([prompt, step], head=0, batch=0)
    array([[1. , 0. , 0. ],
           [0.5, 0.5, 0. ],
           [0.2, 0.3, 0.5]])
    """
    steps = list(steps)
    if not steps:
        raise ValueError("generation_map() got no steps; give the maps one layer recorded during generate()")
    rows = 0
    for number, step in enumerate(steps):
        shape = tuple(getattr(step, "shape", ()))
        if len(shape) != 4:
            raise ValueError(
                f"step {number} has shape {shape!r}; each step is a map [batch, heads, rows, keys] "
                "(the values of one layer's records, in call order)"
            )
        rows += shape[2]
        if shape[3] != rows:
            raise ValueError(
                f"step {number} has {shape[2]} query row(s) over {shape[3]} keys, but the steps so far give "
                f"{rows} row(s): every step must hold all its query rows (no queries=) and every earlier "
                "key (a cache that keeps all keys; a sliding-window cache drops them)"
            )
        if shape[:2] != tuple(steps[0].shape[:2]):
            first = tuple(steps[0].shape[:2])
            raise ValueError(f"step {number} has shape {shape!r}; step 0 has batch and heads {first!r}")
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(steps[0], torch.Tensor):
        out = steps[0].new_zeros((*steps[0].shape[:2], rows, rows))
    else:
        import numpy

        steps = [numpy.asarray(step) for step in steps]
        out = numpy.zeros((*steps[0].shape[:2], rows, rows), dtype=steps[0].dtype)
    done = 0
    for step in steps:
        count, keys = step.shape[2], step.shape[3]
        out[:, :, done : done + count, :keys] = step
        done += count
    if batch is not None:
        out = out[batch]
        return out[head] if head is not None else out
    return out[:, head] if head is not None else out

"""Reading the inputs of ``anycapture.viz`` and ``anycapture.explore``: arrays, maps, tokens, images, grids.

Every check raises with the caller's name (``func``) and what to select or pass instead. numpy is
imported inside the functions, so importing this module imports nothing heavy.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any, TypeGuard

_PrefixNames = Sequence[str] | None


def _numpy(needed_by: str = "anycapture.viz", install: str = "numpy matplotlib") -> Any:
    try:
        import numpy
    except ImportError as exc:  # pragma: no cover - numpy is present wherever tests run
        raise ImportError(f"{needed_by} needs numpy: pip install {install}") from exc
    return numpy


def _is_tensor(value: Any) -> bool:
    return type(value).__module__.startswith("torch") and hasattr(value, "detach")


def _array(value: Any, what: str, dtype: str = "float64") -> Any:
    """``value`` (numpy array, torch tensor, nested lists) as a numpy array of ``dtype``; ``what`` names it."""
    np = _numpy()
    if _is_tensor(value):
        value = value.detach().float().cpu().numpy()
    elif isinstance(value, list | tuple) and any(_is_tensor(item) for item in value):
        value = [_array(item, what, dtype) for item in value]
    try:
        return np.asarray(value, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"{what} must be a numpy array or torch tensor of numbers; got {type(value).__name__} "
            f"that numpy cannot read as numbers ({exc})"
        ) from exc


def _shape(arr: Any) -> str:
    return str(tuple(int(n) for n in arr.shape))


def _index_hint(name: str, extra_dims: int) -> str:
    return f"{name}[{', '.join(['0'] * extra_dims)}]"


def _map2d(value: Any, func: str) -> Any:
    """One [queries, keys] map, or an error that says what to select."""
    arr = _array(value, "attn")
    if arr.ndim == 2:
        if 0 in arr.shape:
            raise ValueError(f"{func}() got an empty attention map of shape {_shape(arr)}")
        return arr
    if arr.ndim > 2:
        extra = arr.ndim - 2
        what = {1: "a head", 2: "a batch item and head"}.get(extra, "a layer, batch item and head")
        raise ValueError(
            f"{func}() needs a 2-D [queries, keys] map; got shape {_shape(arr)}: select {what} first, "
            f"e.g. {_index_hint('attn', extra)}"
            + (", or average the heads with attn.mean(0)" if extra == 1 else "")
            + (" (or draw every head with heads(attn))" if extra == 1 and func == "head" else "")
        )
    raise ValueError(
        f"{func}() needs a 2-D [queries, keys] map; got shape {_shape(arr)}: pass the whole matrix, "
        "or make a single row 2-D with attn[None, :]"
    )


def _check_finite(arr: Any, func: str, axes: Sequence[str]) -> None:
    """Refuse NaN and infinities, which would spread through a product of maps (all NaN) or a colour scale."""
    np = _numpy()
    bad = ~np.isfinite(arr)
    if bad.any():
        where = ", ".join(f"{axis} {int(i)}" for axis, i in zip(axes, np.argwhere(bad)[0], strict=False))
        raise ValueError(
            f"{func}() got maps holding NaN or infinity ({int(bad.sum())} value(s); the first at {where}): a query "
            "whose keys are all masked out (a padding token) has a NaN row, as in PyTorch. Keep the real tokens "
            "(e.g. maps[..., :n, :n] for the first n), or replace the NaN with numpy.nan_to_num(maps)"
        )


def _layers(attentions: Any, func: str, *, square: bool) -> Any:
    """A whole model's maps as one [layers, heads, queries, keys] array."""
    np = _numpy()
    if isinstance(attentions, list | tuple):
        if not attentions:
            raise ValueError(f"{func}() got an empty list of attention maps: pass one [heads, T, T] map per layer")
        maps: list[Any] = []
        for i, item in enumerate(attentions):
            arr = _array(item, f"attentions[{i}]")
            if arr.ndim == 4 and arr.shape[0] == 1:
                arr = arr[0]
            if arr.ndim == 4:
                raise ValueError(
                    f"{func}() needs one image or sequence; layer {i} has shape {_shape(arr)}, a batch of "
                    f"{arr.shape[0]}: select one item, e.g. [a[0] for a in attentions]"
                )
            if arr.ndim != 3:
                raise ValueError(
                    f"{func}() needs one [heads, queries, keys] (or [1, heads, queries, keys]) map per layer; "
                    f"layer {i} has shape {_shape(arr)}"
                    + (": add a heads axis, e.g. [a[None] for a in attentions]" if arr.ndim == 2 else "")
                )
            if maps and arr.shape != maps[0].shape:
                raise ValueError(
                    f"{func}() needs maps of one shape in every layer; layer 0 has {_shape(maps[0])}, "
                    f"layer {i} has {_shape(arr)}"
                )
            maps.append(arr)
        stacked = np.stack(maps)
    else:
        stacked = _array(attentions, "attentions")
    stacked = _maps(stacked, func)
    if square and stacked.shape[-1] != stacked.shape[-2]:
        raise ValueError(
            f"{func}() needs square [tokens, tokens] self-attention maps; got {stacked.shape[-2]} queries and "
            f"{stacked.shape[-1]} keys (layers x heads x queries x keys = {_shape(stacked)})"
        )
    return stacked


def _maps(maps: Any, func: str, *, batch: Any = None, name: str = "attentions") -> Any:
    """A whole model's maps, one array, as [layers, heads, queries, keys], or an error saying what to pass.

    A 5-D array is read as [layers, batch, heads, queries, keys]: ``batch`` picks its item, and
    where the caller has no ``batch=`` (None) the batch must hold one. ``name`` is the argument as
    the user wrote it, for the fixes the messages suggest. Used by viz and explore alike.
    """
    shape = _shape(maps)
    if maps.ndim == 5:
        items = maps.shape[1]
        if batch is None:
            if items != 1:
                raise ValueError(
                    f"{func}() needs one image or sequence; got shape {shape}, read as [layers, batch, heads, "
                    f"queries, keys] with a batch of {items}: select one item, e.g. {name}[:, 0]"
                )
            batch = 0
        elif not _is_int(batch) or not -items <= batch < items:
            raise ValueError(
                f"{func}() got batch={batch!r}, but the maps {shape} (read as [layers, batch, heads, queries, keys]) "
                f"hold {items} item(s): pass batch= from 0 to {items - 1}"
            )
        maps = maps[:, int(batch)]
    elif maps.ndim == 3:
        raise ValueError(
            f"{func}() needs [layers, heads, queries, keys]; got shape {shape}, which has no heads axis (or no "
            f"layers axis): if the heads are already fused, add one with {name}[:, None]; for one layer's "
            f"[heads, queries, keys], add a layers axis with {name}[None]"
        )
    elif maps.ndim != 4:
        one = "1" if batch is None else "batch"
        raise ValueError(
            f"{func}() needs [layers, heads, queries, keys] or [layers, {one}, heads, queries, keys], or a list "
            f"of [heads, queries, keys] maps; got shape {shape}"
        )
    if 0 in maps.shape:
        raise ValueError(f"{func}() got empty attention maps of shape {_shape(maps)}")
    return maps


def _tokens(tokens: Any, count: int, func: str, what: str, name: str = "tokens") -> list[str] | None:
    """Labels as strings safe for matplotlib, or an error naming the length expected."""
    if tokens is None:
        return None
    if isinstance(tokens, str):
        raise TypeError(
            f"{func}() needs {name} as a list of strings, one per token; got the string {tokens[:40]!r}: "
            "split it first, e.g. tokens=text.split() or tokenizer.convert_ids_to_tokens(ids)"
        )
    try:
        labels = [str(token) for token in tokens]
    except TypeError as exc:
        raise TypeError(f"{func}() needs {name} as a list of strings; got {type(tokens).__name__}") from exc
    if len(labels) != count:
        raise ValueError(f"{func}() got {len(labels)} {name} for {what}: pass exactly {count}, one per token")
    # A '$' pair would start matplotlib's mathtext; tokens are plain text.
    return [label.replace("$", r"\$") for label in labels]


def _is_int(value: Any) -> TypeGuard[int]:
    """A Python or numpy integer, or a 0-d integer array or tensor (``.argmax()``'s result), not a
    bool: what ``int()`` takes as it is."""
    if isinstance(value, numbers.Integral):
        return not isinstance(value, bool)
    dtype = getattr(value, "dtype", None)
    if getattr(value, "ndim", None) != 0 or dtype is None:
        return False
    if _is_tensor(value):
        return not (value.is_floating_point() or value.is_complex() or str(dtype) == "torch.bool")
    return getattr(dtype, "kind", "") in ("i", "u")


def _positive_int(value: Any, name: str, func: str) -> int:
    if not _is_int(value) or value < 1:
        raise ValueError(f"{func}() needs {name} as a positive int; got {value!r}")
    return int(value)


def _alpha(value: Any, func: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{func}() needs alpha between 0 (image only) and 1 (attention only); got {value!r}")
    return float(value)


def _pixels(image: Any, func: str) -> Any:
    """An H x W x 3 numpy array of ``image``'s values as they are (PIL, tensor, [C, H, W] or grey read too)."""
    np = _numpy()
    if type(image).__module__.startswith("PIL") and hasattr(image, "convert"):
        image = np.asarray(image.convert("RGB"))
    elif _is_tensor(image):
        image = image.detach().cpu()
        image = (image if str(image.dtype) == "torch.uint8" else image.float()).numpy()
    arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[0] in (1, 3) and arr.shape[-1] not in (1, 3, 4):
        arr = arr.transpose(1, 2, 0)  # a torch-style [channels, H, W] image
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=-1)
    if arr.ndim != 3 or arr.shape[-1] not in (3, 4) or 0 in arr.shape:
        raise ValueError(
            f"{func}() needs image as H x W x 3 (uint8, or float in [0, 1]) or a PIL image; got shape "
            f"{_shape(arr)}: a [3, H, W] tensor or an H x W grey image works too; select one image of a batch, "
            "e.g. images[0]"
        )
    return arr[..., :3]


def _image(image: Any, func: str) -> Any:
    """An H x W x 3 float image with values in [0, 1]."""
    np = _numpy()
    arr = _pixels(image, func)
    if arr.dtype == np.uint8:
        return arr.astype(np.float64) / 255.0
    if not np.issubdtype(arr.dtype, np.integer) and not np.issubdtype(arr.dtype, np.floating):
        raise TypeError(f"{func}() needs image values as uint8 or float numbers; got dtype {arr.dtype}")
    integers = np.issubdtype(arr.dtype, np.integer)
    arr = arr.astype(np.float64)
    low, high = float(np.nanmin(arr)), float(np.nanmax(arr))
    if integers:
        if low < 0 or high > 255:
            raise ValueError(f"{func}() needs integer image values in 0..255; got {low:g}..{high:g}")
        return arr / 255.0
    if low < -1e-3 or high > 1 + 1e-3:
        raise ValueError(
            f"{func}() needs float image values in [0, 1]; got {low:.3g}..{high:.3g}: undo the model's "
            "normalisation first (image * std + mean), or pass the uint8 image"
        )
    return np.clip(arr, 0.0, 1.0)


def _grid(patches: int, total: int, prefix: int, grid: Any, func: str) -> tuple[int, int]:
    """The (rows, cols) of the patch grid, given or inferred, checked against the token count."""
    if grid is None:
        side = math.isqrt(patches)
        if side * side == patches and patches > 0:
            return side, side
        shapes = [(r, patches // r) for r in range(1, patches + 1) if patches % r == 0]
        near = sorted(shapes, key=lambda rc: abs(rc[0] - rc[1]))[:2]
        hint = ", ".join(f"grid={rc}" for rc in near)
        other = [p for p in range(0, min(total, 17)) if p != prefix and math.isqrt(total - p) ** 2 == total - p]
        message = (
            f"{func}() cannot infer the patch grid: {total} tokens less prefix={prefix} leave {patches} patches, "
            f"not a square number; pass grid=(rows, cols)"
        )
        if near:
            message += f", e.g. {hint}"
        if other:
            p = min(other, key=lambda p: abs(p - prefix))
            side = math.isqrt(total - p)
            message += f"; or check prefix: prefix={p} would leave {side}x{side} patches"
        raise ValueError(message)
    if not isinstance(grid, tuple | list) or len(grid) != 2 or not all(_is_int(n) and n > 0 for n in grid):
        raise ValueError(f"{func}() needs grid as (rows, cols) of positive ints; got {grid!r}")
    rows, cols = int(grid[0]), int(grid[1])
    if rows * cols != patches:
        raise ValueError(
            f"{func}() got grid={tuple(grid)!r} ({rows * cols} patches), but the map has {total} tokens and "
            f"prefix={prefix}, so {patches} patches: fix grid or prefix"
        )
    return rows, cols


def _prefix(prefix: Any, total: int, func: str) -> int:
    if not _is_int(prefix) or not 0 <= prefix < total:
        raise ValueError(
            f"{func}() needs prefix, the number of tokens before the patches (CLS, registers, distillation), "
            f"as an int from 0 to {total - 1}; got {prefix!r}"
        )
    return int(prefix)


def _prefix_names(names: _PrefixNames, prefix: int, func: str) -> list[str]:
    if names is None:
        return ["CLS", *(f"prefix {i}" for i in range(1, prefix))] if prefix else []
    labels = _tokens(names, prefix, func, f"prefix={prefix}", name="prefix_names")
    return labels or []


def _labels(given: Sequence[int | str] | None, count: int, kind: str, func: str, name: str) -> list[str]:
    """``["layer 0", "layer 1", ...]``, or the labels given: numbers as ``"layer 3"``, strings as they are."""
    if given is None:
        return [f"{kind} {i}" for i in range(count)]
    if isinstance(given, str) or not isinstance(given, Sequence):
        raise ValueError(f"{func}() needs {name} as a list of {count} numbers or strings; got {given!r}")
    if len(given) != count:
        raise ValueError(f"{func}() got {len(given)} {name} for {count} {kind}s; give one per {kind}")
    return [item if isinstance(item, str) else f"{kind} {item}" for item in given]

"""Pictures of attention maps: heat maps, head grids, patch-to-patch overlays, attention rollout.

Every function takes numpy arrays or torch tensors (on any device, with or without grad), checks
their shapes with an error that says what to select, and returns a :class:`matplotlib.figure.Figure`
built without pyplot, so it works headless and from many threads. ``save=`` also writes the
picture (PNG unless the file's suffix names another format)::

    from anycapture import capture, recipes, viz

    with capture(recipes.TIMM_VIT, model=vit) as cap:
        vit(image_tensor)
    attn = cap.stack("attn")                       # [layers, batch, heads, 197, 197]

    viz.head(attn[11, 0, 3])                       # one head of the last layer
    viz.heads(attn[11, 0], save="layer11.png")     # every head of that layer, and their mean
    viz.grid_to_grid(attn[11, 0, 3], image, query=(7, 7))   # where patch (7, 7) looks
    viz.rollout_overlay(viz.rollout(attn), image)  # attention rollout of the CLS token
    viz.model_view(attn)                           # every layer and head at a glance

matplotlib is needed (``pip install matplotlib``); Pillow is used, when installed, to resize
attention grids smoothly to the image; numpy is needed, torch is not. Importing this module
imports none of them.
"""

from __future__ import annotations

import math
import numbers
import os
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeGuard

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.colors import Colormap
    from matplotlib.figure import Figure
    from numpy import float64
    from numpy.typing import NDArray

__all__ = ["grid_to_grid", "head", "heads", "model_view", "rollout", "rollout_overlay"]

_DPI = 120
_OVERLAY_CMAP = "inferno"
_MODEL_VIEW_TOKENS = 16  # the most token labels that stay legible beside one panel, enlarged to fit them
_TOKEN_INCHES = 0.13  # the height of one token label's line in model_view
_PrefixNames = Sequence[str] | None
# How an overlay's colours map to weights: 0 to the map's largest, its smallest to largest, 0 to 1,
# or fixed limits shared by several pictures.
Scale = Literal["zero", "range", "absolute"] | tuple[float, float]
_SCALE_NAMES = {"zero": "0 to this map's largest", "range": "this map's smallest to largest", "absolute": "0 to 1"}


# -- lazy imports ------------------------------------------------------------------------------
def _numpy() -> Any:
    try:
        import numpy
    except ImportError as exc:  # pragma: no cover - numpy is present wherever tests run
        raise ImportError("anycapture.viz needs numpy: pip install numpy matplotlib") from exc
    return numpy


def _matplotlib() -> Any:
    try:
        import matplotlib
    except ImportError as exc:
        raise ImportError(
            "anycapture.viz draws with matplotlib, which is not installed: pip install matplotlib"
        ) from exc
    return matplotlib


def _new_figure(**kwargs: Any) -> Figure:
    # A bare Figure (no pyplot): no global state, no GUI backend; savefig renders with Agg.
    _matplotlib()
    from matplotlib.figure import Figure

    return Figure(**kwargs)


# -- converting and checking inputs ------------------------------------------------------------
def _is_tensor(value: Any) -> bool:
    return type(value).__module__.startswith("torch") and hasattr(value, "detach")


def _array(value: Any, what: str) -> Any:
    """``value`` (numpy array, torch tensor, nested lists) as a float64 numpy array."""
    np = _numpy()
    if _is_tensor(value):
        value = value.detach().float().cpu().numpy()
    elif isinstance(value, list | tuple) and any(_is_tensor(item) for item in value):
        value = [_array(item, what) for item in value]
    try:
        return np.asarray(value, dtype=np.float64)
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
        if stacked.ndim == 5:
            if stacked.shape[1] != 1:
                raise ValueError(
                    f"{func}() needs one image or sequence; got shape {_shape(stacked)}, read as [layers, batch, "
                    f"heads, queries, keys] with a batch of {stacked.shape[1]}: select one item, "
                    "e.g. attentions[:, 0]"
                )
            stacked = stacked[:, 0]
        elif stacked.ndim == 3:
            raise ValueError(
                f"{func}() needs [layers, heads, queries, keys]; got shape {_shape(stacked)}, which has no heads "
                "axis: if the heads are already fused, add one with attentions[:, None]"
            )
        elif stacked.ndim != 4:
            raise ValueError(
                f"{func}() needs [layers, heads, queries, keys] or [layers, 1, heads, queries, keys], "
                f"or a list of [heads, queries, keys] maps; got shape {_shape(stacked)}"
            )
    if 0 in stacked.shape:
        raise ValueError(f"{func}() got empty attention maps of shape {_shape(stacked)}")
    if square and stacked.shape[-1] != stacked.shape[-2]:
        raise ValueError(
            f"{func}() needs square [tokens, tokens] self-attention maps; got {stacked.shape[-2]} queries and "
            f"{stacked.shape[-1]} keys (layers x heads x queries x keys = {_shape(stacked)})"
        )
    return stacked


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


def _check_cmap(cmap: str | Colormap, func: str) -> None:
    if isinstance(cmap, str) and cmap not in _matplotlib().colormaps:
        raise ValueError(
            f"{func}() got an unknown cmap {cmap!r}: use a matplotlib colormap name such as "
            "'viridis', 'magma', 'Blues' or 'gray', or a Colormap object"
        )


def _image(image: Any, func: str) -> Any:
    """An H x W x 3 float image with values in [0, 1]."""
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
            f"{_shape(arr)}: a [3, H, W] tensor or an H x W grey image works too; select one image of a batch"
        )
    arr = arr[..., :3]
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


def _resize(values: Any, height: int, width: int) -> Any:
    """A [rows, cols] grid resized to [height, width]: bilinear with Pillow, else nearest neighbour."""
    np = _numpy()
    try:
        from PIL import Image
    except ImportError:
        rows, cols = values.shape
        # Nearest neighbour by index arithmetic: np.repeat's result when the sizes divide, exact otherwise.
        row_index = (np.arange(height) * rows) // height
        col_index = (np.arange(width) * cols) // width
        return values[row_index[:, None], col_index[None, :]]
    img = Image.fromarray(values.astype(np.float32))  # mode "F"
    return np.asarray(img.resize((width, height), resample=Image.Resampling.BILINEAR), dtype=np.float64)


# -- drawing helpers ---------------------------------------------------------------------------
def _finish(fig: Figure, save: str | os.PathLike[str] | None) -> Figure:
    if isinstance(save, str | os.PathLike):  # not a file object, which matplotlib writes to as well
        from pathlib import Path

        folder = Path(save).parent
        try:
            folder.mkdir(parents=True, exist_ok=True)  # save="figures/layer3.png" makes figures/
        except OSError as exc:
            raise OSError(
                f"cannot save the picture to {str(save)!r}: its folder {str(folder)!r} cannot be made "
                f"({exc.strerror or exc}); give save= a path in a folder you can write to"
            ) from exc
    if save is not None:
        fig.savefig(save, dpi=_DPI, bbox_inches="tight")
    return fig


def _label_axes(ax: Axes, labels_x: list[str] | None, labels_y: list[str] | None, *, fontsize: float) -> None:
    if labels_x is not None:
        ax.set_xticks(range(len(labels_x)), labels_x, rotation=90, fontsize=fontsize)
    if labels_y is not None:
        ax.set_yticks(range(len(labels_y)), labels_y, fontsize=fontsize)


def _label_size(count: int) -> float:
    return max(4.0, min(10.0, 300.0 / max(count, 1)))


def _outline(ax: Axes, row: int, col: int, patch_h: float, patch_w: float, width: float) -> None:
    from matplotlib.patches import Rectangle

    ax.add_patch(
        Rectangle((col * patch_w, row * patch_h), patch_w, patch_h, fill=False, edgecolor="red", linewidth=width)
    )


def _show_image(ax: Axes, img: Any, title: str) -> None:
    height, width = img.shape[:2]
    ax.imshow(img, extent=(0, width, height, 0))
    ax.set_title(title, fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])


def _limits(weights: Any, scale: Any, func: str) -> tuple[float, float, str]:
    """The colour scale's (low, high) for ``weights`` under ``scale``, and words saying which it is."""
    np = _numpy()
    if isinstance(scale, tuple | list):
        if (
            len(scale) != 2
            or not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in scale)
            or not scale[0] < scale[1]
        ):
            raise ValueError(f"{func}() needs scale=(low, high) with low < high, two finite numbers; got {scale!r}")
        return float(scale[0]), float(scale[1]), f"fixed, {scale[0]:g} to {scale[1]:g}"
    if scale not in _SCALE_NAMES:
        raise ValueError(
            f"{func}() got scale={scale!r}: use 'zero' (0 to the map's largest weight), 'range' (its smallest to "
            "largest), 'absolute' (0 to 1), or (low, high) to share one scale between pictures"
        )
    if scale == "absolute":
        return 0.0, 1.0, _SCALE_NAMES[scale]
    low, high = float(np.nanmin(weights)), float(np.nanmax(weights))
    if scale == "zero":
        low = min(low, 0.0)
    if high <= low:
        # Equal weights everywhere (e.g. a rollout row that discard_ratio emptied): a scale from 0
        # to that weight, or 0 to 1 for zeros, rather than a colour bar spanning rounding error.
        low, high = min(low, 0.0), max(high, 0.0)
        high = high if high > low else low + 1.0
    return low, high, _SCALE_NAMES[scale]


def _check_aspect(img: Any, rows: int, cols: int, func: str) -> None:
    """Warn when the patch grid is laid over an image of another shape than the one the model saw."""
    height, width = img.shape[:2]
    if abs((height / width) / (rows / cols) - 1.0) > 0.05:
        warnings.warn(
            f"{func}() lays a {rows} x {cols} patch grid over an image of {height} x {width} pixels (rows x "
            "columns), another shape, so each weight is drawn over the wrong part of the image: pass the image "
            "the model saw, e.g. its resized centre crop (timm: timm.data.create_transform(**timm.data."
            "resolve_data_config({}, model=model))), not the original photo",
            stacklevel=3,
        )


def _overlay(ax: Axes, img: Any, weights: Any, alpha: float, title: str, limits: tuple[float, float]) -> Any:
    """The image with a [rows, cols] grid of weights resized over it; returns the colour-mapped layer."""
    height, width = img.shape[:2]
    _show_image(ax, img, title)
    low, high = limits
    return ax.imshow(
        _resize(weights, height, width),
        extent=(0, width, height, 0),
        cmap=_OVERLAY_CMAP,
        alpha=alpha,
        vmin=low,
        vmax=high,
        interpolation="nearest",
    )


def _colorbar(fig: Figure, layer: Any, cax: Axes, label: str) -> None:
    """A colour bar for a translucent layer, drawn opaque so that its colours can be read."""
    from matplotlib.cm import ScalarMappable

    fig.colorbar(ScalarMappable(norm=layer.norm, cmap=layer.cmap), cax=cax, label=label)


def _panel_size(img: Any) -> tuple[float, float]:
    height, width = img.shape[:2]
    scale = 4.0 / max(height, width)
    return width * scale, height * scale


# -- public functions --------------------------------------------------------------------------
def head(
    attn: Any,
    *,
    tokens: Sequence[str] | None = None,
    title: str | None = None,
    cmap: str | Colormap = "viridis",
    save: str | os.PathLike[str] | None = None,
) -> Figure:
    """One [queries, keys] attention map as a heat map with a colour bar.

    With ``tokens`` (one string per token) the axes carry token labels: on both axes when the map
    is square and the tokens match, or on the key axis only when they match the keys (the
    token-to-token heat map of a sentence). Rows are queries, columns are the keys they attend to.

    Example::

        from anycapture import viz

        fig = viz.head(attn[0, 3], tokens=["[CLS]", "the", "cat", "sat", "[SEP]"], save="head3.png")

    Raises ValueError for a map that is not 2-D (saying what to select, e.g. ``attn[0, 3]``), for
    tokens of the wrong length, or an unknown ``cmap``.
    """
    arr = _map2d(attn, "head")
    _check_cmap(cmap, "head")
    queries, keys = arr.shape
    labels = _tokens(tokens, keys, "head", f"{queries} queries x {keys} keys (labels go on the keys)")
    side = min(max(4.0, 0.22 * max(queries, keys) + 2.0), 14.0) if labels else 5.0
    fig = _new_figure(figsize=(side + 1.2, side), layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(arr, cmap=cmap, interpolation="nearest", aspect="auto" if queries != keys else "equal")
    fig.colorbar(image, ax=ax, shrink=0.85, label="attention weight")
    ax.set_xlabel("key")
    ax.set_ylabel("query")
    _whole_ticks(ax, queries, keys)  # token positions: a one-row map (a CLS row) must not get ticks at -0.4 ... 0.4
    if labels:
        size = _label_size(max(queries, keys))
        _label_axes(ax, labels, labels if queries == keys else None, fontsize=size)
    if title:
        ax.set_title(title)
    return _finish(fig, save)


def _whole_ticks(ax: Axes, queries: int, keys: int) -> None:
    """Ticks at token positions only: every token of a short axis, whole numbers on a long one."""
    from matplotlib.ticker import MaxNLocator

    for axis, count in ((ax.yaxis, queries), (ax.xaxis, keys)):
        if count <= 10:
            axis.set_ticks(range(count))
        else:
            axis.set_major_locator(MaxNLocator(integer=True))


def heads(
    attn: Any,
    *,
    tokens: Sequence[str] | None = None,
    cols: int | None = None,
    head_labels: Sequence[int | str] | None = None,
    title: str | None = None,
    save: str | os.PathLike[str] | None = None,
) -> Figure:
    """Every head of one layer, [heads, queries, keys], in a grid, plus a panel with their mean.

    Panels are titled ``head 0``, ``head 1``, ... and ``mean``; all share one colour scale and
    one colour bar, so heads can be compared. For some heads of a layer (``attn[[2, 5]]``), give
    their numbers, ``head_labels=[2, 5]`` (a string is shown as it is). ``cols`` sets the panels
    per row (default: about the square root of their number). ``tokens`` label the outer panels'
    axes, as in :func:`head`.

    Example::

        from anycapture import viz

        fig = viz.heads(attn[0], cols=4, title="layer 11", save="layer11.png")   # attn[batch, heads, q, k]

    Raises ValueError for a map that is not 3-D (saying what to select), for a ``cols`` that is
    not a positive int, or for tokens or head labels of the wrong length.
    """
    np = _numpy()
    arr = _array(attn, "attn")
    if arr.ndim != 3:
        if arr.ndim == 2:
            fix = "for a single map use head(attn), or add a heads axis with attn[None]"
        elif arr.ndim > 3:
            extra = arr.ndim - 3
            fix = f"select {'a batch item' if extra == 1 else 'a layer and batch item'} first, e.g. " + _index_hint(
                "attn", extra
            )
        else:
            fix = "pass [heads, queries, keys]"
        raise ValueError(f"heads() needs a 3-D [heads, queries, keys] map; got shape {_shape(arr)}: {fix}")
    if 0 in arr.shape:
        raise ValueError(f"heads() got an empty attention map of shape {_shape(arr)}")
    count, queries, keys = arr.shape
    labels = _tokens(tokens, keys, "heads", f"{queries} queries x {keys} keys (labels go on the keys)")
    panels = [*arr, arr.mean(axis=0)]
    names = [*_labels(head_labels, count, "head", "heads", "head_labels"), "mean"]
    ncols = _positive_int(cols, "cols", "heads") if cols is not None else math.ceil(math.sqrt(len(panels)))
    ncols = min(ncols, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    panel = 2.6 if not labels else min(max(2.6, 0.16 * max(queries, keys) + 1.0), 8.0)
    fig = _new_figure(figsize=(ncols * panel + 1.0, nrows * panel + (0.4 if title else 0.0)), layout="constrained")
    grid = fig.subplots(nrows, ncols, squeeze=False)
    low, high = float(np.nanmin(arr)), float(np.nanmax(arr))
    image = None
    used: list[Axes] = []
    for index, ax in enumerate(grid.flat):
        if index >= len(panels):
            ax.remove()
            continue
        used.append(ax)
        col = index % ncols
        image = ax.imshow(panels[index], cmap="viridis", vmin=low, vmax=high, interpolation="nearest")
        ax.set_title(names[index], fontsize=9)
        bottom = index + ncols >= len(panels)  # nothing drawn below this panel
        if bottom:
            ax.set_xlabel("key", fontsize=8)
        if col == 0:
            ax.set_ylabel("query", fontsize=8)
        if labels:
            size = _label_size(max(queries, keys)) * 0.8
            _label_axes(ax, labels if bottom else None, labels if col == 0 and queries == keys else None, fontsize=size)
            if not bottom:
                ax.set_xticks([])
            if col != 0 or queries != keys:
                ax.set_yticks([])
        else:
            _whole_ticks(ax, queries, keys)
            ax.tick_params(labelbottom=bottom, labelleft=col == 0, labelsize=7)
    if image is not None:
        fig.colorbar(image, ax=used, shrink=0.8, label="attention weight\n(one scale, every panel)")
    if title:
        fig.suptitle(title)
    return _finish(fig, save)


def grid_to_grid(
    attn: Any,
    image: Any,
    *,
    query: int | tuple[int, int],
    prefix: int = 1,
    grid: tuple[int, int] | None = None,
    show_prefix: bool = True,
    alpha: float = 0.6,
    prefix_names: Sequence[str] | None = None,
    scale: Scale = "zero",
    title: str | None = None,
    save: str | os.PathLike[str] | None = None,
) -> Figure:
    """Where one image patch looks: the patch outlined on the image, and its attention over the patches.

    ``attn`` is one [tokens, tokens] self-attention map of a vision transformer whose first
    ``prefix`` tokens are not patches (CLS, registers, a distillation token) and whose other
    tokens are the patches in row-major order: ``tokens = prefix + rows * cols``. ``grid`` is
    ``(rows, cols)``, needed when the patches do not form a square. ``query`` is a patch, as its
    index in row-major order or as ``(row, col)``.

    Left: the image with the query patch outlined in red. Right: the query's attention weights
    over the patches, resized to the image (bilinear with Pillow, else nearest neighbour) and laid
    over it with opacity ``alpha``, with a colour bar. With ``show_prefix`` and ``prefix > 0``, a
    panel beside it prints the weight the query puts on each prefix token (named by
    ``prefix_names``, default ``CLS``, ``prefix 1``, ...), often most of its attention, and on all
    the patches together.

    ``scale`` sets the colour bar, which states it: ``"zero"`` (default) runs from 0 to the largest
    patch weight, so that nearly equal weights look nearly equal; ``"range"`` from the smallest to
    the largest (the most contrast, however small the differences); ``"absolute"`` from 0 to 1;
    ``(low, high)`` gives several pictures one scale. Name the layer and head in ``title``.

    ``image`` is H x W x 3 uint8, or float in [0, 1], or a PIL image (also [3, H, W] tensors): the
    image the model saw (after its resize and crop). One of another shape than the patch grid is
    drawn stretched, with a warning.

    Example::

        from anycapture import viz

        # attn[batch, heads, 197, 197] from a ViT-B/16 on a 224 x 224 image: CLS + 14 x 14 patches
        fig = viz.grid_to_grid(attn[0, 5], image, query=(3, 10), save="patch_3_10.png")

    Raises ValueError for a map that is not [tokens, tokens], a ``prefix``, ``grid`` or ``query``
    that does not fit the token count (saying which would), an image of the wrong shape, or an
    unknown ``scale``.
    """
    arr = _map2d(attn, "grid_to_grid")
    total = arr.shape[0]
    if arr.shape[1] != total:
        raise ValueError(f"grid_to_grid() needs a square [tokens, tokens] self-attention map; got shape {_shape(arr)}")
    count = _prefix(prefix, total, "grid_to_grid")
    rows, cols = _grid(total - count, total, count, grid, "grid_to_grid")
    if isinstance(query, tuple | list) and len(query) == 2 and all(_is_int(n) for n in query):
        row, col = int(query[0]), int(query[1])
        if not (0 <= row < rows and 0 <= col < cols):
            raise ValueError(
                f"grid_to_grid() got query={tuple(query)!r} outside the {rows} x {cols} patch grid: "
                f"row must be 0..{rows - 1}, col 0..{cols - 1}"
            )
    elif _is_int(query):
        index = int(query)
        if not 0 <= index < rows * cols:
            raise ValueError(
                f"grid_to_grid() got query={query!r}, but there are {rows * cols} patches ({rows} x {cols}): "
                f"use a patch index 0..{rows * cols - 1} (row-major, prefix tokens not counted) or (row, col)"
            )
        row, col = divmod(index, cols)
    else:
        raise TypeError(f"grid_to_grid() needs query as a patch index (int) or (row, col); got {query!r}")
    opacity = _alpha(alpha, "grid_to_grid")
    img = _image(image, "grid_to_grid")
    names = _prefix_names(prefix_names, count, "grid_to_grid") if show_prefix else []
    _check_aspect(img, rows, cols, "grid_to_grid")

    weights = arr[count + row * cols + col]
    patch_weights = weights[count:].reshape(rows, cols)
    low, high, scale_name = _limits(patch_weights, scale, "grid_to_grid")
    height, width = img.shape[:2]
    patch_h, patch_w = height / rows, width / cols

    panel_w, panel_h = _panel_size(img)
    ratios = [panel_w, panel_w, 0.18] + ([1.1] if names else [])
    fig = _new_figure(figsize=(sum(ratios) + 1.1, panel_h + 0.7), layout="constrained")
    axes = fig.subplots(1, len(ratios), gridspec_kw={"width_ratios": ratios})
    left, right, bar = axes[0], axes[1], axes[2]
    _show_image(left, img, f"query patch ({row}, {col})")
    _outline(left, row, col, patch_h, patch_w, width=2.5)
    layer = _overlay(right, img, patch_weights, opacity, "its attention over the patches", (low, high))
    _outline(right, row, col, patch_h, patch_w, width=1.2)
    _colorbar(fig, layer, bar, f"attention weight\n(scale: {scale_name})")
    if names:
        _prefix_weights(axes[3], weights[:count], names, float(patch_weights.sum()))
    if title:
        fig.suptitle(title)
    return _finish(fig, save)


def _prefix_weights(ax: Axes, weights: Any, names: list[str], patch_total: float) -> None:
    """The weight given to each prefix token, and to all patches together, printed as numbers.

    Numbers, not bars: a prefix weight is often a few hundredths (a bar too thin to see) or most
    of the query's attention, and both must be read at a glance.
    """
    ax.set_axis_off()
    ax.set_title("weight on", fontsize=10)
    lines = [*zip(names, (float(w) for w in weights), strict=True), ("all patches", patch_total)]
    step = 1.0 / (len(lines) + 1)
    for i, (name, value) in enumerate(lines):
        y = 1.0 - step * (i + 0.6)
        ax.text(0.05, y, name, transform=ax.transAxes, fontsize=9, va="bottom", gid="prefix-name")
        ax.text(
            0.05, y, f"{value:.3g}", transform=ax.transAxes, fontsize=14, va="top", weight="bold", gid="prefix-weight"
        )


def rollout(
    attentions: Any,
    *,
    head_fusion: Literal["mean", "max", "min"] = "mean",
    discard_ratio: float = 0.0,
    residual: bool = True,
) -> NDArray[float64]:
    """Attention rollout (Abnar & Zuidema, 2020): how much each token draws on each input token.

    ``attentions`` is a whole model's maps, first layer first: [layers, heads, T, T], or
    [layers, 1, heads, T, T] (``Capture.stack("attn")`` for one image), or a list with one
    [heads, T, T] or [1, heads, T, T] map per layer. For each layer:

    1. the heads are fused by their ``mean``, ``max`` or ``min``;
    2. with ``discard_ratio > 0``, the lowest ``int(discard_ratio * T * T)`` weights of the fused
       matrix (lowest over the whole matrix, ties by position) are set to zero, except that
       weights on the first (CLS) token, the first column, are never discarded;
    3. with ``residual``, the identity is mixed in for the skip connection, ``0.5 * A + 0.5 * I``;
    4. every row is renormalised to sum to 1 (a row left all zero stays zero);

    and the layers are multiplied, later layers on the left: ``R = A_L @ ... @ A_2 @ A_1``.

    This follows the common implementation, jacobgil/vit-explain (``vit_rollout.py``), with two
    differences: its discarding exempts only the single CLS-to-CLS weight (flat index 0),
    although its comment says "don't drop the class token", where this keeps the whole CLS
    column; and its ``a / a.sum(dim=-1)`` divides weight ``[i, j]`` by the sum of row ``j``
    (broadcasting), where this divides each row by its own sum. With the defaults the result is
    the paper's rollout.

    Returns the [T, T] rollout as a float64 numpy array; row 0 is the CLS token's, so
    ``rollout(attn)[0, 1:]`` weighs the patches (see :func:`rollout_overlay`).

    Example::

        from anycapture import viz

        joint = viz.rollout(cap.stack("attn"), head_fusion="max", discard_ratio=0.9)
        joint.shape                       # (197, 197)
        viz.rollout_overlay(joint, image, save="rollout.png")

    Raises ValueError for an unknown ``head_fusion``, a ``discard_ratio`` outside [0, 1), or maps
    that are not square or not one image (saying what to select).
    """
    if head_fusion not in ("mean", "max", "min"):
        raise ValueError(f"rollout() needs head_fusion 'mean', 'max' or 'min'; got {head_fusion!r}")
    if isinstance(discard_ratio, bool) or not isinstance(discard_ratio, int | float) or not 0 <= discard_ratio < 1:
        raise ValueError(
            f"rollout() needs discard_ratio, the fraction of weights to drop per layer, in [0, 1); got "
            f"{discard_ratio!r}, e.g. discard_ratio=0.9 drops the lowest 90%"
        )
    np = _numpy()
    maps = _layers(attentions, "rollout", square=True)
    _check_finite(maps, "rollout", ("layer", "head", "query"))
    fused = {"mean": maps.mean, "max": maps.max, "min": maps.min}[head_fusion](axis=1)
    tokens = fused.shape[-1]
    identity = np.eye(tokens)
    drop = int(tokens * tokens * discard_ratio)
    result: NDArray[float64] = identity.copy()
    for layer in fused:
        a = layer.copy()
        if drop:
            lowest = np.argsort(a, axis=None, kind="stable")[:drop]
            rows, cols = np.unravel_index(lowest, a.shape)
            keep = cols == 0  # weights on the CLS token are never discarded
            a[rows[~keep], cols[~keep]] = 0.0
        if residual:
            a = 0.5 * a + 0.5 * identity
        sums = a.sum(axis=-1, keepdims=True)
        a = np.divide(a, sums, out=np.zeros_like(a), where=sums != 0)
        result = a @ result
    return result


def rollout_overlay(
    rollout_map_or_row: Any,
    image: Any,
    *,
    prefix: int = 1,
    grid: tuple[int, int] | None = None,
    query: int | None = None,
    alpha: float = 0.6,
    label: str = "rollout",
    scale: Scale = "zero",
    title: str | None = None,
    save: str | os.PathLike[str] | None = None,
) -> Figure:
    """One token's rollout (by default the CLS token's) over the image patches, beside the image.

    ``rollout_map_or_row`` is the [T, T] result of :func:`rollout`, whose row ``query`` (default
    0, the CLS token) is shown, or one row [T] already chosen, whose token ``query`` names (and
    outlines, if it is a patch; unnamed when left out). Any attention map works too: give
    ``label="attention"``, which titles the panel and its colour bar (``"rollout of CLS"``,
    ``"rollout weight"`` by default). The first ``prefix`` tokens are dropped and the rest laid
    out as the patch grid (``grid=(rows, cols)`` when it is not square), resized to the image and
    overlaid with opacity ``alpha``. A query that is a patch is outlined in red. ``scale`` sets the
    colour bar as in :func:`grid_to_grid` (default ``"zero"``: 0 to the largest patch weight), and
    the bar's label states it. An image of another shape than the patch grid warns.

    Example::

        from anycapture import viz

        fig = viz.rollout_overlay(viz.rollout(cap.stack("attn")), image, title="rollout", save="rollout.png")

    Raises ValueError for a map that is neither [T, T] nor [T], a ``query`` that is not a token,
    a ``prefix``/``grid`` that does not fit T, or a row holding NaN (a padding token's).
    """
    arr = _array(rollout_map_or_row, "rollout_map_or_row")
    if not isinstance(label, str) or not label:
        raise ValueError(f"rollout_overlay() needs label, the name of what is shown, as a string; got {label!r}")
    if arr.ndim not in (1, 2):
        raise ValueError(
            f"rollout_overlay() needs the [T, T] map from rollout() or one row [T]; got shape {_shape(arr)}"
            + (": run rollout() on the layers first" if arr.ndim > 2 else "")
        )
    if arr.ndim == 2 and arr.shape[0] != arr.shape[1]:
        raise ValueError(f"rollout_overlay() needs a square [T, T] rollout map or one row [T]; got shape {_shape(arr)}")
    if query is not None and (not _is_int(query) or not 0 <= query < arr.shape[-1]):
        raise ValueError(
            f"rollout_overlay() needs query, the token whose row is shown, as an int from 0 to "
            f"{arr.shape[-1] - 1}; got {query!r}"
        )
    if arr.ndim == 2:
        query = 0 if query is None else int(query)
        row_values = arr[query]
    else:
        query = None if query is None else int(query)
        row_values = arr
    total = row_values.shape[0]
    if total == 0:
        raise ValueError("rollout_overlay() got an empty row")
    _check_finite(row_values, "rollout_overlay", ("token",))
    count = _prefix(prefix, total, "rollout_overlay")
    rows, cols = _grid(total - count, total, count, grid, "rollout_overlay")
    opacity = _alpha(alpha, "rollout_overlay")
    img = _image(image, "rollout_overlay")
    _check_aspect(img, rows, cols, "rollout_overlay")
    patch_weights = row_values[count:].reshape(rows, cols)
    low, high, scale_name = _limits(patch_weights, scale, "rollout_overlay")
    if query is None:
        shown = label
    else:
        shown = f"{label} of " + (
            ("CLS" if query == 0 else f"token {query}") if query < count else f"patch {query - count}"
        )
    panel_w, panel_h = _panel_size(img)
    ratios = [panel_w, panel_w, 0.18]
    fig = _new_figure(figsize=(sum(ratios) + 0.9, panel_h + 0.7), layout="constrained")
    left, right, bar = fig.subplots(1, 3, gridspec_kw={"width_ratios": ratios})
    _show_image(left, img, "image")
    layer = _overlay(right, img, patch_weights, opacity, shown, (low, high))
    _colorbar(fig, layer, bar, f"{label} weight\n(scale: {scale_name})")
    if query is not None and query >= count:
        row, col = divmod(query - count, cols)
        height, width = img.shape[:2]
        for ax in (left, right):
            _outline(ax, row, col, height / rows, width / cols, width=2.0)
    if title:
        fig.suptitle(title)
    return _finish(fig, save)


def model_view(
    attentions: Any,
    *,
    tokens: Sequence[str] | None = None,
    max_heads: int | None = None,
    layer_labels: Sequence[int | str] | None = None,
    head_labels: Sequence[int | str] | None = None,
    scale: Literal["shared", "map"] = "shared",
    cmap: str | Colormap = "viridis",
    title: str | None = None,
    save: str | os.PathLike[str] | None = None,
) -> Figure:
    """Every layer and head of a model at a glance: a layers x heads grid of small heat maps.

    A static picture of bertviz's "model view". Rows are labelled ``layer i``, columns
    ``head j``, counting the maps given; for some layers or heads of a model, give their numbers
    (``layer_labels=[3, 4, 5]`` for ``cap.stack("attn", "encoder.layer.[345].*")``) or names (a
    string is shown as it is: ``layer_labels=list(cap.by_path("attn"))``). In each panel, rows are
    queries and columns keys, as in :func:`heads`, with the same colormap (``cmap``).

    ``scale="shared"`` (default) draws every panel on one scale, 0 to the largest weight of all,
    so heads can be compared by colour; ``scale="map"`` draws each panel from 0 to its own
    largest weight, so that every head's pattern shows, however weak. The colour bar says which.
    ``title`` goes above the grid. ``attentions`` is [layers, heads, q, k], [layers, 1, heads, q, k]
    or a list of per-layer [heads, q, k] maps. ``max_heads`` keeps the first heads only.
    ``tokens`` label the bottom-left panel, a key to read the others by, when there are at most
    16 (the panels grow to fit them; more would not be legible, and a warning says they were left
    out). Long maps (a ViT's 197 tokens) are smoothed as they are shrunk, not sampled, so that
    they show no moire.

    Example::

        from anycapture import viz

        fig = viz.model_view(cap.stack("attn_weights"), max_heads=8, save="model.png")

    Raises ValueError for maps of another shape (saying what to select), a ``max_heads`` that is
    not a positive int, an unknown ``scale`` or ``cmap``, or tokens or labels of the wrong length.
    """
    np = _numpy()
    maps = _layers(attentions, "model_view", square=False)
    layers, count, queries, keys = maps.shape
    shown = min(count, _positive_int(max_heads, "max_heads", "model_view")) if max_heads is not None else count
    if scale not in ("shared", "map"):
        raise ValueError(
            f"model_view() got scale={scale!r}: use 'shared' (one colour scale for every panel) or 'map' (each "
            "panel from 0 to its own largest weight)"
        )
    _check_cmap(cmap, "model_view")
    row_names = _labels(layer_labels, layers, "layer", "model_view", "layer_labels")
    column_names = _labels(head_labels, count, "head", "model_view", "head_labels")
    labels = _tokens(tokens, keys, "model_view", f"{queries} queries x {keys} keys (labels go on the keys)")
    if labels and max(queries, keys) > _MODEL_VIEW_TOKENS:
        warnings.warn(
            f"model_view() left the {len(labels)} token labels out: more than {_MODEL_VIEW_TOKENS} do not fit a "
            "small panel; draw one map with head(attentions[i, j], tokens=tokens) to read them",
            stacklevel=2,
        )
        labels = None
    panel = max(0.6, min(1.3, 22.0 / max(layers, shown)))
    if labels:
        panel = max(panel, _TOKEN_INCHES * max(queries, keys))  # one readable line per token
    _matplotlib()
    from matplotlib.layout_engine import ConstrainedLayoutEngine

    tight = ConstrainedLayoutEngine(w_pad=0.02, h_pad=0.02, wspace=0.02, hspace=0.02)
    # Room beyond the panels: row names and colour bar across; title and note down; the token
    # labels of the bottom-left panel, when drawn, in both directions.
    across, down = (0.5, 0.7) if labels else (0.0, 0.0)
    fig = _new_figure(figsize=(shown * panel + 1.2 + across, layers * panel + 0.9 + down), layout=tight)
    grid = fig.subplots(layers, shown, squeeze=False)
    # A map with more tokens than the panel has pixels, drawn as it is, is sampled: fine patterns
    # (a 197-token ViT's) come out as moire bands. Each panel shows block means instead, at least
    # two pixels a block, and the picture says so.
    cells = max(1, int(panel * _DPI / 2))
    blocks = (math.ceil(queries / cells), math.ceil(keys / cells))
    drawn = maps[:, :shown]
    finite = np.isfinite(drawn)
    largest = float(drawn[finite].max()) if finite.any() else 1.0
    for i in range(layers):
        for j in range(shown):
            ax = grid[i, j]
            values = maps[i, j]
            top = largest
            if scale == "map":
                top = float(values[np.isfinite(values)].max()) if np.isfinite(values).any() else 1.0
            ax.imshow(
                _pool(values, blocks),
                cmap=cmap,
                vmin=0.0,
                vmax=top if top > 0 else 1.0,
                interpolation="nearest",
                aspect="auto",  # the panels fill the grid (made square by the figure's size): no gaps
            )
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(column_names[j], fontsize=9)
            if j == 0:
                ax.set_ylabel(row_names[i], fontsize=9)
    if labels:
        _label_axes(grid[layers - 1, 0], labels, labels if queries == keys else None, fontsize=7.5)
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    if scale == "shared":
        norm, bar_label = Normalize(0.0, largest if largest > 0 else 1.0), "attention weight\n(one scale, every panel)"
    else:
        norm, bar_label = Normalize(0.0, 1.0), "share of the panel's largest weight\n(each panel on its own scale)"
    # pad is a fraction of the whole grid's width: a fixed 0.15 inch, not matplotlib's 5% of 20 inches.
    pad = 0.15 / (shown * panel)
    shrink = min(0.8, 3.0 / layers + 0.3)
    fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=grid, shrink=shrink, pad=pad, label=bar_label)
    fig.suptitle(title if title is not None else f"attention: {layers} layers x {shown} heads")
    pooled = "" if blocks == (1, 1) else f", each cell the mean of {blocks[0]} x {blocks[1]} weights"
    fig.supxlabel(f"each panel: queries (rows) attending to keys (columns){pooled}", fontsize=9)
    return _finish(fig, save)


def _pool(values: Any, blocks: tuple[int, int]) -> Any:
    """``values`` [q, k] as the means of ``blocks`` (rows, cols) blocks; the last ones may be partial."""
    np = _numpy()
    if blocks == (1, 1):
        return values
    rows, cols = blocks
    q, k = values.shape
    padded = np.full((math.ceil(q / rows) * rows, math.ceil(k / cols) * cols), np.nan)
    padded[:q, :k] = values
    shaped = padded.reshape(padded.shape[0] // rows, rows, padded.shape[1] // cols, cols)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a block of NaN only (a padding token's row) stays NaN
        return np.nanmean(shaped, axis=(1, 3))


def _labels(given: Sequence[int | str] | None, count: int, kind: str, func: str, name: str) -> list[str]:
    """``["layer 0", "layer 1", ...]``, or the labels given: numbers as ``"layer 3"``, strings as they are."""
    if given is None:
        return [f"{kind} {i}" for i in range(count)]
    if isinstance(given, str) or not isinstance(given, Sequence):
        raise ValueError(f"{func}() needs {name} as a list of {count} numbers or strings; got {given!r}")
    if len(given) != count:
        raise ValueError(f"{func}() got {len(given)} {name} for {count} {kind}s; give one per {kind}")
    return [item if isinstance(item, str) else f"{kind} {item}" for item in given]

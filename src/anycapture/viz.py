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
import os
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from ._viz_draw import (
    _DPI,
    _check_aspect,
    _check_cmap,
    _colorbar,
    _finish,
    _label_axes,
    _label_size,
    _limits,
    _matplotlib,
    _new_figure,
    _outline,
    _overlay,
    _panel_size,
    _pool,
    _prefix_weights,
    _show_image,
    _whole_ticks,
)
from ._viz_maps import (
    _alpha,
    _array,
    _check_finite,
    _grid,
    _image,
    _index_hint,
    _is_int,
    _labels,
    _layers,
    _map2d,
    _numpy,
    _positive_int,
    _prefix,
    _prefix_names,
    _shape,
    _tokens,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.colors import Colormap
    from matplotlib.figure import Figure
    from numpy import float64
    from numpy.typing import NDArray

__all__ = ["grid_to_grid", "head", "heads", "model_view", "rollout", "rollout_overlay"]

_MODEL_VIEW_TOKENS = 16  # the most token labels that stay legible beside one panel, enlarged to fit them
_TOKEN_INCHES = 0.13  # the height of one token label's line in model_view
# How an overlay's colours map to weights: 0 to the map's largest, its smallest to largest, 0 to 1,
# or fixed limits shared by several pictures.
Scale = Literal["zero", "range", "absolute"] | tuple[float, float]


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
    return _finish(fig, save, title=title)


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
    return _finish(fig, save, title=title)


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
    return _finish(fig, save, title=title)


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

"""Drawing helpers of ``anycapture.viz``: bare matplotlib figures, overlays, colour bars, labels, saving.

matplotlib, numpy and Pillow are imported inside the functions, so importing this module imports
none of them.
"""

from __future__ import annotations

import math
import os
import warnings
from typing import TYPE_CHECKING, Any

from ._viz_maps import _numpy

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.colors import Colormap
    from matplotlib.figure import Figure

_DPI = 120
_OVERLAY_CMAP = "inferno"
_SCALE_NAMES = {"zero": "0 to this map's largest", "range": "this map's smallest to largest", "absolute": "0 to 1"}


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


def _check_cmap(cmap: str | Colormap, func: str) -> None:
    if isinstance(cmap, str) and cmap not in _matplotlib().colormaps:
        raise ValueError(
            f"{func}() got an unknown cmap {cmap!r}: use a matplotlib colormap name such as "
            "'viridis', 'magma', 'Blues' or 'gray', or a Colormap object"
        )


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


def _finish(fig: Figure, save: str | os.PathLike[str] | None, *, title: str | None = None) -> Figure:
    """The figure with ``title`` above it (if any), saved where ``save=`` says (if anywhere)."""
    if title:
        fig.suptitle(title)
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


def _whole_ticks(ax: Axes, queries: int, keys: int) -> None:
    """Ticks at token positions only: every token of a short axis, whole numbers on a long one."""
    from matplotlib.ticker import MaxNLocator

    for axis, count in ((ax.yaxis, queries), (ax.xaxis, keys)):
        if count <= 10:
            axis.set_ticks(range(count))
        else:
            axis.set_major_locator(MaxNLocator(integer=True))


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

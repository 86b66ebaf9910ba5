"""``anycapture.explore``: an interactive attention explorer as one self-contained HTML page.

The maps are stored in the page as 8-bit integers with a per-row offset and step (16-bit where
8 bits would lose more than 0.01), base64 encoded, and drawn on canvas by ``_page/explorer.js``.
The page needs no network: script, style, data and image are all inside the one file.
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
import struct
import uuid
import warnings
import zlib
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from ._viz_maps import _array, _maps, _pixels, _shape
from ._viz_maps import _numpy as _viz_numpy

__all__ = ["Explorer", "explore"]

MAX_ABS_ERROR = 0.01  # the most a stored value may differ from the captured one
_PAGE_VERSION = "2"
_ROLLOUT_LIMIT = 1024  # rollout (layers matrix products of T x T) is computed up to this many tokens
_ASPECT_TOLERANCE = 0.1  # a patch grid whose shape is within 10% of the image's aspect ratio fits it
_MAX_PREFIX = 16  # prefix tokens (CLS, registers, distillation) considered when inferring the grid


def _numpy() -> Any:
    return _viz_numpy("anycapture.explore", "numpy")


# -- reading the source ------------------------------------------------------------------------
def _from_records(records: Sequence[Any], values: Sequence[Any]) -> tuple[list[Any], list[str]]:
    """The values and a label per value: its module path, with the call number where a path repeats."""
    paths = [record.path for record in records]
    repeated = {path for path in paths if paths.count(path) > 1}
    labels = []
    for record in records:
        if record.path is None:
            labels.append(f"{record.function} call {record.call}")
        elif record.path in repeated:
            labels.append(f"{record.path} call {record.call}")
        else:
            labels.append(record.path)
    return list(values), labels


def _modules(records: Sequence[Any]) -> str:
    """How many records one forward makes: one per module path, where the records have paths."""
    paths = {record.path for record in records}
    return "layers" if None in paths else str(len(paths))


def _pick_name(keys: list[str], name: str | None, where: str) -> str:
    if name is not None:
        if name in keys:
            return name
        ending = [key for key in keys if key.endswith("." + name)]  # a variable's name: "attn" for "f.attn"
        if len(ending) == 1:
            return ending[0]
        raise KeyError(f"explore() got name={name!r}, but {where} holds {keys!r}: pass one of them as name=")
    if len(keys) == 1:
        return keys[0]
    if not keys:
        raise ValueError(f"explore() got {where}, which holds no values: capture something first")
    raise ValueError(f"explore() needs name= to pick one of the keys {where} holds: {keys!r}")


class _Records(list[Any]):
    """The captured values of a block, folder or mapping, one per layer, with what explore knows of them."""

    def __init__(self, values: list[Any], key: str, reduced: bool, one_forward: str) -> None:
        super().__init__(values)
        self.key = key  # the name to give cap.stack() in a message
        self.reduced = reduced  # kept by reduce=: the axes of each value are the user's, not a whole map's
        self.one_forward = one_forward  # how to pass the values of one forward, for a message


def _source_maps(source: Any, name: str | None) -> tuple[Any, list[str] | None]:
    """The source as (array, or the captured values as _Records; layer labels or None)."""
    from ._capture import Capture
    from ._disk import CaptureFolder, open_captures

    if isinstance(source, str | os.PathLike):
        folder = Path(source)
        if not folder.is_dir():
            raise FileNotFoundError(
                f"explore() got the path {str(source)!r}, which is not a folder: pass a folder a sink wrote "
                "(capture(..., sink='folder/')), or an array, a capture block or get_local.cache"
            )
        source = open_captures(folder)
    reduced = isinstance(source, Capture) and source.reduced
    if isinstance(source, Capture) and source.sink is not None:
        source = source.stored()  # a block that streamed to a sink: its records are on disk
    if isinstance(source, Capture | CaptureFolder):
        where = "this capture block" if isinstance(source, Capture) else f"the folder {str(source.folder)!r}"
        # name= may be a key or a variable's name, as in select(); an unknown one raises there.
        key = _pick_name(list(source), None, where) if name is None else name
        if isinstance(source, CaptureFolder):
            stored = source.select("*", key)
            values, labels = _from_records(stored, [source.load(record) for record in stored])
            one = f"[folder.load(r) for r in folder.select('*', {key!r})[:{_modules(stored)}]]"
        else:
            records = source.select("*", key)
            values, labels = _from_records(records, [record.value for record in records])
            one = f"[r.value for r in cap.select('*', {key!r})[:{_modules(records)}]]"
        return _Records(values, key, reduced, one), labels
    if isinstance(source, Mapping):
        key = _pick_name(list(source), name, "the mapping (e.g. get_local.cache)")
        values = list(source[key])
        one = f"get_local.cache[{key!r}][:layers] (the first forward's calls)"
        return _Records(values, key, False, one), [f"{key} call {i}" for i in range(len(values))]
    if name is not None:
        raise TypeError(
            f"explore() got name={name!r} with a {type(source).__name__}: name= picks a key of a capture block, "
            "a sink folder or get_local.cache; leave it out for an array"
        )
    return source, None


def _check_records(first: Any, records: _Records) -> None:
    """Refuse captured values whose axes explore would misread: it needs one whole map per value.

    A value [batch, heads, queries, keys] or [heads, queries, keys] becomes one layer. What
    ``reduce=`` kept has axes only its author knows: a [batch, heads, keys] row of one query and a
    [batch, queries, keys] mean over heads have the rank of [heads, queries, keys] and would be read
    as it, so a reduced value of rank 3 is refused with the ways to stack it right.
    """
    shape, key = _shape(first), f"cap.stack({records.key!r})"
    if first.ndim == 4 or (first.ndim == 3 and not records.reduced):
        return
    if first.ndim == 3:
        raise ValueError(
            f"explore() got captured values of shape {shape} kept by reduce=, whose axes it cannot tell: it needs "
            "one whole map per value, [batch, heads, queries, keys] or [heads, queries, keys]. Pass the array "
            f"[layers, heads, queries, keys] instead: for rows of one query [batch, heads, keys], "
            f"{key}[:, 0, :, None, :] with tokens=([query_token], tokens); for a mean over heads [batch, queries, "
            f"keys], {key}[:, 0, None]; "
            f"for one item's maps [heads, queries, keys], {key}"
        )
    raise ValueError(
        f"explore() got captured values of shape {shape}, but needs one whole map per value, [batch, heads, "
        f"queries, keys] or [heads, queries, keys]. Pass the array [layers, heads, queries, keys] instead: for "
        f"one map per layer [queries, keys], {key}[:, None]; for rows of one query [heads, keys], "
        f"{key}[:, :, None, :] with tokens=([query_token], tokens)"
    )


def _as_layers(source: Any, labels: list[str] | None, batch: int) -> tuple[Any, list[str]]:
    """[layers, heads, queries, keys] as float32, with a label per layer."""
    np = _numpy()
    if isinstance(source, list | tuple):
        if not source:
            raise ValueError("explore() got no values: the source holds an empty list")
        arrays = [_array(value, f"value {i} of explore()'s source", "float32") for i, value in enumerate(source)]
        first_of: dict[tuple[int, ...], int] = {}
        for i, array in enumerate(arrays):
            first_of.setdefault(array.shape, i)
        if len(first_of) > 1:
            where = [f"{_shape(arrays[i])} from {labels[i] if labels else f'value {i}'}" for i in first_of.values()]
            listing = ", ".join(where[:6]) + (f" and {len(where) - 6} more shapes" if len(where) > 6 else "")
            hint = ""
            if isinstance(source, _Records):
                hint = (
                    ": a block that saw several forwards (generate() with a cache, inputs of other lengths) holds "
                    f"maps of each; pass one forward's, e.g. explore({source.one_forward})"
                )
            raise ValueError(f"explore() needs maps of one shape in every layer; got {listing}{hint}")
        if isinstance(source, _Records):
            _check_records(arrays[0], source)
        maps = np.stack(arrays)
    else:
        maps = _array(source, "explore()'s source", "float32")
    maps = _maps(maps, "explore", batch=batch, name="attn")
    if not np.isfinite(maps).all():
        layer, head, query, key = (int(i) for i in np.argwhere(~np.isfinite(maps))[0])
        raise ValueError(
            f"explore() got a value that is not finite ({maps[layer, head, query, key]!r}) at layer {layer}, "
            f"head {head}, query {query}, key {key}: the maps must be finite numbers"
        )
    if labels is None or len(labels) != len(maps):
        labels = [f"layer {i}" for i in range(len(maps))]
    return maps, labels


def _layer_choice(layers: Any, count: int) -> list[int]:
    if isinstance(layers, str) or not isinstance(layers, Sequence) or not layers:
        raise TypeError(f"explore() needs layers as a non-empty list of layer numbers; got {layers!r}")
    bad = [layer for layer in layers if not _is_int(layer) or not -count <= layer < count]
    if bad:
        raise ValueError(
            f"explore() got layers={list(layers)!r}, but {bad[0]!r} is not a layer of these {count}: "
            f"pass numbers from 0 to {count - 1}"
        )
    return [int(layer) % count for layer in layers]


def _labels(tokens: Any, count: int, what: str) -> list[str]:
    if isinstance(tokens, str) or (not isinstance(tokens, Sequence) and not hasattr(tokens, "tolist")):
        raise TypeError(f"explore() needs {what} as a list of labels; got {type(tokens).__name__}: {tokens!r:.80}")
    labels = [str(token) for token in (tokens.tolist() if hasattr(tokens, "tolist") else tokens)]
    if len(labels) != count:
        raise ValueError(f"explore() got {len(labels)} {what} for {count} positions: pass exactly {count} labels")
    return labels


def _tokens(tokens: Any, queries: int, keys: int) -> tuple[list[str] | None, list[str] | None]:
    if tokens is None:
        return None, None
    pair = isinstance(tokens, tuple) and len(tokens) == 2 and not isinstance(tokens[0], str | int)
    if pair:
        return _labels(tokens[0], queries, "query tokens"), _labels(tokens[1], keys, "key tokens")
    if queries != keys:
        raise ValueError(
            f"explore() got one list of tokens, but the maps have {queries} queries and {keys} keys: for "
            "cross-attention pass tokens=(query_tokens, key_tokens)"
        )
    labels = _labels(tokens, queries, "tokens")
    return labels, labels


# -- the patch view ------------------------------------------------------------------------------
def _image(image: Any) -> Any:
    """An H x W x 3 uint8 array."""
    np = _numpy()
    arr = _pixels(image, "explore")
    if arr.dtype == np.uint8:
        return arr
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise TypeError(f"explore() needs image values as uint8 or floats in 0..1; got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    low, high = float(arr.min()), float(arr.max())
    if low < -1e-3 or high > 1 + 1e-3:
        raise ValueError(
            f"explore() needs float image values in 0..1; got {low:.3g}..{high:.3g}: undo the model's "
            "normalisation first (image * std + mean), or pass the uint8 image"
        )
    return (np.clip(arr, 0, 1) * 255 + 0.5).astype(np.uint8)


def _png(image: Any) -> bytes:
    """``image`` (H x W x 3 uint8) as PNG bytes, with the standard library alone."""
    height, width = image.shape[:2]
    raw = b"".join(b"\x00" + image[row].tobytes() for row in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def infer_grid(tokens: int, height: int, width: int) -> tuple[tuple[int, int], int]:
    """The patch grid (rows, cols) and the number of prefix tokens that fit ``tokens`` and the image's shape.

    A grid fits when its aspect ratio is within 10% of the image's; among exact fits the fewest
    prefix tokens win, then the closest ratio.

    >>> infer_grid(197, 224, 224)
    ((14, 14), 1)
    >>> infer_grid(201, 224, 224)
    ((14, 14), 5)
    """
    aspect = width / height
    found: list[tuple[float, int, tuple[int, int]]] = []
    for prefix in range(min(_MAX_PREFIX, tokens - 1) + 1):
        patches = tokens - prefix
        for rows in range(1, patches + 1):
            if patches % rows:
                continue
            cols = patches // rows
            miss = abs(math.log((cols / rows) / aspect))
            if miss <= math.log(1 + _ASPECT_TOLERANCE) and min(rows, cols) >= 2:
                found.append((round(miss, 6), prefix, (rows, cols)))
    if not found:
        raise ValueError(
            f"explore() cannot fit a patch grid to {tokens} tokens and a {height}x{width} image: no count of "
            f"0 to {_MAX_PREFIX} prefix tokens leaves patches in a grid of the image's aspect ratio "
            f"({aspect:.3g}); pass grid=(rows, cols) and prefix=, and check that the image is the one the model saw"
        )
    _, prefix, grid = min(found)
    return grid, prefix


def _patch_view(image: Any, grid: Any, prefix: Any, queries: int, keys: int) -> tuple[Any, tuple[int, int], int]:
    arr = _image(image)
    if queries != keys:
        raise ValueError(
            f"explore() draws the patch view for self-attention over an image's tokens; these maps have "
            f"{queries} queries and {keys} keys: leave image= out for cross-attention"
        )
    if prefix is not None and (not _is_int(prefix) or not 0 <= prefix < keys):
        raise ValueError(
            f"explore() needs prefix, the number of tokens before the patches (CLS, registers), as an int "
            f"from 0 to {keys - 1}; got {prefix!r}"
        )
    if grid is None:
        if prefix is None:
            grid, prefix = infer_grid(keys, arr.shape[0], arr.shape[1])
        else:
            patches = keys - prefix
            side = math.isqrt(patches)
            if side * side != patches:
                raise ValueError(
                    f"explore() cannot infer the grid: {keys} tokens less prefix={prefix} leave {patches} "
                    "patches, not a square: pass grid=(rows, cols)"
                )
            grid = (side, side)
    if not isinstance(grid, tuple | list) or len(grid) != 2 or not all(_is_int(n) and n > 0 for n in grid):
        raise ValueError(f"explore() needs grid as (rows, cols) of positive ints; got {grid!r}")
    rows, cols = int(grid[0]), int(grid[1])
    if prefix is None:
        prefix = keys - rows * cols
    if rows * cols + prefix != keys:
        raise ValueError(
            f"explore() got grid={tuple(grid)!r} ({rows * cols} patches) and prefix={prefix}, but the maps have "
            f"{keys} tokens: rows x cols + prefix must equal the token count"
        )
    aspect, grid_aspect = arr.shape[1] / arr.shape[0], cols / rows
    if abs(math.log(aspect / grid_aspect)) > math.log(1 + _ASPECT_TOLERANCE):
        warnings.warn(
            f"explore(): the image is {arr.shape[0]}x{arr.shape[1]} but the patch grid is {rows}x{cols}: pass "
            "the image as the model saw it (resized and cropped), or the overlay will not line up",
            stacklevel=3,
        )
    return arr, (rows, cols), int(prefix)


# -- storing the maps ---------------------------------------------------------------------------
def quantise(maps: Any) -> tuple[str, Any, Any, Any, float]:
    """``maps`` [..., keys] as integers with a per-row offset and step; and the largest error.

    8 bits per value unless that loses more than :data:`MAX_ABS_ERROR` somewhere, then 16. The
    error is measured on exactly what the page computes: ``offset + q * step`` in float64 from the
    stored float32 offset and step.
    """
    np = _numpy()
    rows = maps.reshape(-1, maps.shape[-1])
    low = rows.min(axis=1).astype(np.float32)
    span = rows.max(axis=1).astype(np.float64) - low
    chunk = max(1, (1 << 22) // rows.shape[1])  # rows per slice: float64 copies of the whole would be large
    for kind, levels, dtype in (("u8", 255, np.uint8), ("u16", 65535, np.uint16)):
        step = (span / levels).astype(np.float32)
        safe = np.where(step > 0, step, 1).astype(np.float64)
        ints = np.empty(rows.shape, dtype=dtype)
        error = 0.0
        for start in range(0, len(rows), chunk):
            part = slice(start, start + chunk)
            offset = low[part, None].astype(np.float64)
            ints[part] = np.clip(np.rint((rows[part] - offset) / safe[part, None]), 0, levels)
            decoded = offset + ints[part] * step[part, None].astype(np.float64)
            error = max(error, float(np.abs(decoded - rows[part]).max()))
        if error <= MAX_ABS_ERROR:
            return kind, ints, low, step, error
    raise ValueError(
        f"explore() cannot store these maps within {MAX_ABS_ERROR}: a row spans {float(span.max()):.4g}, more than "
        "16 bits can hold to that precision; the explorer draws attention weights (probabilities), not raw scores"
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _little(array: Any) -> bytes:
    """The array's bytes in little-endian order, as the page's typed arrays read them."""
    return bytes(array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes())


def _per_layer(name: str, ints: Any, layers: int) -> dict[str, str]:
    """Stored integers (rows in layer order) as one base64 string per layer: ``name-0``, ``name-1``, ..."""
    per_layer = ints.reshape(layers, -1)
    return {f"{name}-{layer}": _b64(_little(per_layer[layer])) for layer in range(layers)}


def _rollouts(maps: Any) -> Any:
    """The rollout through layers 0..L for every L, with the library's :func:`anycapture.viz.rollout`.

    ``rollout(maps[:L + 1])`` is ``rollout(maps[L:L + 1]) @ rollout(maps[:L])``: each layer's own
    step (heads fused, identity mixed in, rows renormalised) by the library, one product per
    layer, so that every prefix costs one matrix product instead of L.
    """
    np = _numpy()
    from .viz import rollout

    fused = maps.mean(axis=1, keepdims=True)  # heads fused first: float64 copies of one head per layer, not all
    result = np.empty((len(maps), maps.shape[-2], maps.shape[-1]), dtype=np.float32)
    joint = None
    for layer in range(len(maps)):
        step = rollout(fused[layer : layer + 1])
        joint = step if joint is None else step @ joint
        result[layer] = joint
    return result


_PLACEHOLDER = (
    "This attention explorer is drawn by its script, which has not run. In a notebook, run the cell, or trust "
    "the notebook (JupyterLab: the command “Trust Notebook”); a page saved with save() needs a browser with "
    "JavaScript on."
)


def _json_for_script(value: Any) -> str:
    # Inside <script>, "</script>" or "<!--" would end or confuse the element: escape every "<".
    return json.dumps(value, separators=(",", ":")).replace("<", "\\u003c")


def _asset(name: str) -> str:
    return resources.files("anycapture").joinpath("_page", name).read_text(encoding="utf-8")


class Explorer:
    """An interactive view of attention maps; ``save()`` writes it as one HTML file, notebooks show it inline.

    Made by :func:`explore`. ``maps`` is the float32 [layers, heads, queries, keys] array shown,
    ``max_abs_error`` the largest difference between it and what the page stores.

    Example::

        page = anycapture.explore(attn, tokens=tokens)
        page.save("attention.html")       # open it from file://, send it to someone
        page                              # in Jupyter, VS Code or Colab: shown inline
    """

    def __init__(
        self,
        maps: Any,
        *,
        layer_names: list[str],
        query_tokens: list[str] | None,
        key_tokens: list[str] | None,
        title: str,
        image: Any = None,
        grid: tuple[int, int] | None = None,
        prefix: int = 0,
        rollout: Any = None,
    ) -> None:
        np = _numpy()
        self.maps = maps
        self.layer_names = layer_names
        self.title = title
        self.grid = grid
        self.prefix = prefix
        layers, heads, queries, keys = (int(n) for n in maps.shape)
        if query_tokens is None and grid is not None:
            names = ["CLS", *(f"reg{i}" for i in range(1, prefix))][:prefix]
            query_tokens = names + [f"({r},{c})" for r in range(grid[0]) for c in range(grid[1])]
            key_tokens = query_tokens
        self.query_tokens = query_tokens or [str(i) for i in range(queries)]
        self.key_tokens = key_tokens or [str(i) for i in range(keys)]
        kind, ints, low, step, error = quantise(maps)
        # One base64 string per layer: a browser's strings stop at about 512 million characters, so
        # one string for the whole would cap the page far below what its memory allows.
        self._blobs = {"low": _b64(_little(low)), "step": _b64(_little(step))}
        self._blobs.update(_per_layer("maps", ints, layers))
        self.encoding = kind
        shared_max = float(maps.max())
        self.rollout = rollout
        rollout_max = 0.0
        r_kind = None
        if rollout is not None:
            r_kind, r_ints, r_low, r_step, r_error = quantise(self.rollout)
            error = max(error, r_error)
            rollout_max = float(self.rollout.max())
            self._blobs.update(rollout_low=_b64(_little(r_low)), rollout_step=_b64(_little(r_step)))
            self._blobs.update(_per_layer("rollout", r_ints, layers))
        self.max_abs_error = error
        self._image = None if image is None else "data:image/png;base64," + _b64(_png(np.ascontiguousarray(image)))
        self._config: dict[str, Any] = {
            "version": _PAGE_VERSION,
            "title": title,
            "layers": layers,
            "heads": heads,
            "queries": queries,
            "keys": keys,
            "layer_names": layer_names,
            "query_tokens": self.query_tokens,
            "key_tokens": self.key_tokens,
            "encoding": kind,
            "rollout_encoding": r_kind,
            "max_abs_error": error,
            "shared_max": shared_max,
            "shared_min": float(maps.min()),
            "rollout_max": rollout_max,
            "grid": list(grid) if grid is not None else None,
            "prefix": prefix,
            "image_size": None if image is None else [int(image.shape[0]), int(image.shape[1])],
        }

    def __repr__(self) -> str:
        layers, heads, queries, keys = self.maps.shape
        patch = f", patches {self.grid[0]}x{self.grid[1]} + {self.prefix} prefix" if self.grid else ""
        return f"<Explorer {self.title!r}: {layers} layers x {heads} heads x {queries} queries x {keys} keys{patch}>"

    def fragment(self, element_id: str | None = None) -> str:
        """The explorer as an HTML fragment (style, script, data, mount) to put inside any page."""
        element_id = element_id or f"anycapture-{uuid.uuid4().hex[:12]}"
        script = _asset("explorer.js")
        style = _asset("explorer.css")
        if "</script" in script.lower() or "</style" in style.lower():  # pragma: no cover - a packaging mistake
            raise RuntimeError("the explorer's page assets contain a closing tag and cannot be inlined")
        blobs = "".join(
            f'<script type="text/plain" data-blob="{name}">{data}</script>' for name, data in self._blobs.items()
        )
        image = f'<script type="text/plain" data-blob="image">{self._image}</script>' if self._image else ""
        return (
            f"<style>{style}</style>"
            f'<div class="acx" id="{element_id}" tabindex="0" data-anycapture-explorer>'
            # Shown until the script runs: an untrusted notebook (JupyterLab strips its scripts) or a
            # browser without JavaScript would otherwise show an empty box.
            f"<p data-placeholder>{_PLACEHOLDER}</p>"
            f'<script type="application/json" data-config>{_json_for_script(self._config)}</script>'
            f"{blobs}{image}</div>"
            f"<script>{script}</script>"
            f"<script>window.anycapture.mount(document.getElementById({json.dumps(element_id)}));</script>"
        )

    def html(self) -> str:
        """The whole page as one string: what :meth:`save` writes."""
        return (
            "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{html.escape(self.title)}</title></head>"
            f"<body class='acx-page'>{self.fragment()}</body></html>\n"
        )

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the page to ``path`` (one HTML file that works offline, from ``file://``); return the path."""
        target = Path(path)
        if target.is_dir():
            raise IsADirectoryError(f"save() got the folder {str(target)!r}: pass a file name, e.g. attention.html")
        if not target.parent.is_dir():
            what = "is a file, not a folder" if target.parent.exists() else "does not exist"
            raise FileNotFoundError(f"save() cannot write {str(target)!r}: the folder {str(target.parent)!r} {what}")
        try:
            target.write_text(self.html(), encoding="utf-8")
        except OSError as exc:
            raise OSError(f"save() cannot write {str(target)!r}: {exc.strerror or exc}") from exc
        return target

    def _repr_html_(self) -> str:
        # Inline (not an iframe): the same script runs in Jupyter, VS Code and Colab, and the page's
        # window.anycapture reaches every explorer shown, each by its own id.
        return self.fragment()


def explore(
    source: Any,
    *,
    tokens: Any = None,
    image: Any = None,
    name: str | None = None,
    batch: int = 0,
    title: str | None = None,
    grid: tuple[int, int] | None = None,
    prefix: int | None = None,
    rollout: bool | None = None,
    layers: Sequence[int] | None = None,
) -> Explorer:
    """An interactive explorer of attention maps: token, matrix and model views, and a patch view with ``image``.

    ``source`` is a ``capture(...)`` or ``capture_attention(...)`` block (layers labelled by module
    path), a folder a sink wrote or a :class:`~anycapture.CaptureFolder`, ``get_local.cache``
    (with ``name=`` the key), or an array or tensor ``[layers, heads, queries, keys]`` or
    ``[layers, batch, heads, queries, keys]`` (``batch=`` picks the item). ``name`` picks the
    captured variable where the source holds several.

    ``tokens`` labels queries and keys; for cross-attention pass ``(query_tokens, key_tokens)``.
    ``image`` (H x W x 3, uint8 or floats in 0..1) adds the patch view; its patch grid and prefix
    tokens (CLS, registers) are inferred from the token count and the image's aspect ratio unless
    ``grid=(rows, cols)`` and ``prefix=`` are given. ``rollout`` adds attention rollout over the
    layers (default: for self-attention up to 1,024 tokens). ``layers`` keeps some layers only
    (``layers=[0, 5, 11]``), for long sequences; rollout still runs through every layer.

    Example::

        with anycapture.capture_attention(model=model) as cap:
            model(**batch)
        anycapture.explore(cap, tokens=tokens).save("attention.html")
        anycapture.explore(vit_cap, image=image)         # 197 tokens, 224x224: 14x14 patches + CLS
    """
    raw, labels = _source_maps(source, name)
    maps, layer_names = _as_layers(raw, labels, batch)
    queries, keys = maps.shape[2:]
    query_tokens, key_tokens = _tokens(tokens, queries, keys)
    if (grid is not None or prefix is not None) and image is None:
        raise ValueError("explore() got grid= or prefix= without image=: they place the patches on the image")
    picture, patch_grid, prefix_count = None, None, 0
    if image is not None:
        picture, patch_grid, prefix_count = _patch_view(image, grid, prefix, queries, keys)
    if rollout is None:
        rollout = queries == keys and keys <= _ROLLOUT_LIMIT
    elif rollout and queries != keys:
        raise ValueError(f"explore() got rollout=True, but rollout needs self-attention; got {queries} x {keys} maps")
    if title is None:
        title = "anycapture attention explorer"
    if not isinstance(title, str):
        raise TypeError(f"explore() needs title as a str; got {title!r}")
    rollouts = _rollouts(maps) if rollout else None
    if layers is not None:
        keep = _layer_choice(layers, len(maps))
        maps, layer_names = maps[keep], [layer_names[i] for i in keep]
        rollouts = rollouts[keep] if rollouts is not None else None
    return Explorer(
        maps,
        layer_names=layer_names,
        query_tokens=query_tokens,
        key_tokens=key_tokens,
        title=title,
        image=picture,
        grid=patch_grid,
        prefix=prefix_count,
        rollout=rollouts,
    )

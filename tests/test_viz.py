"""anycapture.viz: figures of attention maps, and attention rollout checked against hand computations."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

import anycapture
from anycapture import viz

np = pytest.importorskip("numpy")
Figure = pytest.importorskip("matplotlib.figure").Figure
Rectangle = pytest.importorskip("matplotlib.patches").Rectangle

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _softmax(x: Any) -> Any:
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _maps(*shape: int, seed: int = 0) -> Any:
    """Random attention probabilities of the given shape (rows sum to 1)."""
    return _softmax(np.random.default_rng(seed).normal(size=shape) * 2)


def _assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert len(data) > 1000
    assert data.startswith(PNG_MAGIC)


def _image(height: int = 40, width: int = 60) -> Any:
    yy, xx = np.mgrid[0:height, 0:width]
    return (np.stack([xx / width, yy / height, np.full(xx.shape, 0.5)], -1) * 255).astype(np.uint8)


# -- importing --------------------------------------------------------------------------------
def test_import_pulls_in_no_heavy_modules() -> None:
    """`import anycapture.viz` loads neither numpy, matplotlib, Pillow nor torch."""
    code = (
        "import sys, anycapture.viz\n"
        "heavy = [m for m in ('numpy', 'matplotlib', 'PIL', 'torch') if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    src = str(Path(anycapture.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")]))}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == ""


def test_missing_matplotlib_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without matplotlib, drawing raises ImportError naming `pip install matplotlib`."""
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        viz.head(_maps(4, 4))


# -- head -------------------------------------------------------------------------------------
def test_head_draws_heat_map_with_colour_bar_and_saves_png(tmp_path: Path) -> None:
    """head() returns a Figure with the map and a colour bar, and save= writes a PNG."""
    attn = _maps(5, 5)
    fig = viz.head(attn, title="layer 0, head 0", save=tmp_path / "head.png")
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 2
    np.testing.assert_allclose(fig.axes[0].images[0].get_array(), attn)
    assert fig.axes[0].get_title() == "layer 0, head 0"
    _assert_png(tmp_path / "head.png")


def test_head_labels_both_axes_with_tokens() -> None:
    """tokens label the keys (rotated) and the queries of a square map, '$' kept literal."""
    tokens = ["[CLS]", "the", "$5", "cat", "[SEP]"]
    fig = viz.head(_maps(5, 5), tokens=tokens)
    ax = fig.axes[0]
    expected = ["[CLS]", "the", r"\$5", "cat", "[SEP]"]
    assert [t.get_text() for t in ax.get_xticklabels()] == expected
    assert [t.get_text() for t in ax.get_yticklabels()] == expected
    assert all(t.get_rotation() == 90 for t in ax.get_xticklabels())


def test_head_labels_only_keys_of_a_rectangular_map() -> None:
    """With fewer queries than keys, tokens matching the keys label the key axis only."""
    fig = viz.head(_maps(2, 4), tokens=["a", "b", "c", "d"])
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c", "d"]
    assert "a" not in [t.get_text() for t in ax.get_yticklabels()]


def test_head_rejects_a_batched_map_saying_what_to_select() -> None:
    """A 4-D map is refused with its shape and an example selection."""
    with pytest.raises(
        ValueError,
        match=r"head\(\) needs a 2-D \[queries, keys\] map; got shape \(2, 6, 197, 197\): "
        r"select a batch item and head first, e\.g\. attn\[0, 0\]",
    ):
        viz.head(np.zeros((2, 6, 197, 197)))
    with pytest.raises(
        ValueError, match=r"got shape \(6, 5, 5\): select a head first, e\.g\. attn\[0\].*heads\(attn\)"
    ):
        viz.head(np.zeros((6, 5, 5)))
    with pytest.raises(ValueError, match=r"got shape \(5,\).*attn\[None, :\]"):
        viz.head(np.zeros(5))


def test_head_rejects_bad_tokens_and_cmap() -> None:
    """Tokens of the wrong length or given as one string, and unknown colormaps, are refused."""
    with pytest.raises(
        ValueError, match=r"head\(\) got 3 tokens for 5 queries x 5 keys \(labels go on the keys\): pass exactly 5"
    ):
        viz.head(_maps(5, 5), tokens=["a", "b", "c"])
    with pytest.raises(TypeError, match=r"got the string 'the cat sat'.*text\.split\(\)"):
        viz.head(_maps(3, 3), tokens="the cat sat")
    with pytest.raises(ValueError, match=r"unknown cmap 'viridiss'"):
        viz.head(_maps(3, 3), cmap="viridiss")
    with pytest.raises(TypeError, match=r"attn must be a numpy array or torch tensor of numbers; got list"):
        viz.head([["a", "b"], ["c", "d"]])


# -- heads ------------------------------------------------------------------------------------
def test_heads_draws_every_head_and_their_mean_on_one_scale(tmp_path: Path) -> None:
    """heads() draws one panel per head plus 'mean', with one shared colour scale and one colour bar."""
    attn = _maps(6, 4, 4)
    fig = viz.heads(attn, title="layer 3", save=tmp_path / "heads.png")
    panels = [ax for ax in fig.axes if ax.images]
    assert len(fig.axes) == 6 + 1 + 1  # heads, mean, colour bar
    assert [ax.get_title() for ax in panels] == [f"head {i}" for i in range(6)] + ["mean"]
    assert len({ax.images[0].get_clim() for ax in panels}) == 1
    assert fig.axes[-1].get_ylabel() == "attention weight\n(one scale, every panel)"
    np.testing.assert_allclose(panels[-1].images[0].get_array(), attn.mean(axis=0))
    _assert_png(tmp_path / "heads.png")


def test_heads_lays_out_cols_and_labels_outer_panels_with_tokens() -> None:
    """cols= sets panels per row; tokens label the left column and the bottom panels only."""
    fig = viz.heads(_maps(3, 3, 3), tokens=["x", "y", "z"], cols=2)
    panels = [ax for ax in fig.axes if ax.images]
    assert len(panels) == 4
    assert panels[0].get_subplotspec().get_geometry()[:2] == (2, 2)
    assert [t.get_text() for t in panels[0].get_yticklabels()] == ["x", "y", "z"]
    assert panels[1].get_yticks().size == 0  # second column
    assert panels[0].get_xticks().size == 0  # a panel sits below it
    assert [t.get_text() for t in panels[3].get_xticklabels()] == ["x", "y", "z"]


def test_heads_rejects_wrong_shapes_and_cols() -> None:
    """heads() refuses 2-D and 4-D maps, saying what to do, and a cols that is not positive."""
    with pytest.raises(ValueError, match=r"heads\(\) needs a 3-D \[heads, queries, keys\] map; got shape \(4, 4\)"):
        viz.heads(np.zeros((4, 4)))
    with pytest.raises(ValueError, match=r"got shape \(2, 6, 4, 4\): select a batch item first, e\.g\. attn\[0\]"):
        viz.heads(np.zeros((2, 6, 4, 4)))
    with pytest.raises(ValueError, match=r"cols as a positive int; got 0"):
        viz.heads(_maps(2, 3, 3), cols=0)


# -- grid_to_grid -----------------------------------------------------------------------------
def _outlines(ax: Any) -> list[tuple[float, float, float, float]]:
    return [(p.get_x(), p.get_y(), p.get_width(), p.get_height()) for p in ax.patches if isinstance(p, Rectangle)]


def test_grid_to_grid_on_a_non_square_grid(tmp_path: Path) -> None:
    """A 2 x 3 patch grid with one prefix token: query (1, 2) is outlined and its weights overlaid."""
    attn = _maps(7, 7)  # CLS + 2 x 3 patches
    fig = viz.grid_to_grid(attn, _image(40, 60), query=(1, 2), grid=(2, 3), save=tmp_path / "g2g.png")
    left, right, colour_bar, prefix_bar = fig.axes
    assert len(fig.axes) == 4
    assert _outlines(left) == [(40.0, 20.0, 20.0, 20.0)]  # 20 x 20 pixel patches, row 1, col 2
    assert _outlines(right) == [(40.0, 20.0, 20.0, 20.0)]
    overlay = right.images[1].get_array()
    assert overlay.shape == (40, 60)
    # The brightest pixel lies in the patch the query attends to most.
    weights = attn[1 + 5, 1:].reshape(2, 3)
    r, c = np.unravel_index(np.argmax(overlay), overlay.shape)
    assert (r // 20, c // 20) == np.unravel_index(np.argmax(weights), weights.shape)
    # The prefix panel prints the query's weight on the CLS token, and on all patches together.
    assert _prefix_panel(prefix_bar) == [("CLS", f"{attn[6, 0]:.3g}"), ("all patches", f"{attn[6, 1:].sum():.3g}")]
    _assert_png(tmp_path / "g2g.png")


def _prefix_panel(ax: Any) -> list[tuple[str, str]]:
    """The (name, printed weight) pairs of grid_to_grid's prefix panel."""
    names = [t.get_text() for t in ax.texts if t.get_gid() == "prefix-name"]
    values = [t.get_text() for t in ax.texts if t.get_gid() == "prefix-weight"]
    return list(zip(names, values, strict=True))


def test_grid_to_grid_patch_index_equals_row_col() -> None:
    """query as a row-major patch index outlines the same patch as (row, col)."""
    attn = _maps(7, 7)
    by_index = viz.grid_to_grid(attn, _image(40, 60), query=5, grid=(2, 3))
    by_pair = viz.grid_to_grid(attn, _image(40, 60), query=(1, 2), grid=(2, 3))
    assert _outlines(by_index.axes[0]) == _outlines(by_pair.axes[0])
    np.testing.assert_allclose(by_index.axes[1].images[1].get_array(), by_pair.axes[1].images[1].get_array())


def test_grid_to_grid_without_prefix_tokens_and_without_pillow(monkeypatch: pytest.MonkeyPatch) -> None:
    """With prefix=0 no bar is drawn; without Pillow the weights are repeated nearest-neighbour."""
    monkeypatch.setitem(sys.modules, "PIL", None)
    attn = _maps(6, 6)  # 2 x 3 patches, no CLS
    fig = viz.grid_to_grid(attn, _image(40, 60), query=(0, 1), prefix=0, grid=(2, 3))
    assert len(fig.axes) == 3  # image, overlay, colour bar
    weights = attn[1].reshape(2, 3)
    np.testing.assert_allclose(fig.axes[1].images[1].get_array(), np.repeat(np.repeat(weights, 20, 0), 20, 1))


def test_grid_to_grid_prefix_panel_names_and_hiding() -> None:
    """prefix_names name the weights printed beside the image; show_prefix=False leaves the panel out."""
    attn = _maps(6, 6)  # CLS, distillation token, 2 x 2 patches
    fig = viz.grid_to_grid(attn, _image(32, 32), query=3, prefix=2, prefix_names=["CLS", "dist"])
    assert _prefix_panel(fig.axes[3]) == [
        ("CLS", f"{attn[5, 0]:.3g}"),
        ("dist", f"{attn[5, 1]:.3g}"),
        ("all patches", f"{attn[5, 2:].sum():.3g}"),
    ]
    assert len(viz.grid_to_grid(attn, _image(32, 32), query=3, prefix=2, show_prefix=False).axes) == 3
    with pytest.raises(ValueError, match=r"got 1 prefix_names for prefix=2: pass exactly 2"):
        viz.grid_to_grid(attn, _image(32, 32), query=3, prefix=2, prefix_names=["CLS"])


def test_grid_to_grid_accepts_pil_and_float_images() -> None:
    """A PIL image and a float image in [0, 1] give the same picture as the uint8 array."""
    image_module = pytest.importorskip("PIL.Image")
    attn = _maps(5, 5)
    img = _image(32, 32)
    from_pil = viz.grid_to_grid(attn, image_module.fromarray(img), query=0)
    from_float = viz.grid_to_grid(attn, img / 255.0, query=0)
    np.testing.assert_allclose(from_pil.axes[0].images[0].get_array(), img / 255.0)
    np.testing.assert_allclose(from_float.axes[0].images[0].get_array(), img / 255.0)


def test_grid_to_grid_explains_a_grid_it_cannot_infer() -> None:
    """Patches that are not a square ask for grid=, suggesting shapes and a prefix that would fit."""
    with pytest.raises(ValueError, match=r"7 tokens less prefix=1 leave 6 patches.*grid=\(2, 3\)"):
        viz.grid_to_grid(_maps(7, 7), _image(), query=0)
    with pytest.raises(ValueError, match=r"201 tokens less prefix=1 leave 200 patches.*prefix=5 would leave 14x14"):
        viz.grid_to_grid(_maps(201, 201), _image(), query=0)
    with pytest.raises(ValueError, match=r"grid=\(3, 3\) \(9 patches\), but the map has 7 tokens and prefix=1"):
        viz.grid_to_grid(_maps(7, 7), _image(), query=0, grid=(3, 3))


def test_grid_to_grid_rejects_bad_arguments() -> None:
    """Queries outside the grid, bad prefixes, alphas, maps and images are refused with their value."""
    attn = _maps(7, 7)
    with pytest.raises(ValueError, match=r"query=\(2, 0\) outside the 2 x 3 patch grid"):
        viz.grid_to_grid(attn, _image(), query=(2, 0), grid=(2, 3))
    with pytest.raises(ValueError, match=r"query=6, but there are 6 patches \(2 x 3\)"):
        viz.grid_to_grid(attn, _image(), query=6, grid=(2, 3))
    with pytest.raises(TypeError, match=r"query as a patch index \(int\) or \(row, col\); got 'a'"):
        viz.grid_to_grid(attn, _image(), query="a", grid=(2, 3))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"prefix.*from 0 to 6; got 7"):
        viz.grid_to_grid(attn, _image(), query=0, prefix=7)
    with pytest.raises(ValueError, match=r"alpha between 0.*got 1\.5"):
        viz.grid_to_grid(attn, _image(), query=0, grid=(2, 3), alpha=1.5)
    with pytest.raises(ValueError, match=r"square \[tokens, tokens\].*got shape \(7, 5\)"):
        viz.grid_to_grid(attn[:, :5], _image(), query=0)
    with pytest.raises(ValueError, match=r"image as H x W x 3.*got shape \(2, 40, 60, 3\)"):
        viz.grid_to_grid(attn, np.zeros((2, 40, 60, 3)), query=0, grid=(2, 3))
    with pytest.raises(ValueError, match=r"float image values in \[0, 1\]; got -2\.1\.\.2\.6.*image \* std \+ mean"):
        viz.grid_to_grid(attn, np.linspace(-2.1, 2.6, 40 * 60 * 3).reshape(40, 60, 3), query=0, grid=(2, 3))


# -- rollout ----------------------------------------------------------------------------------
# Two layers, two heads, three tokens (token 0 is CLS); rows are probabilities. The head means
# have no ties, so which weights discard_ratio drops is unambiguous.
LAYER1 = np.array(
    [
        [[0.6, 0.3, 0.1], [0.1, 0.5, 0.4], [0.2, 0.2, 0.6]],
        [[0.8, 0.1, 0.1], [0.0, 0.7, 0.3], [0.1, 0.4, 0.5]],
    ]
)
LAYER2 = np.array(
    [
        [[0.4, 0.4, 0.2], [0.2, 0.7, 0.1], [0.3, 0.1, 0.6]],
        [[0.6, 0.2, 0.2], [0.0, 0.8, 0.2], [0.2, 0.0, 0.8]],
    ]
)
ATTENTIONS = np.stack([LAYER1, LAYER2])  # [layers, heads, T, T]
I3 = np.eye(3)


def _rows(a: Any) -> Any:
    return a / a.sum(axis=-1, keepdims=True)


def test_rollout_mean_fusion_matches_hand_computation() -> None:
    """Mean over heads, 0.5 A + 0.5 I per layer, then R = A2 @ A1."""
    mean1 = np.array([[0.7, 0.2, 0.1], [0.05, 0.6, 0.35], [0.15, 0.3, 0.55]])
    mean2 = np.array([[0.5, 0.3, 0.2], [0.1, 0.75, 0.15], [0.25, 0.05, 0.7]])
    a1 = np.array([[0.85, 0.1, 0.05], [0.025, 0.8, 0.175], [0.075, 0.15, 0.775]])  # 0.5 * mean1 + 0.5 * I
    a2 = np.array([[0.75, 0.15, 0.1], [0.05, 0.875, 0.075], [0.125, 0.025, 0.85]])  # rows already sum to 1
    np.testing.assert_allclose(0.5 * mean1 + 0.5 * I3, a1)
    np.testing.assert_allclose(0.5 * mean2 + 0.5 * I3, a2)
    expected = a2 @ a1
    # First row by hand: 0.75 * a1[0] + 0.15 * a1[1] + 0.1 * a1[2].
    np.testing.assert_allclose(expected[0], [0.64875, 0.21, 0.14125])
    result = viz.rollout(ATTENTIONS)
    assert result.shape == (3, 3)
    assert result.dtype == np.float64
    np.testing.assert_allclose(result, expected)
    np.testing.assert_allclose(result.sum(axis=-1), 1.0)


def test_rollout_max_and_min_fusion_renormalise_rows() -> None:
    """Max and min over heads give rows that no longer sum to 1; each row is renormalised."""
    max1 = np.array([[0.8, 0.3, 0.1], [0.1, 0.7, 0.4], [0.2, 0.4, 0.6]])
    max2 = np.array([[0.6, 0.4, 0.2], [0.2, 0.8, 0.2], [0.3, 0.1, 0.8]])
    min1 = np.array([[0.6, 0.1, 0.1], [0.0, 0.5, 0.3], [0.1, 0.2, 0.5]])
    min2 = np.array([[0.4, 0.2, 0.2], [0.0, 0.7, 0.1], [0.2, 0.0, 0.6]])
    a1 = _rows(0.5 * max1 + 0.5 * I3)  # row 0: [0.9, 0.15, 0.05] / 1.1
    np.testing.assert_allclose(a1[0], [0.9 / 1.1, 0.15 / 1.1, 0.05 / 1.1])
    np.testing.assert_allclose(viz.rollout(ATTENTIONS, head_fusion="max"), _rows(0.5 * max2 + 0.5 * I3) @ a1)
    b1 = _rows(0.5 * min1 + 0.5 * I3)  # row 1: [0.0, 0.75, 0.15] / 0.9
    np.testing.assert_allclose(b1[1], [0.0, 0.75 / 0.9, 0.15 / 0.9])
    np.testing.assert_allclose(viz.rollout(ATTENTIONS, head_fusion="min"), _rows(0.5 * min2 + 0.5 * I3) @ b1)


def test_rollout_discard_ratio_keeps_the_cls_column() -> None:
    """discard_ratio=0.4 zeroes the 3 lowest of 9 fused weights per layer, except those on token 0."""
    # Layer 1 mean: lowest are 0.05 at (1, 0) and 0.15 at (2, 0), kept (CLS column), and 0.1 at (0, 2), dropped.
    kept1 = np.array([[0.7, 0.2, 0.0], [0.05, 0.6, 0.35], [0.15, 0.3, 0.55]])
    # Layer 2 mean: lowest are 0.05 at (2, 1), dropped, 0.1 at (1, 0), kept, and 0.15 at (1, 2), dropped.
    kept2 = np.array([[0.5, 0.3, 0.2], [0.1, 0.75, 0.0], [0.25, 0.0, 0.7]])
    a1 = _rows(0.5 * kept1 + 0.5 * I3)  # row 0 sums to 0.95 before renormalising
    a2 = _rows(0.5 * kept2 + 0.5 * I3)  # rows 1 and 2 sum to 0.925 and 0.975
    np.testing.assert_allclose(a1[0], [0.85 / 0.95, 0.1 / 0.95, 0.0])
    np.testing.assert_allclose(a2[1], [0.05 / 0.925, 0.875 / 0.925, 0.0])
    np.testing.assert_allclose(viz.rollout(ATTENTIONS, discard_ratio=0.4), a2 @ a1)


def test_rollout_without_residual_multiplies_the_fused_maps() -> None:
    """residual=False multiplies the row-normalised head means themselves."""
    mean1 = np.array([[0.7, 0.2, 0.1], [0.05, 0.6, 0.35], [0.15, 0.3, 0.55]])
    mean2 = np.array([[0.5, 0.3, 0.2], [0.1, 0.75, 0.15], [0.25, 0.05, 0.7]])
    np.testing.assert_allclose(viz.rollout(ATTENTIONS, residual=False), mean2 @ mean1)


def test_rollout_accepts_batch_of_one_and_lists_of_layers() -> None:
    """[layers, 1, heads, T, T] and lists of [heads, T, T] or [1, heads, T, T] give the same rollout."""
    expected = viz.rollout(ATTENTIONS)
    np.testing.assert_allclose(viz.rollout(ATTENTIONS[:, None]), expected)
    np.testing.assert_allclose(viz.rollout([LAYER1, LAYER2]), expected)
    np.testing.assert_allclose(viz.rollout([LAYER1[None], LAYER2[None]]), expected)


def test_rollout_refuses_nan_rows_saying_where_and_why() -> None:
    """A padding token's NaN row would make the whole rollout NaN: it is refused, located."""
    maps = _maps(2, 3, 4, 4)
    maps[1, 2, 3] = np.nan  # layer 1, head 2, query 3: all keys masked
    with pytest.raises(
        ValueError, match=r"\(4 value\(s\); the first at layer 1, head 2, query 3\).*maps\[\.\.\., :n, :n\]"
    ):
        viz.rollout(maps)


def test_rollout_rejects_bad_arguments() -> None:
    """Unknown fusions, ratios outside [0, 1), batches, missing heads axes and mixed shapes are refused."""
    with pytest.raises(ValueError, match=r"head_fusion 'mean', 'max' or 'min'; got 'median'"):
        viz.rollout(ATTENTIONS, head_fusion="median")  # type: ignore[arg-type]
    for ratio in (1.0, -0.1, 2):
        with pytest.raises(ValueError, match=rf"discard_ratio.*in \[0, 1\); got {ratio}"):
            viz.rollout(ATTENTIONS, discard_ratio=ratio)
    with pytest.raises(ValueError, match=r"batch of 2: select one item, e\.g\. attentions\[:, 0\]"):
        viz.rollout(np.stack([ATTENTIONS, ATTENTIONS], axis=1))
    with pytest.raises(ValueError, match=r"got shape \(2, 3, 3\), which has no heads axis.*attentions\[:, None\]"):
        viz.rollout(ATTENTIONS.mean(axis=1))
    with pytest.raises(ValueError, match=r"layer 0 has \(2, 3, 3\), layer 1 has \(2, 4, 4\)"):
        viz.rollout([LAYER1, _maps(2, 4, 4)])
    with pytest.raises(ValueError, match=r"square \[tokens, tokens\].*got 3 queries and 2 keys"):
        viz.rollout(ATTENTIONS[..., :2])
    with pytest.raises(ValueError, match=r"empty list"):
        viz.rollout([])


# -- rollout_overlay --------------------------------------------------------------------------
def test_rollout_overlay_shows_the_cls_row_over_the_image(tmp_path: Path) -> None:
    """rollout_overlay() draws the image and the CLS row's patch weights over it, and saves a PNG."""
    monkey_rollout = _maps(5, 5)  # CLS + 2 x 2 patches
    fig = viz.rollout_overlay(monkey_rollout, _image(32, 32), title="rollout", save=tmp_path / "rollout.png")
    assert len(fig.axes) == 3  # image, overlay, colour bar
    overlay = fig.axes[1].images[1]
    assert overlay.get_array().shape == (32, 32)
    assert overlay.get_clim() == pytest.approx((0.0, monkey_rollout[0, 1:].max()))
    assert fig.axes[2].get_ylabel() == "rollout weight\n(scale: 0 to this map's largest)"
    assert fig.axes[1].get_title() == "rollout of CLS"
    _assert_png(tmp_path / "rollout.png")


def test_rollout_overlay_takes_a_row_or_a_patch_query() -> None:
    """A 1-D row is drawn as given; a query that is a patch is outlined in red."""
    joint = _maps(7, 7)
    from_row = viz.rollout_overlay(joint[0], _image(40, 60), grid=(2, 3))
    from_map = viz.rollout_overlay(joint, _image(40, 60), grid=(2, 3))
    np.testing.assert_allclose(from_row.axes[1].images[1].get_array(), from_map.axes[1].images[1].get_array())
    assert from_row.axes[1].get_title() == "rollout"  # a row alone: whose row is not known
    assert from_map.axes[1].get_title() == "rollout of CLS"
    patch = viz.rollout_overlay(joint, _image(40, 60), grid=(2, 3), query=1 + 4)
    assert _outlines(patch.axes[0]) == [(20.0, 20.0, 20.0, 20.0)]
    assert patch.axes[1].get_title() == "rollout of patch 4"
    # A row given with its token: named and outlined as the map's row would be.
    row = viz.rollout_overlay(joint[5], _image(40, 60), grid=(2, 3), query=5)
    assert row.axes[1].get_title() == "rollout of patch 4"
    assert _outlines(row.axes[0]) == [(20.0, 20.0, 20.0, 20.0)]


def test_rollout_overlay_of_a_plain_attention_map_is_labelled_as_one() -> None:
    """label= names what is drawn, in the panel's title and on the colour bar."""
    fig = viz.rollout_overlay(_maps(5, 5), _image(32, 32), query=3, label="attention")
    assert fig.axes[1].get_title() == "attention of patch 2"
    assert fig.axes[2].get_ylabel().startswith("attention weight\n")


def test_rollout_overlay_rejects_bad_arguments() -> None:
    """A query with a single row, a query outside the map, and layered input are refused."""
    with pytest.raises(ValueError, match=r"query.*int from 0 to 4; got 5"):
        viz.rollout_overlay(_maps(5), _image(), query=5)
    with pytest.raises(ValueError, match=r"query.*int from 0 to 4; got 5"):
        viz.rollout_overlay(_maps(5, 5), _image(), query=5)
    with pytest.raises(ValueError, match=r"label, the name of what is shown, as a string; got 3"):
        viz.rollout_overlay(_maps(5, 5), _image(), label=3)  # type: ignore[arg-type]
    padded = _maps(5, 5)
    padded[0, 4] = np.nan
    with pytest.raises(ValueError, match=r"NaN or infinity \(1 value\(s\); the first at token 4\): .*padding"):
        viz.rollout_overlay(padded, _image())
    with pytest.raises(ValueError, match=r"got shape \(2, 2, 5, 5\): run rollout\(\) on the layers first"):
        viz.rollout_overlay(_maps(2, 2, 5, 5), _image())


# -- model_view -------------------------------------------------------------------------------
def test_model_view_draws_a_layers_by_heads_grid(tmp_path: Path) -> None:
    """model_view() draws layers x heads panels labelled 'layer i' and 'head j', without ticks."""
    maps = _maps(3, 1, 4, 5, 5)  # [layers, batch 1, heads, T, T]
    fig = viz.model_view(maps, save=tmp_path / "model.png")
    panels = _panels(fig)
    assert len(panels) == 3 * 4
    assert [ax.get_ylabel() for ax in panels[::4]] == ["layer 0", "layer 1", "layer 2"]
    assert [ax.get_title() for ax in panels[:4]] == ["head 0", "head 1", "head 2", "head 3"]
    assert all(ax.get_xticks().size == 0 and ax.get_yticks().size == 0 for ax in panels)
    np.testing.assert_allclose(panels[4 + 2].images[0].get_array(), maps[1, 0, 2])
    _assert_png(tmp_path / "model.png")


def test_model_view_max_heads_lists_and_tokens() -> None:
    """max_heads keeps the first heads; a list of layers works; tokens label the bottom-left panel."""
    layers = [_maps(4, 3, 3, seed=i) for i in range(2)]
    fig = viz.model_view(layers, max_heads=2, tokens=["a", "b", "c"])
    assert len(_panels(fig)) == 2 * 2
    assert [t.get_text() for t in _panels(fig)[2].get_xticklabels()] == ["a", "b", "c"]
    with pytest.warns(UserWarning, match=r"left the 30 token labels out"):
        viz.model_view(_maps(1, 1, 30, 30), tokens=[str(i) for i in range(30)])


def test_model_view_rejects_bad_arguments() -> None:
    """Batches of more than one, bad max_heads and wrong token counts are refused."""
    with pytest.raises(ValueError, match=r"model_view\(\) needs one image or sequence.*batch of 2"):
        viz.model_view(_maps(2, 2, 3, 4, 4))
    with pytest.raises(ValueError, match=r"max_heads as a positive int; got -1"):
        viz.model_view(_maps(2, 3, 4, 4), max_heads=-1)
    with pytest.raises(ValueError, match=r"got 2 tokens"):
        viz.model_view(_maps(2, 3, 4, 4), tokens=["a", "b"])
    with pytest.raises(ValueError, match=r"got 3 layer_labels for 2 layers"):
        viz.model_view(_maps(2, 3, 4, 4), layer_labels=[1, 2, 3])
    with pytest.raises(ValueError, match=r"head_labels as a list of 3 numbers or strings; got 'abc'"):
        viz.model_view(_maps(2, 3, 4, 4), head_labels="abc")


def test_model_view_and_heads_label_a_selection_by_its_numbers() -> None:
    """Layers 3-5 of a model, or heads 2 and 5, are labelled as such (not from 0); names as given."""
    fig = viz.model_view(_maps(3, 2, 4, 4), layer_labels=[3, 4, 5], head_labels=[2, 5], title="last layers")
    assert [ax.get_ylabel() for ax in _panels(fig)[::2]] == ["layer 3", "layer 4", "layer 5"]
    assert [ax.get_title() for ax in _panels(fig)[:2]] == ["head 2", "head 5"]
    assert fig.get_suptitle() == "last layers"
    named = viz.model_view(_maps(2, 1, 4, 4), layer_labels=["encoder.layer.4", "encoder.layer.5"])
    assert [ax.get_ylabel() for ax in _panels(named)] == ["encoder.layer.4", "encoder.layer.5"]
    some = viz.heads(_maps(2, 4, 4), head_labels=[2, 5])
    assert [ax.get_title() for ax in some.axes if ax.get_title()] == ["head 2", "head 5", "mean"]


# -- torch and threads ------------------------------------------------------------------------
def test_torch_tensors_are_accepted() -> None:
    """Tensors with grad, bfloat16 maps, and a [3, H, W] image tensor are drawn like numpy arrays."""
    torch = pytest.importorskip("torch")
    attn = torch.tensor(_maps(7, 7), requires_grad=True)
    np.testing.assert_allclose(viz.head(attn).axes[0].images[0].get_array(), _maps(7, 7))
    assert len(viz.heads(torch.tensor(_maps(2, 3, 3)).bfloat16()).axes) == 4
    image = torch.tensor(_image(40, 60)).permute(2, 0, 1)  # [3, H, W] uint8
    fig = viz.grid_to_grid(attn, image, query=(1, 2), grid=(2, 3))
    np.testing.assert_allclose(fig.axes[0].images[0].get_array(), _image(40, 60) / 255.0)
    as_tensors = [torch.tensor(layer) for layer in (LAYER1, LAYER2)]
    np.testing.assert_allclose(viz.rollout(as_tensors), viz.rollout(ATTENTIONS), rtol=1e-6)
    np.testing.assert_allclose(viz.rollout(torch.tensor(ATTENTIONS)), viz.rollout(ATTENTIONS), rtol=1e-6)
    assert len(_panels(viz.model_view(torch.tensor(_maps(2, 2, 3, 3))))) == 4


def test_figures_are_drawn_from_many_threads_at_once(tmp_path: Path) -> None:
    """Figures built and saved in several threads at once all come out (no pyplot state is shared)."""
    errors: list[BaseException] = []

    def draw(i: int) -> None:
        try:
            viz.heads(_maps(4, 6, 6, seed=i), save=tmp_path / f"t{i}.png")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=draw, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for i in range(4):
        _assert_png(tmp_path / f"t{i}.png")


def test_overlay_of_equal_weights_has_a_readable_scale() -> None:
    """Patch weights that are all zero are drawn on a 0..1 scale, equal positive ones on 0..weight."""
    zeros = np.zeros(5)
    zeros[0] = 1.0  # all the weight on CLS, none on the 2 x 2 patches
    assert viz.rollout_overlay(zeros, _image(32, 32)).axes[1].images[1].get_clim() == (0.0, 1.0)
    flat = np.full(5, 0.2)
    assert viz.rollout_overlay(flat, _image(32, 32)).axes[1].images[1].get_clim() == pytest.approx((0.0, 0.2))


def test_numpy_integers_are_accepted_as_indices() -> None:
    """A query, prefix or grid given as numpy integers (say from argmax) works like Python ints."""
    attn = _maps(7, 7)
    fig = viz.grid_to_grid(attn, _image(40, 60), query=np.int64(5), prefix=np.int64(1), grid=(np.int64(2), 3))
    assert _outlines(fig.axes[0]) == [(40.0, 20.0, 20.0, 20.0)]
    assert viz.rollout_overlay(attn, _image(40, 60), grid=(2, 3), query=np.int64(0)).axes[1].get_title() == (
        "rollout of CLS"
    )


def test_a_zero_dimensional_integer_tensor_is_an_index() -> None:
    """`.argmax()` gives a 0-d tensor (or array): accepted as a query; a float one is not."""
    torch = pytest.importorskip("torch")
    attn = _maps(7, 7)
    fig = viz.grid_to_grid(attn, _image(40, 60), query=torch.tensor(5), grid=(2, 3))
    assert _outlines(fig.axes[0]) == [(40.0, 20.0, 20.0, 20.0)]
    assert viz.grid_to_grid(attn, _image(40, 60), query=np.array(5), grid=(2, 3)) is not None
    assert viz.rollout_overlay(attn, _image(40, 60), grid=(2, 3), query=torch.tensor(5)).axes[1].get_title() == (
        "rollout of patch 4"
    )
    with pytest.raises(TypeError, match=r"query as a patch index \(int\) or \(row, col\); got tensor\(5\.\)"):
        viz.grid_to_grid(attn, _image(40, 60), query=torch.tensor(5.0), grid=(2, 3))


def test_a_one_row_map_gets_whole_token_ticks() -> None:
    """A CLS row kept with reduce= ([1, T]) is labelled at token positions, never at -0.4 ... 0.4."""
    row = _maps(1, 9)
    for ax in (viz.head(row).axes[0], viz.heads(row[None]).axes[0]):
        assert all(float(t).is_integer() for t in ax.get_yticks())
        assert all(float(t).is_integer() for t in ax.get_xticks())


def _panels(fig: Any) -> list[Any]:
    """The axes of a figure that hold a map (not its colour bar)."""
    return [ax for ax in fig.axes if ax.images]


def test_model_view_has_a_title_a_stated_shared_scale_and_the_heads_colormap() -> None:
    """model_view() is titled, draws every panel on one scale by default with a colour bar saying so, in viridis."""
    maps = _maps(2, 3, 5, 5)
    maps[1, 2] *= 0.1  # a weak head: on the shared scale it must look weak
    fig = viz.model_view(maps)
    assert fig.get_suptitle() == "attention: 2 layers x 3 heads"
    assert [ax.images[0].get_clim() for ax in _panels(fig)] == [pytest.approx((0.0, maps.max()))] * 6
    assert {ax.images[0].get_cmap().name for ax in _panels(fig)} == {"viridis"}
    (bar,) = [ax for ax in fig.axes if not ax.images]
    assert bar.get_ylabel() == "attention weight\n(one scale, every panel)"
    assert "queries (rows)" in fig._supxlabel.get_text()


def test_model_view_per_map_scale_is_switchable_and_stated() -> None:
    """scale='map' draws each panel from 0 to its own largest weight, and the colour bar says so."""
    maps = _maps(2, 3, 5, 5)
    fig = viz.model_view(maps, scale="map", cmap="magma")
    assert [ax.images[0].get_clim()[1] for ax in _panels(fig)] == pytest.approx(list(maps.max(axis=(2, 3)).ravel()))
    (bar,) = [ax for ax in fig.axes if not ax.images]
    assert "each panel on its own scale" in bar.get_ylabel()
    with pytest.raises(ValueError, match=r"scale='per-head': use 'shared'.*or 'map'"):
        viz.model_view(maps, scale="per-head")  # type: ignore[arg-type]


def test_model_view_token_labels_get_room_and_long_maps_show_no_moire(tmp_path: Path) -> None:
    """Token labels get a readable line each; a 197-token map of fine stripes shrinks to an even grey, not bands."""
    tokens = [f"t{i}" for i in range(12)]
    fig = viz.model_view(_maps(2, 12, 12, 12), tokens=tokens)
    panel = _panels(fig)[12]
    assert [t.get_text() for t in panel.get_xticklabels()] == tokens
    assert fig.get_size_inches()[1] >= 2 * 0.13 * 12  # each layer's panel tall enough for 12 lines
    # 197 tokens in a panel of fewer pixels: drawn as they are, every other column would be
    # dropped (moire). Each panel shows block means, at least 2 pixels each, and says so.
    stripes = np.zeros((197, 197))
    stripes[:, ::2] = 1.0
    long = viz.model_view(np.stack([stripes] * 3)[None], save=tmp_path / "long.png")
    panel = _panels(long)[0]
    drawn = panel.images[0].get_array()
    blocks = 197 // drawn.shape[0] + (197 % drawn.shape[0] > 0)
    assert blocks > 1
    np.testing.assert_allclose(drawn[0, :3], [stripes[:blocks, i * blocks : (i + 1) * blocks].mean() for i in range(3)])
    long.draw_without_rendering()
    width = panel.get_window_extent().width * 120 / long.dpi  # pixels when saved
    assert drawn.shape[1] * 2 <= width
    assert f"each cell the mean of {blocks} x {blocks} weights" in long._supxlabel.get_text()


def test_grid_to_grid_states_and_offers_its_colour_scale() -> None:
    """The overlay's scale is 0..max by default, the colour bar says which scale, and range/absolute/fixed exist."""
    attn = _maps(5, 5)
    weights = attn[1 + 2, 1:]
    default = viz.grid_to_grid(attn, _image(32, 32), query=2)
    assert default.axes[1].images[1].get_clim() == pytest.approx((0.0, weights.max()))
    assert default.axes[2].get_ylabel() == "attention weight\n(scale: 0 to this map's largest)"
    ranged = viz.grid_to_grid(attn, _image(32, 32), query=2, scale="range")
    assert ranged.axes[1].images[1].get_clim() == pytest.approx((weights.min(), weights.max()))
    assert "smallest to largest" in ranged.axes[2].get_ylabel()
    assert viz.grid_to_grid(attn, _image(32, 32), query=2, scale="absolute").axes[1].images[1].get_clim() == (0, 1)
    fixed = viz.grid_to_grid(attn, _image(32, 32), query=2, scale=(0.0, 0.5))
    assert fixed.axes[1].images[1].get_clim() == (0.0, 0.5)
    assert "fixed, 0 to 0.5" in fixed.axes[2].get_ylabel()
    with pytest.raises(ValueError, match=r"scale='shared': use 'zero'"):
        viz.grid_to_grid(attn, _image(32, 32), query=2, scale="shared")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"scale=\(low, high\) with low < high.*got \(1, 0\)"):
        viz.rollout_overlay(attn, _image(32, 32), scale=(1, 0))


def test_an_image_of_another_shape_than_the_grid_warns() -> None:
    """A 600 x 512 photo under a 14 x 14 grid warns that the model saw another image (its crop)."""
    attn = _maps(197, 197)
    photo = np.zeros((600, 512, 3), dtype=np.uint8)
    with pytest.warns(UserWarning, match=r"14 x 14 patch grid over an image of 600 x 512 pixels.*centre crop"):
        viz.grid_to_grid(attn, photo, query=0)
    with pytest.warns(UserWarning, match=r"rollout_overlay\(\) lays a 14 x 14 patch grid"):
        viz.rollout_overlay(attn, photo)


def test_selecting_a_head_mentions_the_mean_over_heads() -> None:
    """A [heads, T, T] map given where one map is needed suggests attn[0] and attn.mean(0)."""
    with pytest.raises(
        ValueError, match=r"select a head first, e\.g\. attn\[0\], or average the heads with attn\.mean\(0\)"
    ):
        viz.grid_to_grid(_maps(6, 5, 5), _image(32, 32), query=0)


def test_save_makes_the_folder(tmp_path: Path) -> None:
    """save= into a folder that does not exist makes it; one that cannot be made is a clear OSError."""
    viz.head(_maps(4, 4), save=tmp_path / "new" / "deeper" / "head.png")
    _assert_png(tmp_path / "new" / "deeper" / "head.png")
    (tmp_path / "file").write_text("")
    with pytest.raises(OSError, match=r"cannot save the picture to .*file/x\.png.*cannot be made"):
        viz.head(_maps(4, 4), save=tmp_path / "file" / "x.png")
    buffer = io.BytesIO()
    viz.head(_maps(4, 4), save=buffer)  # type: ignore[arg-type]  # a file object, as matplotlib takes
    assert buffer.getvalue().startswith(PNG_MAGIC)


def test_heads_names_the_query_and_key_axes() -> None:
    """heads() labels the left column's panels 'query' and the bottom panels' 'key'."""
    fig = viz.heads(_maps(3, 4, 4), cols=2)
    panels = _panels(fig)
    assert [ax.get_ylabel() for ax in panels] == ["query", "", "query", ""]
    assert [ax.get_xlabel() for ax in panels] == ["", "", "key", "key"]

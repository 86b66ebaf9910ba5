"""anycapture.explore: the explorer page, built from every kind of source and driven in real headless Chromium."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import anycapture
from anycapture import get_local

np = pytest.importorskip("numpy")

SRC = Path(anycapture.__file__).resolve().parents[1]


def softmax_maps(layers: int, heads: int, queries: int, keys: int | None = None, seed: int = 0) -> Any:
    """Attention-like maps: each row a softmax over random scores."""
    rng = np.random.default_rng(seed)
    scores = rng.normal(scale=2.0, size=(layers, heads, queries, keys or queries)).astype(np.float32)
    e = np.exp(scores - scores.max(-1, keepdims=True))
    return (e / e.sum(-1, keepdims=True)).astype(np.float32)


# -- the Python side ----------------------------------------------------------------------------
def test_import_stays_light() -> None:
    """anycapture.explore is reachable from a fresh `import anycapture` that loads no numpy."""
    import subprocess

    code = "import sys, anycapture; anycapture.explore; print('numpy' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env={"PYTHONPATH": str(SRC)}
    )
    assert out.stdout.strip() == "False"


def test_array_source_and_storage_error() -> None:
    """A [layers, heads, q, k] array is stored in 8 bits a row with its largest error stated and below 0.01."""
    maps = softmax_maps(3, 2, 10)
    page = anycapture.explore(maps, tokens=[f"w{i}" for i in range(10)])
    assert page.maps.shape == (3, 2, 10, 10)
    assert page.encoding == "u8"
    assert 0 < page.max_abs_error <= 0.01
    assert page.layer_names == ["layer 0", "layer 1", "layer 2"]
    assert "3 layers x 2 heads x 10 queries x 10 keys" in repr(page)


def test_batch_picks_one_item() -> None:
    """A [layers, batch, heads, q, k] array shows the item batch= picks; a batch out of range is named."""
    maps = np.stack([softmax_maps(2, 2, 5, seed=1), softmax_maps(2, 2, 5, seed=2)], axis=1)
    np.testing.assert_array_equal(anycapture.explore(maps, batch=1).maps, maps[:, 1])
    with pytest.raises(ValueError, match=r"batch=2.*from 0 to 1"):
        anycapture.explore(maps, batch=2)


def test_wrong_shapes_say_what_to_do() -> None:
    """Maps without a layer axis, or of the wrong rank, are refused with the fix."""
    with pytest.raises(ValueError, match=r"attn\[None\]"):
        anycapture.explore(softmax_maps(1, 2, 4)[0])
    with pytest.raises(ValueError, match=r"got shape \(4, 4\)"):
        anycapture.explore(np.ones((4, 4)))
    with pytest.raises(ValueError, match="not finite"):
        anycapture.explore(np.full((1, 1, 2, 2), np.nan))


def test_explore_and_viz_read_map_shapes_alike() -> None:
    """explore() and viz read a model's maps by one rule: a 3-D array gets the same two fixes, 5-D a batch item."""
    pytest.importorskip("matplotlib")
    from anycapture import viz

    three = softmax_maps(2, 1, 4)[:, 0]  # [layers, queries, keys]: heads fused
    fixes = r"add one with {0}\[:, None\]; for one layer's \[heads, queries, keys\], add a layers axis with {0}\[None\]"
    with pytest.raises(ValueError, match=fixes.format("attn")):
        anycapture.explore(three)
    with pytest.raises(ValueError, match=fixes.format("attentions")):
        viz.rollout(three)
    maps = softmax_maps(2, 2, 4)[:, None]  # [layers, 1, heads, queries, keys]
    np.testing.assert_array_equal(anycapture.explore(maps).maps, maps[:, 0])
    np.testing.assert_allclose(viz.rollout(maps), viz.rollout(maps[:, 0]))


def test_image_of_one_channel_is_grey() -> None:
    """A [1, H, W] image (a grey tensor's layout) is read as a grey picture, as viz reads it."""
    page = anycapture.explore(softmax_maps(1, 1, 5), image=np.full((1, 20, 20), 0.5), grid=(2, 2), prefix=1)
    assert (page.grid, page.prefix) == ((2, 2), 1)


def test_layers_keeps_some_layers() -> None:
    """layers= keeps the layers named, with their labels; their rollout still runs through every layer."""
    from anycapture import viz

    maps = softmax_maps(4, 2, 5)
    page = anycapture.explore(maps, layers=[0, 2, -1])
    np.testing.assert_array_equal(page.maps, maps[[0, 2, 3]])
    assert page.layer_names == ["layer 0", "layer 2", "layer 3"]
    np.testing.assert_allclose(page.rollout[1], viz.rollout(maps[:3]), atol=1e-6)
    with pytest.raises(ValueError, match=r"layers=\[0, 4\], but 4 is not a layer of these 4"):
        anycapture.explore(maps, layers=[0, 4])
    with pytest.raises(TypeError, match="non-empty list"):
        anycapture.explore(maps, layers=[])


def test_tokens_are_checked() -> None:
    """Token labels must match the positions; cross-attention takes a (query, key) pair."""
    maps = softmax_maps(1, 2, 3, 5)
    page = anycapture.explore(maps, tokens=(["a", "b", "c"], ["k0", "k1", "k2", "k3", "k4"]))
    assert page.query_tokens == ["a", "b", "c"]
    assert page.key_tokens[-1] == "k4"
    with pytest.raises(ValueError, match="cross-attention pass tokens=\\(query_tokens, key_tokens\\)"):
        anycapture.explore(maps, tokens=["a", "b", "c"])
    with pytest.raises(ValueError, match="got 2 tokens for 4 positions"):
        anycapture.explore(softmax_maps(1, 1, 4), tokens=["a", "b"])
    with pytest.raises(TypeError, match="list of labels"):
        anycapture.explore(softmax_maps(1, 1, 4), tokens="abcd")


def test_values_beyond_16_bits_are_refused() -> None:
    """Maps whose rows span more than 16 bits can hold within 0.01 are refused, not stored wrongly."""
    wide = np.linspace(0, 1e6, 2 * 1000, dtype=np.float32).reshape(1, 1, 2, 1000)
    with pytest.raises(ValueError, match=r"cannot store these maps within 0\.01"):
        anycapture.explore(wide)
    scores = np.linspace(0, 20, 24, dtype=np.float32).reshape(1, 1, 2, 12)
    assert anycapture.explore(scores).encoding == "u16"  # raw scores: 16 bits keep them within 0.01


@pytest.mark.parametrize(
    ("tokens", "size", "grid", "prefix"),
    [
        (197, (224, 224), (14, 14), 1),
        (201, (224, 224), (14, 14), 5),
        (65, (32, 32), (8, 8), 1),
        (192, (240, 320), (12, 16), 0),
    ],
)
def test_grid_and_prefix_are_inferred(tokens: int, size: tuple[int, int], grid: tuple[int, int], prefix: int) -> None:
    """The patch grid and the prefix tokens (CLS, registers) follow from the token count and the image's shape."""
    page = anycapture.explore(softmax_maps(1, 1, tokens), image=np.zeros((*size, 3), dtype=np.uint8))
    assert (page.grid, page.prefix) == (grid, prefix)
    assert page.query_tokens[0] == ("CLS" if prefix else "(0,0)")


def test_patch_view_errors_are_clear() -> None:
    """No fitting grid, a grid that does not add up, or a grid without an image, each say so."""
    image = np.zeros((224, 224, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="cannot fit a patch grid to 7 tokens and a 100x300 image"):
        anycapture.explore(softmax_maps(1, 1, 7), image=np.zeros((100, 300, 3)))
    with pytest.raises(ValueError, match=r"rows x cols \+ prefix must equal the token count"):
        anycapture.explore(softmax_maps(1, 1, 197), image=image, grid=(14, 13), prefix=1)
    with pytest.raises(ValueError, match="without image="):
        anycapture.explore(softmax_maps(1, 1, 197), grid=(14, 14))
    with pytest.raises(ValueError, match=r"float image values in 0..1; got 0..255"):
        anycapture.explore(softmax_maps(1, 1, 197), image=np.linspace(0, 255, 224 * 224 * 3).reshape(224, 224, 3))
    with pytest.warns(UserWarning, match="will not line up"):
        anycapture.explore(softmax_maps(1, 1, 197), image=np.zeros((100, 300, 3)), grid=(14, 14), prefix=1)


def test_get_local_cache_with_a_key(backend: str) -> None:
    """get_local.cache with name= the key (or the variable's name) gives one layer per call."""

    def attend(x: Any) -> Any:
        attn = x
        return attn

    get_local("attn")(attend)
    get_local.activate()
    maps = softmax_maps(3, 2, 4)
    for layer in maps:
        attend(layer[None])  # [batch, heads, q, k], as a model's attention would
    page = anycapture.explore(get_local.cache, name=f"{attend.__qualname__}.attn")
    np.testing.assert_array_equal(page.maps, maps)
    assert page.layer_names[2].endswith("call 2")
    np.testing.assert_array_equal(anycapture.explore(get_local.cache, name="attn").maps, maps)  # the variable
    with pytest.raises(KeyError, match="pass one of them as name="):
        anycapture.explore(get_local.cache, name="nope")


@pytest.fixture
def sdpa_model() -> Any:
    """Two fused attention modules (scaled_dot_product_attention, 2 heads of 4) in a Sequential: capture_attention's."""
    torch = pytest.importorskip("torch")

    class Attention(torch.nn.Module):
        def forward(self, x: Any) -> Any:
            q = x.unflatten(-1, (2, 4)).transpose(1, 2)
            return torch.nn.functional.scaled_dot_product_attention(q, q, q).transpose(1, 2).flatten(-2)

    return torch.nn.Sequential(Attention(), Attention())


def test_capture_block_labels_layers_by_path(sdpa_model: Any) -> None:
    """A capture_attention block gives one layer per attention module, labelled by its path."""
    torch = pytest.importorskip("torch")
    model = sdpa_model
    with torch.no_grad(), anycapture.capture_attention(model=model) as cap:
        model(torch.randn(1, 5, 8))
    page = anycapture.explore(cap, tokens=list("abcde"))
    assert page.layer_names == ["0", "1"]
    assert page.maps.shape == (2, 2, 5, 5)
    np.testing.assert_allclose(page.maps.sum(-1), 1, atol=1e-5)


def test_forwards_of_other_lengths_say_how_to_pick_one(sdpa_model: Any) -> None:
    """A block that saw inputs of two lengths names both shapes and how to pass one forward's maps, which works."""
    torch = pytest.importorskip("torch")
    model = sdpa_model
    with torch.no_grad(), anycapture.capture_attention(model=model) as cap:
        model(torch.randn(1, 5, 8))
        model(torch.randn(1, 3, 8))  # a second forward, shorter: as generate() with a cache makes
    (key,) = cap
    with pytest.raises(ValueError, match=r"got \(1, 2, 5, 5\) from 0 call 0, \(1, 2, 3, 3\) from 0 call 2") as info:
        anycapture.explore(cap)
    fix = f"[r.value for r in cap.select('*', {key!r})[:2]]"
    assert f"pass one forward's, e.g. explore({fix})" in str(info.value)
    page = anycapture.explore(eval(fix, {"cap": cap}))  # the message's own expression
    assert page.maps.shape == (2, 2, 5, 5)


def test_sink_folder_and_capture_folder(tmp_path: Path, backend: str) -> None:
    """A folder a sink wrote, by path, opened, or through its capture block, gives the maps captured."""
    pytest.importorskip("safetensors")

    class Block:
        def forward(self, x: Any) -> Any:
            attn = x
            return attn

    maps = softmax_maps(2, 2, 3)
    with anycapture.capture(Block.forward, "attn", values="raw", sink=tmp_path / "run") as cap:
        for layer in maps:
            Block().forward(layer[None])
    np.testing.assert_array_equal(anycapture.explore(cap).maps, maps)  # the block itself reads its folder
    by_path = anycapture.explore(tmp_path / "run", name="attn")
    opened = anycapture.explore(anycapture.open_captures(tmp_path / "run"))
    np.testing.assert_array_equal(by_path.maps, maps)
    np.testing.assert_array_equal(opened.maps, maps)
    with pytest.raises(FileNotFoundError, match="not a folder"):
        anycapture.explore(tmp_path / "missing")


def test_reduced_values_are_refused_with_the_way_to_stack_them(backend: str) -> None:
    """Values kept by reduce= whose axes explore cannot tell are refused, and the array the message names works."""

    class Block:
        def forward(self, x: Any) -> Any:
            attn = x
            return attn

    maps = softmax_maps(3, 2, 5)
    with anycapture.capture(Block.forward, "attn", values="raw", reduce=lambda a: a[:, :, 0, :]) as rows:
        for layer in maps:
            Block().forward(layer[None])  # [batch, heads, q, k] kept as [batch, heads, k]: query 0's rows
    assert rows.reduced
    with pytest.raises(ValueError, match=r"shape \(1, 2, 5\) kept by reduce=, whose axes it cannot tell") as info:
        anycapture.explore(rows)
    (key,) = rows
    assert f"cap.stack({key!r})[:, 0, :, None, :]" in str(info.value)
    fixed = anycapture.explore(np.stack(rows[key])[:, 0, :, None, :], tokens=(["q0"], list("abcde")))
    np.testing.assert_array_equal(fixed.maps, maps[:, :, :1, :])
    with anycapture.capture(Block.forward, "attn", values="raw", reduce=lambda a: a.mean(1)) as mean:
        for layer in maps:
            Block().forward(layer[None])  # a mean over heads, [batch, q, k]: read as 1 head, not batch as heads
    with pytest.raises(ValueError, match=r"for a mean over heads \[batch, queries, keys\]"):
        anycapture.explore(mean)
    with anycapture.capture(Block.forward, "attn", values="raw", reduce=lambda a: a[:, :, :3, :3]) as cut:
        for layer in maps:
            Block().forward(layer[None])  # still [batch, heads, q, k]: its axes are known
    np.testing.assert_array_equal(anycapture.explore(cut).maps, maps[:, :, :3, :3])
    with anycapture.capture(Block.forward, "attn", values="raw") as plain:
        for layer in maps:
            Block().forward(layer[0])  # one [q, k] map per call, no reduce=: a heads axis is missing
    assert not plain.reduced
    with pytest.raises(ValueError, match=r"shape \(5, 5\).*\[:, None\]"):
        anycapture.explore(plain)


def test_save_writes_one_self_contained_file(tmp_path: Path) -> None:
    """save() writes one HTML file with script, style and data inside and no outside address."""
    page = anycapture.explore(softmax_maps(2, 2, 6), image=np.zeros((8, 12, 3)), grid=(2, 3), prefix=0)
    path = page.save(tmp_path / "page.html")
    text = path.read_text()
    assert text.startswith("<!doctype html>")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", text)
    assert "@import" not in text
    assert "url(" not in text
    with pytest.raises(FileNotFoundError, match="does not exist"):
        page.save(tmp_path / "nodir" / "page.html")
    with pytest.raises(FileNotFoundError, match="is a file, not a folder"):
        page.save(path / "page.html")
    html = page._repr_html_()
    assert html.count('<div class="acx"') == 1
    assert "<html" not in html
    assert page._repr_html_() != html  # each display gets its own element id


def test_wheel_ships_the_page_assets() -> None:
    """The page's script and style live in the package, so a wheel (hatchling packages the folder) carries them."""
    from importlib import resources

    for name in ("explorer.js", "explorer.css"):
        assert resources.files("anycapture").joinpath("_page", name).is_file()


def test_cli_view_writes_a_page(
    tmp_path: Path, backend: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`anycapture view FOLDER` writes a page from a sink folder; an unreadable folder exits 2 with one line."""
    pytest.importorskip("safetensors")
    from anycapture._cli import main

    class Block:
        def forward(self, x: Any) -> Any:
            attn = x
            return attn

    with anycapture.capture(Block.forward, "attn", values="raw", sink=tmp_path / "run"):
        for layer in softmax_maps(2, 2, 3):
            Block().forward(layer[None])
    (tmp_path / "tokens.json").write_text(json.dumps(["a", "b", "c"]))
    out = tmp_path / "page.html"
    assert (
        main(
            [
                "view",
                str(tmp_path / "run"),
                "--name",
                "attn",
                "--out",
                str(out),
                "--tokens",
                str(tmp_path / "tokens.json"),
            ]
        )
        == 0
    )
    assert '"query_tokens":["a","b","c"]' in out.read_text()
    assert str(out) in capsys.readouterr().out
    assert main(["view", str(tmp_path / "nothing")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "anycapture view: " in err
    assert "'" + str(tmp_path / "nothing") + "' does not exist" in err
    assert main(["view", str(tmp_path / "tokens.json")]) == 2  # a file: the CLI's words, not explore()'s
    err = capsys.readouterr().err
    assert "tokens.json' is a file, not a folder: pass the folder that capture(..., sink=FOLDER)" in err
    assert "get_local" not in err
    monkeypatch.chdir(tmp_path / "run")
    assert main(["view", "."]) == 0  # "." is named by the folder it is: run.html beside it
    assert (tmp_path / "run.html").is_file()
    assert main(["view", str(tmp_path / "run"), "--layers", "1", "--out", str(out)]) == 0
    assert '"layers":1,' in out.read_text()
    assert main(["view", str(tmp_path / "run"), "--layers", "one"]) == 2
    assert "--layers 'one'" in capsys.readouterr().err
    (tmp_path / "bad.json").write_text("{")
    assert main(["view", str(tmp_path / "run"), "--tokens", str(tmp_path / "bad.json")]) == 2
    assert "bad.json" in capsys.readouterr().err


def _missing(reason: str) -> None:
    """Skip for want of a tool outside Python; fail instead where CI says it installed them all."""
    if os.environ.get("ANYCAPTURE_REQUIRE_TOOLS") == "1":
        pytest.fail(f"{reason} (ANYCAPTURE_REQUIRE_TOOLS=1: .ci/run installs it)")
    pytest.skip(reason)


def test_page_script_is_linted_and_formatted() -> None:
    """explorer.js passes eslint and prettier (skipped until `npm install` in tests/js brings them)."""
    import subprocess

    tools = Path(__file__).parent / "js"
    bin_dir = tools / "node_modules" / ".bin"
    if not (bin_dir / "eslint").exists() or not (bin_dir / "prettier").exists():
        _missing("eslint and prettier are not installed: cd tests/js && npm install")
    root = tools.parents[1]
    page = ["src/anycapture/_page/explorer.js", "src/anycapture/_page/explorer.css"]
    lint = [str(bin_dir / "eslint"), "-c", str(tools / "eslint.config.mjs"), page[0]]
    fmt = [str(bin_dir / "prettier"), "--config", str(tools / ".prettierrc.json"), "--check", *page]
    for command in (lint, fmt):
        result = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr


# -- in Chromium --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's chromium driven by playwright (never a downloaded browser); skipped where either is absent."""
    sync_api = pytest.importorskip("playwright.sync_api")
    chromium = shutil.which("chromium")
    if chromium is None:
        _missing("no chromium on PATH (apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        yield launched
        launched.close()


class Opened:
    """A page opened from file://, with every console error and every request it made."""

    def __init__(self, browser: Any, url: str) -> None:
        self.page = browser.new_page(viewport={"width": 1200, "height": 900})
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto(url)
        self.page.wait_for_function("window.anycapture && window.anycapture.ids().length > 0")

    def js(self, expression: str, arg: Any = None) -> Any:
        return self.page.evaluate(expression, arg)

    def outside(self) -> list[str]:
        return [url for url in self.requests if not url.startswith(("file:", "data:"))]


def open_page(browser: Any, explorer: Any, tmp_path: Path, name: str = "page.html") -> Opened:
    return Opened(browser, explorer.save(tmp_path / name).as_uri())


def test_page_answers_without_errors_or_network(browser: Any, tmp_path: Path) -> None:
    """The page loads from file:// with no console error and no request but file: and data:."""
    maps = softmax_maps(3, 4, 9)
    opened = open_page(browser, anycapture.explore(maps, tokens=[f"t{i}" for i in range(9)]), tmp_path)
    info = opened.js("anycapture.info()")
    assert (info["layers"], info["heads"], info["queries"], info["keys"]) == (3, 4, 9, 9)
    assert 0 < info["max_abs_error"] <= 0.01
    for view in info["views"]:
        opened.js("v => anycapture.select({view: v})", view)
    assert opened.errors == []
    assert opened.outside() == []
    assert opened.js("anycapture.state()")["view"] == "model"


def test_values_agree_with_the_maps(browser: Any, tmp_path: Path) -> None:
    """value() gives every head, the mean of heads and the rollout within info().max_abs_error of the captured maps."""
    from anycapture import viz

    maps = softmax_maps(3, 4, 7)
    explorer = anycapture.explore(maps)
    opened = open_page(browser, explorer, tmp_path)
    bound = opened.js("anycapture.info().max_abs_error")
    assert bound == pytest.approx(explorer.max_abs_error)
    for layer in range(3):
        shown = np.array(opened.js(f"[0,1,2,3].map(h => [...Array(7).keys()].map(q => anycapture.row({layer}, h, q)))"))
        assert np.abs(shown - maps[layer]).max() <= bound
        mean = np.array(opened.js(f"[...Array(7).keys()].map(q => anycapture.row({layer}, 'mean', q))"))
        assert np.abs(mean - maps[layer].mean(0)).max() <= bound
        rollout = np.array(opened.js(f"[...Array(7).keys()].map(q => anycapture.row({layer}, 'rollout', q))"))
        assert np.abs(rollout - viz.rollout(maps[: layer + 1])).max() <= bound
    assert opened.js("anycapture.value(2, 3, 6, 5)") == pytest.approx(float(maps[2, 3, 6, 5]), abs=bound)
    with pytest.raises(Exception, match=r"head=9 is not a head"):
        opened.js("anycapture.value(0, 9, 0, 0)")
    with pytest.raises(Exception, match=r"layer=3 is not a layer; expected 0 to 2"):
        opened.js("anycapture.select({layer: 3})")


def test_tokens_hover_click_and_keys(browser: Any, tmp_path: Path) -> None:
    """Hovering or clicking a token selects it as query; arrows move query, head and layer; keys carry data-key."""
    opened = open_page(browser, anycapture.explore(softmax_maps(3, 2, 8), tokens=list("abcdefgh")), tmp_path)
    page = opened.page
    page.hover('[data-query="2"]')
    assert opened.js("anycapture.state().query") == 2
    page.click('[data-query="5"]')
    state = opened.js("anycapture.state()")
    assert (state["view"], state["query"]) == ("tokens", 5)
    assert page.locator("[data-key]").count() == 8
    page.keyboard.press("ArrowDown")
    assert opened.js("anycapture.state().query") == 6
    page.keyboard.press("ArrowRight")  # from the mean of heads to the rollout
    assert opened.js("anycapture.state().head") == "rollout"
    page.keyboard.press("ArrowRight")
    assert opened.js("anycapture.state().head") == 0
    page.keyboard.press("Shift+ArrowUp")
    assert opened.js("anycapture.state().layer") == 1
    page.select_option('[data-control="layer"]', "0")
    page.select_option('[data-control="head"]', "1")
    page.select_option('[data-control="scale"]', "shared")
    state = opened.js("anycapture.state()")
    assert (state["layer"], state["head"], state["scale"]) == (0, 1, "shared")
    assert "shared across all layers and heads" in page.inner_text(".acx-scale-note")
    assert opened.errors == []


def test_matrix_hover_and_model_click(browser: Any, tmp_path: Path) -> None:
    """Hovering a matrix cell shows its value and tokens; clicking a model-view thumbnail opens that map."""
    maps = softmax_maps(2, 3, 6)
    opened = open_page(browser, anycapture.explore(maps, tokens=list("uvwxyz")), tmp_path)
    page = opened.page
    opened.js("anycapture.select({view: 'matrix', layer: 1, head: 2})")
    box = page.locator(".acx-matrix").bounding_box()
    size = page.evaluate("document.querySelector('.acx-matrix').width")
    cell = 24  # six tokens: the largest cells
    margin = size - 6 * cell - 4
    page.mouse.move(box["x"] + margin + 4.5 * cell, box["y"] + margin + 1.5 * cell)
    assert opened.js("anycapture.state().hover") == {"query": 1, "key": 4}
    tip = page.inner_text(".acx-tip >> visible=true")
    assert "“v”" in tip
    assert "“y”" in tip
    assert f"{maps[1, 2, 1, 4]:.3f}" in tip
    opened.js("anycapture.select({view: 'model'})")
    model = page.locator(".acx-model").bounding_box()
    thumb = page.evaluate("(document.querySelector('.acx-model').width - 110) / 4") - 4
    page.mouse.click(model["x"] + 110 + 1.5 * (thumb + 4), model["y"] + 20 + 0.5 * (thumb + 4))
    state = opened.js("anycapture.state()")
    assert (state["view"], state["layer"], state["head"]) == ("matrix", 0, 1)
    assert opened.errors == []


def test_patch_view_click_and_rollout(browser: Any, tmp_path: Path) -> None:
    """Clicking a patch selects its token; prefix weights are printed; rollout and layers switch the overlay."""
    maps = softmax_maps(3, 2, 1 + 12)  # CLS and a 3 x 4 grid
    image = np.random.default_rng(0).random((30, 40, 3))
    opened = open_page(browser, anycapture.explore(maps, image=image), tmp_path)
    page = opened.page
    info = opened.js("anycapture.info()")
    assert (info["grid"], info["prefix"], info["query_tokens"][0]) == ([3, 4], 1, "CLS")
    assert opened.js("anycapture.state().view") == "patches"
    box = page.locator("[data-image] canvas").bounding_box()
    page.mouse.click(box["x"] + box["width"] * 3.5 / 4, box["y"] + box["height"] * 1.5 / 3)  # row 1, col 3
    assert opened.js("anycapture.state().query") == 1 + 1 * 4 + 3
    page.mouse.move(box["x"] + box["width"] * 0.5 / 4, box["y"] + box["height"] * 2.5 / 3)  # row 2, col 0: token 9
    assert opened.js("anycapture.state().hover") == {"query": 8, "key": 9}
    tip = page.inner_text("[data-image] .acx-tip")
    assert "query 8 “(1,3)” → patch (2,0) (token 9): " in tip
    assert float(tip.split(": ")[1].split(" ")[0]) == pytest.approx(float(maps[-1, :, 8, 9].mean()), abs=2e-3)
    shown = page.inner_text(".acx-prefix-value")
    assert float(shown) == pytest.approx(float(maps[-1, :, 8, 0].mean()), abs=2e-3)
    opened.js("anycapture.select({head: 'rollout', layer: 1})")
    page.click('.acx-prefix [data-query="0"]')
    assert opened.js("anycapture.state()")["query"] == 0
    assert "rollout through layer 1" in page.inner_text(".acx-status")
    page.screenshot(path=str(tmp_path / "patches.png"))
    assert opened.errors == []
    assert opened.outside() == []


def test_several_explorers_on_one_page(browser: Any, tmp_path: Path) -> None:
    """Two explorers in one page are reached by id; the plain global answers for the last one."""
    first = anycapture.explore(softmax_maps(2, 2, 4))
    second = anycapture.explore(softmax_maps(1, 3, 5))
    page_path = tmp_path / "two.html"
    page_path.write_text(
        f"<!doctype html><meta charset=utf-8><body>{first.fragment('one')}{second.fragment('two')}</body>"
    )
    opened = Opened(browser, page_path.as_uri())
    assert opened.js("anycapture.ids()") == ["one", "two"]
    assert opened.js("anycapture.get('one').info().layers") == 2
    assert opened.js("anycapture.info().heads") == 3
    opened.js("anycapture.get('one').select({query: 3})")
    assert opened.js("[anycapture.get('one').state().query, anycapture.state().query]") == [3, 0]
    opened.page.click('#two [data-query="2"]')
    assert opened.js("[anycapture.get('one').state().query, anycapture.get('two').state().query]") == [3, 2]
    assert opened.errors == []


def test_512_tokens_page(browser: Any, tmp_path: Path) -> None:
    """512 tokens x 12 layers x 12 heads: under 64 MB, answers, switches, and keeps its values within the bound."""
    maps = np.empty((12, 12, 512, 512), dtype=np.float32)
    for layer in range(12):
        maps[layer] = softmax_maps(1, 12, 512, seed=layer)[0]
    explorer = anycapture.explore(maps)
    path = explorer.save(tmp_path / "big.html")
    assert path.stat().st_size <= 64 * 2**20
    opened = Opened(browser, path.as_uri())
    bound = opened.js("anycapture.info().max_abs_error")
    assert bound <= 0.01
    for layer, head, query, key in [(0, 0, 0, 0), (11, 11, 511, 511), (5, 7, 300, 12)]:
        assert (
            abs(opened.js(f"anycapture.value({layer}, {head}, {query}, {key})") - maps[layer, head, query, key])
            <= bound
        )
    for view in ("tokens", "matrix", "model"):
        opened.js("v => anycapture.select({view: v, layer: 11, head: 'rollout', query: 511})", view)
    assert opened.js("anycapture.state().head") == "rollout"
    assert opened.errors == []


def test_notebook_output_renders_in_chromium(browser: Any, tmp_path: Path) -> None:
    """A notebook run on a real kernel displays two explorers whose HTML output works in Chromium."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(
            f"import sys\nsys.path.insert(0, {str(SRC)!r})\nimport numpy as np\nimport anycapture"
        ),
        nbformat.v4.new_code_cell(
            "maps = np.full((2, 3, 4, 4), 0.25, dtype=np.float32)\n"
            "print(anycapture.__file__)\n"
            "anycapture.explore(maps, tokens=['a', 'b', 'c', 'd'], title='first')"
        ),
        nbformat.v4.new_code_cell("anycapture.explore(np.full((1, 1, 2, 2), 0.5, dtype=np.float32), title='second')"),
    ]
    nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    printed = notebook.cells[1].outputs[0]["text"]
    assert printed.strip() == str(SRC / "anycapture" / "__init__.py")
    fragments = [
        output["data"]["text/html"] for cell in notebook.cells[1:] for output in cell.outputs if "data" in output
    ]
    assert len(fragments) == 2
    page_path = tmp_path / "notebook.html"
    page_path.write_text("<!doctype html><meta charset=utf-8><body>" + "".join(fragments) + "</body>")
    opened = Opened(browser, page_path.as_uri())
    ids = opened.js("anycapture.ids()")
    assert len(ids) == 2
    assert opened.js("ids => ids.map(id => anycapture.get(id).info().title)", ids) == ["first", "second"]
    assert opened.js("anycapture.get(anycapture.ids()[0]).value(1, 2, 3, 0)") == pytest.approx(0.25, abs=0.01)
    assert opened.errors == []
    assert opened.outside() == []


def test_demo_index_is_an_explorer(browser: Any, tmp_path: Path) -> None:
    """`anycapture demo` writes index.html as a working patch explorer that links the pictures' page."""
    pytest.importorskip("torch")
    pytest.importorskip("matplotlib")
    from anycapture._cli import main

    assert main(["demo", "--only", "vision", "--seconds", "2", "--out", str(tmp_path)]) == 0
    opened = Opened(browser, (tmp_path / "index.html").as_uri())
    info = opened.js("anycapture.info()")
    assert (info["grid"], info["prefix"], info["rollout"]) == ([8, 8], 1, True)
    box = opened.page.locator("[data-image] canvas").bounding_box()
    opened.page.mouse.click(box["x"] + box["width"] * 0.99, box["y"] + box["height"] * 0.99)
    assert opened.js("anycapture.state().query") == 64
    opened.page.click("a[href='pictures.html']")
    assert opened.page.url.endswith("pictures.html")
    assert opened.errors == []
    assert opened.outside() == []


def test_keys_keep_the_query_in_sight(browser: Any, tmp_path: Path) -> None:
    """With more tokens than fit, a query moved by the arrow keys is scrolled into the token view."""
    opened = open_page(browser, anycapture.explore(softmax_maps(1, 1, 100)), tmp_path)
    page = opened.page
    page.click('[data-query="0"]')
    page.keyboard.press("ArrowUp")  # wraps to the last token
    assert opened.js("anycapture.state().query") == 99
    inside = page.evaluate(
        """() => {
            const view = document.querySelector('.acx-scroll').getBoundingClientRect();
            const token = document.querySelector('[data-query="99"]').getBoundingClientRect();
            return token.top >= view.top && token.bottom <= view.bottom;
        }"""
    )
    assert inside
    assert opened.errors == []


def test_placeholder_until_the_script_runs(browser: Any, tmp_path: Path) -> None:
    """A static note says to run the cell or trust the notebook; it goes when the script draws the explorer."""
    explorer = anycapture.explore(softmax_maps(2, 2, 4))
    note = "This attention explorer is drawn by its script, which has not run"
    fragment = explorer.fragment("one")
    assert note in fragment
    opened = open_page(browser, explorer, tmp_path)
    assert opened.page.locator("[data-placeholder]").count() == 0
    assert note not in opened.page.inner_text("body")
    # An untrusted notebook in JupyterLab drops the output's scripts: the note is all that shows.
    stripped = re.sub(r"<script\b[^>]*>.*?</script>", "", fragment, flags=re.S)
    (tmp_path / "untrusted.html").write_text(f"<!doctype html><meta charset=utf-8><body>{stripped}</body>")
    page = browser.new_page()
    page.goto((tmp_path / "untrusted.html").as_uri())
    assert page.locator("[data-placeholder]").is_visible()
    assert "trust the notebook" in page.inner_text("[data-placeholder]")
    # A page whose data cannot be read says so where the explorer would be.
    broken = re.sub(r'(<script type="text/plain" data-blob="maps-1">)[^<]*', r"\1AAAA", fragment)
    (tmp_path / "broken.html").write_text(f"<!doctype html><meta charset=utf-8><body>{broken}</body>")
    page.goto((tmp_path / "broken.html").as_uri())
    assert "could not be drawn: anycapture: maps-1 holds 3 bytes, not 32" in page.inner_text("[data-placeholder]")
    page.close()
    assert opened.errors == []


def test_maps_travel_as_one_string_per_layer(browser: Any, tmp_path: Path) -> None:
    """Each layer's maps (and rollout) are their own base64 string, and 8- and 16-bit pages decode to the maps."""
    maps = softmax_maps(3, 2, 6)
    text = anycapture.explore(maps).html()
    assert [f'data-blob="maps-{layer}"' in text for layer in range(4)] == [True, True, True, False]
    assert 'data-blob="rollout-2"' in text
    assert 'data-blob="maps"' not in text
    scores = np.random.default_rng(1).normal(scale=5.0, size=(3, 2, 6, 6)).astype(np.float32)  # raw scores: 16 bits
    for name, source in (("u8.html", maps), ("u16.html", scores)):
        explorer = anycapture.explore(source, rollout=False)
        opened = open_page(browser, explorer, tmp_path, name)
        assert opened.js("anycapture.info().encoding") == explorer.encoding
        shown = np.array(
            opened.js("[0, 1, 2].map(l => [0, 1].map(h => [...Array(6).keys()].map(q => anycapture.row(l, h, q))))")
        )
        assert np.abs(shown - source).max() <= explorer.max_abs_error
        assert opened.errors == []
    assert explorer.encoding == "u16"


def test_scales_per_row_in_patches_and_matrix(browser: Any, tmp_path: Path) -> None:
    """A patch page opens scaled to the query's row; the matrix's per-row scale gives each row's top the top colour."""
    maps = softmax_maps(2, 2, 1 + 16)
    opened = open_page(browser, anycapture.explore(maps, image=np.zeros((32, 32, 3))), tmp_path)
    assert opened.js("anycapture.state().scale") == "row"
    assert "per query row" in opened.page.inner_text(".acx-scale-note")
    opened.js("anycapture.select({view: 'matrix', layer: 1, head: 0})")
    assert "each row to its own maximum" in opened.page.inner_text(".acx-scale-note")
    tops = opened.js(
        """k => {
            const canvas = document.querySelector('.acx-matrix'), ctx = canvas.getContext('2d');
            const size = Math.min(24, Math.floor(560 / k)), margin = canvas.width - k * size - 4;
            const at = i => Math.floor(margin + (i + 0.5) * size);
            return [...Array(k).keys()].map(q => [...Array(k).keys()].map(key =>
                Array.from(ctx.getImageData(at(key), at(q), 1, 1).data.slice(0, 3))));
        }""",
        17,
    )
    yellow = [253, 231, 37]  # viridis' top
    for query in range(17):
        assert tops[query][int(maps[1, 0, query].argmax())] == yellow
        assert sum(colour == yellow for colour in tops[query]) <= 2  # not a whole row saturated
    assert opened.errors == []


def test_saved_page_takes_the_keyboard_at_once(browser: Any, tmp_path: Path) -> None:
    """A page written by save() answers the arrow keys before any click; a fragment in a host page waits for one."""
    explorer = anycapture.explore(softmax_maps(2, 2, 5))
    opened = open_page(browser, explorer, tmp_path)
    opened.page.keyboard.press("ArrowDown")
    assert opened.js("anycapture.state().query") == 1
    (tmp_path / "host.html").write_text(f"<!doctype html><meta charset=utf-8><body>{explorer.fragment('x')}</body>")
    hosted = Opened(browser, (tmp_path / "host.html").as_uri())
    hosted.page.keyboard.press("ArrowDown")
    assert hosted.js("anycapture.state().query") == 0
    assert opened.errors == hosted.errors == []


def test_keyboard_goes_to_the_explorer_clicked(browser: Any, tmp_path: Path) -> None:
    """With two explorers on a page, the arrow keys move the one last clicked and leave the other alone."""
    page_path = tmp_path / "two.html"
    first = anycapture.explore(softmax_maps(2, 2, 6)).fragment("one")
    second = anycapture.explore(softmax_maps(2, 2, 6)).fragment("two")
    page_path.write_text(f"<!doctype html><meta charset=utf-8><body>{first}{second}</body>")
    opened = Opened(browser, page_path.as_uri())
    queries = "['one', 'two'].map(id => anycapture.get(id).state().query)"
    opened.page.click('#one [data-query="1"]')
    opened.page.keyboard.press("ArrowDown")
    assert opened.js(queries) == [2, 0]
    opened.page.click("#two .acx-status")
    opened.page.keyboard.press("ArrowUp")
    assert opened.js(queries) == [2, 5]
    assert opened.js("document.activeElement.id") == "two"
    opened.page.set_viewport_size({"width": 520, "height": 600})  # a narrow window: still answers
    opened.page.keyboard.press("Shift+ArrowUp")
    assert opened.js("anycapture.get('two').state().layer") == 0
    assert opened.errors == []


def test_hovering_a_key_shows_what_attends_to_it(browser: Any, tmp_path: Path) -> None:
    """Hovering a key in the token view shades every query by its weight on that key; leaving restores the row."""
    maps = softmax_maps(2, 2, 8)
    opened = open_page(browser, anycapture.explore(maps, tokens=list("abcdefgh")), tmp_path)
    page = opened.page
    opened.js("anycapture.select({layer: 1, head: 0, query: 2, scale: 'row'})")
    shading = "sel => [...document.querySelectorAll(sel)].map(n => n.style.backgroundColor)"
    page.hover('[data-key="6"]')
    assert opened.js("anycapture.state().hover") == {"query": None, "key": 6}
    column = maps[1, 0, :, 6]
    shaded = opened.js(shading, "[data-query]")
    assert shaded[int(column.argmax())].endswith(", 0.85)")  # the query that attends most: the darkest
    assert all(shade == "" for shade, weight in zip(shaded, column, strict=True) if weight < column.max() / 64)
    assert "per key column: key 6 “g” only" in page.inner_text(".acx-scale-note")
    assert "what attends to key 6" in page.inner_text(".acx-status")
    page.mouse.move(5, 5)
    assert opened.js("anycapture.state().hover") is None
    assert set(opened.js(shading, "[data-query]")) == {""}
    keys = opened.js(shading, "[data-key]")
    assert keys[int(maps[1, 0, 2].argmax())].endswith(", 0.85)")  # back to query 2's row
    assert opened.errors == []


def test_every_head_in_its_colour(browser: Any, tmp_path: Path) -> None:
    """all_heads draws each head's lines in its own colour, as bertviz's head view; a head's swatch shows it alone."""
    maps = np.full((1, 2, 6, 6), 0.01, dtype=np.float32)
    maps[0, 0, 0, 1] = maps[0, 1, 0, 4] = 0.95  # from query 0, head 0 looks at key 1 and head 1 at key 4
    opened = open_page(browser, anycapture.explore(maps, tokens=list("abcdef")), tmp_path)
    page = opened.page
    opened.js("anycapture.select({query: 0})")
    page.click('[data-control="all-heads"]')
    assert opened.js("anycapture.state().all_heads") is True
    ends = """k => {
        const canvas = document.querySelector('.acx-lines'), ctx = canvas.getContext('2d');
        return Array.from(ctx.getImageData(canvas.width - 4, 18 * k + 9, 1, 1).data);
    }"""
    assert np.abs(np.subtract(opened.js(ends, 1)[:3], [31, 119, 180])).max() <= 3  # head 0: blue
    assert np.abs(np.subtract(opened.js(ends, 4)[:3], [255, 127, 14])).max() <= 3  # head 1: orange
    assert "every head in its colour" in page.inner_text(".acx-status")
    page.keyboard.press("ArrowRight")  # the keys step through heads one at a time again
    state = opened.js("anycapture.state()")
    assert (state["head"], state["all_heads"]) == ("rollout", False)  # after the mean
    opened.js("anycapture.select({all_heads: true})")
    page.click('.acx-swatch[data-head="1"]')
    state = opened.js("anycapture.state()")
    assert (state["head"], state["all_heads"]) == (1, False)
    assert opened.js(ends, 1)[3] < 64  # head 1 alone: hardly a line to key 1
    with pytest.raises(Exception, match="all_heads=1 is not true or false"):
        opened.js("anycapture.select({all_heads: 1})")
    assert opened.errors == []


def test_matrix_fills_its_width_between_56_and_560_tokens(browser: Any, tmp_path: Path) -> None:
    """A 197-token map is drawn 560 pixels wide (not 394), and hovering still finds the cell under the pointer."""
    maps = softmax_maps(1, 1, 197)
    opened = open_page(browser, anycapture.explore(maps, rollout=False), tmp_path)
    opened.js("anycapture.select({view: 'matrix'})")
    assert opened.js("document.querySelector('.acx-matrix').width") == 34 + 560 + 4
    box = opened.page.locator(".acx-matrix").bounding_box()
    cell = 560 / 197
    opened.page.mouse.move(box["x"] + 34 + 150.5 * cell, box["y"] + 34 + 100.5 * cell)
    assert opened.js("anycapture.state().hover") == {"query": 100, "key": 150}
    shown = float(opened.page.inner_text(".acx-tip >> visible=true").rsplit(": ", 1)[1])
    assert abs(shown - maps[0, 0, 100, 150]) <= opened.js("anycapture.info().max_abs_error")
    assert opened.errors == []


def test_model_view_keeps_each_maps_shape(browser: Any, tmp_path: Path) -> None:
    """Cross-attention's 7 x 23 maps get wide thumbnails (72 x 22, not squares), and a click still opens the one hit."""
    maps = softmax_maps(3, 2, 7, 23)
    opened = open_page(
        browser, anycapture.explore(maps, tokens=(list("abcdefg"), list("ABCDEFGHIJKLMNOPQRSTUVW"))), tmp_path
    )
    opened.js("anycapture.select({view: 'model'})")
    size = opened.js("[document.querySelector('.acx-model').width, document.querySelector('.acx-model').height]")
    assert size == [110 + 3 * (72 + 4), 20 + 3 * (22 + 4)]
    assert "rows (layers): 0, 1, 2;" in opened.page.get_attribute(".acx-model", "aria-label")  # "layer 0": "0"
    box = opened.page.locator(".acx-model").bounding_box()
    opened.page.mouse.click(box["x"] + 110 + 76 + 36, box["y"] + 20 + 2 * 26 + 11)  # layer 2, head 1
    state = opened.js("anycapture.state()")
    assert (state["view"], state["layer"], state["head"]) == ("matrix", 2, 1)
    assert opened.errors == []


def test_model_view_labels_rows_by_what_differs(browser: Any, tmp_path: Path) -> None:
    """Model-view rows are labelled by the part of the layer paths that differs, cut at separators only."""
    torch = pytest.importorskip("torch")

    class Attention(torch.nn.Module):
        def forward(self, x: Any) -> Any:
            q = x.unflatten(-1, (2, 4)).transpose(1, 2)
            return torch.nn.functional.scaled_dot_product_attention(q, q, q).transpose(1, 2).flatten(-2)

    class Model(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.blocks = torch.nn.ModuleList(Attention() for _ in range(12))

        def forward(self, x: Any) -> Any:
            for block in self.blocks:
                x = block(x)
            return x

    with torch.no_grad(), anycapture.capture_attention(model=Model()) as cap:
        cap.model(torch.randn(1, 4, 8))
    explorer = anycapture.explore(cap, layers=[1, 11])  # "blocks.1" and "blocks.11" share "blocks.1"
    assert explorer.layer_names == ["blocks.1", "blocks.11"]
    opened = open_page(browser, explorer, tmp_path)
    assert "rows (layers): 1, 11;" in opened.page.get_attribute(".acx-model", "aria-label")
    assert opened.errors == []

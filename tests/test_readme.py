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

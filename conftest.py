"""Doctests that need torch skip where torch is not installed (3.12 and 3.13 in our CI)."""

from __future__ import annotations

import importlib.util

import pytest
from _pytest.doctest import DoctestItem


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if importlib.util.find_spec("torch") is not None:
        return
    skip = pytest.mark.skip(reason="this example needs torch, which is not installed")
    for item in items:
        if isinstance(item, DoctestItem) and any("torch" in example.source for example in item.dtest.examples):
            item.add_marker(skip)

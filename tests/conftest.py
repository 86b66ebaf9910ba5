"""Every behaviour test runs once per backend available on this Python."""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import anycapture
from anycapture import get_local

# tests/_toys.py holds the toy models that several tests share. It imports torch at the top, so pytest
# does not collect it (for doctests); and --import-mode=importlib puts no test folder on sys.path, so
# tests/ is put there for `from _toys import ...` (appended: nothing installed is shadowed).
collect_ignore = ["_toys.py"]
sys.path.append(str(Path(__file__).resolve().parent))


@pytest.fixture(params=anycapture.backends())
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Force one backend for the test, and leave get_local off and empty afterwards."""
    monkeypatch.setenv("ANYCAPTURE_BACKEND", request.param)
    yield request.param
    get_local.deactivate()
    get_local.clear()
    get_local.set_collate_fn(None)
    get_local.set_size(None)
    gc.collect()  # functions decorated by the test die, and leave get_local's registry


@pytest.fixture
def active(backend: str) -> str:
    """get_local switched on (seed defaults) with the backend under test."""
    get_local.activate()
    return backend


@pytest.fixture
def async_cpu(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """CPU tensors take the asynchronous copy path CUDA tensors take, with torch.cpu's stand-in streams
    and events; get_local is left off, empty and unbounded, with no collate function, afterwards."""
    pytest.importorskip("torch")
    pytest.importorskip("numpy")
    from anycapture import _copies

    monkeypatch.setitem(_copies.ASYNC_DEVICE_TYPES, "cpu", "cpu")
    yield
    get_local.deactivate()
    get_local.clear()
    get_local.set_size(None)
    get_local.set_collate_fn(None)

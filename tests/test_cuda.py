"""On a CUDA device: captured tensors are copied to pinned host memory without synchronising.

Skipped where torch has no CUDA device (CI); run on a GPU machine with
``PYTHONPATH=src python -m pytest tests/test_cuda.py``. tests/test_copies.py runs the same code
on the CPU.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import pytest

torch = pytest.importorskip("torch")
numpy = pytest.importorskip("numpy")
if not torch.cuda.is_available():
    pytest.skip("needs a CUDA device", allow_module_level=True)

from anycapture import Pending, capture, get_local  # noqa: E402


def scale(x: Any) -> Any:
    y = x * 2
    return y


@pytest.fixture
def active() -> Iterator[None]:
    get_local("y")(scale)
    get_local.activate()
    yield
    get_local.deactivate()
    get_local.clear()


def test_values_arrive_in_pinned_memory_and_equal_the_blocking_copy(active: None) -> None:
    """A CUDA value is copied into pinned host memory while the call returns, and reads equal to the blocking copy."""
    x = torch.randn(512, 512, device="cuda")
    scale(x)
    values = get_local.cache["scale.y"]
    scale(x + 1)
    pending = values[-1]
    assert type(pending) is Pending
    assert pending._host.is_pinned()
    numpy.testing.assert_array_equal(get_local.cache["scale.y"][-1], ((x + 1) * 2).cpu().numpy())
    numpy.testing.assert_array_equal(values[0], (x * 2).cpu().numpy())


def test_capturing_does_not_synchronise_the_device(active: None) -> None:
    """torch's sync debug mode raises on any operation that makes the host wait for the device;
    capture turns such an error into a CaptureWarning, so none may be given."""
    x = torch.randn(1024, 1024, device="cuda")
    inputs = []
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for _ in range(5):
                x = x @ x / 1024
                inputs.append(x)
                scale(x)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert [str(w.message) for w in caught] == []
    values = get_local.cache["scale.y"]
    assert len(values) == 5
    for value, given in zip(values, inputs, strict=True):
        numpy.testing.assert_array_equal(value, (given * 2).cpu().numpy())


def test_a_later_in_place_change_does_not_reach_the_value(active: None) -> None:
    """An in-place change to the returned tensor after the call, while its copy is still queued, does not reach the
    captured value."""
    x = torch.randn(2048, 2048, device="cuda")
    for _ in range(20):  # keep the device busy, so the copy is still queued when the change is
        x = x @ x / 2048
    expected = (x * 2).cpu().numpy()
    out = scale(x)
    out.add_(100)
    numpy.testing.assert_array_equal(get_local.cache["scale.y"][0], expected)


def test_bfloat16_and_capture_blocks() -> None:
    """A bfloat16 CUDA tensor captured by a block arrives as a float32 array of the same values."""
    x = torch.randn(64, 64, device="cuda", dtype=torch.bfloat16)
    with capture(scale, "y") as cap:
        scale(x)
    (value,) = cap["scale.y"]
    assert value.dtype == numpy.float32
    numpy.testing.assert_array_equal(value, (x * 2).float().cpu().numpy())

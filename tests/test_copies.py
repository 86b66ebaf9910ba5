"""Device tensors are copied to host memory without blocking, and are ready when they are read.

CI has no GPU. These tests run the very code CUDA tensors go through (snapshot on the model's
stream, side stream, host buffer, event, Pending resolved by the readers) on CPU tensors, with
``torch.cpu``'s synchronous Stream and Event standing in for ``torch.cuda``'s: everything but
the asynchrony itself. ``tests/test_cuda.py`` checks the real thing where a GPU exists.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
numpy = pytest.importorskip("numpy")

import anycapture  # noqa: E402
from anycapture import (  # noqa: E402
    CaptureWarning,
    Pending,
    _copies,
    capture,
    get_local,
)


def scale(x: Any) -> Any:
    y = x * 2
    return y


def test_get_local_values_are_pending_until_read_through_the_cache(async_cpu: None) -> None:
    """A value copied without blocking is a Pending in get_local's live list until read through get_local.cache, which
    puts the arrays in place."""
    get_local("y")(scale)
    get_local.activate()
    x = torch.arange(6.0).reshape(2, 3)
    scale(x)
    values = get_local.cache["scale.y"]  # the live list; read through the cache, so ready
    assert isinstance(values[0], numpy.ndarray)
    numpy.testing.assert_array_equal(values[0], (x * 2).numpy())
    scale(x + 1)
    assert type(values[-1]) is Pending  # captured since the list was read: still a copy in flight
    assert values[-1].done()  # torch.cpu's stand-in events are always done
    numpy.testing.assert_array_equal(numpy.asarray(values[-1]), ((x + 1) * 2).numpy())
    assert "Pending" in repr(values[-1])
    assert "(2, 3)" in repr(values[-1])
    assert get_local.cache["scale.y"] is values  # read again: the same live list ...
    assert all(isinstance(v, numpy.ndarray) for v in values)  # ... with its copies put in place
    numpy.testing.assert_array_equal(values[-1], ((x + 1) * 2).numpy())


def test_bounded_cache_gives_ready_values(async_cpu: None) -> None:
    """A bounded get_local store keeps the newest values, as arrays ready to use."""
    get_local("y")(scale)
    get_local.activate(max_size=2)
    for i in range(4):
        scale(torch.full((2,), float(i)))
    got = get_local.cache["scale.y"]
    assert [v.tolist() for v in got] == [[4.0, 4.0], [6.0, 6.0]]
    assert all(isinstance(v, numpy.ndarray) for v in got)


def test_the_value_is_the_one_at_capture_even_if_changed_in_place_later(async_cpu: None) -> None:
    """The copy starts from a snapshot taken on the model's stream, so a later in-place change
    (queued after it) cannot reach the captured value, whenever the copy runs."""
    get_local("y")(scale)
    get_local.activate()
    out = scale(torch.ones(3))
    out.add_(100)  # the model goes on changing the returned tensor in place
    numpy.testing.assert_array_equal(get_local.cache["scale.y"][0], [2.0, 2.0, 2.0])


@pytest.mark.parametrize(
    ("dtype", "expected"),
    [
        (torch.bfloat16, numpy.float32),  # numpy has no bfloat16: upcast, as the blocking path does
        (torch.float16, numpy.float16),
        (torch.float64, numpy.float64),
        (torch.int64, numpy.int64),
    ],
)
def test_numpy_dtypes_match_the_blocking_path(async_cpu: None, dtype: Any, expected: Any) -> None:
    """Each tensor dtype arrives as the numpy dtype the blocking copy would give."""
    get_local("y")(scale)
    get_local.activate()
    scale(torch.arange(4).to(dtype))
    value = get_local.cache["scale.y"][0]
    assert value.dtype == expected
    numpy.testing.assert_array_equal(value, numpy.arange(4).astype(expected) * 2)


def test_conjugate_and_negative_views_are_materialised(async_cpu: None) -> None:
    """A conjugate view is copied with its conjugation applied, as numpy.conj of the original."""

    def view(z: Any) -> Any:
        c = z.conj()
        return c

    get_local("c")(view)
    get_local.activate()
    z = torch.tensor([1 + 2j, 3 - 1j], dtype=torch.complex64)
    view(z)
    numpy.testing.assert_array_equal(
        get_local.cache["test_conjugate_and_negative_views_are_materialised.<locals>.view.c"][0], numpy.conj(z.numpy())
    )


def test_capture_block_readers_wait_for_copies(async_cpu: None) -> None:
    """A block's keys, records and stack wait for copies in flight, tensors nested in a dict included."""

    def layer(x: Any) -> Any:
        attn = x.softmax(-1)
        stats = {"max": attn.max(), "shape": tuple(attn.shape)}
        return attn, stats

    x = torch.randn(2, 4, 4)
    with capture(layer, "attn", "stats") as cap:
        layer(x)
        layer(x + 1)
    attn = cap["test_capture_block_readers_wait_for_copies.<locals>.layer.attn"]
    assert all(isinstance(a, numpy.ndarray) for a in attn)
    numpy.testing.assert_allclose(attn[1], (x + 1).softmax(-1).numpy())
    stats = [r.value for r in cap.records if r.name == "stats"]
    assert isinstance(stats[0]["max"], numpy.ndarray)
    assert stats[0]["shape"] == (2, 4, 4)
    assert cap.stack("attn").shape == (2, 2, 4, 4)


def test_values_tensor_with_device_cpu_gives_host_tensors(async_cpu: None) -> None:
    """values='tensor' with device='cpu' gives a detached CPU tensor."""
    with capture(scale, "y", values="tensor", device="cpu") as cap:
        scale(torch.ones(2, requires_grad=True))
    (value,) = cap["scale.y"]
    assert isinstance(value, torch.Tensor)
    assert value.device.type == "cpu"
    assert not value.requires_grad
    assert value.tolist() == [2.0, 2.0]


def test_a_sink_writes_values_copied_without_blocking(async_cpu: None, tmp_path: Path) -> None:
    """A block streaming values='tensor' to a sink writes the values copied without blocking, read back equal by
    open_captures."""
    pytest.importorskip("safetensors")
    with capture(scale, "y", values="tensor", sink=tmp_path / "caps"):
        for i in range(3):
            scale(torch.full((2, 2), float(i)))
    folder = anycapture.open_captures(tmp_path / "caps")
    assert [v.tolist() for v in folder["scale.y"]] == [[[2.0 * i] * 2] * 2 for i in range(3)]


def test_a_copy_that_cannot_start_falls_back_with_one_warning(async_cpu: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pinned memory does not exist on a machine without an accelerator: torch refuses it, and the
    value is copied the blocking way, with one warning that says why."""
    monkeypatch.setattr(_copies, "PINNED_DEVICE_TYPES", frozenset({"cuda", "cpu"}))
    get_local("y")(scale)
    get_local.activate()
    with pytest.warns(CaptureWarning, match="without blocking .*copied the blocking way"):
        scale(torch.ones(2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scale(torch.ones(2))  # once
    got = get_local.cache["scale.y"]
    assert all(isinstance(v, numpy.ndarray) for v in got)
    assert got[1].tolist() == [2.0, 2.0]


def test_cpu_tensors_are_not_copied_by_default() -> None:
    """Without the test hook, CPU tensors take the seed's path: .numpy() shares their memory."""
    get_local("y")(scale)
    get_local.activate()
    copies = len(_copies._live)
    try:
        out = scale(torch.ones(2))
        assert len(_copies._live) == copies  # no copy was started
        value = get_local.cache["scale.y"][0]
        assert isinstance(value, numpy.ndarray)
        out.add_(1)
        assert value.tolist() == [3.0, 3.0]  # shared memory, as the seed's arrays
    finally:
        get_local.deactivate()
        get_local.clear()

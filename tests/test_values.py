"""How captured values are stored: the seed's numpy conversion, kept tensors, raw objects."""

from __future__ import annotations

import warnings
from typing import Any

import pytest

from anycapture import CaptureWarning, get_local

torch = pytest.importorskip("torch")
np = pytest.importorskip("numpy")


@get_local("out")
def layer(x: Any) -> Any:
    out = x * 2
    return out


KEY = "layer.out"


def test_tensor_becomes_numpy_like_the_seed(active: str) -> None:
    """By default a tensor is stored as tensor.detach().cpu().numpy()."""
    x = torch.arange(6.0, requires_grad=True).reshape(2, 3)
    result = layer(x)
    assert result.requires_grad  # the function's own result is untouched
    (stored,) = get_local.cache[KEY]
    assert isinstance(stored, np.ndarray)
    np.testing.assert_array_equal(stored, (x * 2).detach().numpy())


def test_bfloat16_and_other_missing_dtypes_upcast(active: str) -> None:
    """Dtypes numpy lacks are stored as float32 (complex32 as complex64)."""
    layer(torch.ones(3, dtype=torch.bfloat16))
    layer(torch.ones(2, dtype=torch.float16))
    layer(torch.ones(2, dtype=torch.complex32))
    bf16, f16, c32 = get_local.cache[KEY]
    assert bf16.dtype == np.float32
    assert f16.dtype == np.float16
    assert c32.dtype == np.complex64


def test_containers_convert_item_by_item(active: str) -> None:
    """dicts, lists, tuples and named tuples of tensors are converted item by item."""
    from collections import namedtuple

    Pair = namedtuple("Pair", "a b")

    @get_local("v")
    def f(v: Any) -> None:
        return None

    t = torch.ones(2)
    f({"a": t, "b": [t, (t, 1)], "c": "text"})
    f(Pair(t, 2))
    f(torch.Size([2, 3]))
    nested, pair, size = get_local.cache["test_containers_convert_item_by_item.<locals>.f.v"]
    assert isinstance(nested["a"], np.ndarray)
    assert isinstance(nested["b"][0], np.ndarray)
    assert isinstance(nested["b"][1], tuple)
    assert isinstance(nested["b"][1][0], np.ndarray)
    assert nested["c"] == "text"
    assert isinstance(pair, Pair)
    assert isinstance(pair.a, np.ndarray)
    assert isinstance(size, torch.Size)


def test_non_tensors_are_kept_as_they_are(active: str) -> None:
    """Anything that is not a tensor is stored as is: no crash on ints, strings or objects."""
    marker = object()

    @get_local("v")
    def f(v: Any) -> None:
        return None

    for value in (1, "s", None, marker, 2.5):
        f(value)
    assert get_local.cache["test_non_tensors_are_kept_as_they_are.<locals>.f.v"] == [1, "s", None, marker, 2.5]


def test_keep_tensors_detached(backend: str) -> None:
    """values='tensor' keeps tensors, detached, optionally cloned or moved."""
    get_local.activate(values="tensor")
    x = torch.ones(3, requires_grad=True)
    layer(x)
    (kept,) = get_local.cache[KEY]
    assert isinstance(kept, torch.Tensor)
    assert not kept.requires_grad
    get_local.clear()
    get_local.activate(values="tensor", clone=True, device="cpu")
    y = torch.ones(3)
    out = layer(y)
    out.add_(1)  # a later in-place change...
    (snapshot,) = get_local.cache[KEY]
    torch.testing.assert_close(snapshot, torch.full((3,), 2.0))  # ...does not reach the clone


def test_clone_snapshots_numpy_values(backend: str) -> None:
    """clone=True copies CPU arrays, which otherwise share memory with the tensor as in the seed."""
    get_local.activate(clone=True)
    out = layer(torch.ones(2))
    out.add_(5)
    (stored,) = get_local.cache[KEY]
    np.testing.assert_array_equal(stored, np.full(2, 2.0))


def test_clone_copies_numpy_arrays_captured_as_they_are(backend: str) -> None:
    """clone=True also copies a captured numpy array (not a tensor), in both value modes."""

    @get_local("arr")
    def fill(arr: Any) -> Any:
        return arr

    for values in ("numpy", "tensor"):
        get_local.activate(values=values, clone=True)
        arr = np.ones(3)
        fill(arr)
        arr += 100  # the caller changes its array in place afterwards
        (stored,) = get_local.cache["test_clone_copies_numpy_arrays_captured_as_they_are.<locals>.fill.arr"]
        np.testing.assert_array_equal(stored, np.ones(3))
        get_local.clear()


def test_raw_keeps_the_very_object(backend: str) -> None:
    """values='raw' stores the object itself, graph and all."""
    get_local.activate(values="raw")
    x = torch.ones(2, requires_grad=True)
    out = layer(x)
    (stored,) = get_local.cache[KEY]
    assert stored is out
    assert stored.requires_grad


def test_unconvertible_tensor_is_kept_raw_with_one_warning(active: str) -> None:
    """A tensor that cannot become an array (meta device) is kept as is, with one warning."""
    with pytest.warns(CaptureWarning, match="could not convert a value captured as layer.out"):
        out = layer(torch.ones(2, device="meta"))
    assert out.device.type == "meta"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        layer(torch.ones(2, device="meta"))
    assert [v.device.type for v in get_local.cache[KEY]] == ["meta", "meta"]


def test_module_forward_outputs_identical(active: str) -> None:
    """A real nn.Module's forward, captured, returns exactly what it returns uncaptured."""
    torch.manual_seed(0)
    attn = torch.nn.MultiheadAttention(8, 2, batch_first=True)
    x = torch.randn(2, 5, 8)
    get_local.deactivate()
    expected, expected_w = attn(x, x, x)
    get_local("attn_output_weights")(torch.nn.functional.multi_head_attention_forward)
    get_local.activate()
    got, got_w = attn(x, x, x)
    torch.testing.assert_close(got, expected, rtol=0, atol=0)
    torch.testing.assert_close(got_w, expected_w, rtol=0, atol=0)
    (weights,) = get_local.cache["multi_head_attention_forward.attn_output_weights"]
    np.testing.assert_array_equal(weights, expected_w.detach().numpy())  # final value: averaged over heads


@pytest.mark.parametrize("clone", [False, True])
def test_later_tensors_convert_as_the_first(backend: str, clone: bool) -> None:
    """After the first tensor, plain CPU tensors take a short path: it must store what the long one does."""
    get_local.activate(clone=clone)
    inputs = [
        torch.ones(2),  # the first: the long way
        torch.arange(3.0),  # plain: the short way
        torch.arange(3.0, requires_grad=True),  # in autograd: detached
        torch.tensor([1 + 2j, 3 - 1j]).conj(),  # a conjugate view: materialised
        torch.ones(2, dtype=torch.bfloat16),  # numpy has no bfloat16
        torch.arange(4.0)[::2],  # a strided view
    ]
    outputs = [layer(x) for x in inputs]
    stored = get_local.cache[KEY]
    assert all(isinstance(value, np.ndarray) for value in stored)
    for value, out in zip(stored, outputs, strict=True):
        expected = out.detach().resolve_conj()
        expected = expected.float() if expected.dtype == torch.bfloat16 else expected
        np.testing.assert_array_equal(value, expected.numpy())
    out = outputs[1]
    out.add_(10)  # the model changes its tensor in place afterwards
    assert (stored[1] == out.numpy()).all() != clone  # shared memory as in the seed, unless clone=True

"""What a capture folder can hold: checking a value in the capturing thread, and making it storable
(a contiguous CPU array or tensor) in the writer thread."""

from __future__ import annotations

import sys
from typing import Any

from .._copies import Pending
from ._format import (
    _NUMPY_DTYPES,
    _SCALARS,
    _STR_LIMIT,
    _TORCH_DTYPES,
)


def _described(value: Any) -> str:
    """A value's type (and dtype) for a warning: ``'torch.Tensor of dtype torch.complex64'``."""
    kind = type(value)
    described = f"{kind.__module__}.{kind.__qualname__}"
    dtype = getattr(value, "dtype", None)
    if dtype is not None:
        described += f" of dtype {dtype}"
    if getattr(value, "is_nested", False) is True:
        described = "nested " + described
    return described


def _serialise(tensor: Any) -> None:
    """Write one tensor to memory as a shard would (raises what the library raises)."""
    numpy = sys.modules.get("numpy")
    if numpy is not None and isinstance(tensor, numpy.ndarray):
        from safetensors.numpy import save as save_numpy

        save_numpy({"0": tensor})
    else:
        from safetensors.torch import save

        save({"0": tensor})


def _kind_of(value: Any, is_torch: bool) -> str | None:
    """What a tensor record was written from, when not a numpy array: ``"torch"`` (a tensor) or
    ``"numpy.generic"`` (a numpy scalar, stored as a 0-d array). A block with ``values="raw"``
    reads each back as the type it was."""
    if is_torch:
        return "torch"
    numpy = sys.modules.get("numpy")
    if numpy is not None and isinstance(value, numpy.generic):
        return "numpy.generic"
    return None


# A value write() refused; the writer thread counts it as skipped.
_UNSTORABLE = object()
_UNSTORABLE_WHY = (
    "cannot be held by a capture folder (dense arrays and tensors of common dtypes and small scalars only; "
    "nothing is pickled)"
)


def _may_store(value: Any, torch: Any) -> bool:
    """Whether ``value`` can be stored (a tensor or an array of a dtype safetensors has, or a small
    scalar): told in the capturing thread, from its type and dtype; the writer thread copies it."""
    kind = type(value)
    if kind in _SCALARS:
        return kind is not str or len(value) <= _STR_LIMIT
    if kind is Pending:
        return True
    if torch is not None and isinstance(value, torch.Tensor):
        return _storable_tensor(value, torch)
    numpy = sys.modules.get("numpy")
    return numpy is not None and isinstance(value, numpy.ndarray | numpy.generic) and value.dtype.name in _NUMPY_DTYPES


def _storable_tensor(tensor: Any, torch: Any) -> bool:
    """Whether a capture folder can hold ``tensor``: a dtype safetensors has, dense (not sparse,
    nested or quantized) and with data (not on the ``meta`` device). A tensor subclass passes
    here; the writer thread finds out whether it has memory of its own (see _to_storable)."""
    return (
        str(tensor.dtype).removeprefix("torch.") in _TORCH_DTYPES
        and tensor.layout == torch.strided
        and not tensor.is_nested
        and tensor.device.type != "meta"
    )


def _to_storable(value: Any, storages: set[int]) -> tuple[Any, int, bool] | None:
    """``(contiguous CPU array or tensor, bytes, is torch)`` for an array or tensor; ``None`` otherwise.

    An array or tensor of a dtype a capture folder cannot hold (complex, object, ...) gives ``None``.
    ``storages`` holds the memory of the torch tensors already in the shard: a tensor that shares it
    is copied, as safetensors refuses to write two tensors over one memory.
    """
    if type(value) is Pending:
        value = value.result()  # a copy from a device: wait for it here, in the writer thread
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor):
        if not _storable_tensor(value, torch):
            return None
        tensor = value.detach()
        if type(tensor) is not torch.Tensor:
            # A subclass: its data as a plain tensor. One without memory of its own (a wrapper
            # such as a DTensor) raises here, and that record alone is skipped.
            tensor = tensor.as_subclass(torch.Tensor)
            tensor.untyped_storage().data_ptr()
        if tensor.is_neg():  # a lazily negated view (torch._neg_view): its memory holds the opposite values
            tensor = tensor.resolve_neg()
        nbytes = tensor.numel() * tensor.element_size()
        if tensor.device.type != "cpu":
            tensor = tensor.to("cpu", memory_format=torch.contiguous_format)
        elif not (
            tensor.is_contiguous()
            and tensor.storage_offset() == 0
            and tensor.untyped_storage().nbytes() == nbytes
            and tensor.untyped_storage().data_ptr() not in storages
        ):
            # A view, or a tensor written twice: one compact copy. A tensor that owns its memory
            # (most activations) is written as it is, without a copy.
            tensor = tensor.clone(memory_format=torch.contiguous_format)
        if nbytes:
            storages.add(tensor.untyped_storage().data_ptr())
        return tensor, nbytes, True
    numpy = sys.modules.get("numpy")
    if numpy is not None and isinstance(value, numpy.ndarray | numpy.generic):
        array = numpy.asarray(value, order="C")  # not ascontiguousarray: it makes 0-d arrays 1-d
        if array.dtype.name not in _NUMPY_DTYPES:
            return None
        if not array.dtype.isnative:  # big-endian data: safetensors is little-endian, torch.from_numpy refuses it
            array = array.astype(array.dtype.newbyteorder("="))
        return array, array.nbytes, False
    return None

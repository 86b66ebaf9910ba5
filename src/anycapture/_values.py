"""How a captured value is stored: the seed's numpy conversion, kept tensors, or the raw object.

torch and numpy are never imported here: a value can only be a tensor if its module is loaded
already, so ``sys.modules`` is consulted instead.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, Literal

from ._copies import ASYNC_DEVICE_TYPES, copy_to_host

__all__ = ["PLAIN_TYPES", "VALUE_MODES", "Converter", "ValueMode", "compact", "kept_raw", "make_converter"]

ValueMode = Literal["numpy", "tensor", "raw"]
VALUE_MODES: tuple[str, ...] = ("numpy", "tensor", "raw")
Converter = Callable[[Any], Any]

# Values of these exact types never need converting, in any mode; sinks store them at once.
PLAIN_TYPES = frozenset({int, float, bool, str, bytes, complex, type(None)})


def kept_raw(label: str, exc: BaseException, what: str) -> str:
    """The warning when ``what`` (``"convert"``, ``"reduce or convert"``) failed on a value captured as
    ``label``: the raw value is kept in its place, and the captured function never sees the error."""
    return (
        f"could not {what} a value captured as {label} ({type(exc).__name__}: {exc}); "
        "the raw value was kept (this warning is shown once per key)"
    )


def _tensor_type() -> type | None:
    torch = sys.modules.get("torch")
    return getattr(torch, "Tensor", None) if torch is not None else None


def _to_numpy(tensor: Any, clone: bool) -> Any:
    """``tensor.detach().cpu().numpy()``, upcasting dtypes numpy lacks (bfloat16, float8, chalf)."""
    value = tensor.detach()
    on_cpu = value.is_cpu
    if not on_cpu:
        value = value.cpu()
    try:
        array = value.numpy()
    except TypeError:  # a dtype numpy lacks
        import torch

        if value.is_floating_point():
            array = value.float().numpy()
        elif value.is_complex():
            array = value.to(torch.complex64).numpy()
        else:
            raise
    except RuntimeError:  # a lazily conjugated or negated view: materialise it first
        array = value.resolve_conj().resolve_neg().numpy()
    else:
        # On the CPU, .numpy() shares the tensor's memory (as the seed's arrays do).
        if clone and on_cpu:
            array = array.copy()
    return array


def _keep_tensor(tensor: Any, device: Any, clone: bool) -> Any:
    value = tensor.detach()
    if device is not None:
        moved = value.to(device)
        if moved is not value:
            return moved
    return value.clone() if clone else value


def compact(value: Any) -> Any:
    """``value`` in memory of its own when it is a view that keeps a larger tensor or array alive.

    What a ``reduce=`` returns is often a slice of the captured value (``attn[:, :, 0]``, the CLS
    row): kept as it is, it would keep the whole map's memory alive. Lists, tuples and dicts of
    such values are compacted item by item; anything else is returned as it is.
    """
    kind = type(value)
    if kind in PLAIN_TYPES:
        return value
    if kind is list:
        return [compact(item) for item in value]
    if kind is tuple:
        return tuple([compact(item) for item in value])
    if kind is dict:
        return {key: compact(item) for key, item in value.items()}
    tensor_type = _tensor_type()
    if tensor_type is not None and isinstance(value, tensor_type):
        tensor: Any = value
        try:
            if tensor.untyped_storage().nbytes() > tensor.numel() * tensor.element_size():
                return tensor.clone()  # a dense copy (of a slice: contiguous), in the graph as the view was
        except Exception:  # a tensor without a plain storage (sparse, nested, a subclass): as it is
            return value
        return value
    numpy = sys.modules.get("numpy")
    if numpy is not None and kind is numpy.ndarray:
        base = value.base
        if base is not None and isinstance(base, numpy.ndarray) and base.nbytes > value.nbytes:
            return value.copy()
    return value


def make_converter(mode: str, *, device: Any = None, clone: bool = False) -> Converter | None:
    """Return the function applied to each captured value, or ``None`` to store values as they are.

    >>> make_converter("raw") is None
    True
    >>> make_converter("numpy")([1, "a"])
    [1, 'a']
    """
    if mode not in VALUE_MODES:
        raise ValueError(f"values={mode!r} is not a value mode; use one of {', '.join(map(repr, VALUE_MODES))}")
    if mode == "raw":
        if device is not None or clone:
            raise ValueError(
                "values='raw' stores the object itself; device= and clone= need values='tensor' or 'numpy'"
            )
        return None
    if mode == "numpy" and device is not None:
        raise ValueError(f"device={device!r} only applies with values='tensor'; numpy arrays always live on the CPU")

    numpy_mode = mode == "numpy"
    to_host: list[bool] = []  # whether device= is the CPU: known once torch is (it is, given a tensor)

    def convert_tensor(tensor: Any) -> Any:
        # A device tensor headed for host memory is copied without stalling its device, and read
        # later (copy_to_host gives None for a CPU tensor, which is converted as the seed does).
        if numpy_mode:
            return copy_to_host(tensor, numpy=True) or _to_numpy(tensor, clone)
        if device is not None:
            if not to_host:
                to_host.append(sys.modules["torch"].device(device).type == "cpu")
            if to_host[0]:
                pending = copy_to_host(tensor, numpy=False)
                if pending is not None:
                    return pending
        return _keep_tensor(tensor, device, clone)

    plain_tensor: list[Any] = [None]  # torch.Tensor, once a tensor has been seen

    def convert(value: Any) -> Any:
        kind = type(value)
        if kind in PLAIN_TYPES:
            return value
        if kind is plain_tensor[0]:
            # The common case, kept short: it runs for every attention map. A CPU tensor outside
            # autograd is its own .detach(): one C call makes the array.
            if numpy_mode and value.is_cpu and not value.requires_grad and "cpu" not in ASYNC_DEVICE_TYPES:
                try:
                    array = value.numpy()
                except (TypeError, RuntimeError):  # a dtype numpy lacks, a conjugate view: the long way
                    return convert_tensor(value)
                return array.copy() if clone else array
            return convert_tensor(value)
        if kind is dict:
            return {key: convert(item) for key, item in value.items()}
        if kind is list:
            return [convert(item) for item in value]
        if isinstance(value, tuple):
            items = [convert(item) for item in value]
            if all(new is old for new, old in zip(items, value, strict=True)):
                return value  # immutable and unchanged: keeps torch.Size and other subclasses
            # Named tuples keep their type; other tuple subclasses become plain tuples.
            return kind(*items) if hasattr(value, "_fields") else tuple(items)
        tensor_type = _tensor_type()
        if tensor_type is not None and isinstance(value, tensor_type):
            plain_tensor[0] = tensor_type
            return convert_tensor(value)
        if clone:
            numpy = sys.modules.get("numpy")
            if numpy is not None and isinstance(value, numpy.ndarray):
                return value.copy()  # clone= copies arrays too: the caller may change them in place later
        return value

    return convert

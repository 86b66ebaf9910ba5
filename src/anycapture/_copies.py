"""Copy captured device tensors to host memory without stalling the device.

The seed stores a CUDA tensor as ``tensor.detach().cpu().numpy()``: a blocking copy, so the host
waits, once per captured layer, for every kernel queued before it, and the device then idles
until the host queues more work. Here a device tensor headed for host memory is instead:

1. snapshotted on the device, on the stream that computed it (``clone``, or the float32 upcast
   numpy needs for bfloat16): kernels the model queues later, even ones that change the tensor in
   place, cannot reach the copy;
2. copied on a side stream that waits for that snapshot, with ``non_blocking=True`` into pinned
   host memory, so the model's stream goes on computing while the bytes cross;
3. handed over as a :class:`Pending`, which waits for the copy's event only when the value is
   read (``result()``, numpy's ``__array__``, or any anycapture reader: ``get_local.cache``,
   ``Capture`` records, a sink's writer thread).

The snapshot's memory is marked as in use by the side stream (``record_stream``), so the caching
allocator cannot hand it out again before the copy has finished.

Devices get this when their torch module has streams and events (``torch.cuda``); others, and
the CPU, are copied as before. torch is never imported here: a tensor exists only once the
program has imported it.
"""

from __future__ import annotations

import sys
import threading
import weakref
from typing import Any

from ._errors import warn_once

__all__ = ["Pending", "any_pending", "copy_to_host", "resolve", "start_host_copy"]

# Device types whose tensors are copied asynchronously, and the torch module with their Stream,
# Event, current_stream() and stream(). Tests add "cpu": "cpu" (torch.cpu's synchronous stand-ins
# for those) to run this code on machines without a GPU.
ASYNC_DEVICE_TYPES: dict[str, str] = {"cuda": "cuda"}
# Device types whose host copies go to pinned (page-locked) memory and whose snapshots are kept
# from reuse with record_stream: the ones with a caching allocator that needs it.
PINNED_DEVICE_TYPES = frozenset({"cuda"})

_streams: dict[Any, Any] = {}  # device -> its side stream for copies
_streams_lock = threading.Lock()
_UNSET: Any = object()
# A weak reference to every Pending still alive, which takes itself out when its Pending dies: readers
# skip looking for them when there is none (no device copies). A plain set: len() runs in C.
_live: set[weakref.ref[Pending]] = set()


def any_pending() -> bool:
    """Whether a :class:`Pending` exists anywhere (cheap: readers ask before they look)."""
    return bool(_live)


class Pending:
    """A captured value still being copied from a device into host memory.

    ``result()`` waits for the copy and gives the value: a numpy array (``values="numpy"``) or a
    CPU tensor (``values="tensor", device="cpu"``). anycapture's readers call it for you; a
    ``Pending`` is seen only in a list taken from ``get_local.cache`` before the value was read
    through it again. ``numpy.asarray(pending)`` also works.
    """

    __slots__ = ("__weakref__", "_event", "_host", "_lock", "_numpy", "_source", "_value")

    def __init__(self, host: Any, event: Any, numpy: bool, source: str) -> None:
        self._host, self._event, self._numpy, self._source = host, event, numpy, source
        self._value = _UNSET
        self._lock = threading.Lock()
        _live.add(weakref.ref(self, _live.discard))

    def done(self) -> bool:
        """Whether the copy has finished (``result()`` would not wait)."""
        event = self._event
        return event is None or bool(event.query())

    def result(self) -> Any:
        """The value, once its copy has finished (waits for it if need be)."""
        value = self._value
        if value is not _UNSET:
            return value
        with self._lock:
            if self._value is _UNSET:
                self._event.synchronize()
                host = self._host
                self._value = host.numpy() if self._numpy else host
                self._host = self._event = None
            return self._value

    def __array__(self, dtype: Any = None, copy: Any = None) -> Any:
        import numpy

        value = self.result()
        array = value if isinstance(value, numpy.ndarray) else value.numpy()
        return array if dtype is None else array.astype(dtype, copy=False)

    def __repr__(self) -> str:
        state = "copied" if self._value is not _UNSET else "being copied"
        host = self._host if self._host is not None else self._value
        shape = tuple(getattr(host, "shape", ()))
        return f"<anycapture.Pending: a {self._source} tensor of shape {shape}, {state}; .result() gives it>"


def resolve(value: Any) -> Any:
    """``value`` with every :class:`Pending` in it (in dicts, lists, tuples) replaced by its result.

    The same object when there is none, so a reader can tell whether anything changed.
    """
    kind = type(value)
    if kind is Pending:
        return value.result()
    if kind is dict:
        items = {key: resolve(item) for key, item in value.items()}
        return value if all(items[key] is item for key, item in value.items()) else items
    if kind is list or isinstance(value, tuple):
        resolved = [resolve(item) for item in value]
        if all(new is old for new, old in zip(resolved, value, strict=True)):
            return value
        if kind is list:
            return resolved
        return kind(*resolved) if hasattr(value, "_fields") else tuple(resolved)
    return value


def copy_to_host(tensor: Any, *, numpy: bool) -> Pending | None:
    """:func:`start_host_copy` for a tensor that may be anywhere: ``None`` for a CPU tensor (and for
    one whose copy could not start, e.g. no pinned memory left: then one warning says that such
    values are copied the blocking way), which the caller then copies as before."""
    if tensor.is_cpu and "cpu" not in ASYNC_DEVICE_TYPES:  # "cpu" is there only in tests
        return None
    try:
        return start_host_copy(tensor, numpy=numpy)
    except Exception as exc:
        warn_once(
            _copy_failures,
            type(exc),
            f"anycapture could not copy a {tensor.device} tensor to host memory without blocking "
            f"({type(exc).__name__}: {exc}); such values are copied the blocking way instead",
            stacklevel=None,
        )
        return None


_copy_failures: set[object] = set()


def start_host_copy(tensor: Any, *, numpy: bool) -> Pending | None:
    """Begin copying ``tensor`` (on a device with streams) into host memory; ``None`` if it is not
    on such a device, and the caller copies it as before.

    ``numpy=True`` upcasts dtypes numpy lacks as ``values="numpy"`` does (bfloat16 and float8 to
    float32, complex32 to complex64) and resolves lazy conjugate/negative views.
    """
    device = tensor.device
    module_name = ASYNC_DEVICE_TYPES.get(device.type)
    if module_name is None:
        return None
    torch = sys.modules["torch"]
    module = getattr(torch, module_name)
    detached = value = tensor.detach()
    if numpy:
        if value.is_conj():
            value = value.resolve_conj()
        if value.is_neg():
            value = value.resolve_neg()
        if value.is_complex():
            if value.dtype not in (torch.complex64, torch.complex128):
                value = value.to(torch.complex64)  # complex32: numpy has no such dtype
        elif value.is_floating_point() and value.dtype not in (torch.float16, torch.float32, torch.float64):
            value = value.float()  # bfloat16, float8: numpy has no such dtype
    # The snapshot: a new tensor made on the model's stream, ordered before anything it queues next.
    snapshot = value.clone(memory_format=torch.contiguous_format) if value is detached else value.contiguous()
    pinned = device.type in PINNED_DEVICE_TYPES
    stream = _side_stream(module, device)
    stream.wait_stream(module.current_stream(device))
    host = torch.empty(snapshot.shape, dtype=snapshot.dtype, device="cpu", pin_memory=pinned)
    with module.stream(stream):
        host.copy_(snapshot, non_blocking=True)
        event = module.Event()
        event.record(stream)
    if pinned:
        snapshot.record_stream(stream)  # not reused by the allocator before the copy is done
    return Pending(host, event, numpy, str(device))


def _side_stream(module: Any, device: Any) -> Any:
    stream = _streams.get(device)
    if stream is None:
        with _streams_lock:
            stream = _streams.get(device)
            if stream is None:
                try:
                    stream = module.Stream(device=device)
                except TypeError:  # torch.cpu's stand-in takes no device
                    stream = module.Stream()
                _streams[device] = stream
    return stream

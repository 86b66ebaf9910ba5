"""Where captured values live: one container per key, and the live read-only view users see."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator, Mapping, MutableSequence
from typing import Any

from ._copies import any_pending, resolve

__all__ = ["CacheView", "Store", "check_max_size"]


def check_max_size(max_size: object) -> int | None:
    """Normalise ``max_size`` as AnyCapture 0.1.4 does: ``None``, 0 or negative mean unbounded."""
    if max_size is None:
        return None
    if isinstance(max_size, bool) or not isinstance(max_size, int):
        raise TypeError(
            f"max_size must be an int (the newest values kept per key) or None for no limit; "
            f"got {max_size!r} ({type(max_size).__name__})"
        )
    return max_size if max_size > 0 else None


class Store:
    """Containers of captured values, by key.

    Sinks are the containers' own ``append`` methods (a list, or a ``deque(maxlen=...)`` when
    bounded, which drops the oldest value in O(1)), so containers are emptied in place and never
    replaced except by :meth:`resize`, after which filers must be rebuilt.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._containers: dict[str, MutableSequence[Any]] = {}
        self.max_size: int | None = None
        self.view = CacheView(self)

    def container(self, key: str) -> MutableSequence[Any]:
        with self._lock:
            found = self._containers.get(key)
            if found is None:
                found = self._containers[key] = self._new([])
            return found

    def _new(self, values: list[Any]) -> MutableSequence[Any]:
        return values if self.max_size is None else deque(values, maxlen=self.max_size)

    def resize(self, max_size: int | None) -> bool:
        """Keep at most ``max_size`` newest values per key from now on (``None``: no limit).

        Returns whether the containers were replaced (and filers bound to them must be rebuilt).
        """
        with self._lock:
            if max_size == self.max_size:
                return False  # keep the containers: lists users hold, and the filers bound to them, stay live
            containers: dict[str, MutableSequence[Any]] = {
                key: list(values) if max_size is None else deque(values, maxlen=max_size)
                for key, values in self._containers.items()
            }
            self.view._settled.clear()
            # Both at once (no interrupt can land between): a resize cut short changed nothing.
            self._containers, self.max_size = containers, max_size
            self.view._settled.clear()
            return True

    def clear(self) -> None:
        with self._lock:
            for values in self._containers.values():
                values.clear()
            self.view._settled.clear()

    def items(self) -> list[tuple[str, MutableSequence[Any]]]:
        return [(key, values) for key, values in list(self._containers.items()) if values]


class CacheView(Mapping[str, list[Any]]):
    """``get_local.cache``: a live mapping from ``<qualname>.<variable>`` to values in call order.

    Keys appear once a value has been captured and disappear after ``clear()``. Each value is a
    ``list``: the live list itself when there is no ``max_size``, else a copy of the newest values.

    >>> from anycapture import get_local
    >>> dict(get_local.cache) == {} or isinstance(get_local.cache, Mapping)
    True
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        # key -> how many leading values of its list hold no Pending copy any more
        self._settled: dict[str, int] = {}

    def __getitem__(self, key: str) -> list[Any]:
        values = self._store._containers.get(key)
        if not values:
            raise KeyError(key)
        if not any_pending():  # no device copies anywhere: nothing to wait for
            return values if isinstance(values, list) else list(values)
        if not isinstance(values, list):  # a bounded deque: copied first (in C: other threads may append)
            return [resolve(value) for value in list(values)]
        # The live list: its values copied from a device are waited for and put in place, once.
        start, end = self._settled.get(key, 0), len(values)
        if start > end:  # cleared since
            start = 0
        for index in range(start, end):
            try:
                value = values[index]
                ready = resolve(value)
                if ready is not value and values[index] is value:
                    values[index] = ready
            except IndexError:  # cleared meanwhile
                break
        self._settled[key] = end
        return values

    def __iter__(self) -> Iterator[str]:
        return iter([key for key, _ in self._store.items()])

    def __len__(self) -> int:
        return len(self._store.items())

    def __repr__(self) -> str:
        return repr({key: self[key] for key in self})

    # -- as the seed's dict: get_local.cache was a plain dict in AnyCapture 0.1.4 ---------------
    def copy(self) -> dict[str, list[Any]]:
        """A plain ``dict`` of the values so far: its lists are copies, which later captures do not change."""
        return {key: list(self[key]) for key in self}

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled (torch.save, multiprocessing) and copied (copy.deepcopy) as a plain dict of lists.
        return (dict, (self.copy(),))

    def clear(self) -> None:
        """Empty the cache, as ``get_local.clear()`` does (``get_local.cache.clear()`` in the seed)."""
        self._store.clear()

    def _refuse(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError(
            "get_local.cache is filled by capture only; copy it (get_local.cache.copy(), a plain dict) to edit "
            "the values, or call get_local.clear() to empty it"
        )

    __setitem__ = __delitem__ = pop = popitem = setdefault = update = _refuse

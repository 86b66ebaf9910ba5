"""Which layer of a model a call ran for: ``LayerIndex(model)``, the module paths of one block."""

from __future__ import annotations

import contextlib
import sys
import types
import weakref
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from . import _engine
from ._values import PLAIN_TYPES

__all__ = ["LayerIndex", "Unresolved"]

_MISSING = _engine.MISSING
_T = TypeVar("_T")
_STACK_DEPTH = 24  # callers searched for the layer a plain function ran in

# Module paths of each model seen: id(module) -> (weak reference to it, path, the path's parts). Kept
# between blocks, since walking named_modules() of a large model costs more than a whole block of
# captures (each block checks the paths it uses: see LayerIndex.begin).
_Entry = tuple[weakref.ref[Any], str, tuple[str, ...]]
_module_paths: _engine.WeakIdMap[dict[int, _Entry]] = _engine.WeakIdMap()


class LayerIndex:
    """The module paths of ``model`` as one block (a ``capture``, ``edit`` or ``capture_attention``
    block) uses them: each checked against the model when first used since the block began or was
    cleared, then answered from a dict."""

    __slots__ = ("_index", "_outside", "_paths", "_reindexed", "model")

    def __init__(self, model: Any) -> None:
        self.model = model
        # The model's paths (kept between blocks: see _module_paths), and those this block has
        # used since it began or was last cleared, each checked against the model when first used.
        self._index: dict[int, _Entry] = {}
        self._paths: dict[int, _Entry] = {}
        self._reindexed = False
        # Modules found outside the model when it was last indexed (see path_of).
        self._outside: dict[int, weakref.ref[Any]] = {}

    def begin(self, clearing: bool = False) -> None:
        """Start a block's paths (``clearing``: after ``clear()``): each is checked again when next used.

        The model's index is kept between blocks, and layers may have been removed, swapped or
        moved since it was made: a path is checked against the model (see check) when first
        used after the block begins or is cleared, then kept until the next clear. A call filed
        one by one uses it as the call returns; calls filed directly, when the block is read.
        """
        if not clearing:
            model = self.model
            entry = _module_paths.get(id(model))  # _module_paths.find, inlined: it runs at every block
            if entry is not None and entry[0]() is model:
                self._index = entry[1]
            else:
                self._index_model()
        self._paths, self._reindexed = {}, False

    def _index_model(self, fresh: bool = False) -> None:
        """Take the model's index kept between blocks (``fresh``: index it again, now)."""
        model = self.model
        if model is None:
            return
        named = getattr(model, "named_modules", None)
        if named is None:
            raise TypeError(f"model= must be a torch nn.Module (anything with named_modules()); got {model!r}")
        paths = None if fresh else _module_paths.find(model)
        if paths is None:
            paths = {
                id(module): (weakref.ref(module), name, tuple(name.split(".")) if name else ())
                for name, module in named()
            }
            with contextlib.suppress(TypeError):  # a model that cannot be weakly referenced: no cache
                _module_paths.put(model, paths)
        self._index = paths
        if fresh:  # the model changed, or has a module it had not: every path is checked again
            self._paths, self._outside, self._reindexed = {}, {}, True

    def check(self, items: Iterable[Sequence[Any]], at: int, missing: Callable[[Any, bool], _T]) -> list[str | _T]:
        """The paths of the modules ``item[at]`` of ``items``, from those this block has used or,
        checked against the model first (see begin), from the index; ``missing(module, moved)`` for one not in the index
        (``moved`` False) or no longer at its path there (True). Runs none of the user's code.

        One call for many: a block's calls filed directly are looked up together at its end (see
        _dispatch._drain), right after a forward, where each Python call costs a microsecond.
        """
        known, index, model, reindexed = self._paths, self._index, self.model, self._reindexed
        found: list[str | _T] = []
        for item in items:
            obj = item[at]
            entry = known.get(id(obj))
            if entry is not None and entry[0]() is obj:
                found.append(entry[1])
                continue
            entry = index.get(id(obj))
            if entry is None or entry[0]() is not obj:
                found.append(missing(obj, False))
                continue
            # Still the submodule at that path? Read from the modules' _modules, as named_modules()
            # reads them (no __getattr__, no user code); a tree that is not torch's is taken as
            # indexed. Once the model was indexed again since the block began or was cleared, the
            # index is as named_modules() names the modules (a model whose names are not its
            # _modules tree always fails the check).
            if not reindexed:
                node = model
                try:
                    for part in entry[2]:
                        node = node._modules.get(part)  # a dict, or the OrderedDict some containers make
                        if node is None:
                            break
                except AttributeError:
                    node = obj
                if node is not obj:
                    found.append(missing(obj, True))
                    continue
            known[id(obj)] = entry
            found.append(entry[1])
        return found

    def _lookup(self, obj: Any) -> str | None:
        (found,) = self.check(((obj,),), 0, _moved)
        if found is True:  # the model changed: index it as it is now
            self._index_model(fresh=True)
            (found,) = self.check(((obj,),), 0, _moved)
        return found if type(found) is str else None

    def path_of(self, obj: Any) -> str | None:
        """``obj``'s path in the model, or None (not a module of it)."""
        if obj is None or self.model is None or type(obj) in PLAIN_TYPES:
            return None
        path = self._lookup(obj)
        if path is not None or not hasattr(obj, "named_modules"):
            return path
        # A module not in the index: added to the model since it was indexed (index the model
        # once more, once since the block began or was cleared), or outside the model (remembered
        # until the model is next indexed, so that a module called outside the model, batch
        # after batch, does not walk the model each time).
        outside = self._outside.get(id(obj))
        if outside is not None and outside() is obj:
            return None
        if not self._reindexed:
            self._index_model(fresh=True)
            path = self._lookup(obj)
            if path is not None:
                return path
        with contextlib.suppress(TypeError):  # not weakly referable: looked for again next time
            self._outside[id(obj)] = weakref.ref(obj)
        return None

    def find_layer(self, module: Any, depth: int, method: bool) -> str | None:
        """The layer of a call whose first argument is ``module``: its path, else, for a plain
        function (F.multi_head_attention_forward), the nearest caller's; none for a method of a
        module outside the model (``method``). ``depth`` is the captured function's frame, counted
        from the caller. Runs per call, inside the model's forward."""
        entry = self._paths.get(id(module))  # check()'s first lookup, inlined: the common case
        if entry is not None and entry[0]() is module:
            return entry[1]
        path = self.path_of(module)
        if path is not None or method:
            return path
        return self.path_from_stack(sys._getframe(depth + 1))

    def path_from_stack(self, frame: types.FrameType | None) -> str | None:
        """The path of the nearest module of the model among the callers' first arguments."""
        for _ in range(_STACK_DEPTH):
            if frame is None:
                return None
            code = frame.f_code
            if code.co_argcount:
                first = _engine.read_local(frame, code.co_varnames[0])
                path = self._lookup(None if first is _MISSING else first)
                if path is not None:
                    return path
            frame = frame.f_back
        return None


def _moved(module: Any, moved: bool) -> bool:
    return moved


class Unresolved:
    """A module not found in the model's index when the calls filed directly were drained, or no
    longer at its path there: its path is looked up when the block makes its records (indexing
    the model again runs the user's ``named_modules``, never run while ``_dispatch_lock`` is held)."""

    __slots__ = ("module",)

    def __init__(self, module: Any) -> None:
        self.module = module

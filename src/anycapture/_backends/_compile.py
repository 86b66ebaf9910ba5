"""Keep ``torch.compile`` working on functions whose code the ``bytecode`` backend rewrote.

TorchDynamo, ``torch.compile``'s front end, traces Python bytecode. It cannot trace the filer calls
the rewriting inserts (it refuses a function as a constant), and the compiled model's call would
raise. So while a function's code is rewritten, and only if the program has imported torch:

- a frame running the rewritten code is skipped by dynamo and runs eagerly, recording the values
  eager mode gives (the functions it calls are still compiled); anycapture's own filers and hooks
  are skipped, with all they call. Under ``fullgraph=True`` torch raises when the call ran no
  compiled frame at all (``torch.compile(Attn(), fullgraph=True)``: the skipped frame was the only
  one): so at each return inside a compiled call (``get_eval_frame_callback()`` is not None, a C
  call the rewritten code makes itself) the code calls a hook which, when this frame ran eagerly
  as such a call's only frame, counts it as the call's frame (the count torch keeps for that
  check, as torch's own eager fallback for higher-order ops sets it) and warns once per block
  that it ran uncompiled;
- a compiling caller that would inline the function graph-breaks at the call instead, and the
  call runs eagerly and records. ``fullgraph=True`` forbids graph breaks: there dynamo inlines
  the function's original code, so the compiled model's outputs are untouched but that model
  records nothing, and one :class:`CaptureWarning` says so;
- a model compiled before capture began may have inlined the original code, and dynamo does not
  guard on ``__code__``, so it keeps running that graph and records nothing. Which graphs did it
  cannot be told, so one warning says it may have happened whenever dynamo has compiled code and
  the function has no compiled code of its own.

Everything here leans on dynamo internals (written against torch 2.13): each is looked up with
``getattr``, and any failure leaves the function as the backend made it, with one warning per
process at most. The return hook reads ``torch._dynamo.eval_frame.dynamo_tls.skip_reasons`` (a
list exactly while a fullgraph call's frame count is checked) and sets the count with
``torch._C._dynamo.eval_frame.set_fullgraph_compiled_frame_count``; without them it does
nothing, and torch raises as it would. torch is never imported here, and nothing runs when the
program has not imported it; ``torch._dynamo`` is only consulted once the program has imported
it (importing it takes about a second). When capture ends, every attribute set here is removed.
"""

from __future__ import annotations

import functools
import sys
from types import CodeType, FunctionType
from typing import TYPE_CHECKING, Any

from .._errors import _PACKAGE_DIR, warn_once

if TYPE_CHECKING:
    from collections.abc import Callable

    from ._base import Target

__all__ = ["Guard", "frame_hook", "installed", "removed"]

_REASON = (
    "anycapture is capturing local variables of this function: calls of it run eagerly, outside "
    "the compiled graph, until capture ends"
)
# Dynamo reads these from a function it is about to inline (torch/_dynamo/variables/functions.py,
# symbolic_convert.py): ``_torchdynamo_inline`` is traced in the function's place, and a true
# ``_torchdynamo_disable`` makes the call a graph break, with the message in its explanation.
_INLINE, _DISABLE, _DISABLE_MSG = "_torchdynamo_inline", "_torchdynamo_disable", "_torchdynamo_disable_msg"
_NAMES = (_INLINE, _DISABLE, _DISABLE_MSG)

_failures: set[object] = set()
# The constants a compiler puts in code, which are never anycapture's filers (skipped unlooked-at: the
# search runs at every capture block's start while torch is imported).
_NOT_CALLABLE = frozenset({str, int, float, complex, bytes, bool, tuple, frozenset, type(None), type(...)})


class Guard:
    """What the guard did to one captured function, kept by the rewriting backend with its code.

    Not on the engine's ``Target``: only the backend that rewrites code needs it."""

    __slots__ = ("dynamo_attributes", "gate", "skipped_code")

    def __init__(self) -> None:
        # The rewritten code it last told dynamo to skip (the backend reuses its code block after block).
        self.skipped_code: CodeType | None = None
        # While capturing, whether it set dynamo's attributes on the function (None: nothing done
        # yet; False: the function has dynamo settings of its own, left alone).
        self.dynamo_attributes: bool | None = None
        self.gate: _Gate | None = None  # made once; it holds no reference to the function


class _Gate:
    """A captured function's ``_torchdynamo_disable``: dynamo evaluates it when it would inline
    the function, and graph-breaks at the call when it is true.

    True, so the call runs eagerly and records; false only while dynamo traces with
    ``fullgraph=True`` (where a graph break is an error), so that dynamo inlines the original
    code (its ``_torchdynamo_inline`` twin) and the compiled model runs unchanged; then it warns.

    Its ``compile_hook`` is ``(guard, hook)``: the rewritten code calls ``hook()`` at returns
    where ``guard()`` is not None, inside a compiled call (see :func:`_return_hook`); None for a
    torch without them.
    """

    __slots__ = ("compile_hook", "label", "marks", "warned")

    def __init__(self, label: str, eval_frame: Any) -> None:
        self.label = label
        self.warned: set[object] = set()
        # What is set on the function and its twin at each block's start (see installed)
        self.marks = {_DISABLE: self, _DISABLE_MSG: _REASON}
        count = getattr(eval_frame, "set_fullgraph_compiled_frame_count", None)
        guard = getattr(eval_frame, "get_eval_frame_callback", None)
        self.compile_hook: tuple[Callable[[], Any], Callable[[], None]] | None = None
        if count is not None and guard is not None:
            self.compile_hook = (guard, _return_hook(label, count, self.warned))

    def __bool__(self) -> bool:
        try:
            if not _fullgraph():
                return True
        except Exception:  # cannot tell: a graph break is the safe answer
            return True
        warn_once(
            self.warned,
            "fullgraph",
            f"torch.compile(fullgraph=True) compiled {self.label} into a graph while anycapture was "
            "capturing from it; a graph cannot call back into Python, so calls of it from that compiled "
            "model record nothing (the model's outputs are unchanged). Compile with fullgraph=False, or "
            "call the uncompiled model while capturing, to capture them.",
            stacklevel=None,
        )
        return False


def _return_hook(label: str, count: Any, warned: set[object]) -> Callable[[], None]:
    """The call at each return of the rewritten code inside a compiled call, ``count`` being
    torch's ``set_fullgraph_compiled_frame_count``.

    Inside a ``torch.compile(fullgraph=True)`` call that has run no compiled frame so far, the
    returning frame (which dynamo skipped: it ran eagerly) was that call's frame: count it, so that
    torch does not raise "found no compiled frames" after the call ran and recorded eager's values,
    and warn once per block. Never raises: it runs inside the user's function.
    """
    # dynamo's thread-local state, once the program has imported torch._dynamo (False: this torch
    # has none, and the hook does nothing)
    tls: Any = None

    def at_return() -> None:
        nonlocal tls
        try:
            if tls is None:
                frames = sys.modules.get("torch._dynamo.eval_frame")
                if frames is None:  # dynamo never ran: no torch.compile call is on
                    return
                tls = getattr(frames, "dynamo_tls", False)
            # a list exactly while this thread is in a fullgraph call whose frame count torch checks
            if getattr(tls, "skip_reasons", None) is None:
                return
            # torch's setter switches the count on (>= 0) only from off (-1): off, then set it back
            previous = count(-1)
            count(1 if previous == 0 else previous)
            if previous != 0:  # compiled frames ran (or the check is off): the count is as it was
                return
        except Exception:
            return
        warn_once(
            warned,
            "eager",
            f"torch.compile(fullgraph=True) ran {label} uncompiled, in eager mode, while anycapture was "
            "capturing from it: dynamo cannot compile the rewritten code, so the values recorded and the "
            "model's outputs are eager mode's. It runs compiled again once capture ends.",
            stacklevel=None,
        )

    return at_return


def _fullgraph() -> bool:
    """Whether dynamo is tracing now with graph breaks forbidden (``fullgraph=True`` and the like)."""
    convert = sys.modules.get("torch._dynamo.symbolic_convert")
    if convert is None:
        return False
    tx = convert.InstructionTranslator.current_tx()
    return bool(getattr(tx, "one_graph", False) or getattr(tx, "error_on_graph_break", False))


def frame_hook(guard: Guard, target: Target) -> tuple[Callable[[], Any], Callable[[], None]] | None:
    """``(guard, hook)``: at each return the rewritten code calls ``hook()`` when ``guard()`` (a C
    call) is not None (see :func:`_return_hook`). Only while the program has imported torch, and
    torch has what the hook needs; else None, and the code has neither."""
    torch = sys.modules.get("torch")
    if torch is None:  # the usual case, kept to one lookup
        return None
    return _gate(guard, target, torch).compile_hook


def _gate(guard: Guard, target: Target, torch: Any) -> _Gate:
    """``target``'s gate, made once."""
    gate = guard.gate
    if gate is None:
        try:
            eval_frame = torch._C._dynamo.eval_frame
        except Exception:  # not this torch: torch.compile(fullgraph=True) of the function raises
            eval_frame = None
        gate = guard.gate = _Gate(target.label, eval_frame)
    return gate


def installed(guard: Guard, target: Target, func: FunctionType, code: CodeType) -> None:
    """``func`` now runs ``code``, the rewritten code: keep dynamo from tracing it.

    What was done is kept in ``guard`` (not in weak mappings of our own: a capture block runs this
    at each start, inside the user's loop)."""
    torch = sys.modules.get("torch")
    if torch is None:  # the usual case, kept to one lookup
        return
    try:
        if guard.skipped_code is not code:  # the backend reuses its code block after block
            _skip_frames(torch, code)
            guard.skipped_code = code
        if guard.dynamo_attributes is None:
            # At every block's start, right after a forward: each Python call here costs about 3 us
            # (3.11), so the usual cases make none (the gate is made once; dynamo has compiled nothing).
            gate = guard.gate
            if gate is None:
                gate = _gate(guard, target, torch)
            # Make a compiling caller graph-break at calls of ``func`` (the gate says so), or under
            # ``fullgraph=True`` inline its original code; a function with dynamo settings of its
            # own is left alone. Here, not in a helper: see above.
            attributes = vars(func)
            gate.warned.clear()  # it warns once per block
            if not attributes.keys().isdisjoint(_NAMES):
                guard.dynamo_attributes = False
            else:
                guard.dynamo_attributes = True  # before any is set: removed() takes them off if this is cut short
                # Not cached: the twin shares the function's globals, which usually hold the function
                # itself, so a cache keyed by the function would keep it alive for good.
                twin = FunctionType(
                    target.original_code, func.__globals__, func.__name__, func.__defaults__, func.__closure__
                )
                twin.__kwdefaults__ = func.__kwdefaults__
                twin.__qualname__, twin.__module__ = func.__qualname__, func.__module__
                # Dynamo checks the gate on what it would inline (the twin); on ``func`` too, for a
                # dynamo that looks there. Set as dict updates, the marks made once with the gate.
                vars(twin).update(gate.marks)
                attributes.update(gate.marks)
                attributes[_INLINE] = twin
            convert = sys.modules.get("torch._dynamo.convert_frame")
            # the ids of the code dynamo compiled that lives, where kept: none, nothing can have inlined it
            if convert is not None and getattr(getattr(convert, "output_codes", None), "seen_ids", True):
                _warn_if_compiled_before(target, torch)
    except Exception as exc:
        warn_once(
            _failures,
            "failed",
            f"anycapture could not keep torch.compile from tracing {target.label} "
            f"({type(exc).__name__}: {exc}); a model compiled with torch.compile that calls it may fail "
            "while capture is on",
            stacklevel=None,
        )


def removed(guard: Guard, func: FunctionType | None) -> None:
    """Capture of ``func`` ended: remove what :func:`installed` set on it."""
    if func is not None and guard.dynamo_attributes:
        attributes = vars(func)
        attributes.pop(_INLINE, None)
        attributes.pop(_DISABLE, None)
        attributes.pop(_DISABLE_MSG, None)
    guard.dynamo_attributes = None  # only now: a removal an interrupt cut short is run again


def _skip_frames(torch: Any, code: CodeType) -> None:
    """Frames running ``code`` run eagerly (their callees are still compiled); frames of
    anycapture's filers and hooks it calls run eagerly, and so does all they call."""
    frames = torch._C._dynamo.eval_frame
    strategy, action = frames._FrameExecStrategy, frames._FrameAction
    frames.set_code_exec_strategy(code, strategy(action.SKIP, action.DEFAULT))
    for own in _own_code(code.co_consts):
        frames.set_code_exec_strategy(own, strategy(action.SKIP, action.SKIP))


def _own_code(constants: tuple[Any, ...]) -> list[CodeType]:
    """Code objects of anycapture's callables among ``constants`` (the filers the rewriting inserted)."""
    found = []
    for constant in constants:
        if type(constant) in _NOT_CALLABLE or isinstance(constant, CodeType):  # CodeType: the user's nested code
            continue
        # a collector is a partial of a method; a packed one's object calls its ``late`` once redirected
        function = getattr(constant, "late", constant)
        while isinstance(function, functools.partial):
            function = function.func
        function = getattr(function, "__func__", function)
        code = getattr(function, "__code__", None)
        if code is None:  # an instance with a Python __call__ (the bytecode backend's hooks)
            call = getattr(type(constant), "__call__", None)  # noqa: B004 - its code, not whether callable
            code = getattr(call, "__code__", None)
        if isinstance(code, CodeType) and code.co_filename.startswith(_PACKAGE_DIR):
            found.append(code)
    return found


def _warn_if_compiled_before(target: Target, torch: Any) -> None:
    """Warn once when a graph compiled before capture began may have inlined the function."""
    compiled = getattr(sys.modules["torch._dynamo.convert_frame"], "output_codes", None)  # see installed()
    for ref in getattr(compiled, "seen", ()):  # a loop, not any(): this runs at every block's start
        if ref() is not None:
            break
    else:
        return
    if torch._C._dynamo.eval_frame._debug_get_cache_entry_list(target.original_code):
        return  # compiled as a frame of its own: that is swapped out with the code, and records
    warn_once(
        set(),
        None,
        f"torch.compile has compiled code in this process, and {target.label} has no compiled code of its "
        "own: if a model compiled before capture began inlined it, that model keeps running its compiled "
        "graph, and its calls of it record nothing (its outputs are unchanged). To capture them, start "
        "capturing before the model first runs under torch.compile, or call torch._dynamo.reset() after "
        "capture begins.",
        stacklevel=None,
    )

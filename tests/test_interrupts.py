"""Ctrl-C at any instant while capture ends, starts or is switched leaves nothing behind (issue 17).

A trace function raises ``KeyboardInterrupt`` at one line that anycapture executes during the path
under test, as the default SIGINT handler does when Ctrl-C lands there: first a tracing pass lists
the lines (each occurrence of each line of anycapture's files, in order), then one run per point
interrupts there, in this process, each with fresh functions, folders and blocks. After each run:
the interrupt reached the caller; the function runs its original code (or the code of the capture
still open on it); no ``sys.monitoring`` tool id or event of anycapture is left; later calls are
recorded by no block that ended; retrying ``close()`` / ``deactivate()`` converges; a folder ends
complete with every record. The one point allowed to leave work undone is the path's first line
(the first bytecode of ``__exit__``, which no Python code can guard): there the retry must finish.

The suite runs a deterministic sample of the points (every ``STRIDE``-th, at most about 60 a path,
and the first and last); ``ANYCAPTURE_FULL_SWEEP=1`` runs them all, and ``python
tests/test_interrupts.py`` runs the full sweep on every backend and prints the table quoted in
docs/guarantees.md (``--everywhere``: at the standard library's lines too; ``--signals N``: N real
SIGALRM interrupts a path, at random instants, instead). Any trace function already installed
(coverage, a debugger) is saved and put back around each run.
"""

from __future__ import annotations

import gc
import json
import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import CodeType, FrameType, FunctionType
from typing import Any

import pytest

import anycapture
from anycapture import capture, get_local

PACKAGE_DIR = str(Path(anycapture.__file__).resolve().parent) + os.sep
STRIDE = 7  # the suite's sample: every 7th point
Point = tuple[str, int, int]  # (file, line, occurrence of that line: 1 for the first)


# -- the injector --------------------------------------------------------------------------------


_WITH_EXITS: dict[Any, frozenset[int]] = {}


def _leaving_with(frame: FrameType) -> bool:
    """Whether ``frame`` is about to call a ``with`` block's ``__exit__`` (``LOAD_CONST None`` x 3).

    The interpreter reports a line event there, but never checks for signals there (it does at a
    function's start, a backward jump and after a call): an exception raised there would skip the
    ``__exit__`` (a lock left held), which no Ctrl-C can do. So no point is placed there.
    """
    code = frame.f_code
    exits = _WITH_EXITS.get(code)
    if exits is None:
        import dis

        instructions = list(dis.get_instructions(code))
        found: set[int] = set()
        for index, first in enumerate(instructions):
            nones = instructions[index : index + 3]
            if len(nones) == 3 and all(i.opname == "LOAD_CONST" and i.argval is None for i in nones):
                found.add(first.offset)
                # A ``return`` inside the block keeps its value under the exit's arguments: a SWAP
                # (on the with statement's line) comes first.
                if index and instructions[index - 1].opname == "SWAP":
                    found.add(instructions[index - 1].offset)
        exits = frozenset(found)
        _WITH_EXITS[code] = exits
    return frame.f_lasti in exits


def _in_gc_callback(frame: FrameType | None) -> bool:
    """Whether ``frame`` runs under a weak reference's callback (a captured function being
    garbage-collected, or an entry of the engine's ``WeakIdMap`` forgotten) or a function of
    ``gc.callbacks`` (hypothesis registers one): the collector runs it at an instant of its own, not
    on the path, and CPython does not let an exception out of it (docs/guarantees.md), so no point
    is placed there."""
    registered = {getattr(callback, "__code__", None) for callback in gc.callbacks}
    while frame is not None:
        if frame.f_code in _GC_CALLBACKS or frame.f_code in registered:
            return True
        frame = frame.f_back
    return False


_GC_CALLBACKS = frozenset(
    {
        anycapture._engine.Target._on_collected.__code__,
        *(
            const
            for const in anycapture._engine.WeakIdMap.put.__code__.co_consts
            if isinstance(const, CodeType) and const.co_name == "forget"
        ),
    }
)
assert len(_GC_CALLBACKS) == 2, "WeakIdMap.put's forget callback not found"


class Injector:
    """A trace function over anycapture's own frames: lists the lines run, or interrupts at one."""

    def __init__(self, at: Point | None = None, *, everywhere: bool = False) -> None:
        self.at = at
        self.everywhere = everywhere  # also the lines of what anycapture calls (the standard library's)
        self.points: list[Point] = []
        self.fired = False
        self._seen: dict[tuple[str, int], int] = {}

    def _global(self, frame: FrameType, event: str, arg: Any) -> Any:
        filename = frame.f_code.co_filename
        if filename.startswith(PACKAGE_DIR) or (self.everywhere and filename != __file__):
            return None if _in_gc_callback(frame) else self._local
        return None

    def _local(self, frame: FrameType, event: str, arg: Any) -> Any:
        if event == "line" and not _leaving_with(frame):
            key = (frame.f_code.co_filename, frame.f_lineno)
            count = self._seen[key] = self._seen.get(key, 0) + 1
            point = (*key, count)
            if self.at is None:
                self.points.append(point)
            elif point == self.at:
                self.fired = True
                raise KeyboardInterrupt  # the trace function is removed by the interpreter here
        return self._local

    def run(self, action: Callable[[], object]) -> BaseException | None:
        """Run ``action`` traced (this thread only); the exception it raised, if any."""
        previous = sys.gettrace()
        sys.settrace(self._global)
        try:
            action()
        except BaseException as exc:
            return exc
        finally:
            sys.settrace(previous)
        return None


# -- what every scenario checks --------------------------------------------------------------------


SOURCE = """
def f(x):
    y = x * 2
    return y + 1

def g(x):
    z = x + 100
    return z
"""


def fresh_functions() -> tuple[FunctionType, FunctionType]:
    """New ``f`` and ``g`` with code objects of their own (so no run shares state with another)."""
    namespace: dict[str, Any] = {"__name__": "interrupt_sweep"}
    exec(compile(SOURCE, "<interrupt sweep>", "exec"), namespace)
    return namespace["f"], namespace["g"]


def monitoring_left() -> list[str]:
    """anycapture's sys.monitoring tool ids still in use (3.12+)."""
    if sys.version_info < (3, 12):
        return []
    return [
        f"sys.monitoring tool {tool} still held" for tool in range(6) if sys.monitoring.get_tool(tool) == "anycapture"
    ]


def code_is(func: FunctionType, original: Any, what: str) -> list[str]:
    return [] if func.__code__ is original else [f"{what}: {func.__name__}.__code__ is not its original code"]


def unhooked(block: Any) -> list[str]:
    """Whether any dispatcher still hands values to ``block``'s recorders."""
    problems = []
    for recorder in getattr(block, "_recorders", []):
        dispatcher = recorder.dispatcher
        if recorder in dispatcher.recorders or recorder in dispatcher.each_recorders:
            problems.append(f"the ended block's recorder of {recorder.label} is still in its dispatcher")
        if dispatcher._direct_recorder is recorder or any(
            sink.append == recorder.direct.append for sink in dispatcher._filers.values()
        ):
            problems.append(f"the function {recorder.label} still files directly into the ended block")
    return problems


def folder_problems(folder: Path, expected: int) -> list[str]:
    index = json.loads((folder / "index.json").read_text())
    problems = []
    if not index["complete"]:
        problems.append(f"{folder.name}: index says incomplete")
    if index["records"] != expected:
        problems.append(f"{folder.name}: {index['records']} records on disk, not {expected}")
    if problems:
        return problems
    stored = anycapture.open_captures(folder)
    if len(stored.records) != expected:
        problems.append(f"{folder.name}: {len(stored.records)} records read back, not {expected}")
    return problems


@dataclass
class Run:
    """One scenario's objects, made fresh for each run."""

    funcs: tuple[FunctionType, ...] = ()
    originals: tuple[Any, ...] = ()
    blocks: list[Any] = field(default_factory=list)
    folder: Path | None = None
    writer: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


class Scenario:
    """A path to interrupt: ``setup`` makes a run, ``act`` is the traced call, the rest check."""

    name = ""
    rewriting_only = False  # needs the bytecode backend (when="each", edit)
    needs_torch = False

    def setup(self) -> Run:
        raise NotImplementedError

    def act(self, run: Run) -> None:
        raise NotImplementedError

    def after_interrupt(self, run: Run) -> list[str]:
        """What must hold right after the interrupt reached the caller."""
        raise NotImplementedError

    def retry(self, run: Run) -> None:
        raise NotImplementedError

    def final(self, run: Run) -> list[str]:
        """What must hold after the retry."""
        raise NotImplementedError

    def cleanup(self, run: Run) -> None:
        if run.folder is not None:
            shutil.rmtree(run.folder, ignore_errors=True)


CALLS = 3  # calls made inside a block before it ends


class BlockEnd(Scenario):
    """A ``capture`` block's end (``__exit__``), in one of several shapes."""

    def __init__(self, shape: str) -> None:
        self.shape = shape
        self.name = f"capture exit ({shape})"
        self.rewriting_only = shape == "each"

    def open_block(self, run: Run) -> Any:
        f, g = run.funcs
        shape = self.shape
        if shape in ("raw", "nested", "under get_local"):
            return capture(f, "y", values="raw")
        if shape == "reduce":
            return capture(f, "y", values="raw", reduce=lambda v: v + 0)
        if shape == "two targets":
            return capture({f: "y", g: "z"}, values="raw")
        if shape == "each":
            return capture(f, "y", values="raw", when="each")
        assert run.folder is not None
        if shape == "sink folder":
            return capture(f, "y", sink=run.folder / "block")
        if shape == "sink writer":
            run.writer = anycapture.Writer(run.folder / "shared", rank=None)
            return capture(f, "y", sink=run.writer)
        raise AssertionError(shape)

    def setup(self) -> Run:
        run = Run(funcs=fresh_functions())
        run.originals = tuple(func.__code__ for func in run.funcs)
        if self.shape.startswith("sink"):
            run.folder = Path(tempfile.mkdtemp(prefix="anycapture-sweep-"))
        f, g = run.funcs
        if self.shape == "nested":
            outer = capture(f, "y", values="raw")
            outer.__enter__()
            run.extra["outer"] = outer
        if self.shape == "under get_local":
            get_local("y")(f)
            get_local.activate(values="raw")
            run.extra["get_local"] = True
        block = self.open_block(run)
        block.__enter__()
        run.blocks.append(block)
        for i in range(CALLS):
            f(i)
            g(i)
        return run

    def act(self, run: Run) -> None:
        run.blocks[0].__exit__(None, None, None)

    def after_interrupt(self, run: Run) -> list[str]:
        f, g = run.funcs
        block = run.blocks[0]
        problems = unhooked(block) + code_is(g, run.originals[1], "after the interrupt")
        if "outer" not in run.extra and "get_local" not in run.extra:
            problems += code_is(f, run.originals[0], "after the interrupt") + monitoring_left()
        before = self.count(run)
        kept_by_get_local = len(get_local.cache.get("f.y", []))
        f(100)
        g(100)
        run.extra["later"] = 1
        if self.count(run) != before:
            problems.append("the ended block received a later call")
        if "outer" in run.extra and len(run.extra["outer"]["f.y"]) != CALLS + 1:
            problems.append("the outer block, still open, missed a call")
        if "get_local" in run.extra and len(get_local.cache.get("f.y", [])) != kept_by_get_local + 1:
            problems.append("get_local, still on, missed a call")
        return problems

    def count(self, run: Run) -> int:
        block = run.blocks[0]
        if block._sink is not None:
            return 0  # what a sink received is counted on disk, after the retry (see final)
        return (
            sum(len(records) for records in block._records.values())
            + len(block._pending)
            + sum(len(recorder.direct) for recorder in block._recorders)
        )

    def retry(self, run: Run) -> None:
        run.blocks[0].close()
        if "outer" in run.extra:
            run.extra["outer"].__exit__(None, None, None)
        if run.extra.get("get_local"):
            get_local.deactivate()
        if run.writer is not None:
            run.writer.close()

    def final(self, run: Run) -> list[str]:
        f, g = run.funcs
        block = run.blocks[0]
        problems = code_is(f, run.originals[0], "after the retry") + code_is(g, run.originals[1], "after the retry")
        problems += monitoring_left() + unhooked(block)
        if block._active:
            problems.append("the block is still active after close()")
        if self.shape.startswith("sink"):
            assert run.folder is not None
            problems += folder_problems(run.folder / ("block" if self.shape == "sink folder" else "shared"), CALLS)
        else:
            got = sorted(record.value for record in block.records if record.key.endswith("f.y"))
            if got != [2 * i for i in range(CALLS)]:
                problems.append(f"the block holds f's values {got}, not {[2 * i for i in range(CALLS)]}")
        if "outer" in run.extra and len(run.extra["outer"]["f.y"]) != CALLS + run.extra.get("later", 0):
            problems.append("the outer block did not keep its own calls")
        return problems

    def cleanup(self, run: Run) -> None:
        for block in [*run.blocks, run.extra.get("outer")]:
            if block is not None:
                block.close(report=False)
        if run.extra.get("get_local"):
            get_local.deactivate()
            get_local.clear()
            get_local._registry.pop(run.funcs[0], None)
        if run.writer is not None:
            run.writer.close()
        super().cleanup(run)


def threads_left(before: int) -> list[str]:
    """Threads started since ``before`` (``_thread._count()``) still running after a moment: a writer's."""
    import _thread
    import time

    deadline = time.monotonic() + 2
    while _thread._count() > before and time.monotonic() < deadline:
        time.sleep(0.005)
    return [f"{_thread._count() - before} thread(s) left running"] if _thread._count() > before else []


class BlockStart(Scenario):
    """A ``capture`` block's start (``__enter__``): interrupted, the block is not on."""

    def __init__(self, sink: bool = False) -> None:
        self.sink = sink  # sink= a folder: the block opens its own Writer as it starts
        self.name = "capture enter (sink folder)" if sink else "capture enter"

    def setup(self) -> Run:
        import _thread

        run = Run(funcs=fresh_functions())
        run.originals = tuple(func.__code__ for func in run.funcs)
        kwargs: dict[str, Any] = {"values": "raw"}
        if self.sink:
            run.folder = Path(tempfile.mkdtemp(prefix="anycapture-sweep-"))
            kwargs = {"sink": run.folder / "block"}
        run.blocks.append(capture({run.funcs[0]: "y", run.funcs[1]: "z"}, **kwargs))
        run.extra["threads"] = _thread._count()
        return run

    def act(self, run: Run) -> None:
        run.blocks[0].__enter__()

    def after_interrupt(self, run: Run) -> list[str]:
        f, g = run.funcs
        block = run.blocks[0]
        problems = code_is(f, run.originals[0], "after the interrupt") + code_is(g, run.originals[1], "after")
        problems += monitoring_left() + unhooked(block)
        if block._active:
            problems.append("the block is active though __enter__ was interrupted")
        f(1)
        if self.sink:
            problems += threads_left(run.extra["threads"])
            # The folder is as it was (absent or empty: the block can begin again), or a complete
            # capture of nothing (the block's writer was opened, then closed as __enter__ failed).
            assert run.folder is not None
            folder = run.folder / "block"
            if folder.exists() and any(folder.iterdir()):
                problems += folder_problems(folder, 0)
                shutil.rmtree(folder)  # so that the retry may use it again
        elif len(block.records):
            problems.append("a block whose __enter__ was interrupted received a call")
        return problems

    def retry(self, run: Run) -> None:
        with run.blocks[0]:
            run.funcs[0](5)
            run.funcs[1](5)

    def final(self, run: Run) -> list[str]:
        f, g = run.funcs
        block = run.blocks[0]
        problems = code_is(f, run.originals[0], "after the retry") + code_is(g, run.originals[1], "after the retry")
        problems += monitoring_left()
        if self.sink:
            assert run.folder is not None
            return problems + folder_problems(run.folder / "block", 2) + threads_left(run.extra["threads"])
        if [r.value for r in block.records] != [10, 105]:
            problems.append(f"the retried block holds {[r.value for r in block.records]}, not [10, 105]")
        return problems

    def cleanup(self, run: Run) -> None:
        run.blocks[0].close(report=False)
        super().cleanup(run)


class WriterOpen(Scenario):
    """``Writer()`` itself: interrupted, it leaves no thread running and the folder as it was."""

    name = "Writer()"

    def setup(self) -> Run:
        import _thread

        run = Run(folder=Path(tempfile.mkdtemp(prefix="anycapture-sweep-")))
        run.extra["threads"] = _thread._count()
        return run

    def act(self, run: Run) -> None:
        assert run.folder is not None
        run.writer = anycapture.Writer(run.folder / "w", rank=None)

    def after_interrupt(self, run: Run) -> list[str]:
        assert run.folder is not None
        problems = threads_left(run.extra["threads"])
        if run.writer is not None:
            problems.append("Writer() returned though interrupted")
        folder = run.folder / "w"
        if folder.exists() and any(folder.iterdir()):
            problems.append(f"the folder holds {sorted(p.name for p in folder.iterdir())}, not nothing")
        if any(writer.folder == folder for writer in anycapture._disk._writers):
            problems.append("the writer is still registered as open")
        return problems

    def retry(self, run: Run) -> None:
        import numpy as np

        self.act(run)
        for i in range(5):
            run.writer.write({"key": "k", "call": i}, np.full(4, float(i)))
        run.writer.close()

    def final(self, run: Run) -> list[str]:
        assert run.folder is not None
        return folder_problems(run.folder / "w", 5) + threads_left(run.extra["threads"])

    def cleanup(self, run: Run) -> None:
        if run.writer is not None:
            run.writer.close()
        super().cleanup(run)


class GetLocalSwitch(Scenario):
    """``get_local.activate()`` or ``deactivate()``."""

    def __init__(self, switch: str) -> None:
        self.switch = switch
        self.name = f"get_local.{switch}()"

    def setup(self) -> Run:
        run = Run(funcs=fresh_functions())
        run.originals = tuple(func.__code__ for func in run.funcs)
        f, g = run.funcs
        get_local("y")(f)
        get_local("z")(g)
        if self.switch == "deactivate":
            get_local.activate(values="raw")
            f(1)
        return run

    def act(self, run: Run) -> None:
        if self.switch == "activate":
            get_local.activate(values="raw")
        else:
            get_local.deactivate()

    def after_interrupt(self, run: Run) -> list[str]:
        # Interrupted, either switch leaves capture off: activate() does not leave it half on. (A
        # real signal may also land after activate() did its work, as its lock is released: then
        # capture is fully on, each call recorded once.)
        f, g = run.funcs
        if get_local.is_activated() and self.switch == "activate":
            before = {key: len(values) for key, values in get_local.cache.items()}
            f(50)
            g(50)
            after = {key: len(values) for key, values in get_local.cache.items()}
            if after.get("f.y", 0) != before.get("f.y", 0) + 1 or after.get("g.z", 0) != before.get("g.z", 0) + 1:
                return [f"capture is on after the interrupt, but one call each recorded {after} (before: {before})"]
            return []
        problems = []
        if get_local.is_activated():
            problems.append("is_activated() is True after the interrupt")
        problems += code_is(f, run.originals[0], "after the interrupt") + code_is(g, run.originals[1], "after")
        problems += monitoring_left()
        before = {key: list(values) for key, values in get_local.cache.items()}
        f(50)
        g(50)
        if {key: list(values) for key, values in get_local.cache.items()} != before:
            problems.append("a call made while capture is off was recorded")
        return problems

    def retry(self, run: Run) -> None:
        f, g = run.funcs
        get_local.deactivate()
        get_local.clear()
        get_local.activate(values="raw")
        f(20)
        g(20)
        run.extra["cache"] = {key: list(values) for key, values in get_local.cache.items()}
        get_local.deactivate()

    def final(self, run: Run) -> list[str]:
        f, g = run.funcs
        problems = code_is(f, run.originals[0], "after the retry") + code_is(g, run.originals[1], "after the retry")
        problems += monitoring_left()
        cache = run.extra["cache"]
        if cache.get("f.y") != [40] or cache.get("g.z") != [120]:
            problems.append(f"after activate() again one call each recorded {cache}, not f.y [40], g.z [120]")
        return problems

    def cleanup(self, run: Run) -> None:
        get_local.deactivate()
        get_local.clear()
        for func in run.funcs:
            get_local._registry.pop(func, None)


def add_thousand(value: Any) -> Any:
    return value + 1000


class GetLocalSetting(Scenario):
    """A change of ``get_local``'s settings while capture is on: ``set_size()``, ``set_collate_fn()``,
    or decorating a function; cut short, it is finished (or not begun): each call recorded once."""

    def __init__(self, change: str) -> None:
        self.change = change
        self.name = f"get_local.{change}() while on" if change != "decorate" else "get_local decorating while on"

    def setup(self) -> Run:
        run = Run(funcs=fresh_functions())
        run.originals = tuple(func.__code__ for func in run.funcs)
        f, g = run.funcs
        get_local("y")(f)
        if self.change != "decorate":
            get_local("z")(g)
        get_local.activate(values="raw")
        f(1)
        g(1)
        return run

    def act(self, run: Run) -> None:
        if self.change == "set_size":
            get_local.set_size(5)
        elif self.change == "set_collate_fn":
            get_local.set_collate_fn(add_thousand)
        else:
            get_local("z")(run.funcs[1])

    def once_each(self, run: Run, x: int, what: str) -> list[str]:
        """One call of f and of g: each recorded once, into the lists the cache shows, per the settings."""
        f, g = run.funcs
        collate = get_local._options.collate_fn is not None
        wanted = {"f.y": 2 * x + (1000 if collate else 0)}
        if g in get_local._registry and "z" in get_local._registry[g]:
            wanted["g.z"] = x + 100 + (1000 if collate else 0)
        elif g.__code__ is not run.originals[1]:
            return [f"{what}: g is not registered, yet does not run its own code"]
        before = {key: list(get_local.cache.get(key, [])) for key in ("f.y", "g.z")}
        f(x)
        g(x)
        problems = []
        for key in ("f.y", "g.z"):
            got = list(get_local.cache.get(key, []))
            size = get_local._store.max_size
            expected = before[key] + ([wanted[key]] if key in wanted else [])
            if size is not None:
                expected = expected[-size:]
            if got != expected:
                problems.append(f"{what}: {key} holds {got}, not {expected}")
        return problems

    def after_interrupt(self, run: Run) -> list[str]:
        problems = [] if get_local.is_activated() else ["capture was turned off"]
        return problems + self.once_each(run, 50, "after the interrupt")

    def retry(self, run: Run) -> None:
        self.act(run)

    def final(self, run: Run) -> list[str]:
        problems = self.once_each(run, 7, "after the retry")
        if self.change == "set_size" and get_local._store.max_size != 5:
            problems.append(f"max_size is {get_local._store.max_size}, not 5")
        if self.change == "set_collate_fn" and get_local._options.collate_fn is not add_thousand:
            problems.append("the collate function is not the one set")
        get_local.deactivate()
        f, g = run.funcs
        return problems + code_is(f, run.originals[0], "after deactivate()") + code_is(g, run.originals[1], "after")

    def cleanup(self, run: Run) -> None:
        get_local.deactivate()
        get_local.clear()
        get_local.set_size(None)
        get_local.set_collate_fn(None)
        for func in run.funcs:
            get_local._registry.pop(func, None)


class Gather(Scenario):
    """``distributed.gather`` of a block (one process: no collective), which reads the block's records."""

    name = "distributed.gather (one process)"

    def setup(self) -> Run:
        run = Run(funcs=fresh_functions())
        block = capture(run.funcs[0], "y", values="raw")
        with block:
            for i in range(CALLS):
                run.funcs[0](i)
        run.blocks.append(block)
        return run

    def act(self, run: Run) -> None:
        from anycapture import distributed

        run.extra["gathered"] = distributed.gather(run.blocks[0])

    def after_interrupt(self, run: Run) -> list[str]:
        got = [record.value for record in run.blocks[0].records]
        return [] if got == [2 * i for i in range(CALLS)] else [f"the block now holds {got}"]

    def retry(self, run: Run) -> None:
        self.act(run)

    def final(self, run: Run) -> list[str]:
        got = [record.value for record in run.extra["gathered"]]
        return [] if got == [2 * i for i in range(CALLS)] else [f"gather() gave {got}"]


class WriterClose(Scenario):
    """``Writer.close()`` with records still on their way to disk."""

    name = "Writer.close()"
    RECORDS = 100

    def setup(self) -> Run:
        import numpy as np

        run = Run(folder=Path(tempfile.mkdtemp(prefix="anycapture-sweep-")))
        run.writer = anycapture.Writer(run.folder / "w", rank=None, shard_bytes=2048)
        for i in range(self.RECORDS):
            run.writer.write({"key": "k", "call": i}, np.full(8, float(i)))
        return run

    def act(self, run: Run) -> None:
        run.writer.close()

    def after_interrupt(self, run: Run) -> list[str]:
        writer = run.writer
        problems = []
        if writer._closed and not (writer._finished or writer._forked):
            problems.append("the writer says closed before its records are on disk")
        if not writer._closed and not writer._finalizer.still_active():
            problems.append("the writer is not closed, and its at-exit close was cancelled")
        return problems

    def retry(self, run: Run) -> None:
        run.writer.close()

    def final(self, run: Run) -> list[str]:
        assert run.folder is not None
        problems = [] if run.writer._closed else ["a second close() did not close the writer"]
        if run.writer._finalizer.still_active():
            problems.append("the at-exit close is still armed after close()")
        return problems + folder_problems(run.folder / "w", self.RECORDS)

    def cleanup(self, run: Run) -> None:
        run.writer.close()
        super().cleanup(run)


class _BlockPhase(Scenario):
    """A block's start (``phase="enter"``) or end (``"exit"``): the interrupt lands in that method."""

    label = ""

    def __init__(self, phase: str) -> None:
        self.phase = phase
        self.name = f"{self.label} {phase}"

    def act(self, run: Run) -> None:
        if self.phase == "exit":
            run.blocks[0].__exit__(None, None, None)
        else:
            run.blocks[0].__enter__()


class EditBlock(_BlockPhase):
    """An ``edit`` block's start or end (bytecode only)."""

    rewriting_only = True
    label = "edit"

    def setup(self) -> Run:
        run = Run(funcs=fresh_functions())
        run.originals = tuple(func.__code__ for func in run.funcs)
        block = anycapture.edit(run.funcs[0], "y", lambda v: -v)
        run.blocks.append(block)
        if self.phase == "exit":
            block.__enter__()
            run.extra["edited"] = run.funcs[0](3)
        return run

    def after_interrupt(self, run: Run) -> list[str]:
        f = run.funcs[0]
        problems = code_is(f, run.originals[0], "after the interrupt") + monitoring_left()
        if f(3) != 7:
            problems.append(f"f(3) gives {f(3)} after the interrupt, not 7: still edited")
        return problems

    def retry(self, run: Run) -> None:
        block = run.blocks[0]
        if block._active:
            block.__exit__(None, None, None)

    def final(self, run: Run) -> list[str]:
        problems = code_is(run.funcs[0], run.originals[0], "after the retry") + monitoring_left()
        if self.phase == "exit" and run.extra["edited"] != -5:
            problems.append("the edit did not apply inside the block")
        return problems

    def cleanup(self, run: Run) -> None:
        self.retry(run)


class AttentionBlock(_BlockPhase):
    """A ``capture_attention`` block's end or start (torch)."""

    needs_torch = True
    label = "capture_attention"

    def setup(self) -> Run:
        import torch
        import torch.nn.functional as F  # noqa: N812

        run = Run()
        run.extra["kernel"] = F.scaled_dot_product_attention
        run.extra["q"] = torch.randn(1, 1, 3, 4)
        block = anycapture.capture_attention(values="tensor")
        run.blocks.append(block)
        if self.phase == "exit":
            block.__enter__()
            self.call(run)
        return run

    def call(self, run: Run) -> None:
        import torch.nn.functional as F  # noqa: N812

        q = run.extra["q"]
        F.scaled_dot_product_attention(q, q, q)

    def after_interrupt(self, run: Run) -> list[str]:
        import torch.nn.functional as F  # noqa: N812

        block = run.blocks[0]
        problems = []
        if F.scaled_dot_product_attention is not run.extra["kernel"]:
            problems.append("torch's scaled_dot_product_attention is still wrapped")
        before = len(block._attention_records) if hasattr(block, "_attention_records") else 0
        self.call(run)
        if hasattr(block, "_attention_records") and len(block._attention_records) != before:
            problems.append("the ended block received a later call")
        return problems

    def retry(self, run: Run) -> None:
        block = run.blocks[0]
        if self.phase == "exit":
            block.close()
        else:
            with block:
                self.call(run)

    def final(self, run: Run) -> list[str]:
        import torch.nn.functional as F  # noqa: N812

        problems = [] if F.scaled_dot_product_attention is run.extra["kernel"] else ["the kernel is still wrapped"]
        if len(run.blocks[0]["scaled_dot_product_attention.attn"]) != 1:
            problems.append("the block does not hold exactly its one call")
        return problems

    def cleanup(self, run: Run) -> None:
        run.blocks[0].close(report=False)


SCENARIOS: list[Scenario] = [
    *(
        BlockEnd(shape)
        for shape in ("raw", "reduce", "two targets", "each", "nested", "under get_local", "sink folder", "sink writer")
    ),
    BlockStart(),
    BlockStart(sink=True),
    GetLocalSwitch("deactivate"),
    GetLocalSwitch("activate"),
    *(GetLocalSetting(change) for change in ("set_size", "set_collate_fn", "decorate")),
    Gather(),
    WriterClose(),
    WriterOpen(),
    EditBlock("exit"),
    EditBlock("enter"),
    AttentionBlock("exit"),
    AttentionBlock("enter"),
]


# -- the sweep ---------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What one scenario's sweep found."""

    points: int = 0
    tried: int = 0
    not_reached: int = 0
    failures: list[str] = field(default_factory=list)


def _trial(scenario: Scenario, at: Point | None, everywhere: bool) -> tuple[Injector, Run, BaseException | None]:
    run = scenario.setup()
    injector = Injector(at, everywhere=everywhere)
    raised = injector.run(lambda: scenario.act(run))
    return injector, run, raised


def sweep(scenario: Scenario, sample: int | None = STRIDE, *, everywhere: bool = False) -> Outcome:
    """Interrupt ``scenario`` at each of its points (every ``sample``-th, or all for ``None``);
    ``everywhere``: at the lines of the standard library's code it runs too."""
    outcome = Outcome()
    for _ in range(2):  # warm: first-time work (imports, caches) is not part of the path swept
        _, run, raised = _trial(scenario, None, everywhere)
        scenario.cleanup(run)
        if raised is not None:
            raise raised
    injector, run, raised = _trial(scenario, None, everywhere)
    scenario.cleanup(run)
    if raised is not None:
        raise raised
    points = injector.points
    outcome.points = len(points)
    step = None if sample is None else max(sample, len(points) // 60)  # at most about 60 runs a path
    chosen = range(len(points)) if step is None else sorted({0, len(points) - 1, *range(0, len(points), step)})
    for index in chosen:
        point = points[index]
        where = f"{scenario.name}, point {index} ({Path(point[0]).name}:{point[1]} #{point[2]})"
        injector, run, raised = _trial(scenario, point, everywhere)
        try:
            if not injector.fired:
                outcome.not_reached += 1  # the path went another way this time (a thread's timing)
                continue
            outcome.tried += 1
            if not isinstance(raised, KeyboardInterrupt):
                outcome.failures.append(f"{where}: the interrupt did not reach the caller ({raised!r})")
                continue
            # The path's first line is the first bytecode of __exit__ (or of the switch): no Python
            # code can guard it, so only the retry must hold there.
            problems = scenario.after_interrupt(run) if index > 0 else []
            try:
                scenario.retry(run)
            except BaseException as exc:
                problems.append(f"the retry raised {exc!r}")
            else:
                problems += scenario.final(run)
            outcome.failures += [f"{where}: {problem}" for problem in problems]
        finally:
            try:
                scenario.cleanup(run)
            except BaseException as exc:
                outcome.failures.append(f"{where}: cleanup raised {exc!r}")
    gc.collect()
    return outcome


def _landed(exc: BaseException) -> str:
    """Where a signal's ``KeyboardInterrupt`` landed: ``"outside"`` anycapture's path (before it
    began or after it returned), on the ``"first"`` line of its outermost frame (its first bytecode,
    which no code can guard), or ``"inside"``."""
    frames = []
    tb = exc.__traceback__
    while tb is not None:
        frames.append((tb.tb_frame.f_code, tb.tb_lineno))
        tb = tb.tb_next
    ours = [i for i, (code, _) in enumerate(frames) if code.co_filename.startswith(PACKAGE_DIR)]
    if not ours:
        return "outside"
    code, line = frames[ours[0]]
    if ours[0] != len(frames) - 2:  # the handler's frame is last: it landed deeper than the outermost
        return "inside"
    body = [line for _, _, line in code.co_lines() if line is not None and line > code.co_firstlineno]
    return "first" if not body or line <= min(body) else "inside"


def signal_sweep(scenario: Scenario, runs: int, seed: int = 0) -> Outcome:
    """Interrupt ``scenario`` with a real signal: SIGALRM, its handler raising ``KeyboardInterrupt``,
    after a delay drawn at random within the path's duration (POSIX, main thread only)."""
    import random
    import signal
    import time

    draw = random.Random(seed)
    outcome = Outcome()
    durations = []
    for _ in range(5):
        run = scenario.setup()
        start = time.perf_counter()
        scenario.act(run)
        durations.append(time.perf_counter() - start)
        scenario.cleanup(run)
    longest = max(durations) * 1.5
    armed = [False]

    def interrupt(signum: int, frame: Any) -> None:
        if armed[0]:
            armed[0] = False
            raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        for i in range(runs):
            run = scenario.setup()
            raised: BaseException | None = None
            try:
                try:
                    armed[0] = True
                    signal.setitimer(signal.ITIMER_REAL, draw.uniform(1e-6, longest))
                    scenario.act(run)
                    time.sleep(longest)  # a signal after the path: it lands here, outside it
                except KeyboardInterrupt as exc:
                    raised = exc
                finally:
                    armed[0] = False
                    signal.setitimer(signal.ITIMER_REAL, 0)
                where = "outside" if raised is None else _landed(raised)
                if where == "outside":
                    outcome.not_reached += 1
                    continue
                outcome.tried += 1
                problems = [] if where == "first" else scenario.after_interrupt(run)
                try:
                    scenario.retry(run)
                except BaseException as exc:
                    problems.append(f"the retry raised {exc!r}")
                else:
                    problems += scenario.final(run)
                outcome.failures += [f"{scenario.name}, signal run {i}: {problem}" for problem in problems]
            finally:
                scenario.cleanup(run)
    finally:
        signal.signal(signal.SIGALRM, previous)
    return outcome


def _usable(scenario: Scenario, backend: str) -> str:
    """Why ``scenario`` cannot run on ``backend`` here ("" when it can)."""
    if scenario.rewriting_only and backend != "bytecode":
        return "needs the bytecode backend"
    if scenario.needs_torch:
        try:
            import torch  # noqa: F401
        except ImportError:
            return "needs torch"
    if isinstance(scenario, (WriterClose, WriterOpen)) or "sink" in scenario.name:
        try:
            import numpy  # noqa: F401
            import safetensors  # noqa: F401
        except ImportError:
            return "needs numpy and safetensors"
    return ""


@pytest.fixture
def quiet_backend(backend: str) -> Iterator[str]:
    """The backend under test, with capture's warnings (a block of a run that was cut short) silenced."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield backend


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_interrupt_anywhere_leaves_nothing_behind(scenario: Scenario, quiet_backend: str) -> None:
    """An interrupt at any sampled line of the path reaches the caller and leaves no capture state behind."""
    why = _usable(scenario, quiet_backend)
    if why:
        pytest.skip(why)
    full = os.environ.get("ANYCAPTURE_FULL_SWEEP") == "1"
    outcome = sweep(scenario, None if full else STRIDE)
    assert outcome.tried > 0
    assert outcome.failures == [], "\n".join(outcome.failures[:20])
    assert monitoring_left() == []


WRITER_PATHS = [s for s in SCENARIOS if isinstance(s, (WriterClose, WriterOpen)) or "sink folder" in s.name]


@pytest.mark.parametrize("scenario", WRITER_PATHS, ids=lambda s: s.name)
def test_interrupt_inside_the_standard_library_never_hangs_a_writer(scenario: Scenario, quiet_backend: str) -> None:
    """An interrupt at sampled lines of the standard library code a Writer runs (queues, threads) hangs nothing."""
    why = _usable(scenario, quiet_backend)
    if why:
        pytest.skip(why)
    outcome = sweep(scenario, STRIDE, everywhere=True)
    assert outcome.tried > 0
    assert outcome.failures == [], "\n".join(outcome.failures[:20])


def test_writer_runs_no_python_level_lock(tmp_path: Path) -> None:
    """write(), flush() and close() run no threading or queue Python code, whose locks an interrupt can leave held."""
    pytest.importorskip("safetensors")
    np = pytest.importorskip("numpy")
    injector = Injector(everywhere=True)

    def use() -> None:
        writer = anycapture.Writer(tmp_path / "w", rank=None, queue_size=2)
        for i in range(20):
            writer.write({"key": "k", "call": i}, np.full(4, float(i)))
        writer.flush()
        writer.close()

    assert injector.run(use) is None
    stdlib = {Path(point[0]).name for point in injector.points if not point[0].startswith(PACKAGE_DIR)}
    assert stdlib.isdisjoint({"threading.py", "queue.py"}), sorted(stdlib)


@pytest.mark.skipif(not hasattr(__import__("signal"), "setitimer"), reason="needs POSIX interval timers")
@pytest.mark.parametrize(
    "scenario",
    [s for s in SCENARIOS if s.name in ("capture exit (raw)", "get_local.deactivate()")],
    ids=lambda s: s.name,
)
def test_real_signals_at_random_instants_leave_nothing_behind(scenario: Scenario, quiet_backend: str) -> None:
    """SIGALRM raising KeyboardInterrupt at random instants of a block's end or of deactivate() leaves no state."""
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals are handled in the main thread only")
    outcome = signal_sweep(scenario, 100)
    assert outcome.failures == [], "\n".join(outcome.failures[:20])
    assert monitoring_left() == []


def test_injector_restores_the_trace_function_in_place() -> None:
    """The sweep puts back whatever trace function was installed (coverage keeps working)."""
    calls: list[str] = []

    def tracer(frame: FrameType, event: str, arg: Any) -> Any:
        calls.append(event)
        return None

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        Injector().run(lambda: None)
        assert sys.gettrace() is tracer
    finally:
        sys.settrace(previous)


def test_second_close_finishes_a_block_whose_exit_was_interrupted_at_its_first_line(backend: str) -> None:
    """An interrupt on the first line of __exit__ leaves the block open; close() then ends it fully."""
    f, _ = fresh_functions()
    original = f.__code__
    block = capture(f, "y", values="raw")
    block.__enter__()
    f(1)
    exit_code = type(block).__exit__.__code__
    point = (exit_code.co_filename, exit_code.co_firstlineno + 1, 1)
    injector = Injector(point)
    raised = injector.run(lambda: block.__exit__(None, None, None))
    assert injector.fired
    assert isinstance(raised, KeyboardInterrupt)
    block.close()
    assert f.__code__ is original
    assert monitoring_left() == []
    f(2)
    assert [r.value for r in block.records] == [2]


def test_writer_close_interrupted_in_its_flush_is_finished_by_a_second_close(tmp_path: Path) -> None:
    """Writer.close() cut short while waiting for its thread is not closed yet; a second close() writes everything."""
    pytest.importorskip("safetensors")
    np = pytest.importorskip("numpy")
    writer = anycapture.Writer(tmp_path / "w", rank=None)
    for i in range(100):
        writer.write({"key": "k", "call": i}, np.full(4, float(i)))
    wait = anycapture.Writer._wait.__code__
    injector = Injector((wait.co_filename, wait.co_firstlineno + 1, 1))
    assert isinstance(injector.run(writer.close), KeyboardInterrupt)
    assert not writer._closed
    assert writer._finalizer.still_active()
    writer.close()
    assert writer._closed
    assert folder_problems(tmp_path / "w", 100) == []


# -- the full sweep, as a script ---------------------------------------------------------------------


def main() -> int:
    """Run every scenario at every point on every backend here; print a table (docs/guarantees.md)."""
    import argparse
    import platform
    import time
    import warnings

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument(
        "--everywhere",
        action="store_true",
        help="interrupt at the lines of the standard library's code that anycapture calls too",
    )
    parser.add_argument(
        "--signals",
        type=int,
        default=0,
        metavar="N",
        help="instead: interrupt each path N times with a real signal (SIGALRM at a random instant)",
    )
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    print(f"Python {platform.python_version()}, anycapture from {PACKAGE_DIR}\n")
    print("| backend | path | points | interrupted | left state behind |")
    print("|---|---|---:|---:|---:|")
    totals = [0, 0]
    failures: list[str] = []
    start = time.perf_counter()
    for backend in anycapture.backends():
        os.environ["ANYCAPTURE_BACKEND"] = backend
        for scenario in SCENARIOS:
            why = _usable(scenario, backend)
            if why:
                continue
            if args.signals:
                outcome = signal_sweep(scenario, args.signals)
                outcome.points = args.signals
            else:
                outcome = sweep(scenario, None, everywhere=args.everywhere)
            bad = len({failure.split(": ", 1)[0] for failure in outcome.failures})
            totals[0] += outcome.tried
            totals[1] += bad
            failures += outcome.failures
            print(f"| {backend} | {scenario.name} | {outcome.points} | {outcome.tried} | {bad} |", flush=True)
    os.environ.pop("ANYCAPTURE_BACKEND", None)
    print(f"| **all** | | | **{totals[0]}** | **{totals[1]}** |")
    print(f"\n{time.perf_counter() - start:.0f} s; threads alive: {threading.active_count()}")
    for failure in failures[:50]:
        print(failure)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())

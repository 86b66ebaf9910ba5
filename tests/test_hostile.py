"""Capture under load and beside other tools: threads, asyncio, recursion, debuggers, profilers, coverage."""

from __future__ import annotations

import asyncio
import bdb
import cProfile
import gc
import os
import pstats
import subprocess
import sys
import textwrap
import threading
import weakref
from pathlib import Path
from typing import Any

import pytest

from anycapture import get_local


def test_eight_threads_ten_thousand_calls_each(active: str) -> None:
    """8 threads x 10,000 calls give exactly 80,000 records, each value once."""

    @get_local("y")
    def f(x: int) -> int:
        y = x
        return y

    barrier = threading.Barrier(8)

    def work(base: int) -> None:
        barrier.wait()
        for i in range(10_000):
            f(base + i)

    threads = [threading.Thread(target=work, args=(t * 100_000,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    values = get_local.cache["test_eight_threads_ten_thousand_calls_each.<locals>.f.y"]
    assert len(values) == 80_000
    assert sorted(values) == [t * 100_000 + i for t in range(8) for i in range(10_000)]


def test_a_thousand_concurrent_tasks(active: str) -> None:
    """1,000 asyncio tasks interleaving at awaits each record their own final value."""

    @get_local("mine")
    async def task(i: int) -> int:
        mine = i
        await asyncio.sleep(0)
        mine = mine * 2
        await asyncio.sleep(0)
        return mine

    async def main() -> list[int]:
        return list(await asyncio.gather(*(task(i) for i in range(1000))))

    assert asyncio.run(main()) == [2 * i for i in range(1000)]
    assert sorted(get_local.cache["test_a_thousand_concurrent_tasks.<locals>.task.mine"]) == [
        2 * i for i in range(1000)
    ]


def test_recursion_five_hundred_deep(active: str) -> None:
    """Every one of 500 nested calls records its own value, innermost first."""

    @get_local("level")
    def down(n: int) -> int:
        level = n
        return level if n == 0 else down(n - 1)

    assert down(499) == 0
    assert get_local.cache["test_recursion_five_hundred_deep.<locals>.down.level"] == list(range(500))


def test_abandoned_generators_record_nothing_and_leak_nothing(active: str) -> None:
    """A generator closed half way never returned: no record, and nothing kept alive."""

    class Payload:
        pass

    @get_local("held")
    def gen() -> Any:
        held = Payload()
        yield 1
        yield 2

    g = gen()
    next(g)
    ref = weakref.ref(g.gi_frame.f_locals["held"])  # type: ignore[union-attr]
    g.close()
    del g
    gc.collect()
    assert ref() is None
    assert "test_abandoned_generators_record_nothing_and_leak_nothing.<locals>.gen.held" not in get_local.cache


def test_a_breakpoint_inside_a_captured_function_still_stops(active: str) -> None:
    """A bdb breakpoint on a line of a captured function stops there, and capture still records."""

    def target(x: int) -> int:
        y = x + 1
        z = y * 2  # the breakpoint line
        return z

    get_local("z")(target)
    line = target.__code__.co_firstlineno + 2
    stops: list[int] = []

    class Debugger(bdb.Bdb):
        def user_line(self, frame: Any) -> None:
            if frame.f_code.co_name == "target":
                stops.append(frame.f_lineno)
            self.set_continue()

    debugger = Debugger()
    debugger.set_break(__file__, line)
    debugger.runcall(target, 3)
    assert line in stops
    assert get_local.cache["test_a_breakpoint_inside_a_captured_function_still_stops.<locals>.target.z"] == [8]


def test_cprofile_sees_captured_functions(active: str) -> None:
    """cProfile keeps working while capture is on and counts every call of the captured function."""

    @get_local("y")
    def f(x: int) -> int:
        y = x
        return y

    profiler = cProfile.Profile()
    profiler.runcall(lambda: [f(i) for i in range(50)])
    stats = pstats.Stats(profiler)
    calls = [value[1] for key, value in stats.stats.items() if key[2] == "f"]  # type: ignore[attr-defined]
    assert calls == [50]
    assert sys.getprofile() is None


COVERED = """
import sys
from anycapture import get_local

@get_local("total")
def work(n):
    total = 0
    for i in range(n):
        if i % 2:
            total += i
        else:
            total -= 1
    return total

get_local.activate()
assert work(5) == 1
assert work(0) == 0
get_local.deactivate()
assert get_local.cache["work.total"] == [1, 0]
"""


@pytest.mark.parametrize("core", ["ctrace", "pytrace", "sysmon"])
def test_coverage_still_measures_captured_functions(backend: str, core: str, tmp_path: Path) -> None:
    """coverage.py (trace-based and sys.monitoring cores) reports every line of a captured function."""
    pytest.importorskip("coverage")
    if core == "sysmon" and sys.version_info < (3, 12):
        pytest.skip("coverage's sys.monitoring core needs 3.12+")
    script = tmp_path / "covered.py"
    script.write_text(textwrap.dedent(COVERED))
    import anycapture

    package_root = str(Path(anycapture.__file__).resolve().parents[1])
    env = {
        **os.environ,
        "COVERAGE_CORE": core,
        "ANYCAPTURE_BACKEND": backend,
        "PYTHONPATH": os.pathsep.join([package_root, os.environ.get("PYTHONPATH", "")]),
    }
    data = tmp_path / ".coverage"
    run = [sys.executable, "-m", "coverage", "run", f"--data-file={data}", str(script)]
    done = subprocess.run(run, env=env, cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    report = subprocess.run(
        [sys.executable, "-m", "coverage", "report", f"--data-file={data}", "-m", str(script)],
        check=True,
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    line = next(row for row in report.stdout.splitlines() if "covered" in row)
    assert "100%" in line, report.stdout

"""Per-call cost of capture at returns where a captured variable may be unbound, or is a cell.

Such variables are read under a guarded load (a check in an exception-table entry of its own),
never through ``frame.f_locals`` (which on 3.11/3.12 also refreshes the dict ``locals()``
returned). Rows: a cell variable, a maybe-unbound variable (bound and unbound calls), two
variables through one collector with one unbound, and a function that holds its ``locals()``.
Each is timed plain and captured (``values="raw"``, so the conversion does not hide the read),
interleaved over rounds; the table shows medians in ns per call and the median ratio.

    python benchmarks/bench_unbound.py [--rounds 15] [--number 20000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import timeit
import warnings
from collections.abc import Callable
from typing import Any

import anycapture


def cell(x: int) -> int:
    a = x + 1
    read = lambda: a  # noqa: E731, F841 - makes `a` a cell variable
    return a


def maybe(x: int) -> int:
    if x > 0:
        b = x + 1  # noqa: F841 - captured
    return x


def pair(x: int) -> int:
    if x > 0:
        b = x + 1  # noqa: F841 - captured
    c = x * 2
    return c


def holds(x: int) -> dict[str, Any]:
    a = x + 1
    d = locals()
    return d


CASES: list[tuple[str, Callable[[int], Any], tuple[str, ...], int]] = [
    ("cell", cell, ("a",), 1),
    ("maybe, bound", maybe, ("b",), 1),
    ("maybe, unbound", maybe, ("b",), -1),
    ("pair, one unbound", pair, ("b", "c"), -1),
    ("holds locals()", holds, ("a",), 1),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--number", type=int, default=20000)
    args = parser.parse_args()
    warnings.simplefilter("ignore", anycapture.CaptureWarning)  # the unbound variables
    times: dict[tuple[str, bool], list[float]] = {}
    for _ in range(args.rounds):
        for label, func, names, arg in CASES:
            call = lambda func=func, arg=arg: func(arg)  # noqa: E731
            times.setdefault((label, False), []).append(timeit.timeit(call, number=args.number))
            with anycapture.capture(func, *names, values="raw"):
                times.setdefault((label, True), []).append(timeit.timeit(call, number=args.number))
    backend = os.environ.get("ANYCAPTURE_BACKEND") or "default (bytecode)"
    print(f"Python {sys.version.split()[0]}, backend {backend}")
    print(f"{'case':20} {'plain ns':>9} {'captured ns':>12} {'ratio':>6}")
    for label, *_ in CASES:
        plain, captured = times[label, False], times[label, True]
        ratio = statistics.median(c / p for c, p in zip(captured, plain, strict=True))
        scale = 1e9 / args.number
        plain_ns, captured_ns = statistics.median(plain) * scale, statistics.median(captured) * scale
        print(f"{label:20} {plain_ns:9.0f} {captured_ns:12.0f} {ratio:6.2f}")


if __name__ == "__main__":
    main()

"""The ``anycapture`` command line."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence

__all__ = ["main"]


def _softmax(row: list[float]) -> list[float]:
    top = max(row)
    exps = [math.exp(x - top) for x in row]
    total = sum(exps)
    return [x / total for x in exps]


def attention(queries: list[list[float]], keys: list[list[float]]) -> list[list[float]]:
    """Scaled dot-product attention in plain Python: the function the demo captures from."""
    scale = 1 / math.sqrt(len(keys[0]))
    scores = [[scale * sum(a * b for a, b in zip(q, k, strict=True)) for k in keys] for q in queries]
    attn = [_softmax(row) for row in scores]
    return attn


def demo() -> int:
    """Capture the attention map of a tiny pure-Python attention function and print it."""
    from . import backend_info, get_local

    get_local("attn", "scores")(attention)  # decorating after definition: same function, in place
    tokens = ["the", "cat", "sat"]
    vectors = [[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]]
    attention(vectors, vectors)  # capture is off: nothing recorded, nothing slower
    get_local.activate()
    attention(vectors, vectors)
    get_local.deactivate()

    (attn,) = get_local.cache["attention.attn"]
    print("anycapture demo: captured the local 'attn' of attention() without changing its code\n")
    print("        " + "".join(f"{t:>8}" for t in tokens))
    for token, row in zip(tokens, attn, strict=True):
        print(f"{token:>8}" + "".join(f"{p:8.3f}" for p in row))
    print(f"\nkeys: {sorted(get_local.cache)}")
    print("backends: " + ", ".join(f"{b.name} ({'available' if b.available else b.reason})" for b in backend_info()))
    get_local.clear()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``anycapture`` console script."""
    parser = argparse.ArgumentParser(prog="anycapture", description="Capture local variables of any function.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("demo", help="capture an attention map and show it")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.command == "demo":
        return demo()
    parser.error(f"unknown command {args.command!r}")  # pragma: no cover - argparse rejects it first
    return 2

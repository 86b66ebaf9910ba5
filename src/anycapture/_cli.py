"""The ``anycapture`` command line."""

from __future__ import annotations

import argparse
import math
import sys
import time
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


def minimal_demo() -> int:
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


def _problem_with_options(args: argparse.Namespace) -> str | None:
    """What is wrong with the demo's options, found before any work starts (one line), or None.

    ``--out`` is made and written to here, so that a folder that cannot be fails now, not after
    the models have run; folders made only for this check are removed again (a --model that
    cannot be loaded must not leave an empty folder behind).
    """
    import os
    import tempfile
    from pathlib import Path

    if not (math.isfinite(args.seconds) and args.seconds > 0):
        return f"--seconds must be a positive number of seconds; got {args.seconds!r}"
    for option, value in (("--model", args.model), ("--image", args.image)):
        if value is not None and not Path(value).is_file():
            what = "that is a folder" if Path(value).is_dir() else "no such file"
            return f"{option} {value!r}: {what}; give the path of a file"
    if args.image is not None and args.model is None:
        return "--image is drawn by the vision part of your own timm weights: give --model CHECKPOINT with it"
    if args.model is not None and args.only == "text":
        return "--model is for the vision part; --only text runs none"
    out = Path(args.out).absolute()
    made = [folder for folder in (out, *out.parents) if not folder.exists()]
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
        for folder in made:  # deepest first; each was empty when made
            folder.rmdir()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        if isinstance(exc, FileExistsError) or (out.exists() and not out.is_dir()):
            reason = "it is a file, not a folder"
        elif isinstance(exc, NotADirectoryError):
            reason = "a part of that path is a file, not a folder"
        return f"--out {os.fspath(args.out)!r}: cannot write there ({reason}); give a folder you can write to"
    return None


def demo(args: argparse.Namespace) -> int:
    """Capture attention from a real BERT and a freshly trained ViT; write PNGs and an index.html."""
    from pathlib import Path

    from ._demo import DemoError, MissingDependencyError, run_demo

    if args.minimal:
        return minimal_demo()
    problem = _problem_with_options(args)
    if problem is not None:
        print(f"anycapture demo: {problem}", file=sys.stderr)
        return 2
    out = Path(args.out)
    parts = ("text", "vision") if args.only is None else (args.only,)
    start = time.perf_counter()

    def say(message: str) -> None:
        print(f"[{time.perf_counter() - start:5.1f}s] {message}", flush=True)

    try:
        index = run_demo(
            out,
            text=args.text,
            seconds=args.seconds,
            parts=parts,
            say=say,
            checkpoint=args.model,
            arch=args.arch,
            image=args.image,
        )
    except DemoError as exc:
        print(f"anycapture demo: {exc}", file=sys.stderr)
        if isinstance(exc, MissingDependencyError) and args.model is None:
            print("(`anycapture demo --minimal` runs a pure-Python example without them)", file=sys.stderr)
        return 2
    say(f"done: open {index.resolve()}")
    return 0


def view(args: argparse.Namespace) -> int:
    """Turn a sink folder into an explorer page; one line and exit status 2 for what cannot be read."""
    import json
    from pathlib import Path

    from ._disk import CaptureFileError
    from ._explore import explore

    folder = Path(args.folder)
    # FOLDER.html beside the folder; "." and ".." name no folder until resolved.
    named = folder if folder.name else folder.resolve()
    out = Path(args.out) if args.out is not None else named.with_name(named.name + ".html")
    try:
        if not folder.is_dir():
            what = "is a file, not a folder" if folder.exists() else "does not exist"
            raise FileNotFoundError(
                f"{str(folder)!r} {what}: pass the folder that capture(..., sink=FOLDER) or "
                "capture_attention(..., sink=FOLDER) wrote (for an array saved to a file, call "
                "anycapture.explore(array) in Python)"
            )
        tokens = None
        if args.tokens is not None:
            try:
                tokens = json.loads(Path(args.tokens).read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise ValueError(f"cannot read --tokens {args.tokens!r} as a JSON list of labels: {exc}") from exc
            if isinstance(tokens, list) and len(tokens) == 2 and all(isinstance(t, list) for t in tokens):
                tokens = (tokens[0], tokens[1])  # [query_tokens, key_tokens]: cross-attention
        layers = None
        if args.layers is not None:
            try:
                layers = [int(part) for part in args.layers.split(",")]
            except ValueError as exc:
                raise ValueError(f"--layers {args.layers!r} is not a comma-separated list of layer numbers") from exc
        title = args.title or f"attention in {named.name}"
        page = explore(folder, name=args.name, tokens=tokens, title=title, layers=layers)
        page.save(out)
    except (CaptureFileError, OSError, ValueError, KeyError, TypeError) as exc:
        message = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
        print(f"anycapture view: {' '.join(message.split())}", file=sys.stderr)
        return 2
    layers, heads, queries, keys = page.maps.shape
    print(f"wrote {out} ({layers} layers x {heads} heads x {queries} x {keys}; open it in a browser)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``anycapture`` console script."""
    from . import __version__

    parser = argparse.ArgumentParser(prog="anycapture", description="Capture local variables of any function.")
    parser.add_argument("--version", action="version", version=f"anycapture {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    demo_parser = commands.add_parser(
        "demo", help="capture attention maps from a real BERT and a small ViT, and draw them (offline)"
    )
    demo_parser.add_argument(
        "--out", default="anycapture-demo", help="folder for the PNGs and index.html (default: %(default)s)"
    )
    demo_parser.add_argument(
        "--text",
        default="The quick brown fox jumps over the lazy dog.",
        help="the sentence for the text model (default: %(default)r)",
    )
    demo_parser.add_argument(
        "--seconds",
        type=float,
        default=60.0,
        help="the most time the small ViT may train, evaluation included (it stops after 150 steps; default: "
        "%(default)g). A run with the same --seconds reuses the ViT an earlier run left in --out",
    )
    demo_parser.add_argument("--only", choices=("text", "vision"), help="run one part only")
    demo_parser.add_argument(
        "--model", metavar="CHECKPOINT", help="timm weights to use instead of training a small ViT (needs timm)"
    )
    demo_parser.add_argument(
        "--arch", default="vit_small_patch16_224", help="the timm architecture of --model (default: %(default)s)"
    )
    demo_parser.add_argument("--image", help="an image file for the vision part (with --model)")
    demo_parser.add_argument("--minimal", action="store_true", help="a pure-Python example; needs no torch")
    view_parser = commands.add_parser(
        "view", help="turn a folder written by capture(..., sink=) into an interactive attention explorer page"
    )
    view_parser.add_argument("folder", help="the sink folder")
    view_parser.add_argument("--name", help="the captured variable or key, where the folder holds several")
    view_parser.add_argument("--out", help="the HTML file to write (default: FOLDER.html beside the folder)")
    view_parser.add_argument(
        "--tokens", help="a JSON file with a list of token labels (or [query_tokens, key_tokens] for cross-attention)"
    )
    view_parser.add_argument("--title", help="the page's title")
    view_parser.add_argument("--layers", help="keep these layers only, e.g. 0,5,11 (for long sequences)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.command == "demo":
        return demo(args)
    if args.command == "view":
        return view(args)
    parser.error(f"unknown command {args.command!r}")  # pragma: no cover - argparse rejects it first
    return 2

"""The fixed cost of capturing the 12 attention maps of a timm ViT, every way on one model object.

``bench_vit.py`` gives each row its own deep copy of the model. At the tiny size it uses for the fixed cost (12
blocks, 17 tokens: a 2.5 ms forward that is almost all Python), where each copy's tensors and modules land in memory
moves a row by a few hundredths of a millisecond from one run to the next: the hand-written floor and ``get_local``
rows, which add almost nothing, came out anywhere from -0.03 to +0.02 ms over four runs. That is the size of the
differences the +0.05 ms target is about. Here every row runs the *same* model object, so the rows differ only in
how they capture:

* the uncaptured forward (the reference of each round);
* the hand-written floor: timm's ``Attention.forward`` with ``_FLOOR.append(attn)`` added (``bench_vit.floor_forward``),
  its code put in place of ``Attention.forward``'s for the batch, as ``get_local`` and ``capture`` put theirs;
* a forward hook on each ``attn_drop``, registered before the batch and removed after it; and the same hooks
  registered and removed around *each* forward (what a ``capture`` block per forward compares with);
* ``get_local("attn")(Attention.forward)``, activated (``values="raw"``) around the batch;
* ``capture(recipes.TIMM_VIT, model=model, values="raw")`` held open around the batch, read (``len(cap)``) after every
  forward, or read once after the batch's last forward (timed: records are made when the block is read);
* one ``capture`` block per forward, ``values="raw"`` and ``"numpy"``.

Every round runs one batch of every row (``--forwards`` forwards), in an order rotated each round; the garbage
collector is off while a batch is timed, and what a row does around its batch (swapping classes, registering hooks,
activating, entering a held block) is untimed. A row's extra cost in a round is its microseconds per forward minus
the uncaptured forward's in the same round; the table gives the median over rounds and its interquartile range, and
checks the +0.05 ms target and "never slower than the forward hook" (the held hooks for rows that set up once per
batch, the per-forward hooks for the blocks per forward). After every batch each row must hold 12 maps per forward,
and at start-up every row's maps are checked equal to the floor's.

Run from the repository root in a venv with timm (``benchmarks/run_vit.sh`` makes one)::

    PYTHONPATH=src python benchmarks/bench_fixed.py              # 150 rounds of 30 forwards: about 2 minutes here
    PYTHONPATH=src python benchmarks/bench_fixed.py --rounds 20  # a smoke test

It prints markdown on stdout and its progress on stderr; where timm is missing it says so and exits 0.
"""

from __future__ import annotations

import argparse
import gc
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anycapture
from anycapture import get_local, recipes

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_vit import KEY, LAYERS, TINY, floor_forward, unfuse

TARGET_US = 50.0


@dataclass
class Row:
    """One way to capture: ``run(x)`` is one timed forward; ``enter``/``leave`` (untimed) bracket a batch;
    ``finish`` (timed) ends it; ``maps()`` gives what the batch captured, ``reset()`` forgets it."""

    label: str
    run: Callable[[Any], Any]
    maps: Callable[[], list[Any]]
    reset: Callable[[], None] = lambda: None
    enter: Callable[[], None] = lambda: None
    leave: Callable[[], None] = lambda: None
    finish: Callable[[], None] = lambda: None
    kind: str = "anycapture"  # or "reference", "floor", "hook", "hook per forward"
    setup: str = "batch"  # whether the row sets up once per "batch" or per "forward" (its hook baseline)
    extra: list[float] = field(default_factory=list)


def build_rows(model: Any) -> list[Row]:
    from timm.layers.attention import Attention

    rows = [Row("uncaptured forward", model, lambda: [], kind="reference")]

    # The floor's code takes the place of Attention.forward's for the batch, as get_local's and capture's do (a class
    # swap per batch, as bench_vit's floor model has for good, would cost the first forwards their specialised
    # attribute lookups); its one new global, _FLOOR, is put in timm's module for the batch.
    floor: list[Any] = []
    original = Attention.forward.__code__
    floor_code = floor_forward(Attention, floor).__code__
    namespace = sys.modules[Attention.forward.__module__]
    if floor_code.co_freevars != original.co_freevars:
        raise RuntimeError("the floor copy of Attention.forward has other free variables than the original")

    def floor_on() -> None:
        namespace._FLOOR = floor  # type: ignore[attr-defined]
        Attention.forward.__code__ = floor_code

    def floor_off() -> None:
        Attention.forward.__code__ = original
        del namespace._FLOOR  # type: ignore[attr-defined]

    rows.append(
        Row(
            "hand-written floor (`_FLOOR.append(attn)` in a copy of `Attention.forward`)",
            model,
            lambda: floor,
            floor.clear,
            floor_on,
            floor_off,
            kind="floor",
        )
    )

    hooked: list[Any] = []
    handles: list[Any] = []

    def hook(_module: Any, _args: Any, output: Any) -> None:
        hooked.append(output)

    def register() -> None:
        handles.extend(block.attn.attn_drop.register_forward_hook(hook) for block in model.blocks)

    def remove() -> None:
        for handle in handles:
            handle.remove()
        handles.clear()

    rows.append(Row("forward hook on each `attn_drop`, registered for the batch", model, lambda: hooked,
                    hooked.clear, register, remove, kind="hook"))  # fmt: skip

    def hooks_per_forward(x: Any) -> Any:
        register()
        try:
            return model(x)
        finally:
            remove()

    rows.append(Row("the same hooks registered and removed around each forward", hooks_per_forward, lambda: hooked,
                    hooked.clear, kind="hook per forward", setup="forward"))  # fmt: skip

    get_local("attn")(Attention.forward)
    rows.append(
        Row(
            "`get_local('attn')(Attention.forward)`, activated for the batch (`values='raw'`)",
            model,
            lambda: get_local.cache.get(KEY, []),
            get_local.clear,
            lambda: get_local.activate(values="raw"),
            get_local.deactivate,
        )
    )

    for read_each in (True, False):
        rows.append(held_block_row(model, read_each))

    for values in ("raw", "numpy"):
        rows.append(block_per_forward_row(model, values))
    return rows


def held_block_row(model: Any, read_each: bool) -> Row:
    state: dict[str, Any] = {}

    def enter() -> None:
        state["cap"] = cap = anycapture.capture(recipes.TIMM_VIT, model=model, values="raw")
        cap.__enter__()

    def run(x: Any) -> Any:
        out = model(x)
        if read_each:
            len(state["cap"])
        return out

    def finish() -> None:
        len(state["cap"])

    def maps() -> list[Any]:
        return state["cap"].get(KEY, []) if "cap" in state else []

    when = "after every forward" if read_each else "once, after the batch's last forward"
    label = f"`capture(recipes.TIMM_VIT, model=m, values='raw')` held open for the batch, read {when}"
    return Row(label, run, maps, state.clear, enter, lambda: state["cap"].__exit__(None, None, None), finish)


def block_per_forward_row(model: Any, values: str) -> Row:
    caps: list[Any] = []

    def run(x: Any) -> Any:
        with anycapture.capture(recipes.TIMM_VIT, model=model, values=values) as cap:
            out = model(x)
        caps.append(cap)
        return out

    def maps() -> list[Any]:
        return [value for cap in caps for value in cap.get(KEY, [])]

    label = f"one `capture(recipes.TIMM_VIT, model=m, values={values!r})` block per forward"
    return Row(label, run, maps, caps.clear, setup="forward")


def check_maps(rows: list[Row], x: Any, forwards: int) -> None:
    """Every row's maps from ``forwards`` forwards: 12 each, and at the first call equal to the floor's."""
    import numpy
    import torch

    expected: list[Any] | None = None
    for row in rows[1:]:
        row.enter()
        for _ in range(forwards):
            row.run(x)
        row.finish()
        row.leave()
        found = [value if isinstance(value, numpy.ndarray) else value.numpy() for value in row.maps()]
        row.reset()
        if len(found) != LAYERS * forwards:
            raise RuntimeError(f"{row.label}: {len(found)} maps from {forwards} forwards, expected {LAYERS * forwards}")
        if expected is None:
            expected = found
        elif not all(numpy.allclose(a, b) for a, b in zip(found, expected, strict=True)):
            raise RuntimeError(f"{row.label}: its maps differ from the floor's")
    del torch


def time_rows(rows: list[Row], x: Any, rounds: int, forwards: int, progress: bool = True) -> None:
    clock = time.perf_counter_ns
    for number in range(rounds):
        shift = number % len(rows)
        times: dict[str, float] = {}
        for row in rows[shift:] + rows[:shift]:
            row.enter()
            gc.disable()
            start = clock()
            for _ in range(forwards):
                row.run(x)
            row.finish()
            elapsed = clock() - start
            gc.enable()
            row.leave()
            if len(row.maps()) != (0 if row.kind == "reference" else LAYERS * forwards):
                raise RuntimeError(f"{row.label}: {len(row.maps())} maps after a batch of {forwards} forwards")
            row.reset()
            times[row.label] = elapsed / forwards / 1000
        reference = times[rows[0].label]
        for row in rows:
            row.extra.append(times[row.label] - reference)
        if progress and (number + 1) % max(1, rounds // 10) == 0:
            print(f"[bench_fixed] round {number + 1}/{rounds}", file=sys.stderr, flush=True)


def quartiles(values: list[float]) -> tuple[float, float, float]:
    q1, _, q3 = statistics.quantiles(values, n=4)
    return q1, statistics.median(values), q3


def report(rows: list[Row], rounds: int, forwards: int) -> None:
    import timm
    import torch

    print("## Fixed cost of capturing 12 attention maps, every way on one model object\n")
    print(
        f"timm {timm.__version__}, torch {torch.__version__}, Python {platform.python_version()}, one torch thread; "
        f"`VisionTransformer` {TINY}, batch 1, fused attention off; {rounds} rounds of {forwards} forwards per row, "
        "rows rotated each round. Extra microseconds per forward over the uncaptured forward of the same round."
    )
    print()
    print("| way | extra us/forward (median) | IQR | <= +50 us | vs its forward hook baseline |")
    print("|---|---:|---:|---|---|")
    hooks = {row.setup: row for row in rows if row.kind in ("hook", "hook per forward")}
    for row in rows[1:]:
        q1, median, q3 = quartiles(row.extra)
        target = "" if row.kind != "anycapture" else ("yes" if median <= TARGET_US else "**no**")
        baseline = ""
        if row.kind == "anycapture":
            hook = hooks[row.setup]
            difference = [a - b for a, b in zip(row.extra, hook.extra, strict=True)]
            d1, dm, d3 = quartiles(difference)
            verdict = "not slower" if dm <= 0 else "**slower**"
            baseline = f"{verdict}: {dm:+.1f} us (IQR {d1:+.1f} to {d3:+.1f}) vs {hook.kind}"
        print(f"| {row.label} | {median:+.1f} | {q1:+.1f} to {q3:+.1f} | {target} | {baseline} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=150)
    parser.add_argument("--forwards", type=int, default=30, help="forwards per row per round")
    args = parser.parse_args()
    try:
        import timm
        import torch
    except ImportError as exc:
        print(f"bench_fixed needs timm and torch ({exc}); run it through benchmarks/run_vit.sh's venv")
        return
    torch.set_num_threads(1)
    torch.set_grad_enabled(False)
    warnings.simplefilter("error", anycapture.CaptureWarning)  # a row that captures nothing must not pass quietly
    torch.manual_seed(0)
    model = unfuse(timm.create_model("vit_small_patch16_224", pretrained=False, **TINY))
    x = torch.randn(1, 3, TINY["img_size"], TINY["img_size"])
    rows = build_rows(model)
    check_maps(rows, x, 2)
    for _ in range(3):  # warm-up rounds, not reported
        time_rows(rows, x, 1, args.forwards, progress=False)
    for row in rows:
        row.extra.clear()
    time_rows(rows, x, args.rounds, args.forwards)
    report(rows, args.rounds, args.forwards)


if __name__ == "__main__":
    main()

"""Where the time of a ``capture`` block per forward goes: making, entering, leaving and reading it.

``bench_fixed.py`` gives a block per forward's whole extra cost over the uncaptured forward; on a shared
machine its rounds swing by hundreds of microseconds. This script times each phase of the block on its
own, thousands of times, with a forward of the tiny timm ViT (``bench_vit.TINY``: 12 blocks, 12 maps)
before each phase as in real use (so every phase runs with the caches a forward leaves behind, which is
most of its cost), and prints the median of each:

* ``make``: ``capture(recipes.TIMM_VIT, model=model, values=...)``;
* ``enter``: ``__enter__`` (instrumenting ``Attention.forward``);
* ``exit``: ``__exit__`` after a forward (restoring the code, filing the 12 calls, looking up their layers);
* ``read``: ``cap["Attention.forward.attn"]`` after the block.

Beside them, in the same loop, what a block per forward is measured against: a forward hook on each
block's ``attn_drop`` registered before the forward and removed after it (``register``, the hooked
``forward``, ``remove``). The forward before each block (or registering) is timed too, as the
reference: a block's whole cost is make + enter + exit + read + its forward minus that reference, the
hooks' register + remove + their forward minus theirs; the last table gives the median of each over
the iterations, and their ratio.

Run from the repository root in a venv with timm (``benchmarks/run_vit.sh`` makes one). To compare two
versions of anycapture, ``--against`` imports the other one's ``src/anycapture`` beside this one and
alternates their blocks in one process (the machine's drift then hits both alike)::

    PYTHONPATH=src python benchmarks/bench_block_phases.py                 # 3,000 blocks: about 20 s
    PYTHONPATH=src python benchmarks/bench_block_phases.py --values numpy
    git archive main src/anycapture | tar -x -C /tmp/main-copy
    PYTHONPATH=src python benchmarks/bench_block_phases.py --against /tmp/main-copy/src

Where timm is missing it says so and exits 0.
"""

from __future__ import annotations

import argparse
import gc
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

PHASES = ("reference", "make", "enter", "forward", "exit", "read")
HOOK_PHASES = ("reference", "register", "forward", "remove")


def load_copy(src: Path) -> Any:
    """Another anycapture (``src/anycapture`` of another checkout), imported beside this one as
    ``anycapture_ab``: its modules import each other relatively, so a renamed copy is independent."""
    import importlib
    import shutil
    import tempfile

    where = Path(tempfile.mkdtemp(prefix="anycapture-ab-"))
    shutil.copytree(src / "anycapture", where / "anycapture_ab")
    sys.path.insert(0, str(where))
    return importlib.import_module("anycapture_ab")


def measure(blocks: int, values: str, versions: list[Any]) -> list[dict[str, list[float]]]:
    """Time each phase of ``blocks`` blocks per version, and of as many forwards with hooks registered
    and removed around them (the last dict), the versions and the hooks alternating (their order
    rotated every block), so that the machine's drift hits them alike."""
    import timm
    import torch

    from bench_vit import KEY, LAYERS, TINY, unfuse

    torch.set_num_threads(1)
    model = unfuse(timm.create_model("vit_small_patch16_224", pretrained=False, **TINY).eval())
    x = torch.randn(1, 3, TINY["img_size"], TINY["img_size"])
    clock = time.perf_counter_ns
    times: list[dict[str, list[float]]] = [{phase: [] for phase in PHASES} for _ in versions]
    times.append({phase: [] for phase in HOOK_PHASES})
    hooked: list[Any] = []

    def hook(_module: Any, _args: Any, output: Any) -> None:
        hooked.append(output)

    warmup = max(1, blocks // 10)
    gc.disable()
    try:
        with torch.no_grad():
            for i in range(warmup + blocks):
                order: list[tuple[int, Any]] = [*enumerate(versions), (len(versions), None)]
                shift = i % len(order)
                for v, module in order[shift:] + order[:shift]:
                    if module is None:
                        t0 = clock()
                        model(x)
                        t1 = clock()
                        handles = [block.attn.attn_drop.register_forward_hook(hook) for block in model.blocks]
                        t2 = clock()
                        model(x)
                        t3 = clock()
                        for handle in handles:
                            handle.remove()
                        t4 = clock()
                        if len(hooked) != LAYERS:
                            raise RuntimeError(f"the hooks got {len(hooked)} maps, not {LAYERS}")
                        hooked.clear()
                        if i >= warmup:
                            for phase, start, end in zip(HOOK_PHASES, (t0, t1, t2, t3), (t1, t2, t3, t4), strict=True):
                                times[v][phase].append((end - start) / 1000)
                        continue
                    tr = clock()
                    model(x)
                    t0 = clock()
                    cap: Any = module.capture(module.recipes.TIMM_VIT, model=model, values=values)
                    t1 = clock()
                    cap.__enter__()
                    t2 = clock()
                    model(x)
                    t3 = clock()
                    cap.__exit__(None, None, None)
                    t4 = clock()
                    maps = cap[KEY]
                    t5 = clock()
                    if len(maps) != LAYERS:
                        raise RuntimeError(f"a block captured {len(maps)} maps, not {LAYERS}")
                    if i >= warmup:
                        ends = (t0, t1, t2, t3, t4, t5)
                        for phase, start, end in zip(PHASES, (tr, t0, t1, t2, t3, t4), ends, strict=True):
                            times[v][phase].append((end - start) / 1000)
                if i % 500 == 0:
                    gc.collect()
    finally:
        gc.enable()
    return times


def table(times: dict[str, list[float]], blocks: int) -> None:
    print("| phase | median | IQR |")
    print("|---|---:|---:|")
    for phase in PHASES:
        if phase in ("reference", "forward"):
            continue
        low, _, high = statistics.quantiles(times[phase], n=4)
        print(f"| {phase} | {statistics.median(times[phase]):.1f} | {low:.1f} to {high:.1f} |")
    total = [sum(times[p][i] for p in PHASES if p not in ("reference", "forward")) for i in range(blocks)]
    low, _, high = statistics.quantiles(total, n=4)
    print(f"| **all but the forward** | **{statistics.median(total):.1f}** | {low:.1f} to {high:.1f} |")


def whole(times: dict[str, list[float]], parts: tuple[str, ...], blocks: int) -> tuple[list[float], list[float]]:
    """Per iteration: the sum of ``parts``, and the forward's extra time over the reference forward."""
    extra = [times["forward"][i] - times["reference"][i] for i in range(blocks)]
    return [sum(times[part][i] for part in parts) + extra[i] for i in range(blocks)], extra


def compare(versions: list[Any], times: list[dict[str, list[float]]], blocks: int) -> None:
    """The whole cost of a block per forward beside that of hooks registered and removed around a forward."""
    hooks, hook_forward = whole(times[-1], ("register", "remove"), blocks)
    print("Against hooks registered and removed around each forward, in the same loop (the forward's extra time")
    print("is the hooked or captured forward minus the uncaptured forward timed just before):\n")
    print("| way | whole extra (median) | IQR | of which in the forward | / hooks |")
    print("|---|---:|---:|---:|---:|")
    rows = [("hooks around each forward", hooks, hook_forward)]
    for module, measured in zip(versions, times[:-1], strict=True):
        total, forward = whole(measured, ("make", "enter", "exit", "read"), blocks)
        rows.append((f"block per forward ({Path(module.__file__).parent})", total, forward))
    reference = statistics.median(hooks)
    for label, total, forward in rows:
        low, _, high = statistics.quantiles(total, n=4)
        median = statistics.median(total)
        print(f"| {label} | {median:+.1f} | {low:+.1f} to {high:+.1f} | {statistics.median(forward):+.1f} | "
              f"{median / reference:.2f} |")  # fmt: skip
    print()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--blocks", type=int, default=3000, help="blocks timed (default 3000)")
    parser.add_argument("--values", default="raw", choices=("raw", "numpy", "tensor"))
    parser.add_argument(
        "--against",
        metavar="SRC",
        help="the src/ folder of another checkout: its blocks alternate with this one's, in one process",
    )
    args = parser.parse_args()
    if args.blocks < 2:
        parser.error(f"--blocks must be at least 2 (quartiles need two values); got {args.blocks}")
    try:
        import timm
        import torch
    except ImportError as exc:
        print(f"skipped: {exc} (this benchmark needs torch and timm)")
        return 0
    import anycapture

    versions = [anycapture]
    if args.against is not None:
        versions.append(load_copy(Path(args.against)))
    times = measure(args.blocks, args.values, versions)
    print("## A capture block per forward, phase by phase\n")
    print(
        f"timm {timm.__version__}, torch {torch.__version__}, Python {platform.python_version()}; tiny ViT (12 maps), "
        f"`values={args.values!r}`, {args.blocks} blocks, a forward before each phase. Microseconds.\n"
    )
    for module, measured in zip(versions, times[:-1], strict=True):
        print(f"anycapture from {Path(module.__file__).parent}:\n")
        table(measured, args.blocks)
        print()
    compare(versions, times, args.blocks)
    if len(versions) == 2:
        print("This checkout minus the other, median of the per-block differences (blocks alternated):\n")
        print("| phase | difference |")
        print("|---|---:|")
        for phase in PHASES:
            if phase not in ("reference", "forward"):
                diffs = [a - b for a, b in zip(times[0][phase], times[1][phase], strict=True)]
                print(f"| {phase} | {statistics.median(diffs):+.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

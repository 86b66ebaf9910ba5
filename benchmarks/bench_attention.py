"""What ``capture_attention`` costs on a fused-attention ViT, and what ``reduce=`` saves.

``capture_attention`` lets the fused kernel compute the output, then recomputes
``softmax(q k^T * scale)`` beside it: one extra [batch, heads, tokens, tokens] matmul and softmax per
layer, plus the conversion of the map that is kept. This script times, side by side in one
interleaved run (median of per-round ratios to the uncaptured fused forward):

- the uncaptured forward, fused (timm's default) and unfused (the eager path);
- ``capture_attention`` keeping full maps as numpy arrays (the default) and as tensors;
- ``capture_attention(reduce=...)`` keeping only the CLS row of each map (``p[..., 0, :]``);
- ``capture(recipes.TIMM_VIT)`` on the unfused model, for comparison.

Run: ``PYTHONPATH=src python benchmarks/bench_attention.py [--quick]`` where timm is installed
(the ``timm`` nox session's environment, or ``benchmarks/run_vit.sh``'s).
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few rounds, for a smoke test")
    args = parser.parse_args()
    try:
        import timm
        import torch
    except ImportError as exc:
        print(f"skipped: {exc} (this benchmark needs timm and torch)")
        return 0
    torch.set_num_threads(1)  # one thread: far steadier timings on a shared 2-core machine
    torch.manual_seed(0)
    fused = timm.create_model("vit_small_patch16_224", pretrained=False).eval()
    unfused = copy.deepcopy(fused)
    for module in unfused.modules():
        if hasattr(module, "fused_attn"):
            module.fused_attn = False

    print(f"# capture_attention on timm vit_small_patch16_224 (CPU, 1 thread, torch {torch.__version__})\n")
    with torch.no_grad():
        for batch, rounds in ((1, 5 if args.quick else 21), (8, 3 if args.quick else 9)):
            run_batch(fused, unfused, torch.randn(batch, 3, 224, 224), rounds)
    return 0


def cls_row(probs: Any) -> Any:
    """What a user keeping only the CLS token's attention passes as ``reduce=``."""
    return probs[..., 0, :]


def run_batch(fused: Any, unfused: Any, x: Any, rounds: int) -> None:
    """Time every variant on input ``x``, interleaved, and print one table."""
    from anycapture import capture, capture_attention, recipes

    def attention(**options: Any) -> Callable[[], None]:
        def run() -> None:
            with capture_attention(model=fused, **options) as cap:
                fused(x)
            assert len(cap.records) == 12

        return run

    def eager() -> None:
        with capture(recipes.TIMM_VIT, model=unfused) as cap:
            unfused(x)
        assert len(cap.records) == 12

    variants: dict[str, Callable[[], Any]] = {
        "uncaptured forward, fused (reference)": lambda: fused(x),
        "uncaptured forward, unfused": lambda: unfused(x),
        "capture_attention, values='numpy' (full maps)": attention(),
        "capture_attention, values='tensor' (full maps)": attention(values="tensor"),
        "capture_attention, reduce=CLS row only": attention(reduce=cls_row),
        "capture(recipes.TIMM_VIT) on the unfused model": eager,
    }
    names = list(variants)
    times: dict[str, list[float]] = {name: [] for name in names}
    ratios: dict[str, list[float]] = {name: [] for name in names}
    for name in names:
        variants[name]()  # warm up
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        measured = {}
        for name in order:
            start = time.perf_counter()
            variants[name]()
            measured[name] = time.perf_counter() - start
        for name in names:
            times[name].append(measured[name] * 1e3)
            ratios[name].append(measured[name] / measured[names[0]])
    batch = len(x)
    maps_mb = 12 * batch * 6 * 197 * 197 * 4 / 2**20
    sizes = f"the 12 full maps hold {maps_mb:.1f} MB, the CLS rows {maps_mb / 197:.2f} MB"
    print(f"## batch {batch} ({rounds} rounds; {sizes})\n")
    print("| variant | ms/forward (median) | ratio to the fused forward (median of rounds) |")
    print("|---|---:|---:|")
    for name in names:
        print(f"| {name} | {statistics.median(times[name]):.1f} | {statistics.median(ratios[name]):.3f}x |")
    print()


if __name__ == "__main__":
    sys.exit(main())

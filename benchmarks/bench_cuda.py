"""On a CUDA device: what capturing the 12 attention maps of a timm ViT-B/16 at batch 64 costs.

Rows, interleaved round by round, each timed from the forward's start until its maps are usable
on the host (``torch.cuda.synchronize()`` for the uncaptured one):

1. the uncaptured forward (the reference, 1.00x);
2. ``get_local("attn")(Attention.forward)`` with the default ``values="numpy"``: each map is copied
   to pinned host memory on a side stream while the forward goes on, and waited for when read;
3. the same with those asynchronous copies switched off: the seed's blocking
   ``tensor.detach().cpu().numpy()`` once per layer;
4. a ``capture(recipes.TIMM_VIT, model=model)`` block per forward (numpy, asynchronous copies);
5. ``values="raw"``: the maps stay on the GPU (no copy at all).

For each row: the median ms per forward over the rounds, and the median of its per-round ratios to
the uncaptured forward. The maps of one forward are checked against the uncaptured model's
(``torch.allclose`` on the host) before timing.

    python benchmarks/bench_cuda.py                 # on a machine with a CUDA GPU; about a minute
    python benchmarks/bench_cuda.py --rounds 5      # shorter

Needs torch with CUDA, timm (with its torchvision) and anycapture (``PYTHONPATH=src``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import torch

import anycapture
from anycapture import _copies, get_local, recipes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA device: nothing to measure", file=sys.stderr)
        return 2
    import timm
    from timm.models.vision_transformer import Attention

    model = timm.create_model("vit_base_patch16_224", pretrained=False).cuda().eval()
    for module in model.modules():
        if hasattr(module, "fused_attn"):
            module.fused_attn = False
    x = torch.randn(args.batch, 3, 224, 224, device="cuda")
    get_local("attn")(Attention.forward)
    async_types = dict(_copies.ASYNC_DEVICE_TYPES)

    def maps_ready(maps: list[Any]) -> None:
        for value in maps:
            if type(value) is anycapture.Pending:
                value.result()

    def uncaptured() -> None:
        model(x)
        torch.cuda.synchronize()

    def with_get_local(values: str, asynchronous: bool) -> Callable[[], None]:
        def run() -> None:
            _copies.ASYNC_DEVICE_TYPES.clear()
            if asynchronous:
                _copies.ASYNC_DEVICE_TYPES.update(async_types)
            get_local.activate(values=values)  # type: ignore[arg-type]
            try:
                model(x)
                maps = get_local.cache["Attention.forward.attn"]  # reading waits for the copies
                assert len(maps) == 12, len(maps)
                torch.cuda.synchronize()
            finally:
                get_local.deactivate()
                get_local.clear()
                _copies.ASYNC_DEVICE_TYPES.update(async_types)

        return run

    def capture_block() -> None:
        with anycapture.capture(recipes.TIMM_VIT, model=model) as cap:
            model(x)
        maps = cap["Attention.forward.attn"]
        assert len(maps) == 12, len(maps)
        torch.cuda.synchronize()

    rows: dict[str, Callable[[], None]] = {
        "uncaptured forward": uncaptured,
        "get_local, numpy, asynchronous copies (default)": with_get_local("numpy", True),
        "get_local, numpy, blocking .cpu() per layer (the seed's way)": with_get_local("numpy", False),
        "capture(recipes.TIMM_VIT) block per forward, numpy": capture_block,
        "get_local, raw (maps stay on the GPU)": with_get_local("raw", True),
    }
    with torch.no_grad():
        # Check: the asynchronous copies give the maps the blocking path gives.
        get_local.activate()
        model(x)
        fast = [numpy_map.copy() for numpy_map in get_local.cache["Attention.forward.attn"]]
        get_local.deactivate()
        get_local.clear()
        _copies.ASYNC_DEVICE_TYPES.clear()
        get_local.activate()
        model(x)
        slow = list(get_local.cache["Attention.forward.attn"])
        get_local.deactivate()
        get_local.clear()
        _copies.ASYNC_DEVICE_TYPES.update(async_types)
        assert all((a == b).all() for a, b in zip(fast, slow, strict=True)), "asynchronous copies differ"
        for run in rows.values():  # warm-up: kernels, allocators, pinned memory
            run()
            run()
        times: dict[str, list[float]] = {label: [] for label in rows}
        for round_ in range(args.rounds):
            order = list(rows.items())
            order = order[round_ % len(order) :] + order[: round_ % len(order)]
            for label, run in order:
                torch.cuda.synchronize()
                start = time.perf_counter()
                run()
                times[label].append((time.perf_counter() - start) * 1e3)
    reference = times["uncaptured forward"]
    print(f"| ViT-B/16, batch {args.batch}, {torch.cuda.get_device_name()} | ms per forward | vs uncaptured |")
    print("|---|---:|---:|")
    for label, values in times.items():
        ratio = statistics.median(v / r for v, r in zip(values, reference, strict=True))
        print(f"| {label} | {statistics.median(values):.1f} | {ratio:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A torchrun job that tests/test_distributed.py runs on 2 ranks (gloo, CPU): ``python -m torch.distributed.run
--standalone --nproc_per_node=2 tests/_torchrun_job.py OUT``.

Each rank runs the same two-block attention model of tests/_toys.py (same weights) on its own input, captures the
attention maps in memory and gathers them, then streams them to ``OUT/captures``. What each rank
computed and received is saved under ``OUT`` for the test to compare. torch is imported in
``main()`` only, so that collecting this file (pytest --doctest-modules) needs no torch.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def main(out: Path) -> None:
    import numpy as np
    import torch
    import torch.distributed as dist
    from torch import nn

    import anycapture
    from _toys import Attention, Block  # tests/, this script's folder, is on sys.path
    from anycapture import CaptureError, Record, distributed

    dist.init_process_group("gloo")
    rank = dist.get_rank()
    torch.manual_seed(0)  # the same weights on every rank, as after a broadcast
    model = nn.Module()
    model.blocks = nn.Sequential(Block(), Block())
    x = torch.randn(2, 5, 8, generator=torch.Generator().manual_seed(100 + rank))  # a different batch per rank
    result: dict[str, Any] = {"rank": distributed.rank(), "world_size": distributed.world_size()}

    with torch.no_grad(), anycapture.capture(Attention.forward, "attn", model=model, values="tensor") as cap:
        model.blocks(x)
    np.savez(out / f"computed-{rank}.npz", **{record.path: record.value.numpy() for record in cap.records})

    gathered = distributed.gather(cap)  # to rank 0
    if gathered is not None:
        result["gathered"] = [[r.rank, r.key, r.path, r.call, r.order, type(r.value).__name__] for r in gathered]
        np.savez(out / "gathered.npz", *[r.value.numpy() for r in gathered])
    everywhere = distributed.gather(cap.select("blocks.1.*"), dst=None)
    assert everywhere is not None
    result["everywhere"] = [[r.rank, r.path] for r in everywhere]

    # A rank whose records cannot be pickled: both ranks raise, none waits forever.
    value = (lambda: 0) if rank == 1 else 0
    try:
        distributed.gather([Record("f.x", "x", value, "m:f", None, 0, 0, 0)])
    except CaptureError as exc:
        result["unpicklable"] = str(exc)

    with torch.no_grad(), anycapture.capture(Attention.forward, "attn", model=model, sink=out / "captures") as streamed:
        model.blocks(x)
    result["streamed"] = [[r.rank, r.path, r.shard] for r in streamed.records]
    # Rank 1 gives its sink block (a mistake): it still takes part, so rank 0 does not wait forever.
    try:
        distributed.gather(streamed if rank == 1 else cap)
    except (TypeError, CaptureError) as exc:
        result["mixed_sink"] = f"{type(exc).__name__}: {exc}"
    dist.barrier()  # every rank's folder is closed: rank 0 can read them all
    if rank == 0:
        folder = anycapture.open_captures(out / "captures")
        result["folder"] = {
            "ranks": folder.ranks,
            "complete": folder.complete,
            "shape": list(folder.stack("attn").shape),
        }
    (out / f"result-{rank}.json").write_text(json.dumps(result))
    dist.destroy_process_group()


if __name__ == "__main__":
    main(Path(sys.argv[1]))

"""What streaming every attention map of a ViT-S forward to disk costs, and whether memory stays flat.

The model is the toy ``ViT`` of tests/_toys.py in the ViT-S/16 shape (224x224 images: 197 tokens, dim 384, 6
heads, 12 blocks, random weights, eval mode, ``torch.no_grad()``). Its attention computes
``attn = (q @ k.transpose(-2, -1) * scale).softmax(-1)`` in Python (no fused kernel), and hands ``attn`` to a sink:
captured forwards run inside ``anycapture.capture(Attention.forward, "attn", model=model, values="tensor",
sink=writer)`` (12 records a forward, each ``[batch, 6, 197, 197]`` float32: 7.1 MiB at batch 8;
``[batch, 197, 197]`` with ``--reduce`` (or ``--reduce mean``), ``reduce=lambda attn: attn.mean(1)``, on the
forward's thread; ``[batch, 6, 197]`` with ``--reduce cls``, the CLS token's row of every head). One
``anycapture.Writer`` serves every captured chunk (a block flushes a writer it was given; closing it is ours).

How it is timed: uncaptured and captured forwards run in interleaved chunks of ``--chunk`` forwards (so drift on a
shared machine hits both alike), until each has run ``--forwards``; with ``--uncaptured-every K`` an uncaptured chunk
runs before every K-th captured chunk only (a long run then spends its time on what it measures). The captured time
includes the final ``close()``, which waits until the last shard is on disk (fsync); the writer's thread works while
the forwards run. torch uses ``--threads`` threads (default 1: the writer thread gets the other core of a 2-core
machine).

Memory: peak RSS (``ru_maxrss``) and the RSS (``VmRSS`` of ``/proc/self/status``) after 10%, 50% and 100% of the
captured forwards: with a bounded queue and bounded shards it stays flat however many forwards run. At the end the
folder is opened with ``open_captures`` and its record count and shapes are checked.

Run from the repository root::

    PYTHONPATH=src python benchmarks/bench_stream.py --forwards 200
    PYTHONPATH=src python benchmarks/bench_stream.py --forwards 50 --reduce --out /tmp/captures
    PYTHONPATH=src python benchmarks/bench_stream.py --forwards 10000 --batch 8 --reduce cls --threads 2 \
        --chunk 50 --uncaptured-every 10
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch

import anycapture
from anycapture import Writer, open_captures

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from _toys import Attention, ViT  # the toy models the tests share

DIM, HEADS, DEPTH, TOKENS, PATCH, IMAGE = 384, 6, 12, 197, 16, 224


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 / (1024 if sys.platform == "darwin" else 1)  # bytes on macOS, KiB elsewhere


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--forwards", type=int, default=200, help="captured forwards (and as many uncaptured)")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument(
        "--reduce",
        nargs="?",
        const="mean",
        choices=["mean", "cls"],
        help="keep the head mean, [batch, 197, 197] (mean, the default), or every head's CLS row, [batch, 6, 197]",
    )
    parser.add_argument(
        "--uncaptured-every", type=int, default=1, help="an uncaptured chunk before every K-th captured chunk"
    )
    parser.add_argument("--out", type=Path, default=None, help="capture folder (default: a temporary one, deleted)")
    parser.add_argument("--chunk", type=int, default=10, help="forwards per interleaved chunk")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--shard-mib", type=int, default=256, help="Writer shard_bytes, in MiB")
    parser.add_argument("--queue", type=int, default=64, help="Writer queue_size")
    args = parser.parse_args()

    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    model = ViT(DIM, HEADS, DEPTH, image=IMAGE, patch=PATCH, classes=1000, mlp_ratio=4).eval()
    images = torch.randn(args.batch, 3, IMAGE, IMAGE)
    temporary = args.out is None
    out = Path(tempfile.mkdtemp(prefix="bench_stream_")) / "captures" if temporary else args.out
    writer = Writer(out, shard_bytes=args.shard_mib << 20, queue_size=args.queue)
    reduce = {None: None, "mean": lambda attn: attn.mean(1), "cls": lambda attn: attn[:, :, 0]}[args.reduce]
    checkpoints = {
        max(1, round(args.forwards * share)): label for share, label in ((0.1, "10%"), (0.5, "50%"), (1, "100%"))
    }
    rss: dict[str, float] = {}
    plain_seconds = captured_seconds = 0.0
    plain_done = captured_done = 0
    try:
        with torch.no_grad():
            model(images)  # warm-up, untimed
            rss["start"] = rss_mib()
            chunks = 0
            while captured_done < args.forwards:
                count = min(args.chunk, args.forwards - captured_done)
                if chunks % args.uncaptured_every == 0:
                    start = time.perf_counter()
                    for _ in range(count):
                        model(images)
                    plain_seconds += time.perf_counter() - start
                    plain_done += count
                chunks += 1

                start = time.perf_counter()
                with anycapture.capture(
                    Attention.forward, "attn", model=model, values="tensor", reduce=reduce, sink=writer
                ):
                    for _ in range(count):
                        model(images)
                        captured_done += 1
                        if captured_done in checkpoints and captured_done != args.forwards:
                            rss[checkpoints[captured_done]] = rss_mib()
                if captured_done == args.forwards:
                    writer.close()
                captured_seconds += time.perf_counter() - start
                print(
                    f"{captured_done}/{args.forwards} captured forwards, RSS {rss_mib():.0f} MiB, "
                    f"{captured_seconds / captured_done * 1000:.0f} ms/forward captured, "
                    f"{plain_seconds / plain_done * 1000:.0f} uncaptured",
                    file=sys.stderr,
                    flush=True,
                )
        rss["100%"] = rss_mib()
        written = sum(path.stat().st_size for path in out.iterdir())
        captures = open_captures(out)
        records = len(captures.records)
        shape = {
            None: (args.batch, HEADS, TOKENS, TOKENS),
            "mean": (args.batch, TOKENS, TOKENS),
            "cls": (args.batch, HEADS, TOKENS),
        }[args.reduce]
        assert records == args.forwards * DEPTH, records
        assert {record.shape for record in captures.records} == {shape}
        shards = len(list(out.glob("shard-*.safetensors")))
    finally:
        writer.close()
        if temporary:
            shutil.rmtree(out.parent, ignore_errors=True)

    plain_ms = plain_seconds / plain_done * 1000
    captured_ms = captured_seconds / captured_done * 1000
    print(
        f"ViT-S/16 shape, batch {args.batch}, "
        f"{ {None: 'all heads', 'mean': 'head mean', 'cls': 'CLS rows'}[args.reduce] }, torch threads "
        f"{args.threads}, shard {args.shard_mib} MiB, queue {args.queue}; maps {shape} float32\n"
    )
    print(
        "| forwards (uncaptured) | records | shards | bytes written | seconds (captured, incl. close) "
        "| ms/forward uncaptured | ms/forward captured | throughput vs uncaptured | MB/s | peak RSS MiB "
        "| RSS start / 10% / 50% / 100% MiB |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    print(
        f"| {args.forwards} ({plain_done}) | {records} | {shards} | {written:,} | {captured_seconds:.1f} | "
        f"{plain_ms:.0f} | "
        f"{captured_ms:.0f} | {plain_ms / captured_ms:.2f}x | {written / captured_seconds / 1e6:.0f} | "
        f"{peak_rss_mib():.0f} | {rss['start']:.0f} / {rss['10%']:.0f} / {rss['50%']:.0f} / {rss['100%']:.0f} |"
    )


if __name__ == "__main__":
    main()

"""What ``capture_attention`` costs in memory and time on a decoder at long context.

A tiny random-weight Llama (transformers ``LlamaModel``, sdpa attention: 2 layers, hidden 128,
8 query heads sharing 2 key heads, batch 1) runs one forward over 1k / 4k / 8k / 16k tokens in
four ways, each in a process of its own so that its peak RSS is its own:

- ``plain``: the uncaptured forward (the fused kernel never holds a map);
- ``queries=-1``: ``capture_attention(queries=-1)``, what the last token reads in every layer;
- ``head mean``: ``capture_attention(reduce=rowwise(lambda p: p.mean(1)))``, every row's head mean,
  computed in query chunks (64 MiB of scores each), never holding a layer's full map;
- ``full map``: ``capture_attention()``, every layer's whole ``[1, 8, n, n]`` map; skipped where it
  would need more than ``--limit-gb`` (the kept maps alone: 2 GiB a layer at 8k);
- ``full map to sink``: ``capture_attention(sink=folder)``, every layer's whole map streamed to a
  folder (in a temporary folder, removed after each forward) a chunk of rows at a time: its
  growth is bounded by the chunk, the writer's queue of parts and its shard, not by the map. Its
  budget: one chunk being computed + ``queue_bytes`` of parts waiting + twice the shard being
  filled (``shard_bytes`` + one chunk: safetensors serialises a copy of it when it is written).
  It writes every map to disk (16 GiB at 16k tokens), so it runs one timed pair at most, none at
  16k tokens and more (time there: its one forward, against the plain case's). After its first
  forward it reads back the last row of every layer (``stack("attn", rows=slice(-1, None))``),
  and reports that read's time and peak RSS growth;
- ``reduce last row`` (``--cases``, not run by default): ``capture_attention(reduce=lambda p: p[..., -1:, :])``,
  the way to get the last row before ``queries=``: a plain reduce is given the whole map.

Each process builds the model, warms up on 128 tokens, resets its peak RSS
(``/proc/self/clear_refs``) and runs one forward of its case: peak RSS growth is the peak minus the
RSS just before it. Then it times ``--repeat`` pairs of forwards, plain then its case, so that the
load of a shared machine falls on both alike: time is the case's median, and ``time / plain`` the
median of the pairs' ratios. The growth over ``plain`` is given as a share of one layer's full map
(``queries=-1``'s target: at most 10%); ``head mean``'s budget is what it keeps (the head means)
plus two chunks of scores.

Run: ``PYTHONPATH=src python benchmarks/bench_long_context.py`` (Linux: it reads /proc), or
``--tokens 1024 4096`` for a shorter table. Cases run one at a time, the longest last.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

CASES = ("plain", "queries=-1", "head mean", "full map", "full map to sink", "reduce last row")
LAYERS, HEADS, KEY_HEADS, HIDDEN = 2, 8, 2, 128
CHUNK_BYTES = 64 << 20
SHARD_BYTES, QUEUE_BYTES = 256 << 20, 128 << 20  # a Writer's defaults
SINK_BUDGET = CHUNK_BYTES + QUEUE_BYTES + 2 * (SHARD_BYTES + CHUNK_BYTES)


def _status(field: str) -> int:
    """A field of /proc/self/status, in bytes."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def map_bytes(tokens: int) -> int:
    """One layer's full float32 map, [1, heads, tokens, tokens]."""
    return 4 * HEADS * tokens * tokens


def child(case: str, tokens: int, repeat: int) -> dict[str, Any]:
    """Run one case in this process and measure it."""
    import shutil
    import tempfile

    import torch
    import transformers

    import anycapture
    from anycapture import capture_attention

    rowwise = getattr(anycapture, "rowwise", None)  # absent in older versions: give them --cases

    torch.manual_seed(0)
    config = transformers.LlamaConfig(
        vocab_size=1000, hidden_size=HIDDEN, intermediate_size=2 * HIDDEN, num_hidden_layers=LAYERS,
        num_attention_heads=HEADS, num_key_value_heads=KEY_HEADS, max_position_embeddings=max(tokens, 128),
    )  # fmt: skip
    model = transformers.LlamaModel(config).eval()
    model.set_attn_implementation("sdpa")
    ids = torch.randint(0, 1000, (1, tokens))

    def block(which: str) -> Any:
        if which == "queries=-1":
            return capture_attention(queries=-1)
        if which == "head mean" and rowwise is not None:
            return capture_attention(reduce=rowwise(lambda p: p.mean(1)))
        if which == "full map":
            return capture_attention()
        if which == "full map to sink":
            return capture_attention(sink=os.path.join(tempfile.mkdtemp(prefix="bench-long-context-"), "maps"))
        if which == "reduce last row":
            return capture_attention(reduce=lambda p: p[..., -1:, :])
        return None

    kept_folder: list[str] = []  # the sink of the measured forward, read back after it

    def forward(which: str, inputs: Any, keep: bool = False) -> tuple[float, int]:
        cap = block(which)
        start = time.perf_counter()
        with torch.no_grad():
            if cap is None:
                model(input_ids=inputs)
                kept = 0
            else:
                with cap:
                    model(input_ids=inputs)
                if cap.sink is None:
                    kept = sum(r.value.nbytes for r in cap.records)
        elapsed = time.perf_counter() - start
        if cap is not None and cap.sink is not None:  # bytes written, then the folder goes
            kept = sum(entry.stat().st_size for entry in os.scandir(cap.sink))
            if keep:
                kept_folder.append(cap.sink)
            else:
                shutil.rmtree(os.path.dirname(cap.sink))
        del cap
        return elapsed, kept

    forward(case, ids[:, :128])  # warm up: imports, the first kernel calls
    baseline = _status("VmRSS")
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # the peak RSS (VmHWM) starts again from here
    first, kept = forward(case, ids, keep=True)
    growth = _status("VmHWM") - baseline
    read = None
    for folder in kept_folder:  # the last row of every layer, read back from the folder
        before = _status("VmRSS")
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
        began = time.perf_counter()
        rows = anycapture.open_captures(folder).stack("attn", rows=slice(-1, None))
        read = (time.perf_counter() - began, _status("VmHWM") - before, rows.nbytes)
        del rows
        shutil.rmtree(os.path.dirname(folder))
    # Time: the case and the plain forward alternate in this process, so that the load of a
    # shared machine hits both alike; the ratio is the median of the pairs' ratios.
    plain, timed = [], []
    if case == "full map to sink":
        repeat = min(repeat, 0 if tokens >= 16384 else 1)  # each forward writes every map to disk
    for _ in range(repeat):
        plain.append(forward("plain", ids)[0])
        timed.append(forward(case, ids)[0])
    result = {"growth": growth, "time": first, "ratio": None, "kept": kept, "read": read}
    if timed:
        ratios = [t / p for t, p in zip(timed, plain, strict=True)]
        result.update(time=statistics.median(timed), ratio=statistics.median(ratios))
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, nargs="+", default=[1024, 4096, 8192, 16384])
    parser.add_argument("--repeat", type=int, default=3, help="forwards per process (1 at 16k tokens and more)")
    parser.add_argument("--limit-gb", type=float, default=3.5, help="skip a case that would need more memory")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--cases", nargs="+", choices=CASES, default=list(CASES[:5]), help="plain always runs")
    parser.add_argument("--child", nargs=3, metavar=("CASE", "TOKENS", "REPEAT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        import torch

        torch.set_num_threads(args.threads)
        print(json.dumps(child(args.child[0], int(args.child[1]), int(args.child[2]))))
        return 0
    if not os.path.exists("/proc/self/clear_refs"):
        print("skipped: this benchmark reads peak RSS from /proc (Linux)")
        return 0
    try:
        import transformers  # noqa: F401
    except ImportError as exc:
        print(f"skipped: {exc} (this benchmark needs torch and transformers)")
        return 0
    limit = int(args.limit_gb * (1 << 30))
    print(f"tiny Llama: {LAYERS} layers, hidden {HIDDEN}, {HEADS} query heads / {KEY_HEADS} key heads, batch 1, sdpa")
    print("| tokens | case | peak RSS growth | over plain, share of one layer's map | time | time / plain |")
    print("|---:|---|---:|---:|---:|---:|")
    for tokens in sorted(args.tokens):
        repeat = 1 if tokens >= 16384 else args.repeat
        plain: dict[str, Any] | None = None
        for case in CASES:
            if case != "plain" and case not in args.cases:
                continue
            full = map_bytes(tokens)
            need = {
                "full map": LAYERS * full + full,
                "head mean": LAYERS * full // HEADS + 2 * CHUNK_BYTES,
                "reduce last row": full + 2 * CHUNK_BYTES,  # two whole maps in versions without chunks
            }
            if need.get(case, 0) > limit:
                print(f"| {tokens} | {case} | skipped: needs {need[case] / 2**30:.1f} GiB (> --limit-gb) | | | |")
                continue
            command = [
                sys.executable,
                __file__,
                "--child",
                case,
                str(tokens),
                str(repeat),
                "--threads",
                str(args.threads),
            ]
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode:
                print(f"| {tokens} | {case} | failed: {done.stderr.strip().splitlines()[-1:]} | | | |")
                continue
            result = json.loads(done.stdout.strip().splitlines()[-1])
            if case == "plain":
                plain = result
            growth, seconds = result["growth"], result["time"]
            over = "" if plain is None or case == "plain" else f"{(growth - plain['growth']) / full:.1%}"
            budget = {"head mean": result["kept"] + 2 * CHUNK_BYTES, "full map to sink": SINK_BUDGET}.get(case)
            if budget is not None and plain is not None:
                over += (
                    f" (budget {budget / 2**20:.0f} MiB: {'met' if growth - plain['growth'] <= budget else 'MISSED'})"
                )
            if case == "full map to sink":
                seconds_read, grown, nbytes = result["read"]
                over += (
                    f", {result['kept'] / 2**30:.2f} GiB written; stack(rows=slice(-1, None)) read back "
                    f"{nbytes / 2**10:.0f} KiB in {seconds_read * 1000:.0f} ms, peak RSS +{grown / 2**20:.0f} MiB"
                )
            if result["ratio"] is not None:
                ratio = f"{result['ratio']:.2f}x"
            else:  # one forward, no pair: against the plain case's time
                ratio = f"{seconds / plain['time']:.2f}x (one forward)" if plain is not None else ""
            print(f"| {tokens} | {case} | {growth / 2**20:.0f} MiB | {over} | {seconds:.2f} s | {ratio} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

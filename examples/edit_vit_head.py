"""Zero one attention head inside timm's Vision Transformer, without copying timm's code.

    pip install anycapture timm
    python examples/edit_vit_head.py

timm's ``Attention.forward`` assigns ``attn`` four times (raw scores, masked, softmax, dropout).
``anycapture.edit`` changes the value right after the softmax, in one block (``blocks.5.attn``)
only; the rest of that forward, and the layers after it, use the edited probabilities. Random
weights: nothing is downloaded.
"""

from __future__ import annotations

import timm
import torch
from timm.models.vision_transformer import Attention

import anycapture

HEAD, BLOCK = 2, 5


def zero_head(attn: torch.Tensor) -> torch.Tensor:
    """Attention probabilities [batch, heads, queries, keys] with one head's weights set to zero."""
    attn = attn.clone()
    attn[:, HEAD] = 0
    return attn


def main() -> None:
    torch.manual_seed(0)
    model = timm.create_model("vit_small_patch16_224", pretrained=False).eval()
    for module in model.modules():
        if isinstance(module, Attention):
            module.fused_attn = False  # the fused kernel never materialises `attn`
    x = torch.randn(2, 3, 224, 224)

    softmax = next(site for site in anycapture.assignments(Attention.forward, "attn") if "softmax" in site.source)
    print(f"editing `attn` after line {softmax.line}: {softmax.source}  (at={softmax.position})")

    with torch.no_grad():
        before = model(x)
        with anycapture.edit(
            Attention.forward, "attn", zero_head, at=softmax.position, model=model, path=f"blocks.{BLOCK}.attn"
        ) as done:
            after = model(x)
        again = model(x)

    print(
        f"head {HEAD} of blocks.{BLOCK}.attn zeroed in {done.applied} call(s); {done.skipped} other block(s) untouched"
    )
    print(f"largest change in the logits: {(after - before).abs().max().item():.4f}")
    print(f"after the block, the model is back: {torch.equal(again, before)}")


if __name__ == "__main__":
    main()

"""Where the attention maps are, in the models people use most.

A recipe is data: the function to capture, the variable names, and what to know about them. Pass
one to :func:`anycapture.capture` in place of a target::

    from anycapture import capture, recipes

    with capture(recipes.TIMM_VIT, model=model) as cap:
        model(images)
    maps = cap.stack("attn")          # [layers, batch, heads, tokens, tokens]

Each recipe has a test (``tests/test_models.py``, ``tests/test_timm.py``) that proves it still matches the installed
library.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "MULTIHEAD_ATTENTION",
    "RECIPES",
    "TIMM_VIT",
    "TRANSFORMERS_BERT",
    "TRANSFORMERS_GPT2",
    "TRANSFORMERS_LLAMA",
    "TRANSFORMERS_VIT",
    "Recipe",
    "recipe_hints",
]


@dataclass(frozen=True)
class Recipe:
    """A function to capture from, its variables, and notes for the user.

    ``hint`` is shown when the block ends with the variable never bound (for example because the
    model took a fused path where the variable never exists); ``if_not_run`` when the function
    never ran (the model does not call it: another architecture, or another code path).
    """

    name: str
    target: str
    varnames: tuple[str, ...]
    notes: str
    hint: str = ""
    if_not_run: str = ""


TIMM_VIT = Recipe(
    name="timm-vit",
    target="timm.models.vision_transformer:Attention.forward",
    varnames=("attn",),
    notes=(
        "Attention probabilities after softmax and attention dropout, [batch, heads, tokens, tokens], one "
        "per block of models built on timm.models.vision_transformer's Attention (ViT, DeiT, ViT with "
        "registers...). Exists only on the unfused path. BEiT, EVA, Swin and others define attention classes of "
        "their own."
    ),
    hint=(
        "timm's Attention uses fused scaled_dot_product_attention by default, so its `attn` is never computed: "
        "set fused_attn=False on the attention modules (or TIMM_FUSED_ATTN=0 before import), or use "
        "anycapture.capture_attention"
    ),
    if_not_run=(
        "the model never called timm.models.vision_transformer's Attention.forward: models such as BEiT, EVA or "
        "Swin define attention classes of their own (capture their forward, e.g. "
        "capture(timm.models.beit.Attention.forward, 'attn') with fused_attn=False), or use "
        "anycapture.capture_attention, which finds fused attention in any model"
    ),
)


def _eager(name: str, target: str, notes: str) -> Recipe:
    """A recipe for one of transformers' ``eager_attention_forward`` functions: each model's file has a copy of
    its own, and all keep the weights in ``attn_weights`` and run only with ``attn_implementation='eager'``."""
    return Recipe(
        name=name,
        target=target,
        varnames=("attn_weights",),
        notes=notes,
        hint=(
            "transformers runs eager_attention_forward only with attn_implementation='eager'; the default 'sdpa' "
            "never builds the weights: use anycapture.capture_attention(model=...), which computes them beside the "
            "fused kernel, or load the model with from_pretrained(..., attn_implementation='eager')"
        ),
        if_not_run=(
            "the model never called this eager_attention_forward: either it runs another attention implementation "
            "(the default 'sdpa': use anycapture.capture_attention(model=...), which finds fused attention in any "
            "model, or load it with from_pretrained(..., attn_implementation='eager')), or it is another "
            "architecture with a copy of its own (RoBERTa's is "
            "transformers.models.roberta.modeling_roberta:eager_attention_forward)"
        ),
    )


TRANSFORMERS_BERT = _eager(
    "transformers-bert",
    "transformers.models.bert.modeling_bert:eager_attention_forward",
    "Attention probabilities after softmax and dropout, [batch, heads, query, key], one per layer; the "
    "record's path is the BertSelfAttention module (encoder.layer.N.attention.self).",
)

TRANSFORMERS_GPT2 = _eager(
    "transformers-gpt2",
    "transformers.models.gpt2.modeling_gpt2:eager_attention_forward",
    "GPT-2 attention probabilities after the causal mask, softmax and dropout, [batch, heads, query, key].",
)

TRANSFORMERS_VIT = _eager(
    "transformers-vit",
    "transformers.models.vit.modeling_vit:eager_attention_forward",
    "transformers' ViT attention probabilities, [batch, heads, tokens, tokens]; the record's path is the "
    "module that calls it (layers.N.attention in transformers 5; encoder.layer.N.attention.attention before).",
)

TRANSFORMERS_LLAMA = _eager(
    "transformers-llama",
    "transformers.models.llama.modeling_llama:eager_attention_forward",
    "Llama-style attention probabilities after the causal mask and softmax (computed in float32, cast back), "
    "[batch, heads, query, key], with grouped key/value heads already repeated to the query heads.",
)

MULTIHEAD_ATTENTION = Recipe(
    name="torch-multihead-attention",
    target="torch.nn.functional:multi_head_attention_forward",
    varnames=("attn_output_weights",),
    notes=(
        "torch.nn.MultiheadAttention's weights as returned: averaged over heads unless "
        "average_attn_weights=False, after dropout."
    ),
    hint=(
        "nn.MultiheadAttention calls multi_head_attention_forward only off its fused fast path: in eval mode "
        "under torch.no_grad()/inference_mode it usually takes torch._native_multi_head_attention instead, so "
        "run with gradients enabled (or in train mode with dropout 0); it computes the weights only with "
        "need_weights=True, which TransformerEncoderLayer never passes"
    ),
    if_not_run=(
        "nn.MultiheadAttention calls multi_head_attention_forward only off its fused fast path: in eval mode "
        "under torch.no_grad()/inference_mode it usually takes torch._native_multi_head_attention instead, so "
        "run with gradients enabled (or in train mode with dropout 0)"
    ),
)

RECIPES: dict[str, Recipe] = {
    recipe.name: recipe
    for recipe in (
        TIMM_VIT,
        TRANSFORMERS_BERT,
        TRANSFORMERS_GPT2,
        TRANSFORMERS_VIT,
        TRANSFORMERS_LLAMA,
        MULTIHEAD_ATTENTION,
    )
}


def recipe_hints(func: Any) -> tuple[str, str]:
    """The ``(hint, if_not_run)`` of the recipe whose target is ``func`` (given by name or as the
    function itself, the recipe not named), or ``("", "")``: the same advice whichever way it is given.

    Example::

        from anycapture import recipes
        from transformers.models.bert import modeling_bert

        hint, if_not_run = recipes.recipe_hints(modeling_bert.eager_attention_forward)   # TRANSFORMERS_BERT's
    """
    where = f"{getattr(func, '__module__', '')}:{getattr(func, '__qualname__', '')}"
    for recipe in RECIPES.values():
        if recipe.target == where:
            return recipe.hint, recipe.if_not_run
    return "", ""

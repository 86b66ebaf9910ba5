"""The toy attention models that tests, tests/_torchrun_job.py and benchmarks/bench_stream.py share.

Their attention computes its map in Python, ``attn = (q @ k.transpose(-2, -1) * scale).softmax(-1)``, as
timm's unfused path does, so ``capture(Attention.forward, "attn", model=model)`` finds it in every block.
The weights are random: seed torch before building one.

torch is imported at the top, so a test imports torch first (``pytest.importorskip("torch")``) and this
module after it; tests/conftest.py keeps pytest from collecting this file and puts tests/ on ``sys.path``.
A script in tests/ finds it by itself; a benchmark puts tests/ on ``sys.path`` first.
"""

from __future__ import annotations

import torch
from torch import nn


class Attention(nn.Module):
    """Multi-head self-attention whose map is the local variable ``attn`` of ``forward``."""

    def __init__(self, dim: int = 8, heads: int = 2) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        attn = (q @ k.transpose(-2, -1) * (d // self.heads) ** -0.5).softmax(-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(b, n, d))


class Block(nn.Module):
    """A pre-norm transformer block: attention, then an MLP ``mlp_ratio`` times wider, each added to its input."""

    def __init__(self, dim: int = 8, heads: int = 2, mlp_ratio: int = 2) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, dim * mlp_ratio), nn.GELU(), nn.Linear(dim * mlp_ratio, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class TinyViT(nn.Module):
    """Token embeddings in, class logits out: a cls token, ``depth`` blocks and a linear head on the cls token.

    Small enough for gradient x attention relevance in a unit test: its blocks are ``blocks.0`` to
    ``blocks.{depth - 1}``, and ``[batch, tokens, dim]`` in gives maps of ``[batch, heads, tokens + 1, tokens + 1]``.
    """

    def __init__(self, dim: int = 16, heads: int = 2, depth: int = 3, classes: int = 5) -> None:
        super().__init__()
        self.cls = nn.Parameter(torch.randn(1, 1, dim))
        self.blocks = nn.Sequential(*[Block(dim, heads) for _ in range(depth)])
        self.head = nn.Linear(dim, classes)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = torch.cat([self.cls.expand(tokens.shape[0], -1, -1), tokens], dim=1)
        return self.head(self.blocks(x)[:, 0])


class ViT(nn.Module):
    """Images in, class logits out: a ViT cutting ``image`` x ``image`` pictures into ``patch`` x ``patch`` patches.

    ``ViT(384, 6, 12, image=224, patch=16, classes=1000, mlp_ratio=4)`` has the shape of ViT-S/16
    (197 tokens); its blocks are ``blocks.0`` to ``blocks.{depth - 1}``.
    """

    def __init__(
        self, dim: int, heads: int, depth: int, *, image: int, patch: int, classes: int, mlp_ratio: int = 4
    ) -> None:
        super().__init__()
        tokens = (image // patch) ** 2 + 1
        self.patch_embed = nn.Conv2d(3, dim, patch, patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.randn(1, tokens, dim) * 0.02)
        self.blocks = nn.Sequential(*[Block(dim, heads, mlp_ratio) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(images).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        return self.head(self.norm(self.blocks(x))[:, 0])
